//! Terraform's JSON configuration syntax (`*.tf.json`, what CDK for
//! Terraform writes), read by rewriting it as the native syntax it stands
//! for and parsing that. The rules are Terraform's
//! (<https://developer.hashicorp.com/terraform/language/syntax/json>):
//!
//! - the top-level object's properties are block types; each label of a
//!   block (`resource` has two, `variable` one, `locals` none) is one level
//!   of nested object, and at any level an array stands for several blocks;
//! - in a block body, a string is a string template (`"${var.name}-x"`),
//!   numbers, booleans and null are themselves, arrays and objects are
//!   tuples and objects of such values;
//! - meta-arguments that hold references are written as strings holding
//!   them (`"depends_on": ["aws_vpc.main"]`, `"provider": "aws.west"`), a
//!   variable's `type` is a string holding a type expression, its
//!   `default` is a literal value, a module's `source` a literal string;
//! - the blocks of the language (`lifecycle`, `dynamic` and its `content`,
//!   `provisioner`, `validation`, `precondition`, `backend`, ...) are
//!   objects (or arrays of objects) under their name; a nested block of a
//!   resource type is its object value (kiln reads an object attribute and
//!   a block alike);
//! - a property named `//` is a comment, ignored.
//!
//! Errors in the rewritten text are shown against it, under the file's
//! name with " (as HCL)" appended; JSON syntax errors are located in the
//! JSON file itself.

use serde_json::{Map, Value as J};

use crate::SourceFile;

/// What a body is, for which of its properties are blocks and which
/// strings are references.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Resource,
    Module,
    Variable,
    Output,
    Provider,
    Terraform,
    Backend,
    Lifecycle,
    Dynamic,
    Locals,
    /// Any other body (`content`, `provisioner`, `validation`, ...).
    Plain,
}

/// The native-syntax text a `*.tf.json` file stands for, or the JSON
/// syntax error with its 1-based line and column.
pub(crate) fn to_hcl(file: &SourceFile) -> Result<String, (String, usize, usize)> {
    let doc: J =
        serde_json::from_str(&file.text).map_err(|e| (e.to_string(), e.line(), e.column()))?;
    let J::Object(top) = doc else {
        return Err((
            "a JSON configuration file holds one object, like {\"resource\": {...}}".into(),
            1,
            1,
        ));
    };
    let mut out = String::new();
    for (ty, v) in entries(&top) {
        let (labels, kind) = match ty {
            "resource" | "data" => (2, Kind::Resource),
            "variable" => (1, Kind::Variable),
            "output" => (1, Kind::Output),
            "module" => (1, Kind::Module),
            "provider" => (1, Kind::Provider),
            "locals" => (0, Kind::Locals),
            "terraform" | "kiln" => (0, Kind::Terraform),
            "check" | "moved" | "import" | "removed" => (usize::from(ty == "check"), Kind::Plain),
            _ => (0, Kind::Plain),
        };
        blocks(ty, v, labels, &mut Vec::new(), kind, 0, &mut out);
    }
    Ok(out)
}

/// An object's properties, comments (`//`) left out.
fn entries(m: &Map<String, J>) -> impl Iterator<Item = (&str, &J)> {
    m.iter()
        .filter(|(k, _)| k.as_str() != "//")
        .map(|(k, v)| (k.as_str(), v))
}

/// Writes the blocks `ty` that `v` holds: `labels` more levels of labels,
/// then a body (or an array of bodies, at any level).
fn blocks(
    ty: &str,
    v: &J,
    labels: usize,
    seen: &mut Vec<String>,
    kind: Kind,
    indent: usize,
    out: &mut String,
) {
    match v {
        J::Array(items) => {
            for item in items {
                blocks(ty, item, labels, seen, kind, indent, out);
            }
        }
        J::Object(m) if labels > 0 => {
            for (label, inner) in entries(m) {
                seen.push(label.to_string());
                blocks(ty, inner, labels - 1, seen, kind, indent, out);
                seen.pop();
            }
        }
        J::Object(m) => {
            let pad = "  ".repeat(indent);
            out.push_str(&pad);
            out.push_str(ty);
            for l in seen.iter() {
                out.push(' ');
                quoted(l, out);
            }
            out.push_str(" {\n");
            body(m, kind, indent + 1, out);
            out.push_str(&pad);
            out.push_str("}\n");
        }
        // Not an object where a body belongs: written as an attribute, so
        // the parser reports it at its place.
        other => {
            out.push_str(&"  ".repeat(indent));
            out.push_str(ty);
            out.push_str(" = ");
            expr(other, out);
            out.push('\n');
        }
    }
}

/// The nested blocks of a body of `kind`: their type, labels and kind.
fn nested(kind: Kind, name: &str) -> Option<(usize, Kind)> {
    match (kind, name) {
        (Kind::Resource | Kind::Plain, "lifecycle") => Some((0, Kind::Lifecycle)),
        (Kind::Resource | Kind::Plain, "dynamic") => Some((1, Kind::Dynamic)),
        (Kind::Resource, "provisioner") => Some((1, Kind::Plain)),
        (Kind::Resource | Kind::Plain, "connection") => Some((0, Kind::Plain)),
        (Kind::Dynamic, "content") => Some((0, Kind::Plain)),
        (Kind::Lifecycle | Kind::Output | Kind::Plain, "precondition" | "postcondition") => {
            Some((0, Kind::Plain))
        }
        (Kind::Variable, "validation") => Some((0, Kind::Plain)),
        (Kind::Terraform, "backend") => Some((1, Kind::Backend)),
        (Kind::Terraform, "required_providers" | "cloud" | "encryption") => Some((0, Kind::Plain)),
        (Kind::Plain, "workspaces" | "assert") => Some((0, Kind::Plain)),
        (Kind::Plain, "data") => Some((2, Kind::Resource)),
        _ => None,
    }
}

fn body(m: &Map<String, J>, kind: Kind, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    if kind == Kind::Locals {
        for (name, v) in entries(m) {
            out.push_str(&format!("{pad}{name} = "));
            expr(v, out);
            out.push('\n');
        }
        return;
    }
    for (name, v) in entries(m) {
        if let Some((labels, inner)) = nested(kind, name)
            && (matches!(v, J::Object(_)) || matches!(v, J::Array(a) if a.iter().all(J::is_object)))
        {
            blocks(name, v, labels, &mut Vec::new(), inner, indent, out);
            continue;
        }
        out.push_str(&format!("{pad}{name} = "));
        match (kind, name) {
            (_, "depends_on") | (Kind::Lifecycle, "ignore_changes" | "replace_triggered_by") => {
                references(v, out)
            }
            (Kind::Resource, "provider") | (Kind::Dynamic, "iterator") => reference(v, out),
            (Kind::Module, "providers") => match v {
                J::Object(p) => {
                    out.push_str("{\n");
                    for (k, r) in entries(p) {
                        out.push_str(&format!("{pad}  {k} = "));
                        reference(r, out);
                        out.push('\n');
                    }
                    out.push_str(&format!("{pad}}}"));
                }
                other => expr(other, out),
            },
            (Kind::Variable, "type") => match v {
                J::String(t) => out.push_str(t),
                other => expr(other, out),
            },
            (Kind::Variable, "default") | (Kind::Module, "source" | "version") => literal(v, out),
            (Kind::Backend, _) => literal(v, out),
            _ => expr(v, out),
        }
        out.push('\n');
    }
}

/// A list of references written as strings.
fn references(v: &J, out: &mut String) {
    match v {
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                reference(item, out);
            }
            out.push(']');
        }
        other => expr(other, out),
    }
}

/// A reference written as a string (`"aws_vpc.main"`); anything else as
/// the value it is, for the parser to report.
fn reference(v: &J, out: &mut String) {
    match v {
        J::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.[]\"*".contains(c)) =>
        {
            out.push_str(s)
        }
        other => expr(other, out),
    }
}

/// A value as an expression: strings are templates.
fn expr(v: &J, out: &mut String) {
    value(v, false, out);
}

/// A value taken literally: `${` and `%{` in strings are text.
fn literal(v: &J, out: &mut String) {
    value(v, true, out);
}

fn value(v: &J, literal: bool, out: &mut String) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => out.push_str(&n.to_string()),
        J::String(s) => {
            if literal {
                quoted(&s.replace("${", "$${").replace("%{", "%%{"), out);
            } else {
                quoted(s, out);
            }
        }
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(item, literal, out);
            }
            out.push(']');
        }
        J::Object(m) => {
            out.push('{');
            for (i, (k, item)) in entries(m).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quoted(k, out);
                out.push_str(" = ");
                value(item, literal, out);
            }
            out.push('}');
        }
    }
}

/// `s` as a quoted HCL string: quotes, backslashes and control characters
/// escaped; `${` and `%{` kept (a template).
fn quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hcl(json: &str) -> String {
        to_hcl(&SourceFile {
            name: "main.tf.json".into(),
            text: json.into(),
        })
        .unwrap()
    }

    #[test]
    fn blocks_labels_and_values() {
        assert_eq!(
            hcl(
                r#"{"//": "a comment", "resource": {"null_resource": {"a": {"triggers": {"v": "${var.v}-x"}, "count": 2, "depends_on": ["null_resource.b"], "lifecycle": {"ignore_changes": ["triggers"]}}}}}"#
            ),
            "resource \"null_resource\" \"a\" {\n  count = 2\n  depends_on = [null_resource.b]\n  lifecycle {\n    ignore_changes = [triggers]\n  }\n  triggers = {\"v\" = \"${var.v}-x\"}\n}\n"
        );
        assert_eq!(
            hcl(
                r#"{"variable": {"v": {"type": "list(string)", "default": ["${x}"]}}, "locals": [{"a": 1}, {"b": "q\"t"}]}"#
            ),
            "locals {\n  a = 1\n}\nlocals {\n  b = \"q\\\"t\"\n}\nvariable \"v\" {\n  default = [\"$${x}\"]\n  type = list(string)\n}\n"
        );
    }

    #[test]
    fn json_errors_are_located() {
        let err = to_hcl(&SourceFile {
            name: "x.tf.json".into(),
            text: "{\n  \"resource\": oops\n}".into(),
        })
        .unwrap_err();
        assert_eq!((err.1, err.2), (2, 15));
    }
}
