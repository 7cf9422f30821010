//! The collection kinds of what a built-in function takes and returns
//! (cty's tuple/list/set and object/map, [`SeqKind`] and [`MapKind`]).
//!
//! The functions themselves work on elements; this module says, per
//! function, which kind its result is and which functions refuse a set, as
//! Terraform 1.11's function signatures do (`split` returns `list(string)`,
//! `concat` of lists a list but of any tuple a tuple, `merge` of maps a map,
//! `element` cannot read a set). Probed with `type(...)` in `terraform
//! console` and recorded in the corpus (`kinds` cases).

use kiln_model::{MapKind, SeqKind, Value};

use super::{FnError, arg_err};

/// What an argument is, as far as kinds go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Seq(SeqKind),
    Map(MapKind),
    /// A primitive, null or unknown.
    Other,
}

/// The functions whose arguments' kinds matter ([`check`] and [`result`]
/// pass every other function's result through): only for these are the
/// arguments' kinds read.
pub(super) fn cares(name: &str) -> bool {
    matches!(
        name,
        "element"
            | "index"
            | "slice"
            | "concat"
            | "coalescelist"
            | "chunklist"
            | "cidrsubnets"
            | "compact"
            | "csvdecode"
            | "distinct"
            | "formatlist"
            | "matchkeys"
            | "range"
            | "regexall"
            | "sort"
            | "split"
            | "setintersection"
            | "setsubtract"
            | "setunion"
            | "fileset"
            | "setproduct"
            | "keys"
            | "values"
            | "reverse"
            | "zipmap"
            | "merge"
            | "transpose"
    )
}

pub(super) fn kinds(args: &[Value]) -> Vec<Kind> {
    args.iter()
        .map(|a| match a.unmarked() {
            Value::List(l) => Kind::Seq(l.kind()),
            Value::Map(m) => Kind::Map(m.kind()),
            _ => Kind::Other,
        })
        .collect()
}

const SET: Kind = Kind::Seq(SeqKind::Set);

/// Refuses a set where the function reads elements by position.
pub(super) fn check(name: &str, kinds: &[Kind]) -> Result<(), FnError> {
    let positional: &[usize] = match name {
        "element" | "index" | "slice" => &[0],
        "concat" | "coalescelist" => &[],
        _ => return Ok(()),
    };
    let refused = |i: usize| kinds.get(i) == Some(&SET);
    let bad = if positional.is_empty() {
        (0..kinds.len()).find(|&i| refused(i))
    } else {
        positional.iter().copied().find(|&i| refused(i))
    };
    match bad {
        Some(i) => Err(arg_err(
            i,
            format!(
                "{name} needs a list or tuple; a set has no order to read by position \
                 (convert it with tolist)"
            ),
        )),
        None => Ok(()),
    }
}

/// The result `out` of function `name`, with the kinds Terraform gives it.
pub(super) fn result(name: &str, kinds: &[Kind], out: Value) -> Value {
    let all = |k: Kind| !kinds.is_empty() && kinds.iter().all(|x| *x == k);
    match name {
        "chunklist" => match out {
            Value::List(chunks) => Value::List(
                chunks
                    .map(|c| seq(c, SeqKind::List))
                    .with_kind(SeqKind::List),
            ),
            v => v,
        },
        "cidrsubnets" | "compact" | "csvdecode" | "distinct" | "formatlist" | "matchkeys"
        | "range" | "regexall" | "sort" | "split" => seq(out, SeqKind::List),
        "setintersection" | "setsubtract" | "setunion" | "fileset" => seq(out, SeqKind::Set),
        "setproduct" => match all(SET) {
            true => seq(out, SeqKind::Set),
            false => seq(out, SeqKind::List),
        },
        "concat" => match all(Kind::Seq(SeqKind::List)) {
            true => seq(out, SeqKind::List),
            false => out,
        },
        "keys" | "values" => match kinds.first() {
            Some(Kind::Map(MapKind::Map)) => seq(out, SeqKind::List),
            _ => out,
        },
        "reverse" | "slice" => match kinds.first() {
            Some(Kind::Seq(SeqKind::List)) => seq(out, SeqKind::List),
            _ => out,
        },
        // Values from a list make a map, from a tuple an object.
        "zipmap" => match kinds.get(1) {
            Some(Kind::Seq(SeqKind::List)) => map(out, MapKind::Map),
            _ => out,
        },
        "merge" => match all(Kind::Map(MapKind::Map)) {
            true => map(out, MapKind::Map),
            false => out,
        },
        "transpose" => match map(out, MapKind::Map) {
            Value::Map(m) => Value::Map(m.map_values(|l| seq(l, SeqKind::List))),
            v => v,
        },
        _ => out,
    }
}

fn seq(v: Value, kind: SeqKind) -> Value {
    match v {
        Value::List(l) => Value::List(l.with_kind(kind)),
        Value::Sensitive(inner) => seq(*inner, kind).sensitive(),
        v => v,
    }
}

fn map(v: Value, kind: MapKind) -> Value {
    match v {
        Value::Map(m) => Value::Map(m.with_kind(kind)),
        Value::Sensitive(inner) => map(*inner, kind).sensitive(),
        v => v,
    }
}
