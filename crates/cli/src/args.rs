//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Infrastructure as code for immutable infrastructure: plan, apply, replace, never patch"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Run as if started in DIR (the configuration directory).
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// The environment (an isolated state).
    #[arg(long, global = true, env = "KILN_ENV", default_value = "default")]
    pub env: String,
    /// Where state is kept: s3://BUCKET/PREFIX, or local (.kiln/ beside the
    /// configuration); overrides the configuration's backend block.
    #[arg(long, global = true, env = "KILN_BACKEND", value_name = "URL")]
    pub backend: Option<String>,
    /// Never colour the output.
    #[arg(long, global = true, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download the configuration's git and registry module sources into
    /// .kiln/.modules and pin them in .kiln/modules.lock.json (commit it).
    Init(DirArg),
    /// Check the configuration without touching state or providers.
    Validate(DirArg),
    /// Show what apply would do, and why.
    Plan(PlanCmd),
    /// Make the infrastructure match the configuration (or apply a saved plan).
    Apply(ApplyCmd),
    /// Destroy everything in the environment.
    Destroy(DestroyCmd),
    /// Show the state, or a saved plan.
    Show(ShowCmd),
    /// Print output values.
    Output(OutputCmd),
    /// Print the resource dependency graph (DOT or Mermaid).
    Graph(GraphCmd),
    /// Adopt the existing object ID as ADDR into the state (as an `import`
    /// block would); `kiln plan` then shows what would change.
    Import(ImportCmd),
    /// Evaluate expressions against the configuration and the state, one
    /// per line of standard input, as `terraform console` does (`exit` or
    /// end of input stops); nothing is changed.
    Console(ConsoleCmd),
    /// Rewrite configuration files in the canonical layout.
    Fmt(FmtCmd),
    /// Inspect the state.
    #[command(subcommand)]
    State(StateCmd),
    /// Remove a lock, after showing who holds it (a lock whose holder may
    /// still run needs --force).
    Unlock(UnlockCmd),
    /// Finish recording an interrupted apply: read its journal back, adopt
    /// what it made, write the state (every locking command does this first).
    Recover(RecoverCmd),
    /// Environments: list them, destroy one, destroy the expired ones.
    #[command(subcommand)]
    Env(EnvCmd),
    /// Move traffic back to the previous generation (kept by
    /// `apply --keep-previous`), or recreate an earlier one with --to.
    Rollback(RollbackCmd),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell); for bash: `kiln completions bash > /etc/bash_completion.d/kiln`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Internal: run a local_balancer process.
    #[command(name = "__balancer", hide = true)]
    Balancer(BalancerCmd),
}

#[derive(Debug, Args, Clone, Default)]
pub struct FmtCmd {
    #[command(flatten)]
    pub dir: DirArg,
    /// Change nothing: list the files that are not formatted and exit 1 if
    /// there are any (for CI).
    #[arg(long)]
    pub check: bool,
    /// Also format the subdirectories (modules), except hidden ones.
    #[arg(long)]
    pub recursive: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DirArg {
    /// The configuration directory (default: the current one, or -C).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL file of NAME = VALUE lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PlanFlags {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Read every resource from its provider before planning (drift detection).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub refresh: bool,
    /// Force the replacement of ADDR (repeatable; TYPE.NAME covers every instance).
    #[arg(long, value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Replace every stateless resource: a new generation of the environment
    /// (traffic switches are kept and moved to it once it is healthy).
    #[arg(long)]
    pub rebuild: bool,
    /// Keep the objects this apply replaces running, as the previous
    /// generation, for `kiln rollback` (instead of destroying them).
    #[arg(long)]
    pub keep_previous: bool,
    /// Allow the replacement of the stateful resource ADDR.
    #[arg(long, value_name = "ADDR")]
    pub allow_replace: Vec<String>,
    /// Allow the deletion of the stateful resource ADDR.
    #[arg(long, value_name = "ADDR")]
    pub allow_destroy: Vec<String>,
    /// Plan only ADDR (a resource, an instance, a module) and what it
    /// depends on — for a destroy, what depends on it (repeatable); the
    /// rest is left as it is, and a warning says the plan is partial.
    #[arg(long = "target", id = "target_addr", value_name = "ADDR")]
    pub target: Vec<String>,
    /// Leave ADDR, and what depends on it, out of the plan (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlanCmd {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Plan the destruction of everything.
    #[arg(long)]
    pub destroy: bool,
    /// Save the plan to FILE, for `kiln apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (see docs/plan-json.md); the same as --format json.
    #[arg(long)]
    pub json: bool,
    /// How to print the plan: human, json, or markdown (for a pull-request comment).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    #[default]
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ApplyCmd {
    /// The configuration directory, or a plan file saved by `kiln plan --out`.
    #[arg(value_name = "DIR|PLANFILE")]
    pub target: Option<PathBuf>,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Args, Clone)]
pub struct RunFlags {
    /// Apply without asking for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y', visible_alias = "auto-approve")]
    pub yes: bool,
    /// Run at most N provider calls at once (0: no limit).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// The environment expires this long after the apply (for example 72h);
    /// `kiln env gc` destroys expired environments.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub ttl: Option<std::time::Duration>,
    /// If the environment is locked, wait this long for the lock (for
    /// example 5m) instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
    /// Print the plan, each step, each cut-over step, each rollback call and
    /// the result as JSON lines on stdout (docs/apply-events.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyCmd {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Args)]
pub struct ShowCmd {
    /// A saved plan file; without it, the state.
    #[arg(value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportCmd {
    /// The resource instance address, as in the configuration.
    pub addr: String,
    /// The provider's id of the existing object.
    pub id: String,
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// If the environment is locked, wait this long for the lock.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ConsoleCmd {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Args)]
pub struct OutputCmd {
    /// One output's name; without it, every output.
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Print a string output without quotes.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum GraphFormat {
    #[default]
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphCmd {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub vars: VarArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

#[derive(Debug, Subcommand)]
pub enum StateCmd {
    /// List the resource instances in state.
    List,
    /// Show one resource instance's attributes.
    Show { addr: String },
    /// List the kept previous versions of the state.
    History {
        #[arg(long)]
        json: bool,
    },
    /// Write the current state document to FILE (all of it, sensitive
    /// values included, mode 0600), or to stdout with every sensitive value
    /// replaced by `{"$kiln": "redacted"}` unless --show-sensitive.
    Pull {
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print sensitive values on stdout too (the document can then be
        /// pushed back).
        #[arg(long)]
        show_sensitive: bool,
    },
    /// Rename what the state holds at SOURCE to DESTINATION (a resource
    /// instance, a resource, a module call or a module instance) without
    /// touching the object: Terraform's `state mv`. The previous state is
    /// kept in the history.
    Mv {
        source: String,
        destination: String,
        /// If the environment is locked, wait this long for the lock.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
        lock_timeout: std::time::Duration,
    },
    /// Forget what the state holds at each ADDRESS, leaving the objects as
    /// they are: Terraform's `state rm`. The previous state is kept in the
    /// history.
    Rm {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// If the environment is locked, wait this long for the lock.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
        lock_timeout: std::time::Duration,
    },
    /// Adopt a Terraform state (format version 4, `terraform.tfstate` or
    /// `terraform state pull > FILE`) as this environment's first state:
    /// every object of a type kiln supports is recorded and read back,
    /// nothing is created or deleted, and what is left out is listed.
    ImportTerraform {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        /// If the environment is locked, wait this long for the lock.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
        lock_timeout: std::time::Duration,
    },
    /// Replace the state with the document in FILE (a `kiln state pull`,
    /// edited or from another store). Refuses a state of another lineage or
    /// an older serial unless forced.
    Push {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Push even over a state of another lineage or a newer serial.
        #[arg(long)]
        force: bool,
        /// If the environment is locked, wait this long for the lock.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
        lock_timeout: std::time::Duration,
    },
}

#[derive(Debug, Args)]
pub struct RollbackCmd {
    /// Recreate generation GENERATION from the configuration recorded in the
    /// state history (even if it was destroyed), move traffic to it once it
    /// is healthy, and destroy the generation it replaces.
    #[arg(long, value_name = "GENERATION")]
    pub to: Option<u64>,
    /// With --to: keep the generation it replaces, for another rollback.
    #[arg(long, requires = "to")]
    pub keep_previous: bool,
    /// With --to: do not read every resource before planning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub refresh: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Args)]
pub struct UnlockCmd {
    /// The lock id, as printed by the error that reported the lock.
    pub id: String,
    /// Remove it even though its holder may still be running (a fresh
    /// lease, a live process, or another host): that run's further writes
    /// then fail, and what it was doing is left to recovery.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RecoverCmd {
    /// If the environment is locked, wait this long for the lock.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct BalancerCmd {
    /// The balancer's state directory.
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// List every environment: generation, resources, created, last applied, expiry.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Destroy an environment's resources and remove its state.
    Destroy {
        name: String,
        #[command(flatten)]
        run: RunFlags,
        /// Allow the deletion of the stateful resource ADDR.
        #[arg(long, value_name = "ADDR")]
        allow_destroy: Vec<String>,
    },
    /// Destroy every environment whose TTL has passed.
    Gc {
        /// Show what would be destroyed, and do nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, default_value_t = 10, value_name = "N")]
        parallelism: usize,
        /// Allow the deletion of the stateful resource ADDR in every
        /// expired environment (a pull request's private DNS zone, say).
        #[arg(long, value_name = "ADDR")]
        allow_destroy: Vec<String>,
    },
}

impl VarArgs {
    /// The values as the operations take them.
    pub fn inputs(&self) -> kiln_ops::VarInputs {
        kiln_ops::VarInputs {
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
        }
    }
}

impl PlanFlags {
    /// What to plan.
    pub fn request(&self) -> kiln_ops::PlanRequest {
        kiln_ops::PlanRequest {
            vars: self.vars.inputs(),
            refresh: self.refresh,
            replace: self.replace.clone(),
            rebuild: self.rebuild,
            keep_previous: self.keep_previous,
            allow_replace: self.allow_replace.clone(),
            allow_destroy: self.allow_destroy.clone(),
            destroy: false,
            target: self.target.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

impl RunFlags {
    /// How to apply: interrupted by Ctrl-C.
    pub fn options(&self) -> kiln_ops::ApplyOptions {
        kiln_ops::ApplyOptions {
            parallelism: self.parallelism,
            ttl: self.ttl,
            lock_timeout: self.lock_timeout,
            interrupt: Some(crate::report::ctrl_c()),
        }
    }
}
