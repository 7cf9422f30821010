//! A whole web tier that Terraform made, adopted by `kiln state
//! import-terraform`: a VPC, two subnets, a security group, a launch
//! template, an Auto Scaling group, a load balancer, its listener and
//! target group, and a bucket, created on the emulator outside kiln; a
//! state file written as Terraform's AWS provider writes one (format
//! version 4, every argument present, unset ones as zero values or empty
//! blocks); the configuration it was applied from. The import creates and
//! deletes nothing (it marks what it adopts as kiln's: its tags and
//! idempotency key), the next plan replaces nothing, and an image change
//! afterwards follows kiln's replace-first rule: a new launch template and
//! group beside the adopted ones, then the old ones deleted.

mod common;

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum};
use serde_json::json;

#[tokio::test]
async fn a_terraform_web_tier_is_adopted_and_then_replaced_first() {
    let c = common::clients().await;
    let env = common::unique("tfweb");
    let tag = env.rsplit('-').take(2).collect::<Vec<_>>().join("");
    let ec2 = &c.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.79.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, zone) in [
        ("10.79.1.0/24", "us-east-1a"),
        ("10.79.2.0/24", "us-east-1b"),
    ] {
        subnets.push(
            ec2.create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(zone)
                .send()
                .await
                .unwrap()
                .subnet()
                .unwrap()
                .subnet_id()
                .unwrap()
                .to_string(),
        );
    }
    let sg_name = format!("tf-web-{tag}");
    let sg = ec2
        .create_security_group()
        .group_name(&sg_name)
        .description("web")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let lt_name = format!("tf-web-{tag}");
    let lt = ec2
        .create_launch_template()
        .launch_template_name(&lt_name)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-1e749f67")
                .instance_type(InstanceType::T3Micro)
                .security_group_ids(&sg)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .launch_template()
        .unwrap()
        .launch_template_id()
        .unwrap()
        .to_string();
    let tg_name = format!("tfw{tag}");
    let tg = c
        .elb
        .create_target_group()
        .name(&tg_name)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let lb_name = format!("tfl{tag}");
    let lb_out = c
        .elb
        .create_load_balancer()
        .name(&lb_name)
        .set_subnets(Some(subnets.clone()))
        .security_groups(&sg)
        .send()
        .await
        .unwrap();
    let lb = &lb_out.load_balancers()[0];
    let (lb_arn, lb_dns, lb_zone) = (
        lb.load_balancer_arn().unwrap().to_string(),
        lb.dns_name().unwrap().to_string(),
        lb.canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
    );
    let listener = c
        .elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_string();
    let asg_name = format!("tf-web-{tag}");
    c.asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(&asg_name)
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .vpc_zone_identifier(subnets.join(","))
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&lt)
                .version("$Latest")
                .build(),
        )
        .target_group_arns(&tg)
        .send()
        .await
        .unwrap();
    let bucket = format!("tf-assets-{tag}");
    c.s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let provider = "provider[\"registry.terraform.io/hashicorp/aws\"]";
    let resource = |ty: &str, name: &str, attributes: serde_json::Value, deps: &[&str]| {
        json!({"mode": "managed", "type": ty, "name": name, "provider": provider,
               "instances": [{"schema_version": 0, "attributes": attributes,
                              "sensitive_attributes": [], "dependencies": deps}]})
    };
    let arn = |kind: &str, id: &str| format!("arn:aws:ec2:us-east-1:123456789012:{kind}/{id}");
    let tfstate = json!({
        "version": 4, "terraform_version": "1.11.4", "serial": 12,
        "lineage": "5d1f3c2a-terraform", "outputs": {},
        "resources": [
            resource("aws_vpc", "main", json!({
                "id": vpc, "arn": arn("vpc", &vpc), "cidr_block": "10.79.0.0/16",
                "assign_generated_ipv6_cidr_block": false, "enable_dns_hostnames": false,
                "enable_dns_support": true, "instance_tenancy": "default", "ipv6_cidr_block": "",
                "owner_id": "123456789012", "tags": null, "tags_all": {}}), &[]),
            resource("aws_subnet", "a", json!({
                "id": subnets[0], "arn": arn("subnet", &subnets[0]), "availability_zone": "us-east-1a",
                "cidr_block": "10.79.1.0/24", "map_public_ip_on_launch": false, "ipv6_cidr_block": "",
                "tags": null, "tags_all": {}, "timeouts": null, "vpc_id": vpc}), &["aws_vpc.main"]),
            resource("aws_subnet", "b", json!({
                "id": subnets[1], "arn": arn("subnet", &subnets[1]), "availability_zone": "us-east-1b",
                "cidr_block": "10.79.2.0/24", "map_public_ip_on_launch": false, "ipv6_cidr_block": "",
                "tags": null, "tags_all": {}, "timeouts": null, "vpc_id": vpc}), &["aws_vpc.main"]),
            resource("aws_security_group", "web", json!({
                "id": sg, "arn": arn("security-group", &sg), "description": "web",
                "egress": [], "ingress": [], "name": sg_name, "name_prefix": "",
                "owner_id": "123456789012", "revoke_rules_on_delete": false,
                "tags": null, "tags_all": {}, "timeouts": null, "vpc_id": vpc}), &["aws_vpc.main"]),
            resource("aws_launch_template", "web", json!({
                "id": lt, "arn": arn("launch-template", &lt), "name": lt_name, "name_prefix": "",
                "image_id": "ami-1e749f67", "instance_type": "t3.micro",
                "vpc_security_group_ids": [sg], "security_group_names": [],
                "default_version": 1, "latest_version": 1, "update_default_version": null,
                "description": "", "disable_api_termination": false, "ebs_optimized": "",
                "key_name": "", "user_data": "", "block_device_mappings": [],
                "iam_instance_profile": [], "metadata_options": [], "monitoring": [],
                "network_interfaces": [], "tag_specifications": [], "tags": null, "tags_all": {}}),
                &["aws_security_group.web"]),
            resource("aws_lb_target_group", "web", json!({
                "id": tg, "arn": tg, "arn_suffix": "", "name": tg_name, "name_prefix": "",
                "port": 80, "protocol": "HTTP", "protocol_version": "HTTP1", "vpc_id": vpc,
                "target_type": "instance", "deregistration_delay": "300",
                "health_check": [{"enabled": true, "healthy_threshold": 5, "interval": 30,
                                  "matcher": "200", "path": "/", "port": "traffic-port",
                                  "protocol": "HTTP", "timeout": 5, "unhealthy_threshold": 2}],
                "stickiness": [{"cookie_duration": 86400, "cookie_name": "", "enabled": false,
                                "type": "lb_cookie"}],
                "tags": null, "tags_all": {}}), &["aws_vpc.main"]),
            resource("aws_lb", "web", json!({
                "id": lb_arn, "arn": lb_arn, "arn_suffix": "", "name": lb_name, "name_prefix": "",
                "internal": false, "load_balancer_type": "application", "dns_name": lb_dns,
                "zone_id": lb_zone, "subnets": subnets, "security_groups": [sg],
                "idle_timeout": 60, "enable_http2": true, "enable_deletion_protection": false,
                "enable_cross_zone_load_balancing": true, "ip_address_type": "ipv4",
                "access_logs": [{"bucket": "", "enabled": false, "prefix": ""}],
                "subnet_mapping": [], "tags": null, "tags_all": {}, "timeouts": null}),
                &["aws_security_group.web", "aws_subnet.a", "aws_subnet.b"]),
            resource("aws_lb_listener", "http", json!({
                "id": listener, "arn": listener, "load_balancer_arn": lb_arn, "port": 80,
                "protocol": "HTTP", "ssl_policy": "", "certificate_arn": null, "alpn_policy": null,
                "default_action": [{"type": "forward", "target_group_arn": tg, "order": 1,
                                    "forward": [], "redirect": [], "fixed_response": [],
                                    "authenticate_cognito": [], "authenticate_oidc": []}],
                "tags": null, "tags_all": {}, "timeouts": null}),
                &["aws_lb.web", "aws_lb_target_group.web"]),
            resource("aws_autoscaling_group", "web", json!({
                "id": asg_name, "arn": "", "name": asg_name, "name_prefix": "",
                "min_size": 1, "max_size": 2, "desired_capacity": 1,
                "vpc_zone_identifier": subnets, "target_group_arns": [tg],
                "launch_template": [{"id": lt, "name": lt_name, "version": "$Latest"}],
                "launch_configuration": "", "health_check_type": "EC2",
                "health_check_grace_period": 300, "force_delete": false, "default_cooldown": 300,
                "wait_for_capacity_timeout": "10m", "min_elb_capacity": null,
                "protect_from_scale_in": false, "tag": [], "termination_policies": [],
                "enabled_metrics": [], "load_balancers": [], "suspended_processes": [],
                "timeouts": null}),
                &["aws_launch_template.web", "aws_lb_target_group.web", "aws_subnet.a", "aws_subnet.b"]),
            resource("aws_s3_bucket", "assets", json!({
                "id": bucket, "arn": format!("arn:aws:s3:::{bucket}"), "bucket": bucket,
                "bucket_prefix": "", "force_destroy": false, "object_lock_enabled": false,
                "tags": null, "tags_all": {}, "timeouts": null}), &[]),
        ]
    });
    let (p, k) = common::project(&format!(
        r#"variable "ami" {{
  default = "ami-1e749f67"
}}
resource "aws_vpc" "main" {{
  cidr_block = "10.79.0.0/16"
}}
resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.79.1.0/24"
  availability_zone = "us-east-1a"
}}
resource "aws_subnet" "b" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.79.2.0/24"
  availability_zone = "us-east-1b"
}}
resource "aws_security_group" "web" {{
  name        = "{sg_name}"
  description = "web"
  vpc_id      = aws_vpc.main.id
}}
resource "aws_launch_template" "web" {{
  name                   = "{lt_name}"
  image_id               = var.ami
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.web.id]
}}
resource "aws_lb_target_group" "web" {{
  name     = "{tg_name}"
  port     = 80
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}}
resource "aws_lb" "web" {{
  name            = "{lb_name}"
  subnets         = [aws_subnet.a.id, aws_subnet.b.id]
  security_groups = [aws_security_group.web.id]
}}
resource "aws_lb_listener" "http" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }}
}}
resource "aws_autoscaling_group" "web" {{
  name                = "{asg_name}"
  min_size            = 1
  max_size            = 2
  desired_capacity    = 1
  vpc_zone_identifier = [aws_subnet.a.id, aws_subnet.b.id]
  target_group_arns   = [aws_lb_target_group.web.arn]
  launch_template {{
    id      = aws_launch_template.web.id
    version = "$Latest"
  }}
}}
resource "aws_s3_bucket" "assets" {{
  bucket = "{bucket}"
}}
"#
    ));
    p.write("terraform.tfstate", &tfstate.to_string());
    let k = k.env("KILN_ENV", &env);
    assert!(common::tagged(&c, &env).await.is_empty());

    let r = k.run(&["state", "import-terraform", "terraform.tfstate"]);
    r.success();
    assert!(r.stderr.contains("Imported 10 object(s)"), "{}", r.stderr);
    assert_eq!(common::state_id(&p, &env, "aws_launch_template.web"), lt);
    assert_eq!(common::state_id(&p, &env, "aws_lb_listener.http"), listener);
    // Made nothing, and marked what it adopted as kiln's (its tags and
    // idempotency key), so inventories and recoveries find them.
    let adopted = common::tagged(&c, &env).await;
    for (kind, n, id) in [
        ("vpc", 1, vpc.as_str()),
        ("subnet", 2, subnets[0].as_str()),
        ("security-group", 1, sg.as_str()),
        ("launch-template", 1, lt_name.as_str()),
        ("load-balancer", 1, lb_arn.as_str()),
        ("target-group", 1, tg.as_str()),
    ] {
        assert_eq!(common::count(&adopted, kind), n, "{kind}: {adopted:?}");
        assert!(
            adopted.iter().any(|x| x.ends_with(id)),
            "{id} is marked: {adopted:?}"
        );
    }
    let vpc_tags = c
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(
        vpc_tags.get("kiln:address").map(String::as_str),
        Some("aws_vpc.main")
    );
    assert!(vpc_tags.get("kiln:key").is_some_and(|k| !k.is_empty()));
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        !plan.stdout.contains("will be replaced") && !plan.stdout.contains("will be created"),
        "the import replaces nothing:\n{}",
        plan.stdout
    );

    // A new image: replace-first, beside the adopted objects.
    let image = ["--var", "ami=ami-35e92e4c"];
    let plan = k.run(&[&["plan"][..], &image[..]].concat());
    plan.success();
    for addr in ["aws_launch_template.web", "aws_autoscaling_group.web"] {
        assert!(
            plan.stdout.contains(&format!("{addr} will be replaced")),
            "{addr}:\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("aws_lb.web will be")
            && !plan.stdout.contains("aws_s3_bucket.assets will be"),
        "{}",
        plan.stdout
    );
    k.run(&[&["apply", "--yes"][..], &image[..]].concat())
        .success();
    let new_lt = common::state_id(&p, &env, "aws_launch_template.web");
    assert_ne!(new_lt, lt);
    let old = c
        .ec2
        .describe_launch_templates()
        .launch_template_ids(&lt)
        .send()
        .await
        .map(|o| o.launch_templates().len())
        .unwrap_or(0);
    assert_eq!(old, 0, "the adopted template went once the new one was in");
    let again = k.run(&[&["plan", "--detailed-exitcode"][..], &image[..]].concat());
    assert_eq!(again.code, 0, "{}", again.all());

    k.run(
        &[
            &[
                "destroy",
                "--yes",
                "--allow-destroy",
                "aws_s3_bucket.assets",
            ][..],
            &image[..],
        ]
        .concat(),
    )
    .success();
    assert!(common::state_addrs(&p, &env).is_empty());
}
