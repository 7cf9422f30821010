//! The local file store: each environment is a directory under a root
//! (normally `<config dir>/.kiln`).
//!
//! ```text
//! <root>/<env>/state.json          the current state (mode 0600)
//! <root>/<env>/state.meta.json     who wrote it, when, and why
//! <root>/<env>/history/<serial>.json       an earlier version
//! <root>/<env>/history/<serial>.meta.json  its metadata
//! <root>/<env>/lock.json           the lock, while held: who holds it
//! <root>/<env>/lock.held           the operating system's lock on it, which
//!                                  dies with its holder's process
//! <root>/<env>/journal.jsonl       the journal of an unfinished apply
//! <root>/<env>/journal.last.jsonl  the journal of the last finished apply
//! ```
//!
//! Every whole-file write is atomic: a temporary file in the same directory
//! is written, fsynced and renamed over the target, and the directory is
//! fsynced. The journal is appended one line per record with a single write
//! to a file opened with `O_APPEND`, so a crash of the process never loses an
//! acknowledged record (a crash of the machine may, until [`Journal::sync`]).
//!
//! Serials: a write stores the state with serial
//! `max(state.serial, previous serial + 1)` (1 for the first write), so
//! serials only grow; the serial is the [`Version`].

use crate::seal::Sealer;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln_state::{FormatError, JournalRecord, State};
use serde::{Deserialize, Serialize};

use crate::{
    Acquired, HistoryEntry, Journal, LockInfo, StateStore, StoreError, Version, Versioned,
};

const STATE_FILE: &str = "state.json";
const META_FILE: &str = "state.meta.json";
const LOCK_FILE: &str = "lock.json";
const HELD_FILE: &str = "lock.held";
const JOURNAL_FILE: &str = "journal.jsonl";
const LAST_JOURNAL_FILE: &str = "journal.last.jsonl";
const HISTORY_DIR: &str = "history";

/// State under a directory: `<root>/<env>/state.json`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pub root: PathBuf,
    /// The operating-system locks this store holds, by environment (shared
    /// by its clones, which run its blocking work).
    held: Arc<Mutex<HashMap<String, fs::File>>>,
    /// Seals the state, its history and the journal when encryption is on.
    sealer: Option<Arc<Sealer>>,
}

/// The metadata kept next to every version.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    serial: u64,
    written_at: u64,
    who: String,
    summary: String,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> LocalStore {
        LocalStore {
            root,
            held: Arc::default(),
            sealer: None,
        }
    }

    /// This store, sealing what it writes (and opening what it reads) with
    /// `sealer` (see [`crate::seal`]).
    pub fn with_sealer(mut self, sealer: Option<Arc<Sealer>>) -> LocalStore {
        self.sealer = sealer;
        self
    }

    fn sealed(&self, plain: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        Ok(crate::seal::Sealer::seal_with(
            self.sealer.as_deref(),
            plain,
        )?)
    }

    fn env_dir(&self, env: &str) -> Result<PathBuf, StoreError> {
        check_env_name(env)?;
        Ok(self.root.join(env))
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(LocalStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(me))
            .await
            .map_err(|e| StoreError::Other(format!("local store task failed: {e}")))?
    }

    /// The state of `env`; with `sources` false, without the applied
    /// configurations it keeps ([`StateStore::read_without_sources`]).
    fn read_sync(&self, env: &str, sources: bool) -> Result<Option<Versioned>, StoreError> {
        let dir = self.env_dir(env)?;
        let path = dir.join(STATE_FILE);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        let parse = if sources {
            kiln_state::format::from_json
        } else {
            kiln_state::format::from_json_without_sources
        };
        let state = parse_state(self.sealer.as_deref(), env, &path, &bytes, parse)?;
        Ok(Some(Versioned {
            version: Version(state.serial.to_string()),
            state,
        }))
    }

    fn write_sync(
        &self,
        env: &str,
        state: &State,
        expected: Option<&Version>,
        summary: &str,
    ) -> Result<Version, StoreError> {
        let dir = self.env_dir(env)?;
        let path = dir.join(STATE_FILE);
        // Its serial, lineage and time are what is checked and kept.
        let current = match read_if_exists(&path)? {
            Some(bytes) => Some((
                parse_state(
                    self.sealer.as_deref(),
                    env,
                    &path,
                    &bytes,
                    kiln_state::format::from_json_without_sources,
                )?,
                bytes,
            )),
            None => None,
        };
        let found = current.as_ref().map(|(s, _)| s.serial.to_string());
        if found.as_deref() != expected.map(|v| v.0.as_str()) {
            return Err(StoreError::Conflict {
                env: env.to_string(),
                expected: expected.map_or_else(|| "none".into(), |v| v.0.clone()),
                found: found.unwrap_or_else(|| "none".into()),
            });
        }
        let prev_serial = current.as_ref().map_or(0, |(s, _)| s.serial);
        if let Some((prev, bytes)) = &current {
            if prev.lineage != state.lineage {
                return Err(StoreError::Lineage {
                    env: env.to_string(),
                    expected: state.lineage.clone(),
                    found: prev.lineage.clone(),
                });
            }
            // Keep the version being replaced, with its metadata.
            let hist = dir.join(HISTORY_DIR);
            create_dir(&hist)?;
            let meta = read_if_exists(&dir.join(META_FILE))?
                .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
                .filter(|m| m.serial == prev.serial)
                .unwrap_or_else(|| Meta {
                    serial: prev.serial,
                    written_at: prev.updated_at,
                    who: "unknown".into(),
                    summary: String::new(),
                });
            write_atomic(&hist.join(format!("{}.json", prev.serial)), bytes)?;
            write_atomic(
                &hist.join(format!("{}.meta.json", prev.serial)),
                &serde_json::to_vec_pretty(&meta).unwrap_or_default(),
            )?;
        } else {
            create_dir(&self.root)?;
            create_dir(&dir)?;
        }

        let serial = state.serial.max(prev_serial + 1);
        write_atomic(
            &path,
            &self.sealed(kiln_state::format::to_json_at(state, serial))?,
        )?;
        crate::faults::crash_point("store:state-written");
        let meta = Meta {
            serial,
            written_at: crate::unix_now(),
            who: crate::current_user(),
            summary: summary.to_string(),
        };
        write_atomic(
            &dir.join(META_FILE),
            &serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )?;
        Ok(Version(serial.to_string()))
    }

    fn lock_sync(&self, env: &str, info: &LockInfo) -> Result<Acquired, StoreError> {
        let dir = self.env_dir(env)?;
        create_dir(&self.root)?;
        create_dir(&dir)?;
        let path = dir.join(LOCK_FILE);
        let body = serde_json::to_vec_pretty(info).unwrap_or_default();
        // `lock.json` says who holds the lock; the operating system's lock
        // on `lock.held`, taken right after, dies with its holder's process
        // (kill -9 included). A taker that finds `lock.json` and gets the
        // operating system's lock knows the holder is not running here, and
        // only one taker at a time can get it, so only one can take over.
        let acquired = match link_new(&path, &body)? {
            true => Acquired::default(),
            false => {
                let Some(held) = self.os_lock(&dir, OsLock::Try)? else {
                    return Err(self.locked(env)?);
                };
                let holder = self
                    .lock_holder_sync(env)?
                    .unwrap_or_else(LockInfo::unknown);
                let gone = if held.is_some() {
                    holder.holder_gone()
                } else {
                    None
                };
                let Some(why) = gone else {
                    return Err(StoreError::Locked {
                        env: env.to_string(),
                        holder: Box::new(holder),
                    });
                };
                write_atomic(&path, &body)?;
                self.keep_os_lock(env, held);
                return Ok(Acquired {
                    taken_over: Some((holder, why)),
                });
            }
        };
        // A taker may hold the operating system's lock for a moment (it
        // sees this process alive and lets go): wait for it.
        if let Some(held) = self.os_lock(&dir, OsLock::Wait)? {
            self.keep_os_lock(env, held);
        }
        Ok(acquired)
    }

    /// The operating system's lock on `<env>/lock.held`: `Ok(None)` if
    /// another process holds it (`Try` only), `Ok(Some(None))` if the file
    /// system has no such locks, `Ok(Some(Some(file)))` held until the file
    /// is closed.
    fn os_lock(&self, dir: &Path, how: OsLock) -> Result<Option<Option<fs::File>>, StoreError> {
        let held_path = dir.join(HELD_FILE);
        let held = open_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&held_path)
            .map_err(|e| io_err(format!("opening {}", held_path.display()), e))?;
        let taken = match how {
            OsLock::Try => match held.try_lock() {
                Ok(()) => Ok(()),
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => Err(e),
            },
            // A taker holds it for a moment at most. Only a run whose
            // `lock.json` was removed by `kiln unlock --force` holds it for
            // longer; this lock then goes on without it rather than hang.
            OsLock::Wait => {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                loop {
                    match held.try_lock() {
                        Ok(()) => break Ok(()),
                        Err(fs::TryLockError::WouldBlock)
                            if std::time::Instant::now() < deadline =>
                        {
                            std::thread::sleep(std::time::Duration::from_millis(10));
                        }
                        Err(fs::TryLockError::WouldBlock) => {
                            break Err(io::Error::from(io::ErrorKind::WouldBlock));
                        }
                        Err(fs::TryLockError::Error(e)) => break Err(e),
                    }
                }
            }
        };
        Ok(Some(taken.ok().map(|()| held)))
    }

    fn keep_os_lock(&self, env: &str, held: Option<fs::File>) {
        if let Some(held) = held
            && let Ok(mut m) = self.held.lock()
        {
            m.insert(env.to_string(), held);
        }
    }

    fn locked(&self, env: &str) -> Result<StoreError, StoreError> {
        Ok(StoreError::Locked {
            env: env.to_string(),
            holder: Box::new(
                self.lock_holder_sync(env)?
                    .unwrap_or_else(LockInfo::unknown),
            ),
        })
    }

    fn lock_holder_sync(&self, env: &str) -> Result<Option<LockInfo>, StoreError> {
        let path = self.env_dir(env)?.join(LOCK_FILE);
        Ok(read_if_exists(&path)?
            .map(|b| serde_json::from_slice(&b).unwrap_or_else(|_| LockInfo::unknown())))
    }

    fn unlock_sync(&self, env: &str, id: &str) -> Result<(), StoreError> {
        let dir = self.env_dir(env)?;
        match self.lock_holder_sync(env)? {
            Some(holder) if holder.id == id => {
                let path = dir.join(LOCK_FILE);
                fs::remove_file(&path)
                    .map_err(|e| io_err(format!("removing {}", path.display()), e))?;
                sync_dir(&dir)?;
                // Then the operating system's lock, if this store holds it
                // (closing the file releases it).
                if let Ok(mut m) = self.held.lock() {
                    m.remove(env);
                }
                Ok(())
            }
            _ => Err(StoreError::NotLocked {
                env: env.to_string(),
                id: id.to_string(),
            }),
        }
    }

    fn history_sync(&self, env: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let hist = self.env_dir(env)?.join(HISTORY_DIR);
        let entries = match fs::read_dir(&hist) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("listing {}", hist.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err(format!("listing {}", hist.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(serial) = name
                .strip_suffix(".meta.json")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let Some(meta) = read_if_exists(&entry.path())?
                .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
            else {
                continue;
            };
            out.push(HistoryEntry {
                serial,
                written_at: meta.written_at,
                who: meta.who,
                summary: meta.summary,
                version: serial.to_string(),
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.serial));
        Ok(out)
    }

    fn read_version_sync(&self, env: &str, version: &str) -> Result<State, StoreError> {
        let serial: u64 = version.parse().map_err(|_| {
            StoreError::Other(format!(
                "{version:?} is not a version of {env:?}; see `kiln state history`"
            ))
        })?;
        let path = self
            .env_dir(env)?
            .join(HISTORY_DIR)
            .join(format!("{serial}.json"));
        match read_if_exists(&path)? {
            Some(bytes) => parse_state(
                self.sealer.as_deref(),
                env,
                &path,
                &bytes,
                kiln_state::format::from_json,
            ),
            None => Err(StoreError::Other(format!(
                "no version {serial} of {env:?} is kept; see `kiln state history`"
            ))),
        }
    }

    fn list_envs_sync(&self) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("listing {}", self.root.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err(format!("listing {}", self.root.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if check_env_name(&name).is_ok() && entry.path().join(STATE_FILE).is_file() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    fn remove_env_sync(&self, env: &str) -> Result<(), StoreError> {
        let dir = self.env_dir(env)?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => sync_dir(&self.root),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing {}", dir.display()), e)),
        }
    }

    fn open_journal_sync(&self, env: &str) -> Result<LocalJournal, StoreError> {
        let dir = self.env_dir(env)?;
        create_dir(&self.root)?;
        create_dir(&dir)?;
        let path = dir.join(JOURNAL_FILE);
        drop_torn_tail(&path)?;
        let file = open_options()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_err(format!("opening {}", path.display()), e))?;
        sync_dir(&dir)?;
        Ok(LocalJournal {
            file,
            path,
            sealer: self.sealer.clone(),
            lines: Vec::new(),
        })
    }

    fn read_journal_sync(&self, env: &str) -> Result<Vec<JournalRecord>, StoreError> {
        let path = self.env_dir(env)?.join(JOURNAL_FILE);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(Vec::new());
        };
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let last = i + 1 == lines.len();
            let where_ = format!("{}:{}", path.display(), i + 1);
            let plain = match Sealer::open(
                self.sealer.as_deref(),
                line,
                &format!("journal record {where_}"),
            ) {
                Ok(plain) => plain,
                // A torn sealed record (see below).
                Err(crate::seal::SealError::Malformed { .. }) if last => continue,
                Err(e) => return Err(e.into()),
            };
            match serde_json::from_slice::<JournalRecord>(&plain) {
                Ok(r) => out.push(r),
                // The last line without a newline is a record whose write was
                // torn by a crash: it was never acknowledged, so it is dropped.
                Err(_) if last => {}
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        env: env.to_string(),
                        location: where_,
                        error: FormatError::Corrupt(e),
                    });
                }
            }
        }
        Ok(out)
    }

    fn clear_journal_sync(&self, env: &str) -> Result<(), StoreError> {
        let dir = self.env_dir(env)?;
        let path = dir.join(JOURNAL_FILE);
        // The finished journal is kept as `journal.last.jsonl`: the record of
        // what the last apply did, in order, for `kiln` users and tests.
        match fs::rename(&path, dir.join(LAST_JOURNAL_FILE)) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing {}", path.display()), e)),
        }
    }
}

#[async_trait]
impl StateStore for LocalStore {
    fn describe(&self) -> String {
        format!("local: {}", self.root.display())
    }

    async fn read(&self, env: &str) -> Result<Option<Versioned>, StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.read_sync(&env, true)).await
    }

    async fn read_without_sources(&self, env: &str) -> Result<Option<Versioned>, StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.read_sync(&env, false)).await
    }

    async fn write(
        &self,
        env: &str,
        state: &State,
        expected: Option<&Version>,
        summary: &str,
    ) -> Result<Version, StoreError> {
        // On this thread, borrowing the state: moving the write to the
        // blocking pool would copy the whole state (at 100,000 resources,
        // hundreds of megabytes and a tenth of a second). On a multi-thread
        // runtime the other tasks move to other workers meanwhile.
        let write = || self.write_sync(env, state, expected, summary);
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(write),
            _ => write(),
        }
    }

    async fn lock(&self, env: &str, info: &LockInfo) -> Result<Acquired, StoreError> {
        let (env, info) = (env.to_string(), info.clone());
        self.blocking(move |s| s.lock_sync(&env, &info)).await
    }

    async fn unlock(&self, env: &str, id: &str) -> Result<(), StoreError> {
        let (env, id) = (env.to_string(), id.to_string());
        self.blocking(move |s| s.unlock_sync(&env, &id)).await
    }

    async fn lock_holder(&self, env: &str) -> Result<Option<LockInfo>, StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.lock_holder_sync(&env)).await
    }

    async fn history(&self, env: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.history_sync(&env)).await
    }

    async fn read_version(&self, env: &str, version: &str) -> Result<State, StoreError> {
        let (env, version) = (env.to_string(), version.to_string());
        self.blocking(move |s| s.read_version_sync(&env, &version))
            .await
    }

    async fn list_envs(&self) -> Result<Vec<String>, StoreError> {
        self.blocking(|s| s.list_envs_sync()).await
    }

    async fn remove_env(&self, env: &str) -> Result<(), StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.remove_env_sync(&env)).await
    }

    async fn journal(&self, env: &str) -> Result<Box<dyn Journal>, StoreError> {
        let env = env.to_string();
        let j = self.blocking(move |s| s.open_journal_sync(&env)).await?;
        Ok(Box::new(j))
    }

    async fn read_journal(&self, env: &str) -> Result<Vec<JournalRecord>, StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.read_journal_sync(&env)).await
    }

    async fn clear_journal(&self, env: &str) -> Result<(), StoreError> {
        let env = env.to_string();
        self.blocking(move |s| s.clear_journal_sync(&env)).await
    }
}

/// An open `journal.jsonl`.
#[derive(Debug)]
struct LocalJournal {
    file: fs::File,
    path: PathBuf,
    sealer: Option<Arc<Sealer>>,
    /// Lines held back by `append_deferred`, then the line being written:
    /// one `write` for all of them. The buffer is kept from record to
    /// record.
    lines: Vec<u8>,
}

impl LocalJournal {
    /// Encodes `record` as one line at the end of `self.lines`.
    fn encode(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        let encoding =
            |e: serde_json::Error| StoreError::Other(format!("encoding a journal record: {e}"));
        let start = self.lines.len();
        let encoded = match self.sealer.as_deref() {
            None => serde_json::to_writer(&mut self.lines, record).map_err(encoding),
            Some(s) => serde_json::to_vec(record)
                .map_err(encoding)
                .and_then(|plain| Sealer::seal_with(Some(s), plain).map_err(StoreError::from))
                .map(|sealed| self.lines.extend_from_slice(&sealed)),
        };
        if let Err(e) = encoded {
            // What was held back stays; the failed record leaves nothing.
            self.lines.truncate(start);
            return Err(e);
        }
        self.lines.push(b'\n');
        Ok(())
    }

    /// Writes every encoded line, in one `write` of a buffer to the page
    /// cache: done in place rather than on the blocking pool, which would
    /// cost more than the write.
    fn write_lines(&mut self) -> Result<(), StoreError> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.lines);
        self.lines.clear();
        // Steps' records are small; a large one (the configuration, at
        // the start) is not worth keeping the room for.
        if self.lines.capacity() > 64 * 1024 {
            self.lines = Vec::new();
        }
        written.map_err(|e| io_err(format!("appending to {}", self.path.display()), e))
    }
}

impl Drop for LocalJournal {
    /// Lines still held back are written (what a crash would lose, a drop
    /// does not).
    fn drop(&mut self) {
        if let Err(e) = self.write_lines() {
            tracing::warn!("{e}");
        }
    }
}

#[async_trait]
impl Journal for LocalJournal {
    async fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        self.encode(record)?;
        self.write_lines()
    }

    async fn append_deferred(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        self.encode(record)
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        self.write_lines()
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        self.write_lines()?;
        self.file
            .sync_all()
            .map_err(|e| io_err(format!("syncing {}", self.path.display()), e))
    }
}

/// Environment names become directory names: keep them plain.
pub(crate) fn check_env_name(env: &str) -> Result<(), StoreError> {
    let ok = !env.is_empty()
        && !env.starts_with('.')
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "{env:?} is not a valid environment name; use letters, digits, '-', '_' and '.', not starting with '.'"
        )))
    }
}

fn parse_state(
    sealer: Option<&Sealer>,
    env: &str,
    path: &Path,
    bytes: &[u8],
    parse: fn(&[u8]) -> Result<State, kiln_state::format::FormatError>,
) -> Result<State, StoreError> {
    let bytes = &Sealer::open(sealer, bytes, &format!("the state {}", path.display()))?;
    parse(bytes).map_err(|error| StoreError::Corrupt {
        env: env.to_string(),
        location: path.display().to_string(),
        error,
    })
}

fn io_err(what: String, source: io::Error) -> StoreError {
    StoreError::Io { what, source }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading {}", path.display()), e)),
    }
}

fn open_options() -> fs::OpenOptions {
    let mut o = fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    match b.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(format!("creating {}", dir.display()), e)),
    }
}

fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// How to take the operating system's lock.
#[derive(Clone, Copy)]
enum OsLock {
    Try,
    Wait,
}

/// Creates `path` with `bytes` whole, or returns `false` if it exists: a
/// temporary file is written and then linked into place, which fails if
/// the target exists (like `O_EXCL`) and never leaves a half-written file.
/// Where the file system has no hard links, `O_EXCL` itself.
fn link_new(path: &Path, bytes: &[u8]) -> Result<bool, StoreError> {
    let tmp = temp_path(path);
    write_file(&tmp, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(_) => {
            let mut f = match open_options().write(true).create_new(true).open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(io_err(format!("creating {}", path.display()), e)),
            };
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .map_err(|e| io_err(format!("writing {}", path.display()), e))?;
        }
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(true)
}

/// Creates `path` (which must not exist) with `bytes`, fsynced.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = open_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_err(format!("creating {}", path.display()), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err(format!("writing {}", path.display()), e))
}

/// Replaces `path` with `bytes` atomically: temp file, fsync, rename, fsync dir.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = temp_path(path);
    if let Err(e) = write_file(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(format!("replacing {}", path.display()), e));
    }
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(format!("syncing {}", dir.display()), e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Cuts a torn last record (no final newline) off the journal before
/// appending, so that new records start on a line of their own.
fn drop_torn_tail(path: &Path) -> Result<(), StoreError> {
    let err = |e| io_err(format!("repairing {}", path.display()), e);
    let mut f = match fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let len = f.metadata().map_err(err)?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1)).map_err(err)?;
    f.read_exact(&mut last).map_err(err)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0)).map_err(err)?;
    f.read_to_end(&mut bytes).map_err(err)?;
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    f.set_len(keep as u64).map_err(err)?;
    f.sync_all().map_err(err)
}
