//! Variable values from the command line, files and the environment.

use std::sync::Arc;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{Type, Value};

use crate::convert::convert;
use crate::eval::constant;
use crate::parse::{convert_body, parse_expr};
use crate::syntax::syntax_error;
use crate::{SourceFile, VarValues};

/// A `--var NAME=VALUE` or `KILN_VAR_NAME` value, as Terraform reads `-var`
/// and `TF_VAR_`: for untyped and primitive (string, number, bool)
/// variables the text itself, converted to the type (`n=abc` for a number
/// is "a number is required"); for collections and structures, an HCL
/// expression.
pub fn parse_var_value(raw: &str, ty: Option<&Type>) -> Result<Value, Diagnostic> {
    let ty = match ty {
        None | Some(Type::String) => return Ok(Value::from(raw)),
        Some(t @ (Type::Number | Type::Bool)) => {
            return convert(Value::from(raw), t).map_err(|_| {
                Diagnostic::error(format!(
                    "invalid value {raw:?} for a variable of type {t}: a {t} is required"
                ))
            });
        }
        Some(t) => t,
    };
    let first = |d: Diagnostics| {
        d.into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic::error("invalid value"))
    };
    let invalid = |d: Diagnostics| {
        let d = first(d);
        Diagnostic::error(format!(
            "invalid value for a variable of type {ty}: {}",
            d.summary
        ))
        .or_span(|| d.span.clone())
    };
    let expr = parse_expr("<value>", raw).map_err(invalid)?;
    let v = constant(&expr, "a variable's value").map_err(invalid)?;
    convert(v, ty).map_err(|e| {
        Diagnostic::error(format!("invalid value for a variable of type {ty}: {e}"))
            .with_span(expr.loc.span())
    })
}

/// A variables file: HCL attributes `name = value`, or, for a file named
/// `*.json` (`terraform.tfvars.json`, `*.auto.tfvars.json`), one JSON
/// object whose properties are the values (strings taken literally, as
/// Terraform reads them).
pub fn parse_var_file(file: SourceFile) -> (VarValues, Diagnostics) {
    if file.name.ends_with(".json") {
        return parse_var_file_json(file);
    }
    let file = Arc::new(file);
    let mut diags = Diagnostics::new();
    let mut values = VarValues::new();
    let hidden = crate::syntax::hide_big_numbers(&file.text);
    let text = hidden.as_deref().unwrap_or(&file.text);
    let body = match hcl_edit::parser::parse_body(text) {
        Ok(mut b) => {
            crate::template_lines::body(&mut b, text);
            b
        }
        Err(e) => {
            diags.push(syntax_error(&file, &e));
            return (values, diags);
        }
    };
    let body = convert_body(crate::parse::Src::whole(&file), body, None, &mut diags);
    for b in &body.blocks {
        diags.push(b.loc.error(format!(
            "unexpected block \"{}\" in a variables file; write name = value",
            b.ty
        )));
    }
    for a in body.attributes {
        match constant(&a.expr, "a variable's value") {
            Ok(v) => {
                values.insert(a.name, v);
            }
            Err(d) => diags.extend(d),
        }
    }
    (values, diags)
}

/// A JSON variables file: an object of values.
fn parse_var_file_json(file: SourceFile) -> (VarValues, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut values = VarValues::new();
    let at = |file: &Arc<SourceFile>, line: usize, column: usize| {
        let start = crate::offset_of(&file.text, line, column);
        crate::Loc {
            file: file.clone(),
            range: start..(start + 1).min(file.text.len()).max(start),
        }
    };
    let file = Arc::new(file);
    match serde_json::from_str::<serde_json::Value>(&file.text) {
        Ok(serde_json::Value::Object(m)) => {
            for (name, v) in m {
                values.insert(name, Value::from_plain_json(v));
            }
        }
        Ok(other) => diags.push(at(&file, 1, 1).error(format!(
            "a JSON variables file holds one object of values, like {{\"name\": \"value\"}}, not {}",
            match other {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
        Err(e) => diags.push(at(&file, e.line(), e.column()).error(format!("invalid JSON: {e}"))),
    }
    (values, diags)
}
