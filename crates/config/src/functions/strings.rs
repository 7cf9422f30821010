//! String functions. Characters are grapheme clusters, as Terraform counts
//! them (`length`, `substr` and `strrev` keep `e` + a combining accent, or
//! an emoji with its modifiers, together).

use std::collections::BTreeMap;

use kiln_model::Value;
use unicode_segmentation::UnicodeSegmentation;

use super::{FnError, arg_err, err, format, int_arg, string_arg};

pub(super) fn chomp(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    Ok(Value::from(s.trim_end_matches(['\n', '\r'])))
}

pub(super) fn endswith(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(
        string_arg(&args, 0)?.ends_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn startswith(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(
        string_arg(&args, 0)?.starts_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn strcontains(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Bool(
        string_arg(&args, 0)?.contains(&string_arg(&args, 1)?),
    ))
}

pub(super) fn strrev(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(s.graphemes(true).rev().collect()))
}

pub(super) fn trim(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let cut: Vec<char> = string_arg(&args, 1)?.chars().collect();
    Ok(Value::from(s.trim_matches(cut.as_slice())))
}

pub(super) fn trimprefix(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let p = string_arg(&args, 1)?;
    Ok(Value::from(s.strip_prefix(p.as_str()).unwrap_or(&s)))
}

pub(super) fn trimsuffix(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let p = string_arg(&args, 1)?;
    Ok(Value::from(s.strip_suffix(p.as_str()).unwrap_or(&s)))
}

/// Adds `spaces` spaces before every line but the first.
pub(super) fn indent(args: Vec<Value>) -> Result<Value, FnError> {
    let n = int_arg(&args, 0)?;
    if n < 0 {
        return Err(arg_err(
            0,
            format!("the number of spaces must not be negative, got {n}"),
        ));
    }
    let s = string_arg(&args, 1)?;
    let pad = format!("\n{}", " ".repeat(n as usize));
    Ok(Value::String(s.replace('\n', &pad).into()))
}

/// Go's `strings.Title`: upper-cases each letter that follows a separator.
pub(super) fn title(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    Ok(Value::String(out.into()))
}

/// `substr(str, offset, length)`: a negative offset counts from the end; a
/// length of -1 takes the rest.
pub(super) fn substr(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let chars: Vec<&str> = s.graphemes(true).collect();
    let len = chars.len() as i64;
    let mut offset = int_arg(&args, 1)?;
    let length = int_arg(&args, 2)?;
    if offset < 0 {
        offset += len;
        if offset < 0 {
            return Err(arg_err(
                1,
                "offset cannot be larger than the length of the string",
            ));
        }
    }
    if offset >= len {
        return Ok(Value::from(""));
    }
    let end = if length < 0 {
        if length != -1 {
            return Err(arg_err(
                2,
                "length must be -1 (the rest of the string) or a positive number",
            ));
        }
        len
    } else {
        (offset + length).min(len)
    };
    Ok(Value::String(
        chars[offset as usize..end as usize].concat().into(),
    ))
}

/// `formatlist(spec, args...)`: `format` over the elements of the list
/// arguments, in step; other arguments repeat.
pub(super) fn formatlist(args: Vec<Value>) -> Result<Value, FnError> {
    let mut len: Option<(usize, usize)> = None;
    for (i, a) in args.iter().enumerate().skip(1) {
        if let Value::List(l) = a {
            match len {
                None => len = Some((i, l.len())),
                Some((j, n)) if n != l.len() => {
                    return Err(arg_err(
                        i,
                        format!(
                            "argument {} has length {}, which is inconsistent with argument {} of length {n}",
                            i + 1,
                            l.len(),
                            j + 1
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let n = len.map_or(1, |(_, n)| n);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let row: Vec<Value> = args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Value::List(l) if i > 0 => l[k].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(format(row)?);
    }
    Ok(Value::List(out.into()))
}

fn compile(args: &[Value], i: usize) -> Result<regex::Regex, FnError> {
    let pattern = string_arg(args, i)?;
    regex::Regex::new(&pattern).map_err(|e| {
        arg_err(
            i,
            format!("invalid regular expression: {}", first_line(&e.to_string())),
        )
    })
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

/// One match as `regex` returns it: the whole match without capture groups,
/// a map with named groups, else a list of the groups.
fn captures_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Value {
    let group = |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::from(m.as_str()));
    if re.captures_len() == 1 {
        return group(caps.get(0));
    }
    if re.capture_names().flatten().next().is_some() {
        let mut m = BTreeMap::new();
        for name in re.capture_names().flatten() {
            m.insert(name.to_string(), group(caps.name(name)));
        }
        return Value::Map(m.into());
    }
    Value::List((1..re.captures_len()).map(|i| group(caps.get(i))).collect())
}

pub(super) fn regex(args: Vec<Value>) -> Result<Value, FnError> {
    let re = compile(&args, 0)?;
    let s = string_arg(&args, 1)?;
    match re.captures(&s) {
        Some(caps) => Ok(captures_value(&re, &caps)),
        None => Err(err("pattern did not match any part of the given string")),
    }
}

pub(super) fn regexall(args: Vec<Value>) -> Result<Value, FnError> {
    let re = compile(&args, 0)?;
    let s = string_arg(&args, 1)?;
    Ok(Value::List(
        re.captures_iter(&s)
            .map(|c| captures_value(&re, &c))
            .collect(),
    ))
}

/// `replace(str, substr, replacement)`; a substring in slashes (`/a+/`) is a
/// regular expression and the replacement may use `$1` or `${name}`.
pub(super) fn replace(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let from = string_arg(&args, 1)?;
    let to = string_arg(&args, 2)?;
    if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
        let re = regex::Regex::new(&from[1..from.len() - 1]).map_err(|e| {
            arg_err(
                1,
                format!("invalid regular expression: {}", first_line(&e.to_string())),
            )
        })?;
        return Ok(Value::String(
            re.replace_all(&s, to.as_str()).into_owned().into(),
        ));
    }
    if from.is_empty() {
        // Go's strings.Replace: the replacement before every character and
        // at the end (`replace("abc", "", "-")` is "-a-b-c-").
        let mut out = to.clone();
        for c in s.chars() {
            out.push(c);
            out.push_str(&to);
        }
        return Ok(Value::String(out.into()));
    }
    Ok(Value::String(s.replace(&from, &to).into()))
}
