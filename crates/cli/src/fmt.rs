//! `kiln fmt`: rewrites configuration files in the canonical layout
//! (`kiln_config::format`), or with `--check` lists those that are not.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::args::FmtCmd;
use crate::output::Output;

/// Exit code 0 when everything is (now) formatted; 1 with `--check` if a
/// file is not, or if a file has a syntax error.
pub fn run(chdir: Option<&Path>, cmd: FmtCmd, out: &Output) -> Result<u8> {
    let base = chdir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dir = match &cmd.dir.dir {
        Some(d) => base.join(d),
        None => base,
    };
    let mut files = Vec::new();
    collect(&dir, cmd.recursive, &mut files)?;
    let (mut unformatted, mut failed) = (0usize, false);
    for path in files {
        match format_file(&path, cmd.check, out)? {
            Some(true) => unformatted += 1,
            Some(false) => {}
            None => failed = true,
        }
    }
    if failed {
        anyhow::bail!("some files have syntax errors; fix them and run kiln fmt again");
    }
    if cmd.check && unformatted > 0 {
        out.error(&format!(
            "{unformatted} file{} not formatted; run kiln fmt to fix",
            if unformatted == 1 { " is" } else { "s are" }
        ));
        return Ok(1);
    }
    Ok(0)
}

/// Formats one file (rewriting it unless `check`), listing it if it was
/// not formatted: whether it was not, or `None` if it does not parse (its
/// errors reported).
fn format_file(path: &Path, check: bool, out: &Output) -> Result<Option<bool>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = shown(path);
    let formatted = match kiln_config::format(&name, &text) {
        Ok(f) => f,
        Err(d) => {
            out.diagnostics(&d);
            return Ok(None);
        }
    };
    if formatted == text {
        return Ok(Some(false));
    }
    out.line(&name);
    if !check {
        std::fs::write(path, formatted)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Some(true))
}

/// The `*.hcl` and `*.tf` files of `dir` (and its subdirectories), sorted.
fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_dir() {
            if recursive && !hidden {
                collect(&path, recursive, out)?;
            }
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            // JSON syntax is not HCL's to lay out (as `terraform fmt`).
            .is_some_and(|n| kiln_config::is_config_file(n) && !n.ends_with(".json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn shown(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}
