//! Environments: list them, destroy one, and collect the expired ones
//! (`kiln env gc`), each destroyed from its state alone.

use anyhow::{Context, Result, bail};
use kiln_config::Config;
use kiln_plan::PlanOptions;
use kiln_state::State;
use kiln_store::StoreError;

use crate::{ApplyOptions, Observer, Workspace, apply_plan, recover_if_needed, with_lock};

/// How to destroy an environment.
#[derive(Debug, Clone, Default)]
pub struct EnvDestroyOptions {
    /// Stateful resources the user allows to be destroyed.
    pub allow_destroy: Vec<String>,
    /// The user said yes beforehand (`--yes`); without it nothing is
    /// destroyed (the plan is shown and the operation fails).
    pub approved: bool,
    pub apply: ApplyOptions,
}

/// What happened to one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvDestroyed {
    /// Its resources were destroyed and its state removed.
    Removed,
    /// Left alone: it is gone already, or no longer expired (for `gc`).
    Skipped,
}

/// Every environment's state in the workspace's store, in the store's
/// order.
///
/// # Errors
/// The store cannot be listed or a state cannot be read.
pub async fn list_envs(ws: &Workspace) -> Result<Vec<State>> {
    let envs = ws.store.list_envs().await.with_context(|| {
        format!(
            "cannot list the environments of {}; check that it exists and is readable",
            ws.store.describe()
        )
    })?;
    let mut states = Vec::new();
    for env in envs {
        if let Some(v) = ws.store.read(&env).await? {
            states.push(v.state);
        }
    }
    Ok(states)
}

/// `kiln env destroy NAME`: destroys every resource of the workspace's
/// environment (planned from its state alone: the configuration may be
/// gone or belong to another branch) and removes the environment.
///
/// # Errors
/// The environment does not exist, `approved` is false while there is
/// something to destroy, or the destroy fails.
pub async fn destroy_env(
    ws: &Workspace,
    options: &EnvDestroyOptions,
    obs: &dyn Observer,
) -> Result<EnvDestroyed> {
    with_lock(
        ws,
        "env destroy",
        options.apply.lock_timeout,
        obs,
        async || destroy_locked(ws, options, Expect::Exists, obs).await,
    )
    .await
}

/// Whether the environment must still exist (and be expired).
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// The user named it: it must exist.
    Exists,
    /// `gc` listed it as expired: another run may have removed it or
    /// applied it again since, and then it is left alone.
    Expired,
}

async fn destroy_locked(
    ws: &Workspace,
    options: &EnvDestroyOptions,
    expect: Expect,
    obs: &dyn Observer,
) -> Result<EnvDestroyed> {
    let (state, version) = recover_if_needed(ws, obs).await?;
    if version.is_none() {
        if expect == Expect::Expired {
            return Ok(EnvDestroyed::Skipped);
        }
        bail!(
            "environment {:?} does not exist; see `kiln env list`",
            ws.env
        );
    }
    let expired = state
        .expires_at
        .is_some_and(|e| e <= kiln_store::unix_now());
    if expect == Expect::Expired && !expired {
        // Re-applied with a new TTL since `gc` listed it.
        return Ok(EnvDestroyed::Skipped);
    }
    if !state.is_empty() {
        let registry = ws.registry(None, None, Some(&state)).await?;
        let plan_options = PlanOptions {
            env: ws.env.clone(),
            destroy: true,
            allow_destroy: options
                .allow_destroy
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, _>>()?,
            root_dir: ws.abs_dir.display().to_string(),
            ..Default::default()
        };
        let plan = kiln_plan::plan(
            &Config::default(),
            &state,
            registry.schemas(),
            &plan_options,
        )?;
        obs.planned(&plan);
        if !options.approved {
            bail!("pass --yes to destroy environment {:?}", ws.env);
        }
        apply_plan(ws, &plan, None, state, version, &options.apply, obs).await?;
    }
    ws.store.remove_env(&ws.env).await?;
    Ok(EnvDestroyed::Removed)
}

/// The environments of the workspace's store whose TTL has run out, with
/// their states.
pub async fn expired_envs(ws: &Workspace) -> Result<Vec<State>> {
    let now = kiln_store::unix_now();
    Ok(list_envs(ws)
        .await?
        .into_iter()
        .filter(|s| s.expires_at.is_some_and(|e| e <= now))
        .collect())
}

/// `kiln env gc`: destroys and removes every expired environment of the
/// workspace's store, one after the other, each under its own lock (one
/// another run holds is skipped), with the stateful resources
/// `allow_destroy` names allowed to go too. The names of the environments
/// removed; progress and each failure go to `obs`.
///
/// # Errors
/// The store cannot be listed, or some environment could not be destroyed
/// (after trying every one).
pub async fn gc(
    ws: &Workspace,
    parallelism: usize,
    allow_destroy: &[String],
    obs: &dyn Observer,
) -> Result<Vec<String>> {
    let (mut failed, mut removed) = (0, Vec::new());
    for state in expired_envs(ws).await? {
        let env = state.env;
        let target = ws.for_env(&env)?;
        let options = EnvDestroyOptions {
            allow_destroy: allow_destroy.to_vec(),
            approved: true,
            apply: ApplyOptions {
                parallelism,
                ..Default::default()
            },
        };
        let run = with_lock(
            &target,
            "env destroy",
            options.apply.lock_timeout,
            obs,
            async || destroy_locked(&target, &options, Expect::Expired, obs).await,
        )
        .await;
        match run {
            Ok(EnvDestroyed::Removed) => removed.push(env),
            Ok(EnvDestroyed::Skipped) => {}
            // Another runner is collecting it right now: not an error.
            Err(e)
                if matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::Locked { .. })
                ) =>
            {
                obs.status(&format!("skipping {env:?}: locked by another run"));
            }
            Err(e) => {
                obs.error(&format!("could not destroy {env:?}: {e:#}"));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} expired environment(s) could not be destroyed; see the errors above");
    }
    Ok(removed)
}
