//! The state: what kiln believes exists, per environment.
//!
//! [`State`] is the in-memory model. [`format`] is its versioned JSON file
//! format (the serde derives live there, not on the model), and [`journal`]
//! the append-only record of an apply in progress, from which the state is
//! compacted at the end of an apply or recovered after a crash.
//!
//! The crate knows nothing about where state is stored or about async.

use std::collections::BTreeMap;

use kiln_model::{InstanceAddr, SmolStr, Value};

pub mod format;
pub mod journal;

pub use format::{FORMAT_VERSION, FormatError};
pub use journal::{JournalRecord, Outcome, Standing, StepOp};

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
    /// Superseded objects still to be destroyed (a replacement's old object
    /// until its delete, or what a failed create left).
    pub deposed: Objects,
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

/// One instance renamed in the state by a `moved` block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateMove {
    pub from: InstanceAddr,
    pub to: InstanceAddr,
}

impl State {
    /// Applies `moved` and `removed` blocks: each moved instance takes its
    /// new address (and so do references to it in other instances'
    /// dependencies); each forgotten one leaves the state, its object left
    /// as it is. Idempotent: a move whose `from` is gone is nothing to do.
    pub fn refactor(&mut self, moves: &[StateMove], forgotten: &[InstanceAddr]) {
        for addr in forgotten {
            self.resources.remove(addr);
        }
        let mut taken = Vec::new();
        for m in moves {
            if let Some(mut r) = self.resources.remove(&m.from) {
                r.addr = m.to.clone();
                taken.push(r);
            }
        }
        for r in taken {
            self.resources.insert(r.addr.clone(), r);
        }
        if !moves.is_empty() {
            let renamed: BTreeMap<&InstanceAddr, &InstanceAddr> =
                moves.iter().map(|m| (&m.from, &m.to)).collect();
            for r in self.resources.values_mut() {
                for d in &mut r.dependencies {
                    if let Some(to) = renamed.get(d) {
                        *d = (*to).clone();
                    }
                }
            }
        }
    }

    /// A new, empty state.
    pub fn new(env: impl Into<String>, lineage: impl Into<String>) -> State {
        State {
            lineage: lineage.into(),
            serial: 0,
            env: env.into(),
            generation: 0,
            resources: BTreeMap::new(),
            deposed: Objects::new(),
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
            if let Some(r) = self.deposed.remove(addr, id) {
                previous.resources.push(r);
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
        let mut demoted = Objects::new();
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
    pub resources: Objects,
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
    pub type_name: SmolStr,
    pub provider: SmolStr,
    /// The provider's id.
    pub id: SmolStr,
    /// Every attribute, as the provider last reported it.
    pub attributes: Value,
    /// Instances this one referred to when created or last updated; deletes
    /// run in reverse of these.
    pub dependencies: Vec<InstanceAddr>,
    pub generation: u64,
    pub stateful: bool,
    /// The idempotency key it was created with.
    pub idempotency_key: SmolStr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    pub value: Value,
    pub sensitive: bool,
}

/// Objects that are not current, keyed by address (a handful per address
/// at most): the deposed ones, or a previous generation's. Finding and
/// removing one is O(log n), so deleting the old generation of a rebuild of
/// 100,000 resources stays linear. Iterates by address, then in the order
/// objects were added.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Objects(BTreeMap<InstanceAddr, Vec<ResourceState>>);

impl Objects {
    pub fn new() -> Objects {
        Objects::default()
    }

    pub fn push(&mut self, r: ResourceState) {
        self.0.entry(r.addr.clone()).or_default().push(r);
    }

    /// The object with this address and id.
    pub fn get(&self, addr: &InstanceAddr, id: &str) -> Option<&ResourceState> {
        self.0.get(addr)?.iter().find(|r| r.id == id)
    }

    pub fn get_mut(&mut self, addr: &InstanceAddr, id: &str) -> Option<&mut ResourceState> {
        self.0.get_mut(addr)?.iter_mut().find(|r| r.id == id)
    }

    pub fn contains(&self, addr: &InstanceAddr, id: &str) -> bool {
        self.get(addr, id).is_some()
    }

    /// Takes out the object with this address and id.
    pub fn remove(&mut self, addr: &InstanceAddr, id: &str) -> Option<ResourceState> {
        let list = self.0.get_mut(addr)?;
        let i = list.iter().position(|r| r.id == id)?;
        let r = list.remove(i);
        if list.is_empty() {
            self.0.remove(addr);
        }
        Some(r)
    }

    /// The objects at one address.
    pub fn at(&self, addr: &InstanceAddr) -> &[ResourceState] {
        self.0.get(addr).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ResourceState> {
        self.0.values().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ResourceState> {
        self.0.values_mut().flatten()
    }

    /// Keeps the objects `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&ResourceState) -> bool) {
        self.0.retain(|_, list| {
            list.retain(&mut keep);
            !list.is_empty()
        });
    }
}

impl Extend<ResourceState> for Objects {
    fn extend<I: IntoIterator<Item = ResourceState>>(&mut self, iter: I) {
        for r in iter {
            self.push(r);
        }
    }
}

impl FromIterator<ResourceState> for Objects {
    fn from_iter<I: IntoIterator<Item = ResourceState>>(iter: I) -> Objects {
        let mut o = Objects::new();
        o.extend(iter);
        o
    }
}

impl IntoIterator for Objects {
    type Item = ResourceState;
    type IntoIter = std::iter::Flatten<
        std::collections::btree_map::IntoValues<InstanceAddr, Vec<ResourceState>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_values().flatten()
    }
}

impl<'a> IntoIterator for &'a Objects {
    type Item = &'a ResourceState;
    type IntoIter = std::iter::Flatten<
        std::collections::btree_map::Values<'a, InstanceAddr, Vec<ResourceState>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.values().flatten()
    }
}
