//! What expressions see of a resource: an object for a single instance, a
//! list for `count`, a map for `for_each` — built on demand from the
//! instances' values, shared by planning and apply-time evaluation.

use std::collections::BTreeMap;

use kiln_diag::Diagnostic;
use kiln_model::{InstanceKey, SmolStr, Value};

use crate::mode::Mode;

/// The value of a resource whose instances (indexes of actions, in key
/// order) are `instances`. With `pick`, the body refers to this resource only
/// through that one instance, so only that instance's value is cloned (the
/// other list elements are null, the other map entries left out): a
/// reference to one of 10,000 instances costs one instance, not 10,000.
pub(crate) fn resource_value(
    mode: Mode,
    instances: &[usize],
    key_of: impl Fn(usize) -> InstanceKey,
    value_of: impl Fn(usize) -> Value,
    pick: Option<InstanceKey>,
) -> Value {
    match mode {
        Mode::Single => instances.first().map_or(Value::Unknown, |&i| value_of(i)),
        Mode::Count => {
            if let Some(InstanceKey::Int(k)) = pick
                && let Some(&i) = usize::try_from(k).ok().and_then(|k| instances.get(k))
            {
                let mut list = vec![Value::Null; instances.len()];
                list[k as usize] = value_of(i);
                return Value::List(list.into());
            }
            Value::List(instances.iter().map(|&i| value_of(i)).collect())
        }
        Mode::ForEach => {
            if let Some(key @ InstanceKey::Str(_)) = &pick
                && let Ok(pos) = instances.binary_search_by(|&i| key_of(i).cmp(key))
                && let InstanceKey::Str(k) = key
            {
                let i = instances[pos];
                return Value::Map(BTreeMap::from([(k.to_string(), value_of(i))]).into());
            }
            Value::Map(
                instances
                    .iter()
                    .filter_map(|&i| match key_of(i) {
                        InstanceKey::Str(k) => Some((k, value_of(i))),
                        _ => None,
                    })
                    .collect(),
            )
        }
    }
}

/// A copy of `v` with only `attributes` (all of it if None).
pub(crate) fn project(v: &Value, attributes: Option<&[String]>) -> Value {
    match (v, attributes) {
        (Value::Map(m), Some(attrs)) => Value::Map(
            attrs
                .iter()
                .filter_map(|a| m.get(a).map(|x| (a.clone(), x.clone())))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// `v` with only `attributes` kept (all of it if None).
pub(crate) fn project_owned(v: Value, attributes: Option<&[String]>) -> Value {
    match (v, attributes) {
        (Value::Map(mut m), Some(attrs)) => Value::Map(
            attrs
                .iter()
                .filter_map(|a| m.remove(a).map(|x| (a.clone(), x)))
                .collect(),
        ),
        (v, _) => v,
    }
}

/// The instance keys of a `for_each` value: a map's keys (each.value is the
/// entry's value) or a set of strings (each.value is the string).
pub(crate) fn for_each_keys(v: &Value) -> Result<Vec<(SmolStr, Value)>, String> {
    if v.contains_sensitive() {
        return Err(
            "for_each cannot use sensitive values: instance keys are shown in plans".into(),
        );
    }
    match v {
        Value::Unknown => Err(unknown_msg("for_each")),
        Value::Null => Err("for_each must be a map or a set of strings, not null".into()),
        Value::Map(m) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Value::List(items) => {
            let mut keys = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => keys.push((s.clone(), item.clone())),
                    Value::Unknown => return Err(unknown_msg("for_each")),
                    other => {
                        return Err(format!(
                            "for_each over a set must hold strings, not {}",
                            other.type_name()
                        ));
                    }
                }
            }
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            keys.dedup_by(|a, b| a.0 == b.0);
            Ok(keys)
        }
        other => Err(format!(
            "for_each must be a map or a set of strings, not {}",
            other.type_name()
        )),
    }
}

/// The number of instances of a `count` value.
///
/// Converted to a number as Terraform converts it: `count = "2"` is 2.
pub(crate) fn count_of(v: &Value) -> Result<u64, String> {
    let converted = match v.unmarked() {
        s @ Value::String(_) => kiln_config::convert(s.clone(), &kiln_model::Type::Number).ok(),
        _ => None,
    };
    match converted.as_ref().unwrap_or(v.unmarked()) {
        Value::Unknown => Err(unknown_msg("count")),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i >= 0 => Ok(i as u64),
            _ => Err(format!(
                "count must be a whole number of 0 or more, not {n}"
            )),
        },
        other => Err(format!("count must be a number, not {}", other.type_name())),
    }
}

pub(crate) fn unknown_msg(what: &str) -> String {
    format!("the {what} value cannot be determined until apply")
}

/// The error for a count / for_each value that cannot expand.
pub(crate) fn cannot_expand(expr: &kiln_config::Expr, msg: String) -> Diagnostic {
    let unknown = msg.contains("until apply");
    let d = expr.loc.error(msg);
    if unknown {
        d.with_detail(
            "count and for_each must be known when planning: they may use variables, locals and attributes that are already known, not what a create or replace produces",
        )
    } else {
        d
    }
}

/// Terraform refuses a list or a tuple as `for_each` (only a map or a set
/// of strings); kiln's values do not tell a list from a set, so the
/// expression is read as written: a `[...]` or `[for ...]` constructor, or
/// a root variable declared as a list or tuple. The error, or `None`.
pub(crate) fn list_for_each(
    expr: &kiln_config::Expr,
    root_variables: Option<&[kiln_config::Variable]>,
) -> Option<Diagnostic> {
    let ty = if expr.is_tuple_constructor() {
        "tuple".to_string()
    } else {
        let name = expr.as_variable()?;
        let v = root_variables?.iter().find(|v| v.name == name)?;
        match v.ty.as_ref()? {
            t @ (kiln_model::Type::List(_) | kiln_model::Type::Tuple(_)) => t.to_string(),
            _ => return None,
        }
    };
    Some(
        expr.loc
            .error(format!(
                "for_each takes a map or a set of strings, and this is a {ty}"
            ))
            .with_detail("convert it with toset(...), as Terraform requires (instances are keyed by the strings, so their order does not matter)"),
    )
}
