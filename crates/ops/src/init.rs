//! `kiln init`: downloads the configuration's git and registry module
//! sources into `.kiln/.modules/` and pins each in
//! `.kiln/modules.lock.json`, so every run and every CI runner uses the same
//! module code (Terraform's `terraform init` for modules; commit the lock
//! file).
//!
//! A git source is `git::URL[//SUBDIR][?ref=REF]` (or `github.com/ORG/REPO`):
//! a pinned one is checked out at its locked commit; a new one is cloned,
//! its `ref` resolved to a commit and recorded. A registry source
//! (`[HOST/]NAMESPACE/NAME/SYSTEM` with a `version` constraint) is resolved
//! on its registry (see `registry`) to a version — the pinned one while the
//! constraint still allows it — and fetched from the git location the
//! registry gives; the lock records the version, the location and the
//! commit, and a module already there at them is used without the network.
//! Modules a downloaded module calls (git, registry or local to it) are
//! followed. `git` does the fetching.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::Workspace;

/// The lock file, beside the state's local directory.
const LOCK: &str = ".kiln/modules.lock.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Lock {
    /// `URL@REF` → the commit it was pinned to.
    modules: BTreeMap<String, String>,
    /// `ADDRESS@CONSTRAINT` → the registry version it was pinned to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    registry: BTreeMap<String, RegistryPin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RegistryPin {
    version: String,
    /// Where the registry said the version's code is.
    location: String,
    commit: String,
}

/// One module source `kiln init` made available.
#[derive(Debug)]
pub struct Downloaded {
    pub source: String,
    pub commit: String,
    /// The registry version (registry sources only).
    pub version: Option<String>,
    /// Already there at the locked commit.
    pub cached: bool,
}

/// The file in a registry module's directory saying what it holds.
const MARKER: &str = ".kiln-module.json";

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String> {
    let mut c = Command::new("git");
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    let out = c
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .context("cannot run git (kiln init needs it for git module sources)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `kiln init`: see the module documentation. Every git source the
/// configuration (and the modules it downloads) calls, in the order found.
///
/// # Errors
/// A source that cannot be cloned or a reference that does not exist; the
/// lock file cannot be read or written.
pub fn init(ws: &Workspace) -> Result<Vec<Downloaded>> {
    let lock_path = ws.dir.join(LOCK);
    let mut lock: Lock = match std::fs::read(&lock_path) {
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{} is not a kiln module lock file", lock_path.display()))?,
        Err(_) => Lock::default(),
    };
    let mut out = Vec::new();
    // (the calling module's directory, its files)
    let mut queue: Vec<(String, Vec<kiln_config::SourceFile>)> =
        vec![(String::new(), ws.read_sources()?)];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((from, files)) = queue.pop() {
        let (config, _) = kiln_config::parse(files);
        for call in &config.modules {
            let version = call.version.as_deref();
            let Some(dir) = kiln_config::module_dir(&from, &call.source, version) else {
                continue;
            };
            if !seen.insert(dir.clone()) {
                continue;
            }
            if let Some(r) = kiln_config::registry_source(&call.source) {
                let package = call
                    .source
                    .split_once("//")
                    .map_or(&call.source[..], |(a, _)| a);
                let key = format!("{package}@{}", version.unwrap_or_default());
                let at = ws
                    .dir
                    .join(kiln_config::registry_cache_dir(&call.source, version));
                let (pin, cached) = fetch_registry(&at, &r, version, lock.registry.get(&key))
                    .with_context(|| format!("module \"{}\" ({})", call.name, call.source))?;
                out.push(Downloaded {
                    source: call.source.clone(),
                    commit: pin.commit.clone(),
                    version: Some(pin.version.clone()),
                    cached,
                });
                lock.registry.insert(key, pin);
            } else if let Some(g) = kiln_config::git_source(&call.source) {
                let key = format!("{}@{}", g.url, g.reference.clone().unwrap_or_default());
                let checkout = ws.dir.join(kiln_config::git_cache_dir(&call.source));
                let (commit, cached) = fetch(&checkout, &g, lock.modules.get(&key))
                    .with_context(|| format!("module \"{}\" ({})", call.name, call.source))?;
                lock.modules.insert(key, commit.clone());
                out.push(Downloaded {
                    source: call.source.clone(),
                    commit,
                    version: None,
                    cached,
                });
            }
            let path = ws.dir.join(&dir);
            if path.is_dir() {
                let files = crate::workspace::read_dir_sources(&path)?;
                queue.push((dir, files));
            }
        }
    }
    if !out.is_empty() || lock_path.exists() {
        std::fs::create_dir_all(ws.dir.join(".kiln"))?;
        std::fs::write(&lock_path, serde_json::to_vec_pretty(&lock)?)
            .with_context(|| format!("cannot write {}", lock_path.display()))?;
    }
    Ok(out)
}

/// A registry module at `dir`: the pinned version while `constraint`
/// still allows it (and without the network when `dir` holds it already),
/// else the newest one allowed; fetched from the git location the registry
/// gives, its subdirectory (`//DIR`) becoming the module's directory.
fn fetch_registry(
    dir: &Path,
    r: &kiln_config::RegistrySource,
    constraint: Option<&str>,
    pinned: Option<&RegistryPin>,
) -> Result<(RegistryPin, bool)> {
    let still = |p: &RegistryPin| {
        crate::registry::parse_version(&p.version)
            .is_some_and(|v| crate::registry::satisfies(&v, constraint).unwrap_or(false))
    };
    if let Some(p) = pinned.filter(|p| still(p))
        && std::fs::read(dir.join(MARKER))
            .ok()
            .and_then(|b| serde_json::from_slice::<RegistryPin>(&b).ok())
            .as_ref()
            == Some(p)
    {
        return Ok((p.clone(), true));
    }
    let pinned_version = pinned
        .filter(|p| still(p))
        .and_then(|p| crate::registry::parse_version(&p.version));
    let found = crate::registry::resolve(r, constraint, pinned_version.as_ref())?;
    let Some(g) = kiln_config::git_source(&found.location) else {
        bail!(
            "version {} is at {:?}: kiln fetches registry modules whose code is in git (git::URL), not archives over HTTP yet",
            found.version,
            found.location
        );
    };
    // The same version as pinned: the same commit too.
    let locked = pinned
        .filter(|p| p.version == found.version.to_string() && p.location == found.location)
        .map(|p| p.commit.clone());
    let checkout = dir.with_extension("checkout");
    let (commit, _) = fetch(&checkout, &g, locked.as_ref())?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    let from = match &g.subdir {
        Some(sub) => checkout.join(sub.trim_matches('/')),
        None => checkout.clone(),
    };
    if !from.is_dir() {
        bail!(
            "{} has no directory {:?}",
            g.url,
            g.subdir.unwrap_or_default()
        );
    }
    std::fs::rename(&from, dir)
        .with_context(|| format!("cannot move {} to {}", from.display(), dir.display()))?;
    if checkout.exists() {
        std::fs::remove_dir_all(&checkout)?;
    }
    let pin = RegistryPin {
        version: found.version.to_string(),
        location: found.location,
        commit,
    };
    std::fs::write(dir.join(MARKER), serde_json::to_vec_pretty(&pin)?)?;
    Ok((pin, false))
}

/// The checkout at `dir` of `g`, at `locked` if given, else at its
/// reference: the commit, and whether it was there already.
fn fetch(
    dir: &Path,
    g: &kiln_config::GitSource,
    locked: Option<&String>,
) -> Result<(String, bool)> {
    if dir.join(".git").exists()
        && let Some(want) = locked
        && git(Some(dir), &["rev-parse", "HEAD"]).is_ok_and(|h| &h == want)
    {
        return Ok((want.clone(), true));
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let target = dir.to_str().context("a non-UTF-8 path")?;
    git(None, &["clone", "--quiet", &g.url, target])?;
    let at = locked.cloned().or_else(|| g.reference.clone());
    if let Some(at) = at {
        git(Some(dir), &["checkout", "--quiet", &at])
            .with_context(|| format!("{} has no reference {at}", g.url))?;
    }
    Ok((git(Some(dir), &["rev-parse", "HEAD"])?, false))
}
