//! Type constraints as written in `variable` blocks: `string`, `number`,
//! `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `object({ a = T })`,
//! `tuple([T, ...])` (and `optional(T)` inside an object, read as `T`).

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use kiln_diag::Diagnostic;
use kiln_model::Type;

use crate::Expr;

const EXPECTED: &str = "expected a type: string, number, bool, any, list(T), set(T), map(T), object({...}) or tuple([...])";

/// Reads a type constraint expression.
pub(crate) fn parse_type(expr: &Expr) -> Result<Type, Diagnostic> {
    read(expr, &expr.inner)
}

fn read(at: &Expr, e: &Expression) -> Result<Type, Diagnostic> {
    let err = |e: &Expression, msg: &str| {
        let mut loc = at.loc.clone();
        if let Some(r) = e.span() {
            loc.range = r;
        }
        loc.error(msg.to_string())
    };
    match e {
        Expression::Variable(id) => match id.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            "list" | "set" | "map" => Err(err(
                e,
                &format!(
                    "\"{}\" needs an element type, like {}(string)",
                    id.as_str(),
                    id.as_str()
                ),
            )),
            other => Err(err(e, &format!("unknown type \"{other}\"; {EXPECTED}"))),
        },
        // Terraform 0.11 quoted types.
        Expression::String(s) => match s.as_str() {
            "string" => Ok(Type::String),
            "list" => Ok(Type::List(Box::new(Type::Any))),
            "map" => Ok(Type::Map(Box::new(Type::Any))),
            _ => Err(err(e, EXPECTED)),
        },
        Expression::Parenthesis(p) => read(at, p.inner()),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let [arg] = args.as_slice() else {
                return Err(err(
                    e,
                    &format!("\"{name}(...)\" takes exactly one argument"),
                ));
            };
            match name {
                "list" => Ok(Type::List(Box::new(read(at, arg)?))),
                "set" => Ok(Type::Set(Box::new(read(at, arg)?))),
                "map" => Ok(Type::Map(Box::new(read(at, arg)?))),
                "optional" => read(at, arg),
                "object" => {
                    let Expression::Object(obj) = arg else {
                        return Err(err(
                            arg,
                            "object(...) takes an object of attribute types, like object({ name = string })",
                        ));
                    };
                    let mut fields = BTreeMap::new();
                    for (k, v) in obj.iter() {
                        let key = match k {
                            ObjectKey::Ident(id) => id.as_str().to_string(),
                            ObjectKey::Expression(Expression::Variable(id)) => {
                                id.as_str().to_string()
                            }
                            ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                            ObjectKey::Expression(k) => {
                                return Err(err(
                                    k,
                                    "an object type's attribute names must be names",
                                ));
                            }
                        };
                        fields.insert(key, read(at, v.expr())?);
                    }
                    Ok(Type::Object(fields))
                }
                "tuple" => {
                    let Expression::Array(items) = arg else {
                        return Err(err(
                            arg,
                            "tuple(...) takes a list of element types, like tuple([string, number])",
                        ));
                    };
                    Ok(Type::Tuple(
                        items
                            .iter()
                            .map(|i| read(at, i))
                            .collect::<Result<_, _>>()?,
                    ))
                }
                other => Err(err(
                    e,
                    &format!("unknown type \"{other}(...)\"; {EXPECTED}"),
                )),
            }
        }
        _ => Err(err(e, EXPECTED)),
    }
}
