//! `local_balancer` with real processes on 127.0.0.1: forwarding, switching
//! backends in place under load, a taken address, drift and delete.

mod common;

use std::time::{Duration, Instant};

use common::{Project, eventually, http_get, pids_of, ports_of, running, strings, web_service};
use kiln_model::Value;
use kiln_provider::{Provider, UpdateRequest};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn balancer(listen: &str, backends: &[&str], weights: Value) -> Value {
    Value::map([
        ("listen", Value::from(listen)),
        ("backends", strings(backends)),
        ("weights", weights),
        ("id", Value::Unknown),
        ("pid", Value::Unknown),
        ("control_port", Value::Unknown),
    ])
}

async fn service(p: &Project, address: &str, version: &str) -> (Value, String) {
    let r = p
        .create("local_service", address, web_service(version, 1, &[]))
        .await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let backend = format!("127.0.0.1:{}", ports_of(&r.state)[0]);
    // Wait until it answers.
    let port = ports_of(&r.state)[0];
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get(port).await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (r.state, backend)
}

#[tokio::test]
async fn balancer_switches_backends_in_place_without_failed_requests() {
    let p = Project::new().await;
    let (_blue, blue) = service(&p, "local_service.blue", "blue").await;
    let (_green, green) = service(&p, "local_service.green", "green").await;

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let lb = p
        .create(
            "local_balancer",
            "local_balancer.lb",
            balancer(&listen, &[&blue], Value::Null),
        )
        .await;
    assert!(!lb.diagnostics.has_errors(), "{}", lb.diagnostics);
    let lb_pid = pids_of(&lb.state)[0];
    assert!(running(lb_pid));
    assert_eq!(http_get(port).await.unwrap(), "blue 1\n");

    // A client loops while the backends switch from blue to green.
    let client = tokio::spawn(async move {
        let (mut ok, mut failed, mut seen_green) = (0, Vec::new(), 0);
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            match http_get(port).await {
                Ok(body) => {
                    ok += 1;
                    if body.starts_with("green") {
                        seen_green += 1;
                    }
                }
                Err(e) => failed.push(e),
            }
        }
        (ok, failed, seen_green)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = lb.id.clone().unwrap();
    let up = p
        .provider
        .update(UpdateRequest {
            type_name: "local_balancer".into(),
            id: id.clone(),
            prior: lb.state.clone(),
            planned: balancer(&listen, &[&green], Value::Null),
            changed: vec!["backends".into()],
            context: p.context("local_balancer.lb"),
        })
        .await;
    assert!(!up.diagnostics.has_errors(), "{}", up.diagnostics);
    // Once update returns, every new connection goes to green.
    assert_eq!(http_get(port).await.unwrap(), "green 1\n");
    let (ok, failed, seen_green) = client.await.unwrap();
    assert!(
        failed.is_empty(),
        "{} failed requests: {failed:?}",
        failed.len()
    );
    assert!(ok > 10 && seen_green > 0, "ok {ok}, green {seen_green}");
    assert_eq!(up.state.get("pid"), lb.state.get("pid"));
    assert_eq!(up.state.get("backends"), Some(&strings(&[&green])));

    // Weighted: 3 to blue for 1 to green.
    let weighted = p
        .provider
        .update(UpdateRequest {
            type_name: "local_balancer".into(),
            id: id.clone(),
            prior: up.state.clone(),
            planned: balancer(
                &listen,
                &[&blue, &green],
                Value::List(vec![Value::from(3i64), Value::from(1i64)].into()),
            ),
            changed: vec!["backends".into(), "weights".into()],
            context: p.context("local_balancer.lb"),
        })
        .await;
    assert!(
        !weighted.diagnostics.has_errors(),
        "{}",
        weighted.diagnostics
    );
    let mut blues = 0;
    for _ in 0..8 {
        if http_get(port).await.unwrap().starts_with("blue") {
            blues += 1;
        }
    }
    assert_eq!(blues, 6);

    // A backend that refuses is skipped.
    let dead = format!("127.0.0.1:{}", free_port());
    let skip = p
        .provider
        .update(UpdateRequest {
            type_name: "local_balancer".into(),
            id: id.clone(),
            prior: weighted.state.clone(),
            planned: balancer(&listen, &[&dead, &green], Value::Null),
            changed: vec!["backends".into(), "weights".into()],
            context: p.context("local_balancer.lb"),
        })
        .await;
    assert!(!skip.diagnostics.has_errors(), "{}", skip.diagnostics);
    for _ in 0..4 {
        assert_eq!(http_get(port).await.unwrap(), "green 1\n");
    }

    p.delete("local_balancer", "local_balancer.lb", &id, &skip.state)
        .await;
    assert!(!running(lb_pid));
    assert!(http_get(port).await.is_err(), "the listener must be gone");
    assert_eq!(p.read("local_balancer", &id, &skip.state).await.state, None);
}

#[tokio::test]
async fn a_taken_listen_address_is_a_clear_error() {
    let p = Project::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let r = p
        .create(
            "local_balancer",
            "local_balancer.lb",
            balancer(&listen, &["127.0.0.1:1"], Value::Null),
        )
        .await;
    assert_eq!(r.id, None);
    let msg = r.diagnostics.to_string();
    assert!(msg.contains(&format!("cannot listen on {listen}")), "{msg}");
    assert!(msg.contains("ddress already in use"), "{msg}");
}

#[tokio::test]
async fn a_dead_balancer_is_drift() {
    let p = Project::new().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let r = p
        .create(
            "local_balancer",
            "local_balancer.lb",
            balancer(&listen, &["127.0.0.1:1"], Value::Null),
        )
        .await;
    assert!(!r.diagnostics.has_errors(), "{}", r.diagnostics);
    let id = r.id.clone().unwrap();
    let pid = pids_of(&r.state)[0];
    assert_eq!(p.read("local_balancer", &id, &r.state).await.drift, None);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(2), || !running(pid)).await);
    let read = p.read("local_balancer", &id, &r.state).await;
    assert_eq!(
        read.drift,
        Some(format!("the balancer process (pid {pid}) is not running"))
    );
    // An update cannot reach it and says what to do.
    let up = p
        .provider
        .update(UpdateRequest {
            type_name: "local_balancer".into(),
            id: id.clone(),
            prior: r.state.clone(),
            planned: balancer(&listen, &["127.0.0.1:2"], Value::Null),
            changed: vec!["backends".into()],
            context: p.context("local_balancer.lb"),
        })
        .await;
    assert!(
        up.diagnostics.to_string().contains("is not running"),
        "{}",
        up.diagnostics
    );
    p.delete("local_balancer", "local_balancer.lb", &id, &r.state)
        .await;
}

#[tokio::test]
async fn bad_weights_are_rejected() {
    let p = Project::new().await;
    let v = p
        .provider
        .validate(kiln_provider::ValidateRequest {
            type_name: "local_balancer".into(),
            config: balancer(
                "127.0.0.1:9",
                &["127.0.0.1:1", "127.0.0.1:2"],
                Value::List(vec![Value::from(1i64)].into()),
            ),
        })
        .await;
    assert!(
        v.diagnostics
            .to_string()
            .contains("1 weights for 2 backends"),
        "{}",
        v.diagnostics
    );
}
