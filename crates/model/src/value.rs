//! The dynamic value of kiln: what HCL expressions evaluate to, what resource
//! attributes hold and what providers exchange.
//!
//! Two marks ride on values: [`Value::Unknown`] ("known after apply": it
//! depends on something not created yet) and [`Value::Sensitive`] (never
//! printed). Lists stand for HCL tuples, lists and sets; maps for objects and
//! maps — the schema's [`Type`](crate::Type) says which is meant.
//!
//! The JSON encoding (used by state, saved plans and the provider protocol) is
//! plain JSON for plain values; the marks are objects tagged with `"$kiln"`:
//! `{"$kiln":"unknown"}`, `{"$kiln":"sensitive","value":V}`, and a map that
//! itself has a `"$kiln"` key is escaped as `{"$kiln":"map","value":{...}}`.
//! A number is a JSON number when that reads back exactly (integers, and
//! numbers whose text is an `f64`'s shortest text); any other (`1/3` at
//! Terraform's 512 bits, `2^70 + 1`) is `{"$kiln":"number","value":"TEXT"}`
//! with its exact decimal text.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

use crate::str_map::Key;

pub use crate::number::Number;

/// The entries of an object or map value: a vector sorted by key
/// ([`StrMap`](crate::str_map::StrMap), where the reason is).
pub type FieldMap = crate::str_map::StrMap<Value>;

/// Which of HCL's sequence types a [`Value::List`] is (cty's tuple, list and
/// set). Only the language looks at it: `tolist([1]) == [1]` is false,
/// `for k, v in SET` binds the element to both, a set has no index. Rust's
/// `==` on values ignores it (state, plans and providers compare contents),
/// and JSON does not carry it: what is read back is a tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SeqKind {
    /// A literal `[...]`, a `for` expression, JSON: each element its own type.
    #[default]
    Tuple,
    /// `list(T)`: `tolist`, `split`, a variable declared `list(...)`.
    List,
    /// `set(T)`: `toset`, `setunion`; sorted, without duplicates.
    Set,
}

/// Which of HCL's mapping types a [`Value::Map`] is (cty's object and map);
/// as [`SeqKind`], only the language looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MapKind {
    /// A literal `{...}`, a `{for}` expression, JSON: attributes of their own
    /// types.
    #[default]
    Object,
    /// `map(T)`: `tomap`, a variable declared `map(...)`.
    Map,
}

/// The elements of a [`Value::List`] and the [`SeqKind`] they form. Derefs to
/// the slice; a `Vec` converts into a tuple. The elements are a boxed slice
/// (no spare capacity), so that with its kind a `Seq` is as small as a
/// `Vec` and a [`Value`] stays 32 bytes; to change the length, take the
/// `Vec` out ([`Seq::into_vec`]) and convert it back.
#[derive(Clone, Default)]
pub struct Seq {
    items: Box<[Value]>,
    kind: SeqKind,
}

impl Seq {
    pub fn new(items: Vec<Value>, kind: SeqKind) -> Seq {
        Seq {
            items: items.into_boxed_slice(),
            kind,
        }
    }

    pub fn kind(&self) -> SeqKind {
        self.kind
    }

    /// The same elements as another kind (no conversion of the elements).
    pub fn with_kind(mut self, kind: SeqKind) -> Seq {
        self.kind = kind;
        self
    }

    pub fn into_vec(self) -> Vec<Value> {
        self.items.into_vec()
    }

    /// Each element through `f`, the kind kept.
    pub fn map(self, f: impl FnMut(Value) -> Value) -> Seq {
        Seq {
            items: self.items.into_vec().into_iter().map(f).collect(),
            kind: self.kind,
        }
    }
}

impl std::ops::Deref for Seq {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.items
    }
}

impl std::ops::DerefMut for Seq {
    fn deref_mut(&mut self) -> &mut [Value] {
        &mut self.items
    }
}

impl PartialEq for Seq {
    /// Contents only: see [`SeqKind`].
    fn eq(&self, other: &Seq) -> bool {
        self.items == other.items
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != SeqKind::Tuple {
            write!(f, "{:?}", self.kind)?;
        }
        self.items.fmt(f)
    }
}

impl From<Vec<Value>> for Seq {
    fn from(items: Vec<Value>) -> Seq {
        Seq::new(items, SeqKind::Tuple)
    }
}

impl FromIterator<Value> for Seq {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Seq {
        Seq::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl IntoIterator for Seq {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_vec().into_iter()
    }
}

impl<'a> IntoIterator for &'a Seq {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a> IntoIterator for &'a mut Seq {
    type Item = &'a mut Value;
    type IntoIter = std::slice::IterMut<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

/// The entries of a [`Value::Map`] and the [`MapKind`] they form. Derefs to
/// the [`FieldMap`] (sorted by key); a `BTreeMap` or a `FieldMap` converts
/// into an object.
#[derive(Clone, Default)]
pub struct Fields {
    entries: FieldMap,
    kind: MapKind,
}

impl Fields {
    pub fn new(entries: impl Into<FieldMap>, kind: MapKind) -> Fields {
        Fields {
            entries: entries.into(),
            kind,
        }
    }

    pub fn kind(&self) -> MapKind {
        self.kind
    }

    /// The same entries as another kind (no conversion of the values).
    pub fn with_kind(mut self, kind: MapKind) -> Fields {
        self.kind = kind;
        self
    }

    pub fn into_map(self) -> FieldMap {
        self.entries
    }

    /// Each value through `f`, the kind kept.
    pub fn map_values(self, mut f: impl FnMut(Value) -> Value) -> Fields {
        Fields {
            entries: self.entries.into_iter().map(|(k, v)| (k, f(v))).collect(),
            kind: self.kind,
        }
    }
}

impl std::ops::Deref for Fields {
    type Target = FieldMap;
    fn deref(&self) -> &FieldMap {
        &self.entries
    }
}

impl std::ops::DerefMut for Fields {
    fn deref_mut(&mut self) -> &mut FieldMap {
        &mut self.entries
    }
}

impl PartialEq for Fields {
    /// Contents only: see [`MapKind`].
    fn eq(&self, other: &Fields) -> bool {
        self.entries == other.entries
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != MapKind::Object {
            write!(f, "{:?}", self.kind)?;
        }
        self.entries.fmt(f)
    }
}

impl From<BTreeMap<String, Value>> for Fields {
    fn from(entries: BTreeMap<String, Value>) -> Fields {
        Fields::from(FieldMap::from(entries))
    }
}

impl From<FieldMap> for Fields {
    fn from(entries: FieldMap) -> Fields {
        Fields {
            entries,
            kind: MapKind::Object,
        }
    }
}

impl<K: Into<Key>> FromIterator<(K, Value)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Fields {
        Fields::from(iter.into_iter().collect::<FieldMap>())
    }
}

impl IntoIterator for Fields {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a Key, &'a Value);
    type IntoIter = crate::str_map::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<'a> IntoIterator for &'a mut Fields {
    type Item = (&'a Key, &'a mut Value);
    type IntoIter = crate::str_map::IterMut<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter_mut()
    }
}

/// A dynamic value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    /// Inline up to 23 bytes; a longer one is shared on clone.
    String(SmolStr),
    /// A tuple, list or set (sets are kept sorted and deduplicated by the
    /// code that builds them); [`Seq::kind`] says which.
    List(Seq),
    /// An object or map, with keys in sorted order; [`Fields::kind`] says
    /// which.
    Map(Fields),
    /// Known only after apply.
    Unknown,
    /// A value that must never be printed.
    Sensitive(Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<SmolStr>) -> Value {
        Value::String(s.into())
    }

    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Marks the value sensitive (idempotent).
    pub fn sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            v => Value::Sensitive(Box::new(v)),
        }
    }

    /// The HCL type name of the value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "object",
            Value::Unknown => "unknown",
            Value::Sensitive(v) => v.type_name(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.unmarked(), Value::Null)
    }

    /// True if the value (deeply) contains no unknown.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Sensitive(v) => v.is_known(),
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }

    /// True if the value is wholly unknown (not merely containing one).
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmarked(), Value::Unknown)
    }

    /// True if the value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(m) => m.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// This value with every part marked sensitive that is sensitive at the
    /// same path in `marks` (map keys and list indexes matched; a sensitive
    /// `marks` marks the whole). What a provider returns carries no marks:
    /// the engine lays the planned value's marks over it, so a value that
    /// came from a `sensitive` variable stays hidden in the state and in
    /// every later plan. A renderer marks each side of a change with the
    /// other's marks, so the old value of a now-sensitive attribute is
    /// hidden too (Terraform shows both sides as sensitive).
    pub fn mark_like(self, marks: &Value) -> Value {
        match (self, marks) {
            (v @ Value::Sensitive(_), _) => v,
            (v, Value::Sensitive(_)) => v.sensitive(),
            (Value::Map(mut m), Value::Map(mk)) => {
                for (k, mark) in mk {
                    if mark.contains_sensitive()
                        && let Some(v) = m.remove(k)
                    {
                        m.insert(k.clone(), v.mark_like(mark));
                    }
                }
                Value::Map(m)
            }
            (Value::List(items), Value::List(mk)) => {
                let mut i = 0;
                Value::List(items.map(|v| {
                    i += 1;
                    match mk.get(i - 1) {
                        Some(mark) => v.mark_like(mark),
                        None => v,
                    }
                }))
            }
            (v, _) => v,
        }
    }

    /// The value under any sensitive mark at the top level.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(v) => v.unmarked(),
            v => v,
        }
    }

    /// A copy without any sensitive mark: `clone().into_unmarked()` in one
    /// pass (one allocation per list and map, as a clone).
    pub fn to_unmarked(&self) -> Value {
        match self {
            Value::Sensitive(v) => v.to_unmarked(),
            Value::List(items) => Value::List(Seq::new(
                items.iter().map(Value::to_unmarked).collect(),
                items.kind(),
            )),
            Value::Map(m) => {
                Value::Map(Fields::new(m.map_values_ref(Value::to_unmarked), m.kind()))
            }
            v => v.clone(),
        }
    }

    /// Removes every sensitive mark, deeply.
    pub fn into_unmarked(self) -> Value {
        match self {
            Value::Sensitive(v) => v.into_unmarked(),
            Value::List(items) => Value::List(items.map(Value::into_unmarked)),
            Value::Map(m) => Value::Map(m.map_values(Value::into_unmarked)),
            v => v,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.unmarked() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.unmarked() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<Number> {
        match self.unmarked() {
            Value::Number(n) => Some(n.clone()),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self.unmarked() {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&FieldMap> {
        match self.unmarked() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The attribute `name` of an object value; `None` if absent or not an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(name))
    }

    /// Converts to JSON for display or for a provider that wants plain data:
    /// unknown becomes null, sensitive values are kept (callers that print
    /// must use [`Value::redacted`] first).
    pub fn to_plain_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            // Plain data has no exact form for a number an f64 cannot
            // hold: the nearest f64.
            Value::Number(n) => match number_to_json(n) {
                serde_json::Value::Object(_) => serde_json::Number::from_f64(n.as_f64())
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                j => j,
            },
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_plain_json).collect())
            }
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_plain_json()))
                    .collect(),
            ),
            Value::Sensitive(v) => v.to_plain_json(),
        }
    }

    /// Plain JSON into a value, no marks.
    pub fn from_plain_json(j: serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(number_from_json(&n)),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(a) => {
                Value::List(a.into_iter().map(Value::from_plain_json).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_plain_json(v)))
                    .collect(),
            ),
        }
    }

    /// A copy safe to print: every sensitive value is replaced by a marked
    /// null, so renderers show "(sensitive)" and nothing else.
    pub fn redacted(&self) -> Value {
        match self {
            Value::Sensitive(_) => Value::Sensitive(Box::new(Value::Null)),
            Value::List(items) => Value::List(items.iter().map(Value::redacted).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.redacted())).collect()),
            v => v.clone(),
        }
    }

    fn to_tagged_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Unknown => json!({"$kiln": "unknown"}),
            Value::Sensitive(v) => json!({"$kiln": "sensitive", "value": v.to_tagged_json()}),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_tagged_json).collect())
            }
            Value::Map(m) => {
                let obj: serde_json::Map<String, serde_json::Value> = m
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_tagged_json()))
                    .collect();
                if m.contains_key("$kiln") {
                    json!({"$kiln": "map", "value": obj})
                } else {
                    serde_json::Value::Object(obj)
                }
            }
            Value::Number(n) => number_to_json(n),
            plain => plain.to_plain_json(),
        }
    }
}

/// How a number is written in JSON: a plain JSON number when that reads
/// back as the same number (every `i64`, and every number whose text is an
/// `f64`'s shortest text), else the tag `{"$kiln":"number","value":TEXT}`
/// with the exact decimal text (`1/3`, `2^70 + 1`, infinities).
enum JsonNumber {
    Int(i64),
    Float(f64),
    Text(String),
}

fn json_number(n: &Number) -> JsonNumber {
    if let Some(i) = n.as_i64() {
        return JsonNumber::Int(i);
    }
    let text = n.to_string();
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f.to_string() == text => JsonNumber::Float(f),
        _ => JsonNumber::Text(text),
    }
}

fn number_to_json(n: &Number) -> serde_json::Value {
    match json_number(n) {
        JsonNumber::Int(i) => serde_json::Value::from(i),
        JsonNumber::Float(f) => serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        JsonNumber::Text(t) => serde_json::json!({"$kiln": "number", "value": t}),
    }
}

/// A JSON number as cty reads one: its text parsed at 512 bits.
fn number_from_json(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        return Number::from_i64(i).with_precision(crate::number::PARSED_PRECISION);
    }
    if let Some(u) = n.as_u64() {
        return Number::from_u64(u).with_precision(crate::number::PARSED_PRECISION);
    }
    number_from_f64_text(n.as_f64().unwrap_or(0.0))
}

/// An `f64` read from JSON: the decimal it was written as (its shortest
/// text) parsed at 512 bits.
fn number_from_f64_text(f: f64) -> Number {
    Number::parse(&f.to_string()).unwrap_or_else(|| Number::from(f))
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => match json_number(n) {
                JsonNumber::Int(i) => s.serialize_i64(i),
                JsonNumber::Float(f) => s.serialize_f64(f),
                JsonNumber::Text(_) => number_to_json(n).serialize(s),
            },
            Value::String(v) => s.serialize_str(v),
            Value::List(items) => s.collect_seq(items),
            Value::Map(m) if !m.contains_key("$kiln") => s.collect_map(m),
            other => other.to_tagged_json().serialize(s),
        }
    }
}

/// Reads the tagged encoding straight from the input, without building a
/// `serde_json::Value` first (a 100,000-resource state is read twice as
/// fast and with half the allocations).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(
            Number::from_i64(i).with_precision(crate::number::PARSED_PRECISION),
        ))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(
            Number::from_u64(u).with_precision(crate::number::PARSED_PRECISION),
        ))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Number(number_from_f64_text(f)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::List(items.into()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        let Some(first) = map.next_key::<Key>()? else {
            return Ok(Value::Map(Fields::default()));
        };
        if first == "$kiln" {
            // kiln writes the tag first.
            let tag: String = map.next_value()?;
            let mut inner = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "value" && tag == "map" {
                    inner = Some(Value::Map((map.next_value_seed(LiteralMap)?).into()));
                } else if key == "value" {
                    inner = Some(map.next_value::<Value>()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            return tagged(&tag, inner).map_err(A::Error::custom);
        }
        let mut m = FieldMap::new();
        m.insert(first, map.next_value::<Value>()?);
        while let Some((k, v)) = map.next_entry::<Key, Value>()? {
            m.insert(k, v);
        }
        // A tag elsewhere than first (written by hand, or by another
        // program): the same meaning.
        match m.remove("$kiln") {
            Some(Value::String(tag)) => tagged(&tag, m.remove("value")).map_err(A::Error::custom),
            Some(other) => {
                m.insert("$kiln", other);
                Err(A::Error::custom(
                    "a \"$kiln\" tag must be a string (\"unknown\", \"sensitive\", \"number\" or \"map\")",
                ))
            }
            None => {
                m.shrink_to_fit();
                Ok(Value::Map(m.into()))
            }
        }
    }
}

/// The value a `"$kiln"` tag stands for, given its `"value"` entry.
fn tagged(tag: &str, inner: Option<Value>) -> Result<Value, String> {
    match tag {
        "unknown" => Ok(Value::Unknown),
        "sensitive" => Ok(Value::Sensitive(Box::new(inner.unwrap_or(Value::Null)))),
        "number" => match inner {
            Some(Value::String(text)) => match text.as_str() {
                "+Inf" => Some(Number::from(f64::INFINITY)),
                "-Inf" => Some(Number::from(f64::NEG_INFINITY)),
                t => Number::parse(t),
            }
            .map(Value::Number)
            .ok_or_else(|| {
                format!("a \"$kiln\":\"number\" value must be decimal text, not {text:?}")
            }),
            _ => Err("a \"$kiln\":\"number\" value must hold decimal text".into()),
        },
        "map" => match inner {
            Some(Value::Map(m)) => Ok(Value::Map(m)),
            _ => Err("a \"$kiln\":\"map\" value must hold an object".into()),
        },
        other => Err(format!("unknown value tag \"$kiln\": {other:?}")),
    }
}

/// The object inside `{"$kiln":"map","value":{...}}`: a map whose keys are
/// literal (it has a `"$kiln"` key of its own), whose values are tagged.
struct LiteralMap;

impl<'de> serde::de::DeserializeSeed<'de> for LiteralMap {
    type Value = FieldMap;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LiteralMap {
    type Value = FieldMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = FieldMap::new();
        while let Some((k, v)) = map.next_entry::<Key, Value>()? {
            m.insert(k, v);
        }
        m.shrink_to_fit();
        Ok(m)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<SmolStr> for Value {
    fn from(s: SmolStr) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(Number::from_i64(i))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Number(Number::from(f))
    }
}

impl fmt::Display for Value {
    /// HCL-like rendering for messages and plan output. Sensitive values print
    /// as `(sensitive)`, unknown as `(known after apply)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::to_string(s).unwrap_or_default()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, " {k} = {v}")?;
                }
                f.write_str(if m.is_empty() { "}" } else { " }" })
            }
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str("(sensitive)"),
        }
    }
}

#[cfg(test)]
mod size {
    /// A value is four words: the collection kinds ride in a niche.
    #[test]
    fn a_value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_laid_over_by_path() {
        let state = Value::map([
            ("id", Value::from("1")),
            (
                "triggers",
                Value::map([("pw", Value::from("s3cret")), ("n", Value::from("1"))]),
            ),
            (
                "list",
                Value::List(vec![Value::from("a"), Value::from("b")].into()),
            ),
        ]);
        let planned = Value::map([
            ("id", Value::Unknown),
            (
                "triggers",
                Value::map([
                    ("pw", Value::from("s3cret").sensitive()),
                    ("n", Value::from("1")),
                ]),
            ),
            (
                "list",
                Value::List(vec![Value::from("a"), Value::from("b").sensitive()].into()),
            ),
        ]);
        let marked = state.mark_like(&planned);
        assert_eq!(marked.get("id"), Some(&Value::from("1")));
        let triggers = marked.get("triggers").unwrap();
        assert_eq!(triggers.get("pw"), Some(&Value::from("s3cret").sensitive()));
        assert_eq!(triggers.get("n"), Some(&Value::from("1")));
        let list = marked.get("list").unwrap().as_list().unwrap();
        assert_eq!(list[1], Value::from("b").sensitive());
        assert_eq!(list[0], Value::from("a"));
        assert!(!marked.redacted().to_string().contains("s3cret"));
        // A wholly sensitive mark marks the whole.
        let whole = Value::map([("x", Value::from(1))]).mark_like(&Value::Null.sensitive());
        assert!(matches!(whole, Value::Sensitive(_)));
    }

    /// `to_unmarked` copies what `clone().into_unmarked()` makes, the
    /// collections' kinds included, and leaves the original marked.
    #[test]
    fn to_unmarked_is_an_unmarked_copy() {
        let v = Value::map([
            ("pw", Value::from("s3cret").sensitive()),
            (
                "set",
                Value::List(Seq::new(
                    vec![Value::from("a").sensitive(), Value::from(1i64)],
                    SeqKind::Set,
                )),
            ),
            (
                "m",
                Value::Map(Fields::new(
                    FieldMap::from_iter([("k", Value::map([("x", Value::Null)]).sensitive())]),
                    MapKind::Map,
                )),
            ),
        ])
        .sensitive();
        let copy = v.to_unmarked();
        assert_eq!(format!("{copy:?}"), format!("{:?}", v.to_unmarked()));
        assert!(!format!("{copy:?}").contains("Sensitive"), "{copy:?}");
        assert!(format!("{v:?}").contains("Sensitive"));
        assert_eq!(copy.get("pw"), Some(&Value::from("s3cret")));
    }

    #[test]
    fn tagged_json_round_trips_marks() {
        let v = Value::map([
            ("a", Value::Unknown),
            ("b", Value::from("x").sensitive()),
            ("n", Value::from(3i64)),
            ("f", Value::from(1.5)),
            ("esc", Value::map([("$kiln", Value::from(true))])),
        ]);
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(
            s,
            r#"{"a":{"$kiln":"unknown"},"b":{"$kiln":"sensitive","value":"x"},"esc":{"$kiln":"map","value":{"$kiln":true}},"f":1.5,"n":3}"#
        );
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn numbers_round_trip_exactly() {
        let third = Number::parse("1")
            .unwrap()
            .div(&Number::parse("3").unwrap())
            .unwrap();
        let v = Value::List(
            vec![
                Value::Number(Number::parse("0.1").unwrap()),
                Value::Number(Number::parse("18446744073709551617").unwrap()),
                Value::Number(third.clone()),
                Value::Number(Number::from(f64::INFINITY)),
            ]
            .into(),
        );
        let s = serde_json::to_string(&v).unwrap();
        assert!(s.starts_with(r#"[0.1,{"$kiln":"number","value":"18446744073709551617"},{"$kiln":"number","value":"0.3333"#), "{s}");
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.as_list().unwrap()[2].to_string(), third.to_string());
        // A number JSON wrote as plain (an older state) reads at 512 bits.
        let old: Value = serde_json::from_str("0.30000000000000004").unwrap();
        assert_eq!(old.to_string(), "0.30000000000000004");
    }

    #[test]
    fn display_hides_sensitive() {
        let v = Value::map([("pw", Value::from("hunter2").sensitive())]);
        assert_eq!(v.to_string(), "{ pw = (sensitive) }");
        assert!(!format!("{:?}", v.redacted()).contains("hunter2"));
    }

    /// The decoding through `serde_json::Value`: the reference the
    /// streaming visitor is checked against.
    fn from_tagged_json(j: serde_json::Value) -> Result<Value, String> {
        Ok(match j {
            serde_json::Value::Array(a) => Value::List(
                a.into_iter()
                    .map(from_tagged_json)
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(mut o) => match o.get("$kiln").and_then(|t| t.as_str()) {
                Some("unknown") => Value::Unknown,
                Some("sensitive") => {
                    let inner = o.remove("value").unwrap_or(serde_json::Value::Null);
                    Value::Sensitive(Box::new(from_tagged_json(inner)?))
                }
                Some("map") => match o.remove("value") {
                    Some(serde_json::Value::Object(inner)) => Value::Map(
                        inner
                            .into_iter()
                            .map(|(k, v)| Ok((k, from_tagged_json(v)?)))
                            .collect::<Result<_, String>>()?,
                    ),
                    _ => return Err("a \"$kiln\":\"map\" value must hold an object".into()),
                },
                Some(other) => return Err(format!("unknown value tag \"$kiln\": {other:?}")),
                None => Value::Map(
                    o.into_iter()
                        .map(|(k, v)| Ok((k, from_tagged_json(v)?)))
                        .collect::<Result<_, String>>()?,
                ),
            },
            plain => Value::from_plain_json(plain),
        })
    }

    #[test]
    fn the_streaming_decoder_agrees_with_the_reference() {
        for doc in [
            r#"null"#,
            r#"[1, -2, 3.5, 18446744073709551615, "s", true, null, [], {}]"#,
            r#"{"a":{"$kiln":"unknown"},"b":{"$kiln":"sensitive","value":{"c":[{"$kiln":"unknown"}]}}}"#,
            r#"{"esc":{"$kiln":"map","value":{"$kiln":{"$kiln":"sensitive","value":1},"x":2}}}"#,
            r#"{"value":"v","$kiln":"sensitive"}"#,
            r#"{"other":1,"$kiln":"unknown"}"#,
            r#"{"$kiln":"sensitive"}"#,
            r#"{"$kiln":"unknown","extra":[1,2]}"#,
            r#"{"$kiln":"bogus"}"#,
            r#"{"$kiln":"map","value":[1]}"#,
            r#"{"z":1,"$kiln":"map","value":{"k":{"$kiln":"unknown"}}}"#,
        ] {
            let streamed = serde_json::from_str::<Value>(doc).map_err(|e| e.to_string());
            let reference = from_tagged_json(serde_json::from_str(doc).unwrap());
            match (&streamed, &reference) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{doc}: streamed {streamed:?}, reference {reference:?}"),
            }
        }
        // The tag must be a string.
        assert!(serde_json::from_str::<Value>(r#"{"a":1,"$kiln":3}"#).is_err());
    }
}
