//! A configuration directory and everything kiln keeps beside it: the files,
//! the variable values, the state store and the providers. Every operation
//! runs against one [`Workspace`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use kiln_config::{Config, SourceFile, VarValues};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_provider::Registry;
use kiln_store::{LocalStore, StateStore};

/// How to open a [`Workspace`].
#[derive(Clone)]
pub struct OpenOptions {
    /// The configuration directory, as the user gave it (for messages).
    pub dir: PathBuf,
    /// The environment (an isolated state).
    pub env: String,
    /// `s3://BUCKET/PREFIX` or `local`; overrides the configuration's
    /// `backend` block.
    pub backend: Option<String>,
    /// The providers linked into the program (started without a plugin).
    pub linked: fn() -> Vec<Arc<dyn kiln_provider::Provider>>,
    /// The caller ends the process after one operation: large values held
    /// to an operation's end are left to the process's exit instead of
    /// freed one by one (a tenth of a second at 100,000 resources).
    pub exit_after: bool,
}

/// Variable values given on the command line.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// `NAME=VALUE`, in the order given.
    pub vars: Vec<String>,
    /// `--var-file` paths, in the order given.
    pub var_files: Vec<PathBuf>,
}

/// The configuration directory and kiln's data directory (`.kiln`) beside it.
pub struct Workspace {
    /// As the user gave it (for messages).
    pub dir: PathBuf,
    /// Absolute (for `path.cwd` and saved plans).
    pub abs_dir: PathBuf,
    pub datadir: PathBuf,
    pub env: String,
    pub store: Box<dyn StateStore>,
    /// The providers of this command, started and configured once (with the
    /// first call's configuration and variable values) and reused by later
    /// steps of the same command.
    registry: std::sync::Mutex<Option<Registry>>,
    /// The directory's files as `open` read them (to find the backend
    /// block), kept for the first [`Workspace::load_config`]: a command
    /// reads each file once (at 100,000 resources a file is megabytes).
    sources: std::sync::Mutex<Option<Vec<SourceFile>>>,
    options: OpenOptions,
}

impl Workspace {
    /// The workspace of `options.dir` for `options.env`, with the state
    /// store chosen by `backend` or the configuration's `backend` block
    /// (`.kiln/` beside the configuration by default).
    pub fn open(options: &OpenOptions) -> Result<Workspace> {
        let (env, dir) = (options.env.as_str(), options.dir.clone());
        validate_env_name(env)?;
        if !dir.is_dir() {
            bail!(
                "configuration directory {} does not exist; pass the directory holding your *.hcl files",
                dir.display()
            );
        }
        let abs_dir = std::fs::canonicalize(&dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let datadir = abs_dir.join(".kiln");
        let mut ws = Workspace {
            dir,
            abs_dir,
            datadir: datadir.clone(),
            env: env.to_string(),
            store: Box::new(LocalStore::new(datadir)),
            registry: std::sync::Mutex::new(None),
            sources: std::sync::Mutex::new(None),
            options: options.clone(),
        };
        ws.store = ws.choose_store(options.backend.as_deref())?;
        Ok(ws)
    }

    /// The same directory and backend, for environment `env`.
    pub fn for_env(&self, env: &str) -> Result<Workspace> {
        Workspace::open(&OpenOptions {
            env: env.to_string(),
            ..self.options.clone()
        })
    }

    /// Lets go of a value held to the end of an operation: left to the
    /// process's exit when [`OpenOptions::exit_after`] says the process ends
    /// next, dropped otherwise.
    pub fn release<T>(&self, value: T) {
        if self.options.exit_after {
            std::mem::forget(value);
        } else {
            drop(value);
        }
    }

    /// The store `--backend` names, else the configuration's backend block,
    /// else the local store. Settings the flag cannot carry (region,
    /// encryption) come from the configuration's s3 backend, if it has one.
    fn choose_store(&self, flag: Option<&str>) -> Result<Box<dyn StateStore>> {
        let (configured, encryption) = self.configured_settings(flag.is_none())?;
        // The passphrase is checked before anything is read.
        let sealer = install_sealer(encryption.as_ref())?;
        let local = || -> Box<dyn StateStore> {
            Box::new(LocalStore::new(self.datadir.clone()).with_sealer(sealer.clone()))
        };
        let from_config = match configured.map(|b| b.kind) {
            Some(kiln_config::BackendKind::S3(s3)) => Some(s3),
            _ => None,
        };
        let s3 = match flag {
            Some("local") => return Ok(local()),
            Some(url) => {
                let Some(rest) = url.strip_prefix("s3://") else {
                    bail!("--backend {url:?} is not a backend; write s3://BUCKET/PREFIX or local");
                };
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    bail!("--backend {url:?} names no bucket; write s3://BUCKET/PREFIX");
                }
                let mut s3 = from_config.unwrap_or(kiln_config::S3Backend {
                    bucket: String::new(),
                    prefix: String::new(),
                    key: None,
                    workspace_key_prefix: "env:".into(),
                    profile: None,
                    region: None,
                    encrypt: true,
                    kms_key_id: None,
                });
                // The URL says kiln's layout: BUCKET/PREFIX.
                s3.bucket = bucket.to_string();
                s3.prefix = prefix.trim_matches('/').to_string();
                s3.key = None;
                s3
            }
            None => match from_config {
                Some(s3) => s3,
                None => return Ok(local()),
            },
        };
        let mut options = kiln_store::S3Options::new(s3.bucket, s3.prefix);
        options.terraform = s3.key.map(|key| kiln_store::TerraformLayout {
            key,
            workspace_key_prefix: s3.workspace_key_prefix,
        });
        options.profile = s3.profile;
        options.region = s3.region;
        options.encryption = match (s3.encrypt, s3.kms_key_id) {
            (false, _) => kiln_store::Encryption::None,
            (true, None) => kiln_store::Encryption::Aes256,
            (true, Some(key)) => kiln_store::Encryption::Kms { key_id: Some(key) },
        };
        if let Some(secs) = std::env::var("KILN_LOCK_LEASE_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            // For tests and slow links: how long a lock lasts unrenewed.
            options.lease = std::time::Duration::from_secs(secs.max(1));
        }
        Ok(Box::new(
            kiln_store::S3Store::new(options).with_sealer(sealer.clone()),
        ))
    }

    /// The configuration's backend and encryption blocks, if any. With
    /// `strict`, a configuration that does not parse is an error here
    /// already: kiln must not fall back to another store because the block
    /// could not be read.
    fn configured_settings(
        &self,
        strict: bool,
    ) -> Result<(
        Option<kiln_config::Backend>,
        Option<kiln_config::StateEncryption>,
    )> {
        let has_config = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(kiln_config::is_config_file)
                })
            })
            .unwrap_or(false);
        if !has_config {
            return Ok((None, None));
        }
        // The blocks need their words: only the files that hold them are
        // parsed here (the whole configuration is parsed once, later, while
        // the state is read).
        let all = self.read_sources()?;
        let sources: Vec<SourceFile> = all
            .iter()
            .filter(|f| f.text.contains("backend") || f.text.contains("encryption"))
            .cloned()
            .collect();
        if let Ok(mut kept) = self.sources.lock() {
            *kept = Some(all);
        }
        if sources.is_empty() {
            return Ok((None, None));
        }
        let (config, diags) = kiln_config::parse(sources);
        if diags.has_errors() {
            if strict {
                return Err(diags.into());
            }
            return Ok((None, None));
        }
        Ok((config.backend, config.encryption))
    }

    /// The directory's files, as the file functions read them.
    pub fn files(&self) -> kiln_plan::SharedFiles {
        kiln_plan::SharedFiles(Some(Arc::new(crate::files::DirFiles::new(&self.abs_dir))))
    }

    /// Reads every `*.hcl` and `*.tf` file of the directory, in name order.
    pub fn read_sources(&self) -> Result<Vec<SourceFile>> {
        let files = read_dir_sources(&self.dir)?;
        if files.is_empty() {
            bail!(
                "no configuration files (*.tf, *.tf.json or *.hcl) in {}; pass the directory that holds them (kiln plan DIR, or -C DIR)",
                self.dir.display()
            );
        }
        Ok(files)
    }

    /// Loads and parses the configuration and the modules it calls (read
    /// from their directories); any error diagnostic fails. The first call
    /// parses the files `open` read; later calls read them again.
    pub fn load_config(&self) -> Result<(Config, Diagnostics)> {
        let kept = self.sources.lock().ok().and_then(|mut s| s.take());
        let root = match kept {
            Some(files) => files,
            None => self.read_sources()?,
        };
        let mut load = |dir: &str| -> Result<Vec<SourceFile>, String> {
            let path = self.dir.join(dir);
            if !path.is_dir() {
                return Err(format!("no directory {}", display_path(&path)));
            }
            let files = read_dir_sources(&path).map_err(|e| format!("{e:#}"))?;
            if files.is_empty() {
                return Err(format!(
                    "no configuration files (*.tf, *.tf.json or *.hcl) in {}",
                    display_path(&path)
                ));
            }
            Ok(files)
        };
        let (config, diags) = kiln_config::parse_tree(root, &mut load);
        if diags.has_errors() {
            return Err(diags.into());
        }
        Ok((config, diags))
    }

    /// Variable values, lowest precedence first (Terraform's order, with
    /// kiln's names beside Terraform's): `TF_VAR_<name>` then
    /// `KILN_VAR_<name>` for declared variables, `terraform.tfvars`,
    /// `terraform.tfvars.json`, `kiln.tfvars`, `*.auto.tfvars` and
    /// `*.auto.tfvars.json` in name order, then `--var-file` (HCL, or JSON
    /// when named `*.json`) and `--var` in the order given.
    pub fn variables(
        &self,
        config: &Config,
        args: &VarInputs,
        obs: &dyn crate::observe::Observer,
    ) -> Result<VarValues> {
        let mut values = VarValues::new();
        let mut diags = Diagnostics::new();
        for prefix in ["TF_VAR_", "KILN_VAR_"] {
            for v in &config.variables {
                let env = format!("{prefix}{}", v.name);
                if let Ok(raw) = std::env::var(&env) {
                    match kiln_config::parse_var_value(&raw, v.ty.as_ref()) {
                        Ok(val) => {
                            values.insert(v.name.clone(), val);
                        }
                        Err(d) => diags
                            .push(d.with_detail(format!("from the environment variable {env}"))),
                    }
                }
            }
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for name in ["terraform.tfvars", "terraform.tfvars.json", "kiln.tfvars"] {
            let file = self.dir.join(name);
            if file.is_file() {
                files.push(file);
            }
        }
        let mut auto: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.to_str().is_some_and(|s| {
                    s.ends_with(".auto.tfvars") || s.ends_with(".auto.tfvars.json")
                })
            })
            .collect();
        auto.sort();
        files.extend(auto);
        files.extend(args.var_files.iter().cloned());
        for path in files {
            let text = read_source(&path).with_context(|| {
                format!(
                    "cannot read variable file {}; check the --var-file path",
                    path.display()
                )
            })?;
            let (vals, d) = kiln_config::parse_var_file(SourceFile {
                name: display_path(&path),
                text,
            });
            diags.extend(d);
            // As in Terraform, a file's value for a variable the
            // configuration does not declare is a warning (files are shared
            // between configurations); on the command line it is an error.
            let mut unused = Diagnostics::new();
            for (name, value) in vals {
                if config.variables.iter().any(|v| v.name == name) {
                    values.insert(name, value);
                } else {
                    unused.push(
                        Diagnostic::warning(format!(
                            "{} gives a value for undeclared variable \"{name}\"; it is not used",
                            display_path(&path)
                        ))
                        .with_detail(format!(
                            "declare it with `variable \"{name}\" {{}}` to use it, or remove it from the file"
                        )),
                    );
                }
            }
            obs.diagnostics(&unused);
        }
        for raw in &args.vars {
            let Some((name, value)) = raw.split_once('=') else {
                diags.push(
                    Diagnostic::error(format!("--var {raw:?} is not NAME=VALUE"))
                        .with_detail("write it as --var name=value"),
                );
                continue;
            };
            let ty = config
                .variables
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.ty.as_ref());
            match kiln_config::parse_var_value(value, ty) {
                Ok(val) => {
                    values.insert(name.to_string(), val);
                }
                Err(d) => diags.push(d.with_detail(format!("from --var {name}=..."))),
            }
        }
        if diags.has_errors() {
            return Err(diags.into());
        }
        Ok(values)
    }

    /// The providers of this run: those linked in, and every
    /// other provider the configuration or the state names started as a
    /// plugin (`kiln-provider-NAME`, see [`kiln_provider::protocol::discover`]).
    /// Each is configured with its evaluated `provider "NAME" { ... }` block.
    ///
    /// Without a configuration (apply of a saved plan, recovery, destroy of
    /// an environment), the directory's configuration is read if there is one.
    pub async fn registry(
        &self,
        config: Option<&Config>,
        variables: Option<&VarValues>,
        state: Option<&kiln_state::State>,
    ) -> Result<Registry> {
        let loaded;
        let config = match config {
            Some(c) => Some(c),
            None => {
                loaded = self
                    .read_sources()
                    .ok()
                    .map(kiln_config::parse)
                    .map(|(c, _)| c);
                loaded.as_ref()
            }
        };
        let cached = self.registry.lock().ok().and_then(|r| r.clone());
        if let Some(r) = cached
            && needed_providers(config, state)
                .into_iter()
                .all(|(name, _)| r.get(&name).is_some())
        {
            return Ok(r);
        }
        let defaults = VarValues::new();
        let variables = variables.unwrap_or(&defaults);
        let mut registry = Registry::new();
        for provider in (self.options.linked)() {
            registry.register(provider);
        }
        for (name, need) in needed_providers(config, state) {
            if registry.get(&name).is_some() {
                continue;
            }
            let Some(path) = kiln_provider::protocol::discover(&name, &self.datadir) else {
                return Err(self.missing_provider(&name, &need, &registry).into());
            };
            let plugin =
                kiln_provider::protocol::PluginProvider::start(&name, &path, PLUGIN_CALL_TIMEOUT)
                    .await
                    .with_context(|| {
                        format!("cannot start provider {name:?} from {}", path.display())
                    })?;
            registry.register(Arc::new(plugin));
        }
        for name in registry.names().map(str::to_string).collect::<Vec<_>>() {
            let Some(p) = registry.get(&name).cloned() else {
                continue;
            };
            let block = config.and_then(|c| c.providers.iter().find(|b| b.name == name));
            let value = match block {
                None => kiln_model::Value::Map(Default::default()),
                Some(b) => {
                    let schema = p.schema().config;
                    let scope = ProviderScope {
                        config: config.expect("a block comes from a config"),
                        variables,
                        env: &self.env,
                    };
                    kiln_config::eval_body(&b.body, &schema, &scope).map_err(anyhow::Error::from)?
                }
            };
            let resp = p
                .configure(kiln_provider::ConfigureRequest {
                    config: value,
                    workdir: self.abs_dir.display().to_string(),
                    datadir: self.datadir.display().to_string(),
                })
                .await;
            if resp.diagnostics.has_errors() {
                return Err(resp.diagnostics.into());
            }
        }
        if let Ok(mut cache) = self.registry.lock() {
            *cache = Some(registry.clone());
        }
        Ok(registry)
    }
}

impl Workspace {
    /// The error for a provider that is neither linked in nor installed:
    /// located at what needs it, with a "did you mean" for a mistyped type.
    fn missing_provider(&self, name: &str, need: &Need<'_>, registry: &Registry) -> Diagnostics {
        let looked = format!(
            "kiln looked for kiln-provider-{name} next to the kiln binary{}, in {} and on PATH",
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| format!(" ({})", d.display())))
                .unwrap_or_default(),
            self.datadir.join("providers").display()
        );
        let d = match need {
            Need::Type(ty, loc) => {
                let hint = closest(ty, registry.schemas().resource_types())
                    .map(|t| format!("did you mean \"{t}\"? "))
                    .unwrap_or_default();
                loc.error(format!("unknown resource type \"{ty}\""))
                    .with_detail(format!(
                        "{hint}no provider linked into kiln offers it, and {looked}; the configured providers offer: {}",
                        registry.schemas().resource_types().collect::<Vec<_>>().join(", ")
                    ))
            }
            Need::Block(loc) => loc
                .error(format!("provider \"{name}\" is not installed"))
                .with_detail(format!(
                    "{looked}; build or install it there (for aws: cargo build -p kiln-provider-aws)"
                )),
            Need::State(addr) => Diagnostic::error(format!(
                "provider \"{name}\" is not installed, and the state holds {addr}, which it manages"
            ))
            .with_detail(format!("{looked}; install it there and run the command again")),
        };
        d.into()
    }
}

/// Why a provider is needed.
enum Need<'a> {
    /// A resource or data source type named `PROVIDER_...`.
    Type(&'a str, &'a kiln_config::Loc),
    /// A `provider "NAME"` block.
    Block(&'a kiln_config::Loc),
    /// A resource in the state.
    State(String),
}

/// The candidate nearest to `name` (at most two edits away), for hints.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// How long kiln waits for one plugin call: longer than any provider's own
/// waits (an Auto Scaling group may take ten minutes to be in service).
const PLUGIN_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The providers a configuration and a state use, with why (for messages):
/// resource and data source types are named `PROVIDER_...`.
fn needed_providers<'a>(
    config: Option<&'a Config>,
    state: Option<&kiln_state::State>,
) -> std::collections::BTreeMap<String, Need<'a>> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(c) = config {
        for b in &c.providers {
            out.entry(b.name.clone()).or_insert(Need::Block(&b.loc));
        }
        for r in &c.resources {
            let name = match &r.provider {
                Some(p) => p.split('.').next().unwrap_or(p),
                None => r.addr.ty.split('_').next().unwrap_or(&r.addr.ty),
            };
            // Looked up before a key is made: one type's resources are many.
            if !out.contains_key(name) {
                out.insert(name.to_string(), Need::Type(&r.addr.ty, &r.loc));
            }
        }
    }
    if let Some(s) = state {
        for r in s.resources.values().chain(&s.deposed) {
            if !out.contains_key(r.provider.as_str()) {
                out.insert(r.provider.to_string(), Need::State(r.addr.to_string()));
            }
        }
    }
    out
}

/// What a provider block can refer to: variables and the environment.
struct ProviderScope<'a> {
    config: &'a Config,
    variables: &'a VarValues,
    env: &'a str,
}

impl kiln_config::Scope for ProviderScope<'_> {
    fn variable(&self, name: &str) -> Option<kiln_model::Value> {
        let declared = self.config.variables.iter().find(|v| v.name == name)?;
        Some(
            self.variables
                .get(name)
                .cloned()
                .or_else(|| declared.default.clone())
                .unwrap_or(kiln_model::Value::Null),
        )
    }

    fn local(&self, _name: &str) -> Option<kiln_model::Value> {
        None
    }

    fn resource(&self, _addr: &kiln_model::ResourceAddr) -> Option<kiln_model::Value> {
        None
    }

    fn env(&self) -> String {
        self.env.to_string()
    }
}

/// Environment names become directory names and resource name prefixes.
pub(crate) fn validate_env_name(env: &str) -> Result<()> {
    let ok = !env.is_empty()
        && env.len() <= 63
        && env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && env.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        bail!(
            "invalid environment name {env:?}: use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit (for example pr-42)"
        );
    }
    Ok(())
}

fn display_path(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Every `*.hcl` and `*.tf` file of `dir`, in name order, named as shown in
/// messages (and embedded in plans).
pub(crate) fn read_dir_sources(dir: &Path) -> Result<Vec<SourceFile>> {
    let mut names = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let is_config = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(kiln_config::is_config_file);
        if is_config && path.is_file() {
            names.push(path);
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let text = read_source(&path)?;
            Ok(SourceFile {
                name: display_path(&path),
                text,
            })
        })
        .collect()
}

/// A configuration or variable file's text. A file that is not UTF-8 is an
/// error at the first invalid byte (`file:line:column`), as HCL requires.
pub(crate) fn read_source(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        anyhow::anyhow!(
            "{}:{line}:{}: the file is not valid UTF-8 (byte 0x{:02x}); HCL files must be UTF-8: re-save it as UTF-8",
            path.display(),
            at - line_start + 1,
            bytes[at]
        )
    })
}

type SharedSealer = Option<Arc<kiln_store::seal::Sealer>>;

static SEALER: std::sync::OnceLock<SharedSealer> = std::sync::OnceLock::new();

/// The sealer of this process: encryption of the state, its history, the
/// journal and saved plans (see `kiln_store::seal`), as the project's
/// `kiln { encryption }` block or, without one, `KILN_STATE_PASSPHRASE`
/// asks. One per process, so a key is derived once.
pub(crate) fn sealer() -> Result<SharedSealer> {
    if let Some(s) = SEALER.get() {
        return Ok(s.clone());
    }
    let made = kiln_store::seal::Sealer::from_env()?.map(Arc::new);
    Ok(SEALER.get_or_init(|| made).clone())
}

/// Makes the sealer the configuration asks for this process's (the first
/// project opened decides). A configuration that requires encryption and a
/// passphrase that is not set is an error, never a plaintext write.
fn install_sealer(encryption: Option<&kiln_config::StateEncryption>) -> Result<SharedSealer> {
    let Some(e) = encryption else {
        return sealer();
    };
    if let Some(s) = SEALER.get() {
        return Ok(s.clone());
    }
    let previous = std::env::var(&e.previous_passphrase_env).ok();
    if let Some(key) = &e.kms_key_id {
        let made = kiln_store::seal::Sealer::kms(key, previous.as_deref());
        return Ok(SEALER.get_or_init(|| Some(Arc::new(made))).clone());
    }
    let Some(passphrase) = std::env::var(&e.passphrase_env)
        .ok()
        .filter(|p| !p.is_empty())
    else {
        bail!(
            "the configuration requires the state to be encrypted (the encryption block at {}), and {} is not set: set it to the passphrase (from your secret store), or remove the block",
            e.loc.span(),
            e.passphrase_env
        );
    };
    let made = kiln_store::seal::Sealer::new(&passphrase, previous.as_deref())?;
    Ok(SEALER.get_or_init(|| Some(Arc::new(made))).clone())
}

/// Variables with neither a value nor a default become unknown, as
/// `kiln validate`, `kiln console` and the imports evaluate the
/// configuration (nobody is asked for them).
pub(crate) fn unset_as_unknown(config: &Config, variables: &mut VarValues) {
    for v in &config.variables {
        if v.default.is_none() {
            variables
                .entry(v.name.clone())
                .or_insert(kiln_model::Value::Unknown);
        }
    }
}
