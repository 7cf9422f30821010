//! `local_artifact`: a directory baked into a content-addressed store,
//! `<datadir>/artifacts/<digest>/` — the local image. The digest covers every
//! file's relative path, executable bit and content (and symlink targets), so
//! identical content gives the identical artifact and baking is idempotent.
//!
//! A read re-digests the source directory: when its content changed, the
//! artifact reports drift and the next plan bakes a new one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, ResourceSchema, Type, Value};
use kiln_provider::{CallContext, ReadResult};
use sha2::{Digest, Sha256};

use crate::{absolute, context_datadir, context_workdir, hex, merge, str_attr};

pub(crate) fn schema() -> ResourceSchema {
    ResourceSchema::new()
        .attr(
            "source_dir",
            AttributeSchema::required(Type::String)
                .describe("the directory to bake; relative paths are resolved against the configuration's directory"),
        )
        .attr(
            "id",
            AttributeSchema::computed(Type::String).describe("the digest"),
        )
        .attr(
            "digest",
            AttributeSchema::computed(Type::String)
                .describe("sha256 over the sorted relative paths and contents of every file"),
        )
        .attr(
            "path",
            AttributeSchema::computed(Type::String).describe("the baked artifact's directory"),
        )
}

/// One entry of a source tree.
enum Entry {
    File {
        rel: String,
        abs: PathBuf,
        exec: bool,
    },
    Link {
        rel: String,
        target: PathBuf,
    },
}

impl Entry {
    fn rel(&self) -> &str {
        match self {
            Entry::File { rel, .. } | Entry::Link { rel, .. } => rel,
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let abs = e.path();
        let rel = abs
            .strip_prefix(root)
            .unwrap_or(&abs)
            .to_string_lossy()
            .into_owned();
        let ft = e.file_type()?;
        if ft.is_symlink() {
            out.push(Entry::Link {
                rel,
                target: std::fs::read_link(&abs)?,
            });
        } else if ft.is_dir() {
            walk(root, &abs, out)?;
        } else if ft.is_file() {
            let exec = e.metadata()?.permissions().mode() & 0o111 != 0;
            out.push(Entry::File { rel, abs, exec });
        }
    }
    Ok(())
}

fn entries(root: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.rel().cmp(b.rel()));
    Ok(out)
}

/// The digest of a directory tree (hex sha256).
pub fn digest_dir(root: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for e in entries(root)? {
        match e {
            Entry::File { rel, abs, exec } => {
                let content = std::fs::read(&abs)?;
                h.update(if exec { b"x" } else { b"f" });
                h.update((rel.len() as u64).to_le_bytes());
                h.update(rel.as_bytes());
                h.update((content.len() as u64).to_le_bytes());
                h.update(&content);
            }
            Entry::Link { rel, target } => {
                let t = target.to_string_lossy();
                h.update(b"l");
                h.update((rel.len() as u64).to_le_bytes());
                h.update(rel.as_bytes());
                h.update((t.len() as u64).to_le_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    Ok(hex(&h.finalize()))
}

fn copy_tree(root: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in entries(root)? {
        let dest = to.join(e.rel());
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p)?;
        }
        match e {
            Entry::File { abs, .. } => {
                std::fs::copy(&abs, &dest)?;
            }
            Entry::Link { target, .. } => std::os::unix::fs::symlink(&target, &dest)?,
        }
    }
    Ok(())
}

fn missing_source(attr: &str, resolved: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(format!(
        "local_artifact: source directory {attr:?} ({}) cannot be read: {e}",
        resolved.display()
    ))
    .with_detail("check source_dir: it must name an existing directory, relative to the configuration's directory")
}

/// Artifacts are shared by content: two objects (an old and a new
/// generation, say) with the same digest use one directory. Each object holds
/// a reference, a file under `<store>/.refs/<digest>/`; deleting an object
/// drops its reference, and the directory goes with the last one.
static REFS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ref_file(artifact_dir: &Path, object: &str) -> Option<PathBuf> {
    let digest = artifact_dir.file_name()?.to_str()?;
    Some(
        artifact_dir
            .parent()?
            .join(".refs")
            .join(digest)
            .join(object),
    )
}

/// The object id: the digest and a reference unique to this object.
fn object_id(digest: &str, idempotency_key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    idempotency_key.hash(&mut h);
    format!("{digest}:{:016x}", h.finish())
}

pub(crate) fn create(
    config: &Value,
    ctx: &CallContext,
    idempotency_key: &str,
) -> Result<(String, Value), Diagnostic> {
    let attr = str_attr(config, "source_dir")
        .ok_or_else(|| Diagnostic::error("local_artifact: source_dir is required"))?;
    let source = absolute(&context_workdir(ctx), attr);
    if !source.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotFound, "not an existing directory");
        return Err(missing_source(attr, &source, &e));
    }
    let digest = digest_dir(&source).map_err(|e| missing_source(attr, &source, &e))?;
    let store = context_datadir(ctx).join("artifacts");
    let dest = store.join(&digest);
    if !dest.is_dir() {
        // Bake into a temporary directory, then rename: a crash never leaves a
        // half-copied artifact under its digest.
        let tmp = store.join(format!(".tmp-{digest}-{}", rand::random::<u32>()));
        let baked = copy_tree(&source, &tmp).and_then(|()| std::fs::rename(&tmp, &dest));
        if let Err(e) = baked {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another apply may have baked the same digest meanwhile.
            if !dest.is_dir() {
                return Err(Diagnostic::error(format!(
                    "local_artifact: cannot bake {} into {}: {e}",
                    source.display(),
                    dest.display()
                )));
            }
        }
    }
    let id = object_id(&digest, idempotency_key);
    let object = id.rsplit(':').next().unwrap_or_default();
    if let Some(r) = ref_file(&dest, object) {
        let _guard = REFS.lock();
        let made = r
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&r, b""));
        if let Err(e) = made {
            return Err(Diagnostic::error(format!(
                "local_artifact: cannot record a reference to {}: {e}",
                dest.display()
            )));
        }
    }
    let state = merge(
        config,
        [
            ("id", Value::string(&id)),
            ("digest", Value::string(&digest)),
            ("path", Value::string(dest.to_string_lossy())),
        ],
    );
    Ok((id, state))
}

pub(crate) fn read(state: &Value, workdir: &Path) -> ReadResult {
    let gone = ReadResult {
        state: None,
        drift: None,
        diagnostics: Diagnostics::new(),
    };
    let Some(path) = str_attr(state, "path") else {
        return gone;
    };
    if !Path::new(path).is_dir() {
        return gone;
    }
    // A changed source means a new artifact must be baked. A vanished source
    // does not: the baked artifact is still good.
    let mut drift = None;
    if let Some(attr) = str_attr(state, "source_dir") {
        let source = absolute(workdir, attr);
        if source.is_dir()
            && let Ok(now) = digest_dir(&source)
            && Some(now.as_str()) != str_attr(state, "digest")
        {
            drift = Some(format!(
                "the content of source directory {attr:?} changed: digest {}",
                &now[..12.min(now.len())]
            ));
        }
    }
    ReadResult {
        state: Some(state.clone()),
        drift,
        diagnostics: Diagnostics::new(),
    }
}

pub(crate) fn delete(state: &Value) -> Result<(), Diagnostic> {
    let Some(path) = str_attr(state, "path") else {
        return Ok(());
    };
    let _guard = REFS.lock();
    let object = str_attr(state, "id")
        .and_then(|id| id.rsplit_once(':'))
        .map(|(_, o)| o.to_string());
    if let Some(r) = object.and_then(|o| ref_file(Path::new(path), &o)) {
        let _ = std::fs::remove_file(&r);
        let refs = r.parent().map(Path::to_path_buf);
        let others = refs
            .as_ref()
            .and_then(|d| std::fs::read_dir(d).ok())
            .is_some_and(|mut it| it.next().is_some());
        if others {
            // Another object still uses this content.
            return Ok(());
        }
        if let Some(d) = refs {
            let _ = std::fs::remove_dir(d);
        }
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Diagnostic::error(format!(
            "local_artifact: cannot remove {path}: {e}"
        ))),
    }
}
