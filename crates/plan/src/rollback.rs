//! `kiln rollback`: the plan that moves traffic back to the generation kept
//! by `apply --keep-previous`.
//!
//! Nothing is created or destroyed: each traffic switch is updated in place
//! to the run-time settings it had when it pointed at the previous
//! generation, and a successful apply then swaps the current and previous
//! generations in state ([`GenerationChange::Swap`]), so a second rollback
//! returns. The plan needs no configuration: every planned value is known.

use std::collections::BTreeMap;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{Schemas, Value};
use kiln_state::State;

use crate::planner::runtime_settings;
use crate::{
    Action, ActionKind, GenerationChange, PLAN_FORMAT_VERSION, Plan, PlanSource, Reason, steps,
};

/// Plans the rollback of `state` to its previous generation.
pub fn rollback(state: &State, schemas: &Schemas, env: &str) -> Result<Plan, Diagnostics> {
    let Some(prev) = &state.previous else {
        return Err(Diagnostic::error(format!(
            "environment {env:?} has no previous generation to roll back to"
        ))
        .with_detail("`kiln apply --keep-previous` keeps the generation it replaces; `kiln rollback --to GENERATION` recreates an earlier one from the state history")
        .into());
    };
    let mut diags = Diagnostics::new();
    let mut actions = Vec::new();
    let mut now = Vec::new();
    for (addr, settings) in &prev.switches {
        let Some(current) = state.resources.get(addr) else {
            diags.push(Diagnostic::error(format!(
                "the traffic switch {addr} that pointed at generation {} is no longer in the state",
                prev.generation
            )).with_detail("traffic cannot be moved back through it; recreate the generation with `kiln rollback --to GENERATION`"));
            continue;
        };
        let schema = schemas.resource(&current.type_name).map(|(_, s)| s);
        let Some(schema) = schema else {
            diags.push(Diagnostic::error(format!(
                "no provider offers resource type {:?} (of the traffic switch {addr})",
                current.type_name
            )));
            continue;
        };
        now.push((addr.clone(), runtime_settings(&current.attributes, schema)));
        let mut after = current.attributes.as_map().cloned().unwrap_or_default();
        for (k, v) in settings.as_map().into_iter().flatten() {
            after.insert(k.clone(), v.clone());
        }
        let after = Value::Map(after.into());
        let kind = if after == current.attributes {
            ActionKind::NoOp
        } else {
            ActionKind::Update
        };
        actions.push(Action {
            addr: addr.clone(),
            kind,
            type_name: current.type_name.clone(),
            provider: current.provider.clone(),
            stateful: current.stateful,
            before: Some(current.attributes.clone()),
            after: Some(after),
            reasons: vec![Reason::Rollback {
                generation: prev.generation,
            }],
            dependencies: current.dependencies.clone(),
            generation: current.generation,
            health_check: false,
            kept: false,
            cutover: None,
        });
    }
    if diags.has_errors() {
        return Err(diags);
    }
    actions.sort_by(|a, b| a.addr.cmp(&b.addr));
    let steps = steps::build(&actions, state)?;
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        env: env.to_string(),
        prior_lineage: state.lineage.clone(),
        prior_serial: state.serial,
        generation: state.generation,
        actions,
        steps,
        outputs: BTreeMap::new(),
        removed_outputs: BTreeMap::new(),
        source: PlanSource::default(),
        warnings: Diagnostics::new(),
        generations: Some(GenerationChange::Swap {
            to: prev.generation,
            switches: now,
        }),
        destroy: false,
        ephemeral_variables: Vec::new(),
        ephemeral: BTreeMap::new(),
        moves: Vec::new(),
        forgotten: Vec::new(),
        partial: false,
        imported: Vec::new(),
    })
}
