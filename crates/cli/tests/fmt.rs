//! `kiln fmt`: `--check` lists unformatted files and fails; without it the
//! files are rewritten in the canonical layout.

mod common;

use common::*;

const UGLY: &str = "resource \"null_resource\" \"a\" {\n    triggers={ a = \"1\" }\n  labels = { team = \"core\" }\n}\nresource \"null_resource\" \"b\" {\n}\n";
const PRETTY: &str = "resource \"null_resource\" \"a\" {\n  triggers = { a = \"1\" }\n  labels   = { team = \"core\" }\n}\n\nresource \"null_resource\" \"b\" {\n}\n";

#[test]
fn check_lists_unformatted_files_then_fmt_rewrites_them() {
    let (p, k) = project(UGLY);
    p.write("modules/m/main.hcl", "variable \"x\" {\n default=1\n}\n");
    p.write("ok.hcl", "locals {\n  a = 1\n}\n");

    let r = k.run(&["fmt", "--check", "--recursive"]);
    r.expect_code(1);
    assert!(r.stdout.contains("main.hcl"), "{}", r.all());
    assert!(r.stdout.contains("modules/m/main.hcl"), "{}", r.all());
    assert!(!r.stdout.contains("ok.hcl"), "{}", r.all());
    assert!(
        r.stderr.contains("2 files are not formatted"),
        "{}",
        r.all()
    );
    assert_eq!(p.read("main.hcl"), UGLY, "--check changed a file");

    // Without --recursive, only the directory itself.
    k.run(&["fmt"]).success();
    assert_eq!(p.read("main.hcl"), PRETTY);
    assert_eq!(
        p.read("modules/m/main.hcl"),
        "variable \"x\" {\n default=1\n}\n"
    );
    k.run(&["fmt", "--recursive"]).success();
    assert_eq!(
        p.read("modules/m/main.hcl"),
        "variable \"x\" {\n  default = 1\n}\n"
    );

    let r = k.run(&["fmt", "--check", "--recursive"]);
    r.expect_code(0);
    assert_eq!(r.stdout, "", "{}", r.all());
    // The formatted configuration still plans.
    k.run(&["plan"]).success();
}

#[test]
fn a_syntax_error_is_located_and_nothing_is_written() {
    let bad = "resource \"null_resource\" \"a\" {\n  triggers = \n}\n";
    let (p, k) = project(bad);
    let r = k.run(&["fmt"]);
    r.expect_code(1);
    assert!(r.stderr.contains("main.hcl:"), "{}", r.all());
    assert!(r.stderr.contains("syntax error"), "{}", r.all());
    assert_eq!(p.read("main.hcl"), bad);
}
