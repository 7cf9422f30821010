//! The `local` provider: kiln's embedded default, managing real resources on
//! the user's own machine so the whole immutable cycle runs with no cloud.
//!
//! - `local_file` — a file with content (or a copied source) and a mode.
//! - `local_artifact` — a directory baked into a content-addressed store under
//!   `<datadir>/artifacts/<digest>/`: the local image. Identical content gives
//!   the identical artifact.
//! - `local_service` — detached processes started from an artifact, one per
//!   replica, each on its own loopback port, with an HTTP health check.
//! - `local_balancer` — a detached TCP proxy whose backends and weights are
//!   run-time configuration: the cut-over switch.
//!
//! Everything a later run needs is in the resource's state or under the data
//! directory, because the processes outlive the `kiln` command that started
//! them. The balancer's proxy runs in a separate process launched from
//! [`LocalOptions::balancer_program`]; its entry point is
//! [`balancer::balancer_main`], so the `kiln` binary can serve it from a
//! hidden subcommand and nothing else needs to be installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ProviderSchema, ResourceSchema, Value};
use kiln_provider::{
    CallContext, ConfigureRequest, ConfigureResponse, CreateRequest, CreateResponse, DeleteRequest,
    DeleteResponse, FindRequest, FindResponse, HealthRequest, HealthResponse, Provider,
    ReadRequest, ReadResponse, ReadResult, ShiftRequest, ShiftResponse, TrafficRequest,
    TrafficResponse, UpdateRequest, UpdateResponse, ValidateRequest, ValidateResponse,
};
use sha2::{Digest, Sha256};

mod artifact;
pub mod balancer;
mod file;
mod health;
mod process;
mod service;

/// How the provider launches helper processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// The program that runs a balancer: it is started as
    /// `balancer_program [balancer_args...] <state-dir>` and must call
    /// [`balancer::balancer_main`] with the arguments after its own.
    pub balancer_program: PathBuf,
    pub balancer_args: Vec<String>,
}

impl Default for LocalOptions {
    /// The running executable with the hidden subcommand `__balancer`: what
    /// the `kiln` binary serves.
    fn default() -> LocalOptions {
        LocalOptions {
            balancer_program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kiln")),
            balancer_args: vec!["__balancer".into()],
        }
    }
}

/// Directories learned from `configure`, for calls that carry no context
/// (read, health checks).
#[derive(Debug, Clone, Default)]
struct Dirs {
    workdir: Option<PathBuf>,
    datadir: Option<PathBuf>,
}

/// The `local` provider.
#[derive(Debug, Default)]
pub struct LocalProvider {
    options: LocalOptions,
    dirs: Mutex<Dirs>,
}

impl LocalProvider {
    pub fn new(options: LocalOptions) -> LocalProvider {
        LocalProvider {
            options,
            dirs: Mutex::new(Dirs::default()),
        }
    }

    pub fn options(&self) -> &LocalOptions {
        &self.options
    }

    fn dirs(&self) -> Dirs {
        self.dirs.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// The working directory for calls without a context: the configured
    /// one, else the process's.
    fn workdir(&self) -> PathBuf {
        self.dirs()
            .workdir
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn datadir(&self) -> Option<PathBuf> {
        self.dirs().datadir
    }
}

pub(crate) fn absolute(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The context's workdir, made absolute against the process's directory.
pub(crate) fn context_workdir(ctx: &CallContext) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if ctx.workdir.is_empty() {
        cwd
    } else {
        absolute(&cwd, &ctx.workdir)
    }
}

/// The context's datadir, made absolute against its workdir (`.kiln` under
/// the workdir when unset).
pub(crate) fn context_datadir(ctx: &CallContext) -> PathBuf {
    let workdir = context_workdir(ctx);
    if ctx.datadir.is_empty() {
        workdir.join(".kiln")
    } else {
        absolute(&workdir, &ctx.datadir)
    }
}

/// A string attribute, `None` when unset or unknown.
pub(crate) fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A stable, file-name-safe id derived from an idempotency key, so that a
/// recovered create finds what an interrupted one made.
pub(crate) fn id_from_key(prefix: &str, key: &str) -> String {
    format!("{prefix}-{}", &sha256_hex(key.as_bytes())[..16])
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a
/// rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        "{}{}-{}",
        temp_prefix(path),
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// The start of the temporary files [`write_atomic`] writes beside `path`:
/// `.NAME.tmp-` then the writer's pid and a random number.
fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.tmp-",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    )
}

/// Removes what a [`write_atomic`] of `path` killed half-way left behind:
/// its temporary files whose writer no longer runs (Linux; elsewhere
/// nothing is removed). Returns how many.
pub(crate) fn remove_torn_writes(path: &Path) -> usize {
    let (Some(dir), prefix) = (path.parent(), temp_prefix(path)) else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return 0;
    }
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('-').next())
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if !proc.join(pid).exists() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The attributes of `config` with the computed ones of `computed` set.
pub(crate) fn merge(
    config: &Value,
    computed: impl IntoIterator<Item = (&'static str, Value)>,
) -> Value {
    let mut m: kiln_model::FieldMap = config.as_map().cloned().unwrap_or_default();
    for (k, v) in computed {
        m.insert(k.to_string(), v);
    }
    Value::Map(m.into())
}

fn unsupported(type_name: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "resource type {type_name:?} is not supported by the local provider"
    ))
    .with_detail(
        "the local provider offers local_file, local_artifact, local_service and local_balancer",
    )
}

fn create_failed(d: Diagnostic) -> CreateResponse {
    CreateResponse {
        id: None,
        state: Value::Null,
        diagnostics: d.into(),
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            name: "local".into(),
            config: ResourceSchema::new(),
            resources: BTreeMap::from([
                ("local_file".into(), file::schema()),
                ("local_artifact".into(), artifact::schema()),
                ("local_service".into(), service::schema()),
                ("local_balancer".into(), balancer::schema()),
            ]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn configure(&self, req: ConfigureRequest) -> ConfigureResponse {
        let ctx = CallContext {
            workdir: req.workdir,
            datadir: req.datadir,
            ..CallContext::default()
        };
        if let Ok(mut d) = self.dirs.lock() {
            d.workdir = Some(context_workdir(&ctx));
            d.datadir = Some(context_datadir(&ctx));
        }
        ConfigureResponse::default()
    }

    async fn validate(&self, req: ValidateRequest) -> ValidateResponse {
        let diagnostics = match req.type_name.as_str() {
            "local_file" => file::validate(&req.config),
            "local_artifact" => Diagnostics::new(),
            "local_service" => service::validate(&req.config),
            "local_balancer" => balancer::validate(&req.config),
            other => unsupported(other).into(),
        };
        ValidateResponse { diagnostics }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        let result = match req.type_name.as_str() {
            "local_file" => file::create(&req.config, &req.context, &req.idempotency_key),
            "local_artifact" => artifact::create(&req.config, &req.context, &req.idempotency_key),
            "local_service" => {
                service::create(&req.config, &req.idempotency_key, &req.context).await
            }
            "local_balancer" => {
                balancer::create(
                    &self.options,
                    &req.config,
                    &req.idempotency_key,
                    &req.context,
                )
                .await
            }
            other => Err(unsupported(other)),
        };
        match result {
            Ok((id, state)) => CreateResponse {
                id: Some(id),
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(d) => create_failed(d),
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let workdir = self.workdir();
        let datadir = self.datadir();
        let mut results = Vec::with_capacity(req.items.len());
        for item in req.items {
            let r = match item.type_name.as_str() {
                "local_file" => file::read(&item.id, &item.state),
                "local_artifact" => artifact::read(&item.state, &workdir),
                "local_service" => service::read(&item.id, &item.state, datadir.as_deref()),
                "local_balancer" => balancer::read(&item.id, &item.state, datadir.as_deref()),
                other => ReadResult {
                    state: Some(item.state),
                    drift: None,
                    diagnostics: unsupported(other).into(),
                },
            };
            results.push(r);
        }
        ReadResponse {
            results,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        let result = match req.type_name.as_str() {
            "local_service" => service::update(&req).await,
            "local_balancer" => balancer::update(&req).await,
            // The other types have no run-time attributes: nothing to do.
            "local_file" | "local_artifact" => Ok(merge(&req.planned, [])),
            other => Err(unsupported(other)),
        };
        match result {
            Ok(state) => UpdateResponse {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(d) => UpdateResponse {
                state: req.prior,
                diagnostics: d.into(),
            },
        }
    }

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse {
        let result = match req.type_name.as_str() {
            "local_file" => file::delete(&req.id, &req.context),
            "local_artifact" => artifact::delete(&req.state),
            "local_service" => service::delete(&req.id, &req.state, &req.context).await,
            "local_balancer" => balancer::delete(&req.id, &req.state, &req.context).await,
            other => Err(unsupported(other)),
        };
        DeleteResponse {
            diagnostics: result.err().map(Diagnostics::from).unwrap_or_default(),
        }
    }

    async fn find_by_key(&self, req: FindRequest) -> FindResponse {
        let found = match req.type_name.as_str() {
            "local_service" => service::find(&req.idempotency_key, &req.context),
            "local_balancer" => balancer::find(&req.idempotency_key, &req.context),
            "local_file" => req
                .config
                .as_ref()
                .and_then(|c| file::find(c, &req.idempotency_key, &req.context)),
            _ => None,
        };
        FindResponse {
            found,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn shift(&self, req: ShiftRequest) -> ShiftResponse {
        match req.type_name.as_str() {
            "local_balancer" => balancer::shift(&req),
            other => ShiftResponse::unsupported(other),
        }
    }

    async fn traffic(&self, req: TrafficRequest) -> TrafficResponse {
        match req.type_name.as_str() {
            "local_balancer" => balancer::traffic(&req).await,
            other => TrafficResponse::unsupported(other),
        }
    }

    async fn check_health(&self, req: HealthRequest) -> HealthResponse {
        match req.type_name.as_str() {
            "local_service" => service::check_health(&req.state).await,
            _ => HealthResponse {
                healthy: true,
                message: "no health check".into(),
                diagnostics: Diagnostics::new(),
            },
        }
    }
}
