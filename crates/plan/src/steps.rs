//! The action graph: which steps the engine runs and what each waits for.
//!
//! - A create or update waits for the create / update of every instance it
//!   refers to (for a health-checked type, a create finishes only once the
//!   new object is healthy, so whatever moves onto it waits for that).
//! - The old object of a replacement is deleted after its replacement
//!   exists, after every instance that refers to it has moved onto the new
//!   one, and after the old objects that referred to it are gone.
//! - A delete waits for the deletion of everything that depended on it (in
//!   state) and for the instances that used to refer to it to move off.
//! - The old object of a replacement kept for rollback (`--keep-previous`)
//!   has no delete step; the objects of a previous generation no longer kept
//!   are deleted like deposed ones.
//!
//! Steps are numbered in action order (actions are sorted by address), so
//! the graph is deterministic.

use kiln_diag::Diagnostic;
use kiln_model::InstanceAddr;
use kiln_model::fxhash::{FxHashMap, map_with_capacity};
use kiln_state::State;

use crate::{Action, ActionKind, Step, StepOp};

fn deposed_id(a: &Action) -> Option<&str> {
    a.superseded_id()
}

/// Builds the steps of sorted `actions`. Fails only if the graph has a
/// cycle, which a state whose dependencies form a loop can cause.
pub(crate) fn build(actions: &[Action], state: &State) -> Result<Vec<Step>, Diagnostic> {
    let n = actions.len();

    // Pass 1: the steps, in action order.
    let mut steps: Vec<Step> = Vec::new();
    let mut moves: Vec<Option<usize>> = vec![None; n];
    let mut removes: Vec<Option<usize>> = vec![None; n];
    let add = |steps: &mut Vec<Step>, action: usize, op: StepOp, object_id: Option<String>| {
        let id = steps.len();
        steps.push(Step {
            id,
            action,
            op,
            object_id,
            depends_on: Vec::new(),
        });
        id
    };
    for (i, a) in actions.iter().enumerate() {
        let old_id = || state.resources.get(&a.addr).map(|r| r.id.to_string());
        match a.kind {
            ActionKind::NoOp => {}
            ActionKind::Create => moves[i] = Some(add(&mut steps, i, StepOp::Create, None)),
            ActionKind::Update => moves[i] = Some(add(&mut steps, i, StepOp::Update, None)),
            ActionKind::Replace => {
                moves[i] = Some(add(&mut steps, i, StepOp::Create, None));
                // A kept old object stays, as the previous generation.
                if !a.kept {
                    removes[i] = Some(add(&mut steps, i, StepOp::DeleteDeposed, old_id()));
                }
            }
            ActionKind::Delete => {
                removes[i] = Some(match deposed_id(a) {
                    Some(id) => add(&mut steps, i, StepOp::DeleteDeposed, Some(id.to_string())),
                    None => add(&mut steps, i, StepOp::Delete, old_id()),
                });
            }
        }
    }

    // A plan without changes has nothing more to order.
    if steps.is_empty() {
        return Ok(steps);
    }
    let mut current: FxHashMap<&InstanceAddr, usize> = map_with_capacity(n);
    let mut deposed: FxHashMap<(&InstanceAddr, &str), usize> = map_with_capacity(0);
    for (i, a) in actions.iter().enumerate() {
        match deposed_id(a) {
            Some(id) => {
                deposed.insert((&a.addr, id), i);
            }
            None => {
                current.insert(&a.addr, i);
            }
        }
    }

    // What each create or update refers to (as action indexes, flattened).
    let mut dep_start = Vec::with_capacity(n + 1);
    let mut dep_actions = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        dep_start.push(dep_actions.len());
        if moves[i].is_some() {
            dep_actions.extend(
                a.dependencies
                    .iter()
                    .filter_map(|d| current.get(d).copied()),
            );
        }
    }
    dep_start.push(dep_actions.len());
    let refers = |i: usize| &dep_actions[dep_start[i]..dep_start[i + 1]];

    // Who refers to whom: in the configuration (instances that create or
    // update) and in the state (objects that may be deleted).
    let mut config_referrers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for &j in refers(i) {
            config_referrers[j].push(i);
        }
    }
    let mut state_referrers: FxHashMap<&InstanceAddr, Vec<usize>> = map_with_capacity(0);
    for (addr, r) in &state.resources {
        if let Some(&i) = current.get(addr) {
            for d in &r.dependencies {
                state_referrers.entry(d).or_default().push(i);
            }
        }
    }
    let previous = state.previous.iter().flat_map(|p| &p.resources);
    for r in state.deposed.iter().chain(previous) {
        if let Some(&i) = deposed.get(&(&r.addr, r.id.as_str())) {
            for d in &r.dependencies {
                state_referrers.entry(d).or_default().push(i);
            }
        }
    }

    // Pass 2: what each step waits for.
    let none = Vec::new();
    for step in &mut steps {
        let i = step.action;
        let a = &actions[i];
        let deps = &mut step.depends_on;
        match step.op {
            StepOp::Create | StepOp::Update => {
                deps.extend(refers(i).iter().filter_map(|&j| moves[j]));
            }
            StepOp::Delete | StepOp::DeleteDeposed => {
                let is_deposed = deposed_id(a).is_some();
                if !is_deposed && let Some(s) = moves[i] {
                    deps.push(s);
                }
                let old_dependents = state_referrers.get(&a.addr).unwrap_or(&none);
                for &j in old_dependents {
                    if j == i {
                        continue;
                    }
                    deps.extend(removes[j]);
                    if !is_deposed {
                        deps.extend(moves[j]);
                    }
                }
                if !is_deposed {
                    for &j in &config_referrers[i] {
                        if j != i {
                            deps.extend(moves[j]);
                        }
                    }
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
    }
    check_acyclic(&steps, actions)?;
    Ok(steps)
}

/// Kahn's algorithm: every step must be reachable in dependency order.
fn check_acyclic(steps: &[Step], actions: &[Action]) -> Result<(), Diagnostic> {
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for s in steps {
        for &d in &s.depends_on {
            dependents[d].push(s.id);
        }
    }
    let mut ready: Vec<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(s) = ready.pop() {
        done += 1;
        for &t in &dependents[s] {
            waiting[t] -= 1;
            if waiting[t] == 0 {
                ready.push(t);
            }
        }
    }
    if done == steps.len() {
        return Ok(());
    }
    let mut stuck: Vec<String> = steps
        .iter()
        .filter(|s| waiting[s.id] > 0)
        .map(|s| actions[s.action].addr.to_string())
        .collect();
    stuck.dedup();
    Err(Diagnostic::error(format!(
        "the steps of this plan wait on each other in a cycle: {}",
        stuck.join(", ")
    ))
    .with_detail("the dependencies recorded in the state form a loop; this is a bug or the state was edited by hand"))
}
