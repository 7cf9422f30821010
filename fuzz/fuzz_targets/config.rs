//! The parser and the evaluator on arbitrary input: whatever the text, they
//! return a value or diagnostics, never panic. The input is parsed both as
//! a configuration file (then every local and output is evaluated, and every
//! variable default converted) and as a single expression. `kiln fmt`'s
//! layout must keep a file parsing, and be idempotent.
#![no_main]

use kiln_config::{NameKind, Scope, SourceFile, eval, parse, parse_expr};
use kiln_model::{ResourceAddr, Value};
use libfuzzer_sys::fuzz_target;

/// A scope with one of everything, so references resolve somewhere.
struct FuzzScope;

impl Scope for FuzzScope {
    fn variable(&self, name: &str) -> Option<Value> {
        match name {
            "s" => Some(Value::from("text")),
            "n" => Some(Value::from(3)),
            "l" => Some(Value::List(vec![Value::from("a"), Value::Unknown].into())),
            "t" => Some(Value::List(kiln_model::Seq::new(
                vec![Value::from("a"), Value::from("b")],
                kiln_model::SeqKind::Set,
            ))),
            "m" => Some(Value::map([("k", Value::from("v").sensitive())])),
            "u" => Some(Value::Unknown),
            _ => None,
        }
    }
    fn local(&self, _name: &str) -> Option<Value> {
        Some(Value::Unknown)
    }
    fn resource(&self, _addr: &ResourceAddr) -> Option<Value> {
        Some(Value::map([("id", Value::Unknown)]))
    }
    fn count_index(&self) -> Option<u64> {
        Some(0)
    }
    fn names(&self, _kind: NameKind) -> Vec<String> {
        vec!["s".into(), "n".into()]
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (config, _diags) = parse(vec![SourceFile {
        name: "fuzz.hcl".into(),
        text: text.to_string(),
    }]);
    for local in &config.locals {
        let _ = eval(&local.expr, &FuzzScope);
    }
    for output in &config.outputs {
        let _ = eval(&output.expr, &FuzzScope);
    }
    for r in &config.resources {
        for a in &r.body.attributes {
            let _ = eval(&a.expr, &FuzzScope);
        }
    }
    if let Ok(formatted) = kiln_config::format("fuzz.hcl", text) {
        assert!(
            hcl_edit::parser::parse_body(&formatted).is_ok(),
            "the formatted text does not parse:\n{formatted}"
        );
        let again = kiln_config::format("fuzz.hcl", &formatted).expect("formats again");
        assert_eq!(again, formatted, "formatting is not idempotent");
    }
    if let Ok(expr) = parse_expr("fuzz.hcl", text) {
        let _ = eval(&expr, &FuzzScope);
        let _ = expr.references();
    }
});
