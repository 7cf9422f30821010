//! Whole configurations against Terraform's own answers: every directory
//! of `fixtures/terraform-configs/` (variables with types and `optional`
//! defaults, `terraform.tfvars`, modules with `count` and `for_each`,
//! templates, heredocs, `terraform_data`) is applied by kiln and its
//! outputs compared with `expected.json`, which `record.py` there recorded
//! from Terraform 1.11.4 on the same files (`terraform apply`, then
//! `terraform output -json`). This test needs no Terraform.

mod common;

use std::path::{Path, PathBuf};

use common::{Kiln, TempProject};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terraform-configs")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "expected.json" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_configuration_outputs_what_terraform_recorded() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    let mut differences = Vec::new();
    for name in &names {
        let p = TempProject::new();
        copy_dir(&fixtures().join(name), p.path());
        let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
        let r = k.run(&["apply", "--yes"]);
        r.success();
        let r = k.run(&["output", "--json"]);
        r.success();
        let got: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{name}: {e}: {}", r.stdout));
        let text = std::fs::read_to_string(fixtures().join(name).join("expected.json")).unwrap();
        let want: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (got, want) = (got.as_object().unwrap(), want.as_object().unwrap());
        for (output, w) in want {
            match got.get(output) {
                Some(g) if g == w => {}
                g => differences.push(format!(
                    "{name}: output {output}: terraform {w}, kiln {g:?}"
                )),
            }
        }
        for output in got.keys().filter(|o| !want.contains_key(*o)) {
            differences.push(format!(
                "{name}: output {output} is not in Terraform's outputs"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// `kiln output --json` prints as `terraform output -json` does: exact
/// numbers and Go's escaping (recorded from Terraform 1.11.4 on
/// `fixtures/terraform-configs/output-json`).
#[test]
fn json_outputs_print_as_terraform_prints_them() {
    let p = TempProject::new();
    copy_dir(&fixtures().join("output-json"), p.path());
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    k.run(&["apply", "--yes"]).success();
    let one = |name: &str| k.run(&["output", "--json", name]).stdout.trim().to_string();
    assert_eq!(one("h"), r#""\u003ca\u0026b\u003e é \u2028""#);
    assert_eq!(one("n"), "12345678901234567891");
    assert!(
        one("o").contains(&format!("\"b\": 15{}", "0".repeat(299))),
        "{}",
        one("o")
    );
}
