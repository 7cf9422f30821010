//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

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
