//! Input variables: the user's values, converted to the declared types, or
//! the defaults.

use std::collections::BTreeMap;

use kiln_config::{Config, NameKind, Scope, Variable, eval};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ResourceAddr, Value};

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
        let user = given.get(&var.name);
        // A given null stands for itself if the variable is nullable, and
        // for the default otherwise.
        let value = match (user, &var.default) {
            // A recorded value may carry the mark the plan gave it; the
            // declaration decides sensitivity.
            (Some(v), _) if !v.is_null() || var.nullable => v.to_unmarked(),
            (_, Some(d)) => d.clone(),
            (Some(_), None) => Value::Null,
            (None, None) => {
                missing.push(var);
                values.push(Value::Unknown);
                continue;
            }
        };
        if value.is_null() && !var.nullable {
            diags.push(
                var.loc
                    .error(format!(
                        "invalid value for variable \"{}\": it must not be null",
                        var.name
                    ))
                    .with_detail("the variable is declared with nullable = false; give it a value"),
            );
            values.push(Value::Unknown);
            continue;
        }
        let value = match &var.ty {
            Some(ty) => match kiln_config::convert_constraint(value, ty, &var.shape) {
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
    validate(config, &values, diags);
    values
}

/// What a validation rule sees: the variables.
struct VarScope<'a> {
    config: &'a Config,
    values: &'a [Value],
}

impl Scope for VarScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        let i = self.config.variables.iter().position(|v| v.name == name)?;
        self.values.get(i).cloned()
    }
    fn local(&self, _name: &str) -> Option<Value> {
        None
    }
    fn resource(&self, _addr: &ResourceAddr) -> Option<Value> {
        None
    }
    fn names(&self, kind: NameKind) -> Vec<String> {
        match kind {
            NameKind::Variable => self
                .config
                .variables
                .iter()
                .map(|v| v.name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Checks every `validation` rule of the variables whose values are known;
/// a failed rule is an error with the user's message, at its condition.
fn validate(config: &Config, values: &[Value], diags: &mut Diagnostics) {
    let scope = VarScope { config, values };
    for (var, value) in config.variables.iter().zip(values) {
        rules(var, value, &scope, None, diags);
    }
}

/// Checks one variable's validation rules against its value (a module
/// input: the rules see only that variable).
pub(crate) fn check_rules(var: &Variable, value: &Value, owner: &str, diags: &mut Diagnostics) {
    let config = Config {
        variables: vec![var.clone()],
        ..Config::default()
    };
    let values = [value.clone()];
    let scope = VarScope {
        config: &config,
        values: &values,
    };
    rules(var, value, &scope, Some(owner), diags);
}

fn rules(
    var: &Variable,
    value: &Value,
    scope: &VarScope<'_>,
    owner: Option<&str>,
    diags: &mut Diagnostics,
) {
    if !value.is_known() {
        return;
    }
    for rule in &var.validations {
        let ok = match eval(&rule.condition, scope) {
            Err(d) => {
                diags.extend(d);
                continue;
            }
            Ok(v) => match v.unmarked() {
                Value::Bool(b) => *b,
                Value::Unknown => continue,
                other => {
                    diags.push(rule.condition.loc.error(format!(
                        "a validation condition must be true or false, got {}",
                        other.type_name()
                    )));
                    continue;
                }
            },
        };
        if ok {
            continue;
        }
        let message = match eval(&rule.error_message, scope) {
            Ok(m) if m.contains_sensitive() => {
                "the error message refers to a sensitive value, so it is not shown".to_string()
            }
            Ok(m) => match kiln_config::convert(m, &kiln_model::Type::String) {
                Ok(Value::String(m)) => m.to_string(),
                _ => "the validation rule failed (its error_message is not a string)".to_string(),
            },
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        let at = rule.loc.span();
        diags.push(
            rule.condition
                .loc
                .error(match owner {
                    None => format!(
                        "invalid value for variable \"{}\": {}",
                        var.name,
                        message.trim_end()
                    ),
                    Some(m) => format!(
                        "invalid value for input \"{}\" of {m}: {}",
                        var.name,
                        message.trim_end()
                    ),
                })
                .with_detail(format!(
                    "checked by the validation rule at {}:{}:{}",
                    at.file, at.start.line, at.start.col
                )),
        );
    }
}
