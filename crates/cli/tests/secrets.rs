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
            &["state", "pull"],
            &["output"],
            &["output", "label"],
            &["validate"],
            &["graph"],
            &["plan"],
        ] {
            clean(&k, &new, *level, args, &both);
        }
        // Only on request.
        let pulled = k.run(&["state", "pull", "--show-sensitive"]);
        assert!(pulled.stdout.contains(&new), "{}", pulled.all());
        // A redacted pull cannot be pushed back (its secrets would be lost);
        // a pull to a file can.
        let redacted = k.run(&["state", "pull"]);
        assert!(
            redacted.stdout.contains("\"redacted\""),
            "{}",
            redacted.all()
        );
        p.write("redacted.json", &redacted.stdout);
        let refused = k.run(&["state", "push", "redacted.json"]);
        assert_ne!(refused.code, 0);
        assert!(
            refused.stderr.contains("redacted values"),
            "{}",
            refused.all()
        );
        clean(&k, &new, *level, &["state", "pull", "full.json"], &both);
        clean(
            &k,
            &new,
            *level,
            &["state", "push", "full.json", "--force"],
            &both,
        );
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

/// Every file under a directory, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn with_a_passphrase_no_file_kiln_writes_holds_the_secret() {
    let p = TempProject::new();
    // The secret goes only into a null resource: a local_file would write
    // it to disk on purpose.
    p.write(
        "main.hcl",
        "variable \"pw\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"null_resource\" \"a\" {\n  triggers = { pw = var.pw }\n}\n\noutput \"pw\" {\n  value     = var.pw\n  sensitive = true\n}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let with = |pass: &str, secret: &str| {
        k.clone()
            .env("KILN_STATE_PASSPHRASE", pass)
            .env("KILN_VAR_pw", secret)
    };
    with("first passphrase", "SEALED-ONE")
        .run(&["apply", "--yes"])
        .success();
    with("first passphrase", "SEALED-TWO")
        .run(&["apply", "--yes"])
        .success();
    with("first passphrase", "SEALED-THREE")
        .run(&["plan", "--out", "saved.plan"])
        .success();
    let mut written = files(&p.path().join(".kiln"));
    written.push((
        p.path().join("saved.plan"),
        std::fs::read(p.path().join("saved.plan")).unwrap(),
    ));
    assert!(written.len() >= 4, "{written:?}");
    for (path, bytes) in &written {
        for secret in ["SEALED-ONE", "SEALED-TWO", "SEALED-THREE"] {
            assert!(
                !contains(bytes, secret),
                "{} holds {secret}",
                path.display()
            );
        }
    }
    let state = p.path().join(".kiln/default/state.json");
    assert!(contains(&std::fs::read(&state).unwrap(), "kiln_sealed"));
    // The saved plan applies with the key.
    with("first passphrase", "SEALED-THREE")
        .run(&["apply", "saved.plan"])
        .success();
    let before = std::fs::read(&state).unwrap();

    // No key, or another one: a clear error, and nothing written.
    let none = k.clone().env("KILN_VAR_pw", "x").run(&["plan"]);
    assert_ne!(none.code, 0);
    assert!(
        none.stderr.contains("is encrypted") && none.stderr.contains("KILN_STATE_PASSPHRASE"),
        "{}",
        none.stderr
    );
    let wrong = with("not the passphrase", "x").run(&["apply", "--yes"]);
    assert_ne!(wrong.code, 0);
    assert!(
        wrong.stderr.contains("another passphrase"),
        "{}",
        wrong.stderr
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "a failed read changed the state"
    );

    // The value, on request and with the key only.
    let out = with("first passphrase", "SEALED-THREE").run(&["output", "pw"]);
    assert!(out.stdout.contains("SEALED-THREE"), "{}", out.all());
    let pulled = with("first passphrase", "SEALED-THREE").run(&["state", "pull"]);
    assert!(pulled.stdout.contains("\"serial\""), "{}", pulled.all());
    assert_ne!(k.run(&["state", "pull"]).code, 0);

    // Rotation: read with the old key, written with the new.
    let rotating = with("second passphrase", "SEALED-FOUR")
        .env("KILN_STATE_PASSPHRASE_PREVIOUS", "first passphrase");
    rotating.run(&["apply", "--yes"]).success();
    with("second passphrase", "SEALED-FOUR")
        .run(&["plan"])
        .success();
    let old = with("first passphrase", "SEALED-FOUR").run(&["plan"]);
    assert!(old.stderr.contains("another passphrase"), "{}", old.all());
}

#[test]
fn an_encryption_block_requires_its_passphrase_and_names_where_it_is_read() {
    let p = TempProject::new();
    p.write(
        "main.hcl",
        "kiln {\n  encryption {\n    passphrase_env = \"TEAM_STATE_KEY\"\n  }\n}\n\nresource \"null_resource\" \"a\" {}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    // Without it: refused before anything is written, naming the block.
    let r = k.run(&["apply", "--yes"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("TEAM_STATE_KEY is not set") && r.stderr.contains("main.hcl:2:3"),
        "{}",
        r.stderr
    );
    assert!(!p.exists(".kiln/default/state.json"));
    // KILN_STATE_PASSPHRASE is not the variable this configuration names.
    let other = k
        .clone()
        .env("KILN_STATE_PASSPHRASE", "x")
        .run(&["apply", "--yes"]);
    assert_ne!(other.code, 0, "{}", other.all());
    k.clone()
        .env("TEAM_STATE_KEY", "team passphrase")
        .run(&["apply", "--yes"])
        .success();
    assert!(
        p.read(".kiln/default/state.json")
            .starts_with("{\"kiln_sealed\":")
    );
    // A key written into the file is refused with its place.
    p.write(
        "main.hcl",
        "kiln {\n  encryption {\n    passphrase = \"hunter2\"\n  }\n}\n",
    );
    let r = k.clone().env("TEAM_STATE_KEY", "x").run(&["plan"]);
    assert!(
        r.stderr.contains("a key never belongs in a file") && r.stderr.contains("main.hcl:3:5"),
        "{}",
        r.stderr
    );
}

const EPHEMERAL: &str = r#"variable "db_password" {
  type      = string
  ephemeral = true
}

locals {
  dsn = "postgres://app:${var.db_password}@db"
}

resource "local_artifact" "app" {
  source_dir = "${path.module}/app"
}

resource "local_service" "api" {
  artifact = local_artifact.app.path
  command  = "sh"
  args     = ["-c", "echo \"$DSN\" > \"$SEEN\"; exec sleep 600"]
  env      = { SEEN = "${abspath(path.module)}/seen-${var.generation_label}.txt" }
  env_wo   = { DSN = local.dsn }
}

variable "generation_label" {
  type    = string
  default = "a"
}
"#;

/// Waits for the service to write what it saw (it starts asynchronously).
fn seen(p: &TempProject, label: &str) -> String {
    let path = p.path().join(format!("seen-{label}.txt"));
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(&path)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the service never wrote {}", path.display());
}

#[test]
fn an_ephemeral_value_reaches_a_write_only_argument_and_nothing_else() {
    let p = TempProject::new();
    p.write("main.hcl", EPHEMERAL);
    p.write("app/README", "an artifact");
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let with = |secret: &str| k.clone().env("KILN_VAR_db_password", secret);
    with("EPHEMERAL-ONE").run(&["apply", "--yes"]).success();
    // The process got it...
    assert_eq!(seen(&p, "a").trim(), "postgres://app:EPHEMERAL-ONE@db");
    // ...and no plan, state, journal or provider file holds it.
    let plan = with("EPHEMERAL-TWO").run(&["plan", "--json"]);
    plan.success();
    assert!(!plan.all().contains("EPHEMERAL"), "{}", plan.all());
    let replan = with("EPHEMERAL-TWO").run(&["plan"]);
    assert!(
        replan.stdout.contains("No changes"),
        "a write-only change alone changes nothing: {}",
        replan.all()
    );
    with("EPHEMERAL-THREE")
        .run(&["plan", "--out", "saved.plan", "--var", "generation_label=b"])
        .success();
    let mut written = files(&p.path().join(".kiln"));
    written.push((
        p.path().join("saved.plan"),
        std::fs::read(p.path().join("saved.plan")).unwrap(),
    ));
    for (path, bytes) in &written {
        assert!(
            !contains(bytes, "EPHEMERAL"),
            "{} holds the ephemeral value",
            path.display()
        );
    }
    // A saved plan needs it again, and says so before doing anything.
    let without = k.run(&["apply", "saved.plan"]);
    assert_ne!(without.code, 0);
    assert!(
        without.stderr.contains("ephemeral variable db_password")
            && without.stderr.contains("KILN_VAR_db_password"),
        "{}",
        without.stderr
    );
    k.run(&[
        "apply",
        "saved.plan",
        "--var",
        "db_password=EPHEMERAL-THREE",
    ])
    .success();
    assert_eq!(seen(&p, "b").trim(), "postgres://app:EPHEMERAL-THREE@db");
    for (path, bytes) in files(&p.path().join(".kiln")) {
        assert!(
            !contains(&bytes, "EPHEMERAL"),
            "{} holds the ephemeral value",
            path.display()
        );
    }
    with("x")
        .run(&["destroy", "--yes", "--var", "generation_label=b"])
        .success();
}

#[test]
fn an_ephemeral_value_where_it_would_be_stored_is_an_error_at_its_use() {
    let cases = [
        (
            "resource \"null_resource\" \"a\" {\n  triggers = { pw = local.derived }\n}\n",
            "local.derived is ephemeral and cannot be used in argument \"triggers\" of null_resource.a",
            "main.hcl:12:21",
        ),
        (
            "resource \"null_resource\" \"a\" {\n  count = length(var.pw)\n}\n",
            "var.pw is ephemeral and cannot be used in the count of null_resource.a",
            "main.hcl:12:18",
        ),
        (
            "output \"pw\" {\n  value = var.pw\n}\n",
            "var.pw is ephemeral and cannot be used in output \"pw\"",
            "main.hcl:12:11",
        ),
        (
            "output \"pw\" {\n  value     = var.pw\n  ephemeral = true\n}\n",
            "output \"pw\" cannot be ephemeral: the root module's outputs are stored in the state",
            "main.hcl:11:1",
        ),
    ];
    for (body, message, place) in cases {
        let p = TempProject::new();
        p.write(
            "main.hcl",
            &format!(
                "variable \"pw\" {{\n  type      = string\n  ephemeral = true\n  default   = \"x\"\n}}\n\nlocals {{\n  derived = \"p-${{var.pw}}\"\n}}\n\n{body}"
            ),
        );
        let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
        let r = k.run(&["plan"]);
        assert_ne!(r.code, 0, "{body}");
        assert!(
            r.stderr.contains(message) && r.stderr.contains(place),
            "{body}\nwanted {message:?} at {place}, got:\n{}",
            r.stderr
        );
    }
}
