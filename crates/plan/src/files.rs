//! The file system as the file functions see it while planning and at apply.
//!
//! Planning reads files through the caller's [`FileSystem`] (the CLI's, rooted
//! at the configuration directory) and records every answer in the plan, so
//! that applying a saved plan sees exactly what planning saw and the engine
//! needs no file system: [`FileReads`] replays the answers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use kiln_config::FileSystem;
use serde::{Deserialize, Serialize};

/// The file system the planner's file functions read (none by default).
#[derive(Clone, Default)]
pub struct SharedFiles(pub Option<Arc<dyn FileSystem + Send + Sync>>);

impl fmt::Debug for SharedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "SharedFiles(Some)"
        } else {
            "SharedFiles(None)"
        })
    }
}

/// One recorded answer of the file system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAnswer {
    Bytes(Vec<u8>),
    Bool(bool),
    Paths(Vec<String>),
    Path(Option<String>),
    Error(String),
}

/// Every file-system answer planning used, keyed by operation and path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileReads(pub BTreeMap<String, FileAnswer>);

impl FileReads {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, key: String) -> Result<&FileAnswer, String> {
        self.0.get(&key).ok_or_else(|| {
            format!("{key} was not read while planning; the configuration changed since the plan was made, plan again")
        })
    }
}

fn unexpected() -> String {
    "the plan's record of this file is damaged; plan again".to_string()
}

impl FileSystem for FileReads {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match self.get(format!("read {path}"))? {
            FileAnswer::Bytes(b) => Ok(b.clone()),
            FileAnswer::Error(e) => Err(e.clone()),
            _ => Err(unexpected()),
        }
    }
    fn is_file(&self, path: &str) -> Result<bool, String> {
        match self.get(format!("exists {path}"))? {
            FileAnswer::Bool(b) => Ok(*b),
            FileAnswer::Error(e) => Err(e.clone()),
            _ => Err(unexpected()),
        }
    }
    fn files_under(&self, dir: &str) -> Result<Vec<String>, String> {
        match self.get(format!("list {dir}"))? {
            FileAnswer::Paths(p) => Ok(p.clone()),
            FileAnswer::Error(e) => Err(e.clone()),
            _ => Err(unexpected()),
        }
    }
    fn absolute(&self, path: &str) -> Result<String, String> {
        match self.get(format!("absolute {path}"))? {
            FileAnswer::Path(Some(p)) => Ok(p.clone()),
            FileAnswer::Error(e) => Err(e.clone()),
            _ => Err(unexpected()),
        }
    }
    fn home_dir(&self) -> Option<String> {
        match self.0.get("home") {
            Some(FileAnswer::Path(p)) => p.clone(),
            _ => None,
        }
    }
}

/// Reads through `inner` and records every answer.
pub(crate) struct Recorder<'a> {
    inner: &'a (dyn FileSystem + Sync),
    /// Shared by the threads that plan resource blocks.
    log: Mutex<FileReads>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(inner: &'a (dyn FileSystem + Sync)) -> Recorder<'a> {
        Recorder {
            inner,
            log: Mutex::new(FileReads::default()),
        }
    }

    pub(crate) fn into_reads(self) -> FileReads {
        self.log
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn record<T: Clone>(
        &self,
        key: String,
        r: Result<T, String>,
        wrap: impl FnOnce(T) -> FileAnswer,
    ) -> Result<T, String> {
        let answer = match &r {
            Ok(v) => wrap(v.clone()),
            Err(e) => FileAnswer::Error(e.clone()),
        };
        self.log(key, answer);
        r
    }

    fn log(&self, key: String, answer: FileAnswer) {
        (self.log.lock().unwrap_or_else(PoisonError::into_inner).0).insert(key, answer);
    }
}

impl FileSystem for Recorder<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.record(
            format!("read {path}"),
            self.inner.read(path),
            FileAnswer::Bytes,
        )
    }
    fn is_file(&self, path: &str) -> Result<bool, String> {
        self.record(
            format!("exists {path}"),
            self.inner.is_file(path),
            FileAnswer::Bool,
        )
    }
    fn files_under(&self, dir: &str) -> Result<Vec<String>, String> {
        self.record(
            format!("list {dir}"),
            self.inner.files_under(dir),
            FileAnswer::Paths,
        )
    }
    fn absolute(&self, path: &str) -> Result<String, String> {
        self.record(format!("absolute {path}"), self.inner.absolute(path), |p| {
            FileAnswer::Path(Some(p))
        })
    }
    fn home_dir(&self) -> Option<String> {
        let home = self.inner.home_dir();
        self.log("home".to_string(), FileAnswer::Path(home.clone()));
        home
    }
}
