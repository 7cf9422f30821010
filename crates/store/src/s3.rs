//! The S3 store: each environment is a folder of a bucket.
//!
//! ```text
//! <prefix>/<env>/state.json               the current state
//! <prefix>/<env>/lock.json                the lock, while held (a lease)
//! <prefix>/<env>/history/<serial>.json    an earlier version (unversioned buckets)
//! <prefix>/<env>/journal/<seq>.json       one journal record of an unfinished apply
//! ```
//!
//! or, with Terraform's layout (`backend "s3" { key = ... }`, see
//! [`TerraformLayout`]), the state object where Terraform keeps a
//! workspace's state and kiln's other objects beside it:
//!
//! ```text
//! <key>                                    the state of the `default` environment
//! <workspace_key_prefix>/<env>/<key>       the state of any other environment
//! <state>.tflock                           the lock (Terraform's lock file name)
//! <state>.kiln/history/<serial>.json       earlier versions (unversioned buckets)
//! <state>.kiln/journal/<seq>.json          journal records
//! ```
//!
//! Everything rests on S3's conditional writes:
//! - the lock is created with `If-None-Match: *`, so exactly one of many
//!   concurrent `lock` calls succeeds; it holds a lease that a background task
//!   renews (`If-Match` on the lock's own ETag, so a broken lock is never
//!   brought back) until `unlock`;
//! - the state is written with `If-Match: <etag>` of the version that was
//!   read (`If-None-Match: *` for the first write), so an update is never
//!   lost: a concurrent writer gets [`StoreError::Conflict`];
//! - `unlock` deletes the lock with `If-Match` on the ETag it read, so it
//!   never removes a lock somebody else took in between.
//!
//! A [`Version`] is `<serial>:<etag>`: the serial for messages, the ETag for
//! the condition. Who wrote a version, when and why travel as the object's
//! user metadata (`x-amz-meta-kiln-*`), so they follow the object into
//! history. History is the bucket's own versioning when it is enabled (the
//! older versions of `state.json`), and otherwise a server-side copy of the
//! replaced version to `history/<serial>.json`, made before the replacing
//! write. Journal records are one object each, so an append is one PUT,
//! whatever the journal's length.
//!
//! Server-side encryption (`AES256`, or `aws:kms` with a key) is requested on
//! every write, copies included.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use kiln_state::{FormatError, JournalRecord, State};
use tokio::sync::OnceCell;

use crate::{
    Acquired, HistoryEntry, Journal, LockInfo, StateStore, StoreError, Version, Versioned,
};

/// Server-side encryption requested on every write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Encryption {
    /// No encryption header (the bucket's default applies).
    None,
    /// S3-managed keys (`AES256`).
    #[default]
    Aes256,
    /// A KMS key (`aws:kms`); `None` uses the account's default S3 key.
    Kms { key_id: Option<String> },
}

/// Terraform's S3 backend layout (the `key` and `workspace_key_prefix`
/// arguments of its `backend "s3"`, <https://developer.hashicorp.com/terraform/language/backend/s3>):
/// the `default` environment's state is the object `key`; environment `E`'s
/// is `<workspace_key_prefix>/E/<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerraformLayout {
    /// The state object's key (`path/to/terraform.tfstate`).
    pub key: String,
    /// Where other environments' states go; Terraform's default is `env:`.
    pub workspace_key_prefix: String,
}

/// Where and how an [`S3Store`] keeps state.
#[derive(Debug, Clone)]
pub struct S3Options {
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty); unused
    /// with [`S3Options::terraform`].
    pub prefix: String,
    /// Terraform's layout instead of kiln's `<prefix>/<env>/` folders.
    pub terraform: Option<TerraformLayout>,
    /// A named profile of the shared AWS configuration to take credentials
    /// from (`None`: the standard chain).
    pub profile: Option<String>,
    /// The bucket's region; `None` takes it from the standard AWS chain.
    pub region: Option<String>,
    pub encryption: Encryption,
    /// How long a lock lasts unless renewed; it is renewed every third of it.
    pub lease: Duration,
}

impl S3Options {
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> S3Options {
        S3Options {
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_string(),
            terraform: None,
            profile: None,
            region: None,
            encryption: Encryption::default(),
            lease: Duration::from_secs(60),
        }
    }
}

/// State in an S3 bucket: `s3://<bucket>/<prefix>/<env>/state.json`.
///
/// The client is built on first use from the standard AWS chain
/// (environment, profile, instance role; `AWS_ENDPOINT_URL` points it at an
/// emulator), so constructing a store is cheap and synchronous.
#[derive(Debug)]
pub struct S3Store {
    options: S3Options,
    client: OnceCell<Client>,
    /// Lease renewals of the locks this store took, by environment.
    renewals: Arc<Mutex<HashMap<String, Renewal>>>,
    /// Seals the state (every version) and the journal when encryption is on.
    sealer: Option<Arc<crate::seal::Sealer>>,
}

#[derive(Debug)]
struct Renewal {
    id: String,
    task: tokio::task::JoinHandle<()>,
    /// Cancelled when the lease is lost.
    lost: tokio_util::sync::CancellationToken,
}

const STATE: &str = "state.json";
const LOCK: &str = "lock.json";
const HISTORY: &str = "history/";
const JOURNAL: &str = "journal/";
const META_SERIAL: &str = "kiln-serial";
const META_WHO: &str = "kiln-who";
const META_WRITTEN: &str = "kiln-written-at";
const META_SUMMARY: &str = "kiln-summary";

impl S3Store {
    pub fn new(options: S3Options) -> S3Store {
        S3Store {
            options,
            client: OnceCell::new(),
            renewals: Arc::default(),
            sealer: None,
        }
    }

    /// A store on a client the caller built (an explicit endpoint and
    /// credentials, as the tests do), instead of the standard AWS chain.
    pub fn with_client(options: S3Options, client: Client) -> S3Store {
        S3Store {
            options,
            client: OnceCell::new_with(Some(client)),
            renewals: Arc::default(),
            sealer: None,
        }
    }

    pub fn options(&self) -> &S3Options {
        &self.options
    }

    /// The body of the object `key` of the store's bucket (another tool's
    /// file there: a Terraform state to import), `None` if there is none.
    ///
    /// # Errors
    /// Any S3 error but a missing object.
    pub async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key).await?.map(|o| o.body))
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &self.options.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(profile) = &self.options.profile {
                    loader = loader.profile_name(profile);
                }
                let shared = loader.load().await;
                // An explicit endpoint is an emulator or an S3-compatible
                // server: address buckets by path, not by host name.
                let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
                let conf = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(custom_endpoint)
                    .build();
                Client::from_conf(conf)
            })
            .await
    }

    /// The folder of an environment's history and journal: `<prefix>/<env>/`
    /// (or `<env>/` with no prefix); `<state>.kiln/` in Terraform's layout.
    fn env_key(&self, env: &str) -> Result<String, StoreError> {
        crate::local::check_env_name(env)?;
        Ok(match &self.options.terraform {
            Some(_) => format!("{}.kiln/", self.state_key(env)?),
            None if self.options.prefix.is_empty() => format!("{env}/"),
            None => format!("{}/{env}/", self.options.prefix),
        })
    }

    /// The key of an environment's state object.
    fn state_key(&self, env: &str) -> Result<String, StoreError> {
        crate::local::check_env_name(env)?;
        Ok(match &self.options.terraform {
            Some(tf) if env == "default" => tf.key.clone(),
            Some(tf) => format!("{}/{env}/{}", tf.workspace_key_prefix, tf.key),
            None => format!("{}{STATE}", self.env_key(env)?),
        })
    }

    /// The key of an environment's lock: `<state>.tflock` in Terraform's
    /// layout, so that Terraform (with `use_lockfile`) and kiln exclude
    /// each other.
    fn lock_key(&self, env: &str) -> Result<String, StoreError> {
        Ok(match &self.options.terraform {
            Some(_) => format!("{}.tflock", self.state_key(env)?),
            None => format!("{}{LOCK}", self.env_key(env)?),
        })
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.options.bucket)
    }

    /// Turns an SDK error into a message that says what to do.
    fn sdk_err<E>(&self, what: &str, e: &SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let bucket = &self.options.bucket;
        match (e.code(), status(e)) {
            (Some("NoSuchBucket"), _) => StoreError::Other(format!(
                "{what}: the S3 bucket {bucket:?} does not exist; create it, or fix `bucket` in the backend block or --backend"
            )),
            (
                Some(
                    "AccessDenied"
                    | "AllAccessDisabled"
                    | "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch",
                ),
                _,
            )
            | (_, Some(403)) => StoreError::Other(format!(
                "{what}: access to s3://{bucket} was denied ({}); check the AWS credentials and their permissions on the bucket",
                e.code().unwrap_or("403")
            )),
            _ => {
                tracing::debug!("{what} (s3://{bucket}): {}", DisplayErrorContext(e));
                StoreError::Other(format!("{what} (s3://{bucket}): {}", short_error(e)))
            }
        }
    }

    /// GETs an object; `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let res = self
            .client()
            .await
            .get_object()
            .bucket(&self.options.bucket)
            .key(key)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.sdk_err(&format!("reading {}", self.url(key)), &e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let version_id = real_version(out.version_id());
        let metadata = out.metadata().cloned().unwrap_or_default();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Other(format!("reading {}: {e}", self.url(key))))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object {
            body,
            etag,
            version_id,
            metadata,
        }))
    }

    /// PUTs an object, encrypted, with a condition.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Condition<'_>,
        metadata: Option<HashMap<String, String>>,
    ) -> Result<PutOutcome, StoreError> {
        let mut req = self
            .client()
            .await
            .put_object()
            .bucket(&self.options.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.clone()))
            .set_metadata(metadata);
        req = match condition {
            Condition::None => req,
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        req = match &self.options.encryption {
            Encryption::None => req,
            Encryption::Aes256 => req.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms { key_id } => req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone()),
        };
        match req.send().await {
            Ok(out) => Ok(PutOutcome::Written(
                out.e_tag().unwrap_or_default().to_string(),
            )),
            Err(e) if condition_failed(&e) => {
                let client = self.client().await;
                match already_written(client, &self.options.bucket, key, &body).await {
                    Some(etag) => Ok(PutOutcome::Written(etag)),
                    None => Ok(PutOutcome::ConditionFailed),
                }
            }
            Err(e) => Err(self.sdk_err(&format!("writing {}", self.url(key)), &e)),
        }
    }

    /// Every key under `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client()
            .await
            .list_objects_v2()
            .bucket(&self.options.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.sdk_err(&format!("listing {}", self.url(prefix)), &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    /// Deletes objects (and, with `versions`, the given versions of them).
    async fn delete_all(&self, objects: Vec<ObjectIdentifier>) -> Result<(), StoreError> {
        for chunk in objects.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(chunk.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::Other(format!("building a delete request: {e}")))?;
            let out = self
                .client()
                .await
                .delete_objects()
                .bucket(&self.options.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.sdk_err("deleting objects", &e))?;
            if let Some(err) = out.errors().first() {
                return Err(StoreError::Other(format!(
                    "deleting {}: {}",
                    self.url(err.key().unwrap_or_default()),
                    err.message().unwrap_or("failed")
                )));
            }
        }
        Ok(())
    }

    /// This store, sealing what it writes (and opening what it reads) with
    /// `sealer` (see [`crate::seal`]).
    pub fn with_sealer(mut self, sealer: Option<Arc<crate::seal::Sealer>>) -> S3Store {
        self.sealer = sealer;
        self
    }

    fn sealed(&self, plain: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        Ok(crate::seal::Sealer::seal_with(
            self.sealer.as_deref(),
            plain,
        )?)
    }

    fn parse_state(&self, env: &str, key: &str, bytes: &[u8]) -> Result<State, StoreError> {
        let what = format!("the state {}", self.url(key));
        let bytes = &crate::seal::Sealer::open(self.sealer.as_deref(), bytes, &what)?;
        kiln_state::format::from_json(bytes).map_err(|error| StoreError::Corrupt {
            env: env.to_string(),
            location: self.url(key),
            error,
        })
    }

    /// The lock object and its ETag.
    async fn read_lock(&self, env: &str) -> Result<Option<(LockInfo, String)>, StoreError> {
        let key = self.lock_key(env)?;
        Ok(self.get(&key).await?.map(|o| {
            let info = serde_json::from_slice(&o.body).unwrap_or_else(|_| LockInfo::unknown());
            (info, o.etag)
        }))
    }

    fn start_renewal(&self, env: &str, key: String, info: LockInfo, etag: String) {
        let lease = self.options.lease;
        let client = self.client.get().cloned();
        let Some(client) = client else { return };
        let bucket = self.options.bucket.clone();
        let encryption = self.options.encryption.clone();
        let id = info.id.clone();
        let lost = tokio_util::sync::CancellationToken::new();
        let lose = lost.clone();
        let task = tokio::spawn(async move {
            let mut info = info;
            let mut etag = etag;
            loop {
                tokio::time::sleep(lease / 3).await;
                // The lease as last written: once it has run out unrenewed,
                // anyone may take the lock.
                let held_until = info.expires.unwrap_or(0);
                info.expires = Some(crate::unix_now() + lease.as_secs().max(1));
                let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
                let mut req = client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .content_type("application/json")
                    .if_match(&etag)
                    .body(ByteStream::from(body.clone()));
                req = match &encryption {
                    Encryption::None => req,
                    Encryption::Aes256 => req.server_side_encryption(ServerSideEncryption::Aes256),
                    Encryption::Kms { key_id } => req
                        .server_side_encryption(ServerSideEncryption::AwsKms)
                        .set_ssekms_key_id(key_id.clone()),
                };
                match req.send().await {
                    Ok(out) => etag = out.e_tag().unwrap_or_default().to_string(),
                    Err(e)
                        if condition_failed(&e)
                            && let Some(ours) =
                                already_written(&client, &bucket, &key, &body).await =>
                    {
                        etag = ours;
                    }
                    Err(e) if condition_failed(&e) || is_not_found(&e) => {
                        tracing::warn!(
                            "the lock s3://{bucket}/{key} was removed or taken over by someone else; its lease is no longer renewed"
                        );
                        lose.cancel();
                        return;
                    }
                    // A transient failure: try again at the next tick, while
                    // the lease still runs; once it has run out, it is lost.
                    Err(e) => {
                        tracing::warn!(
                            "renewing the lease of s3://{bucket}/{key}: {}",
                            DisplayErrorContext(&e)
                        );
                        info.expires = Some(held_until);
                        if crate::unix_now() >= held_until {
                            lose.cancel();
                            return;
                        }
                    }
                }
            }
        });
        let old = self
            .renewals
            .lock()
            .map(|mut m| m.insert(env.to_string(), Renewal { id, task, lost }));
        if let Ok(Some(old)) = old {
            old.task.abort();
        }
    }

    /// Stops renewing the lease of lock `id` on `env`, if this store renews it.
    async fn stop_renewal(&self, env: &str, id: &str) {
        let renewal = self.renewals.lock().ok().and_then(|mut m| {
            if m.get(env).is_some_and(|r| r.id == id) {
                m.remove(env)
            } else {
                None
            }
        });
        if let Some(r) = renewal {
            r.task.abort();
            let _ = r.task.await;
        }
    }

    async fn history_unversioned(&self, base: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut out = Vec::new();
        for key in self.list(&format!("{base}{HISTORY}")).await? {
            let Some(serial) = key
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let head = self
                .client()
                .await
                .head_object()
                .bucket(&self.options.bucket)
                .key(&key)
                .send()
                .await;
            let meta = match head {
                Ok(h) => h.metadata().cloned().unwrap_or_default(),
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(self.sdk_err(&format!("reading {}", self.url(&key)), &e)),
            };
            out.push(entry(serial, &meta, serial.to_string()));
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.serial));
        Ok(out)
    }

    async fn history_versioned(&self, env: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let key = self.state_key(env)?;
        let mut versions = Vec::new();
        for v in self.list_versions(&key).await? {
            if v.key == key
                && !v.latest
                && !v.delete_marker
                && let Some(id) = real_version(v.version_id.as_deref())
            {
                versions.push(id);
            }
        }
        let mut out = Vec::new();
        for id in versions {
            let head = self
                .client()
                .await
                .head_object()
                .bucket(&self.options.bucket)
                .key(&key)
                .version_id(&id)
                .send()
                .await
                .map_err(|e| {
                    self.sdk_err(&format!("reading {} version {id}", self.url(&key)), &e)
                })?;
            let meta = head.metadata().cloned().unwrap_or_default();
            let serial = meta
                .get(META_SERIAL)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.push(entry(serial, &meta, id));
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.serial));
        Ok(out)
    }

    /// Every version of every object under `base` (versioned buckets).
    async fn all_versions(&self, base: &str) -> Result<Vec<ObjectIdentifier>, StoreError> {
        self.list_versions(base)
            .await?
            .iter()
            .map(|v| identifier(&v.key, real_version(v.version_id.as_deref()).as_deref()))
            .collect()
    }

    /// Every version and delete marker under `prefix` (no paginator exists
    /// for this call: the markers are followed by hand).
    async fn list_versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, StoreError> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client()
                .await
                .list_object_versions()
                .bucket(&self.options.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| {
                    self.sdk_err(&format!("listing versions of {}", self.url(prefix)), &e)
                })?;
            for v in page.versions() {
                out.push(ObjectVersion {
                    key: v.key().unwrap_or_default().to_string(),
                    version_id: v.version_id().map(String::from),
                    latest: v.is_latest() == Some(true),
                    delete_marker: false,
                });
            }
            for m in page.delete_markers() {
                out.push(ObjectVersion {
                    key: m.key().unwrap_or_default().to_string(),
                    version_id: m.version_id().map(String::from),
                    latest: m.is_latest() == Some(true),
                    delete_marker: true,
                });
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(String::from);
            version_marker = page.next_version_id_marker().map(String::from);
            if key_marker.is_none() && version_marker.is_none() {
                return Ok(out);
            }
        }
    }
}

struct ObjectVersion {
    key: String,
    version_id: Option<String>,
    latest: bool,
    delete_marker: bool,
}

impl Drop for S3Store {
    fn drop(&mut self) {
        if let Ok(mut m) = self.renewals.lock() {
            for (_, r) in m.drain() {
                r.task.abort();
            }
        }
    }
}

fn identifier(key: &str, version: Option<&str>) -> Result<ObjectIdentifier, StoreError> {
    ObjectIdentifier::builder()
        .key(key)
        .set_version_id(version.map(String::from))
        .build()
        .map_err(|e| StoreError::Other(format!("building a delete request: {e}")))
}

fn entry(serial: u64, meta: &HashMap<String, String>, version: String) -> HistoryEntry {
    HistoryEntry {
        serial,
        written_at: meta
            .get(META_WRITTEN)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        who: meta
            .get(META_WHO)
            .map_or_else(|| "unknown".into(), |s| unescape(s)),
        summary: meta
            .get(META_SUMMARY)
            .map(|s| unescape(s))
            .unwrap_or_default(),
        version,
    }
}

struct Object {
    body: Vec<u8>,
    etag: String,
    /// Set when the bucket keeps versions of this object.
    version_id: Option<String>,
    metadata: HashMap<String, String>,
}

/// A version id, unless the object is unversioned (`null`).
fn real_version(id: Option<&str>) -> Option<String> {
    id.filter(|v| !v.is_empty() && *v != "null")
        .map(String::from)
}

#[derive(Clone, Copy)]
enum Condition<'a> {
    None,
    /// `If-None-Match: *`: only if there is no such object.
    Absent,
    /// `If-Match: <etag>`: only if the object is still this version.
    Matches(&'a str),
}

enum PutOutcome {
    Written(String),
    ConditionFailed,
}

/// One line for an SDK error: the service's code and message with the HTTP
/// status, or the innermost cause of a failure to reach it (the whole chain
/// goes to the debug log).
fn short_error<E>(e: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message(), status(e)) {
        (Some(code), Some(message), Some(s)) => format!("{code}: {message} (HTTP {s})"),
        (Some(code), _, Some(s)) => format!("{code} (HTTP {s})"),
        (None, _, Some(s)) => format!("HTTP {s}"),
        _ => {
            let mut cause: &dyn std::error::Error = e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let text = cause.to_string();
            match e {
                SdkError::TimeoutError(_) => format!("timed out ({text})"),
                SdkError::DispatchFailure(_) => format!("could not reach S3 ({text})"),
                _ => text,
            }
        }
    }
}

fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn is_not_found<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    matches!(e.code(), Some("NoSuchKey" | "NotFound"))
        || (status(e) == Some(404) && e.code() != Some("NoSuchBucket"))
}

/// After a conditional write was refused: whether the object now holds
/// exactly `body` — this very write, whose first try succeeded but whose
/// answer was lost, so the SDK's retry found its own object (AWS documents
/// that a request can succeed although the client saw an error). Its ETag
/// if so. A lock, journal record or state body names its writer (a lock
/// id, a serial, timestamps), so another writer's object never matches.
async fn already_written(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Option<String> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let etag = out.e_tag().unwrap_or_default().to_string();
    let stored = out.body.collect().await.ok()?.into_bytes();
    (stored.as_ref() == body).then_some(etag)
}

/// The write's condition did not hold: `412 Precondition Failed`, or `409
/// ConditionalRequestConflict` (S3 lost a race between two conditional
/// writes to the same key, which means the same to us).
fn condition_failed<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    matches!(
        e.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(status(e), Some(412 | 409))
}

/// User metadata travels in HTTP headers: ASCII only. Anything else (and
/// `%`) is percent-encoded.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_version(v: &Version) -> (&str, &str) {
    v.0.split_once(':').unwrap_or(("?", v.0.as_str()))
}

#[async_trait]
impl StateStore for S3Store {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.options.bucket, self.options.prefix)
    }

    async fn read(&self, env: &str) -> Result<Option<Versioned>, StoreError> {
        let key = self.state_key(env)?;
        let Some(obj) = self.get(&key).await? else {
            return Ok(None);
        };
        let state = self.parse_state(env, &key, &obj.body)?;
        Ok(Some(Versioned {
            version: Version(format!("{}:{}", state.serial, obj.etag)),
            state,
        }))
    }

    async fn write(
        &self,
        env: &str,
        state: &State,
        expected: Option<&Version>,
        summary: &str,
    ) -> Result<Version, StoreError> {
        let base = self.env_key(env)?;
        let key = self.state_key(env)?;
        let conflict = |found: String| StoreError::Conflict {
            env: env.to_string(),
            expected: expected.map_or_else(|| "none".into(), |v| parse_version(v).0.to_string()),
            found,
        };
        // The stored version decides the serial and the lineage check; the
        // write below is conditional on it, so nothing changes in between
        // without the write failing.
        let current = self.get(&key).await?;
        let prev = match (&current, expected) {
            (None, None) => None,
            (None, Some(_)) => return Err(conflict("none".into())),
            (Some(obj), expected) => {
                let prev = self.parse_state(env, &key, &obj.body)?;
                if expected.map(|v| parse_version(v).1) != Some(obj.etag.as_str()) {
                    return Err(conflict(prev.serial.to_string()));
                }
                if prev.lineage != state.lineage {
                    return Err(StoreError::Lineage {
                        env: env.to_string(),
                        expected: state.lineage.clone(),
                        found: prev.lineage,
                    });
                }
                Some((prev, obj))
            }
        };

        // Keep the version being replaced (a server-side copy, metadata
        // included), unless the bucket keeps versions itself.
        if let Some((prev, obj)) = &prev {
            // A versioned object keeps its older versions by itself.
            if obj.version_id.is_none() {
                let hist = format!("{base}{HISTORY}{}.json", prev.serial);
                let mut meta = obj.metadata.clone();
                meta.entry(META_SERIAL.into())
                    .or_insert_with(|| prev.serial.to_string());
                meta.entry(META_WRITTEN.into())
                    .or_insert_with(|| prev.updated_at.to_string());
                // A copy of exactly the version read (same bytes, same
                // metadata); written with PUT so that it is encrypted as
                // requested and needs no copy-source permission.
                match self
                    .put(&hist, obj.body.clone(), Condition::None, Some(meta))
                    .await?
                {
                    PutOutcome::Written(_) => {}
                    PutOutcome::ConditionFailed => {
                        return Err(StoreError::Other(format!(
                            "keeping {} as history failed",
                            self.url(&hist)
                        )));
                    }
                }
            }
        }

        let prev_serial = prev.as_ref().map_or(0, |(s, _)| s.serial);
        let mut new = state.clone();
        new.serial = state.serial.max(prev_serial + 1);
        let meta = HashMap::from([
            (META_SERIAL.to_string(), new.serial.to_string()),
            (META_WHO.to_string(), escape(&crate::current_user())),
            (META_WRITTEN.to_string(), crate::unix_now().to_string()),
            (META_SUMMARY.to_string(), escape(summary)),
        ]);
        let condition = match &prev {
            None => Condition::Absent,
            Some((_, obj)) => Condition::Matches(&obj.etag),
        };
        match self
            .put(
                &key,
                self.sealed(kiln_state::format::to_json(&new))?,
                condition,
                Some(meta),
            )
            .await?
        {
            PutOutcome::Written(etag) => {
                crate::faults::crash_point("store:state-written");
                Ok(Version(format!("{}:{etag}", new.serial)))
            }
            PutOutcome::ConditionFailed => {
                // Someone wrote between our read and our write.
                let found = match self.get(&key).await? {
                    Some(o) => self
                        .parse_state(env, &key, &o.body)
                        .map_or_else(|_| "unreadable".into(), |s| s.serial.to_string()),
                    None => "none".into(),
                };
                Err(conflict(found))
            }
        }
    }

    async fn lock(&self, env: &str, info: &LockInfo) -> Result<Acquired, StoreError> {
        let key = self.lock_key(env)?;
        let mut info = info.clone();
        info.expires = Some(crate::unix_now() + self.options.lease.as_secs().max(1));
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        if let PutOutcome::Written(etag) = self
            .put(&key, body.clone(), Condition::Absent, None)
            .await?
        {
            self.start_renewal(env, key, info, etag);
            return Ok(Acquired::default());
        }
        let locked = |holder: LockInfo| StoreError::Locked {
            env: env.to_string(),
            holder: Box::new(holder),
        };
        let Some((holder, etag)) = self.read_lock(env).await? else {
            // Released in the meantime: still, someone else held it when we
            // asked; the caller may try again.
            return Err(locked(LockInfo::unknown()));
        };
        let Some(why) = holder.holder_gone() else {
            return Err(locked(holder));
        };
        // Taken over with `If-Match` on the lock as read: of two takers, or a
        // taker and a holder renewing after all, exactly one write wins.
        match self
            .put(&key, body, Condition::Matches(&etag), None)
            .await?
        {
            PutOutcome::Written(etag) => {
                self.start_renewal(env, key, info, etag);
                Ok(Acquired {
                    taken_over: Some((holder, why)),
                })
            }
            PutOutcome::ConditionFailed => {
                let holder = self
                    .read_lock(env)
                    .await?
                    .map_or_else(LockInfo::unknown, |(h, _)| h);
                Err(locked(holder))
            }
        }
    }

    fn lock_lost(&self, env: &str) -> Option<tokio_util::sync::CancellationToken> {
        let renewals = self.renewals.lock().ok()?;
        renewals.get(env).map(|r| r.lost.clone())
    }

    async fn unlock(&self, env: &str, id: &str) -> Result<(), StoreError> {
        self.stop_renewal(env, id).await;
        let key = self.lock_key(env)?;
        let not_locked = || StoreError::NotLocked {
            env: env.to_string(),
            id: id.to_string(),
        };
        let Some((holder, etag)) = self.read_lock(env).await? else {
            return Err(not_locked());
        };
        if holder.id != id {
            return Err(not_locked());
        }
        let res = self
            .client()
            .await
            .delete_object()
            .bucket(&self.options.bucket)
            .key(&key)
            .if_match(&etag)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // The lock was ours a moment ago: gone now is what was asked
            // (a retried delete whose first try's answer was lost).
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) if condition_failed(&e) => Err(not_locked()),
            Err(e) => Err(self.sdk_err(&format!("removing {}", self.url(&key)), &e)),
        }
    }

    async fn lock_holder(&self, env: &str) -> Result<Option<LockInfo>, StoreError> {
        Ok(self.read_lock(env).await?.map(|(info, _)| info))
    }

    async fn history(&self, env: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        // Both kinds: a bucket whose versioning was turned on (or off)
        // later holds some of each.
        let base = self.env_key(env)?;
        let mut out = self.history_unversioned(&base).await?;
        out.extend(self.history_versioned(env).await?);
        out.sort_by_key(|e| std::cmp::Reverse(e.serial));
        Ok(out)
    }

    async fn read_version(&self, env: &str, version: &str) -> Result<State, StoreError> {
        let base = self.env_key(env)?;
        let missing = || {
            StoreError::Other(format!(
                "no version {version:?} of {env:?} is kept; see `kiln state history`"
            ))
        };
        // Serials name `history/<serial>.json`; anything else is an S3
        // version id of `state.json`.
        if let Ok(serial) = version.parse::<u64>() {
            let key = format!("{base}{HISTORY}{serial}.json");
            return match self.get(&key).await? {
                Some(o) => self.parse_state(env, &key, &o.body),
                None => Err(missing()),
            };
        }
        let key = self.state_key(env)?;
        let res = self
            .client()
            .await
            .get_object()
            .bucket(&self.options.bucket)
            .key(&key)
            .version_id(version)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if is_not_found(&e) || status(&e) == Some(400) => return Err(missing()),
            Err(e) => return Err(self.sdk_err(&format!("reading {}", self.url(&key)), &e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Other(format!("reading {}: {e}", self.url(&key))))?
            .into_bytes();
        self.parse_state(env, &key, &body)
    }

    async fn list_envs(&self) -> Result<Vec<String>, StoreError> {
        let mut envs = Vec::new();
        if let Some(tf) = &self.options.terraform {
            if self.list(&tf.key).await?.contains(&tf.key) {
                envs.push("default".to_string());
            }
            let root = format!("{}/", tf.workspace_key_prefix);
            let tail = format!("/{}", tf.key);
            for key in self.list(&root).await? {
                if let Some(env) = key.strip_prefix(&root).and_then(|k| k.strip_suffix(&tail))
                    && crate::local::check_env_name(env).is_ok()
                {
                    envs.push(env.to_string());
                }
            }
            envs.sort();
            return Ok(envs);
        }
        let root = if self.options.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.options.prefix)
        };
        for key in self.list(&root).await? {
            if let Some(env) = key
                .strip_prefix(&root)
                .and_then(|k| k.strip_suffix(&format!("/{STATE}")))
                && crate::local::check_env_name(env).is_ok()
            {
                envs.push(env.to_string());
            }
        }
        envs.sort();
        Ok(envs)
    }

    async fn remove_env(&self, env: &str) -> Result<(), StoreError> {
        let base = self.env_key(env)?;
        // Every version too: the environment is gone, and so is its history.
        let objects = match &self.options.terraform {
            None => self.all_versions(&base).await?,
            // The state, its lock and kiln's folder beside it — never
            // another object whose key merely starts the same way.
            Some(_) => {
                let (state, lock) = (self.state_key(env)?, self.lock_key(env)?);
                let mut all = self.all_versions(&state).await?;
                all.retain(|o| {
                    let key = o.key();
                    key == state || key == lock || key.starts_with(&base)
                });
                all
            }
        };
        self.delete_all(objects).await
    }

    async fn journal(&self, env: &str) -> Result<Box<dyn Journal>, StoreError> {
        let prefix = format!("{}{JOURNAL}", self.env_key(env)?);
        // Appends continue after the records already there (a reopened
        // journal); listing once here keeps each append one PUT.
        let next = self
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|k| journal_seq(k, &prefix))
            .max()
            .map_or(0, |n| n + 1);
        let lease = self.renewals.lock().ok().and_then(|m| {
            m.get(env).map(|r| LeaseCheck {
                env: env.to_string(),
                id: r.id.clone(),
                lost: r.lost.clone(),
            })
        });
        Ok(Box::new(S3Journal {
            store: S3Store {
                options: self.options.clone(),
                client: OnceCell::new_with(Some(self.client().await.clone())),
                renewals: Arc::default(),
                sealer: self.sealer.clone(),
            },
            prefix,
            next,
            lease,
        }))
    }

    async fn read_journal(&self, env: &str) -> Result<Vec<JournalRecord>, StoreError> {
        let prefix = format!("{}{JOURNAL}", self.env_key(env)?);
        let mut keys: Vec<(u64, String)> = self
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|k| journal_seq(&k, &prefix).map(|n| (n, k)))
            .collect();
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for (_, key) in keys {
            // Each record is its own object, written whole or not at all:
            // no record is ever torn.
            let Some(obj) = self.get(&key).await? else {
                continue;
            };
            let what = format!("journal record {}", self.url(&key));
            let body = crate::seal::Sealer::open(self.sealer.as_deref(), &obj.body, &what)?;
            let record = serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt {
                env: env.to_string(),
                location: self.url(&key),
                error: FormatError::Corrupt(e),
            })?;
            out.push(record);
        }
        Ok(out)
    }

    async fn clear_journal(&self, env: &str) -> Result<(), StoreError> {
        let prefix = format!("{}{JOURNAL}", self.env_key(env)?);
        let objects = self
            .list(&prefix)
            .await?
            .iter()
            .map(|k| identifier(k, None))
            .collect::<Result<_, _>>()?;
        self.delete_all(objects).await
    }
}

fn journal_seq(key: &str, prefix: &str) -> Option<u64> {
    key.strip_prefix(prefix)?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// An open S3 journal: each record is `journal/<seq>.json`, created with
/// `If-None-Match: *` so that two writers can never overwrite each other's
/// records.
#[derive(Debug)]
struct S3Journal {
    store: S3Store,
    prefix: String,
    next: u64,
    /// The lock this store holds on the environment, checked before every
    /// intent: a lease broken or taken over between two renewals stops the
    /// apply before its next provider call, not up to a renewal later.
    lease: Option<LeaseCheck>,
}

#[derive(Debug)]
struct LeaseCheck {
    env: String,
    id: String,
    lost: tokio_util::sync::CancellationToken,
}

impl S3Journal {
    /// Fails (and marks the lock lost) unless the lock object is still this
    /// store's lock with a lease that has not run out.
    async fn check_lease(&self) -> Result<(), StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        let why = if lease.lost.is_cancelled() {
            Some("it was lost earlier".to_string())
        } else {
            match self.store.read_lock(&lease.env).await? {
                None => Some("it was removed (`kiln unlock`?)".to_string()),
                Some((holder, _)) if holder.id != lease.id => {
                    Some(format!("it is now held by {holder}"))
                }
                Some((holder, _)) if holder.expires.is_some_and(|e| e < crate::unix_now()) => {
                    Some("its lease ran out before it could be renewed".to_string())
                }
                Some(_) => None,
            }
        };
        match why {
            None => Ok(()),
            Some(why) => {
                lease.lost.cancel();
                Err(StoreError::Other(format!(
                    "this run no longer holds the lock on {:?}: {why}",
                    lease.env
                )))
            }
        }
    }
}

#[async_trait]
impl Journal for S3Journal {
    async fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        if matches!(record, JournalRecord::Intent { .. }) {
            self.check_lease().await?;
        }
        let body = serde_json::to_vec(record)
            .map_err(|e| StoreError::Other(format!("encoding a journal record: {e}")))?;
        let body = self.store.sealed(body)?;
        // Zero-padded, so that keys list in record order.
        let key = format!("{}{:012}.json", self.prefix, self.next);
        match self.store.put(&key, body, Condition::Absent, None).await? {
            PutOutcome::Written(_) => {
                self.next += 1;
                Ok(())
            }
            PutOutcome::ConditionFailed => Err(StoreError::Other(format!(
                "journal record {} already exists: another process is writing this environment's journal; is the lock held?",
                self.store.url(&key)
            ))),
        }
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        // An acknowledged PUT is durable.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_escaping_round_trips() {
        for s in ["plain 1 created, 2 replaced", "100% done", "café ☕", ""] {
            let e = escape(s);
            assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)), "{e}");
            assert_eq!(unescape(&e), s);
        }
    }
}
