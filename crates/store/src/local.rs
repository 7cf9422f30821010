//! The local file store (to be written).

/// State under a directory: `<root>/<env>/state.json`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pub root: std::path::PathBuf,
}
