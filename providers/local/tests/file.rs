//! `local_file` and `local_artifact`: create, read, drift, delete, digests,
//! and the conformance suite.

mod common;

use common::Project;
use kiln_model::Value;
use kiln_provider::Provider;
use kiln_provider::conformance::{ConformanceCase, ConformanceOptions, assert_conforms};

fn file_config(path: &str, content: Value, source: Value, mode: Value) -> Value {
    Value::map([
        ("path", Value::from(path)),
        ("content", content),
        ("source", source),
        ("mode", mode),
        ("id", Value::Unknown),
        ("checksum", Value::Unknown),
    ])
}

fn artifact_config(source_dir: &str) -> Value {
    Value::map([
        ("source_dir", Value::from(source_dir)),
        ("id", Value::Unknown),
        ("digest", Value::Unknown),
        ("path", Value::Unknown),
    ])
}

#[tokio::test]
async fn file_create_read_drift_delete() {
    let p = Project::new().await;
    let cfg = file_config(
        "out/hello.txt",
        Value::from("hello\n"),
        Value::Null,
        Value::Null,
    );
    let resp = p.create("local_file", "local_file.hello", cfg).await;
    assert!(!resp.diagnostics.has_errors(), "{}", resp.diagnostics);
    let id = resp.id.unwrap();
    let path = p.path().join("out/hello.txt");
    assert!(
        id.starts_with(&format!("{}@", path.to_string_lossy())),
        "{id}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(resp.state.get("mode"), Some(&Value::from("0644")));
    assert_eq!(
        resp.state.get("checksum").and_then(Value::as_str),
        // sha256("hello\n")
        Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
    );

    let fresh = p.read("local_file", &id, &resp.state).await;
    assert_eq!(fresh.state.as_ref(), Some(&resp.state));
    assert_eq!(fresh.drift, None);

    std::fs::write(&path, "tampered\n").unwrap();
    let drifted = p.read("local_file", &id, &resp.state).await;
    let state = drifted.state.unwrap();
    assert_ne!(state.get("checksum"), resp.state.get("checksum"));
    assert_eq!(state.get("content"), Some(&Value::from("tampered\n")));
    assert!(drifted.drift.unwrap().contains("changed outside kiln"));

    p.delete("local_file", "local_file.hello", &id, &resp.state)
        .await;
    assert!(!path.exists());
    assert_eq!(p.read("local_file", &id, &resp.state).await.state, None);
    // Idempotent.
    p.delete("local_file", "local_file.hello", &id, &resp.state)
        .await;
}

#[tokio::test]
async fn file_copies_a_source_with_a_mode_and_rejects_bad_input() {
    let p = Project::new().await;
    std::fs::write(p.path().join("src.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let resp = p
        .create(
            "local_file",
            "local_file.script",
            file_config(
                "bin/run.sh",
                Value::Null,
                Value::from("src.sh"),
                Value::from("0755"),
            ),
        )
        .await;
    assert!(!resp.diagnostics.has_errors(), "{}", resp.diagnostics);
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p.path().join("bin/run.sh")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);

    let both = p
        .create(
            "local_file",
            "local_file.both",
            file_config("x", Value::from("a"), Value::from("src.sh"), Value::Null),
        )
        .await;
    assert!(
        both.diagnostics
            .to_string()
            .contains("content and source are both set")
    );
    let bad_mode = p
        .create(
            "local_file",
            "local_file.mode",
            file_config("x", Value::from("a"), Value::Null, Value::from("rwx")),
        )
        .await;
    assert!(bad_mode.diagnostics.to_string().contains("mode \"rwx\""));
    let missing = p
        .create(
            "local_file",
            "local_file.missing",
            file_config("x", Value::Null, Value::from("nope.txt"), Value::Null),
        )
        .await;
    assert!(
        missing
            .diagnostics
            .to_string()
            .contains("cannot read source \"nope.txt\"")
    );
}

fn write_tree(root: &std::path::Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

#[tokio::test]
async fn artifact_digest_is_content_addressed() {
    let p = Project::new().await;
    let files = [("index.html", "v1"), ("static/app.js", "let x = 1;")];
    write_tree(&p.path().join("a"), &files);
    write_tree(&p.path().join("b"), &files);
    write_tree(
        &p.path().join("c"),
        &[("index.html", "v2"), ("static/app.js", "let x = 1;")],
    );

    let a = p
        .create("local_artifact", "local_artifact.a", artifact_config("a"))
        .await;
    let b = p
        .create("local_artifact", "local_artifact.b", artifact_config("b"))
        .await;
    let c = p
        .create("local_artifact", "local_artifact.c", artifact_config("c"))
        .await;
    for r in [&a, &b, &c] {
        assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    }
    let digest = |r: &kiln_provider::CreateResponse| r.state.get("digest").cloned().unwrap();
    assert_eq!(digest(&a), digest(&b));
    assert_ne!(digest(&a), digest(&c));
    assert_eq!(a.state.get("path"), b.state.get("path"));
    let baked = std::path::PathBuf::from(a.state.get("path").and_then(Value::as_str).unwrap());
    assert_eq!(
        baked,
        p.path()
            .join(".kiln/artifacts")
            .join(digest(&a).as_str().unwrap())
    );
    assert_ne!(
        a.id, b.id,
        "each object holds its own reference to the shared content"
    );
    assert_eq!(
        std::fs::read_to_string(baked.join("static/app.js")).unwrap(),
        "let x = 1;"
    );

    // Reading is clean until the source changes; then it is drift.
    let id = a.id.clone().unwrap();
    assert_eq!(p.read("local_artifact", &id, &a.state).await.drift, None);
    std::fs::write(p.path().join("a/index.html"), "v1 edited").unwrap();
    let r = p.read("local_artifact", &id, &a.state).await;
    assert!(r.drift.unwrap().contains("source directory \"a\" changed"));
    assert_eq!(r.state.as_ref(), Some(&a.state));

    // Baking the same content twice is idempotent.
    let again = p
        .create("local_artifact", "local_artifact.b2", artifact_config("b"))
        .await;
    assert_eq!(again.state.get("path"), b.state.get("path"));
    assert_eq!(digest(&again), digest(&b));

    // Shared content stays while any object refers to it, and goes with the last.
    for (addr, r) in [("local_artifact.a", &a), ("local_artifact.b", &b)] {
        p.delete("local_artifact", addr, r.id.as_deref().unwrap(), &r.state)
            .await;
        assert!(baked.is_dir(), "still referenced after deleting {addr}");
    }
    p.delete(
        "local_artifact",
        "local_artifact.b2",
        again.id.as_deref().unwrap(),
        &again.state,
    )
    .await;
    assert!(!baked.exists(), "removed with its last reference");

    p.delete(
        "local_artifact",
        "local_artifact.c",
        c.id.as_deref().unwrap(),
        &c.state,
    )
    .await;
    let gone = p
        .read("local_artifact", c.id.as_deref().unwrap(), &c.state)
        .await;
    assert_eq!(gone.state, None);
}

#[tokio::test]
async fn deleting_a_replaced_file_keeps_the_successor_at_the_same_path() {
    // Create-before-destroy with a user-chosen path: the new object writes the
    // path, then the old object is deleted; the file must survive.
    let p = Project::new().await;
    let config = |content: &str| {
        Value::map([
            ("path", Value::from("same.txt")),
            ("content", Value::from(content)),
            ("source", Value::Null),
            ("mode", Value::Null),
            ("id", Value::Unknown),
            ("checksum", Value::Unknown),
        ])
    };
    let old = p.create("local_file", "local_file.f", config("old")).await;
    let new = p.create("local_file", "local_file.f2", config("new")).await;
    assert!(!new.diagnostics.has_errors(), "{}", new.diagnostics);
    p.delete(
        "local_file",
        "local_file.f",
        old.id.as_deref().unwrap(),
        &old.state,
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(p.path().join("same.txt")).unwrap(),
        "new"
    );
    p.delete(
        "local_file",
        "local_file.f2",
        new.id.as_deref().unwrap(),
        &new.state,
    )
    .await;
    assert!(
        !p.path().join("same.txt").exists(),
        "the owner's delete removes it"
    );
}

#[tokio::test]
async fn artifact_with_a_missing_source_names_the_path() {
    let p = Project::new().await;
    let r = p
        .create(
            "local_artifact",
            "local_artifact.x",
            artifact_config("no/such/dir"),
        )
        .await;
    assert_eq!(r.id, None);
    let msg = r.diagnostics.to_string();
    assert!(msg.contains("source directory \"no/such/dir\""), "{msg}");
    assert!(
        msg.contains(&p.path().join("no/such/dir").to_string_lossy().into_owned()),
        "{msg}"
    );
}

#[tokio::test]
async fn files_and_artifacts_conform() {
    let p = Project::new().await;
    write_tree(&p.path().join("site"), &[("index.html", "hi")]);
    let cases = [
        ConformanceCase::new(
            "local_file",
            file_config(
                "conf/a.txt",
                Value::from("a"),
                Value::Null,
                Value::from("0600"),
            ),
        ),
        ConformanceCase::new(
            "local_file",
            file_config("conf/b.txt", Value::from("b"), Value::Null, Value::Null),
        ),
        ConformanceCase::new("local_artifact", artifact_config("site")),
    ];
    let options = ConformanceOptions {
        context: p.context(""),
        objects_have_backing: true,
    };
    assert_conforms(&p.provider, &cases, &options).await;
    assert_eq!(p.provider.schema().name, "local");
}
