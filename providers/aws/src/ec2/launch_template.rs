//! `aws_launch_template`.

use super::*;

pub async fn create_launch_template(
    ctx: &Ctx<'_>,
    config: &Value,
) -> Result<(String, Value), Error> {
    if let Some(image) = string(config, "image_id") {
        check_image(ctx.c, "image_id", &image).await?;
    }
    let name = ctx.name(config, 128);
    let all_tags = ctx.tags(&tags(config));
    let mut data = RequestLaunchTemplateData::builder()
        .set_image_id(string(config, "image_id"))
        .set_key_name(string(config, "key_name"))
        .set_user_data(string(config, "user_data"))
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(ec2_tags(&all_tags)))
                .build(),
        );
    if let Some(t) = string(config, "instance_type") {
        data = data.instance_type(InstanceType::from(t.as_str()));
    }
    let sgs = strings(config, "vpc_security_group_ids");
    if !sgs.is_empty() {
        data = data.set_security_group_ids(Some(sgs));
    }
    if let Some(p) = config.get("iam_instance_profile").filter(|v| !v.is_null()) {
        data = data.iam_instance_profile(
            aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .set_arn(string(p, "arn"))
                .set_name(string(p, "name"))
                .build(),
        );
    }
    let out = ctx
        .c
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .set_version_description(string(config, "description"))
        .set_client_token(ctx.client_token())
        .launch_template_data(data.build())
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, &all_tags))
        .send()
        .await
        .map_err(api("CreateLaunchTemplate"))?;
    let lt = out
        .launch_template()
        .ok_or_else(|| Error::new("CreateLaunchTemplate returned no template"))?;
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    Ok((id.clone(), state(config, lt_computed(ctx.c, lt))))
}

fn lt_computed(c: &Clients, lt: &aws_sdk_ec2::types::LaunchTemplate) -> Vec<(&'static str, Value)> {
    let id = lt.launch_template_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "launch-template", id)),
        ("name", opt_s(lt.launch_template_name())),
        ("latest_version", n(lt.latest_version_number().unwrap_or(1))),
        (
            "default_version",
            n(lt.default_version_number().unwrap_or(1)),
        ),
    ]
}

async fn describe_lts(
    c: &Clients,
    ids: Vec<String>,
    f: Option<Filter>,
) -> Result<Vec<aws_sdk_ec2::types::LaunchTemplate>, Error> {
    let out = c
        .ec2
        .describe_launch_templates()
        .set_launch_template_ids((!ids.is_empty()).then_some(ids))
        .set_filters(f.map(|f| vec![f]))
        .send()
        .await
        .map_err(api("DescribeLaunchTemplates"))?;
    Ok(out.launch_templates().to_vec())
}

pub async fn read_launch_templates(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        // An id list fails whole when one id is gone: then ask one by one.
        let lts = match describe_lts(c, chunk.to_vec(), None).await {
            Ok(l) => l,
            Err(e) if e.is_not_found() => {
                let mut all = Vec::new();
                for id in chunk {
                    match describe_lts(c, vec![id.clone()], None).await {
                        Ok(l) => all.extend(l),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
                all
            }
            Err(e) => return Err(e),
        };
        for lt in lts {
            let id = lt.launch_template_id().unwrap_or_default().to_string();
            found.insert(id, lt_computed(c, &lt));
        }
    }
    Ok(answer(items, found))
}

pub async fn find_launch_template(
    c: &Clients,
    key: &str,
) -> Result<Option<(String, Value)>, Error> {
    let Some(lt) = describe_lts(c, Vec::new(), Some(key_filter(key)))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    let mut fields = lt_computed(c, &lt);
    fields.push(("tags", user_tags(lt.tags())));
    Ok(Some((id, adopted("aws_launch_template", fields))))
}

pub async fn delete_launch_template(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(api("DeleteLaunchTemplate"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// `aws_launch_template`.
pub struct LaunchTemplate;

#[async_trait]
impl Resource for LaunchTemplate {
    fn name(&self) -> &'static str {
        "aws_launch_template"
    }

    fn schema(&self) -> ResourceSchema {
        named(ids(ResourceSchema::new()), 128)
            .attr("description", A::optional(str_t()))
            .attr("image_id", A::optional(str_t()))
            .attr("instance_type", A::optional(str_t()))
            .attr("key_name", A::optional(str_t()))
            .attr(
                "user_data",
                A::optional(str_t()).describe("base64-encoded, as in Terraform (filebase64)"),
            )
            .attr("vpc_security_group_ids", A::optional(strs_t()))
            .attr(
                "iam_instance_profile",
                A::optional(obj(&[("arn", str_t()), ("name", str_t())]))
                    .describe("the instance profile the instances run as, by arn or name"),
            )
            .attr("latest_version", A::computed(num_t()))
            .attr("default_version", A::computed(num_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(p) = config.get("iam_instance_profile")
            && string(p, "arn").is_some()
            && string(p, "name").is_some()
        {
            out.push("iam_instance_profile: arn and name conflict; set one of them".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_launch_template(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_launch_templates(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_launch_template(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_launch_template(c, key).await
    }
}
