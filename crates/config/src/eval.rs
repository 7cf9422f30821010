//! Expression evaluation (to be written).

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ResourceSchema, Value};

use crate::{Body, Expr, Reference, Scope};

pub(crate) fn references(_expr: &Expr) -> Vec<Reference> {
    Vec::new()
}

/// Evaluates one expression.
pub fn eval(expr: &Expr, _scope: &dyn Scope) -> Result<Value, Diagnostics> {
    Err(expr
        .loc
        .error("expression evaluation is not written yet")
        .into())
}

/// Evaluates a resource body against its schema into an object value holding
/// every attribute of the schema: the configured ones converted to their
/// type, the others null. Reports unknown attributes (with the known names),
/// missing required ones, and type mismatches, all located.
pub fn eval_body(
    body: &Body,
    _schema: &ResourceSchema,
    _scope: &dyn Scope,
) -> Result<Value, Diagnostics> {
    let _ = body;
    Err(Diagnostic::error("resource bodies are not evaluated yet").into())
}
