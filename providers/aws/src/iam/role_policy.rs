//! `aws_iam_role_policy`: an inline policy of a role, id `{role}:{name}`
//! as in Terraform. PutRolePolicy overwrites a policy of the same name, so
//! a replacement must never reuse the live one's name: `name` follows the
//! physical-name rule like every named type (a derived name while the live
//! policy holds it).

use super::*;

/// IAM's limit on inline policy names.
const NAME_MAX: usize = 128;

fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

/// `aws_iam_role_policy`.
pub struct IamRolePolicy;

#[async_trait]
impl Resource for IamRolePolicy {
    fn name(&self) -> &'static str {
        "aws_iam_role_policy"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr(
                "role",
                A::required(str_t()).describe("the name of the role"),
            )
            .attr(
                "policy",
                A::required(str_t()).describe("the policy document, JSON"),
            )
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_document(config, "policy", out);
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name(config, NAME_MAX);
        let role = string(config, "role").unwrap_or_default();
        ctx.c
            .iam
            .put_role_policy()
            .role_name(&role)
            .policy_name(&name)
            .set_policy_document(string(config, "policy"))
            .send()
            .await
            .map_err(api("PutRolePolicy"))?;
        let id = format!("{role}:{name}");
        Ok((
            id.clone(),
            state(config, [("id", s(&id)), ("name", s(&name))]),
        ))
    }

    /// One GetRolePolicy each (IAM has no batched read).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for (id, prior) in items {
            let (role, name) = split(id);
            let got = c
                .iam
                .get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .map_err(api("GetRolePolicy"));
            out.push(match got {
                Ok(_) => Some(refreshed(prior, [("id", s(*id))])),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            });
        }
        Ok(observed(out))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        let (role, name) = split(id);
        match ctx
            .c
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(api("DeleteRolePolicy"))
        {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Inline policies carry no tags; PutRolePolicy is idempotent, so a
    /// retried create writes the same policy again.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
