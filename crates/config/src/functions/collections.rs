//! Collection functions. Sets are lists kept sorted and without duplicates
//! (the value model has no separate set), so set functions return them so.

use std::collections::BTreeMap;

use kiln_model::{Seq, SeqKind, Type, Value};

use super::{FnError, arg_err, err, int, int_arg, list_arg, map_arg, number_arg};
use crate::convert::{convert, make_set};

fn bools(mut args: Vec<Value>) -> Result<Vec<bool>, FnError> {
    list_arg(&mut args, 0)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(_) => Ok(false),
            Err(e) => Err(arg_err(
                0,
                format!("element {i}: expected a bool, got {}", e.got),
            )),
        })
        .collect()
}

pub(super) fn alltrue(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(bools(args)?.into_iter().all(|b| b)))
}

pub(super) fn anytrue(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(bools(args)?.into_iter().any(|b| b)))
}

/// Argument `i` as Terraform's `list(any)` parameters take it: a tuple's
/// elements unified to one type (`[1, "a"]` is `["1", "a"]`).
pub(super) fn list_any_arg(args: &mut [Value], i: usize) -> Result<Vec<Value>, FnError> {
    let v = std::mem::take(&mut args[i]);
    if !matches!(v, Value::List(_)) {
        args[i] = v;
        return list_arg(args, i);
    }
    match convert(v, &Type::List(Box::new(Type::Any))) {
        Ok(Value::List(l)) => Ok(l.into_vec()),
        Ok(other) => Err(arg_err(
            i,
            format!("expected a list, got {}", other.type_name()),
        )),
        Err(e) => Err(arg_err(i, e.to_string())),
    }
}

pub(super) fn chunklist(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_any_arg(&mut args, 0)?;
    let size = int_arg(&args, 1)?;
    if size < 0 {
        return Err(arg_err(1, "the size argument must be positive"));
    }
    if list.is_empty() {
        return Ok(Value::List(Vec::new().into()));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(list.into())].into()));
    }
    Ok(Value::List(
        list.chunks(size as usize)
            .map(|c| Value::List(c.to_vec().into()))
            .collect(),
    ))
}

pub(super) fn coalescelist(mut args: Vec<Value>) -> Result<Value, FnError> {
    for i in 0..args.len() {
        if args[i].is_null() {
            continue;
        }
        let kind = match &args[i] {
            Value::List(l) => l.kind(),
            _ => SeqKind::Tuple,
        };
        let l = list_arg(&mut args, i)?;
        if !l.is_empty() {
            return Ok(Value::List(Seq::new(l, kind)));
        }
    }
    Err(err("no non-null arguments"))
}

pub(super) fn compact(mut args: Vec<Value>) -> Result<Value, FnError> {
    let mut out = Vec::new();
    for (i, v) in list_arg(&mut args, 0)?.into_iter().enumerate() {
        match convert(v, &Type::String) {
            Ok(Value::String(s)) if s.is_empty() => {}
            Ok(Value::Null) => {}
            Ok(v) => out.push(v),
            Err(e) => {
                return Err(arg_err(
                    0,
                    format!("element {i}: expected a string, got {}", e.got),
                ));
            }
        }
    }
    Ok(Value::List(out.into()))
}

pub(super) fn index(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_arg(&mut args, 0)?;
    match list.iter().position(|v| *v == args[1]) {
        Some(i) => Ok(int(i as i64)),
        None => Err(arg_err(1, "item not found")),
    }
}

pub(super) fn one(mut args: Vec<Value>) -> Result<Value, FnError> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    let mut list = list_arg(&mut args, 0)?;
    match list.len() {
        0 => Ok(Value::Null),
        1 => Ok(list.remove(0)),
        n => Err(arg_err(
            0,
            format!(
                "must be a list, set, or tuple value with either zero or one elements, got {n}"
            ),
        )),
    }
}

pub(super) fn reverse(mut args: Vec<Value>) -> Result<Value, FnError> {
    let mut list = list_arg(&mut args, 0)?;
    list.reverse();
    Ok(Value::List(list.into()))
}

fn lists(mut args: Vec<Value>) -> Result<Vec<Vec<Value>>, FnError> {
    (0..args.len())
        .map(|i| list_any_arg(&mut args, i))
        .collect()
}

/// The sets of `setunion`, `setintersection` and `setsubtract`: their
/// elements unified to one type across all of them, as cty's set functions
/// unify their arguments (`setintersection([1, 2], ["2"])` is `["2"]`).
fn unified_sets(mut args: Vec<Value>) -> Result<Vec<Vec<Value>>, FnError> {
    let sets: Vec<Vec<Value>> = (0..args.len())
        .map(|i| list_arg(&mut args, i))
        .collect::<Result<_, _>>()?;
    let lengths: Vec<usize> = sets.iter().map(Vec::len).collect();
    let all = Value::List(sets.into_iter().flatten().collect());
    let mut all = match convert(all, &Type::List(Box::new(Type::Any))) {
        Ok(Value::List(l)) => l.into_iter(),
        Ok(_) => Vec::new().into_iter(),
        Err(e) => return Err(err(format!("the sets have no common element type: {e}"))),
    };
    Ok(lengths
        .into_iter()
        .map(|n| all.by_ref().take(n).collect())
        .collect())
}

pub(super) fn setunion(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::List((make_set(unified_sets(args)?.concat())).into()))
}

pub(super) fn setintersection(args: Vec<Value>) -> Result<Value, FnError> {
    let mut sets = unified_sets(args)?.into_iter();
    let mut acc = make_set(sets.next().unwrap_or_default());
    for s in sets {
        acc.retain(|v| s.contains(v));
    }
    Ok(Value::List(acc.into()))
}

pub(super) fn setsubtract(args: Vec<Value>) -> Result<Value, FnError> {
    let mut sets = unified_sets(args)?.into_iter();
    let mut a = make_set(sets.next().unwrap_or_default());
    let b = sets.next().unwrap_or_default();
    a.retain(|v| !b.contains(v));
    Ok(Value::List(a.into()))
}

pub(super) fn setproduct(args: Vec<Value>) -> Result<Value, FnError> {
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for set in lists(args)? {
        let mut next = Vec::with_capacity(acc.len() * set.len());
        for prefix in &acc {
            for v in &set {
                let mut row = prefix.clone();
                row.push(v.clone());
                next.push(row);
            }
        }
        acc = next;
    }
    Ok(Value::List(
        acc.into_iter().map(|l| Value::List(l.into())).collect(),
    ))
}

pub(super) fn slice(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_arg(&mut args, 0)?;
    let start = int_arg(&args, 1)?;
    let end = int_arg(&args, 2)?;
    if start < 0 {
        return Err(arg_err(1, "the start index must not be less than zero"));
    }
    if end > list.len() as i64 {
        return Err(arg_err(
            2,
            "the end index must not be greater than the length of the list",
        ));
    }
    if start > end {
        return Err(arg_err(
            1,
            "the start index must not be greater than the end index",
        ));
    }
    Ok(Value::List(
        (list[start as usize..end as usize].to_vec()).into(),
    ))
}

/// Sorts strings lexically (numbers are converted to strings first, as
/// Terraform does).
pub(super) fn sort(mut args: Vec<Value>) -> Result<Value, FnError> {
    let mut out = Vec::new();
    for (i, v) in list_arg(&mut args, 0)?.into_iter().enumerate() {
        match convert(v, &Type::String) {
            Ok(Value::String(s)) => out.push(s),
            Ok(_) => {
                return Err(arg_err(
                    0,
                    format!("element {i}: null values cannot be sorted"),
                ));
            }
            Err(e) => {
                return Err(arg_err(
                    0,
                    format!("element {i}: expected a string, got {}", e.got),
                ));
            }
        }
    }
    out.sort();
    Ok(Value::List(out.into_iter().map(Value::String).collect()))
}

pub(super) fn sum(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_arg(&mut args, 0)?;
    if list.is_empty() {
        return Err(arg_err(0, "cannot sum an empty list"));
    }
    // cty adds from the first element on.
    let element =
        |i: usize| number_arg(&list, i).map_err(|e| arg_err(0, format!("element {i}: {}", e.msg)));
    let mut acc = element(0)?;
    for i in 1..list.len() {
        acc = acc
            .add(&element(i)?)
            .ok_or_else(|| arg_err(0, "the sum is not a number (infinities of both signs)"))?;
    }
    Ok(Value::Number(acc))
}

pub(super) fn transpose(mut args: Vec<Value>) -> Result<Value, FnError> {
    let m = map_arg(&mut args, 0)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in m {
        let Ok(Value::List(items)) = convert(v, &Type::List(Box::new(Type::String))) else {
            return Err(arg_err(
                0,
                format!("element {}: expected a list of strings", Value::String(k)),
            ));
        };
        for item in items {
            let Value::String(s) = item else {
                return Err(arg_err(0, "null values are not allowed in the lists"));
            };
            out.entry(s.to_string())
                .or_default()
                .push(Value::String(k.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter()
            .map(|(k, v)| (k, Value::List(v.into())))
            .collect(),
    ))
}

pub(super) fn zipmap(mut args: Vec<Value>) -> Result<Value, FnError> {
    let keys = list_arg(&mut args, 0)?;
    let values = list_arg(&mut args, 1)?;
    if keys.len() != values.len() {
        return Err(arg_err(
            1,
            format!(
                "number of keys ({}) does not match number of values ({})",
                keys.len(),
                values.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (i, (k, v)) in keys.into_iter().zip(values).enumerate() {
        let (k, s) = crate::marks::unmark(k);
        match convert(k, &Type::String) {
            Ok(Value::String(k)) if !s => {
                out.insert(k, v);
            }
            Ok(Value::String(_)) => {
                return Err(arg_err(0, "a sensitive value cannot be a map key"));
            }
            Ok(Value::Unknown) => return Ok(Value::Unknown),
            Ok(_) => return Err(arg_err(0, format!("element {i}: a key must not be null"))),
            Err(e) => {
                return Err(arg_err(
                    0,
                    format!("element {i}: expected a string, got {}", e.got),
                ));
            }
        }
    }
    Ok(Value::Map(out.into_iter().collect()))
}
