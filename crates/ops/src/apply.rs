//! Applying: a fresh plan, a saved plan, a destroy — each under the lock,
//! after recovery — and the one place a plan is executed and its state
//! written ([`apply_plan`]).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kiln_plan::Plan;
use kiln_state::State;
use kiln_store::Version;
use tokio_util::sync::CancellationToken;

use crate::plan::{make_plan, with_config};
use crate::recover::{clear_journal, fresh_state};
use crate::{Observer, PlanRequest, SavedPlan, Workspace, recover_if_needed, with_lock};

/// How to run an apply (the flags `apply`, `destroy`, `rollback` and `env`
/// share).
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// The most provider calls in flight at once; 0 means unlimited.
    pub parallelism: usize,
    /// The environment expires this long after the apply (`--ttl`), for
    /// `kiln env gc`; an apply with nothing to change renews it.
    pub ttl: Option<Duration>,
    /// How long to wait for another run's lock.
    pub lock_timeout: Duration,
    /// Completes when the user interrupts (the binary: Ctrl-C), and is
    /// awaited only while steps run: then no new step starts, running ones
    /// finish and are recorded, and the apply fails saying it was
    /// interrupted.
    pub interrupt: Option<Interrupt>,
}

/// The source of a user's interrupt: each call returns a future that
/// completes when the user interrupts.
#[derive(Clone)]
pub struct Interrupt(pub Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>);

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interrupt")
    }
}

/// What an apply did, when it succeeded.
#[derive(Debug)]
pub enum Applied {
    /// The plan had no changes; with `ttl`, the expiry was renewed.
    Unchanged { expiry_renewed: Option<Duration> },
    /// A destroy found an empty state.
    NothingToDestroy,
    /// Every step succeeded.
    Done(Box<Done>),
}

/// A plan applied in full.
#[derive(Debug)]
pub struct Done {
    /// The state as written.
    pub state: State,
    /// What was done, in the past tense ("2 created, 1 destroyed").
    pub summary: String,
    pub elapsed: Duration,
    /// The plan destroyed everything.
    pub destroy: bool,
}

/// `kiln apply`: under the lock, recovers, plans (shown through
/// [`Observer::planned`]), asks [`Observer::confirm`], and applies.
pub async fn apply(
    ws: &Workspace,
    request: &PlanRequest,
    options: &ApplyOptions,
    obs: &dyn Observer,
) -> Result<Applied> {
    with_lock(ws, "apply", options.lock_timeout, obs, async || {
        let ((mut state, version), loaded) = with_config(ws, recover_if_needed(ws, obs)).await?;
        let plan = make_plan(ws, &loaded, request, &mut state, obs).await?;
        obs.planned(&plan);
        if !plan.has_changes() {
            ws.release((plan, loaded));
            return extend_ttl(ws, state, version, options).await;
        }
        obs.confirm("Apply these changes?")?;
        let applied = apply_plan(ws, &plan, Some(loaded.0), state, version, options, obs).await;
        ws.release(plan);
        applied
    })
    .await
}

/// `kiln apply FILE`: applies a saved plan exactly, under the lock, if the
/// state is still the one it was made against (same lineage and serial).
pub async fn apply_saved(
    ws: &Workspace,
    saved: &SavedPlan,
    options: &ApplyOptions,
    obs: &dyn Observer,
) -> Result<Applied> {
    let (plan, path) = (&saved.plan, saved.path.display());
    if plan.env != ws.env {
        bail!(
            "the plan in {path} is for environment {:?}, not {:?}; pass --env {}",
            plan.env,
            ws.env,
            plan.env
        );
    }
    with_lock(ws, "apply", options.lock_timeout, obs, async || {
        let (state, version) = recover_if_needed(ws, obs).await?;
        if state.lineage != plan.prior_lineage {
            bail!(
                "the saved plan {path} was made against another state (lineage {}), not the state of {:?} here (lineage {}): it was planned in another directory or backend; run `kiln plan --out` here",
                if plan.prior_lineage.is_empty() { "none yet" } else { &plan.prior_lineage },
                ws.env,
                if state.lineage.is_empty() { "none yet" } else { &state.lineage },
            );
        }
        if state.serial != plan.prior_serial {
            bail!(
                "the saved plan {path} is stale: the state changed since it was made (it was planned against serial {}, the state is now at serial {}); run `kiln plan --out` again",
                plan.prior_serial,
                state.serial
            );
        }
        obs.planned(plan);
        if !plan.has_changes() {
            return extend_ttl(ws, state, version, options).await;
        }
        apply_plan(ws, plan, None, state, version, options, obs).await
    })
    .await
}

/// `kiln destroy`: under the lock, recovers, plans the destruction of
/// everything in the state, asks [`Observer::confirm`], and applies.
pub async fn destroy(
    ws: &Workspace,
    request: &PlanRequest,
    options: &ApplyOptions,
    obs: &dyn Observer,
) -> Result<Applied> {
    let request = PlanRequest {
        destroy: true,
        ..request.clone()
    };
    with_lock(ws, "destroy", options.lock_timeout, obs, async || {
        let (mut state, version) = recover_if_needed(ws, obs).await?;
        if state.is_empty() {
            return Ok(Applied::NothingToDestroy);
        }
        let (config, warnings) = ws.load_config()?;
        let loaded = (config, warnings, None);
        let plan = make_plan(ws, &loaded, &request, &mut state, obs).await?;
        obs.planned(&plan);
        if !plan.has_changes() {
            return Ok(Applied::Unchanged {
                expiry_renewed: None,
            });
        }
        obs.confirm("Destroy everything listed above?")?;
        apply_plan(ws, &plan, Some(loaded.0), state, version, options, obs).await
    })
    .await
}

/// An apply with nothing to change still renews `ttl`: an ephemeral
/// environment that is applied again (a pull request pushed to) must not
/// expire under its users.
async fn extend_ttl(
    ws: &Workspace,
    mut state: State,
    version: Option<Version>,
    options: &ApplyOptions,
) -> Result<Applied> {
    let (Some(ttl), Some(version)) = (options.ttl, version) else {
        ws.release(state);
        return Ok(Applied::Unchanged {
            expiry_renewed: None,
        });
    };
    state.expires_at = Some(kiln_store::unix_now() + ttl.as_secs());
    state.serial += 1;
    let summary = format!("expiry set to {} from now", humantime::format_duration(ttl));
    ws.store
        .write(&ws.env, &state, Some(&version), &summary)
        .await
        .context("cannot write the new expiry; nothing else changed")?;
    ws.release(state);
    Ok(Applied::Unchanged {
        expiry_renewed: Some(ttl),
    })
}

/// Applies a plan (the caller holds the lock and read `state` at
/// `version`), writes the resulting state, removes the journal, and reports
/// failures through `obs`. `parsed` is the configuration the plan was just
/// made from, if the caller holds it (else it is parsed from the plan's
/// copy).
///
/// # Errors
/// A failed, rolled-back, partly rolled-back or interrupted apply, each
/// with what the state records and what to run next; a state that could
/// not be written (the journal keeps what was done).
pub async fn apply_plan(
    ws: &Workspace,
    plan: &Plan,
    parsed: Option<kiln_config::Config>,
    state: State,
    version: Option<Version>,
    options: &ApplyOptions,
    obs: &dyn Observer,
) -> Result<Applied> {
    // Errors in the plan's copy are the engine's to report (a destroy plan
    // applies even if the configuration no longer parses).
    let (config, parsed) = match parsed {
        Some(c) => (Arc::new(c), true),
        None => {
            let (c, diags) = kiln_config::parse_embedded(&plan.source.files);
            (Arc::new(c), !diags.has_errors())
        }
    };
    let registry = ws
        .registry(Some(&config), Some(&plan.variables()), Some(&state))
        .await?;
    let mut state = state;
    if state.lineage.is_empty() {
        state = fresh_state(ws, &[]);
    }
    let mut journal = ws.store.journal(&ws.env).await?;
    let cancel = CancellationToken::new();
    let engine_options = kiln_engine::ApplyOptions {
        parallelism: options.parallelism,
        cancel: cancel.clone(),
        command: "apply".into(),
        workdir: ws.abs_dir.display().to_string(),
        datadir: ws.datadir.display().to_string(),
        config: parsed.then_some(config),
    };
    let started = Instant::now();
    let run = kiln_engine::apply(
        plan,
        state,
        &registry,
        journal.as_mut(),
        obs,
        &engine_options,
    );
    // A lock whose lease is lost (taken over, or not renewed in time) stops
    // the apply like an interrupt: no new step starts; the state write at
    // the end is still conditional, so nothing another run wrote is
    // overwritten.
    let lost = ws.store.lock_lost(&ws.env);
    let stop = async {
        let lost = async {
            match &lost {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let interrupted = async {
            match &options.interrupt {
                Some(Interrupt(interrupt)) => interrupt().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = lost => obs.warn(
                "lost the lock on the state (its lease was taken over or could not be renewed in time): no new steps will start",
            ),
            () = interrupted => obs.warn(
                "interrupted: no new steps will start; waiting for the running ones to finish",
            ),
        }
        cancel.cancel();
        std::future::pending::<()>().await;
    };
    let report = tokio::select! {
        report = run => report,
        () = stop => unreachable!("stopping never ends; the apply does"),
    };
    journal.sync().await?;
    let done = finish(ws, plan, report, version, options, started.elapsed(), obs).await;
    // The parsed configuration (a syntax tree per expression) is the
    // largest value left; a command that exits next leaves it to the exit.
    ws.release(engine_options);
    done
}

/// Writes the state an apply left, clears its journal, and turns the report
/// into the result.
async fn finish(
    ws: &Workspace,
    plan: &Plan,
    report: kiln_engine::ApplyReport,
    version: Option<Version>,
    options: &ApplyOptions,
    elapsed: Duration,
    obs: &dyn Observer,
) -> Result<Applied> {
    let (success, clean_rollback) = (report.is_success(), report.rolled_back_cleanly());
    let mut new_state = report.state;
    new_state.serial += 1;
    if let Some(ttl) = options.ttl {
        new_state.expires_at = Some(kiln_store::unix_now() + ttl.as_secs());
    }
    let planned = plan.summary().past_tense();
    let summary = if success {
        planned.clone()
    } else if clean_rollback {
        format!("failed and rolled back (planned: {planned})")
    } else {
        format!("failed (planned: {planned})")
    };
    ws.store
        .write(&ws.env, &new_state, version.as_ref(), &summary)
        .await
        .context("the apply finished but its state could not be written; the journal keeps what was done, and the next kiln command recovers it")?;
    kiln_store::faults::crash_point("apply:state-written");
    clear_journal(ws, obs).await;
    kiln_store::faults::crash_point("apply:journal-cleared");
    obs.diagnostics(&report.diagnostics);
    if report.failures.is_empty() && !report.cancelled && !report.diagnostics.has_errors() {
        return Ok(Applied::Done(Box::new(Done {
            state: new_state,
            summary: planned,
            elapsed,
            destroy: plan.destroy,
        })));
    }
    let (what, again) = if plan.destroy {
        ("destroy", "kiln destroy")
    } else {
        ("apply", "kiln apply")
    };
    for f in &report.failures {
        obs.error(&format!("{} ({}): {}", f.addr, verb(f.op), f.message));
    }
    if !report.skipped.is_empty() && report.rolled_back.is_empty() {
        // One name per address (a replacement has a create and a delete).
        let names: std::collections::BTreeSet<String> =
            report.skipped.iter().map(|(a, _)| a.to_string()).collect();
        let names: Vec<String> = names.into_iter().collect();
        obs.warn(&format!(
            "skipped because something they depend on failed: {}",
            names.join(", ")
        ));
    }
    if clean_rollback {
        let deleted = report
            .rolled_back
            .iter()
            .filter(|r| r.op == kiln_engine::RollbackOp::Delete)
            .count();
        let reverted = report.rolled_back.len() - deleted;
        bail!(
            "{what} failed and was rolled back: the {deleted} object(s) it created were destroyed and {reverted} in-place update(s) set back, so everything is as it was before (traffic stays on the old generation); fix the cause above and run {again} again"
        );
    }
    if !report.rolled_back.is_empty() {
        for r in report.rolled_back.iter().filter(|r| r.error.is_some()) {
            obs.error(&format!(
                "{} ({}): not rolled back: {}",
                r.addr,
                r.id,
                r.error.as_deref().unwrap_or_default()
            ));
        }
        bail!(
            "{what} failed and its rollback did not finish; the state records exactly what exists (what could not be rolled back is listed above): fix the cause and run {again} again"
        );
    }
    if report.cancelled {
        bail!(
            "{what} interrupted; the state records exactly what was done; run {again} again to finish"
        );
    }
    if report.failures.is_empty() {
        bail!(
            "{what} failed; the state records exactly what exists; fix the errors above and run {again} again"
        );
    }
    bail!(
        "{what} failed: {} step(s) failed; the state records exactly what exists; fix the cause and run {again} again",
        report.failures.len()
    )
}

/// What a step was doing, for messages ("creating").
fn verb(op: kiln_plan::StepOp) -> &'static str {
    use kiln_plan::StepOp::*;
    match op {
        Create => "creating",
        Update => "updating",
        Delete | DeleteDeposed => "destroying",
    }
}
