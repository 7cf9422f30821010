//! File functions. Reading goes through the scope's [`FileSystem`] so that
//! the crate stays pure; path arithmetic (`basename`, `dirname`) and
//! `fileset`'s pattern matching happen here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_model::Value;

use super::hashing::{Algo, digest, hex};
use super::{FnError, arg_err, string_arg};
use crate::FileSystem;

fn read(fs: &dyn FileSystem, args: &[Value]) -> Result<(String, Vec<u8>), FnError> {
    let path = string_arg(args, 0)?;
    let bytes = fs.read(&path).map_err(|e| arg_err(0, e))?;
    Ok((path, bytes))
}

pub(super) fn file(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let (path, bytes) = read(fs, &args)?;
    String::from_utf8(bytes).map(Value::from).map_err(|_| {
        arg_err(
            0,
            format!(
                "contents of {} are not valid UTF-8; use filebase64 to read it base64-encoded",
                Value::String(path.into())
            ),
        )
    })
}

pub(super) fn filebase64(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::String(STANDARD.encode(read(fs, &args)?.1).into()))
}

fn file_hex(fs: &dyn FileSystem, args: &[Value], algo: Algo) -> Result<Value, FnError> {
    Ok(Value::String(hex(&digest(algo, &read(fs, args)?.1)).into()))
}

fn file_b64(fs: &dyn FileSystem, args: &[Value], algo: Algo) -> Result<Value, FnError> {
    Ok(Value::String(
        STANDARD.encode(digest(algo, &read(fs, args)?.1)).into(),
    ))
}

pub(super) fn filemd5(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_hex(fs, &args, Algo::Md5)
}

pub(super) fn filesha1(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_hex(fs, &args, Algo::Sha1)
}

pub(super) fn filesha256(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_hex(fs, &args, Algo::Sha256)
}

pub(super) fn filesha512(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_hex(fs, &args, Algo::Sha512)
}

pub(super) fn filebase64sha256(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_b64(fs, &args, Algo::Sha256)
}

pub(super) fn filebase64sha512(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    file_b64(fs, &args, Algo::Sha512)
}

pub(super) fn fileexists(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let path = string_arg(&args, 0)?;
    fs.is_file(&path)
        .map(Value::Bool)
        .map_err(|e| arg_err(0, e))
}

pub(super) fn abspath(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let path = string_arg(&args, 0)?;
    fs.absolute(&path)
        .map(Value::from)
        .map_err(|e| arg_err(0, e))
}

/// `~` or `~/rest` becomes the home directory; any other path is unchanged.
pub(super) fn pathexpand(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let path = string_arg(&args, 0)?;
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(Value::String(path.into())),
    };
    let Some(home) = fs.home_dir() else {
        return Err(arg_err(0, "the home directory is not known"));
    };
    Ok(Value::from(format!("{}{rest}", home.trim_end_matches('/'))))
}

/// `fileset(path, pattern)`: the files under `path` whose path relative to
/// it matches `pattern` (`*`, `**`, `?`, `[class]`, `{a,b}`), sorted.
pub(super) fn fileset(fs: &dyn FileSystem, args: Vec<Value>) -> Result<Value, FnError> {
    let dir = string_arg(&args, 0)?;
    let pattern = string_arg(&args, 1)?;
    let patterns = expand_braces(&pattern).map_err(|e| arg_err(1, e))?;
    let files = fs.files_under(&dir).map_err(|e| arg_err(0, e))?;
    let mut out: Vec<String> = Vec::new();
    for f in files {
        for p in &patterns {
            let segs: Vec<&str> = p
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .collect();
            let parts: Vec<&str> = f.split('/').collect();
            match match_path(&segs, &parts) {
                Ok(true) => {
                    out.push(f.clone());
                    break;
                }
                Ok(false) => {}
                Err(e) => return Err(arg_err(1, e)),
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(Value::List(out.into_iter().map(Value::from).collect()))
}

/// Expands `{a,b}` alternatives (nested ones too) into separate patterns.
fn expand_braces(p: &str) -> Result<Vec<String>, String> {
    let Some(open) = p.find('{') else {
        return Ok(vec![p.to_string()]);
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in p[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let close = close.ok_or_else(|| "unclosed \"{\" in the pattern".to_string())?;
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &p[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!(
            "{}{alt}{}",
            &p[..open],
            &p[close + 1..]
        ))?);
    }
    Ok(out)
}

fn match_path(pattern: &[&str], path: &[&str]) -> Result<bool, String> {
    match pattern.split_first() {
        None => Ok(path.is_empty()),
        Some((&"**", rest)) => {
            for skip in 0..=path.len() {
                if match_path(rest, &path[skip..])? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Some((seg, rest)) => match path.split_first() {
            Some((first, more)) => {
                let p: Vec<char> = seg.chars().collect();
                let s: Vec<char> = first.chars().collect();
                Ok(match_segment(&p, &s)? && match_path(rest, more)?)
            }
            None => Ok(false),
        },
    }
}

fn match_segment(p: &[char], s: &[char]) -> Result<bool, String> {
    match p.split_first() {
        None => Ok(s.is_empty()),
        Some(('*', rest)) => {
            for skip in 0..=s.len() {
                if match_segment(rest, &s[skip..])? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Some(('?', rest)) => Ok(!s.is_empty() && match_segment(rest, &s[1..])?),
        Some(('[', rest)) => {
            let end = rest
                .iter()
                .skip(1)
                .position(|c| *c == ']')
                .map(|i| i + 1)
                .ok_or_else(|| "unclosed \"[\" in the pattern".to_string())?;
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let Some(c) = s.first() else {
                return Ok(false);
            };
            let (negate, class) = match class.first() {
                Some('^' | '!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= *c && *c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            Ok(hit != negate && match_segment(after, &s[1..])?)
        }
        Some(('\\', rest)) if !rest.is_empty() => {
            Ok(s.first() == Some(&rest[0]) && match_segment(&rest[1..], &s[1..])?)
        }
        Some((c, rest)) => Ok(s.first() == Some(c) && match_segment(rest, &s[1..])?),
    }
}

/// Go's `filepath.Base`.
pub(super) fn basename(args: Vec<Value>) -> Result<Value, FnError> {
    let p = string_arg(&args, 0)?;
    if p.is_empty() {
        return Ok(Value::from("."));
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return Ok(Value::from("/"));
    }
    Ok(Value::from(t.rsplit('/').next().unwrap_or(t)))
}

/// Go's `filepath.Dir`: everything but the last element, cleaned.
pub(super) fn dirname(args: Vec<Value>) -> Result<Value, FnError> {
    let p = string_arg(&args, 0)?;
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    Ok(Value::String(clean(dir).into()))
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}
