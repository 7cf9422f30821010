//! Saved plans (`kiln plan --out FILE`, `kiln apply FILE`): a JSON document
//! with the plan, mode 0600 (it may hold sensitive values), sealed when
//! state encryption is on. Ephemeral variables are never saved: applying
//! asks for them again.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kiln_model::Value;
use kiln_plan::Plan;

use crate::VarInputs;
use crate::workspace::sealer;

/// A plan read from a file, with where it came from (for messages).
pub struct SavedPlan {
    pub plan: Plan,
    pub path: PathBuf,
}

/// Writes `plan` to `path` (created or truncated, mode 0600, synced).
///
/// # Errors
/// The file cannot be written, or the state's encryption cannot seal it.
pub fn save_plan(path: &Path, plan: &Plan) -> Result<()> {
    let doc = serde_json::json!({ "kiln_saved_plan": 1, "plan": plan });
    let bytes =
        kiln_store::seal::Sealer::seal_with(sealer()?.as_deref(), serde_json::to_vec(&doc)?)?;
    write_private(path, &bytes)
        .with_context(|| format!("cannot write the plan to {}", path.display()))
}

/// Writes `bytes` to `path` readable by its owner only (0600 on Unix), and
/// syncs it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads a plan saved by [`save_plan`], taking each ephemeral variable's
/// value again from `vars` (`--var NAME=VALUE`) or the environment
/// (`KILN_VAR_NAME`, `TF_VAR_NAME`).
///
/// # Errors
/// The file cannot be read or opened, is not a saved plan, was saved by a
/// newer kiln, or a required ephemeral variable has no value.
pub fn load_plan(path: &Path, vars: &VarInputs) -> Result<SavedPlan> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the plan file {}", path.display()))?;
    let bytes = kiln_store::seal::Sealer::open(
        sealer()?.as_deref(),
        &bytes,
        &format!("the plan file {}", path.display()),
    )?;
    #[derive(serde::Deserialize)]
    struct Saved {
        kiln_saved_plan: u32,
        plan: Plan,
    }
    let saved: Saved = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a plan saved by `kiln plan --out`",
            path.display()
        )
    })?;
    if saved.kiln_saved_plan != 1 || saved.plan.format_version > kiln_plan::PLAN_FORMAT_VERSION {
        bail!(
            "{} was saved by a newer kiln (plan format {}); plan again with this version",
            path.display(),
            saved.plan.format_version
        );
    }
    let mut plan = saved.plan;
    ephemeral_again(&mut plan, vars);
    check_ephemeral(&plan, path)?;
    Ok(SavedPlan {
        plan,
        path: path.to_path_buf(),
    })
}

/// A saved plan holds no ephemeral variable's value: each is taken again
/// from `--var NAME=VALUE` or `KILN_VAR_NAME` (converted to its type when
/// the configuration is evaluated).
fn ephemeral_again(plan: &mut Plan, args: &VarInputs) {
    for name in &plan.ephemeral_variables {
        let from_flag = args.vars.iter().rev().find_map(|raw| {
            raw.split_once('=')
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.to_string())
        });
        let raw = from_flag
            .or_else(|| std::env::var(format!("KILN_VAR_{name}")).ok())
            .or_else(|| std::env::var(format!("TF_VAR_{name}")).ok());
        if let Some(raw) = raw {
            plan.ephemeral.insert(name.clone(), Value::from(raw));
        }
    }
}

/// Fails for a required ephemeral variable (no default) still without a
/// value.
fn check_ephemeral(plan: &Plan, path: &Path) -> Result<()> {
    let missing: Vec<&String> = plan
        .ephemeral_variables
        .iter()
        .filter(|n| !plan.ephemeral.contains_key(*n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let (config, _) = kiln_config::parse_embedded(&plan.source.files);
    let required: Vec<&str> = missing
        .iter()
        .filter(|n| {
            config
                .variables
                .iter()
                .any(|v| &v.name == **n && v.default.is_none())
        })
        .map(|n| n.as_str())
        .collect();
    if let Some(first) = required.first() {
        bail!(
            "the saved plan {} holds no value for the ephemeral variable{} {}: ephemeral values are never saved; give {} again, with --var {first}=VALUE or KILN_VAR_{first}",
            path.display(),
            if required.len() == 1 { "" } else { "s" },
            required.join(", "),
            if required.len() == 1 { "it" } else { "them" },
        );
    }
    Ok(())
}
