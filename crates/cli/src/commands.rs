//! The commands: each a short function over library calls.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use kiln_model::InstanceAddr;
use kiln_plan::{Plan, PlanOptions, Step};
use kiln_state::State;
use kiln_store::{LockInfo, Version};
use tokio_util::sync::CancellationToken;

use crate::args::{
    ApplyCmd, Cli, Command, DestroyCmd, Global, GraphCmd, GraphFormat, OutputCmd, PlanCmd,
    PlanFlags, PlanFormat, RecoverCmd, RunFlags, ShowCmd, StateCmd, UnlockCmd,
};
use crate::output::{Output, Style};
use crate::project::Project;
use crate::render;

/// Runs a command; the exit code on success (0, or 2 for changes with
/// `--detailed-exitcode`).
pub async fn run(cli: Cli, out: &Output) -> Result<u8> {
    let g = &cli.global;
    match cli.command {
        Command::Fmt(cmd) => crate::fmt::run(g.chdir.as_deref(), cmd, out),
        Command::Validate(d) => validate(&Project::open(g, d.dir.as_deref(), &g.env)?, out).await,
        Command::Plan(cmd) => {
            plan_cmd(&Project::open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await
        }
        Command::Apply(cmd) => apply_cmd(g, cmd, out).await,
        Command::Destroy(cmd) => {
            destroy_cmd(&Project::open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await
        }
        Command::Show(cmd) => show_cmd(&Project::open(g, None, &g.env)?, cmd, out).await,
        Command::Output(cmd) => output_cmd(&Project::open(g, None, &g.env)?, cmd, out).await,
        Command::Graph(cmd) => {
            graph_cmd(&Project::open(g, cmd.dir.dir.as_deref(), &g.env)?, cmd, out).await
        }
        Command::State(cmd) => state_cmd(&Project::open(g, None, &g.env)?, cmd, out).await,
        Command::Unlock(cmd) => unlock_cmd(&Project::open(g, None, &g.env)?, cmd, out).await,
        Command::Recover(cmd) => recover_cmd(&Project::open(g, None, &g.env)?, cmd, out).await,
        Command::Env(cmd) => crate::envs::run(g, cmd, out).await,
        Command::Rollback(cmd) => {
            crate::rollback::run(&Project::open(g, None, &g.env)?, cmd, out).await
        }
        Command::Balancer(_) => unreachable!("handled in main before parsing"),
    }
}

async fn validate(project: &Project, out: &Output) -> Result<u8> {
    let (config, warnings) = project.load_config()?;
    out.diagnostics(&warnings);
    // Variables with no value are unknown here: validation checks types,
    // references and cycles for every value they could take, without reading
    // state or calling a provider.
    let mut variables = project.variables(&config, &Default::default())?;
    let registry = project
        .registry(Some(&config), Some(&variables), None)
        .await?;
    for v in &config.variables {
        if v.default.is_none() {
            variables
                .entry(v.name.clone())
                .or_insert(kiln_model::Value::Unknown);
        }
    }
    let options = PlanOptions {
        env: project.env.clone(),
        variables,
        root_dir: project.abs_dir.display().to_string(),
        files: project.files(),
        data_unknown: true,
        ..Default::default()
    };
    kiln_plan::plan(
        &config,
        &State::new(&project.env, ""),
        registry.schemas(),
        &options,
    )?;
    out.line(&format!(
        "{} The configuration is valid ({} resource blocks).",
        out.paint(Style::Green, "Success!"),
        config.resources.len()
    ));
    Ok(0)
}

/// Reads the environment's state, or a new empty one.
pub(crate) async fn read_state(project: &Project) -> Result<(State, Option<Version>)> {
    match project.store.read(&project.env).await? {
        Some(v) => Ok((v.state, Some(v.version))),
        None => Ok((State::new(&project.env, ""), None)),
    }
}

fn parse_addrs(list: &[String], flag: &str) -> Result<Vec<InstanceAddr>> {
    list.iter()
        .map(|s| {
            s.parse::<InstanceAddr>()
                .with_context(|| format!("in {flag}"))
        })
        .collect()
}

/// Runs `read` (a read of the state) while the configuration is parsed:
/// the local store reads on a blocking thread, and at 100,000 resources
/// parsing each takes a few hundred milliseconds. The read's error comes
/// first, as when the two ran one after the other.
async fn with_config<T>(
    project: &Project,
    read: impl Future<Output = Result<T>>,
) -> Result<(T, Loaded)> {
    // `join!` polls `read` first, so the store's blocking read has started
    // before the parse takes this thread.
    let (read, loaded) = tokio::join!(read, async { project.load_config() });
    Ok((read?, loaded?))
}

/// A parsed configuration and its warnings.
type Loaded = (kiln_config::Config, kiln_diag::Diagnostics);

/// Variables, refresh and plan for a loaded configuration.
async fn make_plan(
    project: &Project,
    (config, warnings): &Loaded,
    flags: &PlanFlags,
    destroy: bool,
    state: &mut State,
    out: &Output,
) -> Result<Plan> {
    out.diagnostics(warnings);
    let mut variables = project.variables(config, &flags.vars)?;
    ask_for_missing_variables(config, &mut variables, out)?;
    plan_config(project, config, variables, flags, destroy, state, out).await
}

/// Refreshes and plans a loaded configuration with its variable values.
pub(crate) async fn plan_config(
    project: &Project,
    config: &kiln_config::Config,
    variables: std::collections::BTreeMap<String, kiln_model::Value>,
    flags: &PlanFlags,
    destroy: bool,
    state: &mut State,
    out: &Output,
) -> Result<Plan> {
    let registry = project
        .registry(Some(config), Some(&variables), Some(&*state))
        .await?;
    let mut options = PlanOptions {
        env: project.env.clone(),
        variables,
        replace: parse_addrs(&flags.replace, "--replace")?,
        rebuild: flags.rebuild,
        keep_previous: flags.keep_previous,
        allow_replace: parse_addrs(&flags.allow_replace, "--allow-replace")?,
        allow_destroy: parse_addrs(&flags.allow_destroy, "--allow-destroy")?,
        destroy,
        drifted: Default::default(),
        root_dir: project.abs_dir.display().to_string(),
        files: project.files(),
        data: Default::default(),
        data_unknown: false,
    };
    if flags.refresh && !state.resources.is_empty() {
        let started = Instant::now();
        let report = kiln_engine::refresh(state, &registry, 10).await;
        out.diagnostics(&report.diagnostics);
        if report.diagnostics.has_errors() {
            bail!(
                "refresh failed; fix the errors above, or plan without reading the real objects with --refresh=false"
            );
        }
        for addr in &report.gone {
            out.warn(&format!(
                "{addr} no longer exists outside kiln; it will be created again"
            ));
        }
        for (addr, why) in &report.drifted {
            // The planner explains drift of a traffic switch or a stateful
            // resource itself, at its block (it is not replaced).
            let explained = registry
                .schemas()
                .resource(&addr.resource.ty)
                .is_some_and(|(_, s)| s.traffic_switch || s.stateful);
            if !explained {
                out.warn(&format!("{addr} has drifted: {why}"));
            }
        }
        options.drifted = report.drifted.clone();
        *state = report.state;
        tracing::debug!(elapsed = ?started.elapsed(), "refreshed");
    }
    if !destroy && has_data_sources(config) {
        read_data_sources(config, state, &registry, &mut options).await?;
    }
    let plan = kiln_plan::plan(config, state, registry.schemas(), &options)?;
    for w in &plan.warnings {
        out.diagnostic(w);
    }
    validate_planned(&plan, &registry, config).await?;
    Ok(plan)
}

/// Asks each provider to check what the plan would send it beyond the
/// schema (a CIDR that does not parse, say), so such mistakes stop the plan
/// rather than an apply half-way. Errors are located at the resource block.
async fn validate_planned(
    plan: &Plan,
    registry: &kiln_provider::Registry,
    config: &kiln_config::Config,
) -> Result<()> {
    let mut diags = kiln_diag::Diagnostics::new();
    for a in &plan.actions {
        let Some(after) = &a.after else { continue };
        if a.kind == kiln_plan::ActionKind::NoOp {
            continue;
        }
        let Some(p) = registry.get(&a.provider) else {
            continue;
        };
        let resp = p
            .validate(kiln_provider::ValidateRequest {
                type_name: a.type_name.clone(),
                config: after.clone().into_unmarked(),
            })
            .await;
        if resp.diagnostics.is_empty() {
            continue;
        }
        // Only a resource with something to say is looked up: a scan per
        // action would make planning quadratic.
        let block = config
            .resources
            .iter()
            .find(|r| r.addr.ty == a.type_name && r.addr.name == a.addr.resource.name);
        for d in resp.diagnostics {
            let mut d = d;
            d.summary = format!("{}: {}", a.addr, d.summary);
            if let Some(b) = block
                && d.span.is_none()
            {
                d = d.with_span(b.loc.span());
            }
            diags.push(d);
        }
    }
    if diags.has_errors() {
        return Err(diags.into());
    }
    Ok(())
}

/// Whether the configuration or a module it calls has a `data` block.
fn has_data_sources(config: &kiln_config::Config) -> bool {
    config
        .resources
        .iter()
        .any(|r| r.addr.mode == kiln_model::ResourceMode::Data)
        || config
            .modules
            .iter()
            .filter_map(|m| m.config.as_deref())
            .any(has_data_sources)
}

/// Reads every data source whose configuration is known before planning,
/// round by round (a data source may use another's result), into
/// `options.data`.
async fn read_data_sources(
    config: &kiln_config::Config,
    state: &State,
    registry: &kiln_provider::Registry,
    options: &mut PlanOptions,
) -> Result<()> {
    loop {
        let reads = kiln_plan::data_reads(config, state, registry.schemas(), options)?;
        if reads.is_empty() {
            return Ok(());
        }
        for read in reads {
            let Some(provider) = registry.get(&read.provider) else {
                bail!(
                    "no provider \"{}\" to read {} with",
                    read.provider,
                    read.addr
                );
            };
            let resp = provider
                .read_data(kiln_provider::ReadDataRequest {
                    type_name: read.type_name.clone(),
                    config: read.config.clone(),
                })
                .await;
            if resp.diagnostics.has_errors() {
                return Err(anyhow::Error::from(resp.diagnostics)
                    .context(format!("reading {} failed", read.addr)));
            }
            options.data.insert(read.addr, resp.state);
        }
    }
}

async fn plan_cmd(project: &Project, cmd: PlanCmd, out: &Output) -> Result<u8> {
    let ((mut state, recovering), loaded) =
        with_config(project, state_as_recovered(project, out)).await?;
    if recovering && cmd.out.is_some() {
        bail!(
            "an interrupted apply is still to be recovered, so a saved plan would be stale at once; run `kiln recover` (or `kiln apply`), then plan again"
        );
    }
    let plan = make_plan(project, &loaded, &cmd.flags, cmd.destroy, &mut state, out).await?;
    let format = if cmd.json {
        PlanFormat::Json
    } else {
        cmd.format
    };
    match format {
        PlanFormat::Json => out.line(&serde_json::to_string_pretty(&render::plan_json(&plan))?),
        PlanFormat::Markdown => out.print(&render::plan_markdown(&plan)),
        PlanFormat::Human => out.print(&render::plan_human(out, &plan)),
    }
    if let Some(path) = &cmd.out {
        save_plan(path, &plan)?;
        if format == PlanFormat::Human {
            out.line(&format!(
                "\nSaved the plan to {}. Apply exactly this plan with: kiln apply {}",
                path.display(),
                path.display()
            ));
        }
    }
    let code = if cmd.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    };
    free_at_exit((state, plan, loaded));
    Ok(code)
}

/// Leaves large values to the process's exit instead of freeing them: the
/// command ends next, and freeing 100,000 resources' worth of small
/// allocations one by one costs a tenth of a second the user waits for.
/// Only for values held to the end of a command (the binary runs one).
fn free_at_exit<T>(values: T) {
    std::mem::forget(values);
}

/// The saved plan file: JSON, mode 0600 (it may hold sensitive values),
/// sealed when encryption is on.
fn save_plan(path: &Path, plan: &Plan) -> Result<()> {
    let doc = serde_json::json!({ "kiln_saved_plan": 1, "plan": plan });
    let bytes = kiln_store::seal::Sealer::seal_with(
        crate::project::sealer()?.as_deref(),
        serde_json::to_vec(&doc)?,
    )?;
    write_private(path, &bytes)
        .with_context(|| format!("cannot write the plan to {}", path.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A saved plan holds no ephemeral variable's value: each is taken again
/// from this command's `--var NAME=VALUE` or `KILN_VAR_NAME` (converted to
/// its type when the configuration is evaluated; one not given is reported
/// there as missing).
fn ephemeral_again(plan: &mut Plan, args: &crate::args::VarArgs) {
    for name in &plan.ephemeral_variables {
        let from_flag = args.vars.iter().rev().find_map(|raw| {
            raw.split_once('=')
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.to_string())
        });
        let raw = from_flag
            .or_else(|| std::env::var(format!("KILN_VAR_{name}")).ok())
            .or_else(|| std::env::var(format!("TF_VAR_{name}")).ok());
        if let Some(raw) = raw {
            plan.ephemeral
                .insert(name.clone(), kiln_model::Value::from(raw));
        }
    }
}

fn load_plan(path: &Path) -> Result<Plan> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the plan file {}", path.display()))?;
    let bytes = kiln_store::seal::Sealer::open(
        crate::project::sealer()?.as_deref(),
        &bytes,
        &format!("the plan file {}", path.display()),
    )?;
    #[derive(serde::Deserialize)]
    struct Saved {
        kiln_saved_plan: u32,
        plan: Plan,
    }
    let saved: Saved = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a plan saved by `kiln plan --out`",
            path.display()
        )
    })?;
    if saved.kiln_saved_plan != 1 || saved.plan.format_version > kiln_plan::PLAN_FORMAT_VERSION {
        bail!(
            "{} was saved by a newer kiln (plan format {}); plan again with this version",
            path.display(),
            saved.plan.format_version
        );
    }
    Ok(saved.plan)
}

/// Takes the environment's lock (waiting up to `timeout` for a holder to
/// finish), runs `f`, and releases the lock whatever happens.
pub(crate) async fn with_lock<T>(
    project: &Project,
    command: &str,
    timeout: std::time::Duration,
    out: &Output,
    f: impl AsyncFnOnce() -> Result<T>,
) -> Result<T> {
    let info = LockInfo::for_current_process(command);
    let deadline = Instant::now() + timeout;
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match project.store.lock(&project.env, &info).await {
            Ok(acquired) => {
                if let Some((holder, why)) = acquired.taken_over {
                    out.warn(&format!(
                        "took over the lock on {:?} held by {holder}: {why}",
                        project.env
                    ));
                }
                break;
            }
            Err(kiln_store::StoreError::Locked { .. }) if Instant::now() < deadline => {
                tracing::debug!("{} is locked; waiting", project.env);
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let result = f().await;
    if let Err(e) = project.store.unlock(&project.env, &info.id).await {
        tracing::warn!("could not release the lock: {e}");
    }
    result
}

async fn apply_cmd(g: &Global, cmd: ApplyCmd, out: &Output) -> Result<u8> {
    let (chdir, env) = (g.chdir.as_deref(), g.env.as_str());
    let target = cmd
        .target
        .as_ref()
        .map(|t| chdir.map_or_else(|| t.clone(), |c| c.join(t)));
    if let Some(t) = target.as_ref().filter(|t| t.is_file()) {
        let mut plan = load_plan(t)?;
        ephemeral_again(&mut plan, &cmd.flags.vars);
        let missing: Vec<&String> = plan
            .ephemeral_variables
            .iter()
            .filter(|n| !plan.ephemeral.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            let (config, _) = kiln_config::parse_embedded(&plan.source.files);
            let required: Vec<&str> = missing
                .iter()
                .filter(|n| {
                    config
                        .variables
                        .iter()
                        .any(|v| &v.name == **n && v.default.is_none())
                })
                .map(|n| n.as_str())
                .collect();
            if let Some(first) = required.first() {
                bail!(
                    "the saved plan {} holds no value for the ephemeral variable{} {}: ephemeral values are never saved; give {} again, with --var {first}=VALUE or KILN_VAR_{first}",
                    t.display(),
                    if required.len() == 1 { "" } else { "s" },
                    required.join(", "),
                    if required.len() == 1 { "it" } else { "them" },
                );
            }
        }
        if plan.env != env {
            bail!(
                "the plan in {} is for environment {:?}, not {env:?}; pass --env {}",
                t.display(),
                plan.env,
                plan.env
            );
        }
        let project = match chdir {
            Some(_) => Project::open(g, None, env)?,
            None => Project::open(g, Some(Path::new(&plan.source.root_dir)), env)?,
        };
        return with_lock(&project, "apply", cmd.run.lock_timeout, out, async || {
            let (state, version) = recover_if_needed(&project, out).await?;
            if state.lineage != plan.prior_lineage {
                bail!(
                    "the saved plan {} was made against another state (lineage {}), not the state of {:?} here (lineage {}): it was planned in another directory or backend; run `kiln plan --out` here",
                    t.display(),
                    if plan.prior_lineage.is_empty() { "none yet" } else { &plan.prior_lineage },
                    project.env,
                    if state.lineage.is_empty() { "none yet" } else { &state.lineage },
                );
            }
            if state.serial != plan.prior_serial {
                bail!(
                    "the saved plan {} is stale: the state changed since it was made (it was planned against serial {}, the state is now at serial {}); run `kiln plan --out` again",
                    t.display(),
                    plan.prior_serial,
                    state.serial
                );
            }
            out.print(&render::plan_human(out, &plan));
            if !plan.has_changes() {
                return extend_ttl(&project, state, version, &cmd.run, out).await;
            }
            execute(&project, &plan, None, state, version, &cmd.run, out).await
        })
        .await;
    }
    let project = Project::open(g, cmd.target.as_deref(), env)?;
    with_lock(&project, "apply", cmd.run.lock_timeout, out, async || {
        let ((mut state, version), loaded) =
            with_config(&project, recover_if_needed(&project, out)).await?;
        let plan = make_plan(&project, &loaded, &cmd.flags, false, &mut state, out).await?;
        out.print(&render::plan_human(out, &plan));
        if !plan.has_changes() {
            free_at_exit((plan, loaded));
            return extend_ttl(&project, state, version, &cmd.run, out).await;
        }
        confirm(out, &cmd.run, "Apply these changes?")?;
        let code = execute(
            &project,
            &plan,
            Some(loaded.0),
            state,
            version,
            &cmd.run,
            out,
        )
        .await;
        free_at_exit(plan);
        code
    })
    .await
}

/// An apply with nothing to change still renews `--ttl`: an ephemeral
/// environment that is applied again (a pull request pushed to) must not
/// expire under its users.
async fn extend_ttl(
    project: &Project,
    mut state: State,
    version: Option<Version>,
    run: &RunFlags,
    out: &Output,
) -> Result<u8> {
    let (Some(ttl), Some(version)) = (run.ttl, version) else {
        free_at_exit(state);
        return Ok(0);
    };
    state.expires_at = Some(kiln_store::unix_now() + ttl.as_secs());
    state.serial += 1;
    let summary = format!("expiry set to {} from now", humantime::format_duration(ttl));
    project
        .store
        .write(&project.env, &state, Some(&version), &summary)
        .await
        .context("cannot write the new expiry; nothing else changed")?;
    out.status(&format!(
        "No changes; environment {:?} now expires {} from now.",
        project.env,
        humantime::format_duration(ttl)
    ));
    free_at_exit(state);
    Ok(0)
}

async fn destroy_cmd(project: &Project, cmd: DestroyCmd, out: &Output) -> Result<u8> {
    with_lock(project, "destroy", cmd.run.lock_timeout, out, async || {
        let (mut state, version) = recover_if_needed(project, out).await?;
        if state.is_empty() {
            out.line("Nothing to destroy: the state is empty.");
            return Ok(0);
        }
        let loaded = project.load_config()?;
        let plan = make_plan(project, &loaded, &cmd.flags, true, &mut state, out).await?;
        out.print(&render::plan_human(out, &plan));
        if !plan.has_changes() {
            return Ok(0);
        }
        confirm(out, &cmd.run, "Destroy everything listed above?")?;
        execute(
            project,
            &plan,
            Some(loaded.0),
            state,
            version,
            &cmd.run,
            out,
        )
        .await
    })
    .await
}

pub(crate) fn confirm(out: &Output, run: &RunFlags, question: &str) -> Result<()> {
    use std::io::IsTerminal;
    if run.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so kiln cannot ask for confirmation; pass --yes to apply without asking"
        );
    }
    if !out.confirm(question)? {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}

/// Reads the state; if the last apply died part-way, recovers from its
/// journal first and writes the recovered state. A journal whose apply
/// already wrote its state (only its clean-up was lost) is removed, never
/// replayed.
pub(crate) async fn recover_if_needed(
    project: &Project,
    out: &Output,
) -> Result<(State, Option<Version>)> {
    let (state, version, records) = state_and_journal(project).await?;
    match kiln_state::journal::standing(&state, &records) {
        kiln_state::Standing::Empty => return Ok((state, version)),
        kiln_state::Standing::Folded => {
            out.warn(
                "removing the journal of an earlier apply whose state was already written (its clean-up was interrupted); nothing is replayed",
            );
            clear_journal(project, out).await;
            return Ok((state, version));
        }
        kiln_state::Standing::Pending(_) | kiln_state::Standing::OtherLineage { .. } => {}
    }
    out.warn("the previous apply did not finish; recovering what it did from its journal");
    let mut state = replay(
        project,
        out,
        state,
        &records,
        "recovery of the interrupted apply failed; the journal is kept: fix the errors above and run the command again",
    )
    .await?;
    state.serial += 1;
    let version = project
        .store
        .write(
            &project.env,
            &state,
            version.as_ref(),
            "recovered an interrupted apply",
        )
        .await?;
    kiln_store::faults::crash_point("recover:state-written");
    clear_journal(project, out).await;
    Ok((state, Some(version)))
}

/// The stored state (a new one with the journal's lineage if there is none
/// yet) and the journal found beside it.
async fn state_and_journal(
    project: &Project,
) -> Result<(State, Option<Version>, Vec<kiln_state::JournalRecord>)> {
    let (state, version) = read_state(project).await?;
    let records = project.store.read_journal(&project.env).await?;
    let state = if state.lineage.is_empty() && !records.is_empty() {
        fresh_state(project, &records)
    } else {
        state
    };
    Ok((state, version, records))
}

/// Replays a pending journal onto `state` in memory (providers are asked
/// to find and read only) and reports what was found; fails with `failed`
/// if a call in flight could not be resolved.
async fn replay(
    project: &Project,
    out: &Output,
    state: State,
    records: &[kiln_state::JournalRecord],
    failed: &str,
) -> Result<State> {
    let registry = project.registry(None, None, Some(&state)).await?;
    let report = kiln_engine::recover(state, records, &registry).await;
    for m in &report.messages {
        out.status(&format!("  {m}"));
    }
    out.diagnostics(&report.diagnostics);
    if report.diagnostics.has_errors() {
        bail!("{failed}");
    }
    Ok(report.state)
}

/// Removes the journal of an apply whose state is written. A failure is a
/// warning, not an error: the work is done and recorded, and the next
/// command sees that the journal is folded into the state and discards it.
async fn clear_journal(project: &Project, out: &Output) {
    if let Err(e) = project.store.clear_journal(&project.env).await {
        out.warn(&format!(
            "the state is written, but its journal could not be removed ({e}); the next kiln command removes it, replaying nothing"
        ));
    }
}

/// The state as the next locked command will start from: the stored one
/// with a pending journal recovered in memory (nothing is written). `kiln
/// plan` uses it so that it never proposes to create what an interrupted
/// apply already made. The flag says a recovery is pending.
async fn state_as_recovered(project: &Project, out: &Output) -> Result<(State, bool)> {
    let (state, _, records) = state_and_journal(project).await?;
    if !matches!(
        kiln_state::journal::standing(&state, &records),
        kiln_state::Standing::Pending(_) | kiln_state::Standing::OtherLineage { .. }
    ) {
        return Ok((state, false));
    }
    out.warn(
        "the previous apply did not finish: this plan reads its journal as recovery would; the next apply or destroy records the recovery",
    );
    let state = replay(
        project,
        out,
        state,
        &records,
        "the interrupted apply's journal cannot be read back (errors above); fix them and plan again, or run `kiln apply`, which recovers first",
    )
    .await?;
    Ok((state, true))
}

/// A new state for an environment that has none, keeping the lineage an
/// interrupted first apply journaled, if any.
fn fresh_state(project: &Project, records: &[kiln_state::JournalRecord]) -> State {
    let lineage = records
        .iter()
        .find_map(|r| match r {
            kiln_state::JournalRecord::Begin { lineage, .. } => Some(lineage.clone()),
            _ => None,
        })
        .unwrap_or_else(new_lineage);
    let mut s = State::new(&project.env, lineage);
    s.created_at = kiln_store::unix_now();
    s
}

fn new_lineage() -> String {
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

/// Prints step progress on stderr.
struct Progress<'a> {
    out: &'a Output,
    started: std::sync::Mutex<std::collections::HashMap<usize, Instant>>,
}

impl kiln_engine::Observer for Progress<'_> {
    fn step_started(&self, plan: &Plan, step: &Step) {
        if let Ok(mut m) = self.started.lock() {
            m.insert(step.id, Instant::now());
        }
        let a = &plan.actions[step.action];
        self.out
            .status(&format!("{}: {}...", a.addr, verb(step.op, false)));
    }

    fn step_finished(&self, plan: &Plan, step: &Step, report: &kiln_engine::StepReport) {
        let elapsed = self
            .started
            .lock()
            .ok()
            .and_then(|m| m.get(&step.id).map(|t| t.elapsed()))
            .unwrap_or_default();
        let a = &plan.actions[step.action];
        match &report.error {
            None => self.out.status(&format!(
                "{}: {} ({:.1?})",
                a.addr,
                verb(step.op, true),
                elapsed
            )),
            Some(e) => self.out.status_styled(
                Style::Red,
                &format!("{}: {} failed: {e}", a.addr, verb(step.op, false)),
            ),
        }
    }

    fn rollback_started(&self, undo: &kiln_engine::RolledBack) {
        self.out.status(&format!(
            "{}: rolling back: {} {}...",
            undo.addr,
            rollback_verb(undo.op, false),
            undo.id
        ));
    }

    fn rollback_finished(&self, undo: &kiln_engine::RolledBack) {
        match &undo.error {
            None => self.out.status(&format!(
                "{}: rolled back: {} {}",
                undo.addr,
                rollback_verb(undo.op, true),
                undo.id
            )),
            Some(e) => self.out.status_styled(
                Style::Red,
                &format!(
                    "{}: rolling back ({} {}) failed: {e}",
                    undo.addr,
                    rollback_verb(undo.op, false),
                    undo.id
                ),
            ),
        }
    }
}

fn rollback_verb(op: kiln_engine::RollbackOp, done: bool) -> &'static str {
    match (op, done) {
        (kiln_engine::RollbackOp::Delete, false) => "destroying the new object",
        (kiln_engine::RollbackOp::Delete, true) => "destroyed the new object",
        (kiln_engine::RollbackOp::Revert, false) => "setting back",
        (kiln_engine::RollbackOp::Revert, true) => "set back",
    }
}

fn verb(op: kiln_plan::StepOp, done: bool) -> &'static str {
    use kiln_plan::StepOp::*;
    match (op, done) {
        (Create, false) => "creating",
        (Create, true) => "created",
        (Update, false) => "updating",
        (Update, true) => "updated",
        (Delete, false) | (DeleteDeposed, false) => "destroying",
        (Delete, true) | (DeleteDeposed, true) => "destroyed",
    }
}

/// Applies a plan, writes the resulting state, and reports. `parsed` is
/// the configuration the plan was just made from, if the command holds it
/// (else it is parsed from the plan's copy).
pub(crate) async fn execute(
    project: &Project,
    plan: &Plan,
    parsed: Option<kiln_config::Config>,
    state: State,
    version: Option<Version>,
    run: &RunFlags,
    out: &Output,
) -> Result<u8> {
    // Errors in the plan's copy are the engine's to report (a destroy plan
    // applies even if the configuration no longer parses).
    let (config, parsed) = match parsed {
        Some(c) => (Arc::new(c), true),
        None => {
            let (c, diags) = kiln_config::parse_embedded(&plan.source.files);
            (Arc::new(c), !diags.has_errors())
        }
    };
    let registry = project
        .registry(Some(&config), Some(&plan.variables()), Some(&state))
        .await?;
    let mut state = state;
    if state.lineage.is_empty() {
        state = fresh_state(project, &[]);
    }
    let mut journal = project.store.journal(&project.env).await?;
    let cancel = CancellationToken::new();
    let ctrl_c = {
        let cancel = cancel.clone();
        let out = out.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                out.warn(
                    "interrupted: no new steps will start; waiting for the running ones to finish",
                );
                cancel.cancel();
            }
        })
    };
    // A lock whose lease is lost (taken over, or not renewed in time) stops
    // the apply like Ctrl-C: no new step starts; the state write at the end
    // is still conditional, so nothing another run wrote is overwritten.
    let lock_lost = project.store.lock_lost(&project.env).map(|lost| {
        let cancel = cancel.clone();
        let out = out.clone();
        tokio::spawn(async move {
            lost.cancelled().await;
            out.warn(
                "lost the lock on the state (its lease was taken over or could not be renewed in time): no new steps will start",
            );
            cancel.cancel();
        })
    });
    let options = kiln_engine::ApplyOptions {
        parallelism: run.parallelism,
        cancel: cancel.clone(),
        command: "apply".into(),
        workdir: project.abs_dir.display().to_string(),
        datadir: project.datadir.display().to_string(),
        config: parsed.then_some(config),
    };
    let progress = Progress {
        out,
        started: Default::default(),
    };
    let started = Instant::now();
    let report = kiln_engine::apply(
        plan,
        state,
        &registry,
        journal.as_mut(),
        &progress,
        &options,
    )
    .await;
    ctrl_c.abort();
    if let Some(watch) = &lock_lost {
        watch.abort();
    }
    journal.sync().await?;
    let (success, clean_rollback) = (report.is_success(), report.rolled_back_cleanly());
    let mut new_state = report.state;
    new_state.serial += 1;
    if let Some(ttl) = run.ttl {
        new_state.expires_at = Some(kiln_store::unix_now() + ttl.as_secs());
    }
    let planned = render::Summary::of(plan).past_tense();
    let summary = if success {
        planned.clone()
    } else if clean_rollback {
        format!("failed and rolled back (planned: {planned})")
    } else {
        format!("failed (planned: {planned})")
    };
    project
        .store
        .write(&project.env, &new_state, version.as_ref(), &summary)
        .await
        .context("the apply finished but its state could not be written; the journal keeps what was done, and the next kiln command recovers it")?;
    kiln_store::faults::crash_point("apply:state-written");
    clear_journal(project, out).await;
    kiln_store::faults::crash_point("apply:journal-cleared");
    let elapsed = started.elapsed();
    out.diagnostics(&report.diagnostics);
    if report.failures.is_empty() && !report.cancelled && !report.diagnostics.has_errors() {
        out.status_styled(
            Style::Green,
            &format!("Apply complete: {planned} in {elapsed:.1?}."),
        );
        print_outputs(out, &new_state);
        return Ok(0);
    }
    let (what, again) = if plan.destroy {
        ("destroy", "kiln destroy")
    } else {
        ("apply", "kiln apply")
    };
    for f in &report.failures {
        out.error(&format!(
            "{} ({}): {}",
            f.addr,
            verb(f.op, false),
            f.message
        ));
    }
    if !report.skipped.is_empty() && report.rolled_back.is_empty() {
        // One name per address (a replacement has a create and a delete).
        let names: std::collections::BTreeSet<String> =
            report.skipped.iter().map(|(a, _)| a.to_string()).collect();
        let names: Vec<String> = names.into_iter().collect();
        out.warn(&format!(
            "skipped because something they depend on failed: {}",
            names.join(", ")
        ));
    }
    if clean_rollback {
        let deleted = report
            .rolled_back
            .iter()
            .filter(|r| r.op == kiln_engine::RollbackOp::Delete)
            .count();
        let reverted = report.rolled_back.len() - deleted;
        bail!(
            "{what} failed and was rolled back: the {deleted} object(s) it created were destroyed and {reverted} in-place update(s) set back, so everything is as it was before (traffic stays on the old generation); fix the cause above and run {again} again"
        );
    }
    if !report.rolled_back.is_empty() {
        for r in report.rolled_back.iter().filter(|r| r.error.is_some()) {
            out.error(&format!(
                "{} ({}): not rolled back: {}",
                r.addr,
                r.id,
                r.error.as_deref().unwrap_or_default()
            ));
        }
        bail!(
            "{what} failed and its rollback did not finish; the state records exactly what exists (what could not be rolled back is listed above): fix the cause and run {again} again"
        );
    }
    if report.cancelled {
        bail!(
            "{what} interrupted; the state records exactly what was done; run {again} again to finish"
        );
    }
    if report.failures.is_empty() {
        bail!(
            "{what} failed; the state records exactly what exists; fix the errors above and run {again} again"
        );
    }
    bail!(
        "{what} failed: {} step(s) failed; the state records exactly what exists; fix the cause and run {again} again",
        report.failures.len()
    )
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

async fn show_cmd(project: &Project, cmd: ShowCmd, out: &Output) -> Result<u8> {
    if let Some(path) = &cmd.plan {
        let plan = load_plan(path)?;
        if cmd.json {
            out.line(&serde_json::to_string_pretty(&render::plan_json(&plan))?);
        } else {
            out.print(&render::plan_human(out, &plan));
        }
        return Ok(0);
    }
    let (state, _) = read_state(project).await?;
    if cmd.json {
        let redacted = redact_state(&state);
        out.print(&String::from_utf8_lossy(&kiln_state::format::to_json(
            &redacted,
        )));
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

async fn output_cmd(project: &Project, cmd: OutputCmd, out: &Output) -> Result<u8> {
    let (state, _) = read_state(project).await?;
    if let Some(name) = &cmd.name {
        let Some(o) = state.outputs.get(name) else {
            let known: Vec<&String> = state.outputs.keys().collect();
            bail!(
                "no output named {name:?} in the state of {:?}; outputs: {known:?}",
                project.env
            );
        };
        if cmd.raw {
            match o.value.unmarked() {
                kiln_model::Value::String(s) => out.print(s),
                other => out.line(&serde_json::to_string(
                    &other.clone().into_unmarked().to_plain_json(),
                )?),
            }
        } else if cmd.json {
            out.line(&serde_json::to_string_pretty(
                &o.value.clone().into_unmarked().to_plain_json(),
            )?);
        } else {
            out.line(&o.value.clone().into_unmarked().to_string());
        }
        return Ok(0);
    }
    if cmd.json {
        let doc: serde_json::Map<String, serde_json::Value> = state
            .outputs
            .iter()
            .map(|(k, o)| {
                (k.clone(), serde_json::json!({"value": o.value.clone().into_unmarked().to_plain_json(), "sensitive": o.sensitive}))
            })
            .collect();
        out.line(&serde_json::to_string_pretty(&doc)?);
    } else {
        for (k, o) in &state.outputs {
            let v = if o.sensitive {
                "(sensitive)".into()
            } else {
                o.value.to_string()
            };
            out.line(&format!("{k} = {v}"));
        }
    }
    Ok(0)
}

async fn graph_cmd(project: &Project, cmd: GraphCmd, out: &Output) -> Result<u8> {
    let ((mut state, _), loaded) = with_config(project, read_state(project)).await?;
    let flags = PlanFlags {
        vars: cmd.vars,
        refresh: false,
        ..Default::default()
    };
    let plan = make_plan(project, &loaded, &flags, false, &mut state, out).await?;
    out.print(&render::graph(
        &plan,
        matches!(cmd.format, GraphFormat::Mermaid),
    ));
    Ok(0)
}

async fn state_cmd(project: &Project, cmd: StateCmd, out: &Output) -> Result<u8> {
    match cmd {
        StateCmd::List => {
            let (state, _) = read_state(project).await?;
            for addr in state.resources.keys() {
                out.line(&addr.to_string());
            }
        }
        StateCmd::Show { addr } => {
            let (state, _) = read_state(project).await?;
            let a: InstanceAddr = addr.parse()?;
            let Some(r) = state.resources.get(&a) else {
                bail!(
                    "{a} is not in the state of {:?}; see `kiln state list`",
                    project.env
                );
            };
            let mut one = State::new(&state.env, &state.lineage);
            one.resources.insert(a, r.clone());
            out.print(&render::state_human(&one));
        }
        StateCmd::History { json } => {
            let entries = project.store.history(&project.env).await?;
            if json {
                let doc: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| serde_json::json!({"serial": e.serial, "written_at": e.written_at, "who": e.who, "summary": e.summary, "version": e.version}))
                    .collect();
                out.line(&serde_json::to_string_pretty(&doc)?);
            } else if entries.is_empty() {
                out.line(&format!("No history for {:?} yet.", project.env));
            } else {
                out.line(&format!(
                    "{:>6}  {:<20}  {:<16}  {}",
                    "SERIAL", "WRITTEN", "WHO", "CHANGES"
                ));
                for e in entries {
                    let when = humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.written_at),
                    );
                    out.line(&format!(
                        "{:>6}  {:<20}  {:<16}  {}",
                        e.serial,
                        when.to_string(),
                        e.who,
                        e.summary
                    ));
                }
            }
        }
        StateCmd::Pull {
            file,
            show_sensitive,
        } => {
            let Some(current) = project.store.read(&project.env).await? else {
                bail!(
                    "environment {:?} has no state in {}",
                    project.env,
                    project.store.describe()
                );
            };
            let bytes = kiln_state::format::to_json(&current.state);
            match file {
                Some(path) => {
                    write_private(&path, &bytes)
                        .with_context(|| format!("cannot write the state to {}", path.display()))?;
                    out.status(&format!(
                        "Wrote the state of {:?} (serial {}) to {}.",
                        project.env,
                        current.state.serial,
                        path.display()
                    ));
                }
                None if show_sensitive => out.print(&String::from_utf8_lossy(&bytes)),
                None => {
                    let mut doc: serde_json::Value = serde_json::from_slice(&bytes)?;
                    let hidden = redact_json(&mut doc);
                    out.print(&format!("{}\n", serde_json::to_string_pretty(&doc)?));
                    if hidden > 0 {
                        out.status(&format!(
                            "{hidden} sensitive value(s) shown as {{\"$kiln\": \"redacted\"}}; pull to a FILE, or with --show-sensitive, for a document `kiln state push` accepts"
                        ));
                    }
                }
            }
        }
        StateCmd::Push {
            file,
            force,
            lock_timeout,
        } => return state_push(project, &file, force, lock_timeout, out).await,
    }
    Ok(0)
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

/// Whether a state document holds a value `kiln state pull` redacted.
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

/// `kiln state push FILE`: replaces the state, under the lock, refusing a
/// state of another lineage or an older serial unless forced.
async fn state_push(
    project: &Project,
    file: &Path,
    force: bool,
    lock_timeout: std::time::Duration,
    out: &Output,
) -> Result<u8> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read the state file {}", file.display()))?;
    // A state file copied out of an encrypted store opens with its key.
    let bytes = kiln_store::seal::Sealer::open(
        crate::project::sealer()?.as_deref(),
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
    with_lock(project, "state push", lock_timeout, out, async || {
        let current = project.store.read(&project.env).await?;
        if let Some(current) = &current {
            let cur = &current.state;
            if cur.lineage != pushed.lineage {
                if !force {
                    bail!(
                        "{} is a state of lineage {}, but {:?} holds lineage {}: it belongs to another environment; pass --force to replace it anyway",
                        file.display(),
                        pushed.lineage,
                        project.env,
                        cur.lineage
                    );
                }
                out.warn(&format!(
                    "replacing a state of another lineage; the pushed state continues lineage {}",
                    cur.lineage
                ));
                // The store never writes over another lineage: a forced push
                // continues the environment's own history instead.
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
        pushed.env = project.env.clone();
        let version = current.as_ref().map(|c| c.version.clone());
        let summary = format!("state pushed from {}", file.display());
        project
            .store
            .write(&project.env, &pushed, version.as_ref(), &summary)
            .await?;
        let now = project
            .store
            .read(&project.env)
            .await?
            .map_or(0, |v| v.state.serial);
        out.status(&format!(
            "Pushed {} to {:?} in {} (now serial {now}).",
            file.display(),
            project.env,
            project.store.describe()
        ));
        Ok(0)
    })
    .await
}

async fn unlock_cmd(project: &Project, cmd: UnlockCmd, out: &Output) -> Result<u8> {
    let Some(holder) = project.store.lock_holder(&project.env).await? else {
        bail!("environment {:?} is not locked", project.env);
    };
    out.line(&format!(
        "The lock on {:?} is held by {holder}.",
        project.env
    ));
    if holder.id != cmd.id {
        bail!(
            "the lock's id is {}, not {}: it was released and taken again since; nothing was removed",
            holder.id,
            cmd.id
        );
    }
    match holder.holder_gone() {
        Some(why) => out.line(&format!("Its holder is gone: {why}.")),
        None if !cmd.force => {
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
        None => out.warn("removing a lock whose holder may still be running (--force)"),
    }
    project.store.unlock(&project.env, &cmd.id).await?;
    out.line("Lock removed.");
    Ok(0)
}

/// `kiln recover`: recovers an interrupted apply under the lock.
async fn recover_cmd(project: &Project, cmd: RecoverCmd, out: &Output) -> Result<u8> {
    with_lock(project, "recover", cmd.lock_timeout, out, async || {
        let records = project.store.read_journal(&project.env).await?;
        if records.is_empty() {
            out.line("Nothing to recover: the last apply finished.");
            return Ok(0);
        }
        let (state, _) = recover_if_needed(project, out).await?;
        out.status(&format!(
            "Recovered: the state of {:?} records what the interrupted apply did (serial {}).",
            project.env, state.serial
        ));
        Ok(0)
    })
    .await
}

/// On a terminal, asks for each required variable that has no value yet
/// (an empty answer leaves it missing, which planning then reports with
/// every other missing name). Elsewhere, asks nothing.
fn ask_for_missing_variables(
    config: &kiln_config::Config,
    values: &mut kiln_config::VarValues,
    out: &Output,
) -> Result<()> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    for v in &config.variables {
        if v.default.is_some() || values.contains_key(&v.name) {
            continue;
        }
        let mut question = format!("var.{}\n", v.name);
        if !v.description.is_empty() {
            question.push_str(&format!("  {}\n", v.description));
        }
        question.push_str("\n  Enter a value: ");
        let raw = out.prompt(&question)?;
        if raw.is_empty() {
            continue;
        }
        match kiln_config::parse_var_value(&raw, v.ty.as_ref()) {
            Ok(val) => {
                values.insert(v.name.clone(), val);
            }
            Err(d) => {
                return Err(kiln_diag::Diagnostics::from(
                    d.with_detail(format!("the value typed for var.{}", v.name)),
                )
                .into());
            }
        }
    }
    Ok(())
}
