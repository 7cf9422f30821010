//! Helpers shared by the local provider's tests: a provider wired to the
//! test balancer binary, a context in a temporary directory, request
//! builders, and a guard that kills every process a test started, even when
//! it fails.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiln_model::Value;
use kiln_provider::{
    CallContext, ConfigureRequest, CreateRequest, CreateResponse, DeleteRequest, Provider,
    ReadItem, ReadRequest, ReadResult,
};
use kiln_provider_local::{LocalOptions, LocalProvider};

pub const TEST_WEB: &str = env!("CARGO_BIN_EXE_kiln-test-web");
pub const BALANCER: &str = env!("CARGO_BIN_EXE_kiln-balancer");

/// A temporary project: a workdir with `.kiln` as the datadir, a configured
/// provider, and the pids to kill at the end.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub provider: LocalProvider,
    pids: Mutex<Vec<u32>>,
}

impl Project {
    pub async fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalProvider::new(LocalOptions {
            balancer_program: PathBuf::from(BALANCER),
            balancer_args: Vec::new(),
        });
        provider
            .configure(ConfigureRequest {
                config: Value::map::<&str>([]),
                workdir: dir.path().to_string_lossy().into_owned(),
                datadir: dir.path().join(".kiln").to_string_lossy().into_owned(),
            })
            .await;
        Project {
            dir,
            provider,
            pids: Mutex::new(Vec::new()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn context(&self, address: &str) -> CallContext {
        CallContext {
            env: "test".into(),
            lineage: "lineage".into(),
            generation: 1,
            address: address.into(),
            workdir: self.path().to_string_lossy().into_owned(),
            datadir: self.path().join(".kiln").to_string_lossy().into_owned(),
        }
    }

    /// Creates a resource; records its pids (attribute `pids` or `pid`) for
    /// the guard.
    pub async fn create(&self, type_name: &str, address: &str, config: Value) -> CreateResponse {
        let resp = self
            .provider
            .create(CreateRequest {
                type_name: type_name.into(),
                config,
                idempotency_key: format!("lineage/{address}/1"),
                context: self.context(address),
            })
            .await;
        self.track(&resp.state);
        resp
    }

    /// Records the pids of a state so that they are killed at the end.
    pub fn track(&self, state: &Value) {
        let mut pids = self.pids.lock().unwrap();
        pids.extend(pids_of(state));
    }

    pub async fn read(&self, type_name: &str, id: &str, state: &Value) -> ReadResult {
        let mut resp = self
            .provider
            .read(ReadRequest {
                items: vec![ReadItem {
                    type_name: type_name.into(),
                    id: id.into(),
                    state: state.clone(),
                }],
            })
            .await;
        assert_eq!(resp.results.len(), 1);
        resp.results.remove(0)
    }

    pub async fn delete(&self, type_name: &str, address: &str, id: &str, state: &Value) {
        let resp = self
            .provider
            .delete(DeleteRequest {
                type_name: type_name.into(),
                id: id.into(),
                state: state.clone(),
                context: self.context(address),
            })
            .await;
        assert!(
            !resp.diagnostics.has_errors(),
            "delete failed: {}",
            resp.diagnostics
        );
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let pids = self.pids.lock().map(|p| p.clone()).unwrap_or_default();
        for pid in pids {
            if let Ok(raw) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(raw),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

pub fn pids_of(state: &Value) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(list) = state.get("pids").and_then(Value::as_list) {
        out.extend(
            list.iter()
                .filter_map(|p| u32::try_from(p.as_number()?.as_i64()?).ok()),
        );
    }
    if let Some(p) = state
        .get("pid")
        .and_then(Value::as_number)
        .and_then(|n| n.as_i64())
    {
        out.extend(u32::try_from(p).ok());
    }
    out
}

pub fn ports_of(state: &Value) -> Vec<u16> {
    state
        .get("ports")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_number()?.as_i64()?.try_into().ok())
        .collect()
}

/// Whether a process runs (exists in /proc and is not a zombie).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.trim_start().chars().next())
            .is_some_and(|c| c != 'Z' && c != 'X')
    })
}

/// Waits until `cond` holds, up to `limit`.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn strings(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

pub fn string_map(items: &[(&str, &str)]) -> Value {
    Value::Map(
        (items
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect::<BTreeMap<_, _>>())
        .into(),
    )
}

/// A `local_service` configuration running the test web app.
pub fn web_service(version: &str, replicas: i64, extra_env: &[(&str, &str)]) -> Value {
    let mut env = vec![("VERSION", version)];
    env.extend_from_slice(extra_env);
    let artifact = Path::new(TEST_WEB)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    Value::map([
        ("artifact", Value::from(artifact)),
        ("command", Value::from(TEST_WEB)),
        ("args", Value::Null),
        ("env", string_map(&env)),
        // Write-only: the conformance suite checks it never comes back.
        ("env_wo", string_map(&[("SECRET", "s3cret")])),
        ("replicas", Value::from(replicas)),
        (
            "health_check",
            Value::map([
                ("path", Value::from("/health")),
                ("interval", Value::from("50ms")),
                ("timeout", Value::from("500ms")),
                ("retries", Value::from(20i64)),
            ]),
        ),
        ("id", Value::Unknown),
        ("ports", Value::Unknown),
        ("pids", Value::Unknown),
    ])
}

/// One HTTP/1.0 GET to 127.0.0.1:port; the body, or an error.
pub async fn http_get(port: u16) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        if !text.starts_with("HTTP/1.0 200") {
            return Err(format!("bad answer: {text:?}"));
        }
        Ok(text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}
