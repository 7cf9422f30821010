//! `kiln env`: list environments, destroy one, destroy the expired ones.

use anyhow::Result;
use kiln_ops::{EnvDestroyOptions, EnvDestroyed};

use crate::args::{EnvCmd, Global};
use crate::output::Output;
use crate::report::Reporter;
use crate::workspace::open;

pub async fn run(g: &Global, cmd: EnvCmd, out: &Output) -> Result<u8> {
    match cmd {
        EnvCmd::List { json } => list(g, json, out).await,
        EnvCmd::Destroy {
            name,
            run,
            allow_destroy,
        } => {
            let options = EnvDestroyOptions {
                allow_destroy,
                approved: run.yes,
                apply: run.options(),
            };
            let reporter = Reporter::approved(out, run.yes);
            let ws = open(g, None, &name)?;
            if kiln_ops::destroy_env(&ws, &options, &reporter).await? == EnvDestroyed::Removed {
                out.line(&format!("Environment {name:?} destroyed and removed."));
            }
            Ok(0)
        }
        EnvCmd::Gc {
            dry_run,
            parallelism,
            allow_destroy,
        } => gc(g, dry_run, parallelism, allow_destroy, out).await,
    }
}

async fn gc(
    g: &Global,
    dry_run: bool,
    parallelism: usize,
    allow_destroy: Vec<String>,
    out: &Output,
) -> Result<u8> {
    let ws = open(g, None, "default")?;
    if dry_run {
        for s in kiln_ops::expired_envs(&ws).await? {
            let (n, expired) = (s.resources.len(), when(s.expires_at.unwrap_or(0)));
            out.line(&format!(
                "would destroy {:?} ({n} resources, expired {expired})",
                s.env
            ));
        }
        return Ok(0);
    }
    let reporter = Reporter::approved(out, true);
    for env in kiln_ops::gc(&ws, parallelism, &allow_destroy, &reporter).await? {
        out.line(&format!("Environment {env:?} destroyed and removed."));
    }
    Ok(0)
}

/// A Unix time as RFC 3339, or `-` for none.
fn when(secs: u64) -> String {
    if secs == 0 {
        return "-".into();
    }
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

async fn list(g: &Global, json: bool, out: &Output) -> Result<u8> {
    let states = kiln_ops::list_envs(&open(g, None, "default")?).await?;
    let now = kiln_store::unix_now();
    if json {
        let doc: Vec<serde_json::Value> = states.iter().map(|s| env_json(s, now)).collect();
        out.line(&serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    let row = |name: &str,
               generation: &str,
               resources: &str,
               created: &str,
               applied: &str,
               expires: &str| {
        format!(
            "{name:<24} {generation:>10} {resources:>9}  {created:<20}  {applied:<20}  {expires}"
        )
    };
    out.line(&row(
        "NAME",
        "GENERATION",
        "RESOURCES",
        "CREATED",
        "LAST APPLIED",
        "EXPIRES",
    ));
    for s in states {
        let expires = match s.expires_at {
            None => "never".to_string(),
            Some(e) if e <= now => format!("{} (expired)", when(e)),
            Some(e) => when(e),
        };
        out.line(&row(
            &s.env,
            &s.generation.to_string(),
            &s.resources.len().to_string(),
            &when(s.created_at),
            &when(s.updated_at),
            &expires,
        ));
    }
    Ok(0)
}

/// One environment in `kiln env list --json`.
fn env_json(s: &kiln_state::State, now: u64) -> serde_json::Value {
    serde_json::json!({
        "name": s.env, "generation": s.generation, "resources": s.resources.len(),
        "created_at": s.created_at, "updated_at": s.updated_at, "expires_at": s.expires_at,
        "expired": s.expires_at.is_some_and(|e| e <= now),
    })
}
