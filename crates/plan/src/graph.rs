//! The dependency graph of a configuration: what refers to what, checked and
//! put in evaluation order.
//!
//! Every variable, local, resource and output is a node; an edge goes from a
//! node to each node it refers to. References to undeclared things and cycles
//! are errors (a cycle names every address in it). The analysis is shared by
//! the planner and by [`ApplyEvaluator`](crate::ApplyEvaluator), which is why
//! it holds indexes into the [`Config`] rather than borrowing it.

use std::collections::BTreeSet;

use kiln_config::{Body, Config, Expr, Reference, Subject};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::fxhash::{FxHashMap, map_with_capacity};
use kiln_model::{InstanceKey, ResourceAddr, ResourceMode};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::expand::{LocalKind, Meta};
use crate::mode::Mode;
use crate::names::did_you_mean;

/// One node of the dependency graph (an index into the config's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    Variable(usize),
    Local(usize),
    Resource(usize),
    Output(usize),
}

/// How a reference to a resource picks its instances, read from the text
/// right after the resource's name: `a[0]`, `a["k"]`, `a[count.index]`,
/// `a[each.key]`, or anything else (all instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    All,
    Key(InstanceKey),
    CountIndex,
    EachKey,
}

impl Selector {
    /// The instance key this selector picks in the instance `current`.
    pub(crate) fn resolve(&self, current: &InstanceKey) -> Option<InstanceKey> {
        match (self, current) {
            (Selector::All, _) => None,
            (Selector::Key(k), _) => Some(k.clone()),
            (Selector::CountIndex, InstanceKey::Int(_))
            | (Selector::EachKey, InstanceKey::Str(_)) => Some(current.clone()),
            _ => None,
        }
    }
}

/// A resource's references to other resources.
#[derive(Debug, Default)]
pub(crate) struct ResourceRefs {
    /// Every resource it depends on (directly, through locals, or by
    /// `depends_on`), with the instances it picks; sorted, deduplicated.
    pub deps: Vec<(usize, Selector)>,
    /// How the body refers to each resource it refers to directly. Sorted
    /// by resource index.
    pub body_refs: Vec<BodyRef>,
}

/// How a resource body refers to another resource, so that evaluating it
/// clones only what it reads.
#[derive(Debug, Clone)]
pub(crate) struct BodyRef {
    pub resource: usize,
    /// The one selector all references share (or `All`).
    pub selector: Selector,
    /// The only attributes read (`r.id`, `r[count.index].id`), or None for
    /// the whole object.
    pub attributes: Option<Vec<String>>,
}

/// The checked dependency graph of a configuration.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub variables: FxHashMap<String, usize>,
    pub locals: FxHashMap<String, usize>,
    /// The root module's resources by address (a module instance's are in
    /// its [`Meta`] entry).
    pub resources: kiln_config::ResourceIndex,
    pub resource_refs: Vec<ResourceRefs>,
    /// For each local: the resources it depends on, transitively.
    pub local_resources: Vec<Vec<usize>>,
    pub modes: Vec<Mode>,
    /// Every node, dependencies before dependents.
    pub order: Vec<Node>,
    /// For each node (by graph index), the nodes it refers to.
    pub graph: DiGraph<Node, ()>,
    /// Which module instance each local and resource belongs to.
    pub meta: Meta,
}

impl Analysis {
    /// `var.NAME` in module instance `mi`: a root variable, or a module
    /// input (a local of the flat configuration).
    pub(crate) fn variable_node(&self, mi: usize, name: &str) -> Option<Node> {
        if mi == 0 {
            self.variables.get(name).map(|&i| Node::Variable(i))
        } else {
            self.meta.insts[mi].vars.get(name).map(|&l| Node::Local(l))
        }
    }

    /// `local.NAME` in module instance `mi`.
    pub(crate) fn local_ix(&self, mi: usize, name: &str) -> Option<usize> {
        if mi == 0 {
            self.locals.get(name).copied()
        } else {
            self.meta.insts[mi].locals.get(name).copied()
        }
    }

    /// A resource block in module instance `mi`.
    pub(crate) fn resource_ix(&self, mi: usize, addr: &ResourceAddr) -> Option<usize> {
        if mi == 0 {
            self.resources.get(addr)
        } else {
            self.meta.insts[mi].resources.get(addr).copied()
        }
    }

    /// The graph index of a node.
    pub(crate) fn index(&self, config: &Config, node: Node) -> NodeIndex {
        let v = config.variables.len();
        let l = config.locals.len();
        let r = config.resources.len();
        NodeIndex::new(match node {
            Node::Variable(i) => i,
            Node::Local(i) => v + i,
            Node::Resource(i) => v + l + i,
            Node::Output(i) => v + l + r + i,
        })
    }
}

/// How resource `from`'s body refers to resource `to`, if it does directly.
pub(crate) fn body_ref(an: &Analysis, from: usize, to: usize) -> Option<&BodyRef> {
    let refs = &an.resource_refs[from].body_refs;
    refs.binary_search_by_key(&to, |b| b.resource)
        .ok()
        .map(|i| &refs[i])
}

/// Every reference in a body, nested and dynamic blocks included.
pub(crate) fn body_references(body: &Body, out: &mut Vec<Reference>) {
    out.extend(body.references());
}

/// The references of the attribute (or nested blocks) named `name` in a body.
pub(crate) fn attribute_references(body: &Body, name: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    for a in body.attributes.iter().filter(|a| a.name == name) {
        out.extend(a.expr.references());
    }
    for b in body.blocks_setting(name) {
        out.extend(b.references());
    }
    out
}

/// Every declared name of one kind, for "did you mean" hints.
pub(crate) fn declared_names(config: &Config, kind: kiln_config::NameKind) -> Vec<String> {
    use kiln_config::NameKind;
    match kind {
        NameKind::Variable => config.variables.iter().map(|v| v.name.clone()).collect(),
        NameKind::Local => config.locals.iter().map(|l| l.name.clone()).collect(),
        NameKind::Resource => config
            .resources
            .iter()
            .map(|r| r.addr.to_string())
            .collect(),
        NameKind::Module => config.modules.iter().map(|m| m.name.clone()).collect(),
    }
}

pub(crate) fn node_name(config: &Config, meta: &Meta, node: Node) -> String {
    let prefix = |mi: usize| {
        meta.path(mi)
            .iter()
            .map(|s| format!("module.{}{}.", s.name, s.key))
            .collect::<String>()
    };
    match node {
        Node::Variable(i) => format!("var.{}", config.variables[i].name),
        Node::Local(i) => {
            let what = match meta.locals.get(i).map(|m| &m.kind) {
                Some(LocalKind::Var { .. }) => "var",
                Some(LocalKind::Output { .. }) => "output",
                _ => "local",
            };
            format!(
                "{}{what}.{}",
                prefix(meta.local_mi(i)),
                config.locals[i].name
            )
        }
        Node::Resource(i) => format!(
            "{}{}",
            prefix(meta.resource_mi(i)),
            config.resources[i].addr
        ),
        Node::Output(i) => format!("output.{}", config.outputs[i].name),
    }
}

fn node_loc(config: &Config, node: Node) -> &kiln_config::Loc {
    match node {
        Node::Variable(i) => &config.variables[i].loc,
        Node::Local(i) => &config.locals[i].loc,
        Node::Resource(i) => &config.resources[i].loc,
        Node::Output(i) => &config.outputs[i].loc,
    }
}

/// Where a reference sits: what may be referred to from there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Site {
    /// A resource body: `count.index` / `each` allowed per its mode.
    Body(Mode),
    /// `count`, `for_each`, locals and outputs.
    Plain,
}

struct Builder<'c> {
    config: &'c Config,
    /// Resolving `depends_on`: `module.NAME` means every resource in it.
    depends: bool,
    /// The module instance references are resolved in.
    mi: usize,
    an: Analysis,
    diags: Diagnostics,
    self_loops: Vec<bool>,
}

/// Builds and checks the dependency graph.
pub(crate) fn analyze(config: &Config, meta: Meta) -> Result<Analysis, Diagnostics> {
    let mut variables = map_with_capacity(config.variables.len());
    for (i, v) in config.variables.iter().enumerate() {
        variables.entry(v.name.clone()).or_insert(i);
    }
    // The root module's locals (a module's, its inputs and outputs are in
    // its instance's tables): the root cannot refer to a module's local.
    let mut locals = map_with_capacity(config.locals.len());
    for (i, l) in config.locals.iter().enumerate() {
        if meta.is_local_of(i, 0) {
            locals.entry(l.name.clone()).or_insert(i);
        }
    }
    // The root module's resources (a module's are in its instance's
    // table): the root cannot refer to a resource inside a module. They
    // come first in the flat configuration, so the parser's index of the
    // root module holds them, unless something changed them since.
    let root = meta.root_resources(config.resources.len());
    let resources = if config.resource_index.len() == root {
        config.resource_index.clone()
    } else {
        let mut resources = map_with_capacity(root);
        for (i, r) in config.resources[..root].iter().enumerate() {
            resources.entry(r.addr.clone()).or_insert(i);
        }
        resources.into()
    };
    let modes = config
        .resources
        .iter()
        .map(|r| {
            if r.count.is_some() {
                Mode::Count
            } else if r.for_each.is_some() {
                Mode::ForEach
            } else {
                Mode::Single
            }
        })
        .collect();
    let n = config.variables.len()
        + config.locals.len()
        + config.resources.len()
        + config.outputs.len();
    let mut graph = DiGraph::with_capacity(n, n);
    for i in 0..config.variables.len() {
        graph.add_node(Node::Variable(i));
    }
    for i in 0..config.locals.len() {
        graph.add_node(Node::Local(i));
    }
    for i in 0..config.resources.len() {
        graph.add_node(Node::Resource(i));
    }
    for i in 0..config.outputs.len() {
        graph.add_node(Node::Output(i));
    }
    let mut b = Builder {
        config,
        depends: false,
        mi: 0,
        an: Analysis {
            variables,
            locals,
            resources,
            resource_refs: Vec::with_capacity(config.resources.len()),
            local_resources: vec![Vec::new(); config.locals.len()],
            modes,
            order: Vec::with_capacity(n),
            graph,
            meta,
        },
        diags: Diagnostics::new(),
        self_loops: vec![false; n],
    };
    b.build();
    if b.diags.has_errors() {
        return Err(b.diags);
    }
    b.order();
    if b.diags.has_errors() {
        return Err(b.diags);
    }
    b.local_closure();
    Ok(b.an)
}

impl Builder<'_> {
    fn build(&mut self) {
        let config = self.config;
        for (i, l) in config.locals.iter().enumerate() {
            let mut direct = Vec::new();
            let (mi, key, _) = self.an.meta.local_eval(i);
            self.mi = mi;
            let site = match key {
                InstanceKey::None => Site::Plain,
                InstanceKey::Int(_) => Site::Body(Mode::Count),
                InstanceKey::Str(_) => Site::Body(Mode::ForEach),
            };
            self.refs(Node::Local(i), &l.expr.references(), site, &mut direct);
            let mut res: Vec<usize> = direct.into_iter().map(|(r, _)| r).collect();
            res.sort_unstable();
            res.dedup();
            self.an.local_resources[i] = res;
        }
        for (i, r) in config.resources.iter().enumerate() {
            self.mi = self.an.meta.resource_mi(i);
            let node = Node::Resource(i);
            let mode = self.an.modes[i];
            if r.count.is_some() && r.for_each.is_some() {
                self.diags.push(
                    r.loc
                        .error(format!("{} sets both count and for_each", r.addr))
                        .with_detail("use one of them"),
                );
            }
            let mut deps = Vec::new();
            for e in r.count.iter().chain(r.for_each.iter()) {
                self.expr_refs(node, e, Site::Plain, &mut deps);
            }
            // `depends_on` orders without passing values; so do the
            // `depends_on` of the module calls around the resource.
            self.depends = true;
            self.refs(node, &r.depends_on, Site::Plain, &mut deps);
            let around = self
                .an
                .meta
                .insts
                .get(self.mi)
                .map(|i| i.depends_on.clone())
                .unwrap_or_default();
            let own = self.mi;
            for (mi, d) in around {
                self.mi = mi;
                self.refs(node, std::slice::from_ref(&d), Site::Plain, &mut deps);
            }
            self.mi = own;
            self.depends = false;
            // So do the lifecycle's conditions and replacement triggers,
            // which are checked against the instance.
            let mut lifecycle_refs = r.lifecycle.replace_triggered_by.clone();
            for c in r
                .lifecycle
                .preconditions
                .iter()
                .chain(&r.lifecycle.postconditions)
            {
                lifecycle_refs.extend(c.condition.references());
                lifecycle_refs.extend(c.error_message.references());
            }
            self.refs(node, &lifecycle_refs, Site::Body(mode), &mut deps);
            let mut refs = Vec::new();
            body_references(&r.body, &mut refs);
            let mut body_deps = Vec::new();
            let mut shapes = Vec::new();
            self.refs_shaped(
                node,
                &refs,
                Site::Body(mode),
                &mut body_deps,
                Some(&mut shapes),
            );
            let body_refs = merge_body_refs(shapes);
            deps.extend(body_deps);
            self.an.resource_refs.push(ResourceRefs { deps, body_refs });
        }
        self.mi = 0;
        for (i, o) in config.outputs.iter().enumerate() {
            let mut unused = Vec::new();
            self.expr_refs(Node::Output(i), &o.expr, Site::Plain, &mut unused);
        }
    }

    fn expr_refs(&mut self, from: Node, e: &Expr, site: Site, deps: &mut Vec<(usize, Selector)>) {
        self.refs(from, &e.references(), site, deps);
    }

    /// Checks references and adds their edges; resource references are
    /// appended to `deps`.
    fn refs(
        &mut self,
        from: Node,
        refs: &[Reference],
        site: Site,
        deps: &mut Vec<(usize, Selector)>,
    ) {
        self.refs_shaped(from, refs, site, deps, None);
    }

    /// Like [`Builder::refs`], also recording how a body reads each resource
    /// it refers to in `body`.
    fn refs_shaped(
        &mut self,
        from: Node,
        refs: &[Reference],
        site: Site,
        deps: &mut Vec<(usize, Selector)>,
        mut body: Option<&mut Vec<BodyRef>>,
    ) {
        let from_ix = self.an.index(self.config, from);
        for r in refs {
            let target = match &r.subject {
                Subject::Variable(name) => match self.an.variable_node(self.mi, name) {
                    Some(n) => n,
                    None => {
                        let names = self.config.variables.iter().map(|v| v.name.as_str());
                        self.diags.push(undeclared(
                            r,
                            "variable",
                            &format!("var.{name}"),
                            name,
                            names,
                        ));
                        continue;
                    }
                },
                Subject::Local(name) => match self.an.local_ix(self.mi, name) {
                    Some(i) => Node::Local(i),
                    None => {
                        // Suggestions from the same module instance.
                        let meta = &self.an.meta;
                        let mi = self.mi;
                        let names = self
                            .config
                            .locals
                            .iter()
                            .enumerate()
                            .filter(|&(i, _)| meta.is_local_of(i, mi))
                            .map(|(_, l)| l.name.as_str());
                        self.diags.push(undeclared(
                            r,
                            "local value",
                            &format!("local.{name}"),
                            name,
                            names,
                        ));
                        continue;
                    }
                },
                Subject::Module(name) if self.depends => {
                    match self.an.meta.call_resources(self.mi, name) {
                        Some(rs) => {
                            for ri in rs {
                                let to = self.an.index(self.config, Node::Resource(ri));
                                if to != from_ix {
                                    self.an.graph.add_edge(from_ix, to, ());
                                }
                                deps.push((ri, Selector::All));
                            }
                        }
                        None => self.diags.push(r.loc.error(format!(
                            "depends_on refers to undeclared module \"module.{name}\""
                        ))),
                    }
                    continue;
                }
                Subject::Module(name) => match self.an.meta.call_outputs(self.mi, name) {
                    Some(mut outs) => {
                        // `module.NAME.OUT` / `module.NAME[KEY].OUT`: only
                        // that output, which must be declared.
                        if let Some(out) = module_output_name(r, name) {
                            let declared: Vec<&str> = self.an.meta.call_output_names(self.mi, name);
                            if !declared.is_empty() && !declared.contains(&out.as_str()) {
                                let d = r
                                    .loc
                                    .error(format!("module \"{name}\" has no output \"{out}\""));
                                self.diags.push(
                                    match did_you_mean(&out, declared.iter().copied()) {
                                        Some(s) => d.with_detail(format!("did you mean \"{s}\"?")),
                                        None => d.with_detail(format!(
                                            "the module declares: {}",
                                            declared.join(", ")
                                        )),
                                    },
                                );
                                continue;
                            }
                            outs.retain(|&l| self.config.locals[l].name == out);
                        }
                        for l in outs {
                            let to = self.an.index(self.config, Node::Local(l));
                            self.an.graph.add_edge(from_ix, to, ());
                        }
                        continue;
                    }
                    None => {
                        let names: Vec<String> = self
                            .an
                            .meta
                            .insts
                            .get(self.mi)
                            .map(|i| i.calls.iter().map(|c| c.name.clone()).collect())
                            .unwrap_or_default();
                        self.diags.push(undeclared(
                            r,
                            "module",
                            &format!("module.{name}"),
                            name,
                            names.iter().map(String::as_str),
                        ));
                        continue;
                    }
                },
                Subject::Resource(addr) => match self.an.resource_ix(self.mi, addr) {
                    Some(i) => {
                        let shape = shape(r, addr);
                        if let Some(body) = body.as_deref_mut() {
                            let mode = self.an.modes[i];
                            let attribute = match (mode, shape.bracket, &shape.selector) {
                                (Mode::Single, false, _) => shape.attribute.clone(),
                                (Mode::Count | Mode::ForEach, true, sel)
                                    if *sel != Selector::All =>
                                {
                                    shape.attribute.clone()
                                }
                                _ => None,
                            };
                            body.push(BodyRef {
                                resource: i,
                                selector: shape.selector.clone(),
                                attributes: attribute.map(|a| vec![a]),
                            });
                        }
                        deps.push((i, shape.selector));
                        Node::Resource(i)
                    }
                    None => {
                        // Suggestions from the same module instance.
                        let names: Vec<String> = self
                            .config
                            .resources
                            .iter()
                            .enumerate()
                            .filter(|&(i, _)| self.an.meta.resource_mi(i) == self.mi)
                            .map(|(_, r)| r.addr.to_string())
                            .collect();
                        let shown = addr.to_string();
                        self.diags.push(undeclared(
                            r,
                            "resource",
                            &shown,
                            &shown,
                            names.iter().map(String::as_str),
                        ));
                        continue;
                    }
                },
                Subject::CountIndex => {
                    if site != Site::Body(Mode::Count) {
                        self.diags.push(
                            r.loc
                                .error("count.index is only available in the body of a resource with count")
                                .with_detail("set count on the resource, or remove the reference"),
                        );
                    }
                    continue;
                }
                Subject::EachKey | Subject::EachValue => {
                    if site != Site::Body(Mode::ForEach) {
                        self.diags.push(
                            r.loc
                                .error("each.key and each.value are only available in the body of a resource with for_each")
                                .with_detail("set for_each on the resource, or remove the reference"),
                        );
                    }
                    continue;
                }
                Subject::Path(_) | Subject::Env => continue,
            };
            let to_ix = self.an.index(self.config, target);
            if to_ix == from_ix {
                self.self_loops[from_ix.index()] = true;
            } else {
                self.an.graph.add_edge(from_ix, to_ix, ());
            }
        }
    }

    /// Orders the nodes (dependencies first) with Tarjan's algorithm; every
    /// strongly connected component of more than one node, and every node
    /// that refers to itself, is a cycle error.
    fn order(&mut self) {
        let sccs = tarjan(&self.an.graph);
        let mut cycles = Vec::new();
        for scc in sccs {
            if scc.len() > 1 || self.self_loops[scc[0].index()] {
                cycles.push(scc);
            } else {
                self.an.order.push(self.an.graph[scc[0]]);
            }
        }
        // Report cycles in configuration order, each naming its members sorted.
        cycles.sort_by_key(|scc| scc.iter().map(|n| n.index()).min());
        for scc in cycles {
            let first = scc
                .iter()
                .min_by_key(|n| n.index())
                .copied()
                .unwrap_or(scc[0]);
            let names: BTreeSet<String> = scc
                .iter()
                .map(|&n| node_name(self.config, &self.an.meta, self.an.graph[n]))
                .collect();
            let list = names.into_iter().collect::<Vec<_>>().join(", ");
            let summary = if scc.len() == 1 {
                format!("dependency cycle: {list} refers to itself")
            } else {
                format!("dependency cycle: {list}")
            };
            self.diags.push(
                node_loc(self.config, self.an.graph[first])
                    .error(summary)
                    .with_detail("each of these refers, directly or not, to the next; remove one of the references"),
            );
        }
    }

    /// The resources each local depends on through other locals (in
    /// dependency order, so each local's dependencies are done first), and
    /// resources' dependencies through locals.
    fn local_closure(&mut self) {
        let config = self.config;
        for k in 0..self.an.order.len() {
            let Node::Local(i) = self.an.order[k] else {
                continue;
            };
            let ix = self.an.index(config, Node::Local(i));
            let mut set: Vec<usize> = self.an.local_resources[i].clone();
            for n in self.an.graph.neighbors(ix) {
                if let Node::Local(j) = self.an.graph[n] {
                    set.extend_from_slice(&self.an.local_resources[j]);
                }
            }
            set.sort_unstable();
            set.dedup();
            self.an.local_resources[i] = set;
        }
        for i in 0..config.resources.len() {
            let ix = self.an.index(config, Node::Resource(i));
            let mut extra = Vec::new();
            for n in self.an.graph.neighbors(ix) {
                if let Node::Local(j) = self.an.graph[n] {
                    extra.extend(
                        self.an.local_resources[j]
                            .iter()
                            .map(|&r| (r, Selector::All)),
                    );
                }
            }
            let deps = &mut self.an.resource_refs[i].deps;
            deps.extend(extra);
            deps.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| selector_rank(&a.1).cmp(&selector_rank(&b.1)))
            });
            deps.dedup();
        }
    }
}

fn selector_rank(s: &Selector) -> (u8, Option<&InstanceKey>) {
    match s {
        Selector::All => (0, None),
        Selector::CountIndex => (1, None),
        Selector::EachKey => (2, None),
        Selector::Key(k) => (3, Some(k)),
    }
}

fn undeclared<'a>(
    r: &Reference,
    what: &str,
    shown: &str,
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Diagnostic {
    let d = r
        .loc
        .error(format!("reference to undeclared {what} \"{shown}\""));
    match did_you_mean(name, candidates) {
        Some(s) => d.with_detail(format!("did you mean \"{s}\"?")),
        None => d.with_detail(format!("declare the {what}, or fix the reference")),
    }
}

/// The output a module reference reads right away (`module.web.id`,
/// `module.web["a"].id`, `module.web[0].id`), read from the source text.
fn module_output_name(r: &Reference, name: &str) -> Option<String> {
    let text = r.loc.file.text.get(r.loc.range.start..)?;
    let rest = text.strip_prefix("module.")?.strip_prefix(name)?;
    let rest = match rest.strip_prefix('[') {
        Some(inner) => &inner[inner.find(']')? + 1..],
        None => rest,
    };
    let t = rest.strip_prefix('.')?;
    let n = t
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(t.len());
    (n > 0 && !t.starts_with(|c: char| c.is_ascii_digit())).then(|| t[..n].to_string())
}

/// One resource reference as written: how it picks instances and which
/// attribute it reads right after.
pub(crate) struct Shape {
    pub selector: Selector,
    /// A `[...]` follows the resource's name.
    pub bracket: bool,
    /// The `.NAME` after the name (or after the brackets).
    pub attribute: Option<String>,
}

/// Reads a resource reference's shape from the source text (`r.id`,
/// `r[0].id`, `r["k"]`, `r[count.index].id`, `r[each.key]`); anything else
/// is `All` with no attribute, which is always correct, only slower.
pub(crate) fn shape(r: &Reference, addr: &ResourceAddr) -> Shape {
    let all = Shape {
        selector: Selector::All,
        bracket: false,
        attribute: None,
    };
    let text = r.loc.file.text.get(r.loc.range.start..).unwrap_or("");
    let text = if addr.mode == ResourceMode::Data {
        text.strip_prefix("data.").unwrap_or("")
    } else {
        text
    };
    let Some(rest) = text
        .strip_prefix(addr.ty.as_str())
        .and_then(|t| t.strip_prefix('.'))
        .and_then(|t| t.strip_prefix(addr.name.as_str()))
    else {
        return all;
    };
    let ident_len = |t: &str| {
        t.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(t.len())
    };
    if ident_len(rest) > 0 {
        return all;
    }
    let (selector, bracket, rest) = match rest.strip_prefix('[') {
        None => (Selector::All, false, rest),
        Some(inner) => {
            let Some(end) = inner.find(']') else {
                return all;
            };
            (
                bracket_selector(inner[..end].trim()),
                true,
                &inner[end + 1..],
            )
        }
    };
    let attribute = rest.strip_prefix('.').and_then(|t| {
        let n = ident_len(t);
        (n > 0 && !t.starts_with(|c: char| c.is_ascii_digit())).then(|| t[..n].to_string())
    });
    Shape {
        selector,
        bracket,
        attribute,
    }
}

fn bracket_selector(inner: &str) -> Selector {
    if inner == "count.index" {
        Selector::CountIndex
    } else if inner == "each.key" {
        Selector::EachKey
    } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
        inner
            .parse()
            .map_or(Selector::All, |i| Selector::Key(InstanceKey::Int(i)))
    } else if inner.len() >= 2
        && inner.starts_with('"')
        && inner.ends_with('"')
        && !inner[1..inner.len() - 1].contains(['"', '\\', '$', '%'])
    {
        Selector::Key(InstanceKey::Str(inner[1..inner.len() - 1].into()))
    } else {
        Selector::All
    }
}

/// One entry per referenced resource: a shared selector (or `All`), and the
/// union of the attributes read (or None if any reference reads the whole).
fn merge_body_refs(mut refs: Vec<BodyRef>) -> Vec<BodyRef> {
    refs.sort_by_key(|r| r.resource);
    let mut out: Vec<BodyRef> = Vec::with_capacity(refs.len());
    for r in refs {
        match out.last_mut() {
            Some(last) if last.resource == r.resource => {
                if last.selector != r.selector {
                    last.selector = Selector::All;
                }
                last.attributes = match (last.attributes.take(), r.attributes) {
                    (Some(mut a), Some(b)) => {
                        a.extend(b);
                        a.sort_unstable();
                        a.dedup();
                        Some(a)
                    }
                    _ => None,
                };
            }
            _ => out.push(r),
        }
    }
    out
}

/// Tarjan's strongly connected components, iteratively (a chain of 100,000
/// resources must not overflow the stack). Components come out with every
/// node's successors (what it refers to) before it.
fn tarjan(g: &DiGraph<Node, ()>) -> Vec<Vec<NodeIndex>> {
    const UNSEEN: usize = usize::MAX;
    let n = g.node_count();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<NodeIndex> = Vec::new();
    let mut next = 0usize;
    let mut out = Vec::new();
    let mut calls: Vec<(NodeIndex, petgraph::graph::Neighbors<'_, ()>)> = Vec::new();
    for root in g.node_indices() {
        if index[root.index()] != UNSEEN {
            continue;
        }
        index[root.index()] = next;
        low[root.index()] = next;
        next += 1;
        stack.push(root);
        on_stack[root.index()] = true;
        calls.push((root, g.neighbors(root)));
        while let Some(top) = calls.last_mut() {
            let v = top.0;
            match top.1.next() {
                Some(w) => {
                    if index[w.index()] == UNSEEN {
                        index[w.index()] = next;
                        low[w.index()] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w.index()] = true;
                        calls.push((w, g.neighbors(w)));
                    } else if on_stack[w.index()] {
                        low[v.index()] = low[v.index()].min(index[w.index()]);
                    }
                }
                None => {
                    calls.pop();
                    if let Some(&(u, _)) = calls.last() {
                        low[u.index()] = low[u.index()].min(low[v.index()]);
                    }
                    if low[v.index()] == index[v.index()] {
                        let mut scc = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w.index()] = false;
                            scc.push(w);
                            if w == v {
                                break;
                            }
                        }
                        out.push(scc);
                    }
                }
            }
        }
    }
    out
}
