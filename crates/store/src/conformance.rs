//! The conformance suite every [`StateStore`] must pass.
//!
//! Each check is a public async function over a fresh, empty store; a
//! failure panics with what the store got wrong, so the suite runs from an
//! ordinary `#[tokio::test]` (see `tests/conformance_local.rs`, which runs
//! it against [`LocalStore`](crate::LocalStore) in a temporary directory).
//!
//! [`journal_torn_tail`] needs a way to tear the journal, and
//! [`lock_takeover`] a way to leave a dead holder's lock behind, that only
//! the implementation knows, so they are not part of [`run_all`].

use kiln_model::{InstanceAddr, Value};
use kiln_state::journal::{Outcome, ResourceRecord, StepOp};
use kiln_state::{JournalRecord, ResourceState, State};

use crate::{LockInfo, StateStore, StoreError, Version};

/// The holder as stored, less the lease a store may add (`expires`).
fn same_holder(got: &LockInfo, want: &LockInfo) -> bool {
    let mut got = got.clone();
    got.expires = want.expires;
    got == *want
}

/// Runs every check, each against a store from `make` (which must return a
/// new, empty store each time).
pub async fn run_all<S: StateStore + 'static>(make: impl Fn() -> S) {
    read_empty(&make()).await;
    write_read_round_trip(&make()).await;
    conditional_write_conflict(&make()).await;
    lineage_refused(&make()).await;
    lock_unlock(&make()).await;
    lock_race(std::sync::Arc::new(make())).await;
    history(&make()).await;
    journal(&make()).await;
    journal_deferred(&make()).await;
    list_remove_envs(&make()).await;
}

/// A small state with one resource, for the checks.
pub fn sample_state(env: &str, lineage: &str, marker: &str) -> State {
    let mut s = State::new(env, lineage);
    let addr: InstanceAddr = "null_resource.a".parse().expect("valid address");
    s.resources.insert(
        addr.clone(),
        ResourceState {
            addr,
            type_name: "null_resource".into(),
            provider: "null".into(),
            id: format!("id-{marker}").into(),
            attributes: Value::map([
                ("id", Value::from(format!("id-{marker}"))),
                ("secret", Value::from("pw").sensitive()),
            ]),
            dependencies: vec![],
            generation: 1,
            stateful: false,
            idempotency_key: format!("key-{marker}").into(),
        },
    );
    s.generation = 1;
    s
}

fn record(step: usize, marker: &str) -> JournalRecord {
    let addr: InstanceAddr = "null_resource.a".parse().expect("valid address");
    JournalRecord::Result {
        step,
        addr: addr.clone(),
        op: StepOp::Create,
        outcome: Outcome::Created {
            resource: ResourceRecord {
                addr,
                type_name: "null_resource".into(),
                provider: "null".into(),
                id: format!("id-{marker}").into(),
                attributes: Value::map([("id", Value::from(format!("id-{marker}")))]),
                dependencies: vec![],
                generation: 1,
                stateful: false,
                idempotency_key: format!("key-{marker}").into(),
            },
        },
        at: 1,
    }
}

/// Reading an environment that has no state gives `None`, not an error.
pub async fn read_empty<S: StateStore>(store: &S) {
    assert!(
        store.read("nothing").await.expect("read").is_none(),
        "reading an unknown environment must give None"
    );
    assert!(store.history("nothing").await.expect("history").is_empty());
    assert!(
        store
            .lock_holder("nothing")
            .await
            .expect("holder")
            .is_none()
    );
    assert!(
        store
            .read_journal("nothing")
            .await
            .expect("journal")
            .is_empty()
    );
}

/// What is written is read back identically (sensitive marks included),
/// with a version that a later write can be conditional on.
pub async fn write_read_round_trip<S: StateStore>(store: &S) {
    let s = sample_state("dev", "lin-1", "1");
    let v1 = store
        .write("dev", &s, None, "1 created")
        .await
        .expect("write");
    let got = store.read("dev").await.expect("read").expect("a state");
    assert_eq!(got.version, v1, "read must return the written version");
    assert!(got.state.serial >= 1, "a written state has a serial");
    let mut expected = s.clone();
    expected.serial = got.state.serial;
    assert_eq!(got.state, expected, "state must round-trip");
    // Read to plan against: the same version and state, the applied
    // configuration present or left out.
    let mut with_source = s.clone();
    with_source.source = Some(kiln_state::AppliedSource {
        generation: 1,
        files: vec![(
            "main.hcl".into(),
            "resource \"null_resource\" \"a\" {}\n".into(),
        )],
        variables: Default::default(),
    });
    let env = "plan";
    let v = store
        .write(env, &with_source, None, "1 created")
        .await
        .expect("write");
    let full = store.read(env).await.expect("read").expect("a state");
    assert_eq!(
        full.state.source, with_source.source,
        "the source must round-trip"
    );
    let lean = store
        .read_without_sources(env)
        .await
        .expect("read without sources")
        .expect("a state");
    assert_eq!(lean.version, v);
    assert!(
        lean.state.source.is_none() || lean.state.source == with_source.source,
        "a read without sources leaves the source out or keeps it as it is"
    );
    let mut lean_state = lean.state.clone();
    lean_state.source = full.state.source.clone();
    assert_eq!(lean_state, full.state, "everything else reads the same");

    let s2 = sample_state("dev", "lin-1", "2");
    let v2 = store
        .write("dev", &s2, Some(&v1), "1 replaced")
        .await
        .expect("second write");
    assert_ne!(v1, v2, "each write gets a new version");
    let got2 = store.read("dev").await.expect("read").expect("a state");
    assert_eq!(got2.version, v2);
    assert!(got2.state.serial > got.state.serial, "serials grow");
    assert_eq!(got2.state.resources, s2.resources);
}

/// Writes are conditional: a stale version or "must not exist" fails.
pub async fn conditional_write_conflict<S: StateStore>(store: &S) {
    let s = sample_state("dev", "lin-1", "1");
    let v1 = store.write("dev", &s, None, "first").await.expect("write");
    let err = store.write("dev", &s, None, "again").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "writing with expected=None over a state must conflict, got {err:?}"
    );
    let v2 = store
        .write("dev", &s, Some(&v1), "second")
        .await
        .expect("write");
    let err = store
        .write("dev", &s, Some(&v1), "stale")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "writing with a stale version must conflict, got {err:?}"
    );
    let err = store
        .write("other", &s, Some(&v2), "no such")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "writing with a version where there is no state must conflict, got {err:?}"
    );
    let got = store.read("dev").await.expect("read").expect("a state");
    assert_eq!(got.version, v2, "failed writes change nothing");
}

/// A state of another lineage is never written over the stored one.
pub async fn lineage_refused<S: StateStore>(store: &S) {
    let v = store
        .write("dev", &sample_state("dev", "lin-1", "1"), None, "first")
        .await
        .expect("write");
    let err = store
        .write("dev", &sample_state("dev", "lin-2", "2"), Some(&v), "other")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Lineage { .. }),
        "a different lineage must be refused, got {err:?}"
    );
    let got = store.read("dev").await.expect("read").expect("a state");
    assert_eq!(got.state.lineage, "lin-1");
}

/// One lock at a time; the second fails at once naming the holder; unlock
/// needs the holder's id.
pub async fn lock_unlock<S: StateStore>(store: &S) {
    let a = LockInfo::for_current_process("apply");
    let mut b = LockInfo::for_current_process("destroy");
    b.id = format!("{}-b", a.id);
    store.lock("dev", &a).await.expect("first lock");
    let holder = store.lock_holder("dev").await.expect("holder");
    assert!(
        holder.as_ref().is_some_and(|h| same_holder(h, &a)),
        "the holder must be the lock taken: {holder:?}"
    );
    match store.lock("dev", &b).await {
        Err(StoreError::Locked { holder, .. }) => assert!(same_holder(&holder, &a), "{holder:?}"),
        other => panic!("a second lock must fail with Locked, got {other:?}"),
    }
    // Locks are per environment.
    store.lock("prod", &b).await.expect("lock another env");
    store.unlock("prod", &b.id).await.expect("unlock other env");

    let err = store.unlock("dev", &b.id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotLocked { .. }),
        "unlocking with another id must fail, got {err:?}"
    );
    store.unlock("dev", &a.id).await.expect("unlock");
    assert!(store.lock_holder("dev").await.expect("holder").is_none());
    let err = store.unlock("dev", &a.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotLocked { .. }));
    store.lock("dev", &b).await.expect("lock after unlock");
    store.unlock("dev", &b.id).await.expect("unlock");
}

/// A lock whose holder is provably gone (a process of this machine that no
/// longer runs) is taken over, and reported; one whose holder may run (on
/// another host, with no lease that ran out) is not. `plant` stores a lock
/// as its holder would have, on environment `dev`, with no process behind it.
pub async fn lock_takeover<S: StateStore>(store: &S, plant: impl AsyncFn(&LockInfo)) {
    let mut dead = LockInfo::for_current_process("apply");
    dead.id = format!("{}-dead", dead.id);
    // No process has this pid (above Linux's pid_max).
    dead.pid = 4_194_305;
    plant(&dead).await;
    let ours = LockInfo::for_current_process("apply");
    let acquired = store
        .lock("dev", &ours)
        .await
        .expect("a lock whose holder is gone is taken over");
    let (was, why) = acquired
        .taken_over
        .expect("a taken-over lock is reported with its holder");
    assert_eq!(was.id, dead.id);
    assert!(why.contains("no longer running"), "{why}");
    let holder = store.lock_holder("dev").await.expect("holder");
    assert!(
        holder.is_some_and(|h| same_holder(&h, &ours)),
        "the lock is ours now"
    );
    store.unlock("dev", &ours.id).await.expect("unlock");

    let mut elsewhere = LockInfo::for_current_process("apply");
    elsewhere.id = format!("{}-elsewhere", elsewhere.id);
    elsewhere.host = "another-host".into();
    elsewhere.pid = 4_194_305;
    plant(&elsewhere).await;
    match store.lock("dev", &ours).await {
        Err(StoreError::Locked { holder, .. }) => assert_eq!(holder.id, elsewhere.id),
        other => panic!("another host's lock is never taken over by its pid, got {other:?}"),
    }
}

/// Ten lock attempts at once: exactly one wins, every other one fails naming
/// the winner.
pub async fn lock_race<S: StateStore + 'static>(store: std::sync::Arc<S>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            let mut info = LockInfo::for_current_process("apply");
            info.id = format!("{}-{i}", info.id);
            let res = store.lock("race", &info).await;
            (info, res)
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("lock task") {
            (info, Ok(_)) => winners.push(info),
            (_, Err(StoreError::Locked { holder, .. })) => losers.push(*holder),
            (_, Err(e)) => panic!("a lost race must be Locked, got {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one lock wins: {winners:?}");
    for l in &losers {
        assert_eq!(l.id, winners[0].id, "losers name the winner");
    }
    store
        .unlock("race", &winners[0].id)
        .await
        .expect("unlock the winner");
}

/// Each write keeps the version it replaces; history is newest first and
/// every entry reads back.
pub async fn history<S: StateStore>(store: &S) {
    let mut version: Option<Version> = None;
    let mut serials = Vec::new();
    for i in 1..=3 {
        let s = sample_state("dev", "lin-1", &i.to_string());
        let v = store
            .write("dev", &s, version.as_ref(), &format!("write {i}"))
            .await
            .expect("write");
        serials.push(
            store
                .read("dev")
                .await
                .expect("read")
                .expect("state")
                .state
                .serial,
        );
        version = Some(v);
    }
    let h = store.history("dev").await.expect("history");
    assert_eq!(h.len(), 2, "two earlier versions are kept: {h:?}");
    assert_eq!(h[0].serial, serials[1], "newest first");
    assert_eq!(h[1].serial, serials[0]);
    assert_eq!(h[0].summary, "write 2");
    assert_eq!(h[1].summary, "write 1");
    let old = store
        .read_version("dev", &h[1].version)
        .await
        .expect("read version");
    assert_eq!(old.serial, serials[0]);
    assert_eq!(
        old.resources.values().next().map(|r| r.id.as_str()),
        Some("id-1")
    );
    assert!(store.read_version("dev", "9999").await.is_err());
}

/// Records read back in order; a reopened journal appends after them;
/// clearing empties it.
pub async fn journal<S: StateStore>(store: &S) {
    let begin = JournalRecord::Begin {
        lineage: "lin-1".into(),
        serial: 1,
        generation: 2,
        at: 1,
        command: "apply".into(),
    };
    {
        let mut j = store.journal("dev").await.expect("open journal");
        j.append(&begin).await.expect("append");
        j.append(&record(0, "1")).await.expect("append");
    }
    {
        let mut j = store.journal("dev").await.expect("reopen journal");
        j.append(&record(1, "2")).await.expect("append");
        j.sync().await.expect("sync");
    }
    let got = store.read_journal("dev").await.expect("read journal");
    assert_eq!(got, vec![begin, record(0, "1"), record(1, "2")]);
    store.clear_journal("dev").await.expect("clear");
    assert!(store.read_journal("dev").await.expect("read").is_empty());
    store
        .clear_journal("dev")
        .await
        .expect("clearing twice is fine");
}

/// Records appended with `append_deferred` are written, in the order
/// appended, before the next `append`, on `flush`, and when the journal is
/// dropped.
pub async fn journal_deferred<S: StateStore>(store: &S) {
    {
        let mut j = store.journal("dev").await.expect("open journal");
        j.append_deferred(&record(0, "a")).await.expect("defer");
        j.append_deferred(&record(1, "b")).await.expect("defer");
        j.append(&record(2, "c")).await.expect("append");
        assert_eq!(
            store.read_journal("dev").await.expect("read journal"),
            vec![record(0, "a"), record(1, "b"), record(2, "c")],
            "held-back records go before the next appended one"
        );
        j.append_deferred(&record(3, "d")).await.expect("defer");
        j.flush().await.expect("flush");
        assert_eq!(
            store.read_journal("dev").await.expect("read journal").len(),
            4,
            "a flush writes what was held back"
        );
        j.append_deferred(&record(4, "e")).await.expect("defer");
    }
    assert_eq!(
        store
            .read_journal("dev")
            .await
            .expect("read journal")
            .last(),
        Some(&record(4, "e")),
        "a dropped journal writes what it held back"
    );
    store.clear_journal("dev").await.expect("clear");
}

/// A record torn by a crash mid-append is ignored on read, and later appends
/// still read back. `tear(env)` must append a partial record (bytes with no
/// newline) to the environment's journal the way a crashed writer would.
pub async fn journal_torn_tail<S: StateStore>(store: &S, tear: impl FnOnce(&str)) {
    {
        let mut j = store.journal("dev").await.expect("open journal");
        j.append(&record(0, "1")).await.expect("append");
    }
    tear("dev");
    assert_eq!(
        store.read_journal("dev").await.expect("read torn journal"),
        vec![record(0, "1")],
        "a torn last line must be ignored"
    );
    {
        let mut j = store.journal("dev").await.expect("reopen journal");
        j.append(&record(1, "2")).await.expect("append");
    }
    assert_eq!(
        store.read_journal("dev").await.expect("read"),
        vec![record(0, "1"), record(1, "2")],
        "appends after a torn line must read back"
    );
}

/// Environments with a state are listed; removing one drops its state,
/// history and journal.
pub async fn list_remove_envs<S: StateStore>(store: &S) {
    assert!(store.list_envs().await.expect("list").is_empty());
    for env in ["b-env", "a-env"] {
        let v = store
            .write(env, &sample_state(env, "lin", "1"), None, "first")
            .await
            .expect("write");
        store
            .write(env, &sample_state(env, "lin", "2"), Some(&v), "second")
            .await
            .expect("write");
    }
    // A journal or lock alone does not make an environment.
    let l = LockInfo::for_current_process("apply");
    store.lock("c-env", &l).await.expect("lock");
    store.unlock("c-env", &l.id).await.expect("unlock");
    let mut envs = store.list_envs().await.expect("list");
    envs.sort();
    assert_eq!(envs, vec!["a-env".to_string(), "b-env".to_string()]);

    let mut j = store.journal("a-env").await.expect("journal");
    j.append(&record(0, "1")).await.expect("append");
    drop(j);
    store.remove_env("a-env").await.expect("remove");
    assert_eq!(
        store.list_envs().await.expect("list"),
        vec!["b-env".to_string()]
    );
    assert!(store.read("a-env").await.expect("read").is_none());
    assert!(store.history("a-env").await.expect("history").is_empty());
    assert!(
        store
            .read_journal("a-env")
            .await
            .expect("journal")
            .is_empty()
    );
    store
        .remove_env("a-env")
        .await
        .expect("removing twice is fine");
}
