//! Value helpers: comparison that ignores sensitive marks, the diff of two
//! attribute values into leaf changes, and variable type conversion.

use std::collections::BTreeMap;

use kiln_model::{Type, Value};

use crate::names::path_join;

/// True if `a` and `b` are equal ignoring sensitive marks. An unknown equals
/// nothing, not even another unknown: it may turn out to be anything.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a.unmarked(), b.unmarked()) {
        (Value::Unknown, _) | (_, Value::Unknown) => false,
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

/// One changed leaf of an attribute value.
#[derive(Debug)]
pub(crate) struct Change {
    pub path: String,
    pub before: Value,
    pub after: Value,
}

/// The changes between two values of an attribute, descending into maps
/// (so a changed label reads `labels.env`, not the whole map).
pub(crate) fn diff(path: String, before: &Value, after: &Value, out: &mut Vec<Change>) {
    if same(before, after) {
        return;
    }
    if let (Value::Map(b), Value::Map(a)) = (before, after) {
        let null = Value::Null;
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            diff(
                path_join(&path, k),
                b.get(k).unwrap_or(&null),
                a.get(k).unwrap_or(&null),
                out,
            );
        }
        return;
    }
    out.push(Change {
        path,
        before: before.clone(),
        after: after.clone(),
    });
}

/// Checks that every value known in `planned` equals `actual` (ignoring
/// sensitive marks); returns the path of the first difference.
pub(crate) fn first_inconsistency(path: &str, planned: &Value, actual: &Value) -> Option<String> {
    match (planned.unmarked(), actual.unmarked()) {
        (Value::Unknown, _) => None,
        (Value::Map(p), Value::Map(a)) => {
            let null = Value::Null;
            p.iter().find_map(|(k, pv)| {
                first_inconsistency(&path_join(path, k), pv, a.get(k).unwrap_or(&null))
            })
        }
        (Value::List(p), Value::List(a)) if p.len() == a.len() => p
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (pv, av))| first_inconsistency(&format!("{path}[{i}]"), pv, av)),
        (p, _) if !p.is_known() => Some(path.to_string()),
        _ if same(planned, actual) => None,
        _ => Some(path.to_string()),
    }
}

/// Converts a variable's value to its declared type, the way HCL does:
/// numbers and bools to and from strings, lists to sets (sorted, without
/// duplicates), maps to objects (missing attributes null).
pub(crate) fn convert(v: Value, ty: &Type) -> Result<Value, String> {
    match (v, ty) {
        (Value::Sensitive(inner), ty) => Ok(convert(*inner, ty)?.sensitive()),
        (v @ (Value::Unknown | Value::Null), _) | (v, Type::Any) => Ok(v),
        (v @ Value::String(_), Type::String) => Ok(v),
        (Value::Number(n), Type::String) => Ok(Value::String(n.to_string())),
        (Value::Bool(b), Type::String) => Ok(Value::String(b.to_string())),
        (v @ Value::Number(_), Type::Number) => Ok(v),
        (Value::String(s), Type::Number) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from)
            .ok_or_else(|| format!("a number is required, not {s:?}")),
        (v @ Value::Bool(_), Type::Bool) => Ok(v),
        (Value::String(s), Type::Bool) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("a bool is required, not {s:?}")),
        },
        (Value::List(items), Type::List(t)) => Ok(Value::List(
            items
                .into_iter()
                .map(|i| convert(i, t))
                .collect::<Result<_, _>>()?,
        )),
        (Value::List(items), Type::Set(t)) => {
            let mut keyed: BTreeMap<String, Value> = BTreeMap::new();
            for i in items {
                let i = convert(i, t)?;
                let key = serde_json::to_string(&i).unwrap_or_default();
                keyed.entry(key).or_insert(i);
            }
            Ok(Value::List(keyed.into_values().collect()))
        }
        (Value::List(items), Type::Tuple(ts)) if items.len() == ts.len() => Ok(Value::List(
            items
                .into_iter()
                .zip(ts)
                .map(|(i, t)| convert(i, t))
                .collect::<Result<_, _>>()?,
        )),
        (Value::Map(m), Type::Map(t)) => Ok(Value::Map(
            m.into_iter()
                .map(|(k, v)| Ok((k, convert(v, t)?)))
                .collect::<Result<_, String>>()?,
        )),
        (Value::Map(mut m), Type::Object(fields)) => Ok(Value::Map(
            fields
                .iter()
                .map(|(k, t)| {
                    let v = m.remove(k).unwrap_or(Value::Null);
                    convert(v, t)
                        .map(|v| (k.clone(), v))
                        .map_err(|e| format!("attribute {k:?}: {e}"))
                })
                .collect::<Result<_, String>>()?,
        )),
        (v, ty) => Err(format!("a value of type {ty} is required, not {}", v.type_name())),
    }
}

/// Marks the value sensitive unless it is null or wholly unknown (those
/// reveal nothing, and stay readable as "(known after apply)").
pub(crate) fn mark_sensitive(v: Value) -> Value {
    match v {
        Value::Null | Value::Unknown => v,
        v => v.sensitive(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_like_hcl() {
        let cases: Vec<(Value, Type, Result<Value, String>)> = vec![
            (Value::from("3"), Type::Number, Ok(Value::from(3i64))),
            (Value::from(3i64), Type::String, Ok(Value::from("3"))),
            (Value::from("true"), Type::Bool, Ok(Value::from(true))),
            (
                Value::from("x"),
                Type::Number,
                Err("a number is required, not \"x\"".into()),
            ),
            (
                Value::List(vec![Value::from("b"), Value::from("a"), Value::from("b")]),
                Type::Set(Box::new(Type::String)),
                Ok(Value::List(vec![Value::from("a"), Value::from("b")])),
            ),
            (
                Value::from(true),
                Type::List(Box::new(Type::String)),
                Err("a value of type list(string) is required, not bool".into()),
            ),
            (
                Value::from("s").sensitive(),
                Type::String,
                Ok(Value::from("s").sensitive()),
            ),
        ];
        for (v, ty, want) in cases {
            assert_eq!(convert(v.clone(), &ty), want, "{v:?} as {ty}");
        }
    }

    #[test]
    fn diff_descends_into_maps() {
        let before = Value::map([("a", Value::from("1")), ("b", Value::from("2"))]);
        let after = Value::map([("a", Value::from("1")), ("c", Value::Unknown)]);
        let mut out = Vec::new();
        diff("labels".into(), &before, &after, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["labels.b", "labels.c"]);
    }
}
