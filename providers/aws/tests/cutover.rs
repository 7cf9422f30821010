//! Progressive cut-over on the emulator: examples/aws-web's listener with a
//! `cutover` block moves a new image's target group in by weighted
//! forwarding, judged by the target groups' CloudWatch metrics, which the
//! test puts into the emulator as an ALB would (docs/cutover.md).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use common::{count, example, tagged};
use kiln_provider_aws::api::Clients;

const CUTOVER: &str = r#"
  cutover {
    step {
      weight = 10
      hold   = "3s"
    }
    step {
      weight = 50
      hold   = "3s"
    }
    check {
      metric       = "error_rate"
      max          = 0.05
      min_requests = 20
      interval     = "250ms"
    }
  }
  # Traffic moves only once the new group has its capacity in service."#;

/// What the ALB would report: every 100 ms, for each target group the
/// listener forwards to, 100 requests times its weight share, and
/// `error_share` of them 5xx for groups other than `good`. Records the
/// forwarding seen. Stops when `stop` is set.
fn load(
    c: Clients,
    listener: String,
    lb: String,
    good: String,
    error_share: f64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<BTreeMap<String, i32>>> {
    tokio::spawn(async move {
        let mut seen: Vec<BTreeMap<String, i32>> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let f = common::listener_forwarding(&c, &listener).await;
            if seen.last() != Some(&f) {
                seen.push(f.clone());
            }
            let total: i32 = f.values().sum::<i32>().max(1);
            let mut data = Vec::new();
            for (arn, w) in &f {
                let requests = (100.0 * f64::from(*w) / f64::from(total)).round();
                let errors = if *arn == good {
                    0.0
                } else {
                    (requests * error_share).round()
                };
                let tg = arn.rsplit(':').next().unwrap();
                let dims = vec![
                    Dimension::builder().name("TargetGroup").value(tg).build(),
                    Dimension::builder().name("LoadBalancer").value(&lb).build(),
                ];
                for (name, value) in [
                    ("RequestCount", requests),
                    ("HTTPCode_Target_5XX_Count", errors),
                    ("TargetResponseTime", requests * 0.01),
                ] {
                    data.push(
                        MetricDatum::builder()
                            .metric_name(name)
                            .set_dimensions(Some(dims.clone()))
                            .value(value)
                            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(
                                std::time::SystemTime::now(),
                            ))
                            .build(),
                    );
                }
            }
            if !data.is_empty() {
                c.cloudwatch
                    .put_metric_data()
                    .namespace("AWS/ApplicationELB")
                    .set_metric_data(Some(data))
                    .send()
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weighted_listener_shifts_by_steps_and_a_failing_release_is_stopped_at_the_first() {
    let c = common::clients().await;
    let env = common::unique("cut");
    let main = example();
    let anchor = "  # Traffic moves only once the new group has its capacity in service.";
    assert!(main.contains(anchor));
    let (p, k) = common::project(&main.replacen(anchor, CUTOVER, 1));
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--env", env.as_str()]);
        k.run(&a)
    };

    let first = run(&["apply", "--yes"]);
    first.success();
    assert!(
        !first.stderr.contains("cutover step"),
        "nothing to shift from"
    );
    let before = tagged(&c, &env).await;
    let listener = before
        .iter()
        .find_map(|s| s.strip_prefix("listener "))
        .unwrap()
        .to_string();
    let lb_arn = before
        .iter()
        .find_map(|s| s.strip_prefix("load-balancer "))
        .unwrap()
        .to_string();
    let lb = lb_arn.split_once(":loadbalancer/").unwrap().1.to_string();
    let v1 = common::listener_forwarding(&c, &listener).await;
    let v1_group = v1.keys().next().unwrap().clone();
    assert_eq!(v1.len(), 1);

    // A good release: every step's weights on the listener, then all on the
    // new group; the old one deleted.
    let plan = run(&["plan", "--var", "ami=ami-35e92e4c"]);
    plan.success();
    assert!(
        plan.stdout.contains("step 1: 10% for 3s"),
        "{}",
        plan.stdout
    );
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = load(
        c.clone(),
        listener.clone(),
        lb.clone(),
        String::new(),
        0.0,
        stop.clone(),
    );
    let good =
        tokio::task::block_in_place(|| run(&["apply", "--yes", "--var", "ami=ami-35e92e4c"]));
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    good.success();
    assert!(
        good.stderr.contains("cutover step 3 of 3"),
        "{}",
        good.stderr
    );
    assert!(
        good.stderr.contains("held: error_rate 0.0000 over"),
        "each hold measured the new group's CloudWatch metrics:\n{}",
        good.stderr
    );
    let new_share = |f: &BTreeMap<String, i32>, old: &str| {
        let total: i32 = f.values().sum();
        f.iter()
            .filter(|(a, _)| *a != old)
            .map(|(_, w)| *w)
            .sum::<i32>() as f64
            / total as f64
    };
    let shares: Vec<f64> = seen.iter().map(|f| new_share(f, &v1_group)).collect();
    for want in [0.10, 0.50] {
        assert!(
            shares.iter().any(|s| (s - want).abs() < 0.01),
            "the listener gave the new group {want}: {shares:?} ({seen:#?})"
        );
    }
    let v2 = common::listener_forwarding(&c, &listener).await;
    assert_eq!(v2.len(), 1);
    let v2_group = v2.keys().next().unwrap().clone();
    assert_ne!(v2_group, v1_group);
    let after = tagged(&c, &env).await;
    assert_eq!(count(&after, "target-group"), 1, "{after:#?}");

    // A release whose target group answers 20% 5xx: stopped at step 1, the
    // listener back on the current group in one update, the new group gone.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = load(
        c.clone(),
        listener.clone(),
        lb.clone(),
        v2_group.clone(),
        0.2,
        stop.clone(),
    );
    let bad = tokio::task::block_in_place(|| run(&["apply", "--yes", "--var", "ami=ami-1e749f67"]));
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    assert_ne!(bad.code, 0, "the apply fails:\n{}", bad.stderr);
    assert!(
        bad.stderr.contains("cutover step 1 of 3")
            && bad.stderr.contains("check error_rate failed"),
        "{}",
        bad.stderr
    );
    assert!(
        seen.iter().all(|f| new_share(f, &v2_group) <= 0.1 + 0.01),
        "never past the first step: {seen:#?}"
    );
    assert_eq!(
        common::listener_forwarding(&c, &listener).await,
        v2,
        "traffic is back"
    );
    let end = tagged(&c, &env).await;
    assert_eq!(count(&end, "target-group"), 1, "{end:#?}");
    assert!(
        end.contains(&format!("target-group {v2_group}")),
        "{end:#?}"
    );
    let state = p.read(&format!(".kiln/{env}/state.json"));
    assert!(state.contains(&v2_group));

    run(&["destroy", "--yes"]).success();
}
