//! The store conformance suite against the S3 store on the local emulator
//! (moto on loopback, never a real account), in an unversioned bucket
//! (history as `history/<serial>.json`) and a versioned one (history as
//! object versions); plus what only the S3 store does: leases, encryption,
//! a missing bucket, a corrupt state object, a write between read and write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption, VersioningConfiguration};
use kiln_store::{
    Encryption, LockInfo, S3Options, S3Store, StateStore, StoreError, TerraformLayout, conformance,
};
use kiln_testkit::moto::Moto;

fn client() -> Client {
    let moto = Moto::shared();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

async fn bucket(name: &str, versioned: bool) -> Client {
    let c = client();
    Moto::shared().create_bucket(name);
    if versioned {
        c.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }
    c
}

fn store(c: &Client, bucket: &str, prefix: &str) -> S3Store {
    S3Store::with_client(S3Options::new(bucket, prefix), c.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_in_an_unversioned_bucket() {
    let c = bucket("conform-plain", false).await;
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        store(
            &c,
            "conform-plain",
            &format!("run{}/kiln", n.fetch_add(1, Ordering::Relaxed)),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_in_a_versioned_bucket() {
    let c = bucket("conform-versioned", true).await;
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        store(
            &c,
            "conform-versioned",
            &format!("run{}", n.fetch_add(1, Ordering::Relaxed)),
        )
    })
    .await;
}

/// A store in Terraform's layout: `backend "s3" { key = KEY }`.
fn terraform_store(c: &Client, bucket: &str, key: &str) -> S3Store {
    let mut options = S3Options::new(bucket, "");
    options.terraform = Some(TerraformLayout {
        key: key.to_string(),
        workspace_key_prefix: "env:".to_string(),
    });
    S3Store::with_client(options, c.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_in_terraforms_layout_unversioned() {
    let c = bucket("conform-tf-plain", false).await;
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        terraform_store(
            &c,
            "conform-tf-plain",
            &format!("run{}/terraform.tfstate", n.fetch_add(1, Ordering::Relaxed)),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_in_terraforms_layout_versioned() {
    let c = bucket("conform-tf-versioned", true).await;
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        terraform_store(
            &c,
            "conform-tf-versioned",
            &format!("run{}/terraform.tfstate", n.fetch_add(1, Ordering::Relaxed)),
        )
    })
    .await;
}

async fn keys(c: &Client, bucket: &str) -> Vec<String> {
    let out = c
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn terraforms_layout_keeps_each_state_where_terraform_does() {
    let c = bucket("tf-layout", false).await;
    let s = terraform_store(&c, "tf-layout", "web/terraform.tfstate");
    // A neighbour kiln must never touch: a key that only starts the same.
    c.put_object()
        .bucket("tf-layout")
        .key("web/terraform.tfstate.backup")
        .body(ByteStream::from_static(b"not kiln's"))
        .send()
        .await
        .unwrap();
    for env in ["default", "pr-7"] {
        let l = LockInfo::for_current_process("apply");
        s.lock(env, &l).await.expect("lock");
        let held = keys(&c, "tf-layout").await;
        let state = if env == "default" {
            "web/terraform.tfstate".to_string()
        } else {
            format!("env:/{env}/web/terraform.tfstate")
        };
        assert!(held.contains(&format!("{state}.tflock")), "{held:?}");
        let v = s
            .write(
                env,
                &conformance::sample_state(env, "lin", "1"),
                None,
                "first",
            )
            .await
            .unwrap();
        s.write(
            env,
            &conformance::sample_state(env, "lin", "2"),
            Some(&v),
            "second",
        )
        .await
        .unwrap();
        s.unlock(env, &l.id).await.expect("unlock");
    }
    assert_eq!(
        keys(&c, "tf-layout").await,
        vec![
            "env:/pr-7/web/terraform.tfstate",
            "env:/pr-7/web/terraform.tfstate.kiln/history/1.json",
            "web/terraform.tfstate",
            "web/terraform.tfstate.backup",
            "web/terraform.tfstate.kiln/history/1.json",
        ]
    );
    assert_eq!(s.list_envs().await.unwrap(), vec!["default", "pr-7"]);
    s.remove_env("default").await.unwrap();
    assert_eq!(
        keys(&c, "tf-layout").await,
        vec![
            "env:/pr-7/web/terraform.tfstate",
            "env:/pr-7/web/terraform.tfstate.kiln/history/1.json",
            "web/terraform.tfstate.backup",
        ]
    );
    assert_eq!(s.list_envs().await.unwrap(), vec!["pr-7"]);
}

#[tokio::test]
async fn a_terraform_state_at_the_key_is_named_as_one_and_kept() {
    let c = bucket("tf-state", false).await;
    let s = terraform_store(&c, "tf-state", "terraform.tfstate");
    let tf = br#"{"version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "x", "outputs": {}, "resources": []}"#;
    c.put_object()
        .bucket("tf-state")
        .key("terraform.tfstate")
        .body(ByteStream::from_static(tf))
        .send()
        .await
        .unwrap();
    let err = s.read("default").await.unwrap_err().to_string();
    assert!(
        err.contains("Terraform state") && err.contains("1.11.4"),
        "{err}"
    );
    let body = c
        .get_object()
        .bucket("tf-state")
        .key("terraform.tfstate")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], &tf[..]);
}

#[tokio::test]
async fn a_write_between_read_and_write_is_detected_never_overwritten() {
    let c = bucket("between", false).await;
    let (a, b) = (store(&c, "between", "p"), store(&c, "between", "p"));
    let s = conformance::sample_state("dev", "lin", "1");
    a.write("dev", &s, None, "first").await.unwrap();
    let read_by_a = a.read("dev").await.unwrap().unwrap();
    let read_by_b = b.read("dev").await.unwrap().unwrap();
    b.write(
        "dev",
        &conformance::sample_state("dev", "lin", "b"),
        Some(&read_by_b.version),
        "b",
    )
    .await
    .unwrap();
    let err = a
        .write(
            "dev",
            &conformance::sample_state("dev", "lin", "a"),
            Some(&read_by_a.version),
            "a",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string().contains("now serial 2, expected 1"),
        "{err}"
    );
    let now = a.read("dev").await.unwrap().unwrap();
    assert_eq!(now.state.resources.values().next().unwrap().id, "id-b");
}

#[tokio::test]
async fn the_lease_is_renewed_while_held_and_stops_at_unlock() {
    let c = bucket("lease", false).await;
    let mut options = S3Options::new("lease", "");
    options.lease = Duration::from_secs(3);
    let s = S3Store::with_client(options, c.clone());
    let info = LockInfo::for_current_process("apply");
    s.lock("dev", &info).await.unwrap();
    let first = s.lock_holder("dev").await.unwrap().unwrap();
    let first_expiry = first.expires.expect("an S3 lock has a lease");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = s.lock_holder("dev").await.unwrap().unwrap();
    assert!(
        later.expires.unwrap() > first_expiry,
        "renewed: {first_expiry} -> {:?}",
        later.expires
    );
    assert!(!later.looks_stale());
    s.unlock("dev", &info.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        s.lock_holder("dev").await.unwrap().is_none(),
        "no renewal brings an unlocked lock back"
    );
}

#[tokio::test]
async fn an_unrenewed_lease_is_taken_over_and_a_fresh_one_is_not() {
    let c = bucket("stale", false).await;
    let put = async |info: &LockInfo| {
        c.put_object()
            .bucket("stale")
            .key("p/dev/lock.json")
            .body(ByteStream::from(serde_json::to_vec(info).unwrap()))
            .send()
            .await
            .unwrap();
    };
    let s = store(&c, "stale", "p");
    let mut fresh = LockInfo::for_current_process("apply");
    fresh.host = "another-host".into();
    fresh.expires = Some(kiln_store::unix_now() + 60);
    put(&fresh).await;
    match s.lock("dev", &LockInfo::for_current_process("apply")).await {
        Err(StoreError::Locked { holder, .. }) => {
            assert_eq!(holder.id, fresh.id);
            assert!(!holder.looks_stale());
        }
        other => panic!("a fresh lease of another host is a lock: {other:?}"),
    }

    let mut dead = fresh.clone();
    dead.id = format!("{}-expired", fresh.id);
    dead.expires = Some(kiln_store::unix_now() - 5);
    put(&dead).await;
    let ours = LockInfo::for_current_process("apply");
    let acquired = s
        .lock("dev", &ours)
        .await
        .expect("an expired lease is taken over");
    let (was, why) = acquired.taken_over.expect("reported");
    assert_eq!(was.id, dead.id);
    assert!(why.contains("lease ran out"), "{why}");
    s.unlock("dev", &ours.id).await.unwrap();
}

#[tokio::test]
async fn a_dead_holders_lease_on_this_machine_is_taken_over() {
    let c = bucket("dead-holder", false).await;
    let s = store(&c, "dead-holder", "p");
    conformance::lock_takeover(&s, async |info| {
        let mut info = info.clone();
        info.expires = Some(kiln_store::unix_now() + 60);
        c.put_object()
            .bucket("dead-holder")
            .key("p/dev/lock.json")
            .body(ByteStream::from(serde_json::to_vec(&info).unwrap()))
            .send()
            .await
            .unwrap();
    })
    .await;
}

async fn sse(
    c: &Client,
    bucket: &str,
    key: &str,
) -> (Option<ServerSideEncryption>, Option<String>) {
    let h = c
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    (
        h.server_side_encryption().cloned(),
        h.ssekms_key_id().map(String::from),
    )
}

#[tokio::test]
async fn every_write_requests_server_side_encryption() {
    let c = bucket("encrypted", false).await;
    for (prefix, encryption, want) in [
        ("aes", Encryption::Aes256, ServerSideEncryption::Aes256),
        (
            "kms",
            Encryption::Kms {
                key_id: Some("alias/kiln-state".into()),
            },
            ServerSideEncryption::AwsKms,
        ),
    ] {
        let mut options = S3Options::new("encrypted", prefix);
        options.encryption = encryption.clone();
        let s = S3Store::with_client(options, c.clone());
        let v = s
            .write(
                "dev",
                &conformance::sample_state("dev", "lin", "1"),
                None,
                "one",
            )
            .await
            .unwrap();
        s.write(
            "dev",
            &conformance::sample_state("dev", "lin", "2"),
            Some(&v),
            "two",
        )
        .await
        .unwrap();
        let lock = LockInfo::for_current_process("apply");
        s.lock("dev", &lock).await.unwrap();
        let mut j = s.journal("dev").await.unwrap();
        j.append(&kiln_state::JournalRecord::Begin {
            lineage: "lin".into(),
            serial: 2,
            generation: 1,
            at: 1,
            command: "apply".into(),
        })
        .await
        .unwrap();
        for key in [
            "state.json",
            "history/1.json",
            "lock.json",
            "journal/000000000000.json",
        ] {
            let (got, key_id) = sse(&c, "encrypted", &format!("{prefix}/dev/{key}")).await;
            assert_eq!(got.as_ref(), Some(&want), "{prefix}/dev/{key}");
            if let Encryption::Kms { key_id: want_key } = &encryption {
                assert!(
                    key_id
                        .as_deref()
                        .is_some_and(|k| k.contains(want_key.as_deref().unwrap())),
                    "{key}: {key_id:?}"
                );
            }
        }
        s.unlock("dev", &lock.id).await.unwrap();
    }
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let s = store(&client(), "no-such-bucket-here", "p");
    let err = s.read("dev").await.unwrap_err().to_string();
    assert!(
        err.contains("\"no-such-bucket-here\" does not exist"),
        "{err}"
    );
    let err = s
        .lock("dev", &LockInfo::for_current_process("apply"))
        .await
        .unwrap_err();
    assert!(!matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = s
        .write(
            "dev",
            &conformance::sample_state("dev", "lin", "1"),
            None,
            "x",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn a_corrupt_state_object_is_reported_and_never_overwritten() {
    let c = bucket("corrupt", false).await;
    let s = store(&c, "corrupt", "");
    let v = s
        .write(
            "dev",
            &conformance::sample_state("dev", "lin", "1"),
            None,
            "first",
        )
        .await
        .unwrap();
    c.put_object()
        .bucket("corrupt")
        .key("dev/state.json")
        .body(ByteStream::from_static(b"{ not json"))
        .send()
        .await
        .unwrap();
    let err = s.read("dev").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("s3://corrupt/dev/state.json"),
        "{err}"
    );
    for expected in [None, Some(&v)] {
        let err = s
            .write(
                "dev",
                &conformance::sample_state("dev", "lin", "2"),
                expected,
                "again",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt { .. } | StoreError::Conflict { .. }
            ),
            "{err:?}"
        );
    }
    let body = c
        .get_object()
        .bucket("corrupt")
        .key("dev/state.json")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"{ not json");
}
