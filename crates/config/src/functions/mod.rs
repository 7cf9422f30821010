//! The function library: one table, name → implementation, sorted by name.
//!
//! Each function declares how marks flow through it, so the implementations
//! only deal with known, unmarked values where that is what they need:
//! - [`Marks::Deep`]: any unknown anywhere in the arguments makes the result
//!   unknown; any sensitive value anywhere makes it sensitive. The function
//!   sees fully unmarked arguments (string and number functions, encoders).
//! - [`Marks::Shallow`]: only whole-argument marks are handled for it; marks
//!   inside collections flow through untouched (`concat`, `merge`, `lookup`).
//! - [`Marks::Raw`]: the function sees its arguments as given (`sensitive`).
//!
//! `try` and `can` need their arguments unevaluated and live in the
//! evaluator. Adding a function is one entry in [`FUNCTIONS`].

use kiln_model::{FieldMap, Number, Type, Value};

use crate::FileSystem;
use crate::convert::convert;
use crate::marks::{mark, unmark};
use format::format;

mod collections;
mod dates;
mod encoding;
mod files;
mod format;
mod gzip;
mod hashing;
mod json;
mod kinds;
mod net;
mod numeric;
mod strings;
mod yaml;

/// A function's failure, located at argument `arg` if given.
#[derive(Debug)]
pub(crate) struct FnError {
    pub arg: Option<usize>,
    pub msg: String,
}

pub(super) fn arg_err(arg: usize, msg: impl Into<String>) -> FnError {
    FnError {
        arg: Some(arg),
        msg: msg.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marks {
    Deep,
    Shallow,
    Raw,
}

type Impl = fn(Vec<Value>) -> Result<Value, FnError>;
type FsImpl = fn(&dyn FileSystem, Vec<Value>) -> Result<Value, FnError>;

#[derive(Clone, Copy)]
enum Body {
    Pure(Impl),
    Fs(FsImpl),
}

pub(crate) struct Function {
    pub name: &'static str,
    /// Required parameters, then optional ones (after `min` of them).
    params: &'static [&'static str],
    min: usize,
    variadic: bool,
    marks: Marks,
    f: Body,
}

impl Function {
    pub(crate) fn check_arity(&self, n: usize) -> Result<(), String> {
        let max = if self.variadic {
            usize::MAX
        } else {
            self.params.len()
        };
        if n >= self.min && n <= max {
            return Ok(());
        }
        let expected = if self.variadic {
            format!("at least {}", self.min)
        } else if self.min == self.params.len() {
            self.min.to_string()
        } else {
            format!("{} to {}", self.min, self.params.len())
        };
        Err(format!(
            "function \"{}\" takes {expected} argument{} ({}), got {n}",
            self.name,
            if expected == "1" { "" } else { "s" },
            self.params.join(", ")
        ))
    }
}

const fn func(
    name: &'static str,
    params: &'static [&'static str],
    min: usize,
    variadic: bool,
    marks: Marks,
    f: Impl,
) -> Function {
    Function {
        name,
        params,
        min,
        variadic,
        marks,
        f: Body::Pure(f),
    }
}

/// A function of fixed arity whose arguments are all required.
const fn fixed(
    name: &'static str,
    params: &'static [&'static str],
    marks: Marks,
    f: Impl,
) -> Function {
    func(name, params, params.len(), false, marks, f)
}

/// A file function: reads through the scope's [`FileSystem`].
const fn file_fn(name: &'static str, params: &'static [&'static str], f: FsImpl) -> Function {
    Function {
        name,
        params,
        min: params.len(),
        variadic: false,
        marks: Deep,
        f: Body::Fs(f),
    }
}

use Marks::{Deep, Raw, Shallow};

/// Every function, sorted by name (a test checks).
static FUNCTIONS: &[Function] = &[
    fixed("abs", &["number"], Deep, abs),
    file_fn("abspath", &["path"], files::abspath),
    fixed("alltrue", &["list"], Deep, collections::alltrue),
    fixed("anytrue", &["list"], Deep, collections::anytrue),
    fixed("base64decode", &["str"], Deep, encoding::base64decode),
    fixed("base64encode", &["str"], Deep, encoding::base64encode),
    fixed("base64gzip", &["str"], Deep, encoding::base64gzip),
    fixed("base64sha256", &["str"], Deep, hashing::base64sha256),
    fixed("base64sha512", &["str"], Deep, hashing::base64sha512),
    fixed("basename", &["path"], Deep, files::basename),
    func("bcrypt", &["str", "cost"], 1, false, Deep, hashing::bcrypt),
    fixed("ceil", &["number"], Deep, numeric::ceil),
    fixed("chomp", &["str"], Deep, strings::chomp),
    fixed("chunklist", &["list", "size"], Deep, collections::chunklist),
    fixed("cidrhost", &["prefix", "hostnum"], Deep, net::cidrhost),
    fixed("cidrnetmask", &["prefix"], Deep, net::cidrnetmask),
    fixed(
        "cidrsubnet",
        &["prefix", "newbits", "netnum"],
        Deep,
        net::cidrsubnet,
    ),
    func(
        "cidrsubnets",
        &["prefix", "newbits..."],
        1,
        true,
        Deep,
        net::cidrsubnets,
    ),
    func("coalesce", &["vals..."], 1, true, Shallow, coalesce),
    func(
        "coalescelist",
        &["vals..."],
        1,
        true,
        Shallow,
        collections::coalescelist,
    ),
    fixed("compact", &["list"], Deep, collections::compact),
    func("concat", &["seqs..."], 0, true, Shallow, concat),
    fixed("contains", &["list", "value"], Deep, contains),
    fixed("csvdecode", &["str"], Deep, encoding::csvdecode),
    fixed("dirname", &["path"], Deep, files::dirname),
    fixed("distinct", &["list"], Deep, distinct),
    fixed("element", &["list", "index"], Shallow, element),
    fixed("endswith", &["str", "suffix"], Deep, strings::endswith),
    file_fn("file", &["path"], files::file),
    file_fn("filebase64", &["path"], files::filebase64),
    file_fn("filebase64sha256", &["path"], files::filebase64sha256),
    file_fn("filebase64sha512", &["path"], files::filebase64sha512),
    file_fn("fileexists", &["path"], files::fileexists),
    file_fn("filemd5", &["path"], files::filemd5),
    file_fn("fileset", &["path", "pattern"], files::fileset),
    file_fn("filesha1", &["path"], files::filesha1),
    file_fn("filesha256", &["path"], files::filesha256),
    file_fn("filesha512", &["path"], files::filesha512),
    fixed("flatten", &["list"], Shallow, flatten),
    fixed("floor", &["number"], Deep, numeric::floor),
    func("format", &["format", "args..."], 1, true, Deep, format),
    fixed(
        "formatdate",
        &["spec", "timestamp"],
        Deep,
        dates::formatdate,
    ),
    func(
        "formatlist",
        &["format", "args..."],
        1,
        true,
        Deep,
        strings::formatlist,
    ),
    fixed("indent", &["spaces", "str"], Deep, strings::indent),
    fixed("index", &["list", "value"], Deep, collections::index),
    fixed("issensitive", &["value"], Raw, issensitive),
    func("join", &["separator", "lists..."], 2, true, Deep, join),
    fixed("jsondecode", &["str"], Deep, jsondecode),
    fixed("jsonencode", &["val"], Deep, jsonencode),
    fixed("keys", &["map"], Shallow, keys),
    fixed("length", &["value"], Shallow, length),
    fixed("log", &["number", "base"], Deep, numeric::log),
    func(
        "lookup",
        &["map", "key", "default"],
        2,
        false,
        Shallow,
        lookup,
    ),
    fixed("lower", &["str"], Deep, lower),
    fixed(
        "matchkeys",
        &["values", "keys", "searchset"],
        Deep,
        matchkeys,
    ),
    func("max", &["numbers..."], 1, true, Deep, max),
    fixed("md5", &["str"], Deep, hashing::md5),
    func("merge", &["maps..."], 0, true, Shallow, merge),
    func("min", &["numbers..."], 1, true, Deep, min),
    fixed("nonsensitive", &["value"], Raw, nonsensitive),
    fixed("one", &["list"], Shallow, collections::one),
    fixed("parseint", &["number", "base"], Deep, numeric::parseint),
    file_fn("pathexpand", &["path"], files::pathexpand),
    fixed("pow", &["base", "exponent"], Deep, numeric::pow),
    func("range", &["start", "limit", "step"], 1, false, Deep, range),
    fixed("regex", &["pattern", "str"], Deep, strings::regex),
    fixed("regexall", &["pattern", "str"], Deep, strings::regexall),
    fixed(
        "replace",
        &["str", "substr", "replace"],
        Deep,
        strings::replace,
    ),
    fixed("reverse", &["list"], Shallow, collections::reverse),
    fixed(
        "rsadecrypt",
        &["ciphertext", "privatekey"],
        Deep,
        hashing::rsadecrypt,
    ),
    fixed("sensitive", &["value"], Raw, sensitive),
    func(
        "setintersection",
        &["sets..."],
        1,
        true,
        Deep,
        collections::setintersection,
    ),
    func(
        "setproduct",
        &["sets..."],
        1,
        true,
        Deep,
        collections::setproduct,
    ),
    func(
        "setsubtract",
        &["a", "b"],
        2,
        false,
        Deep,
        collections::setsubtract,
    ),
    func(
        "setunion",
        &["sets..."],
        1,
        true,
        Deep,
        collections::setunion,
    ),
    fixed("sha1", &["str"], Deep, hashing::sha1),
    fixed("sha256", &["str"], Deep, hashing::sha256),
    fixed("sha512", &["str"], Deep, hashing::sha512),
    fixed("signum", &["number"], Deep, numeric::signum),
    fixed(
        "slice",
        &["list", "start", "end"],
        Shallow,
        collections::slice,
    ),
    fixed("sort", &["list"], Deep, collections::sort),
    fixed("split", &["separator", "str"], Deep, split),
    fixed("startswith", &["str", "prefix"], Deep, strings::startswith),
    fixed(
        "strcontains",
        &["str", "substr"],
        Deep,
        strings::strcontains,
    ),
    fixed("strrev", &["str"], Deep, strings::strrev),
    fixed(
        "substr",
        &["str", "offset", "length"],
        Deep,
        strings::substr,
    ),
    fixed("sum", &["list"], Deep, collections::sum),
    fixed(
        "textdecodebase64",
        &["source", "encoding"],
        Deep,
        encoding::textdecodebase64,
    ),
    fixed(
        "textencodebase64",
        &["string", "encoding"],
        Deep,
        encoding::textencodebase64,
    ),
    fixed("timeadd", &["timestamp", "duration"], Deep, dates::timeadd),
    fixed(
        "timecmp",
        &["timestamp_a", "timestamp_b"],
        Deep,
        dates::timecmp,
    ),
    fixed("title", &["str"], Deep, strings::title),
    fixed("tobool", &["v"], Deep, tobool),
    fixed("tolist", &["v"], Shallow, tolist),
    fixed("tomap", &["v"], Shallow, tomap),
    fixed("tonumber", &["v"], Deep, tonumber),
    fixed("toset", &["v"], Shallow, toset),
    fixed("tostring", &["v"], Deep, tostring),
    fixed("transpose", &["map"], Deep, collections::transpose),
    fixed("trim", &["str", "cutset"], Deep, strings::trim),
    fixed("trimprefix", &["str", "prefix"], Deep, strings::trimprefix),
    fixed("trimspace", &["str"], Deep, trimspace),
    fixed("trimsuffix", &["str", "suffix"], Deep, strings::trimsuffix),
    fixed("upper", &["str"], Deep, upper),
    fixed("urlencode", &["str"], Deep, encoding::urlencode),
    fixed("uuidv5", &["namespace", "name"], Deep, dates::uuidv5),
    fixed("values", &["map"], Shallow, values),
    fixed("yamldecode", &["str"], Deep, encoding::yamldecode),
    fixed("yamlencode", &["val"], Deep, encoding::yamlencode),
    fixed("zipmap", &["keys", "values"], Shallow, collections::zipmap),
];

pub(crate) fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

/// The names of every function of the library (plus `try`, `can`,
/// `templatefile` and `templatestring`, which the evaluator implements),
/// for completion and "did you mean" hints.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS
        .iter()
        .map(|f| f.name)
        .chain(["can", "templatefile", "templatestring", "try"])
}

/// Calls `f`, applying its mark rule.
pub(crate) fn call(f: &Function, fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let run = |args: Vec<Value>| {
        let body = |args| match f.f {
            Body::Pure(f) => f(args),
            Body::Fs(f) => f(fs, args),
        };
        if !kinds::cares(f.name) {
            return body(args);
        }
        let kinds = kinds::kinds(&args);
        kinds::check(f.name, &kinds)?;
        Ok(kinds::result(f.name, &kinds, body(args)?))
    };
    match f.marks {
        Raw => run(args),
        Deep => {
            let sensitive = args.iter().any(Value::contains_sensitive);
            if args.iter().any(|a| !a.is_known()) {
                return Ok(mark(Value::Unknown, sensitive));
            }
            let args = args.into_iter().map(Value::into_unmarked).collect();
            Ok(mark(run(args)?, sensitive))
        }
        Shallow => {
            let mut sensitive = false;
            let mut unknown = false;
            let args: Vec<Value> = args
                .into_iter()
                .map(|a| {
                    let (a, s) = unmark(a);
                    sensitive |= s;
                    unknown |= matches!(a, Value::Unknown);
                    a
                })
                .collect();
            if unknown {
                return Ok(mark(Value::Unknown, sensitive));
            }
            Ok(mark(run(args)?, sensitive))
        }
    }
}

// ---------------------------------------------------------------------------
// Argument helpers.

pub(super) fn string_arg(args: &[Value], i: usize) -> Result<String, FnError> {
    match args.get(i).cloned().map(|v| convert(v, &Type::String)) {
        Some(Ok(Value::String(s))) => Ok(s.to_string()),
        Some(Ok(_)) | None => Err(arg_err(i, "argument must not be null")),
        Some(Err(e)) => Err(arg_err(i, format!("expected a string, got {}", e.got))),
    }
}

pub(super) fn number_arg(args: &[Value], i: usize) -> Result<Number, FnError> {
    match args.get(i).cloned().map(|v| convert(v, &Type::Number)) {
        Some(Ok(Value::Number(n))) => Ok(n),
        Some(Ok(_)) | None => Err(arg_err(i, "argument must not be null")),
        Some(Err(e)) => Err(arg_err(i, format!("expected a number, got {}", e.got))),
    }
}

pub(super) fn list_arg(args: &mut [Value], i: usize) -> Result<Vec<Value>, FnError> {
    match std::mem::take(&mut args[i]) {
        Value::List(l) => Ok(l.into_vec()),
        other => Err(arg_err(
            i,
            format!("expected a list, got {}", other.type_name()),
        )),
    }
}

pub(super) fn map_arg(args: &mut [Value], i: usize) -> Result<FieldMap, FnError> {
    match std::mem::take(&mut args[i]) {
        Value::Map(m) => Ok(m.into_map()),
        other => Err(arg_err(
            i,
            format!("expected a map, got {}", other.type_name()),
        )),
    }
}

/// A failure not tied to one argument.
pub(super) fn err(msg: impl Into<String>) -> FnError {
    FnError {
        arg: None,
        msg: msg.into(),
    }
}

/// A whole-number argument (Terraform reads it into a Go `int`).
pub(super) fn int_arg(args: &[Value], i: usize) -> Result<i64, FnError> {
    let n = number_arg(args, i)?;
    n.as_i64().ok_or_else(|| {
        arg_err(
            i,
            format!("expected a whole number between -9223372036854775808 and 9223372036854775807, got {n}"),
        )
    })
}

/// A number argument read into a Go `float64` (nearest, as `gocty` does).
pub(super) fn float_arg(args: &[Value], i: usize) -> Result<f64, FnError> {
    Ok(number_arg(args, i)?.as_f64())
}

/// A Go `int` result (`cty.NumberIntVal`: 64 bits).
pub(super) fn int(n: i64) -> Value {
    Value::Number(Number::from_i64(n))
}

pub(super) fn first(args: Vec<Value>) -> Value {
    args.into_iter().next().unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------
// The functions.

fn abs(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Number(number_arg(&args, 0)?.abs()))
}

/// The first argument that is neither null nor an empty string, converted
/// to the arguments' common type as Terraform unifies them: primitives of
/// different types meet at string (`coalesce(1, "a")` is `"1"`).
fn coalesce(args: Vec<Value>) -> Result<Value, FnError> {
    let kinds: std::collections::BTreeSet<&str> = args
        .iter()
        .filter(|a| !a.is_null())
        .map(|a| a.unmarked().type_name())
        .collect();
    let to_string = kinds.len() > 1 && kinds.contains("string");
    if kinds.len() > 1 && !to_string && kinds.iter().all(|k| matches!(*k, "number" | "bool")) {
        return Err(FnError {
            arg: None,
            msg: "all arguments must have the same type".into(),
        });
    }
    for a in args {
        match a.unmarked() {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            _ if to_string => {
                return convert(a, &Type::String).map_err(|e| FnError {
                    arg: None,
                    msg: format!("cannot convert {} to string", e.got),
                });
            }
            _ => return Ok(a),
        }
    }
    Err(FnError {
        arg: None,
        msg: "no non-null, non-empty-string arguments".into(),
    })
}

fn concat(mut args: Vec<Value>) -> Result<Value, FnError> {
    if args.is_empty() {
        return Err(FnError {
            arg: None,
            msg: "concat needs at least one list".into(),
        });
    }
    let mut out = Vec::new();
    for i in 0..args.len() {
        out.extend(list_arg(&mut args, i)?);
    }
    Ok(Value::List(out.into()))
}

fn contains(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_arg(&mut args, 0)?;
    Ok(Value::Bool(list.contains(&args[1])))
}

fn distinct(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = collections::list_any_arg(&mut args, 0)?;
    let mut out: Vec<Value> = Vec::with_capacity(list.len());
    for v in list {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::List(out.into()))
}

fn element(mut args: Vec<Value>) -> Result<Value, FnError> {
    let list = list_arg(&mut args, 0)?;
    let n = number_arg(&args, 1)?;
    if list.is_empty() {
        return Err(arg_err(0, "cannot use element() with an empty list"));
    }
    let i = match n.as_i64() {
        Some(i) if i >= 0 => i as usize,
        _ => {
            return Err(arg_err(
                1,
                format!("the index must be a whole number ≥ 0, got {n}"),
            ));
        }
    };
    let len = list.len();
    Ok(list.into_iter().nth(i % len).unwrap_or(Value::Null))
}

fn flatten(mut args: Vec<Value>) -> Result<Value, FnError> {
    fn walk(items: Vec<Value>, out: &mut Vec<Value>) -> bool {
        for v in items {
            let (v, s) = unmark(v);
            match v {
                Value::List(inner) if !s => {
                    if !walk(inner.into_vec(), out) {
                        return false;
                    }
                }
                Value::Unknown => return false,
                v => out.push(mark(v, s)),
            }
        }
        true
    }
    let list = list_arg(&mut args, 0)?;
    let mut out = Vec::new();
    Ok(if walk(list, &mut out) {
        Value::List(out.into())
    } else {
        Value::Unknown
    })
}

/// `join(separator, lists...)`: the elements of every list, in order.
fn join(mut args: Vec<Value>) -> Result<Value, FnError> {
    let sep = string_arg(&args, 0)?;
    let mut parts = Vec::new();
    for a in 1..args.len() {
        for (i, v) in list_arg(&mut args, a)?.into_iter().enumerate() {
            match convert(v, &Type::String) {
                Ok(Value::String(s)) => parts.push(s),
                Ok(_) => return Err(arg_err(a, format!("element {i} is null"))),
                Err(e) => {
                    return Err(arg_err(
                        a,
                        format!("element {i}: expected a string, got {}", e.got),
                    ));
                }
            }
        }
    }
    Ok(Value::String(parts.join(&sep).into()))
}

/// `v` as `terraform output -json` prints it: Go's indented JSON of
/// go-cty's encoding (exact numbers, HTML characters escaped, keys sorted).
///
/// # Errors
/// An infinity, which JSON cannot hold.
pub fn json_indented(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    json::encode_indented(v, 0, &mut out)?;
    Ok(out)
}

/// `v` as Terraform's `jsonencode` writes it (see [`json`]).
pub(super) fn json_string(v: &Value) -> String {
    let mut out = String::new();
    // Only an infinity fails, and no caller has one to write.
    let _ = json::encode(v, &mut out);
    out
}

fn jsonencode(args: Vec<Value>) -> Result<Value, FnError> {
    let mut out = String::new();
    json::encode(&args[0], &mut out).map_err(|e| arg_err(0, e))?;
    Ok(Value::String(out.into()))
}

fn jsondecode(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    json::decode(&s).map_err(|e| arg_err(0, format!("invalid JSON: {e}")))
}

fn keys(mut args: Vec<Value>) -> Result<Value, FnError> {
    let m = map_arg(&mut args, 0)?;
    Ok(Value::List(m.into_keys().map(Value::String).collect()))
}

fn length(args: Vec<Value>) -> Result<Value, FnError> {
    let n = match first(args) {
        // Characters as Terraform counts them: grapheme clusters.
        Value::String(s) => {
            unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true).count()
        }
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        other => {
            return Err(arg_err(
                0,
                format!("expected a string, list or map, got {}", other.type_name()),
            ));
        }
    };
    Ok(int(n as i64))
}

fn lookup(mut args: Vec<Value>) -> Result<Value, FnError> {
    let key = string_arg(&args, 1)?;
    let default = args.get_mut(2).map(std::mem::take);
    let mut m = map_arg(&mut args, 0)?;
    match (m.remove(&key), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(arg_err(
            1,
            format!(
                "no key {} in the map and no default given",
                Value::String(key.into())
            ),
        )),
    }
}

/// Per character, as Terraform (Go's `unicode.ToLower`): a character whose
/// lower case is several characters (`İ`) takes the first.
fn lower(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        s.chars()
            .map(|c| c.to_lowercase().next().unwrap_or(c))
            .collect(),
    ))
}

/// Per character, as Terraform (Go's `unicode.ToUpper`): a character whose
/// upper case is several characters (`ß` → `SS`) stays as it is.
fn upper(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        s.chars()
            .map(|c| {
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(u), None) => u,
                    _ => c,
                }
            })
            .collect(),
    ))
}

fn max(args: Vec<Value>) -> Result<Value, FnError> {
    fold_numbers(&args, std::cmp::Ordering::Greater)
}

fn min(args: Vec<Value>) -> Result<Value, FnError> {
    fold_numbers(&args, std::cmp::Ordering::Less)
}

/// The argument furthest in direction `keep` (the first of equals), as it
/// was given (cty returns the argument itself).
fn fold_numbers(args: &[Value], keep: std::cmp::Ordering) -> Result<Value, FnError> {
    let mut acc = number_arg(args, 0)?;
    for i in 1..args.len() {
        let n = number_arg(args, i)?;
        if n.cmp_value(&acc) == keep {
            acc = n;
        }
    }
    Ok(Value::Number(acc))
}

fn merge(mut args: Vec<Value>) -> Result<Value, FnError> {
    let mut out = kiln_model::FieldMap::new();
    for i in 0..args.len() {
        if args[i].is_null() {
            continue;
        }
        out.extend(map_arg(&mut args, i)?);
    }
    out.shrink_to_fit();
    Ok(Value::Map(out.into()))
}

fn nonsensitive(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(unmark(first(args)).0)
}

fn sensitive(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(first(args).sensitive())
}

/// `issensitive(value)`: whether the value is marked sensitive.
fn issensitive(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(matches!(first(args), Value::Sensitive(_))))
}

/// `matchkeys(values, keys, searchset)`: the values whose key (same index)
/// is in the search set.
fn matchkeys(mut args: Vec<Value>) -> Result<Value, FnError> {
    let values = list_arg(&mut args, 0)?;
    let keys = list_arg(&mut args, 1)?;
    let search = list_arg(&mut args, 2)?;
    if values.len() != keys.len() {
        return Err(arg_err(
            1,
            "the values and keys lists must have the same length",
        ));
    }
    Ok(Value::List(
        values
            .into_iter()
            .zip(keys)
            .filter(|(_, k)| search.contains(k))
            .map(|(v, _)| v)
            .collect(),
    ))
}

/// `range([start,] limit[, step])` by cty's rules: the start defaults to 0
/// and the step to 1 (or -1 toward a lower limit), each a Go `int`; the
/// elements are `start + step + step …` in cty's arithmetic.
fn range(args: Vec<Value>) -> Result<Value, FnError> {
    let nums: Vec<Number> = (0..args.len())
        .map(|i| number_arg(&args, i))
        .collect::<Result<_, _>>()?;
    use std::cmp::Ordering as O;
    let unit = |from: &Number, to: &Number| {
        Number::from_i64(if to.cmp_value(from) == O::Less { -1 } else { 1 })
    };
    let zero = Number::from_i64(0);
    let (start, limit, step) = match nums.as_slice() {
        // The step defaults to -1 toward a lower limit (`range(-1)` is [0]).
        [limit] => (zero.clone(), limit.clone(), unit(&zero, limit)),
        [start, limit] => (start.clone(), limit.clone(), unit(start, limit)),
        [start, limit, step] => (start.clone(), limit.clone(), step.clone()),
        _ => unreachable!("arity checked"),
    };
    if step.is_zero() {
        return Err(arg_err(2, "the step must not be zero"));
    }
    const MAX: usize = 1024;
    let mut out = Vec::new();
    let mut x = start;
    let up = step.signum() > 0;
    while (up && x.cmp_value(&limit) == O::Less) || (!up && x.cmp_value(&limit) == O::Greater) {
        if out.len() == MAX {
            return Err(FnError {
                arg: None,
                msg: format!("more than {MAX} elements; use a larger step"),
            });
        }
        let next = x
            .add(&step)
            .ok_or_else(|| arg_err(2, "the step must be a finite number"))?;
        out.push(Value::Number(x));
        x = next;
    }
    Ok(Value::List(out.into()))
}

fn split(args: Vec<Value>) -> Result<Value, FnError> {
    let sep = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    if s.is_empty() {
        return Ok(Value::List(vec![Value::from("")].into()));
    }
    Ok(Value::List(if sep.is_empty() {
        s.chars()
            .map(|c| Value::String(c.to_string().into()))
            .collect()
    } else {
        s.split(sep.as_str()).map(Value::from).collect()
    }))
}

fn to_type(args: Vec<Value>, ty: &Type) -> Result<Value, FnError> {
    convert(first(args), ty).map_err(|e| {
        arg_err(
            0,
            format!("cannot convert to {}: got {}", e.expected, e.got),
        )
    })
}

fn tobool(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::Bool)
}

fn tonumber(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::Number)
}

fn tostring(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::String)
}

fn tolist(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::List(Box::new(Type::Any)))
}

fn tomap(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::Map(Box::new(Type::Any)))
}

fn toset(args: Vec<Value>) -> Result<Value, FnError> {
    to_type(args, &Type::Set(Box::new(Type::Any)))
}

fn trimspace(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::from(string_arg(&args, 0)?.trim()))
}

fn values(mut args: Vec<Value>) -> Result<Value, FnError> {
    let m = map_arg(&mut args, 0)?;
    Ok(Value::List(m.into_values().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_functions_kinds_cares_about_change_or_refuse_kinds() {
        use kiln_model::{MapKind, Seq, SeqKind};
        let set = kinds::Kind::Seq(SeqKind::Set);
        let map = kinds::Kind::Map(MapKind::Map);
        for f in FUNCTIONS.iter().filter(|f| !kinds::cares(f.name)) {
            let list = Value::List(Seq::new(vec![Value::from("a")], SeqKind::Tuple));
            let out = kinds::result(f.name, &[set, map], list.clone());
            assert!(
                matches!(&out, Value::List(l) if l.kind() == SeqKind::Tuple),
                "{} changes kinds: add it to kinds::cares",
                f.name
            );
            assert!(
                kinds::check(f.name, &[set, set, set]).is_ok(),
                "{} refuses sets: add it to kinds::cares",
                f.name
            );
        }
    }

    #[test]
    fn table_is_sorted() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        assert!(find("abs").is_some() && find("values").is_some());
    }
}
