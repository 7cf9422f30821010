//! The test kit: temporary projects, a runner for the real `kiln` binary, and
//! the synthetic configuration generator shared by tests and benchmarks.
//!
//! Dev-only; nothing in the shipped binary depends on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod faults;
pub mod generate;
pub mod moto;

/// A configuration directory in a temporary folder, removed on drop.
pub struct TempProject {
    dir: tempfile::TempDir,
}

impl Default for TempProject {
    fn default() -> Self {
        TempProject::new()
    }
}

impl TempProject {
    pub fn new() -> TempProject {
        TempProject {
            dir: tempfile::Builder::new()
                .prefix("kiln-test-")
                .tempdir()
                .expect("create a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (or overwrites) a file relative to the project.
    pub fn write(&self, name: &str, content: &str) -> &TempProject {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(&p, content).expect("write a project file");
        self
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir.path().join(name).exists()
    }

    /// The state file of an environment, parsed as JSON.
    pub fn state_json(&self, env: &str) -> Option<serde_json::Value> {
        let p = self.dir.path().join(".kiln").join(env).join("state.json");
        let text = std::fs::read_to_string(p).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// What a `kiln` run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Run {
        self.expect_code(0)
    }

    /// Everything printed, both streams.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the real `kiln` binary in a project directory.
#[derive(Debug, Clone)]
pub struct Kiln {
    bin: PathBuf,
    dir: PathBuf,
    envs: Vec<(String, String)>,
}

impl Kiln {
    /// `bin` is `env!("CARGO_BIN_EXE_kiln")` of the calling test.
    pub fn new(bin: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> Kiln {
        Kiln {
            bin: bin.into(),
            dir: dir.into(),
            envs: Vec::new(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Kiln {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .env("NO_COLOR", "1")
            .env_remove("KILN_ENV");
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run the kiln binary");
        Run::from_output(out)
    }

    /// Runs with `input` on standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the kiln binary");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        Run::from_output(child.wait_with_output().expect("wait for kiln"))
    }
}
