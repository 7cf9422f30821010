//! End to end: the real `kiln` binary applies examples/aws-web to the
//! emulator through the `kiln-provider-aws` plugin, and the SDK (not kiln)
//! checks what exists.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{count, env_filter, example, tagged};
use kiln_provider_aws::api::Clients;

/// The listener's forward target groups, by ARN.
async fn listener_targets(c: &Clients, listener: &str) -> Vec<String> {
    common::listener_forwarding(c, listener)
        .await
        .into_keys()
        .collect()
}

#[tokio::test]
async fn aws_web_applies_replaces_updates_and_destroys() {
    let c = common::clients().await;
    let env = common::unique("web");
    let (p, k) = common::project(&example());
    let e = ["--env", env.as_str()];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter().chain(e.iter()).map(|s| s.to_string()).collect()
    };
    let run = |args: &[&str]| {
        let a = with(args);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        k.run(&refs)
    };

    // 1. Apply: every resource exists, checked with the SDK.
    run(&["apply", "--yes"]).success();
    let first = tagged(&c, &env).await;
    assert_eq!(count(&first, "vpc"), 1, "{first:#?}");
    assert_eq!(count(&first, "subnet"), 2, "{first:#?}");
    assert_eq!(count(&first, "security-group"), 1, "{first:#?}");
    assert_eq!(count(&first, "internet-gateway"), 1, "{first:#?}");
    assert_eq!(count(&first, "route-table"), 1, "{first:#?}");
    assert_eq!(count(&first, "launch-template"), 1, "{first:#?}");
    assert_eq!(count(&first, "autoscaling-group"), 1, "{first:#?}");
    assert_eq!(count(&first, "load-balancer"), 1, "{first:#?}");
    assert_eq!(count(&first, "target-group"), 1, "{first:#?}");
    assert_eq!(count(&first, "listener"), 1, "{first:#?}");
    assert_eq!(
        count(&first, "instance"),
        2,
        "the group's two instances: {first:#?}"
    );
    // The security group opens no port 22.
    let sg = c
        .ec2
        .describe_security_groups()
        .filters(env_filter(&env))
        .send()
        .await
        .unwrap();
    // The provider block's default tags are on everything.
    let tags = sg.security_groups()[0].tags();
    assert!(
        tags.iter()
            .any(|t| t.key() == Some("project") && t.value() == Some("aws-web")),
        "{tags:?}"
    );
    let rules = sg.security_groups()[0].ip_permissions();
    assert!(!rules.is_empty());
    for r in rules {
        let (from, to) = (r.from_port().unwrap_or(0), r.to_port().unwrap_or(65535));
        assert!(!(from..=to).contains(&22), "port 22 is open: {r:?}");
    }
    let old_group = first
        .iter()
        .find(|s| s.starts_with("autoscaling-group "))
        .unwrap()
        .clone();
    let old_template = first
        .iter()
        .find(|s| s.starts_with("launch-template "))
        .unwrap()
        .clone();
    let old_tg = first
        .iter()
        .find(|s| s.starts_with("target-group "))
        .unwrap()
        .clone();
    let listener = first
        .iter()
        .find_map(|s| s.strip_prefix("listener "))
        .unwrap()
        .to_string();
    assert_eq!(
        listener_targets(&c, &listener).await,
        [old_tg.strip_prefix("target-group ").unwrap()]
    );

    // Credentials reach neither the state nor the output.
    let state = p.read(&format!(".kiln/{env}/state.json"));
    assert!(state.contains("aws_launch_template.web"));
    for secret in ["testing", "AWS_SECRET_ACCESS_KEY"] {
        assert!(!state.contains(secret), "{secret} in the state");
    }

    // 2. A second plan has no changes.
    let again = run(&["plan"]);
    again.success();
    assert!(again.stdout.contains("No changes"), "{}", again.all());

    // 3. A new image: launch template, group and target group replaced, the
    //    listener updated in place; the old ones gone after the apply.
    let plan = run(&["plan", "--var", "ami=ami-35e92e4c"]);
    plan.success();
    let text = plan.stdout.clone();
    for line in [
        "aws_launch_template.web will be replaced",
        "aws_autoscaling_group.web will be replaced",
        "aws_lb_target_group.web will be replaced",
        "aws_lb_listener.http will be updated in place",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("~ image_id ")
                && l.ends_with("= \"ami-1e749f67\" → \"ami-35e92e4c\"  # forces replacement")),
        "the reason is given:\n{text}"
    );
    assert!(!text.contains("aws_vpc.main will"), "{text}");
    run(&["apply", "--yes", "--var", "ami=ami-35e92e4c"]).success();
    // The order of the cut-over, from the apply's journal: the new group is
    // created (and passed its health check) before the listener moves, and
    // the old group and target group are deleted only after it moved.
    let journal = p.read(&format!(".kiln/{env}/journal.last.jsonl"));
    let records: Vec<serde_json::Value> = journal
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |record: &str, addr: &str, op: &str| {
        records
            .iter()
            .position(|r| {
                r["record"] == record
                    && r["addr"] == addr
                    && r["op"].as_str().is_some_and(|o| o.starts_with(op))
            })
            .unwrap_or_else(|| panic!("no {record} {op} of {addr} in:\n{journal}"))
    };
    let group_made = at("result", "aws_autoscaling_group.web", "create");
    let listener_moves = at("intent", "aws_lb_listener.http", "update");
    let listener_moved = at("result", "aws_lb_listener.http", "update");
    assert!(group_made < listener_moves, "{journal}");
    assert!(
        listener_moved < at("intent", "aws_autoscaling_group.web", "delete"),
        "{journal}"
    );
    assert!(
        listener_moved < at("intent", "aws_lb_target_group.web", "delete"),
        "{journal}"
    );
    let second = tagged(&c, &env).await;
    assert_eq!(count(&second, "autoscaling-group"), 1, "{second:#?}");
    assert_eq!(count(&second, "launch-template"), 1, "{second:#?}");
    assert_eq!(count(&second, "target-group"), 1, "{second:#?}");
    assert!(
        !second.contains(&old_group),
        "the old group is gone: {second:#?}"
    );
    assert!(
        !second.contains(&old_template),
        "the old template is gone: {second:#?}"
    );
    assert!(
        !second.contains(&old_tg),
        "the old target group is gone: {second:#?}"
    );
    assert!(
        second.iter().any(|s| s == &format!("listener {listener}")),
        "the same listener"
    );
    let new_tg = second
        .iter()
        .find_map(|s| s.strip_prefix("target-group "))
        .unwrap();
    assert_eq!(listener_targets(&c, &listener).await, [new_tg]);
    let new_group = second
        .iter()
        .find_map(|s| s.strip_prefix("autoscaling-group "))
        .unwrap();
    assert!(
        new_group.contains("-g2-"),
        "named by generation: {new_group}"
    );
    let groups = c
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(new_group)
        .send()
        .await
        .unwrap();
    let g = &groups.auto_scaling_groups()[0];
    assert_eq!(g.target_group_arns(), [new_tg]);
    assert_eq!(g.instances().len(), 2);
    let health = c
        .elb
        .describe_target_health()
        .target_group_arn(new_tg)
        .send()
        .await
        .unwrap();
    let healthy = health
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state())
                == Some(&aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum::Healthy)
        })
        .count();
    assert_eq!(healthy, 2, "the new group's instances are healthy targets");

    // 4. Capacity only: an in-place update, nothing replaced.
    let plan = run(&["plan", "--var", "ami=ami-35e92e4c", "--var", "desired=3"]);
    plan.success();
    assert!(
        plan.stdout
            .contains("aws_autoscaling_group.web will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("will be replaced"), "{}", plan.stdout);
    run(&[
        "apply",
        "--yes",
        "--var",
        "ami=ami-35e92e4c",
        "--var",
        "desired=3",
    ])
    .success();
    let groups = c
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(new_group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.auto_scaling_groups()[0].desired_capacity(), Some(3));

    // 5. Destroy: nothing tagged with the environment is left.
    run(&["destroy", "--yes", "--var", "ami=ami-35e92e4c"]).success();
    let left = tagged(&c, &env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    drop(p);
}

#[tokio::test]
async fn a_port_opened_by_hand_is_drift_and_the_group_is_replaced() {
    let c = common::clients().await;
    let env = common::unique("drift");
    let (_p, k) = common::project(
        r#"
resource "aws_vpc" "main" {
  cidr_block = "10.30.0.0/16"
}

resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    let groups = |c: &Clients| {
        let c = c.clone();
        let env = env.clone();
        async move {
            c.ec2
                .describe_security_groups()
                .filters(env_filter(&env))
                .send()
                .await
                .unwrap()
                .security_groups()
                .to_vec()
        }
    };
    let before = groups(&c).await;
    let id = before[0].group_id().unwrap().to_string();
    c.ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = run(&["plan"]);
    plan.success();
    let all = plan.all();
    assert!(all.contains("aws_security_group.web has drifted"), "{all}");
    assert!(all.contains("tcp/22 from 0.0.0.0/0"), "{all}");
    assert!(
        all.contains("aws_security_group.web will be replaced"),
        "{all}"
    );
    run(&["apply", "--yes"]).success();
    let after = groups(&c).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0].group_id(), Some(id.as_str()), "a new group");
    let open: Vec<i32> = after[0]
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    assert_eq!(open, [443]);
    run(&["destroy", "--yes"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

#[tokio::test]
async fn a_listener_moved_by_hand_is_drift_set_back_in_place() {
    let c = common::clients().await;
    let env = common::unique("switch");
    let (p, k) = common::project(
        r#"
resource "aws_vpc" "main" {
  cidr_block = "10.50.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.50.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.50.2.0/24"
  availability_zone = "us-east-1b"
}
resource "aws_lb" "front" {
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
}
resource "aws_lb_target_group" "blue" {
  name_prefix = "blue"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = aws_vpc.main.id
}
resource "aws_lb_target_group" "green" {
  name_prefix = "green"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = aws_vpc.main.id
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.front.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.blue.arn
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    // Nothing moved: a plan is quiet.
    run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // The objects, from kiln's state.
    let id_of = |addr: &str| common::state_id(&p, &env, addr);
    let listener_arn = id_of("aws_lb_listener.http");
    let blue = id_of("aws_lb_target_group.blue");
    let green = id_of("aws_lb_target_group.green");
    assert_eq!(
        listener_targets(&c, &listener_arn).await,
        std::slice::from_ref(&blue)
    );
    // Someone moves the traffic by hand.
    c.elb
        .modify_listener()
        .listener_arn(&listener_arn)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&green)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    let all = plan.all();
    let drift = all
        .lines()
        .find(|l| l.contains("traffic switch aws_lb_listener.http drifted: it forwards to"))
        .unwrap_or_else(|| panic!("{all}"));
    // name_prefix, as in Terraform: the names begin with it.
    assert!(
        drift.contains("forwards to green") && drift.contains("instead of blue"),
        "{drift}"
    );
    assert!(
        all.contains("aws_lb_listener.http will be updated in place"),
        "{all}"
    );
    assert!(!all.contains("will be replaced"), "{all}");
    run(&["apply", "--yes"]).success();
    assert_eq!(
        listener_targets(&c, &listener_arn).await,
        [blue],
        "set back"
    );
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    run(&["destroy", "--yes"]).success();
}

#[tokio::test]
async fn routes_change_in_place_and_the_subnet_keeps_its_association() {
    let c = common::clients().await;
    let env = common::unique("routes");
    let main = |extra: &str| {
        format!(
            r#"
resource "aws_vpc" "main" {{
  cidr_block = "10.70.0.0/16"
}}
resource "aws_internet_gateway" "gw" {{
  vpc_id = aws_vpc.main.id
}}
resource "aws_subnet" "a" {{
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.70.1.0/24"
}}
resource "aws_route_table" "public" {{
  vpc_id = aws_vpc.main.id
  route {{
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }}
  {extra}
}}
resource "aws_route_table_association" "a" {{
  subnet_id      = aws_subnet.a.id
  route_table_id = aws_route_table.public.id
}}
"#
        )
    };
    let (p, k) = common::project(&main(""));
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    let id_of = |addr: &str| common::state_id(&p, &env, addr);
    let (table, association) = (
        id_of("aws_route_table.public"),
        id_of("aws_route_table_association.a"),
    );
    let routes = || {
        let c = c.clone();
        let table = table.clone();
        async move {
            let out = c
                .ec2
                .describe_route_tables()
                .route_table_ids(&table)
                .send()
                .await
                .unwrap();
            let mut v: Vec<String> = out.route_tables()[0]
                .routes()
                .iter()
                .filter_map(|r| r.destination_cidr_block().map(str::to_string))
                .collect();
            v.sort();
            v
        }
    };
    assert!(routes().await.contains(&"0.0.0.0/0".to_string()));

    // One more route: the table changes in place, nothing is replaced.
    p.write(
        "main.hcl",
        &main("route {\n    cidr_block = \"192.0.2.0/24\"\n    gateway_id = aws_internet_gateway.gw.id\n  }"),
    );
    let plan = run(&["plan"]);
    plan.success();
    assert!(
        plan.stdout
            .contains("aws_route_table.public will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("replaced"), "{}", plan.stdout);
    run(&["apply", "--yes"]).success();
    assert!(routes().await.contains(&"192.0.2.0/24".to_string()));
    assert_eq!(id_of("aws_route_table.public"), table);
    assert_eq!(id_of("aws_route_table_association.a"), association);

    // And away again.
    p.write("main.hcl", &main(""));
    run(&["apply", "--yes"]).success();
    assert!(!routes().await.contains(&"192.0.2.0/24".to_string()));
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    run(&["destroy", "--yes"]).success();
}

/// Two copies of the example in two directories, both environment `pr-N`,
/// one account: every physical name carries its project's lineage, so
/// neither collides with the other (target groups, launch templates, load
/// balancers and groups are unique by name in an account).
#[tokio::test]
async fn two_projects_with_one_environment_name_apply_side_by_side() {
    let env = common::unique("twins");
    let (p1, k1) = common::project(&example());
    let (p2, k2) = common::project(&example());
    for k in [&k1, &k2] {
        let r = k.run(&["apply", "--yes", "--env", &env]);
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let name = |p: &common::TempProject, addr: &str| -> String {
        let s = p.state_json(&env).unwrap();
        s["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["addr"] == addr)
            .and_then(|r| r["attributes"]["name"].as_str())
            .unwrap_or_else(|| panic!("{addr} has a name"))
            .to_string()
    };
    // The target group's name begins with its name_prefix (Terraform's
    // meaning); the template, with none, is named after the environment.
    for (addr, start) in [
        ("aws_lb_target_group.web", "web-ami-".to_string()),
        ("aws_launch_template.web", format!("{env}-")),
    ] {
        let (a, b) = (name(&p1, addr), name(&p2, addr));
        assert_ne!(a, b, "{addr}: two projects, two names");
        assert!(a.starts_with(&start), "{a}");
    }
    for k in [&k1, &k2] {
        let r = k.run(&["destroy", "--yes", "--env", &env]);
        assert_eq!(r.code, 0, "{}", r.all());
    }
}

/// `dynamic` blocks as registry modules write them: one ingress rule per
/// element of a variable, an empty plan after, and a new port replaces the
/// group (a stateless resource), with the new rule in place.
#[tokio::test]
async fn dynamic_ingress_rules_from_a_variable() {
    let c = common::clients().await;
    let env = common::unique("dyn");
    let (_p, k) = common::project(
        r#"
variable "ports" {
  type    = list(number)
  default = [80, 443]
}

resource "aws_vpc" "main" {
  cidr_block = "10.31.0.0/16"
}

resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
  dynamic "ingress" {
    for_each = var.ports
    iterator = port
    content {
      from_port   = port.value
      to_port     = port.value
      protocol    = "tcp"
      cidr_blocks = [aws_vpc.main.cidr_block]
    }
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    let open_ports = |c: &Clients| {
        let c = c.clone();
        let env = env.clone();
        async move {
            let groups = c
                .ec2
                .describe_security_groups()
                .filters(env_filter(&env))
                .send()
                .await
                .unwrap()
                .security_groups()
                .to_vec();
            assert_eq!(groups.len(), 1, "{groups:?}");
            let mut ports: Vec<i32> = groups[0]
                .ip_permissions()
                .iter()
                .filter_map(|p| p.from_port())
                .collect();
            ports.sort();
            ports
        }
    };
    run(&["apply", "--yes"]).success();
    assert_eq!(open_ports(&c).await, [80, 443]);
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let r = run(&["apply", "--yes", "--var", "ports=[80, 443, 8080]"]);
    r.success();
    assert!(
        r.stdout.contains("aws_security_group.web will be replaced"),
        "{}",
        r.stdout
    );
    assert_eq!(open_ports(&c).await, [80, 443, 8080]);
    run(&["destroy", "--yes", "--var", "ports=[80, 443, 8080]"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// `name` as Terraform users write it: the first target group gets the
/// name as written; a replacement while the live group holds it gets a
/// derived name, which the plan shows with why; the next replacement takes
/// the written name back. A second plan is empty each time.
#[tokio::test]
async fn a_written_name_never_collides_on_replacement() {
    let c = common::clients().await;
    let env = common::unique("names");
    let (_p, k) = common::project(
        r#"
variable "port" {
  default = 80
}

resource "aws_vpc" "main" {
  cidr_block = "10.32.0.0/16"
}

resource "aws_lb_target_group" "web" {
  name     = "tg-${kiln.env}"
  port     = var.port
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    let names = |c: &Clients| {
        let c = c.clone();
        let env = env.clone();
        async move {
            let mut names: Vec<String> = c
                .elb
                .describe_target_groups()
                .send()
                .await
                .unwrap()
                .target_groups()
                .iter()
                .filter_map(|g| g.target_group_name())
                .filter(|n| n.contains(env.as_str()))
                .map(str::to_string)
                .collect();
            names.sort();
            names
        }
    };
    let written = format!("tg-{env}");
    run(&["apply", "--yes"]).success();
    assert_eq!(names(&c).await, std::slice::from_ref(&written));
    run(&["plan", "--detailed-exitcode"]).expect_code(0);

    let r = run(&["apply", "--yes", "--var", "port=8080"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_lb_target_group.web will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "name \"{written}\" is held by aws_lb_target_group.web"
        )),
        "the plan says why the name differs: {}",
        r.stdout
    );
    assert_eq!(names(&c).await, [format!("{written}-g2")]);
    run(&["plan", "--detailed-exitcode", "--var", "port=8080"]).expect_code(0);

    run(&["apply", "--yes", "--var", "port=9090"]).success();
    assert_eq!(
        names(&c).await,
        std::slice::from_ref(&written),
        "the written name back"
    );
    run(&["destroy", "--yes", "--var", "port=9090"]).success();
    assert!(names(&c).await.is_empty());
}

/// Terraform's older `aws_alb*` names are the ELBv2 types they stand for:
/// applied, re-planned empty, the listener moved in place, destroyed.
#[tokio::test]
async fn the_aws_alb_aliases_work_as_the_lb_types() {
    let c = common::clients().await;
    let env = common::unique("alb");
    let (_p, k) = common::project(
        r#"
variable "live" {
  default = "blue"
}
resource "aws_vpc" "main" {
  cidr_block = "10.51.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.51.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.51.2.0/24"
  availability_zone = "us-east-1b"
}
resource "aws_alb" "front" {
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
}
resource "aws_alb_target_group" "tg" {
  for_each = toset(["blue", "green"])
  name     = "${each.key}-${kiln.env}"
  port     = 80
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}
resource "aws_alb_listener" "http" {
  load_balancer_arn = aws_alb.front.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_alb_target_group.tg[var.live].arn
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let r = run(&["plan", "--var", "live=green"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_alb_listener.http will be updated in place"),
        "a traffic switch, as aws_lb_listener: {}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "live=green"]).success();
    run(&["destroy", "--yes", "--var", "live=green"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// Private subnets with NAT egress as Terraform users write it: an Elastic
/// IP and a NAT gateway in the public subnet, the private table's default
/// route to it (a `route` block) and a standalone `aws_route`. Applied,
/// re-planned empty; moving the standalone route's target from the NAT
/// gateway to the internet gateway is an in-place update that AWS then
/// reports; destroyed, nothing kiln made is left.
#[tokio::test]
async fn nat_egress_for_private_subnets() {
    let c = common::clients().await;
    let env = common::unique("nat");
    let (p, k) = common::project(
        r#"
variable "via" {
  default = "nat"
}
resource "aws_vpc" "main" {
  cidr_block = "10.52.0.0/16"
}
resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.52.1.0/24"
  map_public_ip_on_launch = true
}
resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.52.2.0/24"
}
resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.main.id
}
resource "aws_eip" "nat" {
  domain = "vpc"
  tags   = { Name = "nat" }
  depends_on = [aws_internet_gateway.gw]
}
resource "aws_nat_gateway" "nat" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public.id
  tags          = { Name = "nat" }
}
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }
}
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.nat.id
  }
}
resource "aws_route" "partner" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "192.168.0.0/16"
  nat_gateway_id         = var.via == "nat" ? aws_nat_gateway.nat.id : null
  gateway_id             = var.via == "igw" ? aws_internet_gateway.gw.id : null
}
resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}
resource "aws_route_table_association" "private" {
  subnet_id      = aws_subnet.private.id
  route_table_id = aws_route_table.private.id
}
output "nat_ip" {
  value = aws_nat_gateway.nat.public_ip
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let made = tagged(&c, &env).await;
    assert_eq!(common::count(&made, "nat-gateway"), 1, "{made:?}");
    assert_eq!(common::count(&made, "elastic-ip"), 1, "{made:?}");
    let eip = common::state_id(&p, &env, "aws_eip.nat");
    let addr = c
        .ec2
        .describe_addresses()
        .allocation_ids(&eip)
        .send()
        .await
        .unwrap();
    let public_ip = addr.addresses()[0].public_ip().unwrap().to_string();
    let out = run(&["output", "nat_ip"]);
    assert!(
        out.stdout.contains(&public_ip),
        "the NAT gateway's address is the Elastic IP's: {} vs {public_ip}",
        out.stdout
    );
    let private = common::state_id(&p, &env, "aws_route_table.private");
    let nat = common::state_id(&p, &env, "aws_nat_gateway.nat");
    let routes = |c: Clients, table: String| async move {
        let t = c
            .ec2
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .unwrap();
        t.route_tables()[0]
            .routes()
            .iter()
            .filter_map(|r| {
                let to = r.nat_gateway_id().or(r.gateway_id())?;
                Some((r.destination_cidr_block()?.to_string(), to.to_string()))
            })
            .collect::<BTreeMap<String, String>>()
    };
    let before = routes(c.clone(), private.clone()).await;
    assert_eq!(before.get("0.0.0.0/0"), Some(&nat), "{before:?}");
    assert_eq!(before.get("192.168.0.0/16"), Some(&nat), "{before:?}");
    let r = run(&["plan", "--var", "via=igw"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_route.partner will be updated in place")
            && !r.stdout.contains("replaced"),
        "a route's target moves in place: {}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "via=igw"]).success();
    let igw = common::state_id(&p, &env, "aws_internet_gateway.gw");
    let after = routes(c.clone(), private).await;
    assert_eq!(after.get("192.168.0.0/16"), Some(&igw), "{after:?}");
    assert_eq!(after.get("0.0.0.0/0"), Some(&nat), "{after:?}");
    run(&["plan", "--detailed-exitcode", "--var", "via=igw"]).expect_code(0);
    run(&["destroy", "--yes", "--var", "via=igw"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// Instance roles as Terraform users write them: a trust policy from an
/// `aws_iam_policy_document`, a role, a managed policy attached, an inline
/// policy, an instance profile named on the launch template. Applied,
/// re-planned empty; a new trust policy is a new role (and profile and
/// template) beside the old one, under a name that does not collide;
/// destroyed, nothing kiln made is left.
#[tokio::test]
async fn instance_roles_from_policy_documents() {
    let c = common::clients().await;
    let env = common::unique("iam");
    let (p, k) = common::project(
        r#"
variable "trusted" {
  default = "ec2.amazonaws.com"
}
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [var.trusted]
    }
  }
}
data "aws_iam_policy_document" "read" {
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["*"]
  }
}
resource "aws_iam_role" "web" {
  name               = "web-${kiln.env}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = { tier = "web" }
}
resource "aws_iam_policy" "read" {
  name_prefix = "read-"
  policy      = data.aws_iam_policy_document.read.json
}
resource "aws_iam_role_policy_attachment" "read" {
  role       = aws_iam_role.web.name
  policy_arn = aws_iam_policy.read.arn
}
resource "aws_iam_role_policy" "logs" {
  name = "logs"
  role = aws_iam_role.web.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "logs:PutLogEvents", Resource = "*" }]
  })
}
resource "aws_iam_instance_profile" "web" {
  name = "web-${kiln.env}"
  role = aws_iam_role.web.name
}
resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = "ami-1e749f67"
  instance_type = "t3.micro"
  iam_instance_profile {
    name = aws_iam_instance_profile.web.name
  }
}
output "trust" {
  value = data.aws_iam_policy_document.assume.minified_json
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let out = run(&["output", "trust"]);
    assert!(
        out.stdout.contains(
            r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"}}]}"#
        ),
        "the document as the Terraform AWS provider writes it: {}",
        out.stdout
    );
    let role = common::state_id(&p, &env, "aws_iam_role.web");
    assert_eq!(role, format!("web-{env}"), "the name as written");
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    let template = common::state_id(&p, &env, "aws_launch_template.web");
    let versions = c
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(&template)
        .send()
        .await
        .unwrap();
    let profile = versions.launch_template_versions()[0]
        .launch_template_data()
        .and_then(|d| d.iam_instance_profile())
        .and_then(|p| p.name())
        .map(str::to_string);
    assert_eq!(profile, Some(format!("web-{env}")));
    let made = tagged(&c, &env).await;
    assert_eq!(common::count(&made, "iam-role"), 1, "{made:?}");
    assert_eq!(common::count(&made, "iam-instance-profile"), 1, "{made:?}");
    assert_eq!(common::count(&made, "iam-policy"), 1, "{made:?}");

    // A new trust policy: a new role beside the live one, which holds the
    // written name, so the new one takes a derived name.
    let r = run(&["plan", "--var", "trusted=ecs-tasks.amazonaws.com"]);
    r.success();
    assert!(
        r.stdout.contains("aws_iam_role.web will be replaced")
            && r.stdout.contains(&format!("web-{env}-g2")),
        "{}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "trusted=ecs-tasks.amazonaws.com"]).success();
    let role2 = common::state_id(&p, &env, "aws_iam_role.web");
    assert_eq!(role2, format!("web-{env}-g2"));
    assert!(
        c.iam.get_role().role_name(&role).send().await.is_err(),
        "the old role is deleted after the new one took over"
    );
    run(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "trusted=ecs-tasks.amazonaws.com",
    ])
    .expect_code(0);
    run(&[
        "destroy",
        "--yes",
        "--var",
        "trusted=ecs-tasks.amazonaws.com",
    ])
    .success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// The older web tier: a launch configuration, a group using it, attached
/// to a target group by `aws_autoscaling_attachment` and waiting for
/// `min_elb_capacity` healthy targets, behind an ALB. Applied, re-planned
/// empty; a new image replaces the configuration and the group (and its
/// attachment) under names that do not collide with the live ones; both
/// generations never share a name; destroyed, nothing is left.
#[tokio::test]
async fn launch_configurations_and_attachments() {
    let c = common::clients().await;
    let env = common::unique("lc");
    let (p, k) = common::project(
        r#"
variable "ami" {
  default = "ami-1e749f67"
}
resource "aws_vpc" "main" {
  cidr_block = "10.53.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.53.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.53.2.0/24"
  availability_zone = "us-east-1b"
}
resource "aws_launch_configuration" "web" {
  name_prefix   = "web-"
  image_id      = var.ami
  instance_type = "t3.micro"
  user_data     = "echo hello"
  root_block_device {
    volume_size = 8
  }
}
resource "aws_autoscaling_group" "web" {
  name                 = "web-${kiln.env}"
  launch_configuration = aws_launch_configuration.web.name
  min_size             = 1
  max_size             = 2
  min_elb_capacity     = 1
  vpc_zone_identifier  = [aws_subnet.a.id, aws_subnet.b.id]
  termination_policies = ["OldestInstance"]
}
resource "aws_lb" "web" {
  name_prefix = "web-"
  subnets     = [aws_subnet.a.id, aws_subnet.b.id]
}
resource "aws_lb_target_group" "web" {
  name_prefix = "web-"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = aws_vpc.main.id
}
resource "aws_autoscaling_attachment" "web" {
  autoscaling_group_name = aws_autoscaling_group.web.id
  lb_target_group_arn    = aws_lb_target_group.web.arn
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let group = common::state_id(&p, &env, "aws_autoscaling_group.web");
    assert_eq!(group, format!("web-{env}"));
    let tg = common::state_id(&p, &env, "aws_lb_target_group.web");
    let described = c
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .unwrap();
    let g = &described.auto_scaling_groups()[0];
    assert_eq!(
        g.target_group_arns(),
        std::slice::from_ref(&tg),
        "attached by the attachment"
    );
    assert!(
        g.launch_configuration_name()
            .is_some_and(|n| n.starts_with("web-"))
    );

    let r = run(&["plan", "--var", "ami=ami-35e92e4c"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_launch_configuration.web will be replaced")
            && r.stdout
                .contains("aws_autoscaling_group.web will be replaced")
            && r.stdout.contains(&format!("web-{env}-g2")),
        "{}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "ami=ami-35e92e4c"]).success();
    let group2 = common::state_id(&p, &env, "aws_autoscaling_group.web");
    assert_eq!(group2, format!("web-{env}-g2"));
    let described = c
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group2)
        .send()
        .await
        .unwrap();
    assert_eq!(described.auto_scaling_groups()[0].target_group_arns(), [tg]);
    run(&["plan", "--detailed-exitcode", "--var", "ami=ami-35e92e4c"]).expect_code(0);
    run(&["destroy", "--yes", "--var", "ami=ami-35e92e4c"]).success();
    assert!(tagged(&c, &env).await.is_empty());
    let left = c.asg.describe_launch_configurations().send().await.unwrap();
    assert!(
        !left.launch_configurations().iter().any(|lc| lc
            .launch_configuration_name()
            .is_some_and(|n| n.contains(&env))),
        "no launch configuration of the environment is left"
    );
}

/// A launch template's blocks as Terraform users write them
/// (`network_interfaces`, `block_device_mappings` with `ebs`,
/// `tag_specifications`, `monitoring`, `metadata_options`) reach AWS as
/// written, with kiln's tags added to the launched instances' tags.
#[tokio::test]
async fn launch_template_blocks_as_terraform_writes_them() {
    let c = common::clients().await;
    let env = common::unique("ltb");
    let (p, k) = common::project(
        r#"
resource "aws_vpc" "main" {
  cidr_block = "10.54.0.0/16"
}
resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
}
resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = "ami-1e749f67"
  instance_type = "t3.micro"
  ebs_optimized = true
  network_interfaces {
    associate_public_ip_address = true
    delete_on_termination       = true
    security_groups             = [aws_security_group.web.id]
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 20
      volume_type = "gp3"
      encrypted   = true
    }
  }
  monitoring {
    enabled = true
  }
  metadata_options {
    http_tokens = "required"
  }
  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "web" }
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let id = common::state_id(&p, &env, "aws_launch_template.web");
    let sg = common::state_id(&p, &env, "aws_security_group.web");
    let versions = c
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(&id)
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    let nic = &data.network_interfaces()[0];
    assert_eq!(nic.associate_public_ip_address(), Some(true));
    assert_eq!(nic.groups(), std::slice::from_ref(&sg));
    let ebs = data.block_device_mappings()[0].ebs().unwrap();
    assert_eq!(ebs.volume_size(), Some(20));
    assert_eq!(ebs.encrypted(), Some(true));
    assert_eq!(data.monitoring().and_then(|m| m.enabled()), Some(true));
    assert_eq!(data.ebs_optimized(), Some(true));
    let instance_tags: BTreeMap<&str, &str> = data
        .tag_specifications()
        .iter()
        .filter(|s| s.resource_type().map(|r| r.as_str()) == Some("instance"))
        .flat_map(|s| s.tags())
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    assert_eq!(instance_tags.get("Name"), Some(&"web"));
    assert_eq!(instance_tags.get("kiln:env"), Some(&env.as_str()));
    run(&["destroy", "--yes"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// A group whose rules are separate resources, as modules write them: the
/// group (no inline rules) is not drift because of them; a rule's sources
/// change in place; `ipv6_cidr_blocks` and the newer per-rule resources
/// work alongside; destroyed, nothing is left.
#[tokio::test]
async fn security_group_rules_as_separate_resources() {
    let c = common::clients().await;
    let env = common::unique("sgr");
    let (p, k) = common::project(
        r#"
variable "office" {
  type    = list(string)
  default = ["203.0.113.0/24"]
}
resource "aws_vpc" "main" {
  cidr_block = "10.55.0.0/16"
}
resource "aws_security_group" "web" {
  name_prefix = "web-"
  vpc_id      = aws_vpc.main.id
}
resource "aws_security_group_rule" "https" {
  type              = "ingress"
  security_group_id = aws_security_group.web.id
  from_port         = 443
  to_port           = 443
  protocol          = "tcp"
  cidr_blocks       = var.office
  ipv6_cidr_blocks  = ["2001:db8::/32"]
}
resource "aws_vpc_security_group_ingress_rule" "http" {
  security_group_id = aws_security_group.web.id
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
  tags              = { Name = "http" }
}
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.web.id
  ip_protocol       = "-1"
  cidr_ipv4         = "10.0.0.0/8"
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let group = common::state_id(&p, &env, "aws_security_group.web");
    let sources = |c: Clients, group: String| async move {
        let out = c
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .unwrap();
        let g = &out.security_groups()[0];
        let mut found = BTreeSet::new();
        for p in g.ip_permissions() {
            for r in p.ip_ranges() {
                found.insert(format!(
                    "{}:{}",
                    p.from_port().unwrap_or(-1),
                    r.cidr_ip().unwrap()
                ));
            }
            for r in p.ipv6_ranges() {
                found.insert(format!(
                    "{}:{}",
                    p.from_port().unwrap_or(-1),
                    r.cidr_ipv6().unwrap()
                ));
            }
        }
        found
    };
    let before = sources(c.clone(), group.clone()).await;
    for want in ["443:203.0.113.0/24", "443:2001:db8::/32", "80:0.0.0.0/0"] {
        assert!(before.contains(want), "{want} in {before:?}");
    }
    let more = r#"office=["203.0.113.0/24","198.51.100.0/24"]"#;
    let r = run(&["plan", "--var", more]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_security_group_rule.https will be updated in place"),
        "{}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", more]).success();
    let after = sources(c.clone(), group.clone()).await;
    assert!(after.contains("443:198.51.100.0/24"), "{after:?}");
    assert!(after.contains("443:203.0.113.0/24"), "{after:?}");
    run(&["plan", "--detailed-exitcode", "--var", more]).expect_code(0);
    run(&["destroy", "--yes", "--var", more]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// Scaling as Terraform users write it: a simple scaling policy triggered
/// by a CPU alarm on the group, and a nightly schedule. Applied, re-planned
/// empty; a new threshold changes the alarm in place; a new image replaces
/// the group, and the alarm follows it in place (its dimension names the
/// new group, its action the new policy); destroyed, nothing is left.
#[tokio::test]
async fn scaling_policies_alarms_and_schedules() {
    let c = common::clients().await;
    let env = common::unique("scale");
    let (p, k) = common::project(
        r#"
variable "ami" {
  default = "ami-1e749f67"
}
variable "high" {
  default = 80
}
resource "aws_vpc" "main" {
  cidr_block = "10.56.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.56.1.0/24"
}
resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = var.ami
  instance_type = "t3.micro"
}
resource "aws_autoscaling_group" "web" {
  name_prefix         = "web-"
  min_size            = 1
  max_size            = 4
  vpc_zone_identifier = [aws_subnet.a.id]
  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
}
resource "aws_autoscaling_policy" "out" {
  name                   = "scale-out"
  autoscaling_group_name = aws_autoscaling_group.web.name
  adjustment_type        = "ChangeInCapacity"
  scaling_adjustment     = 1
  cooldown               = 300
}
resource "aws_cloudwatch_metric_alarm" "cpu" {
  alarm_name          = "cpu-high-${kiln.env}"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 2
  metric_name         = "CPUUtilization"
  namespace           = "AWS/EC2"
  period              = 120
  statistic           = "Average"
  threshold           = var.high
  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.web.name
  }
  alarm_actions = [aws_autoscaling_policy.out.arn]
}
resource "aws_autoscaling_schedule" "night" {
  scheduled_action_name  = "night"
  autoscaling_group_name = aws_autoscaling_group.web.name
  min_size               = 0
  max_size               = 1
  desired_capacity       = 0
  recurrence             = "0 22 * * *"
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let alarm = format!("cpu-high-{env}");
    let described = |c: Clients, name: String| async move {
        c.cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap()
            .metric_alarms()
            .to_vec()
    };
    let a = described(c.clone(), alarm.clone()).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].threshold(), Some(80.0));
    let group = common::state_id(&p, &env, "aws_autoscaling_group.web");
    assert_eq!(a[0].dimensions()[0].value(), Some(group.as_str()));

    let r = run(&["plan", "--var", "high=70"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_cloudwatch_metric_alarm.cpu will be updated in place"),
        "{}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "high=70"]).success();
    assert_eq!(
        described(c.clone(), alarm.clone()).await[0].threshold(),
        Some(70.0)
    );

    let vars = ["--var", "high=70", "--var", "ami=ami-35e92e4c"];
    let r = run(&[&["plan"][..], &vars[..]].concat());
    r.success();
    assert!(
        r.stdout
            .contains("aws_autoscaling_group.web will be replaced")
            && r.stdout
                .contains("aws_cloudwatch_metric_alarm.cpu will be updated in place"),
        "{}",
        r.stdout
    );
    run(&[&["apply", "--yes"][..], &vars[..]].concat()).success();
    let group2 = common::state_id(&p, &env, "aws_autoscaling_group.web");
    assert_ne!(group, group2);
    let a = described(c.clone(), alarm.clone()).await;
    assert_eq!(a[0].dimensions()[0].value(), Some(group2.as_str()));
    let policy = common::state_id(&p, &env, "aws_autoscaling_policy.out");
    let policies = c
        .asg
        .describe_policies()
        .auto_scaling_group_name(&group2)
        .send()
        .await
        .unwrap();
    // The replacement's name is derived while the live policy holds the
    // written one (the physical-name rule; outside the default environment
    // the written name carries the environment's).
    let derived = format!("scale-out-{env}-g2");
    assert_eq!(policy, format!("{group2}/{derived}"));
    assert_eq!(
        policies.scaling_policies()[0].policy_name(),
        Some(derived.as_str())
    );
    assert_eq!(
        a[0].alarm_actions(),
        [policies.scaling_policies()[0]
            .policy_arn()
            .unwrap()
            .to_string()]
    );
    run(&[&["plan", "--detailed-exitcode"][..], &vars[..]].concat()).expect_code(0);
    run(&[&["destroy", "--yes"][..], &vars[..]].concat()).success();
    assert!(described(c.clone(), alarm).await.is_empty());
    assert!(tagged(&c, &env).await.is_empty());
}

/// An HTTPS front as Terraform users write it: load balancer attributes,
/// port 80 redirecting to 443, an HTTPS listener (an ACM certificate, once
/// issued; a TLS policy)
/// answering 404 by default, and a rule sending `/app/*` to the target
/// group. Applied, re-planned empty; the idle timeout and the rule's
/// priority and path change in place; destroyed, nothing is left.
#[tokio::test]
async fn https_listeners_redirects_and_rules() {
    let c = common::clients().await;
    let env = common::unique("https");
    let (p, k) = common::project(
        r#"
variable "idle" {
  default = 60
}
variable "path" {
  default = "/app/*"
}
resource "aws_vpc" "main" {
  cidr_block = "10.57.0.0/16"
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.57.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.57.2.0/24"
  availability_zone = "us-east-1b"
}
resource "aws_lb" "front" {
  name_prefix                = "front-"
  subnets                    = [aws_subnet.a.id, aws_subnet.b.id]
  idle_timeout               = var.idle
  enable_http2               = true
  enable_deletion_protection = false
}
resource "aws_lb_target_group" "app" {
  name_prefix = "app-"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = aws_vpc.main.id
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.front.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
resource "aws_acm_certificate" "front" {
  domain_name       = "front.${kiln.env}.example.com"
  validation_method = "DNS"
}
resource "aws_acm_certificate_validation" "front" {
  certificate_arn = aws_acm_certificate.front.arn
}
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.front.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.front.certificate_arn
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not here"
      status_code  = "404"
    }
  }
}
resource "aws_lb_listener_rule" "app" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
  condition {
    path_pattern {
      values = [var.path]
    }
  }
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let lb = common::state_id(&p, &env, "aws_lb.front");
    let idle = |c: Clients, lb: String| async move {
        let attrs = c
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(lb)
            .send()
            .await
            .unwrap();
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
            .and_then(|a| a.value().map(str::to_string))
    };
    assert_eq!(idle(c.clone(), lb.clone()).await.as_deref(), Some("60"));
    let listeners = c
        .elb
        .describe_listeners()
        .load_balancer_arn(&lb)
        .send()
        .await
        .unwrap();
    let http = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(80))
        .unwrap();
    let redirect = http.default_actions()[0].redirect_config().unwrap();
    assert_eq!(redirect.protocol(), Some("HTTPS"));
    assert_eq!(redirect.port(), Some("443"));
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .unwrap();
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    let cert = common::state_id(&p, &env, "aws_acm_certificate.front");
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(cert.as_str()),
        "the listener serves the issued ACM certificate"
    );
    let fixed = https.default_actions()[0].fixed_response_config().unwrap();
    assert_eq!(fixed.status_code(), Some("404"));

    let vars = ["--var", "idle=120", "--var", "path=/api/*"];
    let r = run(&[&["plan"][..], &vars[..]].concat());
    r.success();
    for line in [
        "aws_lb.front will be updated in place",
        "aws_lb_listener_rule.app will be updated in place",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?}:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("replaced"), "{}", r.stdout);
    run(&[&["apply", "--yes"][..], &vars[..]].concat()).success();
    assert_eq!(idle(c.clone(), lb.clone()).await.as_deref(), Some("120"));
    let rule = common::state_id(&p, &env, "aws_lb_listener_rule.app");
    let rules = c
        .elb
        .describe_rules()
        .rule_arns(&rule)
        .send()
        .await
        .unwrap();
    let values = rules.rules()[0].conditions()[0]
        .path_pattern_config()
        .map(|p| p.values().to_vec())
        .unwrap_or_default();
    assert_eq!(values, ["/api/*"]);
    run(&[&["plan", "--detailed-exitcode"][..], &vars[..]].concat()).expect_code(0);
    run(&[&["destroy", "--yes"][..], &vars[..]].concat()).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// Private DNS as Terraform users write it: a private zone on the VPC, a
/// plain record with a relative name, an alias to the load balancer, and a
/// weighted pair. Applied, re-planned empty; a weight changes in place;
/// destroyed, the zone and its records are gone.
#[tokio::test]
async fn private_dns_records_and_weights() {
    let c = common::clients().await;
    let env = common::unique("dns");
    let (p, k) = common::project(
        r#"
variable "blue" {
  type    = number
  default = 100
}
resource "aws_vpc" "main" {
  cidr_block           = "10.59.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.59.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.59.2.0/24"
  availability_zone = "us-east-1b"
}
resource "aws_lb" "api" {
  name_prefix = "api-"
  internal    = true
  subnets     = [aws_subnet.a.id, aws_subnet.b.id]
}
resource "aws_route53_zone" "internal" {
  name = "internal.${kiln.env}.test"
  vpc {
    vpc_id = aws_vpc.main.id
  }
}
resource "aws_route53_record" "db" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "db"
  type    = "A"
  ttl     = 60
  records = ["10.59.1.10"]
}
resource "aws_route53_record" "api" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "api.internal.${kiln.env}.test"
  type    = "A"
  alias {
    name                   = aws_lb.api.dns_name
    zone_id                = aws_lb.api.zone_id
    evaluate_target_health = true
  }
}
resource "aws_route53_record" "web" {
  for_each       = { blue = var.blue, green = 100 - var.blue }
  zone_id        = aws_route53_zone.internal.zone_id
  name           = "web"
  type           = "CNAME"
  ttl            = 30
  records        = ["${each.key}.internal.${kiln.env}.test"]
  set_identifier = each.key
  weighted_routing_policy {
    weight = each.value
  }
}
output "db" {
  value = aws_route53_record.db.fqdn
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let out = run(&["output", "db"]);
    assert!(
        out.stdout.contains(&format!("db.internal.{env}.test")),
        "a relative name is in the zone: {}",
        out.stdout
    );
    let zone = common::state_id(&p, &env, "aws_route53_zone.internal");
    let weights = |c: Clients, zone: String| async move {
        let sets = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .unwrap();
        sets.resource_record_sets()
            .iter()
            .filter(|r| r.set_identifier().is_some())
            .map(|r| {
                (
                    r.set_identifier().unwrap().to_string(),
                    r.weight().unwrap_or(-1),
                )
            })
            .collect::<BTreeMap<String, i64>>()
    };
    let before = weights(c.clone(), zone.clone()).await;
    assert_eq!(before.get("blue"), Some(&100), "{before:?}");
    assert_eq!(before.get("green"), Some(&0), "{before:?}");
    let r = run(&["plan", "--var", "blue=10"]);
    r.success();
    assert!(
        r.stdout
            .contains("aws_route53_record.web[\"blue\"] will be updated in place")
            && !r.stdout.contains("replaced"),
        "{}",
        r.stdout
    );
    run(&["apply", "--yes", "--var", "blue=10"]).success();
    let after = weights(c.clone(), zone.clone()).await;
    assert_eq!(after.get("blue"), Some(&10), "{after:?}");
    assert_eq!(after.get("green"), Some(&90), "{after:?}");
    run(&["plan", "--detailed-exitcode", "--var", "blue=10"]).expect_code(0);
    // A hosted zone is stateful (its name servers are delegated to): a
    // destroy names it.
    let refused = run(&["destroy", "--yes", "--var", "blue=10"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .all()
            .contains("--allow-destroy aws_route53_zone.internal"),
        "{}",
        refused.all()
    );
    run(&[
        "destroy",
        "--yes",
        "--var",
        "blue=10",
        "--allow-destroy",
        "aws_route53_zone.internal",
    ])
    .success();
    let gone = c.route53.get_hosted_zone().id(&zone).send().await;
    assert!(gone.is_err(), "the zone is deleted");
    assert!(tagged(&c, &env).await.is_empty());
}

/// What the most-used community VPC module makes with its usual inputs,
/// written out: public and private subnets in two zones, a NAT gateway per
/// zone, and the VPC's default security group, route table and network ACL
/// taken under management (the default group left with no rules). Applied,
/// re-planned empty; destroyed, nothing is left.
#[tokio::test]
async fn the_vpc_module_shape_with_default_objects() {
    let c = common::clients().await;
    let env = common::unique("vpcm");
    let (p, k) = common::project(
        r#"
locals {
  azs             = ["us-east-1a", "us-east-1b"]
  public_subnets  = ["10.60.101.0/24", "10.60.102.0/24"]
  private_subnets = ["10.60.1.0/24", "10.60.2.0/24"]
}
resource "aws_vpc" "this" {
  cidr_block           = "10.60.0.0/16"
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags                 = { Name = "main" }
}
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "main-default" }
}
resource "aws_default_route_table" "default" {
  default_route_table_id = aws_vpc.this.main_route_table_id
  tags                   = { Name = "main-default" }
}
resource "aws_default_network_acl" "this" {
  default_network_acl_id = aws_vpc.this.default_network_acl_id
  ingress {
    protocol   = "-1"
    rule_no    = 100
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
  }
  egress {
    protocol   = "-1"
    rule_no    = 100
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
  }
}
resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}
resource "aws_subnet" "public" {
  count                   = length(local.public_subnets)
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.public_subnets[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = true
}
resource "aws_subnet" "private" {
  count             = length(local.private_subnets)
  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_subnets[count.index]
  availability_zone = local.azs[count.index]
}
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
}
resource "aws_route" "public_internet_gateway" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}
resource "aws_route_table_association" "public" {
  count          = length(local.public_subnets)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}
resource "aws_eip" "nat" {
  count  = length(local.azs)
  domain = "vpc"
}
resource "aws_nat_gateway" "this" {
  count         = length(local.azs)
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  depends_on    = [aws_internet_gateway.this]
}
resource "aws_route_table" "private" {
  count  = length(local.azs)
  vpc_id = aws_vpc.this.id
}
resource "aws_route" "private_nat_gateway" {
  count                  = length(local.azs)
  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[count.index].id
}
resource "aws_route_table_association" "private" {
  count          = length(local.private_subnets)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let made = tagged(&c, &env).await;
    assert_eq!(common::count(&made, "nat-gateway"), 2, "{made:?}");
    assert_eq!(common::count(&made, "subnet"), 4, "{made:?}");
    let sg = common::state_id(&p, &env, "aws_default_security_group.this");
    let g = c
        .ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap();
    let g = &g.security_groups()[0];
    assert_eq!(g.group_name(), Some("default"));
    assert!(
        g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty(),
        "the default group keeps no rules: {g:?}"
    );
    run(&["destroy", "--yes"]).success();
    assert!(tagged(&c, &env).await.is_empty());
}

/// A state written before a type or a block gained attributes (a launch
/// template without `monitoring`, a VPC without `default_network_acl_id`,
/// security group rules without `ipv6_cidr_blocks`, `prefix_list_ids` and
/// `self`, routes without the newer targets) plans no change: the refresh
/// gives blocks the new attributes as null, as the configuration has them.
#[tokio::test]
async fn a_state_from_before_new_block_attributes_plans_no_change() {
    let env = common::unique("shape");
    let (p, k) = common::project(
        r#"
resource "aws_vpc" "main" {
  cidr_block = "10.61.0.0/16"
}
resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.main.id
}
resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }
}
resource "aws_launch_template" "web" {
  name_prefix   = "web-"
  image_id      = "ami-1e749f67"
  instance_type = "t3.micro"
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    k.run(&["apply", "--yes"]).success();
    // Strip what older versions did not write: attributes inside blocks,
    // and whole attributes the types gained.
    let path = format!(".kiln/{env}/state.json");
    let mut st: serde_json::Value = serde_json::from_str(&p.read(&path)).unwrap();
    for r in st["resources"].as_array_mut().unwrap() {
        let attrs = r["attributes"].as_object_mut().unwrap();
        for top in [
            "ebs_optimized",
            "monitoring",
            "metadata_options",
            "network_interfaces",
            "default_route_table_id",
            "default_network_acl_id",
        ] {
            attrs.remove(top);
        }
        for (attr, gone) in [
            (
                "ingress",
                &["ipv6_cidr_blocks", "prefix_list_ids", "self"][..],
            ),
            (
                "route",
                &["nat_gateway_id", "transit_gateway_id", "vpc_endpoint_id"][..],
            ),
        ] {
            if let Some(list) = r["attributes"][attr].as_array_mut() {
                for block in list {
                    for key in gone {
                        block.as_object_mut().unwrap().remove(*key);
                    }
                }
            }
        }
    }
    p.write(&path, &serde_json::to_string_pretty(&st).unwrap());
    let r = k.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    k.run(&["destroy", "--yes"]).success();
}

/// The DNS validation every Terraform configuration with an ACM certificate
/// writes (the registry's example, unchanged): records `for_each` over
/// `domain_validation_options` keyed by domain name — known at plan time,
/// before the certificate exists — then the validation resource waits on
/// their names. Applied, re-planned empty, destroyed.
#[tokio::test]
async fn acm_dns_validation_records_for_each_over_validation_options() {
    let c = common::clients().await;
    let env = common::unique("acmdns");
    let (p, k) = common::project(
        r#"
resource "aws_route53_zone" "main" {
  name = "${kiln.env}.example.com"
}
resource "aws_acm_certificate" "cert" {
  domain_name               = "${kiln.env}.example.com"
  subject_alternative_names = ["www.${kiln.env}.example.com"]
  validation_method         = "DNS"
}
resource "aws_route53_record" "validation" {
  for_each = {
    for dvo in aws_acm_certificate.cert.domain_validation_options : dvo.domain_name => {
      name   = dvo.resource_record_name
      record = dvo.resource_record_value
      type   = dvo.resource_record_type
    }
  }
  allow_overwrite = true
  name            = each.value.name
  records         = [each.value.record]
  ttl             = 60
  type            = each.value.type
  zone_id         = aws_route53_zone.main.zone_id
}
resource "aws_acm_certificate_validation" "cert" {
  certificate_arn         = aws_acm_certificate.cert.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}
output "validated" {
  value = aws_acm_certificate_validation.cert.certificate_arn
}
"#,
    );
    let k = k.env("KILN_ENV", &env);
    let run = |args: &[&str]| k.run(args);
    let plan = run(&["plan"]);
    plan.success();
    for name in [
        format!("aws_route53_record.validation[\"{env}.example.com\"]"),
        format!("aws_route53_record.validation[\"www.{env}.example.com\"]"),
    ] {
        assert!(
            plan.stdout.contains(&name),
            "planned by key: {}",
            plan.stdout
        );
    }
    run(&["apply", "--yes"]).success();
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let zone = common::state_id(&p, &env, "aws_route53_zone.main");
    let records = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    let cnames = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.r#type().as_str() == "CNAME")
        .count();
    assert_eq!(cnames, 2, "one validation record per name");
    let cert = common::state_id(&p, &env, "aws_acm_certificate.cert");
    let out = run(&["output", "validated"]);
    assert!(out.stdout.contains(&cert), "{}", out.stdout);
    run(&[
        "destroy",
        "--yes",
        "--allow-destroy",
        "aws_route53_zone.main",
    ])
    .success();
    assert!(
        common::tagged(&c, &env).await.is_empty(),
        "nothing left: {:?}",
        common::tagged(&c, &env).await
    );
}

/// A VPC `10.N.0.0/16` and a subnet `10.N.1.0/24` in us-east-1a made on
/// the emulator outside kiln (as Terraform, or a person, made them).
async fn vpc_and_subnet_outside_kiln(c: &Clients, n: u8) -> (String, String) {
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block(format!("10.{n}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = c
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block(format!("10.{n}.1.0/24"))
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    (vpc, subnet)
}

/// `kiln state import-terraform` on objects Terraform made: a VPC, a
/// subnet and a security group created on the emulator outside kiln, a
/// state file written as Terraform's AWS provider writes one (format
/// version 4, every argument present, unset ones as zero values), and the
/// configuration it was applied from. The import creates and deletes
/// nothing, and the next plan replaces nothing.
#[tokio::test]
async fn a_terraform_state_of_aws_objects_is_adopted_without_replacements() {
    let c = common::clients().await;
    let env = common::unique("tfimport");
    let (vpc, subnet) = vpc_and_subnet_outside_kiln(&c, 77).await;
    let sg_name = format!("{env}-web");
    let sg = c
        .ec2
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
    let tfstate = serde_json::json!({
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 3,
        "lineage": "0b8c3a4e-terraform",
        "outputs": {},
        "resources": [
            {"mode": "managed", "type": "aws_vpc", "name": "main",
             "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"schema_version": 1, "attributes": {
                "id": vpc, "arn": format!("arn:aws:ec2:us-east-1:123456789012:vpc/{vpc}"),
                "assign_generated_ipv6_cidr_block": false, "cidr_block": "10.77.0.0/16",
                "default_network_acl_id": "", "default_route_table_id": "", "default_security_group_id": "",
                "dhcp_options_id": "", "enable_dns_hostnames": false, "enable_dns_support": true,
                "enable_network_address_usage_metrics": false, "instance_tenancy": "default",
                "ipv4_ipam_pool_id": null, "ipv4_netmask_length": null, "ipv6_association_id": "",
                "ipv6_cidr_block": "", "ipv6_cidr_block_network_border_group": "", "ipv6_ipam_pool_id": "",
                "ipv6_netmask_length": 0, "main_route_table_id": "", "owner_id": "123456789012",
                "tags": null, "tags_all": {}},
              "sensitive_attributes": [], "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ=="}]},
            {"mode": "managed", "type": "aws_subnet", "name": "a",
             "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"schema_version": 1, "attributes": {
                "id": subnet, "arn": "", "assign_ipv6_address_on_creation": false,
                "availability_zone": "us-east-1a", "availability_zone_id": "use1-az1",
                "cidr_block": "10.77.1.0/24", "customer_owned_ipv4_pool": "",
                "enable_dns64": false, "enable_lni_at_device_index": 0,
                "enable_resource_name_dns_a_record_on_launch": false,
                "enable_resource_name_dns_aaaa_record_on_launch": false,
                "ipv6_cidr_block": "", "ipv6_cidr_block_association_id": "", "ipv6_native": false,
                "map_customer_owned_ip_on_launch": false, "map_public_ip_on_launch": false,
                "outpost_arn": "", "owner_id": "123456789012", "private_dns_hostname_type_on_launch": "ip-name",
                "tags": null, "tags_all": {}, "timeouts": null, "vpc_id": vpc},
              "sensitive_attributes": [], "dependencies": ["aws_vpc.main"]}]},
            {"mode": "managed", "type": "aws_security_group", "name": "web",
             "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"schema_version": 1, "attributes": {
                "id": sg, "arn": "", "description": "web", "egress": [], "ingress": [],
                "name": sg_name, "name_prefix": "", "owner_id": "123456789012",
                "revoke_rules_on_delete": false, "tags": null, "tags_all": {}, "timeouts": null,
                "vpc_id": vpc},
              "sensitive_attributes": [], "dependencies": ["aws_vpc.main"]}]}
        ]
    });
    let (p, k) = common::project(&format!(
        r#"resource "aws_vpc" "main" {{
  cidr_block = "10.77.0.0/16"
}}
resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.77.1.0/24"
  availability_zone = "us-east-1a"
}}
resource "aws_security_group" "web" {{
  name        = "{sg_name}"
  description = "web"
  vpc_id      = aws_vpc.main.id
}}
"#
    ));
    p.write("terraform.tfstate", &tfstate.to_string());
    let k = k.env("KILN_ENV", &env);
    let r = k.run(&["state", "import-terraform", "terraform.tfstate"]);
    r.success();
    assert!(r.stderr.contains("Imported 3 object(s)"), "{}", r.stderr);
    assert_eq!(common::state_id(&p, &env, "aws_vpc.main"), vpc);
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        !plan.stdout.contains("will be replaced") && !plan.stdout.contains("will be created"),
        "the import replaces nothing:\n{}",
        plan.stdout
    );
    // The objects are kiln's now: destroy removes them.
    k.run(&["destroy", "--yes"]).success();
    let left = c
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .map(|o| o.vpcs().len())
        .unwrap_or(0);
    assert_eq!(left, 0, "the adopted VPC is destroyed with the rest");
}

/// `import` blocks and `kiln import`: objects made outside kiln adopted by
/// id — planned as imports (no create, no replacement), journaled with the
/// apply, idempotent once done; an id with no object behind it is a clear
/// error with nothing changed.
#[tokio::test]
async fn import_blocks_and_kiln_import_adopt_objects_by_id() {
    let c = common::clients().await;
    let env = common::unique("importblk");
    let (vpc, subnet) = vpc_and_subnet_outside_kiln(&c, 78).await;
    let vpc_block = format!(
        r#"variable "vpc_id" {{
  default = "{vpc}"
}}
resource "aws_vpc" "main" {{
  cidr_block = "10.78.0.0/16"
}}
import {{
  to = aws_vpc.main
  id = var.vpc_id
}}
"#
    );
    let subnet_block = r#"resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.78.1.0/24"
  availability_zone = "us-east-1a"
}
"#;
    let (p, k) = common::project(&vpc_block);
    let k = k.env("KILN_ENV", &env);
    // The VPC by its import block: planned as an import, nothing created.
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        plan.stdout
            .contains(&format!("aws_vpc.main will be imported (id {vpc})")),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("will be created") && !plan.stdout.contains("will be replaced"),
        "{}",
        plan.stdout
    );
    k.run(&["apply", "--yes"]).success();
    assert_eq!(common::state_id(&p, &env, "aws_vpc.main"), vpc);
    // Done once: the block stays harmless.
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    // The subnet by hand, once its block is written; a wrong id first.
    p.write("main.hcl", &format!("{vpc_block}{subnet_block}"));
    let r = k.run(&["import", "aws_subnet.a", "subnet-0000nope"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no aws_subnet with id"), "{}", r.stderr);
    k.run(&["import", "aws_subnet.a", &subnet]).success();
    assert_eq!(common::state_id(&p, &env, "aws_subnet.a"), subnet);
    // Both are marked as kiln's now (its tags, with the idempotency key).
    let marked = tagged(&c, &env).await;
    assert!(
        marked.contains(&format!("vpc {vpc}")) && marked.contains(&format!("subnet {subnet}")),
        "{marked:?}"
    );
    let plan = k.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "nothing to change after the imports: {}",
        plan.stdout
    );
    k.run(&["destroy", "--yes"]).success();
}
