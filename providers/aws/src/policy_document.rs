//! `data "aws_iam_policy_document"`: an IAM policy document built from
//! `statement` blocks, rendered as the Terraform AWS provider renders it
//! (its `IAMPolicyDoc`): keys in the order Version, Id, Statement and Sid,
//! Effect, Action, NotAction, Resource, NotResource, Principal,
//! NotPrincipal, Condition; a list of one element written as that element;
//! longer lists of actions, resources and identifiers in reverse sorted
//! order; `json` indented by two spaces, `minified_json` compact; `<`, `>`
//! and `&` escaped as Go's encoder escapes them. `source_policy_documents`
//! are merged first and `override_policy_documents` last, a statement with
//! the same `sid` replacing the earlier one.
//!
//! Computed locally: no AWS call.

use kiln_model::Value;

use crate::api::Error;
use crate::values::{objects, s, string, strings};

/// A JSON value whose objects keep their keys in the order written.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Str(String),
    List(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn render(&self, out: &mut String, indent: Option<usize>) {
        let newline = |out: &mut String, level: usize| {
            if indent.is_some() {
                out.push('\n');
                out.push_str(&"  ".repeat(level));
            }
        };
        let level = indent.unwrap_or(0);
        let deeper = indent.map(|l| l + 1);
        match self {
            Json::Str(v) => quote(out, v),
            Json::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    item.render(out, deeper);
                }
                if !items.is_empty() {
                    newline(out, level);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    quote(out, k);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    v.render(out, deeper);
                }
                if !fields.is_empty() {
                    newline(out, level);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string as Go's encoding/json writes it (HTML-safe escapes).
fn quote(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A list of strings as the provider writes it: one element as itself,
/// more in reverse sorted order.
fn string_set(mut items: Vec<String>) -> Option<Json> {
    items.sort();
    items.dedup();
    match items.len() {
        0 => None,
        1 => Some(Json::Str(items.remove(0))),
        _ => Some(Json::List(items.into_iter().rev().map(Json::Str).collect())),
    }
}

/// One statement, its fields in the provider's order.
#[derive(Debug, Clone, Default)]
struct Statement {
    sid: String,
    fields: Vec<(String, Json)>,
}

fn principals(blocks: &[&Value]) -> Option<Json> {
    // type → identifiers; `*` with identifiers ["*"] is the bare "*".
    let mut by_type: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for p in blocks {
        let ty = string(p, "type").unwrap_or_default();
        by_type
            .entry(ty)
            .or_default()
            .extend(strings(p, "identifiers"));
    }
    if by_type.is_empty() {
        return None;
    }
    if by_type.len() == 1
        && let Some(ids) = by_type.get("*")
        && ids.iter().all(|i| i == "*")
    {
        return Some(Json::Str("*".into()));
    }
    Some(Json::Obj(
        by_type
            .into_iter()
            .filter_map(|(ty, ids)| Some((ty, string_set(ids)?)))
            .collect(),
    ))
}

fn conditions(blocks: &[&Value]) -> Option<Json> {
    let mut by_test: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, Vec<String>>,
    > = Default::default();
    for c in blocks {
        by_test
            .entry(string(c, "test").unwrap_or_default())
            .or_default()
            .entry(string(c, "variable").unwrap_or_default())
            .or_default()
            .extend(strings(c, "values"));
    }
    if by_test.is_empty() {
        return None;
    }
    Some(Json::Obj(
        by_test
            .into_iter()
            .map(|(test, vars)| {
                let vars = vars
                    .into_iter()
                    .map(|(var, mut values)| {
                        // Condition values keep their order (a list).
                        let v = if values.len() == 1 {
                            Json::Str(values.remove(0))
                        } else {
                            Json::List(values.into_iter().map(Json::Str).collect())
                        };
                        (var, v)
                    })
                    .collect();
                (test, Json::Obj(vars))
            })
            .collect(),
    ))
}

fn statement_of(block: &Value) -> Statement {
    let mut fields = Vec::new();
    let sid = string(block, "sid").unwrap_or_default();
    if !sid.is_empty() {
        fields.push(("Sid".to_string(), Json::Str(sid.clone())));
    }
    fields.push((
        "Effect".to_string(),
        Json::Str(string(block, "effect").unwrap_or_else(|| "Allow".into())),
    ));
    for (attr, key) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(v) = string_set(strings(block, attr)) {
            fields.push((key.to_string(), v));
        }
    }
    if let Some(p) = principals(&objects(block, "principals")) {
        fields.push(("Principal".to_string(), p));
    }
    if let Some(p) = principals(&objects(block, "not_principals")) {
        fields.push(("NotPrincipal".to_string(), p));
    }
    if let Some(c) = conditions(&objects(block, "condition")) {
        fields.push(("Condition".to_string(), c));
    }
    Statement { sid, fields }
}

/// A parsed JSON document's value in the provider's shape.
fn from_json(v: &serde_json::Value) -> Json {
    match v {
        serde_json::Value::String(s) => Json::Str(s.clone()),
        serde_json::Value::Array(a) => Json::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Json::Obj(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
        other => Json::Str(other.to_string()),
    }
}

/// The statements of a JSON policy document (source or override).
fn statements_of_json(doc: &str, attr: &str) -> Result<Vec<Statement>, Error> {
    let v: serde_json::Value = serde_json::from_str(doc)
        .map_err(|e| Error::new(format!("{attr}: a document is not valid JSON: {e}")))?;
    let list = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    const ORDER: &[&str] = &[
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    ];
    Ok(list
        .iter()
        .map(|st| {
            let sid = st
                .get("Sid")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_string();
            let fields = ORDER
                .iter()
                .filter_map(|k| {
                    let v = st.get(*k)?;
                    let j = match v {
                        serde_json::Value::Array(items) if *k != "Condition" => string_set(
                            items
                                .iter()
                                .map(|i| i.as_str().unwrap_or_default().to_string())
                                .collect(),
                        )?,
                        _ => from_json(v),
                    };
                    Some((k.to_string(), j))
                })
                .collect();
            Statement { sid, fields }
        })
        .collect())
}

/// Adds statements: one with the sid of an earlier one replaces it.
fn merge(into: &mut Vec<Statement>, more: Vec<Statement>) {
    for st in more {
        match into
            .iter_mut()
            .find(|s| !st.sid.is_empty() && s.sid == st.sid)
        {
            Some(slot) => *slot = st,
            None => into.push(st),
        }
    }
}

/// The data source's state: the configuration with `json`,
/// `minified_json` and `id` (a hash of the document, as the provider's).
pub fn read(config: &Value) -> Result<Value, Error> {
    let mut statements = Vec::new();
    for doc in strings(config, "source_policy_documents") {
        merge(
            &mut statements,
            statements_of_json(&doc, "source_policy_documents")?,
        );
    }
    let own: Vec<Statement> = objects(config, "statement")
        .into_iter()
        .map(statement_of)
        .collect();
    merge(&mut statements, own);
    for doc in strings(config, "override_policy_documents") {
        merge(
            &mut statements,
            statements_of_json(&doc, "override_policy_documents")?,
        );
    }
    let mut doc = vec![(
        "Version".to_string(),
        Json::Str(string(config, "version").unwrap_or_else(|| "2012-10-17".into())),
    )];
    if let Some(id) = string(config, "policy_id") {
        doc.push(("Id".to_string(), Json::Str(id)));
    }
    if !statements.is_empty() {
        doc.push((
            "Statement".to_string(),
            Json::List(
                statements
                    .into_iter()
                    .map(|s| Json::Obj(s.fields))
                    .collect(),
            ),
        ));
    }
    let doc = Json::Obj(doc);
    let mut pretty = String::new();
    doc.render(&mut pretty, Some(0));
    let mut minified = String::new();
    doc.render(&mut minified, None);
    let id = crate::api::fnv1a(minified.as_bytes()).to_string();
    Ok(crate::values::state(
        config,
        [
            ("json", s(pretty)),
            ("minified_json", s(minified)),
            ("id", s(id)),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(fields: &[(&str, Value)]) -> Value {
        Value::map(fields.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn strs(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::from(*s)).collect())
    }

    #[test]
    fn an_assume_role_policy_renders_as_the_provider_renders_it() {
        let principal = block(&[
            ("type", Value::from("Service")),
            ("identifiers", strs(&["ec2.amazonaws.com"])),
        ]);
        let st = block(&[
            ("actions", strs(&["sts:AssumeRole"])),
            ("principals", Value::List(vec![principal].into())),
        ]);
        let config = block(&[("statement", Value::List(vec![st].into()))]);
        let out = read(&config).unwrap();
        assert_eq!(
            out.get("json").and_then(Value::as_str).unwrap(),
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"sts:AssumeRole\",\n      \"Principal\": {\n        \"Service\": \"ec2.amazonaws.com\"\n      }\n    }\n  ]\n}"
        );
        assert_eq!(
            out.get("minified_json").and_then(Value::as_str).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}]}"#
        );
    }

    #[test]
    fn lists_reverse_sorted_conditions_kept_and_overrides_by_sid() {
        let cond = block(&[
            ("test", Value::from("StringEquals")),
            ("variable", Value::from("aws:SourceAccount")),
            ("values", strs(&["123", "456"])),
        ]);
        let st = block(&[
            ("sid", Value::from("Read")),
            ("actions", strs(&["s3:GetObject", "s3:ListBucket"])),
            ("resources", strs(&["arn:aws:s3:::b/*"])),
            ("condition", Value::List(vec![cond].into())),
        ]);
        let over =
            r#"{"Statement":[{"Sid":"Read","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let config = block(&[
            ("statement", Value::List(vec![st.clone()].into())),
            ("version", Value::from("2012-10-17")),
        ]);
        let min = read(&config).unwrap();
        assert_eq!(
            min.get("minified_json").and_then(Value::as_str).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceAccount":["123","456"]}}}]}"#
        );
        let config = block(&[
            ("statement", Value::List(vec![st].into())),
            ("override_policy_documents", strs(&[over])),
        ]);
        let merged = read(&config).unwrap();
        assert_eq!(
            merged.get("minified_json").and_then(Value::as_str).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#
        );
    }

    #[test]
    fn everyone_is_a_bare_star_and_html_characters_are_escaped() {
        let p = block(&[("type", Value::from("*")), ("identifiers", strs(&["*"]))]);
        let cond = block(&[
            ("test", Value::from("StringLike")),
            ("variable", Value::from("aws:UserAgent")),
            ("values", strs(&["<a&b>"])),
        ]);
        let st = block(&[
            ("actions", strs(&["s3:GetObject"])),
            ("principals", Value::List(vec![p].into())),
            ("condition", Value::List(vec![cond].into())),
        ]);
        let out = read(&block(&[("statement", Value::List(vec![st].into()))])).unwrap();
        assert_eq!(
            out.get("minified_json").and_then(Value::as_str).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Principal":"*","Condition":{"StringLike":{"aws:UserAgent":"\u003ca\u0026b\u003e"}}}]}"#
        );
    }
}
