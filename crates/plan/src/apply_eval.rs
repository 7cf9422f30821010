//! Apply-time evaluation (to be written).

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{InstanceAddr, Value};

use crate::Plan;

/// Re-evaluates planned actions with the values apply produced.
pub struct ApplyEvaluator {
    _private: (),
}

impl ApplyEvaluator {
    /// Prepares to evaluate `plan` (re-parses its configuration).
    pub fn new(plan: &Plan) -> Result<ApplyEvaluator, Diagnostics> {
        let _ = plan;
        Ok(ApplyEvaluator { _private: () })
    }

    /// The final attributes of action `action` (an index into `plan.actions`),
    /// fully known. `applied` gives the attributes of any instance whose step
    /// has finished (or which did not change). Fails if a value that the plan
    /// showed as known came out different.
    pub fn final_attributes(
        &mut self,
        action: usize,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<Value, Diagnostics> {
        let _ = (action, applied);
        Err(Diagnostic::error("apply-time evaluation is not written yet").into())
    }

    /// The outputs' final values once every step has finished.
    pub fn outputs(
        &mut self,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<std::collections::BTreeMap<String, Value>, Diagnostics> {
        let _ = applied;
        Ok(Default::default())
    }
}
