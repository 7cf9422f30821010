//! Heredocs and template files as HCL reads them: literal text in lines.
//!
//! HCL's scanner cuts the literal text of a heredoc or a template file
//! (`templatefile`, `templatestring`) at every newline: each line is its
//! own literal token, ending with its `\n`. That matters twice:
//!
//! - a strip marker (`${~`, `~}`, `%{~`, `~}`) trims whitespace from the one
//!   literal token next to it, so it never reaches across lines
//!   (`"a  \n\n  ${~ x}"` keeps `"a  \n\n"`);
//! - `<<-` heredocs lose the smallest indentation of their lines, counted
//!   on the tokens *after* strip markers have trimmed them, in source order
//!   through directive bodies: a line whose literal starts after a stripped
//!   newline is no line start, a line-start literal that a strip marker
//!   emptied counts as no indentation, a blank line (only whitespace, then
//!   its newline) neither counts nor changes.
//!
//! hcl-edit keeps a heredoc's text between interpolations as one literal
//! and dedents `<<-` bodies by its own rule, before strip markers. This
//! module rewrites what it parsed into HCL's shape once, when a file is
//! read: the literals cut into lines, and for `<<-` the original text put
//! back and dedented by HCL's rule. The evaluator then strips the adjacent
//! literal only (`eval/template.rs`). Quoted strings stay one literal
//! between interpolations, as in HCL (their escapes may hold newlines).
//!
//! Rules observed on Terraform 1.11.4 (`hclsyntax`'s template scanner and
//! its heredoc flush); the cases are in `crates/config/tests/eval.rs`.

use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use hcl_edit::template::{Directive, Element, HeredocTemplate, Template};
use hcl_edit::visit_mut::{self, VisitMut};
use hcl_edit::{Span, Spanned};

/// Rewrites every heredoc of `body` (parsed from `text`) into HCL's shape.
pub(crate) fn body(body: &mut Body, text: &str) {
    Heredocs { text }.visit_body_mut(body);
}

/// Rewrites every heredoc of one expression (parsed from `text`).
pub(crate) fn expr(expr: &mut Expression, text: &str) {
    Heredocs { text }.visit_expr_mut(expr);
}

/// A template file's template: its literals cut into lines.
pub(crate) fn template_file(template: &mut Template) {
    split_lines(template);
}

struct Heredocs<'t> {
    text: &'t str,
}

impl VisitMut for Heredocs<'_> {
    fn visit_heredoc_template_mut(&mut self, node: &mut HeredocTemplate) {
        // Heredocs inside interpolations first.
        visit_mut::visit_heredoc_template_mut(self, node);
        let flush = node
            .span()
            .and_then(|s| self.text.get(s.start..))
            .is_some_and(|rest| rest.trim_start().starts_with("<<-"));
        if flush && node.indent().is_some() {
            restore_source(&mut node.template, self.text);
        }
        split_lines(&mut node.template);
        if flush {
            dedent(&mut node.template);
        }
    }
}

/// Puts back the text hcl-edit dedented: its top-level literals, read from
/// their spans, with the template escapes (`$${`, `%%{`) undone.
fn restore_source(template: &mut Template, text: &str) {
    for el in template.iter_mut() {
        if let Element::Literal(lit) = el
            && let Some(raw) = lit.span().and_then(|s| text.get(s))
        {
            *lit.value_mut() = raw.replace("$${", "${").replace("%%{", "%{");
        }
    }
}

/// Cuts every literal (in directive bodies too) after each newline.
fn split_lines(template: &mut Template) {
    let elements: Vec<Element> = std::mem::take(template).into_iter().collect();
    let mut out = Vec::with_capacity(elements.len());
    for el in elements {
        match el {
            Element::Literal(lit) if lit.value().trim_end_matches('\n').contains('\n') => {
                // The pieces carry no span (hcl-edit keeps spans its own);
                // nothing reports a location inside literal text.
                for line in lit.value().split_inclusive('\n') {
                    out.push(Element::Literal(Spanned::new(line.to_string())));
                }
            }
            Element::Directive(mut d) => {
                for body in bodies(&mut d) {
                    split_lines(body);
                }
                out.push(Element::Directive(d));
            }
            other => out.push(other),
        }
    }
    *template = Template::from(out);
}

fn bodies(d: &mut Directive) -> Vec<&mut Template> {
    match d {
        Directive::If(d) => {
            let mut v = vec![&mut d.if_expr.template];
            if let Some(e) = &mut d.else_expr {
                v.push(&mut e.template);
            }
            v
        }
        Directive::For(d) => vec![&mut d.for_expr.template],
    }
}

/// One token of a template in source order, as HCL's flush sees it.
enum Token {
    /// A literal, after the strip markers on either side trimmed it.
    Literal(String),
    /// An interpolation or a directive's opening, `else` or end.
    Other,
}

/// HCL's `<<-` flush: the smallest indentation of the line-start literals
/// (after stripping) is removed from each of them.
fn dedent(template: &mut Template) {
    let mut tokens = Vec::new();
    flatten(template, &mut tokens, false, false);
    let mut newline = true;
    let mut min = usize::MAX;
    // Which literals (in flat order) start a line and are adjusted.
    let mut adjust = Vec::with_capacity(tokens.len());
    for t in &tokens {
        let mut adjusted = false;
        if newline {
            newline = false;
            let spaces = match t {
                Token::Literal(v) => {
                    let trimmed = v.trim_start();
                    if trimmed.is_empty() && v.ends_with('\n') {
                        usize::MAX
                    } else {
                        adjusted = true;
                        v[..v.len() - trimmed.len()].chars().count()
                    }
                }
                Token::Other => 0,
            };
            min = min.min(spaces);
        }
        if let Token::Literal(v) = t {
            adjust.push(adjusted);
            if v.ends_with('\n') {
                newline = true;
            }
        }
    }
    if min == 0 || min == usize::MAX {
        return;
    }
    let mut next = adjust.into_iter();
    remove_indent(template, min, &mut next);
}

/// Flattens `template` into `out`; `trim_first` / `trim_last` say whether
/// the tokens around it strip its edges.
fn flatten(template: &Template, out: &mut Vec<Token>, trim_first: bool, trim_last: bool) {
    let elements: Vec<&Element> = template.iter().collect();
    for (i, el) in elements.iter().enumerate() {
        match el {
            Element::Literal(lit) => {
                let before = match i.checked_sub(1) {
                    None => trim_first,
                    Some(p) => strips_end(elements[p]),
                };
                let after = match elements.get(i + 1) {
                    None => trim_last,
                    Some(next) => strips_start(next),
                };
                let mut s = lit.value().as_str();
                if before {
                    s = s.trim_start();
                }
                if after {
                    s = s.trim_end();
                }
                out.push(Token::Literal(s.to_string()));
            }
            Element::Interpolation(_) => out.push(Token::Other),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    out.push(Token::Other);
                    let if_last = match &d.else_expr {
                        Some(e) => e.strip.strip_start(),
                        None => d.endif_expr.strip.strip_start(),
                    };
                    flatten(
                        &d.if_expr.template,
                        out,
                        d.if_expr.strip.strip_end(),
                        if_last,
                    );
                    if let Some(e) = &d.else_expr {
                        out.push(Token::Other);
                        flatten(
                            &e.template,
                            out,
                            e.strip.strip_end(),
                            d.endif_expr.strip.strip_start(),
                        );
                    }
                    out.push(Token::Other);
                }
                Directive::For(d) => {
                    out.push(Token::Other);
                    flatten(
                        &d.for_expr.template,
                        out,
                        d.for_expr.strip.strip_end(),
                        d.endfor_expr.strip.strip_start(),
                    );
                    out.push(Token::Other);
                }
            },
        }
    }
}

/// Removes `n` leading characters from the literals `adjust` marks, in the
/// order [`flatten`] visits them.
fn remove_indent(template: &mut Template, n: usize, adjust: &mut impl Iterator<Item = bool>) {
    for el in template.iter_mut() {
        match el {
            Element::Literal(lit) => {
                if adjust.next() == Some(true) {
                    let v = lit.value_mut();
                    let cut = v.char_indices().nth(n).map_or(v.len(), |(i, _)| i);
                    v.drain(..cut);
                }
            }
            Element::Interpolation(_) => {}
            Element::Directive(d) => {
                for body in bodies(d) {
                    remove_indent(body, n, adjust);
                }
            }
        }
    }
}

/// Whether `el` strips whitespace after itself (`~}` at its end).
pub(crate) fn strips_end(el: &Element) -> bool {
    match el {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_end(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.endif_expr.strip.strip_end(),
            Directive::For(d) => d.endfor_expr.strip.strip_end(),
        },
    }
}

/// Whether `el` strips whitespace before itself (`${~` / `%{~`).
pub(crate) fn strips_start(el: &Element) -> bool {
    match el {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_start(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.if_expr.strip.strip_start(),
            Directive::For(d) => d.for_expr.strip.strip_start(),
        },
    }
}
