//! `aws_iam_policy`: a customer managed policy. A new document is a new
//! policy beside the old one (attachments follow as a new generation),
//! never a new version of a policy in use.

use super::*;

/// IAM's limit on policy names.
const NAME_MAX: usize = 128;

fn policy_computed(p: &aws_sdk_iam::types::Policy) -> Vec<(&'static str, Value)> {
    vec![
        ("id", opt_s(p.arn())),
        ("arn", opt_s(p.arn())),
        ("name", opt_s(p.policy_name())),
        ("policy_id", opt_s(p.policy_id())),
        (
            "attachment_count",
            p.attachment_count()
                .map_or(Value::Null, |n| Value::from(i64::from(n))),
        ),
    ]
}

async fn get(c: &Clients, arn: &str) -> Result<Option<aws_sdk_iam::types::Policy>, Error> {
    match c
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(api("GetPolicy"))
    {
        Ok(out) => Ok(out.policy().cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn policy_tags(c: &Clients, arn: &str) -> Result<Vec<Tag>, Error> {
    Ok(c.iam
        .list_policy_tags()
        .policy_arn(arn)
        .send()
        .await
        .map_err(api("ListPolicyTags"))?
        .tags()
        .to_vec())
}

pub async fn create_policy(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let made = ctx
        .c
        .iam
        .create_policy()
        .policy_name(&name)
        .set_policy_document(string(config, "policy"))
        .set_description(string(config, "description"))
        .set_path(string(config, "path"))
        .set_tags(Some(iam_tags(&ctx.tags(&tags(config)))))
        .send()
        .await
        .map_err(api("CreatePolicy"));
    let policy = match made {
        Ok(out) => out
            .policy()
            .cloned()
            .ok_or_else(|| Error::new("CreatePolicy returned no policy"))?,
        Err(e) if e.is_duplicate() && !ctx.key.is_empty() => {
            match find_policy(ctx.c, ctx.key).await? {
                Some((arn, _)) => get(ctx.c, &arn).await?.ok_or_else(|| {
                    Error::new(format!("policy {arn} vanished while being adopted"))
                })?,
                None => {
                    return Err(Error::new(format!(
                        "an IAM policy named {name:?} already exists and kiln did not create it"
                    ))
                    .with_detail("choose another name (or name_prefix), or import the policy"));
                }
            }
        }
        Err(e) => return Err(e),
    };
    let id = policy.arn().unwrap_or_default().to_string();
    Ok((id, state(config, policy_computed(&policy))))
}

pub async fn read_policies(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for (id, prior) in items {
        out.push(
            get(c, id)
                .await?
                .map(|p| refreshed(prior, policy_computed(&p))),
        );
    }
    Ok(out)
}

pub async fn find_policy(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let mut pages = c
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("ListPolicies"))?;
        for p in page.policies() {
            let arn = p.arn().unwrap_or_default();
            let tags = policy_tags(c, arn).await?;
            if has_key(&tags, key) {
                let mut fields = policy_computed(p);
                fields.push(("path", opt_s(p.path())));
                fields.push(("description", opt_s(p.description())));
                fields.push(("tags", user_tags(&tags)));
                return Ok(Some((
                    arn.to_string(),
                    adopted(&IamPolicy.schema(), fields),
                )));
            }
        }
    }
    Ok(None)
}

pub async fn delete_policy(ctx: &Ctx<'_>, arn: &str) -> Result<(), Error> {
    let iam = &ctx.c.iam;
    // A policy with versions besides the default is deleted version by
    // version first (DeletePolicy refuses it otherwise).
    let versions = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(api("ListPolicyVersions"));
    match versions {
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
        Ok(v) => {
            for version in v.versions().iter().filter(|v| !v.is_default_version()) {
                iam.delete_policy_version()
                    .policy_arn(arn)
                    .set_version_id(version.version_id().map(str::to_string))
                    .send()
                    .await
                    .map_err(api("DeletePolicyVersion"))?;
            }
        }
    }
    retry_while_in_use(&format!("IAM policy {arn}"), SETTLE_TIMEOUT, || async {
        iam.delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeletePolicy"))
    })
    .await
}

/// `aws_iam_policy`.
pub struct IamPolicy;

#[async_trait]
impl Resource for IamPolicy {
    fn name(&self) -> &'static str {
        "aws_iam_policy"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "policy",
                A::required(str_t())
                    .describe("the policy document, JSON; a new one is a new policy"),
            )
            .attr("description", A::optional(str_t()))
            .attr("path", opt_computed(str_t()))
            .attr("policy_id", A::computed(str_t()))
            .attr("attachment_count", A::computed(num_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_document(config, "policy", out);
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_policy(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_policies(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        retag(ctx, req, Tagged::Policy(&req.id)).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_policy(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_policy(c, key).await
    }
}
