//! Named crash points: places where a test or the fault harness stops the
//! process as `kill -9` would, deterministically, instead of killing it at a
//! random moment and hoping to land in a window of a few microseconds.
//!
//! `KILN_CRASH_AT=NAME` aborts the process the first time it reaches the
//! point `NAME`; `KILN_CRASH_AT=NAME#N` the `N`th time (points inside the
//! step loop are reached once per step). Unset, a point costs one load of a
//! cached value. The process is stopped with `abort`: no destructor runs,
//! nothing buffered is flushed, no lock is released and no file is closed
//! cleanly, exactly as after `kill -9`. Every point is listed in [`POINTS`],
//! which the crash tests and `just faults` iterate.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a crash point.
pub const CRASH_ENV: &str = "KILN_CRASH_AT";

/// Every crash point, in the order an apply reaches them, with where it is.
pub const POINTS: &[(&str, &str)] = &[
    (
        "step:intent-journaled",
        "a step's intent is journaled; its provider call has not started",
    ),
    (
        "step:called",
        "a step's provider call returned; its result is not journaled",
    ),
    (
        "rollback:intent-journaled",
        "a failed apply's rollback journaled an undo; its provider call has not started",
    ),
    (
        "apply:finish-journaled",
        "every step succeeded and the apply's end (generations, configuration, outputs) is journaled",
    ),
    (
        "store:state-written",
        "the new state is stored; its metadata (local store) is not",
    ),
    (
        "apply:state-written",
        "the new state and its metadata are stored; the journal is not cleared",
    ),
    (
        "apply:journal-cleared",
        "the journal is cleared; the lock is not released",
    ),
    (
        "recover:state-written",
        "recovery stored the recovered state; the journal is not cleared",
    ),
];

struct Armed {
    name: String,
    nth: u64,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(CRASH_ENV).ok()?;
            let (name, nth) = match spec.split_once('#') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (spec, 1),
            };
            Some(Armed {
                name,
                nth,
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Stops the process here if `KILN_CRASH_AT` names this point (and this is
/// the time it asks for); otherwise does nothing.
pub fn crash_point(name: &str) {
    debug_assert!(
        POINTS.iter().any(|(p, _)| *p == name),
        "crash point {name} is not listed in POINTS"
    );
    let Some(armed) = armed() else { return };
    if armed.name != name {
        return;
    }
    if armed.seen.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth {
        tracing::debug!("crash point {name} reached: aborting as asked by {CRASH_ENV}");
        std::process::abort();
    }
}
