//! `kiln env`: environments side by side, TTLs and garbage collection.

mod common;

use common::*;

const MAIN: &str = r#"
resource "null_resource" "a" {
  triggers = { env = kiln.env }
}
resource "null_resource" "b" {
  triggers = { a = null_resource.a.id, ws = terraform.workspace }
}
"#;

/// kiln run a minute from now: TTLs of less than a minute have run out.
fn later(k: &kiln_testkit::Kiln) -> kiln_testkit::Kiln {
    k.clone().env("KILN_CLOCK_OFFSET_SECS", "60")
}

#[test]
fn expired_environments_are_collected_once_and_others_kept() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes", "--env", "pr-1", "--ttl", "30s"])
        .success();
    k.run(&["apply", "--yes", "--env", "pr-2", "--ttl", "1h"])
        .success();
    k.run(&["apply", "--yes", "--env", "prod"]).success();
    let s = p.state_json("pr-1").unwrap();
    assert_eq!(
        s["resources"][0]["attributes"]["triggers"]["env"], "pr-1",
        "kiln.env names the environment"
    );

    let r = k.run(&["env", "list", "--json"]);
    r.success();
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pr-1", "pr-2", "prod"]);
    assert_eq!(list[0]["resources"], 2);
    assert!(list[2]["expires_at"].is_null());

    // Nothing has expired yet; a minute from now pr-1 has.
    let r = k.run(&["env", "gc", "--dry-run"]);
    r.success();
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let k = later(&k);
    let r = k.run(&["env", "gc", "--dry-run"]);
    r.success();
    assert!(r.stdout.contains("would destroy \"pr-1\""), "{}", r.stdout);
    assert!(!r.stdout.contains("pr-2"), "{}", r.stdout);
    assert_eq!(
        state_addrs(&p, "pr-1").len(),
        2,
        "a dry run changes nothing"
    );

    // Two collectors at once: the environment is destroyed exactly once and
    // neither run fails.
    let a = k.command(&["env", "gc"]).output().unwrap();
    let b = k.command(&["env", "gc"]).output().unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let r = k.run(&["env", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pr-2", "prod"]);
    assert_eq!(
        state_addrs(&p, "prod").len(),
        2,
        "other environments are untouched"
    );
}

#[test]
fn concurrent_collectors_destroy_once() {
    let (p, k) = project(&MAIN.replace(
        "triggers = { env = kiln.env }",
        "triggers = { env = kiln.env }\n  delay = \"300ms\"",
    ));
    k.run(&["apply", "--yes", "--env", "pr-9", "--ttl", "30s"])
        .success();
    let k = later(&k);
    let spawn = || {
        k.command(&["env", "gc"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(a.status.success() && b.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert_eq!(
        text.matches("Environment \"pr-9\" destroyed").count(),
        1,
        "{text}"
    );
    assert!(p.state_json("pr-9").is_none());
}

#[test]
fn env_destroy_removes_one_environment() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes", "--env", "pr-3"]).success();
    k.run(&["apply", "--yes", "--env", "pr-4"]).success();
    k.run(&["env", "destroy", "pr-3", "--yes"]).success();
    assert!(p.state_json("pr-3").is_none());
    assert_eq!(state_addrs(&p, "pr-4").len(), 2);
    let r = k.run(&["env", "destroy", "pr-3", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn markdown_plan_names_replacements_and_reasons() {
    let (_p, k) = project(MAIN);
    k.run(&["apply", "--yes"]).success();
    let r = k.run(&[
        "plan",
        "--format",
        "markdown",
        "--replace",
        "null_resource.a",
    ]);
    r.success();
    assert_eq!(
        r.stdout,
        "### kiln plan for `default`: 0 to create, 2 to replace, 0 to update in place, 0 to destroy\n\n\
         | action | resource | why |\n|---|---|---|\n\
         | **replace** | `null_resource.a` | replacement was requested with --replace |\n\
         | **replace** | `null_resource.b` | triggers.a references null_resource.a, which is replaced |\n\n\
         0 unchanged. Generation 2.\n"
    );
}

#[test]
fn gc_with_a_store_that_cannot_be_listed_is_a_clear_error() {
    let (p, k) = project(MAIN);
    p.write(".kiln", "not a directory");
    for args in [&["env", "gc"][..], &["env", "list"][..]] {
        let r = k.run(args);
        r.expect_code(1);
        assert!(
            r.stderr.contains("cannot list the environments"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("Not a directory"), "{}", r.stderr);
    }
}

#[test]
fn applying_again_without_changes_renews_the_ttl() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes", "--env", "pr-3", "--ttl", "30s"])
        .success();
    let first = p.state_json("pr-3").unwrap();
    // Pushed to again a minute later, when the first TTL has run out:
    // nothing changes but the expiry.
    let k = later(&k);
    let r = k.run(&["apply", "--yes", "--env", "pr-3", "--ttl", "1h"]);
    r.success();
    assert!(r.stderr.contains("now expires 1h from now"), "{}", r.all());
    let s = p.state_json("pr-3").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(s["expires_at"].as_u64().unwrap() > now + 3_000, "{s}");
    assert_eq!(s["resources"], first["resources"], "nothing else changed");
    let r = k.run(&["env", "gc", "--dry-run"]);
    r.success();
    assert!(!r.stdout.contains("pr-3"), "{}", r.stdout);
}
