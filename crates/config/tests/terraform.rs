//! The differential corpus: every expression of `terraform/cases.txt`
//! evaluated by kiln and compared with what Terraform 1.11.4 answered for
//! it (`terraform/recorded.json`, recorded by `terraform/record.py`; this
//! test needs no Terraform). Values are compared in one canonical text
//! form — compact JSON, object keys sorted, numbers as exact decimals —
//! and an error must be an error.
//!
//! `terraform/gaps.txt` lists the cases kiln does not match yet (issue 20
//! tracks them): every other case must match, and a listed case that now
//! matches fails the test until it is taken off the list, so the list only
//! shrinks. `KILN_CORPUS_GAPS=write` rewrites it from the current results.
//! `terraform/known-differences.txt` lists cases where Terraform itself is
//! wrong (none yet).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiln_config::{Scope, Subject, eval, parse_expr};
use kiln_model::{ResourceAddr, Value};

/// A root module with nothing declared, as the planner's scope answers for
/// one in `/project` (`path.root` and `path.module` are `.`, `path.cwd` the
/// directory), environment `default` (Terraform's workspace).
struct RootScope;

impl Scope for RootScope {
    fn variable(&self, _: &str) -> Option<Value> {
        None
    }
    fn local(&self, _: &str) -> Option<Value> {
        None
    }
    fn resource(&self, _: &ResourceAddr) -> Option<Value> {
        None
    }
    fn path(&self, which: &str) -> Option<String> {
        Some(if which == "cwd" { "/project" } else { "." }.into())
    }
    fn files(&self) -> &dyn kiln_config::FileSystem {
        &EmptyDir
    }
}

/// The directory Terraform evaluates the corpus in: empty, at `/project`.
struct EmptyDir;

impl kiln_config::FileSystem for EmptyDir {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {path}"))
    }
    fn is_file(&self, _: &str) -> Result<bool, String> {
        Ok(false)
    }
    fn files_under(&self, _: &str) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
    fn absolute(&self, path: &str) -> Result<String, String> {
        Ok(match path.trim_start_matches("./") {
            "." | "" => "/project".to_string(),
            p if p.starts_with('/') => p.to_string(),
            p => format!("/project/{p}"),
        })
    }
    fn home_dir(&self) -> Option<String> {
        Some("/root".into())
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/terraform")
}

/// (id, category, expression) of every case.
fn cases() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir().join("cases.txt")).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let id = parts.next().unwrap().to_string();
            let cat = parts.next().unwrap().to_string();
            let expr = parts.next().unwrap().to_string();
            (id, cat, expr)
        })
        .collect()
}

fn recorded() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir().join("recorded.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn listed(file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(dir().join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

fn has_infinity(v: &Value) -> bool {
    match v.unmarked() {
        Value::Number(n) => n.is_infinite(),
        Value::List(items) => items.iter().any(has_infinity),
        Value::Map(m) => m.values().any(has_infinity),
        _ => false,
    }
}

/// The canonical text of a value (the form record.py writes).
fn canonical(v: &Value) -> String {
    match v.unmarked() {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        // Terraform's JSON text of a number (Go's `Text('f', -1)`).
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), canonical(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Unknown => "unknown".into(),
        Value::Sensitive(_) => unreachable!("unmarked"),
    }
}

/// kiln's answer: the canonical value, or `error`.
fn kiln(expr: &str) -> String {
    let parsed = match parse_expr("main.tf", expr) {
        Ok(e) => e,
        Err(_) => return "error".into(),
    };
    // The planner checks every reference against the declarations before
    // evaluating (as Terraform does): in this empty root module, a
    // reference to a variable, local, resource or module is an error, even
    // inside try().
    let undeclared = parsed.references().iter().any(|r| {
        matches!(
            r.subject,
            Subject::Variable(_) | Subject::Local(_) | Subject::Resource(_) | Subject::Module(_)
        )
    });
    if undeclared {
        return "error".into();
    }
    // A panic is a bug in its own right: reported, not fatal to the run.
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| eval(&parsed, &RootScope)));
    match result {
        // Each case is an output not declared sensitive: a sensitive value
        // is refused there, by Terraform and by kiln's planner alike.
        Ok(Ok(v)) if v.contains_sensitive() => "error".into(),
        // Nor can an output hold an infinity (Terraform cannot store one).
        Ok(Ok(v)) if has_infinity(&v) => "error".into(),
        Ok(Ok(v)) => canonical(&v),
        Ok(Err(_)) => "error".into(),
        Err(_) => "panic".into(),
    }
}

#[test]
fn kiln_answers_every_expression_as_terraform_does() {
    let cases = cases();
    let recorded = recorded();
    let gaps = listed("gaps.txt");
    let known = listed("known-differences.txt");
    assert!(cases.len() >= 600, "{} cases", cases.len());
    let mut differ = Vec::new();
    let mut fixed = Vec::new();
    let mut unlisted = Vec::new();
    let mut panics = Vec::new();
    for (id, cat, expr) in &cases {
        let want = recorded
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not recorded: run terraform/record.py"));
        // A case on several lines (a heredoc) writes its newlines as ⏎.
        let got = kiln(&expr.replace('\u{23ce}', "\n"));
        if got == "panic" {
            panics.push(format!("{id} {expr}"));
        }
        let agree = &got == want;
        if !agree {
            differ.push(format!(
                "{id}\t{cat}\t{expr}\tterraform: {want}\tkiln: {got}"
            ));
        }
        match (agree, gaps.contains(id) || known.contains(id)) {
            (true, true) => fixed.push(id.clone()),
            (false, false) => unlisted.push(format!(
                "{id} ({cat}) {expr}\n    terraform: {want}\n    kiln:      {got}"
            )),
            _ => {}
        }
    }
    if std::env::var("KILN_CORPUS_GAPS").as_deref() == Ok("write") {
        let mut text = String::from(
            "# Cases kiln does not answer as Terraform 1.11.4 yet (issue 20): ID<TAB>category<TAB>expression<TAB>terraform<TAB>kiln.\n# Written by KILN_CORPUS_GAPS=write cargo test -p kiln-config --test terraform; only ever shrinks.\n",
        );
        for d in &differ {
            if !known.contains(d.split('\t').next().unwrap_or("")) {
                text.push_str(d);
                text.push('\n');
            }
        }
        std::fs::write(dir().join("gaps.txt"), text).unwrap();
        return;
    }
    assert!(panics.is_empty(), "kiln panicked on: {panics:#?}");
    assert!(
        unlisted.is_empty(),
        "{} case(s) differ from Terraform 1.11.4 and are not in gaps.txt:\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "now answered as Terraform does — take them off gaps.txt: {fixed:?}"
    );
    #[allow(clippy::print_stderr, reason = "the corpus figure")]
    {
        eprintln!(
            "{} of {} cases agree with Terraform 1.11.4; {} listed in gaps.txt",
            cases.len() - differ.len(),
            cases.len(),
            differ.len()
        );
    }
}
