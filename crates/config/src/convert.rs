//! Type conversion of values, by Terraform's rules: strings convert to and
//! from numbers and bools, lists, sets and tuples into one another, maps and
//! objects into one another, element by element. Unknown stays unknown, null
//! is a value of every type, and sensitive marks are kept where they were.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use kiln_model::{Fields, MapKind, Number, Seq, SeqKind, Type, Value};

use crate::shape::Shape;

/// Why a value does not fit a type: where inside the value, and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// The path inside the value, like `["a"]` or `[0].name`; empty at the top.
    pub path: String,
    /// The expected type at that path.
    pub expected: String,
    /// What was found instead (a type name, or a quoted string that does not
    /// parse as a number or bool).
    pub got: String,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "element {}: ", self.path)?;
        }
        write!(f, "expected {}, got {}", self.expected, self.got)
    }
}

impl std::error::Error for ConvertError {}

/// Converts `value` to `ty`.
pub fn convert(value: Value, ty: &Type) -> Result<Value, ConvertError> {
    let mut path = String::new();
    convert_at(value, ty, &mut path)
}

fn mismatch(path: &str, ty: &Type, got: impl Into<String>) -> ConvertError {
    ConvertError {
        path: path.to_string(),
        expected: ty.to_string(),
        got: got.into(),
    }
}

fn convert_at(value: Value, ty: &Type, path: &mut String) -> Result<Value, ConvertError> {
    match value {
        Value::Null | Value::Unknown => return Ok(value),
        Value::Sensitive(inner) => return convert_at(*inner, ty, path).map(Value::sensitive),
        _ => {}
    }
    match ty {
        Type::Any => Ok(value),
        Type::String => match value {
            Value::String(_) => Ok(value),
            Value::Number(n) => Ok(Value::String(n.to_string().into())),
            Value::Bool(b) => Ok(Value::String(b.to_string().into())),
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::Number => match value {
            Value::Number(_) => Ok(value),
            Value::String(s) => match parse_number(&s) {
                Some(n) => Ok(Value::Number(n)),
                None => Err(mismatch(path, ty, format!("string {}", Value::String(s)))),
            },
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::Bool => match value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s == "true" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" => Ok(Value::Bool(false)),
            Value::String(s) => Err(mismatch(path, ty, format!("string {}", Value::String(s)))),
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::List(elem) | Type::Set(elem) => match value {
            Value::List(items) => {
                let unified;
                let elem: &Type = if **elem == Type::Any {
                    unified = unify(items.iter(), path, ty)?;
                    &unified
                } else {
                    elem
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    out.push(with_path(path, &format!("[{i}]"), |p| {
                        convert_at(item, elem, p)
                    })?);
                }
                if matches!(ty, Type::Set(_)) {
                    return Ok(Value::List(Seq::new(make_set(out), SeqKind::Set)));
                }
                Ok(Value::List(Seq::new(out, SeqKind::List)))
            }
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::Tuple(types) => match value {
            Value::List(items) if items.len() == types.len() => {
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, t)) in items.into_iter().zip(types).enumerate() {
                    out.push(with_path(path, &format!("[{i}]"), |p| {
                        convert_at(item, t, p)
                    })?);
                }
                Ok(Value::List(out.into()))
            }
            Value::List(items) => Err(mismatch(
                path,
                ty,
                format!("a list of {} elements", items.len()),
            )),
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::Map(elem) => match value {
            Value::Map(m) => {
                let unified;
                let elem: &Type = if **elem == Type::Any {
                    unified = unify(m.values(), path, ty)?;
                    &unified
                } else {
                    elem
                };
                let mut out = kiln_model::FieldMap::new();
                for (k, v) in m {
                    let key = format!("[{}]", Value::String(k.clone()));
                    let v = with_path(path, &key, |p| convert_at(v, elem, p))?;
                    out.insert(k, v);
                }
                out.shrink_to_fit();
                Ok(Value::Map(Fields::new(out, MapKind::Map)))
            }
            other => Err(mismatch(path, ty, other.type_name())),
        },
        Type::Object(fields) => match value {
            Value::Map(mut m) => {
                let mut out = BTreeMap::new();
                for (k, t) in fields {
                    let v = m.remove(k).unwrap_or(Value::Null);
                    let v = with_path(path, &format!(".{k}"), |p| convert_at(v, t, p))?;
                    out.insert(k.clone(), v);
                }
                Ok(Value::Map(out.into()))
            }
            other => Err(mismatch(path, ty, other.type_name())),
        },
    }
}

/// The element type a collection of `any` takes (cty's unification, for
/// primitives): one kind stays as it is; strings with numbers or bools
/// make strings (`tolist([1, "a"])` is `["1", "a"]`); numbers with bools,
/// or primitives with collections, have no common type.
fn unify<'a>(
    items: impl Iterator<Item = &'a Value>,
    path: &str,
    ty: &Type,
) -> Result<Type, ConvertError> {
    let kinds: std::collections::BTreeSet<&str> = items
        .map(Value::unmarked)
        .filter(|v| !v.is_null() && v.is_known())
        .map(|v| match v {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::List(_) => "list",
            _ => "map",
        })
        .collect();
    if kinds.len() <= 1 {
        return Ok(Type::Any);
    }
    let primitive = kinds
        .iter()
        .all(|k| matches!(*k, "string" | "number" | "bool"));
    if primitive && kinds.contains("string") {
        return Ok(Type::String);
    }
    Err(mismatch(
        path,
        ty,
        format!(
            "elements of different types ({}) with no common type",
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// Converts a value to a type constraint with optional attributes: checks
/// that every required object attribute is present, converts, then fills in
/// the defaults of absent optional attributes.
pub fn convert_constraint(value: Value, ty: &Type, shape: &Shape) -> Result<Value, String> {
    let mut path = String::new();
    check_required(&value, ty, shape, &mut path)?;
    let v = convert(value, ty).map_err(|e| e.to_string())?;
    Ok(apply_defaults(v, shape))
}

fn check_required(v: &Value, ty: &Type, shape: &Shape, path: &mut String) -> Result<(), String> {
    let plain = Shape::Plain;
    match (v.unmarked(), ty) {
        (Value::Map(m), Type::Object(fields)) => {
            for (k, t) in fields {
                let attr = match shape {
                    Shape::Object(attrs) => attrs.get(k),
                    _ => None,
                };
                let optional = attr.is_some_and(|a| a.optional);
                let sub = attr.map_or(&plain, |a| &a.shape);
                match m.get(k) {
                    Some(x) => {
                        let len = path.len();
                        path.push_str(&format!(".{k}"));
                        check_required(x, t, sub, path)?;
                        path.truncate(len);
                    }
                    None if !optional => {
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!("element {path}: ")
                        };
                        return Err(format!("{at}attribute \"{k}\" is required"));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        (Value::List(items), Type::List(t) | Type::Set(t)) => {
            let sub = match shape {
                Shape::Elements(s) => s.as_ref(),
                _ => &plain,
            };
            for (i, x) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_required(x, t, sub, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Map(m), Type::Map(t)) => {
            let sub = match shape {
                Shape::Elements(s) => s.as_ref(),
                _ => &plain,
            };
            for (k, x) in m {
                let len = path.len();
                path.push_str(&format!("[{}]", Value::String(k.clone())));
                check_required(x, t, sub, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::List(items), Type::Tuple(types)) => {
            for (i, (x, t)) in items.iter().zip(types).enumerate() {
                let sub = match shape {
                    Shape::Tuple(s) => s.get(i).unwrap_or(&plain),
                    _ => &plain,
                };
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_required(x, t, sub, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Fills in the defaults of absent (null) optional attributes.
pub(crate) fn apply_defaults(v: Value, shape: &Shape) -> Value {
    match (v, shape) {
        (v, Shape::Plain) => v,
        (Value::Sensitive(inner), _) => apply_defaults(*inner, shape).sensitive(),
        (Value::Map(mut m), Shape::Object(attrs)) => {
            for (k, a) in attrs {
                let x = m.remove(k).unwrap_or(Value::Null);
                let x = match (&x, &a.default) {
                    (Value::Null, Some(d)) => d.clone(),
                    _ => apply_defaults(x, &a.shape),
                };
                m.insert(k.clone(), x);
            }
            Value::Map(m)
        }
        (Value::List(items), Shape::Elements(s)) => {
            Value::List(items.map(|x| apply_defaults(x, s)))
        }
        (Value::Map(m), Shape::Elements(s)) => Value::Map(m.map_values(|x| apply_defaults(x, s))),
        (Value::List(items), Shape::Tuple(shapes)) => Value::List(
            items
                .into_iter()
                .enumerate()
                .map(|(i, x)| match shapes.get(i) {
                    Some(s) => apply_defaults(x, s),
                    None => x,
                })
                .collect(),
        ),
        (v, _) => v,
    }
}

fn with_path<T>(
    path: &mut String,
    step: &str,
    f: impl FnOnce(&mut String) -> Result<T, ConvertError>,
) -> Result<T, ConvertError> {
    let len = path.len();
    path.push_str(step);
    let r = f(path);
    path.truncate(len);
    r
}

/// Parses a string converted to a number as cty does (`ParseNumberVal`:
/// decimal at 512 bits; see [`Number::parse`]).
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    Number::parse(s)
}

/// Sorts and deduplicates a set's elements (unknown elements are kept, as
/// they may or may not equal another).
pub(crate) fn make_set(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by(total_cmp);
    items.dedup_by(|a, b| a.is_known() && b.is_known() && a == b);
    items
}

/// A total order over values, for sets and sorting: by kind, then by content.
pub(crate) fn total_cmp(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::List(_) => 4,
            Value::Map(_) => 5,
            Value::Sensitive(_) => 6,
            Value::Unknown => 7,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.cmp_value(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = total_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Map(x), Value::Map(y)) => {
            for ((k1, v1), (k2, v2)) in x.iter().zip(y) {
                let o = k1.cmp(k2).then_with(|| total_cmp(v1, v2));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Sensitive(x), Value::Sensitive(y)) => total_cmp(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(parse_number("12"), Some(Number::from_i64(12)));
        assert_eq!(parse_number("-1.5e3"), Some(Number::from_i64(-1500)));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(" 1"), None);
    }
}
