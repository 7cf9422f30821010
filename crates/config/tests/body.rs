//! Resource bodies evaluated against a schema: every attribute present,
//! types converted, nested blocks, and every error of a body reported.

mod common;

use std::collections::BTreeMap;

use common::{TestScope, check_all, show, show_diags};
use kiln_config::{SourceFile, eval_body, parse};
use kiln_model::{AttributeSchema, ResourceSchema, Type};

fn schema() -> ResourceSchema {
    let s = |t: Type| Box::new(t);
    let check = Type::Object(BTreeMap::from([
        ("path".to_string(), Type::String),
        ("interval".to_string(), Type::Number),
    ]));
    ResourceSchema::new()
        .attr("name", AttributeSchema::required(Type::String))
        .attr(
            "triggers",
            AttributeSchema::optional(Type::Map(s(Type::String))),
        )
        .attr(
            "ports",
            AttributeSchema::optional(Type::List(s(Type::Number))),
        )
        .attr(
            "zones",
            AttributeSchema::optional(Type::Set(s(Type::String))),
        )
        .attr(
            "password",
            AttributeSchema::optional(Type::String).sensitive(),
        )
        .attr("enabled", AttributeSchema::optional(Type::Bool))
        .attr("id", AttributeSchema::computed(Type::String))
        .attr("health_check", AttributeSchema::optional(check.clone()))
        .attr("rule", AttributeSchema::optional(Type::List(s(check))))
}

fn run(body: &str) -> String {
    let text = format!("resource \"test_thing\" \"x\" {{\n{body}\n}}\n");
    let (config, diags) = parse(vec![SourceFile {
        name: "main.hcl".into(),
        text,
    }]);
    if !diags.is_empty() {
        return show_diags(&diags);
    }
    match eval_body(&config.resources[0].body, &schema(), &TestScope::new()) {
        Ok(v) => show(&v),
        Err(d) => show_diags(&d),
    }
}

const NULLS: &str = "enabled = null, health_check = null, id = null";

#[test]
fn bodies() {
    let minimal = format!(
        "{{{NULLS}, name = \"a\", password = null, ports = null, rule = null, triggers = null, zones = null}}"
    );
    check_all(
        &[
            ("  name = \"a\"", minimal.as_str()),
            (
                "  name = 1\n  ports = [\"80\", 443]\n  zones = [\"b\", \"a\", \"b\"]\n  triggers = { k = 1, v = true }\n  password = \"p\"\n  enabled = \"true\"",
                "{enabled = true, health_check = null, id = null, name = \"1\", password = sensitive(\"p\"), ports = [80, 443], rule = null, triggers = {k = \"1\", v = \"true\"}, zones = [\"a\", \"b\"]}",
            ),
            (
                "  name = var.unk\n  triggers = { a = var.unk }\n  password = var.secret",
                "{enabled = null, health_check = null, id = null, name = unknown, password = sensitive(\"hunter2\"), ports = null, rule = null, triggers = {a = unknown}, zones = null}",
            ),
            (
                "  name = var.secret",
                "{enabled = null, health_check = null, id = null, name = sensitive(\"hunter2\"), password = null, ports = null, rule = null, triggers = null, zones = null}",
            ),
            (
                "  name = \"a\"\n  health_check {\n    path = \"/\"\n  }\n  rule {\n    interval = \"5\"\n  }\n  rule {\n    path = \"/b\"\n  }",
                "{enabled = null, health_check = {interval = null, path = \"/\"}, id = null, name = \"a\", password = null, ports = null, rule = [{interval = 5, path = null}, {interval = null, path = \"/b\"}], triggers = null, zones = null}",
            ),
            (
                "  name = \"a\"\n  health_check = { path = \"/x\" }",
                "{enabled = null, health_check = {interval = null, path = \"/x\"}, id = null, name = \"a\", password = null, ports = null, rule = null, triggers = null, zones = null}",
            ),
            // Errors: every one of a body is reported.
            (
                "  name = \"a\"\n  trigers = {}\n  id = \"x\"\n  triggers = [\"a\"]\n  ports = [\"x\"]",
                "! unknown attribute \"trigers\"; did you mean \"triggers\"? @3:3\n\
                 ! attribute \"id\" is computed by the provider and cannot be set @4:3\n\
                 ! attribute \"triggers\": expected map(string), got list @5:14\n\
                 ! attribute \"ports\": element [0]: expected number, got string \"x\" @6:11",
            ),
            (
                "  ports = [1]",
                "! missing required attribute \"name\" @1:1",
            ),
            (
                "  name = var.nope",
                "! reference to undeclared input variable \"nope\" @2:10",
            ),
            (
                "  name = \"a\"\n  health_check {\n    paht = \"/\"\n  }",
                "! unknown attribute \"paht\"; did you mean \"path\"? @4:5",
            ),
            (
                "  name = \"a\"\n  health_check {}\n  health_check {}",
                "! at most one \"health_check\" block is allowed; the first is at main.hcl:3:3 @4:3",
            ),
            (
                "  name = \"a\"\n  triggers {}",
                "! \"triggers\" is an attribute of type map(string), not a block @3:3",
            ),
            (
                "  name = \"a\"\n  nope {}",
                "! unknown block type \"nope\" @3:3",
            ),
            (
                "  name = \"a\"\n  health_check = {}\n  health_check {}",
                "! \"health_check\" is set both as an attribute (at main.hcl:3:3) and as a block @4:3",
            ),
        ],
        run,
    );
}

#[test]
fn unknown_attribute_lists_the_valid_names() {
    let text = "resource \"test_thing\" \"x\" {\n  name = \"a\"\n  bogus = 1\n}\n";
    let (config, _) = parse(vec![SourceFile {
        name: "main.hcl".into(),
        text: text.into(),
    }]);
    let err = eval_body(&config.resources[0].body, &schema(), &TestScope::new()).unwrap_err();
    let d = err.iter().next().unwrap();
    assert_eq!(
        d.detail.as_deref(),
        Some(
            "the valid names are \"enabled\", \"health_check\", \"name\", \"password\", \"ports\", \"rule\", \"triggers\" or \"zones\""
        )
    );
}
