//! `--target` and `--exclude` with the real binary: a partial plan follows
//! dependencies as Terraform does (a target brings what it depends on; a
//! destroy target takes what depends on it; an exclusion takes its
//! dependents along), leaves everything else exactly as it is, and says
//! it is partial.

mod common;

use common::*;

const MAIN: &str = r#"variable "v" {
  default = "1"
}

resource "null_resource" "a" {
  triggers = { v = var.v }
}

resource "null_resource" "b" {
  triggers = { a = null_resource.a.id }
}

resource "null_resource" "c" {
  triggers = { v = var.v }
}

output "c" {
  value = null_resource.c.id
}
"#;

fn id(p: &TempProject, addr: &str) -> String {
    state_id(p, "default", addr).unwrap_or_default()
}

#[test]
fn a_target_brings_its_dependencies_and_leaves_the_rest() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes"]).success();
    let (a, b, c) = (
        id(&p, "null_resource.a"),
        id(&p, "null_resource.b"),
        id(&p, "null_resource.c"),
    );
    let out_before = k.run(&["output", "c"]).stdout;

    let plan = k.run(&["plan", "--var", "v=2", "--target", "null_resource.b"]);
    plan.success();
    assert!(
        plan.stderr.contains("this plan is partial"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout.contains("null_resource.a will be replaced"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("null_resource.b will be replaced"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("null_resource.c will"),
        "{}",
        plan.stdout
    );

    k.run(&[
        "apply",
        "--yes",
        "--var",
        "v=2",
        "--target",
        "null_resource.b",
    ])
    .success();
    assert_ne!(id(&p, "null_resource.a"), a);
    assert_ne!(id(&p, "null_resource.b"), b);
    assert_eq!(id(&p, "null_resource.c"), c, "not targeted: left as it is");
    assert_eq!(k.run(&["output", "c"]).stdout, out_before, "outputs kept");
    // The whole plan still sees c's change.
    let full = k.run(&["plan", "--var", "v=2"]);
    assert!(
        full.stdout.contains("null_resource.c will be replaced"),
        "{}",
        full.stdout
    );
}

#[test]
fn an_exclusion_takes_its_dependents_along() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes"]).success();
    let (a, b) = (id(&p, "null_resource.a"), id(&p, "null_resource.b"));
    k.run(&[
        "apply",
        "--yes",
        "--var",
        "v=2",
        "--exclude",
        "null_resource.a",
    ])
    .success();
    assert_eq!(id(&p, "null_resource.a"), a);
    assert_eq!(id(&p, "null_resource.b"), b, "depends on the excluded a");
    let plan = k.run(&["plan", "--var", "v=2", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        !plan.stdout.contains("null_resource.c will"),
        "c was applied: {}",
        plan.stdout
    );
}

#[test]
fn a_destroy_target_takes_what_depends_on_it() {
    let (p, k) = project(MAIN);
    k.run(&["apply", "--yes"]).success();
    let c = id(&p, "null_resource.c");
    k.run(&["destroy", "--yes", "--target", "null_resource.a"])
        .success();
    let addrs = state_addrs(&p, "default");
    assert_eq!(
        addrs,
        ["null_resource.c"],
        "a and b (which depends on a) destroyed"
    );
    assert_eq!(id(&p, "null_resource.c"), c);
    let r = k.run(&["plan", "--target", "not an address"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in --target"), "{}", r.stderr);
}
