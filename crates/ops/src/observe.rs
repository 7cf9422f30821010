//! How an operation reports to its caller.

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_plan::Plan;

/// Receives everything an operation has to say. The binary renders it on
/// the terminal; a test records it. Step progress comes through the
/// engine's observer, which this extends.
pub trait Observer: kiln_engine::Observer {
    /// Progress of the operation ("Recovered ...", a step's messages).
    fn status(&self, message: &str);
    /// Something the user should know; the operation goes on.
    fn warn(&self, message: &str);
    /// One of several failures the operation reports before it fails.
    fn error(&self, message: &str);
    /// Diagnostics that do not stop the operation by themselves (warnings,
    /// or the errors it is about to fail with).
    fn diagnostic(&self, diagnostic: &Diagnostic);
    /// The plan an operation is about to apply (or made, for `plan`).
    fn planned(&self, plan: &Plan);
    /// Asks whether to go on with `question`; an error cancels (nothing has
    /// changed yet).
    fn confirm(&self, question: &str) -> anyhow::Result<()>;
    /// Asks for the value of a required variable that has none; `None` when
    /// nobody can answer (not a terminal) or the answer is empty.
    fn ask(&self, question: &str) -> anyhow::Result<Option<String>>;
    /// Every diagnostic of a set, in order, with a count of the errors.
    fn diagnostics(&self, diagnostics: &Diagnostics);
}
