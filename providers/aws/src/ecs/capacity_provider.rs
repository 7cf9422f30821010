//! `aws_ecs_capacity_provider`: an Auto Scaling group as an ECS capacity
//! provider. The group and its managed scaling are fixed at creation (a
//! change is a new provider, with the new generation of the group it
//! usually comes with); tags change in place. Deleted with DeleteCapacityProvider, waited
//! for until it is gone, retried while a cluster still uses it.

use super::*;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProvider, CapacityProviderField, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};

fn provider_computed(p: &CapacityProvider) -> Vec<(&'static str, Value)> {
    let arn = p.capacity_provider_arn().unwrap_or_default();
    vec![("id", s(arn)), ("arn", s(arn)), ("name", opt_s(p.name()))]
}

fn group(config: &Value) -> Option<&Value> {
    objects(config, "auto_scaling_group_provider")
        .into_iter()
        .next()
}

fn managed_scaling(g: &Value) -> Option<ManagedScaling> {
    let m = objects(g, "managed_scaling").into_iter().next()?;
    let int = |k: &str| number(m, k).map(|n| n as i32);
    Some(
        ManagedScaling::builder()
            .set_status(string(m, "status").map(|s| ManagedScalingStatus::from(s.as_str())))
            .set_target_capacity(int("target_capacity"))
            .set_minimum_scaling_step_size(int("minimum_scaling_step_size"))
            .set_maximum_scaling_step_size(int("maximum_scaling_step_size"))
            .set_instance_warmup_period(int("instance_warmup_period"))
            .build(),
    )
}

fn termination_protection(g: &Value) -> Option<ManagedTerminationProtection> {
    string(g, "managed_termination_protection")
        .map(|s| ManagedTerminationProtection::from(s.as_str()))
}

async fn describe(c: &Clients, ids: Vec<String>) -> Result<Vec<CapacityProvider>, Error> {
    let mut out = Vec::new();
    for batch in ids.chunks(100) {
        let found = c
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(batch.to_vec()))
            .include(CapacityProviderField::Tags)
            .send()
            .await
            .map_err(api("DescribeCapacityProviders"))?;
        out.extend(
            found
                .capacity_providers()
                .iter()
                .filter(|p| p.status().is_none_or(|s| s.as_str() == "ACTIVE"))
                .cloned(),
        );
    }
    Ok(out)
}

/// `aws_ecs_capacity_provider`.
pub struct EcsCapacityProvider;

#[async_trait]
impl Resource for EcsCapacityProvider {
    fn name(&self) -> &'static str {
        "aws_ecs_capacity_provider"
    }

    fn schema(&self) -> ResourceSchema {
        let scaling = obj(&[
            ("status", str_t()),
            ("target_capacity", num_t()),
            ("minimum_scaling_step_size", num_t()),
            ("maximum_scaling_step_size", num_t()),
            ("instance_warmup_period", num_t()),
        ]);
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "auto_scaling_group_provider",
                A::required(obj(&[
                    ("auto_scaling_group_arn", str_t()),
                    ("managed_termination_protection", str_t()),
                    ("managed_draining", str_t()),
                    ("managed_scaling", scaling),
                ]))
                .describe("the group and its managed scaling; a change is a new capacity provider"),
            )
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(Value::String(n)) = config.get("name").map(Value::unmarked) {
            let lower = n.to_ascii_lowercase();
            if ["aws", "ecs", "fargate"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                out.push(format!(
                    "capacity provider name {n:?} may not begin with \"aws\", \"ecs\" or \"fargate\" (an ECS rule)"
                ));
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name(config, NAME_MAX);
        let g = group(config).ok_or_else(|| {
            Error::new("auto_scaling_group_provider is required").with_detail(
                "name the Auto Scaling group: auto_scaling_group_provider { auto_scaling_group_arn = ... }",
            )
        })?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(string(g, "auto_scaling_group_arn").unwrap_or_default())
            .set_managed_scaling(managed_scaling(g))
            .set_managed_termination_protection(termination_protection(g))
            .build()
            .map_err(|e| Error::new(format!("auto_scaling_group_provider: {e}")))?;
        let out = ctx
            .c
            .ecs
            .create_capacity_provider()
            .name(&name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(ecs_tags(&ctx.tags(&tags(config)))))
            .send()
            .await
            .map_err(api("CreateCapacityProvider"));
        let made = match out {
            Ok(o) => o
                .capacity_provider()
                .cloned()
                .ok_or_else(|| Error::new("CreateCapacityProvider returned nothing"))?,
            Err(e) if e.is_duplicate() || e.code() == "ClientException" => {
                match describe(ctx.c, vec![name.clone()])
                    .await?
                    .into_iter()
                    .next()
                {
                    Some(p) if has_key(p.tags(), ctx.key) => p,
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let arn = made.capacity_provider_arn().unwrap_or_default().to_string();
        Ok((arn, state(config, provider_computed(&made))))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let found: BTreeMap<String, CapacityProvider> =
            describe(c, items.iter().map(|(id, _)| id.to_string()).collect())
                .await?
                .into_iter()
                .map(|p| (p.capacity_provider_arn().unwrap_or_default().to_string(), p))
                .collect();
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    found
                        .get(*id)
                        .map(|p| refreshed(prior, provider_computed(p)))
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        retag(ctx, req, &req.id).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        if describe(ctx.c, vec![id.to_string()]).await?.is_empty() {
            return Ok(());
        }
        // Retried while a cluster being changed still uses it.
        retry_while_in_use(
            &format!("capacity provider {id}"),
            SETTLE_TIMEOUT,
            || async {
                ctx.c
                    .ecs
                    .delete_capacity_provider()
                    .capacity_provider(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("DeleteCapacityProvider"))
            },
        )
        .await?;
        wait_for(
            &format!("capacity provider {id} to be deleted"),
            SETTLE_TIMEOUT,
            POLL,
            || async {
                Ok(describe(ctx.c, vec![id.to_string()])
                    .await?
                    .is_empty()
                    .then_some(()))
            },
        )
        .await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let mut token = None;
        loop {
            let page = c
                .ecs
                .describe_capacity_providers()
                .include(CapacityProviderField::Tags)
                .set_next_token(token)
                .send()
                .await
                .map_err(api("DescribeCapacityProviders"))?;
            for p in page.capacity_providers() {
                if has_key(p.tags(), key) {
                    let mut fields = provider_computed(p);
                    fields.push(("tags", user_tags(p.tags())));
                    return Ok(Some((
                        p.capacity_provider_arn().unwrap_or_default().to_string(),
                        adopted(&EcsCapacityProvider.schema(), fields),
                    )));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }
}
