//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

pub mod crash;

pub use kiln_testkit::{Kiln, TempProject};

/// A project with `main.hcl` and a runner for the real binary in it.
pub fn project(main: &str) -> (TempProject, Kiln) {
    let p = TempProject::new();
    p.write("main.hcl", main);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    (p, k)
}

/// The resource addresses in an environment's state file.
pub fn state_addrs(p: &TempProject, env: &str) -> Vec<String> {
    let Some(s) = p.state_json(env) else {
        return Vec::new();
    };
    s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["addr"].as_str().unwrap().to_string())
        .collect()
}

/// The id of a resource in state.
pub fn state_id(p: &TempProject, env: &str, addr: &str) -> Option<String> {
    let s = p.state_json(env)?;
    s["resources"]
        .as_array()?
        .iter()
        .find(|r| r["addr"] == addr)
        .map(|r| r["id"].as_str().unwrap().to_string())
}

/// The records of the last finished apply's journal.
pub fn last_journal(p: &TempProject, env: &str) -> Vec<serde_json::Value> {
    let path = p.path().join(".kiln").join(env).join("journal.last.jsonl");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// The local-web example's helpers: real processes and HTTP on 127.0.0.1.

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 GET; the body, or an error.
pub fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let (head, body) = buf
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response: {buf:?}")))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("status: {head}")));
    }
    Ok(body.to_string())
}

/// A process is running (not gone, not a zombie).
pub fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

pub fn wait_dead(pid: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn resource<'a>(state: &'a serde_json::Value, addr: &str) -> &'a serde_json::Value {
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addr"] == addr)
        .unwrap_or_else(|| panic!("{addr} not in state"))
}

pub fn pids(p: &TempProject) -> Vec<u64> {
    let s = p.state_json("default").unwrap();
    resource(&s, "local_service.web")["attributes"]["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// Processes whose working directory is under `dir`.
pub fn processes_in(dir: &str) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd"))
            && cwd.starts_with(dir)
            && alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

pub fn copy_example(p: &TempProject) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/local-web");
    p.write(
        "main.hcl",
        &std::fs::read_to_string(root.join("main.hcl")).unwrap(),
    );
    p.write(
        "app/app.py",
        &std::fs::read_to_string(root.join("app/app.py")).unwrap(),
    );
}

/// Destroys whatever the test left running, even when it fails.
pub struct Cleanup<'a>(pub &'a Kiln, pub String);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["destroy", "--yes", "--var", &self.1]);
    }
}

/// Reads `child`'s stderr until a line contains `signal` (a ready signal:
/// the command reached the point a test acts at), and returns what it read
/// with the rest of the stream to read on. Panics if the stream ends first.
pub fn wait_for_stderr(
    child: &mut std::process::Child,
    signal: &str,
) -> (String, std::io::BufReader<std::process::ChildStderr>) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended before {signal:?}:\n{seen}");
        seen.push_str(&line);
        if line.contains(signal) {
            return (seen, reader);
        }
    }
}
