//! State stores: where each environment's state, lock, history and journal live.
//!
//! [`StateStore`] is the one trait every store implements (the local file
//! store, and the S3 store behind the default `s3` feature); `conformance`
//! (behind the feature of that name, which only tests enable) is the suite
//! every implementation must pass. Writes are conditional: a store never
//! overwrites a state that changed since it was read.

use async_trait::async_trait;
use kiln_state::{JournalRecord, State};

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod faults;
mod local;
#[cfg(feature = "s3")]
mod s3;
pub mod seal;

pub use local::LocalStore;
#[cfg(feature = "s3")]
pub use s3::{Encryption, S3Options, S3Store, TerraformLayout};

/// Who holds a lock, for the message a second user sees.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockInfo {
    /// Unique per acquisition; `kiln unlock ID` names it.
    pub id: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// The command that took it (`apply`, `destroy`, ...).
    pub command: String,
    /// When it was taken (Unix seconds).
    pub since: u64,
    /// When the lease ends unless renewed (Unix seconds); `None` for locks
    /// that are held until released (local files, checked by pid).
    pub expires: Option<u64>,
    /// The holder process's start time (clock ticks since boot, field 22 of
    /// Linux's `/proc/PID/stat`), so that a pid reused by another process
    /// is not taken for the holder. `None` where there is no `/proc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// The boot and pid namespace the pid belongs to (Linux's
    /// `/proc/sys/kernel/random/boot_id` and `/proc/self/ns/pid`): a pid says
    /// something only where both match, never across containers that share a
    /// host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// A lock taken by [`StateStore::lock`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acquired {
    /// The lock that was there and was taken over because its holder is
    /// provably gone ([`LockInfo::holder_gone`]), with why; the caller says so.
    pub taken_over: Option<(LockInfo, String)>,
}

impl LockInfo {
    /// A lock for this process, now.
    pub fn for_current_process(command: &str) -> LockInfo {
        let now = unix_now();
        let pid = std::process::id();
        LockInfo {
            id: format!("{pid:x}-{now:x}-{:x}", rand_u32()),
            who: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid,
            command: command.to_string(),
            since: now,
            expires: None,
            started: process_start(pid),
            machine: machine_id(),
        }
    }
}

impl LockInfo {
    /// The holder reported for a lock that cannot be read.
    pub(crate) fn unknown() -> LockInfo {
        LockInfo {
            id: "unknown".into(),
            who: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            command: "unknown".into(),
            since: 0,
            expires: None,
            started: None,
            machine: None,
        }
    }

    /// Why the holder of this lock is provably gone, or `None` if it may
    /// still run. Provably gone: its lease ran out unrenewed, or it was
    /// taken on this machine (same host, boot and pid namespace) by a
    /// process that no longer runs, or whose pid now belongs to a process
    /// started at another time. Stores take such a lock over by themselves
    /// (and the caller says so), as Terraform's local lock dies with its
    /// process.
    pub fn holder_gone(&self) -> Option<String> {
        if let Some(expires) = self.expires
            && expires < unix_now()
        {
            return Some(format!(
                "its lease ran out {} ago without being renewed",
                humantime::format_duration(std::time::Duration::from_secs(
                    unix_now().saturating_sub(expires)
                ))
            ));
        }
        let this_host = gethostname::gethostname().to_string_lossy().into_owned();
        if self.host != this_host || self.pid == 0 {
            return None;
        }
        let here = machine_id();
        match (&self.machine, &here) {
            (Some(a), Some(b)) if a != b => return None,
            // A lock written by a kiln that did not record the machine: a
            // lease says nothing about the pid; a local lock's pid on this
            // host is all there is.
            (None, _) if self.expires.is_some() => return None,
            _ => {}
        }
        // Linux only: elsewhere a holder is never judged gone by its pid.
        let proc = std::path::Path::new("/proc");
        if !proc.is_dir() {
            return None;
        }
        match process_start(self.pid) {
            None => Some(format!(
                "its process (pid {}) is no longer running",
                self.pid
            )),
            Some(now) if self.started.is_some_and(|s| s != now) => Some(format!(
                "its process (pid {}) ended; the pid now belongs to another process",
                self.pid
            )),
            Some(_) => None,
        }
    }

    /// True if the lock looks abandoned ([`LockInfo::holder_gone`]).
    pub fn looks_stale(&self) -> bool {
        self.holder_gone().is_some()
    }
}

/// A process's start time in clock ticks since boot (Linux), `None` if it
/// does not run or there is no `/proc`.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so
    // the fields are counted from the last ')'. starttime is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This boot and pid namespace (Linux), `None` where they cannot be read.
fn machine_id() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.since),
        );
        write!(
            f,
            "{}@{} (pid {}, `kiln {}`) since {} [lock id {}]",
            self.who, self.host, self.pid, self.command, since, self.id
        )
    }
}

/// An opaque version of a stored state (a serial, an ETag): writes are
/// conditional on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

/// One kept previous version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub serial: u64,
    /// When it was written (Unix seconds).
    pub written_at: u64,
    pub who: String,
    /// A short summary of what the apply changed ("2 created, 1 replaced").
    pub summary: String,
    /// Store-specific id to read it back.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("environment {env:?} is locked by {holder}; wait for it to finish, or if it is dead, run `kiln unlock {}`", holder.id)]
    Locked { env: String, holder: Box<LockInfo> },
    #[error(
        "the state of {env:?} changed since it was read (now serial {found}, expected {expected}); someone else applied: plan again"
    )]
    Conflict {
        env: String,
        expected: String,
        found: String,
    },
    #[error(
        "state of {env:?} at {location} is unreadable: {error}; restore it from `kiln state history` or fix the file"
    )]
    Corrupt {
        env: String,
        location: String,
        /// Not `source`: the message already says it, and an error chain
        /// printed with its causes would repeat it.
        error: kiln_state::FormatError,
    },
    #[error(
        "state of {env:?} belongs to lineage {found}, not {expected}; refusing to overwrite another environment's state"
    )]
    Lineage {
        env: String,
        expected: String,
        found: String,
    },
    #[error("no lock with id {id:?} is held on {env:?}")]
    NotLocked { env: String, id: String },
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// An encrypted object that cannot be opened (no, or another,
    /// passphrase; damaged), or a bad passphrase setting.
    #[error("{0}")]
    Sealed(#[from] seal::SealError),
    #[error("{0}")]
    Other(String),
}

/// A state read with the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub state: State,
    pub version: Version,
}

/// A place that keeps environments' state.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// A human description ("local: .kiln", "s3://bucket/prefix").
    fn describe(&self) -> String;

    /// The current state of `env`, or `None` if it has none yet.
    async fn read(&self, env: &str) -> Result<Option<Versioned>, StoreError>;

    /// [`StateStore::read`] for a plan, which never uses the applied
    /// configurations a state keeps (`State::source` and the previous
    /// generation's): a store may leave them out (`None`), as the local
    /// store does ([`kiln_state::format::from_json_without_sources`]). Never
    /// write a state read this way back. By default, [`StateStore::read`].
    async fn read_without_sources(&self, env: &str) -> Result<Option<Versioned>, StoreError> {
        self.read(env).await
    }

    /// Writes `state` if the stored version is still `expected` (`None`: only
    /// if there is no state yet). The previous version is kept as history,
    /// with `summary` describing the change. Returns the new version.
    async fn write(
        &self,
        env: &str,
        state: &State,
        expected: Option<&Version>,
        summary: &str,
    ) -> Result<Version, StoreError>;

    /// Takes the environment's lock or fails at once with the holder. A
    /// lock whose holder is provably gone ([`LockInfo::holder_gone`]) is
    /// taken over atomically (no two takers both win) and reported in
    /// [`Acquired::taken_over`].
    async fn lock(&self, env: &str, info: &LockInfo) -> Result<Acquired, StoreError>;

    /// Releases a lock this process holds (by id).
    async fn unlock(&self, env: &str, id: &str) -> Result<(), StoreError>;

    /// For a lock this process holds on `env` that it can lose while holding
    /// it (a lease someone took over, or could not renew before it ran out):
    /// a token cancelled when that happens. `None` for locks that are held
    /// until released (the local store's).
    fn lock_lost(&self, env: &str) -> Option<tokio_util::sync::CancellationToken> {
        let _ = env;
        None
    }

    /// Who holds the lock, if anyone.
    async fn lock_holder(&self, env: &str) -> Result<Option<LockInfo>, StoreError>;

    /// Earlier versions, newest first.
    async fn history(&self, env: &str) -> Result<Vec<HistoryEntry>, StoreError>;

    /// One earlier version by the `version` of its [`HistoryEntry`].
    async fn read_version(&self, env: &str, version: &str) -> Result<State, StoreError>;

    /// Every environment that has a state.
    async fn list_envs(&self) -> Result<Vec<String>, StoreError>;

    /// Deletes the environment's state, history and journal (after its
    /// resources are destroyed).
    async fn remove_env(&self, env: &str) -> Result<(), StoreError>;

    /// Opens the environment's journal for appending (O(1) per record).
    async fn journal(&self, env: &str) -> Result<Box<dyn Journal>, StoreError>;

    /// The records of an unfinished apply (empty if the last one finished).
    async fn read_journal(&self, env: &str) -> Result<Vec<JournalRecord>, StoreError>;

    /// Drops the journal once its results are compacted into a written state.
    async fn clear_journal(&self, env: &str) -> Result<(), StoreError>;
}

/// An open journal.
#[async_trait]
pub trait Journal: Send {
    /// Appends one record, durable against a crash of this process before it
    /// returns.
    async fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError>;
    /// Appends one record that may be held back until the next
    /// [`append`](Journal::append) or [`flush`](Journal::flush), and is
    /// then written before that record, in the order appended. For a
    /// step's result: a crash before it is written leaves the step's
    /// intent without a result, which recovery resolves as it resolves a
    /// crash during the call (by the idempotency key). A journal that does
    /// not batch writes it at once (the default).
    async fn append_deferred(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        self.append(record).await
    }
    /// Writes what [`append_deferred`](Journal::append_deferred) held back,
    /// durable against a crash of this process once it returns.
    async fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Flushes to stable storage (end of apply).
    async fn sync(&mut self) -> Result<(), StoreError>;
}

/// The environment variable that moves kiln's clock: a signed number of
/// seconds added to the system time wherever expiry is decided.
pub const CLOCK_OFFSET_ENV: &str = "KILN_CLOCK_OFFSET_SECS";

/// Seconds since the Unix epoch, as every TTL, lock lease and history
/// timestamp reads them: the system clock moved by
/// `KILN_CLOCK_OFFSET_SECS` when it is set (read once per process). With
/// it, tests see a TTL run out or a lease expire without waiting, and
/// `KILN_CLOCK_OFFSET_SECS=3600 kiln env gc --dry-run` lists what an hour
/// from now would collect. A value that is not an integer is ignored.
pub fn unix_now() -> u64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        std::env::var(CLOCK_OFFSET_ENV)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    });
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_add_signed(offset)
}

/// The user a write or a lock is recorded for.
pub(crate) fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(unix_now());
    h.finish() as u32
}
