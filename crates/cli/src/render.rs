//! Renderers: plans (human diff, JSON), state, graphs. They build strings;
//! `output` writes them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use kiln_model::{ChangeBehaviour, Value};
use kiln_plan::{Action, ActionKind, GenerationChange, Plan, Reason};
use kiln_state::State;
use serde_json::json;

use crate::output::{Output, Style};

/// Counts of actions by kind.
fn symbol(kind: ActionKind) -> (&'static str, Style) {
    match kind {
        ActionKind::Create => ("+", Style::Green),
        ActionKind::Update => ("~", Style::Yellow),
        ActionKind::Replace => ("+/-", Style::Magenta),
        ActionKind::Delete => ("-", Style::Red),
        ActionKind::NoOp => (" ", Style::Plain),
    }
}

fn headline(a: &Action) -> String {
    let what = match a.kind {
        ActionKind::Create => "will be created",
        ActionKind::Update => "will be updated in place",
        ActionKind::Replace if a.kept => {
            "will be replaced (the new one is created first; the old one is kept for rollback)"
        }
        ActionKind::Replace => {
            "will be replaced (the new one is created first, then the old one destroyed)"
        }
        ActionKind::Delete => {
            if a.reasons
                .iter()
                .any(|r| matches!(r, Reason::Deposed { .. }))
            {
                "superseded object will be destroyed"
            } else if a
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::Previous { .. }))
            {
                "object of the previous generation will be destroyed"
            } else {
                "will be destroyed"
            }
        }
        ActionKind::NoOp => "is unchanged",
    };
    format!("{} {what}", a.addr)
}

/// One reason as a sentence.
pub fn reason_text(r: &Reason) -> String {
    match r {
        Reason::NotInState => "it is in the configuration but not in the state".into(),
        Reason::NotInConfig => "it is no longer in the configuration".into(),
        Reason::Destroy => "destroy was requested".into(),
        Reason::Attribute {
            path,
            before,
            after,
            behaviour,
        } => {
            let how = match behaviour {
                ChangeBehaviour::Replace => " (forces replacement)",
                ChangeBehaviour::Runtime => " (run-time configuration)",
                ChangeBehaviour::Update => " (updatable in place)",
            };
            format!("{path} changed: {before} → {after}{how}")
        }
        Reason::Cascade {
            path,
            source,
            source_kind,
        } => {
            let k = match source_kind {
                ActionKind::Create => "created",
                ActionKind::Replace => "replaced",
                ActionKind::Update => "updated",
                ActionKind::Delete => "destroyed",
                ActionKind::NoOp => "unchanged",
            };
            format!("{path} references {source}, which is {k}")
        }
        Reason::Forced => "replacement was requested with --replace".into(),
        Reason::Triggered {
            source,
            source_kind,
        } => {
            let k = match source_kind {
                ActionKind::Create => "created",
                ActionKind::Replace => "replaced",
                ActionKind::Update => "updated",
                ActionKind::Delete => "destroyed",
                ActionKind::NoOp => "unchanged",
            };
            format!("lifecycle.replace_triggered_by names {source}, which is {k}")
        }
        Reason::Rebuild => "--rebuild replaces every stateless resource (a new generation)".into(),
        Reason::Drift { detail } => format!("drift: {detail}"),
        Reason::Deposed { id } => {
            format!("object {id} was superseded by a replacement and still exists")
        }
        Reason::Previous { id, generation } => format!(
            "object {id} of generation {generation} was kept for rollback, and this apply does not keep it (pass --keep-previous to keep the previous generation)"
        ),
        Reason::Rollback { generation } => {
            format!("rollback: traffic moves back to generation {generation}")
        }
        Reason::PhysicalName {
            attribute,
            written,
            physical,
            holder,
        } => format!(
            "{attribute} {written:?} is held by {holder} until it is destroyed, so the new object is named {physical:?} (the next replacement takes {written:?} back)"
        ),
    }
}

/// What the plan does to the generations, as a sentence (None if nothing).
pub fn generations_text(plan: &Plan) -> Option<String> {
    match plan.generations.as_ref()? {
        GenerationChange::Keep { previous, kept, .. } => Some(format!(
            "Generation {previous} is kept for `kiln rollback`: {} replaced object{} stay{} running.",
            kept.len(),
            if kept.len() == 1 { "" } else { "s" },
            if kept.len() == 1 { "s" } else { "" },
        )),
        GenerationChange::Swap { to, .. } => Some(format!(
            "Rollback: traffic moves back to generation {to}, which becomes current; the current generation is kept as the previous one (`kiln rollback` again returns)."
        )),
    }
}

/// A switch's progressive cut-over as the plan shows it: one line per step.
fn cutover_lines(c: &kiln_model::Cutover) -> Vec<String> {
    let mut out = vec![
        "# traffic moves to the new generation step by step (all at once if nothing serves yet):"
            .to_string(),
    ];
    for (i, st) in c.steps.iter().enumerate() {
        out.push(format!(
            "#   step {}: {}% for {}",
            i + 1,
            st.weight,
            humantime::format_duration(std::time::Duration::from_millis(st.hold_ms))
        ));
    }
    if c.steps.last().is_none_or(|st| st.weight < 100.0) {
        out.push(format!("#   step {}: 100%", c.steps.len() + 1));
    }
    for k in &c.checks {
        let mut limits = Vec::new();
        if let Some(m) = k.max {
            limits.push(format!("at most {m}"));
        }
        if let Some(m) = k.max_over_baseline {
            limits.push(format!("at most {m} above the old generation's"));
        }
        out.push(format!(
            "#   each hold checks {} {} every {} (from {} requests; {} failure{} tolerated)",
            k.metric.name(),
            limits.join(" and "),
            humantime::format_duration(std::time::Duration::from_millis(k.interval_ms)),
            k.min_requests,
            k.failure_limit,
            if k.failure_limit == 1 { "" } else { "s" }
        ));
    }
    out.push("#   a failed check moves every request back and rolls the apply back".to_string());
    out
}

/// Prints the human plan to stdout, part by part as it is rendered.
pub fn print_plan(out: &Output, plan: &Plan) {
    plan_human(out, plan, &mut |part| out.print(part));
}

/// Parts of the rendered plan are handed to `emit` once they reach this
/// size: a plan of 100,000 changes is 17 MB of text, never held whole.
const EMIT_AT: usize = 1 << 20;

/// The plan as [`print_plan`] shows it, handed to `emit` in parts, in
/// order.
fn plan_human(out: &Output, plan: &Plan, emit: &mut dyn FnMut(&str)) {
    let mut s = String::new();
    let changes: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::NoOp)
        .collect();
    let sum = plan.summary();
    if !plan.has_changes() {
        let _ = writeln!(
            s,
            "{} The infrastructure matches the configuration ({} resource{} unchanged).",
            out.paint(Style::Green, "No changes."),
            sum.no_op,
            if sum.no_op == 1 { "" } else { "s" }
        );
        emit(&s);
        return;
    }
    if !changes.is_empty()
        || !plan.moves.is_empty()
        || !plan.forgotten.is_empty()
        || !plan.imported.is_empty()
    {
        let _ = writeln!(
            s,
            "kiln will perform the following actions (env {:?}, generation {}):\n",
            plan.env, plan.generation
        );
    }
    for r in &plan.imported {
        let _ = writeln!(
            s,
            "  {} {}",
            out.paint(Style::Green, "<="),
            out.paint(
                Style::Bold,
                &format!("{} will be imported (id {})", r.addr, r.id)
            )
        );
        let _ = writeln!(
            s,
            "      {}",
            out.paint(
                Style::Dim,
                "# because of an import block: the existing object is adopted, not created"
            )
        );
    }
    for m in &plan.moves {
        let _ = writeln!(
            s,
            "  {} {}",
            out.paint(Style::Dim, "#"),
            out.paint(Style::Bold, &format!("{} has moved to {}", m.from, m.to))
        );
        let _ = writeln!(
            s,
            "      {}",
            out.paint(
                Style::Dim,
                "# because of a moved block; the object itself is not changed by the move"
            )
        );
    }
    for a in &plan.forgotten {
        let _ = writeln!(
            s,
            "  {} {}",
            out.paint(Style::Yellow, "-"),
            out.paint(Style::Bold, &format!("{a} will be forgotten"))
        );
        let _ = writeln!(
            s,
            "      {}",
            out.paint(Style::Dim, "# because of a removed block with destroy = false: it leaves the state, and the object is left as it is")
        );
    }
    for addr in plan.source.deferred_data.keys() {
        let _ = writeln!(
            s,
            "  {} {}",
            out.paint(Style::Green, "<="),
            out.paint(Style::Bold, &format!("{addr} will be read during apply"))
        );
        let _ = writeln!(
            s,
            "      {}",
            out.paint(
                Style::Dim,
                "# because its configuration uses values known only after apply"
            )
        );
    }
    if !plan.moves.is_empty()
        || !plan.forgotten.is_empty()
        || !plan.imported.is_empty()
        || !plan.source.deferred_data.is_empty()
    {
        s.push('\n');
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    changes_text(out, &changes, &mut s, emit, cores > 1);
    let mut out_lines = String::new();
    // Display prints every sensitive part as (sensitive).
    let shown = |v: &Value| v.to_string();
    for (name, o) in plan.outputs.iter().filter(|(_, o)| o.changed) {
        let new = if o.sensitive {
            "(sensitive)".to_string()
        } else {
            shown(&o.value)
        };
        let line = match &o.prior {
            None => format!("{} {name} = {new}", out.paint(Style::Green, "+")),
            Some(old) => format!(
                "{} {name} = {} -> {new}",
                out.paint(Style::Yellow, "~"),
                shown(old)
            ),
        };
        let _ = writeln!(out_lines, "  {line}");
    }
    for (name, old) in &plan.removed_outputs {
        let minus = out.paint(Style::Red, "-");
        let _ = writeln!(out_lines, "  {minus} {name} = {}", shown(old));
    }
    if !out_lines.is_empty() {
        let _ = writeln!(s, "Changes to outputs:\n{out_lines}");
    }
    if let Some(g) = generations_text(plan) {
        let _ = writeln!(s, "{g}");
    }
    let refactored = match (plan.imported.len(), plan.moves.len(), plan.forgotten.len()) {
        (0, 0, 0) => String::new(),
        (0, m, f) => format!(" {m} moved, {f} forgotten;"),
        (i, m, f) => format!(" {i} imported, {m} moved, {f} forgotten;"),
    };
    let _ = writeln!(
        s,
        "{} {} to create, {} to replace, {} to update in place, {} to destroy;{refactored} {} unchanged.",
        out.paint(Style::Bold, "Plan:"),
        sum.create,
        sum.replace,
        sum.update,
        sum.delete,
        sum.no_op
    );
    emit(&s);
}

/// An action's before and after values as they may be shown: each side
/// marked sensitive wherever the other is, so neither the old value of a
/// now-sensitive attribute nor the new value of a formerly sensitive one
/// is printed (Terraform hides both sides of such a change).
fn shown(a: &Action) -> (Option<Cow<'_, Value>>, Option<Cow<'_, Value>>) {
    match (&a.before, &a.after) {
        (Some(b), Some(f)) => {
            let b = b.clone().mark_like(f);
            let f = f.clone().mark_like(&b);
            (Some(Cow::Owned(b)), Some(Cow::Owned(f)))
        }
        (b, f) => (b.as_ref().map(Cow::Borrowed), f.as_ref().map(Cow::Borrowed)),
    }
}

/// Changes in a chunk a helper thread renders while this one renders the
/// chunk before (see [`changes_text`]): about 0.7 MB of text.
const CHUNK_CHANGES: usize = 4096;

/// Chunks the helper renders ahead of the one that emits them, at most:
/// the text held waiting stays a few megabytes however large the plan.
const CHUNKS_AHEAD: usize = 2;

/// Appends each change to `s` (handing `s` to `emit` whenever it reaches
/// [`EMIT_AT`]), in order. With `parallel`, a plan of more than one
/// [`CHUNK_CHANGES`] is rendered on two threads taking chunks in turn: a
/// helper renders every second chunk and hands each over as text, this
/// thread renders the others and emits both in order — the same text, in
/// about half the time (100,000 changes are 17 MB).
fn changes_text(
    out: &Output,
    changes: &[&Action],
    s: &mut String,
    emit: &mut dyn FnMut(&str),
    parallel: bool,
) {
    let own = |s: &mut String, chunk: &[&Action], emit: &mut dyn FnMut(&str)| {
        for a in chunk {
            change_text(out, s, a);
            if s.len() >= EMIT_AT {
                emit(s);
                s.clear();
            }
        }
    };
    if !parallel || changes.len() <= CHUNK_CHANGES {
        own(s, changes, emit);
        return;
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(CHUNKS_AHEAD);
        let helper = std::thread::Builder::new().spawn_scoped(scope, move || {
            for chunk in changes.chunks(CHUNK_CHANGES).skip(1).step_by(2) {
                let mut text = String::new();
                for a in chunk {
                    change_text(out, &mut text, a);
                }
                if tx.send(text).is_err() {
                    return;
                }
            }
        });
        for (i, chunk) in changes.chunks(CHUNK_CHANGES).enumerate() {
            // The helper's chunk, unless it could not start (or stopped):
            // then this thread renders it.
            let theirs = if i % 2 == 1 && helper.is_ok() {
                rx.recv().ok()
            } else {
                None
            };
            match theirs {
                Some(text) => {
                    emit(s);
                    s.clear();
                    emit(&text);
                }
                None => own(s, chunk, emit),
            }
        }
    });
}

/// One change as the plan shows it: its headline, why, its attributes and
/// any cut-over steps, then a blank line.
fn change_text(out: &Output, s: &mut String, a: &Action) {
    let (sym, style) = symbol(a.kind);
    let _ = writeln!(
        s,
        "  {} {}",
        out.paint(style, sym),
        out.paint(Style::Bold, &headline(a))
    );
    for r in &a.reasons {
        if matches!(r, Reason::Attribute { .. }) {
            continue;
        }
        let _ = writeln!(
            s,
            "      {}",
            out.paint(Style::Dim, &format!("# because {}", reason_text(r)))
        );
    }
    attributes(out, s, a);
    if let Some(c) = &a.cutover {
        for line in cutover_lines(c) {
            let _ = writeln!(s, "      {}", out.paint(Style::Dim, &line));
        }
    }
    s.push('\n');
}

fn attributes(out: &Output, s: &mut String, a: &Action) {
    let empty = kiln_model::FieldMap::new();
    let (before, after) = shown(a);
    let before = before.as_deref().and_then(Value::as_map).unwrap_or(&empty);
    let after = after.as_deref().and_then(Value::as_map).unwrap_or(&empty);
    let forcing: Vec<&str> = a
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::Attribute {
                path,
                behaviour: ChangeBehaviour::Replace,
                ..
            } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    // Each map's keys are sorted: one of them alone needs no sorting (a
    // create or a delete).
    let mut names: Vec<&str> = before
        .keys()
        .chain(after.keys())
        .map(|k| k.as_str())
        .collect();
    if !before.is_empty() && !after.is_empty() {
        names.sort_unstable();
        names.dedup();
    }
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut hidden = 0;
    for name in names {
        let b = before.get(name).unwrap_or(&Value::Null);
        let f = after.get(name).unwrap_or(&Value::Null);
        match a.kind {
            ActionKind::Create => {
                if !f.is_null() {
                    let _ = writeln!(
                        s,
                        "      {} {name:width$} = {}",
                        out.paint(Style::Green, "+"),
                        value_text(f, 6)
                    );
                }
            }
            ActionKind::Delete => {
                if !b.is_null() {
                    let _ = writeln!(
                        s,
                        "      {} {name:width$} = {}",
                        out.paint(Style::Red, "-"),
                        value_text(b, 6)
                    );
                }
            }
            _ => {
                if b == f {
                    hidden += 1;
                    continue;
                }
                let forces = forcing
                    .iter()
                    .any(|p| *p == name || p.starts_with(&format!("{name}.")));
                let note = if forces {
                    out.paint(Style::Red, "  # forces replacement")
                } else {
                    Cow::Borrowed("")
                };
                if let (Some(bs), Some(fs)) = (b.as_str(), f.as_str())
                    && (bs.contains('\n') || fs.contains('\n'))
                    && !b.contains_sensitive()
                    && !f.contains_sensitive()
                {
                    let _ = writeln!(
                        s,
                        "      {} {name:width$} = <<-EOT{note}",
                        out.paint(Style::Yellow, "~")
                    );
                    let diff = similar::TextDiff::from_lines(bs, fs);
                    for change in diff.iter_all_changes() {
                        let (sign, style) = match change.tag() {
                            similar::ChangeTag::Delete => ("-", Style::Red),
                            similar::ChangeTag::Insert => ("+", Style::Green),
                            similar::ChangeTag::Equal => (" ", Style::Plain),
                        };
                        let line = change.value().trim_end_matches('\n');
                        let _ = writeln!(
                            s,
                            "          {}",
                            out.paint(style, &format!("{sign} {line}"))
                        );
                    }
                    let _ = writeln!(s, "        EOT");
                    continue;
                }
                let _ = writeln!(
                    s,
                    "      {} {name:width$} = {} → {}{note}",
                    out.paint(Style::Yellow, "~"),
                    value_text(b, 6),
                    value_text(f, 6)
                );
            }
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            s,
            "      {}",
            out.paint(
                Style::Dim,
                &format!(
                    "# ({hidden} unchanged attribute{} hidden)",
                    if hidden == 1 { "" } else { "s" }
                )
            )
        );
    }
}

/// A value for the plan: multi-line strings as heredocs, sensitive values hidden.
fn value_text(v: &Value, indent: usize) -> String {
    match v {
        Value::String(s) if s.contains('\n') => {
            let pad = " ".repeat(indent + 4);
            let mut t = String::from("<<-EOT\n");
            for line in s.lines() {
                let _ = writeln!(t, "{pad}{line}");
            }
            t.push_str(&" ".repeat(indent + 2));
            t.push_str("EOT");
            t
        }
        other => other.to_string(),
    }
}

/// The JSON form of a plan (docs/plan-json.md); sensitive values are redacted.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let sum = plan.summary();
    let actions: Vec<serde_json::Value> = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::NoOp)
        .map(|a| {
            let (before, after) = shown(a);
            json!({
                "address": a.addr.to_string(),
                "type": a.type_name,
                "provider": a.provider,
                "action": a.kind,
                "stateful": a.stateful,
                "generation": a.generation,
                "kept_for_rollback": a.kept,
                "cutover": a.cutover,
                "reasons": a.reasons.iter().map(reason_json).collect::<Vec<_>>(),
                "reason_text": a.reasons.iter().map(reason_text_redacted).collect::<Vec<_>>(),
                "before": before.as_deref().map(Value::redacted),
                "after": after.as_deref().map(Value::redacted),
                "depends_on": a.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> = plan
        .outputs
        .iter()
        .map(|(k, o)| {
            let value = if o.sensitive {
                Value::Null.sensitive()
            } else {
                o.value.redacted()
            };
            let action = match (o.changed, &o.prior) {
                (false, _) => "no_op",
                (true, None) => "create",
                (true, Some(_)) => "update",
            };
            let before = o.prior.as_ref().map(Value::redacted);
            let doc = json!({"value": value, "sensitive": o.sensitive, "changed": o.changed, "action": action, "before": before});
            (k.clone(), doc)
        })
        .chain(plan.removed_outputs.iter().map(|(k, old)| {
            let doc = json!({"value": null, "sensitive": old.contains_sensitive(), "changed": true, "action": "delete", "before": old.redacted()});
            (k.clone(), doc)
        }))
        .collect();
    json!({
        "format_version": kiln_plan::PLAN_FORMAT_VERSION,
        "kiln_version": env!("CARGO_PKG_VERSION"),
        "env": plan.env,
        "generation": plan.generation,
        "prior_serial": plan.prior_serial,
        "has_changes": plan.has_changes(),
        "summary": {"create": sum.create, "update": sum.update, "replace": sum.replace, "delete": sum.delete, "no_op": sum.no_op},
        "actions": actions,
        "moved": plan.moves.iter().map(|m| json!({"from": m.from.to_string(), "to": m.to.to_string()})).collect::<Vec<_>>(),
        "forgotten": plan.forgotten.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "imported": plan.imported.iter().map(|r| json!({"address": r.addr.to_string(), "id": r.id})).collect::<Vec<_>>(),
        "outputs": outputs,
        "generations": plan.generations.as_ref().map(|g| match g {
            GenerationChange::Keep { previous, kept, .. } => json!({
                "change": "keep",
                "previous": previous,
                "kept": kept.iter().map(|(a, id)| json!({"address": a.to_string(), "id": id})).collect::<Vec<_>>(),
            }),
            GenerationChange::Swap { to, .. } => json!({"change": "swap", "to": to}),
        }),
    })
}

fn redact_reason(r: &Reason) -> Reason {
    match r {
        Reason::Attribute {
            path,
            before,
            after,
            behaviour,
        } => Reason::Attribute {
            path: path.clone(),
            before: before.redacted(),
            after: after.redacted(),
            behaviour: *behaviour,
        },
        other => other.clone(),
    }
}

fn reason_json(r: &Reason) -> serde_json::Value {
    serde_json::to_value(redact_reason(r)).unwrap_or(serde_json::Value::Null)
}

fn reason_text_redacted(r: &Reason) -> String {
    reason_text(&redact_reason(r))
}

/// The state, one resource per block.
pub fn state_human(state: &State) -> String {
    let mut s = String::new();
    if state.is_empty() {
        let _ = writeln!(s, "The state of {:?} is empty.", state.env);
    }
    for r in state.resources.values() {
        let _ = writeln!(s, "# {} (id {}, generation {})", r.addr, r.id, r.generation);
        if let Some(m) = r.attributes.as_map() {
            let width = m.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, v) in m {
                let _ = writeln!(s, "    {k:width$} = {}", value_text(v, 4));
            }
        }
        s.push('\n');
    }
    for d in &state.deposed {
        let _ = writeln!(
            s,
            "# {} (superseded object {}, to be destroyed by the next apply)",
            d.addr, d.id
        );
    }
    if let Some(p) = &state.previous {
        let _ = writeln!(
            s,
            "# previous generation {}, kept for `kiln rollback`:",
            p.generation
        );
        for r in &p.resources {
            let _ = writeln!(
                s,
                "#   {} (id {}, generation {})",
                r.addr, r.id, r.generation
            );
        }
        s.push('\n');
    }
    if !state.outputs.is_empty() {
        let _ = writeln!(s, "Outputs:");
        for (k, o) in &state.outputs {
            let v = if o.sensitive {
                "(sensitive)".into()
            } else {
                o.value.to_string()
            };
            let _ = writeln!(s, "  {k} = {v}");
        }
    }
    s
}

/// The resource dependency graph of a plan, as DOT or Mermaid. The
/// instances of each module instance are drawn inside a box of their own
/// (a DOT `cluster` subgraph, a Mermaid `subgraph`), nested like the modules.
pub fn graph(plan: &Plan, mermaid: bool) -> String {
    let mut s = String::new();
    let id = |a: &kiln_model::InstanceAddr| a.to_string();
    let quoted = |t: &str| serde_json::to_string(t).unwrap_or_default();
    // Each node once, with its module path (one label per step).
    let mut nodes: Vec<(Vec<String>, String, usize)> = Vec::new();
    let mut ids = BTreeMap::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if let std::collections::btree_map::Entry::Vacant(e) = ids.entry(id(&a.addr)) {
            e.insert(i);
            let mut path = Vec::new();
            let mut prefix = String::new();
            for step in &a.addr.module {
                prefix.push_str(&format!("module.{}{}", step.name, step.key));
                path.push(prefix.clone());
                prefix.push('.');
            }
            nodes.push((path, id(&a.addr), i));
        }
    }
    nodes.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
    let mut open: Vec<String> = Vec::new();
    let mut clusters = 0usize;
    let close = if mermaid {
        s.push_str("flowchart LR\n");
        "end"
    } else {
        s.push_str("digraph kiln {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        "}"
    };
    for (path, name, i) in &nodes {
        while !path.starts_with(&open) {
            open.pop();
            let _ = writeln!(s, "{}{close}", "  ".repeat(open.len() + 1));
        }
        while open.len() < path.len() {
            let label = &path[open.len()];
            let indent = "  ".repeat(open.len() + 1);
            if mermaid {
                let _ = writeln!(
                    s,
                    "{indent}subgraph m{clusters}[\"{}\"]",
                    label.replace('"', "#quot;")
                );
            } else {
                let _ = writeln!(
                    s,
                    "{indent}subgraph {} {{\n{indent}  label = {};",
                    quoted(&format!("cluster_{label}")),
                    quoted(label)
                );
            }
            clusters += 1;
            open.push(label.clone());
        }
        let indent = "  ".repeat(open.len() + 1);
        if mermaid {
            let _ = writeln!(s, "{indent}n{i}[\"{}\"]", name.replace('"', "#quot;"));
        } else {
            let _ = writeln!(s, "{indent}{};", quoted(name));
        }
    }
    while open.pop().is_some() {
        let _ = writeln!(s, "{}{close}", "  ".repeat(open.len() + 1));
    }
    for a in &plan.actions {
        for d in &a.dependencies {
            if mermaid {
                if let (Some(from), Some(to)) = (ids.get(&id(&a.addr)), ids.get(&id(d))) {
                    let _ = writeln!(s, "  n{from} --> n{to}");
                }
            } else {
                let _ = writeln!(s, "  {} -> {};", quoted(&id(&a.addr)), quoted(&id(d)));
            }
        }
    }
    if !mermaid {
        s.push_str("}\n");
    }
    s
}

/// A compact markdown summary for a pull-request comment.
pub fn plan_markdown(plan: &Plan) -> String {
    let sum = plan.summary();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### kiln plan for `{}`: {} to create, {} to replace, {} to update in place, {} to destroy",
        plan.env, sum.create, sum.replace, sum.update, sum.delete
    );
    let changes: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::NoOp)
        .collect();
    if !plan.has_changes() {
        let _ = writeln!(
            s,
            "\nNo changes: the infrastructure matches the configuration ({} unchanged).",
            sum.no_op
        );
        return s;
    }
    let _ = writeln!(s, "\n| action | resource | why |\n|---|---|---|");
    for m in &plan.moves {
        let _ = writeln!(s, "| moved | `{}` → `{}` | a moved block |", m.from, m.to);
    }
    for r in &plan.imported {
        let _ = writeln!(
            s,
            "| imported | `{}` | an import block (id `{}`) |",
            r.addr, r.id
        );
    }
    for a in &plan.forgotten {
        let _ = writeln!(
            s,
            "| forgotten | `{a}` | a removed block with destroy = false (the object is left as it is) |"
        );
    }
    for a in changes {
        let kind = match a.kind {
            ActionKind::Create => "create",
            ActionKind::Update => "update in place",
            ActionKind::Replace if a.kept => "**replace** (old one kept for rollback)",
            ActionKind::Replace => "**replace**",
            ActionKind::Delete => "**destroy**",
            ActionKind::NoOp => "",
        };
        let why: Vec<String> = a
            .reasons
            .iter()
            .map(|r| reason_text_redacted(r).replace('|', "\\|"))
            .collect();
        let _ = writeln!(s, "| {kind} | `{}` | {} |", a.addr, why.join("<br>"));
    }
    let _ = writeln!(
        s,
        "\n{} unchanged. Generation {}.",
        sum.no_op, plan.generation
    );
    if let Some(g) = generations_text(plan) {
        let _ = writeln!(s, "\n{g}");
    }
    s
}

/// A value as `terraform console` prints it (Terraform's `repl.FormatValue`):
/// strings quoted (several lines as a heredoc), numbers as Terraform writes
/// them, sequences and mappings one element per line, indented by two.
/// kiln's values do not tell a list from a tuple (or a map from an object),
/// so no `tolist(...)` / `tomap(...)` wrapper is printed.
pub fn console_value(v: &Value, indent: usize) -> String {
    match v {
        Value::Unknown => "(known after apply)".into(),
        Value::Sensitive(_) => "(sensitive value)".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match heredoc(s, indent) {
            Some(h) => h,
            None => go_quote(s),
        },
        Value::List(items) => {
            let mut s = String::from("[");
            for item in items {
                let _ = write!(
                    s,
                    "\n{}{},",
                    " ".repeat(indent + 2),
                    console_value(item, indent + 2)
                );
            }
            if !items.is_empty() {
                let _ = write!(s, "\n{}", " ".repeat(indent));
            }
            s.push(']');
            s
        }
        Value::Map(m) => {
            let mut s = String::from("{");
            for (k, item) in m {
                let _ = write!(
                    s,
                    "\n{}{} = {}",
                    " ".repeat(indent + 2),
                    go_quote(k),
                    console_value(item, indent + 2)
                );
            }
            if !m.is_empty() {
                let _ = write!(s, "\n{}", " ".repeat(indent));
            }
            s.push('}');
            s
        }
    }
}

/// A string of several lines as a heredoc (`<<-` when indented), with a
/// delimiter no line uses.
fn heredoc(s: &str, indent: usize) -> Option<String> {
    let lines: Vec<&str> = s.split('\n').collect();
    if lines.len() < 2 {
        return None;
    }
    let mut delimiter = String::from("EOT");
    while lines.iter().any(|l| l.trim() == delimiter) {
        delimiter.push('_');
    }
    let pad = " ".repeat(indent);
    let mut out = format!("{}{delimiter}", if indent > 0 { "<<-" } else { "<<" });
    for l in &lines {
        let _ = write!(out, "\n{pad}{l}");
    }
    let _ = write!(out, "\n{pad}{delimiter}");
    Some(out)
}

/// Go's `strconv.Quote`: `"` and `\\` escaped, control characters as
/// `\n`, `\t`, ... or `\xNN`, other non-printable ones as `\uNNNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_model::{InstanceAddr, InstanceKey, ResourceAddr};

    fn create(i: usize) -> Action {
        Action {
            addr: InstanceAddr {
                module: Vec::new(),
                resource: ResourceAddr::managed("null_resource", format!("r{i}")),
                key: InstanceKey::None,
            },
            kind: ActionKind::Create,
            type_name: "null_resource".into(),
            provider: "null".into(),
            stateful: false,
            before: None,
            after: Some(Value::map([
                ("id", Value::Unknown),
                ("triggers", Value::map([("n", Value::from(i.to_string()))])),
            ])),
            reasons: vec![Reason::NotInState],
            dependencies: Vec::new(),
            generation: 1,
            health_check: false,
            kept: false,
            cutover: None,
        }
    }

    /// Two threads taking chunks in turn give the text one thread gives,
    /// in order, for a plan of several chunks (an odd number, the last one
    /// short) and of one.
    #[test]
    fn changes_render_the_same_on_two_threads() {
        let out = Output::new(true);
        for n in [3, CHUNK_CHANGES * 4 + 17] {
            let actions: Vec<Action> = (0..n).map(create).collect();
            let changes: Vec<&Action> = actions.iter().collect();
            let render = |parallel: bool| {
                let (mut s, mut text, mut parts) = ("head\n".to_string(), String::new(), 0);
                changes_text(
                    &out,
                    &changes,
                    &mut s,
                    &mut |p| {
                        text.push_str(p);
                        parts += 1;
                    },
                    parallel,
                );
                text.push_str(&s);
                (text, parts)
            };
            let (one, _) = render(false);
            let (two, parts) = render(true);
            assert!(one.starts_with("head\n"));
            assert_eq!(one.matches("will be created").count(), n, "{n}");
            let last = format!("r{}", n - 1);
            assert!(one.contains(&last));
            assert!(one == two, "{n} changes: the texts differ");
            if n > CHUNK_CHANGES {
                assert!(parts >= 4, "{parts} parts");
            }
        }
    }
}
