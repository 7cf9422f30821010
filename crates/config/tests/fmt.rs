//! `kiln fmt`'s layout: each `tests/fixtures/fmt/NAME.in.hcl` formats to
//! `NAME.out.hcl`, which is itself already formatted (formatting twice
//! changes nothing) and means the same configuration.

use std::path::Path;

fn fixtures() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".in.hcl") {
            let input = std::fs::read_to_string(&path).expect("input");
            let expected =
                std::fs::read_to_string(dir.join(format!("{stem}.out.hcl"))).expect("output");
            out.push((stem.to_string(), input, expected));
        }
    }
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

#[test]
fn fixtures_format_to_their_expected_layout() {
    for (name, input, expected) in fixtures() {
        let got = kiln_config::format(&name, &input).expect("formats");
        assert_eq!(got, expected, "{name}: formatted\n{got}");
        let again = kiln_config::format(&name, &got).expect("formats again");
        assert_eq!(again, got, "{name}: formatting is not idempotent");
    }
}

#[test]
fn formatting_keeps_the_meaning() {
    for (name, input, _) in fixtures() {
        let got = kiln_config::format(&name, &input).expect("formats");
        let a = hcl_edit::parser::parse_body(&input).expect("parses");
        let b = hcl_edit::parser::parse_body(&got).expect("parses");
        // Same structure: the same attributes and blocks, in order.
        let shape = |body: &hcl_edit::structure::Body| {
            body.iter()
                .map(|s| match s {
                    hcl_edit::structure::Structure::Attribute(a) => a.key.to_string(),
                    hcl_edit::structure::Structure::Block(b) => {
                        format!("{} {}", b.ident.as_str(), b.body.len())
                    }
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&a), shape(&b), "{name}");
    }
}

#[test]
fn a_syntax_error_is_reported_not_formatted() {
    let err = kiln_config::format("bad.hcl", "resource \"a\" \"b\" {\n  x = \n}\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad.hcl:"), "{text}");
    assert!(text.contains("syntax error"), "{text}");
}

/// Every expression of the function fixtures, as attributes of a file laid
/// out badly: the formatted file parses to the same expressions, and
/// formatting it again changes nothing.
#[test]
fn every_fixture_expression_survives_formatting() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions");
    let mut text = String::from("locals {\n");
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let body = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for line in body.lines() {
            let Some((expr, _)) = line.split_once(" => ") else {
                continue;
            };
            if line.starts_with('#') || hcl_edit::parser::parse_expr(expr).is_err() {
                continue;
            }
            let n = exprs.len();
            // Odd indentation and spacing, on purpose.
            text.push_str(&format!("{}e{n}={expr}\n", " ".repeat(n % 5)));
            exprs.push(expr.to_string());
        }
    }
    text.push_str("}\n");
    assert!(exprs.len() > 100, "only {} expressions", exprs.len());
    let got = kiln_config::format("all.hcl", &text).expect("formats");
    assert_eq!(kiln_config::format("all.hcl", &got).expect("again"), got);
    let body = hcl_edit::parser::parse_body(&got).expect("the formatted file parses");
    let block = body
        .iter()
        .next()
        .and_then(|s| s.as_block())
        .expect("locals");
    let values: Vec<String> = block
        .body
        .iter()
        .filter_map(|s| s.as_attribute())
        .map(|a| a.value.to_string().trim().to_string())
        .collect();
    assert_eq!(values.len(), exprs.len());
    for (got, want) in values.iter().zip(&exprs) {
        assert_eq!(got, want.trim(), "an expression changed");
    }
}
