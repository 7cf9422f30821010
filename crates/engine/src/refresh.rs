//! Reading every resource back.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::InstanceAddr;
use kiln_provider::{Provider, ReadItem, ReadRequest, ReadResponse, Registry};
use kiln_state::State;
use tokio::task::JoinSet;

use crate::util::{mark_sensitive, provider_for, sensitive_attrs};

/// The most items in one `read` call.
pub const REFRESH_BATCH: usize = 100;

/// What a refresh found.
#[derive(Debug, Clone)]
pub struct RefreshReport {
    /// The state with every attribute as the providers read it, and without
    /// what no longer exists.
    pub state: State,
    /// Objects that exist but are degraded in a way only a replacement fixes,
    /// with the provider's reason.
    pub drifted: BTreeMap<InstanceAddr, String>,
    /// Objects that no longer exist (removed from the state).
    pub gone: Vec<InstanceAddr>,
    pub diagnostics: Diagnostics,
}

/// Which object of the state an item reads.
#[derive(Debug, Clone)]
enum Target {
    Current(InstanceAddr),
    /// A deposed object: its address and id.
    Deposed(InstanceAddr, String),
}

/// One `read` call to make.
struct Batch {
    provider: Arc<dyn Provider>,
    sensitive: Arc<[String]>,
    items: Vec<(Target, ReadItem)>,
}

/// A `read` call's answer, with what it was asked.
struct Answer {
    sensitive: Arc<[String]>,
    targets: Vec<Target>,
    ids: Vec<String>,
    resp: ReadResponse,
}

/// Reads every resource (current and deposed) through its provider, in
/// batches of up to [`REFRESH_BATCH`] per provider and type, with up to
/// `parallelism` batches in flight (0: unlimited).
pub async fn refresh(state: &State, registry: &Registry, parallelism: usize) -> RefreshReport {
    let mut diagnostics = Diagnostics::new();
    // Group by (provider, type).
    let mut groups: BTreeMap<(String, String), Vec<(Target, ReadItem)>> = BTreeMap::new();
    let current = state
        .resources
        .values()
        .map(|r| (Target::Current(r.addr.clone()), r));
    let deposed = state
        .deposed
        .iter()
        .map(|r| (Target::Deposed(r.addr.clone(), r.id.to_string()), r));
    for (target, r) in current.chain(deposed) {
        groups
            .entry((r.provider.to_string(), r.type_name.to_string()))
            .or_default()
            .push((
                target,
                ReadItem {
                    type_name: r.type_name.to_string(),
                    id: r.id.to_string(),
                    state: r.attributes.to_unmarked(),
                },
            ));
    }

    let mut batches: Vec<Batch> = Vec::new();
    for ((provider_name, type_name), items) in groups {
        let provider = match provider_for(registry, &provider_name, &type_name) {
            Ok(p) => p,
            Err(e) => {
                diagnostics.push(Diagnostic::error(e.to_string()));
                continue;
            }
        };
        let sensitive = sensitive_attrs(registry, &type_name);
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let batch: Vec<_> = items.by_ref().take(REFRESH_BATCH).collect();
            batches.push(Batch {
                provider: provider.clone(),
                sensitive: sensitive.clone(),
                items: batch,
            });
        }
    }

    let limit = if parallelism == 0 {
        usize::MAX
    } else {
        parallelism
    };
    let mut out = state.clone();
    let mut drifted = BTreeMap::new();
    let mut gone = Vec::new();
    let mut tasks: JoinSet<Answer> = JoinSet::new();
    let mut batches = batches.into_iter();
    loop {
        while tasks.len() < limit {
            let Some(batch) = batches.next() else {
                break;
            };
            let (targets, items): (Vec<_>, Vec<_>) = batch.items.into_iter().unzip();
            let ids = items.iter().map(|i| i.id.clone()).collect();
            let (provider, sensitive) = (batch.provider, batch.sensitive);
            tasks.spawn(async move {
                let resp = provider.read(ReadRequest { items }).await;
                Answer {
                    sensitive,
                    targets,
                    ids,
                    resp,
                }
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let Answer {
            sensitive,
            targets,
            ids,
            resp,
        } = match joined {
            Ok(x) => x,
            Err(e) => {
                diagnostics.push(Diagnostic::error(format!("a provider read panicked: {e}")));
                continue;
            }
        };
        let failed = resp.diagnostics.has_errors();
        diagnostics.extend(resp.diagnostics);
        if failed {
            continue;
        }
        if resp.results.len() != targets.len() {
            diagnostics.push(Diagnostic::error(format!(
                "the provider answered {} of {} reads; its reads are broken",
                resp.results.len(),
                targets.len()
            )));
            continue;
        }
        for ((target, id), result) in targets.into_iter().zip(ids).zip(resp.results) {
            let addr = match &target {
                Target::Current(a) => a.clone(),
                Target::Deposed(a, _) => a.clone(),
            };
            if result.diagnostics.has_errors() {
                diagnostics.extend(
                    result
                        .diagnostics
                        .into_iter()
                        .map(|d| Diagnostic {
                            summary: format!("reading {addr} (id {id}): {}", d.summary),
                            ..d
                        })
                        .collect::<Vec<_>>()
                        .into(),
                );
                continue;
            }
            diagnostics.extend(result.diagnostics);
            match (result.state, target) {
                (None, Target::Current(a)) => {
                    out.resources.remove(&a);
                    gone.push(a);
                }
                (None, Target::Deposed(a, id)) => {
                    out.deposed.remove(&a, &id);
                    gone.push(addr);
                }
                (Some(v), Target::Current(a)) => {
                    if let Some(r) = out.resources.get_mut(&a) {
                        // What was sensitive stays so: a read carries no marks.
                        r.attributes = mark_sensitive(v, &sensitive).mark_like(&r.attributes);
                    }
                    if let Some(why) = result.drift {
                        drifted.insert(a, why);
                    }
                }
                (Some(v), Target::Deposed(a, id)) => {
                    if let Some(r) = out.deposed.get_mut(&a, &id) {
                        r.attributes = mark_sensitive(v, &sensitive).mark_like(&r.attributes);
                    }
                }
            }
        }
    }
    gone.sort();
    RefreshReport {
        state: out,
        drifted,
        gone,
        diagnostics,
    }
}
