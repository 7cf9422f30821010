//! State stores: where each environment's state, lock, history and journal live.
//!
//! [`StateStore`] is the one trait every store implements (the local file
//! store, and the S3 store behind the default `s3` feature); [`conformance`]
//! is the suite every implementation must pass. Writes are conditional: a store never overwrites a state that
//! changed since it was read.

use async_trait::async_trait;
use kiln_state::{JournalRecord, State};

pub mod conformance;
mod local;
#[cfg(feature = "s3")]
mod s3;

pub use local::LocalStore;
#[cfg(feature = "s3")]
pub use s3::{Encryption, S3Options, S3Store};

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
        }
    }

    /// True if the lock looks abandoned: its lease has expired, or it was
    /// taken on this host by a process that no longer runs. A stale lock is
    /// still a lock (stores never break one on their own); the message to the
    /// user can say it looks stale, and `kiln unlock` breaks it.
    pub fn looks_stale(&self) -> bool {
        if let Some(expires) = self.expires {
            return expires < unix_now();
        }
        let this_host = gethostname::gethostname().to_string_lossy().into_owned();
        if self.host != this_host || self.pid == 0 {
            return false;
        }
        // Linux only: elsewhere a local lock is never judged stale.
        let proc = std::path::Path::new("/proc");
        proc.is_dir() && !proc.join(self.pid.to_string()).exists()
    }
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
        "state of {env:?} at {location} is unreadable: {source}; restore it from `kiln state history` or fix the file"
    )]
    Corrupt {
        env: String,
        location: String,
        source: kiln_state::FormatError,
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

    /// Takes the environment's lock or fails at once with the holder.
    async fn lock(&self, env: &str, info: &LockInfo) -> Result<(), StoreError>;

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
    /// Flushes to stable storage (end of apply).
    async fn sync(&mut self) -> Result<(), StoreError>;
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
