//! `kiln env`: list environments, destroy one, destroy the expired ones.

use anyhow::{Context, Result, bail};
use kiln_config::Config;
use kiln_plan::PlanOptions;
use kiln_store::StoreError;

use crate::args::{EnvCmd, Global, RunFlags};
use crate::commands::{execute, recover_if_needed, with_lock};
use crate::output::Output;
use crate::project::Project;
use crate::render;

pub async fn run(g: &Global, cmd: EnvCmd, out: &Output) -> Result<u8> {
    match cmd {
        EnvCmd::List { json } => list(&Project::open(g, None, "default")?, json, out).await,
        EnvCmd::Destroy {
            name,
            run,
            allow_destroy,
        } => {
            let project = Project::open(g, None, &name)?;
            destroy(&project, &run, &allow_destroy, false, out).await
        }
        EnvCmd::Gc {
            dry_run,
            parallelism,
        } => gc(g, dry_run, parallelism, out).await,
    }
}

fn when(secs: u64) -> String {
    if secs == 0 {
        return "-".into();
    }
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

async fn list(project: &Project, json: bool, out: &Output) -> Result<u8> {
    let envs = project.store.list_envs().await.with_context(|| {
        format!(
            "cannot list the environments of {}; check that it exists and is readable",
            project.store.describe()
        )
    })?;
    let mut rows = Vec::new();
    for env in envs {
        let Some(v) = project.store.read(&env).await? else {
            continue;
        };
        rows.push(v.state);
    }
    if json {
        let doc: Vec<serde_json::Value> = rows
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.env, "generation": s.generation, "resources": s.resources.len(),
                    "created_at": s.created_at, "updated_at": s.updated_at, "expires_at": s.expires_at,
                    "expired": s.expires_at.is_some_and(|e| e <= kiln_store::unix_now()),
                })
            })
            .collect();
        out.line(&serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    out.line(&format!(
        "{:<24} {:>10} {:>9}  {:<20}  {:<20}  {}",
        "NAME", "GENERATION", "RESOURCES", "CREATED", "LAST APPLIED", "EXPIRES"
    ));
    for s in rows {
        let expires = match s.expires_at {
            None => "never".to_string(),
            Some(e) if e <= kiln_store::unix_now() => format!("{} (expired)", when(e)),
            Some(e) => when(e),
        };
        out.line(&format!(
            "{:<24} {:>10} {:>9}  {:<20}  {:<20}  {expires}",
            s.env,
            s.generation,
            s.resources.len(),
            when(s.created_at),
            when(s.updated_at)
        ));
    }
    Ok(0)
}

/// Destroys every resource of the environment (from its state alone) and
/// removes the environment. The caller holds no lock; this takes it.
/// With `missing_ok` (from `gc`), an environment that is already gone
/// (another `gc` removed it) or no longer expired is left alone.
async fn destroy(
    project: &Project,
    run: &RunFlags,
    allow_destroy: &[String],
    missing_ok: bool,
    out: &Output,
) -> Result<u8> {
    with_lock(project, "env destroy", run.lock_timeout, out, async || {
        destroy_locked(project, run, allow_destroy, missing_ok, out).await
    })
    .await
}

async fn destroy_locked(
    project: &Project,
    run: &RunFlags,
    allow_destroy: &[String],
    missing_ok: bool,
    out: &Output,
) -> Result<u8> {
    let (state, version) = recover_if_needed(project, out).await?;
    if version.is_none() {
        if missing_ok {
            return Ok(0);
        }
        bail!(
            "environment {:?} does not exist; see `kiln env list`",
            project.env
        );
    }
    let expired = state
        .expires_at
        .is_some_and(|e| e <= kiln_store::unix_now());
    if missing_ok && !expired {
        // Re-applied with a new TTL since `gc` listed it.
        return Ok(0);
    }
    if !state.is_empty() {
        let registry = project.registry(None, None, Some(&state)).await?;
        let options = PlanOptions {
            env: project.env.clone(),
            destroy: true,
            allow_destroy: allow_destroy
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, _>>()?,
            root_dir: project.abs_dir.display().to_string(),
            ..Default::default()
        };
        // Destroying needs only the state: the configuration may be gone or
        // belong to another branch.
        let plan = kiln_plan::plan(&Config::default(), &state, registry.schemas(), &options)?;
        out.print(&render::plan_human(out, &plan));
        if !run.yes {
            bail!("pass --yes to destroy environment {:?}", project.env);
        }
        execute(project, &plan, None, state, version, run, out).await?;
    }
    project.store.remove_env(&project.env).await?;
    out.line(&format!(
        "Environment {:?} destroyed and removed.",
        project.env
    ));
    Ok(0)
}

async fn gc(g: &Global, dry_run: bool, parallelism: usize, out: &Output) -> Result<u8> {
    let base = Project::open(g, None, "default")?;
    let now = kiln_store::unix_now();
    let mut failed = 0;
    let envs = base.store.list_envs().await.with_context(|| {
        format!(
            "cannot list the environments of {}; check that it exists and is readable",
            base.store.describe()
        )
    })?;
    for env in envs {
        let Some(v) = base.store.read(&env).await? else {
            continue;
        };
        let Some(expires) = v.state.expires_at.filter(|e| *e <= now) else {
            continue;
        };
        if dry_run {
            out.line(&format!(
                "would destroy {env:?} ({} resources, expired {})",
                v.state.resources.len(),
                when(expires)
            ));
            continue;
        }
        let project = Project::open(g, None, &env)?;
        let run = RunFlags {
            yes: true,
            parallelism,
            ttl: None,
            lock_timeout: std::time::Duration::ZERO,
        };
        match destroy(&project, &run, &[], true, out).await {
            Ok(_) => {}
            // Another runner is collecting it right now: not an error.
            Err(e)
                if matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::Locked { .. })
                ) =>
            {
                out.status(&format!("skipping {env:?}: locked by another run"));
            }
            Err(e) => {
                out.error(&format!("could not destroy {env:?}: {e:#}"));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} expired environment(s) could not be destroyed; see the errors above");
    }
    Ok(0)
}
