//! `kiln state import-terraform FILE`: a Terraform state becomes the
//! environment's first kiln state, with nothing created or deleted.
//!
//! Terraform's state file (format version 4,
//! <https://developer.hashicorp.com/terraform/internals/json-format>) lists
//! resources with their instances' attributes. Every managed instance of a
//! type one of kiln's providers has is adopted: recorded under the same
//! address, then read back through its provider (so its attributes are
//! kiln's view of the real object, and one that no longer exists is
//! dropped); every other one — a data source, a type kiln has no provider
//! for, a deposed object — is listed with the reason it was left.
//!
//! Terraform writes an argument the configuration leaves out as its zero
//! value or the provider's default (`""`, `false`, `"default"`), where
//! kiln's configuration has null — and kiln replaces a stateless object
//! whose arguments change. So each adopted argument is reconciled with the
//! configuration: one the configuration leaves out is recorded as null, as
//! kiln records it for objects it creates. An argument the configuration
//! sets to another value than the object has stays, and the next
//! `kiln plan` shows it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kiln_model::{InstanceAddr, InstanceKey, Presence, Value};
use kiln_plan::{ActionKind, PlanOptions};
use kiln_state::{ResourceState, State};
use serde::Deserialize;

use crate::{Observer, VarInputs, Workspace, with_lock};

#[derive(Deserialize)]
struct TfState {
    version: u64,
    #[serde(default)]
    resources: Vec<TfResource>,
}

#[derive(Deserialize)]
struct TfResource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    ty: String,
    name: String,
    #[serde(default)]
    instances: Vec<TfInstance>,
}

#[derive(Deserialize)]
struct TfInstance {
    #[serde(default)]
    index_key: Option<serde_json::Value>,
    #[serde(default)]
    attributes: serde_json::Value,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    deposed: Option<String>,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// Adopted instances, with their ids.
    pub adopted: Vec<(InstanceAddr, String)>,
    /// Instances left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The serial of the state written.
    pub serial: u64,
}

/// `kiln state import-terraform FILE`: see the module documentation. The
/// environment must have no state yet.
///
/// # Errors
/// The file is not a Terraform state of format version 4; the environment
/// already has a state; the configuration does not load; a provider read
/// fails; any store error. Nothing is written then.
pub async fn import_terraform(
    ws: &Workspace,
    file: &Path,
    vars: &VarInputs,
    lock_timeout: Duration,
    obs: &dyn Observer,
) -> Result<Imported> {
    let text = match file.to_str().and_then(|f| f.strip_prefix("s3://")) {
        // The S3 backend's object: s3://BUCKET/KEY, through the standard
        // AWS chain (AWS_ENDPOINT_URL for an emulator).
        Some(rest) => {
            let (bucket, key) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .with_context(|| {
                    format!("{} names no object; write s3://BUCKET/KEY", file.display())
                })?;
            let store = kiln_store::S3Store::new(kiln_store::S3Options::new(bucket, ""));
            store
                .get_object(key)
                .await?
                .with_context(|| format!("there is no object {}", file.display()))?
        }
        None => std::fs::read(file)
            .with_context(|| format!("cannot read the Terraform state {}", file.display()))?,
    };
    let tf: TfState = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a Terraform state (the JSON of terraform.tfstate)",
            file.display()
        )
    })?;
    if tf.version != 4 {
        bail!(
            "{} is a Terraform state of format version {}; kiln reads version 4 (Terraform 0.12 and later): run `terraform state pull` with a newer Terraform first",
            file.display(),
            tf.version
        );
    }
    let (config, warnings) = ws.load_config()?;
    obs.diagnostics(&warnings);
    let mut variables = ws.variables(&config, vars, obs)?;
    crate::workspace::unset_as_unknown(&config, &mut variables);
    let registry = ws.registry(Some(&config), Some(&variables), None).await?;
    let schemas = registry.schemas();

    let mut out = Imported::default();
    let mut state = State::new(&ws.env, crate::recover::new_lineage());
    state.created_at = kiln_store::unix_now();
    state.generation = 1;
    let mut deps: BTreeMap<InstanceAddr, Vec<String>> = BTreeMap::new();
    for r in &tf.resources {
        let what = |key: &str| match &r.module {
            Some(m) => format!("{m}.{}.{}{key}", r.ty, r.name),
            None => format!("{}.{}{key}", r.ty, r.name),
        };
        if r.mode != "managed" {
            out.skipped.push((
                format!("data.{}", what("")),
                "a data source: kiln reads it again".into(),
            ));
            continue;
        }
        let provider = registry.for_resource(&r.ty).map(|(p, _)| p.to_string());
        for inst in &r.instances {
            let key = match &inst.index_key {
                None => InstanceKey::None,
                Some(serde_json::Value::Number(n)) => {
                    InstanceKey::Int(n.as_u64().context("an index key is not a whole number")?)
                }
                Some(serde_json::Value::String(s)) => InstanceKey::Str(s.clone().into()),
                Some(other) => bail!("{}: unexpected index_key {other}", what("")),
            };
            let text = what(&key.to_string());
            let Some(provider) = &provider else {
                out.skipped
                    .push((text, format!("kiln has no provider for the type {}", r.ty)));
                continue;
            };
            if let Some(d) = &inst.deposed {
                out.skipped.push((
                    text,
                    format!("a deposed object ({d}) Terraform had still to destroy"),
                ));
                continue;
            }
            let addr: InstanceAddr = text
                .parse()
                .with_context(|| format!("the address {text} in the Terraform state"))?;
            let mut attributes = Value::from_plain_json(inst.attributes.clone());
            // An attribute of any type is written by Terraform as
            // `{"value": V, "type": T}` (cty's JSON of a dynamic value).
            if let (Some((_, schema)), Value::Map(m)) = (schemas.resource(&r.ty), &mut attributes) {
                for (name, a) in &schema.attributes {
                    if a.ty == kiln_model::Type::Any
                        && let Some(Value::Map(wrapped)) = m.get(name)
                        && wrapped.len() == 2
                        && wrapped.contains_key("type")
                        && let Some(v) = wrapped.get("value").cloned()
                    {
                        m.insert(name.clone(), v);
                    }
                }
                // Shaped as kiln's schema has the type: attributes it does
                // not know left out (`tags_all`, arguments kiln does not
                // take), Terraform's one-element block lists as objects.
                m.retain(|name, _| name == "id" || schema.attributes.contains_key(name.as_str()));
                for (name, a) in &schema.attributes {
                    if let Some(v) = m.get_mut(name) {
                        *v = conform(std::mem::take(v), &a.ty);
                    }
                }
            }
            let Some(id) = attributes
                .get("id")
                .and_then(|v| v.as_str().map(str::to_string))
            else {
                out.skipped.push((text, "it has no id attribute".into()));
                continue;
            };
            let stateful = schemas.resource(&r.ty).is_some_and(|(_, s)| s.stateful);
            deps.insert(addr.clone(), inst.dependencies.clone());
            state.resources.insert(
                addr.clone(),
                ResourceState {
                    idempotency_key: kiln_engine::idempotency_key(&state.lineage, &addr, 1),
                    addr,
                    type_name: r.ty.clone().into(),
                    provider: provider.clone().into(),
                    id: id.into(),
                    attributes,
                    dependencies: Vec::new(),
                    generation: 1,
                    stateful,
                },
            );
        }
    }
    // Terraform's dependencies name resources; kiln's name instances.
    let known: Vec<InstanceAddr> = state.resources.keys().cloned().collect();
    for (addr, names) in deps {
        let mut list: Vec<InstanceAddr> = known
            .iter()
            .filter(|k| {
                names.iter().any(|n| {
                    let base = k.to_string();
                    let resource = base.split('[').next().unwrap_or(&base).to_string();
                    *n == base || *n == resource
                })
            })
            .cloned()
            .collect();
        list.sort();
        list.dedup();
        if let Some(r) = state.resources.get_mut(&addr) {
            r.dependencies = list;
        }
    }
    // Read every adopted object back through its provider.
    let report = kiln_engine::refresh(&state, &registry, 10).await;
    obs.diagnostics(&report.diagnostics);
    if report.diagnostics.has_errors() {
        bail!("reading the adopted objects failed; nothing was written");
    }
    for addr in &report.gone {
        out.skipped
            .push((addr.to_string(), "the object no longer exists".into()));
    }
    let mut state = report.state;
    reconcile(&mut state, &config, variables, ws, schemas)?;

    let env = ws.env.clone();
    let summary = format!("imported from the Terraform state {}", file.display());
    let serial = with_lock(ws, "state import-terraform", lock_timeout, obs, async || {
        if let Some(current) = ws.store.read(&env).await? {
            bail!(
                "environment {env:?} already has a state (serial {}): import into a new environment (--env NAME), or destroy this one first",
                current.state.serial
            );
        }
        ws.store.write(&env, &state, None, &summary).await?;
        Ok(ws.store.read(&env).await?.map_or(0, |v| v.state.serial))
    })
    .await?;
    let all: Vec<InstanceAddr> = state.resources.keys().cloned().collect();
    mark_adopted(ws, &state, &all, &registry, obs).await;
    out.adopted = state
        .resources
        .values()
        .map(|r| (r.addr.clone(), r.id.to_string()))
        .collect();
    out.serial = serial;
    Ok(out)
}

/// Records as null an adopted attribute Terraform wrote as a zero value
/// where the configuration has null (see the module documentation).
fn reconcile(
    state: &mut State,
    config: &kiln_config::Config,
    variables: BTreeMap<String, Value>,
    ws: &Workspace,
    schemas: &kiln_model::Schemas,
) -> Result<()> {
    reconcile_only(state, None, false, config, variables, ws, schemas).map(|_| ())
}

/// [`reconcile`] for the instances in `only` (every one with `None`). With
/// `fill` (an object adopted by id, whose provider may not read every
/// argument back), an argument the read left null takes the
/// configuration's value; those are returned, to be said. Repeated while
/// it changes something (an argument may refer to another adopted object).
fn reconcile_only(
    state: &mut State,
    only: Option<&[InstanceAddr]>,
    fill: bool,
    config: &kiln_config::Config,
    variables: BTreeMap<String, Value>,
    ws: &Workspace,
    schemas: &kiln_model::Schemas,
) -> Result<Vec<(InstanceAddr, String)>> {
    let options = PlanOptions {
        env: ws.env.clone(),
        variables,
        root_dir: ws.abs_dir.display().to_string(),
        files: ws.files(),
        data_unknown: true,
        ..Default::default()
    };
    let mut filled = Vec::new();
    for _round in 0..4 {
        if !reconcile_round(state, only, fill, config, &options, schemas, &mut filled)? {
            break;
        }
    }
    Ok(filled)
}

fn reconcile_round(
    state: &mut State,
    only: Option<&[InstanceAddr]>,
    fill: bool,
    config: &kiln_config::Config,
    options: &PlanOptions,
    schemas: &kiln_model::Schemas,
    filled: &mut Vec<(InstanceAddr, String)>,
) -> Result<bool> {
    let mut changed = false;
    let plan = kiln_plan::plan(config, state, schemas, options)?;
    for a in &plan.actions {
        if !matches!(a.kind, ActionKind::Update | ActionKind::Replace)
            || only.is_some_and(|o| !o.contains(&a.addr))
        {
            continue;
        }
        let (Some(after), Some(r)) = (&a.after, state.resources.get_mut(&a.addr)) else {
            continue;
        };
        let Some((_, schema)) = schemas.resource(&a.type_name) else {
            continue;
        };
        let Value::Map(attrs) = &mut r.attributes else {
            continue;
        };
        for (name, s) in &schema.attributes {
            if s.presence == Presence::Computed {
                continue;
            }
            let want = after.get(name).unwrap_or(&Value::Null);
            let have = attrs.get(name).cloned().unwrap_or(Value::Null);
            if let Some(v) = same_meaning(&have, want) {
                if v != have {
                    changed = true;
                }
                attrs.insert(name.clone(), v);
            } else if fill && have.is_null() && want.is_known() {
                attrs.insert(name.clone(), want.clone());
                filled.push((a.addr.clone(), name.clone()));
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Marks the adopted objects `addrs` of `state` as kiln's through their
/// providers (kiln's tags and idempotency key: see
/// [`kiln_provider::AdoptRequest`]), once the state records them. A
/// failure is a warning: the object is adopted all the same, only found by
/// its id rather than its key.
async fn mark_adopted(
    ws: &Workspace,
    state: &State,
    addrs: &[InstanceAddr],
    registry: &kiln_provider::Registry,
    obs: &dyn Observer,
) {
    for addr in addrs {
        let Some(r) = state.resources.get(addr) else {
            continue;
        };
        let Some(provider) = registry.get(&r.provider) else {
            continue;
        };
        let context = kiln_provider::CallContext {
            env: state.env.clone(),
            lineage: state.lineage.clone(),
            generation: r.generation,
            address: addr.to_string(),
            workdir: ws.abs_dir.display().to_string(),
            datadir: ws.datadir.display().to_string(),
        };
        if let Some(w) = kiln_engine::mark_adopted(provider.as_ref(), r, context).await {
            obs.diagnostic(&w);
        }
    }
}

/// A value of Terraform's state in the shape of kiln's type `ty`: an
/// object keeps only the attributes the type declares; a block Terraform
/// writes as a list of at most one object (`launch_template = [{...}]`) is
/// that object, or null when the list is empty; lists and maps are shaped
/// element by element.
fn conform(v: Value, ty: &kiln_model::Type) -> Value {
    use kiln_model::Type;
    match (v, ty) {
        (Value::List(items), Type::Object(_)) if items.len() <= 1 => match items.into_vec().pop() {
            Some(x) => conform(x, ty),
            None => Value::Null,
        },
        (Value::Map(mut m), Type::Object(fields)) => {
            m.retain(|k, _| fields.contains_key(k.as_str()));
            for (k, t) in fields {
                if let Some(x) = m.get_mut(k) {
                    *x = conform(std::mem::take(x), t);
                }
            }
            Value::Map(m)
        }
        (Value::List(items), Type::List(t) | Type::Set(t)) => {
            Value::List(items.into_iter().map(|x| conform(x, t)).collect())
        }
        (Value::Map(m), Type::Map(t)) => {
            Value::Map(m.into_iter().map(|(k, x)| (k, conform(x, t))).collect())
        }
        (v, _) => v,
    }
}

/// The value to record for `have` (Terraform's) when the configuration
/// says `want`, if the two mean the same: equal, or a zero value where the
/// configuration has null, element by element.
fn same_meaning(have: &Value, want: &Value) -> Option<Value> {
    let (have, want) = (have.unmarked(), want.unmarked());
    if matches!(want, Value::Unknown) {
        return None;
    }
    if have == want {
        return Some(want.clone());
    }
    match (have, want) {
        // An argument the configuration leaves out: kiln records it as
        // null for its own objects too (the provider's default, whatever
        // value the object reports).
        (_, Value::Null) => Some(Value::Null),
        (Value::Map(h), Value::Map(w)) => {
            let mut out = kiln_model::FieldMap::new();
            for k in h.keys().chain(w.keys()) {
                let v = same_meaning(
                    h.get(k).unwrap_or(&Value::Null),
                    w.get(k).unwrap_or(&Value::Null),
                )?;
                out.insert(k.clone(), v);
            }
            Some(Value::Map(out.into()))
        }
        (Value::List(h), Value::List(w)) if h.len() == w.len() => h
            .iter()
            .zip(w)
            .map(|(a, b)| same_meaning(a, b))
            .collect::<Option<Vec<_>>>()
            .map(|l| Value::List(l.into())),
        _ => None,
    }
}

/// Adopts existing objects by id (`import` blocks, `kiln import`): each
/// `(address, id)` the state does not hold yet is read through its
/// provider, reconciled with the configuration like an imported Terraform
/// state, and added to `state`. The records added.
///
/// # Errors
/// An address whose resource the configuration does not declare, a type
/// no provider has, an id with no object behind it, a failed read.
/// Nothing is added then.
pub(crate) async fn adopt_by_id(
    ws: &Workspace,
    config: &kiln_config::Config,
    variables: &BTreeMap<String, Value>,
    state: &mut State,
    registry: &kiln_provider::Registry,
    wanted: &[(InstanceAddr, String)],
    obs: &dyn Observer,
) -> Result<Vec<kiln_state::journal::ResourceRecord>> {
    let schemas = registry.schemas();
    let mut tmp = State::new(&state.env, &state.lineage);
    let generation = state.generation.max(1);
    for (addr, id) in wanted {
        if state.resources.contains_key(addr) {
            continue;
        }
        if addr.module.is_empty() && !config.resources.iter().any(|r| r.addr == addr.resource) {
            bail!(
                "cannot import {addr}: the configuration declares no {}; add its resource block first",
                addr.resource
            );
        }
        let Some((provider, _)) = registry.for_resource(&addr.resource.ty) else {
            bail!(
                "cannot import {addr}: kiln has no provider for the type {}",
                addr.resource.ty
            );
        };
        let stateful = schemas
            .resource(&addr.resource.ty)
            .is_some_and(|(_, s)| s.stateful);
        tmp.resources.insert(
            addr.clone(),
            ResourceState {
                idempotency_key: kiln_engine::idempotency_key(&state.lineage, addr, generation),
                addr: addr.clone(),
                type_name: addr.resource.ty.clone(),
                provider: provider.into(),
                id: id.clone().into(),
                attributes: Value::map([("id", Value::from(id.as_str()))]),
                dependencies: Vec::new(),
                generation,
                stateful,
            },
        );
    }
    if tmp.resources.is_empty() {
        return Ok(Vec::new());
    }
    let report = kiln_engine::refresh(&tmp, registry, 10).await;
    if report.diagnostics.has_errors() {
        let first = report
            .diagnostics
            .iter()
            .next()
            .map(|d| d.summary.clone())
            .unwrap_or_default();
        bail!("reading the objects to import failed: {first}; nothing was changed");
    }
    if let Some(addr) = report.gone.first() {
        let id = wanted
            .iter()
            .find(|(a, _)| a == addr)
            .map(|(_, id)| id.as_str())
            .unwrap_or_default();
        bail!(
            "cannot import {addr}: no {} with id {id:?} exists; nothing was changed",
            addr.resource.ty
        );
    }
    let added: Vec<InstanceAddr> = report.state.resources.keys().cloned().collect();
    let mut work = state.clone();
    for (addr, r) in report.state.resources {
        work.resources.insert(addr, r);
    }
    let filled = reconcile_only(
        &mut work,
        Some(&added),
        true,
        config,
        variables.clone(),
        ws,
        schemas,
    )?;
    if !filled.is_empty() {
        let mut by_addr: BTreeMap<&InstanceAddr, Vec<&str>> = BTreeMap::new();
        for (a, n) in &filled {
            by_addr.entry(a).or_default().push(n);
        }
        for (a, names) in by_addr {
            obs.warn(&format!(
                "{a}: its provider does not read back {}; kiln takes them from the configuration — check they match the object",
                names.join(", ")
            ));
        }
    }
    let records = added
        .iter()
        .filter_map(|a| work.resources.get(a))
        .map(kiln_state::journal::ResourceRecord::from)
        .collect();
    *state = work;
    Ok(records)
}

/// The `(address, id)` pairs of the configuration's `import` blocks; an
/// id may use variables.
///
/// # Errors
/// An address that is not an instance address, an id that is not a known
/// string.
pub(crate) fn import_targets(
    config: &kiln_config::Config,
    variables: &BTreeMap<String, Value>,
) -> Result<Vec<(InstanceAddr, String)>> {
    struct Vars<'a> {
        vars: &'a BTreeMap<String, Value>,
        each: Option<(Value, Value)>,
    }
    impl kiln_config::Scope for Vars<'_> {
        fn variable(&self, name: &str) -> Option<Value> {
            self.vars.get(name).cloned()
        }
        fn local(&self, _: &str) -> Option<Value> {
            None
        }
        fn resource(&self, _: &kiln_model::ResourceAddr) -> Option<Value> {
            None
        }
        fn each(&self) -> Option<(Value, Value)> {
            self.each.clone()
        }
        fn names(&self, kind: kiln_config::NameKind) -> Vec<String> {
            match kind {
                kiln_config::NameKind::Variable => self.vars.keys().cloned().collect(),
                _ => Vec::new(),
            }
        }
    }
    // Values given, else the declared defaults.
    let mut values = variables.clone();
    for v in &config.variables {
        if let Some(d) = &v.default {
            values.entry(v.name.clone()).or_insert_with(|| d.clone());
        }
    }
    let mut out = Vec::new();
    for i in &config.imports {
        let at = i.loc.span();
        let elements: Vec<Option<(Value, Value)>> = match &i.for_each {
            None => vec![None],
            Some(expr) => {
                let scope = Vars {
                    vars: &values,
                    each: None,
                };
                let v = kiln_config::eval(expr, &scope).map_err(|d| anyhow::anyhow!("{d}"))?;
                match v.unmarked() {
                    Value::Map(m) => m
                        .iter()
                        .map(|(k, v)| Some((Value::from(k.as_str()), v.clone())))
                        .collect(),
                    Value::List(items) => {
                        items.iter().map(|v| Some((v.clone(), v.clone()))).collect()
                    }
                    other => bail!(
                        "{at}: import.for_each must be a map or a set of strings (known before planning), got {}",
                        other.type_name()
                    ),
                }
            }
        };
        for each in elements {
            let scope = Vars {
                vars: &values,
                each,
            };
            let to = resolve_indexes(&i.to, &scope)
                .map_err(|e| anyhow::anyhow!("{at}: import.to: {e}"))?;
            let addr: InstanceAddr = to
                .parse()
                .map_err(|e| anyhow::anyhow!("{at}: import.to: {e}"))?;
            let id = kiln_config::eval(&i.id, &scope).map_err(|d| anyhow::anyhow!("{d}"))?;
            let Some(id) = id.as_str().map(str::to_string) else {
                bail!(
                    "{at}: import.id must be a known string (a literal, or made of variables and each), got {}",
                    id.type_name()
                );
            };
            out.push((addr, id));
        }
    }
    Ok(out)
}

/// An address as written with each index expression (`[each.key]`)
/// evaluated: `aws_instance.web["a"]`.
fn resolve_indexes(text: &str, scope: &dyn kiln_config::Scope) -> Result<String, String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find(']')
            .map(|c| open + c)
            .ok_or("an index without its closing ]")?;
        let inner = &rest[open + 1..close];
        let literal = inner.starts_with('"') || inner.bytes().all(|b| b.is_ascii_digit());
        if literal {
            out.push_str(&rest[open..=close]);
        } else {
            let expr = kiln_config::parse_expr("<import.to>", inner).map_err(|d| d.to_string())?;
            let key = kiln_config::eval(&expr, scope).map_err(|d| d.to_string())?;
            match key.unmarked() {
                Value::String(s) => {
                    out.push('[');
                    out.push_str(&serde_json::to_string(s).map_err(|e| e.to_string())?);
                    out.push(']');
                }
                Value::Number(n) => out.push_str(&format!("[{n}]")),
                other => {
                    return Err(format!(
                        "an index must be a string or a number, got {}",
                        other.type_name()
                    ));
                }
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `kiln import ADDR ID`: adopts the existing object `ID` as `ADDR` into
/// the state, under the lock, as an `import` block would (the next
/// `kiln plan` shows what would change). The record written.
///
/// # Errors
/// See [`adopt_by_id`]; the state already holds `ADDR`; a lock held
/// elsewhere; any store error. Nothing is changed then.
pub async fn import_one(
    ws: &Workspace,
    addr: &str,
    id: &str,
    vars: &VarInputs,
    lock_timeout: Duration,
    obs: &dyn Observer,
) -> Result<kiln_state::journal::ResourceRecord> {
    let addr: InstanceAddr = addr.parse()?;
    let (config, warnings) = ws.load_config()?;
    obs.diagnostics(&warnings);
    let mut variables = ws.variables(&config, vars, obs)?;
    crate::workspace::unset_as_unknown(&config, &mut variables);
    with_lock(
        ws,
        &format!("import {addr}"),
        lock_timeout,
        obs,
        async || {
            let current = ws.store.read(&ws.env).await?;
            let mut state = match &current {
                Some(c) => c.state.clone(),
                None => {
                    let mut s = State::new(&ws.env, crate::recover::new_lineage());
                    s.created_at = kiln_store::unix_now();
                    s
                }
            };
            if state.resources.contains_key(&addr) {
                bail!("the state already holds {addr}; nothing was changed");
            }
            let registry = ws
                .registry(Some(&config), Some(&variables), Some(&state))
                .await?;
            let mut records = adopt_by_id(
                ws,
                &config,
                &variables,
                &mut state,
                &registry,
                &[(addr.clone(), id.to_string())],
                obs,
            )
            .await?;
            ws.store
                .write(
                    &ws.env,
                    &state,
                    current.as_ref().map(|c| &c.version),
                    &format!("import {addr} {id}"),
                )
                .await?;
            mark_adopted(ws, &state, std::slice::from_ref(&addr), &registry, obs).await;
            records
                .pop()
                .ok_or_else(|| anyhow::anyhow!("nothing was imported"))
        },
    )
    .await
}
