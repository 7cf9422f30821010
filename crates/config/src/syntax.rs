//! The diagnostic for text HCL cannot parse, located at the parser's offset.

use std::sync::Arc;

use kiln_diag::Diagnostic;

use crate::{Loc, SourceFile};

/// A syntax error from hcl-edit, as a diagnostic at the offending byte.
pub(crate) fn syntax_error(file: &Arc<SourceFile>, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = e.location().offset();
    let loc = Loc {
        file: file.clone(),
        range: offset..offset + 1,
    };
    let msg = e.message().trim();
    loc.error(format!("syntax error: {msg}"))
}
