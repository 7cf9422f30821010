//! Helpers shared by the AWS provider's tests: the emulator, SDK clients
//! pointed at it, the provider (in process or as a plugin) and the real
//! `kiln` binary.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use std::sync::atomic::{AtomicU32, Ordering};

use kiln_provider_aws::AwsOptions;
use kiln_provider_aws::api::Clients;
use kiln_testkit::moto::Moto;
pub use kiln_testkit::{Kiln, TempProject};

pub fn moto() -> &'static Moto {
    Moto::shared()
}

pub fn options() -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(moto().endpoint()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    }
}

/// SDK clients on the emulator, for checking what exists without kiln.
pub async fn clients() -> Clients {
    Clients::load(None, &options()).await
}

/// A name unique in this test process and across runs against one emulator.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn plugin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kiln-provider-aws"))
}

/// A script that runs the plugin with the emulator's environment (the
/// host starts plugins with its own environment, which tests must not change).
pub fn plugin_wrapper(dir: &Path) -> PathBuf {
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in moto().env() {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    script.push_str(&format!("exec '{}' \"$@\"\n", plugin_path().display()));
    let path = dir.join("kiln-provider-aws");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// The `kiln` binary: `KILN_BIN` when set, else the one built next to the
/// plugin (`cargo test --workspace` builds both), else one built now in a
/// target directory of its own (a nested cargo on the running test's build
/// directory would wait for its lock forever).
pub fn kiln_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("KILN_BIN") {
            return PathBuf::from(bin);
        }
        let debug = plugin_path().parent().unwrap().to_path_buf();
        let sibling = debug.join("kiln");
        if sibling.is_file() {
            return sibling;
        }
        let own = debug.parent().unwrap().join("kiln-e2e");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "kiln-cli", "--bin", "kiln", "--target-dir"])
            .arg(&own)
            .status()
            .expect("run cargo to build kiln");
        assert!(status.success(), "cargo build -p kiln-cli failed");
        own.join("debug").join("kiln")
    })
    .clone()
}

/// A project holding `main.hcl`, and `kiln` on the emulator in it. The
/// plugin is found next to `kiln` or on `PATH`.
pub fn project(main: &str) -> (TempProject, Kiln) {
    let p = TempProject::new();
    p.write("main.hcl", main);
    let k = kiln_in(&p);
    (p, k)
}

/// A project holding a copy of the directory `src` (files and
/// subdirectories), and `kiln` on the emulator in it.
pub fn project_dir(src: &Path) -> (TempProject, Kiln) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let p = TempProject::new();
    copy(src, p.path());
    let k = kiln_in(&p);
    (p, k)
}

/// `kiln` in `p`, on the emulator, with the plugin on `PATH`.
fn kiln_in(p: &TempProject) -> Kiln {
    let mut k = Kiln::new(kiln_bin(), p.path());
    for (key, v) in moto().env() {
        k = k.env(&key, &v);
    }
    // The plugin on PATH too, wherever kiln came from.
    let plugin_dir = plugin_path().parent().unwrap().to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![plugin_dir];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).unwrap();
    k.env("PATH", path.to_str().unwrap())
}

/// The resource addresses in an environment's state file.
pub fn state_addrs(p: &TempProject, env: &str) -> Vec<String> {
    let Some(s) = p.state_json(env) else {
        return Vec::new();
    };
    s["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["addr"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The id kiln recorded for `addr` in an environment's state file.
pub fn state_id(p: &TempProject, env: &str, addr: &str) -> String {
    let s = p.state_json(env).expect("a state file");
    s["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["addr"] == addr))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("{addr} is not in the state of {env}"))
        .to_string()
}

pub fn env_filter(env: &str) -> Filter {
    Filter::builder().name("tag:kiln:env").values(env).build()
}

/// Everything tagged `kiln:env = env`, as `type id`, every resource type
/// listed through the SDK.
pub async fn tagged(c: &Clients, env: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ec2 = &c.ec2;
    for v in ec2
        .describe_vpcs()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        out.insert(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for s in ec2
        .describe_subnets()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .subnets()
    {
        out.insert(format!("subnet {}", s.subnet_id().unwrap()));
    }
    for g in ec2
        .describe_security_groups()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        out.insert(format!("security-group {}", g.group_id().unwrap()));
    }
    for g in ec2
        .describe_internet_gateways()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        out.insert(format!(
            "internet-gateway {}",
            g.internet_gateway_id().unwrap()
        ));
    }
    for t in ec2
        .describe_route_tables()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        out.insert(format!("route-table {}", t.route_table_id().unwrap()));
    }
    for t in ec2
        .describe_launch_templates()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .launch_templates()
    {
        out.insert(format!(
            "launch-template {}",
            t.launch_template_name().unwrap()
        ));
    }
    for r in ec2
        .describe_instances()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .reservations()
    {
        for i in r.instances() {
            if i.state().and_then(|s| s.name()) != Some(&InstanceStateName::Terminated) {
                out.insert(format!("instance {}", i.instance_id().unwrap()));
            }
        }
    }
    for v in ec2
        .describe_volumes()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .volumes()
    {
        out.insert(format!("volume {}", v.volume_id().unwrap()));
    }
    for a in ec2
        .describe_addresses()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap()
        .addresses()
    {
        out.insert(format!("elastic-ip {}", a.allocation_id().unwrap()));
    }
    // The emulator ignores tag filters on NAT gateways: the tags are
    // checked here; a deleted gateway is gone.
    for n in ec2
        .describe_nat_gateways()
        .send()
        .await
        .unwrap()
        .nat_gateways()
    {
        let mine = n
            .tags()
            .iter()
            .any(|t| t.key() == Some("kiln:env") && t.value() == Some(env));
        let deleted = n.state() == Some(&aws_sdk_ec2::types::NatGatewayState::Deleted);
        if mine && !deleted {
            out.insert(format!("nat-gateway {}", n.nat_gateway_id().unwrap()));
        }
    }
    let has_env = |tags: &[aws_sdk_iam::types::Tag]| {
        tags.iter()
            .any(|t| t.key() == "kiln:env" && t.value() == env)
    };
    for r in c.iam.list_roles().send().await.unwrap().roles() {
        let name = r.role_name();
        if let Ok(tags) = c.iam.list_role_tags().role_name(name).send().await
            && has_env(tags.tags())
        {
            out.insert(format!("iam-role {name}"));
        }
    }
    for p in c
        .iam
        .list_instance_profiles()
        .send()
        .await
        .unwrap()
        .instance_profiles()
    {
        let name = p.instance_profile_name();
        if let Ok(got) = c
            .iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            && got.instance_profile().is_some_and(|p| has_env(p.tags()))
        {
            out.insert(format!("iam-instance-profile {name}"));
        }
    }
    for p in c
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap()
        .policies()
    {
        let arn = p.arn().unwrap_or_default();
        if let Ok(tags) = c.iam.list_policy_tags().policy_arn(arn).send().await
            && has_env(tags.tags())
        {
            out.insert(format!("iam-policy {arn}"));
        }
    }
    for g in c
        .asg
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
    {
        if g.tags()
            .iter()
            .any(|t| t.key() == Some("kiln:env") && t.value() == Some(env))
        {
            out.insert(format!(
                "autoscaling-group {}",
                g.auto_scaling_group_name().unwrap()
            ));
        }
    }
    let mut arns = Vec::new();
    for lb in c
        .elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
    {
        let arn = lb.load_balancer_arn().unwrap().to_string();
        // Tests run side by side on one emulator: another test's balancer
        // may be deleted between the two calls (it is not this env's).
        let listeners = match c
            .elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if gone(&e) => continue,
            Err(e) => panic!("{e:?}"),
        };
        for l in listeners.listeners() {
            arns.push(("listener", l.listener_arn().unwrap().to_string()));
        }
        arns.push(("load-balancer", arn));
    }
    for tg in c
        .elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
    {
        arns.push(("target-group", tg.target_group_arn().unwrap().to_string()));
    }
    for (kind, arn) in arns {
        let tags = match c.elb.describe_tags().resource_arns(&arn).send().await {
            Ok(out) => out,
            Err(e) if gone(&e) => continue,
            Err(e) => panic!("{e:?}"),
        };
        let mine = tags.tag_descriptions().iter().any(|d| {
            d.tags()
                .iter()
                .any(|t| t.key() == Some("kiln:env") && t.value() == Some(env))
        });
        if mine {
            out.insert(format!("{kind} {arn}"));
        }
    }
    out.extend(ecs_tagged(c, env).await);
    out
}

/// ECS objects tagged `kiln:env = env`: clusters (and their services) and
/// task definitions (active revisions).
async fn ecs_tagged(c: &Clients, env: &str) -> BTreeSet<String> {
    use aws_sdk_ecs::types::{
        ClusterField, ServiceField, TaskDefinitionField, TaskDefinitionStatus,
    };
    let mine = |tags: &[aws_sdk_ecs::types::Tag]| {
        tags.iter()
            .any(|t| t.key() == Some("kiln:env") && t.value() == Some(env))
    };
    let mut out = BTreeSet::new();
    let clusters = c.ecs.list_clusters().send().await.unwrap();
    let clusters = clusters.cluster_arns().to_vec();
    for arn in &clusters {
        let services = c
            .ecs
            .list_services()
            .cluster(arn)
            .send()
            .await
            .unwrap()
            .service_arns()
            .to_vec();
        for batch in services.chunks(10) {
            let found = c
                .ecs
                .describe_services()
                .cluster(arn)
                .set_services(Some(batch.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .unwrap();
            for sv in found.services() {
                if sv.status() != Some("INACTIVE") && mine(sv.tags()) {
                    out.insert(format!("ecs-service {}", sv.service_arn().unwrap()));
                }
            }
        }
    }
    if !clusters.is_empty() {
        let found = c
            .ecs
            .describe_clusters()
            .set_clusters(Some(clusters))
            .include(ClusterField::Tags)
            .send()
            .await
            .unwrap();
        for cl in found.clusters() {
            if cl.status() != Some("INACTIVE") && mine(cl.tags()) {
                out.insert(format!("ecs-cluster {}", cl.cluster_arn().unwrap()));
            }
        }
    }
    // Capacity providers are not listed: moto answers
    // DescribeCapacityProviders only for the names it is given (AWS lists
    // them all), so tests check them by name (see `capacity_providers_left`).
    let defs = c
        .ecs
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    for arn in defs.task_definition_arns() {
        let d = c
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .unwrap();
        if mine(d.tags()) {
            out.insert(format!("ecs-task-definition {arn}"));
        }
    }
    out
}

/// Which of the capacity providers `names` still exist.
pub async fn capacity_providers_left(c: &Clients, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let found = c
        .ecs
        .describe_capacity_providers()
        .set_capacity_providers(Some(names.to_vec()))
        .send()
        .await
        .unwrap();
    found
        .capacity_providers()
        .iter()
        .filter(|p| p.status().is_none_or(|s| s.as_str() == "ACTIVE"))
        .filter_map(|p| p.name().map(str::to_string))
        .collect()
}

/// An ELBv2 answer that the object asked about no longer exists.
pub fn gone<E: ProvideErrorMetadata>(
    e: &aws_sdk_elasticloadbalancingv2::error::SdkError<E>,
) -> bool {
    e.code().is_some_and(|c| c.ends_with("NotFound"))
}

pub fn count(set: &BTreeSet<String>, kind: &str) -> usize {
    set.iter()
        .filter(|s| s.starts_with(&format!("{kind} ")))
        .count()
}

pub fn example() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/aws-web/main.hcl"
    );
    std::fs::read_to_string(path).unwrap()
}

/// The kind [`tagged`] lists a resource type under.
pub fn kind_of(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "aws_vpc" => "vpc",
        "aws_subnet" => "subnet",
        "aws_security_group" => "security-group",
        "aws_internet_gateway" => "internet-gateway",
        "aws_route_table" => "route-table",
        "aws_launch_template" => "launch-template",
        "aws_instance" => "instance",
        "aws_ebs_volume" => "volume",
        "aws_eip" => "elastic-ip",
        "aws_nat_gateway" => "nat-gateway",
        "aws_iam_role" => "iam-role",
        "aws_iam_instance_profile" => "iam-instance-profile",
        "aws_iam_policy" => "iam-policy",
        "aws_autoscaling_group" => "autoscaling-group",
        "aws_lb" => "load-balancer",
        "aws_lb_target_group" => "target-group",
        "aws_lb_listener" => "listener",
        "aws_ecs_cluster" => "ecs-cluster",
        "aws_ecs_service" => "ecs-service",
        "aws_ecs_capacity_provider" => "ecs-capacity-provider",
        "aws_ecs_task_definition" => "ecs-task-definition",
        _ => return None,
    })
}

/// Every object the state of `env` records (current, deposed and a kept
/// previous generation), as `kind id` the way [`tagged`] lists them (a
/// launch template by its name).
pub fn recorded(p: &TempProject, env: &str) -> BTreeSet<String> {
    let Some(s) = p.state_json(env) else {
        return BTreeSet::new();
    };
    let mut objects: Vec<&serde_json::Value> = Vec::new();
    for list in [&s["resources"], &s["deposed"], &s["previous"]["resources"]] {
        objects.extend(list.as_array().into_iter().flatten());
    }
    objects
        .into_iter()
        .filter_map(|r| {
            let kind = kind_of(r["type"].as_str()?)?;
            let id = if kind == "launch-template" {
                r["attributes"]["name"].as_str()?
            } else {
                r["id"].as_str()?
            };
            Some(format!("{kind} {id}"))
        })
        .collect()
}

/// A listener's forwarding, read with the SDK: target group ARN → weight
/// (a plain `target_group_arn` counts as weight 1).
pub async fn listener_forwarding(c: &Clients, listener: &str) -> BTreeMap<String, i32> {
    let out = c
        .elb
        .describe_listeners()
        .listener_arns(listener)
        .send()
        .await
        .unwrap();
    let mut f = BTreeMap::new();
    for a in out.listeners()[0].default_actions() {
        let groups = a
            .forward_config()
            .map(|f| f.target_groups())
            .unwrap_or_default();
        if groups.is_empty()
            && let Some(arn) = a.target_group_arn()
        {
            f.insert(arn.to_string(), 1);
        }
        for g in groups {
            f.insert(
                g.target_group_arn().unwrap().to_string(),
                g.weight().unwrap_or(1),
            );
        }
    }
    f
}
