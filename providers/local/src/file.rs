//! `local_file`: a file with given content (or a copy of a source file) and a
//! mode. Its id is the absolute path, so reads need no context.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, Presence, ResourceSchema, Type, Value};
use kiln_provider::{CallContext, ReadResult};

use crate::{
    absolute, context_datadir, context_workdir, merge, remove_torn_writes, sha256_hex, str_attr,
    write_atomic,
};

const DEFAULT_MODE: &str = "0644";

pub(crate) fn schema() -> ResourceSchema {
    ResourceSchema::new()
        .attr(
            "path",
            AttributeSchema::required(Type::String)
                .describe("where the file goes; relative paths are resolved against the configuration's directory"),
        )
        .attr(
            "content",
            AttributeSchema::optional(Type::String).describe("the file's content"),
        )
        .attr(
            "source",
            AttributeSchema::optional(Type::String).describe("a file to copy instead of content"),
        )
        .attr(
            "mode",
            AttributeSchema::new(Type::String, Presence::OptionalComputed)
                .describe("octal permissions, \"0644\" by default"),
        )
        .attr(
            "id",
            AttributeSchema::computed(Type::String).describe("the file's absolute path"),
        )
        .attr(
            "checksum",
            AttributeSchema::computed(Type::String).describe("sha256 of the content, hex"),
        )
}

fn parse_mode(s: &str) -> Result<u32, Diagnostic> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            Diagnostic::error(format!("local_file: mode {s:?} is not an octal file mode"))
                .with_detail("write permissions in octal, like \"0644\" or \"0755\"")
        })
}

pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let set = |n: &str| config.get(n).is_some_and(|v| !v.is_null());
    if set("content") && set("source") {
        d.push(
            Diagnostic::error("local_file: content and source are both set")
                .with_detail("set one of them: content for inline text, source to copy a file"),
        );
    }
    if let Some(m) = str_attr(config, "mode")
        && let Err(e) = parse_mode(m)
    {
        d.push(e);
    }
    d
}

/// A file's path is a name the user chose, so the new object of a
/// replacement usually has the same path as the old one. Each object's id is
/// `PATH@TOKEN` (the token derived from its idempotency key), and the current
/// owner's token is recorded in `<datadir>/owners/`: deleting an object
/// removes the file only if that object still owns it, never a successor's.
fn owner_record(datadir: &Path, path: &Path) -> PathBuf {
    datadir
        .join("owners")
        .join(&sha256_hex(path.to_string_lossy().as_bytes())[..32])
}

fn token(idempotency_key: &str) -> String {
    sha256_hex(idempotency_key.as_bytes())[..16].to_string()
}

/// The path and owner token of an object id (ids without a token are owned
/// unconditionally).
pub(crate) fn split_id(id: &str) -> (&str, Option<&str>) {
    match id.rsplit_once('@') {
        Some((path, tok)) if tok.len() == 16 && tok.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (path, Some(tok))
        }
        _ => (id, None),
    }
}

pub(crate) fn create(
    config: &Value,
    ctx: &CallContext,
    idempotency_key: &str,
) -> Result<(String, Value), Diagnostic> {
    if let Some(e) = validate(config).into_iter().next() {
        return Err(e);
    }
    let workdir = context_workdir(ctx);
    let path_attr = str_attr(config, "path")
        .ok_or_else(|| Diagnostic::error("local_file: path is required"))?;
    let path = absolute(&workdir, path_attr);
    let content: Vec<u8> = match (str_attr(config, "content"), str_attr(config, "source")) {
        (Some(c), _) => c.as_bytes().to_vec(),
        (None, Some(src)) => {
            let src_path = absolute(&workdir, src);
            std::fs::read(&src_path).map_err(|e| {
                Diagnostic::error(format!(
                    "local_file: cannot read source {src:?} ({}): {e}",
                    src_path.display()
                ))
                .with_detail("check that the source file exists and is readable")
            })?
        }
        (None, None) => Vec::new(),
    };
    let mode_s = str_attr(config, "mode").unwrap_or(DEFAULT_MODE);
    let mode = parse_mode(mode_s)?;
    let tok = token(idempotency_key);
    let record = owner_record(&context_datadir(ctx), &path);
    keep_predecessor(&record, &path, &tok).map_err(|e| {
        Diagnostic::error(format!(
            "local_file: cannot keep the file {} it replaces: {e}",
            path.display()
        ))
    })?;
    write_atomic(&path, &content)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| {
            Diagnostic::error(format!("local_file: cannot write {}: {e}", path.display()))
        })?;
    record
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&record, &tok))
        .map_err(|e| {
            Diagnostic::error(format!(
                "local_file: cannot record the owner of {}: {e}",
                path.display()
            ))
        })?;
    Ok(recorded(config, &path, &tok, mode_s, &content))
}

/// The id (`PATH@TOKEN`) and attributes of the object at `path` owned by
/// `tok`: what a create records, and what recovery finds.
fn recorded(config: &Value, path: &Path, tok: &str, mode: &str, content: &[u8]) -> (String, Value) {
    let id = format!("{}@{tok}", path.to_string_lossy());
    let state = merge(
        config,
        [
            ("mode", Value::string(mode)),
            ("id", Value::string(&id)),
            ("checksum", Value::string(sha256_hex(content))),
        ],
    );
    (id, state)
}

/// The file a create with this key made, if it made one: the configured
/// path, owned by the key's token (a file there owned by another object,
/// or by nobody, is not this create's).
pub(crate) fn find(
    config: &Value,
    idempotency_key: &str,
    ctx: &CallContext,
) -> Option<(String, Value)> {
    let path = absolute(&context_workdir(ctx), str_attr(config, "path")?);
    // The interrupted create may have died writing the file: its temporary
    // file is debris, whatever is found.
    remove_torn_writes(&path);
    let tok = token(idempotency_key);
    let owner = std::fs::read_to_string(owner_record(&context_datadir(ctx), &path)).ok()?;
    if owner.trim() != tok {
        return None;
    }
    let content = std::fs::read(&path).ok()?;
    let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o7777;
    Some(recorded(
        config,
        &path,
        &tok,
        &format!("{mode:04o}"),
        &content,
    ))
}

pub(crate) fn read(id: &str, state: &Value) -> ReadResult {
    let (id, _) = split_id(id);
    let path = Path::new(id);
    let content = match std::fs::read(path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ReadResult {
                state: None,
                drift: None,
                diagnostics: Diagnostics::new(),
            };
        }
        Err(e) => {
            return ReadResult {
                state: Some(state.clone()),
                drift: None,
                diagnostics: Diagnostic::error(format!("local_file: cannot read {id}: {e}")).into(),
            };
        }
    };
    let checksum = sha256_hex(&content);
    let mut updates: Vec<(&'static str, Value)> = Vec::new();
    let mut drift = Vec::new();
    if str_attr(state, "checksum") != Some(checksum.as_str()) {
        drift.push(format!("the content of {id} changed outside kiln"));
        updates.push(("checksum", Value::string(&checksum)));
        if str_attr(state, "content").is_some()
            && let Ok(text) = String::from_utf8(content)
        {
            updates.push(("content", Value::string(text)));
        }
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = format!("{:04o}", meta.permissions().mode() & 0o7777);
        let recorded = str_attr(state, "mode").and_then(|m| parse_mode(m).ok());
        if recorded.is_some_and(|r| r != meta.permissions().mode() & 0o7777) {
            drift.push(format!("the mode of {id} changed outside kiln to {mode}"));
            updates.push(("mode", Value::string(mode)));
        }
    }
    ReadResult {
        state: Some(merge(state, updates)),
        drift: (!drift.is_empty()).then(|| drift.join("; ")),
        diagnostics: Diagnostics::new(),
    }
}

pub(crate) fn delete(id: &str, ctx: &CallContext) -> Result<(), Diagnostic> {
    let (path, tok) = split_id(id);
    let record = owner_record(&context_datadir(ctx), Path::new(path));
    if let Some(tok) = tok {
        match std::fs::read_to_string(&record) {
            // A newer object owns the path now: its file stays, and this
            // object's kept content is no longer needed.
            Ok(owner) if owner.trim() != tok => {
                let _ = std::fs::remove_file(backup_path(&record, tok));
                return Ok(());
            }
            _ => {
                let _ = std::fs::remove_file(&record);
            }
        }
    }
    let id = path;
    match std::fs::remove_file(id) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Diagnostic::error(format!(
                "local_file: cannot remove {id}: {e}"
            )));
        }
    }
    // The object this one replaced at the same path still exists (a
    // rollback, or recovery of a create that was never recorded): its file
    // comes back, as it was.
    restore_predecessor(&record, Path::new(id)).map_err(|e| {
        Diagnostic::error(format!(
            "local_file: cannot restore the file {id} this object replaced: {e}"
        ))
    })
}

/// Where the content of the object owning a path is kept while a newer
/// object at the same path owns it: `<owner record>.<token>`.
fn backup_path(record: &Path, tok: &str) -> PathBuf {
    let mut name = record.as_os_str().to_owned();
    name.push(".");
    name.push(tok);
    PathBuf::from(name)
}

/// Before a new object (`tok`) writes `path`, keeps the file of the object
/// that owns it (a hard link to its content), so that deleting the new
/// object, not the old one, puts the old file back.
fn keep_predecessor(record: &Path, path: &Path, tok: &str) -> std::io::Result<()> {
    let Ok(owner) = std::fs::read_to_string(record) else {
        return Ok(());
    };
    let owner = owner.trim();
    if owner == tok || !path.exists() {
        return Ok(());
    }
    let backup = backup_path(record, owner);
    let _ = std::fs::remove_file(&backup);
    std::fs::hard_link(path, &backup).or_else(|_| std::fs::copy(path, &backup).map(|_| ()))
}

/// After the owner of `path` deleted its file: the newest kept predecessor
/// (see [`keep_predecessor`]) becomes the file and its owner again.
fn restore_predecessor(record: &Path, path: &Path) -> std::io::Result<()> {
    let (Some(dir), Some(stem)) = (record.parent(), record.file_name()) else {
        return Ok(());
    };
    let prefix = format!("{}.", stem.to_string_lossy());
    let mut kept: Vec<(std::time::SystemTime, PathBuf, String)> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(tok) = name.strip_prefix(&prefix) {
            let at = entry.metadata()?.modified()?;
            kept.push((at, entry.path(), tok.to_string()));
        }
    }
    let Some((_, backup, tok)) = kept.into_iter().max_by_key(|(at, _, _)| *at) else {
        return Ok(());
    };
    std::fs::rename(&backup, path)?;
    std::fs::write(record, tok)
}
