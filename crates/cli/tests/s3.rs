//! The real `kiln` binary with its state in S3 (moto on loopback, never a
//! real account): concurrent applies under one lock, a killed holder, the
//! backend block, `state pull` / `state push`, and bad input.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Kiln, TempProject};
use kiln_testkit::moto::Moto;

/// A project whose runs point at moto; `bucket` is created.
fn s3_project(main: &str, bucket: &str) -> (TempProject, Kiln) {
    let moto = Moto::shared();
    moto.create_bucket(bucket);
    let p = TempProject::new();
    p.write("main.hcl", main);
    let mut k = Kiln::new(env!("CARGO_BIN_EXE_kiln"), p.path());
    for (key, value) in moto.env() {
        k = k.env(&key, &value);
    }
    (p, k)
}

/// An object's body, if it exists.
fn object(bucket: &str, key: &str) -> Option<String> {
    match Moto::shared().s3("GET", &format!("/{bucket}/{key}"), "") {
        (200, body) => Some(body),
        _ => None,
    }
}

fn state(bucket: &str, key: &str) -> serde_json::Value {
    serde_json::from_str(&object(bucket, key).expect("a state object")).expect("state JSON")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const TRIGGERED: &str = "variable \"n\" {\n  default = \"0\"\n}\n\nresource \"null_resource\" \"a\" {\n  triggers = { n = var.n }\n  delay    = \"300ms\"\n}\n";

#[test]
fn ten_concurrent_applies_run_one_at_a_time_and_lose_no_update() {
    let (_p, k) = s3_project(TRIGGERED, "ten");
    let backend = "s3://ten/team";
    let children: Vec<_> = (1..=10)
        .map(|i| {
            k.command(&[
                "apply",
                "--yes",
                "--backend",
                backend,
                "--var",
                &format!("n={i}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut ran = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            ran.push(i + 1);
        } else {
            assert!(
                stderr.contains("is locked by")
                    && stderr.contains("pid")
                    && stderr.contains("since"),
                "a run that did not apply must fail naming the lock holder:\n{stderr}"
            );
        }
    }
    assert!(!ran.is_empty(), "at least one apply ran");
    let s = state("ten", "team/default/state.json");
    assert_eq!(
        s["serial"].as_u64().unwrap(),
        ran.len() as u64,
        "the serial counts exactly the applies that ran ({ran:?})"
    );
    // Every earlier version is kept: serials 1..n-1, none lost.
    let r = k.run(&["state", "history", "--json", "--backend", backend]);
    r.success();
    let history: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let mut serials: Vec<u64> = history
        .iter()
        .map(|h| h["serial"].as_u64().unwrap())
        .collect();
    serials.sort();
    assert_eq!(serials, (1..ran.len() as u64).collect::<Vec<_>>());
    assert!(
        object("ten", "team/default/lock.json").is_none(),
        "no lock left"
    );
}

#[test]
fn a_killed_holders_lock_is_taken_over_and_its_journal_recovered() {
    let (_p, k) = s3_project(&kiln_testkit::generate::chain(4, Some("500ms")), "killed");
    let k = k.env("KILN_BACKEND", "s3://killed/x");
    let mut holder = k
        .command(&["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first apply's journal", || {
        Moto::shared()
            .s3("GET", "/killed?list-type=2&prefix=x/default/journal/", "")
            .1
            .contains("<Key>")
    });
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();

    // The lease still runs, but its holder was a process of this machine
    // that is gone: the next apply takes the lock over, says so, recovers
    // the killed one's journal from S3 and finishes.
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(r.stderr.contains("took over the lock"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("pid {}", holder.id())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("recovering"), "{}", r.stderr);
    let s = state("killed", "x/default/state.json");
    assert_eq!(s["resources"].as_array().unwrap().len(), 4);
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(
        !Moto::shared()
            .s3("GET", "/killed?list-type=2&prefix=x/default/journal/", "")
            .1
            .contains("<Key>"),
        "the journal is cleared once compacted"
    );
    assert!(object("killed", "x/default/lock.json").is_none());
}

#[test]
fn a_fresh_lease_of_another_host_needs_force_to_unlock() {
    let (_p, k) = s3_project(TRIGGERED, "fresh");
    let k = k.env("KILN_BACKEND", "s3://fresh/x");
    let now = kiln_store::unix_now();
    let lock = serde_json::json!({
        "id": "other-1", "who": "ci", "host": "another-host", "pid": 7,
        "command": "apply", "since": now, "expires": now + 60,
    });
    assert_eq!(
        Moto::shared()
            .s3("PUT", "/fresh/x/default/lock.json", &lock.to_string())
            .0,
        200
    );
    let r = k.run(&["apply", "--yes"]);
    r.expect_code(1);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    let r = k.run(&["unlock", "other-1"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("runs 5") || r.stderr.contains("runs 6"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(object("fresh", "x/default/lock.json").is_some());
    k.run(&["unlock", "other-1", "--force"]).success();
    assert!(object("fresh", "x/default/lock.json").is_none());
    k.run(&["apply", "--yes"]).success();
}

/// The crash scenarios of `crash.rs` on the S3 store, at the points where a
/// crash leaves what S3 stores half-way (the journal, the state, the lock).
#[test]
fn crashes_between_the_last_result_and_the_end_recover_exactly_on_s3() {
    let moto = Moto::shared();
    moto.create_bucket("crash");
    let env = moto.env();
    let mut n = 0;
    for scenario in common::crash::SCENARIOS {
        for point in [
            "step:called",
            "apply:finish-journaled",
            "store:state-written",
            "apply:state-written",
            "apply:journal-cleared",
            "rollback:intent-journaled",
        ] {
            n += 1;
            let backend = format!("s3://crash/{}-{n}", scenario.name);
            common::crash::crash_and_check(scenario, point, &["--backend", &backend], &env);
        }
    }
}

#[test]
fn lock_timeout_waits_for_the_holder() {
    let main = "resource \"null_resource\" \"slow\" {\n  delay = \"2s\"\n}\n";
    let (_p, k) = s3_project(main, "waits");
    let k = k.env("KILN_BACKEND", "s3://waits");
    let mut first = k
        .command(&["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the lock", || {
        object("waits", "default/lock.json").is_some()
    });
    let r = k.run(&[
        "apply",
        "--yes",
        "--lock-timeout",
        "60s",
        "--replace",
        "null_resource.slow",
    ]);
    r.success();
    assert!(first.wait().unwrap().success());
    assert_eq!(state("waits", "default/state.json")["serial"], 2);
}

#[test]
fn the_backend_block_chooses_s3_and_the_flag_overrides_it() {
    let main = "kiln {\n  backend \"s3\" {\n    bucket = \"from-config\"\n    prefix = \"envs/\"\n  }\n}\n\nresource \"null_resource\" \"a\" {}\n";
    let (p, k) = s3_project(main, "from-config");
    Moto::shared().create_bucket("from-flag");
    k.run(&["apply", "--yes", "--env", "pr-1"]).success();
    let s = state("from-config", "envs/pr-1/state.json");
    assert_eq!(s["serial"], 1);
    assert!(!p.exists(".kiln/pr-1/state.json"), "nothing kept locally");
    let (status, _) = Moto::shared().s3("HEAD", "/from-config/envs/pr-1/state.json", "");
    assert_eq!(status, 200);
    let r = k.run(&["env", "list", "--json"]);
    r.success();
    assert!(r.stdout.contains("\"pr-1\""), "{}", r.stdout);

    k.run(&["apply", "--yes", "--backend", "s3://from-flag/other"])
        .success();
    assert!(object("from-flag", "other/default/state.json").is_some());
    assert!(object("from-config", "envs/default/state.json").is_none());
    k.run(&["apply", "--yes", "--backend", "local"]).success();
    assert!(p.exists(".kiln/default/state.json"));
}

#[test]
fn a_terraform_backend_block_works_as_written_in_terraforms_layout() {
    let main = "terraform {\n  backend \"s3\" {\n    bucket         = \"tf-written\"\n    key            = \"web/terraform.tfstate\"\n    region         = \"us-east-1\"\n    encrypt        = true\n    dynamodb_table = \"terraform-locks\"\n  }\n}\n\nresource \"null_resource\" \"a\" {}\n";
    let (p, k) = s3_project(main, "tf-written");
    let r = k.run(&["apply", "--yes"]);
    r.success();
    assert!(
        r.stderr.contains("dynamodb_table is not used"),
        "{}",
        r.stderr
    );
    assert_eq!(state("tf-written", "web/terraform.tfstate")["serial"], 1);
    assert!(
        object("tf-written", "web/terraform.tfstate.tflock").is_none(),
        "unlocked"
    );
    k.run(&["apply", "--yes", "--env", "pr-7"]).success();
    assert_eq!(
        state("tf-written", "env:/pr-7/web/terraform.tfstate")["serial"],
        1
    );
    assert!(
        !p.exists(".kiln/default/state.json"),
        "nothing kept locally"
    );
    let r = k.run(&["env", "list", "--json"]);
    r.success();
    assert!(
        r.stdout.contains("\"pr-7\"") && r.stdout.contains("\"default\""),
        "{}",
        r.stdout
    );
    k.run(&["destroy", "--yes", "--env", "pr-7"]).success();
    k.run(&["plan", "--env", "default"]).success();
}

#[test]
fn state_pull_and_push_refuse_another_lineage_and_an_older_serial() {
    let main = "variable \"n\" {\n  default = \"0\"\n}\n\nresource \"null_resource\" \"a\" {\n  triggers = { n = var.n }\n}\n";
    let (p, k) = s3_project(main, "pushpull");
    let k = k.env("KILN_BACKEND", "s3://pushpull/p");
    k.run(&["apply", "--yes"]).success();
    k.run(&["apply", "--yes", "--env", "other"]).success();
    k.run(&["state", "pull", "old.json"]).success();
    k.run(&["state", "pull", "other.json", "--env", "other"])
        .success();
    k.run(&["apply", "--yes", "--var", "n=1"]).success();
    let before = object("pushpull", "p/default/state.json").unwrap();

    // Another environment's state: refused, nothing written.
    let r = k.run(&["state", "push", "other.json"]);
    r.expect_code(1);
    assert!(r.stderr.contains("lineage"), "{}", r.stderr);
    // An older serial: refused.
    let r = k.run(&["state", "push", "old.json"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("older than the stored serial 2"),
        "{}",
        r.stderr
    );
    // Not a state at all: refused.
    p.write("junk.json", "{ junk");
    let r = k.run(&["state", "push", "junk.json"]);
    r.expect_code(1);
    assert!(r.stderr.contains("is not a kiln state"), "{}", r.stderr);
    assert_eq!(object("pushpull", "p/default/state.json").unwrap(), before);

    // Pull prints the state; an edited pull pushes as the next serial.
    let r = k.run(&["state", "pull"]);
    r.success();
    p.write("now.json", &r.stdout);
    k.run(&["state", "push", "now.json"]).success();
    assert_eq!(state("pushpull", "p/default/state.json")["serial"], 3);

    // Forced: the older state is restored, as the next serial.
    k.run(&["state", "push", "old.json", "--force"]).success();
    let s = state("pushpull", "p/default/state.json");
    assert_eq!(s["serial"], 4);
    let r = k.run(&["plan", "--detailed-exitcode", "--var", "n=0"]);
    r.expect_code(0);
}

#[test]
fn bad_backends_are_clear_errors() {
    let (p, k) = s3_project("resource \"null_resource\" \"a\" {}\n", "bad-input");
    let r = k.run(&["plan", "--backend", "s3://no-such-bucket/x"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("\"no-such-bucket\" does not exist"),
        "{}",
        r.stderr
    );
    let r = k.run(&["plan", "--backend", "gs://x"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("write s3://BUCKET/PREFIX"),
        "{}",
        r.stderr
    );

    // A corrupt state object: every command says so, nothing overwrites it.
    let (status, _) = Moto::shared().s3("PUT", "/bad-input/default/state.json", "{ not json");
    assert_eq!(status, 200);
    for args in [&["plan"][..], &["apply", "--yes"]] {
        let mut a = args.to_vec();
        a.extend(["--backend", "s3://bad-input"]);
        let r = k.run(&a);
        r.expect_code(1);
        assert!(
            r.stderr.contains("s3://bad-input/default/state.json"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("unreadable"), "{}", r.stderr);
    }
    assert_eq!(
        object("bad-input", "default/state.json").unwrap(),
        "{ not json"
    );

    // A backend block with a mistake: a diagnostic with its place.
    p.write(
        "backend.hcl",
        "kiln {\n  backend \"s3\" {\n    bukcet = \"x\"\n  }\n}\n",
    );
    let r = k.run(&["plan"]);
    r.expect_code(1);
    assert!(r.stderr.contains("did you mean \"bucket\""), "{}", r.stderr);
    assert!(r.stderr.contains("backend.hcl:3:5"), "{}", r.stderr);
}

#[test]
fn an_apply_that_loses_its_lock_starts_nothing_new() {
    let (_p, k) = s3_project(&kiln_testkit::generate::chain(8, Some("400ms")), "lost");
    let k = k
        .env("KILN_BACKEND", "s3://lost/x")
        .env("KILN_LOCK_LEASE_SECS", "3");
    let holder = k
        .command(&["apply", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the apply's journal", || {
        Moto::shared()
            .s3("GET", "/lost?list-type=2&prefix=x/default/journal/", "")
            .1
            .contains("<Key>")
    });
    // Someone breaks the lock while the apply runs; its next renewal finds
    // the lease gone.
    let (code, _) = Moto::shared().s3("DELETE", "/lost/x/default/lock.json", "");
    assert!((200..300).contains(&code), "DELETE answered {code}");
    let out = holder.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Seen before the next step's provider call (the journal reads the lock
    // back before every intent), or by the renewal, whichever comes first.
    assert!(
        stderr.contains("no longer holds the lock")
            || stderr.contains("lost the lock on the state"),
        "{stderr}"
    );
    let done = state("lost", "x/default/state.json")["resources"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        (1..8).contains(&done),
        "the chain stopped part-way ({done} of 8 done)"
    );
    // What it did is recorded: the next apply finishes the rest.
    k.run(&["apply", "--yes"]).success();
    let all = state("lost", "x/default/state.json")["resources"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(all, 8);
}

/// The reproduction on S3 with no crash: only the journal clean-up
/// fails (DeleteObjects answering 500, from a fault proxy in front of moto).
/// The apply's work is done and its state written, so it succeeds with a
/// one-line warning; the journal left behind is already folded into the
/// state, so the next apply deletes nothing.
#[test]
fn a_journal_clean_up_answered_500_is_one_warning_and_the_next_apply_deletes_nothing() {
    use kiln_testkit::faults::{FaultPlan, FaultProxy};
    let mut plan = FaultPlan::none(1);
    plan.services = vec!["s3".into()];
    plan.only = Some("?delete".into());
    plan.server_error = 1.0;
    let proxy = FaultProxy::start(Moto::shared().port, plan).unwrap();
    let main = "resource \"local_file\" \"a\" {\n  path    = \"${path.module}/a.txt\"\n  content = \"hello\"\n}\n\nresource \"null_resource\" \"b\" {}\n";
    let (p, k) = s3_project(main, "cleanup");
    let k = k.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let backend = ["--backend", "s3://cleanup/repro"];
    let apply = |extra: &[&str]| {
        let mut args = vec!["apply", "--yes"];
        args.extend_from_slice(&backend);
        args.extend_from_slice(extra);
        k.run(&args)
    };
    let r = apply(&[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        proxy
            .stats
            .server_errors
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0,
        "the clean-up was not failed: {}",
        proxy.stats.summary()
    );
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("journal")).collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with("warning:") && warnings[0].len() < 300,
        "{}",
        warnings[0]
    );
    assert!(p.exists("a.txt"));
    let again = apply(&[]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(!again.all().contains("destroyed"), "{}", again.all());
    assert!(
        p.exists("a.txt"),
        "the live file was deleted: {}",
        again.all()
    );
    let s = state("cleanup", "repro/default/state.json");
    assert_eq!(s["resources"].as_array().map(Vec::len), Some(2), "{s:#}");
}

/// `kill -9` at random moments with the state in S3: the next command
/// finishes with no manual step and the state is exact. 3 in the suite;
/// `KILN_FAULT_S3_KILLS=N` runs more, `KILN_FAULT_SEED` replays a sequence
/// (`just faults` runs 30).
#[test]
#[allow(clippy::print_stderr)] // The seed and the figures are the harness's report.
fn random_kills_recover_exactly_on_s3() {
    use common::crash::{Crash, SCENARIOS, crash_and_check_with};
    let moto = Moto::shared();
    moto.create_bucket("kills");
    let env = moto.env();
    let kills = common::crash::env_count("KILN_FAULT_S3_KILLS", 3);
    let (seed, mut next) = common::crash::seeded();
    eprintln!("random kills on S3: KILN_FAULT_SEED={seed} KILN_FAULT_S3_KILLS={kills}");
    let mut crashed = 0;
    for n in 0..kills {
        let scenario = &SCENARIOS[(next() % SCENARIOS.len() as u64) as usize];
        // S3 calls take milliseconds each: a wider window than locally.
        let delay = Duration::from_millis(next() % 150);
        let backend = format!("s3://kills/{}-{}-{n}", std::process::id(), scenario.name);
        if crash_and_check_with(
            scenario,
            Crash::After(delay),
            &["--backend", &backend],
            &env,
        ) {
            crashed += 1;
        }
    }
    eprintln!("random kills on S3: {crashed} of {kills} runs were killed before they finished");
}

/// The state store behind a proxy that loses 30% of S3's answers (the call
/// runs, the client sees a 500): the SDK's retry of a conditional write
/// whose first try landed is refused (`412`), and the store must know the
/// object as its own — the lock, every journal record, the state — instead
/// of failing the apply or waiting on its own lock.
#[test]
fn lost_s3_answers_are_ridden_out_by_the_state_store() {
    use kiln_testkit::faults::{FaultPlan, FaultProxy};
    let mut plan = FaultPlan::none(18);
    plan.services = vec!["s3".into()];
    plan.lost_answer = 0.3;
    let proxy = FaultProxy::start(Moto::shared().port, plan).unwrap();
    let (_p, k) = s3_project(TRIGGERED, "lossy");
    let k = k.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let backend = format!("s3://lossy/{}", std::process::id());
    for n in 1..=4 {
        let v = format!("n={n}");
        let r = k.run(&["apply", "--yes", "--backend", &backend, "--var", &v]);
        assert_eq!(
            r.code,
            0,
            "apply {n}: {}\n{}",
            proxy.stats.summary(),
            r.all()
        );
    }
    let again = k.run(&["plan", "--backend", &backend, "--var", "n=4"]);
    assert!(again.stdout.contains("No changes"), "{}", again.all());
    let lost = proxy
        .stats
        .lost_answers
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(lost >= 5, "too few answers lost: {}", proxy.stats.summary());
    let s = state(
        "lossy",
        &format!("{}/default/state.json", std::process::id()),
    );
    assert_eq!(
        s["resources"][0]["attributes"]["triggers"]["n"], "4",
        "{s:#}"
    );
}

/// With a passphrase, the state in S3 — every version of it — and the
/// journal records are sealed: the secret is in no object kiln writes.
#[test]
fn with_a_passphrase_no_s3_object_holds_the_secret() {
    let main = "variable \"pw\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"null_resource\" \"a\" {\n  triggers = { pw = var.pw }\n}\n";
    let (_p, k) = s3_project(main, "sealed");
    let prefix = format!("p{}", std::process::id());
    let backend = format!("s3://sealed/{prefix}");
    for secret in ["S3SECRET-ONE", "S3SECRET-TWO"] {
        k.clone()
            .env("KILN_STATE_PASSPHRASE", "an s3 passphrase")
            .env("KILN_VAR_pw", secret)
            .run(&["apply", "--yes", "--backend", &backend])
            .success();
    }
    let (status, listing) = Moto::shared().s3("GET", "/sealed?versions", "");
    assert_eq!(status, 200, "{listing}");
    let mut seen = 0;
    for part in listing.split("<Version>").skip(1) {
        let field = |name: &str| {
            part.split(&format!("<{name}>"))
                .nth(1)
                .and_then(|r| r.split(&format!("</{name}>")).next())
                .unwrap_or_default()
                .to_string()
        };
        let key = field("Key");
        if !key.starts_with(&prefix) || key.ends_with("lock.json") {
            continue;
        }
        let (_, body) = Moto::shared().s3(
            "GET",
            &format!("/sealed/{key}?versionId={}", field("VersionId")),
            "",
        );
        assert!(body.starts_with("{\"kiln_sealed\":"), "{key}: {body}");
        assert!(!body.contains("S3SECRET"), "{key} holds the secret");
        seen += 1;
    }
    assert!(seen >= 2, "too few objects seen: {listing}");
    let none = k.run(&["plan", "--backend", &backend]);
    assert!(
        none.stderr.contains("KILN_STATE_PASSPHRASE"),
        "{}",
        none.all()
    );
}

/// AWS KMS envelope encryption (on the emulator): each object carries its
/// data key encrypted by KMS; the secret is in no object, and the state
/// opens only through KMS. A move from a passphrase to KMS reads the old
/// objects with the previous passphrase.
#[test]
fn with_a_kms_key_the_state_is_sealed_with_envelope_keys() {
    let moto = Moto::shared();
    let key = moto.kms_create_key();
    let main = format!(
        "kiln {{\n  encryption {{\n    kms_key_id = \"{key}\"\n  }}\n}}\n\nvariable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\n\nresource \"null_resource\" \"a\" {{\n  triggers = {{ pw = var.pw }}\n}}\n"
    );
    let (p, k) = s3_project(
        "resource \"null_resource\" \"a\" {\n  triggers = { pw = \"first\" }\n}\n",
        "kms",
    );
    let prefix = format!("k{}", std::process::id());
    let backend = format!("s3://kms/{prefix}");
    // First with a passphrase...
    k.clone()
        .env("KILN_STATE_PASSPHRASE", "the old passphrase")
        .run(&["apply", "--yes", "--backend", &backend])
        .success();
    // ...then moved to KMS, reading the old state with the old passphrase.
    p.write("main.hcl", &main);
    k.clone()
        .env("KILN_STATE_PASSPHRASE_PREVIOUS", "the old passphrase")
        .env("KILN_VAR_pw", "KMS-SECRET")
        .run(&["apply", "--yes", "--backend", &backend])
        .success();
    let body = object("kms", &format!("{prefix}/default/state.json")).unwrap();
    assert!(body.contains("\"kdf\":\"aws-kms\""), "{body}");
    assert!(body.contains("\"encrypted_key\""), "{body}");
    assert!(!body.contains("KMS-SECRET"));
    // KMS alone reads it now.
    let r = k
        .clone()
        .env("KILN_VAR_pw", "KMS-SECRET")
        .run(&["plan", "--backend", &backend]);
    assert!(r.stdout.contains("No changes"), "{}", r.all());
    // Without KMS configured: a clear error naming the key.
    p.write("main.hcl", "resource \"null_resource\" \"a\" {}\n");
    let none = k.run(&["plan", "--backend", &backend]);
    assert_ne!(none.code, 0);
    assert!(none.stderr.contains("AWS KMS key"), "{}", none.all());
}

#[test]
fn a_terraform_state_in_s3_is_imported_from_its_object() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfstate");
    let main = std::fs::read_to_string(fixtures.join("main.tf")).unwrap();
    let (p, k) = s3_project(&main, "tf-import-src");
    let body = std::fs::read_to_string(fixtures.join("terraform_data.tfstate")).unwrap();
    let (status, _) = Moto::shared().s3("PUT", "/tf-import-src/web/terraform.tfstate", &body);
    assert_eq!(status, 200);
    let r = k.run(&[
        "state",
        "import-terraform",
        "s3://tf-import-src/web/terraform.tfstate",
    ]);
    r.success();
    assert!(r.stderr.contains("Imported 4 object(s)"), "{}", r.stderr);
    assert!(
        p.exists(".kiln/default/state.json"),
        "the state kept where the backend says"
    );
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let missing = k.run(&[
        "state",
        "import-terraform",
        "s3://tf-import-src/nope.tfstate",
    ]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("there is no object"),
        "{}",
        missing.stderr
    );
}
