//! The null provider through the plugin protocol: the conformance suite run
//! against the `kiln-provider-null` executable, and the host's errors when a
//! plugin crashes, hangs or is missing.

use std::path::Path;
use std::time::Duration;

use kiln_model::Value;
use kiln_provider::conformance::{ConformanceCase, ConformanceOptions, assert_conforms};
use kiln_provider::protocol::{PluginError, PluginProvider};
use kiln_provider::{CallContext, CreateRequest, Provider, ReadItem, ReadRequest};

fn config(labels: Value) -> Value {
    Value::map([
        ("triggers", Value::map([("version", Value::from("1"))])),
        ("labels", labels),
        ("delay", Value::Null),
        ("id", Value::Unknown),
    ])
}

async fn plugin() -> PluginProvider {
    PluginProvider::start(
        "null",
        Path::new(env!("CARGO_BIN_EXE_kiln-provider-null")),
        Duration::from_secs(30),
    )
    .await
    .expect("start the plugin")
}

#[tokio::test]
async fn null_conforms_through_the_protocol() {
    let p = plugin().await;
    assert_eq!(
        p.schema(),
        kiln_provider_null::NullProvider::new().schema(),
        "the handshake carries the schema"
    );
    let cases = [
        ConformanceCase::new(
            "null_resource",
            config(Value::map([("team", Value::from("a"))])),
        )
        .with_update(config(Value::map([("team", Value::from("b"))]))),
        ConformanceCase::new("null_resource", config(Value::Null)),
    ];
    let options = ConformanceOptions {
        objects_have_backing: false,
        ..ConformanceOptions::default()
    };
    assert_conforms(&p, &cases, &options).await;
}

#[tokio::test]
async fn batched_reads_and_concurrent_calls_are_matched_by_id() {
    let p = std::sync::Arc::new(plugin().await);
    // Twenty creates in flight at once, the first ones slowest, so answers
    // come back out of order and must be matched by id.
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move {
                p.create(CreateRequest {
                    type_name: "null_resource".into(),
                    config: Value::map([
                        ("triggers", Value::map([("i", Value::from(i.to_string()))])),
                        ("labels", Value::Null),
                        ("delay", Value::from(format!("{}ms", 5 * (20 - i)))),
                        ("id", Value::Unknown),
                    ]),
                    idempotency_key: format!("k{i}"),
                    context: CallContext {
                        address: format!("null_resource.r{i}"),
                        ..Default::default()
                    },
                })
                .await
            })
        })
        .collect();
    let mut created = Vec::new();
    for h in handles {
        created.push(h.await.unwrap());
    }
    for (i, c) in created.iter().enumerate() {
        assert!(!c.diagnostics.has_errors(), "{:?}", c.diagnostics);
        assert_eq!(
            c.state
                .get("triggers")
                .and_then(|t| t.get("i"))
                .and_then(Value::as_str),
            Some(i.to_string().as_str())
        );
    }
    let items = created
        .iter()
        .map(|c| ReadItem {
            type_name: "null_resource".into(),
            id: c.id.clone().unwrap(),
            state: c.state.clone(),
        })
        .collect();
    let read = p.read(ReadRequest { items }).await;
    assert_eq!(read.results.len(), 20);
    for (c, r) in created.iter().zip(&read.results) {
        assert_eq!(r.state.as_ref(), Some(&c.state));
    }
}

#[tokio::test]
async fn a_missing_or_broken_plugin_is_a_clear_error() {
    let err = PluginProvider::start(
        "ghost",
        Path::new("/no/such/kiln-provider-ghost"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PluginError::Spawn { .. }));
    assert!(err.to_string().contains("\"ghost\""), "{err}");

    // A program that exits at once never completes the handshake.
    let err = PluginProvider::start("quitter", Path::new("/bin/true"), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("quitter"), "{err}");
    assert!(err.to_string().contains("exited"), "{err}");
}

#[tokio::test]
async fn a_hung_plugin_times_out_naming_it() {
    // A plugin that reads nothing and never answers.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("kiln-provider-sleepy");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&script).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let err = PluginProvider::start("sleepy", &script, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sleepy"), "{err}");
    assert!(err.to_string().contains("no answer"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the wait is bounded"
    );
}
