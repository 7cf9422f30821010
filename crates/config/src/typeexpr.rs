//! Type constraints as written in `variable` blocks: `string`, `number`,
//! `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `object({ a = T })`,
//! `tuple([T, ...])`, with `optional(T)` and `optional(T, default)`
//! attributes inside objects.
//!
//! The model's [`Type`] has no notion of optional attributes, so a
//! constraint is a `Type` plus a [`Shape`] that says, along the type, which
//! object attributes are optional and what their defaults are.

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use kiln_diag::Diagnostic;
use kiln_model::Type;

use crate::Expr;
use crate::shape::{AttrShape, Shape};

const EXPECTED: &str = "expected a type: string, number, bool, any, list(T), set(T), map(T), object({...}) or tuple([...])";

/// Reads a type constraint expression.
pub(crate) fn parse_type(expr: &Expr) -> Result<(Type, Shape), Diagnostic> {
    read_shaped(expr, &expr.inner)
}

fn read(at: &Expr, e: &Expression) -> Result<Type, Diagnostic> {
    read_shaped(at, e).map(|(t, _)| t)
}

fn read_shaped(at: &Expr, e: &Expression) -> Result<(Type, Shape), Diagnostic> {
    let plain = |t: Result<Type, Diagnostic>| t.map(|t| (t, Shape::Plain));
    let err = |e: &Expression, msg: &str| at.loc_of(e.span()).error(msg.to_string());
    match e {
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            match (name, args.as_slice()) {
                ("list" | "set" | "map", [arg]) => {
                    let (inner, shape) = read_shaped(at, arg)?;
                    let ty = match name {
                        "list" => Type::List(Box::new(inner)),
                        "set" => Type::Set(Box::new(inner)),
                        _ => Type::Map(Box::new(inner)),
                    };
                    let shape = if shape.is_plain() {
                        Shape::Plain
                    } else {
                        Shape::Elements(Box::new(shape))
                    };
                    Ok((ty, shape))
                }
                ("optional", _) => Err(err(
                    e,
                    "optional(...) can only be used for an attribute of an object type",
                )),
                ("object", [Expression::Object(obj)]) => {
                    let mut fields = BTreeMap::new();
                    let mut attrs = BTreeMap::new();
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
                        let (ty, attr) = read_attr(at, v.expr())?;
                        fields.insert(key.clone(), ty);
                        attrs.insert(key, attr);
                    }
                    // Without optional attributes anywhere inside, every
                    // attribute is required: the plain shape says so.
                    let shape = if attrs.values().all(|a| !a.optional && a.shape.is_plain()) {
                        Shape::Plain
                    } else {
                        Shape::Object(attrs)
                    };
                    Ok((Type::Object(fields), shape))
                }
                ("tuple", [Expression::Array(items)]) => {
                    let mut types = Vec::new();
                    let mut shapes = Vec::new();
                    for i in items.iter() {
                        let (t, s) = read_shaped(at, i)?;
                        types.push(t);
                        shapes.push(s);
                    }
                    let shape = if shapes.iter().all(Shape::is_plain) {
                        Shape::Plain
                    } else {
                        Shape::Tuple(shapes)
                    };
                    Ok((Type::Tuple(types), shape))
                }
                _ => plain(read_plain(at, e)),
            }
        }
        Expression::Parenthesis(p) => read_shaped(at, p.inner()),
        _ => plain(read_plain(at, e)),
    }
}

/// An object attribute's type: `T`, `optional(T)` or `optional(T, default)`.
fn read_attr(at: &Expr, e: &Expression) -> Result<(Type, AttrShape), Diagnostic> {
    let Expression::FuncCall(call) = e else {
        let (ty, shape) = read_shaped(at, e)?;
        return Ok((
            ty,
            AttrShape {
                optional: false,
                default: None,
                shape,
            },
        ));
    };
    if call.name.name.as_str() != "optional" {
        let (ty, shape) = read_shaped(at, e)?;
        return Ok((
            ty,
            AttrShape {
                optional: false,
                default: None,
                shape,
            },
        ));
    }
    let args: Vec<&Expression> = call.args.iter().collect();
    let err = |e: &Expression, msg: String| at.loc_of(e.span()).error(msg);
    let (ty, shape) = match args.as_slice() {
        [t] | [t, _] => read_shaped(at, t)?,
        _ => {
            return Err(err(
                e,
                "optional(...) takes a type and, optionally, a default: optional(string, \"x\")"
                    .into(),
            ));
        }
    };
    let default = match args.get(1) {
        None => None,
        Some(d) => {
            let expr = Expr {
                inner: (*d).clone(),
                loc: at.loc_of(d.span()),
                base: at.base,
            };
            let v =
                crate::eval::constant(&expr, "an optional attribute's default").map_err(|d| {
                    d.into_iter()
                        .next()
                        .unwrap_or_else(|| err(e, "invalid default".into()))
                })?;
            let v = crate::convert::convert(v, &ty).map_err(|c| {
                err(
                    d,
                    format!("the default does not fit the attribute's type: {c}"),
                )
            })?;
            let v = crate::convert::apply_defaults(v, &shape);
            Some(v)
        }
    };
    Ok((
        ty,
        AttrShape {
            optional: true,
            default,
            shape,
        },
    ))
}

fn read_plain(at: &Expr, e: &Expression) -> Result<Type, Diagnostic> {
    let err = |e: &Expression, msg: &str| at.loc_of(e.span()).error(msg.to_string());
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
