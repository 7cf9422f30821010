//! The state file format, version 1: JSON, one document per environment.
//!
//! ```json
//! { "format_version": 1, "lineage": "…", "serial": 3, "env": "default",
//!   "generation": 2, "created_at": 0, "updated_at": 0, "expires_at": null,
//!   "resources": [ { "addr": "null_resource.a", "type": "null_resource",
//!                    "provider": "null", "id": "…", "attributes": {…},
//!                    "dependencies": [], "generation": 1 } ],
//!   "deposed": [], "outputs": { "name": { "value": …, "sensitive": false } } }
//! ```
//!
//! Readers refuse a newer `format_version` with a message saying to upgrade.

use std::collections::BTreeMap;

use kiln_model::Value;
use serde::{Deserialize, Serialize};

use crate::journal::ResourceRecord;
use crate::{OutputState, State};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("state is not valid JSON or not a kiln state: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error(
        "state has format version {found}, this kiln reads up to {FORMAT_VERSION}; upgrade kiln"
    )]
    TooNew { found: u32 },
    #[error("state lists {0} twice; the file was edited by hand or is corrupt")]
    Duplicate(String),
}

#[derive(Serialize, Deserialize)]
struct StateFile {
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
    resources: Vec<ResourceRecord>,
    #[serde(default)]
    deposed: Vec<ResourceRecord>,
    #[serde(default)]
    outputs: BTreeMap<String, OutputFile>,
}

#[derive(Serialize, Deserialize)]
struct OutputFile {
    value: Value,
    #[serde(default)]
    sensitive: bool,
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: u32,
}

/// Serializes a state (pretty-printed, stable order).
pub fn to_json(state: &State) -> Vec<u8> {
    let file = StateFile {
        format_version: FORMAT_VERSION,
        lineage: state.lineage.clone(),
        serial: state.serial,
        env: state.env.clone(),
        generation: state.generation,
        created_at: state.created_at,
        updated_at: state.updated_at,
        expires_at: state.expires_at,
        resources: state.resources.values().map(ResourceRecord::from).collect(),
        deposed: state.deposed.iter().map(ResourceRecord::from).collect(),
        outputs: state
            .outputs
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
            .collect(),
    };
    let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Parses a state file.
pub fn from_json(bytes: &[u8]) -> Result<State, FormatError> {
    let probe: VersionProbe = serde_json::from_slice(bytes)?;
    if probe.format_version > FORMAT_VERSION {
        return Err(FormatError::TooNew {
            found: probe.format_version,
        });
    }
    let file: StateFile = serde_json::from_slice(bytes)?;
    let mut resources = BTreeMap::new();
    for r in file.resources {
        let addr = r.addr.clone();
        if resources.insert(addr.clone(), r.into()).is_some() {
            return Err(FormatError::Duplicate(addr.to_string()));
        }
    }
    Ok(State {
        lineage: file.lineage,
        serial: file.serial,
        env: file.env,
        generation: file.generation,
        resources,
        deposed: file.deposed.into_iter().map(Into::into).collect(),
        outputs: file
            .outputs
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
            .collect(),
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

    #[test]
    fn round_trips() {
        let mut s = State::new("default", "lin-1");
        let addr: InstanceAddr = "null_resource.a[\"x\"]".parse().unwrap();
        s.resources.insert(
            addr.clone(),
            ResourceState {
                addr,
                type_name: "null_resource".into(),
                provider: "null".into(),
                id: "123".into(),
                attributes: Value::map([("id", Value::from("123"))]),
                dependencies: vec![],
                generation: 1,
                stateful: false,
                idempotency_key: "k".into(),
            },
        );
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
    fn refuses_newer_and_corrupt() {
        assert!(matches!(
            from_json(b"{\"format_version\": 99}"),
            Err(FormatError::TooNew { found: 99 })
        ));
        assert!(matches!(from_json(b"{ nope"), Err(FormatError::Corrupt(_))));
    }
}
