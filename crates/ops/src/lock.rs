//! The environment's lock around an operation.

use std::time::{Duration, Instant};

use anyhow::Result;
use kiln_store::LockInfo;

use crate::{Observer, Workspace};

/// Takes the environment's lock for `command` (waiting up to `timeout` for
/// a holder to finish, retrying with backoff from 250 ms to 5 s), runs `f`,
/// and releases the lock whatever `f` returns. A lock whose holder is
/// provably gone is taken over, with a warning.
///
/// # Errors
/// `StoreError::Locked` once `timeout` has passed with the lock still held;
/// any store error; whatever `f` returns.
pub async fn with_lock<T>(
    ws: &Workspace,
    command: &str,
    timeout: Duration,
    obs: &dyn Observer,
    f: impl AsyncFnOnce() -> Result<T>,
) -> Result<T> {
    let info = LockInfo::for_current_process(command);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(250);
    loop {
        match ws.store.lock(&ws.env, &info).await {
            Ok(acquired) => {
                if let Some((holder, why)) = acquired.taken_over {
                    obs.warn(&format!(
                        "took over the lock on {:?} held by {holder}: {why}",
                        ws.env
                    ));
                }
                break;
            }
            Err(kiln_store::StoreError::Locked { .. }) if Instant::now() < deadline => {
                tracing::debug!("{} is locked; waiting", ws.env);
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let result = f().await;
    if let Err(e) = ws.store.unlock(&ws.env, &info.id).await {
        tracing::warn!("could not release the lock: {e}");
    }
    result
}
