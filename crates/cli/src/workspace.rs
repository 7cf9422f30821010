//! The workspace a command runs in: the directory `-C` and the command's
//! argument name, the environment, the backend, and the providers linked
//! into `kiln`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use kiln_ops::Workspace;

use crate::args::Global;

/// The workspace of `dir` (relative to `-C`) for environment `env`.
pub fn open(g: &Global, dir: Option<&Path>, env: &str) -> Result<Workspace> {
    let dir = match (g.chdir.as_deref(), dir) {
        (Some(c), Some(d)) => c.join(d),
        (Some(c), None) => c.to_path_buf(),
        (None, Some(d)) => d.to_path_buf(),
        (None, None) => PathBuf::from("."),
    };
    Workspace::open(&kiln_ops::OpenOptions {
        dir,
        env: env.to_string(),
        backend: g.backend.clone(),
        linked: linked_providers,
        exit_after: true,
    })
}

/// The providers linked into `kiln`: `null`, Terraform's built-in
/// `terraform`, HashiCorp's `random`, and `local` (the embedded default).
fn linked_providers() -> Vec<Arc<dyn kiln_provider::Provider>> {
    vec![
        Arc::new(kiln_provider_null::NullProvider::new()),
        Arc::new(kiln_provider_null::TerraformProvider::new()),
        Arc::new(kiln_provider_null::RandomProvider::new()),
        Arc::new(kiln_provider_local::LocalProvider::new(
            kiln_provider_local::LocalOptions::default(),
        )),
    ]
}
