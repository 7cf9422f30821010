//! The planner, case by case: scenario files in `tests/cases`, snapshots in
//! `tests/snapshots` (see `support/mod.rs` for the format).

mod support;

use std::fmt::Write as _;

use kiln_model::{InstanceAddr, Value};
use kiln_plan::{ActionKind, ApplyEvaluator, Plan, StepOp};
use kiln_state::State;
use support::{apply, options, parse, schemas};

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                support::check(stringify!($name));
            }
        )*
    };
}

cases!(
    create_and_noop,
    replace_cascade,
    update_labels,
    stateful,
    delete,
    prevent_destroy,
    forced,
    deposed,
    expansion,
    errors,
    sensitive,
    depends_on,
    switch,
    variables,
    modules,
    data_sources,
    lifecycle,
    names,
);

/// A configuration of `n` resources, each referring to the previous one.
fn chain(n: usize) -> String {
    let mut s = String::from("resource \"null_resource\" \"r0\" {\n}\n");
    for i in 1..n {
        let _ = writeln!(
            s,
            "resource \"null_resource\" \"r{i}\" {{\n  triggers = {{ prev = null_resource.r{}.id }}\n}}",
            i - 1
        );
    }
    s
}

fn plan_text(text: &str, state: &State, flags: &str) -> Plan {
    kiln_plan::plan(&parse(text), state, &schemas(), &options(flags))
        .unwrap_or_else(|d| panic!("planning failed:\n{d}"))
}

#[test]
fn planning_is_deterministic() {
    let text = format!(
        "{}\nresource \"null_resource\" \"fan\" {{\n  for_each = {{ b = 1, a = 2, c = 3 }}\n  labels = {{ v = each.value }}\n}}\n",
        chain(50)
    );
    let config = parse(&text);
    let schemas = schemas();
    let mut state = State::new("test", "l");
    let first = kiln_plan::plan(&config, &state, &schemas, &options("")).unwrap();
    apply(&first, &mut state, &schemas).unwrap();
    let flags = "--replace null_resource.r10";
    let a = kiln_plan::plan(&config, &state, &schemas, &options(flags)).unwrap();
    let b = kiln_plan::plan(&parse(&text), &state.clone(), &schemas, &options(flags)).unwrap();
    let (ja, jb) = (
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap(),
    );
    assert_eq!(ja, jb);
    // The replacement cascades down the whole chain from r10.
    let replaced = a
        .actions
        .iter()
        .filter(|x| x.kind == ActionKind::Replace)
        .count();
    assert_eq!(replaced, 40);
    // And the plan survives a JSON round trip unchanged.
    let back: Plan = serde_json::from_slice(&ja).unwrap();
    assert_eq!(back, a);
}

/// A configuration whose resources changed after parsing (its parser's
/// index no longer matches them) is planned from the resources it has: the
/// planner builds its own index.
#[test]
fn resources_added_after_parsing_are_planned() {
    let mut config = parse(&chain(2));
    let mut extra = parse(
        "resource \"null_resource\" \"x\" {\n  triggers = { a = null_resource.r1.id }\n}\nresource \"null_resource\" \"y\" {\n  triggers = { a = null_resource.x.id }\n}\n",
    );
    config.resources.append(&mut extra.resources);
    let plan = kiln_plan::plan(&config, &State::new("test", "l"), &schemas(), &options(""))
        .unwrap_or_else(|d| panic!("planning failed:\n{d}"));
    let created: Vec<String> = plan.actions.iter().map(|a| a.addr.to_string()).collect();
    assert_eq!(
        created,
        [
            "null_resource.r0",
            "null_resource.r1",
            "null_resource.x",
            "null_resource.y"
        ]
    );
    let y = &plan.actions[3];
    assert_eq!(
        y.dependencies,
        ["null_resource.x".parse::<InstanceAddr>().unwrap()]
    );
}

/// An analysis made ahead (while a state is read) plans as the planner's
/// own: the same plan, the same errors in the same order; a configuration
/// with module calls gets none.
#[test]
fn an_analysis_made_ahead_plans_as_the_planners_own() {
    let cases = [
        chain(5),
        // An undeclared reference and a cycle: the analysis' errors.
        "resource \"null_resource\" \"a\" {\n  triggers = { x = null_resource.b.id, y = null_resource.nope.id }\n}\nresource \"null_resource\" \"b\" {\n  triggers = { x = null_resource.a.id }\n}\n".to_string(),
        // A variable's error comes before the analysis' (as without one).
        "variable \"v\" {\n  type = number\n}\nresource \"null_resource\" \"a\" {\n  triggers = { x = null_resource.nope.id }\n}\n".to_string(),
    ];
    let mut state = State::new("test", "l");
    apply(&plan_text(&chain(5), &state, ""), &mut state, &schemas()).unwrap();
    for (i, text) in cases.iter().enumerate() {
        let config = parse(text);
        let analyzed = kiln_plan::analyze(&config).expect("no module calls");
        let own = kiln_plan::plan(&config, &state, &schemas(), &options(""));
        let ahead =
            kiln_plan::plan_analyzed(&config, Some(&analyzed), &state, &schemas(), &options(""));
        assert_eq!(own.is_err(), i > 0, "{text}");
        assert_eq!(format!("{ahead:?}"), format!("{own:?}"), "{text}");
    }
    let with_module = parse("module \"m\" {\n  source = \"./m\"\n}\n");
    assert!(kiln_plan::analyze(&with_module).is_none());
}

#[test]
fn deletes_run_in_reverse_dependency_order() {
    let schemas = schemas();
    let mut state = State::new("test", "l");
    let first = plan_text(&chain(5), &state, "");
    apply(&first, &mut state, &schemas).unwrap();
    let plan = plan_text("", &state, "");
    let order: Vec<String> = support::step_order(&plan)
        .into_iter()
        .map(|s| plan.actions[plan.steps[s].action].addr.to_string())
        .collect();
    assert_eq!(
        order,
        [
            "null_resource.r4",
            "null_resource.r3",
            "null_resource.r2",
            "null_resource.r1",
            "null_resource.r0"
        ]
    );
}

#[test]
fn replacement_is_create_before_destroy() {
    let schemas = schemas();
    let mut state = State::new("test", "l");
    let first = plan_text(&chain(3), &state, "");
    apply(&first, &mut state, &schemas).unwrap();
    let plan = plan_text(&chain(3), &state, "--replace null_resource.r0");
    let order: Vec<String> = support::step_order(&plan)
        .into_iter()
        .map(|s| {
            let st = &plan.steps[s];
            format!("{:?} {}", st.op, plan.actions[st.action].addr)
        })
        .collect();
    // Every create comes first; the old objects go from the last dependent back.
    assert_eq!(
        order,
        [
            "Create null_resource.r0",
            "Create null_resource.r1",
            "Create null_resource.r2",
            "DeleteDeposed null_resource.r2",
            "DeleteDeposed null_resource.r1",
            "DeleteDeposed null_resource.r0",
        ]
    );
    apply(&plan, &mut state, &schemas).unwrap();
    assert!(state.deposed.is_empty());
    assert_eq!(state.generation, 2);
    assert!(
        plan_text(&chain(3), &state, "")
            .actions
            .iter()
            .all(|a| a.kind == ActionKind::NoOp)
    );
}

#[test]
fn apply_evaluator_fills_unknowns_and_checks_known_values() {
    let text = r#"
resource "null_resource" "a" {
  triggers = { v = "1" }
}

resource "null_resource" "b" {
  triggers = { a = null_resource.a.id, v = null_resource.a.triggers.v }
}
"#;
    let schemas = schemas();
    let plan = plan_text(text, &State::new("test", "l"), "");
    let mut ev = ApplyEvaluator::new(&plan, &schemas).unwrap();
    let b = plan
        .actions
        .iter()
        .position(|a| a.addr.to_string() == "null_resource.b")
        .unwrap();
    let a_done = Value::map([
        ("id", Value::from("A1")),
        ("triggers", Value::map([("v", Value::from("1"))])),
    ]);
    let good =
        |addr: &InstanceAddr| (addr.to_string() == "null_resource.a").then(|| a_done.clone());
    let v = ev.final_attributes(b, &good).unwrap();
    assert_eq!(
        v.as_map().unwrap()["triggers"],
        Value::map([("a", Value::from("A1")), ("v", Value::from("1"))])
    );
    assert_eq!(v.as_map().unwrap()["id"], Value::Null);

    // The provider reported a value other than the planned one.
    let bad_a = Value::map([
        ("id", Value::from("A1")),
        ("triggers", Value::map([("v", Value::from("other"))])),
    ]);
    let bad = |addr: &InstanceAddr| (addr.to_string() == "null_resource.a").then(|| bad_a.clone());
    let err = ev.final_attributes(b, &bad).unwrap_err().to_string();
    assert!(
        err.contains("inconsistent final value for null_resource.b: triggers.v"),
        "{err}"
    );
}

#[test]
fn apply_evaluator_is_send() {
    fn send<T: Send>() {}
    send::<ApplyEvaluator<'static>>();
}

/// 2,000 resources by default; 100,000 with `KILN_SLOW_TESTS=1` (timed in
/// release builds only).
#[test]
fn plans_100k_resources_quickly() {
    let n = if std::env::var_os("KILN_SLOW_TESTS").is_some() {
        100_000
    } else {
        2_000
    };
    let mut text = String::new();
    for i in 0..n {
        let _ = writeln!(
            text,
            "resource \"null_resource\" \"r{i}\" {{\n  triggers = {{ prev = null_resource.r{}.id }}\n}}",
            i.max(1) - 1
        );
    }
    text = text.replacen("{ prev = null_resource.r0.id }", "{}", 1);
    let config = parse(&text);
    let schemas = schemas();
    let state = State::new("test", "l");
    let started = std::time::Instant::now();
    let plan = kiln_plan::plan(&config, &state, &schemas, &options("")).unwrap();
    let took = started.elapsed();
    assert_eq!(plan.actions.len(), n);
    assert_eq!(plan.steps.len(), n);
    assert!(plan.steps.iter().all(|s| s.op == StepOp::Create));
    if cfg!(not(debug_assertions)) && n == 100_000 {
        assert!(
            took.as_secs_f64() < 1.5,
            "planning {n} resources took {took:?}"
        );
    }
    let mut ev = ApplyEvaluator::new(&plan, &schemas).unwrap();
    let started = std::time::Instant::now();
    let none = |_: &InstanceAddr| Some(Value::map([("id", Value::from("x"))]));
    for i in 0..plan.actions.len() {
        ev.final_attributes(i, &none).unwrap();
    }
    let _ = started.elapsed();
}

/// A directory of two files, in memory.
struct TwoFiles;

impl kiln_config::FileSystem for TwoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match path {
            "greeting.txt" => Ok(b"hello".to_vec()),
            "t.tftpl" => Ok(b"${who}!".to_vec()),
            _ => Err(format!("no file exists at {path:?}")),
        }
    }
    fn is_file(&self, path: &str) -> Result<bool, String> {
        Ok(matches!(path, "greeting.txt" | "t.tftpl"))
    }
    fn files_under(&self, _dir: &str) -> Result<Vec<String>, String> {
        Ok(vec!["greeting.txt".into(), "t.tftpl".into()])
    }
    fn absolute(&self, path: &str) -> Result<String, String> {
        Ok(format!("/p/{path}"))
    }
    fn home_dir(&self) -> Option<String> {
        None
    }
}

#[test]
fn file_functions_read_while_planning_and_replay_at_apply() {
    let text = r#"
locals {
  t = templatefile("t.tftpl", { who = file("greeting.txt") })
}

resource "null_resource" "a" {
  triggers = { t = local.t, n = length(fileset(".", "*")) }
}

output "t" {
  value = local.t
}
"#;
    let config = parse(text);
    let mut opts = options("");
    opts.files = kiln_plan::SharedFiles(Some(std::sync::Arc::new(TwoFiles)));
    let schemas = schemas();
    let plan = kiln_plan::plan(&config, &State::new("test", "l"), &schemas, &opts).unwrap();
    let after = plan.actions[0].after.as_ref().unwrap();
    assert_eq!(
        after.get("triggers").unwrap(),
        &Value::map([("n", Value::from("2")), ("t", Value::from("hello!"))])
    );
    let recorded: Vec<&String> = plan.source.file_reads.0.keys().collect();
    assert_eq!(recorded, ["list .", "read greeting.txt", "read t.tftpl"]);

    // Apply has no file system of its own: it replays what planning read,
    // also from a saved plan.
    let saved: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    let mut ev = ApplyEvaluator::new(&saved, &schemas).unwrap();
    let v = ev.final_attributes(0, &|_: &InstanceAddr| None).unwrap();
    assert_eq!(
        v.get("triggers").unwrap().get("t"),
        Some(&Value::from("hello!"))
    );

    // Without a file system, the same configuration is a located error.
    let err = kiln_plan::plan(&config, &State::new("test", "l"), &schemas, &options(""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("file functions cannot be used here"), "{err}");
}

/// A configuration of many independent blocks of every kind the planner
/// diffs (counted, `for_each`, physical names, stateful), with a local and
/// an output between them; `image` and `size` vary with `version`, and
/// `broken` adds blocks that fail, spread through the file.
fn many_blocks(version: usize, broken: bool) -> String {
    let mut s = String::new();
    let bad = |s: &mut String, tag: &str, i: usize| {
        if broken && i.is_multiple_of(37) {
            let _ = writeln!(
                s,
                "resource \"null_resource\" \"bad{tag}{i}\" {{\n  count = -{i}\n}}\nresource \"test_volume\" \"bad{tag}{i}\" {{\n  name = \"x\"\n  size = \"big\"\n}}"
            );
        }
    };
    for i in 0..700 {
        bad(&mut s, "n", i);
        let _ = writeln!(
            s,
            "resource \"null_resource\" \"n{i}\" {{\n  count = {}\n  triggers = {{ v = \"{}\" }}\n  labels = {{ i = count.index }}\n}}",
            i % 3,
            if i.is_multiple_of(7) { version } else { 0 }
        );
    }
    for i in 0..300 {
        let _ = writeln!(
            s,
            "resource \"test_service\" \"s{i}\" {{\n  name = \"svc{i}\"\n  image = \"app:{}\"\n}}",
            if i % 2 == 0 { version } else { 0 }
        );
    }
    s.push_str("locals {\n  first = null_resource.n1[0].id\n}\n");
    for i in 0..300 {
        bad(&mut s, "v", i);
        let _ = writeln!(
            s,
            "resource \"test_volume\" \"v{i}\" {{\n  name = \"vol{i}\"\n  size = {}\n}}\nresource \"null_resource\" \"e{i}\" {{\n  for_each = {{ a = \"{i}\", b = local.first }}\n  triggers = {{ v = each.value }}\n}}",
            10 + version * (i % 2)
        );
    }
    s.push_str("output \"first\" {\n  value = local.first\n}\n");
    s
}

#[test]
fn blocks_planned_on_several_threads_make_the_same_plan() {
    let schemas = schemas();
    let threads = |flags: &str, n: usize| kiln_plan::PlanOptions {
        threads: n,
        ..options(flags)
    };
    let mut state = State::new("test", "l");
    let first = kiln_plan::plan(
        &parse(&many_blocks(1, false)),
        &state,
        &schemas,
        &threads("", 1),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    apply(&first, &mut state, &schemas).unwrap();
    // Replacements (names derived: the old objects hold theirs), updates,
    // no-ops, drift on a stateful resource (a warning), a forced replacement.
    let flags = "--drift test_volume.v3=resized --replace null_resource.n4[1]";
    let config = parse(&many_blocks(2, false));
    let one = kiln_plan::plan(&config, &state, &schemas, &threads(flags, 1)).unwrap();
    let kinds = |p: &Plan, k: ActionKind| p.actions.iter().filter(|a| a.kind == k).count();
    assert!(kinds(&one, ActionKind::Replace) > 100 && kinds(&one, ActionKind::Update) > 100);
    assert!(kinds(&one, ActionKind::NoOp) > 500);
    assert!(!one.warnings.is_empty());
    for n in [2, 3, 8] {
        let many = kiln_plan::plan(&config, &state, &schemas, &threads(flags, n)).unwrap();
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            serde_json::to_string(&one).unwrap(),
            "{n} threads"
        );
    }
    // Errors come in the same order as one thread finds them.
    let broken = parse(&many_blocks(2, true));
    let err = |n| {
        kiln_plan::plan(&broken, &state, &schemas, &threads("", n))
            .expect_err("the broken blocks fail")
            .to_string()
    };
    let one = err(1);
    assert!(one.matches("error:").count() >= 40, "{one}");
    assert_eq!(err(2), one);
    assert_eq!(err(5), one);
}
