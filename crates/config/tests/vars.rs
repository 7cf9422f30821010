//! Variable values from the command line and from variable files.

mod common;

use common::{check_all, show, show_diags};
use kiln_config::{SourceFile, parse_var_file, parse_var_value};
use kiln_model::Type;

fn ty(s: &str) -> Option<Type> {
    let n = |t: Type| Box::new(t);
    match s {
        "" => None,
        "string" => Some(Type::String),
        "number" => Some(Type::Number),
        "bool" => Some(Type::Bool),
        "list(number)" => Some(Type::List(n(Type::Number))),
        "map(string)" => Some(Type::Map(n(Type::String))),
        other => panic!("no type {other}"),
    }
}

#[test]
fn values() {
    check_all(
        &[
            ("|hello", "\"hello\""),
            ("string|[1, 2]", "\"[1, 2]\""),
            ("number|42", "42"),
            // As Terraform reads `-var`: a primitive's text is the value,
            // converted (Terraform 1.11: `-var 'n="42"'` and `n=abc` both
            // fail with "a number is required").
            ("number|1e3", "1000"),
            ("bool|true", "true"),
            ("bool|false", "false"),
            ("list(number)|[1, \"2\"]", "[1, 2]"),
            ("map(string)|{a = 1}", "{a = \"1\"}"),
            (
                "list(number)|[var.x]",
                "! invalid value for a variable of type list(number): a variable's value must be a constant @1:2",
            ),
            (
                "number|\"42\"",
                "! invalid value \"\\\"42\\\"\" for a variable of type number: a number is required",
            ),
            (
                "number|abc",
                "! invalid value \"abc\" for a variable of type number: a number is required",
            ),
            (
                "bool|yes",
                "! invalid value \"yes\" for a variable of type bool: a bool is required",
            ),
            (
                "list(number)|[1,",
                "! invalid value for a variable of type list(number): syntax error: expected `]` @1:3",
            ),
        ],
        |input| {
            let (t, raw) = input.split_once('|').unwrap();
            match parse_var_value(raw, ty(t).as_ref()) {
                Ok(v) => show(&v),
                Err(d) => show_diags(&d.into()),
            }
        },
    );
}

#[test]
fn files() {
    check_all(
        &[
            (
                "name = \"web\"\nports = [80, 443]\ntags = { a = \"b\" }\n",
                "name = \"web\"\nports = [80, 443]\ntags = {a = \"b\"}",
            ),
            ("a = 1 + 1\nb = upper(\"x\")\n", "a = 2\nb = \"X\""),
            ("a = var.b\n", "! must be a constant @1:5"),
            ("a = \n", "! syntax error @1:5"),
            (
                "block {}\n",
                "! unexpected block \"block\" in a variables file @1:1",
            ),
        ],
        |input| {
            let (values, diags) = parse_var_file(SourceFile {
                name: "x.kilnvars".into(),
                text: input.into(),
            });
            if !diags.is_empty() {
                return show_diags(&diags);
            }
            values
                .iter()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
}
