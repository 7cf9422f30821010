//! `kiln apply` / `plan` / `destroy` end to end, with the null provider.

mod common;

use common::*;

const GRAPH: &str = r#"
variable "version" {
  type    = string
  default = "1"
}

resource "null_resource" "a" {
  triggers = { version = var.version }
  labels   = { team = "core" }
}

resource "null_resource" "b" {
  triggers = { upstream = null_resource.a.id }
}

resource "null_resource" "c" {
  triggers   = { upstream = "${null_resource.b.id}-suffix" }
  depends_on = [null_resource.a]
}

resource "null_resource" "independent" {
  triggers = { x = "y" }
}

output "a_id" {
  value = null_resource.a.id
}
"#;

#[test]
fn apply_then_no_changes_then_replace_cascade_then_update_then_destroy() {
    let (p, k) = project(GRAPH);
    k.run(&["apply", "--yes"]).success();
    assert_eq!(state_addrs(&p, "default").len(), 4);
    let a1 = state_id(&p, "default", "null_resource.a").unwrap();

    // A second plan has no changes.
    let r = k.run(&["plan", "--detailed-exitcode"]);
    r.expect_code(0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // Changing a trigger replaces a, and b and c through it, with reasons.
    let r = k.run(&["plan", "--detailed-exitcode", "--var", "version=2"]);
    r.expect_code(2);
    assert!(
        r.stdout.contains("null_resource.a will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("null_resource.b will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("null_resource.c will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("references null_resource.a, which is replaced"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("forces replacement"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("null_resource.independent will"),
        "{}",
        r.stdout
    );

    k.run(&["apply", "--yes", "--var", "version=2"]).success();
    let a2 = state_id(&p, "default", "null_resource.a").unwrap();
    assert_ne!(a1, a2, "a was replaced");

    // The journal shows create-before-destroy: every new object exists before
    // any old one is destroyed, and b's old object goes before a's.
    let journal = last_journal(&p, "default");
    let pos = |op: &str, addr: &str| {
        journal
            .iter()
            .position(|r| r["record"] == "result" && r["op"] == op && r["addr"] == addr)
            .unwrap_or_else(|| panic!("no {op} result for {addr} in {journal:#?}"))
    };
    for addr in ["null_resource.a", "null_resource.b", "null_resource.c"] {
        assert!(
            pos("create", addr) < pos("delete_deposed", addr),
            "{addr}: new before old"
        );
    }
    assert!(pos("create", "null_resource.b") < pos("delete_deposed", "null_resource.a"));
    assert!(pos("delete_deposed", "null_resource.b") < pos("delete_deposed", "null_resource.a"));
    assert!(pos("delete_deposed", "null_resource.c") < pos("delete_deposed", "null_resource.b"));

    // Outputs follow the new object.
    let r = k.run(&["output", "--json"]);
    r.success();
    let outputs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(outputs["a_id"]["value"], a2.as_str());

    // A labels change is an in-place update; nothing is replaced.
    let (_, k2) = (&p, Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path()));
    p.write(
        "main.hcl",
        &GRAPH.replace("team = \"core\"", "team = \"platform\""),
    );
    let r = k2.run(&["plan", "--var", "version=2"]);
    r.success();
    assert!(
        r.stdout
            .contains("null_resource.a will be updated in place"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("replaced"), "{}", r.stdout);
    k2.run(&["apply", "--yes", "--var", "version=2"]).success();
    assert_eq!(
        state_id(&p, "default", "null_resource.a").unwrap(),
        a2,
        "updated in place keeps the id"
    );

    // Destroy leaves an empty state.
    k2.run(&["destroy", "--yes", "--var", "version=2"])
        .success();
    assert!(state_addrs(&p, "default").is_empty());
    let r = k2.run(&["plan", "--detailed-exitcode", "--var", "version=2"]);
    r.expect_code(2);
    assert!(r.stdout.contains("4 to create"), "{}", r.stdout);
}

#[test]
fn saved_plan_applies_exactly_and_goes_stale() {
    let (p, k) = project(GRAPH);
    k.run(&["plan", "--out", "first.kilnplan"]).success();
    assert!(p.exists("first.kilnplan"));
    // Changing the config after saving does not change what the saved plan does.
    p.write("main.hcl", &GRAPH.replace("x = \"y\"", "x = \"z\""));
    k.run(&["apply", "first.kilnplan", "--yes"]).success();
    let s = p.state_json("default").unwrap();
    let independent = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addr"] == "null_resource.independent")
        .unwrap();
    assert_eq!(
        independent["attributes"]["triggers"]["x"], "y",
        "the saved plan, not the new config, was applied"
    );

    // A plan saved before another apply is refused.
    k.run(&["plan", "--out", "second.kilnplan"]).success();
    k.run(&["apply", "--yes"]).success();
    let r = k.run(&["apply", "second.kilnplan", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("stale"), "{}", r.stderr);
}

#[test]
fn a_failure_in_the_middle_rolls_back_what_the_apply_created() {
    let (p, k) = project(GRAPH);
    k.run(&["apply", "--yes"]).success();
    let before = state_addrs(&p, "default");
    let ids: Vec<String> = before
        .iter()
        .map(|a| state_id(&p, "default", a).unwrap())
        .collect();
    // A new generation of everything, whose b fails half-way.
    let k = k.env("KILN_NULL_FAIL", "null_resource.b");
    let r = k.run(&["apply", "--yes", "--rebuild"]);
    r.expect_code(1);
    assert!(r.stderr.contains("null_resource.b"), "{}", r.stderr);
    assert!(
        r.stderr.contains("rolling back") && r.stderr.contains("was rolled back"),
        "{}",
        r.stderr
    );
    // Exactly the objects that existed before, with the same ids.
    assert_eq!(state_addrs(&p, "default"), before);
    let after: Vec<String> = before
        .iter()
        .map(|a| state_id(&p, "default", a).unwrap())
        .collect();
    assert_eq!(after, ids, "the old generation is untouched");
    let s = p.state_json("default").unwrap();
    assert_eq!(s["deposed"].as_array().map(Vec::len), Some(0), "{s}");
    let meta = std::fs::read_to_string(p.path().join(".kiln/default/state.meta.json")).unwrap();
    assert!(meta.contains("failed and rolled back"), "{meta}");

    // Without the fault, the next apply plans the whole rebuild again.
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let r = k.run(&["plan", "--rebuild"]);
    r.success();
    assert!(
        r.stdout.contains(&format!("{} to replace", before.len())),
        "{}",
        r.stdout
    );
    k.run(&["apply", "--yes", "--rebuild"]).success();
}

#[test]
fn apply_without_a_terminal_needs_yes() {
    let (p, k) = project(GRAPH);
    let r = k.run(&["apply"]);
    r.expect_code(1);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(p.state_json("default").is_none(), "nothing was written");
}

#[test]
fn json_plan_is_versioned_and_redacts_sensitive_values() {
    let (_p, k) = project(
        r#"
variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
resource "null_resource" "s" {
  triggers = { password = var.secret }
}
"#,
    );
    let r = k.run(&["plan", "--json"]);
    r.success();
    assert!(!r.stdout.contains("hunter2"), "{}", r.stdout);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["summary"]["create"], 1);
    assert_eq!(doc["actions"][0]["address"], "null_resource.s");
    assert_eq!(doc["actions"][0]["action"], "create");
    let human = k.run(&["plan"]);
    assert!(!human.stdout.contains("hunter2"), "{}", human.stdout);
    assert!(human.stdout.contains("(sensitive)"), "{}", human.stdout);
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let (_p, k) = project(GRAPH);
    let r = k.run(&["graph"]);
    r.success();
    assert!(
        r.stdout
            .contains("\"null_resource.b\" -> \"null_resource.a\""),
        "{}",
        r.stdout
    );
    let r = k.run(&["graph", "--format", "mermaid"]);
    r.success();
    assert!(r.stdout.starts_with("flowchart"), "{}", r.stdout);
}

#[test]
fn environments_are_isolated() {
    let (p, k) = project(GRAPH);
    k.run(&["apply", "--yes", "--env", "pr-1"]).success();
    k.run(&["apply", "--yes", "--env", "pr-2"]).success();
    k.run(&["destroy", "--yes", "--env", "pr-1"]).success();
    assert!(state_addrs(&p, "pr-1").is_empty());
    assert_eq!(state_addrs(&p, "pr-2").len(), 4);
    let r = k.run(&["plan", "--env", "Bad Name"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("invalid environment name"),
        "{}",
        r.stderr
    );
}

#[test]
fn state_history_lists_every_apply() {
    let (_p, k) = project(GRAPH);
    k.run(&["apply", "--yes"]).success();
    k.run(&["apply", "--yes", "--var", "version=2"]).success();
    let r = k.run(&["state", "history"]);
    r.success();
    assert!(r.stdout.contains("4 created"), "{}", r.stdout);
    let r = k.run(&["state", "list"]);
    r.success();
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
}

#[test]
fn interrupt_starts_no_new_step_and_keeps_the_state_exact() {
    let (p, k) = project(&kiln_testkit::generate::chain(6, Some("400ms")));
    let mut child = k
        .command(&["apply", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once the first step is done (and the second running).
    let (mut stderr, mut rest) = wait_for_stderr(&mut child, ": created");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    std::io::Read::read_to_string(&mut rest, &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let done = state_addrs(&p, "default");
    assert!(
        !done.is_empty() && done.len() < 6,
        "stopped part-way: {done:?}"
    );
    // The state is exact: the next plan creates just the rest.
    let r = k.run(&["plan"]);
    r.success();
    assert!(
        r.stdout.contains(&format!("{} to create", 6 - done.len())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("{} unchanged", done.len())),
        "{}",
        r.stdout
    );
}

#[test]
fn lifecycle_conditions_and_ignore_changes_end_to_end() {
    let config = r#"
variable "want" {
  type    = string
  default = "static"
}

variable "size" {
  type    = number
  default = 1
}

variable "team" {
  type    = string
  default = "core"
}

resource "null_resource" "a" {
  triggers = { size = tostring(var.size) }
  labels   = { team = var.team }
  lifecycle {
    ignore_changes = [labels]
    precondition {
      condition     = var.size < 3
      error_message = "size must stay under 3"
    }
  }
}

resource "null_resource" "b" {
  triggers = { x = var.want }
  lifecycle {
    replace_triggered_by = [null_resource.a]
    postcondition {
      condition     = self.triggers.x == "static"
      error_message = "b's trigger is ${self.triggers.x}, not static"
    }
  }
}
"#;
    let (p, k) = project(config);
    k.run(&["apply", "--yes"]).success();
    let b1 = state_id(&p, "default", "null_resource.b").unwrap();

    // A precondition fails the plan with the user's message, located.
    let r = k.run(&["plan", "--var", "size=5"]);
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("precondition failed: size must stay under 3"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("main.hcl:22:"), "{}", r.all());

    // ignore_changes: a label change is not planned.
    let r = k.run(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "want=static",
        "--var",
        "size=1",
    ]);
    r.expect_code(0);

    // Replacing a replaces b through replace_triggered_by.
    let r = k.run(&["plan", "--var", "size=2"]);
    r.success();
    assert!(
        r.stdout
            .contains("lifecycle.replace_triggered_by names null_resource.a, which is replaced"),
        "{}",
        r.stdout
    );
    k.run(&["apply", "--yes", "--var", "size=2"]).success();
    assert_ne!(state_id(&p, "default", "null_resource.b").unwrap(), b1);

    // A postcondition that fails after the create fails the apply, which
    // rolls back: the new object is deleted, the old one stays current.
    let b2 = state_id(&p, "default", "null_resource.b").unwrap();
    let r = k.run(&["apply", "--yes", "--var", "size=2", "--var", "want=other"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.all()
            .contains("postcondition failed: b's trigger is other, not static"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("was rolled back"), "{}", r.all());
    let s = p.state_json("default").unwrap();
    assert_eq!(s["deposed"].as_array().map(Vec::len), Some(0), "{s}");
    assert_eq!(state_id(&p, "default", "null_resource.b").unwrap(), b2);
}

#[test]
fn outputs_show_what_changes_added_changed_and_removed() {
    let v1 = r#"
variable "v" {
  default = "1"
}
output "kept" { value = "same" }
output "changed" { value = "v${var.v}" }
output "removed" { value = "bye" }
"#;
    let (p, k) = project(v1);
    k.run(&["apply", "--yes"]).success();
    p.write(
        "main.hcl",
        &v1.replace(
            "output \"removed\" { value = \"bye\" }",
            "output \"added\" { value = 42 }",
        ),
    );
    let r = k.run(&["plan", "--no-color", "--var", "v=2"]);
    r.success();
    assert!(
        r.stdout.contains("~ changed = \"v1\" -> \"v2\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("+ added = 42"), "{}", r.stdout);
    assert!(r.stdout.contains("- removed = \"bye\""), "{}", r.stdout);
    assert!(
        !r.stdout.contains("kept"),
        "unchanged outputs are not listed: {}",
        r.stdout
    );
    let json = k.run(&["plan", "--json", "--var", "v=2"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["outputs"]["removed"]["action"], "delete");
    assert_eq!(doc["outputs"]["added"]["action"], "create");
    assert_eq!(doc["outputs"]["changed"]["before"], "v1");
    // Removing an output alone is a change: applying forgets it.
    p.write(
        "main.hcl",
        &v1.replace("output \"removed\" { value = \"bye\" }", ""),
    );
    k.run(&["apply", "--yes"]).success();
    let state = p.state_json("default").unwrap();
    assert!(state["outputs"].get("removed").is_none(), "{state}");
    let again = k.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
}

#[test]
fn destroy_says_destroy_complete() {
    let (_p, k) = project(GRAPH);
    k.run(&["apply", "--yes"]).success();
    let r = k.run(&["destroy", "--yes", "--no-color"]);
    r.success();
    assert!(
        r.stderr.contains("Destroy complete: 4 destroyed"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("Apply complete"), "{}", r.all());
}

#[test]
fn output_after_a_failed_first_apply_says_there_are_none() {
    let (_p, k) = project(GRAPH);
    let k = k.env("KILN_NULL_FAIL", "null_resource.b");
    k.run(&["apply", "--yes"]).expect_code(1);
    let r = k.run(&["output", "--json"]);
    r.expect_code(1);
    assert!(
        r.stdout.is_empty(),
        "nothing that reads as outputs: {}",
        r.stdout
    );
    assert!(r.stderr.contains("no outputs"), "{}", r.stderr);
    assert!(r.stderr.contains("kiln apply"), "{}", r.stderr);
}

#[test]
fn completions_cover_every_command() {
    let (_p, k) = project(GRAPH);
    for shell in ["bash", "zsh", "fish"] {
        let r = k.run(&["completions", shell]);
        r.success();
        for command in ["apply", "destroy", "rollback", "env", "completions"] {
            assert!(r.stdout.contains(command), "{shell}: no {command}");
        }
    }
    k.run(&["completions", "tcsh"]).expect_code(2);
}

/// A data source whose arguments use what a create produces is read during
/// apply, as Terraform defers it (`<= read during apply`): the plan says
/// so, what uses it waits for the create, sees the value read, and the next
/// plan (which reads it before planning) is empty.
#[test]
fn a_data_source_that_uses_a_new_object_is_read_during_apply() {
    let (p, k) = project(
        r#"resource "null_resource" "r" {
  triggers = { v = "1" }
}

data "null_data_source" "late" {
  inputs = { id = null_resource.r.id, fixed = "x" }
}

resource "null_resource" "uses" {
  triggers = { from = data.null_data_source.late.outputs.id }
}

output "read" {
  value = data.null_data_source.late.outputs.fixed
}
"#,
    );
    let r = k.run(&["plan", "--no-color"]);
    r.success();
    assert!(
        r.stdout
            .contains("<= data.null_data_source.late will be read during apply"),
        "{}",
        r.stdout
    );
    k.run(&["apply", "--yes"]).success();
    let state = p.state_json("default").unwrap();
    let resources = state["resources"].as_array().unwrap();
    let attrs = |addr: &str| {
        resources
            .iter()
            .find(|x| x["addr"] == addr)
            .map(|x| x["attributes"].clone())
            .unwrap_or_else(|| panic!("{addr} not in {state}"))
    };
    assert_eq!(
        attrs("null_resource.uses")["triggers"]["from"],
        attrs("null_resource.r")["id"],
        "the dependent saw the value read during apply"
    );
    let out = k.run(&["output", "read"]);
    assert!(out.stdout.contains("\"x\""), "{}", out.all());
    let again = k.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
}
