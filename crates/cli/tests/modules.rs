//! Modules end to end: a configuration with local modules (for_each, count,
//! nesting), templates, validation and a data source is planned, saved,
//! applied, and read back through `kiln output --json`; mistakes in module
//! calls are located.

mod common;

use common::*;

const ROOT: &str = r#"
variable "sites" {
  type    = map(string)
  default = { blue = "8081", green = "8082" }
}

variable "replicas" {
  type    = number
  default = 2
  validation {
    condition     = var.replicas > 0 && var.replicas < 5
    error_message = "replicas must be between 1 and 4"
  }
}

module "site" {
  source   = "./modules/site"
  for_each = var.sites
  name     = each.key
  port     = each.value
}

module "workers" {
  source = "./modules/worker"
  count  = var.replicas
  index  = count.index
}

data "null_data_source" "settings" {
  inputs = { greeting = "hello" }
}

resource "null_resource" "front" {
  triggers = {
    backends = join(",", sort([for s in module.site : s.id]))
    greeting = data.null_data_source.settings.outputs.greeting
  }
}

output "greeting" {
  value = "${null_resource.front.triggers.greeting} from ${length(module.workers)} workers"
}

output "configs" {
  value = { for k, s in module.site : k => s.config }
}

output "workers" {
  value = [for w in module.workers : w.name]
}

output "nested" {
  value = module.site["blue"].tag
}
"#;

const SITE: &str = r#"
variable "name" {
  type = string
}

variable "port" {
  type = number
  validation {
    condition     = var.port > 1024
    error_message = "use an unprivileged port"
  }
}

resource "null_resource" "server" {
  triggers = { config = templatefile("${path.module}/site.tpl", { name = var.name, port = var.port }) }
}

module "tag" {
  source = "../tag"
  value  = "site-${var.name}"
}

output "id" {
  value = null_resource.server.id
}

output "config" {
  value = null_resource.server.triggers.config
}

output "tag" {
  value = module.tag.upper
}
"#;

const WORKER: &str = r#"
variable "index" {
  type = number
}

resource "null_resource" "w" {
  labels = { index = tostring(var.index) }
}

output "name" {
  value = "worker-${var.index}"
}
"#;

const TAG: &str = r#"
variable "value" {}

output "upper" {
  value = upper(var.value)
}
"#;

fn modules_project() -> (TempProject, Kiln) {
    let (p, k) = project(ROOT);
    p.write("modules/site/main.hcl", SITE);
    p.write(
        "modules/site/site.tpl",
        "server ${name} listens on ${port}\n",
    );
    p.write("modules/worker/main.hcl", WORKER);
    p.write("modules/tag/main.hcl", TAG);
    (p, k)
}

#[test]
fn a_configuration_of_modules_plans_applies_and_outputs() {
    let (p, k) = modules_project();
    // A saved plan carries every module's files.
    k.run(&["plan", "--out", "first.kilnplan"]).success();
    // Changing the module on disk after planning does not change what the
    // saved plan applies.
    p.write("modules/tag/main.hcl", &TAG.replace("upper(", "lower("));
    k.run(&["apply", "first.kilnplan", "--yes"]).success();
    p.write("modules/tag/main.hcl", TAG);

    let mut addrs = state_addrs(&p, "default");
    addrs.sort();
    assert_eq!(
        addrs,
        [
            "module.site[\"blue\"].null_resource.server",
            "module.site[\"green\"].null_resource.server",
            "module.workers[0].null_resource.w",
            "module.workers[1].null_resource.w",
            "null_resource.front",
        ]
    );

    let r = k.run(&["output", "--json"]);
    r.success();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        out["configs"]["value"],
        serde_json::json!({
            "blue": "server blue listens on 8081\n",
            "green": "server green listens on 8082\n",
        })
    );
    assert_eq!(
        out["workers"]["value"],
        serde_json::json!(["worker-0", "worker-1"])
    );
    assert_eq!(out["nested"]["value"], "SITE-BLUE");
    assert_eq!(out["greeting"]["value"], "hello from 2 workers");

    // Nothing changed: no changes.
    let r = k.run(&["plan", "--detailed-exitcode"]);
    r.expect_code(0);

    // One fewer worker: only that module instance's resource goes.
    let r = k.run(&["plan", "--var", "replicas=1"]);
    r.success();
    assert!(
        r.stdout
            .contains("module.workers[1].null_resource.w will be destroyed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("1 to destroy; 4 unchanged"),
        "{}",
        r.stdout
    );

    // `kiln graph` draws each module instance as a cluster.
    let r = k.run(&["graph"]);
    r.success();
    assert!(
        r.stdout
            .contains("subgraph \"cluster_module.site[\\\"blue\\\"]\""),
        "{}",
        r.stdout
    );
    let r = k.run(&["graph", "--format", "mermaid"]);
    r.success();
    assert!(r.stdout.contains("subgraph m"), "{}", r.stdout);
    assert!(r.stdout.contains("  end\n"), "{}", r.stdout);
}

#[test]
fn validate_checks_modules_and_data_sources_without_reading_them() {
    let (p, k) = modules_project();
    let r = k.run(&["validate"]);
    r.success();
    assert!(
        r.stdout.contains("The configuration is valid"),
        "{}",
        r.all()
    );
    // A mistake inside a module is found too, in the module's file.
    p.write(
        "modules/worker/main.hcl",
        &WORKER.replace("tostring(var.index)", "tostring(var.indx)"),
    );
    let r = k.run(&["validate"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("modules/worker/main.hcl:7:"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("var.indx"), "{}", r.all());
}

#[test]
fn validation_in_a_root_variable_and_a_module_input() {
    let (_p, k) = modules_project();
    let r = k.run(&["plan", "--var", "replicas=9"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("replicas must be between 1 and 4"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.hcl:"), "{}", r.stderr);

    let r = k.run(&["plan", "--var", "sites={ blue = \"80\" }"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(
            "invalid value for input \"port\" of module.site[\"blue\"]: use an unprivileged port"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("modules/site/main.hcl:9:"),
        "{}",
        r.stderr
    );
}

/// The root module cannot refer to a resource or a local value declared
/// inside a module (Terraform: "Reference to undeclared resource" / "local
/// value"), nor is the module's offered as what was meant.
#[test]
fn the_root_cannot_refer_to_a_resource_inside_a_module() {
    // (the root's reference, the module's text, the error)
    let cases: &[(&str, &str, &str)] = &[
        (
            "null_resource.inner.id",
            "resource \"null_resource\" \"inner\" {}\n",
            "reference to undeclared resource \"null_resource.inner\"",
        ),
        (
            "local.inner",
            "locals {\n  inner = \"x\"\n}\noutput \"out\" {\n  value = local.inner\n}\n",
            "reference to undeclared local value \"local.inner\"",
        ),
    ];
    for (reference, module, message) in cases {
        let (p, k) = project(&format!(
            "module \"m\" {{\n  source = \"./modules/inner\"\n}}\noutput \"o\" {{\n  value = {reference}\n}}\n"
        ));
        p.write("modules/inner/main.hcl", module);
        let r = k.run(&["plan"]);
        r.expect_code(1);
        assert!(r.stderr.contains(message), "{}", r.stderr);
        assert!(r.stderr.contains("main.hcl:5:11"), "{}", r.stderr);
        assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
    }
}

#[test]
fn mistakes_in_module_calls_are_located() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "module \"m\" {\n  source = \"./modules/missing\"\n}\n",
            "cannot load module \"m\" from ./modules/missing",
            "main.hcl:2:12",
        ),
        (
            "module \"m\" {\n  source = \"./modules/tag\"\n  value  = 1\n  colour = 2\n}\n",
            "module \"m\" has no input variable \"colour\"",
            "main.hcl:4:3",
        ),
        (
            "module \"m\" {\n  source = \"./modules/tag\"\n}\n",
            "module \"m\" is missing required input \"value\"",
            "main.hcl:1:1",
        ),
        (
            "module \"m\" {\n  source = \"./modules/tag\"\n  value  = 1\n}\noutput \"o\" {\n  value = module.m.lower\n}\n",
            "module \"m\" has no output \"lower\"",
            "main.hcl:6:11",
        ),
        (
            "module \"m\" {\n  source = \"git::https://example.com/x\"\n}\n",
            "is not downloaded",
            "main.hcl:2:12",
        ),
        (
            "module \"m\" {\n  source  = \"terraform-aws-modules/vpc/aws\"\n  version = \"5.0.0\"\n}\n",
            "is not downloaded",
            "main.hcl:2:13",
        ),
        (
            "module \"m\" {\n  source = \"s3::https://s3.amazonaws.com/b/vpc.zip\"\n}\n",
            "is not a local path, a git source or a registry address",
            "main.hcl:2:12",
        ),
    ];
    for (main, message, at) in cases {
        let (p, k) = project(main);
        p.write("modules/tag/main.hcl", TAG);
        let r = k.run(&["plan"]);
        r.expect_code(1);
        assert!(r.stderr.contains(message), "{main}\n{}", r.stderr);
        assert!(r.stderr.contains(at), "{main}\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}
