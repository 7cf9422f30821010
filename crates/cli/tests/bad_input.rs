//! Bad input: every mistake gets a clear error, a location where there is
//! one, a non-zero exit, and nothing written.

mod common;

use common::*;

/// Plans `main` and expects exit 1 with every `needles` in stderr, and no state.
#[track_caller]
fn check(main: &str, needles: &[&str]) {
    let (p, k) = project(main);
    let r = k.run(&["plan"]);
    r.expect_code(1);
    for n in needles {
        assert!(r.stderr.contains(n), "expected {n:?} in:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(p.state_json("default").is_none(), "nothing was written");
}

#[test]
fn malformed_hcl() {
    check(
        "resource \"null_resource\" \"a\" {\n  triggers = {\n}\n",
        &["main.hcl:"],
    );
}

#[test]
fn unknown_resource_type() {
    check(
        "resource \"nul_resource\" \"a\" {}\n",
        &["nul_resource", "main.hcl:1:", "null_resource"],
    );
}

#[test]
fn a_provider_that_is_not_installed_is_named_with_where_kiln_looked() {
    check(
        "provider \"acme\" {\n  region = \"x\"\n}\n",
        &[
            "provider \"acme\" is not installed",
            "main.hcl:1:",
            "kiln-provider-acme",
            ".kiln/providers",
            "PATH",
        ],
    );
    check(
        "resource \"acme_widget\" \"a\" {}\n",
        &[
            "unknown resource type \"acme_widget\"",
            "kiln-provider-acme",
        ],
    );
}

#[test]
fn unknown_attribute() {
    check(
        "resource \"null_resource\" \"a\" {\n  trigers = { a = \"b\" }\n}\n",
        &["trigers", "main.hcl:2:3", "triggers"],
    );
}

#[test]
fn wrong_type() {
    check(
        "resource \"null_resource\" \"a\" {\n  triggers = \"x\"\n}\n",
        &["triggers", "main.hcl:2:"],
    );
}

#[test]
fn missing_required_variable() {
    check(
        "variable \"a\" {}\nvariable \"b\" { type = number }\nresource \"null_resource\" \"a\" {\n  triggers = { a = var.a, b = var.b }\n}\n",
        &["required variables: a, b", "main.hcl:1:1", "--var a=VALUE"],
    );
}

#[test]
fn reference_to_a_missing_resource() {
    check(
        "resource \"null_resource\" \"a\" {\n  triggers = { x = null_resource.nope.id }\n}\n",
        &["null_resource.nope", "main.hcl:2:"],
    );
}

#[test]
fn cycle_names_every_address() {
    check(
        r#"
resource "null_resource" "a" {
  triggers = { x = null_resource.c.id }
}
resource "null_resource" "b" {
  triggers = { x = null_resource.a.id }
}
resource "null_resource" "c" {
  triggers = { x = null_resource.b.id }
}
"#,
        &[
            "cycle",
            "null_resource.a",
            "null_resource.b",
            "null_resource.c",
        ],
    );
}

#[test]
fn corrupt_state_is_reported_and_left_alone() {
    let (p, k) = project("resource \"null_resource\" \"a\" {}\n");
    p.write(".kiln/default/state.json", "{ this is not json");
    let r = k.run(&["plan"]);
    r.expect_code(1);
    assert!(r.stderr.contains("state.json"), "{}", r.stderr);
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert_eq!(
        p.read(".kiln/default/state.json"),
        "{ this is not json",
        "the corrupt state was not overwritten"
    );
}

#[test]
fn held_lock_fails_at_once_naming_the_holder() {
    let (p, k) = project("resource \"null_resource\" \"slow\" {\n  delay = \"3s\"\n}\n");
    let mut first = k
        .command(&["apply", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = p.path().join(".kiln/default/lock.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !lock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first apply never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("locked by"), "{}", r.stderr);
    assert!(r.stderr.contains("pid"), "{}", r.stderr);
    assert!(r.stderr.contains("kiln unlock"), "{}", r.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "failed at once, without waiting"
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(state_addrs(&p, "default"), vec!["null_resource.slow"]);
}

#[test]
fn unknown_flag_address_is_an_error() {
    let (_p, k) = project("resource \"null_resource\" \"a\" {}\n");
    let r = k.run(&["plan", "--replace", "not an address"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("invalid resource address"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_required_attribute() {
    check(
        "resource \"local_file\" \"f\" {\n  content = \"x\"\n}\n",
        &["path", "main.hcl:1:"],
    );
}

#[test]
fn a_killed_holders_lock_is_taken_over_and_the_next_apply_recovers() {
    let (p, k) = project(&kiln_testkit::generate::chain(4, Some("500ms")));
    let mut holder = k
        .command(&["apply", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed part-way through its chain of 500 ms steps: once the first is
    // created.
    let (_seen, _rest) = wait_for_stderr(&mut holder, ": created");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        p.exists(".kiln/default/lock.json"),
        "kill -9 leaves the lock"
    );

    // No manual `kiln unlock`: the holder is provably gone (its pid no
    // longer runs), so the lock is taken over, and the killed apply's
    // journal is recovered: what it created is adopted, nothing is created
    // twice, and the chain completes.
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(r.stderr.contains("took over the lock"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("pid {}", holder.id())),
        "names the holder: {}",
        r.stderr
    );
    assert!(r.stderr.contains("recovering"), "{}", r.stderr);
    assert_eq!(state_addrs(&p, "default").len(), 4);
    assert!(!p.exists(".kiln/default/lock.json"));
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn validate_checks_types_without_variable_values_or_state() {
    let (p, k) = project(
        "variable \"a\" {}\nresource \"null_resource\" \"a\" {\n  triggers = { a = var.a }\n}\n",
    );
    let r = k.run(&["validate"]);
    r.success();
    assert!(r.stdout.contains("valid"), "{}", r.stdout);
    p.write("main.hcl", "variable \"a\" {}\nresource \"null_resource\" \"a\" {\n  triggers = { a = var.a }\n  labels = \"x\"\n}\n");
    let r = k.run(&["validate"]);
    r.expect_code(1);
    assert!(r.stderr.contains("main.hcl:4:12"), "{}", r.stderr);
    assert!(p.state_json("default").is_none());
}

/// `kiln validate` as Terraform's: a `count` or `for_each` it cannot know
/// yet (from a data source) stands for one instance whose body is still
/// checked, and every independent mistake is reported in one run, once
/// (not once per module instance).
#[test]
fn validate_checks_through_unknown_counts_and_reports_every_mistake() {
    let (p, k) = project(
        r#"data "null_data_source" "ids" {
  inputs = { a = "1" }
}
resource "null_resource" "x" {
  count    = length(data.null_data_source.ids.outputs)
  triggers = { i = count.index, bad = var.nope }
}
resource "null_resource" "each" {
  for_each = data.null_data_source.ids.outputs
  triggers = { k = each.key, v = local.nope }
}
module "m" {
  source = "./m"
  count  = length(data.null_data_source.ids.outputs)
}
"#,
    );
    p.write(
        "m/main.hcl",
        "resource \"null_resource\" \"y\" {\n  triggers = { z = var.zz }\n}\n",
    );
    let r = k.run(&["validate", "--no-color"]);
    r.expect_code(1);
    for mistake in [
        "undeclared variable \"var.nope\"",
        "undeclared local value \"local.nope\"",
        "undeclared variable \"var.zz\"",
    ] {
        assert_eq!(
            r.stderr.matches(mistake).count(),
            1,
            "{mistake}: {}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("3 errors"), "{}", r.stderr);
    assert!(!r.stderr.contains("cannot be determined"), "{}", r.stderr);
}
