//! Expression evaluation over a [`Scope`], the references an expression
//! makes, and resource bodies evaluated against their schema.
//!
//! Two marks flow through every operation: an unknown operand makes the
//! result unknown (never an error, so plans can be made before apply), and a
//! sensitive operand makes the result sensitive. Errors are located at the
//! sub-expression that caused them; their [`Span`](kiln_diag::Span) is only
//! computed when a diagnostic is built, so evaluating valid expressions does no
//! line scanning.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use hcl_edit::Span as _;
use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Traversal, TraversalOperator,
    UnaryOperator,
};
use hcl_edit::template::{Directive, Element, Template};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{
    AttributeSchema, MapKind, Number, Presence, ResourceAddr, ResourceSchema, Seq, SeqKind, Type,
    Value,
};

use crate::convert::{convert, make_set};
use crate::functions::{self, FnError};
use crate::marks::{mark, unmark};
use crate::suggest;
use crate::syntax::syntax_error;
use crate::{Body, Expr, Loc, NameKind, Reference, Scope, SourceFile, Subject, in_file};

mod body;
mod references;
mod template;

pub use body::eval_body;
pub(crate) use references::{
    block_references, body_references, dynamic_iterator, references, subject_of,
};
use template::template_var_message;

type R = Result<Value, Diagnostics>;

/// Evaluates one expression.
pub fn eval(expr: &Expr, scope: &dyn Scope) -> Result<Value, Diagnostics> {
    eval_bound(expr, scope, &[])
}

/// Evaluates one expression where `bindings` name values (a dynamic
/// block's iterator), innermost last.
pub(crate) fn eval_bound<'a>(
    expr: &'a Expr,
    scope: &'a dyn Scope,
    bindings: &[(&'a str, Value)],
) -> Result<Value, Diagnostics> {
    let mut cx = Cx {
        scope,
        file: &expr.loc.file,
        base: expr.base,
        fallback: expr.loc.range.clone(),
        bindings: bindings.to_vec(),
        template: false,
    };
    cx.expr(&expr.inner)
}

/// The evaluation context of one expression.
struct Cx<'a> {
    scope: &'a dyn Scope,
    file: &'a Arc<SourceFile>,
    /// Where in `file` the spans of the syntax tree count from
    /// ([`Expr::base`]).
    base: usize,
    /// Used when a sub-expression carries no span (never for parsed text).
    fallback: Range<usize>,
    /// Iterator variables of the enclosing `for` expressions and directives,
    /// innermost last.
    bindings: Vec<(&'a str, Value)>,
    /// Evaluating a `templatefile` template: only its variables are in
    /// scope.
    template: bool,
}

impl<'a> Cx<'a> {
    fn loc(&self, range: Option<Range<usize>>) -> Loc {
        Loc {
            file: self.file.clone(),
            range: range.map_or_else(|| self.fallback.clone(), |r| in_file(r, self.base)),
        }
    }

    fn error(&self, range: Option<Range<usize>>, summary: impl Into<String>) -> Diagnostics {
        self.loc(range).error(summary).into()
    }

    /// A number literal; one hidden from hcl-edit (too big for it, see
    /// [`crate::syntax::hide_big_numbers`]) is read from the source text.
    fn literal_number(
        &self,
        n: &hcl_edit::Formatted<hcl_edit::Number>,
        span: Option<Range<usize>>,
    ) -> Number {
        let hidden = n
            .as_repr()
            .is_some_and(|r| crate::syntax::is_placeholder(r.trim()));
        let source = span
            .filter(|_| hidden)
            .and_then(|s| self.file.text.get(in_file(s, self.base)))
            .and_then(|s| Number::parse(s.trim()));
        source.unwrap_or_else(|| literal_number(n))
    }

    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    fn expr(&mut self, e: &'a Expression) -> R {
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(Value::Number(self.literal_number(n, e.span()))),
            Expression::String(s) => Ok(Value::String(nfc(s.value().clone()).into())),
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut diags = Diagnostics::new();
                for item in items.iter() {
                    match self.expr(item) {
                        Ok(v) => out.push(v),
                        Err(d) => diags.extend(d),
                    }
                }
                if diags.is_empty() {
                    Ok(Value::List(out.into()))
                } else {
                    Err(diags)
                }
            }
            Expression::Object(obj) => {
                let mut out = kiln_model::FieldMap::new();
                let mut diags = Diagnostics::new();
                let mut unknown = false;
                let mut sensitive = false;
                for (key, value) in obj.iter() {
                    let key = match key {
                        ObjectKey::Ident(id) => Some(id.value().as_str().to_string()),
                        ObjectKey::Expression(k) => match self.object_key(k) {
                            Ok((k, s)) => {
                                sensitive |= s;
                                unknown |= k.is_none();
                                k
                            }
                            Err(d) => {
                                diags.extend(d);
                                None
                            }
                        },
                    };
                    match self.expr(value.expr()) {
                        Ok(v) => {
                            if let Some(k) = key {
                                out.insert(k, v);
                            }
                        }
                        Err(d) => diags.extend(d),
                    }
                }
                if !diags.is_empty() {
                    Err(diags)
                } else if unknown {
                    Ok(mark(Value::Unknown, sensitive))
                } else {
                    Ok(mark(Value::Map(out.into()), sensitive))
                }
            }
            Expression::StringTemplate(t) => {
                if let Some(Element::Interpolation(i)) = t.as_single_element() {
                    return self.expr(&i.expr);
                }
                self.template_elements(t, true)
            }
            Expression::HeredocTemplate(h) => self.template_elements(&h.template, false),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(id) => match self.binding(id.as_str()) {
                Some(v) => Ok(v.clone()),
                None if self.template => {
                    Err(self.error(id.span(), template_var_message(id.as_str())))
                }
                None => Err(self.error(id.span(), bare_ident_message(id.as_str()))),
            },
            Expression::Conditional(c) => {
                let cond = self.expr(&c.cond_expr)?;
                let (cond, sensitive) = unmark(cond);
                let cond = match self.to_bool(cond, &c.cond_expr, "condition")? {
                    Some(b) => b,
                    None => return Ok(mark(Value::Unknown, sensitive)),
                };
                let (chosen, other) = if cond {
                    (&c.true_expr, &c.false_expr)
                } else {
                    (&c.false_expr, &c.true_expr)
                };
                let v = self.expr(chosen)?;
                // The result has both branches' common type (cty): a number
                // or bool meeting a string becomes a string
                // (`true ? 1 : "a"` is "1"). The other branch is evaluated
                // for its type only; its errors are not the result's.
                let kind = |v: &Value| match v.unmarked() {
                    Value::String(_) => Some("string"),
                    Value::Number(_) => Some("number"),
                    Value::Bool(_) => Some("bool"),
                    _ => None,
                };
                // Only a primitive result, or a collection of primitives,
                // can change type: the other branch is evaluated for those
                // cases alone.
                let collection = |v: &Value| match v.unmarked() {
                    Value::List(items) => items.iter().all(|i| kind(i).is_some()),
                    Value::Map(m) => m.values().all(|i| kind(i).is_some()),
                    _ => false,
                };
                let other_value = match kind(&v) {
                    Some(_) => self.expr(other).ok(),
                    None if collection(&v) => self.expr(other).ok().filter(collection),
                    None => None,
                };
                let to_string = |v: Value| {
                    crate::convert::convert(v, &kiln_model::Type::String).unwrap_or(Value::Unknown)
                };
                let v = match (kind(&v), other_value.as_ref().and_then(kind)) {
                    (Some(a), Some(b)) if a != b && (a == "string" || b == "string") => {
                        to_string(v)
                    }
                    (Some(a), Some(b)) if a != b => {
                        return Err(self.error(
                            e.span(),
                            format!("the true and false results of a conditional have no common type ({a} and {b}): convert one, like tostring(...)"),
                        ));
                    }
                    (None, None) => match other_value {
                        Some(o) => unify_collections(v, &o, &kind, &to_string),
                        None => v,
                    },
                    _ => v,
                };
                Ok(mark(v, sensitive))
            }
            Expression::FuncCall(call) => self.call(call, e),
            Expression::Traversal(t) => self.traversal(t),
            Expression::UnaryOp(op) => {
                let v = self.expr(&op.expr)?;
                let (v, sensitive) = unmark(v);
                let out = match op.operator.value() {
                    UnaryOperator::Not => match self.to_bool(v, &op.expr, "operand of \"!\"")? {
                        Some(b) => Value::Bool(!b),
                        None => Value::Unknown,
                    },
                    UnaryOperator::Neg => match self.to_number(v, &op.expr, "operand of \"-\"")? {
                        Some(n) => Value::Number(n.neg()),
                        None => Value::Unknown,
                    },
                };
                Ok(mark(out, sensitive))
            }
            Expression::BinaryOp(op) => {
                self.binary(*op.operator.value(), &op.lhs_expr, &op.rhs_expr)
            }
            Expression::ForExpr(f) => self.for_expr(f),
        }
    }

    /// An object key computed by an expression: `Ok((None, _))` if unknown.
    fn object_key(&mut self, k: &'a Expression) -> Result<(Option<String>, bool), Diagnostics> {
        // A bare name is the key itself, never a variable (as in HCL).
        if let Expression::Variable(id) = k {
            return Ok((Some(id.as_str().to_string()), false));
        }
        let v = self.expr(k)?;
        let (v, s) = unmark(v);
        match v {
            Value::Unknown => Ok((None, s)),
            other => match convert(other, &Type::String) {
                Ok(Value::String(k)) => Ok((Some(k.to_string()), s)),
                Ok(_) => Err(self.error(k.span(), "object key must not be null")),
                Err(e) => Err(self.error(
                    k.span(),
                    format!("object key must be a string, got {}", e.got),
                )),
            },
        }
    }

    /// A bool operand: `Ok(None)` if unknown.
    fn to_bool(&self, v: Value, at: &Expression, what: &str) -> Result<Option<bool>, Diagnostics> {
        match v {
            Value::Unknown => Ok(None),
            Value::Null => Err(self.error(at.span(), format!("{what} must be a bool, got null"))),
            other => match convert(other, &Type::Bool) {
                Ok(Value::Bool(b)) => Ok(Some(b)),
                Ok(other) => Ok(other.as_bool()),
                Err(e) => {
                    Err(self.error(at.span(), format!("{what} must be a bool, got {}", e.got)))
                }
            },
        }
    }

    /// A number operand: `Ok(None)` if unknown.
    fn to_number(
        &self,
        v: Value,
        at: &Expression,
        what: &str,
    ) -> Result<Option<Number>, Diagnostics> {
        match v {
            Value::Unknown => Ok(None),
            Value::Null => Err(self.error(at.span(), format!("{what} must be a number, got null"))),
            other => match convert(other, &Type::Number) {
                Ok(Value::Number(n)) => Ok(Some(n)),
                Ok(other) => Ok(other.as_number()),
                Err(e) => {
                    Err(self.error(at.span(), format!("{what} must be a number, got {}", e.got)))
                }
            },
        }
    }

    fn binary(&mut self, op: BinaryOperator, lhs: &'a Expression, rhs: &'a Expression) -> R {
        use BinaryOperator as B;
        let what = |side: &str| format!("{side} operand of \"{}\"", op.as_str());
        if matches!(op, B::And | B::Or) {
            let (l, ls) = unmark(self.expr(lhs)?);
            let l = self.to_bool(l, lhs, &what("left"))?;
            // A known left side decides alone when it can, so the right side
            // may assume it (`x != null && x.a`).
            match (op, l) {
                (B::And, Some(false)) => return Ok(mark(Value::Bool(false), ls)),
                (B::Or, Some(true)) => return Ok(mark(Value::Bool(true), ls)),
                _ => {}
            }
            let (r, rs) = unmark(self.expr(rhs)?);
            let r = self.to_bool(r, rhs, &what("right"))?;
            let out = match (op, l, r) {
                (B::And, _, Some(false)) => Value::Bool(false),
                (B::Or, _, Some(true)) => Value::Bool(true),
                (_, Some(_), Some(r)) => Value::Bool(r),
                _ => Value::Unknown,
            };
            return Ok(mark(out, ls || rs));
        }
        let l = self.expr(lhs);
        let r = self.expr(rhs);
        let (l, r) = match (l, r) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(mut a), Err(b)) => {
                a.extend(b);
                return Err(a);
            }
            (Err(a), _) | (_, Err(a)) => return Err(a),
        };
        if matches!(op, B::Eq | B::NotEq) {
            let sensitive = l.contains_sensitive() || r.contains_sensitive();
            if !l.is_known() || !r.is_known() {
                return Ok(mark(Value::Unknown, sensitive));
            }
            let eq = values_equal(&l.into_unmarked(), &r.into_unmarked());
            return Ok(mark(Value::Bool(eq == (op == B::Eq)), sensitive));
        }
        let (l, ls) = unmark(l);
        let (r, rs) = unmark(r);
        let sensitive = ls || rs;
        let l = self.to_number(l, lhs, &what("left"));
        let r = self.to_number(r, rhs, &what("right"));
        let (l, r) = match (l, r) {
            (Ok(Some(l)), Ok(Some(r))) => (l, r),
            (Ok(_), Ok(_)) => return Ok(mark(Value::Unknown, sensitive)),
            (Err(mut a), Err(b)) => {
                a.extend(b);
                return Err(a);
            }
            (Err(a), _) | (_, Err(a)) => return Err(a),
        };
        use std::cmp::Ordering as O;
        let range = || match (lhs.span(), rhs.span()) {
            (Some(a), Some(b)) => Some(a.start..b.end),
            _ => None,
        };
        let number = |n: Option<Number>| {
            n.map(Value::Number).ok_or_else(|| {
                self.error(
                    range(),
                    "the result is not a number (an infinity minus itself, or zero times an infinity)",
                )
            })
        };
        let out = match op {
            B::Plus => number(l.add(&r))?,
            B::Minus => number(l.sub(&r))?,
            B::Mul => number(l.mul(&r))?,
            // cty's modulo by zero is the dividend (Terraform: `5 % 0` is 5).
            B::Mod => number(l.rem(&r))?,
            B::Div if r.is_zero() => return Err(self.error(range(), "division by zero")),
            B::Div => number(l.div(&r))?,
            B::Less => Value::Bool(l.cmp_value(&r) == O::Less),
            B::LessEq => Value::Bool(l.cmp_value(&r) != O::Greater),
            B::Greater => Value::Bool(l.cmp_value(&r) == O::Greater),
            B::GreaterEq => Value::Bool(l.cmp_value(&r) != O::Less),
            B::Eq | B::NotEq | B::And | B::Or => unreachable!("handled above"),
        };
        Ok(mark(out, sensitive))
    }

    fn traversal(&mut self, t: &'a Traversal) -> R {
        let ops = t.operators.as_slice();
        let (value, used) = match &t.expr {
            Expression::Variable(root) if self.binding(root.as_str()).is_none() => {
                self.root(root.as_str(), root.span(), ops)?
            }
            other => (self.expr(other)?, 0),
        };
        self.apply(value, &ops[used..])
    }

    /// Resolves a traversal's root (`var.x`, `null_resource.a`, `count.index`):
    /// the value and how many operators it used.
    fn root(
        &mut self,
        root: &str,
        root_span: Option<Range<usize>>,
        ops: &'a [hcl_edit::Decorated<TraversalOperator>],
    ) -> Result<(Value, usize), Diagnostics> {
        let attr = |i: usize| match ops.get(i).map(|op| op.value()) {
            Some(TraversalOperator::GetAttr(name)) => Some(name.as_str()),
            _ => None,
        };
        let span_to = |i: usize| match (&root_span, ops.get(i).and_then(|op| op.span())) {
            (Some(r), Some(o)) => Some(r.start..o.end),
            (r, _) => r.clone(),
        };
        let scope = self.scope;
        if self.template {
            return Err(self.error(root_span, template_var_message(root)));
        }
        match root {
            "var" | "local" => {
                let Some(name) = attr(0) else {
                    return Err(self.error(
                        root_span,
                        format!("\"{root}\" must be followed by a name, like {root}.NAME"),
                    ));
                };
                let (value, kind, what) = if root == "var" {
                    (scope.variable(name), NameKind::Variable, "input variable")
                } else {
                    (scope.local(name), NameKind::Local, "local value")
                };
                match value {
                    Some(v) => Ok((v, 1)),
                    None => {
                        let names = scope.names(kind);
                        let hint = suggest::hint(name, names.iter().map(String::as_str));
                        Err(self.error(
                            span_to(0),
                            format!("reference to undeclared {what} \"{name}\"{hint}"),
                        ))
                    }
                }
            }
            "count" => match attr(0) {
                Some("index") => match scope.count_index() {
                    Some(i) => Ok((Value::Number(Number::from_i64(i as i64)), 1)),
                    None => Err(self.error(
                        span_to(0),
                        "count.index can only be used in a resource that sets count",
                    )),
                },
                _ => Err(self.error(span_to(0), "the only attribute of \"count\" is count.index")),
            },
            "each" => match attr(0) {
                Some(which @ ("key" | "value")) => match scope.each() {
                    Some((k, v)) => Ok((if which == "key" { k } else { v }, 1)),
                    None => Err(self.error(
                        span_to(0),
                        format!("each.{which} can only be used in a resource that sets for_each"),
                    )),
                },
                _ => Err(self.error(
                    span_to(0),
                    "the attributes of \"each\" are each.key and each.value",
                )),
            },
            "path" => match attr(0) {
                Some(which @ ("module" | "root" | "cwd")) => {
                    let p = scope.path(which).unwrap_or_else(|| ".".to_string());
                    Ok((Value::String(p.into()), 1))
                }
                _ => Err(self.error(
                    span_to(0),
                    "the attributes of \"path\" are path.module, path.root and path.cwd",
                )),
            },
            "kiln" | "terraform" => {
                let expected = if root == "kiln" { "env" } else { "workspace" };
                if attr(0) == Some(expected) {
                    Ok((Value::String(scope.env().into()), 1))
                } else {
                    Err(self.error(
                        span_to(0),
                        format!("the only attribute of \"{root}\" is {root}.{expected}"),
                    ))
                }
            }
            "module" => match attr(0) {
                Some(name) => match scope.module(name) {
                    Some(v) => Ok((v, 1)),
                    None => {
                        let names = scope.names(NameKind::Module);
                        let hint = suggest::hint(name, names.iter().map(String::as_str));
                        Err(self.error(
                            span_to(0),
                            format!("reference to undeclared module \"{name}\"{hint}"),
                        ))
                    }
                },
                None => Err(self.error(
                    root_span,
                    "\"module\" must be followed by a module name, like module.NAME.OUTPUT",
                )),
            },
            "self" => match scope.self_value() {
                Some(v) => Ok((v, 0)),
                None => Err(self.error(
                    root_span,
                    "\"self\" can only be used in a postcondition block of a resource",
                )),
            },
            "data" => match (attr(0), attr(1)) {
                (Some(ty), Some(name)) => {
                    let addr = ResourceAddr::data(ty, name);
                    self.resource(&addr, span_to(1)).map(|v| (v, 2))
                }
                _ => Err(self.error(
                    span_to(0),
                    "a data source reference needs a type and a name, like data.TYPE.NAME",
                )),
            },
            ty => match attr(0) {
                Some(name) => {
                    let addr = ResourceAddr::managed(ty, name);
                    self.resource(&addr, span_to(0)).map(|v| (v, 1))
                }
                None => Err(self.error(root_span, bare_ident_message(ty))),
            },
        }
    }

    fn resource(&self, addr: &ResourceAddr, range: Option<Range<usize>>) -> R {
        match self.scope.resource(addr) {
            Some(v) => Ok(v),
            None => {
                let names = self.scope.names(NameKind::Resource);
                let hint = suggest::hint(&addr.to_string(), names.iter().map(String::as_str));
                let what = if addr.mode == kiln_model::ResourceMode::Data {
                    "data source"
                } else {
                    "resource"
                };
                Err(self.error(
                    range,
                    format!("reference to undeclared {what} \"{addr}\"{hint}"),
                ))
            }
        }
    }

    /// Applies traversal operators (attribute access, index, splat) to a value.
    fn apply(&mut self, mut value: Value, ops: &'a [hcl_edit::Decorated<TraversalOperator>]) -> R {
        let mut sensitive = false;
        let mut i = 0;
        while i < ops.len() {
            let (v, s) = unmark(value);
            sensitive |= s;
            value = v;
            let op = &ops[i];
            value = match op.value() {
                TraversalOperator::GetAttr(name) => {
                    self.get_attr(value, name.as_str(), op.span())?
                }
                TraversalOperator::Index(key) => {
                    let k = self.expr(key)?;
                    self.index(value, k, key.span())?
                }
                TraversalOperator::LegacyIndex(n) => {
                    let n = Number::from_u64(*n.value());
                    self.index(value, Value::Number(n), op.span())?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let end = if matches!(op.value(), TraversalOperator::AttrSplat(_)) {
                        ops[i + 1..]
                            .iter()
                            .position(|o| {
                                !matches!(
                                    o.value(),
                                    TraversalOperator::GetAttr(_)
                                        | TraversalOperator::LegacyIndex(_)
                                )
                            })
                            .map_or(ops.len(), |p| i + 1 + p)
                    } else {
                        ops.len()
                    };
                    let rest = &ops[i + 1..end];
                    let out = match value {
                        Value::Unknown => Value::Unknown,
                        Value::Null => Value::List(Vec::new().into()),
                        Value::List(items) => {
                            // A splat over a list or set makes a list, over a
                            // tuple a tuple.
                            let kind = match items.kind() {
                                SeqKind::Tuple => SeqKind::Tuple,
                                SeqKind::List | SeqKind::Set => SeqKind::List,
                            };
                            let mut out = Vec::with_capacity(items.len());
                            for item in items {
                                out.push(self.apply(item, rest)?);
                            }
                            Value::List(Seq::new(out, kind))
                        }
                        other => Value::List(vec![self.apply(other, rest)?].into()),
                    };
                    i = end;
                    value = out;
                    continue;
                }
            };
            i += 1;
        }
        Ok(mark(value, sensitive))
    }

    fn get_attr(&self, value: Value, name: &str, span: Option<Range<usize>>) -> R {
        match value {
            Value::Map(mut m) => match m.remove(name) {
                Some(v) => Ok(v),
                None => {
                    let hint = suggest::hint(name, m.keys().map(|k| k.as_str()));
                    let mut d = self
                        .loc(span)
                        .error(format!("unsupported attribute \"{name}\"{hint}"));
                    d = d.with_detail(if m.is_empty() {
                        "this object has no attributes".to_string()
                    } else {
                        format!(
                            "this object has: {}",
                            list_names(m.keys().map(|k| k.as_str()))
                        )
                    });
                    Err(d.into())
                }
            },
            Value::Unknown => Ok(Value::Unknown),
            Value::Null => Err(self.error(
                span,
                format!("cannot get attribute \"{name}\" of a null value"),
            )),
            Value::List(_) => Err(self
                .loc(span)
                .error(format!("cannot get attribute \"{name}\" of a list"))
                .with_detail(format!(
                    "use an index ([0].{name}) or a splat ([*].{name}) to reach its elements"
                ))
                .into()),
            other => Err(self.error(
                span,
                format!("cannot get attribute \"{name}\" of a {}", other.type_name()),
            )),
        }
    }

    fn index(&self, value: Value, key: Value, span: Option<Range<usize>>) -> R {
        let (key, ks) = unmark(key);
        if matches!(key, Value::Unknown) {
            return Ok(mark(Value::Unknown, ks));
        }
        let out = match value {
            Value::Unknown => Value::Unknown,
            Value::List(items) if items.kind() == SeqKind::Set => {
                return Err(self
                    .loc(span)
                    .error("a set has no index: its elements are identified by their value")
                    .with_detail("convert it with tolist(...) to read an element by position, or use one(...) or a for expression")
                    .into());
            }
            Value::List(mut items) => {
                let i = match convert(key, &Type::Number) {
                    Ok(Value::Number(n)) => n,
                    Ok(_) => return Err(self.error(span, "index must not be null")),
                    Err(e) => {
                        return Err(self.error(
                            span,
                            format!("a list index must be a number, got {}", e.got),
                        ));
                    }
                };
                let len = items.len();
                match i.as_i64() {
                    Some(i) if i >= 0 && (i as usize) < len => {
                        std::mem::take(&mut items[i as usize])
                    }
                    Some(_) => {
                        return Err(self.error(
                            span,
                            format!(
                                "index {i} out of range for a list of {len} element{}",
                                if len == 1 { "" } else { "s" }
                            ),
                        ));
                    }
                    None => {
                        return Err(self.error(
                            span,
                            format!("a list index must be a whole number, got {i}"),
                        ));
                    }
                }
            }
            Value::Map(mut m) => {
                let k = match convert(key, &Type::String) {
                    Ok(Value::String(s)) => s,
                    Ok(_) => return Err(self.error(span, "a map key must not be null")),
                    Err(e) => {
                        return Err(
                            self.error(span, format!("a map key must be a string, got {}", e.got))
                        );
                    }
                };
                match m.remove(&k) {
                    Some(v) => v,
                    None => {
                        let hint = suggest::hint(&k, m.keys().map(|k| k.as_str()));
                        return Err(self.error(
                            span,
                            format!("no element with key {}{hint}", Value::String(k.clone())),
                        ));
                    }
                }
            }
            Value::Null => return Err(self.error(span, "cannot index a null value")),
            other => {
                return Err(self.error(
                    span,
                    format!(
                        "cannot index a {}; only lists and maps have elements",
                        other.type_name()
                    ),
                ));
            }
        };
        Ok(mark(out, ks))
    }

    fn for_expr(&mut self, f: &'a ForExpr) -> R {
        let coll = self.expr(&f.intro.collection_expr)?;
        let (coll, sensitive) = unmark(coll);
        let items: Vec<(Value, Value)> = match coll {
            Value::Unknown => return Ok(mark(Value::Unknown, sensitive)),
            // A set's elements are their own keys (cty's ElementIterator).
            Value::List(items) if items.kind() == SeqKind::Set => {
                items.into_iter().map(|v| (v.clone(), v)).collect()
            }
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(Number::from_i64(i as i64)), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            other => {
                return Err(self.error(
                    f.intro.collection_expr.span(),
                    format!(
                        "a for expression iterates over a list or a map, not a {}",
                        other.type_name()
                    ),
                ));
            }
        };
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str());
        let value_var = f.intro.value_var.as_str();
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        // `{for ... : k => v...}`: the values of each key, in order.
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut unknown = false;
        let depth = self.bindings.len();
        let result = (|| -> Result<(), Diagnostics> {
            for (k, v) in items {
                self.bindings.truncate(depth);
                if let Some(kv) = key_var {
                    self.bindings.push((kv, k));
                }
                self.bindings.push((value_var, v));
                if let Some(cond) = &f.cond {
                    let c = self.expr(&cond.expr)?;
                    let (c, _) = unmark(c);
                    match self.to_bool(c, &cond.expr, "the for expression's condition")? {
                        Some(true) => {}
                        Some(false) => continue,
                        None => {
                            unknown = true;
                            continue;
                        }
                    }
                }
                match &f.key_expr {
                    None => list.push(self.expr(&f.value_expr)?),
                    Some(key_expr) => {
                        let key = self.expr(key_expr)?;
                        let (key, _) = unmark(key);
                        let key = match key {
                            Value::Unknown => {
                                unknown = true;
                                continue;
                            }
                            other => match convert(other, &Type::String) {
                                Ok(Value::String(s)) => s,
                                _ => {
                                    return Err(self.error(
                                        key_expr.span(),
                                        "a for expression's key must be a string",
                                    ));
                                }
                            },
                        };
                        let value = self.expr(&f.value_expr)?;
                        if f.grouping {
                            groups.entry(key.to_string()).or_default().push(value);
                        } else {
                            match map.entry(key.to_string()) {
                                std::collections::btree_map::Entry::Occupied(e) => {
                                    return Err(self
                                        .loc(key_expr.span())
                                        .error(format!("duplicate key \"{}\" in for expression", e.key()))
                                        .with_detail("add \"...\" after the value to group the values of equal keys into lists")
                                        .into());
                                }
                                std::collections::btree_map::Entry::Vacant(e) => {
                                    e.insert(value);
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        })();
        self.bindings.truncate(depth);
        result?;
        let out = if unknown {
            Value::Unknown
        } else if f.grouping {
            Value::Map(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::List(v.into())))
                    .collect(),
            )
        } else if f.key_expr.is_some() {
            Value::Map(map.into())
        } else {
            Value::List(list.into())
        };
        Ok(mark(out, sensitive))
    }

    fn call(&mut self, call: &'a FuncCall, whole: &'a Expression) -> R {
        let name = call.name.name.as_str();
        if call.name.is_namespaced() {
            return Err(self.error(
                whole.span(),
                "provider-defined functions (namespace::name) are not supported yet",
            ));
        }
        let args: Vec<&'a Expression> = call.args.iter().collect();
        match name {
            "try" => return self.call_try(&args, whole),
            "templatefile" => return self.call_templatefile(&args, whole),
            "templatestring" => return self.call_templatestring(&args, whole),
            "can" => {
                if args.len() != 1 {
                    return Err(self.error(
                        whole.span(),
                        format!("function \"can\" takes 1 argument, got {}", args.len()),
                    ));
                }
                let depth = self.bindings.len();
                let r = self.expr(args[0]);
                self.bindings.truncate(depth);
                return Ok(match r {
                    Ok(v) if !v.is_known() => Value::Unknown,
                    Ok(_) => Value::Bool(true),
                    Err(_) => Value::Bool(false),
                });
            }
            _ => {}
        }
        let Some(func) = functions::find(name) else {
            let close = suggest::close_names(name, functions::function_names());
            let mut d = self
                .loc(call.name.name.span().or(whole.span()))
                .error(format!("call to unknown function \"{name}\""));
            if !close.is_empty() {
                d = d.with_detail(format!("did you mean {}?", list_names(close.into_iter())));
            }
            return Err(d.into());
        };
        let mut values = Vec::with_capacity(args.len());
        let mut diags = Diagnostics::new();
        for a in &args {
            match self.expr(a) {
                Ok(v) => values.push(v),
                Err(d) => diags.extend(d),
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        // `f(a, list...)` passes the list's elements as arguments.
        if call.args.expand_final() {
            let last = values.pop().unwrap_or(Value::Null);
            let (last, s) = unmark(last);
            match last {
                Value::Unknown => return Ok(mark(Value::Unknown, s)),
                Value::List(items) => values.extend(items.into_iter().map(|v| mark(v, s))),
                other => {
                    return Err(self.error(
                        args.last().and_then(|a| a.span()),
                        format!(
                            "the argument expanded with \"...\" must be a list, got {}",
                            other.type_name()
                        ),
                    ));
                }
            }
        }
        if let Err(msg) = func.check_arity(values.len()) {
            return Err(self.error(whole.span(), msg));
        }
        match functions::call(func, self.scope.files(), values) {
            Ok(v) => Ok(nfc_value(v)),
            Err(FnError { arg, msg }) => {
                let range = arg
                    .and_then(|i| args.get(i.min(args.len().saturating_sub(1))))
                    .and_then(|a| a.span())
                    .or_else(|| whole.span());
                Err(self.error(range, format!("{name}(): {msg}")))
            }
        }
    }

    fn call_try(&mut self, args: &[&'a Expression], whole: &'a Expression) -> R {
        if args.is_empty() {
            return Err(self.error(whole.span(), "function \"try\" takes at least 1 argument"));
        }
        let mut errors = Vec::new();
        for a in args {
            let depth = self.bindings.len();
            let r = self.expr(a);
            self.bindings.truncate(depth);
            match r {
                // An unknown value might still fail once known: the result
                // is not decided yet.
                Ok(v) if !v.is_known() => return Ok(Value::Unknown),
                Ok(v) => return Ok(v),
                Err(d) => errors.extend(d.into_iter().map(|d| d.summary)),
            }
        }
        Err(self
            .loc(whole.span())
            .error("no expression given to try() succeeded")
            .with_detail(errors.join("\n"))
            .into())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn bare_ident_message(name: &str) -> String {
    match name {
        "var" | "local" => format!("\"{name}\" must be followed by a name, like {name}.NAME"),
        "count" => "\"count\" must be followed by .index".to_string(),
        "each" => "\"each\" must be followed by .key or .value".to_string(),
        "data" => "a data source reference needs a type and a name, like data.TYPE.NAME".into(),
        _ => format!(
            "unknown name \"{name}\"; a resource reference needs a type and a name, like {name}.NAME"
        ),
    }
}

/// Equality of two known, unmarked values, as cty's `Equals`: values of
/// different types are unequal, so a list is never equal to a tuple, nor a
/// map to an object (`tolist([1]) == [1]` is false), at any depth. Numbers
/// compare by value.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            x.kind() == y.kind()
                && x.len() == y.len()
                && x.iter().zip(y.iter()).all(|(a, b)| values_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.kind() == y.kind()
                && x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, a), (kb, b))| ka == kb && values_equal(a, b))
        }
        _ => a == b,
    }
}

/// `"a", "b" and "c"`.
pub(crate) fn list_names<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let names: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n if n > 20 => format!("{}, ... ({} in all)", names[..20].join(", "), n),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// A scope with nothing in it, for constant expressions.
struct Empty;

impl Scope for Empty {
    fn variable(&self, _: &str) -> Option<Value> {
        None
    }
    fn local(&self, _: &str) -> Option<Value> {
        None
    }
    fn resource(&self, _: &ResourceAddr) -> Option<Value> {
        None
    }
}

/// Evaluates an expression that must not refer to anything.
pub(crate) fn constant(expr: &Expr, what: &str) -> Result<Value, Diagnostics> {
    if let Some(r) = expr.references().into_iter().next() {
        return Err(r
            .loc
            .error(format!(
                "{what} must be a constant; references are not allowed here"
            ))
            .into());
    }
    eval(expr, &Empty)
}

/// cty's unification of two collections of primitives (a conditional's
/// results): element by element when both have the same shape (same
/// length, same keys), else every element to one type; where a string
/// meets a number or a bool, the chosen value's elements become strings.
fn unify_collections(
    v: Value,
    other: &Value,
    kind: &dyn Fn(&Value) -> Option<&'static str>,
    to_string: &dyn Fn(Value) -> Value,
) -> Value {
    // The common kind: a list, set or map meeting a tuple or object
    // makes the collection (`true ? tolist(["a"]) : ["b"]` is a list).
    let kind_of = |v: &Value| match v {
        Value::List(l) => Some(Err(l.kind())),
        Value::Map(m) => Some(Ok(m.kind())),
        _ => None,
    };
    let common = match (kind_of(&v), kind_of(other.unmarked())) {
        (Some(Err(a)), Some(Err(b))) => Some(Err(match (a, b) {
            (SeqKind::Set, _) | (_, SeqKind::Set) => SeqKind::Set,
            (SeqKind::List, _) | (_, SeqKind::List) => SeqKind::List,
            _ => SeqKind::Tuple,
        })),
        (Some(Ok(a)), Some(Ok(b))) => Some(Ok(match (a, b) {
            (MapKind::Map, _) | (_, MapKind::Map) => MapKind::Map,
            _ => MapKind::Object,
        })),
        _ => None,
    };
    match (unify_elements(v, other, kind, to_string), common) {
        (Value::List(l), Some(Err(SeqKind::Set))) => Value::List(Seq::new(
            crate::convert::make_set(l.into_vec()),
            SeqKind::Set,
        )),
        (Value::List(l), Some(Err(k))) => Value::List(l.with_kind(k)),
        (Value::Map(m), Some(Ok(k))) => Value::Map(m.with_kind(k)),
        (v, _) => v,
    }
}

fn unify_elements(
    v: Value,
    other: &Value,
    kind: &dyn Fn(&Value) -> Option<&'static str>,
    to_string: &dyn Fn(Value) -> Value,
) -> Value {
    let stringy =
        |kinds: &[&str]| kinds.contains(&"string") && kinds.iter().any(|k| *k != "string");
    match (v, other.unmarked()) {
        (Value::List(items), Value::List(others)) => {
            if items.len() == others.len() {
                let items = items
                    .into_iter()
                    .zip(others)
                    .map(|(i, o)| match (kind(&i), kind(o)) {
                        (Some(a), Some(b)) if stringy(&[a, b]) => to_string(i),
                        _ => i,
                    })
                    .collect();
                return Value::List(items);
            }
            let kinds: Vec<&str> = items.iter().chain(others).filter_map(kind).collect();
            if stringy(&kinds) {
                Value::List(items.into_iter().map(to_string).collect())
            } else {
                Value::List(items)
            }
        }
        (Value::Map(m), Value::Map(others)) => {
            if m.keys().eq(others.keys()) {
                let m = m
                    .into_iter()
                    .map(|(k, i)| {
                        let i = match (kind(&i), others.get(&k).and_then(kind)) {
                            (Some(a), Some(b)) if stringy(&[a, b]) => to_string(i),
                            _ => i,
                        };
                        (k, i)
                    })
                    .collect();
                return Value::Map(m);
            }
            let kinds: Vec<&str> = m.values().chain(others.values()).filter_map(kind).collect();
            if stringy(&kinds) {
                Value::Map(m.into_iter().map(|(k, i)| (k, to_string(i))).collect())
            } else {
                Value::Map(m)
            }
        }
        (v, _) => v,
    }
}

/// A number literal as Terraform reads it: its text parsed at 512 bits
/// (`cty.ParseNumberVal`), not the `f64` the parser made of it.
fn literal_number(n: &hcl_edit::Formatted<hcl_edit::Number>) -> Number {
    // The repr is the literal as written; a negative one may hold spaces
    // (`- 1`), the only case that needs a copy.
    let parsed = n.as_repr().and_then(|r| {
        let r: &str = r;
        if r.contains(char::is_whitespace) {
            Number::parse(&r.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        } else {
            Number::parse(r)
        }
    });
    if let Some(parsed) = parsed {
        return parsed;
    }
    let v = n.value();
    if let Some(i) = v.as_i64() {
        return Number::parse(&i.to_string()).unwrap_or_else(|| Number::from_i64(i));
    }
    if let Some(u) = v.as_u64() {
        return Number::parse(&u.to_string()).unwrap_or_else(|| Number::from_u64(u));
    }
    let f = v.as_f64().unwrap_or(0.0);
    Number::parse(&f.to_string()).unwrap_or_else(|| Number::from(f))
}

/// A string as cty holds every string: in Unicode normalization form C
/// (`cty.StringVal`), so `"e\u0301"` is `"é"` (one character).
pub(crate) fn nfc(s: String) -> String {
    use unicode_normalization::{UnicodeNormalization as _, is_nfc_quick};
    if s.is_ascii() || is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return s;
    }
    s.nfc().collect()
}

/// Every string in `v` (map keys too) in NFC, as [`nfc`]; in place, so a
/// large ASCII value costs one pass and no allocation.
pub(crate) fn nfc_value(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) if !s.is_ascii() => *s = nfc(s.to_string()).into(),
            Value::List(items) => items.iter_mut().for_each(walk),
            Value::Map(m) => {
                if m.keys().any(|k| !k.is_ascii()) {
                    *m = std::mem::take(m)
                        .into_iter()
                        .map(|(k, v)| (nfc(k.into()), v))
                        .collect();
                }
                m.values_mut().for_each(walk);
            }
            Value::Sensitive(inner) => walk(inner),
            _ => {}
        }
    }
    walk(&mut v);
    v
}
