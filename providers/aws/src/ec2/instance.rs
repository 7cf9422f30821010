//! `aws_instance`: a stopped instance is drift, replaced rather than restarted.

use super::*;

async fn describe_instances(
    c: &Clients,
    filters: Vec<Filter>,
) -> Result<Vec<aws_sdk_ec2::types::Instance>, Error> {
    let out = c
        .ec2
        .describe_instances()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(api("DescribeInstances"))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect())
}

fn instance_state(i: &aws_sdk_ec2::types::Instance) -> Option<InstanceStateName> {
    i.state().and_then(|s| s.name()).cloned()
}

fn is_gone(i: &aws_sdk_ec2::types::Instance) -> bool {
    matches!(
        instance_state(i),
        Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
    )
}

fn instance_computed(c: &Clients, i: &aws_sdk_ec2::types::Instance) -> Vec<(&'static str, Value)> {
    let id = i.instance_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "instance", id)),
        (
            "availability_zone",
            opt_s(i.placement().and_then(|p| p.availability_zone())),
        ),
        // Terraform's convention: an empty string when there is none.
        ("private_ip", s(i.private_ip_address().unwrap_or_default())),
        ("public_ip", s(i.public_ip_address().unwrap_or_default())),
        (
            "instance_state",
            opt_s(instance_state(i).as_ref().map(InstanceStateName::as_str)),
        ),
    ]
}

pub async fn create_instance(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ami = string(config, "ami").unwrap_or_default();
    check_image(ctx.c, "ami", &ami).await?;
    let all_tags = ctx.tags(&tags(config));
    let sgs = strings(config, "vpc_security_group_ids");
    let out = ctx
        .c
        .ec2
        .run_instances()
        .image_id(&ami)
        .set_instance_type(string(config, "instance_type").map(|t| InstanceType::from(t.as_str())))
        .min_count(1)
        .max_count(1)
        .set_subnet_id(string(config, "subnet_id"))
        .set_security_group_ids((!sgs.is_empty()).then_some(sgs))
        .set_key_name(string(config, "key_name"))
        .set_iam_instance_profile(string(config, "iam_instance_profile").map(|p| {
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .name(p)
                .build()
        }))
        .set_user_data(string(config, "user_data").map(|u| crate::values::base64(u.as_bytes())))
        .set_client_token(ctx.client_token())
        .tag_specifications(tag_spec(ResourceType::Instance, &all_tags))
        .tag_specifications(tag_spec(ResourceType::Volume, &all_tags))
        .send()
        .await
        .map_err(api("RunInstances"))?;
    let inst = out
        .instances()
        .first()
        .ok_or_else(|| Error::new("RunInstances returned no instance"))?;
    let id = inst.instance_id().unwrap_or_default().to_string();
    let mut computed = instance_computed(ctx.c, inst);
    computed.push(("subnet_id", opt_s(inst.subnet_id())));
    let partial = state(config, computed);
    let running = wait_for(
        &format!("instance {id} to be running"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let found =
                describe_instances(ctx.c, vec![filter("instance-id", [id.clone()])]).await?;
            Ok(found
                .into_iter()
                .find(|i| instance_state(i) == Some(InstanceStateName::Running)))
        },
    )
    .await
    .map_err(|e| e.after_creating(&id, partial.clone()))?;
    let mut computed = instance_computed(ctx.c, &running);
    computed.push(("subnet_id", opt_s(running.subnet_id())));
    // A configured subnet stays as given.
    let mut st = state(config, computed);
    if let (Some(cfg), Value::Map(m)) = (string(config, "subnet_id"), &mut st) {
        m.insert("subnet_id", s(cfg));
    }
    Ok((id, st))
}

pub async fn read_instances(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for i in describe_instances(c, vec![filter("instance-id", chunk.to_vec())]).await? {
            if !is_gone(&i) {
                found.insert(
                    i.instance_id().unwrap_or_default().to_string(),
                    instance_computed(c, &i),
                );
            }
        }
    }
    Ok(answer(items, found))
}

pub async fn find_instance(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let found = describe_instances(c, vec![key_filter(key)]).await?;
    let Some(i) = found.into_iter().find(|i| !is_gone(i)) else {
        return Ok(None);
    };
    let id = i.instance_id().unwrap_or_default().to_string();
    let mut fields = instance_computed(c, &i);
    fields.extend([
        ("ami", opt_s(i.image_id())),
        (
            "instance_type",
            opt_s(i.instance_type().map(InstanceType::as_str)),
        ),
        ("subnet_id", opt_s(i.subnet_id())),
        ("tags", user_tags(i.tags())),
    ]);
    Ok(Some((id, adopted(&Instance.schema(), fields))))
}

pub async fn delete_instance(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .terminate_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(api("TerminateInstances"))
    {
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    wait_for(
        &format!("instance {id} to terminate"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let found =
                describe_instances(ctx.c, vec![filter("instance-id", [id.to_string()])]).await?;
            Ok(found
                .iter()
                .all(|i| instance_state(i) == Some(InstanceStateName::Terminated))
                .then_some(()))
        },
    )
    .await
}

/// `aws_instance`.
pub struct Instance;

#[async_trait]
impl Resource for Instance {
    fn name(&self) -> &'static str {
        "aws_instance"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("ami", A::required(str_t()))
            .attr("instance_type", A::required(str_t()))
            .attr("subnet_id", opt_computed(str_t()))
            .attr("vpc_security_group_ids", A::optional(strs_t()))
            .attr("key_name", A::optional(str_t()))
            .attr(
                "iam_instance_profile",
                A::optional(str_t()).describe("the name of the instance profile it runs as"),
            )
            .attr(
                "user_data",
                A::optional(str_t()).describe("plain text; kiln base64-encodes it"),
            )
            .attr("availability_zone", A::computed(str_t()))
            .attr("private_ip", A::computed(str_t()))
            .attr("public_ip", A::computed(str_t()))
            .attr("instance_state", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_instance(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let states = read_instances(c, items).await?;
        Ok(states
            .into_iter()
            .map(|state| {
                // A stopped instance is replaced, not restarted.
                let drift = state
                    .as_ref()
                    .and_then(|s| s.get("instance_state")?.as_str())
                    .filter(|s| *s != "running" && *s != "pending")
                    .map(|s| format!("the instance is {s}"));
                Observed { state, drift }
            })
            .collect())
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_instance(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_instance(c, key).await
    }
}
