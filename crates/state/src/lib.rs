//! The state: what kiln believes exists, per environment.
//!
//! [`State`] is the in-memory model. [`format`] is its versioned JSON file
//! format (the serde derives live there, not on the model), and [`journal`]
//! the append-only record of an apply in progress, from which the state is
//! compacted at the end of an apply or recovered after a crash.
//!
//! The crate knows nothing about where state is stored or about async.

use std::collections::BTreeMap;

use kiln_model::{InstanceAddr, Value};

pub mod format;
pub mod journal;

pub use format::{FORMAT_VERSION, FormatError};
pub use journal::{JournalRecord, Outcome, StepOp};

/// The state of one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Identifies this state's history; a state from another lineage is never
    /// silently written over.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    pub env: String,
    /// The newest generation any resource was created in.
    pub generation: u64,
    /// Current resource instances, by address.
    pub resources: BTreeMap<InstanceAddr, ResourceState>,
    /// Superseded objects still to be destroyed (a replacement whose old
    /// object outlived a failed or interrupted apply).
    pub deposed: Vec<ResourceState>,
    /// The previous generation, kept for rollback by `apply --keep-previous`.
    pub previous: Option<Previous>,
    /// The configuration the current generation was applied from, so that
    /// `kiln rollback --to N` can recreate generation N from history.
    pub source: Option<AppliedSource>,
    pub outputs: BTreeMap<String, OutputState>,
    /// When the environment expires (seconds since the Unix epoch).
    pub expires_at: Option<u64>,
    /// When the environment was first created and last applied (Unix seconds).
    pub created_at: u64,
    pub updated_at: u64,
}

impl State {
    /// A new, empty state.
    pub fn new(env: impl Into<String>, lineage: impl Into<String>) -> State {
        State {
            lineage: lineage.into(),
            serial: 0,
            env: env.into(),
            generation: 0,
            resources: BTreeMap::new(),
            deposed: Vec::new(),
            previous: None,
            source: None,
            outputs: BTreeMap::new(),
            expires_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
            && self.deposed.is_empty()
            && self
                .previous
                .as_ref()
                .is_none_or(|p| p.resources.is_empty())
    }

    /// The generation the current objects belong to: the newest generation
    /// among them (0 for an empty state). After a rollback this is older than
    /// [`State::generation`], which only ever grows.
    pub fn current_generation(&self) -> u64 {
        self.source
            .as_ref()
            .map(|s| s.generation)
            .or_else(|| self.resources.values().map(|r| r.generation).max())
            .unwrap_or(0)
    }

    /// Keeps the objects that a successful apply superseded (now deposed) as
    /// the previous generation `previous` (given without resources: they are
    /// the deposed objects `kept` lists as `(address, id)`). A previous
    /// generation kept earlier that is still here is deposed, so the next
    /// apply deletes it.
    pub fn keep_previous(&mut self, mut previous: Previous, kept: &[(InstanceAddr, String)]) {
        if let Some(old) = self.previous.take() {
            self.deposed.extend(old.resources);
        }
        for (addr, id) in kept {
            if let Some(i) = self
                .deposed
                .iter()
                .position(|d| &d.addr == addr && &d.id == id)
            {
                previous.resources.push(self.deposed.remove(i));
            }
        }
        if !previous.resources.is_empty() {
            self.previous = Some(previous);
        }
    }

    /// After a rollback moved the switches back: the previous generation
    /// becomes current and the current one becomes previous, so a second
    /// rollback returns. `switches` are the settings the switches had before
    /// the rollback (they point at the generation that is now previous).
    pub fn swap_previous(&mut self, switches: BTreeMap<InstanceAddr, Value>) {
        let Some(prev) = self.previous.take() else {
            return;
        };
        let current_generation = self.current_generation();
        let mut demoted = Vec::with_capacity(prev.resources.len());
        for r in prev.resources {
            if let Some(cur) = self.resources.insert(r.addr.clone(), r) {
                demoted.push(cur);
            }
        }
        let source = std::mem::replace(&mut self.source, prev.source);
        let outputs = std::mem::replace(&mut self.outputs, prev.outputs);
        if demoted.is_empty() {
            return;
        }
        self.previous = Some(Previous {
            generation: current_generation,
            resources: demoted,
            switches,
            source,
            outputs,
        });
    }
}

/// A generation kept for rollback: the objects a newer generation replaced,
/// still running, and how to point traffic back at them.
#[derive(Debug, Clone, PartialEq)]
pub struct Previous {
    pub generation: u64,
    pub resources: Vec<ResourceState>,
    /// Per traffic switch: its run-time attributes as they were when they
    /// pointed at this generation.
    pub switches: BTreeMap<InstanceAddr, Value>,
    /// The configuration this generation was applied from.
    pub source: Option<AppliedSource>,
    /// The output values while this generation was current.
    pub outputs: BTreeMap<String, OutputState>,
}

/// The configuration one generation was applied from: every file's text and
/// the user's variable values.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedSource {
    pub generation: u64,
    /// `(file name, text)` of every configuration file.
    pub files: Vec<(String, String)>,
    pub variables: BTreeMap<String, Value>,
}

/// One real object kiln manages.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceState {
    pub addr: InstanceAddr,
    pub type_name: String,
    pub provider: String,
    /// The provider's id.
    pub id: String,
    /// Every attribute, as the provider last reported it.
    pub attributes: Value,
    /// Instances this one referred to when created or last updated; deletes
    /// run in reverse of these.
    pub dependencies: Vec<InstanceAddr>,
    pub generation: u64,
    pub stateful: bool,
    /// The idempotency key it was created with.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    pub value: Value,
    pub sensitive: bool,
}
