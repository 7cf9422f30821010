//! Recovery from an interrupted apply, and refresh.

mod common;

use common::*;
use kiln_engine::{idempotency_key, recover, refresh};
use kiln_model::Value;
use kiln_state::journal::{Outcome, ResourceRecord};
use kiln_state::{JournalRecord, State, StepOp};

fn begin() -> JournalRecord {
    JournalRecord::Begin {
        lineage: LINEAGE.into(),
        serial: 0,
        generation: 2,
        at: 1,
        command: "apply".into(),
    }
}

fn create_intent(step: usize, a: &str, key: &str) -> JournalRecord {
    JournalRecord::Intent {
        step,
        addr: addr(a),
        op: StepOp::Create,
        type_name: "fake_thing".into(),
        provider: "fake".into(),
        id: None,
        idempotency_key: key.into(),
        generation: 2,
        at: 1,
        config: None,
        dependencies: Vec::new(),
    }
}

#[tokio::test]
async fn recover_adopts_an_in_flight_create_by_its_key() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.old"]);
    let old_id = start.resources[&addr("fake_thing.old")].id.clone();
    // A create that finished and was journaled, one that reached the cloud
    // but not the journal, one that never reached the cloud, and a
    // replacement of an existing object that reached the cloud.
    let done_key = idempotency_key(LINEAGE, &addr("fake_thing.done"), 2);
    let done_id = fake.insert("fake_thing.done", &done_key, attrs("done"));
    let lost_key = idempotency_key(LINEAGE, &addr("fake_thing.lost"), 2);
    let lost_id = fake.insert("fake_thing.lost", &lost_key, attrs("lost"));
    let never_key = idempotency_key(LINEAGE, &addr("fake_thing.never"), 2);
    let repl_key = idempotency_key(LINEAGE, &addr("fake_thing.old"), 2);
    let repl_id = fake.insert("fake_thing.old", &repl_key, attrs("old2"));
    let records = vec![
        begin(),
        create_intent(0, "fake_thing.done", &done_key),
        JournalRecord::Result {
            step: 0,
            addr: addr("fake_thing.done"),
            op: StepOp::Create,
            outcome: Outcome::Created {
                resource: ResourceRecord {
                    addr: addr("fake_thing.done"),
                    type_name: "fake_thing".into(),
                    provider: "fake".into(),
                    id: done_id.clone().into(),
                    attributes: attrs("done"),
                    dependencies: vec![],
                    generation: 2,
                    stateful: false,
                    idempotency_key: done_key.clone(),
                },
            },
            at: 2,
        },
        create_intent(1, "fake_thing.lost", &lost_key),
        create_intent(2, "fake_thing.never", &never_key),
        create_intent(3, "fake_thing.old", &repl_key),
    ];
    let report = recover(start, &records, &fake.registry()).await;
    assert!(report.diagnostics.is_empty(), "{}", report.diagnostics);
    let s = &report.state;
    assert_eq!(s.resources[&addr("fake_thing.done")].id, done_id);
    assert_eq!(s.resources[&addr("fake_thing.lost")].id, lost_id);
    assert_eq!(
        s.resources[&addr("fake_thing.lost")].idempotency_key,
        lost_key
    );
    assert!(!s.resources.contains_key(&addr("fake_thing.never")));
    assert_eq!(
        s.resources[&addr("fake_thing.old")].id,
        old_id,
        "the old object stays current"
    );
    assert_eq!(s.deposed.len(), 1);
    assert_eq!(s.deposed.iter().next().unwrap().id, repl_id);
    assert_eq!(report.adopted.len(), 2);
    assert!(report.adopted.iter().any(|a| a.id == lost_id && !a.deposed));
    assert!(report.adopted.iter().any(|a| a.id == repl_id && a.deposed));
    assert_eq!(report.messages.len(), 3);
    assert_eq!(state_ids(s), fake.object_ids(), "nothing is orphaned");
}

#[tokio::test]
async fn recover_drops_what_an_in_flight_delete_removed() {
    let fake = Fake::new();
    let start = state_with(&fake, &["fake_thing.a", "fake_thing.b"]);
    let a_id = start.resources[&addr("fake_thing.a")].id.to_string();
    let b_id = start.resources[&addr("fake_thing.b")].id.to_string();
    fake.objects.lock().unwrap().remove(&a_id);
    let intent = |step, a: &str, id: &str| JournalRecord::Intent {
        step,
        addr: addr(a),
        op: StepOp::Delete,
        type_name: "fake_thing".into(),
        provider: "fake".into(),
        id: Some(id.into()),
        idempotency_key: String::new().into(),
        generation: 1,
        at: 1,
        config: None,
        dependencies: Vec::new(),
    };
    let records = vec![
        begin(),
        intent(0, "fake_thing.a", &a_id),
        intent(1, "fake_thing.b", &b_id),
    ];
    let report = recover(start, &records, &fake.registry()).await;
    assert!(report.diagnostics.is_empty());
    assert!(!report.state.resources.contains_key(&addr("fake_thing.a")));
    assert_eq!(report.state.resources[&addr("fake_thing.b")].id, b_id);
    assert_eq!(state_ids(&report.state), fake.object_ids());
}

#[tokio::test]
async fn recover_refuses_another_lineage() {
    let fake = Fake::new();
    let start = State::new("test", "other-lineage");
    let report = recover(start.clone(), &[begin()], &fake.registry()).await;
    assert!(report.diagnostics.has_errors());
    assert_eq!(report.state, start);
}

#[tokio::test]
async fn refresh_reads_in_batches_and_reports_gone_and_drift() {
    let fake = Fake::new();
    let names: Vec<String> = (0..250).map(|i| format!("fake_thing.r{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut start = state_with(&fake, &refs);
    // Drop one object outside kiln, degrade another, and edit a third.
    let gone_id = start.resources[&addr("fake_thing.r7")].id.to_string();
    fake.objects.lock().unwrap().remove(&gone_id);
    let sick_id = start.resources[&addr("fake_thing.r8")].id.clone();
    fake.drift
        .lock()
        .unwrap()
        .insert(sick_id.to_string(), "process exited".into());
    start
        .resources
        .get_mut(&addr("fake_thing.r9"))
        .unwrap()
        .attributes = attrs("stale");
    let report = refresh(&start, &fake.registry(), 2).await;
    assert!(report.diagnostics.is_empty());
    let mut batches: Vec<usize> = fake
        .calls()
        .iter()
        .filter(|c| c.op == "read")
        .map(|c| c.batch)
        .collect();
    batches.sort();
    assert_eq!(batches, [50, 100, 100]);
    assert_eq!(report.gone, vec![addr("fake_thing.r7")]);
    assert!(!report.state.resources.contains_key(&addr("fake_thing.r7")));
    assert_eq!(
        report
            .drifted
            .get(&addr("fake_thing.r8"))
            .map(String::as_str),
        Some("process exited")
    );
    assert_eq!(
        report.state.resources[&addr("fake_thing.r9")]
            .attributes
            .get("name"),
        Some(&kiln_model::Value::from("fake_thing.r9"))
    );
    assert_eq!(report.state.resources.len(), 249);
}

#[tokio::test]
async fn an_adopted_object_is_recorded_as_its_create_would_have() {
    // The provider's lookup reports less than the configuration said (no
    // labels, a different spelling of the name) and the computed id.
    let fake = Fake::new();
    let key = idempotency_key(LINEAGE, &addr("fake_thing.lost"), 2);
    let id = fake.insert(
        "fake_thing.lost",
        &key,
        Value::map([("name", Value::from("LOST"))]),
    );
    let config = Value::map([
        ("name", Value::from("lost")),
        ("labels", Value::from("blue")),
        ("secret", Value::from("hunter2")),
    ]);
    let mut intent = create_intent(0, "fake_thing.lost", &key);
    if let JournalRecord::Intent {
        config: c,
        dependencies,
        ..
    } = &mut intent
    {
        *c = Some(config);
        *dependencies = vec![addr("fake_thing.base")];
    }
    let start = State::new("test", LINEAGE);
    let report = recover(start, &[begin(), intent], &fake.registry()).await;
    assert!(report.diagnostics.is_empty(), "{}", report.diagnostics);
    let r = &report.state.resources[&addr("fake_thing.lost")];
    assert_eq!(r.id, id);
    assert_eq!(r.attributes.get("id"), Some(&Value::from(id.as_str())));
    assert_eq!(r.attributes.get("name"), Some(&Value::from("lost")));
    assert_eq!(r.attributes.get("labels"), Some(&Value::from("blue")));
    assert!(
        r.attributes.get("secret").unwrap().contains_sensitive(),
        "sensitive attributes are marked as a create marks them"
    );
    assert_eq!(r.dependencies, vec![addr("fake_thing.base")]);
}
