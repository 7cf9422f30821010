//! `aws_ecs_cluster_capacity_providers`: which capacity providers a
//! cluster uses and its default strategy — run-time configuration of the
//! cluster, set with PutClusterCapacityProviders, changed in place. Its id
//! is the cluster's name, as in Terraform. Deleting it empties both lists
//! (a cluster using no capacity provider has none of this object).
//! It carries no tags of its own: nothing to find by key (a retried create
//! puts the same lists again).

use super::*;
use aws_sdk_ecs::types::{CapacityProviderStrategyItem, ClusterField};

fn strategy(config: &Value) -> Vec<CapacityProviderStrategyItem> {
    objects(config, "default_capacity_provider_strategy")
        .into_iter()
        .filter_map(|o| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(string(o, "capacity_provider")?)
                .set_weight(number(o, "weight").map(|n| n as i32))
                .set_base(number(o, "base").map(|n| n as i32))
                .build()
                .ok()
        })
        .collect()
}

async fn put(
    c: &Clients,
    cluster: &str,
    providers: Vec<String>,
    strategy: Vec<CapacityProviderStrategyItem>,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    loop {
        let done = c
            .ecs
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy.clone()))
            .send()
            .await
            .map_err(api("PutClusterCapacityProviders"));
        match done {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    "UpdateInProgressException" | "ResourceInUseException"
                ) && started.elapsed() < SETTLE_TIMEOUT =>
            {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `aws_ecs_cluster_capacity_providers`.
pub struct EcsClusterCapacityProviders;

#[async_trait]
impl Resource for EcsClusterCapacityProviders {
    fn name(&self) -> &'static str {
        "aws_ecs_cluster_capacity_providers"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr(
                "cluster_name",
                A::required(str_t()).describe("the cluster's name"),
            )
            .attr(
                "capacity_providers",
                A::optional(strs_t())
                    .runtime()
                    .describe("names of capacity providers (or FARGATE, FARGATE_SPOT)"),
            )
            .attr(
                "default_capacity_provider_strategy",
                A::optional(Type::List(Box::new(obj(&[
                    ("capacity_provider", str_t()),
                    ("weight", num_t()),
                    ("base", num_t()),
                ]))))
                .runtime(),
            )
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let cluster = string(config, "cluster_name").unwrap_or_default();
        put(
            ctx.c,
            &cluster,
            strings(config, "capacity_providers"),
            strategy(config),
        )
        .await?;
        let name = cluster_name(&cluster);
        Ok((name.clone(), state(config, [("id", s(name))])))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for batch in items.chunks(100) {
            let found = c
                .ecs
                .describe_clusters()
                .set_clusters(Some(batch.iter().map(|(id, _)| id.to_string()).collect()))
                .include(ClusterField::Settings)
                .send()
                .await
                .map_err(api("DescribeClusters"))?;
            let by_name: BTreeMap<String, &aws_sdk_ecs::types::Cluster> = found
                .clusters()
                .iter()
                .filter(|c| c.status() != Some("INACTIVE"))
                .map(|c| (c.cluster_name().unwrap_or_default().to_string(), c))
                .collect();
            for (id, prior) in batch {
                // Deleting empties both lists: a cluster with neither has
                // none of this object left.
                let used = |cl: &&&aws_sdk_ecs::types::Cluster| {
                    !cl.capacity_providers().is_empty()
                        || !cl.default_capacity_provider_strategy().is_empty()
                };
                out.push(by_name.get(*id).filter(used).map(|cl| {
                    // Which providers the cluster uses is run-time
                    // configuration: a change outside kiln is drift put back.
                    let providers: Vec<Value> = cl.capacity_providers().iter().map(s).collect();
                    let configured = prior
                        .get("capacity_providers")
                        .is_some_and(|v| !v.is_null());
                    let mut fresh = vec![("id", s(*id))];
                    if configured {
                        fresh.push(("capacity_providers", Value::List(providers.into())));
                    }
                    refreshed(prior, fresh)
                }));
            }
        }
        Ok(observed(out))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        put(
            ctx.c,
            &req.id,
            strings(&req.planned, "capacity_providers"),
            strategy(&req.planned),
        )
        .await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        match put(ctx.c, id, Vec::new(), Vec::new()).await {
            Err(e) if e.is_not_found() || e.code() == "ClusterNotFoundException" => Ok(()),
            other => other,
        }
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
