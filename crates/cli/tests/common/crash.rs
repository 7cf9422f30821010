//! The crash scenarios shared by `crash.rs` (local store) and `s3.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Kiln, TempProject};
use kiln_testkit::Run;

/// Two files and a null resource between them; `v` names the first file,
/// so a replacement writes a new file beside the old one, and the second
/// file's name follows the null resource's id (a replacement cascades).
pub const MAIN: &str = r#"variable "v" {
  default = "1"
}

resource "local_file" "a" {
  path    = "${path.module}/out/a-${var.v}.txt"
  content = "a ${var.v}"
}

resource "null_resource" "b" {
  triggers = { a = local_file.a.id }
}

resource "local_file" "c" {
  path    = "${path.module}/out/c-${null_resource.b.id}.txt"
  content = "c"
}
"#;

/// One command that is crashed, with what comes before and after it.
pub struct Scenario {
    pub name: &'static str,
    /// Run first, each must succeed.
    pub setup: &'static [&'static [&'static str]],
    /// The command stopped at the crash point.
    pub crash: &'static [&'static str],
    /// Extra environment for the crashed command (failure injection).
    pub crash_env: &'static [(&'static str, &'static str)],
    /// Run after the crash, each must succeed with no manual step.
    pub finish: &'static [&'static [&'static str]],
    /// The arguments of the plan that must then be empty.
    pub plan: &'static [&'static str],
    /// The state holds nothing at the end.
    pub empty: bool,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "create",
        setup: &[],
        crash: &["apply", "--yes"],
        crash_env: &[],
        finish: &[&["apply", "--yes"]],
        plan: &["plan", "--detailed-exitcode"],
        empty: false,
    },
    Scenario {
        name: "replace",
        setup: &[&["apply", "--yes"]],
        crash: &["apply", "--yes", "--var", "v=2"],
        crash_env: &[],
        finish: &[&["apply", "--yes", "--var", "v=2"]],
        plan: &["plan", "--detailed-exitcode", "--var", "v=2"],
        empty: false,
    },
    Scenario {
        name: "rebuild",
        setup: &[&["apply", "--yes"]],
        crash: &["apply", "--yes", "--rebuild"],
        crash_env: &[],
        finish: &[&["apply", "--yes"]],
        plan: &["plan", "--detailed-exitcode"],
        empty: false,
    },
    Scenario {
        name: "keep-previous",
        setup: &[&["apply", "--yes"]],
        crash: &["apply", "--yes", "--var", "v=2", "--keep-previous"],
        crash_env: &[],
        finish: &[&["apply", "--yes", "--var", "v=2", "--keep-previous"]],
        // Without the flag a plan drops the kept generation.
        plan: &[
            "plan",
            "--detailed-exitcode",
            "--var",
            "v=2",
            "--keep-previous",
        ],
        empty: false,
    },
    Scenario {
        name: "rollback",
        setup: &[
            &["apply", "--yes"],
            &["apply", "--yes", "--var", "v=2", "--keep-previous"],
        ],
        crash: &["rollback", "--yes"],
        crash_env: &[],
        // Whether the swap happened depends on where the crash was; the
        // recovered state says, and the plan below is made against it.
        finish: &[&["recover"]],
        plan: &[],
        empty: false,
    },
    Scenario {
        name: "failed-apply-rollback",
        setup: &[&["apply", "--yes"]],
        crash: &["apply", "--yes", "--var", "v=2"],
        crash_env: &[("KILN_NULL_FAIL", "null_resource.b")],
        finish: &[&["apply", "--yes"]],
        plan: &["plan", "--detailed-exitcode"],
        empty: false,
    },
    Scenario {
        name: "destroy",
        setup: &[&["apply", "--yes"]],
        crash: &["destroy", "--yes"],
        crash_env: &[],
        finish: &[&["destroy", "--yes"]],
        plan: &[],
        empty: true,
    },
];

/// Where the crashed command is stopped.
#[derive(Debug, Clone, Copy)]
pub enum Crash<'a> {
    /// At a named crash point (`KILN_CRASH_AT`).
    At(&'a str),
    /// By `kill -9` this long after it started (the random harness).
    After(std::time::Duration),
}

/// Runs `scenario` crashed at `point` in a new project whose commands get
/// `extra` (a backend) and `env`; checks everything the module doc says.
/// Returns false if the crashed command never reached the point (it then
/// must have succeeded, or failed as the scenario asks).
pub fn crash_and_check(
    scenario: &Scenario,
    point: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> bool {
    crash_and_check_with(scenario, Crash::At(point), extra, env)
}

/// [`crash_and_check`], stopped either way.
pub fn crash_and_check_with(
    scenario: &Scenario,
    crash: Crash<'_>,
    extra: &[&str],
    env: &[(String, String)],
) -> bool {
    let p = TempProject::new();
    p.write("main.hcl", MAIN);
    let mut k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    for (key, value) in env {
        k = k.env(key, value);
    }
    let run = |k: &Kiln, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(extra);
        k.run(&all)
    };
    let context = format!("{} crashed at {crash:?}", scenario.name);
    for args in scenario.setup {
        let r = run(&k, args);
        assert_eq!(r.code, 0, "{context}: setup {args:?}\n{}", r.all());
    }
    let mut crashing = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    if let Crash::At(point) = crash {
        crashing = crashing.env(kiln_store::faults::CRASH_ENV, point);
    }
    for (key, value) in env {
        crashing = crashing.env(key, value);
    }
    for (key, value) in scenario.crash_env {
        crashing = crashing.env(key, value);
    }
    let r = match crash {
        Crash::At(_) => run(&crashing, scenario.crash),
        Crash::After(delay) => {
            let mut all: Vec<&str> = scenario.crash.to_vec();
            all.extend_from_slice(extra);
            let mut child = crashing
                .command(&all)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start kiln");
            // The kill's moment is the experiment: a timer, not a wait.
            std::thread::sleep(delay);
            let _ = child.kill();
            let status = child.wait().expect("wait for kiln");
            Run {
                code: status.code().unwrap_or(-1),
                stdout: String::new(),
                stderr: String::new(),
            }
        }
    };
    let crashed = r.code == -1;
    if !crashed {
        let failing = !scenario.crash_env.is_empty();
        assert_eq!(
            r.code,
            i32::from(failing),
            "{context}: the point was not reached, so the command must finish\n{}",
            r.all()
        );
    }
    for args in scenario.finish {
        let r = run(&k, args);
        assert_eq!(
            r.code,
            0,
            "{context}: {args:?} must finish with no manual step\n{}",
            r.all()
        );
        if scenario.name == "create" {
            assert!(
                !r.all().contains(": destroy"),
                "{context}: a crashed create is finished, nothing destroyed\n{}",
                r.all()
            );
        }
    }
    let state = pull(&k, extra, &context);
    check_files(p.path(), &state, &context);
    if scenario.empty {
        assert!(
            state["resources"].as_array().is_none_or(Vec::is_empty),
            "{context}: the state is empty\n{state:#}"
        );
    }
    let plan: Vec<String> = if scenario.plan.is_empty() && !scenario.empty {
        // Plan with the variable the current generation was applied with.
        let v = current_v(p.path(), &state);
        let mut plan = vec![
            "plan".into(),
            "--detailed-exitcode".into(),
            "--var".into(),
            format!("v={v}"),
        ];
        if !state["previous"].is_null() {
            // Without the flag a plan drops the kept generation.
            plan.push("--keep-previous".into());
        }
        plan
    } else {
        scenario.plan.iter().map(|s| s.to_string()).collect()
    };
    if !plan.is_empty() {
        let args: Vec<&str> = plan.iter().map(String::as_str).collect();
        let r = run(&k, &args);
        assert_eq!(r.code, 0, "{context}: the next plan is empty\n{}", r.all());
    }
    crashed
}

/// The state as stored, through `kiln state pull` (either store).
pub fn pull(k: &Kiln, extra: &[&str], context: &str) -> serde_json::Value {
    let mut args = vec!["state", "pull"];
    args.extend_from_slice(extra);
    let r = k.run(&args);
    if r.code != 0 && r.all().contains("no state") {
        return serde_json::json!({});
    }
    assert_eq!(r.code, 0, "{context}: state pull\n{}", r.all());
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{context}: {e}: {}", r.stdout))
}

/// Every object of the state (current, deposed, previous generation).
fn records(state: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for list in [
        &state["resources"],
        &state["deposed"],
        &state["previous"]["resources"],
    ] {
        if let Some(list) = list.as_array() {
            out.extend(list);
        }
    }
    out
}

/// The file a `local_file` id names (`PATH@TOKEN`).
fn file_of(dir: &Path, id: &str) -> PathBuf {
    let path = id.rsplit_once('@').map_or(id, |(p, _)| p);
    dir.join(path)
}

/// Every local_file object the state records exists, every file in `out/`
/// is recorded (nothing orphaned), and no object is recorded twice.
pub fn check_files(dir: &Path, state: &serde_json::Value, context: &str) {
    let mut recorded = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for r in records(state) {
        let id = r["id"].as_str().unwrap();
        assert!(
            ids.insert(id.to_string()),
            "{context}: {id} recorded twice\n{state:#}"
        );
        if r["type"] == "local_file" {
            let f = file_of(dir, id).canonicalize().unwrap_or_else(|_| {
                panic!("{context}: the state records {id}, which does not exist\n{state:#}")
            });
            recorded.insert(f);
        }
    }
    let on_disk: BTreeSet<PathBuf> = match std::fs::read_dir(dir.join("out")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path().canonicalize().unwrap())
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    let orphans: Vec<_> = on_disk.difference(&recorded).collect();
    assert!(
        orphans.is_empty(),
        "{context}: files no state records (orphans): {orphans:?}\n{state:#}"
    );
    let deposed = state["deposed"].as_array().map_or(0, Vec::len);
    assert_eq!(deposed, 0, "{context}: nothing is left deposed\n{state:#}");
}

/// The `v` of the current `local_file.a` (its file is `out/a-V.txt`).
fn current_v(dir: &Path, state: &serde_json::Value) -> String {
    let a = state["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["addr"] == "local_file.a"))
        .expect("local_file.a in the state");
    let f = file_of(dir, a["id"].as_str().unwrap());
    let name = f.file_name().unwrap().to_string_lossy().into_owned();
    name.trim_start_matches("a-")
        .trim_end_matches(".txt")
        .to_string()
}

/// How many runs `var` asks for (`default` without it).
pub fn env_count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `KILN_FAULT_SEED`, else one from the clock (printed by the caller, so a
/// failure can be replayed), and an xorshift64* sequence from it: enough to
/// spread kills, not for anything else.
pub fn seeded() -> (u64, impl FnMut() -> u64) {
    let seed: u64 = std::env::var("KILN_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    let mut state = seed;
    (seed, move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}
