//! The web-tier corpus: six configurations in `web-configs/`, written the
//! way Terraform users write them (`*.tf` files, names set on every named
//! object, `count` and `for_each`, local modules, `dynamic` blocks, IAM
//! instance profiles from policy documents, NAT egress per zone, launch
//! configurations and templates, alarms and scaling policies, HTTPS
//! listeners with redirects, private DNS, locked-down log buckets, the
//! community VPC module's default objects), run unchanged on the emulator:
//! each is applied, re-planned empty, given a new image (replaced first,
//! under names that do not collide with the live generation), re-planned
//! empty again, and destroyed, leaving nothing kiln made.

mod common;

use std::path::PathBuf;

use common::tagged;

const NEW_IMAGE: &str = "ami-35e92e4c";

fn config_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/web-configs")
        .join(name)
}

/// Runs the life of one configuration; `replaced` are addresses the new
/// image must replace, `stateful` the ones the destroy must be allowed to
/// delete (kiln protects stateful resources unless they are named).
async fn lifecycle(name: &str, replaced: &[&str], stateful: &[&str]) {
    let c = common::clients().await;
    let env = common::unique(&name[..3]);
    // Short and unique: names of load balancers and target groups are at
    // most 32 characters.
    let project = format!(
        "w{}{}{}",
        std::process::id() % 100_000,
        env.rsplit('-').next().unwrap(),
        &name[..2]
    );
    let (p, k) = common::project_dir(&config_dir(name));
    let k = k.env("KILN_ENV", &env);
    let var = format!("project={project}");
    let image = format!("ami={NEW_IMAGE}");
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--var", &var]);
        k.run(&all)
    };

    run(&["apply", "--yes"]).success();
    let again = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.code,
        0,
        "{name}: a second plan is empty:\n{}",
        again.all()
    );
    let made = tagged(&c, &env).await;
    assert!(
        !made.is_empty(),
        "{name}: nothing tagged with the environment"
    );

    let plan = run(&["plan", "--var", &image]);
    plan.success();
    for addr in replaced {
        assert!(
            plan.stdout.contains(&format!("{addr} will be replaced")),
            "{name}: a new image replaces {addr}:\n{}",
            plan.stdout
        );
    }
    run(&["apply", "--yes", "--var", &image]).success();
    let again = run(&["plan", "--detailed-exitcode", "--var", &image]);
    assert_eq!(
        again.code,
        0,
        "{name}: empty after the replacement:\n{}",
        again.all()
    );

    let mut destroy = vec!["destroy", "--yes", "--var", &image];
    for addr in stateful {
        destroy.extend(["--allow-destroy", addr]);
    }
    run(&destroy).success();
    let left = tagged(&c, &env).await;
    assert!(left.is_empty(), "{name}: left behind: {left:?}");
    assert!(
        common::state_addrs(&p, &env).is_empty(),
        "{name}: the state is empty"
    );
}

#[tokio::test]
async fn alb_launch_template() {
    lifecycle(
        "alb-launch-template",
        &["aws_launch_template.web", "aws_autoscaling_group.web"],
        &[],
    )
    .await;
}

#[tokio::test]
async fn https_nat_iam() {
    lifecycle(
        "https-nat-iam",
        &["aws_launch_template.app", "aws_autoscaling_group.app"],
        &[],
    )
    .await;
}

#[tokio::test]
async fn launch_configuration_scaling() {
    lifecycle(
        "launch-configuration-scaling",
        &["aws_launch_configuration.web", "aws_autoscaling_group.web"],
        &[],
    )
    .await;
}

#[tokio::test]
async fn modules_network_web() {
    lifecycle(
        "modules-network-web",
        &[
            "module.web.aws_launch_template.this",
            "module.web.aws_autoscaling_group.this",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn dns_buckets_ami() {
    lifecycle(
        "dns-buckets-ami",
        &["aws_launch_template.web", "aws_autoscaling_group.web"],
        &["aws_route53_zone.internal", "aws_s3_bucket.logs"],
    )
    .await;
}

#[tokio::test]
async fn vpc_module_instances() {
    lifecycle(
        "vpc-module-instances",
        &["aws_instance.web[0]", "aws_instance.web[1]"],
        &[],
    )
    .await;
}
