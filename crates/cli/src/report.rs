//! The terminal side of an operation: [`Reporter`] is the
//! [`kiln_ops::Observer`] that renders what an operation says through
//! [`Output`], asks the user, and prints each step's progress.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Result, bail};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_plan::{Plan, Step, StepOp};
use serde_json::json;

use crate::output::{Output, Style};
use crate::render;

/// Renders an operation's reports on the terminal.
pub struct Reporter<'a> {
    out: &'a Output,
    /// `--yes`: confirmations are answered yes without asking.
    yes: bool,
    started: Mutex<HashMap<usize, Instant>>,
    /// Steps of the plan being applied, and how many finished.
    steps: Mutex<Counts>,
    /// `--json`: every event also as one JSON line on stdout
    /// (docs/apply-events.md).
    json: bool,
}

/// What the live status line counts.
#[derive(Default)]
struct Counts {
    total: usize,
    finished: usize,
    live: bool,
}

impl Counts {
    fn line(&self, in_flight: usize) -> String {
        let left = self.total.saturating_sub(self.finished + in_flight);
        format!(
            "{} of {} steps done, {in_flight} in flight, {left} left",
            self.finished, self.total
        )
    }
}

impl Drop for Reporter<'_> {
    fn drop(&mut self) {
        self.out.live_stop();
    }
}

impl<'a> Reporter<'a> {
    /// A reporter that asks before applying.
    pub fn asking(out: &'a Output) -> Reporter<'a> {
        Reporter {
            out,
            yes: false,
            started: Mutex::default(),
            steps: Mutex::default(),
            json: false,
        }
    }

    /// With `--json`: events as JSON lines on stdout, and the plan as JSON.
    pub fn with_json_events(mut self, json: bool) -> Reporter<'a> {
        self.json = json;
        self
    }

    /// With `--json`, the event `event` builds as one line on stdout
    /// (built only then: an apply reports two per step).
    fn event(&self, event: impl FnOnce() -> serde_json::Value) {
        if self.json {
            self.out.line(&event().to_string());
        }
    }

    /// A reporter whose confirmations are answered by `--yes`.
    pub fn approved(out: &'a Output, yes: bool) -> Reporter<'a> {
        let mut r = Reporter::asking(out);
        r.yes = yes;
        r
    }
}

impl kiln_ops::Observer for Reporter<'_> {
    fn status(&self, message: &str) {
        self.out.status(message);
    }

    fn warn(&self, message: &str) {
        self.out.warn(message);
    }

    fn error(&self, message: &str) {
        self.out.error(message);
    }

    fn diagnostic(&self, diagnostic: &Diagnostic) {
        self.out.diagnostic(diagnostic);
    }

    fn diagnostics(&self, diagnostics: &Diagnostics) {
        self.out.diagnostics(diagnostics);
    }

    fn planned(&self, plan: &Plan) {
        if self.json {
            self.event(|| json!({"event": "plan", "plan": render::plan_json(plan)}));
        } else {
            render::print_plan(self.out, plan);
        }
    }

    fn confirm(&self, question: &str) -> Result<()> {
        use std::io::IsTerminal;
        if self.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "stdin is not a terminal, so kiln cannot ask for confirmation; pass --yes to apply without asking"
            );
        }
        if !self.out.confirm(question)? {
            bail!("cancelled: nothing was changed");
        }
        Ok(())
    }

    fn ask(&self, question: &str) -> Result<Option<String>> {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        let raw = self.out.prompt(question)?;
        Ok(Some(raw).filter(|r| !r.is_empty()))
    }
}

impl kiln_engine::Observer for Reporter<'_> {
    fn waiting(&self) {
        self.out.flush_status();
    }

    fn step_started(&self, plan: &Plan, step: &Step) {
        let in_flight = self.started.lock().map_or(0, |mut m| {
            m.insert(step.id, Instant::now());
            m.len()
        });
        if let Ok(mut c) = self.steps.lock() {
            if !c.live {
                c.live = true;
                c.total = plan.steps.len();
                self.out.live_start(c.line(in_flight));
            } else {
                self.out.live_update(|| c.line(in_flight));
            }
        }
        let a = &plan.actions[step.action];
        self.out
            .status_batched(format_args!("{}: {}...", a.addr, verb(step.op, false)));
        self.event(
            || json!({"event": "step_started", "address": a.addr.to_string(), "op": step.op}),
        );
    }

    fn cutover_step(&self, plan: &Plan, step: &Step, p: &kiln_engine::CutoverProgress) {
        let a = &plan.actions[step.action];
        self.event(|| {
            json!({
                "event": "cutover_step",
                "address": a.addr.to_string(),
                "stage": p.stage,
                "stages": p.stages,
                "weight": p.weight,
                "hold_ms": p.hold.as_millis() as u64,
                "checks": p.checks,
            })
        });
        let line = match &p.checks {
            None => format!(
                "{}: cutover step {} of {}: {}% of requests to the new generation, held {}",
                a.addr,
                p.stage,
                p.stages,
                p.weight,
                humantime::format_duration(p.hold)
            ),
            Some(c) if c.is_empty() => {
                format!("{}: cutover step {} of {} done", a.addr, p.stage, p.stages)
            }
            Some(c) => format!(
                "{}: cutover step {} of {} held: {c}",
                a.addr, p.stage, p.stages
            ),
        };
        self.out.status(&line);
    }

    fn step_finished(&self, plan: &Plan, step: &Step, report: &kiln_engine::StepReport) {
        let (elapsed, in_flight) = self
            .started
            .lock()
            .map_or((Default::default(), 0), |mut m| {
                let elapsed = m.remove(&step.id).map(|t| t.elapsed()).unwrap_or_default();
                (elapsed, m.len())
            });
        if let Ok(mut c) = self.steps.lock() {
            c.finished += 1;
            if c.finished >= c.total {
                self.out.live_stop();
            } else {
                self.out.live_update(|| c.line(in_flight));
            }
        }
        let a = &plan.actions[step.action];
        self.event(|| {
            json!({
                "event": "step_finished",
                "address": a.addr.to_string(),
                "op": step.op,
                "id": report.id,
                "error": report.error,
                "elapsed_ms": elapsed.as_millis() as u64,
            })
        });
        match &report.error {
            None => self.out.status_batched(format_args!(
                "{}: {} ({:.1?})",
                a.addr,
                verb(step.op, true),
                elapsed
            )),
            Some(e) => self.out.status_styled(
                Style::Red,
                &format!("{}: {} failed: {e}", a.addr, verb(step.op, false)),
            ),
        }
    }

    fn rollback_started(&self, undo: &kiln_engine::RolledBack) {
        self.event(|| rollback_event("rollback_started", undo));
        self.out.status(&format!(
            "{}: rolling back: {} {}...",
            undo.addr,
            rollback_verb(undo.op, false),
            undo.id
        ));
    }

    fn rollback_finished(&self, undo: &kiln_engine::RolledBack) {
        self.event(|| rollback_event("rollback_finished", undo));
        match &undo.error {
            None => self.out.status(&format!(
                "{}: rolled back: {} {}",
                undo.addr,
                rollback_verb(undo.op, true),
                undo.id
            )),
            Some(e) => self.out.status_styled(
                Style::Red,
                &format!(
                    "{}: rolling back ({} {}) failed: {e}",
                    undo.addr,
                    rollback_verb(undo.op, false),
                    undo.id
                ),
            ),
        }
    }
}

fn rollback_event(event: &str, undo: &kiln_engine::RolledBack) -> serde_json::Value {
    let op = match undo.op {
        kiln_engine::RollbackOp::Delete => "delete",
        kiln_engine::RollbackOp::Revert => "revert",
    };
    json!({"event": event, "address": undo.addr.to_string(), "op": op, "id": undo.id, "error": undo.error})
}

fn rollback_verb(op: kiln_engine::RollbackOp, done: bool) -> &'static str {
    match (op, done) {
        (kiln_engine::RollbackOp::Delete, false) => "destroying the new object",
        (kiln_engine::RollbackOp::Delete, true) => "destroyed the new object",
        (kiln_engine::RollbackOp::Revert, false) => "setting back",
        (kiln_engine::RollbackOp::Revert, true) => "set back",
    }
}

fn verb(op: StepOp, done: bool) -> &'static str {
    use StepOp::*;
    match (op, done) {
        (Create, false) => "creating",
        (Create, true) => "created",
        (Update, false) => "updating",
        (Update, true) => "updated",
        (Delete, false) | (DeleteDeposed, false) => "destroying",
        (Delete, true) | (DeleteDeposed, true) => "destroyed",
    }
}

/// Ctrl-C as the interrupt of an apply.
pub fn ctrl_c() -> kiln_ops::Interrupt {
    kiln_ops::Interrupt(std::sync::Arc::new(|| {
        Box::pin(async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handler: nothing can interrupt.
                std::future::pending::<()>().await;
            }
        })
    }))
}
