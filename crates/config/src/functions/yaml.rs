//! `yamldecode` as Terraform does it (go-cty-yaml, on YAML 1.1's scalar
//! rules): plain `yes` / `no` / `on` / `off` / `y` / `n` are bools, `~` and
//! the empty scalar null, `010` the number 10, `0x1F` and `0o17` integers,
//! timestamps become RFC 3339 strings, quoted scalars are always strings,
//! `<<` merges mappings, anchors and aliases are followed, and only one
//! document is allowed. The parser is yaml-rust2's; the rules are
//! go-cty-yaml's `resolve.go` and `decode.go`.

use std::collections::{BTreeMap, HashMap};

use kiln_model::{Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// Parses one YAML document into a value (mappings are objects, sequences
/// tuples). Errors say where: `on line L, column C: …`.
pub(super) fn decode(text: &str) -> Result<Value, String> {
    let mut d = Decoder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        pending: Vec::new(),
    };
    let (ev, mark) = d.next()?;
    if !matches!(ev, Event::StreamStart) {
        return Err(at(mark, "missing stream start"));
    }
    let (ev, mark) = d.next()?;
    match ev {
        // No document at all (empty, or only comments): Terraform refuses it.
        Event::StreamEnd => return Err(at(mark, "missing start of document")),
        Event::DocumentStart => {}
        _ => return Err(at(mark, "missing start of document")),
    }
    let value = d.value()?;
    let (ev, mark) = d.next()?;
    match ev {
        Event::DocumentEnd => {}
        Event::DocumentStart => return Err(at(mark, "only a single document is allowed")),
        _ => return Err(at(mark, "unexpected extra content after value")),
    }
    let (ev, mark) = d.next()?;
    match ev {
        Event::StreamEnd => Ok(value),
        Event::DocumentStart => Err(at(mark, "only a single document is allowed")),
        _ => Err(at(mark, "unexpected extra content after value")),
    }
}

fn at(mark: Marker, msg: impl std::fmt::Display) -> String {
    format!("on line {}, column {}: {msg}", mark.line(), mark.col() + 1)
}

struct Decoder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Value>,
    /// Anchors whose node is still being read (an alias to one is an error).
    pending: Vec<usize>,
}

impl Decoder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), String> {
        self.parser.next_token().map_err(|e| format!("{e}"))
    }

    fn value(&mut self) -> Result<Value, String> {
        let (ev, mark) = self.next()?;
        self.value_from(ev, mark)
    }

    fn begin(&mut self, anchor: usize) {
        if anchor != 0 {
            self.pending.push(anchor);
        }
    }

    fn complete(&mut self, anchor: usize, v: &Value) {
        if anchor != 0 {
            if let Some(i) = self.pending.iter().rposition(|a| *a == anchor) {
                self.pending.remove(i);
            }
            self.anchors.insert(anchor, v.clone());
        }
    }

    fn value_from(&mut self, ev: Event, mark: Marker) -> Result<Value, String> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.begin(anchor);
                let v = resolve(tag.as_ref(), &text, style).map_err(|e| at(mark, e))?;
                self.complete(anchor, &v);
                Ok(v)
            }
            Event::Alias(id) => {
                if self.pending.contains(&id) {
                    return Err(at(
                        mark,
                        "cannot refer to an anchor from inside its own definition",
                    ));
                }
                self.anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| at(mark, "reference to an undefined anchor"))
            }
            Event::SequenceStart(anchor, tag) => {
                if let Some(t) = tag
                    .as_ref()
                    .map(long_tag)
                    .filter(|t| t != "tag:yaml.org,2002:seq")
                {
                    return Err(at(
                        mark,
                        format!("can't interpret sequence as {}", short_tag(&t)),
                    ));
                }
                self.begin(anchor);
                let mut items = Vec::new();
                loop {
                    let (ev, mark) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.value_from(ev, mark)?);
                }
                let v = Value::List(items.into());
                self.complete(anchor, &v);
                Ok(v)
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(t) = tag
                    .as_ref()
                    .map(long_tag)
                    .filter(|t| t != "tag:yaml.org,2002:map")
                {
                    return Err(at(
                        mark,
                        format!("can't interpret mapping as {}", short_tag(&t)),
                    ));
                }
                self.begin(anchor);
                let v = Value::Map((self.mapping()?).into());
                self.complete(anchor, &v);
                Ok(v)
            }
            Event::DocumentStart => Err(at(mark, "only a single document is allowed")),
            Event::StreamEnd => Err(at(mark, "expecting value but found end of stream")),
            Event::MappingEnd => Err(at(mark, "expecting value but found end of mapping")),
            Event::SequenceEnd => Err(at(mark, "expecting value but found end of sequence")),
            _ => Err(at(mark, "unexpected parser event")),
        }
    }

    fn mapping(&mut self) -> Result<BTreeMap<String, Value>, String> {
        let mut out = BTreeMap::new();
        loop {
            let (ev, mark) = self.next()?;
            let key = match ev {
                Event::MappingEnd => return Ok(out),
                Event::Scalar(ref text, _, _, ref tag) if is_merge_key(text, tag.as_ref()) => {
                    let merged = self.value()?;
                    merge(&mut out, merged).map_err(|e| at(mark, e))?;
                    continue;
                }
                Event::Scalar(text, style, _, tag) => {
                    match resolve(tag.as_ref(), &text, style).map_err(|e| at(mark, e))? {
                        Value::String(s) => s.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Null => return Err(at(mark, "mapping key cannot be null")),
                        _ => return Err(at(mark, "only strings are allowed as mapping keys")),
                    }
                }
                _ => return Err(at(mark, "only strings are allowed as mapping keys")),
            };
            let v = self.value()?;
            out.insert(key, v);
        }
    }
}

fn is_merge_key(text: &str, tag: Option<&Tag>) -> bool {
    match tag {
        None => text == "<<",
        Some(t) => long_tag(t) == "tag:yaml.org,2002:merge",
    }
}

/// `<<: *base` or `<<: [*a, *b]`: the mappings' entries join this one.
fn merge(into: &mut BTreeMap<String, Value>, merged: Value) -> Result<(), String> {
    match merged {
        Value::Map(m) => into.extend(m.into_iter().map(|(k, v)| (k.into(), v))),
        Value::List(items) => {
            for item in items {
                match item {
                    Value::Map(m) => into.extend(m.into_iter().map(|(k, v)| (k.into(), v))),
                    other => {
                        return Err(format!(
                            "cannot merge {} (from sequence) into mapping",
                            other.type_name()
                        ));
                    }
                }
            }
        }
        other => return Err(format!("cannot merge {} into mapping", other.type_name())),
    }
    Ok(())
}

fn long_tag(t: &Tag) -> String {
    let handle = if t.handle == "!!" {
        TAG_PREFIX
    } else {
        t.handle.as_str()
    };
    format!("{handle}{}", t.suffix)
}

fn short_tag(t: &str) -> String {
    match t.strip_prefix(TAG_PREFIX) {
        Some(rest) => format!("!!{rest}"),
        None => t.to_string(),
    }
}

/// go-cty-yaml's `resolveScalar`: a scalar's value from its tag, text and
/// style.
fn resolve(tag: Option<&Tag>, src: &str, style: TScalarStyle) -> Result<Value, String> {
    let mut tag = tag.map(long_tag).unwrap_or_default();
    // A non-specific `!` tag (quoted scalars) is no tag.
    if tag == "!" {
        tag.clear();
    }
    let suffix = tag.strip_prefix(TAG_PREFIX).map(str::to_string);
    let known = matches!(
        suffix.as_deref(),
        Some("str" | "bool" | "int" | "float" | "null" | "timestamp" | "binary")
    );
    if !tag.is_empty() && !known {
        return Err(format!("unsupported tag {:?}", short_tag(&tag)));
    }
    let mut kind = suffix.unwrap_or_default();
    let hint = match src.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint != 0 && kind != "str" && kind != "binary" {
        if matches!(
            style,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
        ) {
            return Ok(Value::from(src));
        }
        if let Some(v) = special(src) {
            return Ok(v);
        }
        if kind.is_empty() && matches!(src, ".nan" | ".NaN" | ".NAN") {
            return Err("floating point NaN is not supported".into());
        }
        match hint {
            b'.' => {
                if let Some(n) = Number::parse(src) {
                    return Ok(Value::Number(n));
                }
            }
            b'D' | b'S' => {
                if (kind.is_empty() || kind == "timestamp")
                    && let Some(t) = timestamp(src)
                {
                    return Ok(Value::String(t.into()));
                }
                if is_integer_literal(src) {
                    kind = "int".into();
                } else if is_float_literal(src) {
                    kind = "float".into();
                }
            }
            _ => {}
        }
    }
    match kind.as_str() {
        "str" => Ok(Value::from(src)),
        "binary" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(src)
                .map_err(|_| format!("cannot parse {src:?} as !!binary: not valid base64"))?;
            Ok(Value::from(src))
        }
        "bool" => match special(src) {
            Some(v @ Value::Bool(_)) => Ok(v),
            _ => Err(format!("cannot parse {src:?} as !!bool")),
        },
        "int" | "float" => {
            let plain = src.replace('_', "");
            if let Some(n) = Number::parse(&plain) {
                return Ok(Value::Number(n));
            }
            go_parse_int(&plain)
                .map(Value::Number)
                .ok_or_else(|| format!("cannot parse {src:?} as !!{kind}"))
        }
        "timestamp" => timestamp(src)
            .map(Value::from)
            .ok_or_else(|| format!("cannot parse {src:?} as !!timestamp")),
        "null" => Ok(Value::Null),
        _ => Ok(Value::from(src)),
    }
}

/// The scalars YAML 1.1 gives a meaning by name.
fn special(src: &str) -> Option<Value> {
    Some(match src {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Value::Number(Number::from(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => Value::Number(Number::from(f64::NEG_INFINITY)),
        _ => return None,
    })
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+` (YAML 1.2's integers).
fn is_integer_literal(s: &str) -> bool {
    let all = |t: &str, f: fn(&u8) -> bool| !t.is_empty() && t.as_bytes().iter().all(f);
    if let Some(r) = s.strip_prefix("0o") {
        return all(r, |c| (b'0'..=b'7').contains(c));
    }
    if let Some(r) = s.strip_prefix("0x") {
        return all(r, u8::is_ascii_hexdigit);
    }
    all(s.strip_prefix(['+', '-']).unwrap_or(s), u8::is_ascii_digit)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float_literal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", f)) => !f.is_empty() && digits(f),
        Some((i, f)) => !i.is_empty() && digits(i) && digits(f),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exp_ok
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`: a sign, then `0x`,
/// `0o`, `0b` or a leading `0` (octal) prefix.
fn go_parse_int(s: &str) -> Option<Number> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let u = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let i = i64::try_from(u)
            .ok()
            .map(|i| -i)
            .or((u == 1 << 63).then_some(i64::MIN))?;
        Some(Number::from_i64(i))
    } else {
        Some(Number::from_u64(u))
    }
}

/// A YAML timestamp in the forms go-cty-yaml reads (`2001-12-14`,
/// `2001-12-14T21:59:43.10-05:00`, `2001-12-14 21:59:43.10`), as the RFC
/// 3339 text Go writes for it (whole seconds; `Z` for UTC).
fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let mut rest = &s[5..];
    let num = |rest: &mut &str, max_digits: usize| -> Option<u32> {
        let n = rest
            .bytes()
            .take(max_digits)
            .take_while(u8::is_ascii_digit)
            .count();
        if n == 0 {
            return None;
        }
        let v = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(v)
    };
    let month = num(&mut rest, 2)?;
    rest = rest.strip_prefix('-')?;
    let day = num(&mut rest, 2)?;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let zoned = match rest.as_bytes()[0] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    rest = &rest[1..];
    let hour = num(&mut rest, 2)?;
    rest = rest.strip_prefix(':')?;
    let minute = num(&mut rest, 2)?;
    rest = rest.strip_prefix(':')?;
    let second = num(&mut rest, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        rest = &r[n..];
    }
    let zone = if !zoned {
        if !rest.is_empty() {
            return None;
        }
        "Z".to_string()
    } else if rest == "Z" {
        "Z".to_string()
    } else {
        let sign = rest.chars().next()?;
        if !matches!(sign, '+' | '-') || rest.len() != 6 || rest.as_bytes()[3] != b':' {
            return None;
        }
        let h: u32 = rest[1..3].parse().ok()?;
        let m: u32 = rest[4..6].parse().ok()?;
        if h > 23 || m > 59 {
            return None;
        }
        if h == 0 && m == 0 {
            "Z".to_string()
        } else {
            format!("{sign}{h:02}:{m:02}")
        }
    };
    Some(format!("{date}T{hour:02}:{minute:02}:{second:02}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Value {
        decode(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(d("b: yes"), Value::map([("b", Value::Bool(true))]));
        assert_eq!(d("b: 'yes'"), Value::map([("b", Value::from("yes"))]));
        assert_eq!(
            d("[x, y, n, off, ~]"),
            Value::List(
                vec![
                    Value::from("x"),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Bool(false),
                    Value::Null,
                ]
                .into()
            )
        );
        assert_eq!(d("x: 010").get("x").unwrap().to_string(), "10");
        assert_eq!(d("x: 0x1F").get("x").unwrap().to_string(), "31");
        assert_eq!(d("x: 0o17").get("x").unwrap().to_string(), "15");
        assert_eq!(d("x: 1_000"), Value::map([("x", Value::from("1_000"))]));
        assert_eq!(d("x: !!int 1_000").get("x").unwrap().to_string(), "1000");
        assert_eq!(d("x: 0.1").get("x").unwrap().to_string(), "0.1");
        assert_eq!(
            d("x: 2001-12-14"),
            Value::map([("x", Value::from("2001-12-14T00:00:00Z"))])
        );
        assert_eq!(
            d("x: 2001-12-14T21:59:43.10-05:00"),
            Value::map([("x", Value::from("2001-12-14T21:59:43-05:00"))])
        );
        assert_eq!(
            d("1: a\ntrue: b"),
            Value::map([("1", Value::from("a")), ("true", Value::from("b"))])
        );
    }

    #[test]
    fn anchors_merges_and_documents() {
        let v = d("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n");
        assert_eq!(v.get("x").unwrap().get("b").unwrap().to_string(), "3");
        assert_eq!(v.get("x").unwrap().get("a").unwrap().to_string(), "1");
        assert!(
            decode("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .contains("single document")
        );
        assert!(decode("a: !foo x").unwrap_err().contains("unsupported tag"));
        assert!(decode("? [1]\n: x").unwrap_err().contains("only strings"));
        assert!(decode("# nothing\n").is_err() && decode("").is_err());
    }
}
