//! The planner: evaluates the configuration in dependency order and diffs
//! every instance against the state under DESIGN.md's rules.
//!
//! Linear in resources plus references: instances are indexed once, a
//! resource's value is assembled only when something refers to it, and a
//! reference to one instance of a counted resource clones that instance only.

use std::collections::{BTreeMap, HashMap};

use kiln_config::{
    Config, FileSystem, Lifecycle, Loc, NameKind, Resource, Scope, Subject, eval, eval_body,
};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{
    ChangeBehaviour, InstanceAddr, InstanceKey, Presence, ResourceAddr, ResourceMode,
    ResourceSchema, Schemas, SmolStr, Value,
};
use kiln_state::{ResourceState, State};

use crate::files::Recorder;
use crate::graph::{self, Analysis, Node, attribute_references, body_ref, shape};
use crate::mode::{Mode, Unknowns};
use crate::names::did_you_mean;
use crate::rules::{DriftWarning, Facts, decide, forces_replacement};
use crate::scope::{
    cannot_expand, count_of, for_each_keys, list_for_each, project, resource_value,
};
use crate::values::{Change, diff, mark_sensitive, same};
use crate::{
    Action, ActionKind, GenerationChange, PLAN_FORMAT_VERSION, Plan, PlanOptions, PlanSource,
    PlannedOutput, Reason, expand, steps, vars,
};

/// The dependency analysis of a configuration without module calls: it
/// depends on nothing but the configuration, so a caller can make it while
/// the state is still being read ([`analyze`]) and hand it to
/// [`plan_analyzed`]. Holds what is wrong with the configuration's
/// references, reported where planning would report it.
#[derive(Debug)]
pub struct Analyzed(Result<Analysis, Diagnostics>);

/// The analysis [`plan_analyzed`] would make of `config`, made ahead; `None`
/// for a configuration with module calls (whose analysis depends on the
/// variables' values, through `count` and `for_each` of the calls).
pub fn analyze(config: &Config) -> Option<Analyzed> {
    config
        .modules
        .is_empty()
        .then(|| Analyzed(graph::analyze(config, expand::Meta::default())))
}

/// Plans `config` against `state`.
pub fn plan(
    config: &Config,
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    plan_analyzed(config, None, state, schemas, options)
}

/// [`plan`], with `config`'s analysis when [`analyze`] made it ahead
/// (`analyzed` must be of this `config`).
pub fn plan_analyzed(
    config: &Config,
    analyzed: Option<&Analyzed>,
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut warnings = Diagnostics::new();
    let mut actions = Vec::new();
    let mut outputs = BTreeMap::new();
    let mut deferred_data = BTreeMap::new();
    let no_files = kiln_config::NoFileSystem;
    let files = Recorder::new(match &options.files.0 {
        Some(fs) => fs.as_ref(),
        None => &no_files,
    });
    // `moved` / `removed` blocks: the plan is made against the state as
    // they leave it (a copy only when there are any).
    let mut refactoring = crate::moves::Refactoring::default();
    let refactored: State;
    let mut state = state;
    if options.destroy {
        plan_destroy(config, state, schemas, options, &mut actions, &mut diags);
    } else {
        let vars = vars::variable_values(config, &options.variables, &mut diags);
        crate::ephemeral::check(config, schemas, &mut diags);
        if diags.has_errors() {
            return Err(diags);
        }
        let (flat, meta) = expand::expand(config, &vars, &options.root_dir, unknowns(options))?;
        if !config.moved.is_empty() || !config.removed.is_empty() || has_refactoring(config) {
            refactoring = crate::moves::resolve(config, state, &meta.instances_by_call())?;
            if !refactoring.is_empty() {
                let mut s = state.clone();
                s.refactor(&refactoring.moves, &refactoring.forgotten);
                refactored = s;
                state = &refactored;
            }
        }
        let mut all_checks = Vec::new();
        collect_checks(config, &mut Vec::new(), &mut all_checks);
        // Made ahead only for a configuration without modules (which is its
        // own flat configuration).
        let ahead = analyzed.filter(|_| config.modules.is_empty());
        let config: &Config = &flat;
        let made;
        let analysis = match ahead {
            Some(Analyzed(a)) => a.as_ref().map_err(Clone::clone)?,
            None => {
                made = graph::analyze(config, meta)?;
                &made
            }
        };
        let mut p = Planner {
            config,
            state,
            schemas,
            options,
            an: analysis,
            files: &files,
            vars,
            locals: vec![None; config.locals.len()],
            actions: Vec::with_capacity(config.resources.len().max(state.resources.len())),
            instances: vec![None; config.resources.len()],
            data: Vec::new(),
            deferred: BTreeMap::new(),
            removed_destroy: &refactoring.destroyed,
            reads: None,
            failed: vec![false; analysis.graph.node_count()],
            outputs: BTreeMap::new(),
            diags,
            warnings,
            generation: state.generation + 1,
            names: Default::default(),
            matched: 0,
        };
        p.run();
        p.deletes();
        p.unmatched_flags();
        p.duplicate_exclusive();
        p.checks(&all_checks);
        actions = p.actions;
        outputs = p.outputs;
        deferred_data = p.deferred;
        diags = p.diags;
        warnings = p.warnings;
    }
    for rs in &state.deposed {
        actions.push(delete_action(
            rs,
            schemas,
            rs.stateful,
            Reason::Deposed {
                id: rs.id.to_string(),
            },
        ));
    }
    let generations = if options.destroy {
        None
    } else {
        keep_previous(state, schemas, options, &mut actions)
    };
    // The previous generation is destroyed unless this plan keeps it: a plan
    // that keeps a new previous generation replaces it, and one without
    // `--keep-previous` lets it go.
    let keeps_existing = options.keep_previous && !options.destroy && generations.is_none();
    if let Some(prev) = state.previous.as_ref().filter(|_| !keeps_existing) {
        for rs in &prev.resources {
            actions.push(delete_action(
                rs,
                schemas,
                rs.stateful,
                Reason::Previous {
                    id: rs.id.to_string(),
                    generation: prev.generation,
                },
            ));
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let partial = !options.target.is_empty() || !options.exclude.is_empty();
    if partial {
        select(&mut actions, options);
        // Outputs stay as the state records them.
        outputs.retain(|_, o| !o.changed || o.prior.is_some());
        for o in outputs.values_mut() {
            if let Some(prior) = o.prior.take() {
                o.value = prior;
                o.changed = false;
            }
        }
        warnings.push(
            kiln_diag::Diagnostic::warning("this plan is partial: only what --target selects (and what it depends on), without what --exclude leaves out")
                .with_detail("the rest of the configuration is neither planned nor changed, and the outputs are kept as they are; run a plan without them to see everything"),
        );
    }
    actions.sort_by(|a, b| (&a.addr, a.kind, deposed_id(a)).cmp(&(&b.addr, b.kind, deposed_id(b))));
    let creates = actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::Create | ActionKind::Replace));
    let generation = if creates {
        state.generation + 1
    } else {
        state.generation
    };
    let steps = steps::build(&actions, state)?;
    let removed_outputs = state
        .outputs
        .iter()
        .filter(|(name, _)| !partial && !outputs.contains_key(*name))
        .map(|(name, o)| (name.clone(), recorded_output(o)))
        .collect();
    let ephemeral_names: std::collections::BTreeSet<&String> = config
        .variables
        .iter()
        .filter(|v| v.ephemeral)
        .map(|v| &v.name)
        .collect();
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        env: options.env.clone(),
        prior_lineage: state.lineage.clone(),
        prior_serial: state.serial,
        generation,
        actions,
        steps,
        outputs,
        removed_outputs,
        source: PlanSource {
            files: expand::all_files(config),
            // Recorded marked where declared sensitive, so a saved plan and
            // the state's record of the applied source never show them;
            // ephemeral ones are not recorded at all.
            variables: options
                .variables
                .iter()
                .filter(|(name, _)| !ephemeral_names.contains(name))
                .map(|(name, v)| {
                    let sensitive = config
                        .variables
                        .iter()
                        .any(|d| &d.name == name && d.sensitive);
                    let v = v.clone();
                    (name.clone(), if sensitive { v.sensitive() } else { v })
                })
                .collect(),
            root_dir: options.root_dir.clone(),
            file_reads: files.into_reads(),
            data: options.data.clone(),
            deferred_data,
        },
        warnings,
        generations,
        destroy: options.destroy,
        ephemeral: options
            .variables
            .iter()
            .filter(|(name, _)| ephemeral_names.contains(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ephemeral_variables: ephemeral_names.into_iter().cloned().collect(),
        moves: refactoring.moves,
        forgotten: refactoring.forgotten,
        partial,
        imported: Vec::new(),
    })
}

/// `--target` / `--exclude`: keeps the actions of the selected instances
/// and of what they depend on (Terraform's rule; for a destroy, what
/// depends on them), less the excluded ones and what depends on those; any
/// other change is left out — a create dropped, an update, replacement or
/// delete turned into no change.
fn select(actions: &mut Vec<Action>, options: &PlanOptions) {
    use std::collections::HashMap;
    let n = actions.len();
    let mut by_addr: HashMap<&InstanceAddr, Vec<usize>> = HashMap::new();
    for (i, a) in actions.iter().enumerate() {
        by_addr.entry(&a.addr).or_default().push(i);
    }
    // dependents[i]: the actions whose dependencies include action i's address.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (j, a) in actions.iter().enumerate() {
        for d in &a.dependencies {
            for &i in by_addr.get(d).map(Vec::as_slice).unwrap_or(&[]) {
                dependents[i].push(j);
            }
        }
    }
    let dependencies = |i: usize| -> Vec<usize> {
        actions[i]
            .dependencies
            .iter()
            .flat_map(|d| by_addr.get(d).cloned().unwrap_or_default())
            .collect()
    };
    // Everything reachable from the seeds, following `up` (dependencies)
    // or dependents.
    let closure = |seeds: Vec<usize>, up: bool| {
        let mut seen = vec![false; n];
        let mut stack = seeds;
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let next = if up {
                dependencies(i)
            } else {
                dependents[i].clone()
            };
            stack.extend(next.into_iter().filter(|j| !seen[*j]));
        }
        seen
    };
    let matching = |sel: &[crate::moves::Selector]| -> Vec<usize> {
        (0..n)
            .filter(|i| sel.iter().any(|s| s.matches(&actions[*i].addr)))
            .collect()
    };
    let destroy = options.destroy;
    let mut keep = if options.target.is_empty() {
        vec![true; n]
    } else {
        closure(matching(&options.target), !destroy)
    };
    if !options.exclude.is_empty() {
        let out = closure(matching(&options.exclude), destroy);
        for (k, o) in keep.iter_mut().zip(out) {
            *k &= !o;
        }
    }
    let all = std::mem::take(actions);
    for (i, a) in all.into_iter().enumerate() {
        if keep[i] || a.kind == ActionKind::NoOp {
            actions.push(a);
            continue;
        }
        match (a.kind, &a.before) {
            // Nothing exists yet, or a superseded object: left out.
            (ActionKind::Create, _) | (_, None) => {}
            _ if a.superseded_id().is_some() => {}
            (_, Some(before)) => actions.push(Action {
                kind: ActionKind::NoOp,
                after: Some(before.clone()),
                reasons: Vec::new(),
                kept: false,
                cutover: None,
                ..a
            }),
        }
    }
}

/// Every `check` block of the configuration tree, with the call path
/// (module names) of the module it is in.
fn collect_checks(
    config: &Config,
    names: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, kiln_config::Check)>,
) {
    out.extend(config.checks.iter().map(|c| (names.clone(), c.clone())));
    for m in &config.modules {
        if let Some(child) = m.config.as_deref() {
            names.push(m.name.clone());
            collect_checks(child, names, out);
            names.pop();
        }
    }
}

/// Whether a child module (at any depth) has `moved` / `removed` blocks.
fn has_refactoring(config: &Config) -> bool {
    config.modules.iter().any(|m| {
        m.config
            .as_deref()
            .is_some_and(|c| !c.moved.is_empty() || !c.removed.is_empty() || has_refactoring(c))
    })
}

/// The data source instances that can be read now: those not in
/// `options.data` whose configuration is fully known (it may use variables,
/// locals, known resource attributes and data sources already read). The
/// caller reads them, adds the results to `options.data` and asks again
/// until nothing is left; [`plan`] then reports any data source that
/// depends on a value known only after apply. Errors here are only those
/// that stop evaluation altogether (syntax, references, cycles); the rest
/// are reported by [`plan`].
pub fn data_reads(
    config: &Config,
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
) -> Result<Vec<crate::DataRead>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let no_files = kiln_config::NoFileSystem;
    let files = Recorder::new(match &options.files.0 {
        Some(fs) => fs.as_ref(),
        None => &no_files,
    });
    let vars = vars::variable_values(config, &options.variables, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let (flat, meta) = expand::expand(config, &vars, &options.root_dir, unknowns(options))?;
    let config: &Config = &flat;
    let analysis = graph::analyze(config, meta)?;
    let mut p = Planner {
        config,
        state,
        schemas,
        options,
        an: &analysis,
        files: &files,
        vars,
        locals: vec![None; config.locals.len()],
        actions: Vec::new(),
        instances: vec![None; config.resources.len()],
        data: Vec::new(),
        deferred: BTreeMap::new(),
        removed_destroy: &[],
        reads: Some(Vec::new()),
        failed: vec![false; analysis.graph.node_count()],
        outputs: BTreeMap::new(),
        diags,
        warnings: Diagnostics::new(),
        generation: state.generation + 1,
        names: Default::default(),
        matched: 0,
    };
    p.run();
    Ok(p.reads.unwrap_or_default())
}

/// `--keep-previous`: marks the stateless replacements as kept and records
/// the traffic switches' run-time settings from before the cut-over. `None`
/// when there is nothing to keep.
fn keep_previous(
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
    actions: &mut [Action],
) -> Option<GenerationChange> {
    if !options.keep_previous {
        return None;
    }
    let mut kept = Vec::new();
    for a in actions.iter_mut() {
        if a.kind == ActionKind::Replace
            && !a.stateful
            && let Some(old) = state.resources.get(&a.addr)
        {
            a.kept = true;
            kept.push((a.addr.clone(), old.id.to_string()));
        }
    }
    if kept.is_empty() {
        return None;
    }
    let switches = state
        .resources
        .values()
        .filter_map(|rs| {
            let schema = schemas.resource(&rs.type_name)?.1;
            schema
                .traffic_switch
                .then(|| (rs.addr.clone(), runtime_settings(&rs.attributes, schema)))
        })
        .collect();
    Some(GenerationChange::Keep {
        previous: state.current_generation(),
        kept,
        switches,
    })
}

/// The run-time attributes of an object: what a traffic switch's settings are.
pub(crate) fn runtime_settings(attributes: &Value, schema: &ResourceSchema) -> Value {
    let Some(m) = attributes.as_map() else {
        return Value::Map(BTreeMap::new().into());
    };
    Value::Map(
        schema
            .attributes
            .iter()
            .filter(|(_, a)| a.change == ChangeBehaviour::Runtime)
            .map(|(name, _)| (name.clone(), m.get(name).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

fn deposed_id(a: &Action) -> Option<&str> {
    a.superseded_id()
}

/// `kiln destroy`: delete everything in state, honouring the protections
/// the configuration still declares. Nothing is evaluated.
fn plan_destroy(
    config: &Config,
    state: &State,
    schemas: &Schemas,
    options: &PlanOptions,
    actions: &mut Vec<Action>,
    diags: &mut Diagnostics,
) {
    let blocks: HashMap<&ResourceAddr, &Resource> =
        config.resources.iter().map(|r| (&r.addr, r)).collect();
    for (addr, rs) in &state.resources {
        let block = if addr.module.is_empty() {
            blocks.get(&addr.resource).copied()
        } else {
            None
        };
        let lifecycle = block.map(|b| &*b.lifecycle);
        let stateful = is_stateful_in_state(rs, schemas, lifecycle);
        check_delete(
            rs,
            stateful,
            lifecycle,
            block.map(|b| &b.loc),
            "destroy was requested",
            options,
            diags,
        );
        actions.push(delete_action(rs, schemas, stateful, Reason::Destroy));
    }
}

fn is_stateful_in_state(
    rs: &ResourceState,
    schemas: &Schemas,
    lifecycle: Option<&Lifecycle>,
) -> bool {
    rs.stateful
        || schemas
            .resource(&rs.type_name)
            .is_some_and(|(_, s)| s.stateful)
        || lifecycle.is_some_and(|l| l.stateful)
}

/// Refuses the deletion of a stateful resource the user did not name, and of
/// one with `prevent_destroy`.
fn check_delete(
    rs: &ResourceState,
    stateful: bool,
    lifecycle: Option<&Lifecycle>,
    loc: Option<&Loc>,
    why: &str,
    options: &PlanOptions,
    diags: &mut Diagnostics,
) {
    let located = |d: Diagnostic| match loc {
        Some(l) => d.with_span(l.span()),
        None => d,
    };
    let addr = &rs.addr;
    if stateful && !options.allow_destroy.iter().any(|p| addr.matches(p)) {
        diags.push(located(
            Diagnostic::error(format!(
                "would destroy stateful {addr} ({why}); pass --allow-destroy {} to allow it",
                shell_addr(addr)
            ))
            .with_detail("stateful resources hold data and are never destroyed unless named"),
        ));
    }
    if lifecycle.is_some_and(|l| l.prevent_destroy) {
        diags.push(located(
            Diagnostic::error(format!(
                "{addr} has lifecycle.prevent_destroy set, but this plan would destroy it ({why})"
            ))
            .with_detail("remove prevent_destroy from its lifecycle block to allow it"),
        ));
    }
}

/// An address as typed in a shell (quoted if it has a string key).
fn shell_addr(addr: &InstanceAddr) -> String {
    let s = addr.to_string();
    if matches!(addr.key, InstanceKey::Str(_)) {
        format!("'{s}'")
    } else {
        s
    }
}

fn delete_action(rs: &ResourceState, schemas: &Schemas, stateful: bool, reason: Reason) -> Action {
    let schema = schemas.resource(&rs.type_name).map(|(_, s)| s);
    Action {
        addr: rs.addr.clone(),
        kind: ActionKind::Delete,
        type_name: rs.type_name.clone(),
        provider: rs.provider.clone(),
        stateful,
        before: Some(mark_schema_sensitive(rs.attributes.clone(), schema)),
        after: None,
        reasons: vec![reason],
        dependencies: rs.dependencies.clone(),
        generation: rs.generation,
        health_check: schema.is_some_and(|s| s.health_check),
        kept: false,
        cutover: None,
    }
}

/// Marks the attributes the schema calls sensitive.
pub(crate) fn mark_schema_sensitive(v: Value, schema: Option<&ResourceSchema>) -> Value {
    let (Some(schema), Value::Map(mut m)) = (schema, v.clone()) else {
        return v;
    };
    if !schema.attributes.values().any(|a| a.sensitive) {
        return v;
    }
    for (name, a) in &schema.attributes {
        if a.sensitive
            && let Some(x) = m.get_mut(name)
        {
            *x = mark_sensitive(std::mem::take(x));
        }
    }
    Value::Map(m)
}

static NULL: Value = Value::Null;

/// The planned value of a new object: the configuration, with what the
/// provider computes unknown.
pub(crate) fn new_object(config_value: Value, schema: &ResourceSchema) -> Value {
    let mut m = match config_value {
        Value::Map(m) => m,
        _ => BTreeMap::new().into(),
    };
    // What the configuration tells of computed attributes (ACM's validation
    // options, one per domain name), from the configuration as written.
    let planned: Vec<(&String, Value)> = schema
        .attributes
        .iter()
        .filter(|(_, a)| a.presence == Presence::Computed)
        .filter_map(|(name, a)| Some((name, a.planned.as_ref()?.from_config(&m, &a.ty)?)))
        .collect();
    for (name, a) in &schema.attributes {
        if !m.contains_key(name) {
            m.insert(name.clone(), Value::Null);
        }
        let Some(v) = m.get_mut(name) else { continue };
        let unknown = match a.presence {
            Presence::Computed => true,
            Presence::OptionalComputed => v.is_null(),
            Presence::Required | Presence::Optional => false,
        };
        if unknown {
            *v = Value::Unknown;
        }
        if a.sensitive {
            *v = mark_sensitive(std::mem::take(v));
        }
    }
    for (name, v) in planned {
        m.insert(name.clone(), v);
    }
    Value::Map(m)
}

/// The planned value of an object kept in place: its state with the
/// configured values laid over it (what the provider computed stays known).
pub(crate) fn kept_object(prior: &Value, config_value: &Value, schema: &ResourceSchema) -> Value {
    let mut m = prior.as_map().cloned().unwrap_or_default();
    let cfg = config_value.as_map();
    for (name, a) in &schema.attributes {
        if a.is_settable() {
            let v = cfg.and_then(|c| c.get(name)).unwrap_or(&NULL);
            if !(a.presence == Presence::OptionalComputed && v.is_null()) {
                match m.get_mut(name) {
                    Some(x) => *x = v.clone(),
                    None => {
                        m.insert(name.clone(), v.clone());
                    }
                }
            }
        }
        if a.sensitive
            && let Some(x) = m.get_mut(name)
        {
            *x = mark_sensitive(std::mem::take(x));
        }
    }
    Value::Map(m.into())
}

/// A planned value without its write-only arguments: they are never in a
/// plan (the apply evaluates them again for the provider).
pub(crate) fn without_write_only(v: Value, schema: &ResourceSchema) -> Value {
    let Value::Map(mut m) = v else { return v };
    for (name, a) in &schema.attributes {
        if a.write_only
            && let Some(x) = m.get_mut(name)
        {
            *x = Value::Null;
        }
    }
    Value::Map(m)
}

struct Planner<'a> {
    config: &'a Config,
    state: &'a State,
    schemas: &'a Schemas,
    options: &'a PlanOptions,
    an: &'a Analysis,
    files: &'a Recorder<'a>,
    vars: Vec<Value>,
    locals: Vec<Option<Value>>,
    actions: Vec<Action>,
    /// Per resource block: its instances' action indexes in key order (None
    /// until planned, or if it failed); for a data source, indexes into
    /// `data`.
    instances: Vec<Option<Vec<usize>>>,
    /// The data source instances' keys and values.
    data: Vec<(InstanceKey, Value)>,
    /// Data source instances read during apply, with their provider.
    deferred: BTreeMap<InstanceAddr, String>,
    /// What `removed` blocks with `destroy = true` name (a stateful one may
    /// go: the block names it).
    removed_destroy: &'a [InstanceAddr],
    /// Collecting the data sources to read ([`data_reads`]) instead of
    /// planning.
    reads: Option<Vec<crate::DataRead>>,
    /// Per graph node: it (or something it needs) failed; skip it.
    failed: Vec<bool>,
    outputs: BTreeMap<String, PlannedOutput>,
    diags: Diagnostics,
    warnings: Diagnostics,
    /// The generation of objects this plan creates.
    generation: u64,
    /// Which live object holds each physical name, by type (built on first
    /// use: only plans that create or replace a named object need it).
    names: std::sync::OnceLock<HashMap<(SmolStr, SmolStr), InstanceAddr>>,
    /// How many objects of the state an instance was planned against
    /// ([`Notes::matched`]): when all were, [`Planner::deletes`] has
    /// nothing to do.
    matched: usize,
}

/// Fewest resource blocks in a batch worth planning on several threads (a
/// thread costs tens of microseconds to start, a block a few).
const PARALLEL_BLOCKS: usize = 512;

/// Most resource blocks planned before they join the plan: their actions
/// wait in a list of their own meanwhile.
const ROUND_BLOCKS: usize = 8192;

/// Diagnostics found planning one resource block, kept apart from the
/// planner's until the block joins the plan, so that blocks planned on
/// several threads report in the order one thread would have.
#[derive(Default)]
struct Notes {
    diags: Diagnostics,
    warnings: Diagnostics,
    /// Instances planned against an object of the state (each state
    /// address at most once: instance addresses are unique).
    matched: usize,
}

/// One managed resource block planned apart from the plan: its actions
/// are the next `count` of its batch's list.
struct BlockPlan {
    ri: usize,
    count: usize,
    /// Every instance was planned (else the block is failed).
    ok: bool,
    notes: Notes,
}

/// What an expression sees while planning.
struct PlanScope<'p, 'a> {
    p: &'p Planner<'a>,
    /// The module instance the expression is in.
    mi: usize,
    /// The resource whose body is being evaluated (its references may pick
    /// single instances).
    current: Option<usize>,
    key: InstanceKey,
    each: Option<(Value, Value)>,
}

impl Scope for PlanScope<'_, '_> {
    fn variable(&self, name: &str) -> Option<Value> {
        Some(match self.p.an.variable_node(self.mi, name)? {
            Node::Variable(i) => self.p.vars[i].clone(),
            Node::Local(i) => self.p.locals[i].clone().unwrap_or(Value::Unknown),
            _ => Value::Unknown,
        })
    }

    fn local(&self, name: &str) -> Option<Value> {
        let i = self.p.an.local_ix(self.mi, name)?;
        Some(self.p.locals[i].clone().unwrap_or(Value::Unknown))
    }

    fn module(&self, name: &str) -> Option<Value> {
        self.p.an.meta.module_value(self.mi, name, |l| {
            self.p.locals[l].clone().unwrap_or(Value::Unknown)
        })
    }

    fn resource(&self, addr: &ResourceAddr) -> Option<Value> {
        let r = self.p.an.resource_ix(self.mi, addr)?;
        let Some(instances) = &self.p.instances[r] else {
            return Some(Value::Unknown);
        };
        let (pick, attrs) = match self.current.and_then(|c| body_ref(self.p.an, c, r)) {
            Some(b) => (b.selector.resolve(&self.key), b.attributes.as_deref()),
            None => (None, None),
        };
        if addr.mode == ResourceMode::Data {
            let data = &self.p.data;
            return Some(resource_value(
                self.p.an.modes[r],
                instances,
                |i| data[i].0.clone(),
                |i| project(&data[i].1, attrs),
                pick,
            ));
        }
        let actions = &self.p.actions;
        Some(resource_value(
            self.p.an.modes[r],
            instances,
            |i| actions[i].addr.key.clone(),
            |i| match &actions[i].after {
                Some(v) => project(v, attrs),
                None => Value::Unknown,
            },
            pick,
        ))
    }

    fn count_index(&self) -> Option<u64> {
        match self.key {
            InstanceKey::Int(i) => Some(i),
            _ => None,
        }
    }

    fn each(&self) -> Option<(Value, Value)> {
        self.each.clone()
    }

    fn path(&self, which: &str) -> Option<String> {
        Some(
            self.p
                .an
                .meta
                .path_value(&self.p.options.root_dir, which, self.mi),
        )
    }

    fn env(&self) -> String {
        self.p.options.env.clone()
    }

    fn files(&self) -> &dyn FileSystem {
        self.p.files
    }

    fn names(&self, kind: NameKind) -> Vec<String> {
        graph::declared_names(self.p.config, kind)
    }
}

impl<'a> Planner<'a> {
    fn scope(&self, mi: usize) -> PlanScope<'_, 'a> {
        PlanScope {
            p: self,
            mi,
            current: None,
            key: InstanceKey::None,
            each: None,
        }
    }

    /// Plans every node in dependency order. Consecutive managed resource
    /// blocks that do not refer to each other form a batch, planned on
    /// several threads when it is large ([`PARALLEL_BLOCKS`]) and joined
    /// in order: the plan and its diagnostics are the same as one thread's.
    fn run(&mut self) {
        let an = self.an;
        let mut batch = Vec::new();
        let mut in_batch = vec![false; an.graph.node_count()];
        for &node in &an.order {
            let ix = an.index(self.config, node);
            let managed = matches!(node, Node::Resource(i)
                if self.config.resources[i].addr.mode == ResourceMode::Managed);
            if !managed || an.graph.neighbors(ix).any(|n| in_batch[n.index()]) {
                self.plan_batch(&batch);
                for &ri in &batch {
                    in_batch[an.index(self.config, Node::Resource(ri)).index()] = false;
                }
                batch.clear();
            }
            if an.graph.neighbors(ix).any(|n| self.failed[n.index()]) {
                self.failed[ix.index()] = true;
                continue;
            }
            let ok = match node {
                Node::Resource(i) if managed => {
                    batch.push(i);
                    in_batch[ix.index()] = true;
                    true
                }
                Node::Variable(_) => true,
                Node::Local(i) => self.plan_local(i),
                Node::Resource(i) => self.plan_data(i),
                Node::Output(i) => self.plan_output(i),
            };
            if !ok {
                self.failed[ix.index()] = true;
            }
        }
        self.plan_batch(&batch);
    }

    /// Plans the managed resource blocks `batch` (none refers to another)
    /// and adds them to the plan in order, [`ROUND_BLOCKS`] at a time.
    fn plan_batch(&mut self, batch: &[usize]) {
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        for round in batch.chunks(ROUND_BLOCKS) {
            self.plan_round(round, threads);
        }
    }

    fn plan_round(&mut self, batch: &[usize], threads: usize) {
        let parts = if threads > 1 && batch.len() >= PARALLEL_BLOCKS {
            let this = &*self;
            std::thread::scope(|s| {
                let mut chunks = batch.chunks(batch.len().div_ceil(threads));
                let first = chunks.next().unwrap_or_default();
                let others: Vec<_> = chunks
                    .map(|c| {
                        let thread =
                            std::thread::Builder::new().stack_size(kiln_config::THREAD_STACK);
                        (c, thread.spawn_scoped(s, move || this.plan_blocks(c)))
                    })
                    .collect();
                let mut parts = vec![this.plan_blocks(first)];
                for (c, h) in others {
                    parts.push(match h {
                        Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                        // No thread to be had: this one plans the chunk.
                        Err(_) => this.plan_blocks(c),
                    });
                }
                parts
            })
        } else {
            vec![self.plan_blocks(batch)]
        };
        for (actions, blocks) in parts {
            let mut actions = actions.into_iter();
            for b in blocks {
                let start = self.actions.len();
                self.actions.extend(actions.by_ref().take(b.count));
                self.diags.extend(b.notes.diags);
                self.warnings.extend(b.notes.warnings);
                self.matched += b.notes.matched;
                if b.ok {
                    self.instances[b.ri] = Some((start..self.actions.len()).collect());
                } else {
                    let ix = self.an.index(self.config, Node::Resource(b.ri));
                    self.failed[ix.index()] = true;
                }
            }
        }
    }

    /// Plans the managed resource blocks `blocks` without adding them to
    /// the plan: their actions, in order, and what each block produced.
    fn plan_blocks(&self, blocks: &[usize]) -> (Vec<Action>, Vec<BlockPlan>) {
        let mut actions = Vec::with_capacity(blocks.len());
        let planned = blocks
            .iter()
            .map(|&ri| {
                let mut notes = Notes::default();
                let before = actions.len();
                let ok = self.plan_resource(ri, &mut actions, &mut notes);
                BlockPlan {
                    ri,
                    count: actions.len() - before,
                    ok,
                    notes,
                }
            })
            .collect();
        (actions, planned)
    }

    fn plan_local(&mut self, i: usize) -> bool {
        let (mi, key, each) = self.an.meta.local_eval(i);
        let scope = PlanScope {
            p: self,
            mi,
            current: None,
            key,
            each,
        };
        let local = &self.config.locals[i];
        let value = eval(&local.expr, &scope)
            .and_then(|v| expand::finish_local(&self.an.meta, i, v, &local.expr));
        match value {
            Ok(v) => {
                self.locals[i] = Some(v);
                true
            }
            Err(d) => {
                self.diags.extend(d);
                false
            }
        }
    }

    /// The root module's `check` blocks: a failed assertion (or one that
    /// cannot be evaluated) is a warning, never an error — Terraform's rule.
    /// One known only after apply says nothing yet.
    fn checks(&mut self, checks: &[(Vec<String>, kiln_config::Check)]) {
        for (names, c) in checks {
            // Every instance of the module the check is in.
            let instances: Vec<usize> = (0..self.an.meta.insts.len().max(1))
                .filter(|&mi| {
                    let path = self.an.meta.path(mi);
                    path.len() == names.len() && path.iter().zip(names).all(|(s, n)| s.name == *n)
                })
                .collect();
            for mi in instances {
                self.check_in(mi, c);
            }
        }
    }

    fn check_in(&mut self, mi: usize, c: &kiln_config::Check) {
        let at = self.an.meta.display_path(mi);
        let name = if at.is_empty() {
            format!("check \"{}\"", c.name)
        } else {
            format!("{at}: check \"{}\"", c.name)
        };
        {
            if let Some(data) = &c.scoped_data {
                self.warnings.push(
                    data.warning(format!(
                        "{name} was not evaluated: kiln does not read a check's scoped data source yet"
                    ))
                    .with_detail("move the data block out of the check to have its assertions evaluated"),
                );
                return;
            }
            if let Err(d) = check_conditions(&c.asserts, &self.scope(mi), "check assertion") {
                for e in &d {
                    let mut w = e.clone();
                    w.severity = kiln_diag::Severity::Warning;
                    w.summary = format!("{name}: {}", w.summary);
                    self.warnings.push(w);
                }
            }
        }
    }

    fn plan_output(&mut self, i: usize) -> bool {
        let o = &self.config.outputs[i];
        let value = match eval(&o.expr, &self.scope(0)) {
            Ok(v) => v,
            Err(d) => {
                self.diags.extend(d);
                return false;
            }
        };
        if value.contains_sensitive() && !o.sensitive {
            self.diags.push(
                o.expr
                    .loc
                    .error(format!("output \"{}\" refers to sensitive values", o.name))
                    .with_detail("set `sensitive = true` in the output block to confirm it may hold them (its value is then hidden)"),
            );
            return false;
        }
        let value = if o.sensitive {
            mark_sensitive(value)
        } else {
            value
        };
        let prior = self.state.outputs.get(&o.name);
        let changed = match prior {
            Some(prior) => prior.sensitive != o.sensitive || !same(&prior.value, &value),
            None => true,
        };
        self.outputs.insert(
            o.name.clone(),
            PlannedOutput {
                value,
                sensitive: o.sensitive,
                changed,
                prior: prior.filter(|_| changed).map(recorded_output),
            },
        );
        true
    }

    /// Plans the instances of managed resource block `ri` into `actions`;
    /// false if any failed.
    fn plan_resource(&self, ri: usize, actions: &mut Vec<Action>, notes: &mut Notes) -> bool {
        let res = &self.config.resources[ri];
        let Some((provider, schema)) = self.schemas.resource(&res.addr.ty) else {
            let mut d = res
                .loc
                .error(format!("unknown resource type \"{}\"", res.addr.ty));
            d = match did_you_mean(&res.addr.ty, self.schemas.resource_types()) {
                Some(s) => d.with_detail(format!("did you mean \"{s}\"?")),
                None => {
                    let known: Vec<&str> = self.schemas.resource_types().collect();
                    d.with_detail(if known.is_empty() {
                        "no provider offers any resource type".to_string()
                    } else {
                        format!("the configured providers offer: {}", known.join(", "))
                    })
                }
            };
            notes.diags.push(d);
            return false;
        };
        let Some(keys) = self.instance_keys(ri, &mut notes.diags) else {
            return false;
        };
        let mut ok = true;
        let mi = self.an.meta.resource_mi(ri);
        for (key, each) in keys {
            let scope = PlanScope {
                p: self,
                mi,
                current: Some(ri),
                key: key.clone(),
                each,
            };
            let checked = eval_body(&res.body, schema, &scope).and_then(|v| {
                check_conditions(&res.lifecycle.preconditions, &scope, "precondition")?;
                Ok(v)
            });
            match checked {
                Ok(value) => {
                    actions.push(self.diff_instance(ri, provider, schema, key, value, notes));
                }
                Err(d) => {
                    notes.diags.extend(d);
                    ok = false;
                }
            }
        }
        ok
    }

    /// A data source's instances: the values read before planning, or (when
    /// collecting reads) the instances that can be read now.
    fn plan_data(&mut self, ri: usize) -> bool {
        let res = &self.config.resources[ri];
        let Some((provider, schema)) = self.schemas.data_source(&res.addr.ty) else {
            self.diags.push(
                res.loc
                    .error(format!("unknown data source type \"{}\"", res.addr.ty))
                    .with_detail("no configured provider offers it"),
            );
            return false;
        };
        let mut diags = Diagnostics::new();
        let keys = self.instance_keys(ri, &mut diags);
        self.diags.extend(diags);
        let Some(keys) = keys else {
            return false;
        };
        let mi = self.an.meta.resource_mi(ri);
        let mut idxs = Vec::with_capacity(keys.len());
        let mut ok = true;
        for (key, each) in keys {
            let addr = InstanceAddr {
                module: self.an.meta.path(mi),
                resource: res.addr.clone(),
                key: key.clone(),
            };
            let value = match self.options.data.get(&addr) {
                Some(v) => mark_schema_sensitive(v.clone(), Some(schema)),
                None => {
                    let scope = PlanScope {
                        p: self,
                        mi,
                        current: Some(ri),
                        key: key.clone(),
                        each,
                    };
                    let config = eval_body(&res.body, schema, &scope);
                    match (&mut self.reads, config) {
                        (Some(reads), Ok(v)) if v.is_known() => reads.push(crate::DataRead {
                            addr,
                            type_name: res.addr.ty.to_string(),
                            provider: provider.to_string(),
                            config: v,
                        }),
                        (Some(_), _) => {}
                        (None, Err(d)) => {
                            self.diags.extend(d);
                            ok = false;
                        }
                        (None, Ok(_)) if self.options.data_unknown => {}
                        // As in Terraform: read during apply, once what it
                        // uses is known; what uses it waits for that.
                        (None, Ok(_)) => {
                            self.deferred.insert(addr, provider.to_string());
                        }
                    }
                    Value::Unknown
                }
            };
            idxs.push(self.data.len());
            self.data.push((key, value));
        }
        if ok {
            self.instances[ri] = Some(idxs);
        }
        ok
    }

    /// The instance keys of resource block `ri` (from count / for_each).
    #[allow(clippy::type_complexity)]
    fn instance_keys(
        &self,
        ri: usize,
        diags: &mut Diagnostics,
    ) -> Option<Vec<(InstanceKey, Option<(Value, Value)>)>> {
        let res = &self.config.resources[ri];
        Some(match self.an.modes[ri] {
            Mode::Single => vec![(InstanceKey::None, None)],
            Mode::Count => {
                let expr = res.count.as_ref()?;
                let v = self.eval_plain(self.an.meta.resource_mi(ri), expr, diags)?;
                if unknowns(self.options) == Unknowns::OneInstance && !v.unmarked().is_known() {
                    return Some(vec![Unknowns::stand_in(Mode::Count)]);
                }
                match count_of(&v) {
                    Ok(n) => (0..n).map(|i| (InstanceKey::Int(i), None)).collect(),
                    Err(e) => {
                        diags.push(cannot_expand(expr, e));
                        return None;
                    }
                }
            }
            Mode::ForEach => {
                let expr = res.for_each.as_ref()?;
                let mi = self.an.meta.resource_mi(ri);
                let root = (mi == 0).then_some(self.config.variables.as_slice());
                if let Some(d) = list_for_each(expr, root) {
                    diags.push(d);
                    return None;
                }
                let v = self.eval_plain(mi, expr, diags)?;
                if unknowns(self.options) == Unknowns::OneInstance && !v.is_known() {
                    return Some(vec![Unknowns::stand_in(Mode::ForEach)]);
                }
                match for_each_keys(&v) {
                    Ok(keys) => keys
                        .into_iter()
                        .map(|(k, v)| {
                            let each = (Value::String(k.clone()), v);
                            (InstanceKey::Str(k), Some(each))
                        })
                        .collect(),
                    Err(e) => {
                        diags.push(cannot_expand(expr, e));
                        return None;
                    }
                }
            }
        })
    }

    /// Evaluates an expression outside any instance (count, for_each).
    fn eval_plain(
        &self,
        mi: usize,
        expr: &kiln_config::Expr,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        match eval(expr, &self.scope(mi)) {
            Ok(v) => Some(v),
            Err(d) => {
                diags.extend(d);
                None
            }
        }
    }

    /// The instances of resource `r` that selector `pick` names (all if none).
    fn picked(&self, r: usize, pick: Option<&InstanceKey>) -> &[usize] {
        // Data sources are read before planning: nothing to wait for.
        if self.config.resources[r].addr.mode == ResourceMode::Data {
            return &[];
        }
        let Some(instances) = &self.instances[r] else {
            return &[];
        };
        match pick {
            None => instances,
            Some(k) => match instances.binary_search_by(|&i| self.actions[i].addr.key.cmp(k)) {
                Ok(pos) => &instances[pos..=pos],
                Err(_) => &[],
            },
        }
    }

    /// The instances one instance of resource `ri` refers to.
    fn dependencies(&self, ri: usize, key: &InstanceKey) -> Vec<InstanceAddr> {
        let mut out = Vec::new();
        for (r, sel) in &self.an.resource_refs[ri].deps {
            let pick = sel.resolve(key);
            out.extend(
                self.picked(*r, pick.as_ref())
                    .iter()
                    .map(|&i| self.actions[i].addr.clone()),
            );
            self.through_deferred_data(*r, &mut out, 0);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A data source read during apply is read once what it refers to is
    /// applied: whatever uses it waits for those too.
    fn through_deferred_data(&self, r: usize, out: &mut Vec<InstanceAddr>, depth: usize) {
        if self.config.resources[r].addr.mode != ResourceMode::Data || depth > 64 {
            return;
        }
        let deferred = self.instances[r]
            .as_ref()
            .is_some_and(|is| is.iter().any(|&i| !self.data[i].1.is_known()));
        if !deferred {
            return;
        }
        for (d, _) in &self.an.resource_refs[r].deps {
            out.extend(
                self.picked(*d, None)
                    .iter()
                    .map(|&i| self.actions[i].addr.clone()),
            );
            self.through_deferred_data(*d, out, depth + 1);
        }
    }

    /// The instance being created or replaced that makes attribute `attr`
    /// of an instance of `ri` unknown.
    fn cascade_source(
        &self,
        ri: usize,
        key: &InstanceKey,
        attr: &str,
    ) -> Option<(InstanceAddr, ActionKind)> {
        let res = &self.config.resources[ri];
        let mi = self.an.meta.resource_mi(ri);
        let creating = |i: &usize| {
            matches!(
                self.actions[*i].kind,
                ActionKind::Create | ActionKind::Replace
            )
        };
        for r in attribute_references(&res.body, attr) {
            let candidates: Vec<usize> = match &r.subject {
                Subject::Resource(addr) => match self.an.resource_ix(mi, addr) {
                    Some(target) => {
                        let pick = shape(&r, addr).selector.resolve(key);
                        self.picked(target, pick.as_ref()).to_vec()
                    }
                    None => continue,
                },
                Subject::Local(name) => match self.an.local_ix(mi, name) {
                    Some(l) => self.an.local_resources[l]
                        .iter()
                        .flat_map(|&t| self.picked(t, None).iter().copied())
                        .collect(),
                    None => continue,
                },
                _ => continue,
            };
            if let Some(i) = candidates.iter().find(|i| creating(i)) {
                let a = &self.actions[*i];
                return Some((a.addr.clone(), a.kind));
            }
        }
        None
    }

    fn diff_instance(
        &self,
        ri: usize,
        provider: &str,
        schema: &ResourceSchema,
        key: InstanceKey,
        value: Value,
        notes: &mut Notes,
    ) -> Action {
        let res = &self.config.resources[ri];
        let addr = InstanceAddr {
            module: self.an.meta.path(self.an.meta.resource_mi(ri)),
            resource: res.addr.clone(),
            key,
        };
        if let Some((_, loc)) = res.cutover.as_deref()
            && !schema.traffic_switch
            && matches!(addr.key, InstanceKey::None | InstanceKey::Int(0))
        {
            notes.diags.push(
                loc.error(format!(
                    "{} is no traffic switch: a cutover block moves traffic between generations on a switch",
                    res.addr.ty
                ))
                .with_detail("put the cutover block on the local_balancer or aws_lb_listener that routes to this resource"),
            );
        }
        let prior = self.state.resources.get(&addr);
        notes.matched += usize::from(prior.is_some());
        let stateful =
            schema.stateful || res.lifecycle.stateful || prior.is_some_and(|p| p.stateful);
        let dependencies = self.dependencies(ri, &addr.key);
        let mut action = Action {
            addr,
            kind: ActionKind::Create,
            type_name: res.addr.ty.clone(),
            provider: provider.into(),
            stateful,
            before: None,
            after: None,
            reasons: Vec::new(),
            dependencies,
            generation: self.generation,
            health_check: schema.health_check,
            kept: false,
            cutover: None,
        };
        let written = physical_name_of(&value, schema, &self.options.env);
        let Some(prior) = prior else {
            action.after = Some(without_write_only(new_object(value, schema), schema));
            action.reasons.push(Reason::NotInState);
            self.assign_physical_name(&mut action, written, schema, notes);
            return action;
        };
        // A name the object got from the written one (itself, or derived
        // in its generation) is no change.
        let value = keep_physical_name(value, prior, schema, &self.options.env);
        // `ignore_changes`: the configuration's value of these attributes
        // is replaced by the object's.
        let value = ignore_changes(value, &prior.attributes, &res.lifecycle, schema);
        let triggered = self.triggered_by(ri, &action.addr.key);

        // What changed, leaf by leaf, with each leaf's attribute.
        let cfg = value.as_map();
        let st = prior.attributes.as_map();
        let mut changes: Vec<(Change, &str, ChangeBehaviour)> = Vec::new();
        let mut leaves = Vec::new();
        for (name, a) in &schema.attributes {
            // A write-only argument is never compared: the state does not
            // hold it (Terraform: change a `_wo_version` to send it again).
            if !a.is_settable() || a.write_only {
                continue;
            }
            let after = cfg.and_then(|m| m.get(name)).unwrap_or(&NULL);
            if a.presence == Presence::OptionalComputed && after.is_null() {
                continue;
            }
            let before = st.and_then(|m| m.get(name)).unwrap_or(&NULL);
            diff(name.clone(), before, after, &mut leaves);
            for mut c in leaves.drain(..) {
                if a.sensitive || c.before.contains_sensitive() || c.after.contains_sensitive() {
                    c.before = mark_sensitive(c.before);
                    c.after = mark_sensitive(c.after);
                }
                changes.push((c, name.as_str(), a.change));
            }
        }
        let mut forcing: Vec<&str> = changes
            .iter()
            .filter(|(_, _, b)| forces_replacement(*b, stateful))
            .map(|(_, n, _)| *n)
            .collect();
        forcing.dedup();

        let addr = &action.addr;
        let replace_flag = self.options.replace.iter().any(|p| addr.matches(p));
        let drift = self.options.drifted.get(addr);
        let mut reasons = Vec::new();
        if replace_flag {
            reasons.push(Reason::Forced);
        }
        if let Some((source, source_kind)) = triggered.clone() {
            reasons.push(Reason::Triggered {
                source,
                source_kind,
            });
        }
        let decision = decide(Facts {
            in_state: true,
            stateful,
            traffic_switch: schema.traffic_switch,
            forced: replace_flag || triggered.is_some(),
            rebuild: self.options.rebuild,
            drifted: drift.is_some(),
            forcing: !forcing.is_empty(),
            changed: !changes.is_empty(),
            allow_replace: self.options.allow_replace.iter().any(|p| addr.matches(p)),
        });
        let kind = decision.kind;
        if decision.rebuild_reason {
            reasons.push(Reason::Rebuild);
        }
        if let Some(detail) = drift {
            if decision.drift_reason {
                reasons.push(Reason::Drift {
                    detail: detail.clone(),
                });
            }
            match decision.drift_warning {
                Some(DriftWarning::Stateful) => notes.warnings.push(
                    Diagnostic::warning(format!("stateful {addr} drifted: {detail}"))
                        .with_span(res.loc.span())
                        .with_detail("stateful resources are not replaced because of drift; pass --replace ADDR if that is what you want"),
                ),
                Some(DriftWarning::TrafficSwitch) => notes.warnings.push(
                    Diagnostic::warning(format!("traffic switch {addr} drifted: {detail}"))
                        .with_span(res.loc.span())
                        .with_detail("a traffic switch is not replaced because of drift: its run-time attributes are set again in place; pass --replace ADDR to replace it"),
                ),
                None => {}
            }
        }
        if decision.refused {
            let loc = res
                .body
                .attributes
                .iter()
                .find(|a| a.name == forcing[0])
                .map_or(&res.loc, |a| &a.loc);
            let (noun, list) = if forcing.len() == 1 {
                ("attribute", forcing[0].to_string())
            } else {
                ("attributes", forcing.join(", "))
            };
            notes.diags.push(
                loc.error(format!(
                    "would replace stateful {addr} because {noun} {list} changed; pass --allow-replace {} to allow it",
                    shell_addr(addr)
                ))
                .with_detail("replacing a stateful resource loses its data; undo the change, or allow the replacement"),
            );
        }
        if kind == ActionKind::Replace && res.lifecycle.prevent_destroy {
            notes.diags.push(
                res.loc
                    .error(format!(
                        "{addr} has lifecycle.prevent_destroy set, but this plan would replace it"
                    ))
                    .with_detail(
                        "undo the change that forces the replacement, or remove prevent_destroy",
                    ),
            );
        }
        for (c, attr, behaviour) in changes {
            let reason = if c.after.is_known() {
                None
            } else {
                self.cascade_source(ri, &addr.key, attr)
            };
            reasons.push(match reason {
                Some((source, source_kind)) => Reason::Cascade {
                    path: c.path,
                    source,
                    source_kind,
                },
                None => Reason::Attribute {
                    path: c.path,
                    before: c.before,
                    after: c.after,
                    behaviour,
                },
            });
        }
        action.before = Some(mark_schema_sensitive(
            prior.attributes.clone(),
            Some(schema),
        ));
        action.after = Some(without_write_only(
            match kind {
                ActionKind::Replace => new_object(value, schema),
                _ => kept_object(&prior.attributes, &value, schema),
            },
            schema,
        ));
        if kind == ActionKind::Replace
            && let Some(after) = &action.after
            && let Some(shared) = shared_exclusive(schema, &prior.attributes, after)
        {
            let (names, values): (Vec<&str>, Vec<String>) = shared
                .iter()
                .map(|(n, v)| (n.as_str(), format!("{n} = {v}")))
                .unzip();
            notes.diags.push(
                res.loc
                    .error(format!(
                        "{addr} would be replaced, but the new object would keep {} ({}), which two {} objects cannot share: it could not be created before the old one is destroyed",
                        names.join(" and "),
                        values.join(", "),
                        action.type_name
                    ))
                    .with_detail(format!(
                        "kiln creates the replacement first and never destroys first; change {} so both can exist during the cut-over, or replace what it belongs to as well (--replace, or --rebuild)",
                        names.last().copied().unwrap_or_default()
                    )),
            );
        }
        if kind != ActionKind::Replace {
            action.generation = prior.generation;
        }
        if kind == ActionKind::Update {
            action.cutover = res.cutover.as_deref().map(|(c, _)| Box::new(c.clone()));
        }
        action.kind = kind;
        action.reasons = reasons;
        if kind == ActionKind::Replace {
            self.assign_physical_name(&mut action, written, schema, notes);
        }
        action
    }

    /// A new object's physical name: as written, unless a live object of
    /// the type holds it, then derived (and the plan says why).
    fn assign_physical_name(
        &self,
        action: &mut Action,
        written: Option<String>,
        schema: &ResourceSchema,
        notes: &mut Notes,
    ) {
        let (Some(rule), Some(written)) = (&schema.physical_name, written) else {
            return;
        };
        let held = |names: &HashMap<(SmolStr, SmolStr), InstanceAddr>, n: &str| {
            names
                .get(&(action.type_name.clone(), SmolStr::from(n)))
                .cloned()
        };
        let names = self
            .names
            .get_or_init(|| held_names(self.state, self.schemas));
        let Some(holder) = held(names, &written) else {
            set_attr(
                &mut action.after,
                &rule.attribute,
                Value::String(written.into()),
            );
            return;
        };
        let physical = rule.derived(&written, self.generation);
        if let Some(other) = held(names, &physical) {
            notes.diags.push(Diagnostic::error(format!(
                "{} needs a new {} while both {written:?} and {physical:?} are held ({holder} and {other})",
                action.addr, rule.attribute
            ))
            .with_detail("apply once more after the older object is destroyed, or change the name"));
            return;
        }
        set_attr(
            &mut action.after,
            &rule.attribute,
            Value::String(physical.clone().into()),
        );
        action.reasons.push(Reason::PhysicalName {
            attribute: rule.attribute.clone(),
            written,
            physical,
            holder,
        });
    }

    /// The first instance named by `lifecycle.replace_triggered_by` of an
    /// instance of `ri` that triggers its replacement: one that is replaced
    /// (or created), or, for a reference to a whole resource, changed at all.
    fn triggered_by(&self, ri: usize, key: &InstanceKey) -> Option<(InstanceAddr, ActionKind)> {
        let res = &self.config.resources[ri];
        let mi = self.an.meta.resource_mi(ri);
        for r in &res.lifecycle.replace_triggered_by {
            let Subject::Resource(addr) = &r.subject else {
                continue;
            };
            let Some(target) = self.an.resource_ix(mi, addr) else {
                continue;
            };
            let sh = shape(r, addr);
            let whole = sh.attribute.is_none();
            let pick = sh.selector.resolve(key);
            for &i in self.picked(target, pick.as_ref()) {
                let a = &self.actions[i];
                let fires = match a.kind {
                    ActionKind::Replace | ActionKind::Create => true,
                    ActionKind::Update => whole,
                    ActionKind::NoOp | ActionKind::Delete => false,
                };
                if fires {
                    return Some((a.addr.clone(), a.kind));
                }
            }
        }
        None
    }

    /// Deletes what is in state but no longer in the configuration.
    fn deletes(&mut self) {
        // Every object was planned against: none is left to delete (and a
        // plan without changes does not look each one up again).
        if self.matched == self.state.resources.len() {
            return;
        }
        for (addr, rs) in &self.state.resources {
            let block = if addr.module.is_empty() {
                self.an.resources.get(&addr.resource)
            } else {
                self.an
                    .meta
                    .by_path
                    .get(&addr.module)
                    .and_then(|&mi| self.an.resource_ix(mi, &addr.resource))
            };
            if let Some(ri) = block {
                let Some(instances) = &self.instances[ri] else {
                    // The block failed to plan: its instances are unknown.
                    continue;
                };
                let present = match self.an.modes[ri] {
                    Mode::Single => addr.key == InstanceKey::None,
                    Mode::Count => match addr.key {
                        InstanceKey::Int(k) => (k as usize) < instances.len(),
                        _ => false,
                    },
                    Mode::ForEach => instances
                        .binary_search_by(|&i| self.actions[i].addr.key.cmp(&addr.key))
                        .is_ok(),
                };
                if present {
                    continue;
                }
            }
            let res = block.map(|ri| &self.config.resources[ri]);
            let lifecycle = res.map(|r| &*r.lifecycle);
            let stateful = is_stateful_in_state(rs, self.schemas, lifecycle);
            let named = self.removed_destroy.contains(addr);
            check_delete(
                rs,
                stateful && !named,
                lifecycle,
                res.map(|r| &r.loc),
                "it is no longer in the configuration",
                self.options,
                &mut self.diags,
            );
            self.actions.push(delete_action(
                rs,
                self.schemas,
                stateful,
                Reason::NotInConfig,
            ));
        }
    }

    /// Refuses two objects of a type that would share an exclusive value
    /// (two buckets named alike): the second create could not succeed, or
    /// worse, would find the first's object.
    fn duplicate_exclusive(&mut self) {
        // Keyed by type, attribute names and the values' debug form (the
        // values are unmarked and known).
        let mut seen: std::collections::BTreeMap<(String, String), &InstanceAddr> =
            std::collections::BTreeMap::new();
        let mut found = Vec::new();
        // The schema of the last action's type: a plan's actions come in
        // runs of one type, so it is looked up once per run.
        let mut last: Option<(&str, Option<&ResourceSchema>)> = None;
        for a in &self.actions {
            let Some(after) = a.after.as_ref().filter(|_| a.kind != ActionKind::Delete) else {
                continue;
            };
            let schema = match last {
                Some((ty, schema)) if ty == a.type_name => schema,
                _ => {
                    let schema = self.schemas.resource(&a.type_name).map(|(_, s)| s);
                    last = Some((&a.type_name, schema));
                    schema
                }
            };
            let Some(schema) = schema else {
                continue;
            };
            if schema.exclusive.is_empty() && schema.physical_name.is_none() {
                continue;
            }
            let named = schema
                .physical_name
                .iter()
                .map(|p| vec![p.attribute.clone()]);
            for set in schema.exclusive.iter().cloned().chain(named) {
                let set = &set;
                // A physical name is compared as written (a derived one
                // is this plan's way around the live object, not a value
                // of its own).
                let written = |n: &String| {
                    a.reasons.iter().find_map(|r| match r {
                        Reason::PhysicalName {
                            attribute, written, ..
                        } if attribute == n => Some(Value::String(written.clone().into())),
                        _ => None,
                    })
                };
                let values: Option<Vec<Value>> = set
                    .iter()
                    .map(|n| {
                        let v =
                            written(n).unwrap_or_else(|| after.get(n).cloned().unwrap_or_default());
                        let v = v.unmarked();
                        (v.is_known() && !v.is_null()).then(|| v.clone())
                    })
                    .collect();
                let Some(values) = values else { continue };
                let key = (
                    format!("{}:{}", a.type_name, set.join(",")),
                    format!("{values:?}"),
                );
                match seen.get(&key) {
                    Some(first) if **first != a.addr => {
                        let shown: Vec<String> = set
                            .iter()
                            .zip(&values)
                            .map(|(n, v)| format!("{n} = {v}"))
                            .collect();
                        found.push((a.addr.clone(), (*first).clone(), shown.join(", ")));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, &a.addr);
                    }
                }
            }
        }
        for (second, first, shown) in found {
            let loc = self
                .config
                .resources
                .iter()
                .find(|r| r.addr == second.resource)
                .map(|r| r.loc.span());
            let mut d = Diagnostic::error(format!(
                "{second} and {first} would both have {shown}, which two {} objects cannot share",
                second.resource.ty
            ))
            .with_detail("give each its own value");
            if let Some(span) = loc {
                d = d.with_span(span);
            }
            self.diags.push(d);
        }
    }

    /// Warns about `--replace` addresses that match nothing.
    fn unmatched_flags(&mut self) {
        for pat in &self.options.replace {
            if !self.actions.iter().any(|a| a.addr.matches(pat)) {
                self.warnings.push(Diagnostic::warning(format!(
                    "--replace {pat} matches no resource instance"
                )));
            }
        }
    }
}

/// The configuration value with the `ignore_changes` attributes set to the
/// object's values.
fn ignore_changes(
    value: Value,
    prior: &Value,
    lifecycle: &Lifecycle,
    schema: &ResourceSchema,
) -> Value {
    if lifecycle.ignore_changes.is_empty() && !lifecycle.ignore_all_changes {
        return value;
    }
    let (Value::Map(mut m), Some(p)) = (value.clone(), prior.as_map()) else {
        return value;
    };
    for (name, a) in &schema.attributes {
        if !a.is_settable()
            || !(lifecycle.ignore_all_changes || lifecycle.ignore_changes.contains(name))
        {
            continue;
        }
        m.insert(name.clone(), p.get(name).cloned().unwrap_or(Value::Null));
    }
    Value::Map(m)
}

/// Checks `precondition` / `postcondition` blocks: a condition that is
/// false is an error with the user's message, at the condition. Unknown
/// conditions pass (they are checked again when known).
pub(crate) fn check_conditions(
    conditions: &[kiln_config::Validation],
    scope: &dyn Scope,
    what: &str,
) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    for c in conditions {
        let ok = match eval(&c.condition, scope)?.unmarked() {
            Value::Bool(b) => *b,
            Value::Unknown => continue,
            other => {
                diags.push(c.condition.loc.error(format!(
                    "a {what} condition must be true or false, got {}",
                    other.type_name()
                )));
                continue;
            }
        };
        if ok {
            continue;
        }
        let message = match eval(&c.error_message, scope)? {
            m if m.contains_sensitive() => {
                "the error message refers to a sensitive value, so it is not shown".to_string()
            }
            m => match kiln_config::convert(m, &kiln_model::Type::String) {
                Ok(Value::String(m)) => m.to_string(),
                _ => format!("the {what} failed (its error_message is not a string)"),
            },
        };
        diags.push(
            c.condition
                .loc
                .error(format!("{what} failed: {}", message.trim_end()))
                .with_detail(format!("checked by the {what} block at {}", {
                    let at = c.loc.span();
                    format!("{}:{}:{}", at.file, at.start.line, at.start.col)
                })),
        );
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(())
}

/// The first of the schema's exclusive attribute sets whose values the
/// replacement `after` keeps from `before` (all known and set), with them.
fn shared_exclusive<'s>(
    schema: &'s ResourceSchema,
    before: &Value,
    after: &Value,
) -> Option<Vec<(&'s String, Value)>> {
    schema.exclusive.iter().find_map(|set| {
        let mut shared = Vec::new();
        for name in set {
            let new = after.get(name)?.unmarked();
            if !new.is_known() || new.is_null() || before.get(name)?.unmarked() != new {
                return None;
            }
            shared.push((name, new.clone()));
        }
        (!shared.is_empty()).then_some(shared)
    })
}

/// An output's value as the state records it, marked sensitive if it was
/// declared so.
fn recorded_output(o: &kiln_state::OutputState) -> Value {
    if o.sensitive {
        o.value.clone().sensitive()
    } else {
        o.value.clone()
    }
}

/// The physical name written in a configuration value, if the type has one
/// and it is known, as environment `env` has it (see
/// [`kiln_model::PhysicalName::in_env`]).
fn physical_name_of(value: &Value, schema: &ResourceSchema, env: &str) -> Option<String> {
    let rule = schema.physical_name.as_ref()?;
    match value.get(&rule.attribute)?.unmarked() {
        Value::String(s) => Some(rule.in_env(s, env)),
        _ => None,
    }
}

/// The configuration value with the physical name the object already has,
/// when it has it from the written one (the name itself, or derived in the
/// object's generation): that is no change.
fn keep_physical_name(
    value: Value,
    prior: &kiln_state::ResourceState,
    schema: &ResourceSchema,
    env: &str,
) -> Value {
    let (Some(rule), Some(written)) =
        (&schema.physical_name, physical_name_of(&value, schema, env))
    else {
        return value;
    };
    let Some(Value::String(held)) = prior.attributes.get(&rule.attribute).map(Value::unmarked)
    else {
        return value;
    };
    // An object adopted with the name exactly as written (from a
    // Terraform workspace) keeps it too.
    let as_written = physical_name_of(&value, schema, "default");
    if !rule.is_form_of(held, &written, prior.generation)
        && as_written.as_deref() != Some(held.as_str())
    {
        return value;
    }
    let held = held.clone();
    match value {
        Value::Map(mut m) => {
            m.insert(rule.attribute.clone(), Value::String(held));
            Value::Map(m)
        }
        other => other,
    }
}

/// Sets one attribute of an action's planned value.
fn set_attr(after: &mut Option<Value>, name: &str, v: Value) {
    if let Some(Value::Map(m)) = after {
        m.insert(name.to_string(), v);
    }
}

/// Which live object (current, deposed, or of the kept previous
/// generation) holds each physical name, by type.
fn held_names(state: &State, schemas: &Schemas) -> HashMap<(SmolStr, SmolStr), InstanceAddr> {
    let mut out = HashMap::new();
    let previous = state.previous.iter().flat_map(|p| p.resources.iter());
    for r in state
        .resources
        .values()
        .chain(&state.deposed)
        .chain(previous)
    {
        let Some((_, schema)) = schemas.resource(&r.type_name) else {
            continue;
        };
        let Some(rule) = &schema.physical_name else {
            continue;
        };
        if let Some(Value::String(n)) = r.attributes.get(&rule.attribute).map(Value::unmarked) {
            out.insert((r.type_name.clone(), n.clone()), r.addr.clone());
        }
    }
    out
}

/// What an unknown `count` / `for_each` means for these options: in
/// `kiln validate` (data sources unknown), one stand-in instance.
fn unknowns(options: &PlanOptions) -> Unknowns {
    if options.data_unknown {
        Unknowns::OneInstance
    } else {
        Unknowns::Refuse
    }
}
