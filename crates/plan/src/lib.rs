//! The immutable planner.
//!
//! `plan(&Config, &State, &Schemas, &PlanOptions) -> Result<Plan, Diagnostics>`
//! is a pure, synchronous, deterministic function (same inputs, same plan,
//! byte for byte): references become a dependency graph (petgraph), cycles are
//! errors naming every address in them, each instance is diffed against the
//! state under DESIGN.md's rules, and the result is an action graph whose
//! every action says why. No provider is called while planning.
//!
//! [`ApplyEvaluator`] is the other half: during apply, once an action's
//! dependencies are done, it re-evaluates the action's configuration with the
//! real values they produced, so every unknown of the plan becomes known.

use std::collections::BTreeMap;

use kiln_model::{ChangeBehaviour, InstanceAddr, SmolStr, Value};
use serde::{Deserialize, Serialize};

mod apply_eval;
mod ephemeral;
mod expand;
mod files;
mod graph;
mod mode;
pub mod moves;
mod names;
mod planner;
mod rollback;
mod rules;
mod scope;
mod steps;
mod values;
mod vars;

pub use apply_eval::ApplyEvaluator;
pub use files::{FileAnswer, FileReads, SharedFiles};
/// The parsed configuration a plan is made from, for crates that hand one
/// to the planner or its evaluator without reading configuration
/// themselves (the engine).
pub use kiln_config::Config;
pub use planner::{Analyzed, analyze, data_reads, plan, plan_analyzed};
pub use rollback::rollback;

/// The version of the serialized plan (saved plan files and `--json`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What the user asked for besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The environment name (`kiln.env`).
    pub env: String,
    /// Variable values given by the user (`--var`, `--var-file`, environment),
    /// before type conversion.
    pub variables: BTreeMap<String, Value>,
    /// `--replace ADDR`: force replacement (a key-less address covers every instance).
    pub replace: Vec<InstanceAddr>,
    /// `--rebuild`: replace every stateless resource (traffic switches are
    /// kept and updated in place to point at the new generation).
    pub rebuild: bool,
    /// `--keep-previous`: the objects this plan replaces are kept as the
    /// previous generation, for `kiln rollback`, instead of destroyed.
    pub keep_previous: bool,
    /// `--allow-replace ADDR`: a stateful resource may be replaced.
    pub allow_replace: Vec<InstanceAddr>,
    /// `--allow-destroy ADDR`: a stateful resource may be deleted.
    pub allow_destroy: Vec<InstanceAddr>,
    /// `kiln destroy`: plan the deletion of everything in state.
    pub destroy: bool,
    /// Instances whose refreshed state differs from what was recorded
    /// (drift): stateless ones are replaced, with this as the reason.
    pub drifted: BTreeMap<InstanceAddr, String>,
    /// The configuration directory, absolute: `path.cwd`, and where a saved
    /// plan applies (`path.root` and `path.module` are relative).
    pub root_dir: String,
    /// What the file functions (`file`, `templatefile`, ...) read; their
    /// answers are recorded in [`PlanSource::file_reads`].
    pub files: SharedFiles,
    /// The data sources read before planning (see [`data_reads`]), by
    /// instance: what `data.TYPE.NAME` evaluates to. Recorded in
    /// [`PlanSource::data`].
    pub data: BTreeMap<InstanceAddr, Value>,
    /// Data sources missing from `data` are unknown rather than an error
    /// (`kiln validate`, which calls no provider).
    pub data_unknown: bool,
    /// `--target ADDR`: plan only these and what they depend on (for a
    /// destroy: and what depends on them); everything else is left as it is.
    pub target: Vec<moves::Selector>,
    /// `--exclude ADDR`: leave these, and what depends on them (for a
    /// destroy: what they depend on), out of the plan.
    pub exclude: Vec<moves::Selector>,
    /// Threads that plan resource blocks which do not refer to each other
    /// (0: one per core). Any number gives the same plan.
    pub threads: usize,
}

/// A data source instance whose configuration is fully known, to be read
/// through its provider before planning.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRead {
    pub addr: InstanceAddr,
    pub type_name: String,
    pub provider: String,
    /// The evaluated configuration (the provider's `ReadDataRequest.config`).
    pub config: Value,
}

/// A plan: the actions, the order they may run in, and what is needed to
/// apply it exactly later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub env: String,
    /// The state the plan was made against; applying refuses a different one.
    pub prior_lineage: String,
    pub prior_serial: u64,
    /// The generation that resources created by this plan belong to.
    pub generation: u64,
    /// One per resource instance in config or state, sorted by address
    /// (no-ops included, so renderers can count them).
    pub actions: Vec<Action>,
    /// The action graph: what the engine runs.
    pub steps: Vec<Step>,
    /// Planned output values (unknown where they depend on what apply makes).
    pub outputs: BTreeMap<String, PlannedOutput>,
    /// Outputs the state records that the configuration no longer declares
    /// (all of them, for a destroy), with their last value (marked
    /// sensitive if it was): applying removes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub removed_outputs: BTreeMap<String, Value>,
    /// The configuration and variable values the plan was made from, so a
    /// saved plan re-evaluates identically at apply time.
    pub source: PlanSource,
    /// Warnings found while planning.
    #[serde(default)]
    pub warnings: kiln_diag::Diagnostics,
    /// How the plan changes the environment's generations, besides creating
    /// the next one: keep the replaced objects, or swap back to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generations: Option<GenerationChange>,
    /// A plan of `kiln destroy` (or `kiln plan --destroy`), so that what it
    /// says after a failure names the command to run again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destroy: bool,
    /// The ephemeral variables the plan was made with: their names only —
    /// their values are never saved, and are given again to apply a saved
    /// plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ephemeral_variables: Vec<String>,
    /// Their values, for an apply in the same process (or given again for a
    /// saved plan). Never serialized.
    #[serde(skip)]
    pub ephemeral: BTreeMap<String, Value>,
    /// `moved` blocks resolved against the state: instances renamed before
    /// any step (the actions already name them by their new address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<kiln_state::StateMove>,
    /// `removed` blocks with `lifecycle { destroy = false }`: instances
    /// that leave the state, their objects left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<InstanceAddr>,
    /// Made with `--target` / `--exclude`: only part of the configuration
    /// was planned; applying keeps the outputs as they are.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// `import` blocks: objects adopted by id (read through their
    /// providers before planning); the actions already see them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imported: Vec<kiln_state::journal::ResourceRecord>,
}

impl Plan {
    /// Every variable value the plan's configuration is evaluated with: the
    /// recorded ones and the ephemeral ones.
    pub fn variables(&self) -> BTreeMap<String, Value> {
        let mut all = self.source.variables.clone();
        all.extend(self.ephemeral.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// True if applying would change anything (resources, outputs, or which
    /// generation is current).
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| a.kind != ActionKind::NoOp)
            || !self.moves.is_empty()
            || !self.forgotten.is_empty()
            || !self.imported.is_empty()
            || self.outputs.values().any(|o| o.changed)
            || !self.removed_outputs.is_empty()
            || matches!(self.generations, Some(GenerationChange::Swap { .. }))
    }

    /// How many actions of each kind.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }
}

/// A plan's actions counted by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    /// Counts `plan`'s actions by kind.
    pub fn of(plan: &Plan) -> Summary {
        let mut s = Summary::default();
        for a in &plan.actions {
            match a.kind {
                ActionKind::Create => s.create += 1,
                ActionKind::Update => s.update += 1,
                ActionKind::Replace => s.replace += 1,
                ActionKind::Delete => s.delete += 1,
                ActionKind::NoOp => s.no_op += 1,
            }
        }
        s
    }

    /// "2 created, 1 replaced" (for history and the apply summary).
    pub fn past_tense(&self) -> String {
        let parts: Vec<String> = [
            (self.create, "created"),
            (self.replace, "replaced"),
            (self.update, "updated"),
            (self.delete, "destroyed"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        if parts.is_empty() {
            "no changes".into()
        } else {
            parts.join(", ")
        }
    }
}

/// What a successful apply of the plan does to the generations in state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum GenerationChange {
    /// `--keep-previous`: the objects the plan replaces (`(address, id)`)
    /// become the previous generation, with the traffic switches' run-time
    /// settings from before the cut-over (which point at them).
    Keep {
        previous: u64,
        kept: Vec<(InstanceAddr, String)>,
        switches: Vec<(InstanceAddr, Value)>,
    },
    /// `kiln rollback`: the switches move back to the previous generation
    /// `to`, which then becomes current; the current generation becomes the
    /// previous one, reachable again through `switches` (its settings now).
    Swap {
        to: u64,
        switches: Vec<(InstanceAddr, Value)>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSource {
    /// `(file name, text)` of every configuration file.
    pub files: Vec<(String, String)>,
    /// The user's variable values (before conversion).
    pub variables: BTreeMap<String, Value>,
    pub root_dir: String,
    /// What the file functions read while planning, replayed at apply.
    #[serde(default, skip_serializing_if = "FileReads::is_empty")]
    pub file_reads: FileReads,
    /// The data sources' values the plan was made with, reused at apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<InstanceAddr, Value>,
    /// Data source instances read during apply instead (their
    /// configuration uses values known only after apply, as Terraform
    /// defers them), with the provider that reads each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deferred_data: BTreeMap<InstanceAddr, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedOutput {
    pub value: Value,
    pub sensitive: bool,
    /// Differs from the output recorded in state.
    pub changed: bool,
    /// When `changed`: the value the state records (marked sensitive if it
    /// was), or `None` for an output the state does not have yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    NoOp,
    Create,
    /// In place: only run-time attributes (or, for stateful resources,
    /// `update` attributes) changed.
    Update,
    /// Create the new object, move references onto it, then delete the old.
    Replace,
    Delete,
}

/// One resource instance's planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub addr: InstanceAddr,
    pub kind: ActionKind,
    #[serde(rename = "type")]
    pub type_name: SmolStr,
    pub provider: SmolStr,
    pub stateful: bool,
    /// The attributes in state (None for a create).
    pub before: Option<Value>,
    /// The planned attributes, unknown where known only after apply (None for
    /// a delete). Sensitive attributes carry the sensitive mark.
    pub after: Option<Value>,
    pub reasons: Vec<Reason>,
    /// Addresses this instance refers to (its dependencies in config).
    pub dependencies: Vec<InstanceAddr>,
    /// For a create or replace: the generation of the new object.
    pub generation: u64,
    /// The resource type has a health check: steps that depend on the new
    /// object wait for it to pass.
    pub health_check: bool,
    /// For a replace with `--keep-previous`: the old object is kept for
    /// rollback instead of destroyed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
    /// For an update of a traffic switch with a `cutover` block: the steps
    /// the engine moves traffic by (docs/cutover.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: most actions have none, and a plan holds every action.
    pub cutover: Option<Box<kiln_model::Cutover>>,
}

/// Why an action is planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// In config, not in state.
    NotInState,
    /// In state, not in config (or `kiln destroy`).
    NotInConfig,
    Destroy,
    /// An attribute changed.
    Attribute {
        path: String,
        before: Value,
        after: Value,
        behaviour: ChangeBehaviour,
    },
    /// An attribute becomes unknown because it refers to something created
    /// or replaced: "references aws_launch_template.web, which is replaced".
    Cascade {
        path: String,
        source: InstanceAddr,
        source_kind: ActionKind,
    },
    /// `--replace ADDR`.
    Forced,
    /// `lifecycle.replace_triggered_by` names an instance that is replaced
    /// (or changed).
    Triggered {
        source: InstanceAddr,
        source_kind: ActionKind,
    },
    /// `--rebuild`.
    Rebuild,
    /// Refresh found the object changed or gone outside kiln.
    Drift {
        detail: String,
    },
    /// A superseded object (deposed) left by an earlier apply.
    Deposed {
        id: String,
    },
    /// An object of the previous generation, kept for rollback by an earlier
    /// `--keep-previous`, which this plan no longer keeps.
    Previous {
        id: String,
        generation: u64,
    },
    /// `kiln rollback`: a traffic switch moves back to generation `generation`.
    Rollback {
        generation: u64,
    },
    /// The physical name as written is held by a live object (`holder`),
    /// so the new object takes a derived one (see
    /// [`kiln_model::PhysicalName`]).
    PhysicalName {
        attribute: String,
        written: String,
        physical: String,
        holder: InstanceAddr,
    },
}

impl Action {
    /// The id of the superseded object this action deletes (a deposed one,
    /// or one of the previous generation); `None` for the current object.
    pub fn superseded_id(&self) -> Option<&str> {
        self.reasons.iter().find_map(|r| match r {
            Reason::Deposed { id } | Reason::Previous { id, .. } => Some(id.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOp {
    /// Create the new object of a create or replace action.
    Create,
    /// Update in place.
    Update,
    /// Delete the current object (a delete action).
    Delete,
    /// Delete the superseded object of a replace action, or a deposed one.
    DeleteDeposed,
}

/// A node of the action graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    /// Index into [`Plan::actions`].
    pub action: usize,
    pub op: StepOp,
    /// For deletes: the id of the object to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Steps that must finish first (indexes into [`Plan::steps`]). A create
    /// step of a health-checked type finishes only once the new object is
    /// healthy, so whatever moves traffic onto it waits for that.
    pub depends_on: Vec<usize>,
}
