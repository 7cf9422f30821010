//! The store conformance suite against the local file store, plus what only
//! the local store does (file modes, corrupt files, torn journal lines).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_store::{LocalStore, StateStore, StoreError, conformance};

#[tokio::test]
async fn local_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        LocalStore::new(dir.path().join(format!("root{i}")).join(".kiln"))
    })
    .await;
}

/// The same suite with encryption on: every object sealed, every read
/// opened, nothing else changes.
#[tokio::test]
async fn a_sealed_local_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    let sealer = std::sync::Arc::new(kiln_store::seal::Sealer::new("conformance", None).unwrap());
    conformance::run_all(|| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        LocalStore::new(dir.path().join(format!("root{i}")).join(".kiln"))
            .with_sealer(Some(sealer.clone()))
    })
    .await;
    let root = dir.path().join("root1").join(".kiln");
    let mut sealed = 0;
    for env in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let state = env.path().join("state.json");
        if let Ok(bytes) = std::fs::read(&state) {
            assert!(kiln_store::seal::is_sealed(&bytes), "{}", state.display());
            sealed += 1;
        }
    }
    assert!(sealed > 0, "no state written under {}", root.display());
}

/// The local store reads a state to plan against without its applied
/// configuration (kiln_state::format::from_json_without_sources).
#[tokio::test]
async fn a_read_without_sources_leaves_the_source_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join(".kiln"));
    let mut s = conformance::sample_state("dev", "lin-1", "1");
    s.source = Some(kiln_state::AppliedSource {
        generation: 1,
        files: vec![("main.hcl".into(), "# text\n".into())],
        variables: Default::default(),
    });
    store.write("dev", &s, None, "1 created").await.unwrap();
    let full = store.read("dev").await.unwrap().unwrap();
    assert!(full.state.source.is_some());
    let lean = store.read_without_sources("dev").await.unwrap().unwrap();
    assert!(lean.state.source.is_none());
    assert_eq!(lean.state.resources, full.state.resources);
}

/// The local journal batches: a deferred record is in no file until the
/// next append writes it with its own line, in one write.
#[tokio::test]
async fn a_deferred_journal_record_waits_for_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let store = LocalStore::new(root.clone());
    let mut j = store.journal("dev").await.unwrap();
    let record = |step: usize| kiln_state::journal::JournalRecord::Begin {
        lineage: format!("lin-{step}"),
        serial: 1,
        generation: 1,
        at: 1,
        command: "apply".into(),
    };
    j.append_deferred(&record(0)).await.unwrap();
    let file = root.join("dev").join("journal.jsonl");
    assert_eq!(std::fs::read(&file).unwrap(), b"", "held back");
    j.append(&record(1)).await.unwrap();
    assert_eq!(
        store.read_journal("dev").await.unwrap(),
        vec![record(0), record(1)]
    );
}

#[tokio::test]
async fn torn_journal_line_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let store = LocalStore::new(root.clone());
    conformance::journal_torn_tail(&store, |env| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join(env).join("journal.jsonl"))
            .unwrap();
        f.write_all(br#"{"record":"result","step":1,"addr":"null_res"#)
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn corrupt_state_is_reported_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let store = LocalStore::new(root.clone());
    let s = conformance::sample_state("dev", "lin", "1");
    let v = store.write("dev", &s, None, "first").await.unwrap();
    let path = root.join("dev").join("state.json");
    std::fs::write(&path, b"{ not json").unwrap();
    assert!(matches!(
        store.read("dev").await,
        Err(StoreError::Corrupt { .. })
    ));
    for expected in [None, Some(&v)] {
        let err = store.write("dev", &s, expected, "again").await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let store = LocalStore::new(root.clone());
    let s = conformance::sample_state("dev", "lin", "1");
    let v = store.write("dev", &s, None, "first").await.unwrap();
    store.write("dev", &s, Some(&v), "second").await.unwrap();
    let lock = kiln_store::LockInfo::for_current_process("apply");
    store.lock("dev", &lock).await.unwrap();
    drop(store.journal("dev").await.unwrap());
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(root.clone()), 0o700);
    assert_eq!(mode(root.join("dev")), 0o700);
    assert_eq!(mode(root.join("dev/history")), 0o700);
    assert_eq!(mode(root.join("dev/state.json")), 0o600);
    assert_eq!(mode(root.join("dev/history/1.json")), 0o600);
    assert_eq!(mode(root.join("dev/lock.json")), 0o600);
    assert_eq!(mode(root.join("dev/journal.jsonl")), 0o600);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(root.join("dev"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_dead_local_holder_looks_stale() {
    let mut lock = kiln_store::LockInfo::for_current_process("apply");
    assert!(!lock.looks_stale(), "this process is alive");
    lock.pid = u32::MAX - 1;
    if std::path::Path::new("/proc").is_dir() {
        assert!(lock.looks_stale());
    }
    lock.host = "another-host".into();
    assert!(!lock.looks_stale(), "another host's pid says nothing");
    lock.expires = Some(1);
    assert!(lock.looks_stale(), "an expired lease is stale");
}

#[tokio::test]
async fn invalid_env_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join(".kiln"));
    for env in ["", "../x", ".hidden", "a/b"] {
        assert!(store.read(env).await.is_err(), "{env:?}");
    }
}

#[tokio::test]
async fn a_dead_holders_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let store = LocalStore::new(root.clone());
    conformance::lock_takeover(&store, async |info| {
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::write(
            root.join("dev").join("lock.json"),
            serde_json::to_vec(info).unwrap(),
        )
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_live_holder_on_this_machine_keeps_its_lock() {
    // The operating system's lock says the holder runs, whatever lock.json
    // says: another store (another process's, in effect) cannot take it.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".kiln");
    let holder = LocalStore::new(root.clone());
    let other = LocalStore::new(root.clone());
    let a = kiln_store::LockInfo::for_current_process("apply");
    holder.lock("dev", &a).await.unwrap();
    let mut forged = a.clone();
    forged.pid = 4_194_305;
    std::fs::write(
        root.join("dev").join("lock.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let b = kiln_store::LockInfo::for_current_process("apply");
    assert!(matches!(
        other.lock("dev", &b).await,
        Err(StoreError::Locked { .. })
    ));
    holder.unlock("dev", &a.id).await.unwrap();
    other.lock("dev", &b).await.unwrap();
}
