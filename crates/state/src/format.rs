//! The state file format, version 2: JSON, one document per environment.
//!
//! ```json
//! { "format_version": 1, "lineage": "…", "serial": 3, "env": "default",
//!   "generation": 2, "created_at": 0, "updated_at": 0, "expires_at": null,
//!   "resources": [ { "addr": "null_resource.a", "type": "null_resource",
//!                    "provider": "null", "id": "…", "attributes": {…},
//!                    "dependencies": [], "generation": 1 } ],
//!   "deposed": [], "outputs": { "name": { "value": …, "sensitive": false } },
//!   "previous": { "generation": 1, "resources": [ … ],
//!                 "switches": { "local_balancer.front": { "backends": … } },
//!                 "source": { … } },
//!   "source": { "generation": 2, "files": [["main.hcl", "…"]],
//!               "variables": { "version": "v2" } } }
//! ```
//!
//! Version 2 added `previous` (the generation kept for rollback by
//! `apply --keep-previous`) and `source` (the configuration and variables the
//! current generation was applied from, read back by `rollback --to`); both
//! are optional, so a version 1 file reads as a state with neither. Files are
//! always written as version 2.
//!
//! Readers refuse a newer `format_version` with a message saying to upgrade.

use std::collections::BTreeMap;

use kiln_model::Value;
use serde::{Deserialize, Serialize};

use crate::journal::ResourceRecord;
use crate::{AppliedSource, OutputState, Previous, State};

pub const FORMAT_VERSION: u32 = 2;

impl From<serde_json::Error> for FormatError {
    fn from(e: serde_json::Error) -> FormatError {
        FormatError::Corrupt(e)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not a `source`: the message says it already, and an error chain
    /// printed with its causes would repeat it.
    #[error("state is not valid JSON or not a kiln state: {0}")]
    Corrupt(serde_json::Error),
    #[error(
        "state has format version {found}, this kiln reads up to {FORMAT_VERSION}; upgrade kiln"
    )]
    TooNew { found: u32 },
    #[error(
        "this is a Terraform state (format version {version}, written by Terraform {terraform_version}), not a kiln state; kiln does not read Terraform's states yet — give kiln a state of its own (another key, prefix or workspace_key_prefix) and leave this one to Terraform"
    )]
    Terraform {
        version: u64,
        terraform_version: String,
    },
    #[error("state lists {0} twice; the file was edited by hand or is corrupt")]
    Duplicate(String),
    #[error(
        "state names a traffic switch {0:?}, which is not a resource address; the file was edited by hand or is corrupt"
    )]
    BadAddress(String),
}

/// The file; `R` is [`ResourceRecord`] when reading and [`RecordRef`] (a
/// borrowed view, so writing copies nothing) when writing; `C`, the
/// resources, is a list of `R` when writing and read straight into the
/// state's map ([`ResourcesIn`]).
#[derive(Serialize, Deserialize)]
struct StateFile<R, C = Vec<R>, S = SourceFile> {
    format_version: u32,
    lineage: String,
    serial: u64,
    env: String,
    generation: u64,
    #[serde(default)]
    created_at: u64,
    #[serde(default)]
    updated_at: u64,
    #[serde(default)]
    expires_at: Option<u64>,
    resources: C,
    #[serde(default = "Vec::new")]
    deposed: Vec<R>,
    #[serde(default)]
    outputs: BTreeMap<String, OutputFile>,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    previous: Option<PreviousFile<R, S>>,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    source: Option<S>,
}

/// A state's `resources` read into its map as each record is read: no list
/// of every record beside the map (at 100,000 resources, tens of megabytes,
/// copied each time the list grew). The first address found twice is kept
/// for [`FormatError::Duplicate`].
#[derive(Default)]
struct ResourcesIn {
    map: BTreeMap<kiln_model::InstanceAddr, crate::ResourceState>,
    duplicate: Option<kiln_model::InstanceAddr>,
}

impl<'de> Deserialize<'de> for ResourcesIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ResourcesIn, D::Error> {
        struct Records;
        impl<'de> serde::de::Visitor<'de> for Records {
            type Value = ResourcesIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of resource records")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ResourcesIn, A::Error> {
                use std::collections::btree_map::Entry;
                // kiln writes records in address order: while they come in
                // order they are collected and the map is built from them
                // at once (linear), not inserted one by one (a search of
                // the tree each).
                let mut sorted: Vec<(kiln_model::InstanceAddr, crate::ResourceState)> =
                    Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                let mut out = ResourcesIn::default();
                while let Some(r) = seq.next_element::<ResourceRecord>()? {
                    if out.map.is_empty() && sorted.last().is_none_or(|(last, _)| *last < r.addr) {
                        sorted.push((r.addr.clone(), r.into()));
                        continue;
                    }
                    // Out of order (a state edited by hand) or a duplicate:
                    // one by one from here.
                    if out.map.is_empty() {
                        out.map = std::mem::take(&mut sorted).into_iter().collect();
                    }
                    match out.map.entry(r.addr.clone()) {
                        Entry::Vacant(v) => {
                            v.insert(r.into());
                        }
                        Entry::Occupied(o) => {
                            out.duplicate.get_or_insert_with(|| o.key().clone());
                        }
                    }
                }
                if out.map.is_empty() {
                    out.map = sorted.into_iter().collect();
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Records)
    }
}

#[derive(Serialize, Deserialize)]
struct PreviousFile<R, S = SourceFile> {
    generation: u64,
    resources: Vec<R>,
    #[serde(default)]
    switches: BTreeMap<String, Value>,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    source: Option<S>,
    #[serde(default)]
    outputs: BTreeMap<String, OutputFile>,
}

/// A [`ResourceState`](crate::ResourceState) as [`ResourceRecord`]
/// serializes it, borrowed (a test checks the two encode the same).
#[derive(Serialize)]
struct RecordRef<'a> {
    addr: &'a kiln_model::InstanceAddr,
    #[serde(rename = "type")]
    type_name: &'a str,
    provider: &'a str,
    id: &'a str,
    attributes: &'a Value,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dependencies: &'a [kiln_model::InstanceAddr],
    generation: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stateful: bool,
    idempotency_key: &'a str,
}

impl<'a> From<&'a crate::ResourceState> for RecordRef<'a> {
    fn from(r: &'a crate::ResourceState) -> RecordRef<'a> {
        RecordRef {
            addr: &r.addr,
            type_name: &r.type_name,
            provider: &r.provider,
            id: &r.id,
            attributes: &r.attributes,
            dependencies: &r.dependencies,
            generation: r.generation,
            stateful: r.stateful,
            idempotency_key: &r.idempotency_key,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SourceFile {
    generation: u64,
    files: Vec<(String, String)>,
    #[serde(default)]
    variables: BTreeMap<String, Value>,
}

impl From<&AppliedSource> for SourceFile {
    fn from(s: &AppliedSource) -> SourceFile {
        SourceFile {
            generation: s.generation,
            files: s.files.clone(),
            variables: s.variables.clone(),
        }
    }
}

impl From<SourceFile> for AppliedSource {
    fn from(s: SourceFile) -> AppliedSource {
        AppliedSource {
            generation: s.generation,
            files: s.files,
            variables: s.variables,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct OutputFile {
    value: Value,
    #[serde(default)]
    sensitive: bool,
}

/// The fields that say a file is a Terraform state
/// (<https://developer.hashicorp.com/terraform/internals/json-format>: the
/// state file's `version` and `terraform_version`).
#[derive(Deserialize)]
struct TerraformProbe {
    version: u64,
    terraform_version: String,
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: u32,
}

fn outputs_file(outputs: &BTreeMap<String, OutputState>) -> BTreeMap<String, OutputFile> {
    outputs
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                OutputFile {
                    value: o.value.clone(),
                    sensitive: o.sensitive,
                },
            )
        })
        .collect()
}

fn outputs_state(outputs: BTreeMap<String, OutputFile>) -> BTreeMap<String, OutputState> {
    outputs
        .into_iter()
        .map(|(k, o)| {
            (
                k,
                OutputState {
                    value: o.value,
                    sensitive: o.sensitive,
                },
            )
        })
        .collect()
}

/// Serializes a state (pretty-printed, stable order).
pub fn to_json(state: &State) -> Vec<u8> {
    to_json_at(state, state.serial)
}

/// [`to_json`] with `serial` in place of the state's own (a store writes
/// the serial after the one it replaces without copying the state).
pub fn to_json_at(state: &State, serial: u64) -> Vec<u8> {
    let file = StateFile {
        format_version: FORMAT_VERSION,
        lineage: state.lineage.clone(),
        serial,
        env: state.env.clone(),
        generation: state.generation,
        created_at: state.created_at,
        updated_at: state.updated_at,
        expires_at: state.expires_at,
        resources: state
            .resources
            .values()
            .map(RecordRef::from)
            .collect::<Vec<_>>(),
        deposed: state.deposed.iter().map(RecordRef::from).collect(),
        outputs: outputs_file(&state.outputs),
        previous: state.previous.as_ref().map(|p| PreviousFile {
            generation: p.generation,
            resources: p.resources.iter().map(RecordRef::from).collect(),
            switches: p
                .switches
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            source: p.source.as_ref().map(SourceFile::from),
            outputs: outputs_file(&p.outputs),
        }),
        source: state.source.as_ref().map(SourceFile::from),
    };
    // About what a record takes (docs/performance.md: ~450 bytes), so the
    // buffer seldom grows (each growth copies it).
    let size = 1024 + 512 * (state.resources.len() + state.deposed.len());
    let mut out = Vec::with_capacity(size);
    let mut ser = serde_json::Serializer::pretty(&mut out);
    // Serializing plain data into memory cannot fail.
    let _ = serde::Serialize::serialize(&file, &mut ser);
    out.push(b'\n');
    out
}

/// Parses a state file.
pub fn from_json(bytes: &[u8]) -> Result<State, FormatError> {
    read::<SourceFile>(bytes)
}

/// [`from_json`] without the applied configurations the state keeps for
/// `kiln rollback --to` and `kiln show` ([`State::source`] and the previous
/// generation's, `None` here): they are checked as JSON and skipped, not
/// read. For a state read to plan against, which never uses them (at
/// 100,000 resources the configuration's text is 7 MB of escaped JSON).
/// A state read this way must not be written back: it would lose them.
pub fn from_json_without_sources(bytes: &[u8]) -> Result<State, FormatError> {
    read::<serde::de::IgnoredAny>(bytes)
}

/// A state file's `source` as read: the applied configuration, or nothing
/// (skipped).
trait Sourced {
    fn applied(self) -> Option<AppliedSource>;
}

impl Sourced for SourceFile {
    fn applied(self) -> Option<AppliedSource> {
        Some(self.into())
    }
}

impl Sourced for serde::de::IgnoredAny {
    fn applied(self) -> Option<AppliedSource> {
        None
    }
}

fn read<S: Sourced + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<State, FormatError> {
    // One pass over the document; only a file that does not read is probed
    // for a newer version (whose fields may differ), for the better message.
    let file: StateFile<ResourceRecord, ResourcesIn, S> = match serde_json::from_slice(bytes) {
        Ok(file) => file,
        Err(e) => {
            return Err(match serde_json::from_slice::<VersionProbe>(bytes) {
                Ok(p) if p.format_version > FORMAT_VERSION => FormatError::TooNew {
                    found: p.format_version,
                },
                _ => match serde_json::from_slice::<TerraformProbe>(bytes) {
                    Ok(t) => FormatError::Terraform {
                        version: t.version,
                        terraform_version: t.terraform_version,
                    },
                    Err(_) => e.into(),
                },
            });
        }
    };
    if file.format_version > FORMAT_VERSION {
        return Err(FormatError::TooNew {
            found: file.format_version,
        });
    }
    if let Some(addr) = &file.resources.duplicate {
        return Err(FormatError::Duplicate(addr.to_string()));
    }
    let resources = file.resources.map;
    let previous = match file.previous {
        Some(p) => {
            let mut switches = BTreeMap::new();
            for (k, v) in p.switches {
                let addr = k.parse().map_err(|_| FormatError::BadAddress(k.clone()))?;
                switches.insert(addr, v);
            }
            Some(Previous {
                generation: p.generation,
                resources: p.resources.into_iter().map(Into::into).collect(),
                switches,
                source: p.source.and_then(Sourced::applied),
                outputs: outputs_state(p.outputs),
            })
        }
        None => None,
    };
    Ok(State {
        lineage: file.lineage,
        serial: file.serial,
        env: file.env,
        generation: file.generation,
        resources,
        deposed: file.deposed.into_iter().map(Into::into).collect(),
        previous,
        source: file.source.and_then(Sourced::applied),
        outputs: outputs_state(file.outputs),
        expires_at: file.expires_at,
        created_at: file.created_at,
        updated_at: file.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceState;
    use kiln_model::InstanceAddr;

    /// A null resource's record with id `id`.
    fn record(addr: InstanceAddr, id: &str) -> ResourceState {
        ResourceState {
            addr,
            type_name: "null_resource".into(),
            provider: "null".into(),
            id: id.into(),
            attributes: Value::map([("id", Value::from(id))]),
            dependencies: vec![],
            generation: 1,
            stateful: false,
            idempotency_key: "k".into(),
        }
    }

    #[test]
    fn round_trips() {
        let mut s = State::new("default", "lin-1");
        let addr: InstanceAddr = "null_resource.a[\"x\"]".parse().unwrap();
        s.resources.insert(addr.clone(), record(addr, "123"));
        s.outputs.insert(
            "o".into(),
            OutputState {
                value: Value::from("v").sensitive(),
                sensitive: true,
            },
        );
        let bytes = to_json(&s);
        assert_eq!(from_json(&bytes).unwrap(), s);
    }

    #[test]
    fn the_borrowed_record_encodes_as_the_record() {
        let mut with_all = object("null_resource.a[0]", "i-1", 3);
        with_all.dependencies = vec!["null_resource.b".parse().unwrap()];
        with_all.stateful = true;
        for r in [object("null_resource.a", "1", 1), with_all] {
            assert_eq!(
                serde_json::to_value(RecordRef::from(&r)).unwrap(),
                serde_json::to_value(ResourceRecord::from(&r)).unwrap()
            );
        }
    }

    #[test]
    fn a_newer_format_that_does_not_read_says_to_upgrade() {
        let doc = br#"{"format_version": 99, "resources": "a new shape"}"#;
        let e = from_json(doc).unwrap_err();
        assert!(matches!(e, FormatError::TooNew { found: 99 }), "{e}");
        let doc = br#"{"format_version": 2, "resources": "a new shape"}"#;
        assert!(matches!(
            from_json(doc).unwrap_err(),
            FormatError::Corrupt(_)
        ));
    }

    fn object(addr: &str, id: &str, generation: u64) -> ResourceState {
        ResourceState {
            addr: addr.parse().unwrap(),
            type_name: "null_resource".into(),
            provider: "null".into(),
            id: id.into(),
            attributes: Value::map([("id", Value::from(id))]),
            dependencies: vec![],
            generation,
            stateful: false,
            idempotency_key: "k".into(),
        }
    }

    #[test]
    fn round_trips_the_previous_generation_and_source() {
        let mut s = State::new("default", "lin-1");
        s.generation = 2;
        s.resources.insert(
            "null_resource.a".parse().unwrap(),
            object("null_resource.a", "a2", 2),
        );
        let source = |generation| AppliedSource {
            generation,
            files: vec![(
                "main.hcl".into(),
                "resource \"null_resource\" \"a\" {}\n".into(),
            )],
            variables: BTreeMap::from([("v".to_string(), Value::from("x"))]),
        };
        s.source = Some(source(2));
        s.previous = Some(Previous {
            generation: 1,
            resources: [object("null_resource.a", "a1", 1)].into_iter().collect(),
            switches: BTreeMap::from([(
                "null_resource.lb".parse().unwrap(),
                Value::map([("labels", Value::from("one"))]),
            )]),
            source: Some(source(1)),
            outputs: BTreeMap::from([(
                "o".to_string(),
                OutputState {
                    value: Value::from("v1"),
                    sensitive: false,
                },
            )]),
        });
        let bytes = to_json(&s);
        assert!(String::from_utf8_lossy(&bytes).contains("\"format_version\": 2"));
        assert_eq!(from_json(&bytes).unwrap(), s);
        // Read to plan against: everything but the applied configurations.
        let mut without = s.clone();
        without.source = None;
        if let Some(p) = without.previous.as_mut() {
            p.source = None;
        }
        assert_eq!(from_json_without_sources(&bytes).unwrap(), without);
        // They are skipped, not unchecked: a source that is not JSON is
        // still a corrupt state.
        let text = String::from_utf8(bytes).unwrap();
        let at = text.rfind("\"generation\": 2").unwrap();
        let broken = format!("{}\"generation\": 2,,{}", &text[..at], &text[at + 15..]);
        assert!(from_json(broken.as_bytes()).is_err());
        assert!(from_json_without_sources(broken.as_bytes()).is_err());
    }

    #[test]
    fn reads_version_1_without_the_new_sections() {
        let v1 = br#"{"format_version": 1, "lineage": "l", "serial": 1, "env": "default",
            "generation": 1, "resources": [], "deposed": [], "outputs": {}}"#;
        let s = from_json(v1).unwrap();
        assert_eq!(s.previous, None);
        assert_eq!(s.source, None);
    }

    #[test]
    fn keep_then_swap_and_swap_back() {
        let a: InstanceAddr = "null_resource.a".parse().unwrap();
        let lb: InstanceAddr = "null_resource.lb".parse().unwrap();
        let mut s = State::new("default", "lin-1");
        s.generation = 2;
        s.resources
            .insert(a.clone(), object("null_resource.a", "a2", 2));
        s.deposed.push(object("null_resource.a", "a1", 1));
        let one = BTreeMap::from([(lb.clone(), Value::from("to-1"))]);
        let keep = Previous {
            generation: 1,
            resources: Default::default(),
            switches: one.clone(),
            source: None,
            outputs: BTreeMap::new(),
        };
        s.keep_previous(keep, &[(a.clone(), "a1".into())]);
        assert!(s.deposed.is_empty());
        assert_eq!(s.previous.as_ref().unwrap().generation, 1);
        assert_eq!(
            s.previous
                .as_ref()
                .unwrap()
                .resources
                .iter()
                .next()
                .unwrap()
                .id,
            "a1"
        );

        let two = BTreeMap::from([(lb.clone(), Value::from("to-2"))]);
        s.swap_previous(two.clone());
        assert_eq!(s.resources[&a].id, "a1");
        let prev = s.previous.clone().unwrap();
        assert_eq!(
            (
                prev.generation,
                prev.resources.iter().next().unwrap().id.as_str()
            ),
            (2, "a2")
        );
        assert_eq!(prev.switches, two);
        assert_eq!(s.generation, 2, "the generation counter never goes back");

        s.swap_previous(one.clone());
        assert_eq!(s.resources[&a].id, "a2");
        assert_eq!(s.previous.unwrap().switches, one);
    }

    #[test]
    fn refuses_newer_and_corrupt() {
        assert!(matches!(
            from_json(b"{\"format_version\": 99}"),
            Err(FormatError::TooNew { found: 99 })
        ));
        assert!(matches!(from_json(b"{ nope"), Err(FormatError::Corrupt(_))));
    }

    /// A record listed twice is refused, named; `to_json_at` writes the
    /// serial it is given and nothing else differs.
    #[test]
    fn refuses_a_resource_listed_twice_and_writes_a_given_serial() {
        let mut s = State::new("default", "lin-1");
        let addr: InstanceAddr = "null_resource.b".parse().unwrap();
        s.resources.insert(addr.clone(), record(addr, "1"));
        let mut at = from_json(&to_json_at(&s, 7)).unwrap();
        assert_eq!(at.serial, 7);
        at.serial = s.serial;
        assert_eq!(at, s);
        let text = String::from_utf8(to_json(&s)).unwrap();
        let start = text.find("    {").unwrap();
        let end = text.find("\n    }").unwrap() + "\n    }".len();
        let record = &text[start..end];
        let twice = text.replacen(record, &format!("{record},\n{record}"), 1);
        match from_json(twice.as_bytes()) {
            Err(FormatError::Duplicate(a)) => assert_eq!(a, "null_resource.b"),
            other => panic!("{other:?}"),
        }
    }

    /// Records out of address order (a state edited by hand) read as the
    /// same state, and a duplicate after them is still found.
    #[test]
    fn reads_records_in_any_order() {
        let mut s = State::new("default", "lin-1");
        for (name, id) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
            let addr: InstanceAddr = format!("null_resource.{name}").parse().unwrap();
            s.resources.insert(addr.clone(), record(addr, id));
        }
        let text = String::from_utf8(to_json(&s)).unwrap();
        let records: Vec<&str> = text
            .match_indices("    {\n      \"addr\"")
            .map(|(start, _)| {
                let end = start + text[start..].find("\n    }").unwrap() + "\n    }".len();
                &text[start..end]
            })
            .collect();
        assert_eq!(records.len(), 4, "{text}");
        let list = |order: &[usize]| {
            let picked: Vec<&str> = order.iter().map(|&i| records[i]).collect();
            let first = text.find(records[0]).unwrap();
            let last = text.find(records[3]).unwrap() + records[3].len();
            format!("{}{}{}", &text[..first], picked.join(",\n"), &text[last..])
        };
        for order in [
            [0, 1, 2, 3],
            [3, 2, 1, 0],
            [0, 2, 1, 3],
            [1, 0, 2, 3],
            [0, 1, 3, 2],
        ] {
            let read = from_json(list(&order).as_bytes()).unwrap();
            assert_eq!(read, s, "records in order {order:?}");
        }
        for order in [[0, 1, 1, 3], [2, 0, 1, 0]] {
            match from_json(list(&order).as_bytes()) {
                Err(FormatError::Duplicate(_)) => {}
                other => panic!("records {order:?}: {other:?}"),
            }
        }
    }
}
