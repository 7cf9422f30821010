//! The reference walker: everything an expression refers to, without
//! evaluating it.

use super::*;
use crate::Block;

/// Everything an expression refers to, in source order.
pub(crate) fn references(expr: &Expr) -> Vec<Reference> {
    references_bound(expr, &[])
}

/// Everything an expression refers to where the names `bound` are local
/// (a dynamic block's iterator): those are not references.
pub(crate) fn references_bound<'a>(expr: &'a Expr, bound: &[&'a str]) -> Vec<Reference> {
    let mut w = RefWalker {
        file: &expr.loc.file,
        base: expr.base,
        fallback: &expr.loc.range,
        bound: bound.to_vec(),
        out: Vec::new(),
    };
    w.expr(&expr.inner);
    w.out
}

/// Every reference a body makes, nested blocks included; inside a
/// `dynamic` block's `content`, its iterator is not a reference.
pub(crate) fn body_references<'a>(
    body: &'a Body,
    bound: &mut Vec<&'a str>,
    out: &mut Vec<Reference>,
) {
    for a in &body.attributes {
        out.extend(references_bound(&a.expr, bound));
    }
    for b in &body.blocks {
        block_references(b, bound, out);
    }
}

/// Every reference a block makes (see [`body_references`]).
pub(crate) fn block_references<'a>(
    b: &'a Block,
    bound: &mut Vec<&'a str>,
    out: &mut Vec<Reference>,
) {
    let Some(iterator) = dynamic_iterator(b) else {
        body_references(&b.body, bound, out);
        return;
    };
    // for_each and labels are evaluated outside the iteration.
    for a in &b.body.attributes {
        if a.name != "iterator" {
            out.extend(references_bound(&a.expr, bound));
        }
    }
    let depth = bound.len();
    bound.push(iterator);
    for content in b.body.blocks.iter().filter(|c| c.ty == "content") {
        body_references(&content.body, bound, out);
    }
    bound.truncate(depth);
}

/// A `dynamic "NAME"` block's iterator name: its `iterator` attribute (a
/// bare name), else NAME. `None` for any other block.
pub(crate) fn dynamic_iterator(b: &Block) -> Option<&str> {
    if b.ty != "dynamic" {
        return None;
    }
    let named = b.body.attributes.iter().find(|a| a.name == "iterator");
    match named.map(|a| &a.expr.inner) {
        Some(Expression::Variable(v)) => Some(v.as_str()),
        _ => b.labels.first().map(String::as_str),
    }
}

struct RefWalker<'a> {
    file: &'a Arc<SourceFile>,
    /// Where in `file` the spans count from ([`Expr::base`]).
    base: usize,
    fallback: &'a Range<usize>,
    bound: Vec<&'a str>,
    out: Vec<Reference>,
}

impl<'a> RefWalker<'a> {
    fn push(&mut self, subject: Subject, range: Option<Range<usize>>) {
        self.out.push(Reference {
            subject,
            loc: Loc {
                file: self.file.clone(),
                range: range.map_or_else(|| self.fallback.clone(), |r| in_file(r, self.base)),
            },
        });
    }

    fn expr(&mut self, e: &'a Expression) {
        match e {
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_)
            | Expression::Variable(_) => {}
            Expression::Array(items) => items.iter().for_each(|i| self.expr(i)),
            Expression::Object(obj) => {
                for (k, v) in obj.iter() {
                    if let ObjectKey::Expression(k) = k
                        && !matches!(k, Expression::Variable(_))
                    {
                        self.expr(k);
                    }
                    self.expr(v.expr());
                }
            }
            Expression::StringTemplate(t) => self.elements(t),
            Expression::HeredocTemplate(h) => self.elements(&h.template),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Conditional(c) => {
                self.expr(&c.cond_expr);
                self.expr(&c.true_expr);
                self.expr(&c.false_expr);
            }
            Expression::FuncCall(f) => f.args.iter().for_each(|a| self.expr(a)),
            Expression::Traversal(t) => {
                match &t.expr {
                    Expression::Variable(root) if !self.bound.contains(&root.as_str()) => {
                        if let Some(subject) = subject_of(root.as_str(), &t.operators) {
                            self.push(subject, e.span());
                        }
                    }
                    other => self.expr(other),
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(i) = op.value() {
                        self.expr(i);
                    }
                }
            }
            Expression::UnaryOp(op) => self.expr(&op.expr),
            Expression::BinaryOp(op) => {
                self.expr(&op.lhs_expr);
                self.expr(&op.rhs_expr);
            }
            Expression::ForExpr(f) => {
                self.expr(&f.intro.collection_expr);
                let depth = self.bound.len();
                if let Some(k) = &f.intro.key_var {
                    self.bound.push(k.as_str());
                }
                self.bound.push(f.intro.value_var.as_str());
                if let Some(k) = &f.key_expr {
                    self.expr(k);
                }
                self.expr(&f.value_expr);
                if let Some(c) = &f.cond {
                    self.expr(&c.expr);
                }
                self.bound.truncate(depth);
            }
        }
    }

    fn elements(&mut self, elements: &'a Template) {
        for el in elements {
            match el {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.expr(&i.expr),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        self.expr(&d.if_expr.cond_expr);
                        self.elements(&d.if_expr.template);
                        if let Some(e) = &d.else_expr {
                            self.elements(&e.template);
                        }
                    }
                    Directive::For(d) => {
                        let fe = &d.for_expr;
                        self.expr(&fe.collection_expr);
                        let depth = self.bound.len();
                        if let Some(k) = &fe.key_var {
                            self.bound.push(k.as_str());
                        }
                        self.bound.push(fe.value_var.as_str());
                        self.elements(&fe.template);
                        self.bound.truncate(depth);
                    }
                },
            }
        }
    }
}

/// The subject a traversal `root.op...` refers to, if it is a reference.
pub(crate) fn subject_of(
    root: &str,
    ops: &[hcl_edit::Decorated<TraversalOperator>],
) -> Option<Subject> {
    let attr = |i: usize| match ops.get(i).map(|op| op.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some(name.as_str()),
        _ => None,
    };
    Some(match root {
        "var" => Subject::Variable(attr(0)?.to_string()),
        "local" => Subject::Local(attr(0)?.to_string()),
        "count" => Subject::CountIndex,
        "each" => match attr(0)? {
            "key" => Subject::EachKey,
            _ => Subject::EachValue,
        },
        "path" => Subject::Path(attr(0)?.to_string()),
        "kiln" | "terraform" => Subject::Env,
        "module" => Subject::Module(attr(0)?.to_string()),
        "self" => return None,
        "data" => Subject::Resource(ResourceAddr::data(attr(0)?, attr(1)?)),
        ty => Subject::Resource(ResourceAddr::managed(ty, attr(0)?)),
    })
}
