//! `local_service` with real processes on 127.0.0.1: start, health, drift,
//! scaling in place, delete, and bad input.

mod common;

use std::time::Duration;

use common::{Project, eventually, http_get, pids_of, ports_of, running, web_service};
use kiln_model::Value;
use kiln_provider::{HealthRequest, Provider, UpdateRequest};

async fn health(p: &Project, state: &Value) -> kiln_provider::HealthResponse {
    p.provider
        .check_health(HealthRequest {
            type_name: "local_service".into(),
            id: state.get("id").and_then(Value::as_str).unwrap().into(),
            state: state.clone(),
        })
        .await
}

#[tokio::test]
async fn service_starts_replicas_that_answer_and_are_healthy() {
    let p = Project::new().await;
    let r = p
        .create(
            "local_service",
            "local_service.web",
            web_service("v1", 2, &[]),
        )
        .await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let pids = pids_of(&r.state);
    let ports = ports_of(&r.state);
    assert_eq!((pids.len(), ports.len()), (2, 2));
    assert!(pids.iter().all(|p| running(*p)));

    let h = health(&p, &r.state).await;
    assert!(h.healthy, "{}", h.message);
    assert_eq!(http_get(ports[0]).await.unwrap(), "v1 1\n");
    assert_eq!(http_get(ports[1]).await.unwrap(), "v1 2\n");

    let id = r.id.clone().unwrap();
    let log = p
        .path()
        .join(".kiln/services")
        .join(&id)
        .join("replica-1.log");
    assert!(log.exists(), "{}", log.display());
    let fresh = p.read("local_service", &id, &r.state).await;
    assert_eq!((fresh.state.as_ref(), fresh.drift), (Some(&r.state), None));

    p.delete("local_service", "local_service.web", &id, &r.state)
        .await;
    assert!(
        pids.iter().all(|p| !running(*p)),
        "delete left processes running"
    );
    assert!(!p.path().join(".kiln/services").join(&id).exists());
    assert_eq!(p.read("local_service", &id, &r.state).await.state, None);
    // Deleting again is fine.
    p.delete("local_service", "local_service.web", &id, &r.state)
        .await;
}

#[tokio::test]
async fn unhealthy_service_names_the_failing_url() {
    let p = Project::new().await;
    let mut cfg = web_service("v3", 1, &[("UNHEALTHY", "1")]);
    if let Value::Map(m) = &mut cfg {
        m.insert(
            "health_check",
            Value::map([
                ("path", Value::from("/ready")),
                ("interval", Value::from("20ms")),
                ("timeout", Value::from("200ms")),
                ("retries", Value::from(2i64)),
            ]),
        );
    }
    let r = p.create("local_service", "local_service.bad", cfg).await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let port = ports_of(&r.state)[0];
    let h = health(&p, &r.state).await;
    assert!(!h.healthy);
    assert_eq!(
        h.message,
        format!(
            "GET http://127.0.0.1:{port}/ready (replica 1) answered 500 Internal Server Error after 3 attempts"
        )
    );
    p.delete(
        "local_service",
        "local_service.bad",
        r.id.as_deref().unwrap(),
        &r.state,
    )
    .await;
}

#[tokio::test]
async fn a_dead_replica_is_drift() {
    let p = Project::new().await;
    let r = p
        .create(
            "local_service",
            "local_service.web",
            web_service("v1", 2, &[]),
        )
        .await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let pids = pids_of(&r.state);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[1] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(2), || !running(pids[1])).await);
    let id = r.id.clone().unwrap();
    let read = p.read("local_service", &id, &r.state).await;
    assert_eq!(read.state.as_ref(), Some(&r.state));
    assert_eq!(
        read.drift,
        Some(format!("replica 2 (pid {}) is not running", pids[1]))
    );
    let h = health(&p, &r.state).await;
    assert!(!h.healthy);
    assert!(
        h.message
            .contains(&format!("replica 2 (pid {}) is not running", pids[1])),
        "{}",
        h.message
    );
    p.delete("local_service", "local_service.web", &id, &r.state)
        .await;
    assert!(!running(pids[0]));
}

#[tokio::test]
async fn replicas_scale_in_place() {
    let p = Project::new().await;
    let r = p
        .create(
            "local_service",
            "local_service.web",
            web_service("v1", 1, &[]),
        )
        .await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let id = r.id.clone().unwrap();
    let first = pids_of(&r.state)[0];

    let up = p
        .provider
        .update(UpdateRequest {
            type_name: "local_service".into(),
            id: id.clone(),
            prior: r.state.clone(),
            planned: web_service("v1", 3, &[]),
            changed: vec!["replicas".into()],
            context: p.context("local_service.web"),
        })
        .await;
    assert!(!up.diagnostics.has_errors(), "{}", up.diagnostics);
    p.track(&up.state);
    let pids = pids_of(&up.state);
    assert_eq!(pids.len(), 3);
    assert_eq!(pids[0], first, "scaling up must keep the running replica");
    assert_eq!(up.state.get("replicas"), Some(&Value::from(3i64)));
    assert_eq!(up.state.get("id"), Some(&Value::from(id.as_str())));
    assert!(health(&p, &up.state).await.healthy);

    let down = p
        .provider
        .update(UpdateRequest {
            type_name: "local_service".into(),
            id: id.clone(),
            prior: up.state.clone(),
            planned: web_service("v1", 1, &[]),
            changed: vec!["replicas".into()],
            context: p.context("local_service.web"),
        })
        .await;
    assert!(!down.diagnostics.has_errors(), "{}", down.diagnostics);
    assert_eq!(pids_of(&down.state), [first]);
    assert_eq!(ports_of(&down.state), ports_of(&up.state)[..1]);
    assert!(running(first));
    assert!(!running(pids[1]) && !running(pids[2]));
    p.delete("local_service", "local_service.web", &id, &down.state)
        .await;
    assert!(!running(first));
}

#[tokio::test]
async fn bad_commands_are_clear_errors() {
    let p = Project::new().await;
    let mut cfg = web_service("v1", 1, &[]);
    if let Value::Map(m) = &mut cfg {
        m.insert("command", Value::from("kiln-no-such-command"));
    }
    let r = p
        .create("local_service", "local_service.x", cfg.clone())
        .await;
    assert_eq!(r.id, None);
    assert!(
        r.diagnostics
            .to_string()
            .contains("command \"kiln-no-such-command\" not found"),
        "{}",
        r.diagnostics
    );

    if let Value::Map(m) = &mut cfg {
        m.insert("command", Value::from("./bin/missing"));
    }
    let r = p
        .create("local_service", "local_service.y", cfg.clone())
        .await;
    assert!(
        r.diagnostics
            .to_string()
            .contains("command \"./bin/missing\" not found"),
        "{}",
        r.diagnostics
    );

    let r = p
        .create(
            "local_service",
            "local_service.z",
            web_service("v1", 2, &[("EXIT_AT_START", "1")]),
        )
        .await;
    let msg = r.diagnostics.to_string();
    assert!(msg.contains("replica 1"), "{msg}");
    assert!(msg.contains("exited right after starting"), "{msg}");
    assert!(msg.contains("exiting at start as asked"), "{msg}");
}
