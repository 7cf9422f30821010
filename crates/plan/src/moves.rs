//! `moved` and `removed` blocks: refactoring without replacing.
//!
//! A `moved { from = A, to = B }` renames what the state holds at `A` to
//! `B` before planning, so a renamed resource, a resource moved into or out
//! of a module, or a change between `count` and `for_each` keys plans no
//! replacement (and a stateful object can be renamed at all). A
//! `removed { from = A  lifecycle { destroy = false } }` forgets what the
//! state holds at `A` without destroying it. The planner resolves both
//! against the state into instance-level [`StateMove`]s and forgotten
//! addresses, which the plan carries and the apply journals before any
//! step (Terraform's rules: <https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>).
//!
//! Rules, as Terraform's:
//! - an endpoint is a resource (`aws_instance.a`: every instance, keys
//!   kept), a resource instance (`aws_instance.a[0]`), a module call
//!   (`module.a`: everything in every instance) or a module instance
//!   (`module.a["x"]`), with a module path in front; statements in a child
//!   module are relative to each of its instances;
//! - both endpoints are of one kind, and a resource keeps its type;
//! - chains (`A → B`, `B → C`) end at the last address;
//! - a `from` with nothing in the state is nothing to do (already moved);
//! - a `to` that the state already holds, a `from` the configuration still
//!   declares, or a cycle, is an error, and nothing is moved.

use std::collections::{BTreeMap, BTreeSet};

use kiln_config::{Config, Loc};
use kiln_diag::Diagnostics;
use kiln_model::{InstanceAddr, InstanceKey, ModuleStep, ResourceAddr};
use kiln_state::{State, StateMove};

/// An endpoint of a `moved` / `removed` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    /// A resource, or one instance of it when `key` is set.
    Resource {
        module: Vec<ModuleStep>,
        resource: ResourceAddr,
        key: Option<InstanceKey>,
    },
    /// A module call (its last step keyless: every instance) or one
    /// module instance.
    Module { path: Vec<ModuleStep>, keyed: bool },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = |f: &mut std::fmt::Formatter<'_>, p: &[ModuleStep]| {
            for s in p {
                write!(f, "module.{}{}.", s.name, s.key)?;
            }
            Ok(())
        };
        match self {
            Endpoint::Resource {
                module,
                resource,
                key,
            } => {
                path(f, module)?;
                write!(f, "{resource}{}", key.clone().unwrap_or_default())
            }
            Endpoint::Module { path: p, .. } => {
                let s: Vec<String> = p
                    .iter()
                    .map(|s| format!("module.{}{}", s.name, s.key))
                    .collect();
                f.write_str(&s.join("."))
            }
        }
    }
}

/// Parses an endpoint as written (`module.a["k"].aws_instance.b[0]`),
/// relative to module instance `prefix`.
fn endpoint(text: &str, prefix: &[ModuleStep]) -> Result<Endpoint, String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(a) = text.parse::<InstanceAddr>() {
        if a.resource.mode != kiln_model::ResourceMode::Managed {
            return Err("data sources are not moved: they are read again".into());
        }
        let explicit_key = text.ends_with(']');
        let mut module = prefix.to_vec();
        module.extend(a.module);
        return Ok(Endpoint::Resource {
            module,
            resource: a.resource,
            key: explicit_key.then_some(a.key),
        });
    }
    // A module path alone: parse it with a stand-in resource after it.
    if text.starts_with("module.")
        && let Ok(a) = format!("{text}.x.y").parse::<InstanceAddr>()
        && a.key == InstanceKey::None
    {
        let keyed = text.ends_with(']');
        let mut path = prefix.to_vec();
        path.extend(a.module);
        return Ok(Endpoint::Module { path, keyed });
    }
    Err(format!(
        "{text:?} is not a resource or module address (write aws_instance.a, aws_instance.a[0], module.a or module.a[\"k\"])"
    ))
}

/// A statement resolved to absolute endpoints.
struct Statement {
    from: Endpoint,
    to: Option<Endpoint>,
    loc: Loc,
    /// A `removed` block with `destroy = true` (the default): its objects
    /// are destroyed as usual, the user having named them.
    destroy: bool,
}

/// What the `moved` and `removed` statements do to a state.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Refactoring {
    pub moves: Vec<StateMove>,
    pub forgotten: Vec<InstanceAddr>,
    /// Objects a `removed` block with `destroy = true` names: destroyed as
    /// anything that left the configuration, a stateful one included (the
    /// block names it, as `--allow-destroy` would).
    pub destroyed: Vec<InstanceAddr>,
}

impl Refactoring {
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.forgotten.is_empty()
    }
}

/// Resolves the configuration's `moved` and `removed` statements against
/// `state`. `instances` lists each module's instance paths (the root is
/// `[]`), keyed by the module's call path (its names).
pub fn resolve(
    config: &Config,
    state: &State,
    instances: &BTreeMap<Vec<String>, Vec<Vec<ModuleStep>>>,
) -> Result<Refactoring, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut statements = Vec::new();
    collect(config, &[], instances, &mut statements, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let (moves, removes): (Vec<_>, Vec<_>) = statements.into_iter().partition(|s| s.to.is_some());
    // Check each move's shape.
    for s in &moves {
        let to = s.to.as_ref().expect("partitioned");
        let bad = match (&s.from, to) {
            (Endpoint::Resource { resource: a, .. }, Endpoint::Resource { resource: b, .. })
                if a.ty != b.ty =>
            {
                Some(format!(
                    "a resource keeps its type when it moves: {} is a {}, {} a {}",
                    s.from, a.ty, to, b.ty
                ))
            }
            (Endpoint::Resource { key: None, .. }, Endpoint::Resource { key: Some(_), .. }) => {
                Some(format!(
                    "a whole resource moves to a whole resource: {} has every instance, {to} names one",
                    s.from
                ))
            }
            (Endpoint::Module { keyed: false, .. }, Endpoint::Module { keyed: true, .. }) => {
                Some(format!(
                    "a whole module call moves to a whole module call: {} has every instance, {to} names one",
                    s.from
                ))
            }
            (Endpoint::Resource { .. }, Endpoint::Module { .. })
            | (Endpoint::Module { .. }, Endpoint::Resource { .. }) => Some(format!(
                "{} and {to} are not the same kind of thing (a resource and a module)",
                s.from
            )),
            (a, b) if a == b => Some(format!("{a} is moved to itself")),
            _ => None,
        };
        if let Some(msg) = bad {
            diags.push(s.loc.error(format!("invalid moved block: {msg}")));
        }
        // A whole resource still declared where it moves from.
        if let Endpoint::Resource {
            module,
            resource,
            key: None,
        } = &s.from
            && declared(config, module, resource)
        {
            diags.push(
                s.loc
                    .error(format!("moved object still exists: {} is declared in the configuration", s.from))
                    .with_detail("a moved block renames what was declared at `from`; remove or rename that resource block"),
            );
        }
    }
    for s in &removes {
        if let Endpoint::Resource {
            module,
            resource,
            key,
        } = &s.from
        {
            if key.is_some() {
                diags.push(s.loc.error(format!(
                    "invalid removed block: {} names one instance; removed takes a resource or a module",
                    s.from
                )));
            } else if declared(config, module, resource) {
                diags.push(
                    s.loc
                        .error(format!(
                            "removed resource still exists: {} is declared in the configuration",
                            s.from
                        ))
                        .with_detail("remove the resource block, or the removed block"),
                );
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    // Chains: a statement whose `from` another one's `to` reaches runs after
    // it. Order by that relation; a cycle is an error.
    let n = moves.len();
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while order.len() < n {
        let before = order.len();
        for i in 0..n {
            if done[i] {
                continue;
            }
            let waits = (0..n).any(|j| {
                !done[j]
                    && j != i
                    && moves[j]
                        .to
                        .as_ref()
                        .is_some_and(|t| overlaps(t, &moves[i].from))
            });
            if !waits {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            let stuck: Vec<String> = (0..n)
                .filter(|i| !done[*i])
                .map(|i| {
                    format!(
                        "{} → {}",
                        moves[i].from,
                        moves[i].to.as_ref().expect("a move")
                    )
                })
                .collect();
            let first = (0..n).find(|i| !done[*i]).unwrap_or(0);
            diags.push(
                moves[first]
                    .loc
                    .error(format!("moved blocks form a cycle: {}", stuck.join(", "))),
            );
            return Err(diags);
        }
    }
    // Apply them to the state's addresses, in that order.
    let mut at: BTreeMap<InstanceAddr, InstanceAddr> = state
        .resources
        .keys()
        .map(|a| (a.clone(), a.clone()))
        .collect();
    // current address -> original address
    for &i in &order {
        let s = &moves[i];
        let to = s.to.as_ref().expect("a move");
        let current: Vec<InstanceAddr> = at.keys().cloned().collect();
        let mut planned = Vec::new();
        for addr in current {
            if let Some(new) = rename(&addr, &s.from, to) {
                planned.push((addr, new));
            }
        }
        for (old, new) in &planned {
            if at.contains_key(new) && !planned.iter().any(|(o, _)| o == new) {
                diags.push(
                    s.loc
                        .error(format!("cannot move {old} to {new}: the state already holds {new}"))
                        .with_detail("both objects exist; remove one of them from the state first (kiln state rm), or move to another address"),
                );
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        let moved: Vec<(InstanceAddr, InstanceAddr)> = planned
            .into_iter()
            .filter_map(|(old, new)| at.remove(&old).map(|orig| (new, orig)))
            .collect();
        at.extend(moved);
    }
    let mut refactoring = Refactoring::default();
    for (now, orig) in &at {
        if now != orig {
            refactoring.moves.push(StateMove {
                from: orig.clone(),
                to: now.clone(),
            });
        }
    }
    let mut forgotten = BTreeSet::new();
    let mut destroyed = BTreeSet::new();
    for s in &removes {
        for (now, orig) in &at {
            if contains(&s.from, now) {
                if s.destroy {
                    destroyed.insert(now.clone());
                } else {
                    forgotten.insert(orig.clone());
                }
            }
        }
    }
    refactoring.forgotten = forgotten.into_iter().collect();
    refactoring.destroyed = destroyed.into_iter().collect();
    // A forgotten object is not moved as well.
    refactoring
        .moves
        .retain(|m| !refactoring.forgotten.contains(&m.from));
    Ok(refactoring)
}

/// The statements of `config` (the module at call path `names`) and its
/// child modules, made absolute for each instance of the module.
fn collect(
    config: &Config,
    names: &[String],
    instances: &BTreeMap<Vec<String>, Vec<Vec<ModuleStep>>>,
    out: &mut Vec<Statement>,
    diags: &mut Diagnostics,
) {
    let none = Vec::new();
    let prefixes = if names.is_empty() {
        vec![Vec::new()]
    } else {
        instances.get(names).cloned().unwrap_or(none)
    };
    for prefix in &prefixes {
        for m in &config.moved {
            match (endpoint(&m.from, prefix), endpoint(&m.to, prefix)) {
                (Ok(from), Ok(to)) => out.push(Statement {
                    from,
                    to: Some(to),
                    loc: m.loc.clone(),
                    destroy: false,
                }),
                (Err(e), _) | (_, Err(e)) => {
                    diags.push(m.loc.error(format!("invalid moved block: {e}")))
                }
            }
        }
        for r in &config.removed {
            match endpoint(&r.from, prefix) {
                Ok(from) => out.push(Statement {
                    from,
                    to: None,
                    loc: r.loc.clone(),
                    destroy: r.destroy,
                }),
                Err(e) => diags.push(r.loc.error(format!("invalid removed block: {e}"))),
            }
        }
    }
    for call in &config.modules {
        if let Some(child) = &call.config {
            let mut names = names.to_vec();
            names.push(call.name.clone());
            collect(child, &names, instances, out, diags);
        }
    }
}

/// Whether the configuration declares `resource` in module instance `module`.
fn declared(config: &Config, module: &[ModuleStep], resource: &ResourceAddr) -> bool {
    let mut c = config;
    for step in module {
        match c
            .modules
            .iter()
            .find(|m| m.name == step.name)
            .and_then(|m| m.config.as_deref())
        {
            Some(child) => c = child,
            None => return false,
        }
    }
    c.resources.iter().any(|r| r.addr == *resource)
}

/// Whether module path `path` is inside the module endpoint `(p, keyed)`.
fn under(path: &[ModuleStep], p: &[ModuleStep], keyed: bool) -> bool {
    if path.len() < p.len() {
        return false;
    }
    let last = p.len().saturating_sub(1);
    p.iter()
        .enumerate()
        .all(|(i, s)| path[i].name == s.name && (path[i].key == s.key || (i == last && !keyed)))
}

/// Whether the endpoint covers instance `a`.
fn contains(e: &Endpoint, a: &InstanceAddr) -> bool {
    match e {
        Endpoint::Resource {
            module,
            resource,
            key,
        } => {
            a.module == *module
                && a.resource == *resource
                && key.as_ref().is_none_or(|k| *k == a.key)
        }
        Endpoint::Module { path, keyed } => under(&a.module, path, *keyed),
    }
}

/// Whether two endpoints can name a common instance (for chain order).
fn overlaps(a: &Endpoint, b: &Endpoint) -> bool {
    match (a, b) {
        (
            Endpoint::Resource {
                module: m1,
                resource: r1,
                key: k1,
            },
            Endpoint::Resource {
                module: m2,
                resource: r2,
                key: k2,
            },
        ) => m1 == m2 && r1 == r2 && (k1.is_none() || k2.is_none() || k1 == k2),
        (Endpoint::Module { path: p1, .. }, Endpoint::Module { path: p2, .. }) => {
            let n = p1.len().min(p2.len());
            p1[..n].iter().zip(&p2[..n]).all(|(x, y)| x.name == y.name)
        }
        (Endpoint::Module { path, keyed }, Endpoint::Resource { module, .. })
        | (Endpoint::Resource { module, .. }, Endpoint::Module { path, keyed }) => {
            under(module, path, *keyed)
        }
    }
}

/// Where instance `a` goes under the move `from → to`, if it moves.
fn rename(a: &InstanceAddr, from: &Endpoint, to: &Endpoint) -> Option<InstanceAddr> {
    if !contains(from, a) {
        return None;
    }
    match (from, to) {
        (
            Endpoint::Resource { key: from_key, .. },
            Endpoint::Resource {
                module,
                resource,
                key,
            },
        ) => Some(InstanceAddr {
            module: module.clone(),
            resource: resource.clone(),
            key: match (from_key, key) {
                (Some(_), Some(k)) => k.clone(),
                (Some(_), None) => InstanceKey::None,
                (None, _) => a.key.clone(),
            },
        }),
        (Endpoint::Module { path: fp, .. }, Endpoint::Module { path: tp, keyed }) => {
            let mut module = tp.clone();
            if !keyed && let Some(last) = module.last_mut() {
                // The whole call moves: each instance keeps its key.
                last.key = a.module[fp.len() - 1].key.clone();
            }
            module.extend(a.module[fp.len()..].iter().cloned());
            Some(InstanceAddr {
                module,
                resource: a.resource.clone(),
                key: a.key.clone(),
            })
        }
        _ => None,
    }
}

/// `kiln state mv FROM TO` (with `to`) or `kiln state rm FROM` (without):
/// one statement written on the command line, resolved against `state`
/// alone (no configuration, as Terraform's `state mv` / `state rm`).
///
/// # Errors
/// An address that is not one, two endpoints of different kinds or types,
/// a `from` the state holds nothing at, or a `to` it already holds.
pub fn resolve_command(state: &State, from: &str, to: Option<&str>) -> Result<Refactoring, String> {
    let from_e = endpoint(from, &[])?;
    let matched: Vec<InstanceAddr> = state
        .resources
        .keys()
        .filter(|a| contains(&from_e, a))
        .cloned()
        .collect();
    if matched.is_empty() {
        return Err(format!(
            "the state holds nothing at {from_e}; see `kiln state list`"
        ));
    }
    let Some(to) = to else {
        return Ok(Refactoring {
            destroyed: Vec::new(),
            moves: Vec::new(),
            forgotten: matched,
        });
    };
    let to_e = endpoint(to, &[])?;
    let mismatch = match (&from_e, &to_e) {
        (Endpoint::Resource { resource: a, .. }, Endpoint::Resource { resource: b, .. })
            if a.ty != b.ty =>
        {
            Some(format!(
                "a resource keeps its type: {from_e} is a {}, {to_e} a {}",
                a.ty, b.ty
            ))
        }
        (Endpoint::Resource { key: None, .. }, Endpoint::Resource { key: Some(_), .. }) => Some(
            format!("{from_e} is a whole resource and {to_e} one instance"),
        ),
        (Endpoint::Module { keyed: false, .. }, Endpoint::Module { keyed: true, .. }) => Some(
            format!("{from_e} is a whole module call and {to_e} one instance"),
        ),
        (Endpoint::Resource { .. }, Endpoint::Module { .. })
        | (Endpoint::Module { .. }, Endpoint::Resource { .. }) => Some(format!(
            "{from_e} and {to_e} are not the same kind of thing"
        )),
        (a, b) if a == b => Some(format!("{a} is moved to itself")),
        _ => None,
    };
    if let Some(m) = mismatch {
        return Err(m);
    }
    let mut moves = Vec::new();
    for a in matched {
        if let Some(new) = rename(&a, &from_e, &to_e) {
            if state.resources.contains_key(&new) {
                return Err(format!(
                    "cannot move {a} to {new}: the state already holds {new}"
                ));
            }
            moves.push(StateMove { from: a, to: new });
        }
    }
    Ok(Refactoring {
        moves,
        forgotten: Vec::new(),
        destroyed: Vec::new(),
    })
}

/// An address given to `--target` / `--exclude`: a resource instance, a
/// resource (every instance), a module call or a module instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(Endpoint);

impl Selector {
    /// Parses an address as Terraform's `-target` takes it.
    ///
    /// # Errors
    /// Text that is no resource or module address.
    pub fn parse(text: &str) -> Result<Selector, String> {
        endpoint(text, &[]).map(Selector)
    }

    /// Whether the address covers instance `a`.
    pub fn matches(&self, a: &InstanceAddr) -> bool {
        contains(&self.0, a)
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
