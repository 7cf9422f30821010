//! Input variables: the user's values, converted to the declared types, or
//! the defaults.

use std::collections::BTreeMap;

use kiln_config::Config;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::Value;

use crate::names::did_you_mean;

/// Every declared variable's value, in declaration order. Reports values
/// for undeclared variables, every missing required variable (in one
/// error), and values of the wrong type.
pub(crate) fn variable_values(
    config: &Config,
    given: &BTreeMap<String, Value>,
    diags: &mut Diagnostics,
) -> Vec<Value> {
    for name in given.keys() {
        if !config.variables.iter().any(|v| &v.name == name) {
            let names = config.variables.iter().map(|v| v.name.as_str());
            let detail = match did_you_mean(name, names) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!(
                    "declare it with `variable \"{name}\" {{}}`, or remove the value from --var, --var-file or KILN_VAR_{name}"
                ),
            };
            diags.push(
                Diagnostic::error(format!(
                    "a value was given for undeclared variable \"{name}\""
                ))
                .with_detail(detail),
            );
        }
    }
    let mut missing = Vec::new();
    let mut values = Vec::with_capacity(config.variables.len());
    for var in &config.variables {
        let user = given.get(&var.name).filter(|v| !v.is_null());
        let value = match (user, &var.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => {
                missing.push(var);
                values.push(Value::Unknown);
                continue;
            }
        };
        let value = match &var.ty {
            Some(ty) => match kiln_config::convert(value, ty) {
                Ok(v) => v,
                Err(e) => {
                    let origin = if user.is_some() {
                        "the value given"
                    } else {
                        "the default"
                    };
                    diags.push(
                        var.loc
                            .error(format!("invalid value for variable \"{}\": {e}", var.name))
                            .with_detail(format!("{origin} must convert to {ty}")),
                    );
                    Value::Unknown
                }
            },
            None => value,
        };
        values.push(if var.sensitive {
            value.sensitive()
        } else {
            value
        });
    }
    if let Some(first) = missing.first() {
        let names: Vec<&str> = missing.iter().map(|v| v.name.as_str()).collect();
        let (noun, example) = (
            if names.len() == 1 {
                "variable"
            } else {
                "variables"
            },
            names[0],
        );
        diags.push(
            first
                .loc
                .error(format!("no value for required {noun}: {}", names.join(", ")))
                .with_detail(format!(
                    "give a value with --var {example}=VALUE, a --var-file, or KILN_VAR_{example}, or declare a default"
                )),
        );
    }
    values
}
