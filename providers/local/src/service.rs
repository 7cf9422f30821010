//! `local_service`: `replicas` detached processes started from an artifact,
//! each told its loopback port in `PORT`, with an HTTP health check.
//!
//! The service's data lives in `<datadir>/services/<id>/`: one log per
//! replica (`replica-N.log`, N from 1) and `state.json`, the last state
//! written, which recovery (`find_by_key`) adopts. The id derives from the
//! idempotency key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, Presence, ResourceSchema, Type, Value};
use kiln_provider::{CallContext, HealthResponse, ReadResult, UpdateRequest};

use crate::process::{self, GRACE, Spawn};
use crate::{
    absolute, context_datadir, context_workdir, id_from_key, merge, str_attr, write_atomic,
};

pub(crate) fn schema() -> ResourceSchema {
    let health = Type::Object(
        [
            ("path".to_string(), Type::String),
            ("interval".to_string(), Type::String),
            ("timeout".to_string(), Type::String),
            ("retries".to_string(), Type::Number),
        ]
        .into_iter()
        .collect(),
    );
    let mut rs = ResourceSchema::new()
        .attr(
            "artifact",
            AttributeSchema::required(Type::String)
                .describe("the directory the command runs in (an artifact's path)"),
        )
        .attr(
            "command",
            AttributeSchema::required(Type::String).describe(
                "the program: a name looked up on PATH, or a path relative to the artifact",
            ),
        )
        .attr(
            "args",
            AttributeSchema::optional(Type::List(Box::new(Type::String))),
        )
        .attr(
            "env",
            AttributeSchema::optional(Type::Map(Box::new(Type::String)))
                .describe("environment variables, besides PORT"),
        )
        .attr(
            "env_wo",
            AttributeSchema::optional(Type::Map(Box::new(Type::String)))
                .write_only()
                .describe("environment variables never stored (secrets): write-only, so an ephemeral variable may set them; a change alone restarts nothing"),
        )
        .attr(
            "replicas",
            AttributeSchema::new(Type::Number, Presence::OptionalComputed)
                .runtime()
                .describe("how many processes run (1 by default); scaled in place"),
        )
        .attr(
            "health_check",
            AttributeSchema::optional(health)
                .describe("GET path on every replica: healthy when all answer 2xx"),
        )
        .attr("id", AttributeSchema::computed(Type::String))
        .attr(
            "ports",
            AttributeSchema::computed(Type::List(Box::new(Type::Number)))
                .describe("each replica's port on 127.0.0.1"),
        )
        .attr(
            "pids",
            AttributeSchema::computed(Type::List(Box::new(Type::Number)))
                .describe("each replica's process id"),
        );
    rs.health_check = true;
    rs
}

/// The health check's settings, defaults filled in.
#[derive(Debug, Clone)]
struct HealthCheck {
    path: String,
    interval: Duration,
    timeout: Duration,
    retries: u32,
}

fn duration_field(hc: &Value, name: &str, default: Duration) -> Result<Duration, Diagnostic> {
    match str_attr(hc, name) {
        None => Ok(default),
        Some(s) => humantime::parse_duration(s).map_err(|e| {
            Diagnostic::error(format!(
                "local_service: health_check.{name} {s:?} is not a duration: {e}"
            ))
            .with_detail("write a duration such as \"500ms\" or \"2s\"")
        }),
    }
}

fn health_check(config: &Value) -> Result<Option<HealthCheck>, Diagnostic> {
    let Some(hc) = config.get("health_check").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let path = str_attr(hc, "path").unwrap_or("/").to_string();
    if !path.starts_with('/') {
        return Err(Diagnostic::error(format!(
            "local_service: health_check.path {path:?} must start with \"/\""
        )));
    }
    let retries = match hc.get("retries").and_then(Value::as_number) {
        None => 3,
        Some(n) => n
            .as_i64()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| {
                Diagnostic::error(format!(
                    "local_service: health_check.retries must be a whole number ≥ 0, not {n}"
                ))
            })?,
    };
    Ok(Some(HealthCheck {
        path,
        interval: duration_field(hc, "interval", Duration::from_secs(1))?,
        timeout: duration_field(hc, "timeout", Duration::from_secs(2))?,
        retries,
    }))
}

fn replicas(config: &Value) -> Result<usize, Diagnostic> {
    match config.get("replicas").and_then(Value::as_number) {
        None => Ok(1),
        Some(n) => n
            .as_i64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|n| *n <= 1000)
            .ok_or_else(|| {
                Diagnostic::error(format!(
                    "local_service: replicas must be a whole number from 0 to 1000, not {n}"
                ))
            }),
    }
}

pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if config.get("replicas").is_some_and(Value::is_known)
        && let Err(e) = replicas(config)
    {
        d.push(e);
    }
    if config.get("health_check").is_some_and(Value::is_known)
        && let Err(e) = health_check(config)
    {
        d.push(e);
    }
    d
}

fn numbers(v: &Value, name: &str) -> Vec<u32> {
    v.get(name)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_number().and_then(|n| n.as_i64()))
        .filter_map(|n| u32::try_from(n).ok())
        .collect()
}

fn number_list(ns: &[u32]) -> Value {
    Value::List(ns.iter().map(|n| Value::from(i64::from(*n))).collect())
}

/// Everything needed to start one more replica.
struct Launch {
    dir: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    service_dir: PathBuf,
}

fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

fn launch(config: &Value, id: &str, ctx: &CallContext) -> Result<Launch, Diagnostic> {
    let artifact = str_attr(config, "artifact")
        .ok_or_else(|| Diagnostic::error("local_service: artifact is required"))?;
    let dir = absolute(&context_workdir(ctx), artifact);
    if !dir.is_dir() {
        return Err(Diagnostic::error(format!(
            "local_service: artifact directory {artifact:?} does not exist"
        ))
        .with_detail("artifact must name a directory, usually a local_artifact's path"));
    }
    let command = str_attr(config, "command")
        .ok_or_else(|| Diagnostic::error("local_service: command is required"))?;
    let program = if command.contains('/') {
        absolute(&dir, command)
    } else {
        which(command).ok_or_else(|| {
            Diagnostic::error(format!("local_service: command {command:?} not found"))
                .with_detail("it is not on PATH; name an installed program, or a path relative to the artifact like \"./bin/server\"")
        })?
    };
    if !program.is_file() {
        return Err(Diagnostic::error(format!(
            "local_service: command {command:?} not found ({} does not exist)",
            program.display()
        ))
        .with_detail("a command with a \"/\" is resolved against the artifact directory"));
    }
    let args = config
        .get("args")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    // `env`, then the write-only `env_wo` (which wins on a clash).
    let env = ["env", "env_wo"]
        .iter()
        .filter_map(|name| config.get(name).and_then(Value::as_map))
        .flat_map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.to_string(), v.to_string())))
        })
        .collect();
    Ok(Launch {
        dir,
        program,
        args,
        env,
        service_dir: context_datadir(ctx).join("services").join(id),
    })
}

/// Starts replica `n` (1-based) and returns its port and pid.
fn start_replica(l: &Launch, n: usize) -> Result<(u32, u32), Diagnostic> {
    let port = process::free_port()
        .map_err(|e| Diagnostic::error(format!("local_service: cannot find a free port: {e}")))?;
    let mut env = l.env.clone();
    env.push(("PORT".into(), port.to_string()));
    env.push(("KILN_REPLICA".into(), n.to_string()));
    let log = l.service_dir.join(format!("replica-{n}.log"));
    let child = process::spawn_detached(&Spawn {
        program: &l.program,
        args: &l.args,
        env: &env,
        dir: &l.dir,
        log: &log,
    })
    .map_err(|e| {
        Diagnostic::error(format!(
            "local_service: cannot start {}: {e}",
            l.program.display()
        ))
        .with_detail("check that the command exists and is executable")
    })?;
    let pid = child.id();
    process::reap(child);
    Ok((u32::from(port), pid))
}

/// Starts replicas `from..to` (1-based, `to` exclusive). On failure, stops
/// what it started.
async fn start_replicas(l: &Launch, from: usize, to: usize) -> Result<Vec<(u32, u32)>, Diagnostic> {
    let mut started = Vec::new();
    for n in from..to {
        match start_replica(l, n) {
            Ok(r) => started.push(r),
            Err(e) => {
                let pids: Vec<u32> = started.iter().map(|(_, p)| *p).collect();
                process::terminate_all(&pids, GRACE).await;
                return Err(e);
            }
        }
    }
    // A replica that exits at once (bad arguments, a crash on start) is
    // reported now, with its log, rather than as a vague failed health check.
    if !started.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (i, (_, pid)) in started.iter().enumerate() {
        if !process::is_running(*pid) {
            let n = from + i;
            let log = l.service_dir.join(format!("replica-{n}.log"));
            let pids: Vec<u32> = started.iter().map(|(_, p)| *p).collect();
            process::terminate_all(&pids, GRACE).await;
            let tail = process::log_tail(&log);
            return Err(Diagnostic::error(format!(
                "local_service: replica {n} ({}) exited right after starting",
                l.program.display()
            ))
            .with_detail(format!("its log {}:\n{tail}", log.display())));
        }
    }
    Ok(started)
}

/// The state as returned and kept: a write-only value (`env_wo`) reached the
/// processes and is held nowhere else — not in kiln's state, not here.
fn without_write_only(state: Value) -> Value {
    match state {
        Value::Map(mut m) => {
            m.insert("env_wo", Value::Null);
            Value::Map(m)
        }
        other => other,
    }
}

fn save(service_dir: &Path, state: &Value) {
    if let Ok(bytes) = serde_json::to_vec_pretty(state) {
        let _ = write_atomic(&service_dir.join("state.json"), &bytes);
    }
}

pub(crate) async fn create(
    config: &Value,
    key: &str,
    ctx: &CallContext,
) -> Result<(String, Value), Diagnostic> {
    if let Some(e) = validate(config).into_iter().next() {
        return Err(e);
    }
    let id = id_from_key("svc", key);
    let l = launch(config, &id, ctx)?;
    // A retried create: stop whatever an interrupted attempt left running.
    if let Some(old) = load(&l.service_dir) {
        process::terminate_all(&numbers(&old, "pids"), GRACE).await;
    }
    let n = replicas(config)?;
    let started = start_replicas(&l, 1, n + 1).await?;
    let ports: Vec<u32> = started.iter().map(|(p, _)| *p).collect();
    let pids: Vec<u32> = started.iter().map(|(_, p)| *p).collect();
    let state = without_write_only(merge(
        config,
        [
            ("replicas", Value::from(n as i64)),
            ("id", Value::string(&id)),
            ("ports", number_list(&ports)),
            ("pids", number_list(&pids)),
        ],
    ));
    save(&l.service_dir, &state);
    Ok((id, state))
}

fn load(service_dir: &Path) -> Option<Value> {
    let bytes = std::fs::read(service_dir.join("state.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) fn find(key: &str, ctx: &CallContext) -> Option<(String, Value)> {
    let id = id_from_key("svc", key);
    let state = load(&context_datadir(ctx).join("services").join(&id))?;
    Some((id, state))
}

pub(crate) fn read(id: &str, state: &Value, datadir: Option<&Path>) -> ReadResult {
    let pids = numbers(state, "pids");
    let dead: Vec<(usize, u32)> = pids
        .iter()
        .enumerate()
        .filter(|(_, p)| !process::is_running(**p))
        .map(|(i, p)| (i + 1, *p))
        .collect();
    let dir_gone = datadir.is_none_or(|d| !d.join("services").join(id).is_dir());
    if dead.len() == pids.len() && dir_gone {
        return ReadResult::default();
    }
    let drift = (!dead.is_empty()).then(|| {
        dead.iter()
            .map(|(n, pid)| format!("replica {n} (pid {pid}) is not running"))
            .collect::<Vec<_>>()
            .join("; ")
    });
    ReadResult {
        state: Some(state.clone()),
        drift,
        diagnostics: Diagnostics::new(),
    }
}

pub(crate) async fn update(req: &UpdateRequest) -> Result<Value, Diagnostic> {
    let want = replicas(&req.planned)?;
    let mut ports = numbers(&req.prior, "ports");
    let mut pids = numbers(&req.prior, "pids");
    let l = launch(&req.prior, &req.id, &req.context)?;
    if want > pids.len() {
        let started = start_replicas(&l, pids.len() + 1, want + 1).await?;
        for (port, pid) in started {
            ports.push(port);
            pids.push(pid);
        }
    } else if want < pids.len() {
        let stopping = pids.split_off(want);
        ports.truncate(want);
        let survivors = process::terminate_all(&stopping, GRACE).await;
        if !survivors.is_empty() {
            return Err(Diagnostic::error(format!(
                "local_service: processes {survivors:?} survived SIGKILL"
            )));
        }
    }
    let state = without_write_only(merge(
        &req.planned,
        [
            ("replicas", Value::from(want as i64)),
            ("id", Value::string(&req.id)),
            ("ports", number_list(&ports)),
            ("pids", number_list(&pids)),
        ],
    ));
    save(&l.service_dir, &state);
    Ok(state)
}

pub(crate) async fn delete(id: &str, state: &Value, ctx: &CallContext) -> Result<(), Diagnostic> {
    let survivors = process::terminate_all(&numbers(state, "pids"), GRACE).await;
    if !survivors.is_empty() {
        return Err(Diagnostic::error(format!(
            "local_service {id}: processes {survivors:?} survived SIGKILL"
        )));
    }
    let dir = context_datadir(ctx).join("services").join(id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Diagnostic::error(format!(
            "local_service {id}: cannot remove {}: {e}",
            dir.display()
        ))),
    }
}

/// Checks one replica: up to `1 + retries` GETs, `interval` apart.
async fn check_replica(n: usize, port: u32, pid: u32, hc: HealthCheck) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}{}", hc.path);
    let addr = format!("127.0.0.1:{port}");
    let attempts = hc.retries + 1;
    let mut last = String::new();
    for attempt in 1..=attempts {
        if !process::is_running(pid) {
            return Err(format!(
                "replica {n} (pid {pid}) is not running, so GET {url} cannot answer"
            ));
        }
        match crate::health::get(&addr, &hc.path, hc.timeout).await {
            Ok((code, _)) if (200..300).contains(&code) => return Ok(()),
            Ok((code, reason)) => last = format!("answered {code} {reason}").trim_end().to_string(),
            Err(e) => last = e,
        }
        if attempt < attempts {
            tokio::time::sleep(hc.interval).await;
        }
    }
    Err(format!(
        "GET {url} (replica {n}) {last} after {attempts} attempt{}",
        if attempts == 1 { "" } else { "s" }
    ))
}

pub(crate) async fn check_health(state: &Value) -> HealthResponse {
    let ports = numbers(state, "ports");
    let pids = numbers(state, "pids");
    let hc = match health_check(state) {
        Ok(hc) => hc,
        Err(d) => {
            return HealthResponse {
                healthy: false,
                message: d.summary.clone(),
                diagnostics: d.into(),
            };
        }
    };
    let Some(hc) = hc else {
        // No check configured: healthy while every replica runs.
        let dead: Vec<String> = pids
            .iter()
            .enumerate()
            .filter(|(_, p)| !process::is_running(**p))
            .map(|(i, p)| format!("replica {} (pid {p}) is not running", i + 1))
            .collect();
        return HealthResponse {
            healthy: dead.is_empty(),
            message: if dead.is_empty() {
                format!(
                    "no health check configured; {} replica(s) running",
                    pids.len()
                )
            } else {
                dead.join("; ")
            },
            diagnostics: Diagnostics::new(),
        };
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (port, pid)) in ports.iter().zip(&pids).enumerate() {
        let hc = hc.clone();
        let (port, pid) = (*port, *pid);
        tasks.spawn(async move { (i, check_replica(i + 1, port, pid, hc).await) });
    }
    let mut failures: Vec<(usize, String)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((i, Err(e))) => failures.push((i, e)),
            Err(e) => failures.push((usize::MAX, format!("health check task failed: {e}"))),
        }
    }
    failures.sort();
    if failures.is_empty() {
        HealthResponse {
            healthy: true,
            message: format!(
                "GET {} answered 2xx on all {} replica(s)",
                hc.path,
                ports.len()
            ),
            diagnostics: Diagnostics::new(),
        }
    } else {
        HealthResponse {
            healthy: false,
            message: failures
                .into_iter()
                .map(|(_, e)| e)
                .collect::<Vec<_>>()
                .join("; "),
            diagnostics: Diagnostics::new(),
        }
    }
}
