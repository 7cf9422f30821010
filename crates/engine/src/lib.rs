//! The engine: apply, refresh and recovery on tokio.
//!
//! [`apply`] walks a plan's step graph: a step starts the moment every step
//! it depends on has succeeded, up to a parallelism bound, with no fixed
//! batches; per-step bookkeeping is constant time (dependents lists and
//! remaining-dependency counters). Every provider call that changes anything
//! is journaled before (*intent*) and after (*result*), and each result is
//! applied to the in-memory state at once, so the state always says exactly
//! what exists. The engine never writes the state to a store: its caller does,
//! then drops the journal.
//!
//! Deletes wait until every create and update of the apply has succeeded
//! (the old generation stays whole until the new one is healthy and serving).
//! If a create, a health check or an update fails, no new step starts and
//! the apply rolls back: updates made in place are set back (traffic returns
//! to the old generation), then every object the apply created is deleted,
//! dependents first, each call journaled like a step; a replaced object is
//! made current again before its replacement is deleted.
//!
//! [`refresh`] reads every resource back through its provider in batches.
//! [`recover`] replays the journal of an interrupted apply onto the state and
//! resolves the calls that were in flight when it died (adopting what a
//! create made, by idempotency key), so nothing is orphaned.
//!
//! Idempotency keys ([`idempotency_key`]) are a deterministic 64-bit FNV-1a
//! hash of lineage, address and generation: the same create in the same
//! generation always carries the same key, which is what lets a provider find
//! what an interrupted create made.
//!
//! The engine prints nothing: progress goes to an [`Observer`].

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_diag::Diagnostics;
use kiln_model::{InstanceAddr, SmolStr, Value};
use kiln_plan::{Plan, Step, StepOp};
use kiln_state::State;
use tokio_util::sync::CancellationToken;

mod apply;
mod cutover;
mod ready;
mod recover;
mod refresh;
mod util;

pub use apply::apply;
pub use recover::{Adopted, RecoverReport, recover};
pub use refresh::{REFRESH_BATCH, RefreshReport, refresh};
pub use util::{idempotency_key, mark_adopted};

/// How to run an apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// The most provider calls in flight at once; 0 means unlimited.
    pub parallelism: usize,
    /// Once cancelled, no new step starts; running ones finish and are
    /// recorded.
    pub cancel: CancellationToken,
    /// The command, for the journal (`apply`, `destroy`).
    pub command: String,
    /// The configuration directory, passed to providers.
    pub workdir: String,
    /// kiln's data directory (`.kiln`), passed to providers.
    pub datadir: String,
    /// The plan's configuration, already parsed (it must be what the plan's
    /// `source.files` parse to); `None` parses it from the plan.
    pub config: Option<std::sync::Arc<kiln_plan::Config>>,
}

/// Receives progress. Every method does nothing by default. Steps skipped
/// because a dependency failed are never started, so they are reported only
/// in [`ApplyReport::skipped`].
pub trait Observer: Send + Sync {
    fn step_started(&self, plan: &Plan, step: &Step) {
        let _ = (plan, step);
    }

    fn step_finished(&self, plan: &Plan, step: &Step, outcome: &StepReport) {
        let _ = (plan, step, outcome);
    }

    /// A stage of a traffic switch's progressive cut-over began (`checks`
    /// is `None`) or held to its end (the checks' last values).
    fn cutover_step(&self, plan: &Plan, step: &Step, progress: &CutoverProgress) {
        let _ = (plan, step, progress);
    }

    /// A rollback call is about to run (after a failed create or update).
    fn rollback_started(&self, undo: &RolledBack) {
        let _ = undo;
    }

    /// A rollback call returned (`undo.error` says if it failed).
    fn rollback_finished(&self, undo: &RolledBack) {
        let _ = undo;
    }

    /// Nothing more starts until a running call returns, or the steps are
    /// over: progress held back to be shown in one go is shown now.
    fn waiting(&self) {}
}

/// What a rollback undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackOp {
    /// Deletes an object this apply created.
    Delete,
    /// Sets an object this apply updated in place back to what it was (a
    /// traffic switch back onto the old generation, say).
    Revert,
}

/// One call of a rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct RolledBack {
    pub addr: InstanceAddr,
    pub op: RollbackOp,
    /// The object's id.
    pub id: String,
    /// Why the call failed (the object is then still recorded as it is).
    pub error: Option<String>,
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}

/// One stage of a progressive cut-over, for the user (see
/// [`Observer::cutover_step`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CutoverProgress {
    /// 1-based, of `stages`.
    pub stage: usize,
    pub stages: usize,
    /// Percent of requests for the new generation.
    pub weight: f64,
    pub hold: Duration,
    /// At the end of the hold: the checks' values over the stage.
    pub checks: Option<String>,
}

/// How one step went.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    pub addr: InstanceAddr,
    pub op: StepOp,
    /// The provider's id of the object created, updated or deleted.
    pub id: Option<SmolStr>,
    /// Why the step failed; `None` if it succeeded.
    pub error: Option<String>,
    /// How long the provider calls took.
    pub elapsed: Duration,
}

/// A step that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub addr: InstanceAddr,
    pub op: StepOp,
    pub message: String,
}

/// What an apply did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// Exactly what exists now (the caller writes it).
    pub state: State,
    /// Every failed step, in the order they failed.
    pub failures: Vec<Failure>,
    /// Steps that did not run: a dependency failed, or the apply was
    /// cancelled before they started.
    pub skipped: Vec<(InstanceAddr, StepOp)>,
    pub cancelled: bool,
    /// The outputs' final values (also in `state.outputs`).
    pub outputs: BTreeMap<String, Value>,
    /// Problems that are not one step's: the journal could not be opened,
    /// outputs could not be evaluated, the step graph is inconsistent.
    pub diagnostics: Diagnostics,
    /// After a failed create or update: the calls that undid what the apply
    /// had done, in the order they finished (empty if nothing was undone).
    pub rolled_back: Vec<RolledBack>,
}

impl ApplyReport {
    /// True if a rollback ran and every call of it succeeded: what exists is
    /// what existed before the apply (less what a failed create could not
    /// delete, recorded as deposed).
    pub fn rolled_back_cleanly(&self) -> bool {
        !self.rolled_back.is_empty() && self.rolled_back.iter().all(|r| r.error.is_none())
    }
}

impl ApplyReport {
    /// True if every step ran and succeeded.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty()
            && self.skipped.is_empty()
            && !self.cancelled
            && !self.diagnostics.has_errors()
    }
}
