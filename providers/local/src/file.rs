//! `local_file`: a file with given content (or a copy of a source file) and a
//! mode. Its id is the absolute path, so reads need no context.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, Presence, ResourceSchema, Type, Value};
use kiln_provider::{CallContext, ReadResult};

use crate::{absolute, context_workdir, merge, sha256_hex, str_attr, write_atomic};

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

pub(crate) fn create(config: &Value, ctx: &CallContext) -> Result<(String, Value), Diagnostic> {
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
    write_atomic(&path, &content)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| {
            Diagnostic::error(format!("local_file: cannot write {}: {e}", path.display()))
        })?;
    let id = path.to_string_lossy().into_owned();
    let state = merge(
        config,
        [
            ("mode", Value::string(mode_s)),
            ("id", Value::string(&id)),
            ("checksum", Value::string(sha256_hex(&content))),
        ],
    );
    Ok((id, state))
}

pub(crate) fn read(id: &str, state: &Value) -> ReadResult {
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

pub(crate) fn delete(id: &str) -> Result<(), Diagnostic> {
    match std::fs::remove_file(id) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Diagnostic::error(format!(
            "local_file: cannot remove {id}: {e}"
        ))),
    }
}
