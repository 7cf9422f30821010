//! The AWS provider against the provider conformance suite, on the
//! emulator: every type the provider serves, in process and again through
//! the plugin protocol (the `kiln-provider-aws` executable).

mod common;

use std::time::Duration;

use kiln_model::Value;
use kiln_provider::conformance::{ConformanceCase, ConformanceOptions, assert_conforms};
use kiln_provider::protocol::PluginProvider;
use kiln_provider::{CallContext, CreateRequest, Provider};
use kiln_provider_aws::AwsProvider;

/// An RSA public key (OpenSSH format) for key pairs; its private half was
/// thrown away.
const PUBLIC_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC6zG70fCIX0+JPBS+IRrUBTv1avMbHdN8DAEKkdg0/IQPLRfe1wYKOiPQ2jjdQcgQQCu4KVjSwEeqc1TwjHkvltPHDqmcXo2IL6hvI1sdkv3oQRK5EUa7KeGkjcAia/AQDUonSJer+nE1k6AmMIfDofC1f5GOqk9J/vRgNknA9oM676LYiV2Wra3fN9TEozZBv6PBntX2BFonWw2GHMR1InWq/zDnTOYD5XEIcn2vBXBsMHoIyzBQau3MOzyxA1rvKlRuM7XnQKWtgb4T0ILr9bDxNA/q7KFqAGI+pmphAtRTLxZEmnCdCQzVoo6PE8OikoGTJ6Y0gY5AHMMq+S8B/ kiln-test";

/// A full configuration of `type_name`: every attribute of the schema, the
/// given ones set, the others null.
fn full(type_name: &str, set: &[(&str, Value)]) -> Value {
    let schema = AwsProvider::new().schema();
    let rs = &schema.resources[type_name];
    let mut m: std::collections::BTreeMap<String, Value> = rs
        .attributes
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    for (k, v) in set {
        assert!(m.contains_key(*k), "{type_name} has no attribute {k}");
        m.insert(k.to_string(), v.clone());
    }
    Value::Map(m.into())
}

fn tags(team: &str) -> Value {
    Value::map([("team", Value::from(team))])
}

fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn options(env: &str) -> ConformanceOptions {
    // A lineage of its own: the suite's idempotency keys derive from it, and
    // the emulator is shared by every test of this process.
    let mut o = ConformanceOptions::default();
    o.context.env = env.to_string();
    o.context.lineage = format!("lineage-{env}");
    o
}

/// Creates a prerequisite with the provider itself; its id.
async fn prerequisite(
    p: &dyn Provider,
    env: &str,
    type_name: &str,
    set: &[(&str, Value)],
) -> String {
    made(p, env, type_name, full(type_name, set)).await
}

/// Creates an object from a full configuration; its id.
async fn made(p: &dyn Provider, env: &str, type_name: &str, config: Value) -> String {
    let resp = p
        .create(CreateRequest {
            type_name: type_name.into(),
            config,
            idempotency_key: common::unique("kiln-prereq"),
            context: CallContext {
                env: env.into(),
                lineage: "conformance".into(),
                generation: 1,
                address: format!("{type_name}.prereq"),
                ..CallContext::default()
            },
        })
        .await;
    assert!(!resp.diagnostics.has_errors(), "{}", resp.diagnostics);
    resp.id.unwrap()
}

#[tokio::test]
async fn aws_conforms_in_process() {
    let p = AwsProvider::with_options(common::options());
    conforms(&p, &common::unique("conf")).await;
}

/// Every type the provider serves, through `p`: created, read, updated in
/// place where it can be, replaced, found by key and deleted.
async fn conforms(p: &dyn Provider, env: &str) {
    let env = env.to_string();
    let vpc = prerequisite(
        p,
        &env,
        "aws_vpc",
        &[("cidr_block", Value::from("10.9.0.0/16"))],
    )
    .await;
    let subnet = prerequisite(
        p,
        &env,
        "aws_subnet",
        &[
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.9.9.0/24")),
        ],
    )
    .await;
    let subnet_b = prerequisite(
        p,
        &env,
        "aws_subnet",
        &[
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.9.8.0/24")),
            ("availability_zone", Value::from("us-east-1b")),
        ],
    )
    .await;
    let tg = |port: i64| {
        [
            ("port", Value::from(port)),
            ("protocol", Value::from("HTTP")),
            ("vpc_id", Value::from(vpc.as_str())),
            ("name_prefix", Value::from(format!("tg{port}"))),
        ]
    };
    let blue = prerequisite(p, &env, "aws_lb_target_group", &tg(81)).await;
    let green = prerequisite(p, &env, "aws_lb_target_group", &tg(82)).await;
    let lb = prerequisite(
        p,
        &env,
        "aws_lb",
        &[("subnets", strs(&[&subnet, &subnet_b]))],
    )
    .await;
    let listener = |blue_weight: i64| {
        let group =
            |arn: &str, w: i64| Value::map([("arn", Value::from(arn)), ("weight", Value::from(w))]);
        full(
            "aws_lb_listener",
            &[
                ("load_balancer_arn", Value::from(lb.as_str())),
                ("port", Value::from(80i64)),
                ("protocol", Value::from("HTTP")),
                (
                    "default_action",
                    Value::List(
                        vec![Value::map([
                            ("type", Value::from("forward")),
                            ("target_group_arn", Value::Null),
                            (
                                "forward",
                                Value::map([(
                                    "target_group",
                                    Value::List(
                                        vec![
                                            group(&blue, blue_weight),
                                            group(&green, 100 - blue_weight),
                                        ]
                                        .into(),
                                    ),
                                )]),
                            ),
                        ])]
                        .into(),
                    ),
                ),
            ],
        )
    };
    let template = prerequisite(
        p,
        &env,
        "aws_launch_template",
        &[
            ("image_id", Value::from("ami-1e749f67")),
            ("instance_type", Value::from("t3.micro")),
        ],
    )
    .await;
    let rule = Value::map([
        ("from_port", Value::from(80i64)),
        ("to_port", Value::from(80i64)),
        ("protocol", Value::from("tcp")),
        ("cidr_blocks", strs(&["0.0.0.0/0"])),
        ("ipv6_cidr_blocks", Value::Null),
        ("prefix_list_ids", Value::Null),
        ("security_groups", Value::Null),
        ("self", Value::Null),
        ("description", Value::Null),
    ]);
    let asg = |desired: i64| {
        full(
            "aws_autoscaling_group",
            &[
                ("min_size", Value::from(1i64)),
                ("max_size", Value::from(3i64)),
                ("desired_capacity", Value::from(desired)),
                ("vpc_zone_identifier", strs(&[&subnet])),
                (
                    "launch_template",
                    Value::map([
                        ("id", Value::from(template.as_str())),
                        ("name", Value::Null),
                        ("version", Value::from("$Latest")),
                    ]),
                ),
                ("wait_for_capacity_timeout", Value::from("2m")),
            ],
        )
    };
    let bucket = |force: bool| {
        full(
            "aws_s3_bucket",
            &[
                ("bucket", Value::from(env.clone())),
                ("force_destroy", Value::Bool(force)),
            ],
        )
    };
    let igw = prerequisite(
        p,
        &env,
        "aws_internet_gateway",
        &[("vpc_id", Value::from(vpc.as_str()))],
    )
    .await;
    let nat_eip = prerequisite(p, &env, "aws_eip", &[("domain", Value::from("vpc"))]).await;
    let nat = prerequisite(
        p,
        &env,
        "aws_nat_gateway",
        &[
            ("subnet_id", Value::from(subnet.as_str())),
            ("allocation_id", Value::from(nat_eip.as_str())),
        ],
    )
    .await;
    let case_eip = prerequisite(p, &env, "aws_eip", &[("domain", Value::from("vpc"))]).await;
    let host = prerequisite(
        p,
        &env,
        "aws_instance",
        &[
            ("ami", Value::from("ami-1e749f67")),
            ("instance_type", Value::from("t3.micro")),
            ("subnet_id", Value::from(subnet.as_str())),
        ],
    )
    .await;
    let table = prerequisite(
        p,
        &env,
        "aws_route_table",
        &[("vpc_id", Value::from(vpc.as_str()))],
    )
    .await;
    let assoc_subnet = prerequisite(
        p,
        &env,
        "aws_subnet",
        &[
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.9.7.0/24")),
        ],
    )
    .await;
    let route_block = |to: (&str, &str)| {
        let mut m = std::collections::BTreeMap::new();
        for t in [
            "gateway_id",
            "nat_gateway_id",
            "network_interface_id",
            "transit_gateway_id",
            "vpc_peering_connection_id",
            "egress_only_gateway_id",
            "vpc_endpoint_id",
        ] {
            m.insert(t.to_string(), Value::Null);
        }
        m.insert("cidr_block".to_string(), Value::from("0.0.0.0/0"));
        m.insert(to.0.to_string(), Value::from(to.1));
        Value::List(vec![Value::Map(m.into())].into())
    };
    let route_table = |to: (&str, &str)| {
        full(
            "aws_route_table",
            &[
                ("vpc_id", Value::from(vpc.as_str())),
                ("route", route_block(to)),
            ],
        )
    };
    let route = |to: (&str, &str)| {
        full(
            "aws_route",
            &[
                ("route_table_id", Value::from(table.as_str())),
                ("destination_cidr_block", Value::from("10.50.0.0/16")),
                (to.0, Value::from(to.1)),
            ],
        )
    };
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}]}"#;
    let permissions = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let role = prerequisite(
        p,
        &env,
        "aws_iam_role",
        &[("assume_role_policy", Value::from(trust))],
    )
    .await;
    let managed = prerequisite(
        p,
        &env,
        "aws_iam_policy",
        &[("policy", Value::from(permissions))],
    )
    .await;
    let iam = |type_name: &str, set: &[(&str, Value)], team: &str| {
        let mut set = set.to_vec();
        set.push(("tags", tags(team)));
        full(type_name, &set)
    };
    let lc = prerequisite(
        p,
        &env,
        "aws_launch_configuration",
        &[
            ("image_id", Value::from("ami-1e749f67")),
            ("instance_type", Value::from("t3.micro")),
        ],
    )
    .await;
    let attach_group = prerequisite(
        p,
        &env,
        "aws_autoscaling_group",
        &[
            ("min_size", Value::from(0i64)),
            ("max_size", Value::from(1i64)),
            ("desired_capacity", Value::from(0i64)),
            ("vpc_zone_identifier", strs(&[&subnet])),
            ("launch_configuration", Value::from(lc.as_str())),
        ],
    )
    .await;
    let rules_group = prerequisite(
        p,
        &env,
        "aws_security_group",
        &[("vpc_id", Value::from(vpc.as_str()))],
    )
    .await;
    let sg_rule = |cidrs: &[&str], description: &str| {
        full(
            "aws_security_group_rule",
            &[
                ("type", Value::from("ingress")),
                ("security_group_id", Value::from(rules_group.as_str())),
                ("from_port", Value::from(443i64)),
                ("to_port", Value::from(443i64)),
                ("protocol", Value::from("tcp")),
                ("cidr_blocks", strs(cidrs)),
                ("description", Value::from(description)),
            ],
        )
    };
    let vpc_rule = |ty: &str, port: i64, description: &str, team: &str| {
        full(
            ty,
            &[
                ("security_group_id", Value::from(rules_group.as_str())),
                ("ip_protocol", Value::from("tcp")),
                ("from_port", Value::from(port)),
                ("to_port", Value::from(port)),
                ("cidr_ipv4", Value::from("172.16.0.0/12")),
                ("description", Value::from(description)),
                ("tags", tags(team)),
            ],
        )
    };
    let alarm = |threshold: i64, team: &str| {
        full(
            "aws_cloudwatch_metric_alarm",
            &[
                ("alarm_name", Value::from(format!("{env}-cpu-high"))),
                (
                    "comparison_operator",
                    Value::from("GreaterThanOrEqualToThreshold"),
                ),
                ("evaluation_periods", Value::from(2i64)),
                ("metric_name", Value::from("CPUUtilization")),
                ("namespace", Value::from("AWS/EC2")),
                ("period", Value::from(120i64)),
                ("statistic", Value::from("Average")),
                ("threshold", Value::from(threshold)),
                (
                    "dimensions",
                    Value::map([("AutoScalingGroupName", Value::from(attach_group.as_str()))]),
                ),
                ("tags", tags(team)),
            ],
        )
    };
    let rules_listener = made(p, &env, "aws_lb_listener", {
        let mut l = listener(100);
        if let Value::Map(m) = &mut l {
            m.insert("port", Value::from(8080i64));
        }
        l
    })
    .await;
    let listener_rule = |priority: i64, forward: bool| {
        let action = if forward {
            Value::map([
                ("type", Value::from("forward")),
                ("target_group_arn", Value::from(blue.as_str())),
            ])
        } else {
            Value::map([
                ("type", Value::from("fixed-response")),
                (
                    "fixed_response",
                    Value::map([
                        ("content_type", Value::from("text/plain")),
                        ("message_body", Value::from("maintenance")),
                        ("status_code", Value::from("503")),
                    ]),
                ),
            ])
        };
        full(
            "aws_lb_listener_rule",
            &[
                ("listener_arn", Value::from(rules_listener.as_str())),
                ("priority", Value::from(priority)),
                ("action", Value::List(vec![action].into())),
                (
                    "condition",
                    Value::List(
                        vec![Value::map([(
                            "path_pattern",
                            Value::map([("values", strs(&["/api/*"]))]),
                        )])]
                        .into(),
                    ),
                ),
            ],
        )
    };
    let zone = prerequisite(
        p,
        &env,
        "aws_route53_zone",
        &[("name", Value::from(format!("{env}.example.com")))],
    )
    .await;
    let record = |ttl: i64, ip: &str| {
        full(
            "aws_route53_record",
            &[
                ("zone_id", Value::from(zone.as_str())),
                ("name", Value::from("www")),
                ("type", Value::from("A")),
                ("ttl", Value::from(ttl)),
                ("records", strs(&[ip])),
            ],
        )
    };
    let private_zone = |team: &str| {
        full(
            "aws_route53_zone",
            &[
                ("name", Value::from(format!("internal.{env}"))),
                (
                    "vpc",
                    Value::List(
                        vec![Value::map([
                            ("vpc_id", Value::from(vpc.as_str())),
                            ("vpc_region", Value::Null),
                        ])]
                        .into(),
                    ),
                ),
                ("tags", tags(team)),
            ],
        )
    };
    let data_bucket = format!("{env}-data");
    prerequisite(
        p,
        &env,
        "aws_s3_bucket",
        &[
            ("bucket", Value::from(data_bucket.as_str())),
            ("force_destroy", Value::Bool(true)),
        ],
    )
    .await;
    let on_bucket = |ty: &str, set: &[(&str, Value)]| {
        let mut set = set.to_vec();
        set.push(("bucket", Value::from(data_bucket.as_str())));
        full(ty, &set)
    };
    let versioning = |mfa_delete: &str| {
        on_bucket(
            "aws_s3_bucket_versioning",
            &[(
                "versioning_configuration",
                Value::List(
                    vec![Value::map([
                        ("status", Value::from("Enabled")),
                        ("mfa_delete", Value::from(mfa_delete)),
                    ])]
                    .into(),
                ),
            )],
        )
    };
    let encryption = |algorithm: &str| {
        on_bucket(
            "aws_s3_bucket_server_side_encryption_configuration",
            &[(
                "rule",
                Value::List(
                    vec![Value::map([
                        (
                            "apply_server_side_encryption_by_default",
                            Value::map([
                                ("sse_algorithm", Value::from(algorithm)),
                                ("kms_master_key_id", Value::Null),
                            ]),
                        ),
                        ("bucket_key_enabled", Value::Null),
                    ])]
                    .into(),
                ),
            )],
        )
    };
    let block = |on: bool| {
        on_bucket(
            "aws_s3_bucket_public_access_block",
            &[
                ("block_public_acls", Value::Bool(true)),
                ("block_public_policy", Value::Bool(on)),
                ("ignore_public_acls", Value::Bool(true)),
                ("restrict_public_buckets", Value::Bool(on)),
            ],
        )
    };
    let bucket_policy = |action: &str| {
        on_bucket(
            "aws_s3_bucket_policy",
            &[(
                "policy",
                Value::from(format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"{action}","Resource":"arn:aws:s3:::{data_bucket}/*"}}]}}"#
                )),
            )],
        )
    };
    let acl_subnet = prerequisite(
        p,
        &env,
        "aws_subnet",
        &[
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.9.6.0/24")),
        ],
    )
    .await;
    let entry = |cidr: &str| {
        Value::List(
            vec![Value::map([
                ("rule_no", Value::from(100i64)),
                ("action", Value::from("allow")),
                ("protocol", Value::from("tcp")),
                ("cidr_block", Value::from(cidr)),
                ("ipv6_cidr_block", Value::Null),
                ("from_port", Value::from(443i64)),
                ("to_port", Value::from(443i64)),
                ("icmp_type", Value::Null),
                ("icmp_code", Value::Null),
            ])]
            .into(),
        )
    };
    let acl = |subnets: &[&str], cidr: &str| {
        full(
            "aws_network_acl",
            &[
                ("vpc_id", Value::from(vpc.as_str())),
                ("subnet_ids", strs(subnets)),
                ("ingress", entry(cidr)),
                ("egress", entry(cidr)),
            ],
        )
    };
    let rules_acl = prerequisite(
        p,
        &env,
        "aws_network_acl",
        &[("vpc_id", Value::from(vpc.as_str()))],
    )
    .await;
    let acl_rule = |cidr: &str| {
        full(
            "aws_network_acl_rule",
            &[
                ("network_acl_id", Value::from(rules_acl.as_str())),
                ("rule_number", Value::from(200i64)),
                ("egress", Value::Bool(false)),
                ("protocol", Value::from("tcp")),
                ("rule_action", Value::from("allow")),
                ("cidr_block", Value::from(cidr)),
                ("from_port", Value::from(22i64)),
                ("to_port", Value::from(22i64)),
            ],
        )
    };
    let cert = |team: &str| {
        full(
            "aws_acm_certificate",
            &[
                ("domain_name", Value::from(format!("www.{env}.example.com"))),
                ("validation_method", Value::from("DNS")),
                ("tags", tags(team)),
            ],
        )
    };
    let issued = prerequisite(
        p,
        &env,
        "aws_acm_certificate",
        &[("domain_name", Value::from(format!("api.{env}.example.com")))],
    )
    .await;
    // ECS: a cluster and a capacity provider on a group of its own for the
    // cluster's capacity providers, a task definition for the service.
    let ecs_group = prerequisite(
        p,
        &env,
        "aws_autoscaling_group",
        &[
            ("min_size", Value::from(0i64)),
            ("max_size", Value::from(1i64)),
            ("desired_capacity", Value::from(0i64)),
            ("vpc_zone_identifier", strs(&[&subnet])),
            ("launch_configuration", Value::from(lc.as_str())),
        ],
    )
    .await;
    let ecs_group_arn = common::clients()
        .await
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&ecs_group)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()[0]
        .auto_scaling_group_arn()
        .unwrap()
        .to_string();
    let ecs_cluster = prerequisite(p, &env, "aws_ecs_cluster", &[]).await;
    let ecs_cluster_name = ecs_cluster.rsplit('/').next().unwrap().to_string();
    let capacity = |target: i64, team: &str| {
        full(
            "aws_ecs_capacity_provider",
            &[
                (
                    "auto_scaling_group_provider",
                    Value::map([
                        (
                            "auto_scaling_group_arn",
                            Value::from(ecs_group_arn.as_str()),
                        ),
                        ("managed_termination_protection", Value::from("DISABLED")),
                        ("managed_draining", Value::Null),
                        (
                            "managed_scaling",
                            Value::map([
                                ("status", Value::from("ENABLED")),
                                ("target_capacity", Value::from(target)),
                                ("minimum_scaling_step_size", Value::Null),
                                ("maximum_scaling_step_size", Value::Null),
                                ("instance_warmup_period", Value::Null),
                            ]),
                        ),
                    ]),
                ),
                ("tags", tags(team)),
            ],
        )
    };
    let cluster_capacity = made(p, &env, "aws_ecs_capacity_provider", capacity(90, "x")).await;
    let cluster_capacity_name = cluster_capacity.rsplit('/').next().unwrap().to_string();
    let containers = |image: &str| {
        Value::from(format!(
            r#"[{{"name":"web","image":"{image}","cpu":128,"memory":256,"essential":true,"portMappings":[{{"containerPort":80,"hostPort":0,"protocol":"tcp"}}],"environment":[{{"name":"MODE","value":"prod"}}]}}]"#
        ))
    };
    let task = |image: &str, team: &str| {
        full(
            "aws_ecs_task_definition",
            &[
                ("family", Value::from(format!("{env}-web"))),
                ("container_definitions", containers(image)),
                ("network_mode", Value::from("bridge")),
                ("requires_compatibilities", strs(&["EC2"])),
                ("tags", tags(team)),
            ],
        )
    };
    let service_task = made(p, &env, "aws_ecs_task_definition", task("nginx:1.27", "x")).await;
    let service = |desired: i64, team: &str| {
        full(
            "aws_ecs_service",
            &[
                ("cluster", Value::from(ecs_cluster.as_str())),
                ("task_definition", Value::from(service_task.as_str())),
                ("desired_count", Value::from(desired)),
                ("launch_type", Value::from("EC2")),
                ("tags", tags(team)),
            ],
        )
    };
    let ecs_settings = |insights: &str, team: &str| {
        full(
            "aws_ecs_cluster",
            &[
                (
                    "setting",
                    Value::List(
                        vec![Value::map([
                            ("name", Value::from("containerInsights")),
                            ("value", Value::from(insights)),
                        ])]
                        .into(),
                    ),
                ),
                ("tags", tags(team)),
            ],
        )
    };
    let providers_of = |weight: i64| {
        full(
            "aws_ecs_cluster_capacity_providers",
            &[
                ("cluster_name", Value::from(ecs_cluster_name.as_str())),
                ("capacity_providers", strs(&[&cluster_capacity_name])),
                (
                    "default_capacity_provider_strategy",
                    Value::List(
                        vec![Value::map([
                            (
                                "capacity_provider",
                                Value::from(cluster_capacity_name.as_str()),
                            ),
                            ("weight", Value::from(weight)),
                            ("base", Value::from(0i64)),
                        ])]
                        .into(),
                    ),
                ),
            ],
        )
    };
    let cases = [
        // ECS: settings, strategies and the desired count change in place;
        // a new image is a new task definition (tags only in place).
        ConformanceCase::new("aws_ecs_cluster", ecs_settings("enabled", "a"))
            .with_update(ecs_settings("disabled", "b")),
        ConformanceCase::new("aws_ecs_capacity_provider", capacity(100, "a"))
            .with_update(capacity(100, "b")),
        ConformanceCase::new("aws_ecs_cluster_capacity_providers", providers_of(1))
            .with_update(providers_of(2)),
        ConformanceCase::new("aws_ecs_task_definition", task("nginx:1.27", "a"))
            .with_update(task("nginx:1.27", "b")),
        ConformanceCase::new("aws_ecs_service", service(1, "a")).with_update(service(2, "b")),
        ConformanceCase::new(
            "aws_vpc",
            full(
                "aws_vpc",
                &[
                    ("cidr_block", Value::from("10.1.0.0/16")),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_vpc",
            &[
                ("cidr_block", Value::from("10.1.0.0/16")),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new(
            "aws_subnet",
            full(
                "aws_subnet",
                &[
                    ("vpc_id", Value::from(vpc.as_str())),
                    ("cidr_block", Value::from("10.9.1.0/24")),
                    ("availability_zone", Value::from("us-east-1b")),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_security_group",
            full(
                "aws_security_group",
                &[
                    ("vpc_id", Value::from(vpc.as_str())),
                    ("ingress", Value::List(vec![rule.clone()].into())),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_security_group",
            &[
                ("vpc_id", Value::from(vpc.as_str())),
                ("ingress", Value::List(vec![rule].into())),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new(
            "aws_launch_template",
            full(
                "aws_launch_template",
                &[
                    ("image_id", Value::from("ami-1e749f67")),
                    ("instance_type", Value::from("t3.micro")),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_instance",
            full(
                "aws_instance",
                &[
                    ("ami", Value::from("ami-1e749f67")),
                    ("instance_type", Value::from("t3.micro")),
                    ("subnet_id", Value::from(subnet.as_str())),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_lb_target_group",
            full(
                "aws_lb_target_group",
                &[
                    ("port", Value::from(80i64)),
                    ("protocol", Value::from("HTTP")),
                    ("vpc_id", Value::from(vpc.as_str())),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_lb_target_group",
            &[
                ("port", Value::from(80i64)),
                ("protocol", Value::from("HTTP")),
                ("vpc_id", Value::from(vpc.as_str())),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new("aws_autoscaling_group", asg(1)).with_update(asg(2)),
        // The cut-over switch: weights moved in place.
        ConformanceCase::new("aws_lb_listener", listener(100)).with_update(listener(0)),
        ConformanceCase::new(
            "aws_lb",
            full(
                "aws_lb",
                &[
                    ("subnets", strs(&[&subnet, &subnet_b])),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_lb",
            &[
                ("subnets", strs(&[&subnet, &subnet_b])),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new("aws_s3_bucket", bucket(false)).with_update(bucket(true)),
        ConformanceCase::new("aws_acm_certificate", cert("a")).with_update(cert("b")),
        // Entries and subnets move in place.
        ConformanceCase::new("aws_network_acl", acl(&[], "10.0.0.0/8"))
            .with_update(acl(&[&acl_subnet], "172.16.0.0/12")),
        ConformanceCase::new("aws_network_acl_rule", acl_rule("10.0.0.0/8"))
            .with_update(acl_rule("192.168.0.0/16")),
        // A bucket's configuration changes in place.
        ConformanceCase::new("aws_s3_bucket_versioning", versioning("Disabled"))
            .with_update(versioning("Disabled")),
        ConformanceCase::new(
            "aws_s3_bucket_server_side_encryption_configuration",
            encryption("AES256"),
        )
        .with_update(encryption("aws:kms")),
        ConformanceCase::new("aws_s3_bucket_public_access_block", block(true))
            .with_update(block(false)),
        ConformanceCase::new("aws_s3_bucket_policy", bucket_policy("s3:DeleteObject"))
            .with_update(bucket_policy("s3:PutObjectAcl")),
        ConformanceCase::new("aws_route53_zone", private_zone("a")).with_update(private_zone("b")),
        // Where a name resolves changes in place.
        ConformanceCase::new("aws_route53_record", record(300, "192.0.2.10"))
            .with_update(record(60, "192.0.2.20")),
        // A rule's actions and priority change in place.
        ConformanceCase::new("aws_lb_listener_rule", listener_rule(10, false))
            .with_update(listener_rule(20, true)),
        // Scaling: the policy, the schedule and the alarm change in place.
        // (The emulator keys policies and schedules by name alone: names are
        // unique per run, as two runs share it.)
        ConformanceCase::new(
            "aws_autoscaling_policy",
            full(
                "aws_autoscaling_policy",
                &[
                    ("name", Value::from(format!("{env}-scale-out"))),
                    ("autoscaling_group_name", Value::from(attach_group.as_str())),
                    ("adjustment_type", Value::from("ChangeInCapacity")),
                    ("scaling_adjustment", Value::from(1i64)),
                    ("cooldown", Value::from(300i64)),
                ],
            ),
        )
        .with_update(full(
            "aws_autoscaling_policy",
            &[
                ("name", Value::from(format!("{env}-scale-out"))),
                ("autoscaling_group_name", Value::from(attach_group.as_str())),
                ("adjustment_type", Value::from("ChangeInCapacity")),
                ("scaling_adjustment", Value::from(2i64)),
                ("cooldown", Value::from(120i64)),
            ],
        )),
        ConformanceCase::new(
            "aws_autoscaling_schedule",
            full(
                "aws_autoscaling_schedule",
                &[
                    ("scheduled_action_name", Value::from(format!("{env}-night"))),
                    ("autoscaling_group_name", Value::from(attach_group.as_str())),
                    ("recurrence", Value::from("0 22 * * *")),
                    ("desired_capacity", Value::from(0i64)),
                ],
            ),
        )
        .with_update(full(
            "aws_autoscaling_schedule",
            &[
                ("scheduled_action_name", Value::from(format!("{env}-night"))),
                ("autoscaling_group_name", Value::from(attach_group.as_str())),
                ("recurrence", Value::from("0 23 * * *")),
                ("desired_capacity", Value::from(0i64)),
            ],
        )),
        ConformanceCase::new("aws_cloudwatch_metric_alarm", alarm(80, "a"))
            .with_update(alarm(60, "b")),
        // Sources and description change in place.
        ConformanceCase::new("aws_security_group_rule", sg_rule(&["10.0.0.0/8"], "https"))
            .with_update(sg_rule(&["10.0.0.0/8", "192.168.0.0/16"], "https in")),
        ConformanceCase::new(
            "aws_vpc_security_group_ingress_rule",
            vpc_rule("aws_vpc_security_group_ingress_rule", 8443, "in", "a"),
        )
        .with_update(vpc_rule(
            "aws_vpc_security_group_ingress_rule",
            8443,
            "in too",
            "b",
        )),
        ConformanceCase::new(
            "aws_vpc_security_group_egress_rule",
            vpc_rule("aws_vpc_security_group_egress_rule", 5432, "out", "a"),
        )
        .with_update(vpc_rule(
            "aws_vpc_security_group_egress_rule",
            5432,
            "out too",
            "b",
        )),
        ConformanceCase::new(
            "aws_key_pair",
            full(
                "aws_key_pair",
                &[
                    ("key_name_prefix", Value::from("deploy-")),
                    ("public_key", Value::from(PUBLIC_KEY)),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_key_pair",
            &[
                ("key_name_prefix", Value::from("deploy-")),
                ("public_key", Value::from(PUBLIC_KEY)),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new(
            "aws_launch_configuration",
            full(
                "aws_launch_configuration",
                &[
                    ("image_id", Value::from("ami-1e749f67")),
                    ("instance_type", Value::from("t3.micro")),
                    ("user_data", Value::from("#!/bin/sh\necho hi\n")),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_autoscaling_attachment",
            full(
                "aws_autoscaling_attachment",
                &[
                    ("autoscaling_group_name", Value::from(attach_group.as_str())),
                    ("lb_target_group_arn", Value::from(blue.as_str())),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_lb_target_group_attachment",
            full(
                "aws_lb_target_group_attachment",
                &[
                    ("target_group_arn", Value::from(green.as_str())),
                    ("target_id", Value::from(host.as_str())),
                    ("port", Value::from(8080i64)),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_iam_role",
            iam(
                "aws_iam_role",
                &[("assume_role_policy", Value::from(trust))],
                "a",
            ),
        )
        .with_update(iam(
            "aws_iam_role",
            &[("assume_role_policy", Value::from(trust))],
            "b",
        )),
        ConformanceCase::new(
            "aws_iam_instance_profile",
            iam(
                "aws_iam_instance_profile",
                &[("role", Value::from(role.as_str()))],
                "a",
            ),
        )
        .with_update(iam(
            "aws_iam_instance_profile",
            &[("role", Value::from(role.as_str()))],
            "b",
        )),
        ConformanceCase::new(
            "aws_iam_policy",
            iam(
                "aws_iam_policy",
                &[("policy", Value::from(permissions))],
                "a",
            ),
        )
        .with_update(iam(
            "aws_iam_policy",
            &[("policy", Value::from(permissions))],
            "b",
        )),
        ConformanceCase::new(
            "aws_iam_role_policy",
            full(
                "aws_iam_role_policy",
                &[
                    ("role", Value::from(role.as_str())),
                    ("policy", Value::from(permissions)),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_iam_role_policy_attachment",
            full(
                "aws_iam_role_policy_attachment",
                &[
                    ("role", Value::from(role.as_str())),
                    ("policy_arn", Value::from(managed.as_str())),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_internet_gateway",
            full("aws_internet_gateway", &[("tags", tags("a"))]),
        )
        .with_update(full("aws_internet_gateway", &[("tags", tags("b"))])),
        // An address associated with an instance (so every computed
        // attribute has a value), its tags changed in place.
        ConformanceCase::new(
            "aws_eip",
            full(
                "aws_eip",
                &[
                    ("domain", Value::from("vpc")),
                    ("instance", Value::from(host.as_str())),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_eip",
            &[
                ("domain", Value::from("vpc")),
                ("instance", Value::from(host.as_str())),
                ("tags", tags("b")),
            ],
        )),
        ConformanceCase::new(
            "aws_nat_gateway",
            full(
                "aws_nat_gateway",
                &[
                    ("subnet_id", Value::from(subnet.as_str())),
                    ("allocation_id", Value::from(case_eip.as_str())),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_nat_gateway",
            &[
                ("subnet_id", Value::from(subnet.as_str())),
                ("allocation_id", Value::from(case_eip.as_str())),
                ("tags", tags("b")),
            ],
        )),
        // Routes move between targets in place.
        ConformanceCase::new("aws_route_table", route_table(("gateway_id", &igw)))
            .with_update(route_table(("nat_gateway_id", &nat))),
        ConformanceCase::new("aws_route", route(("gateway_id", &igw)))
            .with_update(route(("nat_gateway_id", &nat))),
        ConformanceCase::new(
            "aws_route_table_association",
            full(
                "aws_route_table_association",
                &[
                    ("subnet_id", Value::from(assoc_subnet.as_str())),
                    ("route_table_id", Value::from(table.as_str())),
                ],
            ),
        ),
        ConformanceCase::new(
            "aws_ebs_volume",
            full(
                "aws_ebs_volume",
                &[
                    ("availability_zone", Value::from("us-east-1a")),
                    ("size", Value::from(8i64)),
                    ("tags", tags("a")),
                ],
            ),
        )
        .with_update(full(
            "aws_ebs_volume",
            &[
                ("availability_zone", Value::from("us-east-1a")),
                ("size", Value::from(8i64)),
                ("tags", tags("b")),
            ],
        )),
    ];
    // Objects a delete leaves to AWS (so they still read after it): the
    // VPC's default objects, adopted by a create, their rules in place;
    // and a certificate validation, which only waits.
    let defaults_vpc = prerequisite(
        p,
        &env,
        "aws_vpc",
        &[("cidr_block", Value::from("10.8.0.0/16"))],
    )
    .await;
    let main_table = main_route_table(&defaults_vpc).await;
    let default_acl = {
        let c = common::clients().await;
        let acls = c
            .ec2
            .describe_network_acls()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(defaults_vpc.as_str())
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("default")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        acls.network_acls()[0].network_acl_id().unwrap().to_string()
    };
    let self_rule = Value::map([
        ("from_port", Value::from(0i64)),
        ("to_port", Value::from(0i64)),
        ("protocol", Value::from("-1")),
        ("cidr_blocks", Value::Null),
        ("ipv6_cidr_blocks", Value::Null),
        ("prefix_list_ids", Value::Null),
        ("security_groups", Value::Null),
        ("self", Value::Bool(true)),
        ("description", Value::Null),
    ]);
    let default_sg = |ingress: Value| {
        full(
            "aws_default_security_group",
            &[
                ("vpc_id", Value::from(defaults_vpc.as_str())),
                ("ingress", ingress),
            ],
        )
    };
    let acl_entry = |rule: i64, action: &str| {
        Value::List(
            vec![Value::map([
                ("rule_no", Value::from(rule)),
                ("action", Value::from(action)),
                ("protocol", Value::from("-1")),
                ("cidr_block", Value::from("0.0.0.0/0")),
                ("ipv6_cidr_block", Value::Null),
                ("from_port", Value::from(0i64)),
                ("to_port", Value::from(0i64)),
                ("icmp_type", Value::Null),
                ("icmp_code", Value::Null),
            ])]
            .into(),
        )
    };
    let default_acl_config = |rule: i64| {
        full(
            "aws_default_network_acl",
            &[
                ("default_network_acl_id", Value::from(default_acl.as_str())),
                ("ingress", acl_entry(rule, "allow")),
                ("egress", acl_entry(rule, "allow")),
            ],
        )
    };
    let default_table = |team: &str| {
        full(
            "aws_default_route_table",
            &[
                ("default_route_table_id", Value::from(main_table.as_str())),
                ("tags", tags(team)),
            ],
        )
    };
    let defaults = [
        ConformanceCase::new(
            "aws_default_security_group",
            default_sg(Value::List(vec![self_rule].into())),
        )
        .with_update(default_sg(Value::Null)),
        ConformanceCase::new("aws_default_network_acl", default_acl_config(100))
            .with_update(default_acl_config(200)),
        ConformanceCase::new("aws_default_route_table", default_table("a"))
            .with_update(default_table("b")),
        // A wait for issuance: nothing to delete either.
        ConformanceCase::new(
            "aws_acm_certificate_validation",
            full(
                "aws_acm_certificate_validation",
                &[("certificate_arn", Value::from(issued.as_str()))],
            ),
        ),
    ];
    // Every type the provider serves has a case here (aliases are the
    // types they stand for).
    let covered: std::collections::BTreeSet<&str> = cases
        .iter()
        .chain(&defaults)
        .map(|c| c.type_name.as_str())
        .collect();
    let schema = p.schema();
    let missing: Vec<&String> = schema
        .resources
        .keys()
        .filter(|t| !t.starts_with("aws_alb") && !covered.contains(t.as_str()))
        .collect();
    assert!(missing.is_empty(), "no conformance case for {missing:?}");
    assert_conforms(p, &cases, &options(&env)).await;
    let mut left_to_aws = options(&format!("{env}-defaults"));
    left_to_aws.objects_have_backing = false;
    assert_conforms(p, &defaults, &left_to_aws).await;
}

/// A VPC's main route table, as EC2 reports it.
async fn main_route_table(vpc: &str) -> String {
    let c = common::clients().await;
    let out = c
        .ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("association.main")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.route_tables()[0].route_table_id().unwrap().to_string()
}

#[tokio::test]
async fn aws_conforms_through_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = common::plugin_wrapper(dir.path());
    let p = PluginProvider::start("aws", &wrapper, Duration::from_secs(600))
        .await
        .expect("start kiln-provider-aws");
    assert_eq!(
        p.schema(),
        AwsProvider::new().schema(),
        "the handshake carries the schema"
    );
    // The whole suite again, every type through the plugin protocol.
    conforms(&p, &common::unique("proto")).await;
}

#[tokio::test]
async fn listener_weights_move_in_place() {
    let p = AwsProvider::with_options(common::options());
    let env = common::unique("weights");
    let vpc = prerequisite(
        &p,
        &env,
        "aws_vpc",
        &[("cidr_block", Value::from("10.6.0.0/16"))],
    )
    .await;
    let subnet = |cidr: &str, az: &str| {
        [
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from(cidr)),
            ("availability_zone", Value::from(az)),
        ]
    };
    let a = prerequisite(&p, &env, "aws_subnet", &subnet("10.6.1.0/24", "us-east-1a")).await;
    let b = prerequisite(&p, &env, "aws_subnet", &subnet("10.6.2.0/24", "us-east-1b")).await;
    let tg = |prefix: &str| {
        [
            ("port", Value::from(80i64)),
            ("protocol", Value::from("HTTP")),
            ("vpc_id", Value::from(vpc.as_str())),
            ("name_prefix", Value::from(prefix)),
        ]
    };
    let blue = prerequisite(&p, &env, "aws_lb_target_group", &tg("blue")).await;
    let green = prerequisite(&p, &env, "aws_lb_target_group", &tg("green")).await;
    let lb = prerequisite(&p, &env, "aws_lb", &[("subnets", strs(&[&a, &b]))]).await;
    let listener = |blue_weight: i64| {
        let group =
            |arn: &str, w: i64| Value::map([("arn", Value::from(arn)), ("weight", Value::from(w))]);
        full(
            "aws_lb_listener",
            &[
                ("load_balancer_arn", Value::from(lb.as_str())),
                ("port", Value::from(80i64)),
                ("protocol", Value::from("HTTP")),
                (
                    "default_action",
                    Value::List(
                        vec![Value::map([
                            ("type", Value::from("forward")),
                            ("target_group_arn", Value::Null),
                            (
                                "forward",
                                Value::map([(
                                    "target_group",
                                    Value::List(
                                        vec![
                                            group(&blue, blue_weight),
                                            group(&green, 100 - blue_weight),
                                        ]
                                        .into(),
                                    ),
                                )]),
                            ),
                        ])]
                        .into(),
                    ),
                ),
            ],
        )
    };
    let id = made(&p, &env, "aws_lb_listener", listener(100)).await;
    let weights = |c: kiln_provider_aws::api::Clients, id: String| async move {
        let out = c
            .elb
            .describe_listeners()
            .listener_arns(id)
            .send()
            .await
            .unwrap();
        let mut w: Vec<(String, i32)> = out.listeners()[0].default_actions()[0]
            .forward_config()
            .unwrap()
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap().to_string(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect();
        w.sort();
        w
    };
    let c = common::clients().await;
    let mut want = vec![(blue.clone(), 100), (green.clone(), 0)];
    want.sort();
    assert_eq!(weights(c.clone(), id.clone()).await, want);
    let resp = p
        .update(kiln_provider::UpdateRequest {
            type_name: "aws_lb_listener".into(),
            id: id.clone(),
            prior: listener(100),
            planned: listener(0),
            changed: vec!["default_action".into()],
            context: CallContext {
                env: env.clone(),
                address: "aws_lb_listener.http".into(),
                ..CallContext::default()
            },
        })
        .await;
    assert!(!resp.diagnostics.has_errors(), "{}", resp.diagnostics);
    let mut want = vec![(blue, 0), (green, 100)];
    want.sort();
    assert_eq!(
        weights(c, id).await,
        want,
        "the same listener, traffic moved"
    );
}
