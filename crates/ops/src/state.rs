//! Changing the stored state by hand: `kiln state push` and `kiln unlock`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kiln_store::LockInfo;

use crate::workspace::sealer;
use crate::{Observer, Workspace, with_lock};

/// `kiln state push FILE`: replaces the environment's state with the file's,
/// under the lock. A state of another lineage, or with an older serial, is
/// refused unless `force` (a forced push continues the environment's own
/// lineage: the store never writes over another). The serial now stored.
///
/// # Errors
/// The file cannot be read or opened, holds values `kiln state pull`
/// redacted, is not a kiln state, or is refused as above; any store error.
pub async fn push_state(
    ws: &Workspace,
    file: &Path,
    force: bool,
    lock_timeout: Duration,
    obs: &dyn Observer,
) -> Result<u64> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read the state file {}", file.display()))?;
    // A state file copied out of an encrypted store opens with its key.
    let bytes = kiln_store::seal::Sealer::open(
        sealer()?.as_deref(),
        &bytes,
        &format!("the state file {}", file.display()),
    )?;
    if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|d| has_redacted(&d)) {
        bail!(
            "{} holds redacted values (it was pulled to the terminal without --show-sensitive): pushing it would lose them; pull with `kiln state pull FILE` or `--show-sensitive` and push that",
            file.display()
        );
    }
    let mut pushed = kiln_state::format::from_json(&bytes).with_context(|| {
        format!(
            "{} is not a kiln state; push a file written by `kiln state pull`",
            file.display()
        )
    })?;
    with_lock(ws, "state push", lock_timeout, obs, async || {
        let current = ws.store.read(&ws.env).await?;
        if let Some(current) = &current {
            let cur = &current.state;
            if cur.lineage != pushed.lineage {
                if !force {
                    bail!(
                        "{} is a state of lineage {}, but {:?} holds lineage {}: it belongs to another environment; pass --force to replace it anyway",
                        file.display(),
                        pushed.lineage,
                        ws.env,
                        cur.lineage
                    );
                }
                obs.warn(&format!(
                    "replacing a state of another lineage; the pushed state continues lineage {}",
                    cur.lineage
                ));
                pushed.lineage = cur.lineage.clone();
            }
            if pushed.serial < cur.serial && !force {
                bail!(
                    "{} has serial {}, older than the stored serial {}: pushing it would lose newer changes; pull again, or pass --force",
                    file.display(),
                    pushed.serial,
                    cur.serial
                );
            }
        }
        pushed.env = ws.env.clone();
        let version = current.as_ref().map(|c| c.version.clone());
        let summary = format!("state pushed from {}", file.display());
        ws.store
            .write(&ws.env, &pushed, version.as_ref(), &summary)
            .await?;
        Ok(ws.store.read(&ws.env).await?.map_or(0, |v| v.state.serial))
    })
    .await
}

/// `kiln state mv FROM TO` (with `to`) or `kiln state rm FROM` (without):
/// renames or forgets what the state holds at an address — a resource
/// instance, a resource (every instance), a module call or a module
/// instance — under the lock, in one conditional write that keeps the
/// previous version in the history (`kiln state history`). A forgotten
/// object is left as it is. What changed and the serial now stored.
///
/// # Errors
/// An address that is not one, nothing at `from`, a `to` the state already
/// holds, a lock held elsewhere; any store error. Nothing is changed then.
pub async fn refactor_state(
    ws: &Workspace,
    from: &str,
    to: Option<&str>,
    lock_timeout: Duration,
    obs: &dyn Observer,
) -> Result<(kiln_plan::moves::Refactoring, u64)> {
    let command = match to {
        Some(to) => format!("state mv {from} {to}"),
        None => format!("state rm {from}"),
    };
    with_lock(ws, &command.clone(), lock_timeout, obs, async || {
        let Some(current) = ws.store.read(&ws.env).await? else {
            bail!("environment {:?} has no state yet", ws.env);
        };
        let change = kiln_plan::moves::resolve_command(&current.state, from, to)
            .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
        let mut state = current.state.clone();
        state.refactor(&change.moves, &change.forgotten);
        ws.store
            .write(&ws.env, &state, Some(&current.version), &command)
            .await?;
        let serial = ws.store.read(&ws.env).await?.map_or(0, |v| v.state.serial);
        Ok((change, serial))
    })
    .await
}

/// Whether a state document holds a value `kiln state pull` redacted
/// (`{"$kiln": "redacted"}`).
fn has_redacted(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => {
            m.get("$kiln").and_then(|t| t.as_str()) == Some("redacted")
                || m.values().any(has_redacted)
        }
        serde_json::Value::Array(items) => items.iter().any(has_redacted),
        _ => false,
    }
}

/// `kiln unlock ID`: removes the environment's lock if its id is `id` and
/// its holder is provably gone, or with `force`. The holder, for messages;
/// `obs` hears why it was removed.
///
/// # Errors
/// Not locked, locked under another id, or a holder that may still run
/// (without `force`); any store error.
pub async fn unlock(ws: &Workspace, id: &str, force: bool, obs: &dyn Observer) -> Result<LockInfo> {
    let Some(holder) = ws.store.lock_holder(&ws.env).await? else {
        bail!("environment {:?} is not locked", ws.env);
    };
    obs.status(&format!("The lock on {:?} is held by {holder}.", ws.env));
    if holder.id != id {
        bail!(
            "the lock's id is {}, not {id}: it was released and taken again since; nothing was removed",
            holder.id,
        );
    }
    match holder.holder_gone() {
        Some(why) => obs.status(&format!("Its holder is gone: {why}.")),
        None if !force => {
            // The lease as written by its holder's last renewal; how long
            // a lease lasts is the holder's setting, not this process's.
            let fresh = match holder.expires {
                Some(expires) => format!(
                    "its lease runs {}s more",
                    expires.saturating_sub(kiln_store::unix_now())
                ),
                None => "kiln cannot tell that its process has ended".to_string(),
            };
            bail!(
                "refusing to remove a lock whose holder may still be running ({fresh}); removing it lets two runs change the environment at once. Wait for it, or pass --force if you are sure it is gone"
            );
        }
        None => obs.warn("removing a lock whose holder may still be running (--force)"),
    }
    ws.store.unlock(&ws.env, id).await?;
    Ok(holder)
}
