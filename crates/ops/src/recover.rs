//! Reading the state, and recovering an apply that died part-way from its
//! journal, before anything else happens to the environment.

use anyhow::{Result, bail};
use kiln_state::{JournalRecord, Standing, State};
use kiln_store::Version;

use crate::{Observer, Workspace, with_lock};

/// The environment's state and its version, or a new empty state (no
/// lineage yet) and `None`.
pub async fn read_state(ws: &Workspace) -> Result<(State, Option<Version>)> {
    match ws.store.read(&ws.env).await? {
        Some(v) => Ok((v.state, Some(v.version))),
        None => Ok((State::new(&ws.env, ""), None)),
    }
}

/// `kiln recover`: under the lock, recovers an interrupted apply from its
/// journal and writes the recovered state. `None` when there was nothing to
/// recover (the last apply finished); else the state now stored.
pub async fn recover(
    ws: &Workspace,
    lock_timeout: std::time::Duration,
    obs: &dyn Observer,
) -> Result<Option<State>> {
    with_lock(ws, "recover", lock_timeout, obs, async || {
        let records = ws.store.read_journal(&ws.env).await?;
        if records.is_empty() {
            return Ok(None);
        }
        let (state, _) = recover_if_needed(ws, obs).await?;
        Ok(Some(state))
    })
    .await
}

/// Reads the state; if the last apply died part-way, recovers from its
/// journal first and writes the recovered state. A journal whose apply
/// already wrote its state (only its clean-up was lost) is removed, never
/// replayed. The caller holds the lock.
pub async fn recover_if_needed(
    ws: &Workspace,
    obs: &dyn Observer,
) -> Result<(State, Option<Version>)> {
    let (state, version, records) = state_and_journal(ws, true).await?;
    match kiln_state::journal::standing(&state, &records) {
        Standing::Empty => return Ok((state, version)),
        Standing::Folded => {
            obs.warn(
                "removing the journal of an earlier apply whose state was already written (its clean-up was interrupted); nothing is replayed",
            );
            clear_journal(ws, obs).await;
            return Ok((state, version));
        }
        Standing::Pending(_) | Standing::OtherLineage { .. } => {}
    }
    obs.warn("the previous apply did not finish; recovering what it did from its journal");
    let mut state = replay(
        ws,
        obs,
        state,
        &records,
        "recovery of the interrupted apply failed; the journal is kept: fix the errors above and run the command again",
    )
    .await?;
    state.serial += 1;
    let version = ws
        .store
        .write(
            &ws.env,
            &state,
            version.as_ref(),
            "recovered an interrupted apply",
        )
        .await?;
    kiln_store::faults::crash_point("recover:state-written");
    clear_journal(ws, obs).await;
    Ok((state, Some(version)))
}

/// The state as the next locked command will start from: the stored one
/// with a pending journal recovered in memory (nothing is written), so that
/// `kiln plan` never proposes to create what an interrupted apply already
/// made. The flag says a recovery is pending. Without the applied
/// configurations the state keeps (a plan never uses them): never write it.
pub(crate) async fn state_as_recovered(
    ws: &Workspace,
    obs: &dyn Observer,
) -> Result<(State, bool)> {
    let (state, _, records) = state_and_journal(ws, false).await?;
    if !matches!(
        kiln_state::journal::standing(&state, &records),
        Standing::Pending(_) | Standing::OtherLineage { .. }
    ) {
        return Ok((state, false));
    }
    obs.warn(
        "the previous apply did not finish: this plan reads its journal as recovery would; the next apply or destroy records the recovery",
    );
    let state = replay(
        ws,
        obs,
        state,
        &records,
        "the interrupted apply's journal cannot be read back (errors above); fix them and plan again, or run `kiln apply`, which recovers first",
    )
    .await?;
    Ok((state, true))
}

/// The stored state (a new one with the journal's lineage if there is none
/// yet) and the journal found beside it; without `sources`, the state's
/// applied configurations may be left out (a state only to plan against:
/// [`kiln_store::StateStore::read_without_sources`]).
async fn state_and_journal(
    ws: &Workspace,
    sources: bool,
) -> Result<(State, Option<Version>, Vec<JournalRecord>)> {
    let (state, version) = if sources {
        read_state(ws).await?
    } else {
        match ws.store.read_without_sources(&ws.env).await? {
            Some(v) => (v.state, Some(v.version)),
            None => (State::new(&ws.env, ""), None),
        }
    };
    let records = ws.store.read_journal(&ws.env).await?;
    let state = if state.lineage.is_empty() && !records.is_empty() {
        fresh_state(ws, &records)
    } else {
        state
    };
    Ok((state, version, records))
}

/// Replays a pending journal onto `state` in memory (providers are asked
/// to find and read only) and reports what was found; fails with `failed`
/// if a call in flight could not be resolved.
async fn replay(
    ws: &Workspace,
    obs: &dyn Observer,
    state: State,
    records: &[JournalRecord],
    failed: &str,
) -> Result<State> {
    let registry = ws.registry(None, None, Some(&state)).await?;
    let report = kiln_engine::recover(state, records, &registry).await;
    for m in &report.messages {
        obs.status(&format!("  {m}"));
    }
    obs.diagnostics(&report.diagnostics);
    if report.diagnostics.has_errors() {
        bail!("{failed}");
    }
    Ok(report.state)
}

/// Removes the journal of an apply whose state is written. A failure is a
/// warning, not an error: the work is done and recorded, and the next
/// command sees that the journal is folded into the state and discards it.
pub(crate) async fn clear_journal(ws: &Workspace, obs: &dyn Observer) {
    if let Err(e) = ws.store.clear_journal(&ws.env).await {
        obs.warn(&format!(
            "the state is written, but its journal could not be removed ({e}); the next kiln command removes it, replaying nothing"
        ));
    }
}

/// A new state for an environment that has none, keeping the lineage an
/// interrupted first apply journaled, if any.
pub(crate) fn fresh_state(ws: &Workspace, records: &[JournalRecord]) -> State {
    let lineage = records
        .iter()
        .find_map(|r| match r {
            JournalRecord::Begin { lineage, .. } => Some(lineage.clone()),
            _ => None,
        })
        .unwrap_or_else(new_lineage);
    let mut s = State::new(&ws.env, lineage);
    s.created_at = kiln_store::unix_now();
    s
}

/// A new random lineage: 128 bits as 32 hex digits.
pub(crate) fn new_lineage() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut parts = [0u64; 2];
    for (i, p) in parts.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(kiln_store::unix_now());
        h.write_u32(std::process::id());
        h.write_usize(i);
        *p = h.finish();
    }
    format!("{:016x}{:016x}", parts[0], parts[1])
}
