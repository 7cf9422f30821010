//! A configuration directory and everything kiln keeps beside it: the files,
//! the variable values, the state store and the providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use kiln_config::{Config, SourceFile, VarValues};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_provider::Registry;
use kiln_store::{LocalStore, StateStore};

use crate::args::{Global, VarArgs};

/// The configuration directory and kiln's data directory (`.kiln`) beside it.
pub struct Project {
    /// As the user gave it (for messages).
    pub dir: PathBuf,
    /// Absolute (for `path.root` and saved plans).
    pub abs_dir: PathBuf,
    pub datadir: PathBuf,
    pub env: String,
    pub store: Box<dyn StateStore>,
}

impl Project {
    /// The project in `dir` (relative to `-C`), for environment `env`, with
    /// the state store chosen by `--backend` or the configuration's
    /// `backend` block (`.kiln/` beside the configuration by default).
    pub fn open(g: &Global, dir: Option<&Path>, env: &str) -> Result<Project> {
        validate_env_name(env)?;
        let chdir = g.chdir.as_deref();
        let dir = match (chdir, dir) {
            (Some(c), Some(d)) => c.join(d),
            (Some(c), None) => c.to_path_buf(),
            (None, Some(d)) => d.to_path_buf(),
            (None, None) => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "configuration directory {} does not exist; pass the directory holding your *.hcl files",
                dir.display()
            );
        }
        let abs_dir = std::fs::canonicalize(&dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let datadir = abs_dir.join(".kiln");
        let mut project = Project {
            dir,
            abs_dir,
            datadir: datadir.clone(),
            env: env.to_string(),
            store: Box::new(LocalStore::new(datadir)),
        };
        project.store = project.choose_store(g.backend.as_deref())?;
        Ok(project)
    }

    /// The store `--backend` names, else the configuration's backend block,
    /// else the local store. Settings the flag cannot carry (region,
    /// encryption) come from the configuration's s3 backend, if it has one.
    fn choose_store(&self, flag: Option<&str>) -> Result<Box<dyn StateStore>> {
        let configured = self.configured_backend(flag.is_none())?;
        let local = || -> Box<dyn StateStore> { Box::new(LocalStore::new(self.datadir.clone())) };
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
                    region: None,
                    encrypt: true,
                    kms_key_id: None,
                });
                s3.bucket = bucket.to_string();
                s3.prefix = prefix.trim_matches('/').to_string();
                s3
            }
            None => match from_config {
                Some(s3) => s3,
                None => return Ok(local()),
            },
        };
        let mut options = kiln_store::S3Options::new(s3.bucket, s3.prefix);
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
        Ok(Box::new(kiln_store::S3Store::new(options)))
    }

    /// The configuration's backend block, if any. With `strict`, a
    /// configuration that does not parse is an error here already: kiln must
    /// not fall back to another store because the block could not be read.
    fn configured_backend(&self, strict: bool) -> Result<Option<kiln_config::Backend>> {
        let has_config = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    matches!(
                        e.path().extension().and_then(|x| x.to_str()),
                        Some("hcl" | "tf")
                    )
                })
            })
            .unwrap_or(false);
        if !has_config {
            return Ok(None);
        }
        let (config, diags) = kiln_config::parse(self.read_sources()?);
        if diags.has_errors() {
            if strict {
                return Err(diags.into());
            }
            return Ok(None);
        }
        Ok(config.backend)
    }

    /// The directory's files, as the file functions read them.
    pub fn files(&self) -> kiln_plan::SharedFiles {
        kiln_plan::SharedFiles(Some(Arc::new(crate::files::DirFiles::new(&self.abs_dir))))
    }

    /// Reads every `*.hcl` and `*.tf` file of the directory, in name order.
    pub fn read_sources(&self) -> Result<Vec<SourceFile>> {
        let mut names = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list {}", self.dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let is_config = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("hcl" | "tf")
            );
            if is_config && path.is_file() {
                names.push(path);
            }
        }
        names.sort();
        if names.is_empty() {
            bail!(
                "no configuration files (*.hcl) in {}; pass the directory that holds them (kiln plan DIR, or -C DIR)",
                self.dir.display()
            );
        }
        names
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(SourceFile {
                    name: display_path(&path),
                    text,
                })
            })
            .collect()
    }

    /// Loads and parses the configuration; any error diagnostic fails.
    pub fn load_config(&self) -> Result<(Config, Diagnostics)> {
        let (config, diags) = kiln_config::parse(self.read_sources()?);
        if diags.has_errors() {
            return Err(diags.into());
        }
        Ok((config, diags))
    }

    /// Variable values, lowest precedence first: `KILN_VAR_<name>` for declared
    /// variables, `kiln.tfvars`, `*.auto.tfvars`, then `--var-file` and `--var`
    /// in the order given.
    pub fn variables(&self, config: &Config, args: &VarArgs) -> Result<VarValues> {
        let mut values = VarValues::new();
        let mut diags = Diagnostics::new();
        for v in &config.variables {
            if let Ok(raw) = std::env::var(format!("KILN_VAR_{}", v.name)) {
                match kiln_config::parse_var_value(&raw, v.ty.as_ref()) {
                    Ok(val) => {
                        values.insert(v.name.clone(), val);
                    }
                    Err(d) => diags.push(
                        d.with_detail(format!("from the environment variable KILN_VAR_{}", v.name)),
                    ),
                }
            }
        }
        let mut files: Vec<PathBuf> = Vec::new();
        let default_file = self.dir.join("kiln.tfvars");
        if default_file.is_file() {
            files.push(default_file);
        }
        let mut auto: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".auto.tfvars")))
            .collect();
        auto.sort();
        files.extend(auto);
        files.extend(args.var_files.iter().cloned());
        for path in files {
            let text = std::fs::read_to_string(&path).with_context(|| {
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
            values.extend(vals);
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

    /// The providers linked into kiln, configured for this project.
    pub async fn registry(&self, config: Option<&Config>) -> Result<Registry> {
        let mut registry = Registry::new();
        registry.register(Arc::new(kiln_provider_null::NullProvider::new()));
        registry.register(Arc::new(kiln_provider_local::LocalProvider::new(
            kiln_provider_local::LocalOptions::default(),
        )));
        let _ = config;
        for name in registry.names().map(str::to_string).collect::<Vec<_>>() {
            let provider = registry.get(&name).cloned();
            if let Some(p) = provider {
                let resp = p
                    .configure(kiln_provider::ConfigureRequest {
                        config: kiln_model::Value::Map(Default::default()),
                        workdir: self.abs_dir.display().to_string(),
                        datadir: self.datadir.display().to_string(),
                    })
                    .await;
                if resp.diagnostics.has_errors() {
                    return Err(resp.diagnostics.into());
                }
            }
        }
        Ok(registry)
    }
}

/// Environment names become directory names and resource name prefixes.
pub fn validate_env_name(env: &str) -> Result<()> {
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
