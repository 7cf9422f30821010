//! Planning: variables, refresh, data sources, the planner, and the
//! providers' own checks of what the plan would send them.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use kiln_config::Config;
use kiln_diag::Diagnostics;
use kiln_model::{InstanceAddr, Value};
use kiln_plan::{Plan, PlanOptions};
use kiln_provider::Registry;
use kiln_state::State;

use crate::recover::state_as_recovered;
use crate::{Observer, VarInputs, Workspace};

/// What to plan: the flags `plan`, `apply` and `destroy` share.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub vars: VarInputs,
    /// Read every object back through its provider first (drift, gone
    /// objects); Terraform's `-refresh`.
    pub refresh: bool,
    /// Addresses to replace although nothing changed (`--replace`).
    pub replace: Vec<String>,
    /// Replace every stateless resource: a new generation (`--rebuild`).
    pub rebuild: bool,
    /// Keep the replaced generation running for `kiln rollback`.
    pub keep_previous: bool,
    /// Stateful resources the user allows to be replaced / destroyed.
    pub allow_replace: Vec<String>,
    pub allow_destroy: Vec<String>,
    /// Plan the destruction of everything in the state.
    pub destroy: bool,
    /// `--target` / `--exclude` addresses: a partial plan.
    pub target: Vec<String>,
    pub exclude: Vec<String>,
}

impl Default for PlanRequest {
    fn default() -> Self {
        PlanRequest {
            vars: VarInputs::default(),
            refresh: true,
            replace: Vec::new(),
            rebuild: false,
            keep_previous: false,
            allow_replace: Vec::new(),
            allow_destroy: Vec::new(),
            destroy: false,
            target: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// A parsed configuration, its warnings, and its dependency analysis when
/// it was made ahead (see [`with_config`]).
pub(crate) type Loaded = (Config, Diagnostics, Option<kiln_plan::Analyzed>);

/// A plan made by [`plan`].
pub struct Planned {
    pub plan: Plan,
    /// An interrupted apply's journal was read as recovery would read it:
    /// the next locked command records the recovery, so a plan saved now
    /// would be stale at once.
    pub recovery_pending: bool,
}

/// `kiln validate`: checks types, references and cycles of the
/// configuration for every value its unset variables could take, without
/// reading state or calling a provider beyond its schema. The number of
/// resource blocks.
pub async fn validate(ws: &Workspace, obs: &dyn Observer) -> Result<usize> {
    let (config, warnings) = ws.load_config()?;
    obs.diagnostics(&warnings);
    let mut variables = ws.variables(&config, &VarInputs::default(), obs)?;
    let registry = ws.registry(Some(&config), Some(&variables), None).await?;
    crate::workspace::unset_as_unknown(&config, &mut variables);
    let options = PlanOptions {
        env: ws.env.clone(),
        variables,
        root_dir: ws.abs_dir.display().to_string(),
        files: ws.files(),
        data_unknown: true,
        ..Default::default()
    };
    kiln_plan::plan(
        &config,
        &State::new(&ws.env, ""),
        registry.schemas(),
        &options,
    )?;
    Ok(config.resources.len())
}

/// `kiln plan`: the plan against the state as the next apply will find it
/// (an interrupted apply's journal read as recovery would, nothing
/// written). Takes no lock.
pub async fn plan(ws: &Workspace, request: &PlanRequest, obs: &dyn Observer) -> Result<Planned> {
    let ((mut state, recovery_pending), loaded) =
        with_config(ws, state_as_recovered(ws, obs)).await?;
    let plan = make_plan(ws, &loaded, request, &mut state, obs).await?;
    ws.release((state, loaded));
    Ok(Planned {
        plan,
        recovery_pending,
    })
}

/// Runs `read` (a read of the state) while the configuration is parsed
/// and its dependencies analyzed ([`kiln_plan::analyze`], which needs no
/// state): the local store reads on a blocking thread, and at 100,000
/// resources parsing each takes a few hundred milliseconds. The read's
/// error comes first, as when the two ran one after the other.
pub(crate) async fn with_config<T>(
    ws: &Workspace,
    read: impl Future<Output = Result<T>>,
) -> Result<(T, Loaded)> {
    // `join!` polls `read` first, so the store's blocking read has started
    // before the parse takes this thread.
    let (read, loaded) = tokio::join!(read, async {
        let (config, warnings) = ws.load_config()?;
        let analyzed = kiln_plan::analyze(&config);
        anyhow::Ok((config, warnings, analyzed))
    });
    Ok((read?, loaded?))
}

/// Variables (asking on a terminal for missing ones), refresh and plan for
/// a loaded configuration.
pub(crate) async fn make_plan(
    ws: &Workspace,
    (config, warnings, analyzed): &Loaded,
    request: &PlanRequest,
    state: &mut State,
    obs: &dyn Observer,
) -> Result<Plan> {
    obs.diagnostics(warnings);
    let mut variables = ws.variables(config, &request.vars, obs)?;
    ask_for_missing_variables(config, &mut variables, obs)?;
    plan_config(
        ws,
        config,
        analyzed.as_ref(),
        variables,
        request,
        state,
        obs,
    )
    .await
}

/// Refreshes `state` (with `request.refresh`), reads the data sources and
/// plans a configuration with its variable values (and its analysis, when
/// [`kiln_plan::analyze`] made it ahead of this `config`); the providers
/// then check what the plan would send them.
pub async fn plan_config(
    ws: &Workspace,
    config: &Config,
    analyzed: Option<&kiln_plan::Analyzed>,
    variables: BTreeMap<String, Value>,
    request: &PlanRequest,
    state: &mut State,
    obs: &dyn Observer,
) -> Result<Plan> {
    let registry = ws
        .registry(Some(config), Some(&variables), Some(&*state))
        .await?;
    let mut options = PlanOptions {
        env: ws.env.clone(),
        variables,
        replace: parse_addrs(&request.replace, "--replace")?,
        rebuild: request.rebuild,
        keep_previous: request.keep_previous,
        allow_replace: parse_addrs(&request.allow_replace, "--allow-replace")?,
        allow_destroy: parse_addrs(&request.allow_destroy, "--allow-destroy")?,
        destroy: request.destroy,
        drifted: Default::default(),
        root_dir: ws.abs_dir.display().to_string(),
        files: ws.files(),
        data: Default::default(),
        data_unknown: false,
        target: selectors(&request.target, "--target")?,
        exclude: selectors(&request.exclude, "--exclude")?,
        threads: 0,
    };
    if request.refresh && !state.resources.is_empty() {
        refresh(state, &registry, &mut options, obs).await?;
    }
    // `import` blocks: objects adopted by id before planning.
    let imported = if request.destroy || config.imports.is_empty() {
        Vec::new()
    } else {
        let wanted = crate::import::import_targets(config, &options.variables)?;
        crate::import::adopt_by_id(
            ws,
            config,
            &options.variables,
            state,
            &registry,
            &wanted,
            obs,
        )
        .await?
    };
    if !request.destroy && has_data_sources(config) {
        read_data_sources(config, state, &registry, &mut options).await?;
    }
    let mut plan = kiln_plan::plan_analyzed(config, analyzed, state, registry.schemas(), &options)?;
    plan.imported = imported;
    for w in &plan.warnings {
        obs.diagnostic(w);
    }
    validate_planned(&plan, &registry, config).await?;
    Ok(plan)
}

/// Reads every object of `state` back, reports objects gone and drifted,
/// and records the drift for the planner.
async fn refresh(
    state: &mut State,
    registry: &Registry,
    options: &mut PlanOptions,
    obs: &dyn Observer,
) -> Result<()> {
    let started = Instant::now();
    let report = kiln_engine::refresh(state, registry, 10).await;
    obs.diagnostics(&report.diagnostics);
    if report.diagnostics.has_errors() {
        bail!(
            "refresh failed; fix the errors above, or plan without reading the real objects with --refresh=false"
        );
    }
    for addr in &report.gone {
        obs.warn(&format!(
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
            obs.warn(&format!("{addr} has drifted: {why}"));
        }
    }
    options.drifted = report.drifted.clone();
    *state = report.state;
    tracing::debug!(elapsed = ?started.elapsed(), "refreshed");
    Ok(())
}

fn selectors(list: &[String], flag: &str) -> Result<Vec<kiln_plan::moves::Selector>> {
    list.iter()
        .map(|s| {
            kiln_plan::moves::Selector::parse(s).map_err(|e| anyhow::anyhow!("in {flag}: {e}"))
        })
        .collect()
}

fn parse_addrs(list: &[String], flag: &str) -> Result<Vec<InstanceAddr>> {
    list.iter()
        .map(|s| {
            s.parse::<InstanceAddr>()
                .with_context(|| format!("in {flag}"))
        })
        .collect()
}

/// Asks each provider to check what the plan would send it beyond the
/// schema (a CIDR that does not parse, say), so such mistakes stop the plan
/// rather than an apply half-way. Errors are located at the resource block.
async fn validate_planned(plan: &Plan, registry: &Registry, config: &Config) -> Result<()> {
    let mut diags = Diagnostics::new();
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
                type_name: a.type_name.to_string(),
                config: after.to_unmarked(),
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
        for mut d in resp.diagnostics {
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
fn has_data_sources(config: &Config) -> bool {
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
    config: &Config,
    state: &State,
    registry: &Registry,
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

/// Asks (through the observer) for each required variable that has no
/// value yet; an unanswered one stays missing, which planning then reports
/// with every other missing name.
fn ask_for_missing_variables(
    config: &Config,
    values: &mut kiln_config::VarValues,
    obs: &dyn Observer,
) -> Result<()> {
    for v in &config.variables {
        if v.default.is_some() || values.contains_key(&v.name) {
            continue;
        }
        let mut question = format!("var.{}\n", v.name);
        if !v.description.is_empty() {
            question.push_str(&format!("  {}\n", v.description));
        }
        question.push_str("\n  Enter a value: ");
        let Some(raw) = obs.ask(&question)? else {
            continue;
        };
        match kiln_config::parse_var_value(&raw, v.ty.as_ref()) {
            Ok(val) => {
                values.insert(v.name.clone(), val);
            }
            Err(d) => {
                return Err(Diagnostics::from(
                    d.with_detail(format!("the value typed for var.{}", v.name)),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// A `kiln console` session: the configuration and the state it evaluates
/// expressions against (read once, never written, no lock).
pub struct Console<'w> {
    ws: &'w Workspace,
    config: Config,
    state: State,
    variables: BTreeMap<String, Value>,
}

/// What a console expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleValue {
    Value(Value),
    /// Terraform's console prints `(sensitive value)`.
    Sensitive,
}

/// The name of the output each console expression is planned as.
const CONSOLE_OUTPUT: &str = "__kiln_console";

/// `kiln console`: loads the configuration and the state (as the next apply
/// would find it); unset variables are unknown, as `kiln validate` has them.
///
/// # Errors
/// The configuration or the state cannot be read.
pub async fn console<'w>(
    ws: &'w Workspace,
    vars: &VarInputs,
    obs: &dyn Observer,
) -> Result<Console<'w>> {
    let ((state, _), (config, warnings, _)) = with_config(ws, state_as_recovered(ws, obs)).await?;
    obs.diagnostics(&warnings);
    let mut variables = ws.variables(&config, vars, obs)?;
    crate::workspace::unset_as_unknown(&config, &mut variables);
    Ok(Console {
        ws,
        config,
        state,
        variables,
    })
}

impl Console<'_> {
    /// Evaluates one expression as `terraform console` does: against the
    /// root module — its variables, locals, resources (the state's values,
    /// or what the plan would make), data sources and modules — without
    /// refreshing and without changing anything.
    ///
    /// # Errors
    /// An expression that does not parse or evaluate, with its location.
    pub async fn eval(&self, line: &str, obs: &dyn Observer) -> Result<ConsoleValue> {
        let expr = kiln_config::parse_expr("<console>", line)?;
        let mut config = self.config.clone();
        config.outputs.retain(|o| o.name != CONSOLE_OUTPUT);
        config.outputs.push(kiln_config::Output {
            name: CONSOLE_OUTPUT.into(),
            loc: expr.loc.clone(),
            expr,
            sensitive: false,
            ephemeral: false,
            description: String::new(),
        });
        let request = PlanRequest {
            refresh: false,
            ..PlanRequest::default()
        };
        let mut state = self.state.clone();
        let planned = plan_config(
            self.ws,
            &config,
            None,
            self.variables.clone(),
            &request,
            &mut state,
            obs,
        )
        .await;
        match planned {
            Ok(plan) => Ok(ConsoleValue::Value(
                plan.outputs
                    .get(CONSOLE_OUTPUT)
                    .map(|o| o.value.clone())
                    .unwrap_or(Value::Null),
            )),
            Err(e)
                if format!("{e:#}").contains(&format!(
                    "output \"{CONSOLE_OUTPUT}\" refers to sensitive values"
                )) =>
            {
                Ok(ConsoleValue::Sensitive)
            }
            Err(e) => Err(e),
        }
    }
}
