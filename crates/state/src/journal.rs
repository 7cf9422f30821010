//! The journal: an append-only log of one apply.
//!
//! Before a provider call that creates or deletes something the engine appends
//! an *intent*; after it, a *result*. Appending is O(1); the whole state is
//! written once, at the end, by [`compact`]ing the journal onto the state the
//! apply started from. After a crash the same function recovers what finished,
//! and [`in_flight`] lists the intents with no result (to adopt or clean up).

use kiln_model::{InstanceAddr, SmolStr, Value};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::{AppliedSource, OutputState, Previous, ResourceState, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOp {
    Create,
    Update,
    /// Delete the current object at the address.
    Delete,
    /// Delete the superseded object of a replacement.
    DeleteDeposed,
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new object exists. For a replacement the object it supersedes becomes
    /// deposed until its own delete step succeeds.
    Created {
        resource: ResourceRecord,
    },
    Updated {
        resource: ResourceRecord,
    },
    /// The object with this id is gone.
    Deleted {
        id: String,
    },
    /// The provider call failed; `created` is set when it failed after making
    /// something (a create whose health check failed, say), which must be
    /// recorded so it is not orphaned.
    Failed {
        message: String,
        created: Option<ResourceRecord>,
    },
    /// A rollback made the deposed object with this id (the one a failed
    /// apply's replacement superseded) current again; the current object at
    /// the address, the replacement, becomes deposed until its delete.
    /// Recorded before that delete, so a crash in between leaves the state
    /// right: the old object current, the new one deposed.
    Restored {
        id: String,
    },
}

/// The serialized form of a [`ResourceState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub addr: InstanceAddr,
    #[serde(rename = "type")]
    pub type_name: SmolStr,
    pub provider: SmolStr,
    pub id: SmolStr,
    pub attributes: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<InstanceAddr>,
    pub generation: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stateful: bool,
    #[serde(default)]
    pub idempotency_key: SmolStr,
}

impl From<&ResourceState> for ResourceRecord {
    fn from(r: &ResourceState) -> ResourceRecord {
        ResourceRecord {
            addr: r.addr.clone(),
            type_name: r.type_name.clone(),
            provider: r.provider.clone(),
            id: r.id.clone(),
            attributes: r.attributes.clone(),
            dependencies: r.dependencies.clone(),
            generation: r.generation,
            stateful: r.stateful,
            idempotency_key: r.idempotency_key.clone(),
        }
    }
}

impl From<ResourceRecord> for ResourceState {
    fn from(r: ResourceRecord) -> ResourceState {
        ResourceState {
            addr: r.addr,
            type_name: r.type_name,
            provider: r.provider,
            id: r.id,
            attributes: r.attributes,
            dependencies: r.dependencies,
            generation: r.generation,
            stateful: r.stateful,
            idempotency_key: r.idempotency_key,
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum JournalRecord {
    /// An apply began against this lineage and serial.
    Begin {
        lineage: String,
        serial: u64,
        generation: u64,
        at: u64,
        command: String,
    },
    /// `moved` / `removed` blocks renamed or forgot instances, before any
    /// step (see [`State::refactor`](crate::State::refactor)).
    Refactor {
        /// `import` blocks: objects adopted by id.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        imported: Vec<ResourceRecord>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        moves: Vec<crate::StateMove>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forgotten: Vec<InstanceAddr>,
        at: u64,
    },
    /// A provider call is about to be made.
    Intent {
        step: usize,
        addr: InstanceAddr,
        op: StepOp,
        #[serde(rename = "type")]
        type_name: SmolStr,
        provider: SmolStr,
        /// The id of the object a delete targets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<SmolStr>,
        idempotency_key: SmolStr,
        generation: u64,
        at: u64,
        /// For a create: the configuration sent and what the object refers
        /// to, so that recovery records an object the create made (found by
        /// its idempotency key) exactly as the create would have.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<Value>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dependencies: Vec<InstanceAddr>,
    },
    /// The provider call returned.
    Result {
        step: usize,
        addr: InstanceAddr,
        op: StepOp,
        #[serde(flatten)]
        outcome: Outcome,
        at: u64,
    },
    /// Every step succeeded: what the apply does to the state beyond its
    /// steps, written before the state so a crash in between loses none of it.
    Finish(Finish),
    /// The apply finished and its state was written; the journal may be dropped.
    End { at: u64 },
}

/// The end of a successful apply: the generations kept or swapped, the
/// configuration the current generation was applied from, the outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finish {
    /// `kiln rollback`: the previous generation becomes current; these are
    /// the switch settings that point at the generation that becomes previous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<Vec<(InstanceAddr, Value)>>,
    /// `--keep-previous`: the replaced objects `kept` (address, id) become
    /// generation `previous`, reachable through `switches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<KeepRecord>,
    /// The configuration the current generation was applied from (`None`
    /// clears it: a destroy). Ignored with `swap`.
    #[serde(default)]
    pub source: Option<SourceRecord>,
    /// The outputs' new values, if they were evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, OutputRecord>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepRecord {
    pub previous: u64,
    pub kept: Vec<(InstanceAddr, String)>,
    pub switches: Vec<(InstanceAddr, Value)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub generation: u64,
    pub files: Vec<(String, String)>,
    pub variables: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub value: Value,
    pub sensitive: bool,
}

/// Applies a [`Finish`] to the state (the engine and [`compact`] both use
/// it, so the journal replays to the state the apply wrote).
pub fn apply_finish(state: &mut State, finish: &Finish) {
    let prior_outputs = match &finish.outputs {
        Some(o) => std::mem::replace(
            &mut state.outputs,
            o.iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        OutputState {
                            value: o.value.clone(),
                            sensitive: o.sensitive,
                        },
                    )
                })
                .collect(),
        ),
        None => state.outputs.clone(),
    };
    if let Some(switches) = &finish.swap {
        state.swap_previous(switches.iter().cloned().collect());
        return;
    }
    if let Some(k) = &finish.keep {
        let previous = Previous {
            generation: k.previous,
            resources: Default::default(),
            switches: k.switches.iter().cloned().collect(),
            source: state.source.clone(),
            outputs: prior_outputs,
        };
        state.keep_previous(previous, &k.kept);
    }
    state.source = finish.source.as_ref().map(|s| AppliedSource {
        generation: s.generation,
        files: s.files.clone(),
        variables: s.variables.clone(),
    });
}

/// Applies journal results onto `state`, in order: the state that exactly
/// describes what exists after the steps recorded. Intents without results
/// are left for [`in_flight`].
pub fn compact(state: &mut State, records: &[JournalRecord]) {
    for rec in records {
        match rec {
            JournalRecord::Result {
                addr, op, outcome, ..
            } => apply_outcome(state, addr, *op, outcome),
            JournalRecord::Finish(finish) => apply_finish(state, finish),
            JournalRecord::Refactor {
                imported,
                moves,
                forgotten,
                ..
            } => {
                for r in imported {
                    state.resources.insert(r.addr.clone(), r.clone().into());
                }
                state.refactor(moves, forgotten);
            }
            _ => {}
        }
    }
}

/// Applies one step's outcome to the state.
pub fn apply_outcome(state: &mut State, addr: &InstanceAddr, op: StepOp, outcome: &Outcome) {
    record_outcome(state, addr, op, outcome.clone());
}

/// [`apply_outcome`] taking the outcome, whose object moves into the state.
pub fn record_outcome(state: &mut State, addr: &InstanceAddr, op: StepOp, outcome: Outcome) {
    match (op, outcome) {
        (_, Outcome::Created { resource }) => {
            state.generation = state.generation.max(resource.generation);
            let new: ResourceState = resource.into();
            if let Some(old) = state.resources.insert(addr.clone(), new) {
                state.deposed.push(old);
            }
        }
        (_, Outcome::Updated { resource }) => {
            state.resources.insert(addr.clone(), resource.into());
        }
        (_, Outcome::Deleted { id }) => {
            if state.resources.get(addr).is_some_and(|r| r.id == id) {
                state.resources.remove(addr);
            } else if state.deposed.remove(addr, &id).is_some() {
            } else if let Some(prev) = state.previous.as_mut()
                && prev.resources.remove(addr, &id).is_some()
                && prev.resources.is_empty()
            {
                state.previous = None;
            }
        }
        (
            _,
            Outcome::Failed {
                created: Some(resource),
                ..
            },
        ) => {
            // Something exists that the apply did not want: keep it recorded
            // as deposed so the next plan deletes it.
            state.deposed.push(resource.into());
        }
        (_, Outcome::Restored { id }) => {
            if let Some(old) = state.deposed.remove(addr, &id)
                && let Some(new) = state.resources.insert(addr.clone(), old)
            {
                state.deposed.push(new);
            }
        }
        _ => {}
    }
}

/// Where a journal stands against the stored state it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing<'a> {
    /// No records: nothing to recover.
    Empty,
    /// Every apply the journal records is already in the state: its state
    /// was written and only the journal's clean-up was lost (a crash between
    /// the two, or a failed delete on S3). It must be discarded, never
    /// replayed: compacting it again would record every object it created
    /// twice, once current and once deposed, and the next plan would delete
    /// the live ones.
    Folded,
    /// Records of an apply the state does not reflect yet, from its
    /// `Begin` on: replay these (compact, then resolve what was in flight).
    Pending(&'a [JournalRecord]),
    /// The journal was written against another lineage.
    OtherLineage { journal: String },
}

/// Decides what to do with `records`, the journal found next to `state`.
///
/// An apply journals `Begin` with the serial of the state it started from,
/// and every state write raises the serial, so a `Begin` whose serial is
/// older than the state's belongs to an apply whose state is written. A
/// journal may hold several applies (a clean-up that failed, then another
/// apply appending after it): the first `Begin` at or after the state's
/// serial starts what is pending. A journal with no `Begin` at all is
/// pending (nothing in it can be folded).
///
/// A state with no lineage yet (an environment whose first apply never
/// wrote its state) takes any journal as pending.
pub fn standing<'a>(state: &State, records: &'a [JournalRecord]) -> Standing<'a> {
    if records.is_empty() {
        return Standing::Empty;
    }
    let mut other_lineage = None;
    let mut ours = false;
    for (i, rec) in records.iter().enumerate() {
        let JournalRecord::Begin {
            lineage, serial, ..
        } = rec
        else {
            continue;
        };
        if !state.lineage.is_empty() && *lineage != state.lineage {
            other_lineage.get_or_insert(lineage);
            continue;
        }
        ours = true;
        if state.lineage.is_empty() || *serial >= state.serial {
            return Standing::Pending(&records[i..]);
        }
    }
    match (ours, other_lineage) {
        (false, Some(journal)) => Standing::OtherLineage {
            journal: journal.clone(),
        },
        (false, None) => Standing::Pending(records),
        (true, _) => Standing::Folded,
    }
}

/// Intents that have no matching result: calls that may or may not have taken
/// effect when the process died.
pub fn in_flight(records: &[JournalRecord]) -> Vec<&JournalRecord> {
    // A step may run more than once (a progressive cut-over journals each
    // stage as an intent and a result under its step): an intent is in
    // flight if no result of its step follows it.
    let mut open: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (i, r) in records.iter().enumerate() {
        match r {
            JournalRecord::Intent { step, .. } => {
                open.insert(*step, i);
            }
            JournalRecord::Result { step, .. } => {
                open.remove(step);
            }
            _ => {}
        }
    }
    let mut at: Vec<usize> = open.into_values().collect();
    at.sort_unstable();
    at.into_iter().map(|i| &records[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(lineage: &str, serial: u64) -> JournalRecord {
        JournalRecord::Begin {
            lineage: lineage.into(),
            serial,
            generation: 1,
            at: 0,
            command: "apply".into(),
        }
    }

    fn end() -> JournalRecord {
        JournalRecord::End { at: 0 }
    }

    #[test]
    fn an_intent_is_in_flight_until_a_result_of_its_step_follows_it() {
        let addr: InstanceAddr = "local_balancer.front".parse().unwrap();
        let intent = |step: usize| JournalRecord::Intent {
            step,
            addr: addr.clone(),
            op: StepOp::Update,
            type_name: "local_balancer".into(),
            provider: "local".into(),
            id: Some("lb-1".into()),
            idempotency_key: "k".into(),
            generation: 1,
            at: 0,
            config: None,
            dependencies: Vec::new(),
        };
        let result = |step: usize| JournalRecord::Result {
            step,
            addr: addr.clone(),
            op: StepOp::Update,
            outcome: Outcome::Failed {
                message: "x".into(),
                created: None,
            },
            at: 0,
        };
        // A cut-over journals each stage of step 3 under that step.
        let records = [
            begin("l", 1),
            intent(3),
            result(3),
            intent(3),
            intent(4),
            result(4),
        ];
        let open = in_flight(&records);
        assert_eq!(open.len(), 1);
        assert!(
            std::ptr::eq(open[0], &records[3]),
            "the second stage is in flight"
        );
        assert!(in_flight(&records[..3]).is_empty());
    }

    fn state(lineage: &str, serial: u64) -> State {
        let mut s = State::new("default", lineage);
        s.serial = serial;
        s
    }

    #[test]
    fn a_refactor_record_replays_moves_and_forgets_once_and_again() {
        let object = |addr: &str, id: &str, deps: Vec<InstanceAddr>| ResourceState {
            addr: addr.parse().unwrap(),
            type_name: "null_resource".into(),
            provider: "null".into(),
            id: id.into(),
            attributes: Value::map([("id", Value::from(id))]),
            dependencies: deps,
            generation: 1,
            stateful: false,
            idempotency_key: "k".into(),
        };
        let mut s = state("L", 3);
        let a: InstanceAddr = "null_resource.a".parse().unwrap();
        for r in [
            object("null_resource.a", "1", vec![]),
            object("null_resource.b", "2", vec![a.clone()]),
            object("null_resource.old", "3", vec![]),
        ] {
            s.resources.insert(r.addr.clone(), r);
        }
        let to: InstanceAddr = "module.m.null_resource.a".parse().unwrap();
        let records = [
            begin("L", 3),
            JournalRecord::Refactor {
                imported: vec![],
                moves: vec![crate::StateMove {
                    from: a.clone(),
                    to: to.clone(),
                }],
                forgotten: vec!["null_resource.old".parse().unwrap()],
                at: 0,
            },
        ];
        // Through JSON, as a journal file holds it.
        let records: Vec<JournalRecord> = records
            .iter()
            .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
            .collect();
        compact(&mut s, &records);
        let addrs: Vec<String> = s.resources.keys().map(ToString::to_string).collect();
        assert_eq!(addrs, ["null_resource.b", "module.m.null_resource.a"]);
        assert_eq!(s.resources[&to].id, "1");
        assert_eq!(s.resources[&to].addr, to);
        assert_eq!(
            s.resources[&"null_resource.b".parse::<InstanceAddr>().unwrap()].dependencies,
            vec![to.clone()]
        );
        // Replayed again (a crash after the state was written): no change.
        let again = s.clone();
        compact(&mut s, &records);
        assert_eq!(s, again);
    }

    #[test]
    fn a_journal_the_state_already_reflects_is_folded_never_pending() {
        let records = [begin("L", 3), end()];
        assert_eq!(standing(&state("L", 4), &records), Standing::Folded);
        assert_eq!(standing(&state("L", 9), &records), Standing::Folded);
    }

    #[test]
    fn a_journal_begun_at_the_state_serial_is_pending_whole() {
        let records = [begin("L", 3), end()];
        assert_eq!(
            standing(&state("L", 3), &records),
            Standing::Pending(&records[..])
        );
    }

    #[test]
    fn only_the_applies_after_the_state_are_pending() {
        // A clean-up that failed, then another apply appended after it.
        let records = [begin("L", 3), end(), begin("L", 4), end()];
        assert_eq!(
            standing(&state("L", 4), &records),
            Standing::Pending(&records[2..])
        );
        assert_eq!(standing(&state("L", 5), &records), Standing::Folded);
    }

    #[test]
    fn a_first_apply_whose_state_was_never_written_is_pending() {
        let records = [begin("L", 0), end()];
        assert_eq!(
            standing(&state("", 0), &records),
            Standing::Pending(&records[..])
        );
    }

    #[test]
    fn another_lineage_is_refused_and_an_empty_journal_is_nothing() {
        let records = [begin("M", 0)];
        assert_eq!(
            standing(&state("L", 0), &records),
            Standing::OtherLineage {
                journal: "M".into()
            }
        );
        assert_eq!(standing(&state("L", 0), &[]), Standing::Empty);
    }
}
