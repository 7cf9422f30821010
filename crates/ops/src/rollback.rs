//! `kiln rollback`: back to the previous generation in seconds, or to any
//! earlier one recorded in the state history.
//!
//! - Without `to`: the previous generation kept by `apply --keep-previous`
//!   is still running, so only the traffic switches move (run-time updates,
//!   planned by `kiln_plan::rollback`); then the generations swap roles, so a
//!   second rollback returns.
//! - `to: Some(N)`: generation N's configuration and variable values are
//!   read back from the state history and planned as a rebuild against the
//!   current state: every stateless resource is created anew,
//!   health-checked, traffic moves through the switches, and the generation
//!   it replaces is destroyed (or kept with `keep_previous`).

use anyhow::{Result, bail};
use kiln_state::{AppliedSource, State};

use crate::{
    ApplyOptions, Observer, PlanRequest, Workspace, apply_plan, plan_config, read_state,
    recover_if_needed, with_lock,
};

/// How to roll back.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// The generation to return to; `None` is the previous one.
    pub to: Option<u64>,
    /// With `to`: read the current objects back before planning.
    pub refresh: bool,
    /// With `to`: keep the generation it replaces for another rollback.
    pub keep_previous: bool,
    pub apply: ApplyOptions,
}

/// What a rollback left.
#[derive(Debug)]
pub struct RolledBack {
    /// The state as written after the rollback.
    pub state: State,
    /// With `to`: the generation that was recreated (the state's current
    /// generation is its new number).
    pub recreated: Option<u64>,
}

/// Rolls the environment back, under the lock: the plan is shown through
/// [`Observer::planned`] and confirmed through [`Observer::confirm`].
///
/// # Errors
/// An empty state, a generation that does not exist or whose configuration
/// is no longer in the history, a previous generation that is no longer
/// intact, and every failure of an apply.
pub async fn rollback(
    ws: &Workspace,
    options: &RollbackOptions,
    obs: &dyn Observer,
) -> Result<RolledBack> {
    with_lock(ws, "rollback", options.apply.lock_timeout, obs, async || {
        let (mut state, version) = recover_if_needed(ws, obs).await?;
        if state.resources.is_empty() {
            bail!(
                "environment {:?} has nothing to roll back: its state is empty",
                ws.env
            );
        }
        let current = state.current_generation();
        let previous = state.previous.as_ref().map(|p| p.generation);
        let (plan, recreated) = match options.to {
            Some(n) if n == current => bail!(
                "generation {n} is already the current generation of {:?}; nothing to roll back",
                ws.env
            ),
            Some(n) if Some(n) != previous => {
                let source = find_source(ws, &state, n).await?;
                obs.status(&format!(
                    "Recreating generation {n} of {:?} from its recorded configuration.",
                    ws.env
                ));
                let (config, warnings) = kiln_config::parse_embedded(&source.files);
                if warnings.has_errors() {
                    return Err(warnings.into());
                }
                let request = PlanRequest {
                    refresh: options.refresh,
                    rebuild: true,
                    keep_previous: options.keep_previous,
                    ..Default::default()
                };
                let plan =
                    plan_config(
                        ws,
                        &config,
                        None,
                        source.variables.clone(),
                        &request,
                        &mut state,
                        obs,
                    )
                        .await?;
                (plan, Some(n))
            }
            _ => {
                check_previous_intact(ws, &state).await?;
                let registry = ws.registry(None, None, Some(&state)).await?;
                (kiln_plan::rollback(&state, registry.schemas(), &ws.env)?, None)
            }
        };
        obs.planned(&plan);
        obs.confirm("Roll back?")?;
        apply_plan(ws, &plan, None, state, version, &options.apply, obs).await?;
        let (state, _) = read_state(ws).await?;
        Ok(RolledBack { state, recreated })
    })
    .await
}

/// Refuses an instant rollback onto a previous generation that is no longer
/// running as recorded: traffic would move onto nothing.
async fn check_previous_intact(ws: &Workspace, state: &State) -> Result<()> {
    let Some(prev) = &state.previous else {
        return Ok(());
    };
    let mut probe = State::new(&state.env, &state.lineage);
    for r in &prev.resources {
        probe.resources.insert(r.addr.clone(), r.clone());
    }
    let registry = ws.registry(None, None, Some(&probe)).await?;
    let report = kiln_engine::refresh(&probe, &registry, 10).await;
    if report.diagnostics.has_errors() {
        return Err(report.diagnostics.into());
    }
    let mut broken: Vec<String> = report.gone.iter().map(|a| format!("{a} is gone")).collect();
    broken.extend(report.drifted.iter().map(|(a, why)| format!("{a}: {why}")));
    if !broken.is_empty() {
        bail!(
            "the previous generation {} is no longer intact ({}); recreate it with `kiln rollback --to {}`",
            prev.generation,
            broken.join("; "),
            prev.generation
        );
    }
    Ok(())
}

/// The configuration generation `n` was applied from: in the state (current
/// or previous) or in its history, newest first.
async fn find_source(ws: &Workspace, state: &State, n: u64) -> Result<AppliedSource> {
    let of = |s: &State| -> Option<AppliedSource> {
        s.source
            .iter()
            .chain(s.previous.iter().filter_map(|p| p.source.as_ref()))
            .find(|src| src.generation == n)
            .cloned()
    };
    if n == 0 || n > state.generation {
        bail!(
            "environment {:?} has no generation {n}: its generations are 1 to {}",
            ws.env,
            state.generation
        );
    }
    if let Some(src) = of(state) {
        return Ok(src);
    }
    for entry in ws.store.history(&ws.env).await? {
        let old = match ws.store.read_version(&ws.env, &entry.version).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("skipping history version {}: {e}", entry.version);
                continue;
            }
        };
        if let Some(src) = of(&old) {
            return Ok(src);
        }
    }
    bail!(
        "the configuration of generation {n} of {:?} is not in the state history (it was applied by an older kiln, or its history was pruned); `kiln state history` lists what is kept",
        ws.env
    )
}
