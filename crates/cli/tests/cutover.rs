//! Progressive cut-over through the local balancer, end to end: real
//! processes, real HTTP on 127.0.0.1, a client looping on the balancer while
//! `kiln apply` moves traffic a step at a time (docs/cutover.md).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use kiln_testkit::{Kiln, TempProject};

/// The example with its cutover block replaced by `cutover`.
fn project_with(cutover: &str) -> (TempProject, Kiln) {
    let p = TempProject::new();
    copy_example(&p);
    let main = std::fs::read_to_string(p.path().join("main.hcl")).unwrap();
    let start = main
        .find("  cutover {")
        .expect("the example has a cutover block");
    let end = start + main[start..].find("\n  }\n").unwrap() + "\n  }\n".len();
    let main = format!("{}{cutover}{}", &main[..start], &main[end..]);
    p.write("main.hcl", &main);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    (p, k)
}

/// One HTTP/1.0 GET: the status and the body.
fn fetch(port: u16) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let (head, body) = buf
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response: {buf:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head}")))?;
    Ok((status, body.trim().to_string()))
}

/// The balancer's backends and weights (its control port's `status`).
fn routing(control: u16) -> Option<(Vec<String>, Vec<u64>)> {
    let mut s = TcpStream::connect(("127.0.0.1", control)).ok()?;
    s.write_all(b"status\n").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    let v: serde_json::Value = serde_json::from_str(&line).ok()?;
    let strings =
        |k: &str| -> Vec<serde_json::Value> { v[k].as_array().cloned().unwrap_or_default() };
    let backends: Vec<String> = strings("backends")
        .iter()
        .filter_map(|b| b.as_str().map(str::to_string))
        .collect();
    let mut weights: Vec<u64> = strings("weights")
        .iter()
        .filter_map(|w| w.as_u64())
        .collect();
    if weights.is_empty() {
        weights = vec![1; backends.len()];
    }
    Some((backends, weights))
}

fn balancer(p: &TempProject) -> (u16, Vec<String>) {
    let s = p.state_json("default").unwrap();
    let a = &resource(&s, "local_balancer.front")["attributes"];
    let control = a["control_port"].as_u64().unwrap() as u16;
    let backends = a["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    (control, backends)
}

/// One request of the client loop: the share of weight the routing gave
/// backends outside `old` when it was sent (if the routing did not change
/// while it ran), its status and its body.
type Sample = (Option<f64>, u16, String);

/// Loops requests on the balancer until stopped, noting the routing around
/// each.
fn client(
    port: u16,
    control: u16,
    old: Vec<String>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<Sample>, Vec<String>)> {
    std::thread::spawn(move || {
        let share = |r: &(Vec<String>, Vec<u64>)| {
            let total: u64 = r.1.iter().sum();
            let new: u64 =
                r.0.iter()
                    .zip(&r.1)
                    .filter(|(b, _)| !old.contains(b))
                    .map(|(_, w)| w)
                    .sum();
            new as f64 / total.max(1) as f64
        };
        let mut samples = Vec::new();
        let mut failures = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let before = routing(control);
            let answer = fetch(port);
            let after = routing(control);
            let weight = match (&before, &after) {
                (Some(b), Some(a)) if a == b => Some(share(b)),
                _ => None,
            };
            match answer {
                Ok((status, body)) => samples.push((weight, status, body)),
                Err(e) => failures.push(e.to_string()),
            }
        }
        (samples, failures)
    })
}

#[test]
fn a_five_step_shift_gives_each_step_its_share_and_drops_nothing() {
    let (p, k) = project_with(
        r#"  cutover {
    step {
      weight = 10
      hold   = "1500ms"
    }
    step {
      weight = 25
      hold   = "1500ms"
    }
    step {
      weight = 50
      hold   = "1500ms"
    }
    step {
      weight = 75
      hold   = "1500ms"
    }
    step {
      weight = 90
      hold   = "1500ms"
    }
    check {
      metric       = "error_rate"
      max          = 0.05
      min_requests = 20
      interval     = "200ms"
    }
  }
"#,
    );
    let port = free_port();
    let port_var = format!("port={port}");
    let _cleanup = Cleanup(&k, port_var.clone());
    let first = k.run(&["apply", "--yes", "--var", &port_var]);
    first.success();
    assert!(
        !first.stderr.contains("cutover step"),
        "a fresh environment goes to 100% at once:\n{}",
        first.stderr
    );
    let (control, v1_backends) = balancer(&p);

    let plan = k.run(&["plan", "--var", &port_var, "--var", "version=v2"]);
    plan.success();
    for line in [
        "step 1: 10% for 1s 500ms",
        "step 5: 90% for",
        "step 6: 100%",
    ] {
        assert!(
            plan.stdout.contains(line),
            "the plan shows {line:?}:\n{}",
            plan.stdout
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let loop_ = client(port, control, v1_backends.clone(), stop.clone());
    let r = k.run(&[
        "apply",
        "--yes",
        "--json",
        "--var",
        &port_var,
        "--var",
        "version=v2",
    ]);
    stop.store(true, Ordering::Relaxed);
    let (samples, failures) = loop_.join().unwrap();
    r.success();
    // The same progress as JSON events on stdout (docs/apply-events.md).
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let started: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "cutover_step" && e["checks"].is_null())
        .map(|e| e["weight"].as_f64().unwrap())
        .collect();
    assert_eq!(started, [10.0, 25.0, 50.0, 75.0, 90.0, 100.0]);
    let held = events
        .iter()
        .filter(|e| e["event"] == "cutover_step" && e["checks"].is_string())
        .filter(|e| {
            e["checks"]
                .as_str()
                .unwrap()
                .starts_with("error_rate 0.0000 over")
        })
        .count();
    assert_eq!(held, 5, "every hold measured its checks: {events:#?}");
    assert_eq!(events.last().unwrap()["event"], "applied");
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        samples.iter().all(|(_, status, _)| *status == 200),
        "every answer is a 200"
    );
    for step in 1..=6 {
        assert!(
            r.stderr.contains(&format!("cutover step {step} of 6")),
            "progress for step {step}:\n{}",
            r.stderr
        );
    }
    // Each declared share, measured on the requests sent while it held.
    for want in [0.10, 0.25, 0.50, 0.75, 0.90] {
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|(w, _, _)| w.is_some_and(|w| (w - want).abs() < 1e-9))
            .collect();
        assert!(
            during.len() >= 40,
            "{} requests during the {want} step",
            during.len()
        );
        let new = during
            .iter()
            .filter(|(_, _, b)| b == "hello from v2")
            .count();
        let got = new as f64 / during.len() as f64;
        assert!(
            (got - want).abs() <= 0.05,
            "step {want}: {new} of {} requests ({got:.3}) went to the new generation",
            during.len()
        );
    }
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    let (_, now) = balancer(&p);
    assert!(now.iter().all(|b| !v1_backends.contains(b)), "{now:?}");
}

#[test]
fn a_release_that_fails_one_request_in_ten_is_stopped_at_its_first_step() {
    let (p, k) = project_with(
        r#"  cutover {
    step {
      weight = 10
      hold   = "20s"
    }
    step {
      weight = 50
      hold   = "20s"
    }
    check {
      metric       = "error_rate"
      max          = 0.05
      min_requests = 20
      interval     = "100ms"
    }
  }
"#,
    );
    let port = free_port();
    let port_var = format!("port={port}");
    let _cleanup = Cleanup(&k, port_var.clone());
    k.run(&["apply", "--yes", "--var", &port_var]).success();
    let (control, v1_backends) = balancer(&p);
    let v1_pids = pids(&p);

    let stop = Arc::new(AtomicBool::new(false));
    let loop_ = client(port, control, v1_backends.clone(), stop.clone());
    let started = Instant::now();
    let r = k.run(&[
        "apply",
        "--yes",
        "--var",
        &port_var,
        "--var",
        "version=v2",
        "--var",
        "fail_every=10",
    ]);
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (samples, failures) = loop_.join().unwrap();
    assert_ne!(r.code, 0, "the apply fails:\n{}", r.stderr);
    assert!(
        failures.is_empty(),
        "requests that got no answer: {failures:?}"
    );
    assert!(
        r.stderr.contains("cutover step 1 of 3") && r.stderr.contains("check error_rate failed"),
        "the error names the step and the check:\n{}",
        r.stderr
    );
    assert!(
        took < Duration::from_secs(20),
        "stopped during the first hold, not after it ({took:?})"
    );
    // What reached the new generation: at most the first step's share of
    // what was sent, and little more than the check needed to judge.
    let to_new = samples
        .iter()
        .filter(|(_, _, b)| b.ends_with("from v2"))
        .count();
    let sent = samples.len();
    assert!(to_new >= 20, "the check judged on {to_new} requests");
    assert!(
        to_new <= sent / 10 + 10 && to_new <= 60,
        "{to_new} of {sent} requests reached the failing release"
    );
    // Traffic is back on the old generation, which still runs.
    let (_, now) = balancer(&p);
    assert_eq!(now, v1_backends);
    assert_eq!(routing(control).unwrap().0, v1_backends);
    for _ in 0..30 {
        assert_eq!(fetch(port).unwrap(), (200, "hello from v1".to_string()));
    }
    assert_eq!(pids(&p), v1_pids);
    // The new generation is deleted: what runs is the old one and the balancer.
    let s = p.state_json("default").unwrap();
    let balancer_pid = resource(&s, "local_balancer.front")["attributes"]["pid"]
        .as_u64()
        .unwrap();
    let mut running = processes_in(&p.path().to_string_lossy());
    running.retain(|pid| *pid != balancer_pid);
    running.sort_unstable();
    let mut want = v1_pids.clone();
    want.sort_unstable();
    assert_eq!(running, want);
    assert!(!p.path().join("build/v2/app.py").exists());
}

#[test]
fn kill_9_during_a_shift_then_the_next_apply_restarts_it_and_finishes_exactly() {
    let (p, k) = project_with(
        r#"  cutover {
    step {
      weight = 10
      hold   = "1s"
    }
    step {
      weight = 50
      hold   = "30s"
    }
  }
"#,
    );
    let port = free_port();
    let port_var = format!("port={port}");
    let _cleanup = Cleanup(&k, port_var.clone());
    k.run(&["apply", "--yes", "--var", &port_var]).success();
    let (control, v1_backends) = balancer(&p);
    let v1_pids = pids(&p);

    let mut child = k
        .command(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (seen, _rest) = wait_for_stderr(&mut child, "cutover step 2 of 3:");
    // Mid-shift: half the weight on each generation.
    let (backends, weights) = routing(control).unwrap();
    assert_eq!(backends.len(), 4, "both generations serve:\n{seen}");
    assert_eq!(weights.iter().sum::<u64>() % 2, 0);
    child.kill().unwrap();
    child.wait().unwrap();

    // The next apply recovers the journal (the switch read back as it is),
    // then shifts again from the first step and deletes the old generation
    // only once the new one has all the traffic.
    let r = k.run(&["apply", "--yes", "--var", &port_var, "--var", "version=v2"]);
    r.success();
    assert!(r.stderr.contains("cutover step 1 of 3"), "{}", r.stderr);
    assert!(r.stderr.contains("cutover step 3 of 3"), "{}", r.stderr);
    let state = p.state_json("default").unwrap();
    assert_eq!(state["deposed"].as_array().map_or(0, Vec::len), 0);
    let (_, now) = balancer(&p);
    assert_eq!(
        routing(control).unwrap().0,
        now,
        "the state says where traffic goes"
    );
    assert!(now.iter().all(|b| !v1_backends.contains(b)));
    for pid in v1_pids {
        assert!(wait_dead(pid), "old generation process {pid} stopped");
    }
    assert!(pids(&p).iter().all(|pid| alive(*pid)));
    assert_eq!(get(port, "/").unwrap(), "hello from v2\n");
    let again = k.run(&["plan", "--var", &port_var, "--var", "version=v2"]);
    again.success();
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    assert!(
        !p.path().join("build/v1").exists()
            || processes_in(&p.path().join("build/v1").to_string_lossy()).is_empty()
    );
}
