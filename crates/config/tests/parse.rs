//! Parsing: a full configuration summarized, and one case per structural
//! error (message substring and line:col).

mod common;

use common::{check_all, show, show_diags};
use kiln_config::{Config, SourceFile, parse};

fn files(text: &str) -> Vec<SourceFile> {
    vec![SourceFile {
        name: "main.hcl".into(),
        text: text.into(),
    }]
}

/// One line per declaration, then the diagnostics.
fn summary(c: &Config) -> String {
    let mut out = Vec::new();
    for v in &c.variables {
        let ty = v.ty.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let def = v.default.as_ref().map(show).unwrap_or_default();
        out.push(format!(
            "variable {} type={ty} default={def} sensitive={} desc={:?}",
            v.name, v.sensitive, v.description
        ));
    }
    for l in &c.locals {
        out.push(format!("local {}", l.name));
    }
    for r in &c.resources {
        let attrs: Vec<&str> = r.body.attributes.iter().map(|a| a.name.as_str()).collect();
        let blocks: Vec<&str> = r.body.blocks.iter().map(|b| b.ty.as_str()).collect();
        let deps: Vec<String> = r
            .depends_on
            .iter()
            .map(|d| format!("{:?}", d.subject))
            .collect();
        out.push(format!(
            "resource {} attrs={attrs:?} blocks={blocks:?} count={} for_each={} deps={deps:?} provider={:?} {:?}",
            r.addr,
            r.count.is_some(),
            r.for_each.is_some(),
            r.provider,
            format_args!(
                "Lifecycle {{ prevent_destroy: {}, stateful: {} }}",
                r.lifecycle.prevent_destroy, r.lifecycle.stateful
            )
        ));
    }
    for o in &c.outputs {
        out.push(format!(
            "output {} sensitive={} desc={:?}",
            o.name, o.sensitive, o.description
        ));
    }
    for p in &c.providers {
        out.push(format!(
            "provider {} attrs={}",
            p.name,
            p.body.attributes.len()
        ));
    }
    if let Some(b) = &c.backend {
        out.push(format!("backend {:?}", b.kind));
    }
    out.join("\n")
}

fn run(input: &str) -> String {
    let (config, diags) = parse(files(input));
    if diags.is_empty() {
        summary(&config)
    } else {
        show_diags(&diags)
    }
}

#[test]
fn full_config() {
    let text = r#"
kiln {
  required_version = ">= 0.1"
}

terraform {
  backend "s3" {
    bucket = "state-bucket"
    prefix = "/teams/web/"
  }
}

provider "aws" {
  region = "eu-west-1"
}

provider "aws" {
  alias  = "west"
  region = "us-west-2"
}

variable "name" {
  type        = string
  default     = "web"
  description = "the service name"
}

variable "ports" {
  type    = list(number)
  default = ["80", 443]
}

variable "tags" {
  type = map(string)
}

variable "db" {
  type      = object({ user = string, port = optional(number) })
  default   = { user = "admin", port = 5432 }
  sensitive = true
}

variable "pair" {
  type    = tuple([string, bool])
  default = ["a", "true"]
}

variable "ids" {
  type    = set(string)
  default = ["b", "a", "b"]
}

variable "untyped" {
  default = { a = [1] }
}

locals {
  full = "${var.name}-x"
  n    = 3
}

locals {
  other = local.n + 1
}

resource "null_resource" "a" {
  triggers = { name = local.full }
  count    = local.n
  provider = aws.west
  lifecycle {
    prevent_destroy       = true
    stateful              = true
    create_before_destroy = true
  }
  health_check {
    path = "/"
  }
}

resource "null_resource" "b" {
  for_each   = toset(["x", "y"])
  depends_on = [null_resource.a, data.null_data_source.d]
}

data "null_data_source" "d" {
  inputs = {}
}

output "id" {
  value       = null_resource.a[0].id
  description = "the first id"
  sensitive   = true
}
"#;
    let expect = r#"variable name type=string default="web" sensitive=false desc="the service name"
variable ports type=list(number) default=[80, 443] sensitive=false desc=""
variable tags type=map(string) default= sensitive=false desc=""
variable db type=object({port = number, user = string}) default=sensitive({port = 5432, user = "admin"}) sensitive=true desc=""
variable pair type=tuple([string, bool]) default=["a", true] sensitive=false desc=""
variable ids type=set(string) default=["a", "b"] sensitive=false desc=""
variable untyped type= default={a = [1]} sensitive=false desc=""
local full
local n
local other
resource null_resource.a attrs=["triggers"] blocks=["health_check"] count=true for_each=false deps=[] provider=Some("aws.west") Lifecycle { prevent_destroy: true, stateful: true }
resource null_resource.b attrs=[] blocks=[] count=false for_each=true deps=["Resource(ResourceAddr { mode: Managed, ty: \"null_resource\", name: \"a\" })", "Resource(ResourceAddr { mode: Data, ty: \"null_data_source\", name: \"d\" })"] provider=None Lifecycle { prevent_destroy: false, stateful: false }
resource data.null_data_source.d attrs=["inputs"] blocks=[] count=false for_each=false deps=[] provider=None Lifecycle { prevent_destroy: false, stateful: false }
output id sensitive=true desc="the first id"
provider aws attrs=1
provider aws attrs=2
backend S3(S3Backend { bucket: "state-bucket", prefix: "teams/web", key: None, workspace_key_prefix: "env:", profile: None, region: None, encrypt: true, kms_key_id: None })"#;
    let got = run(text);
    assert_eq!(got, expect, "\n{got}");
}

#[test]
fn locations_are_kept() {
    let text = "resource \"null_resource\" \"a\" {\n  triggers = { a = 1 }\n}\n";
    let (config, diags) = parse(files(text));
    assert!(diags.is_empty(), "{diags}");
    let r = &config.resources[0];
    let at = |l: &kiln_config::Loc| {
        let s = l.span();
        format!(
            "{}:{}:{}-{}:{}",
            s.file, s.start.line, s.start.col, s.end.line, s.end.col
        )
    };
    assert_eq!(at(&r.loc), "main.hcl:1:1-1:29");
    assert_eq!(at(&r.body.attributes[0].loc), "main.hcl:2:3-2:11");
    assert_eq!(at(&r.body.attributes[0].expr.loc), "main.hcl:2:14-2:23");
}

#[test]
fn errors() {
    check_all(
        &[
            (
                "resource \"a\" \"b\" {\n  x = \n}\n",
                "! syntax error: invalid expression @2:7",
            ),
            (
                "resource \"a\" \"b\" {",
                "! syntax error: invalid block body @1:18",
            ),
            (
                "foo = 1\n",
                "! unexpected attribute \"foo\" at the top level @1:1",
            ),
            (
                "resorce \"a\" \"b\" {}\n",
                "! unknown block type \"resorce\"; did you mean \"resource\"? @1:1",
            ),
            ("module \"m\" {}\n", "! module \"m\" has no source @1:1"),
            (
                "resource \"a\" {}\n",
                "! missing label: a resource block needs type and name @1:1",
            ),
            (
                "data {}\n",
                "! missing labels: a data block needs type and name @1:1",
            ),
            (
                "variable \"a\" \"b\" {}\n",
                "! too many labels: a variable block takes 1 @1:1",
            ),
            ("locals \"x\" {}\n", "! a locals block takes no labels @1:1"),
            (
                "resource \"t\" \"a\" {}\nresource \"t\" \"a\" {}\n",
                "! duplicate resource \"t.a\"; it was first declared at main.hcl:1:1 @2:1",
            ),
            (
                "data \"t\" \"a\" {}\ndata \"t\" \"a\" {}\nresource \"t\" \"a\" {}\n",
                "! duplicate data source \"data.t.a\"; it was first declared at main.hcl:1:1 @2:1",
            ),
            (
                "variable \"v\" {}\nvariable \"v\" {}\n",
                "! duplicate variable \"v\"; it was first declared at main.hcl:1:1 @2:1",
            ),
            (
                "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n",
                "! duplicate local value \"a\"; it was first declared at main.hcl:2:3 @5:3",
            ),
            (
                "output \"o\" {\n  value = 1\n}\noutput \"o\" {\n  value = 2\n}\n",
                "! duplicate output \"o\"; it was first declared at main.hcl:1:1 @4:1",
            ),
            (
                "resource \"t\" \"a\" {\n  x = 1\n  x = 2\n}\n",
                "! syntax error: invalid attribute; expected unique attribute key @3:3",
            ),
            (
                "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = 3\n  }\n}\n",
                "! ignore_changes must be a list of attribute names, like [tags], or all @3:22",
            ),
            (
                "resource \"t\" \"a\" {\n  lifecycle {\n    prevent_destory = true\n  }\n}\n",
                "! unknown lifecycle attribute \"prevent_destory\"; did you mean \"prevent_destroy\"? @3:5",
            ),
            (
                "resource \"t\" \"a\" {\n  lifecycle {\n    prevent_destroy = var.x\n  }\n}\n",
                "! lifecycle.prevent_destroy must be a constant; references are not allowed here @3:23",
            ),
            (
                "resource \"t\" \"a\" {\n  lifecycle {\n    stateful = \"yes\"\n  }\n}\n",
                "! lifecycle.stateful must be true or false, got string @3:16",
            ),
            (
                "resource \"t\" \"a\" {\n  depends_on = [var.x, t.b, \"c\"]\n}\n",
                "! depends_on entries must be resource references @2:17\n! depends_on entries must be resource references @2:29",
            ),
            (
                "resource \"t\" \"a\" {\n  depends_on = t.b\n}\n",
                "! depends_on must be a list of resource references @2:16",
            ),
            (
                "resource \"t\" \"a\" {\n  count = 1\n  for_each = {}\n}\n",
                "! count and for_each cannot both be set @3:14",
            ),
            (
                "variable \"v\" {\n  type = strng\n}\n",
                "! unknown type \"strng\" @2:10",
            ),
            (
                "variable \"v\" {\n  type = number\n  default = \"x\"\n}\n",
                "! default of variable \"v\" does not fit its type: expected number, got string \"x\" @3:13",
            ),
            (
                "variable \"v\" {\n  default = var.w\n}\n",
                "! a variable's default must be a constant @2:13",
            ),
            (
                "variable \"v\" {\n  typ = string\n}\n",
                "! unknown variable attribute \"typ\"; did you mean \"type\"? @2:3",
            ),
            ("output \"o\" {}\n", "! output \"o\" has no value @1:1"),
            (
                "variable \"v\" {\n  type = object({ name = string, port = optional(number, 80) })\n  default = { port = 1 }\n}\n",
                "! default of variable \"v\" does not fit its type: attribute \"name\" is required @3:13",
            ),
            (
                "variable \"v\" {\n  type = list(object({ a = optional(number, \"x\") }))\n}\n",
                "! the default does not fit the attribute's type: expected number, got string \"x\" @2:45",
            ),
            (
                "variable \"v\" {\n  type = optional(string)\n}\n",
                "! optional(...) can only be used for an attribute of an object type @2:10",
            ),
            (
                "variable \"v\" {\n  validation {\n    condition = true\n  }\n}\n",
                "! a validation block needs error_message @2:3",
            ),
            (
                "variable \"v\" {\n  validation {\n    condition = true\n    error_message = \"x\"\n    message = 1\n  }\n}\n",
                "! unknown validation attribute \"message\" @5:5",
            ),
            (
                "variable \"v\" {\n  nullable = 1\n}\n",
                "! nullable must be true or false, got number @2:14",
            ),
        ],
        run,
    );
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let (config, diags) = parse(vec![
        SourceFile {
            name: "a.hcl".into(),
            text: "resource \"t\" \"x\" {}\n".into(),
        },
        SourceFile {
            name: "b.hcl".into(),
            text: "resource \"t\" \"x\" {}\nbogus {}\n".into(),
        },
    ]);
    assert_eq!(config.resources.len(), 1);
    let got: Vec<String> = diags
        .iter()
        .map(|d| d.span.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(got, ["b.hcl:1:1", "b.hcl:2:1"]);
    assert!(diags.iter().next().unwrap().summary.contains("a.hcl:1:1"));
}

#[test]
fn backends() {
    check_all(
        &[
            ("kiln {\n  backend \"local\" {}\n}\n", "backend Local"),
            (
                "kiln {\n  backend \"s3\" {\n    bucket     = \"b\"\n    region     = \"eu-west-1\"\n    kms_key_id = \"alias/state\"\n  }\n}\n",
                "backend S3(S3Backend { bucket: \"b\", prefix: \"\", key: None, workspace_key_prefix: \"env:\", profile: None, region: Some(\"eu-west-1\"), encrypt: true, kms_key_id: Some(\"alias/state\") })",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket  = \"b\"\n    encrypt = false\n  }\n}\n",
                "backend S3(S3Backend { bucket: \"b\", prefix: \"\", key: None, workspace_key_prefix: \"env:\", profile: None, region: None, encrypt: false, kms_key_id: None })",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    prefix = \"p\"\n  }\n}\n",
                "! backend \"s3\" needs a bucket @2:3",
            ),
            (
                "kiln {\n  backend \"s4\" {}\n}\n",
                "! unknown backend type \"s4\"; did you mean \"s3\"? @2:3",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n    bukcet = \"c\"\n  }\n}\n",
                "! unknown attribute \"bukcet\" in backend \"s3\"; did you mean \"bucket\"? @4:5",
            ),
            // Terraform's backend as users write it.
            (
                "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    key          = \"web/terraform.tfstate\"\n    region       = \"us-east-1\"\n    encrypt      = true\n    use_lockfile = true\n    profile      = \"ops\"\n    workspace_key_prefix = \"envs\"\n  }\n}\n",
                "backend S3(S3Backend { bucket: \"b\", prefix: \"\", key: Some(\"web/terraform.tfstate\"), workspace_key_prefix: \"envs\", profile: Some(\"ops\"), region: Some(\"us-east-1\"), encrypt: true, kms_key_id: None })",
            ),
            (
                "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    key            = \"t.tfstate\"\n    dynamodb_table = \"locks\"\n  }\n}\n",
                "! dynamodb_table is not used: kiln locks with a conditional write to S3 @5:5",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n    key    = \"x/terraform.tfstate\"\n    prefix = \"p\"\n  }\n}\n",
                "! backend \"s3\" takes a key or a prefix, not both @5:5",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n    key    = \"/x/terraform.tfstate\"\n  }\n}\n",
                "! backend \"s3\" key must not be empty, start or end with \"/\" @4:5",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n    workspace_key_prefix = \"w\"\n  }\n}\n",
                "! workspace_key_prefix needs a key @4:5",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n    key    = var.k\n  }\n}\n",
                "! backend.key must be a constant; references are not allowed here @4:14",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket  = \"b\"\n    encrypt = \"yes\"\n  }\n}\n",
                "! backend.encrypt must be true or false, got string @4:15",
            ),
            (
                "variable \"b\" {}\nkiln {\n  backend \"s3\" {\n    bucket = var.b\n  }\n}\n",
                "! backend.bucket must be a constant; references are not allowed here @4:14",
            ),
            (
                "kiln {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\nterraform {\n  backend \"local\" {}\n}\n",
                "! duplicate backend block; the first is at main.hcl:2:3 @7:3",
            ),
            (
                "kiln {\n  backend {}\n}\n",
                "! a backend block takes one label, its type @2:3",
            ),
        ],
        run,
    );
}
