//! `examples/aws-platform` end to end on the emulator: the whole platform
//! (a VPC across two zones with a NAT gateway per zone, two ECS clusters on
//! Auto Scaling groups behind load balancers, IAM for the hosts, private
//! DNS) stood up, re-planned empty, given a new container image (a new task
//! definition, target group and service, health-gated, then the listener
//! moves and the old generation goes), scaled in place, and destroyed
//! leaving nothing kiln made.
//!
//! moto runs no containers: "healthy" here is the running count moto is
//! told to report (`MOTO_ECS_SERVICE_RUNNING`, see the test kit), so the
//! test checks that kiln waits for it and moves traffic after it, not that
//! tasks serve.
//!
//! kiln reaches the emulator through the test kit's proxy, which counts
//! every call by operation: the test prints, per phase, the wall time and
//! the API calls (run with `--nocapture`; `docs/performance.md` has them),
//! next to the critical path of the stand-up (the longest chain of creates
//! that wait on each other), and checks that a refresh of the whole
//! platform reads in batches.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{count, tagged};
use kiln_provider_aws::api::Clients;
use kiln_testkit::faults::{FaultPlan, FaultProxy};

/// One phase's figures: wall time, API calls, of which reads.
struct Phase {
    name: &'static str,
    wall: std::time::Duration,
    calls: u64,
    reads: u64,
}

fn phase(
    name: &'static str,
    proxy: &FaultProxy,
    run: impl FnOnce(),
) -> (Phase, std::collections::BTreeMap<String, u64>) {
    proxy.stats.take_calls();
    let started = std::time::Instant::now();
    run();
    let wall = started.elapsed();
    let calls = proxy.stats.take_calls();
    let read = |op: &str| {
        let op = op.split(':').nth(1).unwrap_or("");
        ["Describe", "List", "Get", "GET "]
            .iter()
            .any(|p| op.starts_with(p))
    };
    let phase = Phase {
        name,
        wall,
        calls: calls.values().sum(),
        reads: calls.iter().filter(|(k, _)| read(k)).map(|(_, n)| n).sum(),
    };
    (phase, calls)
}

/// The longest chain of creates that wait on each other in a plan
/// (`kiln plan --json`): the stand-up's critical path, in creates.
fn critical_path(plan_json: &str) -> usize {
    let doc: serde_json::Value = serde_json::from_str(plan_json).unwrap();
    let actions = doc["actions"].as_array().unwrap();
    let deps: std::collections::BTreeMap<String, Vec<String>> = actions
        .iter()
        .map(|a| {
            let d = a["depends_on"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (a["address"].as_str().unwrap_or_default().to_string(), d)
        })
        .collect();
    fn depth(
        a: &str,
        deps: &std::collections::BTreeMap<String, Vec<String>>,
        memo: &mut std::collections::BTreeMap<String, usize>,
    ) -> usize {
        if let Some(d) = memo.get(a) {
            return *d;
        }
        let d = 1 + deps
            .get(a)
            .into_iter()
            .flatten()
            .filter(|x| deps.contains_key(*x))
            .map(|x| depth(x, deps, memo))
            .max()
            .unwrap_or(0);
        memo.insert(a.to_string(), d);
        d
    }
    let mut memo = std::collections::BTreeMap::new();
    deps.keys()
        .map(|a| depth(a, &deps, &mut memo))
        .max()
        .unwrap_or(0)
}

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/aws-platform")
}

async fn listener_targets(c: &Clients, listener: &str) -> BTreeSet<String> {
    common::listener_forwarding(c, listener)
        .await
        .into_keys()
        .collect()
}

#[tokio::test]
#[allow(clippy::print_stderr, reason = "the figures of the platform run")]
async fn the_platform_stands_up_changes_image_scales_and_goes() {
    let c = common::clients().await;
    let env = common::unique("plat");
    let name = format!(
        "p{}",
        env.replace('-', "")
            .chars()
            .rev()
            .take(7)
            .collect::<String>()
    );
    let (p, k) = common::project_dir(&example_dir());
    // Through the counting proxy (no faults).
    let proxy = FaultProxy::start(common::moto().port, FaultPlan::none(1)).unwrap();
    let k = k
        .env("KILN_ENV", &env)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let mut figures = Vec::new();
    let var = format!("name={name}");
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--var", &var]);
        k.run(&all)
    };

    // 1. Stood up; a second plan is empty.
    let fresh = run(&["plan", "--json"]);
    fresh.success();
    let chain = critical_path(&fresh.stdout);
    let creates =
        serde_json::from_str::<serde_json::Value>(&fresh.stdout).unwrap()["summary"]["create"]
            .as_u64()
            .unwrap();
    let (f, _) = phase("stand-up", &proxy, || {
        run(&["apply", "--yes"]).success();
    });
    figures.push(f);
    let (f, refresh_calls) = phase("refresh (plan, no changes)", &proxy, || {
        let again = run(&["plan", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{}", again.all());
    });
    // Reads are batched: far fewer than one per resource.
    let resources = common::state_addrs(&p, &env).len() as u64;
    assert!(
        f.reads < resources,
        "a refresh of {resources} resources made {} reads: {refresh_calls:?}",
        f.reads
    );
    figures.push(f);
    let made = tagged(&c, &env).await;
    for (kind, n) in [
        ("vpc", 1),
        ("subnet", 6),
        ("nat-gateway", 2),
        ("elastic-ip", 2),
        ("load-balancer", 2),
        ("autoscaling-group", 2),
        ("ecs-cluster", 2),
        ("ecs-service", 2),
        ("ecs-task-definition", 2),
    ] {
        assert_eq!(count(&made, kind), n, "{kind}: {made:?}");
    }
    let listener = common::state_id(&p, &env, "module.backend.aws_lb_listener.http");
    let first_tg = common::state_id(&p, &env, "module.backend.aws_lb_target_group.this");
    let first_service = common::state_id(&p, &env, "module.backend.aws_ecs_service.this");
    assert_eq!(
        listener_targets(&c, &listener).await,
        BTreeSet::from([first_tg.clone()])
    );

    // 2. A new image: a new task definition, target group and service;
    // the listener moves in place; nothing of the frontend changes.
    let image = "backend_image=public.ecr.aws/docker/library/httpd:2.4.62";
    let plan = run(&["plan", "--var", image]);
    plan.success();
    for addr in [
        "module.backend.aws_ecs_task_definition.this will be replaced",
        "module.backend.aws_lb_target_group.this will be replaced",
        "module.backend.aws_ecs_service.this will be replaced",
        "module.backend.aws_lb_listener.http will be updated in place",
    ] {
        assert!(plan.stdout.contains(addr), "{addr}:\n{}", plan.stdout);
    }
    assert!(
        !plan.stdout.contains("module.frontend."),
        "the frontend is untouched:\n{}",
        plan.stdout
    );
    let (f, _) = phase("image change", &proxy, || {
        run(&["apply", "--yes", "--var", image]).success();
    });
    figures.push(f);
    let new_tg = common::state_id(&p, &env, "module.backend.aws_lb_target_group.this");
    let new_service = common::state_id(&p, &env, "module.backend.aws_ecs_service.this");
    assert_ne!(new_tg, first_tg);
    assert_ne!(new_service, first_service);
    assert_eq!(
        listener_targets(&c, &listener).await,
        BTreeSet::from([new_tg])
    );
    let now = tagged(&c, &env).await;
    assert!(
        !now.contains(&format!("ecs-service {first_service}")),
        "the old service generation is gone: {now:?}"
    );
    assert_eq!(count(&now, "ecs-service"), 2, "{now:?}");
    let again = run(&["plan", "--detailed-exitcode", "--var", image]);
    assert_eq!(again.code, 0, "{}", again.all());

    // Run-time configuration: the desired count changes in place.
    let plan = run(&["plan", "--var", image, "--var", "backend_desired=3"]);
    assert!(
        plan.stdout
            .contains("module.backend.aws_ecs_service.this will be updated in place")
            && !plan.stdout.contains("replaced"),
        "{}",
        plan.stdout
    );
    run(&[
        "apply",
        "--yes",
        "--var",
        image,
        "--var",
        "backend_desired=3",
    ])
    .success();
    let svc = c
        .ecs
        .describe_services()
        .cluster(common::state_id(
            &p,
            &env,
            "module.backend.aws_ecs_cluster.this",
        ))
        .services(&new_service)
        .send()
        .await
        .unwrap();
    assert_eq!(svc.services()[0].desired_count(), 3);

    // 3. A rebuild: a whole new generation of everything stateless (new
    // NAT gateways, new clusters) beside the old one; the private DNS
    // records (the traffic switches) move to it; the old generation is
    // kept, and `kiln rollback` moves the records back.
    let alias_of = |zone: String, record: String| {
        let c = c.clone();
        async move {
            let out = c
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .unwrap();
            out.resource_record_sets()
                .iter()
                .find(|r| r.name().trim_end_matches('.') == record)
                .and_then(|r| r.alias_target())
                .map(|a| a.dns_name().trim_end_matches('.').to_lowercase())
                .unwrap_or_default()
        }
    };
    let zone = common::state_id(&p, &env, "aws_route53_zone.internal");
    let api = format!("api.{name}.internal");
    let before_nats = count(&tagged(&c, &env).await, "nat-gateway");
    let old_api_target = alias_of(zone.clone(), api.clone()).await;
    let old_cluster = common::state_id(&p, &env, "module.backend.aws_ecs_cluster.this");
    let (f, _) = phase("rebuild (previous kept)", &proxy, || {
        run(&[
            "apply",
            "--yes",
            "--rebuild",
            "--keep-previous",
            "--var",
            image,
            "--var",
            "backend_desired=3",
        ])
        .success();
    });
    figures.push(f);
    let new_cluster = common::state_id(&p, &env, "module.backend.aws_ecs_cluster.this");
    assert_ne!(new_cluster, old_cluster, "a new cluster");
    let both = tagged(&c, &env).await;
    assert_eq!(count(&both, "nat-gateway"), 2 * before_nats, "{both:?}");
    assert_eq!(count(&both, "ecs-cluster"), 4, "{both:?}");
    let new_api_target = alias_of(zone.clone(), api.clone()).await;
    assert_ne!(new_api_target, old_api_target, "the record moved");
    k.run(&["rollback", "--yes"]).success();
    assert_eq!(
        alias_of(zone.clone(), api.clone()).await,
        old_api_target,
        "rollback moved the record back"
    );

    // 4. A copy for a pull request: isolated (its own names), expiring,
    // removed by `kiln env gc` once expired.
    let pr = format!("{env}-pr7");
    let kp = k.clone().env("KILN_ENV", &pr);
    kp.run(&["apply", "--yes", "--ttl", "1s", "--var", &var])
        .success();
    let copy = tagged(&c, &pr).await;
    assert_eq!(count(&copy, "ecs-cluster"), 2, "{copy:?}");
    let mine = tagged(&c, &env).await;
    assert!(copy.is_disjoint(&mine));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let gc = kp.run(&["env", "gc", "--allow-destroy", "aws_route53_zone.internal"]);
    gc.success();
    assert!(tagged(&c, &pr).await.is_empty(), "{}", gc.all());

    // 5. Destroyed: nothing kiln made is left.
    let providers: Vec<String> = ["frontend", "backend"]
        .iter()
        .map(|m| {
            let arn = common::state_id(
                &p,
                &env,
                &format!("module.{m}.aws_ecs_capacity_provider.hosts"),
            );
            arn.rsplit('/').next().unwrap().to_string()
        })
        .collect();
    let (f, _) = phase("destroy", &proxy, || {
        run(&[
            "destroy",
            "--yes",
            "--var",
            image,
            "--allow-destroy",
            "aws_route53_zone.internal",
        ])
        .success();
    });
    figures.push(f);
    eprintln!(
        "platform on the emulator: {creates} creates at stand-up, critical path {chain} creates\n| phase | wall | API calls | reads |\n|---|---|---|---|"
    );
    for f in &figures {
        eprintln!(
            "| {} | {:.2} s | {} | {} |",
            f.name,
            f.wall.as_secs_f64(),
            f.calls,
            f.reads
        );
    }
    eprintln!("refresh calls by operation: {refresh_calls:?}");
    let left = tagged(&c, &env).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        common::capacity_providers_left(&c, &providers)
            .await
            .is_empty()
    );
    assert!(common::state_addrs(&p, &env).is_empty());
}
