//! Apply against a fake provider with hand-built plans.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kiln_engine::{ApplyOptions, ApplyReport, NoopObserver, Observer, StepReport, apply};
use kiln_model::Value;
use kiln_plan::{ActionKind, Plan, Step, StepOp};
use kiln_state::journal::compact;
use kiln_state::{JournalRecord, State};

async fn run(
    plan: &Plan,
    state: State,
    fake: &std::sync::Arc<Fake>,
    parallelism: usize,
) -> (ApplyReport, Vec<JournalRecord>) {
    let mut journal = MemJournal::default();
    let options = ApplyOptions {
        parallelism,
        command: "apply".into(),
        ..Default::default()
    };
    let report = apply(
        plan,
        state,
        &fake.registry(),
        &mut journal,
        &NoopObserver,
        &options,
    )
    .await;
    (report, journal.records())
}

/// Position in the journal of the intent / result of `step`.
fn pos(records: &[JournalRecord], step: usize, result: bool) -> usize {
    records
        .iter()
        .position(|r| match r {
            JournalRecord::Intent { step: s, .. } => !result && *s == step,
            JournalRecord::Result { step: s, .. } => result && *s == step,
            _ => false,
        })
        .unwrap_or_else(|| {
            panic!(
                "no {} for step {step}",
                if result { "result" } else { "intent" }
            )
        })
}

/// The journal, compacted onto the state the apply started from, gives the
/// state the apply returned.
fn assert_journal_compacts(start: &State, records: &[JournalRecord], report: &ApplyReport) {
    let mut s = start.clone();
    compact(&mut s, records);
    assert_eq!(
        s.resources, report.state.resources,
        "journal compaction differs from the final state"
    );
    assert_eq!(s.deposed, report.state.deposed);
    assert_eq!(s.previous, report.state.previous);
    assert_eq!(s.source, report.state.source);
    assert_eq!(s.outputs, report.state.outputs);
}

#[tokio::test]
async fn dependencies_run_in_order_and_are_recorded() {
    let fake = Fake::new();
    let mut b = PlanBuilder::new(1);
    let a = b.create("fake_thing.a", &[]);
    let bb = b.create("fake_thing.b", &[a]);
    let c = b.create("fake_thing.c", &[a, bb]);
    let d = b.create("fake_thing.d", &[]);
    let plan = b.build();
    let start = State::new("test", LINEAGE);
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert!(report.is_success(), "{:?}", report.failures);
    assert!(matches!(records[0], JournalRecord::Begin { .. }));
    for (before, after) in [(a, bb), (a, c), (bb, c)] {
        assert!(
            pos(&records, before, true) < pos(&records, after, false),
            "step {before} must finish before {after} starts"
        );
    }
    for s in [a, bb, c, d] {
        assert!(pos(&records, s, false) < pos(&records, s, true));
    }
    assert_eq!(report.state.resources.len(), 4);
    assert_eq!(state_ids(&report.state), fake.object_ids());
    let rc = &report.state.resources[&addr("fake_thing.c")];
    assert_eq!(
        rc.dependencies,
        vec![addr("fake_thing.a"), addr("fake_thing.b")]
    );
    assert_eq!(rc.generation, 1);
    assert_eq!(rc.provider, "fake");
    assert!(rc.idempotency_key.starts_with("kiln-"));
    assert_eq!(
        rc.idempotency_key,
        kiln_engine::idempotency_key(LINEAGE, &addr("fake_thing.c"), 1)
    );
    assert_eq!(report.state.generation, 1);
    assert!(report.state.updated_at > 0);
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn replacement_creates_before_it_destroys() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.x"]);
    let old_id = start.resources[&addr("fake_thing.x")].id.clone();
    let mut b = PlanBuilder::new(2);
    let x = b.action("fake_thing.x", ActionKind::Replace, Some(attrs("x2")), &[]);
    let create = b.step(x, StepOp::Create, None, &[]);
    let destroy = b.step(x, StepOp::DeleteDeposed, Some(&old_id), &[create]);
    let plan = b.build();
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert!(report.is_success(), "{:?}", report.failures);
    assert!(pos(&records, create, true) < pos(&records, destroy, false));
    let ops: Vec<&str> = fake.calls().iter().map(|c| c.op).collect();
    assert_eq!(ops, ["create", "delete"]);
    let x = &report.state.resources[&addr("fake_thing.x")];
    assert_ne!(x.id, old_id);
    assert_eq!(x.generation, 2);
    assert!(report.state.deposed.is_empty());
    assert_eq!(report.state.generation, 2);
    assert_eq!(state_ids(&report.state), fake.object_ids());
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn parallelism_bound_is_respected() {
    for p in [1, 3, 0] {
        let fake = Fake::new();
        fake.set_delay(Duration::from_millis(20));
        let mut b = PlanBuilder::new(1);
        for i in 0..12 {
            b.create(&format!("fake_thing.n{i}"), &[]);
        }
        let plan = b.build();
        let (report, _) = run(&plan, State::new("test", LINEAGE), &fake, p).await;
        assert!(report.is_success());
        let max = fake.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(max, if p == 0 { 12 } else { p }, "parallelism {p}");
    }
}

#[tokio::test]
async fn steps_start_as_soon_as_their_inputs_are_ready() {
    // a (slow) and b (fast) are independent; c depends on b only. c must not
    // wait for a: no fixed batches.
    let fake = Fake::new();
    fake.delays
        .lock()
        .unwrap()
        .insert("fake_thing.a".into(), Duration::from_millis(300));
    let mut b = PlanBuilder::new(1);
    b.create("fake_thing.a", &[]);
    let fast = b.create("fake_thing.b", &[]);
    b.create("fake_thing.c", &[fast]);
    let plan = b.build();
    let (report, _) = run(&plan, State::new("test", LINEAGE), &fake, 4).await;
    assert!(report.is_success());
    let calls = fake.calls();
    let end_of = |a: &str| calls.iter().find(|c| c.addr == a).unwrap().end;
    assert!(end_of("fake_thing.c") < end_of("fake_thing.a"));
}

/// A call that panics is a failed step, whether it panicked at once (the
/// engine polls a call once itself before handing it to a task) or after
/// waiting (in its task).
#[tokio::test]
async fn a_provider_call_that_panics_fails_its_step() {
    let fake = Fake::new();
    for (a, ms) in [("fake_thing.a", 40), ("fake_thing.b", 10)] {
        let d = Duration::from_millis(ms);
        fake.delays.lock().unwrap().insert(a.into(), d);
    }
    for a in ["fake_thing.a", "fake_thing.c"] {
        fake.panic_create.lock().unwrap().insert(a.into());
    }
    let mut b = PlanBuilder::new(1);
    for a in ["fake_thing.a", "fake_thing.b", "fake_thing.c"] {
        b.create(a, &[]);
    }
    let plan = b.build();
    let (report, records) = run(&plan, State::new("test", LINEAGE), &fake, 4).await;
    let mut failed: Vec<(String, &str)> = report
        .failures
        .iter()
        .map(|f| (f.addr.to_string(), f.message.as_str()))
        .collect();
    failed.sort();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for ((addr, message), want) in failed.iter().zip(["fake_thing.a", "fake_thing.c"]) {
        assert_eq!(addr, want);
        assert!(
            message.contains("the provider call panicked")
                && message.contains(&format!("injected panic in the create of {want}")),
            "{message}"
        );
    }
    // Both are journaled as failed; b, created meanwhile, is rolled back.
    let failed_results = records
        .iter()
        .filter(|r| {
            matches!(
                r,
                JournalRecord::Result {
                    outcome: kiln_state::Outcome::Failed { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(failed_results, 2);
    assert!(report.state.is_empty(), "{:?}", report.state.resources);
    assert!(fake.object_ids().is_empty());
}

#[tokio::test]
async fn a_failed_create_rolls_back_everything_the_apply_created() {
    let fake = Fake::new();
    fake.fail_create("fake_thing.b");
    fake.delays
        .lock()
        .unwrap()
        .insert("fake_thing.b".into(), Duration::from_millis(60));
    let mut b = PlanBuilder::new(1);
    let a = b.create("fake_thing.a", &[]);
    let bb = b.create("fake_thing.b", &[a]);
    let c = b.create("fake_thing.c", &[bb]);
    b.create("fake_thing.d", &[c]);
    let e = b.create("fake_thing.e", &[]);
    b.create("fake_thing.f", &[e, a]);
    let plan = b.build();
    let start = State::new("test", LINEAGE);
    let (report, records) = run(&plan, start.clone(), &fake, 2).await;
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].addr, addr("fake_thing.b"));
    assert_eq!(report.failures[0].op, StepOp::Create);
    assert!(
        report.failures[0]
            .message
            .contains("injected create failure")
    );
    // a, e and f were created while b was failing; all three are gone again,
    // f (which refers to a and e) first.
    let calls = fake.calls();
    let ops: Vec<(&str, &str)> = calls.iter().map(|c| (c.op, c.addr.as_str())).collect();
    let at = |op: &str, a: &str| {
        ops.iter()
            .position(|&(o, x)| o == op && x == a)
            .unwrap_or_else(|| panic!("no {op} of {a} in {ops:?}"))
    };
    for x in ["fake_thing.a", "fake_thing.e", "fake_thing.f"] {
        assert!(at("create", x) < at("delete", x), "{ops:?}");
    }
    assert!(at("delete", "fake_thing.f") < at("delete", "fake_thing.a"));
    assert!(at("delete", "fake_thing.f") < at("delete", "fake_thing.e"));
    assert!(report.state.is_empty(), "{:?}", report.state.resources);
    assert!(fake.object_ids().is_empty());
    assert_eq!(report.rolled_back.len(), 3);
    assert!(report.rolled_back_cleanly(), "{:?}", report.rolled_back);
    let mut skipped: Vec<String> = report.skipped.iter().map(|(a, _)| a.to_string()).collect();
    skipped.sort();
    assert_eq!(skipped, ["fake_thing.c", "fake_thing.d"]);
    assert!(!report.is_success());
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn a_failure_mid_cut_over_returns_traffic_and_restores_the_old_object() {
    // x is replaced and the switch moved onto x'; then the independent y
    // fails. The switch goes back to its old setting, x' is destroyed and
    // x is current again: the infrastructure is as it was.
    let fake = Fake::new();
    let mut start = state_with(&fake, &["fake_thing.x", "fake_thing.switch"]);
    let old_x = start.resources[&addr("fake_thing.x")].id.to_string();
    let switch_id = start.resources[&addr("fake_thing.switch")].id.to_string();
    let switch_before = Value::map([
        ("id", Value::from(switch_id.clone())),
        ("name", Value::from("fake_thing.switch")),
        ("labels", Value::from("to x1")),
    ]);
    fake.objects
        .lock()
        .unwrap()
        .get_mut(&switch_id)
        .unwrap()
        .attrs = switch_before.clone();
    start
        .resources
        .get_mut(&addr("fake_thing.switch"))
        .unwrap()
        .attributes = switch_before.clone();
    fake.fail_create("fake_thing.y");
    fake.delays
        .lock()
        .unwrap()
        .insert("fake_thing.y".into(), Duration::from_millis(80));
    let mut b = PlanBuilder::new(2);
    let x = b.action("fake_thing.x", ActionKind::Replace, Some(attrs("x2")), &[]);
    let create_x = b.step(x, StepOp::Create, None, &[]);
    let after = Value::map([
        ("name", Value::from("fake_thing.switch")),
        ("labels", Value::from("to x2")),
    ]);
    let sw = b.action("fake_thing.switch", ActionKind::Update, Some(after), &[]);
    let cut_over = b.step(sw, StepOp::Update, Some(&switch_id), &[create_x]);
    b.step(x, StepOp::DeleteDeposed, Some(&old_x), &[cut_over]);
    b.create("fake_thing.y", &[]);
    let plan = b.build();
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].addr, addr("fake_thing.y"));
    let ops: Vec<(&str, String)> = fake
        .calls()
        .iter()
        .map(|c| (c.op, c.addr.clone()))
        .collect();
    assert_eq!(
        ops,
        [
            ("create", "fake_thing.x".to_string()),
            ("update", "fake_thing.switch".to_string()),
            ("create", "fake_thing.y".to_string()),
            ("update", "fake_thing.switch".to_string()),
            ("delete", "fake_thing.x".to_string()),
        ],
        "the old x is never deleted; the switch is set back before x' goes"
    );
    let x_now = &report.state.resources[&addr("fake_thing.x")];
    assert_eq!(x_now.id, old_x, "the old object is current again");
    assert!(report.state.deposed.is_empty());
    let switch_now = &report.state.resources[&addr("fake_thing.switch")];
    assert_eq!(switch_now.id, switch_id);
    assert_eq!(
        switch_now.attributes.get("labels"),
        Some(&Value::from("to x1"))
    );
    assert_eq!(
        fake.objects.lock().unwrap()[&switch_id].attrs.get("labels"),
        Some(&Value::from("to x1")),
        "the real switch is back on the old generation"
    );
    assert_eq!(state_ids(&report.state), fake.object_ids());
    assert_eq!(state_ids(&report.state), state_ids(&start));
    assert!(report.rolled_back_cleanly(), "{:?}", report.rolled_back);
    assert_eq!(
        report.skipped,
        vec![(addr("fake_thing.x"), StepOp::DeleteDeposed)]
    );
    assert_journal_compacts(&start, &records, &report);

    // Killed while x' was being deleted (its result never written): the
    // restore was journaled first, so recovery finds the old x current and
    // resolves the in-flight delete of x' (gone) — nothing is orphaned and
    // the live old object is never marked for deletion.
    let cut = records
        .iter()
        .rposition(|r| matches!(r, JournalRecord::Result { .. }))
        .unwrap();
    let recovered = kiln_engine::recover(start.clone(), &records[..cut], &fake.registry()).await;
    assert!(
        !recovered.diagnostics.has_errors(),
        "{}",
        recovered.diagnostics
    );
    assert_eq!(recovered.state.resources[&addr("fake_thing.x")].id, old_x);
    assert!(
        recovered.state.deposed.iter().all(|d| d.id != old_x),
        "the old object is not deposed"
    );
    assert_eq!(state_ids(&recovered.state), fake.object_ids());
}

#[tokio::test]
async fn the_kept_generation_is_in_the_journal() {
    // --keep-previous: the replaced x stays, as generation 1, and the state
    // records the configuration. All of it is journaled, so a crash after
    // the last step and before the state write loses none of it.
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.x"]);
    let old_id = start.resources[&addr("fake_thing.x")].id.clone();
    let mut b = PlanBuilder::new(2);
    let x = b.action("fake_thing.x", ActionKind::Replace, Some(attrs("x2")), &[]);
    b.step(x, StepOp::Create, None, &[]);
    let mut plan = b.build();
    plan.actions[x].kept = true;
    plan.generations = Some(kiln_plan::GenerationChange::Keep {
        previous: 1,
        kept: vec![(addr("fake_thing.x"), old_id.to_string())],
        switches: vec![],
    });
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert!(report.is_success(), "{:?}", report.failures);
    let previous = report.state.previous.as_ref().expect("a kept generation");
    assert_eq!(previous.generation, 1);
    assert!(previous.resources.contains(&addr("fake_thing.x"), &old_id));
    assert!(report.state.source.is_some());
    assert!(
        records
            .iter()
            .any(|r| matches!(r, JournalRecord::Finish(_))),
        "{records:?}"
    );
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn deletes_wait_for_every_create_and_update() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.old"]);
    let old_id = start.resources[&addr("fake_thing.old")].id.clone();
    fake.delays
        .lock()
        .unwrap()
        .insert("fake_thing.slow".into(), Duration::from_millis(50));
    let mut b = PlanBuilder::new(2);
    let slow = b.create("fake_thing.slow", &[]);
    let g = b.action("fake_thing.old", ActionKind::Delete, None, &[]);
    let delete = b.step(g, StepOp::Delete, Some(&old_id), &[]);
    let plan = b.build();
    let (report, records) = run(&plan, start.clone(), &fake, 0).await;
    assert!(report.is_success(), "{:?}", report.failures);
    assert!(
        pos(&records, slow, true) < pos(&records, delete, false),
        "an unrelated delete still waits for the new generation"
    );
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn a_rollback_that_cannot_delete_keeps_the_object_recorded() {
    let fake = Fake::new();
    fake.fail_create("fake_thing.b");
    fake.fail_delete
        .lock()
        .unwrap()
        .insert("fake_thing.a".into());
    let mut b = PlanBuilder::new(1);
    let a = b.create("fake_thing.a", &[]);
    b.create("fake_thing.b", &[a]);
    let plan = b.build();
    let start = State::new("test", LINEAGE);
    let (report, records) = run(&plan, start.clone(), &fake, 1).await;
    assert_eq!(report.failures.len(), 1);
    assert!(!report.rolled_back_cleanly());
    assert_eq!(report.rolled_back.len(), 1);
    assert!(
        report.rolled_back[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("injected delete failure")),
        "{:?}",
        report.rolled_back
    );
    assert!(report.state.resources.contains_key(&addr("fake_thing.a")));
    assert_eq!(
        state_ids(&report.state),
        fake.object_ids(),
        "nothing is orphaned"
    );
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn a_failed_replacement_keeps_the_old_object() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.x"]);
    let old_id = start.resources[&addr("fake_thing.x")].id.clone();
    fake.fail_create("fake_thing.x");
    let mut b = PlanBuilder::new(2);
    let x = b.action("fake_thing.x", ActionKind::Replace, Some(attrs("x2")), &[]);
    let create = b.step(x, StepOp::Create, None, &[]);
    b.step(x, StepOp::DeleteDeposed, Some(&old_id), &[create]);
    let plan = b.build();
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        report.skipped,
        vec![(addr("fake_thing.x"), StepOp::DeleteDeposed)]
    );
    assert_eq!(report.state.resources[&addr("fake_thing.x")].id, old_id);
    assert!(report.state.deposed.is_empty());
    assert_eq!(report.state.generation, 1, "nothing was created");
    assert_eq!(state_ids(&report.state), fake.object_ids());
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn cancellation_stops_new_steps_and_records_running_ones() {
    let fake = Fake::new();
    fake.set_delay(Duration::from_millis(40));
    let mut b = PlanBuilder::new(1);
    let mut prev = b.create("fake_thing.s0", &[]);
    for i in 1..10 {
        prev = b.create(&format!("fake_thing.s{i}"), &[prev]);
    }
    let plan = b.build();
    let mut journal = MemJournal::default();
    let options = ApplyOptions {
        parallelism: 4,
        ..Default::default()
    };
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let start = State::new("test", LINEAGE);
    let report = apply(
        &plan,
        start.clone(),
        &fake.registry(),
        &mut journal,
        &NoopObserver,
        &options,
    )
    .await;
    assert!(report.cancelled);
    assert!(report.failures.is_empty());
    let done = report.state.resources.len();
    assert!((2..10).contains(&done), "{done} created");
    assert_eq!(report.skipped.len(), 10 - done);
    // The step running when the token fired finished and was recorded.
    assert_eq!(state_ids(&report.state), fake.object_ids());
    assert_eq!(fake.calls().len(), done);
    assert_journal_compacts(&start, &journal.records(), &report);
}

#[tokio::test]
async fn a_failed_health_check_deletes_the_new_object() {
    let fake = Fake::new();
    fake.unhealthy
        .lock()
        .unwrap()
        .insert("fake_service.web".into());
    let mut b = PlanBuilder::new(1);
    let web = b.create("fake_service.web", &[]);
    b.create("fake_thing.balancer", &[web]);
    let plan = b.build();
    let start = State::new("test", LINEAGE);
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert_eq!(report.failures.len(), 1);
    let msg = &report.failures[0].message;
    assert!(
        msg.contains("health check failed") && msg.contains("/healthz answered 503"),
        "{msg}"
    );
    assert_eq!(
        report.skipped,
        vec![(addr("fake_thing.balancer"), StepOp::Create)]
    );
    let ops: Vec<&str> = fake.calls().iter().map(|c| c.op).collect();
    assert_eq!(
        ops,
        ["create", "delete"],
        "the unhealthy object is rolled back at once"
    );
    assert!(fake.object_ids().is_empty());
    assert!(report.state.is_empty());
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn an_unhealthy_object_that_cannot_be_deleted_is_kept_as_deposed() {
    let fake = Fake::new();
    fake.unhealthy
        .lock()
        .unwrap()
        .insert("fake_service.web".into());
    fake.fail_delete
        .lock()
        .unwrap()
        .insert("fake_service.web".into());
    let mut b = PlanBuilder::new(1);
    b.create("fake_service.web", &[]);
    let plan = b.build();
    let start = State::new("test", LINEAGE);
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert_eq!(report.failures.len(), 1);
    assert!(report.state.resources.is_empty());
    assert_eq!(report.state.deposed.len(), 1);
    assert_eq!(
        state_ids(&report.state),
        fake.object_ids(),
        "nothing is orphaned"
    );
    assert_journal_compacts(&start, &records, &report);
}

#[tokio::test]
async fn healthy_services_gate_their_dependents() {
    let fake = Fake::new();
    let mut b = PlanBuilder::new(1);
    let web = b.create("fake_service.web", &[]);
    b.create("fake_thing.balancer", &[web]);
    let plan = b.build();
    let (report, _) = run(&plan, State::new("test", LINEAGE), &fake, 4).await;
    assert!(report.is_success(), "{:?}", report.failures);
    assert_eq!(report.state.resources.len(), 2);
}

#[tokio::test]
async fn update_and_delete_use_the_recorded_object() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.u", "fake_thing.gone"]);
    let gone_id = start.resources[&addr("fake_thing.gone")].id.clone();
    let u_id = start.resources[&addr("fake_thing.u")].id.clone();
    let mut b = PlanBuilder::new(2);
    let after = Value::map([
        ("name", Value::from("fake_thing.u")),
        ("labels", Value::from("blue")),
        ("secret", Value::from("hunter2").sensitive()),
    ]);
    let u = b.action("fake_thing.u", ActionKind::Update, Some(after), &[]);
    b.step(u, StepOp::Update, Some(&u_id), &[]);
    let g = b.action("fake_thing.gone", ActionKind::Delete, None, &[]);
    b.step(g, StepOp::Delete, Some(&gone_id), &[]);
    let plan = b.build();
    let (report, records) = run(&plan, start.clone(), &fake, 4).await;
    assert!(report.is_success(), "{:?}", report.failures);
    let calls = fake.calls();
    let upd = calls.iter().find(|c| c.op == "update").unwrap();
    assert_eq!(upd.changed, ["labels", "secret"]);
    assert!(
        !upd.payload.contains_sensitive(),
        "providers get unmarked values"
    );
    let u = &report.state.resources[&addr("fake_thing.u")];
    assert_eq!(u.id, u_id);
    assert_eq!(u.generation, 1, "an update keeps the object's generation");
    assert!(
        u.attributes.get("secret").unwrap().contains_sensitive(),
        "the schema's sensitive attributes are marked in state"
    );
    assert!(
        !report
            .state
            .resources
            .contains_key(&addr("fake_thing.gone"))
    );
    assert_eq!(report.state.generation, 1, "nothing was created");
    assert_eq!(state_ids(&report.state), fake.object_ids());
    assert_journal_compacts(&start, &records, &report);
}

struct Counting(std::sync::Mutex<(usize, usize, usize)>);

impl Observer for Counting {
    fn step_started(&self, _: &Plan, _: &Step) {
        self.0.lock().unwrap().0 += 1;
    }
    fn step_finished(&self, _: &Plan, _: &Step, r: &StepReport) {
        let mut g = self.0.lock().unwrap();
        if r.error.is_some() {
            g.2 += 1;
        } else {
            g.1 += 1;
        }
    }
}

#[tokio::test]
async fn the_observer_sees_every_started_step_finish() {
    let fake = Fake::new();
    fake.fail_create("fake_thing.b");
    let mut b = PlanBuilder::new(1);
    let a = b.create("fake_thing.a", &[]);
    let bb = b.create("fake_thing.b", &[a]);
    b.create("fake_thing.c", &[bb]);
    let plan = b.build();
    let obs = Counting(Default::default());
    let mut journal = MemJournal::default();
    apply(
        &plan,
        State::new("test", LINEAGE),
        &fake.registry(),
        &mut journal,
        &obs,
        &ApplyOptions::default(),
    )
    .await;
    assert_eq!(*obs.0.lock().unwrap(), (2, 1, 1));
}

#[tokio::test]
async fn ten_thousand_instant_creates_apply_quickly() {
    let fake = Fake::new();
    let mut b = PlanBuilder::new(1);
    let roots: Vec<usize> = (0..100)
        .map(|i| b.create(&format!("fake_thing.r{i}"), &[]))
        .collect();
    for i in 0..9_900 {
        b.create(&format!("fake_thing.n{i}"), &[roots[i % 100]]);
    }
    let plan = b.build();
    let started = Instant::now();
    let (report, records) = run(&plan, State::new("test", LINEAGE), &fake, 10).await;
    let elapsed = started.elapsed();
    assert!(report.is_success());
    assert_eq!(report.state.resources.len(), 10_000);
    // Begin, an intent and a result per step, and the finish.
    assert_eq!(records.len(), 1 + 2 * 10_000 + 1);
    // The target is under 2 s in a release build; this debug-build bound
    // only catches quadratic bookkeeping.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}
