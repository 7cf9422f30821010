//! Environments as generations, end to end on the local-web example: a
//! `--rebuild` under load, `--keep-previous`, `kiln rollback` and back, and
//! `kiln rollback --to N` after the old generation was destroyed. Real
//! processes and real HTTP on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use kiln_testkit::Run;

/// Runs `f` while a client loops on the balancer; returns what `f` returned,
/// the number of good answers and every failure.
fn under_load(port: u16, f: impl FnOnce() -> Run) -> (Run, usize, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match get(port, "/") {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
            }
        })
    };
    let r = f();
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let errors = errors.lock().unwrap().clone();
    (r, ok.load(Ordering::Relaxed), errors)
}

fn generation_of(state: &serde_json::Value, addr: &str) -> u64 {
    resource(state, addr)["generation"].as_u64().unwrap()
}

fn balancer_pid(p: &TempProject) -> u64 {
    resource(&p.state_json("default").unwrap(), "local_balancer.front")["attributes"]["pid"]
        .as_u64()
        .unwrap()
}

const STATELESS: [&str; 4] = [
    "local_file.app",
    "local_file.version",
    "local_artifact.web",
    "local_service.web",
];

#[test]
fn rebuild_keep_previous_rollback_and_rollback_to_a_destroyed_generation() {
    let p = TempProject::new();
    copy_example(&p);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let port = free_port();
    let port_var = format!("port={port}");
    let _cleanup = Cleanup(&k, port_var.clone());

    // Generation 1: v1.
    k.run(&["apply", "--yes", "--var", &port_var]).success();
    assert_eq!(get(port, "/").unwrap(), "hello from v1\n");
    let gen1_pids = pids(&p);
    let balancer = balancer_pid(&p);

    // A plain rebuild under load: every stateless resource gets generation
    // 2, the balancer is kept (same process) and moved, nothing fails, and
    // generation 1's processes are gone.
    let (r, ok, errors) = under_load(port, || {
        k.run(&["apply", "--yes", "--rebuild", "--var", &port_var])
    });
    r.success();
    assert!(
        errors.is_empty(),
        "failed requests during the rebuild: {errors:?}"
    );
    assert!(ok > 10, "the client made requests throughout ({ok})");
    assert!(
        r.stdout
            .contains("local_balancer.front will be updated in place"),
        "{}",
        r.stdout
    );
    let state = p.state_json("default").unwrap();
    for addr in STATELESS {
        assert_eq!(generation_of(&state, addr), 2, "{addr}");
    }
    assert_eq!(generation_of(&state, "local_balancer.front"), 1);
    assert_eq!(balancer_pid(&p), balancer, "the switch was not replaced");
    assert!(
        state.get("previous").is_none(),
        "nothing kept without --keep-previous"
    );
    for pid in &gen1_pids {
        assert!(wait_dead(*pid), "generation 1 process {pid} is gone");
    }
    let gen2_pids = pids(&p);

    // Generation 3: v2, rebuilt under load, generation 2 kept running.
    let (r, ok, errors) = under_load(port, || {
        k.run(&[
            "apply",
            "--yes",
            "--rebuild",
            "--keep-previous",
            "--var",
            &port_var,
            "--var",
            "version=v2",
        ])
    });
    r.success();
    assert!(
        errors.is_empty(),
        "failed requests during the rebuild: {errors:?}"
    );
    assert!(ok > 10, "the client made requests throughout ({ok})");
    assert!(r.stdout.contains("kept for rollback"), "{}", r.stdout);
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    let state = p.state_json("default").unwrap();
    for addr in STATELESS {
        assert_eq!(generation_of(&state, addr), 3, "{addr}");
    }
    assert_eq!(state["previous"]["generation"], 2);
    let gen3_pids = pids(&p);
    for pid in &gen2_pids {
        assert!(alive(*pid), "generation 2 process {pid} is kept running");
    }

    // Rollback: run-time updates only, quickly, without a failed request.
    let started = Instant::now();
    let (r, _, errors) = under_load(port, || k.run(&["rollback", "--yes"]));
    r.success();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "rollback took {:?}",
        started.elapsed()
    );
    assert!(
        errors.is_empty(),
        "failed requests during the rollback: {errors:?}"
    );
    assert_eq!(get(port, "/").unwrap(), "hello from v1\n");
    assert_eq!(pids(&p), gen2_pids, "generation 2 is current again");
    let state = p.state_json("default").unwrap();
    assert_eq!(state["previous"]["generation"], 3);
    let out = k.run(&["output", "--raw", "version"]);
    assert_eq!(out.success().stdout, "v1", "the outputs swapped too");

    // A second rollback returns.
    k.run(&["rollback", "--yes"]).success();
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    assert_eq!(pids(&p), gen3_pids);

    // An apply without --keep-previous destroys the kept generation.
    let r = k.run(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"]);
    r.success();
    assert!(r.stdout.contains("previous generation"), "{}", r.stdout);
    for pid in &gen2_pids {
        assert!(wait_dead(*pid), "generation 2 process {pid} is gone");
    }
    assert!(p.state_json("default").unwrap().get("previous").is_none());

    // Nothing to roll back to any more; an unknown generation is refused.
    let r = k.run(&["rollback", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("no previous generation"), "{}", r.stderr);
    assert!(r.stderr.contains("--to"), "says what to do: {}", r.stderr);
    let r = k.run(&["rollback", "--yes", "--to", "42"]);
    r.expect_code(1);
    assert!(r.stderr.contains("no generation 42"), "{}", r.stderr);
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");

    // Generation 2 was destroyed: --to 2 recreates it (v1) from the state
    // history, health-gated, under load, and destroys generation 3.
    let (r, ok, errors) = under_load(port, || k.run(&["rollback", "--yes", "--to", "2"]));
    r.success();
    assert!(
        errors.is_empty(),
        "failed requests during rollback --to: {errors:?}"
    );
    assert!(ok > 10, "the client made requests throughout ({ok})");
    assert!(
        r.all()
            .contains("Generation 2 was recreated as generation 4"),
        "{}",
        r.all()
    );
    assert_eq!(get(port, "/").unwrap(), "hello from v1\n");
    for pid in &gen3_pids {
        assert!(wait_dead(*pid), "generation 3 process {pid} is gone");
    }
    let state = p.state_json("default").unwrap();
    assert_eq!(generation_of(&state, "local_service.web"), 4);
    assert_eq!(balancer_pid(&p), balancer, "the same switch throughout");
}

#[test]
fn rollback_bad_input_is_a_clear_error() {
    let (p, k) = project("resource \"null_resource\" \"a\" {\n  triggers = { v = \"1\" }\n}\n");
    let r = k.run(&["rollback", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("state is empty"), "{}", r.stderr);

    k.run(&["apply", "--yes"]).success();
    let r = k.run(&["rollback", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("no previous generation"), "{}", r.stderr);
    let r = k.run(&["rollback", "--yes", "--to", "7"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("no generation 7") && r.stderr.contains("1 to 1"),
        "{}",
        r.stderr
    );
    let r = k.run(&["rollback", "--yes", "--to", "1"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("already the current generation"),
        "{}",
        r.stderr
    );
    let r = k.run(&["rollback", "--keep-previous"]);
    assert_ne!(r.code, 0, "--keep-previous needs --to");
    assert!(r.stderr.contains("--to"), "{}", r.stderr);

    // With a kept generation whose objects are not switched by anything,
    // rollback still swaps which generation is current.
    k.run(&["apply", "--yes", "--rebuild", "--keep-previous"])
        .success();
    let before = state_id(&p, "default", "null_resource.a").unwrap();
    k.run(&["rollback", "--yes"]).success();
    let after = state_id(&p, "default", "null_resource.a").unwrap();
    assert_ne!(before, after, "the kept object is current again");
}
