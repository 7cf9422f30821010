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
