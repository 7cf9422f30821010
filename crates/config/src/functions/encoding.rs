//! Encoding functions: base64, CSV, URL and YAML. (JSON lives beside
//! `format` in the parent module.)

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_model::Value;

use super::{FnError, arg_err, string_arg};

pub(super) fn base64encode(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::String(STANDARD.encode(string_arg(&args, 0)?).into()))
}

/// `base64gzip(str)`: `str` compressed exactly as Terraform's gzip writer
/// does (see [`super::gzip`]), then base64-encoded.
pub(super) fn base64gzip(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        STANDARD.encode(super::gzip::gzip(s.as_bytes())).into(),
    ))
}

pub(super) fn base64decode(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let bytes = STANDARD
        .decode(s.as_bytes())
        .map_err(|e| arg_err(0, format!("failed to decode base64 data: {e}")))?;
    String::from_utf8(bytes).map(Value::from).map_err(|_| {
        arg_err(
            0,
            "the result of decoding the provided string is not valid UTF-8; use filebase64 or keep the data base64-encoded",
        )
    })
}

/// The character encodings `textencodebase64` / `textdecodebase64` know,
/// by Terraform's (IANA) names, case-insensitive: UTF-8, UTF-16 in either
/// byte order, and ISO-8859-1.
#[derive(Clone, Copy)]
enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Latin1,
}

fn text_encoding(name: &str, arg: usize) -> Result<TextEncoding, FnError> {
    match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok(TextEncoding::Utf8),
        "UTF-16LE" => Ok(TextEncoding::Utf16Le),
        "UTF-16BE" | "UTF-16" => Ok(TextEncoding::Utf16Be),
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" => Ok(TextEncoding::Latin1),
        _ => Err(arg_err(
            arg,
            format!(
                "{name:?} is not a character encoding kiln supports; use UTF-8, UTF-16LE, UTF-16BE or ISO-8859-1"
            ),
        )),
    }
}

/// `textencodebase64(string, encoding)`: the string in that encoding,
/// base64-encoded.
pub(super) fn textencodebase64(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let bytes: Vec<u8> = match text_encoding(&string_arg(&args, 1)?, 1)? {
        TextEncoding::Utf8 => s.into_bytes(),
        TextEncoding::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Latin1 => s
            .chars()
            .map(|c| {
                u8::try_from(u32::from(c)).map_err(|_| {
                    arg_err(
                        0,
                        format!("the character {c:?} cannot be encoded in ISO-8859-1"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Value::String(STANDARD.encode(bytes).into()))
}

/// `textdecodebase64(string, encoding)`: base64 data in that encoding,
/// decoded to a string.
pub(super) fn textdecodebase64(args: Vec<Value>) -> Result<Value, FnError> {
    let data = string_arg(&args, 0)?;
    let encoding = text_encoding(&string_arg(&args, 1)?, 1)?;
    let bytes = STANDARD.decode(data.as_bytes()).map_err(|e| {
        arg_err(
            0,
            format!("the given value has an invalid base64 symbol: {e}"),
        )
    })?;
    let units = |pair: fn([u8; 2]) -> u16| -> Result<Vec<u16>, FnError> {
        if bytes.len() % 2 != 0 {
            return Err(arg_err(0, "the data is not whole UTF-16 code units"));
        }
        Ok(bytes.chunks(2).map(|c| pair([c[0], c[1]])).collect())
    };
    let text = match encoding {
        TextEncoding::Utf8 => String::from_utf8(bytes.clone()).ok(),
        TextEncoding::Utf16Le => String::from_utf16(&units(u16::from_le_bytes)?).ok(),
        TextEncoding::Utf16Be => String::from_utf16(&units(u16::from_be_bytes)?).ok(),
        TextEncoding::Latin1 => Some(bytes.iter().map(|b| char::from(*b)).collect()),
    };
    text.map(Value::from)
        .ok_or_else(|| arg_err(0, "the data is not valid text in that encoding"))
}

/// Go's `url.QueryEscape`: spaces become `+`, everything but letters,
/// digits and `-_.~` is percent-encoded.
pub(super) fn urlencode(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(Value::String(out.into()))
}

/// The first line is the header; every other line becomes a map from the
/// header's names to that line's fields.
pub(super) fn csvdecode(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(s.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| arg_err(0, format!("invalid CSV: {e}")))?
        .clone();
    if headers.is_empty() {
        return Err(arg_err(0, "missing header line"));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths { pos, expected_len, len } => arg_err(
                0,
                format!(
                    "parse error on line {}: wrong number of fields (expected {expected_len}, got {len})",
                    pos.as_ref().map_or(0, |p| p.line())
                ),
            ),
            _ => arg_err(0, format!("invalid CSV: {e}")),
        })?;
        let row: BTreeMap<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, f)| (h.to_string(), Value::from(f)))
            .collect();
        rows.push(Value::Map(row.into()));
    }
    Ok(Value::List(rows.into()))
}

pub(super) fn yamldecode(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    super::yaml::decode(&s).map_err(|e| arg_err(0, format!("invalid YAML: {e}")))
}

/// The block style Terraform's `yamlencode` writes (go-cty-yaml over
/// libyaml's emitter): strings double-quoted, or as a literal block (`|`)
/// when they hold a line break and libyaml allows one; lists under a key
/// not indented, nested maps indented by two.
pub(super) fn yamlencode(args: Vec<Value>) -> Result<Value, FnError> {
    let mut out = String::new();
    yaml_value(&args[0], 0, 2, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // A document that is a plain scalar ends with YAML's document end
    // marker, as Terraform writes it (`yamlencode(1)` is "1\n...\n").
    if matches!(
        args[0].unmarked(),
        Value::Null | Value::Bool(_) | Value::Number(_)
    ) {
        out.push_str("...\n");
    }
    Ok(Value::String(out.into()))
}

fn yaml_scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::List(l) if l.is_empty() => "[]".to_string(),
        Value::Map(m) if m.is_empty() => "{}".to_string(),
        _ => return None,
    })
}

/// The chomping indicator of `s` as a literal block (`-`, `` or `+`), or
/// `None` when libyaml would not write it as one (no line break, or a
/// character a block cannot hold: a space at the end or before a line
/// break, a tab or another non-printable character).
fn literal_chomp(s: &str) -> Option<&'static str> {
    if !s.contains('\n') || s.ends_with(' ') || s.contains(" \n") {
        return None;
    }
    let printable = |c: char| {
        c == '\n'
            || (' '..='~').contains(&c)
            || c == '\u{85}'
            || (c >= '\u{a0}' && c != '\u{feff}' && c != '\u{fffe}' && c != '\u{ffff}')
    };
    if !s.chars().all(printable) {
        return None;
    }
    Some(if !s.ends_with('\n') {
        "-"
    } else if s == "\n" || s.ends_with("\n\n") {
        "+"
    } else {
        ""
    })
}

/// Writes `s` as a literal block whose lines are indented by `indent`
/// (the cursor just after `key: ` or `- `), if libyaml would.
fn yaml_literal(s: &str, indent: usize, out: &mut String) -> bool {
    let Some(chomp) = literal_chomp(s) else {
        return false;
    };
    out.push('|');
    // A block starting with a space or a line break says its indentation.
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    out.push_str(chomp);
    out.push('\n');
    let pad = " ".repeat(indent);
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    true
}

/// Writes `v` as a block at `indent`, the first line already positioned;
/// a literal block's lines go at `block`.
fn yaml_value(v: &Value, indent: usize, block: usize, out: &mut String) {
    if let Value::String(s) = v
        && yaml_literal(s, block, out)
    {
        return;
    }
    if let Some(s) = yaml_scalar(v) {
        out.push_str(&s);
        out.push('\n');
        return;
    }
    let pad = " ".repeat(indent);
    match v {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                yaml_value(item, indent + 2, indent + 2, out);
            }
        }
        Value::Map(m) => {
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                match item {
                    _ if yaml_scalar(item).is_some()
                        || matches!(item.unmarked(), Value::String(_)) =>
                    {
                        out.push(' ');
                        yaml_value(item, indent, indent + 2, out);
                    }
                    Value::List(_) => {
                        out.push('\n');
                        out.push_str(&pad);
                        yaml_value(item, indent, indent + 2, out);
                    }
                    _ => {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent + 2));
                        yaml_value(item, indent + 2, indent + 4, out);
                    }
                }
            }
        }
        Value::Sensitive(inner) => yaml_value(inner, indent, block, out),
        _ => out.push_str("null\n"),
    }
}
