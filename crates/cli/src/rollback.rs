//! `kiln rollback`: back to the previous generation in seconds, or to any
//! earlier one recorded in the state history.
//!
//! - Without `--to`: the previous generation kept by `apply --keep-previous`
//!   is still running, so only the traffic switches move (run-time updates,
//!   planned by `kiln_plan::rollback`); then the generations swap roles, so a
//!   second rollback returns.
//! - `--to N`: generation N's configuration and variable values are read
//!   back from the state history and planned as a rebuild against the current
//!   state: every stateless resource is created anew, health-checked, traffic
//!   moves through the switches, and the generation it replaces is destroyed
//!   (or kept with `--keep-previous`).

use anyhow::{Result, bail};
use kiln_state::{AppliedSource, State};

use crate::args::{PlanFlags, RollbackCmd};
use crate::commands::{confirm, execute, plan_config, recover_if_needed, with_lock};
use crate::output::{Output, Style};
use crate::project::Project;
use crate::render;

pub async fn run(project: &Project, cmd: RollbackCmd, out: &Output) -> Result<u8> {
    with_lock(project, "rollback", cmd.run.lock_timeout, out, async || {
        let (state, version) = recover_if_needed(project, out).await?;
        if state.resources.is_empty() {
            bail!(
                "environment {:?} has nothing to roll back: its state is empty",
                project.env
            );
        }
        let current = state.current_generation();
        let previous = state.previous.as_ref().map(|p| p.generation);
        let plan = match cmd.to {
            Some(n) if n == current => bail!(
                "generation {n} is already the current generation of {:?}; nothing to roll back",
                project.env
            ),
            Some(n) if Some(n) != previous => {
                let source = find_source(project, &state, n).await?;
                out.status(&format!(
                    "Recreating generation {n} of {:?} from its recorded configuration.",
                    project.env
                ));
                let (config, warnings) = kiln_config::parse_embedded(&source.files);
                if warnings.has_errors() {
                    return Err(warnings.into());
                }
                let flags = PlanFlags {
                    refresh: cmd.refresh,
                    rebuild: true,
                    keep_previous: cmd.keep_previous,
                    ..Default::default()
                };
                let mut state = state;
                let plan = plan_config(
                    project,
                    &config,
                    source.variables.clone(),
                    &flags,
                    false,
                    &mut state,
                    out,
                )
                .await?;
                let code = apply(project, plan, state, version, &cmd, out).await?;
                out.status(&format!(
                    "Generation {n} was recreated as generation {}.",
                    crate::commands::read_state(project)
                        .await?
                        .0
                        .current_generation()
                ));
                return Ok(code);
            }
            _ => {
                check_previous_intact(project, &state).await?;
                let registry = project.registry(None, None, Some(&state)).await?;
                kiln_plan::rollback(&state, registry.schemas(), &project.env)?
            }
        };
        apply(project, plan, state, version, &cmd, out).await
    })
    .await
}

async fn apply(
    project: &Project,
    plan: kiln_plan::Plan,
    state: State,
    version: Option<kiln_store::Version>,
    cmd: &RollbackCmd,
    out: &Output,
) -> Result<u8> {
    out.print(&render::plan_human(out, &plan));
    confirm(out, &cmd.run, "Roll back?")?;
    let code = execute(project, &plan, None, state, version, &cmd.run, out).await?;
    let (state, _) = crate::commands::read_state(project).await?;
    out.status_styled(
        Style::Green,
        &format!(
            "Rolled back: generation {} of {:?} is current{}.",
            state.current_generation(),
            project.env,
            match &state.previous {
                Some(p) => format!("; generation {} is kept for `kiln rollback`", p.generation),
                None => String::new(),
            }
        ),
    );
    Ok(code)
}

/// Refuses an instant rollback onto a previous generation that is no longer
/// running as recorded: traffic would move onto nothing.
async fn check_previous_intact(project: &Project, state: &State) -> Result<()> {
    let Some(prev) = &state.previous else {
        return Ok(());
    };
    let mut probe = State::new(&state.env, &state.lineage);
    for r in &prev.resources {
        probe.resources.insert(r.addr.clone(), r.clone());
    }
    let registry = project.registry(None, None, Some(&probe)).await?;
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
async fn find_source(project: &Project, state: &State, n: u64) -> Result<AppliedSource> {
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
            project.env,
            state.generation
        );
    }
    if let Some(src) = of(state) {
        return Ok(src);
    }
    for entry in project.store.history(&project.env).await? {
        let old = match project
            .store
            .read_version(&project.env, &entry.version)
            .await
        {
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
        project.env
    )
}
