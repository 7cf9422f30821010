//! Time and UUID functions: `timeadd`, `timecmp`, `formatdate` and
//! `uuidv5`, as Terraform 1.11 defines them
//! (<https://developer.hashicorp.com/terraform/language/functions>).
//! Timestamps are RFC 3339; durations are Go's (`"1h30m"`, `"-1.5s"`).
//! `timestamp()` and `uuid()` are not here: Terraform makes them unknown
//! at plan time, which a pure function cannot be.

use kiln_model::Value;
use time::format_description::well_known::Rfc3339;
use time::{Month, OffsetDateTime, UtcOffset, Weekday};

use super::{FnError, arg_err, string_arg};

fn parse_time(args: &[Value], i: usize) -> Result<OffsetDateTime, FnError> {
    let s = string_arg(args, i)?;
    OffsetDateTime::parse(&s, &Rfc3339).map_err(|e| {
        arg_err(
            i,
            format!(
                "not a valid RFC 3339 timestamp ({e}); write one like \"2024-01-02T15:04:05Z\""
            ),
        )
    })
}

/// RFC 3339 as Terraform writes it: whole seconds, `Z` for UTC.
fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_duration(s: &str) -> Option<i128> {
    kiln_model::cutover::go_duration_ns(s)
}

pub(super) fn timeadd(args: Vec<Value>) -> Result<Value, FnError> {
    let t = parse_time(&args, 0)?;
    let d = string_arg(&args, 1)?;
    let ns = parse_duration(&d).ok_or_else(|| {
        arg_err(
            1,
            format!("invalid duration {d:?}; write one like \"1h30m\", \"-10s\" or \"500ms\""),
        )
    })?;
    let sum = t
        .checked_add(time::Duration::nanoseconds_i128(ns))
        .ok_or_else(|| arg_err(1, "the result is out of range"))?;
    Ok(Value::String(rfc3339(sum).into()))
}

pub(super) fn timecmp(args: Vec<Value>) -> Result<Value, FnError> {
    let a = parse_time(&args, 0)?;
    let b = parse_time(&args, 1)?;
    Ok(Value::from(match a.cmp(&b) {
        std::cmp::Ordering::Less => -1i64,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }))
}

fn month_name(m: Month) -> &'static str {
    match m {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

fn offset(o: UtcOffset, colon: bool) -> String {
    let secs = o.whole_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// `formatdate(spec, timestamp)`: Terraform's date format — runs of one
/// letter (`YYYY`, `MMM`, `DD`, `EEEE`, `hh`, `HH`, `mm`, `ss`, `aa`,
/// `ZZZ`, ...), `'quoted'` literal text, other characters as they are.
pub(super) fn formatdate(args: Vec<Value>) -> Result<Value, FnError> {
    let spec: Vec<char> = string_arg(&args, 0)?.chars().collect();
    let t = parse_time(&args, 1)?;
    let mut out = String::new();
    let mut i = 0;
    while i < spec.len() {
        let c = spec[i];
        if c == '\'' {
            // 'literal', with '' for a quote
            if spec.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let Some(len) = spec[i + 1..].iter().position(|x| *x == '\'') else {
                return Err(arg_err(0, "a quoted literal is not closed with '"));
            };
            out.extend(&spec[i + 1..i + 1 + len]);
            i += len + 2;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = spec[i..].iter().take_while(|x| **x == c).count();
        i += run;
        let (h12, pm) = match t.hour() {
            0 => (12, false),
            h @ 1..=11 => (h, false),
            12 => (12, true),
            h => (h - 12, true),
        };
        let text = match (c, run) {
            ('Y', 4) => format!("{:04}", t.year()),
            ('Y', 2) => format!("{:02}", t.year().rem_euclid(100)),
            ('M', 4) => month_name(t.month()).to_string(),
            ('M', 3) => month_name(t.month())[..3].to_string(),
            ('M', 2) => format!("{:02}", u8::from(t.month())),
            ('M', 1) => u8::from(t.month()).to_string(),
            ('D', 2) => format!("{:02}", t.day()),
            ('D', 1) => t.day().to_string(),
            ('E', 4) => weekday_name(t.weekday()).to_string(),
            ('E', 3) => weekday_name(t.weekday())[..3].to_string(),
            ('h', 2) => format!("{:02}", t.hour()),
            ('h', 1) => t.hour().to_string(),
            ('H', 2) => format!("{h12:02}"),
            ('H', 1) => h12.to_string(),
            ('A', 2) => (if pm { "PM" } else { "AM" }).to_string(),
            ('a', 2) => (if pm { "pm" } else { "am" }).to_string(),
            ('m', 2) => format!("{:02}", t.minute()),
            ('m', 1) => t.minute().to_string(),
            ('s', 2) => format!("{:02}", t.second()),
            ('s', 1) => t.second().to_string(),
            ('Z', 5) => offset(t.offset(), true),
            ('Z', 4) => offset(t.offset(), false),
            ('Z', 3) if t.offset().is_utc() => "UTC".to_string(),
            ('Z', 3) => offset(t.offset(), false),
            ('Z', 1) if t.offset().is_utc() => "Z".to_string(),
            ('Z', 1) => offset(t.offset(), true),
            _ => {
                let token: String = std::iter::repeat_n(c, run).collect();
                return Err(arg_err(
                    0,
                    format!("invalid date format verb {token:?}; quote literal text like 'at'"),
                ));
            }
        };
        out.push_str(&text);
    }
    Ok(Value::String(out.into()))
}

/// `uuidv5(namespace, name)`: a name-based UUID; the namespace is `dns`,
/// `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(args: Vec<Value>) -> Result<Value, FnError> {
    let ns = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let namespace = match ns.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            arg_err(
                0,
                "the namespace must be \"dns\", \"url\", \"oid\", \"x500\" or a UUID",
            )
        })?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&namespace, name.as_bytes())
            .to_string()
            .into(),
    ))
}
