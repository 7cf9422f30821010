//! `aws_iam_role_policy_attachment`: a managed policy attached to a role,
//! id `{role}/{policy_arn}`. AttachRolePolicy is idempotent; a role has a
//! policy attached once, so two resources attaching the same pair are
//! refused at plan time.

use super::*;

fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

/// `aws_iam_role_policy_attachment`.
pub struct IamRolePolicyAttachment;

#[async_trait]
impl Resource for IamRolePolicyAttachment {
    fn name(&self) -> &'static str {
        "aws_iam_role_policy_attachment"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr(
                "role",
                A::required(str_t()).describe("the name of the role"),
            )
            .attr("policy_arn", A::required(str_t()))
            .exclusive(&["role", "policy_arn"])
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let role = string(config, "role").unwrap_or_default();
        let arn = string(config, "policy_arn").unwrap_or_default();
        ctx.c
            .iam
            .attach_role_policy()
            .role_name(&role)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(api("AttachRolePolicy"))?;
        let id = format!("{role}/{arn}");
        Ok((id.clone(), state(config, [("id", s(id))])))
    }

    /// One ListAttachedRolePolicies per role of the batch.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut attached: BTreeMap<&str, Option<Vec<String>>> = BTreeMap::new();
        for (id, _) in items {
            let (role, _) = split(id);
            if attached.contains_key(role) {
                continue;
            }
            let mut arns = Vec::new();
            let mut pages = c
                .iam
                .list_attached_role_policies()
                .role_name(role)
                .into_paginator()
                .send();
            let mut gone = false;
            while let Some(page) = pages.next().await {
                match page.map_err(api("ListAttachedRolePolicies")) {
                    Ok(p) => arns.extend(
                        p.attached_policies()
                            .iter()
                            .filter_map(|a| a.policy_arn().map(str::to_string)),
                    ),
                    Err(e) if e.is_not_found() => {
                        gone = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            attached.insert(role, (!gone).then_some(arns));
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    let (role, arn) = split(id);
                    let arns = attached.get(role)?.as_ref()?;
                    arns.iter()
                        .any(|a| a == arn)
                        .then(|| refreshed(prior, [("id", s(*id))]))
                })
                .collect(),
        ))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        let (role, arn) = split(id);
        match ctx
            .c
            .iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(api("DetachRolePolicy"))
        {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Attachments carry no tags; AttachRolePolicy is idempotent.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
