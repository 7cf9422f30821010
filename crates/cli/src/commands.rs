//! The commands: each parses its flags, calls one operation of
//! [`kiln_ops`], and renders what it returns.

use std::path::Path;

use anyhow::{Context, Result, bail};
use kiln_model::InstanceAddr;
use kiln_ops::{Applied, Workspace};
use kiln_state::State;

use crate::args::{
    ApplyCmd, Cli, Command, ConsoleCmd, DestroyCmd, Global, GraphCmd, GraphFormat, OutputCmd,
    PlanCmd, PlanFormat, RecoverCmd, ShowCmd, StateCmd, UnlockCmd,
};
use crate::output::{Output, Style};
use crate::render;
use crate::report::Reporter;
use crate::workspace::open;

/// Runs a command; the exit code on success (0, or 2 for changes with
/// `--detailed-exitcode`).
pub async fn run(cli: Cli, out: &Output) -> Result<u8> {
    let g = &cli.global;
    let here = || open(g, None, &g.env);
    match cli.command {
        Command::Fmt(cmd) => crate::fmt::run(g.chdir.as_deref(), cmd, out),
        Command::Validate(d) => validate(&open(g, d.dir.as_deref(), &g.env)?, out).await,
        Command::Init(d) => {
            let ws = open(g, d.dir.as_deref(), &g.env)?;
            let done = kiln_ops::init(&ws)?;
            for m in &done {
                let at = match &m.version {
                    Some(v) => format!("{v} (commit {})", &m.commit[..m.commit.len().min(12)]),
                    None => m.commit[..m.commit.len().min(12)].to_string(),
                };
                out.status(&format!(
                    "{} {} at {at}",
                    if m.cached { "Using" } else { "Downloaded" },
                    m.source,
                ));
            }
            out.status(&format!(
                "kiln is initialized ({} module source(s) pinned in .kiln/modules.lock.json).",
                done.len()
            ));
            Ok(0)
        }
        Command::Plan(cmd) => plan_cmd(&open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await,
        Command::Apply(cmd) => apply_cmd(g, cmd, out).await,
        Command::Destroy(cmd) => {
            destroy_cmd(&open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await
        }
        Command::Show(cmd) => show_cmd(&here()?, cmd, out).await,
        Command::Output(cmd) => output_cmd(&here()?, cmd, out).await,
        Command::Graph(cmd) => graph_cmd(&open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await,
        Command::Import(cmd) => {
            let ws = open(g, cmd.dir.dir.as_deref(), &g.env)?;
            let reporter = Reporter::asking(out);
            let r = kiln_ops::import_one(
                &ws,
                &cmd.addr,
                &cmd.id,
                &cmd.vars.inputs(),
                cmd.lock_timeout,
                &reporter,
            )
            .await?;
            out.status(&format!(
                "Imported {} (id {}) into {:?}; run `kiln plan` to see what would change.",
                r.addr, r.id, ws.env
            ));
            Ok(0)
        }
        Command::Console(cmd) => {
            console_cmd(&open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await
        }
        Command::State(cmd) => state_cmd(&here()?, cmd, out).await,
        Command::Unlock(cmd) => unlock_cmd(&here()?, cmd, out).await,
        Command::Recover(cmd) => recover_cmd(&here()?, cmd, out).await,
        Command::Env(cmd) => crate::envs::run(g, cmd, out).await,
        Command::Rollback(cmd) => crate::rollback::run(&here()?, cmd, out).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kiln", &mut script);
            out.print(&String::from_utf8_lossy(&script));
            Ok(0)
        }
        Command::Balancer(_) => unreachable!("handled in main before parsing"),
    }
}

/// `kiln console`: one expression per line of standard input, each value
/// printed as Terraform's console prints it; an error is printed and the
/// session goes on (the exit code is then 1).
async fn console_cmd(ws: &Workspace, cmd: ConsoleCmd, out: &Output) -> Result<u8> {
    use std::io::BufRead as _;
    let reporter = Reporter::asking(out);
    let console = kiln_ops::console(ws, &cmd.vars.inputs(), &reporter).await?;
    let mut failed = false;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "exit" {
            break;
        }
        match console.eval(line, &reporter).await {
            Ok(kiln_ops::ConsoleValue::Sensitive) => out.line("(sensitive value)"),
            Ok(kiln_ops::ConsoleValue::Value(v)) => out.line(&render::console_value(&v, 0)),
            Err(e) => {
                failed = true;
                out.error(&format!("{e:#}"));
            }
        }
    }
    Ok(u8::from(failed))
}

async fn validate(ws: &Workspace, out: &Output) -> Result<u8> {
    let blocks = kiln_ops::validate(ws, &Reporter::asking(out)).await?;
    out.line(&format!(
        "{} The configuration is valid ({blocks} resource blocks).",
        out.paint(Style::Green, "Success!"),
    ));
    Ok(0)
}

async fn plan_cmd(ws: &Workspace, cmd: PlanCmd, out: &Output) -> Result<u8> {
    let request = kiln_ops::PlanRequest {
        destroy: cmd.destroy,
        ..cmd.flags.request()
    };
    let planned = kiln_ops::plan(ws, &request, &Reporter::asking(out)).await?;
    if planned.recovery_pending && cmd.out.is_some() {
        bail!(
            "an interrupted apply is still to be recovered, so a saved plan would be stale at once; run `kiln recover` (or `kiln apply`), then plan again"
        );
    }
    let plan = &planned.plan;
    let format = if cmd.json {
        PlanFormat::Json
    } else {
        cmd.format
    };
    match format {
        PlanFormat::Json => out.line(&serde_json::to_string_pretty(&render::plan_json(plan))?),
        PlanFormat::Markdown => out.print(&render::plan_markdown(plan)),
        PlanFormat::Human => render::print_plan(out, plan),
    }
    if let Some(path) = &cmd.out {
        kiln_ops::save_plan(path, plan)?;
        if format == PlanFormat::Human {
            let p = path.display();
            out.line(&format!(
                "\nSaved the plan to {p}. Apply exactly this plan with: kiln apply {p}"
            ));
        }
    }
    let code = u8::from(cmd.detailed_exitcode && plan.has_changes()) * 2;
    ws.release(planned);
    Ok(code)
}

async fn apply_cmd(g: &Global, cmd: ApplyCmd, out: &Output) -> Result<u8> {
    let reporter = Reporter::approved(out, cmd.run.yes).with_json_events(cmd.run.json);
    let target =
        (cmd.target.as_ref()).map(|t| g.chdir.as_ref().map_or_else(|| t.clone(), |c| c.join(t)));
    let applied = match target.filter(|t| t.is_file()) {
        Some(file) => {
            let saved = kiln_ops::load_plan(&file, &cmd.flags.vars.inputs())?;
            // A saved plan applies in the directory it was made in, unless
            // -C says where.
            let dir = Path::new(&saved.plan.source.root_dir);
            let ws = open(g, g.chdir.is_none().then_some(dir), &g.env)?;
            kiln_ops::apply_saved(&ws, &saved, &cmd.run.options(), &reporter).await?
        }
        None => {
            let ws = open(g, cmd.target.as_deref(), &g.env)?;
            let request = cmd.flags.request();
            kiln_ops::apply(&ws, &request, &cmd.run.options(), &reporter).await?
        }
    };
    applied_cmd(&g.env, applied, cmd.run.json, out)
}

async fn destroy_cmd(ws: &Workspace, cmd: DestroyCmd, out: &Output) -> Result<u8> {
    let reporter = Reporter::approved(out, cmd.run.yes).with_json_events(cmd.run.json);
    let request = cmd.flags.request();
    let applied = kiln_ops::destroy(ws, &request, &cmd.run.options(), &reporter).await?;
    applied_cmd(&ws.env, applied, cmd.run.json, out)
}

/// Renders what an apply or destroy did (`json`: as the `applied` event,
/// docs/apply-events.md).
pub fn applied_cmd(env: &str, applied: Applied, json: bool, out: &Output) -> Result<u8> {
    match applied {
        Applied::Unchanged {
            expiry_renewed: Some(ttl),
        } => out.status(&format!(
            "No changes; environment {env:?} now expires {} from now.",
            humantime::format_duration(ttl)
        )),
        Applied::Unchanged { .. } => {}
        Applied::NothingToDestroy => out.line("Nothing to destroy: the state is empty."),
        Applied::Done(done) => {
            let what = if done.destroy { "Destroy" } else { "Apply" };
            out.status_styled(
                Style::Green,
                &format!("{what} complete: {} in {:.1?}.", done.summary, done.elapsed),
            );
            if json {
                let outputs: serde_json::Map<String, serde_json::Value> = done
                    .state
                    .outputs
                    .iter()
                    .map(|(k, o)| {
                        let v = if o.sensitive {
                            serde_json::json!({"$kiln": "redacted"})
                        } else {
                            o.value.to_plain_json()
                        };
                        (k.clone(), v)
                    })
                    .collect();
                out.line(
                    &serde_json::json!({
                        "event": "applied",
                        "destroy": done.destroy,
                        "summary": done.summary.to_string(),
                        "elapsed_ms": done.elapsed.as_millis() as u64,
                        "outputs": outputs,
                    })
                    .to_string(),
                );
            } else {
                print_outputs(out, &done.state);
            }
            std::mem::forget(done);
        }
    }
    Ok(0)
}

fn print_outputs(out: &Output, state: &State) {
    if state.outputs.is_empty() {
        return;
    }
    out.line("\nOutputs:");
    for (k, o) in &state.outputs {
        let v = if o.sensitive {
            "(sensitive)".into()
        } else {
            o.value.to_string()
        };
        out.line(&format!("  {k} = {v}"));
    }
}

async fn show_cmd(ws: &Workspace, cmd: ShowCmd, out: &Output) -> Result<u8> {
    if let Some(path) = &cmd.plan {
        let saved = kiln_ops::load_plan(path, &Default::default())?;
        if cmd.json {
            out.line(&serde_json::to_string_pretty(&render::plan_json(
                &saved.plan,
            ))?);
        } else {
            render::print_plan(out, &saved.plan);
        }
        return Ok(0);
    }
    let (state, _) = kiln_ops::read_state(ws).await?;
    if cmd.json {
        let json = kiln_state::format::to_json(&redact_state(&state));
        out.print(&String::from_utf8_lossy(&json));
    } else {
        out.print(&render::state_human(&state));
    }
    Ok(0)
}

/// The state as `show --json` prints it: every sensitive value — of
/// current, deposed and kept objects, outputs and recorded variables —
/// replaced by its mark.
fn redact_state(state: &State) -> State {
    let mut s = state.clone();
    for r in s.resources.values_mut() {
        r.attributes = r.attributes.redacted();
    }
    for r in s.deposed.iter_mut() {
        r.attributes = r.attributes.redacted();
    }
    let mut sources: Vec<&mut kiln_state::AppliedSource> = s.source.iter_mut().collect();
    if let Some(previous) = &mut s.previous {
        for r in previous.resources.iter_mut() {
            r.attributes = r.attributes.redacted();
        }
        for o in previous.outputs.values_mut() {
            o.value = o.value.redacted();
        }
        sources.extend(previous.source.iter_mut());
    }
    for source in sources {
        for v in source.variables.values_mut() {
            *v = v.redacted();
        }
    }
    for o in s.outputs.values_mut() {
        o.value = o.value.redacted();
    }
    s
}

async fn output_cmd(ws: &Workspace, cmd: OutputCmd, out: &Output) -> Result<u8> {
    let (mut state, version) = kiln_ops::read_state(ws).await?;
    let recorded = !state.outputs.is_empty();
    // An output whose value is null is not there, as in Terraform (its state
    // keeps no null output: `terraform output NAME` says "not found").
    state
        .outputs
        .retain(|_, o| !matches!(o.value.to_unmarked(), kiln_model::Value::Null));
    // Outputs are recorded by an apply that succeeds; before the first one,
    // `{}` would read as "applied, and there are none".
    if !recorded && state.source.is_none() {
        let why = match version {
            None => "it has never been applied",
            Some(_) => "no apply has succeeded there yet",
        };
        bail!(
            "no outputs in the state of {:?}: {why}; run `kiln apply` first",
            ws.env
        );
    }
    let Some(name) = &cmd.name else {
        return all_outputs(&state, cmd.json, out);
    };
    let Some(o) = state.outputs.get(name) else {
        let known: Vec<&String> = state.outputs.keys().collect();
        bail!(
            "no output named {name:?} in the state of {:?}; outputs: {known:?}",
            ws.env
        );
    };
    let value = o.value.to_unmarked();
    match (&value, cmd.raw, cmd.json) {
        (kiln_model::Value::String(s), true, _) => out.print(s),
        (_, true, _) => out.line(&serde_json::to_string(&value.to_plain_json())?),
        (_, false, true) => {
            out.line(&kiln_config::json_indented(&value).map_err(anyhow::Error::msg)?)
        }
        (_, false, false) => out.line(&value.to_string()),
    }
    Ok(0)
}

/// `kiln output` without a name: every output, sensitive ones hidden
/// unless `--json`.
fn all_outputs(state: &State, json: bool, out: &Output) -> Result<u8> {
    if json {
        // As `terraform output -json` prints it (exact numbers, Go's
        // escaping), without Terraform's `type`.
        let doc = kiln_model::Value::map(state.outputs.iter().map(|(k, o)| {
            (
                k.clone(),
                kiln_model::Value::map([
                    ("sensitive", kiln_model::Value::Bool(o.sensitive)),
                    ("value", o.value.to_unmarked()),
                ]),
            )
        }));
        out.line(&kiln_config::json_indented(&doc).map_err(anyhow::Error::msg)?);
        return Ok(0);
    }
    if state.outputs.is_empty() {
        out.warn("no outputs: the configuration applied last declares none");
    }
    for (k, o) in &state.outputs {
        let v = if o.sensitive {
            "(sensitive)".into()
        } else {
            o.value.to_string()
        };
        out.line(&format!("{k} = {v}"));
    }
    Ok(0)
}

async fn graph_cmd(ws: &Workspace, cmd: GraphCmd, out: &Output) -> Result<u8> {
    let request = kiln_ops::PlanRequest {
        vars: cmd.vars.inputs(),
        refresh: false,
        ..Default::default()
    };
    let planned = kiln_ops::plan(ws, &request, &Reporter::asking(out)).await?;
    let mermaid = matches!(cmd.format, GraphFormat::Mermaid);
    out.print(&render::graph(&planned.plan, mermaid));
    Ok(0)
}

async fn state_cmd(ws: &Workspace, cmd: StateCmd, out: &Output) -> Result<u8> {
    match cmd {
        StateCmd::List => {
            let (state, _) = kiln_ops::read_state(ws).await?;
            for addr in state.resources.keys() {
                out.line(&addr.to_string());
            }
        }
        StateCmd::Show { addr } => state_show(ws, &addr, out).await?,
        StateCmd::History { json } => state_history(ws, json, out).await?,
        StateCmd::Pull {
            file,
            show_sensitive,
        } => state_pull(ws, file.as_deref(), show_sensitive, out).await?,
        StateCmd::ImportTerraform {
            file,
            vars,
            lock_timeout,
        } => {
            let reporter = Reporter::asking(out);
            let done =
                kiln_ops::import_terraform(ws, &file, &vars.inputs(), lock_timeout, &reporter)
                    .await?;
            for (addr, id) in &done.adopted {
                out.status(&format!("Adopted {addr} (id {id})."));
            }
            for (addr, why) in &done.skipped {
                out.warn(&format!("Left {addr}: {why}."));
            }
            out.status(&format!(
                "Imported {} object(s) into {:?} (serial {}), {} left out; nothing was created or deleted. Run `kiln plan` to see what kiln would change.",
                done.adopted.len(),
                ws.env,
                done.serial,
                done.skipped.len()
            ));
        }
        StateCmd::Mv {
            source,
            destination,
            lock_timeout,
        } => {
            let reporter = Reporter::asking(out);
            let (change, serial) =
                kiln_ops::refactor_state(ws, &source, Some(&destination), lock_timeout, &reporter)
                    .await?;
            for m in &change.moves {
                out.status(&format!("Moved {} to {}.", m.from, m.to));
            }
            out.status(&format!(
                "{} moved in {:?} (now serial {serial}; the previous state is in `kiln state history`).",
                change.moves.len(),
                ws.env
            ));
        }
        StateCmd::Rm {
            addresses,
            lock_timeout,
        } => {
            let reporter = Reporter::asking(out);
            let mut serial = 0;
            for addr in &addresses {
                let (change, s) =
                    kiln_ops::refactor_state(ws, addr, None, lock_timeout, &reporter).await?;
                serial = s;
                for a in &change.forgotten {
                    out.status(&format!(
                        "Removed {a} from the state (the object is left as it is)."
                    ));
                }
            }
            out.status(&format!(
                "Now serial {serial} in {:?}; the previous state is in `kiln state history`.",
                ws.env
            ));
        }
        StateCmd::Push {
            file,
            force,
            lock_timeout,
        } => {
            let reporter = Reporter::asking(out);
            let serial = kiln_ops::push_state(ws, &file, force, lock_timeout, &reporter).await?;
            out.status(&format!(
                "Pushed {} to {:?} in {} (now serial {serial}).",
                file.display(),
                ws.env,
                ws.store.describe()
            ));
        }
    }
    Ok(0)
}

async fn state_show(ws: &Workspace, addr: &str, out: &Output) -> Result<()> {
    let (state, _) = kiln_ops::read_state(ws).await?;
    let a: InstanceAddr = addr.parse()?;
    let Some(r) = state.resources.get(&a) else {
        bail!(
            "{a} is not in the state of {:?}; see `kiln state list`",
            ws.env
        );
    };
    let mut one = State::new(&state.env, &state.lineage);
    one.resources.insert(a, r.clone());
    out.print(&render::state_human(&one));
    Ok(())
}

async fn state_history(ws: &Workspace, json: bool, out: &Output) -> Result<()> {
    let entries = ws.store.history(&ws.env).await?;
    if json {
        let doc: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| serde_json::json!({"serial": e.serial, "written_at": e.written_at, "who": e.who, "summary": e.summary, "version": e.version}))
            .collect();
        out.line(&serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if entries.is_empty() {
        out.line(&format!("No history for {:?} yet.", ws.env));
        return Ok(());
    }
    let row = |serial: &str, when: &str, who: &str, what: &str| {
        format!("{serial:>6}  {when:<20}  {who:<16}  {what}")
    };
    out.line(&row("SERIAL", "WRITTEN", "WHO", "CHANGES"));
    for e in entries {
        let when = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.written_at),
        );
        out.line(&row(
            &e.serial.to_string(),
            &when.to_string(),
            &e.who,
            &e.summary,
        ));
    }
    Ok(())
}

async fn state_pull(
    ws: &Workspace,
    file: Option<&Path>,
    show_sensitive: bool,
    out: &Output,
) -> Result<()> {
    let Some(current) = ws.store.read(&ws.env).await? else {
        bail!(
            "environment {:?} has no state in {}",
            ws.env,
            ws.store.describe()
        );
    };
    let bytes = kiln_state::format::to_json(&current.state);
    if let Some(path) = file {
        kiln_ops::write_private(path, &bytes)
            .with_context(|| format!("cannot write the state to {}", path.display()))?;
        out.status(&format!(
            "Wrote the state of {:?} (serial {}) to {}.",
            ws.env,
            current.state.serial,
            path.display()
        ));
        return Ok(());
    }
    if show_sensitive {
        out.print(&String::from_utf8_lossy(&bytes));
        return Ok(());
    }
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes)?;
    let hidden = redact_json(&mut doc);
    out.print(&format!("{}\n", serde_json::to_string_pretty(&doc)?));
    if hidden > 0 {
        out.status(&format!(
            "{hidden} sensitive value(s) shown as {{\"$kiln\": \"redacted\"}}; pull to a FILE, or with --show-sensitive, for a document `kiln state push` accepts"
        ));
    }
    Ok(())
}

/// Replaces every sensitive value of a state document
/// (`{"$kiln": "sensitive", ...}`) by `{"$kiln": "redacted"}`; how many.
fn redact_json(v: &mut serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("$kiln").and_then(|t| t.as_str()) == Some("sensitive") {
                *v = serde_json::json!({"$kiln": "redacted"});
                return 1;
            }
            m.values_mut().map(redact_json).sum()
        }
        serde_json::Value::Array(items) => items.iter_mut().map(redact_json).sum(),
        _ => 0,
    }
}

async fn unlock_cmd(ws: &Workspace, cmd: UnlockCmd, out: &Output) -> Result<u8> {
    kiln_ops::unlock(ws, &cmd.id, cmd.force, &Reporter::asking(out)).await?;
    out.line("Lock removed.");
    Ok(0)
}

async fn recover_cmd(ws: &Workspace, cmd: RecoverCmd, out: &Output) -> Result<u8> {
    match kiln_ops::recover(ws, cmd.lock_timeout, &Reporter::asking(out)).await? {
        None => out.line("Nothing to recover: the last apply finished."),
        Some(state) => out.status(&format!(
            "Recovered: the state of {:?} records what the interrupted apply did (serial {}).",
            ws.env, state.serial
        )),
    }
    Ok(0)
}
