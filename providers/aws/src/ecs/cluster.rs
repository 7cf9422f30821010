//! `aws_ecs_cluster`: a named ECS cluster. Its `setting` blocks
//! (`containerInsights`) and tags change in place; a new name is a new
//! cluster. Deleted with DeleteCluster, retried while its services and
//! capacity providers are still going.

use super::*;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};

fn cluster_computed(c: &Cluster) -> Vec<(&'static str, Value)> {
    let arn = c.cluster_arn().unwrap_or_default();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        ("name", opt_s(c.cluster_name())),
    ]
}

fn settings(config: &Value) -> Vec<ClusterSetting> {
    objects(config, "setting")
        .into_iter()
        .filter_map(|o| {
            Some(
                ClusterSetting::builder()
                    .name(ClusterSettingName::from(string(o, "name")?.as_str()))
                    .value(string(o, "value")?)
                    .build(),
            )
        })
        .collect()
}

async fn describe(c: &Clients, clusters: Vec<String>) -> Result<Vec<Cluster>, Error> {
    let mut out = Vec::new();
    for batch in clusters.chunks(100) {
        let found = c
            .ecs
            .describe_clusters()
            .set_clusters(Some(batch.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(api("DescribeClusters"))?;
        out.extend(found.clusters().iter().cloned());
    }
    Ok(out)
}

/// `aws_ecs_cluster`.
pub struct EcsCluster;

#[async_trait]
impl Resource for EcsCluster {
    fn name(&self) -> &'static str {
        "aws_ecs_cluster"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "setting",
                A::optional(Type::List(Box::new(obj(&[
                    ("name", str_t()),
                    ("value", str_t()),
                ]))))
                .runtime()
                .describe("containerInsights = enabled | disabled, changed in place"),
            )
            .attr("tags", tags_attr())
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name(config, NAME_MAX);
        let settings = settings(config);
        let out = ctx
            .c
            .ecs
            .create_cluster()
            .cluster_name(&name)
            .set_settings((!settings.is_empty()).then_some(settings))
            .set_tags(Some(ecs_tags(&ctx.tags(&tags(config)))))
            .send()
            .await
            .map_err(api("CreateCluster"))?;
        let cluster = out
            .cluster()
            .ok_or_else(|| Error::new("CreateCluster returned no cluster"))?;
        // CreateCluster of an existing ACTIVE name answers with that
        // cluster: it must be the one this create made.
        let existing = describe(ctx.c, vec![name.clone()]).await?;
        if let Some(found) = existing.first()
            && !has_key(found.tags(), ctx.key)
        {
            return Err(Error::new(format!(
                "an ECS cluster named {name:?} already exists and kiln did not create it"
            ))
            .with_detail("choose another name, or import the cluster"));
        }
        let arn = cluster.cluster_arn().unwrap_or_default().to_string();
        Ok((arn, state(config, cluster_computed(cluster))))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let found: BTreeMap<String, Cluster> =
            describe(c, items.iter().map(|(id, _)| id.to_string()).collect())
                .await?
                .into_iter()
                .filter(|c| c.status() != Some("INACTIVE"))
                .map(|c| (c.cluster_arn().unwrap_or_default().to_string(), c))
                .collect();
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    found
                        .get(*id)
                        .map(|cl| refreshed(prior, cluster_computed(cl)))
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        if req.changed.iter().any(|c| c == "setting") {
            let settings = settings(&req.planned);
            ctx.c
                .ecs
                .update_cluster()
                .cluster(&req.id)
                .set_settings(Some(settings))
                .send()
                .await
                .map_err(api("UpdateCluster"))?;
        }
        retag(ctx, req, &req.id).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        // Retried while its services and capacity providers are still going.
        retry_while_in_use(&format!("ECS cluster {id}"), SETTLE_TIMEOUT, || async {
            ctx.c
                .ecs
                .delete_cluster()
                .cluster(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DeleteCluster"))
        })
        .await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let all = all_clusters(c).await?;
        for cl in describe(c, all).await? {
            if cl.status() != Some("INACTIVE") && has_key(cl.tags(), key) {
                let mut fields = cluster_computed(&cl);
                fields.push(("tags", user_tags(cl.tags())));
                return Ok(Some((
                    cl.cluster_arn().unwrap_or_default().to_string(),
                    adopted(&EcsCluster.schema(), fields),
                )));
            }
        }
        Ok(None)
    }
}
