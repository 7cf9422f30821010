//! The function library against Terraform's documented results: every file
//! in `fixtures/functions/` holds lines `EXPRESSION => EXPECTED`, where
//! EXPECTED is a value (rendered with its marks) or `! MESSAGE @LINE:COL`
//! (the diagnostic's summary contains MESSAGE and it starts at LINE:COL).
//! Lines starting with `#` are comments. The scope is the shared test
//! scope, with an in-memory module directory for the file functions.

mod common;

use std::path::Path;

use common::{TestScope, matches, show, show_diags};
use kiln_config::{eval, function_names, parse_expr};

fn run(input: &str) -> String {
    let expr = match parse_expr("test.hcl", input) {
        Ok(e) => e,
        Err(d) => return show_diags(&d),
    };
    match eval(&expr, &TestScope::new()) {
        Ok(v) => show(&v),
        Err(d) => show_diags(&d),
    }
}

/// Every case of every fixture file: (file, line number, input, expected).
fn cases() -> Vec<(String, usize, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (input, expect) = line
                .rsplit_once(" => ")
                .unwrap_or_else(|| panic!("{name}:{}: no \" => \" in {line:?}", i + 1));
            out.push((name.clone(), i + 1, input.to_string(), expect.to_string()));
        }
    }
    out
}

#[test]
fn fixtures() {
    let cases = cases();
    let mut failures = Vec::new();
    for (file, line, input, expect) in &cases {
        let got = run(input);
        if !matches(&got, expect) {
            failures.push(format!(
                "{file}:{line}\n  input:  {input}\n  expect: {expect}\n  got:    {got}\n"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every function of the library is exercised by at least one fixture.
#[test]
fn every_function_has_a_fixture() {
    let cases = cases();
    let missing: Vec<&str> = function_names()
        .filter(|name| {
            !cases
                .iter()
                .any(|(_, _, input, _)| input.contains(&format!("{name}(")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a fixture: {missing:?}"
    );
}
