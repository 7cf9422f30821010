//! HCL text to [`Config`] (to be written).

use kiln_diag::Diagnostics;

use crate::{Config, SourceFile};

/// Parses every file into one configuration.
pub fn parse(files: Vec<SourceFile>) -> (Config, Diagnostics) {
    let _ = files;
    (Config::default(), Diagnostics::new())
}
