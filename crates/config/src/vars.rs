//! Variable values from the command line, files and the environment (to be written).

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{Type, Value};

use crate::{SourceFile, VarValues};

/// A `--var NAME=VALUE` or `KILN_VAR_NAME` value: a string for string (or
/// untyped) variables, otherwise parsed as an HCL expression.
pub fn parse_var_value(raw: &str, ty: Option<&Type>) -> Result<Value, Diagnostic> {
    let _ = ty;
    Ok(Value::from(raw))
}

/// A `--var-file` (HCL attributes `name = value`).
pub fn parse_var_file(file: SourceFile) -> (VarValues, Diagnostics) {
    let _ = file;
    (VarValues::new(), Diagnostics::new())
}
