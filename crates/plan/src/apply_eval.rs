//! Apply-time evaluation: once an action's dependencies have been applied,
//! its configuration is evaluated again with their real values, so every
//! unknown of the plan becomes known, and every value the plan showed as
//! known is checked to be unchanged.
//!
//! The configuration is parsed and analysed once, in [`ApplyEvaluator::new`];
//! each [`ApplyEvaluator::final_attributes`] call costs one resource body
//! (plus the values it refers to), however large the plan. Locals are
//! evaluated lazily, on first use, because they may refer to resources that
//! are applied only later; a local's value is kept once it is fully known.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_config::{Config, NameKind, Scope, eval, eval_body};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{
    InstanceAddr, InstanceKey, Presence, ResourceAddr, ResourceMode, ResourceSchema, Schemas,
    SmolStr, Value,
};

use crate::files::FileReads;
use crate::graph::{self, Analysis, Node, body_ref};
use crate::mode::Mode;
use crate::planner::kept_object;
use crate::scope::{for_each_keys, project, project_owned, resource_value};
use crate::values::{first_inconsistency, mark_sensitive};
use crate::{
    Action, ActionKind, DataRead, GenerationChange, PLAN_FORMAT_VERSION, Plan, Reason, expand, vars,
};

/// Re-evaluates planned actions with the values apply produced. It borrows
/// the plan's actions (at 100,000 resources a copy of their before and after
/// values would be hundreds of megabytes).
pub struct ApplyEvaluator<'p> {
    config: Arc<Config>,
    an: Option<Analysis>,
    schemas: BTreeMap<String, ResourceSchema>,
    vars: Vec<Value>,
    actions: &'p [Action],
    /// Per action: the resource block it is an instance of (None for deletes).
    action_resource: Vec<Option<usize>>,
    /// Per resource block: the actions of its instances, in key order (for
    /// a data source, indexes into `data`).
    instances: Vec<Vec<usize>>,
    /// The data source instances' keys and values, as planned (unknown
    /// for one read during apply, until it is read).
    data: Vec<(InstanceKey, Value)>,
    /// The data source instances the plan defers to apply.
    pending: Vec<PendingRead>,
    data_schemas: BTreeMap<String, ResourceSchema>,
    /// Locals evaluated so far (kept once fully known).
    locals: RefCell<Vec<Option<Value>>>,
    /// Per `for_each` resource: its keys' values (kept once fully known).
    each_values: RefCell<Vec<Option<BTreeMap<SmolStr, Value>>>>,
    env: String,
    root_dir: String,
    /// The plan has no configuration (a rollback): planned values are final.
    literal: bool,
    files: FileReads,
}

impl std::fmt::Debug for ApplyEvaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyEvaluator")
            .field("actions", &self.actions.len())
            .finish_non_exhaustive()
    }
}

impl<'p> ApplyEvaluator<'p> {
    /// Prepares to evaluate `plan`: re-parses and analyses its configuration
    /// once. `schemas` must hold the resource types the plan uses (the same
    /// schemas the plan was made with).
    pub fn new(plan: &'p Plan, schemas: &Schemas) -> Result<ApplyEvaluator<'p>, Diagnostics> {
        ApplyEvaluator::with_config(plan, schemas, None)
    }

    /// As [`ApplyEvaluator::new`], with the plan's configuration already
    /// parsed (what `plan.source.files` parse to: the command that just made
    /// the plan holds it), so a large configuration is not parsed again.
    pub fn with_config(
        plan: &'p Plan,
        schemas: &Schemas,
        parsed: Option<Arc<Config>>,
    ) -> Result<ApplyEvaluator<'p>, Diagnostics> {
        if plan.format_version > PLAN_FORMAT_VERSION {
            return Err(Diagnostic::error(format!(
                "the plan has format version {}, this kiln reads up to {PLAN_FORMAT_VERSION}; upgrade kiln or plan again",
                plan.format_version
            ))
            .into());
        }
        let mut ev = ApplyEvaluator {
            config: Arc::default(),
            an: None,
            schemas: BTreeMap::new(),
            vars: Vec::new(),
            actions: &plan.actions,
            action_resource: vec![None; plan.actions.len()],
            instances: Vec::new(),
            data: Vec::new(),
            pending: Vec::new(),
            data_schemas: BTreeMap::new(),
            locals: RefCell::new(Vec::new()),
            each_values: RefCell::new(Vec::new()),
            env: plan.env.clone(),
            root_dir: plan.source.root_dir.clone(),
            literal: false,
            files: plan.source.file_reads.clone(),
        };
        // A rollback plan has no configuration: every planned value is known
        // and is applied as planned.
        if matches!(plan.generations, Some(GenerationChange::Swap { .. })) {
            ev.literal = true;
            return Ok(ev);
        }
        // A plan that only deletes (`kiln destroy`) needs no configuration:
        // it must apply even if the configuration no longer evaluates.
        let evaluates = plan.actions.iter().any(|a| {
            matches!(
                a.kind,
                ActionKind::Create | ActionKind::Update | ActionKind::Replace
            )
        }) || !plan.outputs.is_empty();
        if !evaluates {
            return Ok(ev);
        }
        let (config, mut diags) = match parsed {
            Some(config) => (config, Diagnostics::new()),
            None => {
                let (config, diags) = kiln_config::parse_embedded(&plan.source.files);
                if diags.has_errors() {
                    return Err(diags);
                }
                (Arc::new(config), diags)
            }
        };
        ev.vars = vars::variable_values(&config, &plan.variables(), &mut diags);
        if diags.has_errors() {
            return Err(diags);
        }
        let (flat, meta) = expand::expand(
            &config,
            &ev.vars,
            &plan.source.root_dir,
            crate::mode::Unknowns::Refuse,
        )?;
        let config = match flat {
            Cow::Owned(flat) => Arc::new(flat),
            Cow::Borrowed(_) => config.clone(),
        };
        let an = graph::analyze(&config, meta)?;
        ev.instances = vec![Vec::new(); config.resources.len()];
        for (i, a) in ev.actions.iter().enumerate() {
            let deposed = a
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::Deposed { .. }));
            if a.kind == ActionKind::Delete || deposed {
                continue;
            }
            let block = an
                .meta
                .by_path
                .get(&a.addr.module)
                .copied()
                .or(a.addr.module.is_empty().then_some(0))
                .and_then(|mi| an.resource_ix(mi, &a.addr.resource));
            match block {
                Some(r) => {
                    ev.action_resource[i] = Some(r);
                    ev.instances[r].push(i);
                }
                None => {
                    return Err(Diagnostic::error(format!(
                        "the plan's configuration has no block for {}",
                        a.addr
                    ))
                    .with_detail("the saved plan is corrupt; plan again")
                    .into());
                }
            }
        }
        let actions = &ev.actions;
        for list in &mut ev.instances {
            list.sort_by(|&x, &y| actions[x].addr.key.cmp(&actions[y].addr.key));
        }
        for (addr, value) in &plan.source.data {
            let block = an
                .meta
                .by_path
                .get(&addr.module)
                .copied()
                .or(addr.module.is_empty().then_some(0))
                .and_then(|mi| an.resource_ix(mi, &addr.resource));
            if let Some(r) = block {
                ev.instances[r].push(ev.data.len());
                ev.data.push((addr.key.clone(), value.clone()));
            }
        }
        for (addr, provider) in &plan.source.deferred_data {
            let block = an
                .meta
                .by_path
                .get(&addr.module)
                .copied()
                .or(addr.module.is_empty().then_some(0))
                .and_then(|mi| an.resource_ix(mi, &addr.resource));
            if let Some(r) = block {
                ev.pending.push(PendingRead {
                    addr: addr.clone(),
                    provider: provider.clone(),
                    resource: r,
                    data: ev.data.len(),
                    read: false,
                });
                ev.instances[r].push(ev.data.len());
                ev.data.push((addr.key.clone(), Value::Unknown));
            }
        }
        for (r, res) in config.resources.iter().enumerate() {
            if res.addr.mode == ResourceMode::Data {
                let data = &ev.data;
                ev.instances[r].sort_by(|&x, &y| data[x].0.cmp(&data[y].0));
            }
        }
        for r in &config.resources {
            if r.addr.mode == ResourceMode::Data {
                if !ev.data_schemas.contains_key(r.addr.ty.as_str())
                    && let Some((_, s)) = schemas.data_source(&r.addr.ty)
                {
                    ev.data_schemas.insert(r.addr.ty.to_string(), s.clone());
                }
            } else if !ev.schemas.contains_key(r.addr.ty.as_str())
                && let Some((_, s)) = schemas.resource(&r.addr.ty)
            {
                ev.schemas.insert(r.addr.ty.to_string(), s.clone());
            }
        }
        ev.locals = RefCell::new(vec![None; config.locals.len()]);
        ev.each_values = RefCell::new(vec![None; config.resources.len()]);
        ev.config = config;
        ev.an = Some(an);
        Ok(ev)
    }

    /// The final attributes of action `action` (an index into `plan.actions`),
    /// fully known. `applied` gives the attributes of any instance whose step
    /// has finished (or which did not change). Fails if a value that the plan
    /// showed as known came out different.
    pub fn final_attributes(
        &mut self,
        action: usize,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<Value, Diagnostics> {
        let Some(a) = self.actions.get(action) else {
            return Err(Diagnostic::error(format!("the plan has no action {action}")).into());
        };
        if self.literal {
            return match &a.after {
                Some(v) if v.is_known() && a.kind == ActionKind::Update => Ok(v.clone()),
                _ => Err(Diagnostic::error(format!(
                    "{} has no final attributes in a plan without configuration; plan again",
                    a.addr
                ))
                .into()),
            };
        }
        let (Some(an), Some(r)) = (&self.an, self.action_resource[action]) else {
            return Err(Diagnostic::error(format!(
                "{} is deleted, it has no final attributes",
                a.addr
            ))
            .into());
        };
        let res = &self.config.resources[r];
        let Some(schema) = self.schemas.get(res.addr.ty.as_str()) else {
            return Err(Diagnostic::error(format!(
                "no provider offers resource type \"{}\" any more",
                res.addr.ty
            ))
            .with_span(res.loc.span())
            .into());
        };
        let each = self.each(r, &a.addr.key, applied)?;
        let scope = ApplyScope {
            ev: self,
            an,
            applied,
            mi: an.meta.resource_mi(r),
            current: Some(r),
            key: a.addr.key.clone(),
            each,
            self_value: None,
        };
        let mut value = eval_body(&res.body, schema, &scope)?;
        // The physical name is the plan's choice (the written one as the
        // environment has it, or the name derived from it for this
        // generation).
        if let Some(rule) = &schema.physical_name
            && let Some(Value::String(planned)) = a
                .after
                .as_ref()
                .and_then(|p| p.get(&rule.attribute))
                .map(Value::unmarked)
            && let Value::Map(m) = &mut value
            && let Some(Value::String(written)) = m.get(&rule.attribute).map(Value::unmarked)
            && (rule.is_form_of(planned, &rule.in_env(written, &self.env), a.generation)
                || planned == written)
        {
            m.insert(rule.attribute.clone(), Value::String(planned.clone()));
        }
        let value = match a.kind {
            ActionKind::Create | ActionKind::Replace => final_new_object(value, schema),
            _ => kept_object(a.before.as_ref().unwrap_or(&Value::Null), &value, schema),
        };
        if let (Some(planned), Value::Map(got)) = (&a.after, &value) {
            let null = Value::Null;
            let planned = planned.as_map().into_iter().flatten();
            for (k, p) in planned {
                // A write-only argument is planned as null and sent as given.
                if schema
                    .attributes
                    .get(k.as_str())
                    .is_some_and(|a| a.write_only)
                {
                    continue;
                }
                // A computed attribute the plan predicted from the
                // configuration: the configuration must predict the same.
                if let Some(attr) = schema.attributes.get(k.as_str())
                    && attr.presence == Presence::Computed
                    && let Some(rule) = &attr.planned
                {
                    if !matches!(p, Value::Unknown)
                        && rule.from_config(got, &attr.ty).as_ref() != Some(p)
                    {
                        return Err(inconsistent(&a.addr, k, p).into());
                    }
                    continue;
                }
                if let Some(path) = first_inconsistency(k, p, got.get(k).unwrap_or(&null)) {
                    return Err(inconsistent(&a.addr, &path, planned_at(p, k, &path)).into());
                }
            }
        }
        if !value.is_known() {
            return Err(Diagnostic::error(format!(
                "{} is still not fully known after its dependencies were applied",
                a.addr
            ))
            .with_detail("a value it refers to was not produced by apply; this is a bug in kiln")
            .into());
        }
        Ok(value)
    }

    /// Checks the `postcondition` blocks of action `action` against its new
    /// object (`self`), once it has been created or updated.
    pub fn postconditions(
        &mut self,
        action: usize,
        new_object: &Value,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<(), Diagnostics> {
        let (Some(an), Some(Some(r))) = (&self.an, self.action_resource.get(action)) else {
            return Ok(());
        };
        let r = *r;
        let res = &self.config.resources[r];
        if res.lifecycle.postconditions.is_empty() {
            return Ok(());
        }
        let a = &self.actions[action];
        let each = self.each(r, &a.addr.key, applied)?;
        let scope = ApplyScope {
            ev: self,
            an,
            applied,
            mi: an.meta.resource_mi(r),
            current: Some(r),
            key: a.addr.key.clone(),
            each,
            self_value: Some(new_object.clone()),
        };
        crate::planner::check_conditions(&res.lifecycle.postconditions, &scope, "postcondition")
    }

    /// The outputs' final values once every step has finished.
    pub fn outputs(
        &mut self,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<BTreeMap<String, Value>, Diagnostics> {
        let Some(an) = &self.an else {
            return Ok(BTreeMap::new());
        };
        let scope = ApplyScope {
            ev: self,
            an,
            applied,
            mi: 0,
            current: None,
            key: InstanceKey::None,
            each: None,
            self_value: None,
        };
        let mut out = BTreeMap::new();
        let mut diags = Diagnostics::new();
        for o in &self.config.outputs {
            match eval(&o.expr, &scope) {
                Ok(v) if !v.is_known() => diags.push(o.expr.loc.error(format!(
                    "output \"{}\" is still not known after apply",
                    o.name
                ))),
                Ok(v) => {
                    out.insert(
                        o.name.clone(),
                        if o.sensitive { mark_sensitive(v) } else { v },
                    );
                }
                Err(d) => diags.extend(d),
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(out)
    }

    /// The data source instances deferred to apply that are not read yet:
    /// indexes for [`ApplyEvaluator::read_request`].
    pub fn unread(&self) -> Vec<usize> {
        (0..self.pending.len())
            .filter(|&p| !self.pending[p].read)
            .collect()
    }

    /// What reading deferred data source instance `p` takes, once every
    /// value its configuration uses is known (`None` until then): its
    /// address, provider, type and configuration.
    ///
    /// # Errors
    /// The configuration does not evaluate.
    pub fn read_request(
        &self,
        p: usize,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<Option<DataRead>, Diagnostics> {
        let (Some(an), Some(pending)) = (&self.an, self.pending.get(p)) else {
            return Ok(None);
        };
        let r = pending.resource;
        let res = &self.config.resources[r];
        let Some(schema) = self.data_schemas.get(res.addr.ty.as_str()) else {
            return Err(res
                .loc
                .error(format!(
                    "no provider offers data source type \"{}\" any more",
                    res.addr.ty
                ))
                .into());
        };
        let each = self.each(r, &pending.addr.key, applied)?;
        let scope = ApplyScope {
            ev: self,
            an,
            applied,
            mi: an.meta.resource_mi(r),
            current: Some(r),
            key: pending.addr.key.clone(),
            each,
            self_value: None,
        };
        let config = eval_body(&res.body, schema, &scope)?;
        if !config.is_known() {
            return Ok(None);
        }
        Ok(Some(DataRead {
            addr: pending.addr.clone(),
            type_name: res.addr.ty.to_string(),
            provider: pending.provider.clone(),
            config,
        }))
    }

    /// Records what reading deferred instance `p` returned: what refers to
    /// it sees this value from now on.
    pub fn set_read(&mut self, p: usize, value: Value) {
        if let Some(pending) = self.pending.get_mut(p) {
            pending.read = true;
            let schema = self
                .data_schemas
                .get(self.config.resources[pending.resource].addr.ty.as_str());
            self.data[pending.data].1 = crate::planner::mark_schema_sensitive(value, schema);
        }
    }

    /// `each` (key and value) of instance `key` of resource `r`: set for a
    /// `for_each` resource's instances only.
    fn each(
        &self,
        r: usize,
        key: &InstanceKey,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<Option<(Value, Value)>, Diagnostics> {
        let Some(an) = &self.an else {
            return Ok(None);
        };
        match (key, an.modes[r]) {
            (InstanceKey::Str(k), Mode::ForEach) => {
                let v = self.each_value(r, k, applied)?;
                Ok(Some((Value::String(k.clone()), v)))
            }
            _ => Ok(None),
        }
    }

    /// `each.value` of instance `key` of `for_each` resource `r`.
    fn each_value(
        &self,
        r: usize,
        key: &str,
        applied: &dyn Fn(&InstanceAddr) -> Option<Value>,
    ) -> Result<Value, Diagnostics> {
        if let Some(m) = &self.each_values.borrow()[r] {
            return Ok(m.get(key).cloned().unwrap_or(Value::Null));
        }
        let (Some(an), Some(expr)) = (&self.an, &self.config.resources[r].for_each) else {
            return Ok(Value::Null);
        };
        let scope = ApplyScope {
            ev: self,
            an,
            applied,
            mi: an.meta.resource_mi(r),
            current: None,
            key: InstanceKey::None,
            each: None,
            self_value: None,
        };
        let v = eval(expr, &scope)?;
        let keys = for_each_keys(&v).map_err(|e| expr.loc.error(e))?;
        let map: BTreeMap<SmolStr, Value> = keys.into_iter().collect();
        let value = map.get(key).cloned().unwrap_or(Value::Null);
        if map.values().all(Value::is_known) {
            self.each_values.borrow_mut()[r] = Some(map);
        }
        Ok(value)
    }
}

/// A data source instance whose read the plan deferred to apply.
#[derive(Debug)]
struct PendingRead {
    addr: InstanceAddr,
    provider: String,
    /// Its resource block.
    resource: usize,
    /// Its index in `data`.
    data: usize,
    read: bool,
}

/// The planned value at `path` (for the message), found under `key`.
fn planned_at<'v>(planned: &'v Value, key: &str, path: &str) -> &'v Value {
    let mut v = planned;
    let Some(rest) = path.strip_prefix(key) else {
        return v;
    };
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        match v.as_map().and_then(|m| m.get(part)) {
            Some(x) => v = x,
            None => return v,
        }
    }
    v
}

fn inconsistent(addr: &InstanceAddr, path: &str, planned: &Value) -> Diagnostic {
    Diagnostic::error(format!(
        "inconsistent final value for {addr}: {path} was planned as {planned} but apply computed something else"
    ))
    .with_detail(
        "a value the plan showed as known changed during apply: a provider produced a result other than what was planned, or the configuration changed since the plan was made; plan again",
    )
}

/// The final value of a new object: the configuration with sensitive marks;
/// what the provider computes stays null for it to fill in.
fn final_new_object(value: Value, schema: &ResourceSchema) -> Value {
    let mut m = match value {
        Value::Map(m) => m,
        _ => BTreeMap::new().into(),
    };
    for (name, a) in &schema.attributes {
        let v = m.entry(name.clone()).or_insert(Value::Null);
        if a.sensitive {
            *v = mark_sensitive(std::mem::take(v));
        }
    }
    Value::Map(m)
}

/// What an expression sees during apply.
struct ApplyScope<'e> {
    ev: &'e ApplyEvaluator<'e>,
    an: &'e Analysis,
    applied: &'e dyn Fn(&InstanceAddr) -> Option<Value>,
    /// The module instance the expression is in.
    mi: usize,
    current: Option<usize>,
    /// `self` in a postcondition.
    self_value: Option<Value>,
    key: InstanceKey,
    each: Option<(Value, Value)>,
}

impl ApplyScope<'_> {
    /// Local `i` of the flat configuration (a module input or output
    /// included), evaluated on first use and kept once fully known.
    fn local_value(&self, i: usize) -> Value {
        if let Some(v) = &self.ev.locals.borrow()[i] {
            return v.clone();
        }
        let (mi, key, each) = self.an.meta.local_eval(i);
        let scope = ApplyScope {
            ev: self.ev,
            an: self.an,
            applied: self.applied,
            mi,
            current: None,
            key,
            each,
            self_value: None,
        };
        let local = &self.ev.config.locals[i];
        // Errors were reported when planning; here they only leave the
        // value unknown, which the caller reports.
        let v = eval(&local.expr, &scope)
            .and_then(|v| expand::finish_local(&self.an.meta, i, v, &local.expr))
            .unwrap_or(Value::Unknown);
        if v.is_known() {
            self.ev.locals.borrow_mut()[i] = Some(v.clone());
        }
        v
    }
}

impl Scope for ApplyScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        match self.an.variable_node(self.mi, name)? {
            Node::Variable(i) => Some(self.ev.vars[i].clone()),
            Node::Local(l) => Some(self.local_value(l)),
            _ => None,
        }
    }

    fn local(&self, name: &str) -> Option<Value> {
        let i = self.an.local_ix(self.mi, name)?;
        Some(self.local_value(i))
    }

    fn module(&self, name: &str) -> Option<Value> {
        self.an
            .meta
            .module_value(self.mi, name, |l| self.local_value(l))
    }

    fn resource(&self, addr: &ResourceAddr) -> Option<Value> {
        let r = self.an.resource_ix(self.mi, addr)?;
        let (pick, attrs) = match self.current.and_then(|c| body_ref(self.an, c, r)) {
            Some(b) => (b.selector.resolve(&self.key), b.attributes.as_deref()),
            None => (None, None),
        };
        if addr.mode == ResourceMode::Data {
            let data = &self.ev.data;
            return Some(resource_value(
                self.an.modes[r],
                &self.ev.instances[r],
                |i| data[i].0.clone(),
                |i| project(&data[i].1, attrs),
                pick,
            ));
        }
        let actions = &self.ev.actions;
        Some(resource_value(
            self.an.modes[r],
            &self.ev.instances[r],
            |i| actions[i].addr.key.clone(),
            |i| {
                let a = &actions[i];
                match (self.applied)(&a.addr) {
                    Some(v) => project_owned(v, attrs),
                    None => a
                        .after
                        .as_ref()
                        .map_or(Value::Unknown, |v| project(v, attrs)),
                }
            },
            pick,
        ))
    }

    fn self_value(&self) -> Option<Value> {
        self.self_value.clone()
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
        Some(self.an.meta.path_value(&self.ev.root_dir, which, self.mi))
    }

    fn env(&self) -> String {
        self.ev.env.clone()
    }

    fn files(&self) -> &dyn kiln_config::FileSystem {
        &self.ev.files
    }

    fn names(&self, kind: NameKind) -> Vec<String> {
        graph::declared_names(&self.ev.config, kind)
    }
}
