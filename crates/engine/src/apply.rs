//! Walking the step graph.
//!
//! One coordinator (the `apply` future) owns the state, the journal and the
//! apply-time evaluator; provider calls run as tokio tasks. The coordinator
//! starts every ready step while fewer than `parallelism` calls are in
//! flight, and on each finished call journals its result, applies it to the
//! state, and makes ready the dependents whose last dependency it was.
//!
//! Deletes are held until every create and update has finished: the old
//! generation stays whole until the new one is built and healthy. A failed
//! create or update starts nothing new; once the running calls return, the
//! apply rolls back what it did ([`rollback`]), in reverse dependency order.
//! A failed delete skips only its dependents.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{InstanceAddr, SmolStr, Value};
use kiln_plan::{Action, ActionKind, ApplyEvaluator, GenerationChange, Plan, Reason, StepOp};
use kiln_provider::{
    CallContext, CreateRequest, DeleteRequest, HealthRequest, Provider, Registry, UpdateRequest,
};
use kiln_state::journal::{
    Finish, KeepRecord, Outcome, OutputRecord, ResourceRecord, SourceRecord, StepOp as JournalOp,
    apply_finish, apply_outcome, record_outcome,
};
use kiln_state::{AppliedSource, JournalRecord, OutputState, ResourceState, State};
use kiln_store::Journal;

use crate::cutover::{self, Health, Stage};
use crate::ready::{Ready, Walk, walk};
use crate::util::{
    self, StepError, changed_keys, errors, journal_op, mark_sensitive, provider_for,
    sensitive_attrs,
};
use crate::{ApplyOptions, ApplyReport, Failure, Observer, RollbackOp, RolledBack, StepReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// A provider call, prepared by the coordinator, run by a task.
enum Job {
    Create {
        provider: Arc<dyn Provider>,
        req: CreateRequest,
        health_check: bool,
        /// The record of the new object, less its id and attributes.
        record: ResourceRecord,
        sensitive: Arc<[String]>,
        /// The planned value with its sensitive marks, laid over what the
        /// provider returns (see [`Value::mark_like`]).
        marks: Value,
        /// Write-only attributes: sent, never recorded.
        write_only: Arc<[String]>,
    },
    Update {
        provider: Arc<dyn Provider>,
        req: UpdateRequest,
        record: ResourceRecord,
        sensitive: Arc<[String]>,
        marks: Value,
        write_only: Arc<[String]>,
    },
    Delete {
        provider: Arc<dyn Provider>,
        req: DeleteRequest,
    },
    /// One stage of a traffic switch's progressive shift (`cutover.rs`).
    Shift {
        provider: Arc<dyn Provider>,
        req: UpdateRequest,
        stage: Stage,
        /// The new generation's health checks, run at the end of each hold.
        health: Vec<Health>,
        record: ResourceRecord,
        sensitive: Arc<[String]>,
        marks: Value,
        write_only: Arc<[String]>,
    },
}

/// A resource type's sensitive and write-only attribute names.
type TypeAttrs = (Arc<[String]>, Arc<[String]>);

/// What a task hands back.
struct Done {
    step: usize,
    outcome: Outcome,
    elapsed: Duration,
    /// For a shift stage: whether it went to 100% at once, its checks'
    /// verdict, and (first stage) the switch all on the old generation.
    shift: Option<(bool, Result<String, String>, Option<Value>)>,
}

/// Why an apply starts no new step, from least to most serious: a later
/// reason replaces an earlier, less serious one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Halt {
    /// Steps start as they become ready.
    Running,
    /// A create or update failed, or apply-time evaluation is unavailable:
    /// the apply rolls back.
    Failed,
    /// The user interrupted (or the lock was lost): no rollback either.
    Cancelled,
    /// The journal cannot be written: nothing more may be called, not even
    /// a rollback.
    JournalBroken,
}

/// The forward walk of an apply: the plan's steps.
struct Forward<'r, 'a, 'p> {
    run: &'r mut Run<'a>,
    evaluator: &'r mut Option<ApplyEvaluator<'p>>,
    journal: &'r mut dyn Journal,
    halt: Halt,
}

impl Walk for Forward<'_, '_, '_> {
    type Job = Job;
    type Done = Done;

    fn stopped(&self) -> bool {
        // A failed create or update: the apply rolls back, nothing new
        // starts.
        self.halt != Halt::Running || self.run.move_failed
    }

    fn cancel(&mut self) {
        self.halt = self.halt.max(Halt::Cancelled);
    }

    fn next_ready(&mut self) -> Option<usize> {
        let run = &mut *self.run;
        while let Some(i) = run.graph.pop() {
            if run.status[i] != Status::Pending {
                continue;
            }
            if !is_move(run.plan.steps[i].op) && run.moves_left > 0 {
                // The old generation stays whole until the new one is up.
                run.held.push(i);
                continue;
            }
            return Some(i);
        }
        None
    }

    async fn start(&mut self, i: usize) -> Option<Job> {
        if let Some(ev) = self.evaluator.as_mut()
            && let Err(e) = self.run.read_deferred(ev).await
        {
            self.run.fail(i, e, Duration::ZERO);
            return None;
        }
        let prepared = match self.evaluator.as_mut() {
            Some(ev) => self.run.prepare(i, ev),
            None => Err(StepError::NoEvaluator),
        };
        let (job, intent) = match prepared {
            Ok(x) => x,
            Err(e) => {
                self.run.fail(i, e.to_string(), Duration::ZERO);
                return None;
            }
        };
        if let Err(e) = self.journal.append(&intent).await {
            self.run.fail(
                i,
                format!("not started: cannot write the apply journal: {e}"),
                Duration::ZERO,
            );
            self.halt = Halt::JournalBroken;
            return None;
        }
        kiln_store::faults::crash_point("step:intent-journaled");
        let plan = self.run.plan;
        self.run.status[i] = Status::Running;
        self.run.observer.step_started(plan, &plan.steps[i]);
        if let Job::Shift { stage, .. } = &job {
            self.run
                .observer
                .cutover_step(plan, &plan.steps[i], &stage.progress(None));
        }
        Some(job)
    }

    fn run(i: usize, job: Job) -> impl Future<Output = Done> + Send + 'static {
        run_job(i, job)
    }

    async fn finished(&mut self, mut done: Done) {
        kiln_store::faults::crash_point("step:called");
        if let Some(ev) = self.evaluator.as_mut() {
            self.run.postconditions(&mut done, ev);
        }
        let plan = self.run.plan;
        let step = &plan.steps[done.step];
        // The outcome lends itself to the record while it is written.
        let placeholder = Outcome::Deleted { id: String::new() };
        let result = JournalRecord::Result {
            step: step.id,
            addr: plan.actions[step.action].addr.clone(),
            op: journal_op(step.op),
            outcome: std::mem::replace(&mut done.outcome, placeholder),
            at: util::now(),
        };
        // Written with the next intent (or when the walk waits): a crash
        // before then is a crash during the call, which recovery resolves.
        let written = self.journal.append_deferred(&result).await;
        if let JournalRecord::Result { outcome, .. } = result {
            done.outcome = outcome;
        }
        if let Err(e) = written {
            // The state in memory is still right; only crash safety is lost.
            self.run.diagnostics.push(Diagnostic::error(format!(
                "cannot write the apply journal: {e}; no new steps were started"
            )));
            self.halt = Halt::JournalBroken;
        }
        self.run.finish(done);
    }

    async fn idle(&mut self) {
        self.run.observer.waiting();
        if let Err(e) = self.journal.flush().await
            && self.halt != Halt::JournalBroken
        {
            self.run.diagnostics.push(Diagnostic::error(format!(
                "cannot write the apply journal: {e}; no new steps were started"
            )));
            self.halt = Halt::JournalBroken;
        }
    }

    async fn lost(&mut self, i: usize, why: String) {
        let done = Done {
            step: i,
            outcome: Outcome::Failed {
                message: format!(
                    "the provider call panicked ({why}); the object may exist: run `kiln refresh`"
                ),
                created: None,
            },
            elapsed: Duration::ZERO,
            shift: None,
        };
        self.finished(done).await;
    }
}

/// Applies `plan` to `state`, journaling every provider call, and returns
/// the resulting state with what failed, what was skipped, and the outputs.
///
/// Never writes the state to a store; the caller writes
/// [`ApplyReport::state`] and then clears the journal.
pub async fn apply(
    plan: &Plan,
    state: State,
    registry: &Registry,
    journal: &mut dyn Journal,
    observer: &dyn Observer,
    options: &ApplyOptions,
) -> ApplyReport {
    let mut run = Run {
        plan,
        registry,
        options,
        observer,
        state,
        failures: Vec::new(),
        skipped: Vec::new(),
        diagnostics: Diagnostics::new(),
        status: vec![Status::Pending; plan.steps.len()],
        graph: Ready::new(plan.steps.len()),
        attrs: HashMap::new(),
        created_any: false,
        moves_left: plan.steps.iter().filter(|s| is_move(s.op)).count(),
        held: Vec::new(),
        move_failed: false,
        undo: Vec::new(),
        shifts: HashMap::new(),
    };
    let mut evaluator =
        match ApplyEvaluator::with_config(plan, registry.schemas(), options.config.clone()) {
            Ok(e) => Some(e),
            Err(d) => {
                run.diagnostics.extend(d);
                None
            }
        };

    let begin = JournalRecord::Begin {
        lineage: run.state.lineage.clone(),
        serial: run.state.serial,
        generation: plan.generation,
        at: util::now(),
        command: options.command.clone(),
    };
    let mut halt = Halt::Running;
    if let Err(e) = journal.append(&begin).await {
        run.diagnostics.push(
            Diagnostic::error(format!("cannot write the apply journal: {e}"))
                .with_detail("nothing was changed; fix the cause and apply again"),
        );
        halt = Halt::JournalBroken;
    }
    // `moved` / `removed` blocks: journaled before any step, so a crash
    // after this point replays them; the steps find objects at their new
    // addresses.
    if halt == Halt::Running
        && (!plan.moves.is_empty() || !plan.forgotten.is_empty() || !plan.imported.is_empty())
    {
        let rec = JournalRecord::Refactor {
            imported: plan.imported.clone(),
            moves: plan.moves.clone(),
            forgotten: plan.forgotten.clone(),
            at: util::now(),
        };
        match journal.append(&rec).await {
            Ok(()) => {
                for r in &plan.imported {
                    run.state.resources.insert(r.addr.clone(), r.clone().into());
                }
                run.state.refactor(&plan.moves, &plan.forgotten);
                // What `import` blocks adopted is marked as kiln's (kiln's
                // tags and idempotency key), now that the journal has it.
                for r in &plan.imported {
                    let Ok(p) = provider_for(registry, &r.provider, &r.type_name) else {
                        continue;
                    };
                    let Some(object) = run.state.resources.get(&r.addr) else {
                        continue;
                    };
                    let context = CallContext {
                        env: plan.env.clone(),
                        lineage: run.state.lineage.clone(),
                        generation: r.generation,
                        address: r.addr.to_string(),
                        workdir: options.workdir.clone(),
                        datadir: options.datadir.clone(),
                    };
                    if let Some(w) = util::mark_adopted(p.as_ref(), object, context).await {
                        run.diagnostics.push(w);
                    }
                }
            }
            Err(e) => {
                run.diagnostics.push(
                    Diagnostic::error(format!("cannot write the apply journal: {e}"))
                        .with_detail("nothing was changed; fix the cause and apply again"),
                );
                halt = Halt::JournalBroken;
            }
        }
    }
    if evaluator.is_none() {
        halt = halt.max(Halt::Failed);
    }

    run.build_graph();

    let limit = if options.parallelism == 0 {
        usize::MAX
    } else {
        options.parallelism
    };
    let mut forward = Forward {
        run: &mut run,
        evaluator: &mut evaluator,
        journal: &mut *journal,
        halt,
    };
    walk(&mut forward, limit, &options.cancel).await;
    let halt = forward.halt;
    let halt = if run.move_failed {
        halt.max(Halt::Failed)
    } else {
        halt
    };
    let cancelled = halt == Halt::Cancelled;

    let mut rolled_back = Vec::new();
    if run.move_failed && !run.undo.is_empty() {
        match halt {
            Halt::Cancelled | Halt::JournalBroken => {
                run.diagnostics.push(Diagnostic::warning(format!(
                    "the apply was not rolled back ({}): the objects it created are recorded in the state; apply again to finish, or fix the configuration and apply",
                    if cancelled {
                        "it was interrupted"
                    } else {
                        "the journal cannot be written"
                    }
                )));
            }
            Halt::Running | Halt::Failed => {
                rolled_back = rollback(&mut run, journal, limit).await;
            }
        }
    }

    // Steps never started: the apply was cancelled or halted, or the graph
    // has a cycle.
    for i in 0..plan.steps.len() {
        if run.status[i] == Status::Pending {
            run.status[i] = Status::Skipped;
            let step = &plan.steps[i];
            run.skipped
                .push((plan.actions[step.action].addr.clone(), step.op));
            if halt == Halt::Running {
                run.diagnostics.push(Diagnostic::error(format!(
                    "step {} ({}) never became ready: the plan's step graph has a cycle; plan again",
                    step.id, plan.actions[step.action].addr
                )));
            }
        }
    }

    let swap = matches!(plan.generations, Some(GenerationChange::Swap { .. }));
    let (outputs, new_outputs) = match evaluator.as_mut() {
        // A rollback keeps the outputs; the swap restores the previous
        // generation's.
        Some(_) if swap => (BTreeMap::new(), None),
        // Rolled back: the outputs are still the old generation's.
        Some(_) if !rolled_back.is_empty() => (BTreeMap::new(), None),
        // A partial plan (`--target`) leaves the outputs as they are.
        Some(_) if plan.partial => (BTreeMap::new(), None),
        Some(ev) => {
            if let Err(e) = run.read_deferred(ev).await {
                run.diagnostics.push(Diagnostic::error(e));
            }
            match run.outputs(ev) {
                Some((values, states)) => (values, Some(states)),
                None => (BTreeMap::new(), None),
            }
        }
        None => (BTreeMap::new(), None),
    };
    let success = run.failures.is_empty()
        && run.skipped.is_empty()
        && !cancelled
        && !run.diagnostics.has_errors();
    let mut state = run.state;
    if run.created_any {
        state.generation = state.generation.max(plan.generation);
    }
    if success {
        let finish = finish_record(plan, state.source.as_ref(), new_outputs);
        let record = JournalRecord::Finish(finish);
        if let Err(e) = journal.append(&record).await {
            run.diagnostics.push(Diagnostic::warning(format!(
                "cannot write the end of the apply to its journal: {e}; the state written next is right, but a crash before it would lose the generation bookkeeping"
            )));
        }
        kiln_store::faults::crash_point("apply:finish-journaled");
        if let JournalRecord::Finish(finish) = &record {
            apply_finish(&mut state, finish);
        }
    } else if let Some(outputs) = new_outputs {
        state.outputs = outputs;
    }
    let now = util::now();
    if state.created_at == 0 {
        state.created_at = now;
    }
    state.updated_at = now;
    ApplyReport {
        state,
        failures: run.failures,
        skipped: run.skipped,
        cancelled,
        outputs,
        diagnostics: run.diagnostics,
        rolled_back,
    }
}

/// What a successful apply does beyond its steps: keeps the replaced
/// objects as the previous generation, or swaps back to it (a rollback),
/// records the configuration the current generation was applied from, and
/// the outputs. Journaled, then applied with
/// [`kiln_state::journal::apply_finish`].
fn finish_record(
    plan: &Plan,
    prior_source: Option<&AppliedSource>,
    outputs: Option<BTreeMap<String, OutputState>>,
) -> Finish {
    let destroy = plan
        .actions
        .iter()
        .any(|a| a.reasons.iter().any(|r| matches!(r, Reason::Destroy)));
    // A plan that creates nothing leaves the current generation as it was
    // (after a rollback, older than the plan's generation counter).
    let creates = plan
        .actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::Create | ActionKind::Replace));
    let generation = match prior_source {
        Some(s) if !creates => s.generation,
        _ => plan.generation,
    };
    let (swap, keep) = match &plan.generations {
        Some(GenerationChange::Swap { switches, .. }) => (Some(switches.clone()), None),
        Some(GenerationChange::Keep {
            previous,
            kept,
            switches,
        }) => (
            None,
            Some(KeepRecord {
                previous: *previous,
                kept: kept.clone(),
                switches: switches.clone(),
            }),
        ),
        None => (None, None),
    };
    let source = (!destroy && !plan.source.files.is_empty()).then(|| SourceRecord {
        generation,
        files: plan.source.files.clone(),
        variables: plan.source.variables.clone(),
    });
    Finish {
        swap,
        keep,
        source,
        outputs: outputs.map(|o| {
            o.into_iter()
                .map(|(k, o)| {
                    (
                        k,
                        OutputRecord {
                            value: o.value,
                            sensitive: o.sensitive,
                        },
                    )
                })
                .collect()
        }),
    }
}

/// Undoes what a failed apply did. Each finished create or update is undone
/// after everything that depended on it: updates are set back to their prior
/// attributes (a traffic switch returns to the old generation), created
/// objects are deleted, and an object a replacement superseded is made
/// current again (journaled before the replacement's delete). Every call is
/// journaled like a step, under step numbers after the plan's, so the
/// journal still compacts to the state and a crash mid-rollback recovers.
/// An undo that fails leaves its object recorded as it is and the undos
/// that had to wait for it are not attempted.
async fn rollback(run: &mut Run<'_>, journal: &mut dyn Journal, limit: usize) -> Vec<RolledBack> {
    let plan = run.plan;
    let undo = std::mem::take(&mut run.undo);
    let n = undo.len();
    let by_step: HashMap<usize, usize> = undo
        .iter()
        .enumerate()
        .map(|(u, x)| (x.step(), u))
        .collect();
    // An undo waits for the undos of every step that depended on its step.
    let mut graph = Ready::new(n);
    for (u, x) in undo.iter().enumerate() {
        for d in &plan.steps[x.step()].depends_on {
            if let Some(&v) = by_step.get(d) {
                graph.wait(v, u);
            }
        }
    }
    graph.queue_free((0..n).rev());
    let cancel = run.options.cancel.clone();
    let mut backward = Backward {
        run: &mut *run,
        journal,
        graph,
        next_id: plan.steps.len(),
        started: vec![false; n],
        running: vec![None; n],
        report: Vec::new(),
        stopped: false,
        undo,
    };
    walk(&mut backward, limit, &cancel).await;
    let Backward {
        undo,
        started,
        running,
        mut report,
        stopped,
        ..
    } = backward;
    for (u, x) in undo.iter().enumerate() {
        if started[u] && running[u].is_none() {
            continue;
        }
        let why = if started[u] {
            "the rollback call did not return (it panicked); run `kiln refresh` to see what exists"
        } else if stopped {
            "not rolled back: the rollback stopped first"
        } else {
            "not rolled back: undoing something that depends on it failed"
        };
        report.push(x.report(run.action(x.step()), Some(why.to_string())));
    }
    report
}

/// The backward walk of a rollback: the undos, dependents first.
struct Backward<'r, 'a> {
    run: &'r mut Run<'a>,
    journal: &'r mut dyn Journal,
    undo: Vec<Undo>,
    graph: Ready,
    /// The journal's next step number (after the plan's).
    next_id: usize,
    started: Vec<bool>,
    /// Per undo, while its call runs: what it undoes and how it is
    /// journaled.
    running: Vec<Option<(RolledBack, JournalOp, usize)>>,
    report: Vec<RolledBack>,
    stopped: bool,
}

impl Walk for Backward<'_, '_> {
    type Job = Job;
    type Done = Done;

    fn stopped(&self) -> bool {
        self.stopped
    }

    fn cancel(&mut self) {
        self.stopped = true;
    }

    fn next_ready(&mut self) -> Option<usize> {
        self.graph.pop()
    }

    async fn start(&mut self, u: usize) -> Option<Job> {
        self.started[u] = true;
        let next_id = &mut self.next_id;
        let mut fresh_id = || {
            *next_id += 1;
            *next_id - 1
        };
        let prepared = match self.run.prepare_undo(&self.undo[u], &mut fresh_id) {
            Ok(p) => p,
            Err(e) => {
                let step = self.undo[u].step();
                let done = self.undo[u].report(self.run.action(step), Some(e.to_string()));
                self.run.observer.rollback_finished(&done);
                self.report.push(done);
                return None;
            }
        };
        let Some(UndoCall {
            restore,
            intent,
            job,
            what,
            op,
            journal_step,
        }) = prepared
        else {
            // Nothing left to undo (the object is already gone).
            self.graph.done(u, |_| true);
            return None;
        };
        for record in restore.iter().chain(std::iter::once(&intent)) {
            if let Err(e) = self.journal.append(record).await {
                self.run.diagnostics.push(Diagnostic::error(format!(
                    "cannot write the apply journal during the rollback: {e}; the rollback stopped, the state records what exists"
                )));
                self.stopped = true;
                return None;
            }
            if let JournalRecord::Result {
                addr, op, outcome, ..
            } = record
            {
                apply_outcome(&mut self.run.state, addr, *op, outcome);
            }
        }
        kiln_store::faults::crash_point("rollback:intent-journaled");
        self.run.observer.rollback_started(&what);
        self.running[u] = Some((what, op, journal_step));
        Some(job)
    }

    fn run(u: usize, job: Job) -> impl Future<Output = Done> + Send + 'static {
        run_job(u, job)
    }

    async fn finished(&mut self, done: Done) {
        let u = done.step;
        let Some((mut what, op, journal_step)) = self.running[u].take() else {
            return;
        };
        let result = JournalRecord::Result {
            step: journal_step,
            addr: what.addr.clone(),
            op,
            outcome: done.outcome.clone(),
            at: util::now(),
        };
        if let Err(e) = self.journal.append(&result).await {
            self.run.diagnostics.push(Diagnostic::error(format!(
                "cannot write the apply journal during the rollback: {e}; the rollback stopped"
            )));
            self.stopped = true;
        }
        apply_outcome(&mut self.run.state, &what.addr, op, &done.outcome);
        if let Outcome::Failed { message, .. } = &done.outcome {
            what.error = Some(message.clone());
        } else {
            self.graph.done(u, |_| true);
        }
        self.run.observer.rollback_finished(&what);
        self.report.push(what);
    }

    async fn lost(&mut self, _u: usize, _why: String) {
        // Its undo is reported as never finished, after the walk.
    }
}

/// One undo, ready to run: journal records to write first (the restore of
/// a superseded object, then the call's intent), and the call.
struct UndoCall {
    restore: Option<JournalRecord>,
    intent: JournalRecord,
    job: Job,
    what: RolledBack,
    op: JournalOp,
    journal_step: usize,
}

/// The coordinator's bookkeeping.
struct Run<'a> {
    plan: &'a Plan,
    registry: &'a Registry,
    options: &'a ApplyOptions,
    observer: &'a dyn Observer,
    state: State,
    failures: Vec<Failure>,
    skipped: Vec<(InstanceAddr, StepOp)>,
    diagnostics: Diagnostics,
    status: Vec<Status>,
    /// Each step waits for the steps it depends on.
    graph: Ready,
    /// Per resource type: its sensitive and its write-only attribute names.
    attrs: HashMap<String, TypeAttrs>,
    created_any: bool,
    /// Creates and updates not finished yet; deletes wait for zero.
    moves_left: usize,
    /// Delete steps ready but waiting for the creates and updates.
    held: Vec<usize>,
    /// A create or update failed: the apply rolls back.
    move_failed: bool,
    /// What succeeded that a rollback would undo, in completion order.
    undo: Vec<Undo>,
    /// Shifting traffic switches by step: the stage to run next and when
    /// the shift began (unix ms).
    shifts: HashMap<usize, (usize, u64)>,
}

/// A finished create or update, as a rollback needs it.
enum Undo {
    /// Step `step` made object `id` (current, or deposed if the step failed
    /// after making it); it superseded object `replaced`, now deposed.
    Created {
        step: usize,
        id: SmolStr,
        replaced: Option<SmolStr>,
    },
    /// Step `step` updated the object in place; `prior` is what it was.
    Updated {
        step: usize,
        prior: Box<ResourceState>,
    },
}

impl Undo {
    fn step(&self) -> usize {
        match self {
            Undo::Created { step, .. } | Undo::Updated { step, .. } => *step,
        }
    }

    /// How undoing it went, for the report.
    fn report(&self, action: &Action, error: Option<String>) -> RolledBack {
        let (op, id) = match self {
            Undo::Created { id, .. } => (RollbackOp::Delete, id.clone()),
            Undo::Updated { prior, .. } => (RollbackOp::Revert, prior.id.clone()),
        };
        RolledBack {
            addr: action.addr.clone(),
            op,
            id: id.to_string(),
            error,
        }
    }
}

fn is_move(op: StepOp) -> bool {
    matches!(op, StepOp::Create | StepOp::Update)
}

impl Run<'_> {
    fn build_graph(&mut self) {
        let n = self.plan.steps.len();
        let mut invalid = Vec::new();
        for (i, step) in self.plan.steps.iter().enumerate() {
            if step.action >= self.plan.actions.len() {
                invalid.push(i);
            }
            for &d in &step.depends_on {
                if d >= n || d == i {
                    invalid.push(i);
                } else {
                    self.graph.wait(i, d);
                }
            }
        }
        for i in invalid {
            if self.status[i] != Status::Pending {
                continue;
            }
            if self.plan.steps[i].action >= self.plan.actions.len() {
                // No address to report it under.
                self.status[i] = Status::Failed;
                self.diagnostics.push(Diagnostic::error(format!(
                    "step {} refers to action {}, which the plan does not have; plan again",
                    self.plan.steps[i].id, self.plan.steps[i].action
                )));
                self.settled(i, true);
                self.skip_dependents(i);
            } else {
                self.fail(
                    i,
                    "the plan's step graph is inconsistent (a dependency on a missing step or on itself); plan again"
                        .into(),
                    Duration::ZERO,
                );
            }
        }
        let status = &self.status;
        self.graph
            .queue_free((0..n).filter(|&i| status[i] == Status::Pending));
    }

    fn action(&self, step: usize) -> &Action {
        &self.plan.actions[self.plan.steps[step].action]
    }

    fn context(&self, action: &Action, generation: u64) -> CallContext {
        CallContext {
            env: self.plan.env.clone(),
            lineage: self.state.lineage.clone(),
            generation,
            address: action.addr.to_string(),
            workdir: self.options.workdir.clone(),
            datadir: self.options.datadir.clone(),
        }
    }

    /// A type's sensitive and write-only attribute names, looked up once
    /// per type (not per step).
    fn attrs_for(&mut self, type_name: &str) -> TypeAttrs {
        if let Some(a) = self.attrs.get(type_name) {
            return a.clone();
        }
        let a = (
            sensitive_attrs(self.registry, type_name),
            util::write_only_attrs(self.registry, type_name),
        );
        self.attrs.insert(type_name.to_string(), a.clone());
        a
    }

    /// Checks a created or updated object's postconditions; a failure fails
    /// the step (a new object is then recorded as deposed, for the next
    /// plan to delete, and the apply rolls back like after a failed health
    /// check).
    fn postconditions(&self, done: &mut Done, ev: &mut ApplyEvaluator<'_>) {
        let action = self.plan.steps[done.step].action;
        let (resource, created) = match &done.outcome {
            Outcome::Created { resource } => (resource, true),
            Outcome::Updated { resource } => (resource, false),
            _ => return,
        };
        let state = &self.state;
        let applied = |a: &InstanceAddr| state.resources.get(a).map(|r| r.attributes.clone());
        if let Err(d) = ev.postconditions(action, &resource.attributes, &applied) {
            let message = errors(&d).unwrap_or_else(|| d.to_string());
            done.outcome = Outcome::Failed {
                message,
                created: created.then(|| resource.clone()),
            };
        }
    }

    /// Reads the data sources the plan deferred to apply whose
    /// configuration has become known (what they use is applied): before
    /// each step, so a step that uses one sees its value.
    async fn read_deferred(&mut self, ev: &mut ApplyEvaluator<'_>) -> Result<(), String> {
        for p in ev.unread() {
            let request = {
                let state = &self.state;
                let applied =
                    |a: &InstanceAddr| state.resources.get(a).map(|r| r.attributes.clone());
                ev.read_request(p, &applied)
                    .map_err(|d| errors(&d).unwrap_or_else(|| d.to_string()))?
            };
            let Some(read) = request else { continue };
            let provider = self.registry.get(&read.provider).cloned().ok_or_else(|| {
                format!(
                    "no provider \"{}\" to read {} with",
                    read.provider, read.addr
                )
            })?;
            let resp = provider
                .read_data(kiln_provider::ReadDataRequest {
                    type_name: read.type_name.clone(),
                    config: read.config,
                })
                .await;
            if resp.diagnostics.has_errors() {
                return Err(format!(
                    "reading {} failed: {}",
                    read.addr, resp.diagnostics
                ));
            }
            ev.set_read(p, resp.state);
        }
        Ok(())
    }

    /// The final, fully known attributes of a create or update.
    fn final_attributes(
        &self,
        step: usize,
        ev: &mut ApplyEvaluator<'_>,
    ) -> Result<Value, StepError> {
        let action_index = self.plan.steps[step].action;
        let state = &self.state;
        let applied = |a: &InstanceAddr| state.resources.get(a).map(|r| r.attributes.clone());
        let value = ev
            .final_attributes(action_index, &applied)
            .map_err(|d| StepError::Evaluation(errors(&d).unwrap_or_else(|| d.to_string())))?;
        if !value.is_known() {
            return Err(StepError::StillUnknown);
        }
        Ok(value)
    }

    /// Prepares step `i`: its provider call and the intent to journal.
    fn prepare(
        &mut self,
        i: usize,
        ev: &mut ApplyEvaluator<'_>,
    ) -> Result<(Job, JournalRecord), StepError> {
        let plan = self.plan;
        let step = &plan.steps[i];
        let action = &plan.actions[step.action];
        let provider = provider_for(self.registry, &action.provider, &action.type_name)?;
        let (sensitive, write_only) = self.attrs_for(&action.type_name);
        let intent = |key: SmolStr, id: Option<SmolStr>, generation: u64| JournalRecord::Intent {
            step: step.id,
            addr: action.addr.clone(),
            op: journal_op(step.op),
            type_name: action.type_name.clone(),
            provider: action.provider.clone(),
            id,
            idempotency_key: key,
            generation,
            at: util::now(),
            config: None,
            dependencies: Vec::new(),
        };
        match step.op {
            StepOp::Create => {
                let marks = self.final_attributes(i, ev)?;
                let config = marks.to_unmarked();
                let key =
                    util::idempotency_key(&self.state.lineage, &action.addr, action.generation);
                let record = ResourceRecord {
                    addr: action.addr.clone(),
                    type_name: action.type_name.clone(),
                    provider: action.provider.clone(),
                    id: SmolStr::default(),
                    attributes: Value::Null,
                    dependencies: action.dependencies.clone(),
                    generation: action.generation,
                    stateful: action.stateful,
                    idempotency_key: key.clone(),
                };
                let req = CreateRequest {
                    type_name: action.type_name.to_string(),
                    config,
                    idempotency_key: key.to_string(),
                    context: self.context(action, action.generation),
                };
                let mut intent = intent(key.clone(), None, action.generation);
                if let JournalRecord::Intent {
                    config,
                    dependencies,
                    ..
                } = &mut intent
                {
                    // With its marks: recovery records what it finds as
                    // sensitive as the create would have; never a
                    // write-only value.
                    *config = Some(util::without_write_only(marks.clone(), &write_only));
                    dependencies.clone_from(&action.dependencies);
                }
                Ok((
                    Job::Create {
                        provider,
                        req,
                        health_check: action.health_check,
                        record,
                        sensitive,
                        marks,
                        write_only,
                    },
                    intent,
                ))
            }
            StepOp::Update => {
                let current = self
                    .state
                    .resources
                    .get(&action.addr)
                    .filter(|r| step.object_id.as_ref().is_none_or(|id| *id == r.id))
                    .ok_or_else(|| StepError::NotInState {
                        addr: Box::new(action.addr.clone()),
                        id: None,
                    })?;
                let marks = self.final_attributes(i, ev)?;
                let planned = marks.to_unmarked();
                let prior = current.attributes.to_unmarked();
                let changed = changed_keys(&prior, &planned);
                let mut record = ResourceRecord::from(current);
                record.dependencies = action.dependencies.clone();
                let req = UpdateRequest {
                    type_name: action.type_name.to_string(),
                    id: current.id.to_string(),
                    prior,
                    planned,
                    changed,
                    context: self.context(action, current.generation),
                };
                let intent = intent(
                    current.idempotency_key.clone(),
                    Some(current.id.clone()),
                    current.generation,
                );
                if let Some(cutover) = &action.cutover {
                    let (index, since_ms) = *self.shifts.entry(i).or_insert((0, util::now_ms()));
                    let stage = Stage::of(cutover, index, since_ms);
                    let health = self.new_generation_health(action);
                    return Ok((
                        Job::Shift {
                            provider,
                            req,
                            stage,
                            health,
                            record,
                            sensitive,
                            marks,
                            write_only,
                        },
                        intent,
                    ));
                }
                Ok((
                    Job::Update {
                        provider,
                        req,
                        record,
                        sensitive,
                        marks,
                        write_only,
                    },
                    intent,
                ))
            }
            StepOp::Delete | StepOp::DeleteDeposed => {
                let object = self
                    .object_to_delete(i)
                    .ok_or_else(|| StepError::NotInState {
                        addr: Box::new(action.addr.clone()),
                        id: Some(step.object_id.clone().unwrap_or_else(|| "unknown".into())),
                    })?;
                let req = DeleteRequest {
                    type_name: object.type_name.to_string(),
                    id: object.id.to_string(),
                    state: object.attributes.to_unmarked(),
                    context: self.context(action, object.generation),
                };
                let intent = intent(
                    object.idempotency_key.clone(),
                    Some(object.id.clone()),
                    object.generation,
                );
                Ok((Job::Delete { provider, req }, intent))
            }
        }
    }

    /// The object a delete step targets: for `Delete` the current object
    /// (or a deposed one with the step's id), for `DeleteDeposed` a deposed
    /// object with the step's id (or the current one if it has that id).
    fn object_to_delete(&self, i: usize) -> Option<&ResourceState> {
        let step = &self.plan.steps[i];
        let addr = &self.action(i).addr;
        let current = self
            .state
            .resources
            .get(addr)
            .filter(|r| step.object_id.as_ref().is_none_or(|id| *id == r.id));
        let deposed = || {
            let id = step.object_id.as_ref()?;
            self.state
                .deposed
                .get(addr, id)
                .or_else(|| self.state.previous.as_ref()?.resources.get(addr, id))
        };
        match step.op {
            StepOp::DeleteDeposed => {
                deposed().or_else(|| current.filter(|_| step.object_id.is_some()))
            }
            _ => current.or_else(deposed),
        }
    }

    /// The health checks of the objects this apply creates that `action`
    /// (a traffic switch) routes to.
    fn new_generation_health(&self, action: &Action) -> Vec<Health> {
        action
            .dependencies
            .iter()
            .filter_map(|d| {
                let a = self.plan.actions.iter().find(|a| {
                    &a.addr == d
                        && a.health_check
                        && matches!(a.kind, ActionKind::Create | ActionKind::Replace)
                })?;
                let provider = provider_for(self.registry, &a.provider, &a.type_name).ok()?;
                let r = self.state.resources.get(&a.addr)?;
                let req = HealthRequest {
                    type_name: r.type_name.to_string(),
                    id: r.id.to_string(),
                    state: r.attributes.to_unmarked(),
                };
                Some((provider, req))
            })
            .collect()
    }

    /// Records a finished stage of a shift: the switch's new weights, then
    /// the next stage, the end of the shift, or (a failed check) the
    /// rollback, whose first undo sets the switch back to where it was
    /// before the first stage.
    fn finish_stage(
        &mut self,
        done: Done,
        straight: bool,
        verdict: Result<String, String>,
        origin: Option<Value>,
    ) {
        let i = done.step;
        let plan = self.plan;
        let step = &plan.steps[i];
        let action = &plan.actions[step.action];
        let (index, since) = self.shifts.get(&i).copied().unwrap_or((0, 0));
        if index == 0
            && let Some(prior) = self.state.resources.get(&action.addr)
        {
            let mut prior = prior.clone();
            if let Some(origin) = origin {
                prior.attributes = origin.mark_like(&prior.attributes);
            }
            self.undo.push(Undo::Updated {
                step: i,
                prior: Box::new(prior),
            });
        }
        apply_outcome(
            &mut self.state,
            &action.addr,
            JournalOp::Update,
            &done.outcome,
        );
        let Some(cutover) = &action.cutover else {
            return;
        };
        let stage = Stage::of(cutover, index, since);
        match verdict {
            Err(message) => self.fail(
                i,
                format!("{message}; traffic goes back to the old generation"),
                done.elapsed,
            ),
            Ok(summary) => {
                self.observer
                    .cutover_step(plan, step, &stage.progress(Some(summary)));
                if straight || stage.last() {
                    let id = match done.outcome {
                        Outcome::Updated { resource } => Some(resource.id),
                        _ => None,
                    };
                    self.succeed(i, id, done.elapsed);
                } else {
                    self.shifts.insert(i, (index + 1, since));
                    self.status[i] = Status::Pending;
                    self.graph.push(i);
                }
            }
        }
    }

    /// Step `i` succeeded: its dependents may start.
    fn succeed(&mut self, i: usize, id: Option<SmolStr>, elapsed: Duration) {
        let step = &self.plan.steps[i];
        let addr = self.action(i).addr.clone();
        self.status[i] = Status::Succeeded;
        self.observer.step_finished(
            self.plan,
            step,
            &StepReport {
                addr,
                op: step.op,
                id,
                error: None,
                elapsed,
            },
        );
        let status = &self.status;
        self.graph.done(i, |d| status[d] == Status::Pending);
        self.settled(i, false);
    }

    /// Records a finished provider call.
    fn finish(&mut self, mut done: Done) {
        if let Some((straight, verdict, origin)) = done.shift.take()
            && matches!(done.outcome, Outcome::Updated { .. })
        {
            return self.finish_stage(done, straight, verdict, origin);
        }
        let i = done.step;
        let step = &self.plan.steps[i];
        let addr = self.action(i).addr.clone();
        // What a rollback would need, read before the outcome changes the state.
        match &done.outcome {
            Outcome::Created { resource } => self.undo.push(Undo::Created {
                step: i,
                id: resource.id.clone(),
                replaced: self.state.resources.get(&addr).map(|r| r.id.clone()),
            }),
            Outcome::Failed {
                created: Some(resource),
                ..
            } => self.undo.push(Undo::Created {
                step: i,
                id: resource.id.clone(),
                replaced: None,
            }),
            Outcome::Updated { .. } => {
                if let Some(prior) = self.state.resources.get(&addr) {
                    self.undo.push(Undo::Updated {
                        step: i,
                        prior: Box::new(prior.clone()),
                    });
                }
            }
            _ => {}
        }
        let ended = match &done.outcome {
            Outcome::Failed { message, .. } => Err(message.clone()),
            Outcome::Created { resource } => {
                self.created_any = true;
                Ok(Some(resource.id.clone()))
            }
            Outcome::Updated { resource } => Ok(Some(resource.id.clone())),
            Outcome::Deleted { id } => Ok(Some(id.as_str().into())),
            Outcome::Restored { .. } => Ok(None),
        };
        // The object moves into the state.
        record_outcome(&mut self.state, &addr, journal_op(step.op), done.outcome);
        match ended {
            Err(message) => self.fail(i, message, done.elapsed),
            Ok(id) => self.succeed(i, id, done.elapsed),
        }
    }

    /// The call that undoes `undo`, or `None` if there is nothing left to
    /// undo.
    fn prepare_undo(
        &mut self,
        undo: &Undo,
        fresh_id: &mut impl FnMut() -> usize,
    ) -> Result<Option<UndoCall>, StepError> {
        let action = &self.plan.actions[self.plan.steps[undo.step()].action];
        let provider = provider_for(self.registry, &action.provider, &action.type_name)?;
        let intent = |step: usize, op: JournalOp, object: &ResourceState| JournalRecord::Intent {
            step,
            addr: action.addr.clone(),
            op,
            type_name: object.type_name.clone(),
            provider: object.provider.clone(),
            id: Some(object.id.clone()),
            idempotency_key: object.idempotency_key.clone(),
            generation: object.generation,
            at: util::now(),
            config: None,
            dependencies: Vec::new(),
        };
        match undo {
            Undo::Created { id, replaced, .. } => {
                let current = self
                    .state
                    .resources
                    .get(&action.addr)
                    .filter(|r| &r.id == id);
                let deposed = || self.state.deposed.get(&action.addr, id);
                let Some(object) = current.or_else(deposed) else {
                    return Ok(None);
                };
                // The superseded object becomes current again first; the
                // new one is then deleted as deposed.
                let restore = match replaced {
                    Some(old) if current.is_some() => Some(JournalRecord::Result {
                        step: fresh_id(),
                        addr: action.addr.clone(),
                        op: JournalOp::DeleteDeposed,
                        outcome: Outcome::Restored {
                            id: old.to_string(),
                        },
                        at: util::now(),
                    }),
                    _ => None,
                };
                let op = if current.is_some() && restore.is_none() {
                    JournalOp::Delete
                } else {
                    JournalOp::DeleteDeposed
                };
                let journal_step = fresh_id();
                let req = DeleteRequest {
                    type_name: object.type_name.to_string(),
                    id: object.id.to_string(),
                    state: object.attributes.to_unmarked(),
                    context: self.context(action, object.generation),
                };
                Ok(Some(UndoCall {
                    restore,
                    intent: intent(journal_step, op, object),
                    job: Job::Delete { provider, req },
                    what: undo.report(action, None),
                    op,
                    journal_step,
                }))
            }
            Undo::Updated { prior, .. } => {
                let Some(current) = self
                    .state
                    .resources
                    .get(&action.addr)
                    .filter(|r| r.id == prior.id)
                else {
                    return Ok(None);
                };
                let now = current.attributes.to_unmarked();
                // The whole prior object: an attribute the update added is
                // set back to null.
                let mut planned = prior.attributes.to_unmarked();
                if let (Some(now), Value::Map(planned)) = (now.as_map(), &mut planned) {
                    for k in now.keys() {
                        planned.entry(k.clone()).or_insert(Value::Null);
                    }
                }
                let changed = changed_keys(&now, &planned);
                if changed.is_empty() {
                    return Ok(None);
                }
                let journal_step = fresh_id();
                let intent = intent(journal_step, JournalOp::Update, current);
                let req = UpdateRequest {
                    type_name: current.type_name.to_string(),
                    id: current.id.to_string(),
                    prior: now,
                    planned,
                    changed,
                    context: self.context(action, current.generation),
                };
                let (sensitive, write_only) = self.attrs_for(&action.type_name);
                Ok(Some(UndoCall {
                    restore: None,
                    intent,
                    job: Job::Update {
                        provider,
                        req,
                        record: ResourceRecord::from(&**prior),
                        sensitive,
                        marks: prior.attributes.clone(),
                        write_only,
                    },
                    what: undo.report(action, None),
                    op: JournalOp::Update,
                    journal_step,
                }))
            }
        }
    }

    /// Step `i` is done (succeeded, failed or skipped): once no create or
    /// update is left, the held deletes may run — unless one failed.
    fn settled(&mut self, i: usize, failed: bool) {
        if !is_move(self.plan.steps[i].op) {
            return;
        }
        self.move_failed |= failed;
        self.moves_left -= 1;
        if self.moves_left == 0 && !self.move_failed {
            for h in self.held.drain(..) {
                self.graph.push(h);
            }
        }
    }

    fn fail(&mut self, i: usize, message: String, elapsed: Duration) {
        let step = &self.plan.steps[i];
        let addr = self.action(i).addr.clone();
        self.status[i] = Status::Failed;
        self.settled(i, true);
        let report = StepReport {
            addr: addr.clone(),
            op: step.op,
            id: None,
            error: Some(message.clone()),
            elapsed,
        };
        self.observer.step_finished(self.plan, step, &report);
        self.failures.push(Failure {
            addr,
            op: step.op,
            message,
        });
        self.skip_dependents(i);
    }

    /// Marks every transitive dependent of `i` skipped (each visited once).
    fn skip_dependents(&mut self, i: usize) {
        let mut stack = vec![i];
        while let Some(s) = stack.pop() {
            for k in 0..self.graph.waiting_for(s).len() {
                let d = self.graph.waiting_for(s)[k];
                if self.status[d] == Status::Pending {
                    self.status[d] = Status::Skipped;
                    self.settled(d, false);
                    let step = &self.plan.steps[d];
                    self.skipped
                        .push((self.plan.actions[step.action].addr.clone(), step.op));
                    stack.push(d);
                }
            }
        }
    }

    /// Evaluates the outputs: their values, and as the state records them
    /// (`None`, with the errors in the diagnostics, if that fails).
    fn outputs(
        &mut self,
        ev: &mut ApplyEvaluator<'_>,
    ) -> Option<(BTreeMap<String, Value>, BTreeMap<String, OutputState>)> {
        let state = &self.state;
        let applied = |a: &InstanceAddr| state.resources.get(a).map(|r| r.attributes.clone());
        let values = match ev.outputs(&applied) {
            Ok(v) => v,
            Err(d) => {
                self.diagnostics.extend(d);
                return None;
            }
        };
        let states = values
            .iter()
            .map(|(name, value)| {
                let sensitive = self.plan.outputs.get(name).is_some_and(|o| o.sensitive);
                let value = if sensitive {
                    value.clone().sensitive()
                } else {
                    value.clone()
                };
                (name.clone(), OutputState { value, sensitive })
            })
            .collect();
        Some((values, states))
    }
}

/// Runs one step's provider calls ([`walk`] boxes the future and
/// polls it at once, so no started step waits unpolled).
async fn run_job(step: usize, job: Job) -> Done {
    let started = Instant::now();
    let outcome = match job {
        Job::Create {
            provider,
            req,
            health_check,
            record,
            sensitive,
            marks,
            write_only,
        } => {
            create(
                provider.as_ref(),
                req,
                health_check,
                record,
                (&sensitive, &marks, &write_only),
            )
            .await
        }
        Job::Update {
            provider,
            req,
            mut record,
            sensitive,
            marks,
            write_only,
        } => {
            let resp = provider.update(req).await;
            match errors(&resp.diagnostics) {
                Some(message) => Outcome::Failed {
                    message,
                    created: None,
                },
                None => {
                    record.attributes = util::without_write_only(
                        mark_sensitive(resp.state, &sensitive).mark_like(&marks),
                        &write_only,
                    );
                    Outcome::Updated { resource: record }
                }
            }
        }
        Job::Shift {
            provider,
            req,
            stage,
            health,
            mut record,
            sensitive,
            marks,
            write_only,
        } => {
            let end = cutover::run_stage(provider, req, &stage, &health).await;
            let outcome = match (end.state, &end.verdict) {
                (Some(state), _) => {
                    record.attributes = util::without_write_only(
                        mark_sensitive(state, &sensitive).mark_like(&marks),
                        &write_only,
                    );
                    Outcome::Updated { resource: record }
                }
                (None, Err(message)) => Outcome::Failed {
                    message: message.clone(),
                    created: None,
                },
                (None, Ok(_)) => Outcome::Failed {
                    message: "the switch was not set".into(),
                    created: None,
                },
            };
            return Done {
                step,
                outcome,
                elapsed: started.elapsed(),
                shift: Some((end.straight, end.verdict, end.origin)),
            };
        }
        Job::Delete { provider, req } => {
            let id = req.id.clone();
            let resp = provider.delete(req).await;
            match errors(&resp.diagnostics) {
                Some(message) => Outcome::Failed {
                    message,
                    created: None,
                },
                None => Outcome::Deleted { id },
            }
        }
    };
    Done {
        step,
        outcome,
        elapsed: started.elapsed(),
        shift: None,
    }
}

/// Creates, then (for health-checked types) checks; an unhealthy new object
/// is deleted at once, and recorded as deposed if that delete fails too.
async fn create(
    provider: &dyn Provider,
    req: CreateRequest,
    health_check: bool,
    mut record: ResourceRecord,
    (sensitive, marks, write_only): (&[String], &Value, &[String]),
) -> Outcome {
    let type_name = req.type_name.clone();
    let context = req.context.clone();
    let resp = provider.create(req).await;
    let error = errors(&resp.diagnostics);
    let Some(id) = resp.id else {
        return Outcome::Failed {
            message: error.unwrap_or_else(|| "the provider returned no id".into()),
            created: None,
        };
    };
    record.id = id.clone().into();
    record.attributes = util::without_write_only(
        mark_sensitive(resp.state, sensitive).mark_like(marks),
        write_only,
    );
    if let Some(message) = error {
        // It failed after making something: keep it recorded.
        return Outcome::Failed {
            message,
            created: Some(record),
        };
    }
    if !health_check {
        return Outcome::Created { resource: record };
    }
    let health = provider
        .check_health(HealthRequest {
            type_name: type_name.clone(),
            id: id.clone(),
            state: record.attributes.to_unmarked(),
        })
        .await;
    let failed = match errors(&health.diagnostics) {
        Some(e) => Some(format!("health check could not run: {e}")),
        None if !health.healthy => Some(format!("health check failed: {}", health.message)),
        None => None,
    };
    let Some(message) = failed else {
        return Outcome::Created { resource: record };
    };
    let deleted = provider
        .delete(DeleteRequest {
            type_name,
            id,
            state: record.attributes.to_unmarked(),
            context,
        })
        .await;
    match errors(&deleted.diagnostics) {
        None => Outcome::Failed {
            message: format!("{message}; the new object was deleted"),
            created: None,
        },
        Some(e) => Outcome::Failed {
            message: format!(
                "{message}; deleting the new object failed too ({e}), so it is kept as deposed for the next apply to delete"
            ),
            created: Some(record),
        },
    }
}
