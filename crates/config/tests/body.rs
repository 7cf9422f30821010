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

const EMPTY: &str =
    "enabled = null, health_check = null, id = null, name = \"a\", password = null, ports = null";

#[test]
fn dynamic_blocks() {
    let with = |rule: &str| format!("{{{EMPTY}, rule = {rule}, triggers = null, zones = null}}");
    let cases = [
        // One block per element: lists by index, maps by key; the iterator
        // is the block's type unless named; written blocks come first.
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = var.list\n    content {\n      path = rule.value\n      interval = rule.key\n    }\n  }",
            with("[{interval = 0, path = \"a\"}, {interval = 1, path = \"b\"}, {interval = 2, path = \"c\"}]"),
        ),
        (
            "  name = \"a\"\n  rule {\n    path = \"/first\"\n  }\n  dynamic \"rule\" {\n    for_each = var.m\n    iterator = r\n    content {\n      path = r.key\n      interval = r.value\n    }\n  }",
            with("[{interval = null, path = \"/first\"}, {interval = 1, path = \"a\"}, {interval = 2, path = \"b\"}]"),
        ),
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = []\n    content {}\n  }",
            with("[]"),
        ),
        // A single block (an object attribute) from a one-element list.
        (
            "  name = \"a\"\n  dynamic \"health_check\" {\n    for_each = [\"/h\"]\n    content {\n      path = health_check.value\n    }\n  }",
            "{enabled = null, health_check = {interval = null, path = \"/h\"}, id = null, name = \"a\", password = null, ports = null, rule = null, triggers = null, zones = null}".to_string(),
        ),
        // Not known yet: the whole attribute is unknown.
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = var.unk\n    content {}\n  }",
            with("unknown"),
        ),
        // Sensitive for_each: the blocks are sensitive.
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = sensitive([\"/s\"])\n    content {\n      path = rule.value\n    }\n  }",
            with("sensitive([{interval = null, path = \"/s\"}])"),
        ),
        // Errors, located.
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    content {}\n  }",
            "! a dynamic block needs for_each: the collection to make a block for each element of @3:3".to_string(),
        ),
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = var.list\n  }",
            "! a dynamic block needs a content block: the body of each block it makes @3:3".to_string(),
        ),
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = 3\n    content {}\n  }",
            "! invalid dynamic for_each value: cannot use a number value in for_each; an iterable collection is required @4:16".to_string(),
        ),
        (
            "  name = \"a\"\n  dynamic \"rule\" {\n    for_each = var.list\n    content {\n      paht = rule.value\n    }\n  }",
            "! unknown attribute \"paht\"; did you mean \"path\"? @6:7".to_string(),
        ),
        (
            "  name = \"a\"\n  dynamic \"nope\" {\n    for_each = var.list\n    content {}\n  }",
            "! unknown block type \"nope\" @3:3".to_string(),
        ),
    ];
    for (body, expect) in cases {
        assert_eq!(run(body), expect, "{body}");
    }
}

#[test]
fn a_dynamic_blocks_iterator_is_not_a_reference() {
    let text = "resource \"test_thing\" \"x\" {\n  dynamic \"rule\" {\n    for_each = var.list\n    iterator = r\n    content {\n      path = \"${r.value}-${null_resource.a.id}\"\n    }\n  }\n}\n";
    let (config, diags) = parse(vec![SourceFile {
        name: "main.hcl".into(),
        text: text.into(),
    }]);
    assert!(diags.is_empty(), "{}", show_diags(&diags));
    let refs: Vec<String> = config.resources[0]
        .body
        .references()
        .iter()
        .map(|r| format!("{:?}", r.subject))
        .collect();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs[0].contains("list"), "{refs:?}");
    assert!(refs[1].contains("null_resource"), "{refs:?}");
}
