//! Mistakes and refusals, through the real `kiln` binary on the emulator:
//! each a clear error naming the resource, with a consistent state.

mod common;

const PROVIDER: &str = r#"
provider "aws" {
  region = "us-east-1"
}
"#;

fn env_args(env: &str) -> Vec<String> {
    vec!["--env".into(), env.into()]
}

fn run(k: &common::Kiln, env: &str, args: &[&str]) -> kiln_testkit::Run {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.extend(env_args(env));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    k.run(&refs)
}

#[test]
fn an_unknown_attribute_is_located_and_named() {
    let (_p, k) = common::project(&format!(
        "{PROVIDER}\nresource \"aws_vpc\" \"main\" {{\n  cidr_blok = \"10.0.0.0/16\"\n}}\n"
    ));
    let r = run(&k, &common::unique("bad"), &["plan"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(all.contains("unknown attribute \"cidr_blok\""), "{all}");
    assert!(all.contains("cidr_block"), "a suggestion: {all}");
    assert!(all.contains("main.hcl:"), "located: {all}");
}

#[test]
fn a_name_with_a_prefix_it_does_not_begin_with_is_refused() {
    let (_p, k) = common::project(&format!(
        "{PROVIDER}\nresource \"aws_lb_target_group\" \"web\" {{\n  name        = \"web\"\n  name_prefix = \"api-\"\n  port        = 80\n  protocol    = \"HTTP\"\n}}\n"
    ));
    let r = run(&k, &common::unique("bad"), &["plan"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(
        all.contains("aws_lb_target_group.web: name and name_prefix conflict: set one of them"),
        "{all}"
    );
}

#[test]
fn an_invalid_cidr_names_the_resource() {
    let (p, k) = common::project(&format!(
        "{PROVIDER}\nresource \"aws_vpc\" \"main\" {{\n  cidr_block = \"10.0.0.0/99\"\n}}\n"
    ));
    let env = common::unique("bad");
    // The plan already refuses it, located at the block.
    let r = run(&k, &env, &["plan"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(
        all.contains("aws_vpc.main: cidr_block \"10.0.0.0/99\" is not a valid IPv4 CIDR block"),
        "{all}"
    );
    assert!(all.contains("main.hcl:"), "{all}");
    let r = run(&k, &env, &["apply", "--yes"]);
    assert_ne!(r.code, 0);
    assert!(
        r.all().contains("not a valid IPv4 CIDR block"),
        "{}",
        r.all()
    );
    assert!(common::state_addrs(&p, &env).is_empty(), "nothing recorded");
}

#[test]
fn a_missing_ami_names_the_resource_and_keeps_state_consistent() {
    let (p, k) = common::project(&format!(
        r#"{PROVIDER}
resource "aws_security_group" "web" {{
  description = "ok"
}}

resource "aws_launch_template" "web" {{
  image_id               = "ami-00000000deadbeef0"
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.web.id]
}}
"#
    ));
    let env = common::unique("bad");
    let r = run(&k, &env, &["apply", "--yes"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(all.contains("aws_launch_template.web"), "{all}");
    assert!(all.contains("ami-00000000deadbeef0"), "{all}");
    assert!(all.contains("does not exist"), "{all}");
    // The apply rolled back: the security group it created is gone again.
    assert!(all.contains("was rolled back"), "{all}");
    assert!(common::state_addrs(&p, &env).is_empty());
    run(&k, &env, &["destroy", "--yes"]).success();
}

#[test]
fn an_api_error_from_the_emulator_names_the_resource() {
    // A subnet outside its VPC's range: AWS (and moto) refuse it.
    let (p, k) = common::project(&format!(
        r#"{PROVIDER}
resource "aws_vpc" "main" {{
  cidr_block = "10.40.0.0/16"
}}

resource "aws_subnet" "a" {{
  vpc_id     = aws_vpc.main.id
  cidr_block = "192.168.1.0/24"
}}
"#
    ));
    let env = common::unique("bad");
    let r = run(&k, &env, &["apply", "--yes"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(all.contains("aws_subnet.a"), "{all}");
    assert!(all.contains("CreateSubnet failed"), "{all}");
    // Rolled back: the VPC this apply created was deleted on the emulator.
    assert!(
        all.contains("aws_vpc.main: rolled back: destroyed the new object vpc-"),
        "{all}"
    );
    assert!(common::state_addrs(&p, &env).is_empty());
    run(&k, &env, &["destroy", "--yes"]).success();
}

#[test]
fn renaming_a_bucket_is_refused_naming_the_flag() {
    let env = common::unique("bkt");
    let main = |name: &str| {
        format!("{PROVIDER}\nresource \"aws_s3_bucket\" \"data\" {{\n  bucket = \"{name}\"\n}}\n")
    };
    let (p, k) = common::project(&main(&format!("{env}-a")));
    run(&k, &env, &["apply", "--yes"]).success();
    p.write("main.hcl", &main(&format!("{env}-b")));
    let r = run(&k, &env, &["plan"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(all.contains("aws_s3_bucket.data"), "{all}");
    assert!(all.contains("--allow-replace aws_s3_bucket.data"), "{all}");
    // Destroying it must be named too.
    let r = run(&k, &env, &["destroy", "--yes"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("--allow-destroy"), "{}", r.all());
    run(
        &k,
        &env,
        &["destroy", "--yes", "--allow-destroy", "aws_s3_bucket.data"],
    )
    .success();
}

#[test]
fn a_replacement_that_would_collide_is_refused_at_plan_time() {
    let main = |az: &str| {
        format!(
            r#"{PROVIDER}
resource "aws_vpc" "main" {{
  cidr_block = "10.60.0.0/16"
}}

resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.60.1.0/24"
  availability_zone = "{az}"
}}
"#
        )
    };
    let (p, k) = common::project(&main("us-east-1a"));
    let env = common::unique("collide");
    run(&k, &env, &["apply", "--yes"]).success();
    let subnet = common::state_addrs(&p, &env);
    // Another zone forces a new subnet, but with the same range it could
    // not be created beside the old one: the plan says so, nothing runs.
    p.write("main.hcl", &main("us-east-1b"));
    let r = run(&k, &env, &["apply", "--yes"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(
        all.contains(
            "aws_subnet.a would be replaced, but the new object would keep vpc_id and cidr_block"
        ),
        "{all}"
    );
    assert!(all.contains("cidr_block = \"10.60.1.0/24\""), "{all}");
    assert!(all.contains("main.hcl:"), "{all}");
    assert!(!all.contains("creating"), "nothing was started: {all}");
    assert_eq!(common::state_addrs(&p, &env), subnet);
    // With a new range too, the replacement goes through.
    p.write(
        "main.hcl",
        &main("us-east-1b").replace("10.60.1.0/24", "10.60.2.0/24"),
    );
    run(&k, &env, &["apply", "--yes"]).success();
    run(&k, &env, &["destroy", "--yes"]).success();
}

/// A bucket that exists already — in us-east-1, CreateBucket answers
/// success for one the account owns — is refused, never taken over: its
/// tags are untouched and nothing is recorded. Two resources naming one
/// bucket are refused at plan time.
#[tokio::test]
async fn a_bucket_kiln_did_not_create_is_never_taken_over() {
    let c = common::clients().await;
    let name = common::unique("someones").to_lowercase();
    c.s3.create_bucket().bucket(&name).send().await.unwrap();
    c.s3.put_bucket_tagging()
        .bucket(&name)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("owner")
                        .value("someone")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (p, k) = common::project(&format!(
        "{PROVIDER}\nresource \"aws_s3_bucket\" \"data\" {{\n  bucket = \"{name}\"\n}}\n"
    ));
    let env = common::unique("owned");
    let r = run(&k, &env, &["apply", "--yes"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(all.contains("already exists in this account"), "{all}");
    assert!(all.contains("kiln did not create it"), "{all}");
    assert!(common::state_addrs(&p, &env).is_empty(), "nothing recorded");
    let tags =
        c.s3.get_bucket_tagging()
            .bucket(&name)
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = tags.tag_set().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["owner"], "the bucket's tags are untouched");

    let twice = common::unique("twice").to_lowercase();
    let (_p, k) = common::project(&format!(
        "{PROVIDER}\nresource \"aws_s3_bucket\" \"a\" {{\n  bucket = \"{twice}\"\n}}\nresource \"aws_s3_bucket\" \"b\" {{\n  bucket = \"{twice}\"\n}}\n"
    ));
    let r = run(&k, &env, &["plan"]);
    assert_ne!(r.code, 0);
    let all = r.all();
    assert!(
        all.contains("aws_s3_bucket.b and aws_s3_bucket.a would both have bucket"),
        "{all}"
    );
    assert!(all.contains("main.hcl:"), "located: {all}");
}
