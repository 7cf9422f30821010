//! `local_balancer`: a TCP proxy whose backends and weights are run-time
//! configuration — the cut-over switch.
//!
//! The proxy runs in its own detached process so that it outlives `kiln`.
//! The provider starts [`LocalOptions::balancer_program`] with
//! `balancer_args` and the balancer's state directory
//! (`<datadir>/balancers/<id>/`) as the last argument; that program must call
//! [`balancer_main`] (the `kiln` binary does so from its hidden `__balancer`
//! subcommand). The state directory holds:
//!
//! - `config.json` — `{"listen", "backends", "weights"}`, written by the
//!   provider before the start and by the balancer on every change, so a
//!   restarted balancer resumes where it was;
//! - `ready.json` — `{"pid", "control_port"}`, written by the balancer once it
//!   listens: the provider waits for it (up to 5 s);
//! - `balancer.log` — the process's output.
//!
//! Backends change through the control port (127.0.0.1 only): one JSON line
//! `{"backends": [...], "weights": [...]}` is answered `ok` once new
//! connections use it, or `error: ...`; the line `status` is answered with
//! the current configuration, the line `stats` with the request counters
//! per backend (`{"ADDR": {"requests", "errors", "latency_ms"}}`, since the
//! balancer started). Open connections keep their backend, so a change
//! drops nothing. SIGHUP reloads `config.json`.
//!
//! Each connection goes to the next backend of a smooth weighted round-robin
//! schedule; if that backend refuses, the others are tried in turn. Bytes
//! pass through untouched; the balancer reads HTTP/1.x answers as they go
//! by (status line, `Content-Length` to find the next one) to count, per
//! backend, answers, 5xx answers and the time from the request's first
//! byte to the answer's — the metrics a `cutover` check reads. A connection
//! that does not speak HTTP/1.x is proxied and not counted.
//!
//! [`LocalOptions::balancer_program`]: crate::LocalOptions::balancer_program

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, ResourceSchema, TrafficCounters, Type, Value};
use kiln_provider::{
    CallContext, ReadResult, ShiftRequest, ShiftResponse, TrafficRequest, TrafficResponse,
    UpdateRequest,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::process::{self, GRACE, Spawn};
use crate::{LocalOptions, context_datadir, id_from_key, merge, str_attr, write_atomic};

/// How long create waits for a started balancer to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the proxy waits for a backend to accept before trying the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn schema() -> ResourceSchema {
    let mut rs = ResourceSchema::new()
        .attr(
            "listen",
            AttributeSchema::required(Type::String)
                .describe("the address to accept connections on, like \"127.0.0.1:8080\""),
        )
        .attr(
            "backends",
            AttributeSchema::required(Type::List(Box::new(Type::String)))
                .runtime()
                .describe("\"host:port\" addresses to forward to; changed in place"),
        )
        .attr(
            "weights",
            AttributeSchema::optional(Type::List(Box::new(Type::Number)))
                .runtime()
                .describe("one whole number per backend (1 each by default); changed in place"),
        )
        .attr("id", AttributeSchema::computed(Type::String))
        .attr(
            "pid",
            AttributeSchema::computed(Type::Number).describe("the balancer process"),
        )
        .attr(
            "control_port",
            AttributeSchema::computed(Type::Number)
                .describe("the balancer's control port on 127.0.0.1"),
        );
    // It listens on a fixed port, so a second one cannot run beside it: it is
    // kept across generations and its backends are the cut-over switch.
    rs.traffic_switch = true;
    rs
}

/// The balancer's configuration, as stored in `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerConfig {
    pub listen: String,
    pub backends: Vec<String>,
    /// One per backend; empty means 1 each.
    #[serde(default)]
    pub weights: Vec<u32>,
}

/// The control port's configuration change: everything but `listen`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Change {
    backends: Vec<String>,
    #[serde(default)]
    weights: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ready {
    pid: u32,
    control_port: u16,
}

/// A smooth weighted round-robin schedule: backend indices, each appearing
/// as often as its weight, spread out.
fn schedule(backends: &[String], weights: &[u32]) -> Result<Vec<usize>, String> {
    if !weights.is_empty() && weights.len() != backends.len() {
        return Err(format!(
            "{} weights for {} backends: give one weight per backend",
            weights.len(),
            backends.len()
        ));
    }
    let w: Vec<u64> = if weights.is_empty() {
        vec![1; backends.len()]
    } else {
        weights.iter().map(|w| u64::from(*w)).collect()
    };
    let total: u64 = w.iter().sum();
    if !backends.is_empty() && total == 0 {
        return Err("every weight is 0: at least one backend needs a positive weight".into());
    }
    let gcd = w.iter().fold(0u64, |a, b| gcd(a, *b)).max(1);
    let w: Vec<i64> = w.iter().map(|x| (x / gcd) as i64).collect();
    let total: i64 = w.iter().sum();
    if total > 10_000 {
        return Err("weights are too fine-grained: keep their sum (after dividing by their common factor) at most 10000".into());
    }
    let mut current = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, wi) in current.iter_mut().zip(&w) {
            *c += wi;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .unwrap_or((0, &0));
        current[best] -= total;
        out.push(best);
    }
    Ok(out)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn backends_of(config: &Value) -> Vec<String> {
    config
        .get("backends")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|b| b.as_str().map(str::to_string))
        .collect()
}

fn weights_of(config: &Value) -> Result<Vec<u32>, Diagnostic> {
    config
        .get("weights")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|w| {
            w.as_number()
                .and_then(|n| n.as_i64())
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    Diagnostic::error(format!(
                        "local_balancer: weight {w} is not a whole number ≥ 0"
                    ))
                })
        })
        .collect()
}

pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(listen) = str_attr(config, "listen")
        && listen.to_socket_addrs().is_err()
    {
        d.push(
            Diagnostic::error(format!(
                "local_balancer: listen {listen:?} is not a host:port address"
            ))
            .with_detail("write an address like \"127.0.0.1:8080\""),
        );
    }
    let backends_known = config.get("backends").is_some_and(Value::is_known);
    let weights_known = config.get("weights").is_some_and(Value::is_known);
    if backends_known {
        for b in backends_of(config) {
            if !b.contains(':') {
                d.push(
                    Diagnostic::error(format!(
                        "local_balancer: backend {b:?} is not a host:port address"
                    ))
                    .with_detail("write backends like \"127.0.0.1:9000\""),
                );
            }
        }
    }
    if weights_known {
        match weights_of(config) {
            Err(e) => d.push(e),
            Ok(w) if backends_known => {
                if let Err(e) = schedule(&backends_of(config), &w) {
                    d.push(Diagnostic::error(format!("local_balancer: {e}")));
                }
            }
            Ok(_) => {}
        }
    }
    d
}

fn state_dir(ctx: &CallContext, id: &str) -> PathBuf {
    context_datadir(ctx).join("balancers").join(id)
}

/// The address to connect to for checking that `listen` accepts: an
/// unspecified address (`0.0.0.0`) is reached on loopback.
fn connect_addr(listen: &str) -> Option<SocketAddr> {
    let mut a = listen.to_socket_addrs().ok()?.next()?;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Some(a)
}

fn save(dir: &Path, state: &Value) {
    if let Ok(bytes) = serde_json::to_vec_pretty(state) {
        let _ = write_atomic(&dir.join("state.json"), &bytes);
    }
}

fn load(dir: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()
}

fn pid_of(state: &Value) -> Option<u32> {
    state
        .get("pid")
        .and_then(Value::as_number)
        .and_then(|n| n.as_i64())
        .and_then(|n| u32::try_from(n).ok())
}

pub(crate) async fn create(
    options: &LocalOptions,
    config: &Value,
    key: &str,
    ctx: &CallContext,
) -> Result<(String, Value), Diagnostic> {
    if let Some(e) = validate(config).into_iter().next() {
        return Err(e);
    }
    let listen = str_attr(config, "listen")
        .ok_or_else(|| Diagnostic::error("local_balancer: listen is required"))?
        .to_string();
    let id = id_from_key("lb", key);
    let dir = state_dir(ctx, &id);
    // A retried create: stop what an interrupted attempt started.
    if let Some(pid) = load(&dir).as_ref().and_then(pid_of) {
        process::terminate_all(&[pid], GRACE).await;
    }
    // Fail early and clearly if the address is taken.
    if let Err(e) = std::net::TcpListener::bind(&listen) {
        return Err(
            Diagnostic::error(format!("local_balancer: cannot listen on {listen}: {e}"))
                .with_detail(
                    "another process holds this address: stop it, or choose another listen address",
                ),
        );
    }
    let bc = BalancerConfig {
        listen: listen.clone(),
        backends: backends_of(config),
        weights: weights_of(config)?,
    };
    let io_err = |what: &str, e: std::io::Error| {
        Diagnostic::error(format!(
            "local_balancer: cannot {what} in {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_err("create the state directory", e))?;
    let _ = std::fs::remove_file(dir.join("ready.json"));
    let bytes = serde_json::to_vec_pretty(&bc).unwrap_or_default();
    write_atomic(&dir.join("config.json"), &bytes).map_err(|e| io_err("write config.json", e))?;

    let mut args = options.balancer_args.clone();
    args.push(dir.to_string_lossy().into_owned());
    let log = dir.join("balancer.log");
    let mut child = process::spawn_detached(&Spawn {
        program: &options.balancer_program,
        args: &args,
        env: &[],
        dir: &dir,
        log: &log,
    })
    .map_err(|e| {
        Diagnostic::error(format!(
            "local_balancer: cannot start the balancer program {}: {e}",
            options.balancer_program.display()
        ))
    })?;
    let pid = child.id();

    // Wait until the balancer says it listens, and its listener accepts.
    let deadline = Instant::now() + READY_TIMEOUT;
    let ready: Ready = loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Diagnostic::error(format!(
                "local_balancer: the balancer for {listen} exited at start ({status})"
            ))
            .with_detail(format!(
                "its log {}:\n{}",
                log.display(),
                process::log_tail(&log)
            )));
        }
        if let Some(r) = std::fs::read(dir.join("ready.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            break r;
        }
        if Instant::now() >= deadline {
            process::reap(child);
            process::terminate_all(&[pid], GRACE).await;
            return Err(Diagnostic::error(format!(
                "local_balancer: the balancer for {listen} did not start listening within {}",
                humantime::format_duration(READY_TIMEOUT)
            ))
            .with_detail(format!(
                "its log {}:\n{}",
                log.display(),
                process::log_tail(&log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    process::reap(child);
    if let Some(addr) = connect_addr(&listen) {
        let mut accepted = false;
        while !accepted && Instant::now() < deadline {
            accepted = TcpStream::connect(addr).await.is_ok();
            if !accepted {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if !accepted {
            process::terminate_all(&[pid], GRACE).await;
            return Err(Diagnostic::error(format!(
                "local_balancer: the balancer started but {listen} does not accept connections"
            )));
        }
    }
    let state = merge(
        config,
        [
            ("id", Value::string(&id)),
            ("pid", Value::from(i64::from(ready.pid))),
            ("control_port", Value::from(i64::from(ready.control_port))),
        ],
    );
    save(&dir, &state);
    Ok((id, state))
}

pub(crate) fn find(key: &str, ctx: &CallContext) -> Option<(String, Value)> {
    let id = id_from_key("lb", key);
    let state = load(&state_dir(ctx, &id))?;
    Some((id, state))
}

pub(crate) fn read(id: &str, state: &Value, datadir: Option<&Path>) -> ReadResult {
    let pid = pid_of(state);
    if pid.is_some_and(process::is_running) {
        // The backends and weights the balancer serves, as it persisted them
        // on its last change: after an interrupted update (a shift killed
        // part-way) the state learns where traffic really goes.
        let actual = datadir
            .and_then(|d| read_config(&d.join("balancers").join(id)).ok())
            .map(|c| {
                let weights = if c.weights.is_empty() {
                    state.get("weights").cloned().unwrap_or(Value::Null)
                } else {
                    Value::List(
                        c.weights
                            .iter()
                            .map(|w| Value::from(i64::from(*w)))
                            .collect(),
                    )
                };
                merge(
                    state,
                    [
                        (
                            "backends",
                            Value::List(c.backends.into_iter().map(Value::from).collect()),
                        ),
                        ("weights", weights),
                    ],
                )
            });
        return ReadResult {
            state: Some(actual.unwrap_or_else(|| state.clone())),
            drift: None,
            diagnostics: Diagnostics::new(),
        };
    }
    let dir_gone = datadir.is_none_or(|d| !d.join("balancers").join(id).is_dir());
    if dir_gone {
        return ReadResult::default();
    }
    ReadResult {
        state: Some(state.clone()),
        drift: Some(format!(
            "the balancer process (pid {}) is not running",
            pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
        )),
        diagnostics: Diagnostics::new(),
    }
}

/// Sends one line to the control port and returns the answer line.
async fn control(port: u16, line: &str) -> Result<String, String> {
    let exchange = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot reach the control port {port}: {e}"))?;
        s.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        BufReader::new(s)
            .read_line(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer.trim().to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap_or_else(|_| Err(format!("the control port {port} did not answer within 5s")))
}

pub(crate) async fn update(req: &UpdateRequest) -> Result<Value, Diagnostic> {
    if let Some(e) = validate(&req.planned).into_iter().next() {
        return Err(e);
    }
    let pid = pid_of(&req.prior);
    if !pid.is_some_and(process::is_running) {
        return Err(Diagnostic::error(format!(
            "local_balancer {}: the balancer process (pid {}) is not running",
            req.id,
            pid.unwrap_or(0)
        ))
        .with_detail("run plan again: a dead balancer is replaced, which restarts it"));
    }
    let port = control_port_of(&req.prior)
        .ok_or_else(|| Diagnostic::error("local_balancer: the state has no control_port"))?;
    let change = Change {
        backends: backends_of(&req.planned),
        weights: weights_of(&req.planned)?,
    };
    let line = serde_json::to_string(&change).unwrap_or_default();
    let answer = control(port, &line)
        .await
        .map_err(|e| Diagnostic::error(format!("local_balancer {}: {e}", req.id)))?;
    if answer != "ok" {
        return Err(Diagnostic::error(format!(
            "local_balancer {}: the balancer refused the new backends: {answer}",
            req.id
        )));
    }
    let state = merge(
        &req.planned,
        [
            ("id", Value::string(&req.id)),
            ("pid", req.prior.get("pid").cloned().unwrap_or(Value::Null)),
            (
                "control_port",
                req.prior
                    .get("control_port")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
        ],
    );
    save(&state_dir(&req.context, &req.id), &state);
    Ok(state)
}

fn control_port_of(state: &Value) -> Option<u16> {
    state
        .get("control_port")
        .and_then(Value::as_number)
        .and_then(|n| n.as_i64())
        .and_then(|n| u16::try_from(n).ok())
}

/// One step of a progressive cut-over (see [`ShiftRequest`]): the backends
/// of `prior` that `planned` drops (the old generation) keep their relative
/// weights and share `100 - weight` percent of connections; `planned`'s
/// backends share `weight` percent by their planned weights. Weights are
/// whole numbers: the share is exact to 0.01% when the balancer's limit on
/// their sum allows, else to 0.1% or 1%.
pub(crate) fn shift(req: &ShiftRequest) -> ShiftResponse {
    let mut resp = ShiftResponse::default();
    let planned_backends = backends_of(&req.planned);
    let prior_backends = backends_of(&req.prior);
    let (planned_weights, prior_weights) = match (weights_of(&req.planned), weights_of(&req.prior))
    {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            resp.diagnostics.push(e);
            return resp;
        }
    };
    // One weight per backend; missing ones (none given) count 1.
    let weight_at = |w: &[u32], i: usize| u64::from(w.get(i).copied().unwrap_or(1));
    let old: Vec<(String, u64)> = prior_backends
        .iter()
        .enumerate()
        .filter(|(_, b)| !planned_backends.contains(b))
        .map(|(i, b)| (b.clone(), weight_at(&prior_weights, i)))
        .filter(|(_, w)| *w > 0)
        .collect();
    let new: Vec<(String, u64)> = planned_backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.clone(), weight_at(&planned_weights, i)))
        .collect();
    resp.old = old.iter().map(|(b, _)| b.clone()).collect();
    resp.new = new.iter().map(|(b, _)| b.clone()).collect();
    if old.is_empty() || req.weight >= 100.0 {
        resp.state = req.planned.clone();
        return resp;
    }
    if req.weight <= 0.0 {
        // All on the old generation: the prior value itself unless it
        // already routes to new backends (a shift restarted after a crash).
        resp.state = if prior_backends.iter().any(|b| planned_backends.contains(b)) {
            let (backends, weights): (Vec<Value>, Vec<Value>) = old
                .iter()
                .map(|(b, w)| (Value::string(b), Value::from(*w as i64)))
                .unzip();
            merge(
                &req.prior,
                [
                    ("backends", Value::List(backends.into())),
                    ("weights", Value::List(weights.into())),
                ],
            )
        } else {
            req.prior.clone()
        };
        return resp;
    }
    let old_total: u64 = old.iter().map(|(_, w)| w).sum();
    let new_total: u64 = new.iter().map(|(_, w)| w).sum::<u64>().max(1);
    for scale in [10_000u64, 1_000, 100] {
        let p = ((req.weight.max(0.0) / 100.0) * scale as f64).round() as u64;
        let q = scale - p;
        let mut weights: Vec<u64> = old
            .iter()
            .map(|(_, w)| w * q * new_total)
            .chain(new.iter().map(|(_, w)| w * p * old_total))
            .collect();
        let g = weights.iter().fold(0, |a, b| gcd(a, *b)).max(1);
        weights.iter_mut().for_each(|w| *w /= g);
        let backends: Vec<String> = old.iter().chain(&new).map(|(b, _)| b.clone()).collect();
        let Ok(weights) = weights
            .iter()
            .map(|w| u32::try_from(*w))
            .collect::<Result<Vec<u32>, _>>()
        else {
            continue;
        };
        if schedule(&backends, &weights).is_ok() {
            resp.state = merge(
                &req.planned,
                [
                    (
                        "backends",
                        Value::List(backends.into_iter().map(Value::from).collect()),
                    ),
                    (
                        "weights",
                        Value::List(weights.iter().map(|w| Value::from(i64::from(*w))).collect()),
                    ),
                ],
            );
            return resp;
        }
    }
    resp.diagnostics.push(Diagnostic::error(format!(
        "local_balancer: cannot give {}% to {} new and {} old backends with whole weights",
        req.weight,
        new.len(),
        old.len()
    )));
    resp
}

/// The balancer's request counters per backend (its `stats` line).
pub(crate) async fn traffic(req: &TrafficRequest) -> TrafficResponse {
    let mut resp = TrafficResponse::default();
    let Some(port) = control_port_of(&req.state) else {
        resp.diagnostics.push(Diagnostic::error(
            "local_balancer: the state has no control_port",
        ));
        return resp;
    };
    match control(port, "stats").await.and_then(|line| {
        serde_json::from_str::<BTreeMap<String, TrafficCounters>>(&line)
            .map_err(|e| format!("unreadable stats {line:?}: {e}"))
    }) {
        Ok(b) => resp.backends = b,
        Err(e) => resp
            .diagnostics
            .push(Diagnostic::error(format!("local_balancer {}: {e}", req.id))),
    }
    resp
}

pub(crate) async fn delete(id: &str, state: &Value, ctx: &CallContext) -> Result<(), Diagnostic> {
    if let Some(pid) = pid_of(state) {
        let survivors = process::terminate_all(&[pid], GRACE).await;
        if !survivors.is_empty() {
            return Err(Diagnostic::error(format!(
                "local_balancer {id}: the balancer (pid {pid}) survived SIGKILL"
            )));
        }
    }
    let dir = state_dir(ctx, id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Diagnostic::error(format!(
            "local_balancer {id}: cannot remove {}: {e}",
            dir.display()
        ))),
    }
}

// ---------------------------------------------------------------------------
// The balancer process.

/// The routing table new connections read.
#[derive(Debug)]
struct Table {
    config: BalancerConfig,
    schedule: Vec<usize>,
}

impl Table {
    fn new(config: BalancerConfig) -> Result<Table, String> {
        let schedule = schedule(&config.backends, &config.weights)?;
        Ok(Table { config, schedule })
    }
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    table: RwLock<Arc<Table>>,
    next: AtomicUsize,
    /// Answers seen per backend address, since the balancer started.
    stats: Mutex<BTreeMap<String, TrafficCounters>>,
}

impl Shared {
    fn table(&self) -> Arc<Table> {
        self.table
            .read()
            .map(|t| Arc::clone(&t))
            .unwrap_or_else(|e| Arc::clone(&e.into_inner()))
    }

    /// Installs a new configuration and persists it.
    fn install(&self, config: BalancerConfig) -> Result<(), String> {
        let table = Table::new(config)?;
        let bytes = serde_json::to_vec_pretty(&table.config).map_err(|e| e.to_string())?;
        write_atomic(&self.dir.join("config.json"), &bytes)
            .map_err(|e| format!("cannot write config.json: {e}"))?;
        log(&format!(
            "backends {:?} weights {:?}",
            table.config.backends, table.config.weights
        ));
        match self.table.write() {
            Ok(mut t) => *t = Arc::new(table),
            Err(e) => *e.into_inner() = Arc::new(table),
        }
        Ok(())
    }
}

fn log(msg: &str) {
    use std::io::Write;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let _ = writeln!(std::io::stderr(), "{now} {msg}");
}

fn read_config(dir: &Path) -> Result<BalancerConfig, String> {
    let path = dir.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid: {e}", path.display()))
}

/// The entry point of a balancer process: `args` are the arguments after the
/// program's own (and after its subcommand), i.e. `[<state-dir>]`.
///
/// The `kiln` binary calls it from `kiln __balancer <state-dir>`.
pub fn balancer_main(args: &[String]) -> ExitCode {
    let [dir] = args else {
        log("usage: __balancer <state-dir>");
        return ExitCode::from(2);
    };
    match run_balancer(Path::new(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs a balancer from its state directory until it is killed: binds the
/// configured `listen` address and a control port, writes `ready.json`, then
/// proxies. Blocking: it runs its own tokio runtime.
pub fn run_balancer(dir: &Path) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(dir.to_path_buf()))
}

async fn serve(dir: PathBuf) -> std::io::Result<()> {
    let other = std::io::Error::other;
    let config = read_config(&dir).map_err(other)?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| other(format!("cannot listen on {}: {e}", config.listen)))?;
    let control_listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let control_port = control_listener.local_addr()?.port();
    let shared = Arc::new(Shared {
        dir: dir.clone(),
        table: RwLock::new(Arc::new(Table::new(config.clone()).map_err(other)?)),
        next: AtomicUsize::new(0),
        stats: Mutex::new(BTreeMap::new()),
    });
    let ready = Ready {
        pid: std::process::id(),
        control_port,
    };
    write_atomic(&dir.join("ready.json"), &serde_json::to_vec(&ready)?)?;
    log(&format!(
        "listening on {} (control port {control_port}), backends {:?}",
        config.listen, config.backends
    ));

    tokio::spawn(control_loop(control_listener, Arc::clone(&shared)));
    tokio::spawn(reload_on_hangup(Arc::clone(&shared)));
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(proxy(client, Arc::clone(&shared)));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                log(&format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn reload_on_hangup(shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let result = read_config(&shared.dir).and_then(|mut c| {
            c.listen = shared.table().config.listen.clone();
            shared.install(c)
        });
        if let Err(e) = result {
            log(&format!("reload on SIGHUP failed: {e}"));
        }
    }
}

async fn control_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(r.take(1 << 20))
                .read_line(&mut line)
                .await
                .is_err()
            {
                return;
            }
            let answer = control_command(&shared, line.trim());
            let _ = w.write_all(format!("{answer}\n").as_bytes()).await;
        });
    }
}

fn control_command(shared: &Shared, line: &str) -> String {
    if line == "status" {
        return serde_json::to_string(&shared.table().config).unwrap_or_default();
    }
    if line == "stats" {
        let stats = shared.stats.lock().map(|s| s.clone()).unwrap_or_default();
        return serde_json::to_string(&stats).unwrap_or_default();
    }
    let change: Change = match serde_json::from_str(line) {
        Ok(c) => c,
        Err(e) => return format!("error: not a configuration: {e}"),
    };
    let config = BalancerConfig {
        listen: shared.table().config.listen.clone(),
        backends: change.backends,
        weights: change.weights,
    };
    match shared.install(config) {
        Ok(()) => "ok".into(),
        Err(e) => format!("error: {e}"),
    }
}

async fn proxy(mut client: TcpStream, shared: Arc<Shared>) {
    let table = shared.table();
    let n = table.schedule.len();
    if n == 0 {
        return;
    }
    let start = shared.next.fetch_add(1, Ordering::Relaxed) % n;
    // The scheduled backend first, then every other backend once.
    let mut order: Vec<usize> = Vec::with_capacity(table.config.backends.len());
    for k in 0..n {
        let b = table.schedule[(start + k) % n];
        if !order.contains(&b) {
            order.push(b);
        }
    }
    for b in order {
        let addr = &table.config.backends[b];
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr.as_str())).await {
            Ok(Ok(mut backend)) => {
                let _ = client.set_nodelay(true);
                let _ = backend.set_nodelay(true);
                pump(&mut client, &mut backend, &shared, addr).await;
                return;
            }
            Ok(Err(e)) => log(&format!("backend {addr} refused: {e}")),
            Err(_) => log(&format!("backend {addr} did not accept within 2s")),
        }
    }
}

/// Copies both ways until both sides are done (as `copy_bidirectional`),
/// counting the HTTP answers that pass (see the module doc).
async fn pump(client: &mut TcpStream, backend: &mut TcpStream, shared: &Shared, addr: &str) {
    let (mut cr, mut cw) = client.split();
    let (mut br, mut bw) = backend.split();
    // When the request in progress began (its first byte), if one is.
    let asked: Mutex<Option<Instant>> = Mutex::new(None);
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut a) = asked.lock() {
                        a.get_or_insert_with(Instant::now);
                    }
                    if bw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = bw.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut scan = AnswerScan::default();
        loop {
            match br.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for status in scan.feed(&buf[..n]) {
                        let began = asked.lock().ok().and_then(|mut a| a.take());
                        let ms = began.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
                        if let Ok(mut stats) = shared.stats.lock() {
                            let c = stats.entry(addr.to_string()).or_default();
                            c.requests += 1;
                            c.errors += u64::from(status >= 500);
                            c.latency_ms += ms;
                        }
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

/// Finds HTTP/1.x answers in a backend's byte stream: each status line, the
/// headers after it, and a body of `Content-Length` bytes (a body of no
/// stated length runs to the end of the connection; a chunked one ends the
/// counting on this connection).
#[derive(Debug, Default)]
struct AnswerScan {
    state: ScanState,
    head: Vec<u8>,
}

#[derive(Debug, Default)]
enum ScanState {
    #[default]
    Head,
    Body(u64),
    /// Not HTTP, chunked, or a body to the end: nothing more is counted.
    Off,
}

impl AnswerScan {
    /// The status of every answer whose head ends in `bytes`.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<u16> {
        let mut statuses = Vec::new();
        while !bytes.is_empty() {
            match &mut self.state {
                ScanState::Off => break,
                ScanState::Body(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.state = ScanState::Head;
                    }
                }
                ScanState::Head => {
                    let before = self.head.len();
                    self.head.extend_from_slice(bytes);
                    let Some(end) = find_head_end(&self.head) else {
                        if self.head.len() > 64 * 1024 {
                            self.state = ScanState::Off;
                        }
                        break;
                    };
                    let used = end - before;
                    bytes = &bytes[used..];
                    let head = std::mem::take(&mut self.head);
                    match parse_head(&head[..end]) {
                        Some((status, length)) => {
                            if status >= 200 || status == 101 {
                                statuses.push(status);
                            }
                            self.state = match (status, length) {
                                (100..=199, _) if status != 101 => ScanState::Head,
                                (204 | 304, _) => ScanState::Head,
                                (_, Some(0)) => ScanState::Head,
                                (_, Some(n)) => ScanState::Body(n),
                                (_, None) => ScanState::Off,
                            };
                        }
                        None => self.state = ScanState::Off,
                    }
                }
            }
        }
        statuses
    }
}

/// Where the blank line ending a head is (the index after it).
fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// A head's status and `Content-Length` (`None` if chunked or unstated).
fn parse_head(head: &[u8]) -> Option<(u16, Option<u64>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            return Some((status, None));
        }
    }
    Some((status, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_across_reads_and_bodies() {
        let mut s = AnswerScan::default();
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\nno";
        let (x, y) = a.split_at(20);
        let mut got = s.feed(x);
        got.extend(s.feed(y));
        assert_eq!(got, [200, 503]);
        let mut s = AnswerScan::default();
        assert_eq!(s.feed(b"SSH-2.0-x\r\n\r\n"), Vec::<u16>::new());
        assert!(matches!(s.state, ScanState::Off));
        let mut s = AnswerScan::default();
        assert_eq!(s.feed(b"HTTP/1.0 500 E\r\n\r\nbody to the end"), [500]);
    }

    #[test]
    fn a_shift_gives_the_new_backends_their_share() {
        let v = |backends: &[&str]| {
            Value::map([(
                "backends",
                Value::List(backends.iter().map(|b| Value::from(*b)).collect()),
            )])
        };
        let req = |w: f64| ShiftRequest {
            type_name: "local_balancer".into(),
            prior: v(&["o:1", "o:2"]),
            planned: v(&["n:1", "n:2"]),
            weight: w,
        };
        let r = shift(&req(10.0));
        assert_eq!(r.old, ["o:1", "o:2"]);
        assert_eq!(r.new, ["n:1", "n:2"]);
        let weights: Vec<i64> = r
            .state
            .get("weights")
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .map(|w| w.as_number().unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(weights, [9, 9, 1, 1]);
        assert_eq!(shift(&req(100.0)).state, v(&["n:1", "n:2"]));
        let none = ShiftRequest {
            prior: v(&[]),
            ..req(10.0)
        };
        let r = shift(&none);
        assert!(r.old.is_empty(), "nothing to shift from");
        assert_eq!(r.state, v(&["n:1", "n:2"]));
        assert_eq!(shift(&req(0.0)).state, v(&["o:1", "o:2"]), "all on the old");
        let restarted = ShiftRequest {
            prior: v(&["o:1", "n:1"]),
            ..req(0.0)
        };
        assert_eq!(
            backends_of(&shift(&restarted).state),
            ["o:1"],
            "a part-way switch goes back to its old backends only"
        );
    }

    #[test]
    fn schedule_spreads_weights() {
        let b = |n: usize| (0..n).map(|i| format!("h:{i}")).collect::<Vec<_>>();
        assert_eq!(schedule(&b(2), &[]).unwrap(), [0, 1]);
        assert_eq!(schedule(&b(2), &[2, 4]).unwrap(), [1, 0, 1]);
        assert_eq!(schedule(&b(3), &[5, 1, 1]).unwrap(), [0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(schedule(&b(2), &[0, 3]).unwrap(), [1]);
        assert!(schedule(&b(2), &[0, 0]).unwrap_err().contains("positive"));
        assert!(
            schedule(&b(2), &[1])
                .unwrap_err()
                .contains("one weight per backend")
        );
        assert_eq!(schedule(&[], &[]).unwrap(), Vec::<usize>::new());
    }
}
