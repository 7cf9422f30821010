//! Recovering from an interrupted apply.

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{InstanceAddr, Presence, ResourceSchema, Value};
use kiln_provider::{CallContext, FindRequest, ReadItem, ReadRequest, Registry};
use kiln_state::journal::{ResourceRecord, Standing, compact, in_flight, standing};
use kiln_state::{JournalRecord, ResourceState, State, StepOp};

use crate::util::{errors, mark_sensitive, provider_for, sensitive_attrs};

/// An object an interrupted create made, found by its idempotency key and
/// recorded in the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub addr: InstanceAddr,
    pub id: String,
    /// Recorded as deposed (the address already had a current object), so
    /// the next apply deletes it; otherwise it became the current object.
    pub deposed: bool,
}

/// What recovery did.
#[derive(Debug, Clone)]
pub struct RecoverReport {
    /// The state with every journaled result applied and every in-flight
    /// call resolved as far as the providers could tell.
    pub state: State,
    pub adopted: Vec<Adopted>,
    /// One line per in-flight call: what was found and done, for the user.
    pub messages: Vec<String>,
    /// Calls that could not be resolved (the provider failed to answer);
    /// their objects may exist untracked until recovery runs again.
    pub diagnostics: Diagnostics,
}

/// Compacts `records` (the journal of an interrupted apply) onto `state`,
/// then resolves each call that was in flight: a create is looked up by its
/// idempotency key and adopted if found; a delete or update reads the object
/// back and drops it from the state if it is gone.
///
/// Only what the state does not reflect yet is replayed
/// ([`kiln_state::journal::standing`]): a journal whose apply already wrote
/// its state is returned as it is, with a message, never compacted a
/// second time (the caller removes the journal). A journal of another lineage is refused (the state is
/// returned unchanged, with an error). Nothing is created or deleted:
/// providers are only asked to find and read, so a plan may recover in
/// memory to see what an apply will start from.
pub async fn recover(
    state: State,
    records: &[JournalRecord],
    registry: &Registry,
) -> RecoverReport {
    let mut report = RecoverReport {
        state,
        adopted: Vec::new(),
        messages: Vec::new(),
        diagnostics: Diagnostics::new(),
    };
    let records = match standing(&report.state, records) {
        Standing::Empty => return report,
        Standing::Folded => {
            report.messages.push(
                "the journal left behind belongs to an apply whose state was already written; it was discarded, not replayed".into(),
            );
            return report;
        }
        Standing::OtherLineage { journal } => {
            report.diagnostics.push(
                Diagnostic::error(format!(
                    "the journal belongs to lineage {journal}, not the state's {}; it was not applied",
                    report.state.lineage
                ))
                .with_detail("remove the journal only if you are sure it is not this environment's"),
            );
            return report;
        }
        Standing::Pending(records) => records,
    };
    let env = report.state.env.clone();
    compact(&mut report.state, records);
    // The interrupted apply's generation is used up, whatever it made: the
    // next apply takes a new one, so its idempotency keys (and the objects
    // they name) can never be those of an object recovered below as
    // deposed, which that apply then deletes.
    for rec in records {
        if let JournalRecord::Begin { generation, .. } = rec {
            report.state.generation = report.state.generation.max(*generation);
        }
    }

    for rec in in_flight(records) {
        let JournalRecord::Intent {
            addr,
            op,
            type_name,
            provider,
            id,
            idempotency_key,
            generation,
            config,
            dependencies,
            at,
            ..
        } = rec
        else {
            continue;
        };
        let p = match provider_for(registry, provider, type_name) {
            Ok(p) => p,
            Err(message) => {
                report
                    .diagnostics
                    .push(Diagnostic::error(format!("recovering {addr}: {message}")));
                continue;
            }
        };
        let context = CallContext {
            env: env.clone(),
            lineage: report.state.lineage.clone(),
            generation: *generation,
            address: addr.to_string(),
            ..CallContext::default()
        };
        match op {
            StepOp::Create => {
                let resp = p
                    .find_by_key(FindRequest {
                        type_name: type_name.to_string(),
                        idempotency_key: idempotency_key.to_string(),
                        context,
                        config: config.clone().map(Value::into_unmarked),
                        intent_at: Some(*at),
                    })
                    .await;
                if let Some(e) = errors(&resp.diagnostics) {
                    report.diagnostics.push(Diagnostic::error(format!(
                        "recovering the interrupted create of {addr}: {e}"
                    )));
                    continue;
                }
                let Some((found_id, attributes)) = resp.found else {
                    report
                        .messages
                        .push(format!("{addr}: the interrupted create made nothing"));
                    continue;
                };
                let schema = registry.schemas().resource(type_name).map(|(_, s)| s);
                let stateful = schema.is_some_and(|s| s.stateful);
                let attributes = match (config, schema) {
                    (Some(config), Some(schema)) => {
                        let merged = as_created(config, attributes, schema);
                        mark_sensitive(merged, &sensitive_attrs(registry, type_name))
                            .mark_like(config)
                    }
                    _ => attributes,
                };
                let previous = report.state.resources.get(addr);
                let dependencies = if config.is_some() {
                    dependencies.clone()
                } else {
                    // A journal written before intents carried them.
                    previous.map(|r| r.dependencies.clone()).unwrap_or_default()
                };
                let record = ResourceRecord {
                    addr: addr.clone(),
                    type_name: type_name.clone(),
                    provider: provider.clone(),
                    id: found_id.clone().into(),
                    attributes,
                    dependencies,
                    generation: *generation,
                    stateful,
                    idempotency_key: idempotency_key.clone(),
                };
                let new: ResourceState = record.into();
                let deposed = previous.is_some();
                if deposed {
                    report.state.deposed.push(new);
                    report.messages.push(format!(
                        "{addr}: adopted {found_id}, made by the interrupted create, as deposed (the next apply deletes it)"
                    ));
                } else {
                    report.state.resources.insert(addr.clone(), new);
                    report.state.generation = report.state.generation.max(*generation);
                    report.messages.push(format!(
                        "{addr}: adopted {found_id}, made by the interrupted create"
                    ));
                }
                report.adopted.push(Adopted {
                    addr: addr.clone(),
                    id: found_id,
                    deposed,
                });
            }
            StepOp::Delete | StepOp::DeleteDeposed | StepOp::Update => {
                let Some(id) = id else {
                    continue;
                };
                let attributes = find(&report.state, addr, id)
                    .map(|r| r.attributes.to_unmarked())
                    .unwrap_or_default();
                let resp = p
                    .read(ReadRequest {
                        items: vec![ReadItem {
                            type_name: type_name.to_string(),
                            id: id.to_string(),
                            state: attributes,
                        }],
                    })
                    .await;
                let result = resp.results.into_iter().next();
                let failed = errors(&resp.diagnostics)
                    .or_else(|| result.as_ref().and_then(|r| errors(&r.diagnostics)));
                if let Some(e) = failed {
                    report.diagnostics.push(Diagnostic::error(format!(
                        "recovering the interrupted {} of {addr}: {e}",
                        verb(*op)
                    )));
                    continue;
                }
                match result.and_then(|r| r.state) {
                    None => {
                        remove(&mut report.state, addr, id);
                        report
                            .messages
                            .push(format!("{addr}: {id} is gone; dropped from the state"));
                    }
                    Some(v) => {
                        if let Some(r) = find_mut(&mut report.state, addr, id) {
                            r.attributes = v;
                        }
                        report.messages.push(format!(
                            "{addr}: {id} still exists after the interrupted {}; kept",
                            verb(*op)
                        ));
                    }
                }
            }
        }
    }
    report
}

fn verb(op: StepOp) -> &'static str {
    match op {
        StepOp::Create => "create",
        StepOp::Update => "update",
        StepOp::Delete | StepOp::DeleteDeposed => "delete",
    }
}

fn find<'a>(state: &'a State, addr: &InstanceAddr, id: &str) -> Option<&'a ResourceState> {
    state
        .resources
        .get(addr)
        .filter(|r| r.id == id)
        .or_else(|| state.deposed.get(addr, id))
        .or_else(|| state.previous.as_ref()?.resources.get(addr, id))
}

fn find_mut<'a>(
    state: &'a mut State,
    addr: &InstanceAddr,
    id: &str,
) -> Option<&'a mut ResourceState> {
    if state.resources.get(addr).is_some_and(|r| r.id == id) {
        return state.resources.get_mut(addr);
    }
    if state.deposed.contains(addr, id) {
        return state.deposed.get_mut(addr, id);
    }
    state.previous.as_mut()?.resources.get_mut(addr, id)
}

fn remove(state: &mut State, addr: &InstanceAddr, id: &str) {
    if state.resources.get(addr).is_some_and(|r| r.id == id) {
        state.resources.remove(addr);
    } else if state.deposed.remove(addr, id).is_some() {
    } else {
        // A delete of the previous generation's object: the journal's
        // outcome handling removes it from there.
        kiln_state::journal::apply_outcome(
            state,
            addr,
            kiln_state::StepOp::Delete,
            &kiln_state::Outcome::Deleted { id: id.to_string() },
        );
    }
}

/// What a create would have recorded for an object that recovery found by
/// its key: the configuration it was sent, with what the provider reports
/// for the attributes only the provider sets (computed ones, and optional
/// ones the configuration left out). A provider's lookup may not report
/// every configured attribute the way the configuration writes it; taking
/// those from the configuration keeps the next plan from seeing changes
/// (and replacing the object) where there are none.
fn as_created(config: &Value, found: Value, schema: &ResourceSchema) -> Value {
    let (Value::Map(config), Value::Map(found)) = (config.unmarked(), &found) else {
        return found;
    };
    let mut out = config.clone();
    for (k, v) in found {
        let provider_set = match schema.attributes.get(k.as_str()).map(|a| a.presence) {
            Some(Presence::Computed) | None => true,
            Some(Presence::OptionalComputed) => out.get(k).is_none_or(Value::is_null),
            Some(Presence::Required | Presence::Optional) => false,
        };
        if provider_set && !v.is_null() {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Map(out)
}
