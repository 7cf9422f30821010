//! `aws_iam_instance_profile`: the role an EC2 instance runs as. Created
//! with its role (AddRoleToInstanceProfile); a new role is a new profile.

use super::*;

/// IAM's limit on instance profile names.
const NAME_MAX: usize = 128;

fn profile_computed(p: &aws_sdk_iam::types::InstanceProfile) -> Vec<(&'static str, Value)> {
    vec![
        ("id", s(p.instance_profile_name())),
        ("name", s(p.instance_profile_name())),
        ("arn", s(p.arn())),
        ("unique_id", s(p.instance_profile_id())),
        ("create_date", s(p.create_date().to_string())),
    ]
}

async fn get(
    c: &Clients,
    name: &str,
) -> Result<Option<aws_sdk_iam::types::InstanceProfile>, Error> {
    match c
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(api("GetInstanceProfile"))
    {
        Ok(out) => Ok(out.instance_profile().cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A profile's tags, read with GetInstanceProfile (which carries them).
async fn profile_tags(c: &Clients, name: &str) -> Result<Vec<Tag>, Error> {
    Ok(get(c, name)
        .await?
        .map(|p| p.tags().to_vec())
        .unwrap_or_default())
}

pub async fn create_profile(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let made = ctx
        .c
        .iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .set_path(string(config, "path"))
        .set_tags(Some(iam_tags(&ctx.tags(&tags(config)))))
        .send()
        .await
        .map_err(api("CreateInstanceProfile"));
    let profile = match made {
        Ok(out) => out
            .instance_profile()
            .cloned()
            .ok_or_else(|| Error::new("CreateInstanceProfile returned no instance profile"))?,
        Err(e) if e.is_duplicate() => {
            let ours = !ctx.key.is_empty() && has_key(&profile_tags(ctx.c, &name).await?, ctx.key);
            match get(ctx.c, &name).await? {
                Some(p) if ours => p,
                _ => {
                    return Err(Error::new(format!(
                        "an IAM instance profile named {name:?} already exists and kiln did not create it"
                    ))
                    .with_detail("choose another name (or name_prefix), or import the profile"));
                }
            }
        }
        Err(e) => return Err(e),
    };
    let id = profile.instance_profile_name().to_string();
    let st = state(config, profile_computed(&profile));
    if let Some(role) = string(config, "role")
        && !profile.roles().iter().any(|r| r.role_name() == role)
    {
        ctx.c
            .iam
            .add_role_to_instance_profile()
            .instance_profile_name(&id)
            .role_name(role)
            .send()
            .await
            .map_err(api("AddRoleToInstanceProfile"))
            .map_err(|e| e.after_creating(&id, st.clone()))?;
    }
    Ok((id, st))
}

pub async fn read_profiles(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for (id, prior) in items {
        out.push(
            get(c, id)
                .await?
                .map(|p| refreshed(prior, profile_computed(&p))),
        );
    }
    Ok(out)
}

pub async fn find_profile(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let mut pages = c.iam.list_instance_profiles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("ListInstanceProfiles"))?;
        for p in page.instance_profiles() {
            let tags = profile_tags(c, p.instance_profile_name()).await?;
            if has_key(&tags, key) {
                let mut fields = profile_computed(p);
                fields.push(("role", opt_s(p.roles().first().map(|r| r.role_name()))));
                fields.push(("path", s(p.path())));
                fields.push(("tags", user_tags(&tags)));
                return Ok(Some((
                    p.instance_profile_name().to_string(),
                    adopted(&IamInstanceProfile.schema(), fields),
                )));
            }
        }
    }
    Ok(None)
}

pub async fn delete_profile(ctx: &Ctx<'_>, name: &str) -> Result<(), Error> {
    let iam = &ctx.c.iam;
    if let Some(p) = get(ctx.c, name).await? {
        for r in p.roles() {
            let removed = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(r.role_name())
                .send()
                .await
                .map_err(api("RemoveRoleFromInstanceProfile"));
            if let Err(e) = removed
                && !e.is_not_found()
            {
                return Err(e);
            }
        }
    }
    retry_while_in_use(
        &format!("IAM instance profile {name}"),
        SETTLE_TIMEOUT,
        || async {
            iam.delete_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DeleteInstanceProfile"))
        },
    )
    .await
}

/// `aws_iam_instance_profile`.
pub struct IamInstanceProfile;

#[async_trait]
impl Resource for IamInstanceProfile {
    fn name(&self) -> &'static str {
        "aws_iam_instance_profile"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "role",
                A::optional(str_t()).describe("the name of the role"),
            )
            .attr("path", opt_computed(str_t()))
            .attr("unique_id", A::computed(str_t()))
            .attr("create_date", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_profile(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_profiles(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        retag(ctx, req, Tagged::InstanceProfile(&req.id)).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_profile(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_profile(c, key).await
    }
}
