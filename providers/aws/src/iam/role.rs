//! `aws_iam_role`.

use super::*;

/// IAM's limit on role names (`name_prefix`: 38, as Terraform documents).
const NAME_MAX: usize = 64;

fn role_computed(r: &aws_sdk_iam::types::Role) -> Vec<(&'static str, Value)> {
    vec![
        ("id", s(r.role_name())),
        ("name", s(r.role_name())),
        ("arn", s(r.arn())),
        ("unique_id", s(r.role_id())),
        ("create_date", s(r.create_date().to_string())),
    ]
}

async fn get(c: &Clients, name: &str) -> Result<Option<aws_sdk_iam::types::Role>, Error> {
    match c
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(api("GetRole"))
    {
        Ok(out) => Ok(out.role().cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn create_role(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let out = ctx
        .c
        .iam
        .create_role()
        .role_name(&name)
        .set_assume_role_policy_document(string(config, "assume_role_policy"))
        .set_description(string(config, "description"))
        .set_path(string(config, "path"))
        .set_max_session_duration(number(config, "max_session_duration").map(|n| n as i32))
        .set_permissions_boundary(string(config, "permissions_boundary"))
        .set_tags(Some(iam_tags(&ctx.tags(&tags(config)))))
        .send()
        .await
        .map_err(api("CreateRole"));
    let role = match out {
        Ok(out) => out
            .role()
            .cloned()
            .ok_or_else(|| Error::new("CreateRole returned no role"))?,
        // A retried create whose first try made the role: adopt it when it
        // carries this create's key, refuse to take over anything else.
        Err(e) if e.is_duplicate() => match get(ctx.c, &name).await? {
            Some(r) if has_key(r.tags(), ctx.key) && !ctx.key.is_empty() => r,
            _ => {
                return Err(Error::new(format!(
                    "an IAM role named {name:?} already exists and kiln did not create it"
                ))
                .with_detail("choose another name (or name_prefix), or import the role"));
            }
        },
        Err(e) => return Err(e),
    };
    let id = role.role_name().to_string();
    Ok((id, state(config, role_computed(&role))))
}

pub async fn read_roles(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    // IAM has no batched read of roles: one GetRole each.
    let mut out = Vec::with_capacity(items.len());
    for (id, prior) in items {
        out.push(
            get(c, id)
                .await?
                .map(|r| refreshed(prior, role_computed(&r))),
        );
    }
    Ok(out)
}

pub async fn find_role(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let mut pages = c.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("ListRoles"))?;
        for r in page.roles() {
            let tags = c
                .iam
                .list_role_tags()
                .role_name(r.role_name())
                .send()
                .await
                .map_err(api("ListRoleTags"))?;
            if has_key(tags.tags(), key) {
                let mut fields = role_computed(r);
                fields.push(("assume_role_policy", opt_s(r.assume_role_policy_document())));
                fields.push(("description", opt_s(r.description())));
                fields.push(("path", s(r.path())));
                fields.push(("tags", user_tags(tags.tags())));
                return Ok(Some((
                    r.role_name().to_string(),
                    adopted(&IamRole.schema(), fields),
                )));
            }
        }
    }
    Ok(None)
}

pub async fn delete_role(ctx: &Ctx<'_>, name: &str, st: &Value) -> Result<(), Error> {
    let iam = &ctx.c.iam;
    if boolean(st, "force_detach_policies") == Some(true) {
        let attached = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(api("ListAttachedRolePolicies"));
        for p in attached
            .map(|a| a.attached_policies().to_vec())
            .unwrap_or_default()
        {
            iam.detach_role_policy()
                .role_name(name)
                .set_policy_arn(p.policy_arn().map(str::to_string))
                .send()
                .await
                .map_err(api("DetachRolePolicy"))?;
        }
        let inline = iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(api("ListRolePolicies"));
        for p in inline
            .map(|i| i.policy_names().to_vec())
            .unwrap_or_default()
        {
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(p)
                .send()
                .await
                .map_err(api("DeleteRolePolicy"))?;
        }
    }
    retry_while_in_use(&format!("IAM role {name}"), SETTLE_TIMEOUT, || async {
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteRole"))
    })
    .await
}

/// `aws_iam_role`.
pub struct IamRole;

#[async_trait]
impl Resource for IamRole {
    fn name(&self) -> &'static str {
        "aws_iam_role"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "assume_role_policy",
                A::required(str_t()).describe("the trust policy, JSON; a new one is a new role"),
            )
            .attr("description", A::optional(str_t()))
            .attr("path", opt_computed(str_t()))
            .attr("max_session_duration", A::optional(num_t()))
            .attr("permissions_boundary", A::optional(str_t()))
            .attr(
                "force_detach_policies",
                A::optional(bool_t())
                    .runtime()
                    .describe("detach managed and delete inline policies before deleting the role"),
            )
            .attr("unique_id", A::computed(str_t()))
            .attr("create_date", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_document(config, "assume_role_policy", out);
        if let Some(p) = string(config, "name_prefix")
            && p.len() > 38
        {
            out.push(format!(
                "name_prefix {p:?} is {} characters long; IAM allows at most 38 for a role name prefix",
                p.len()
            ));
        }
        if let Some(n) = number(config, "max_session_duration")
            && !(3600..=43200).contains(&n)
        {
            out.push(format!(
                "max_session_duration {n} is outside 3600 .. 43200 seconds"
            ));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_role(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_roles(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        retag(ctx, req, Tagged::Role(&req.id)).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        delete_role(ctx, id, state).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_role(c, key).await
    }
}
