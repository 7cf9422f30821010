//! The planner (to be written).

use kiln_config::Config;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::Schemas;
use kiln_state::State;

use crate::{Plan, PlanOptions};

/// Plans `config` against `state`.
pub fn plan(
    config: &Config,
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    let _ = (config, state, schemas, options);
    Err(Diagnostic::error("the planner is not written yet").into())
}
