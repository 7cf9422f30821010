//! kiln's operations: plan, apply, destroy, recover, rollback, environment
//! destroy and collection — the library under the `kiln` binary.
//!
//! Each operation is one function over a [`Workspace`] (the configuration
//! directory, its state store and providers) and an options struct, and
//! reports what happens through an [`Observer`] the caller implements: the
//! binary parses flags, calls one operation and renders what it returns.
//! Operations take the environment's lock themselves, recover an
//! interrupted apply first, and never print.
//!
//! Errors are `anyhow` (as in cargo's `ops`): an operation's failure is a
//! sentence for the user that says what to do next, with its causes.

mod apply;
mod envs;
mod files;
mod import;
mod init;
mod lock;
mod observe;
mod plan;
mod recover;
mod registry;
mod rollback;
mod saved;
mod state;
mod workspace;

pub use apply::{Applied, ApplyOptions, Done, Interrupt, apply, apply_plan, apply_saved, destroy};
pub use envs::{EnvDestroyOptions, EnvDestroyed, destroy_env, expired_envs, gc, list_envs};
pub use files::DirFiles;
pub use import::{Imported, import_one, import_terraform};
pub use init::{Downloaded, init};
pub use lock::with_lock;
pub use observe::Observer;
pub use plan::{Console, ConsoleValue, PlanRequest, Planned, console, plan, plan_config, validate};
pub use recover::{read_state, recover, recover_if_needed};
pub use rollback::{RollbackOptions, RolledBack, rollback};
pub use saved::{SavedPlan, load_plan, save_plan, write_private};
pub use state::{push_state, refactor_state, unlock};
pub use workspace::{OpenOptions, VarInputs, Workspace};
