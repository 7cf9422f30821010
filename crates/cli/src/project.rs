//! A configuration directory and everything kiln keeps beside it: the files,
//! the variable values, the state store and the providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use kiln_config::{Config, SourceFile, VarValues};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_provider::Registry;
use kiln_store::LocalStore;

use crate::args::VarArgs;

/// The configuration directory and kiln's data directory (`.kiln`) beside it.
pub struct Project {
    /// As the user gave it (for messages).
    pub dir: PathBuf,
    /// Absolute (for `path.root` and saved plans).
    pub abs_dir: PathBuf,
    pub datadir: PathBuf,
    pub env: String,
    pub store: LocalStore,
}

impl Project {
    pub fn open(chdir: Option<&Path>, dir: Option<&Path>, env: &str) -> Result<Project> {
        validate_env_name(env)?;
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
        let store = LocalStore::new(datadir.clone());
        Ok(Project {
            dir,
            abs_dir,
            datadir,
            env: env.to_string(),
            store,
        })
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
                "no configuration files (*.hcl) in {}; pass the directory that holds them (kiln plan DIR, or -C DIR)",
                self.dir.display()
            );
        }
        Ok(files)
    }

    /// Loads and parses the configuration and the modules it calls (read
    /// from their directories); any error diagnostic fails.
    pub fn load_config(&self) -> Result<(Config, Diagnostics)> {
        let root = self.read_sources()?;
        let mut load = |dir: &str| -> Result<Vec<SourceFile>, String> {
            let path = self.dir.join(dir);
            if !path.is_dir() {
                return Err(format!("no directory {}", display_path(&path)));
            }
            let files = read_dir_sources(&path).map_err(|e| format!("{e:#}"))?;
            if files.is_empty() {
                return Err(format!(
                    "no configuration files (*.hcl) in {}",
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

/// Every `*.hcl` and `*.tf` file of `dir`, in name order, named as shown in
/// messages (and embedded in plans).
fn read_dir_sources(dir: &Path) -> Result<Vec<SourceFile>> {
    let mut names = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
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
