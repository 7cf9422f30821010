//! `moved` and `removed` blocks end to end with the real binary: a rename,
//! `count` to `for_each` keys, a move into a module, a chain, a stateful
//! object renamed, an object forgotten and left as it is — each planned
//! without a replacement, journaled, and idempotent afterwards; and the
//! mistakes (a move onto an address the state holds, a `from` still
//! declared, an address written as a string) refused with nothing changed.

mod common;

use common::*;

fn ids(p: &TempProject) -> Vec<(String, String)> {
    let s = p.state_json("default").expect("a state");
    s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["addr"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn a_renamed_resource_moves_instead_of_being_replaced() {
    let (p, k) = project("resource \"null_resource\" \"a\" {\n  triggers = { v = \"1\" }\n}\n");
    k.run(&["apply", "--yes"]).success();
    let id = state_id(&p, "default", "null_resource.a").unwrap();
    p.write(
        "main.hcl",
        "resource \"null_resource\" \"b\" {\n  triggers = { v = \"1\" }\n}\n\nmoved {\n  from = null_resource.a\n  to   = null_resource.b\n}\n",
    );
    let plan = k.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("null_resource.a has moved to null_resource.b"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "0 to create, 0 to replace, 0 to update in place, 0 to destroy; 1 moved, 0 forgotten;"
        ),
        "{}",
        plan.stdout
    );
    let json = k.run(&["plan", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["moved"][0]["to"], "null_resource.b");
    k.run(&["apply", "--yes"]).success();
    assert_eq!(ids(&p), vec![("null_resource.b".to_string(), id.clone())]);
    let journal = last_journal(&p, "default");
    assert!(
        journal.iter().any(|r| r.to_string().contains("\"moves\"")),
        "the move is journaled: {journal:?}"
    );
    // The moved block stays (as Terraform recommends): nothing more to do.
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn count_keys_become_for_each_keys() {
    let (p, k) = project("resource \"null_resource\" \"c\" {\n  count = 2\n}\n");
    k.run(&["apply", "--yes"]).success();
    let before = ids(&p);
    p.write(
        "main.hcl",
        r#"resource "null_resource" "c" {
  for_each = toset(["x", "y"])
}

moved {
  from = null_resource.c[0]
  to   = null_resource.c["x"]
}

moved {
  from = null_resource.c[1]
  to   = null_resource.c["y"]
}
"#,
    );
    k.run(&["apply", "--yes"]).success();
    let after = ids(&p);
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[0],
        ("null_resource.c[\"x\"]".to_string(), before[0].1.clone())
    );
    assert_eq!(
        after[1],
        ("null_resource.c[\"y\"]".to_string(), before[1].1.clone())
    );
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_resource_moves_into_a_module_and_chains_end_at_the_last_address() {
    let (p, k) =
        project("resource \"null_resource\" \"a\" {}\nresource \"null_resource\" \"x\" {}\n");
    k.run(&["apply", "--yes"]).success();
    let a = state_id(&p, "default", "null_resource.a").unwrap();
    let x = state_id(&p, "default", "null_resource.x").unwrap();
    p.write(
        "modules/web/main.hcl",
        "resource \"null_resource\" \"a\" {}\n",
    );
    p.write(
        "main.hcl",
        r#"module "web" {
  source = "./modules/web"
}

moved {
  from = null_resource.a
  to   = module.web.null_resource.a
}

resource "null_resource" "z" {}

moved {
  from = null_resource.y
  to   = null_resource.z
}

moved {
  from = null_resource.x
  to   = null_resource.y
}
"#,
    );
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(plan.stdout.contains("2 moved"), "{}", plan.stdout);
    k.run(&["apply", "--yes"]).success();
    assert_eq!(
        ids(&p),
        vec![
            ("module.web.null_resource.a".to_string(), a),
            ("null_resource.z".to_string(), x),
        ]
    );
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_stateful_object_is_renamed_and_a_removed_one_is_left_as_it_is() {
    let (p, k) = project(
        r#"resource "local_file" "data" {
  path    = "data.txt"
  content = "precious"
  lifecycle {
    stateful = true
  }
}

resource "local_file" "old" {
  path    = "old.txt"
  content = "keep me"
}
"#,
    );
    k.run(&["apply", "--yes"]).success();
    let data = state_id(&p, "default", "local_file.data").unwrap();
    p.write(
        "main.hcl",
        r#"resource "local_file" "records" {
  path    = "data.txt"
  content = "precious"
  lifecycle {
    stateful = true
  }
}

moved {
  from = local_file.data
  to   = local_file.records
}

removed {
  from = local_file.old
  lifecycle {
    destroy = false
  }
}
"#,
    );
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        plan.stdout.contains("local_file.old will be forgotten"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("0 to destroy"), "{}", plan.stdout);
    k.run(&["apply", "--yes"]).success();
    assert_eq!(ids(&p), vec![("local_file.records".to_string(), data)]);
    assert_eq!(
        p.read("old.txt"),
        "keep me",
        "a forgotten file is left as it is"
    );
    assert_eq!(p.read("data.txt"), "precious");
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn bad_moves_are_refused_with_nothing_changed() {
    let (p, k) =
        project("resource \"null_resource\" \"a\" {}\nresource \"null_resource\" \"b\" {}\n");
    k.run(&["apply", "--yes"]).success();
    let before = ids(&p);
    let cases = [
        (
            "resource \"null_resource\" \"b\" {}\nmoved {\n  from = null_resource.a\n  to   = null_resource.b\n}\n",
            "the state already holds null_resource.b",
        ),
        (
            "resource \"null_resource\" \"a\" {}\nresource \"null_resource\" \"b\" {}\nresource \"null_resource\" \"c\" {}\nmoved {\n  from = null_resource.a\n  to   = null_resource.c\n}\n",
            "moved object still exists: null_resource.a",
        ),
        (
            "resource \"null_resource\" \"c\" {}\nmoved {\n  from = \"null_resource.a\"\n  to   = null_resource.c\n}\n",
            "moved.from must be an address, not a value",
        ),
        (
            "resource \"local_file\" \"c\" {\n  path = \"c\"\n}\nmoved {\n  from = null_resource.a\n  to   = local_file.c\n}\n",
            "a resource keeps its type when it moves",
        ),
        (
            "resource \"null_resource\" \"a\" {}\nremoved {\n  from = null_resource.a\n  lifecycle {\n    destroy = false\n  }\n}\n",
            "removed resource still exists: null_resource.a",
        ),
        (
            "moved {\n  from = null_resource.a\n  to   = null_resource.b\n}\nmoved {\n  from = null_resource.b\n  to   = null_resource.a\n}\n",
            "moved blocks form a cycle",
        ),
    ];
    for (main, want) in cases {
        p.write("main.hcl", main);
        let r = k.run(&["apply", "--yes"]);
        assert_ne!(r.code, 0, "{main}");
        assert!(
            r.stderr.contains(want),
            "{main}\nwanted {want:?} in:\n{}",
            r.stderr
        );
        assert_eq!(ids(&p), before, "nothing changed by: {main}");
    }
}

#[test]
fn state_mv_and_rm_change_the_state_only_and_keep_a_backup() {
    let (p, k) = project(
        "resource \"null_resource\" \"a\" {}\nresource \"local_file\" \"f\" {\n  path    = \"f.txt\"\n  content = \"x\"\n}\n",
    );
    k.run(&["apply", "--yes"]).success();
    let a = state_id(&p, "default", "null_resource.a").unwrap();
    let r = k.run(&["state", "mv", "null_resource.a", "null_resource.b"]);
    r.success();
    assert!(
        r.stderr
            .contains("Moved null_resource.a to null_resource.b"),
        "{}",
        r.stderr
    );
    assert_eq!(state_id(&p, "default", "null_resource.b"), Some(a));
    // Into a module instance, then a bad move: nothing changed by it.
    k.run(&[
        "state",
        "mv",
        "null_resource.b",
        "module.m[\"k\"].null_resource.b",
    ])
    .success();
    let before = ids(&p);
    for (args, want) in [
        (
            vec!["state", "mv", "null_resource.nope", "null_resource.c"],
            "the state holds nothing at null_resource.nope",
        ),
        (
            vec!["state", "mv", "local_file.f", "null_resource.f"],
            "a resource keeps its type",
        ),
        (
            vec!["state", "mv", "local_file.f", "not an address"],
            "is not a resource or module address",
        ),
    ] {
        let r = k.run(&args);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert_eq!(ids(&p), before);
    }
    let r = k.run(&["state", "rm", "local_file.f"]);
    r.success();
    assert_eq!(p.read("f.txt"), "x", "the object is left as it is");
    assert_eq!(
        ids(&p).into_iter().map(|(a, _)| a).collect::<Vec<_>>(),
        ["module.m[\"k\"].null_resource.b"]
    );
    let history = k.run(&["state", "history", "--json"]);
    history.success();
    // The versions each command replaced are kept (the newest is current).
    for summary in [
        r#"state mv null_resource.a null_resource.b"#,
        r#"state mv null_resource.b module.m[\"k\"].null_resource.b"#,
    ] {
        assert!(
            history.stdout.contains(summary),
            "{summary}: {}",
            history.stdout
        );
    }
    let doc: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(doc[0]["serial"], 3, "the state before `state rm` is kept");
}

#[test]
fn check_blocks_warn_and_never_stop_an_apply() {
    let (p, k) = project(
        r#"variable "replicas" {
  default = 1
}

resource "null_resource" "a" {}

check "capacity" {
  assert {
    condition     = var.replicas >= 2
    error_message = "at least two replicas are expected, got ${var.replicas}"
  }
  assert {
    condition     = null_resource.a.id != ""
    error_message = "known only after apply"
  }
}
"#,
    );
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(
        r.stderr.contains(
            "check \"capacity\": check assertion failed: at least two replicas are expected, got 1"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("known only after apply"), "{}", r.stderr);
    assert_eq!(state_addrs(&p, "default"), ["null_resource.a"]);
    let r = k.run(&["plan", "--var", "replicas=3"]);
    r.success();
    assert!(!r.stderr.contains("capacity"), "{}", r.stderr);
}

#[test]
fn import_blocks_with_for_each_adopt_one_object_per_element() {
    let (p, k) = project(
        r#"variable "ids" {
  default = { x = "id-x", y = "id-y" }
}

resource "null_resource" "a" {
  for_each = var.ids
}

import {
  for_each = var.ids
  to       = null_resource.a[each.key]
  id       = each.value
}
"#,
    );
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        plan.stdout
            .contains("null_resource.a[\"x\"] will be imported (id id-x)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("null_resource.a[\"y\"] will be imported (id id-y)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("will be created"), "{}", plan.stdout);
    k.run(&["apply", "--yes"]).success();
    assert_eq!(
        state_id(&p, "default", "null_resource.a[\"x\"]").as_deref(),
        Some("id-x")
    );
    assert_eq!(
        state_id(&p, "default", "null_resource.a[\"y\"]").as_deref(),
        Some("id-y")
    );
    let journal = last_journal(&p, "default");
    assert!(
        journal
            .iter()
            .any(|r| r.to_string().contains("\"imported\"")),
        "{journal:?}"
    );
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn console_evaluates_against_the_configuration_and_the_state_as_terraform_prints() {
    let (_p, k) = project(
        r#"variable "name" {
  default = "web"
}

locals {
  ports  = [80, 443]
  tags   = { Name = var.name, tier = "front" }
  nested = { a = [1, { b = "x\ny" }] }
}

resource "null_resource" "a" {
  triggers = { n = var.name }
}
"#,
    );
    k.run(&["apply", "--yes"]).success();
    let r = k.run_with_input(
        &["console"],
        "var.name\nlocal.ports\nlocal.tags\n\"a\\nb\"\nlocal.nested\nsensitive(\"s\")\nnull_resource.a.triggers\n1 / 3 > 0.3\nnope.x\n{}\nexit\nvar.name\n",
    );
    assert_eq!(
        r.code, 1,
        "a failed line makes the exit code 1: {}",
        r.stderr
    );
    // Recorded from `terraform console` 1.11.4 for the same expressions.
    let want = r#""web"
[
  80,
  443,
]
{
  "Name" = "web"
  "tier" = "front"
}
<<EOT
a
b
EOT
{
  "a" = [
    1,
    {
      "b" = <<-EOT
      x
      y
      EOT
    },
  ]
}
(sensitive value)
{
  "n" = "web"
}
true
{}
"#;
    assert_eq!(r.stdout, want, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
}

#[test]
fn a_terraform_state_is_adopted_without_creating_or_replacing_anything() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfstate");
    let (p, k) = project(&std::fs::read_to_string(fixtures.join("main.tf")).unwrap());
    // The state Terraform 1.11.4 wrote for main.tf (plus a data source and a
    // type kiln has no provider for, as Terraform writes them).
    let tfstate = fixtures.join("terraform_data.tfstate");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tfstate).unwrap()).unwrap();
    let ids: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "terraform_data")
        .flat_map(|r| r["instances"].as_array().unwrap().clone())
        .map(|i| i["attributes"]["id"].as_str().unwrap().to_string())
        .collect();
    let r = k.run(&["state", "import-terraform", tfstate.to_str().unwrap()]);
    r.success();
    assert!(r.stderr.contains("Imported 4 object(s)"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("kiln has no provider for the type google_storage_bucket"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("data.terraform_remote_state.net"),
        "{}",
        r.stderr
    );
    for (addr, id) in [
        ("terraform_data.a", &ids[0]),
        ("terraform_data.b", &ids[1]),
        ("terraform_data.c[0]", &ids[2]),
        ("terraform_data.c[1]", &ids[3]),
    ] {
        assert_eq!(state_id(&p, "default", addr).as_ref(), Some(id), "{addr}");
    }
    // The unchanged configuration plans no change: nothing replaced by the import.
    let plan = k.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    // A second import is refused: the environment has a state.
    let again = k.run(&["state", "import-terraform", tfstate.to_str().unwrap()]);
    assert_ne!(again.code, 0);
    assert!(
        again.stderr.contains("already has a state"),
        "{}",
        again.stderr
    );
    // A change afterwards follows kiln's rules (terraform_data.a replaced,
    // b with it through triggers_replace).
    p.write(
        "main.hcl",
        &std::fs::read_to_string(fixtures.join("main.tf"))
            .unwrap()
            .replace("\"one\"", "\"two\""),
    );
    let plan = k.run(&["plan"]);
    assert!(
        plan.stdout.contains("terraform_data.a will be replaced"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_moved_block_in_a_module_applies_to_each_of_its_instances() {
    let (p, k) = project(
        "module \"site\" {\n  source   = \"./modules/site\"\n  for_each = toset([\"blue\", \"green\"])\n}\n",
    );
    p.write(
        "modules/site/main.hcl",
        "resource \"null_resource\" \"old\" {}\n",
    );
    k.run(&["apply", "--yes"]).success();
    let blue = state_id(&p, "default", "module.site[\"blue\"].null_resource.old").unwrap();
    let green = state_id(&p, "default", "module.site[\"green\"].null_resource.old").unwrap();
    // The module's author renames the resource and says so in the module.
    p.write(
        "modules/site/main.hcl",
        "resource \"null_resource\" \"new\" {}\n\nmoved {\n  from = null_resource.old\n  to   = null_resource.new\n}\n",
    );
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(plan.stdout.contains("2 moved"), "{}", plan.stdout);
    k.run(&["apply", "--yes"]).success();
    assert_eq!(
        state_id(&p, "default", "module.site[\"blue\"].null_resource.new"),
        Some(blue)
    );
    assert_eq!(
        state_id(&p, "default", "module.site[\"green\"].null_resource.new"),
        Some(green)
    );
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn check_blocks_in_a_module_are_evaluated_for_each_instance() {
    let (p, k) = project(
        "module \"svc\" {\n  source   = \"./modules/svc\"\n  for_each = { a = 1, b = 3 }\n  replicas = each.value\n}\n",
    );
    p.write(
        "modules/svc/main.hcl",
        "variable \"replicas\" {}\n\ncheck \"capacity\" {\n  assert {\n    condition     = var.replicas >= 2\n    error_message = \"at least two replicas, got ${var.replicas}\"\n  }\n}\n",
    );
    let r = k.run(&["plan"]);
    r.success();
    assert!(
        r.stderr
            .contains("module.svc[\"a\"]: check \"capacity\": check assertion failed: at least two replicas, got 1"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("module.svc[\"b\"]: check"),
        "{}",
        r.stderr
    );
}

/// `removed` with `destroy = true` (Terraform's default) names what it
/// removes: a stateful resource goes without `--allow-destroy`, as the
/// block is the user naming it; the same resource simply left out of the
/// configuration stays protected.
#[test]
fn a_removed_block_that_destroys_names_a_stateful_resource() {
    let stateful = r#"resource "local_file" "data" {
  path    = "data.txt"
  content = "precious"
  lifecycle {
    stateful = true
  }
}
"#;
    let (p, k) = project(stateful);
    k.run(&["apply", "--yes"]).success();
    assert!(p.exists("data.txt"));
    // Left out: protected.
    p.write("main.hcl", "");
    let refused = k.run(&["plan"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("would destroy stateful local_file.data"),
        "{}",
        refused.stderr
    );
    // Named by a removed block that destroys: it goes.
    p.write(
        "main.hcl",
        "removed {\n  from = local_file.data\n  lifecycle {\n    destroy = true\n  }\n}\n",
    );
    let plan = k.run(&["plan"]);
    plan.success();
    assert!(
        plan.stdout.contains("local_file.data will be destroyed"),
        "{}",
        plan.stdout
    );
    k.run(&["apply", "--yes"]).success();
    assert!(!p.exists("data.txt"));
    assert!(state_id(&p, "default", "local_file.data").is_none());
}
