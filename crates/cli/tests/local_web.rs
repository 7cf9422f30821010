//! The local-web example end to end: real processes and real HTTP on
//! 127.0.0.1. A blue/green version change under load loses no request; an
//! unhealthy release leaves traffic where it was; drift is replaced; destroy
//! leaves nothing running.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn blue_green_without_dropping_a_request_then_unhealthy_rollback_drift_and_destroy() {
    let p = TempProject::new();
    copy_example(&p);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let port = free_port();
    let port_var = format!("port={port}");
    let _cleanup = Cleanup(&k, port_var.clone());

    // v1
    k.run(&["apply", "--yes", "--var", &port_var]).success();
    assert_eq!(get(port, "/").unwrap(), "hello from v1\n");
    let v1_pids = pids(&p);
    assert_eq!(v1_pids.len(), 2);
    let v1_artifact =
        resource(&p.state_json("default").unwrap(), "local_artifact.web")["attributes"]["path"]
            .as_str()
            .unwrap()
            .to_string();

    // v2 while a client loops on the balancer.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
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
    let r = k.run(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"]);
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    r.success();
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} failed requests during the cut-over: {errors:?}",
        errors.len()
    );
    assert!(
        ok.load(Ordering::Relaxed) > 10,
        "the client made requests throughout"
    );
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    for pid in &v1_pids {
        assert!(wait_dead(*pid), "v1 process {pid} is gone");
    }
    let state = p.state_json("default").unwrap();
    assert!(
        !state.to_string().contains(&v1_artifact),
        "nothing references the v1 artifact any more"
    );
    assert!(
        !Path::new(&v1_artifact).exists(),
        "the v1 artifact was removed"
    );
    let v2_pids = pids(&p);
    let v2_artifact = resource(&state, "local_artifact.web")["attributes"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let artifacts_dir = Path::new(&v2_artifact).parent().unwrap().to_path_buf();
    let artifacts = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        v.sort();
        v
    };
    let artifacts_before = artifacts(&artifacts_dir);

    // v3 fails its health check: the apply fails and rolls back — traffic
    // stays on v2, the v3 artifact it built is deleted, no v3 process remains.
    let r = k.run(&[
        "apply",
        "--yes",
        "--var",
        &port_var,
        "--var",
        "version=v3",
        "--var",
        "healthy=false",
    ]);
    r.expect_code(1);
    assert!(r.stderr.contains("health"), "{}", r.stderr);
    assert!(
        r.stderr.contains("/healthz"),
        "names the failing check: {}",
        r.stderr
    );
    assert!(r.stderr.contains("was rolled back"), "{}", r.stderr);
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    assert_eq!(pids(&p), v2_pids);
    let state = p.state_json("default").unwrap();
    assert_eq!(
        resource(&state, "local_artifact.web")["attributes"]["path"],
        v2_artifact.as_str(),
        "the v2 artifact is current again"
    );
    assert_eq!(
        artifacts(&artifacts_dir),
        artifacts_before,
        "the v3 artifact was deleted"
    );
    for path in artifacts(&artifacts_dir) {
        if path != v2_artifact {
            assert!(
                processes_in(&path).is_empty(),
                "no process runs from {path}"
            );
        }
    }

    // Back to v2 converges; a change of env alone replaces the service, not the artifact.
    k.run(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"])
        .success();
    p.write(
        "main.hcl",
        &p.read("main.hcl").replace(
            "HEALTHY    = var.healthy ? \"1\" : \"0\"",
            "HEALTHY    = var.healthy ? \"1\" : \"0\"\n    COLOR      = \"blue\"",
        ),
    );
    let r = k.run(&["plan", "--var", &port_var, "--var", "version=v2"]);
    r.success();
    assert!(
        r.stdout.contains("local_service.web will be replaced"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("local_artifact.web will"),
        "{}",
        r.stdout
    );
    // The pull-request comment names the replacement and why.
    let md = k.run(&[
        "plan",
        "--format",
        "markdown",
        "--var",
        &port_var,
        "--var",
        "version=v2",
    ]);
    md.success();
    assert!(
        md.stdout.contains("| **replace** | `local_service.web` | env.COLOR changed: null → \"blue\" (forces replacement) |"),
        "{}",
        md.stdout
    );

    // A replica killed by hand is drift: the next plan replaces the service.
    let victim = pids(&p)[0];
    std::process::Command::new("kill")
        .arg("-9")
        .arg(victim.to_string())
        .status()
        .unwrap();
    assert!(wait_dead(victim));
    let r = k.run(&["plan", "--var", &port_var, "--var", "version=v2"]);
    r.success();
    assert!(r.all().contains("drift"), "{}", r.all());
    assert!(
        r.stdout.contains("local_service.web will be replaced"),
        "{}",
        r.stdout
    );
    k.run(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"])
        .success();
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");

    // Destroy leaves no process and no listener.
    let last = pids(&p);
    let balancer_pid =
        resource(&p.state_json("default").unwrap(), "local_balancer.front")["attributes"]["pid"]
            .as_u64()
            .unwrap();
    k.run(&["destroy", "--yes", "--var", &port_var]).success();
    for pid in last.iter().chain([&balancer_pid]) {
        assert!(wait_dead(*pid), "process {pid} is gone after destroy");
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the balancer's port"
    );
}

#[test]
fn bad_local_input_is_a_clear_error() {
    // A missing source directory.
    let (p, k) = project("resource \"local_artifact\" \"a\" {\n  source_dir = \"nope\"\n}\n");
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
    assert!(state_addrs(&p, "default").is_empty());

    // A command that does not exist.
    let (p, k) = project(
        "resource \"local_service\" \"s\" {\n  artifact = \".\"\n  command = \"/definitely/not/a/command\"\n}\n",
    );
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("/definitely/not/a/command"),
        "{}",
        r.stderr
    );
    assert!(state_addrs(&p, "default").is_empty());

    // A port already taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (p, k) = project(&format!(
        "resource \"local_balancer\" \"b\" {{\n  listen = \"127.0.0.1:{port}\"\n  backends = [\"127.0.0.1:1\"]\n}}\n"
    ));
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains(&port.to_string()), "{}", r.stderr);
    assert!(state_addrs(&p, "default").is_empty());
}
