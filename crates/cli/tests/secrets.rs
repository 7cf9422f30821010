//! One secret, every command, every log level: a `sensitive` variable's
//! value flows into resources (an attribute of a nested map, a string
//! built from it) and an output, and is found only where the user asked for
//! it — `output NAME`, `output --json NAME` — and in the state file (mode
//! 0600). Like Terraform, both sides of a change are hidden: the old value
//! of an attribute that is now sensitive as well as the new one.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Kiln, TempProject};

const MAIN: &str = r#"variable "pw" {
  type      = string
  sensitive = true
}

variable "label" {
  type    = string
  default = "plain"
}

resource "null_resource" "a" {
  triggers = {
    pw    = var.pw
    label = var.label
  }
}

resource "local_file" "f" {
  path    = "${path.module}/f.txt"
  content = "password=${var.pw}"
}

output "pw" {
  value     = var.pw
  sensitive = true
}

output "label" {
  value = var.label
}
"#;

const LEVELS: &[Option<&str>] = &[
    None,
    Some("error"),
    Some("warn"),
    Some("info"),
    Some("debug"),
    Some("trace"),
];

/// Runs `args` with the secret in the environment (never on the command
/// line) and fails if any of `secrets` is in what it printed.
fn clean(k: &Kiln, secret: &str, level: Option<&str>, args: &[&str], secrets: &[&str]) -> String {
    let mut k = k.clone().env("KILN_VAR_pw", secret);
    if let Some(level) = level {
        k = k.env("KILN_LOG", level);
    }
    let r = k.run(args);
    assert_eq!(r.code, 0, "kiln {args:?} (log {level:?}): {}", r.all());
    for s in secrets {
        assert!(
            !r.all().contains(s),
            "kiln {args:?} (log {level:?}) printed the secret {s:?}:\n{}",
            r.all()
        );
    }
    r.all()
}

#[test]
fn a_sensitive_value_is_printed_only_where_asked_for() {
    for (n, level) in LEVELS.iter().enumerate() {
        let p = TempProject::new();
        p.write("main.hcl", MAIN);
        let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
        let old = format!("OLDSECRET{n}x");
        let new = format!("NEWSECRET{n}y");
        let both = [old.as_str(), new.as_str()];
        clean(&k, &old, *level, &["plan"], &both);
        clean(&k, &old, *level, &["apply", "--yes"], &both);
        // A change of the secret: neither side shown, in any plan format.
        let plan = clean(&k, &new, *level, &["plan"], &both);
        assert!(plan.contains("(sensitive)"), "{plan}");
        clean(&k, &new, *level, &["plan", "--json"], &both);
        clean(&k, &new, *level, &["plan", "--format", "markdown"], &both);
        clean(&k, &new, *level, &["plan", "--out", "saved.plan"], &both);
        clean(&k, &new, *level, &["show", "saved.plan"], &both);
        clean(&k, &new, *level, &["show", "--json", "saved.plan"], &both);
        clean(&k, &new, *level, &["apply", "saved.plan"], &both);
        // The state: shown, listed, refreshed, never printed.
        for args in [
            &["show"][..],
            &["show", "--json"],
            &["state", "show", "null_resource.a"],
            &["state", "show", "local_file.f"],
            &["state", "list"],
            &["state", "history"],
            &["output"],
            &["output", "label"],
            &["validate"],
            &["graph"],
            &["plan"],
        ] {
            clean(&k, &new, *level, args, &both);
        }
        // Only on request.
        let asked = k.clone().env("KILN_VAR_pw", &new).run(&["output", "pw"]);
        assert!(asked.stdout.contains(&new), "{}", asked.all());
        let asked = k
            .clone()
            .env("KILN_VAR_pw", &new)
            .run(&["output", "--json", "pw"]);
        assert!(asked.stdout.contains(&new), "{}", asked.all());
        // The state file holds it (it must, to compare), readable by its owner only.
        let state = p.path().join(".kiln/default/state.json");
        assert!(std::fs::read_to_string(&state).unwrap().contains(&new));
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "state file mode {mode:o}");
        clean(&k, &new, *level, &["destroy", "--yes"], &both);
    }
}
