//! Value helpers: comparison that ignores sensitive marks, and the diff of
//! two attribute values into leaf changes.

use kiln_model::Value;

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
        let mut keys: Vec<&str> = b.keys().chain(a.keys()).map(|k| k.as_str()).collect();
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
    fn diff_descends_into_maps() {
        let before = Value::map([("a", Value::from("1")), ("b", Value::from("2"))]);
        let after = Value::map([("a", Value::from("1")), ("c", Value::Unknown)]);
        let mut out = Vec::new();
        diff("labels".into(), &before, &after, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["labels.b", "labels.c"]);
    }
}
