//! The plugin protocol, both sides: a provider served from its own executable
//! (`kiln-provider-NAME`) and the host that drives it.
//!
//! Version 1 is JSON-RPC 2.0, one message per line, over the plugin's stdin
//! (host → plugin) and stdout (plugin → host); the plugin's stderr is its log.
//! The host opens with `handshake`; the plugin answers with its protocol
//! version, name and schema. Every [`Provider`] operation is then a method
//! whose `params` is the request struct and whose `result` is the response
//! struct, as JSON; many calls may be in flight at once, matched by `id`.
//! `cancel` (a notification, `{"id": N}`) asks the plugin to abandon call N,
//! which then answers with an error. See docs/provider-protocol.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::ProviderSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::*;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// How long a plugin has to answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Serialize, Deserialize)]
struct Handshake {
    protocol_version: u32,
    name: String,
    schema: ProviderSchema,
}

#[derive(Debug, Deserialize)]
struct Incoming {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: serde_json::Value,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RpcError {
    code: i64,
    message: String,
}

/// Errors of the host side, each naming the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(
        "cannot start provider {name:?} from {path}: {source}; check that the file exists and is executable"
    )]
    Spawn {
        name: String,
        path: String,
        source: std::io::Error,
    },
    #[error("provider {name:?} did not complete the handshake: {detail}")]
    Handshake { name: String, detail: String },
    #[error(
        "provider {name:?} speaks protocol version {found}, this kiln speaks {PROTOCOL_VERSION}; install a matching kiln-provider-{name}"
    )]
    Version { name: String, found: u32 },
}

// ---------------------------------------------------------------------------
// Serve side.

/// Serves `provider` on this process's stdin and stdout until stdin closes.
/// A provider executable's `main` is a call to this.
pub async fn serve(provider: Arc<dyn Provider>) -> std::io::Result<()> {
    serve_on(provider, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves on any pair of streams (tests use in-memory pipes).
pub async fn serve_on<R, W>(provider: Arc<dyn Provider>, input: R, output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = rx.recv().await {
            if output.write_all(line.as_bytes()).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let running: Arc<std::sync::Mutex<HashMap<u64, tokio::task::AbortHandle>>> = Arc::default();
    let mut lines = BufReader::new(input).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let msg: Incoming = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                let _ = tx.send(reply_error(
                    None,
                    -32700,
                    &format!("not a JSON-RPC message: {e}"),
                ));
                continue;
            }
        };
        let method = msg.method.clone().unwrap_or_default();
        if method == "cancel" {
            if let Some(target) = msg.params.get("id").and_then(serde_json::Value::as_u64)
                && let Some(handle) = running.lock().ok().and_then(|mut m| m.remove(&target))
            {
                handle.abort();
                let _ = tx.send(reply_error(Some(target), -32800, "cancelled"));
            }
            continue;
        }
        let Some(id) = msg.id else { continue };
        let provider = provider.clone();
        let tx2 = tx.clone();
        let running2 = running.clone();
        let task = tokio::spawn(async move {
            let line = match dispatch(provider.as_ref(), &method, msg.params).await {
                Ok(result) => {
                    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string() + "\n"
                }
                Err(e) => reply_error(Some(id), e.code, &e.message),
            };
            if let Ok(mut m) = running2.lock() {
                m.remove(&id);
            }
            let _ = tx2.send(line);
        });
        if let Ok(mut m) = running.lock()
            && !task.is_finished()
        {
            m.insert(id, task.abort_handle());
        }
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

fn reply_error(id: Option<u64>, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
        + "\n"
}

fn params<T: DeserializeOwned>(p: serde_json::Value) -> Result<T, RpcError> {
    serde_json::from_value(p).map_err(|e| RpcError {
        code: -32602,
        message: format!("invalid params: {e}"),
    })
}

fn result<T: Serialize>(r: T) -> Result<serde_json::Value, RpcError> {
    serde_json::to_value(r).map_err(|e| RpcError {
        code: -32603,
        message: e.to_string(),
    })
}

async fn dispatch(
    p: &dyn Provider,
    method: &str,
    raw: serde_json::Value,
) -> Result<serde_json::Value, RpcError> {
    match method {
        "handshake" => {
            let schema = p.schema();
            result(Handshake {
                protocol_version: PROTOCOL_VERSION,
                name: schema.name.clone(),
                schema,
            })
        }
        "configure" => result(p.configure(params(raw)?).await),
        "validate" => result(p.validate(params(raw)?).await),
        "create" => result(p.create(params(raw)?).await),
        "read" => result(p.read(params(raw)?).await),
        "update" => result(p.update(params(raw)?).await),
        "delete" => result(p.delete(params(raw)?).await),
        "find_by_key" => result(p.find_by_key(params(raw)?).await),
        "check_health" => result(p.check_health(params(raw)?).await),
        "adopt" => result(p.adopt(params(raw)?).await),
        "shift" => result(p.shift(params(raw)?).await),
        "traffic" => result(p.traffic(params(raw)?).await),
        "read_data" => result(p.read_data(params(raw)?).await),
        other => Err(RpcError {
            code: -32601,
            message: format!("unknown method {other:?}"),
        }),
    }
}

// ---------------------------------------------------------------------------
// Host side.

type Pending =
    Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Result<serde_json::Value, String>>>>>;

/// A provider running as a plugin process, used through the [`Provider`] trait.
pub struct PluginProvider {
    name: String,
    schema: ProviderSchema,
    stdin: Arc<Mutex<ChildStdin>>,
    pending: Pending,
    next_id: AtomicU64,
    call_timeout: Duration,
    _child: Mutex<Child>,
}

impl std::fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginProvider")
            .field("name", &self.name)
            .finish()
    }
}

/// Linux's "text file busy" (errno 26).
const ETXTBSY: i32 = 26;

impl PluginProvider {
    /// Starts the executable at `path` and completes the handshake. Calls
    /// that get no answer within `call_timeout` fail, naming the provider.
    pub async fn start(
        name: &str,
        path: &Path,
        call_timeout: Duration,
    ) -> Result<PluginProvider, PluginError> {
        // An executable written a moment ago can be "busy" (ETXTBSY) while
        // a process forked meanwhile, elsewhere in this program, still holds
        // it open for writing until it execs: that passes within
        // milliseconds, so a few tries ride it out.
        let mut tries = 0;
        let mut child = loop {
            let spawned = Command::new(path)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn();
            match spawned {
                Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 10 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => {
                    break other.map_err(|source| PluginError::Spawn {
                        name: name.into(),
                        path: path.display().to_string(),
                        source,
                    })?;
                }
            }
        };
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        let reader_name = name.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<Incoming>(&line) else {
                    tracing::warn!(provider = %reader_name, "ignoring a malformed line from the provider: {line}");
                    continue;
                };
                let Some(id) = msg.id else { continue };
                let Some(tx) = reader_pending.lock().ok().and_then(|mut m| m.remove(&id)) else {
                    continue;
                };
                let answer = match (msg.result, msg.error) {
                    (_, Some(e)) => Err(e.message),
                    (Some(r), None) => Ok(r),
                    (None, None) => Ok(serde_json::Value::Null),
                };
                let _ = tx.send(answer);
            }
            // The plugin closed its output: every call still waiting fails.
            if let Ok(mut m) = reader_pending.lock() {
                for (_, tx) in m.drain() {
                    let _ = tx.send(Err(format!("provider {reader_name:?} exited unexpectedly")));
                }
            }
        });
        let mut host = PluginProvider {
            name: name.to_string(),
            schema: ProviderSchema::default(),
            stdin: Arc::new(Mutex::new(stdin)),
            pending,
            next_id: AtomicU64::new(1),
            call_timeout,
            _child: Mutex::new(child),
        };
        let limit = HANDSHAKE_TIMEOUT.min(call_timeout);
        let hs = tokio::time::timeout(
            limit,
            host.call_raw("handshake", json!({"protocol_version": PROTOCOL_VERSION})),
        )
        .await
        .map_err(|_| PluginError::Handshake {
            name: name.into(),
            detail: format!("no answer within {limit:?}"),
        })?
        .map_err(|detail| PluginError::Handshake {
            name: name.into(),
            detail,
        })?;
        let hs: Handshake = serde_json::from_value(hs).map_err(|e| PluginError::Handshake {
            name: name.into(),
            detail: format!("malformed answer: {e}"),
        })?;
        if hs.protocol_version != PROTOCOL_VERSION {
            return Err(PluginError::Version {
                name: name.into(),
                found: hs.protocol_version,
            });
        }
        host.schema = hs.schema;
        Ok(host)
    }

    async fn call_raw(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.pending.lock() {
            m.insert(id, tx);
        }
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            .to_string()
            + "\n";
        {
            let mut stdin = self.stdin.lock().await;
            if let Err(e) = async {
                stdin.write_all(line.as_bytes()).await?;
                stdin.flush().await
            }
            .await
            {
                if let Ok(mut m) = self.pending.lock() {
                    m.remove(&id);
                }
                return Err(format!(
                    "provider {:?} exited unexpectedly (cannot send {method}: {e})",
                    self.name
                ));
            }
        }
        let timeout = if method == "handshake" {
            HANDSHAKE_TIMEOUT
        } else {
            self.call_timeout
        };
        let _cancel = CancelOnDrop {
            stdin: self.stdin.clone(),
            pending: self.pending.clone(),
            id,
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(format!("provider {:?} exited unexpectedly", self.name)),
            Err(_) => Err(format!(
                "provider {:?} did not answer {method} within {timeout:?}; it may be hung: check its log, or raise KILN_PROVIDER_TIMEOUT",
                self.name
            )),
        }
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned + Default>(
        &self,
        method: &str,
        req: Req,
        diags: impl FnOnce(&mut Resp) -> &mut Diagnostics,
    ) -> Resp {
        let params = match serde_json::to_value(req) {
            Ok(p) => p,
            Err(e) => {
                return failed(
                    diags,
                    format!("cannot encode {method} for provider {:?}: {e}", self.name),
                );
            }
        };
        match self.call_raw(method, params).await {
            Ok(v) => match serde_json::from_value(v) {
                Ok(r) => r,
                Err(e) => failed(
                    diags,
                    format!(
                        "provider {:?} answered {method} with a malformed result: {e}",
                        self.name
                    ),
                ),
            },
            Err(e) => failed(
                diags,
                format!("provider {:?}: {method} failed: {e}", self.name),
            ),
        }
    }
}

fn failed<Resp: Default>(
    diags: impl FnOnce(&mut Resp) -> &mut Diagnostics,
    message: String,
) -> Resp {
    let mut r = Resp::default();
    diags(&mut r).push(Diagnostic::error(message));
    r
}

/// Sends `cancel` for a call whose caller stopped waiting (timed out, or
/// dropped because the apply was cancelled) while it was still pending.
struct CancelOnDrop {
    stdin: Arc<Mutex<ChildStdin>>,
    pending: Pending,
    id: u64,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let still_pending = self
            .pending
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&self.id))
            .is_some();
        if !still_pending {
            return;
        }
        let (stdin, id) = (self.stdin.clone(), self.id);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let line = json!({"jsonrpc": "2.0", "method": "cancel", "params": {"id": id}})
                    .to_string()
                    + "\n";
                let mut stdin = stdin.lock().await;
                let _ = stdin.write_all(line.as_bytes()).await;
                let _ = stdin.flush().await;
            });
        }
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn schema(&self) -> ProviderSchema {
        self.schema.clone()
    }

    async fn configure(&self, req: ConfigureRequest) -> ConfigureResponse {
        self.call("configure", req, |r: &mut ConfigureResponse| {
            &mut r.diagnostics
        })
        .await
    }

    async fn validate(&self, req: ValidateRequest) -> ValidateResponse {
        self.call("validate", req, |r: &mut ValidateResponse| {
            &mut r.diagnostics
        })
        .await
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        self.call("create", req, |r: &mut CreateResponse| &mut r.diagnostics)
            .await
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        self.call("read", req, |r: &mut ReadResponse| &mut r.diagnostics)
            .await
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        self.call("update", req, |r: &mut UpdateResponse| &mut r.diagnostics)
            .await
    }

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse {
        self.call("delete", req, |r: &mut DeleteResponse| &mut r.diagnostics)
            .await
    }

    async fn find_by_key(&self, req: FindRequest) -> FindResponse {
        self.call("find_by_key", req, |r: &mut FindResponse| {
            &mut r.diagnostics
        })
        .await
    }

    async fn check_health(&self, req: HealthRequest) -> HealthResponse {
        self.call("check_health", req, |r: &mut HealthResponse| {
            &mut r.diagnostics
        })
        .await
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        self.call("read_data", req, |r: &mut ReadDataResponse| {
            &mut r.diagnostics
        })
        .await
    }

    async fn shift(&self, req: ShiftRequest) -> ShiftResponse {
        self.call("shift", req, |r: &mut ShiftResponse| &mut r.diagnostics)
            .await
    }

    async fn traffic(&self, req: TrafficRequest) -> TrafficResponse {
        self.call("traffic", req, |r: &mut TrafficResponse| &mut r.diagnostics)
            .await
    }

    async fn adopt(&self, req: AdoptRequest) -> AdoptResponse {
        self.call("adopt", req, |r: &mut AdoptResponse| &mut r.diagnostics)
            .await
    }
}

/// Where to look for `kiln-provider-NAME`: next to the running `kiln`, in
/// the project's `.kiln/providers/`, then on `PATH`.
pub fn discover(name: &str, datadir: &Path) -> Option<PathBuf> {
    let file = format!("kiln-provider-{name}");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    dirs.push(datadir.join("providers"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
}
