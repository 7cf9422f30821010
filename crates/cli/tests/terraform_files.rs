//! A directory as Terraform users have it: `*.tf` files, a committed
//! `.terraform.lock.hcl` and other tools' files beside them, values in
//! `terraform.tfvars` and `TF_VAR_*`, and Terraform's built-in
//! `terraform_data`. Expected values were recorded from Terraform 1.11.4
//! on the same files (`terraform apply`, then `terraform output -json`).

mod common;

use common::{Kiln, TempProject};

const MAIN_TF: &str = r#"variable "v" {
  default = "one"
}

variable "only_env" {
  type    = number
  default = 0
}

resource "terraform_data" "a" {
  input = { name = var.v, n = 2, tags = ["x", "y"] }
}

resource "terraform_data" "b" {
  triggers_replace = [terraform_data.a.id]
  input            = terraform_data.a.output.name
}

output "a" {
  value = terraform_data.a.output
}

output "b" {
  value = terraform_data.b.output
}

output "only_env" {
  value = var.only_env + 1
}
"#;

fn project() -> (TempProject, Kiln) {
    let p = TempProject::new();
    p.write("main.tf", MAIN_TF);
    // What `terraform init` and other tools leave beside the configuration:
    // none of it is configuration (each would fail to load if read as such).
    p.write(
        ".terraform.lock.hcl",
        "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.0.0\"\n  hashes  = [\"h1:x\"]\n}\n",
    );
    p.write(".tflint.hcl", "plugin \"aws\" {\n  enabled = true\n}\n");
    p.write(
        "terragrunt.hcl",
        "include \"root\" {\n  path = find_in_parent_folders()\n}\n",
    );
    p.write("image.pkr.hcl", "source \"amazon-ebs\" \"x\" {}\n");
    p.write("terraform.tfvars", "v = \"from-tfvars\"\n");
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    (p, k)
}

fn output(k: &Kiln, name: &str) -> serde_json::Value {
    let r = k.run(&["output", "--json", name]);
    r.success();
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn a_terraform_directory_loads_and_applies_as_terraform_does() {
    let (_p, k) = project();
    // terraform.tfvars outranks TF_VAR_ (Terraform's precedence).
    let k = k.env("TF_VAR_v", "from-env").env("TF_VAR_only_env", "41");
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert_eq!(
        output(&k, "a"),
        serde_json::json!({"n": 2, "name": "from-tfvars", "tags": ["x", "y"]})
    );
    assert_eq!(output(&k, "b"), serde_json::json!("from-tfvars"));
    assert_eq!(output(&k, "only_env"), serde_json::json!(42));
    let again = k.run(&["plan"]);
    assert!(again.stdout.contains("No changes"), "{}", again.all());
    // A --var outranks the file; a's new id replaces b (triggers_replace).
    let r = k.run(&["plan", "--var", "v=two"]);
    assert!(
        r.stdout.contains("terraform_data.a will be replaced")
            && r.stdout.contains("terraform_data.b will be replaced"),
        "{}",
        r.all()
    );
    k.run(&["apply", "--yes", "--var", "v=two"]).success();
    assert_eq!(output(&k, "b"), serde_json::json!("two"));
}

#[test]
fn terraform_data_ids_are_uuids() {
    let (p, k) = project();
    k.run(&["apply", "--yes"]).success();
    let state: serde_json::Value =
        serde_json::from_str(&p.read(".kiln/default/state.json")).unwrap();
    for r in state["resources"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(r["provider"], "terraform");
    }
}

/// Older spellings Terraform still accepts, and its path values. Expected
/// values recorded from Terraform 1.11.4 on the same files (`terraform
/// plan` in the directory): `count = "2"` makes two instances, a quoted
/// `depends_on` entry is a reference with a deprecation warning,
/// `path.root` is `.` and `path.module` is the module's directory relative
/// to the root's.
#[test]
fn older_spellings_and_relative_paths() {
    let p = TempProject::new();
    p.write(
        "main.tf",
        r#"resource "terraform_data" "a" {
  count = "2"
  input = count.index
}

resource "terraform_data" "b" {
  depends_on = ["terraform_data.a"]
}

module "m" {
  source = "./mod"
}

output "paths" {
  value = { root = path.root, module = path.module, m = module.m.paths }
}
"#,
    );
    p.write(
        "mod/main.tf",
        "output \"paths\" {\n  value = { module = path.module, root = path.root, here = fileexists(\"${path.module}/main.tf\") }\n}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let r = k.run(&["apply", "--yes", "--no-color"]);
    r.success();
    assert!(
        r.stderr.contains("quoted references are deprecated"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.tf:7:17"), "{}", r.stderr);
    assert!(r.stderr.contains("3 created"), "{}", r.all());
    assert_eq!(
        output(&k, "paths"),
        serde_json::json!({"root": ".", "module": ".", "m": {"module": "mod", "root": ".", "here": true}})
    );
    let state: serde_json::Value =
        serde_json::from_str(&p.read(".kiln/default/state.json")).unwrap();
    let b = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addr"] == "terraform_data.b")
        .unwrap()
        .clone();
    let deps = b["dependencies"].to_string();
    assert!(deps.contains("terraform_data.a"), "{b}");
}

/// JSON variable files beside HCL ones, in Terraform's order:
/// `terraform.tfvars`, `terraform.tfvars.json`, then `*.auto.tfvars` and
/// `*.auto.tfvars.json` by name; JSON strings are literal. Recorded from
/// Terraform 1.11.4 on the same files.
#[test]
fn json_variable_files_load_in_terraforms_order() {
    let p = TempProject::new();
    p.write(
        "main.tf",
        "variable \"a\" {}\nvariable \"b\" {}\nvariable \"c\" {}\nvariable \"d\" { type = number }\nvariable \"e\" { type = map(number) }\noutput \"all\" { value = [var.a, var.b, var.c, var.d, var.e] }\n",
    );
    p.write(
        "terraform.tfvars",
        "a = \"tfvars\"\nb = \"tfvars\"\nc = \"tfvars\"\n",
    );
    p.write(
        "terraform.tfvars.json",
        r#"{"b": "tfvars.json", "c": "tfvars.json", "d": "7", "e": {"x": 1}}"#,
    );
    p.write("a.auto.tfvars", "c = \"a.auto\"\n");
    p.write("b.auto.tfvars.json", r#"{"c": "b.auto.json ${x}"}"#);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    k.run(&["apply", "--yes"]).success();
    assert_eq!(
        output(&k, "all"),
        serde_json::json!(["tfvars", "tfvars.json", "b.auto.json ${x}", 7, {"x": 1}])
    );
    // A broken JSON file is located.
    p.write("c.auto.tfvars.json", "{\"c\": \n  oops}");
    let r = k.run(&["plan"]);
    r.expect_code(1);
    assert!(r.stderr.contains("c.auto.tfvars.json:2:3"), "{}", r.stderr);
    assert!(r.stderr.contains("invalid JSON"), "{}", r.stderr);
}

/// HashiCorp's random provider, embedded: values made once and kept until
/// `keepers` change; a password's result never printed.
#[test]
fn random_values_are_kept_until_their_keepers_change() {
    let p = TempProject::new();
    p.write(
        "main.tf",
        r#"variable "ami" {
  default = "ami-1"
}

resource "random_pet" "name" {
  keepers = { ami = var.ami }
}

resource "random_password" "db" {
  length  = 24
  special = false
}

resource "random_id" "suffix" {
  byte_length = 4
}

resource "terraform_data" "server" {
  input = "${random_pet.name.id}-${random_id.suffix.hex}"
}

output "name" {
  value = terraform_data.server.output
}

output "password" {
  value     = random_password.db.result
  sensitive = true
}
"#,
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let r = k.run(&["apply", "--yes", "--no-color"]);
    r.success();
    let first = output(&k, "name");
    let name = first.as_str().unwrap().to_string();
    let (pet, hex) = name.rsplit_once('-').unwrap();
    assert_eq!(pet.split('-').count(), 2, "{name}");
    assert_eq!(hex.len(), 8, "{name}");
    let password = output(&k, "password");
    let password = password.as_str().unwrap();
    assert_eq!(password.len(), 24);
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    assert!(!r.all().contains(password), "the password is never printed");
    // Nothing changes the values but their keepers.
    let again = k.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    let r = k.run(&["apply", "--yes", "--var", "ami=ami-2"]);
    r.success();
    assert!(
        r.stdout.contains("random_pet.name will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("random_password.db will be"),
        "{}",
        r.stdout
    );
    let second = output(&k, "name");
    assert_ne!(second, first, "a new pet for a new ami");
    assert!(
        second.as_str().unwrap().ends_with(hex),
        "the id suffix is kept"
    );
    assert_eq!(output(&k, "password").as_str().unwrap(), password);
}

/// Terraform's JSON syntax (`*.tf.json`, as CDK for Terraform writes it):
/// the same outputs as Terraform 1.11.4 gives on the same files
/// (`tests/fixtures/tf-json`; `terraform-outputs.json` recorded with
/// `terraform apply` then `terraform output -json`).
#[test]
fn json_configuration_files_apply_as_terraform_does() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tf-json");
    let p = TempProject::new();
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    p.write("main.tf.json", &read("main.tf.json"));
    p.write("mod/main.tf.json", &read("mod/main.tf.json"));
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    k.run(&["apply", "--yes"]).success();
    let r = k.run(&["output", "--json"]);
    r.success();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got: serde_json::Map<String, serde_json::Value> = doc
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["value"].clone()))
        .collect();
    let expected: serde_json::Value =
        serde_json::from_str(&read("terraform-outputs.json")).unwrap();
    assert_eq!(serde_json::Value::Object(got), expected);
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    // JSON syntax errors are located in the JSON file.
    p.write("broken.tf.json", "{\n  \"resource\": oops\n}\n");
    let r = k.run(&["plan"]);
    r.expect_code(1);
    assert!(r.stderr.contains("broken.tf.json:2:15"), "{}", r.stderr);
    assert!(r.stderr.contains("invalid JSON"), "{}", r.stderr);
}

/// `for_each` over a list or a tuple is Terraform's error (only a map or a
/// set of strings keys instances); `toset(...)` and a map work.
#[test]
fn for_each_over_a_list_is_refused_as_terraform_refuses_it() {
    let p = TempProject::new();
    let refused = [
        "for_each = [\"a\", \"b\"]",
        "for_each = var.names",
        "for_each = [for n in var.names : n]",
    ];
    for case in refused {
        p.write(
            "main.tf",
            &format!(
                "variable \"names\" {{\n  type    = list(string)\n  default = [\"a\", \"b\"]\n}}\nresource \"terraform_data\" \"x\" {{\n  {case}\n}}\n"
            ),
        );
        let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
        let r = k.run(&["plan"]);
        r.expect_code(1);
        assert!(
            r.stderr
                .contains("for_each takes a map or a set of strings"),
            "{case}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("main.tf:6:14"), "{case}: {}", r.stderr);
    }
    p.write(
        "main.tf",
        "variable \"names\" {\n  type    = list(string)\n  default = [\"a\", \"b\"]\n}\nresource \"terraform_data\" \"set\" {\n  for_each = toset(var.names)\n}\nresource \"terraform_data\" \"map\" {\n  for_each = { for n in var.names : n => n }\n}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let r = k.run(&["plan"]);
    r.success();
    assert!(r.stdout.contains("4 to create"), "{}", r.stdout);
}
