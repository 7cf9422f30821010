//! Templates: string templates with interpolations and `%{ if }` /
//! `%{ for }` directives (strip markers included), and `templatefile`.

use super::*;
use crate::template_lines::{strips_end, strips_start};

impl<'a> Cx<'a> {
    /// A template of several parts: always a string. `quoted` for a quoted
    /// string (not a heredoc or a template file): hcl-edit leaves the
    /// escapes of its directives' bodies undone, and they are done here.
    pub(super) fn template_elements(&mut self, elements: &'a Template, quoted: bool) -> R {
        let mut out = String::new();
        let mut st = TemplateState {
            quoted,
            ..TemplateState::default()
        };
        self.render(elements, &mut out, &mut st, false, false)?;
        let v = if st.unknown {
            Value::Unknown
        } else {
            Value::String(nfc(out).into())
        };
        Ok(mark(v, st.sensitive))
    }

    /// Renders template elements into `out`. `trim_first` / `trim_last` strip
    /// whitespace at the edges (the `~` of an enclosing directive).
    fn render(
        &mut self,
        elements: &'a Template,
        out: &mut String,
        st: &mut TemplateState,
        trim_first: bool,
        trim_last: bool,
    ) -> Result<(), Diagnostics> {
        for (i, el) in elements.iter().enumerate() {
            match el {
                Element::Literal(lit) => {
                    let unescaped;
                    let mut s = lit.value().as_str();
                    if st.quoted && st.depth > 0 {
                        unescaped = unescape(s);
                        s = &unescaped;
                    }
                    let strip_before = match i.checked_sub(1).and_then(|p| elements.get(p)) {
                        None => trim_first,
                        Some(prev) => strips_end(prev),
                    };
                    let strip_after = match elements.get(i + 1) {
                        None => trim_last,
                        Some(next) => strips_start(next),
                    };
                    if strip_before {
                        s = s.trim_start();
                    }
                    if strip_after {
                        s = s.trim_end();
                    }
                    out.push_str(s);
                }
                Element::Interpolation(interp) => {
                    let v = self.expr(&interp.expr)?;
                    self.push_str(v, &interp.expr, out, st)?;
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        let c = self.expr(&d.if_expr.cond_expr)?;
                        let (c, s) = unmark(c);
                        st.sensitive |= s;
                        match self.to_bool(c, &d.if_expr.cond_expr, "the %{if} condition")? {
                            None => st.unknown = true,
                            Some(true) => {
                                let trim_last = match &d.else_expr {
                                    Some(e) => e.strip.strip_start(),
                                    None => d.endif_expr.strip.strip_start(),
                                };
                                st.depth += 1;
                                let r = self.render(
                                    &d.if_expr.template,
                                    out,
                                    st,
                                    d.if_expr.strip.strip_end(),
                                    trim_last,
                                );
                                st.depth -= 1;
                                r?;
                            }
                            Some(false) => {
                                if let Some(e) = &d.else_expr {
                                    st.depth += 1;
                                    let r = self.render(
                                        &e.template,
                                        out,
                                        st,
                                        e.strip.strip_end(),
                                        d.endif_expr.strip.strip_start(),
                                    );
                                    st.depth -= 1;
                                    r?;
                                }
                            }
                        }
                    }
                    Directive::For(d) => {
                        let fe = &d.for_expr;
                        let coll = self.expr(&fe.collection_expr)?;
                        let (coll, s) = unmark(coll);
                        st.sensitive |= s;
                        let items: Vec<(Value, Value)> = match coll {
                            Value::Unknown => {
                                st.unknown = true;
                                continue;
                            }
                            Value::List(items) => items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::Number(Number::from_i64(i as i64)), v))
                                .collect(),
                            Value::Map(m) => {
                                m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                            }
                            other => {
                                return Err(self.error(
                                    fe.collection_expr.span(),
                                    format!(
                                        "%{{for}} iterates over a list or a map, not a {}",
                                        other.type_name()
                                    ),
                                ));
                            }
                        };
                        let depth = self.bindings.len();
                        let mut result = Ok(());
                        for (k, v) in items {
                            self.bindings.truncate(depth);
                            if let Some(kv) = &fe.key_var {
                                self.bindings.push((kv.as_str(), k));
                            }
                            self.bindings.push((fe.value_var.as_str(), v));
                            st.depth += 1;
                            result = self.render(
                                &fe.template,
                                out,
                                st,
                                fe.strip.strip_end(),
                                d.endfor_expr.strip.strip_start(),
                            );
                            st.depth -= 1;
                            if result.is_err() {
                                break;
                            }
                        }
                        self.bindings.truncate(depth);
                        result?;
                    }
                },
            }
        }
        Ok(())
    }

    fn push_str(
        &self,
        v: Value,
        at: &Expression,
        out: &mut String,
        st: &mut TemplateState,
    ) -> Result<(), Diagnostics> {
        let (v, s) = unmark(v);
        st.sensitive |= s;
        match v {
            Value::Unknown => st.unknown = true,
            Value::String(s) => out.push_str(&s),
            Value::Number(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Null => {
                return Err(self.error(
                    at.span(),
                    "cannot include a null value in a string template",
                ));
            }
            other => {
                return Err(self
                    .loc(at.span())
                    .error(format!(
                        "cannot include a {} in a string template",
                        other.type_name()
                    ))
                    .with_detail("convert it first, with jsonencode() or join()")
                    .into());
            }
        }
        Ok(())
    }

    /// `templatefile(path, vars)`: reads a file through the scope's file
    /// system and renders it as a template whose only names are `vars`.
    pub(super) fn call_templatefile(
        &mut self,
        args: &[&'a Expression],
        whole: &'a Expression,
    ) -> R {
        if args.len() != 2 {
            return Err(self.error(
                whole.span(),
                format!(
                    "function \"templatefile\" takes 2 arguments (path, vars), got {}",
                    args.len()
                ),
            ));
        }
        if self.template {
            return Err(self.error(
                whole.span(),
                "templatefile cannot be called from inside a template file",
            ));
        }
        let path = self.expr(args[0])?;
        let vars = self.expr(args[1])?;
        let (path, s1) = unmark(path);
        let (vars, s2) = unmark(vars);
        let sensitive = s1 || s2;
        let path = match convert(path, &Type::String) {
            Ok(Value::String(p)) => p,
            Ok(Value::Unknown) => return Ok(mark(Value::Unknown, sensitive)),
            Ok(_) => {
                return Err(self.error(args[0].span(), "templatefile(): the path must not be null"));
            }
            Err(e) => {
                return Err(self.error(
                    args[0].span(),
                    format!("templatefile(): the path must be a string, got {}", e.got),
                ));
            }
        };
        let Some(vars) = self.template_vars(vars, args[1], "templatefile")? else {
            return Ok(mark(Value::Unknown, sensitive));
        };
        let bytes = self
            .scope
            .files()
            .read(&path)
            .map_err(|e| self.error(args[0].span(), format!("templatefile(): {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            self.error(
                args[0].span(),
                format!(
                    "templatefile(): contents of {} are not valid UTF-8",
                    Value::String(path.clone())
                ),
            )
        })?;
        let v = self.render_text(path.to_string(), text, &vars)?;
        Ok(mark(v, sensitive))
    }

    /// `templatestring(ref, vars)` (Terraform 1.9): a string obtained at
    /// run time (`local.template`, a data source's body) rendered as a
    /// template whose only names are `vars`. The template must be a
    /// reference: a literal string is already a template, so Terraform
    /// refuses one.
    pub(super) fn call_templatestring(
        &mut self,
        args: &[&'a Expression],
        whole: &'a Expression,
    ) -> R {
        if args.len() != 2 {
            return Err(self.error(
                whole.span(),
                format!(
                    "function \"templatestring\" takes 2 arguments (template, vars), got {}",
                    args.len()
                ),
            ));
        }
        if !matches!(args[0], Expression::Traversal(_) | Expression::Variable(_)) {
            return Err(self.error(
                args[0].span(),
                "templatestring(): the template must be a reference to a string obtained at run time (local.template, or a data source's attribute): a literal string is a template already; render it directly",
            ));
        }
        let template = self.expr(args[0])?;
        let vars = self.expr(args[1])?;
        let (template, s1) = unmark(template);
        let (vars, s2) = unmark(vars);
        let sensitive = s1 || s2;
        let text = match template {
            Value::String(t) => t,
            Value::Unknown => return Ok(mark(Value::Unknown, sensitive)),
            other => {
                return Err(self.error(
                    args[0].span(),
                    format!(
                        "templatestring(): the template must be a string, got {}",
                        other.type_name()
                    ),
                ));
            }
        };
        let Some(vars) = self.template_vars(vars, args[1], "templatestring")? else {
            return Ok(mark(Value::Unknown, sensitive));
        };
        let v = self.render_text("<templatestring>".into(), text.to_string(), &vars)?;
        Ok(mark(v, sensitive))
    }

    /// A template function's `vars`: a map or an object of values named
    /// like identifiers; `None` when not known yet.
    fn template_vars(
        &self,
        vars: Value,
        at: &Expression,
        function: &str,
    ) -> Result<Option<BTreeMap<String, Value>>, Diagnostics> {
        let vars = match vars {
            Value::Map(m) => m,
            Value::Unknown => return Ok(None),
            other => {
                return Err(self.error(
                    at.span(),
                    format!(
                        "{function}(): vars must be an object or a map, got {}",
                        other.type_name()
                    ),
                ));
            }
        };
        if let Some(bad) = vars.keys().find(|k| !is_identifier(k)) {
            return Err(self.error(
                at.span(),
                format!("{function}(): invalid template variable name \"{bad}\": must start with a letter, followed by letters, digits, underscores or dashes"),
            ));
        }
        Ok(Some(vars.into_map().into()))
    }

    /// Parses `text` (named `name` in messages) as a template and renders
    /// it with `vars` as its only names.
    fn render_text(&self, name: String, text: String, vars: &BTreeMap<String, Value>) -> R {
        let file = Arc::new(SourceFile { name, text });
        let mut template = hcl_edit::parser::parse_template(&file.text)
            .map_err(|e| Diagnostics::from(syntax_error(&file, &e)))?;
        crate::template_lines::template_file(&mut template);
        let mut cx = Cx {
            scope: self.scope,
            file: &file,
            base: 0,
            fallback: 0..0,
            bindings: vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(),
            template: true,
        };
        cx.template_elements(&template, false)
    }
}

pub(super) fn template_var_message(name: &str) -> String {
    format!(
        "vars map does not contain key \"{name}\", referenced in the template; pass it to templatefile"
    )
}

#[derive(Default)]
struct TemplateState {
    unknown: bool,
    sensitive: bool,
    /// Rendering a quoted string, …
    quoted: bool,
    /// … and how deep in its directives' bodies.
    depth: usize,
}

/// HCL's escapes in a quoted string (`\n`, `\r`, `\t`, `\"`, `\\`,
/// `\uNNNN`, `\UNNNNNNNN`); anything else is kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(u @ ('u' | 'U')) => {
                let len = if u == 'u' { 4 } else { 8 };
                let rest: String = chars.clone().skip(1).take(len).collect();
                match u32::from_str_radix(&rest, 16).ok().and_then(char::from_u32) {
                    Some(ch) if rest.len() == len => {
                        out.push(ch);
                        for _ in 0..len {
                            chars.next();
                        }
                    }
                    _ => {
                        out.push('\\');
                        continue;
                    }
                }
            }
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}
