//! `kiln init`: downloads the configuration's git module sources into
//! `.kiln/.modules/` and pins each to a commit in `.kiln/modules.lock.json`,
//! so every run and every CI runner uses the same module code (Terraform's
//! `terraform init` for modules; commit the lock file).
//!
//! A source is `git::URL[//SUBDIR][?ref=REF]` (or `github.com/ORG/REPO`).
//! A pinned source is checked out at its locked commit; a new one is cloned,
//! its `ref` resolved to a commit and recorded. Modules a downloaded module
//! calls (git or local to it) are followed. `git` does the fetching.

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
}

/// One module source `kiln init` made available.
#[derive(Debug)]
pub struct Downloaded {
    pub source: String,
    pub commit: String,
    /// Already there at the locked commit.
    pub cached: bool,
}

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
            let Some(dir) = kiln_config::module_dir(&from, &call.source) else {
                continue;
            };
            if !seen.insert(dir.clone()) {
                continue;
            }
            if let Some(g) = kiln_config::git_source(&call.source) {
                let key = format!("{}@{}", g.url, g.reference.clone().unwrap_or_default());
                let checkout = ws.dir.join(kiln_config::git_cache_dir(&call.source));
                let (commit, cached) = fetch(&checkout, &g, lock.modules.get(&key))
                    .with_context(|| format!("module \"{}\" ({})", call.name, call.source))?;
                lock.modules.insert(key, commit.clone());
                out.push(Downloaded {
                    source: call.source.clone(),
                    commit,
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
