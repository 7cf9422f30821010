//! Top-level sensitive marks, taken off a value and put back: shared by the
//! evaluator and the function library.

use kiln_model::Value;

/// Removes top-level sensitive marks, saying whether there were any.
pub(crate) fn unmark(v: Value) -> (Value, bool) {
    match v {
        Value::Sensitive(inner) => (unmark(*inner).0, true),
        v => (v, false),
    }
}

/// Marks `v` sensitive if `sensitive`.
pub(crate) fn mark(v: Value, sensitive: bool) -> Value {
    if sensitive { v.sensitive() } else { v }
}
