//! Reading attributes out of a [`Value`] and building states.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_model::Value;

/// A known, non-null string attribute.
pub fn string(v: &Value, name: &str) -> Option<String> {
    v.get(name)
        .and_then(|x| x.unmarked().as_str())
        .map(str::to_string)
}

pub fn number(v: &Value, name: &str) -> Option<i64> {
    match v.get(name).map(Value::unmarked) {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
}

pub fn boolean(v: &Value, name: &str) -> Option<bool> {
    match v.get(name).map(Value::unmarked) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// A list of strings (empty when unset).
pub fn strings(v: &Value, name: &str) -> Vec<String> {
    match v.get(name).map(Value::unmarked) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|x| x.unmarked().as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A list of objects (empty when unset).
pub fn objects<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
    match v.get(name).map(Value::unmarked) {
        Some(Value::List(items)) => items.iter().filter(|x| !x.is_null()).collect(),
        Some(obj @ Value::Map(_)) => vec![obj],
        _ => Vec::new(),
    }
}

/// A map of strings (empty when unset).
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    match v.unmarked() {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, x)| {
                x.unmarked()
                    .as_str()
                    .map(|s| (k.to_string(), s.to_string()))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The `tags` attribute.
pub fn tags(v: &Value) -> BTreeMap<String, String> {
    v.get("tags").map(string_map).unwrap_or_default()
}

pub fn s(x: impl Into<kiln_model::SmolStr>) -> Value {
    Value::String(x.into())
}

pub fn opt_s(x: Option<&str>) -> Value {
    x.map_or(Value::Null, Value::string)
}

pub fn n(x: i64) -> Value {
    Value::number(x)
}

pub fn list(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(items.into_iter().map(Value::from).collect())
}

/// A new object's state: its configuration with the computed values laid
/// over it (configured values are kept exactly as given, so the next plan
/// compares like with like).
pub fn state(config: &Value, computed: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let mut m = config.unmarked().as_map().cloned().unwrap_or_default();
    for (k, v) in computed {
        m.insert(k.to_string(), v);
    }
    Value::Map(m.into())
}

/// A read's answer: the prior state with fresh computed values laid over it.
pub fn refreshed(prior: &Value, fresh: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    state(prior, fresh)
}

/// An update's answer: the prior state with the planned values.
pub fn merge_planned(prior: &Value, planned: &Value) -> Value {
    let mut m = prior.unmarked().as_map().cloned().unwrap_or_default();
    if let Some(p) = planned.unmarked().as_map() {
        for (k, v) in p {
            if v.is_known() {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Map(m.into())
}

/// Whether `s` is an IPv4 CIDR block (`10.0.0.0/16`).
pub fn is_ipv4_cidr(s: &str) -> bool {
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    let len_ok = len.parse::<u8>().is_ok_and(|l| l <= 32) && !len.starts_with('+');
    len_ok && ip.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Standard base64 (user data is sent base64-encoded, like Terraform does).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Parses `wait_for_capacity_timeout`: "10m", "90s", "1h", "0".
pub fn parse_timeout(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(is_ipv4_cidr("10.0.0.0/16"));
        assert!(is_ipv4_cidr("0.0.0.0/0"));
        assert!(!is_ipv4_cidr("10.0.0.0/33"));
        assert!(!is_ipv4_cidr("10.0.0/16"));
        assert!(!is_ipv4_cidr("10.0.0.300/16"));
        assert!(!is_ipv4_cidr("10.0.0.0"));
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hello world"), "aGVsbG8gd29ybGQ=");
    }
}
