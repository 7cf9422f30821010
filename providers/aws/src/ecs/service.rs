//! `aws_ecs_service`: a service running a task definition on a cluster.
//!
//! A generation of containers: a new task definition (a new image) is a new
//! service, started beside the old one under a name that does not collide,
//! checked healthy — its running task count reaches the desired count —
//! before traffic moves to it; then the old service is drained and deleted.
//! kiln never patches a running service's task definition in place. The
//! desired count (and the deployment percentages) are run-time
//! configuration, changed in place with UpdateService. Created with a
//! client token (CreateService is idempotent with one).
//!
//! On the emulator (moto) tasks do not run: a service reports the running
//! count moto is told to (`MOTO_ECS_SERVICE_RUNNING`), so the health check
//! there shows the gate working, not containers serving. On AWS it waits
//! for real tasks to be RUNNING (and, behind a load balancer, for ECS to
//! count them running after their target health checks).

use super::*;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, Service, ServiceField,
};

/// How long a new service may take to reach its desired count, unless
/// `wait_for_steady_state` turns the wait off.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn service_computed(sv: &Service) -> Vec<(&'static str, Value)> {
    let arn = sv.service_arn().unwrap_or_default();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        ("name", opt_s(sv.service_name())),
    ]
}

fn strategy(config: &Value) -> Option<Vec<CapacityProviderStrategyItem>> {
    let items: Vec<CapacityProviderStrategyItem> = objects(config, "capacity_provider_strategy")
        .into_iter()
        .filter_map(|o| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(string(o, "capacity_provider")?)
                .set_weight(number(o, "weight").map(|n| n as i32))
                .set_base(number(o, "base").map(|n| n as i32))
                .build()
                .ok()
        })
        .collect();
    (!items.is_empty()).then_some(items)
}

fn load_balancers(config: &Value) -> Option<Vec<LoadBalancer>> {
    let items: Vec<LoadBalancer> = objects(config, "load_balancer")
        .into_iter()
        .map(|o| {
            LoadBalancer::builder()
                .set_target_group_arn(string(o, "target_group_arn"))
                .set_load_balancer_name(string(o, "elb_name"))
                .set_container_name(string(o, "container_name"))
                .set_container_port(number(o, "container_port").map(|n| n as i32))
                .build()
        })
        .collect();
    (!items.is_empty()).then_some(items)
}

fn network(config: &Value) -> Result<Option<NetworkConfiguration>, Error> {
    let Some(n) = objects(config, "network_configuration").into_iter().next() else {
        return Ok(None);
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(strings(n, "subnets")))
        .set_security_groups(Some(strings(n, "security_groups")))
        .set_assign_public_ip(boolean(n, "assign_public_ip").map(|b| {
            if b {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            }
        }))
        .build()
        .map_err(|e| Error::new(format!("network_configuration: {e}")))?;
    Ok(Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    ))
}

fn deployment(config: &Value) -> Option<DeploymentConfiguration> {
    let max = number(config, "deployment_maximum_percent");
    let min = number(config, "deployment_minimum_healthy_percent");
    (max.is_some() || min.is_some()).then(|| {
        DeploymentConfiguration::builder()
            .set_maximum_percent(max.map(|n| n as i32))
            .set_minimum_healthy_percent(min.map(|n| n as i32))
            .build()
    })
}

async fn describe(c: &Clients, cluster: &str, ids: &[String]) -> Result<Vec<Service>, Error> {
    let mut out = Vec::new();
    for batch in ids.chunks(10) {
        let found = c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(api("DescribeServices"));
        match found {
            Ok(f) => out.extend(
                f.services()
                    .iter()
                    .filter(|sv| sv.status() != Some("INACTIVE"))
                    .cloned(),
            ),
            Err(e) if e.is_not_found() || e.code() == "ClusterNotFoundException" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn cluster_of(st: &Value) -> String {
    string(st, "cluster").unwrap_or_else(|| "default".into())
}

/// `aws_ecs_service`.
pub struct EcsService;

#[async_trait]
impl Resource for EcsService {
    fn name(&self) -> &'static str {
        "aws_ecs_service"
    }

    fn schema(&self) -> ResourceSchema {
        let mut sv = named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "cluster",
                opt_computed(str_t()).describe("the cluster's ARN or name (default: default)"),
            )
            .attr(
                "task_definition",
                A::optional(str_t()).describe(
                    "family:revision or ARN; a new one is a new service (never patched in place)",
                ),
            )
            .attr(
                "desired_count",
                A::optional(num_t()).runtime().describe("changed in place"),
            )
            .attr("launch_type", A::optional(str_t()))
            .attr(
                "capacity_provider_strategy",
                A::optional(Type::List(Box::new(obj(&[
                    ("capacity_provider", str_t()),
                    ("weight", num_t()),
                    ("base", num_t()),
                ])))),
            )
            .attr(
                "load_balancer",
                A::optional(Type::List(Box::new(obj(&[
                    ("target_group_arn", str_t()),
                    ("elb_name", str_t()),
                    ("container_name", str_t()),
                    ("container_port", num_t()),
                ])))),
            )
            .attr(
                "network_configuration",
                A::optional(obj(&[
                    ("subnets", strs_t()),
                    ("security_groups", strs_t()),
                    ("assign_public_ip", bool_t()),
                ])),
            )
            .attr(
                "deployment_maximum_percent",
                A::optional(num_t()).runtime(),
            )
            .attr(
                "deployment_minimum_healthy_percent",
                A::optional(num_t()).runtime(),
            )
            .attr("health_check_grace_period_seconds", A::optional(num_t()))
            .attr("scheduling_strategy", A::optional(str_t()))
            .attr("enable_ecs_managed_tags", A::optional(bool_t()))
            .attr("propagate_tags", A::optional(str_t()))
            .attr("iam_role", A::optional(str_t()))
            .attr(
                "force_new_deployment",
                A::optional(bool_t())
                    .runtime()
                    .describe("accepted for Terraform's sake: every kiln deployment is a new service"),
            )
            .attr(
                "wait_for_steady_state",
                A::optional(bool_t()).runtime().describe(
                    "kiln always waits for the desired count before traffic moves; false skips the wait",
                ),
            )
            .attr("tags", tags_attr());
        sv.health_check = true;
        sv
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let set = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        if set("launch_type") && set("capacity_provider_strategy") {
            out.push("launch_type and capacity_provider_strategy conflict: set one of them".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name(config, NAME_MAX);
        let cluster = cluster_of(config);
        let out = ctx
            .c
            .ecs
            .create_service()
            .cluster(&cluster)
            .service_name(&name)
            .set_task_definition(string(config, "task_definition"))
            .set_desired_count(number(config, "desired_count").map(|n| n as i32))
            .set_launch_type(string(config, "launch_type").map(|l| LaunchType::from(l.as_str())))
            .set_capacity_provider_strategy(strategy(config))
            .set_load_balancers(load_balancers(config))
            .set_network_configuration(network(config)?)
            .set_deployment_configuration(deployment(config))
            .set_health_check_grace_period_seconds(
                number(config, "health_check_grace_period_seconds").map(|n| n as i32),
            )
            .set_scheduling_strategy(
                string(config, "scheduling_strategy")
                    .map(|s| aws_sdk_ecs::types::SchedulingStrategy::from(s.as_str())),
            )
            .set_enable_ecs_managed_tags(boolean(config, "enable_ecs_managed_tags"))
            .set_propagate_tags(
                string(config, "propagate_tags").map(|p| PropagateTags::from(p.as_str())),
            )
            .set_role(string(config, "iam_role"))
            .set_client_token(ctx.client_token())
            .set_tags(Some(ecs_tags(&ctx.tags(&tags(config)))))
            .send()
            .await
            .map_err(api("CreateService"))?;
        let sv = out
            .service()
            .ok_or_else(|| Error::new("CreateService returned no service"))?;
        let arn = sv.service_arn().unwrap_or_default().to_string();
        let mut st = state(config, service_computed(sv));
        if let Value::Map(m) = &mut st {
            m.insert("cluster", s(cluster));
        }
        Ok((arn, st))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, prior) in items {
            by_cluster
                .entry(cluster_of(prior))
                .or_default()
                .push(id.to_string());
        }
        let mut found: BTreeMap<String, Service> = BTreeMap::new();
        for (cluster, ids) in &by_cluster {
            for sv in describe(c, cluster, ids).await? {
                found.insert(sv.service_arn().unwrap_or_default().to_string(), sv);
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    let sv = found.get(*id)?;
                    let mut fresh = service_computed(sv);
                    // The desired count is run-time configuration: a change
                    // outside kiln shows as an in-place update back.
                    if prior.get("desired_count").is_some_and(|v| !v.is_null()) {
                        fresh.push(("desired_count", Value::from(i64::from(sv.desired_count()))));
                    }
                    Some(refreshed(prior, fresh))
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let p = &req.planned;
        let runtime = [
            "desired_count",
            "deployment_maximum_percent",
            "deployment_minimum_healthy_percent",
        ];
        if req.changed.iter().any(|c| runtime.contains(&c.as_str())) {
            ctx.c
                .ecs
                .update_service()
                .cluster(cluster_of(p))
                .service(&req.id)
                .set_desired_count(number(p, "desired_count").map(|n| n as i32))
                .set_deployment_configuration(deployment(p))
                .send()
                .await
                .map_err(api("UpdateService"))?;
        }
        retag(ctx, req, &req.id).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        let cluster = cluster_of(state);
        // Drained first (no new tasks), then deleted with force.
        let drained = ctx
            .c
            .ecs
            .update_service()
            .cluster(&cluster)
            .service(id)
            .desired_count(0)
            .send()
            .await
            .map_err(api("UpdateService"));
        if let Err(e) = drained {
            if e.is_not_found()
                || matches!(
                    e.code(),
                    "ServiceNotFoundException"
                        | "ServiceNotActiveException"
                        | "ClusterNotFoundException"
                )
            {
                return Ok(());
            }
            return Err(e);
        }
        match ctx
            .c
            .ecs
            .delete_service()
            .cluster(&cluster)
            .service(id)
            .force(true)
            .send()
            .await
            .map_err(api("DeleteService"))
        {
            Ok(_) => {}
            Err(e)
                if e.is_not_found()
                    || matches!(
                        e.code(),
                        "ServiceNotFoundException" | "ServiceNotActiveException"
                    ) => {}
            Err(e) => return Err(e),
        }
        wait_for(
            &format!("ECS service {id} to be deleted"),
            SETTLE_TIMEOUT,
            POLL,
            || {
                let cluster = cluster.clone();
                async move {
                    let left = describe(ctx.c, &cluster, &[id.to_string()]).await?;
                    Ok(left
                        .iter()
                        .all(|sv| sv.status() == Some("INACTIVE"))
                        .then_some(()))
                }
            },
        )
        .await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        for cluster in all_clusters(c).await? {
            let mut arns = Vec::new();
            let mut pages = c
                .ecs
                .list_services()
                .cluster(&cluster)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                arns.extend(
                    page.map_err(api("ListServices"))?
                        .service_arns()
                        .iter()
                        .cloned(),
                );
            }
            for sv in describe(c, &cluster, &arns).await? {
                if has_key(sv.tags(), key) {
                    let mut fields = service_computed(&sv);
                    fields.push(("cluster", s(cluster.clone())));
                    fields.push(("task_definition", opt_s(sv.task_definition())));
                    fields.push(("desired_count", Value::from(i64::from(sv.desired_count()))));
                    fields.push(("tags", user_tags(sv.tags())));
                    return Ok(Some((
                        sv.service_arn().unwrap_or_default().to_string(),
                        adopted(&EcsService.schema(), fields),
                    )));
                }
            }
        }
        Ok(None)
    }

    async fn health(&self, c: &Clients, id: &str, state: &Value) -> Option<Result<String, Error>> {
        if boolean(state, "wait_for_steady_state") == Some(false) {
            return Some(Ok("wait_for_steady_state is false: not waited".into()));
        }
        let cluster = cluster_of(state);
        let last = std::sync::Mutex::new(String::from("no answer yet"));
        let result = wait_for(
            &format!("ECS service {id} to run its desired count of tasks"),
            HEALTH_TIMEOUT,
            Duration::from_secs(1),
            || {
                let (cluster, last) = (cluster.clone(), &last);
                async move {
                    let Some(sv) = describe(c, &cluster, &[id.to_string()]).await?.pop() else {
                        return Err(Error::new(format!("ECS service {id} does not exist")));
                    };
                    let (running, want) = (sv.running_count(), sv.desired_count());
                    let msg = format!("{running} of {want} tasks running");
                    if let Ok(mut l) = last.lock() {
                        l.clone_from(&msg);
                    }
                    Ok((running >= want).then_some(msg))
                }
            },
        )
        .await;
        Some(result.map_err(|e| {
            let seen = last.lock().map(|l| l.clone()).unwrap_or_default();
            Error::new(format!("{} (last seen: {seen})", e.message))
        }))
    }
}
