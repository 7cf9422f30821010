//! Small helpers shared by apply, refresh and recovery.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use kiln_diag::Diagnostics;
use kiln_model::{InstanceAddr, SmolStr, Value};
use kiln_provider::{Provider, Registry};

/// The idempotency key of creating `addr` in `generation` of the state with
/// `lineage`: `kiln-` and the 64-bit FNV-1a hash of
/// `lineage NUL address NUL generation` in 16 hex digits.
///
/// Deterministic across runs, platforms and kiln versions (changing it would
/// make recovery miss what an older kiln created), unique per
/// (lineage, address, generation), and short enough for any cloud's client
/// token.
pub fn idempotency_key(lineage: &str, addr: &InstanceAddr, generation: u64) -> SmolStr {
    /// FNV-1a over what is written to it.
    struct Fnv(u64);
    impl Fnv {
        fn eat(&mut self, bytes: &[u8]) {
            const PRIME: u64 = 0x0000_0100_0000_01b3;
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(PRIME);
            }
        }
    }
    impl fmt::Write for Fnv {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.eat(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.eat(lineage.as_bytes());
    h.eat(&[0]);
    // Hashed as written, without a string in between.
    let _ = write!(h, "{addr}");
    h.eat(&[0]);
    let _ = write!(h, "{generation}");
    // 21 bytes: kept inline.
    let mut key = String::with_capacity(21);
    let _ = write!(key, "kiln-{:016x}", h.0);
    SmolStr::from(key.as_str())
}

pub(crate) fn journal_op(op: kiln_plan::StepOp) -> kiln_state::StepOp {
    match op {
        kiln_plan::StepOp::Create => kiln_state::StepOp::Create,
        kiln_plan::StepOp::Update => kiln_state::StepOp::Update,
        kiln_plan::StepOp::Delete => kiln_state::StepOp::Delete,
        kiln_plan::StepOp::DeleteDeposed => kiln_state::StepOp::DeleteDeposed,
    }
}

/// The errors of a provider response as one message, or `None` if it has none.
pub(crate) fn errors(diags: &Diagnostics) -> Option<String> {
    let msgs: Vec<String> = diags
        .errors()
        .map(|d| match &d.detail {
            Some(detail) => format!("{}: {detail}", d.summary),
            None => d.summary.clone(),
        })
        .collect();
    (!msgs.is_empty()).then(|| msgs.join("; "))
}

/// Why a step, an undo or a recovery could not make its provider call; the
/// message is what the user reads as the step's failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error(
        "provider {provider:?} (for {type_name}) is not available; check the provider's installation"
    )]
    NoProvider { provider: String, type_name: String },
    /// The configuration could not be evaluated with what the apply made:
    /// the evaluator's errors, joined.
    #[error("{0}")]
    Evaluation(String),
    #[error("some attributes are still unknown after their dependencies were applied; plan again")]
    StillUnknown,
    /// The object the step acts on is no longer in the state (the state
    /// changed since the plan).
    #[error("{addr}{} is not in the state any more; plan again", id.as_ref().map(|i| format!(" (id {i})")).unwrap_or_default())]
    NotInState {
        addr: Box<kiln_model::InstanceAddr>,
        id: Option<String>,
    },
    /// The plan's configuration could not be evaluated at all (reported
    /// once, in the apply's diagnostics).
    #[error("apply-time evaluation is unavailable")]
    NoEvaluator,
}

/// The provider for a resource: by the name recorded with it, else by type.
pub(crate) fn provider_for(
    registry: &Registry,
    provider: &str,
    type_name: &str,
) -> Result<Arc<dyn Provider>, StepError> {
    registry
        .get(provider)
        .or_else(|| registry.for_resource(type_name).map(|(_, p)| p))
        .cloned()
        .ok_or_else(|| StepError::NoProvider {
            provider: provider.to_string(),
            type_name: type_name.to_string(),
        })
}

/// The names of a resource type's attributes that `pick` selects.
fn attrs_where(
    registry: &Registry,
    type_name: &str,
    pick: fn(&kiln_model::AttributeSchema) -> bool,
) -> Arc<[String]> {
    registry
        .schemas()
        .resource(type_name)
        .map(|(_, s)| {
            s.attributes
                .iter()
                .filter(|(_, a)| pick(a))
                .map(|(n, _)| n.clone())
                .collect()
        })
        .unwrap_or_else(|| Arc::from(Vec::new()))
}

/// The names of a resource type's sensitive attributes.
pub(crate) fn sensitive_attrs(registry: &Registry, type_name: &str) -> Arc<[String]> {
    attrs_where(registry, type_name, |a| a.sensitive)
}

/// The names of a resource type's write-only attributes.
pub(crate) fn write_only_attrs(registry: &Registry, type_name: &str) -> Arc<[String]> {
    attrs_where(registry, type_name, |a| a.write_only)
}

/// `v` with its write-only attributes null: what may be journaled or
/// stored (a write-only value reaches the provider and nothing else).
pub(crate) fn without_write_only(v: Value, names: &[String]) -> Value {
    match v {
        Value::Map(mut m) if !names.is_empty() => {
            for n in names {
                if let Some(x) = m.get_mut(n) {
                    *x = Value::Null;
                }
            }
            Value::Map(m)
        }
        other => other,
    }
}

/// Marks the top-level attributes the schema calls sensitive, so the state
/// never shows them.
pub(crate) fn mark_sensitive(v: Value, names: &[String]) -> Value {
    match v {
        Value::Map(mut m) if !names.is_empty() => {
            for n in names {
                if let Some(x) = m.remove(n) {
                    m.insert(n.clone(), x.sensitive());
                }
            }
            Value::Map(m)
        }
        other => other,
    }
}

/// Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The top-level attributes the planned value sets differently from the
/// prior one (an attribute the planned value leaves out, such as a computed
/// id, is not a change).
pub(crate) fn changed_keys(prior: &Value, planned: &Value) -> Vec<String> {
    let empty = kiln_model::FieldMap::new();
    let before = prior.as_map().unwrap_or(&empty);
    planned
        .as_map()
        .unwrap_or(&empty)
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Marks an adopted object as kiln's (the provider's
/// [`kiln_provider::AdoptRequest`]: kiln's tags and idempotency key), once
/// the state records it; `context.address` names it. A failure is a
/// warning, returned: the object is adopted all the same, only found by
/// its id rather than its key.
pub async fn mark_adopted(
    provider: &dyn Provider,
    object: &kiln_state::ResourceState,
    context: kiln_provider::CallContext,
) -> Option<kiln_diag::Diagnostic> {
    let addr = context.address.clone();
    let resp = provider
        .adopt(kiln_provider::AdoptRequest {
            type_name: object.type_name.to_string(),
            id: object.id.to_string(),
            state: object.attributes.clone(),
            idempotency_key: object.idempotency_key.to_string(),
            context,
        })
        .await;
    resp.diagnostics.has_errors().then(|| {
        kiln_diag::Diagnostic::warning(format!(
            "{addr} is adopted, but kiln could not mark it as its own: {}",
            resp.diagnostics
        ))
        .with_detail("it is in the state and managed as any other object; only a search by kiln's key would not find it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_is_stable_and_distinct() {
        let a: InstanceAddr = "null_resource.a".parse().unwrap();
        let b: InstanceAddr = "null_resource.b".parse().unwrap();
        let k = idempotency_key("lin", &a, 1);
        assert_eq!(k, idempotency_key("lin", &a, 1));
        assert_eq!(k.len(), "kiln-".len() + 16);
        assert_ne!(k, idempotency_key("lin", &a, 2));
        assert_ne!(k, idempotency_key("lin", &b, 1));
        assert_ne!(k, idempotency_key("lin2", &a, 1));
        // Pinned: recovery depends on the key never changing.
        assert_eq!(k, "kiln-c07a786c81e6cc60");
    }
}
