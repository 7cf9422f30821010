//! The planner's test harness: scenario files in, a rendered snapshot out.
//!
//! A case is a file `tests/cases/NAME.txt` of sections, each starting with a
//! `=== COMMAND` line:
//!
//! - `=== config` — the section's text becomes the configuration (`main.hcl`);
//! - `=== file PATH` — a file of a module (`modules/web/main.hcl`), loaded
//!   when the configuration calls the module (`source = "./modules/web"`);
//! - `=== apply FLAGS` — plan with FLAGS, which must succeed, then apply the
//!   plan to the in-memory state with a fake provider (ids are
//!   `ADDR@GENERATION`), through [`ApplyEvaluator`];
//! - `=== plan FLAGS` — plan with FLAGS and record the rendered plan (or the
//!   errors) in the snapshot;
//! - `=== depose ADDR` — simulate an interrupted replacement: a copy of ADDR's
//!   object is left deposed with id `ID-old`;
//! - `=== rollback` — plan `kiln rollback` and record it (or the errors);
//!   `=== apply --rollback` applies that plan;
//! - `=== state` — record the current objects and the previous generation.
//!
//! FLAGS: `--replace A`, `--allow-replace A`, `--allow-destroy A`,
//! `--rebuild`, `--keep-previous`, `--destroy`, `--drift A=DETAIL`,
//! `--var NAME=VALUE` (a string).
//!
//! The snapshot is `tests/snapshots/NAME.snap`; run with `UPDATE_SNAPSHOTS=1`
//! to write it instead of comparing.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;

use kiln_config::SourceFile;
use kiln_diag::Diagnostics;
use kiln_model::{
    AttributeSchema, InstanceAddr, Presence, ProviderSchema, ResourceSchema, Schemas, Type, Value,
};
use kiln_plan::{ActionKind, ApplyEvaluator, GenerationChange, Plan, PlanOptions, Reason, StepOp};
use kiln_state::{OutputState, ResourceState, State};

/// `null_resource`, the stateful `test_volume`, the health-checked
/// `test_service` (whose `name` is its physical name, at most 12
/// characters) and the traffic switch `test_switch`.
pub fn schemas() -> Schemas {
    let str_map = || Type::Map(Box::new(Type::String));
    let null = ProviderSchema {
        name: "null".into(),
        resources: BTreeMap::from([(
            "null_resource".to_string(),
            ResourceSchema::new()
                .attr("triggers", AttributeSchema::optional(str_map()))
                .attr("labels", AttributeSchema::optional(str_map()).runtime())
                .attr("delay", AttributeSchema::optional(Type::String).runtime())
                .attr(
                    "secret",
                    AttributeSchema::optional(Type::String).sensitive(),
                )
                .attr("id", AttributeSchema::computed(Type::String)),
        )]),
        data_sources: BTreeMap::from([(
            "null_data_source".to_string(),
            ResourceSchema::new()
                .attr("inputs", AttributeSchema::optional(str_map()))
                .attr("outputs", AttributeSchema::computed(str_map()))
                .attr("id", AttributeSchema::computed(Type::String)),
        )]),
        ..Default::default()
    };
    let mut volume = ResourceSchema::new()
        .attr("name", AttributeSchema::required(Type::String))
        .attr("size", AttributeSchema::optional(Type::Number).updatable())
        .attr("tags", AttributeSchema::optional(str_map()).runtime())
        .attr(
            "zone",
            AttributeSchema::new(Type::String, Presence::OptionalComputed),
        )
        .attr("id", AttributeSchema::computed(Type::String));
    volume.stateful = true;
    let mut service = ResourceSchema::new()
        .attr("image", AttributeSchema::required(Type::String))
        .attr("volume", AttributeSchema::optional(Type::String))
        .attr(
            "name",
            AttributeSchema::new(Type::String, Presence::OptionalComputed),
        )
        .attr("id", AttributeSchema::computed(Type::String))
        .attr("url", AttributeSchema::computed(Type::String))
        .physical_name("name", 12);
    service.health_check = true;
    let mut switch = ResourceSchema::new()
        .attr("listen", AttributeSchema::required(Type::String))
        .attr(
            "backends",
            AttributeSchema::required(Type::List(Box::new(Type::String))).runtime(),
        )
        .attr("id", AttributeSchema::computed(Type::String));
    switch.traffic_switch = true;
    let test = ProviderSchema {
        name: "test".into(),
        resources: BTreeMap::from([
            ("test_volume".to_string(), volume),
            ("test_service".to_string(), service),
            ("test_switch".to_string(), switch),
        ]),
        ..Default::default()
    };
    Schemas::new([null, test])
}

pub fn parse(text: &str) -> kiln_config::Config {
    let (config, diags) = kiln_config::parse(vec![SourceFile {
        name: "main.hcl".into(),
        text: text.into(),
    }]);
    assert!(
        !diags.has_errors(),
        "the test configuration does not parse:\n{diags}"
    );
    config
}

pub fn options(flags: &str) -> PlanOptions {
    let mut o = PlanOptions {
        env: "test".into(),
        root_dir: "/project".into(),
        ..Default::default()
    };
    let mut words = flags.split_whitespace();
    let addr =
        |w: Option<&str>| -> InstanceAddr { w.expect("an address").parse().expect("an address") };
    while let Some(w) = words.next() {
        match w {
            "--replace" => o.replace.push(addr(words.next())),
            "--allow-replace" => o.allow_replace.push(addr(words.next())),
            "--allow-destroy" => o.allow_destroy.push(addr(words.next())),
            "--rebuild" => o.rebuild = true,
            "--keep-previous" => o.keep_previous = true,
            "--destroy" => o.destroy = true,
            "--drift" => {
                let (a, d) = words
                    .next()
                    .and_then(|s| s.split_once('='))
                    .expect("ADDR=DETAIL");
                o.drifted.insert(addr(Some(a)), d.replace('_', " "));
            }
            "--var" => {
                let (k, v) = words
                    .next()
                    .and_then(|s| s.split_once('='))
                    .expect("NAME=VALUE");
                o.variables.insert(k.into(), Value::from(v));
            }
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

/// Applies a plan to `state` the way the engine would, with a fake provider.
pub fn apply(plan: &Plan, state: &mut State, schemas: &Schemas) -> Result<(), Diagnostics> {
    let mut ev = ApplyEvaluator::new(plan, schemas)?;
    for s in step_order(plan) {
        let step = &plan.steps[s];
        let action = &plan.actions[step.action];
        match step.op {
            StepOp::Create | StepOp::Update => {
                let value = {
                    let st = &*state;
                    let applied =
                        |a: &InstanceAddr| st.resources.get(a).map(|r| r.attributes.clone());
                    ev.final_attributes(step.action, &applied)?
                };
                let schema = schemas.resource(&action.type_name).expect("schema").1;
                let mut attrs = value.into_unmarked();
                if let Value::Map(m) = &mut attrs {
                    for (name, a) in &schema.attributes {
                        let v = m.entry(name.clone()).or_insert(Value::Null);
                        if a.is_computed() && v.is_null() {
                            *v = Value::from(format!("{}@{}", action.addr, action.generation));
                        }
                    }
                }
                let id = attrs
                    .as_map()
                    .and_then(|m| m.get("id"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string();
                let new = ResourceState {
                    addr: action.addr.clone(),
                    type_name: action.type_name.clone(),
                    provider: action.provider.clone(),
                    id: id.into(),
                    attributes: attrs,
                    dependencies: action.dependencies.clone(),
                    generation: action.generation,
                    stateful: action.stateful,
                    idempotency_key: Default::default(),
                };
                if let Some(old) = state.resources.insert(action.addr.clone(), new)
                    && action.kind == ActionKind::Replace
                {
                    state.deposed.push(old);
                }
            }
            StepOp::Delete => {
                state.resources.remove(&action.addr);
            }
            StepOp::DeleteDeposed => {
                let id = step.object_id.as_deref().expect("an object id");
                kiln_state::journal::apply_outcome(
                    state,
                    &action.addr,
                    kiln_state::StepOp::DeleteDeposed,
                    &kiln_state::Outcome::Deleted { id: id.to_string() },
                );
            }
        }
    }
    match &plan.generations {
        Some(GenerationChange::Keep {
            previous,
            kept,
            switches,
        }) => {
            let previous = kiln_state::Previous {
                generation: *previous,
                resources: Default::default(),
                switches: switches.iter().cloned().collect(),
                source: None,
                outputs: state.outputs.clone(),
            };
            state.keep_previous(previous, kept);
        }
        Some(GenerationChange::Swap { switches, .. }) => {
            state.swap_previous(switches.iter().cloned().collect());
            state.serial += 1;
            return Ok(());
        }
        None => {}
    }
    let outputs = {
        let st = &*state;
        let applied = |a: &InstanceAddr| st.resources.get(a).map(|r| r.attributes.clone());
        ev.outputs(&applied)?
    };
    state.outputs = outputs
        .into_iter()
        .map(|(k, v)| {
            let sensitive = plan.outputs.get(&k).is_some_and(|o| o.sensitive);
            (
                k,
                OutputState {
                    value: v.into_unmarked(),
                    sensitive,
                },
            )
        })
        .collect();
    state.serial += 1;
    state.generation = plan.generation;
    Ok(())
}

/// The steps in an order that respects `depends_on` (ready steps by id).
pub fn step_order(plan: &Plan) -> Vec<usize> {
    let n = plan.steps.len();
    let mut waiting: Vec<usize> = plan.steps.iter().map(|s| s.depends_on.len()).collect();
    let mut dependents = vec![Vec::new(); n];
    for s in &plan.steps {
        for &d in &s.depends_on {
            dependents[d].push(s.id);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut out = Vec::new();
    while let Some(s) = ready.pop_front() {
        out.push(s);
        for &t in &dependents[s] {
            waiting[t] -= 1;
            if waiting[t] == 0 {
                ready.push_back(t);
            }
        }
    }
    assert_eq!(out.len(), n, "the step graph has a cycle");
    out
}

/// A plan, as the snapshots show it.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "generation {}", plan.generation);
    for (addr, provider) in &plan.source.deferred_data {
        let _ = writeln!(s, "read during apply {addr} (provider {provider})");
    }
    for a in &plan.actions {
        let kind = match a.kind {
            ActionKind::NoOp => "no-op",
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Replace => "replace",
            ActionKind::Delete => "delete",
        };
        let mut flags = Vec::new();
        if a.stateful {
            flags.push("stateful".to_string());
        }
        if matches!(a.kind, ActionKind::Create | ActionKind::Replace) {
            flags.push(format!("gen {}", a.generation));
        }
        if a.kept {
            flags.push("old one kept for rollback".to_string());
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(", "))
        };
        let _ = writeln!(s, "{kind} {}{flags}", a.addr);
        if a.kind == ActionKind::NoOp {
            continue;
        }
        for r in &a.reasons {
            let _ = writeln!(s, "    because {}", reason(r));
        }
        if let Some(after) = &a.after {
            let _ = writeln!(s, "    after {after}");
        }
        if !a.dependencies.is_empty() {
            let deps: Vec<String> = a.dependencies.iter().map(ToString::to_string).collect();
            let _ = writeln!(s, "    depends on {}", deps.join(", "));
        }
    }
    if !plan.steps.is_empty() {
        let _ = writeln!(s, "steps:");
    }
    for st in &plan.steps {
        let op = match st.op {
            StepOp::Create => "create",
            StepOp::Update => "update",
            StepOp::Delete => "delete",
            StepOp::DeleteDeposed => "delete-deposed",
        };
        let _ = write!(s, "  #{} {op} {}", st.id, plan.actions[st.action].addr);
        if let Some(id) = &st.object_id {
            let _ = write!(s, " [{id}]");
        }
        if !st.depends_on.is_empty() {
            let deps: Vec<String> = st.depends_on.iter().map(|d| format!("#{d}")).collect();
            let _ = write!(s, " after {}", deps.join(" "));
        }
        s.push('\n');
    }
    for (name, o) in &plan.outputs {
        let mut flags = Vec::new();
        if o.changed {
            flags.push("changed");
        }
        if o.sensitive {
            flags.push("sensitive");
        }
        let _ = writeln!(s, "output {name} = {} ({})", o.value, flags.join(", "));
    }
    match &plan.generations {
        Some(GenerationChange::Keep {
            previous,
            kept,
            switches,
        }) => {
            let kept: Vec<String> = kept.iter().map(|(a, id)| format!("{a} [{id}]")).collect();
            let _ = writeln!(s, "keeps generation {previous}: {}", kept.join(", "));
            for (a, v) in switches {
                let _ = writeln!(s, "    switch {a} back = {v}");
            }
        }
        Some(GenerationChange::Swap { to, switches }) => {
            let _ = writeln!(s, "swaps to generation {to}");
            for (a, v) in switches {
                let _ = writeln!(s, "    switch {a} forward = {v}");
            }
        }
        None => {}
    }
    for w in &plan.warnings {
        let _ = writeln!(s, "{w}");
    }
    s
}

/// The state's generations, as the snapshots show them.
pub fn render_state(state: &State) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "generation counter {}, current {}",
        state.generation,
        state.current_generation()
    );
    for r in state.resources.values() {
        let _ = writeln!(s, "  current {} [{}] gen {}", r.addr, r.id, r.generation);
    }
    for r in &state.deposed {
        let _ = writeln!(s, "  deposed {} [{}]", r.addr, r.id);
    }
    if let Some(p) = &state.previous {
        let _ = writeln!(s, "  previous generation {}", p.generation);
        for r in &p.resources {
            let _ = writeln!(s, "    {} [{}] gen {}", r.addr, r.id, r.generation);
        }
        for (a, v) in &p.switches {
            let _ = writeln!(s, "    switch {a} = {v}");
        }
    }
    s
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::NotInState => "not in state".into(),
        Reason::NotInConfig => "not in config".into(),
        Reason::Destroy => "destroy".into(),
        Reason::Attribute {
            path,
            before,
            after,
            behaviour,
        } => {
            format!("{path}: {before} -> {after} ({behaviour:?})")
        }
        Reason::Cascade {
            path,
            source,
            source_kind,
        } => {
            format!("{path} references {source}, which is {source_kind:?}")
        }
        Reason::Forced => "--replace".into(),
        Reason::Triggered {
            source,
            source_kind,
        } => format!("replace_triggered_by {source}, which is {source_kind:?}"),
        Reason::Rebuild => "--rebuild".into(),
        Reason::Drift { detail } => format!("drift: {detail}"),
        Reason::Deposed { id } => format!("deposed object {id}"),
        Reason::Previous { id, generation } => {
            format!("previous generation {generation}'s object {id}")
        }
        Reason::Rollback { generation } => format!("rollback to generation {generation}"),
        Reason::PhysicalName {
            attribute,
            written,
            physical,
            holder,
        } => format!("{attribute} {written:?} held by {holder}: named {physical:?}"),
    }
}

/// Runs the case file `name` and compares (or writes) its snapshot.
pub fn check(name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let input = std::fs::read_to_string(dir.join("cases").join(format!("{name}.txt")))
        .unwrap_or_else(|e| panic!("case {name}: {e}"));
    let actual = run_case(&input);
    let snap = dir.join("snapshots").join(format!("{name}.snap"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snap.parent().expect("a parent")).expect("snapshot dir");
        std::fs::write(&snap, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&snap).unwrap_or_default();
    if expected != actual {
        panic!(
            "case {name}: the output differs from {} (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            snap.display()
        );
    }
}

/// Reads the data sources as the CLI does, round by round, with a fake
/// `null_data_source`: outputs are the inputs, the id is `read:ADDR`.
pub fn read_data(
    config: &kiln_config::Config,
    state: &State,
    schemas: &Schemas,
    opts: &mut PlanOptions,
) {
    while let Ok(reads) = kiln_plan::data_reads(config, state, schemas, opts) {
        if reads.is_empty() {
            return;
        }
        for r in reads {
            let inputs = r
                .config
                .as_map()
                .and_then(|m| m.get("inputs"))
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or_else(|| Value::Map(BTreeMap::new().into()));
            let value = Value::map([
                ("inputs", inputs.clone()),
                ("outputs", inputs),
                ("id", Value::string(format!("read:{}", r.addr))),
            ]);
            opts.data.insert(r.addr, value);
        }
    }
}

fn run_case(input: &str) -> String {
    let schemas = schemas();
    let mut state = State::new("test", "lineage-1");
    let mut config_text = String::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut out = String::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in input.lines() {
        if let Some(cmd) = line.strip_prefix("=== ") {
            sections.push((cmd.trim().to_string(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    for (cmd, body) in sections {
        let (verb, flags) = cmd.split_once(' ').unwrap_or((cmd.as_str(), ""));
        match verb {
            "config" => config_text = body,
            "file" => files.push((flags.trim().to_string(), body)),
            "depose" => {
                let addr: InstanceAddr = flags.trim().parse().expect("an address");
                let mut old = state.resources.get(&addr).expect("in state").clone();
                old.id = format!("{}-old", old.id).into();
                state.deposed.push(old);
            }
            "state" => {
                let _ = writeln!(out, "=== state");
                out.push_str(&render_state(&state));
                out.push('\n');
            }
            "rollback" => {
                let _ = writeln!(out, "=== rollback");
                match kiln_plan::rollback(&state, &schemas, "test") {
                    Ok(plan) => out.push_str(&render(&plan)),
                    Err(d) => {
                        let _ = writeln!(out, "{d}");
                    }
                }
                out.push('\n');
            }
            "apply" if flags.trim() == "--rollback" => {
                let plan = kiln_plan::rollback(&state, &schemas, "test")
                    .unwrap_or_else(|d| panic!("`=== {cmd}` failed:\n{d}"));
                apply(&plan, &mut state, &schemas)
                    .unwrap_or_else(|d| panic!("applying `=== {cmd}` failed:\n{d}"));
            }
            "plan" | "apply" => {
                let mut all = vec![("main.hcl".to_string(), config_text.clone())];
                all.extend(files.iter().cloned());
                let (config, diags) = kiln_config::parse_embedded(&all);
                let result = if diags.has_errors() {
                    Err(diags)
                } else {
                    let mut opts = options(flags);
                    read_data(&config, &state, &schemas, &mut opts);
                    kiln_plan::plan(&config, &state, &schemas, &opts)
                };
                if verb == "apply" {
                    let plan = result.unwrap_or_else(|d| panic!("`=== {cmd}` failed:\n{d}"));
                    apply(&plan, &mut state, &schemas)
                        .unwrap_or_else(|d| panic!("applying `=== {cmd}` failed:\n{d}"));
                    continue;
                }
                let _ = writeln!(out, "=== {cmd}");
                match result {
                    Ok(plan) => out.push_str(&render(&plan)),
                    Err(d) => {
                        let _ = writeln!(out, "{d}");
                    }
                }
                out.push('\n');
            }
            other => panic!("unknown section `=== {other}`"),
        }
    }
    out
}
