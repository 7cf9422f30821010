//! Crash safety of the real `kiln` binary, deterministically: the process is
//! stopped at each named crash point (`KILN_CRASH_AT`, see
//! `kiln_store::faults`) of create, replace, `--rebuild`, `--keep-previous`,
//! `kiln rollback`, a failed apply's rollback and destroy, on the local
//! store (here) and on S3 (`s3.rs`). After each crash the next command must
//! finish with no manual step (the dead holder's lock is taken over), the
//! state must record exactly the objects that exist (real files of the
//! local provider: none missing, none orphaned, none twice), and the next
//! plan must be empty.

mod common;

use std::collections::BTreeSet;

use common::crash::{
    Crash, MAIN, SCENARIOS, check_files, crash_and_check, crash_and_check_with, pull,
};
use common::{Kiln, TempProject};

/// Every scenario at every crash point on the local store.
#[test]
fn every_crash_point_of_every_command_recovers_exactly_on_the_local_store() {
    let mut reached = BTreeSet::new();
    for scenario in SCENARIOS {
        for (point, _) in kiln_store::faults::POINTS {
            if crash_and_check(scenario, point, &[], &[]) {
                reached.insert((*point).to_string());
            }
        }
    }
    // Every point is reached by some scenario (recovery's by the test below).
    for (point, _) in kiln_store::faults::POINTS {
        assert!(
            reached.contains(*point) || *point == "recover:state-written",
            "no scenario reached {point}"
        );
    }
}

/// A crash inside recovery itself (after it wrote the recovered state,
/// before it removed the journal) is recovered by the next command, which
/// discards the folded journal instead of replaying it.
#[test]
fn a_crash_during_recovery_is_recovered_without_replaying_the_journal() {
    let p = TempProject::new();
    p.write("main.hcl", MAIN);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    k.run(&["apply", "--yes"]).success();
    let crash = |point: &str| {
        Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path()).env(kiln_store::faults::CRASH_ENV, point)
    };
    assert_eq!(
        crash("step:called#2")
            .run(&["apply", "--yes", "--var", "v=2"])
            .code,
        -1
    );
    assert_eq!(crash("recover:state-written").run(&["recover"]).code, -1);
    let r = k.run(&["apply", "--yes", "--var", "v=2"]);
    r.success();
    assert!(r.stderr.contains("took over the lock"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing is replayed"), "{}", r.stderr);
    let state = pull(&k, &[], "recovery crash");
    check_files(p.path(), &state, "recovery crash");
    k.run(&["plan", "--detailed-exitcode", "--var", "v=2"])
        .expect_code(0);
}

/// The reproduction of issue 19: the journal of an apply whose state was
/// written is left behind; the next apply must not replay it (it used to
/// delete every object the apply had created and exit 0).
#[test]
fn a_journal_left_after_its_state_was_written_is_discarded_not_replayed() {
    let p = TempProject::new();
    p.write(
        "main.hcl",
        "resource \"local_file\" \"a\" {\n  path    = \"${path.module}/a.txt\"\n  content = \"hello\"\n}\nresource \"null_resource\" \"b\" {}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    k.run(&["apply", "--yes"]).success();
    let dir = p.path().join(".kiln").join("default");
    std::fs::copy(dir.join("journal.last.jsonl"), dir.join("journal.jsonl")).unwrap();
    let before = pull(&k, &[], "before");
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(!r.all().contains("destroyed"), "{}", r.all());
    assert!(p.path().join("a.txt").exists(), "a.txt is still there");
    let after = pull(&k, &[], "after");
    assert_eq!(before["resources"], after["resources"]);
    assert!(after["deposed"].as_array().is_none_or(Vec::is_empty));
    assert!(
        !dir.join("journal.jsonl").exists(),
        "the journal is removed"
    );
}

/// `kiln plan` after an interrupted apply reads the journal as recovery
/// would, changing nothing: it does not propose to create what was made.
#[test]
fn plan_after_a_crash_reads_the_journal_and_changes_nothing() {
    let p = TempProject::new();
    p.write("main.hcl", MAIN);
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let r = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path())
        .env(kiln_store::faults::CRASH_ENV, "apply:finish-journaled")
        .run(&["apply", "--yes"]);
    assert_eq!(r.code, -1, "{}", r.all());
    let journal = p.path().join(".kiln/default/journal.jsonl");
    let before = std::fs::read(&journal).unwrap();
    let r = k.run(&["plan", "--detailed-exitcode"]);
    r.expect_code(0);
    assert!(r.stderr.contains("did not finish"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        before,
        "plan changes nothing"
    );
    assert!(p.state_json("default").is_none(), "plan writes no state");
    let r = k.run(&["plan", "--out", "x.kilnplan"]);
    r.expect_code(1);
    assert!(r.stderr.contains("kiln recover"), "{}", r.stderr);
    k.run(&["recover"]).success();
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// A live holder's lock is never taken over, and `kiln unlock` refuses to
/// remove it without --force.
#[test]
fn a_live_holder_keeps_its_lock_and_unlock_needs_force() {
    let p = TempProject::new();
    p.write(
        "main.hcl",
        "resource \"null_resource\" \"slow\" {\n  delay = \"30s\"\n}\n",
    );
    let k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    let mut holder = k
        .command(&["apply", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = p.path().join(".kiln/default/lock.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !p.path().join(".kiln/default/journal.jsonl").exists() {
        assert!(std::time::Instant::now() < deadline, "the apply started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
    let id = info["id"].as_str().unwrap();
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    let r = k.run(&["unlock", id]);
    r.expect_code(1);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(lock.exists(), "the lock is still there");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The slow create never finished; its next attempt need not be slow.
    p.write(
        "main.hcl",
        "resource \"null_resource\" \"slow\" {\n  delay = \"1ms\"\n}\n",
    );
    // Killed: the next apply takes the lock over and recovers.
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(r.stderr.contains("took over the lock"), "{}", r.stderr);
    assert!(r.stderr.contains("no longer running"), "{}", r.stderr);
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// `kill -9` at random moments of random scenarios: `KILN_FAULT_KILLS` runs
/// (5 here; `just faults` runs 100), from `KILN_FAULT_SEED` (printed, so a
/// failure can be replayed) or the clock.
#[test]
#[allow(clippy::print_stderr)] // The seed and the figures are the harness's report.
fn random_kills_recover_exactly_on_the_local_store() {
    let kills = common::crash::env_count("KILN_FAULT_KILLS", 5);
    let (seed, mut next) = common::crash::seeded();
    eprintln!("random kills: KILN_FAULT_SEED={seed} KILN_FAULT_KILLS={kills}");
    let mut crashed = 0;
    for _ in 0..kills {
        let scenario = &SCENARIOS[(next() % SCENARIOS.len() as u64) as usize];
        let delay = std::time::Duration::from_millis(next() % 30);
        if crash_and_check_with(scenario, Crash::After(delay), &[], &[]) {
            crashed += 1;
        }
    }
    eprintln!("random kills: {crashed} of {kills} runs were killed before they finished");
}
