//! Module expansion: every instance of every module call becomes part of one
//! flat configuration, before the dependency graph is built.
//!
//! The root module's items keep their indexes. Each module instance adds its
//! locals and resources, plus one local per input variable (its value is the
//! call's argument, evaluated in the calling instance, converted to the
//! variable's type) and one per output (evaluated in the instance). A
//! reference `module.web` becomes edges to the output locals of the call's
//! instances, so the graph, the planner and the apply-time evaluator treat
//! modules with the machinery they already have for locals and resources.
//! Names are looked up per module instance ([`Meta`]).
//!
//! Module `count` and `for_each` are expanded here, so they must be known
//! before anything is planned: they may use variables, locals and module
//! inputs, not resource attributes (those read as unknown).

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use kiln_config::{Config, Expr, Local, ModuleCall, Scope, Variable, eval};
use kiln_diag::Diagnostics;
use kiln_model::{InstanceKey, ModuleStep, ResourceAddr, Value};

use crate::mode::{Mode, Unknowns};
use crate::scope::{cannot_expand, count_of, for_each_keys, list_for_each};

/// What a local of the flat configuration stands for.
#[derive(Debug, Clone)]
pub(crate) enum LocalKind {
    /// A `locals` entry.
    Plain,
    /// A module's input variable: the call's argument (or the default).
    Var { var: Box<Variable>, given: bool },
    /// A module's output.
    Output { sensitive: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct LocalMeta {
    /// The module instance the local belongs to.
    pub mi: usize,
    pub kind: LocalKind,
}

/// One module call made by a module instance.
#[derive(Debug, Clone)]
pub(crate) struct CallInst {
    pub name: String,
    pub mode: Mode,
    /// The call's instances, in key order.
    pub children: Vec<usize>,
}

/// One module instance (index 0 is the root module).
#[derive(Debug, Clone, Default)]
pub(crate) struct ModInst {
    pub path: Vec<ModuleStep>,
    pub parent: usize,
    /// The module's directory relative to the root's.
    pub dir: String,
    /// `count.index` / `each` for the call's arguments.
    pub key: InstanceKey,
    pub each: Option<(Value, Value)>,
    pub vars: HashMap<String, usize>,
    pub locals: HashMap<String, usize>,
    pub resources: HashMap<ResourceAddr, usize>,
    /// Output locals, by name (sorted).
    pub outputs: BTreeMap<String, usize>,
    /// The `depends_on` of this module's call and of every call above it,
    /// each with the instance it is resolved in: everything in the module
    /// waits for them.
    pub depends_on: Vec<(usize, kiln_config::Reference)>,
    pub calls: Vec<CallInst>,
}

/// Per-item module information of a flat configuration. Empty vectors mean
/// "everything is in the root module" (no modules: no cost).
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub locals: Vec<LocalMeta>,
    pub resources: Vec<usize>,
    pub insts: Vec<ModInst>,
    pub by_path: HashMap<Vec<ModuleStep>, usize>,
}

impl Meta {
    /// The module instance of resource `r`.
    pub(crate) fn resource_mi(&self, r: usize) -> usize {
        self.resources.get(r).copied().unwrap_or(0)
    }

    /// How many of the flat configuration's `len` resources are the root
    /// module's: they come first, the module instances' after them.
    pub(crate) fn root_resources(&self, len: usize) -> usize {
        if self.resources.is_empty() {
            len
        } else {
            self.resources.iter().take_while(|&&mi| mi == 0).count()
        }
    }

    /// Whether local `l` of the flat configuration is a `locals` entry of
    /// module instance `mi` (not a module's input or output).
    pub(crate) fn is_local_of(&self, l: usize, mi: usize) -> bool {
        match self.locals.get(l) {
            Some(m) => m.mi == mi && matches!(m.kind, LocalKind::Plain),
            None => mi == 0,
        }
    }

    /// The module instance of local `l`.
    pub(crate) fn local_mi(&self, l: usize) -> usize {
        self.locals.get(l).map_or(0, |m| m.mi)
    }

    /// Where local `l`'s expression is evaluated: its module instance, or
    /// for an input variable the calling instance (with the call's
    /// `count.index` / `each`).
    pub(crate) fn local_eval(&self, l: usize) -> (usize, InstanceKey, Option<(Value, Value)>) {
        match self.locals.get(l) {
            Some(LocalMeta {
                mi,
                kind: LocalKind::Var { .. },
            }) => {
                let inst = &self.insts[*mi];
                (inst.parent, inst.key.clone(), inst.each.clone())
            }
            Some(m) => (m.mi, InstanceKey::None, None),
            None => (0, InstanceKey::None, None),
        }
    }

    /// `module.web["a"].module.inner` for instance `mi`.
    pub(crate) fn display_path(&self, mi: usize) -> String {
        self.path(mi)
            .iter()
            .map(|s| format!("module.{}{}", s.name, s.key))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Every module instance's path, by its call path (the module names):
    /// where a child module's `moved` statements apply.
    pub(crate) fn instances_by_call(
        &self,
    ) -> std::collections::BTreeMap<Vec<String>, Vec<Vec<ModuleStep>>> {
        let mut out: std::collections::BTreeMap<Vec<String>, Vec<Vec<ModuleStep>>> =
            Default::default();
        for inst in self.insts.iter().skip(1) {
            let names = inst.path.iter().map(|s| s.name.to_string()).collect();
            out.entry(names).or_default().push(inst.path.clone());
        }
        out
    }

    pub(crate) fn path(&self, mi: usize) -> Vec<ModuleStep> {
        self.insts
            .get(mi)
            .map(|i| i.path.clone())
            .unwrap_or_default()
    }

    /// `path.X` in instance `mi`: `module` is its directory relative to the
    /// root module's (`.` for the root), `root` is `.` — Terraform's values
    /// when run in the configuration directory, never a machine path, so
    /// plans and states do not depend on where the configuration is checked
    /// out — and `cwd` is the configuration directory, absolute (`root`).
    pub(crate) fn path_value(&self, root: &str, which: &str, mi: usize) -> String {
        match (which, self.insts.get(mi)) {
            ("cwd", _) => root.to_string(),
            ("module", Some(i)) if !i.dir.is_empty() => i.dir.clone(),
            _ => ".".to_string(),
        }
    }

    /// The value of `module.NAME` in instance `mi`, from the output locals'
    /// values.
    pub(crate) fn module_value(
        &self,
        mi: usize,
        name: &str,
        local: impl Fn(usize) -> Value,
    ) -> Option<Value> {
        let call = self.insts.get(mi)?.calls.iter().find(|c| c.name == name)?;
        let object = |ci: usize| {
            Value::Map(
                self.insts[ci]
                    .outputs
                    .iter()
                    .map(|(n, &l)| (n.clone(), local(l)))
                    .collect(),
            )
        };
        Some(match call.mode {
            Mode::Single => call.children.first().map_or(Value::Unknown, |&c| object(c)),
            Mode::Count => Value::List(call.children.iter().map(|&c| object(c)).collect()),
            Mode::ForEach => Value::Map(
                call.children
                    .iter()
                    .filter_map(|&c| match &self.insts[c].key {
                        InstanceKey::Str(k) => Some((k.clone(), object(c))),
                        _ => None,
                    })
                    .collect(),
            ),
        })
    }

    /// The outputs the module of call `name` in `mi` declares (empty if
    /// the call has no instances).
    pub(crate) fn call_output_names(&self, mi: usize, name: &str) -> Vec<&str> {
        self.insts
            .get(mi)
            .and_then(|i| i.calls.iter().find(|c| c.name == name))
            .and_then(|c| c.children.first())
            .map(|&c| self.insts[c].outputs.keys().map(|k| k.as_str()).collect())
            .unwrap_or_default()
    }

    /// Every resource in the instances of call `name` in `mi`, nested
    /// modules included.
    pub(crate) fn call_resources(&self, mi: usize, name: &str) -> Option<Vec<usize>> {
        let call = self.insts.get(mi)?.calls.iter().find(|c| c.name == name)?;
        let within = |mut m: usize| loop {
            if call.children.contains(&m) {
                return true;
            }
            if m == 0 {
                return false;
            }
            m = self.insts[m].parent;
        };
        Some(
            (0..self.resources.len())
                .filter(|&r| within(self.resources[r]))
                .collect(),
        )
    }

    /// The output locals of every instance of call `name` in `mi`.
    pub(crate) fn call_outputs(&self, mi: usize, name: &str) -> Option<Vec<usize>> {
        let call = self.insts.get(mi)?.calls.iter().find(|c| c.name == name)?;
        Some(
            call.children
                .iter()
                .flat_map(|&c| self.insts[c].outputs.values().copied())
                .collect(),
        )
    }
}

/// Converts a module input's raw value (the argument, or None for the
/// default) to the variable's type, and checks its validation rules.
pub(crate) fn input_value(
    var: &Variable,
    given: Option<Value>,
    at: &Expr,
    owner: &str,
) -> Result<Value, Diagnostics> {
    let value = match (given, &var.default) {
        (Some(v), _) if !v.is_null() || var.nullable => v,
        (_, Some(d)) => d.clone(),
        (Some(_), None) | (None, None) => Value::Null,
    };
    if value.is_null() && !var.nullable {
        return Err(at
            .loc
            .error(format!(
                "invalid value for input \"{}\" of {owner}: it must not be null",
                var.name
            ))
            .into());
    }
    if !value.is_known() {
        return Ok(if var.sensitive {
            value.sensitive()
        } else {
            value
        });
    }
    let value = match &var.ty {
        Some(ty) => kiln_config::convert_constraint(value, ty, &var.shape).map_err(|e| {
            Diagnostics::from(at.loc.error(format!(
                "invalid value for input \"{}\" of {owner}: {e}",
                var.name
            )))
        })?,
        None => value,
    };
    let mut diags = Diagnostics::new();
    crate::vars::check_rules(var, &value, owner, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(if var.sensitive {
        value.sensitive()
    } else {
        value
    })
}

/// Expands `config`'s module calls into a flat configuration. `vars` are
/// the root variables' values.
pub(crate) fn expand<'c>(
    config: &'c Config,
    vars: &[Value],
    root_dir: &str,
    unknowns: Unknowns,
) -> Result<(Cow<'c, Config>, Meta), Diagnostics> {
    if config.modules.is_empty() {
        return Ok((Cow::Borrowed(config), Meta::default()));
    }
    let mut flat = config.clone();
    flat.modules.clear();
    let mut x = Expander {
        flat,
        meta: Meta::default(),
        vars,
        root_dir,
        unknowns,
        diags: Diagnostics::new(),
    };
    let root = ModInst {
        locals: config
            .locals
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.clone(), i))
            .collect(),
        resources: config
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.addr.clone(), i))
            .collect(),
        ..ModInst::default()
    };
    x.meta.insts.push(root);
    x.meta.by_path.insert(Vec::new(), 0);
    x.meta.locals = (0..config.locals.len())
        .map(|_| LocalMeta {
            mi: 0,
            kind: LocalKind::Plain,
        })
        .collect();
    x.meta.resources = vec![0; config.resources.len()];
    x.calls(0, config);
    if x.diags.has_errors() {
        return Err(x.diags);
    }
    Ok((Cow::Owned(x.flat), x.meta))
}

struct Expander<'v> {
    flat: Config,
    meta: Meta,
    vars: &'v [Value],
    root_dir: &'v str,
    unknowns: Unknowns,
    diags: Diagnostics,
}

impl Expander<'_> {
    /// Expands the module calls `module` (the module of instance `mi`) makes.
    fn calls(&mut self, mi: usize, module: &Config) {
        for call in &module.modules {
            let Some(child) = &call.config else { continue };
            let (mode, keys) = match self.keys(mi, call) {
                Some(k) => k,
                None => continue,
            };
            let mut children = Vec::with_capacity(keys.len());
            for (key, each) in keys {
                let ci = self.instance(mi, call, child, key, each);
                children.push(ci);
            }
            self.meta.insts[mi].calls.push(CallInst {
                name: call.name.clone(),
                mode,
                children: children.clone(),
            });
            for ci in children {
                self.calls(ci, child);
            }
        }
    }

    /// The call's instance keys, from its count or for_each evaluated now.
    #[allow(clippy::type_complexity)]
    fn keys(
        &mut self,
        mi: usize,
        call: &ModuleCall,
    ) -> Option<(Mode, Vec<(InstanceKey, Option<(Value, Value)>)>)> {
        let scope = PreScope {
            x: self,
            mi,
            key: InstanceKey::None,
            each: None,
            depth: Cell::new(0),
        };
        let stand_in = |mode| Some((mode, vec![Unknowns::stand_in(mode)]));
        if let Some(expr) = &call.count {
            let v = eval(expr, &scope);
            if self.unknowns == Unknowns::OneInstance
                && v.as_ref().is_ok_and(|v| !v.unmarked().is_known())
            {
                return stand_in(Mode::Count);
            }
            return match v.map(|v| count_of(&v).map_err(|e| cannot_expand(expr, e))) {
                Ok(Ok(n)) => Some((
                    Mode::Count,
                    (0..n).map(|i| (InstanceKey::Int(i), None)).collect(),
                )),
                Ok(Err(d)) => {
                    self.diags.push(d);
                    None
                }
                Err(d) => {
                    self.diags.extend(d);
                    None
                }
            };
        }
        if let Some(expr) = &call.for_each {
            let root = (mi == 0).then_some(self.flat.variables.as_slice());
            if let Some(d) = list_for_each(expr, root) {
                self.diags.push(d);
                return None;
            }
            let v = eval(expr, &scope);
            if self.unknowns == Unknowns::OneInstance && v.as_ref().is_ok_and(|v| !v.is_known()) {
                return stand_in(Mode::ForEach);
            }
            return match v.map(|v| for_each_keys(&v).map_err(|e| cannot_expand(expr, e))) {
                Ok(Ok(keys)) => Some((
                    Mode::ForEach,
                    keys.into_iter()
                        .map(|(k, v)| (InstanceKey::Str(k.clone()), Some((Value::String(k), v))))
                        .collect(),
                )),
                Ok(Err(d)) => {
                    self.diags.push(d);
                    None
                }
                Err(d) => {
                    self.diags.extend(d);
                    None
                }
            };
        }
        Some((Mode::Single, vec![(InstanceKey::None, None)]))
    }

    /// Adds one instance of `child` called by `call` from instance `mi`.
    fn instance(
        &mut self,
        mi: usize,
        call: &ModuleCall,
        child: &Config,
        key: InstanceKey,
        each: Option<(Value, Value)>,
    ) -> usize {
        let ci = self.meta.insts.len();
        let mut path = self.meta.insts[mi].path.clone();
        path.push(ModuleStep {
            name: call.name.as_str().into(),
            key: key.clone(),
        });
        self.meta.by_path.insert(path.clone(), ci);
        let mut depends_on = self.meta.insts[mi].depends_on.clone();
        depends_on.extend(call.depends_on.iter().map(|r| (mi, r.clone())));
        let mut inst = ModInst {
            path,
            parent: mi,
            depends_on,
            dir: child.dir.clone(),
            key,
            each,
            ..ModInst::default()
        };
        for v in &child.variables {
            let arg = call.inputs.iter().find(|a| a.name == v.name);
            let (expr, loc) = match arg {
                Some(a) => (a.expr.clone(), a.loc.clone()),
                None => (null_expr(), v.loc.clone()),
            };
            inst.vars.insert(
                v.name.clone(),
                self.push_local(
                    Local {
                        name: v.name.clone(),
                        expr,
                        loc,
                    },
                    ci,
                    LocalKind::Var {
                        var: Box::new(v.clone()),
                        given: arg.is_some(),
                    },
                ),
            );
        }
        for l in &child.locals {
            inst.locals.insert(
                l.name.clone(),
                self.push_local(l.clone(), ci, LocalKind::Plain),
            );
        }
        for o in &child.outputs {
            let local = Local {
                name: o.name.clone(),
                expr: o.expr.clone(),
                loc: o.loc.clone(),
            };
            let l = self.push_local(
                local,
                ci,
                LocalKind::Output {
                    sensitive: o.sensitive,
                },
            );
            inst.outputs.insert(o.name.clone(), l);
        }
        for r in &child.resources {
            inst.resources
                .insert(r.addr.clone(), self.flat.resources.len());
            self.flat.resources.push(r.clone());
            self.meta.resources.push(ci);
        }
        self.meta.insts.push(inst);
        ci
    }

    fn push_local(&mut self, l: Local, mi: usize, kind: LocalKind) -> usize {
        self.flat.locals.push(l);
        self.meta.locals.push(LocalMeta { mi, kind });
        self.flat.locals.len() - 1
    }
}

fn null_expr() -> Expr {
    kiln_config::parse_expr("<default>", "null").expect("null parses")
}

/// What a module's `count` / `for_each` sees while expanding: variables,
/// locals and module inputs (evaluated on demand); resources and module
/// outputs are unknown.
struct PreScope<'x, 'v> {
    x: &'x Expander<'v>,
    mi: usize,
    key: InstanceKey,
    each: Option<(Value, Value)>,
    depth: Cell<usize>,
}

const MAX_DEPTH: usize = 64;

impl PreScope<'_, '_> {
    fn local_value(&self, l: usize) -> Value {
        if self.depth.get() > MAX_DEPTH {
            // A cycle: the dependency graph reports it.
            return Value::Unknown;
        }
        let (mi, key, each) = self.x.meta.local_eval(l);
        let scope = PreScope {
            x: self.x,
            mi,
            key,
            each,
            depth: Cell::new(self.depth.get() + 1),
        };
        let raw = eval(&self.x.flat.locals[l].expr, &scope).unwrap_or(Value::Unknown);
        match &self.x.meta.locals[l].kind {
            LocalKind::Var { var, given } => input_value(
                var,
                given.then_some(raw),
                &self.x.flat.locals[l].expr,
                &self.x.meta.display_path(self.x.meta.local_mi(l)),
            )
            .unwrap_or(Value::Unknown),
            _ => raw,
        }
    }
}

impl Scope for PreScope<'_, '_> {
    fn variable(&self, name: &str) -> Option<Value> {
        if self.mi == 0 {
            let i = self.x.flat.variables.iter().position(|v| v.name == name)?;
            return self.x.vars.get(i).cloned();
        }
        let l = *self.x.meta.insts[self.mi].vars.get(name)?;
        Some(self.local_value(l))
    }

    fn local(&self, name: &str) -> Option<Value> {
        let l = *self.x.meta.insts[self.mi].locals.get(name)?;
        Some(self.local_value(l))
    }

    fn resource(&self, addr: &ResourceAddr) -> Option<Value> {
        self.x.meta.insts[self.mi]
            .resources
            .contains_key(addr)
            .then_some(Value::Unknown)
    }

    fn module(&self, name: &str) -> Option<Value> {
        self.x.meta.insts[self.mi]
            .calls
            .iter()
            .any(|c| c.name == name)
            .then_some(Value::Unknown)
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
        Some(self.x.meta.path_value(self.x.root_dir, which, self.mi))
    }
}

/// A local's value once its expression is evaluated: a module input is
/// converted and validated, a sensitive output marked.
pub(crate) fn finish_local(
    meta: &Meta,
    l: usize,
    raw: Value,
    at: &Expr,
) -> Result<Value, Diagnostics> {
    match meta.locals.get(l).map(|m| &m.kind) {
        Some(LocalKind::Var { var, given }) => input_value(
            var,
            given.then_some(raw),
            at,
            &meta.display_path(meta.local_mi(l)),
        ),
        Some(LocalKind::Output { sensitive: true }) => Ok(raw.sensitive()),
        _ => Ok(raw),
    }
}

/// `(name, text)` of every file of the configuration and the modules it
/// calls, each once, in a stable order (root first).
pub(crate) fn all_files(config: &Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    fn walk(
        c: &Config,
        out: &mut Vec<(String, String)>,
        seen: &mut std::collections::HashSet<String>,
    ) {
        for f in &c.files {
            if seen.insert(f.name.clone()) {
                out.push((f.name.clone(), f.text.clone()));
            }
        }
        for m in &c.modules {
            if let Some(child) = &m.config {
                walk(child, out, seen);
            }
        }
    }
    walk(config, &mut out, &mut seen);
    out
}
