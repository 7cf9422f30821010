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
            outputs: BTreeMap::new(),
            expires_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.deposed.is_empty()
    }
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
