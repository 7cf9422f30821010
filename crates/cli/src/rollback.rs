//! `kiln rollback`: back to the previous generation in seconds, or with
//! `--to N` to any generation recorded in the state history
//! ([`kiln_ops::rollback`]).

use anyhow::Result;
use kiln_ops::{RollbackOptions, Workspace};

use crate::args::RollbackCmd;
use crate::output::{Output, Style};
use crate::report::Reporter;

pub async fn run(ws: &Workspace, cmd: RollbackCmd, out: &Output) -> Result<u8> {
    let options = RollbackOptions {
        to: cmd.to,
        refresh: cmd.refresh,
        keep_previous: cmd.keep_previous,
        apply: cmd.run.options(),
    };
    let done = kiln_ops::rollback(ws, &options, &Reporter::approved(out, cmd.run.yes)).await?;
    let state = &done.state;
    let kept = match &state.previous {
        Some(p) => format!("; generation {} is kept for `kiln rollback`", p.generation),
        None => String::new(),
    };
    out.status_styled(
        Style::Green,
        &format!(
            "Rolled back: generation {} of {:?} is current{kept}.",
            state.current_generation(),
            ws.env,
        ),
    );
    if let Some(n) = done.recreated {
        out.status(&format!(
            "Generation {n} was recreated as generation {}.",
            state.current_generation()
        ));
    }
    Ok(0)
}
