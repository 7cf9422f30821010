//! `aws_ecs_task_definition`: one revision of a task definition family.
//! Every argument is fixed at registration, as in Terraform: a new image
//! is a new revision, registered beside the live one (the family is shared,
//! so it never collides), and the service that runs it is replaced. The
//! old revision is deregistered (and deleted) when its generation goes.
//!
//! `container_definitions` is the JSON Terraform users write (a list of
//! ECS container definitions, keys as in the ECS API reference); the keys
//! web services use are understood, and any other key is an error naming
//! it rather than a silently dropped setting. Its `id` is the revision's
//! ARN (Terraform's is the family, which every revision shares; kiln's id
//! names one object): use `arn` or `family` as Terraform users do.

use super::*;
use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, HealthCheck,
    KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, PortMapping, Secret,
    TaskDefinition, TaskDefinitionField, TransportProtocol,
};

/// The keys of a container definition kiln passes on.
const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "cpu",
    "memory",
    "memoryReservation",
    "essential",
    "portMappings",
    "environment",
    "command",
    "entryPoint",
    "logConfiguration",
    "healthCheck",
    "secrets",
    "workingDirectory",
    "user",
    "dockerLabels",
    "links",
    "mountPoints",
    "dependsOn",
    "readonlyRootFilesystem",
    "privileged",
    "stopTimeout",
    "startTimeout",
    "hostname",
];

fn td_computed(t: &TaskDefinition) -> Vec<(&'static str, Value)> {
    let arn = t.task_definition_arn().unwrap_or_default();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        (
            "arn_without_revision",
            s(arn.rsplit_once(':').map_or(arn, |(a, _)| a)),
        ),
        ("revision", Value::from(i64::from(t.revision()))),
    ]
}

type Json = serde_json::Value;

fn strs(v: Option<&Json>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

fn int(v: Option<&Json>) -> Option<i32> {
    v.and_then(|x| {
        x.as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    })
    .map(|n| n as i32)
}

fn text(v: Option<&Json>) -> Option<String> {
    v.and_then(|x| x.as_str().map(str::to_string))
}

fn flag(v: Option<&Json>) -> Option<bool> {
    v.and_then(|x| x.as_bool().or_else(|| x.as_str().map(|s| s == "true")))
}

/// One container definition of the JSON.
fn container(i: usize, c: &Json) -> Result<ContainerDefinition, String> {
    let Some(m) = c.as_object() else {
        return Err(format!("container_definitions[{i}] is not an object"));
    };
    if let Some(k) = m.keys().find(|k| !CONTAINER_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "container_definitions[{i}]: kiln does not pass on {k:?} yet; the keys it knows are {}",
            CONTAINER_KEYS.join(", ")
        ));
    }
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    let mut b = ContainerDefinition::builder()
        .set_name(text(get("name")))
        .set_image(text(get("image")))
        .set_cpu(int(get("cpu")))
        .set_memory(int(get("memory")))
        .set_memory_reservation(int(get("memoryReservation")))
        .set_essential(flag(get("essential")))
        .set_command(strs(get("command")))
        .set_entry_point(strs(get("entryPoint")))
        .set_working_directory(text(get("workingDirectory")))
        .set_user(text(get("user")))
        .set_links(strs(get("links")))
        .set_readonly_root_filesystem(flag(get("readonlyRootFilesystem")))
        .set_privileged(flag(get("privileged")))
        .set_stop_timeout(int(get("stopTimeout")))
        .set_start_timeout(int(get("startTimeout")))
        .set_hostname(text(get("hostname")));
    for p in get("portMappings")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let p = |k: &str| p.get(k).filter(|v| !v.is_null());
        b = b.port_mappings(
            PortMapping::builder()
                .set_container_port(int(p("containerPort")))
                .set_host_port(int(p("hostPort")))
                .set_protocol(text(p("protocol")).map(|s| TransportProtocol::from(s.as_str())))
                .set_name(text(p("name")))
                .build(),
        );
    }
    for e in get("environment")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        b = b.environment(
            KeyValuePair::builder()
                .set_name(text(e.get("name")))
                .set_value(text(e.get("value")))
                .build(),
        );
    }
    for sec in get("secrets")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        b = b.secrets(
            Secret::builder()
                .set_name(text(sec.get("name")))
                .set_value_from(text(sec.get("valueFrom")))
                .build()
                .map_err(|e| format!("container_definitions[{i}].secrets: {e}"))?,
        );
    }
    for mp in get("mountPoints")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        b = b.mount_points(
            MountPoint::builder()
                .set_source_volume(text(mp.get("sourceVolume")))
                .set_container_path(text(mp.get("containerPath")))
                .set_read_only(flag(mp.get("readOnly")))
                .build(),
        );
    }
    for d in get("dependsOn")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        b = b.depends_on(
            ContainerDependency::builder()
                .set_container_name(text(d.get("containerName")))
                .set_condition(
                    text(d.get("condition")).map(|s| ContainerCondition::from(s.as_str())),
                )
                .build()
                .map_err(|e| format!("container_definitions[{i}].dependsOn: {e}"))?,
        );
    }
    if let Some(labels) = get("dockerLabels").and_then(Json::as_object) {
        for (k, v) in labels {
            b = b.docker_labels(k, v.as_str().unwrap_or_default());
        }
    }
    if let Some(l) = get("logConfiguration") {
        let mut lb = LogConfiguration::builder()
            .set_log_driver(text(l.get("logDriver")).map(|s| LogDriver::from(s.as_str())));
        if let Some(opts) = l.get("options").and_then(Json::as_object) {
            for (k, v) in opts {
                lb = lb.options(k, v.as_str().unwrap_or_default());
            }
        }
        b = b.log_configuration(
            lb.build()
                .map_err(|e| format!("container_definitions[{i}].logConfiguration: {e}"))?,
        );
    }
    if let Some(h) = get("healthCheck") {
        b = b.health_check(
            HealthCheck::builder()
                .set_command(strs(h.get("command")))
                .set_interval(int(h.get("interval")))
                .set_timeout(int(h.get("timeout")))
                .set_retries(int(h.get("retries")))
                .set_start_period(int(h.get("startPeriod")))
                .build()
                .map_err(|e| format!("container_definitions[{i}].healthCheck: {e}"))?,
        );
    }
    Ok(b.build())
}

/// The containers of `container_definitions` (a JSON list).
fn containers(config: &Value) -> Result<Vec<ContainerDefinition>, String> {
    let text = string(config, "container_definitions")
        .ok_or("container_definitions is required: a JSON list of container definitions")?;
    let doc: Json = serde_json::from_str(&text)
        .map_err(|e| format!("container_definitions is not valid JSON: {e}"))?;
    let Some(list) = doc.as_array() else {
        return Err("container_definitions must be a JSON list of container definitions".into());
    };
    list.iter()
        .enumerate()
        .map(|(i, c)| container(i, c))
        .collect()
}

async fn describe(c: &Clients, arn: &str) -> Result<Option<(TaskDefinition, Vec<Tag>)>, Error> {
    match c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(api("DescribeTaskDefinition"))
    {
        Ok(out) => Ok(out
            .task_definition()
            .filter(|t| t.status().is_none_or(|s| s.as_str() == "ACTIVE"))
            .map(|t| (t.clone(), out.tags().to_vec()))),
        Err(e) if e.is_not_found() || e.code() == "ClientException" => Ok(None),
        Err(e) => Err(e),
    }
}

/// `aws_ecs_task_definition`.
pub struct EcsTaskDefinition;

#[async_trait]
impl Resource for EcsTaskDefinition {
    fn name(&self) -> &'static str {
        "aws_ecs_task_definition"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("arn_without_revision", A::computed(str_t()))
            .attr("revision", A::computed(num_t()))
            .attr("family", A::required(str_t()))
            .attr(
                "container_definitions",
                A::required(str_t()).describe("a JSON list of container definitions (jsonencode)"),
            )
            .attr("cpu", A::optional(str_t()))
            .attr("memory", A::optional(str_t()))
            .attr(
                "network_mode",
                A::optional(str_t()).describe("bridge, host, awsvpc or none"),
            )
            .attr("requires_compatibilities", A::optional(strs_t()))
            .attr("execution_role_arn", A::optional(str_t()))
            .attr("task_role_arn", A::optional(str_t()))
            .attr(
                "skip_destroy",
                A::optional(bool_t())
                    .runtime()
                    .describe("keep the revision registered when kiln deletes it"),
            )
            .attr("tags", tags_attr())
    }

    /// RegisterTaskDefinition takes no client token: a retried create
    /// looks for the first try's revision by its key first.
    fn look_before_create(&self) -> bool {
        true
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if config
            .get("container_definitions")
            .is_some_and(|v| matches!(v.unmarked(), Value::String(_)))
            && let Err(e) = containers(config)
        {
            out.push(e);
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let defs = containers(config).map_err(Error::new)?;
        let out = ctx
            .c
            .ecs
            .register_task_definition()
            .family(string(config, "family").unwrap_or_default())
            .set_container_definitions(Some(defs))
            .set_cpu(string(config, "cpu"))
            .set_memory(string(config, "memory"))
            .set_network_mode(string(config, "network_mode").map(|m| NetworkMode::from(m.as_str())))
            .set_requires_compatibilities(Some(
                strings(config, "requires_compatibilities")
                    .iter()
                    .map(|c| Compatibility::from(c.as_str()))
                    .collect(),
            ))
            .set_execution_role_arn(string(config, "execution_role_arn"))
            .set_task_role_arn(string(config, "task_role_arn"))
            .set_tags(Some(ecs_tags(&ctx.tags(&tags(config)))))
            .send()
            .await
            .map_err(api("RegisterTaskDefinition"))?;
        let t = out
            .task_definition()
            .ok_or_else(|| Error::new("RegisterTaskDefinition returned no task definition"))?;
        let arn = t.task_definition_arn().unwrap_or_default().to_string();
        Ok((arn, state(config, td_computed(t))))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        // DescribeTaskDefinition takes one revision per call.
        let mut out = Vec::with_capacity(items.len());
        for (id, prior) in items {
            out.push(
                describe(c, id)
                    .await?
                    .map(|(t, _)| refreshed(prior, td_computed(&t))),
            );
        }
        Ok(observed(out))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        retag(ctx, req, &req.id).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        if boolean(state, "skip_destroy") == Some(true) {
            return Ok(());
        }
        match ctx
            .c
            .ecs
            .deregister_task_definition()
            .task_definition(id)
            .send()
            .await
            .map_err(api("DeregisterTaskDefinition"))
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.code() == "ClientException" => return Ok(()),
            Err(e) => return Err(e),
        }
        // A deregistered revision stays listed (INACTIVE) until deleted.
        let deleted = ctx
            .c
            .ecs
            .delete_task_definitions()
            .task_definitions(id)
            .send()
            .await
            .map_err(api("DeleteTaskDefinitions"));
        match deleted {
            Err(e) if !(e.is_not_found() || e.code() == "ClientException") => Err(e),
            _ => Ok(()),
        }
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let mut pages = c
            .ecs
            .list_task_definitions()
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api("ListTaskDefinitions"))?;
            for arn in page.task_definition_arns() {
                if let Some((t, tags)) = describe(c, arn).await?
                    && has_key(&tags, key)
                {
                    let mut fields = td_computed(&t);
                    fields.push(("family", opt_s(t.family())));
                    fields.push(("tags", user_tags(&tags)));
                    return Ok(Some((
                        arn.clone(),
                        adopted(&EcsTaskDefinition.schema(), fields),
                    )));
                }
            }
        }
        Ok(None)
    }
}
