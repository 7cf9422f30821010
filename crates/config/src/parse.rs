//! HCL text to [`Config`]: the top-level blocks, the meta-arguments of
//! resources, and every structural error, located.
//!
//! Parsing is one pass over each file. Expressions are kept as parsed (with
//! their byte ranges) and evaluated later; only the few places that must be
//! constant (variable defaults, `lifecycle`) are evaluated here.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{BlockLabel, Structure};
use kiln_diag::Diagnostics;
use kiln_model::fxhash::FxHashMap;
use kiln_model::{Cutover, CutoverCheck, CutoverStep, Metric, ResourceAddr, Value};

use crate::convert::convert_constraint;
use crate::eval::{constant, list_names, subject_of};
use crate::shape::Shape;
use crate::suggest;
use crate::syntax::syntax_error;
use crate::typeexpr::parse_type;
use crate::{
    Attribute, Backend, BackendKind, Block, Body, Check, Config, Expr, Import, Lifecycle, Loc,
    Local, ModuleCall, Moved, Output, ProviderBlock, Reference, Removed, Resource, S3Backend,
    SourceFile, StateEncryption, Subject, Validation, Variable,
};

const BLOCK_TYPES: &[&str] = &[
    "resource",
    "module",
    "data",
    "variable",
    "locals",
    "output",
    "provider",
    "kiln",
    "terraform",
    "moved",
    "removed",
    "check",
    "import",
];

/// Parses every file into one configuration.
pub fn parse(files: Vec<SourceFile>) -> (Config, Diagnostics) {
    parse_in_pieces_of(files, PIECE_LEN)
}

/// [`parse`], a file of at least twice `piece_len` bytes parsed in pieces.
fn parse_in_pieces_of(files: Vec<SourceFile>, piece_len: usize) -> (Config, Diagnostics) {
    let mut p = Parser::default();
    for f in files {
        let file = Arc::new(f);
        p.config.files.push(file.clone());
        // JSON syntax: parsed as the native text it stands for.
        let file = if file.name.ends_with(".tf.json") {
            match crate::json::to_hcl(&file) {
                Ok(text) => Arc::new(SourceFile {
                    name: format!("{} (as HCL)", file.name),
                    text,
                }),
                Err((message, line, column)) => {
                    let start = crate::offset_of(&file.text, line, column);
                    let loc = Loc {
                        file: file.clone(),
                        range: start..(start + 1).min(file.text.len()).max(start),
                    };
                    p.diags.push(loc.error(format!("invalid JSON: {message}")));
                    continue;
                }
            }
        } else {
            file
        };
        if file.text.len() >= 2 * piece_len {
            p.file_in_pieces(&file, |cut| {
                crate::syntax::top_level_cuts(&file.text, piece_len, cut)
            });
        } else {
            p.whole_file(&file, 0);
        }
    }
    p.finish()
}

/// The least size of the pieces a large file is parsed in (see
/// [`Parser::file_in_pieces`]); a file under twice this is parsed whole.
const PIECE_LEN: usize = 128 * 1024;

/// The stack of a helper thread that parses or evaluates expressions (the
/// parser's piece threads, the planner's): the main thread's (8 MiB on
/// Linux), so a deeply nested expression works wherever it falls (only
/// touched pages cost).
pub const THREAD_STACK: usize = 8 << 20;

/// Most threads that parse a large file's pieces (no more than the cores):
/// with two, each keeps one piece waiting, and parsing and converting no
/// longer wait on each other (docs/performance.md).
const PIECE_THREADS: usize = 2;

/// A top-level item of a file, with a resource or data block's body
/// already converted (with what converting it found) when a piece thread
/// parsed it; `None` for other items, and for every item of a whole parse.
type Item = (Structure, Option<(Body, Diagnostics)>);

/// `text[start..end]` (of `file`) parsed on its own (its big numbers
/// hidden, [`crate::syntax::hide_big_numbers`]), its resource and data
/// blocks' bodies converted. The syntax tree's spans count from `start`
/// (the conversion adds it: [`Src`], [`Expr::base`]), so no piece is
/// parsed behind a stand-in for the text before it.
fn parse_piece(
    file: &Arc<SourceFile>,
    text: &str,
    start: usize,
    end: usize,
) -> Result<Vec<Item>, hcl_edit::parser::Error> {
    let hidden = crate::syntax::hide_big_numbers(&text[start..end]);
    let piece = hidden.as_deref().unwrap_or(&text[start..end]);
    let mut body = hcl_edit::parser::parse_body(piece)?;
    crate::template_lines::body(&mut body, piece);
    let src = Src { file, base: start };
    Ok(body
        .into_iter()
        .map(|s| match s {
            // Pure work, the bulk of a large file's conversion: done here,
            // beside the parse, so the converting thread only checks
            // declarations.
            Structure::Block(mut b) if matches!(b.ident.as_str(), "resource" | "data") => {
                let mut diags = Diagnostics::new();
                let body = std::mem::take(&mut b.body);
                let body = convert_body(src, body, Some(header(src, &b)), &mut diags);
                (Structure::Block(b), Some((body, diags)))
            }
            s => (s, None),
        })
        .collect())
}

/// Parses one expression (a `--var` value, a console line, a test input).
/// `name` is the file name its diagnostics show.
pub fn parse_expr(name: &str, text: &str) -> Result<Expr, Diagnostics> {
    let file = Arc::new(SourceFile {
        name: name.to_string(),
        text: text.to_string(),
    });
    // A trailing newline (after a heredoc, say) is not part of the expression.
    let text = file.text.trim_end();
    let hidden = crate::syntax::hide_big_numbers(text);
    let text = hidden.as_deref().unwrap_or(text);
    match hcl_edit::parser::parse_expr(text) {
        Ok(mut inner) => {
            crate::template_lines::expr(&mut inner, text);
            let range = inner.span().unwrap_or(0..file.text.len());
            Ok(Expr {
                inner,
                loc: Loc { file, range },
                base: 0,
            })
        }
        Err(e) => Err(syntax_error(&file, &e).into()),
    }
}

#[derive(Default)]
struct Parser {
    config: Config,
    diags: Diagnostics,
    /// Each resource's index in `config.resources` (its location is
    /// there), handed to the configuration as its [`crate::ResourceIndex`].
    resources: FxHashMap<ResourceAddr, usize>,
    variables: FxHashMap<String, Loc>,
    locals: FxHashMap<String, Loc>,
    outputs: FxHashMap<String, Loc>,
    providers: FxHashMap<String, Loc>,
    modules: FxHashMap<String, Loc>,
}

/// What a syntax tree was parsed from: a file, and where in it the tree's
/// spans count from (0, or the start of the piece of a large file it was
/// parsed in, see [`Parser::file_in_pieces`]).
#[derive(Clone, Copy)]
pub(crate) struct Src<'a> {
    pub file: &'a Arc<SourceFile>,
    pub base: usize,
}

impl<'a> Src<'a> {
    /// A tree parsed from the whole of `file`.
    pub fn whole(file: &'a Arc<SourceFile>) -> Src<'a> {
        Src { file, base: 0 }
    }

    /// The location of a span of the tree.
    fn loc(self, range: Option<Range<usize>>) -> Loc {
        Loc {
            file: self.file.clone(),
            range: range.map_or(0..0, |r| crate::in_file(r, self.base)),
        }
    }
}

/// The `Loc` of a block's header: its type and labels.
fn header(src: Src<'_>, b: &hcl_edit::structure::Block) -> Loc {
    let start = b.ident.span().map(|r| r.start);
    let end = b
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| b.ident.span())
        .map(|r| r.end);
    match (start, end) {
        (Some(s), Some(e)) => src.loc(Some(s..e)),
        _ => src.loc(b.span()),
    }
}

fn label_str(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

/// Converts a parsed body, checking for attributes set twice.
pub(crate) fn convert_body(
    src: Src<'_>,
    body: hcl_edit::structure::Body,
    at: Option<Loc>,
    diags: &mut Diagnostics,
) -> Body {
    let mut out = Body {
        attributes: Vec::new(),
        blocks: Vec::new(),
        loc: at,
    };
    for s in body {
        match s {
            Structure::Attribute(a) => {
                let name = a.key.as_str().to_string();
                let name_loc = src.loc(a.key.span());
                if let Some(first) = out.attributes.iter().find(|x| x.name == name) {
                    diags.push(name_loc.error(format!(
                        "attribute \"{name}\" is set twice; it was first set at {}",
                        first.loc.span()
                    )));
                    continue;
                }
                let range = a.value.span();
                out.attributes.push(Attribute {
                    name,
                    expr: Expr {
                        inner: compact(a.value),
                        loc: src.loc(range),
                        base: src.base,
                    },
                    loc: name_loc,
                });
            }
            Structure::Block(b) => {
                let h = header(src, &b);
                let labels = b.labels.iter().map(|l| label_str(l).to_string()).collect();
                let ty = b.ident.as_str().to_string();
                let body = convert_body(src, b.body, Some(h.clone()), diags);
                out.blocks.push(Block {
                    ty,
                    labels,
                    body,
                    loc: h,
                });
            }
        }
    }
    out.attributes.shrink_to_fit();
    out.blocks.shrink_to_fit();
    out
}

/// The expression without the spare capacity its parse left: hcl-edit
/// grows an object's entries and an array's elements as it reads them (four
/// slots of ~260 bytes for a one-entry object), and a clone allocates
/// exactly what each holds, nested ones included. The configuration keeps
/// every expression for the whole command, so at 100,000 resources this is
/// tens of megabytes (docs/performance.md).
fn compact(expr: hcl_edit::expr::Expression) -> hcl_edit::expr::Expression {
    use hcl_edit::expr::Expression;
    match &expr {
        Expression::Object(_) | Expression::Array(_) | Expression::FuncCall(_) => expr.clone(),
        _ => expr,
    }
}

fn constant_bool(expr: &Expr, what: &str) -> Result<bool, Diagnostics> {
    match constant(expr, what)?.unmarked() {
        Value::Bool(b) => Ok(*b),
        other => Err(expr
            .loc
            .error(format!(
                "{what} must be true or false, got {}",
                other.type_name()
            ))
            .into()),
    }
}

fn constant_number(expr: &Expr, what: &str) -> Result<f64, Diagnostics> {
    match constant(expr, what)?.unmarked() {
        Value::Number(n) => Ok(n.as_f64()),
        other => Err(expr
            .loc
            .error(format!(
                "{what} must be a number, got {}",
                other.type_name()
            ))
            .into()),
    }
}

fn constant_string(expr: &Expr, what: &str) -> Result<String, Diagnostics> {
    match constant(expr, what)?.unmarked() {
        Value::String(s) => Ok(s.to_string()),
        other => Err(expr
            .loc
            .error(format!(
                "{what} must be a string, got {}",
                other.type_name()
            ))
            .into()),
    }
}

impl Parser {
    /// The configuration parsed (with its resource index) and what parsing
    /// found.
    fn finish(mut self) -> (Config, Diagnostics) {
        self.config.resource_index = std::mem::take(&mut self.resources).into();
        (self.config, self.diags)
    }

    /// `file` parsed whole; only its items from offset `from` on are
    /// converted (the ones before are, from pieces). False when it does not
    /// parse (its syntax error is reported).
    fn whole_file(&mut self, file: &Arc<SourceFile>, from: usize) -> bool {
        let hidden = crate::syntax::hide_big_numbers(&file.text);
        let text = hidden.as_deref().unwrap_or(&file.text);
        match hcl_edit::parser::parse_body(text) {
            Ok(mut body) => {
                crate::template_lines::body(&mut body, text);
                let items = body
                    .into_iter()
                    .filter(|s| s.span().is_none_or(|r| r.start >= from))
                    .map(|s| (s, None));
                self.file(Src::whole(file), items);
                true
            }
            Err(e) => {
                self.diags.push(syntax_error(file, &e));
                false
            }
        }
    }

    /// A large file parsed piece by piece between the offsets `cuts` hands
    /// its callback as it finds them ([`crate::syntax::top_level_cuts`]),
    /// returning whether the rest of the file (after the last cut) is one
    /// piece too: threads ([`PIECE_THREADS`], taking turns) parse each
    /// piece as soon as its end is found, and convert its resource bodies,
    /// while this one converts the pieces in file order; each piece's
    /// syntax tree is dropped once converted — the whole file's tree (tens
    /// of times the text's size) never exists at once.
    /// Same result as parsing it whole: a piece that does not parse (or a
    /// rest `cuts` could not judge) sends the rest of the file to a whole
    /// parse, whose syntax error (the one a whole parse reports) replaces
    /// the file's other diagnostics.
    fn file_in_pieces(
        &mut self,
        file: &Arc<SourceFile>,
        cuts: impl FnOnce(&mut dyn FnMut(usize)) -> bool,
    ) {
        let text = file.text.as_str();
        let before = std::mem::take(&mut self.diags);
        // Up to where the file is converted.
        let mut done = 0;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let threads = PIECE_THREADS.min(cores);
        let complete = std::thread::scope(|scope| {
            // Thread `k` parses pieces k, k + threads, ...: each keeps one
            // parsed piece waiting at most.
            let (work, parsed): (Vec<_>, Vec<_>) = (0..threads)
                .map(|_| {
                    let (work, todo) = std::sync::mpsc::channel::<(usize, usize)>();
                    let (tx, parsed) = std::sync::mpsc::sync_channel(1);
                    // A thread that cannot be started drops its work: the
                    // rest of the file is then parsed whole.
                    let thread = std::thread::Builder::new().stack_size(THREAD_STACK);
                    let _ = thread.spawn_scoped(scope, move || {
                        for (start, end) in todo {
                            let piece = parse_piece(file, text, start, end);
                            let stop = piece.is_err();
                            if tx.send((start, end, piece)).is_err() || stop {
                                return;
                            }
                        }
                    });
                    (work, parsed)
                })
                .unzip();
            let mut pieces = 0;
            let mut last = 0;
            let mut hand = |end: usize| {
                let _ = work[pieces % threads].send((last, end));
                pieces += 1;
                last = end;
            };
            if cuts(&mut hand) {
                hand(text.len());
            }
            drop(work);
            for i in 0..pieces {
                match parsed[i % threads].recv() {
                    Ok((start, end, Ok(items))) => {
                        self.file(Src { file, base: start }, items);
                        done = end;
                    }
                    _ => return false,
                }
            }
            done == text.len()
        });
        if !complete {
            let from_pieces = std::mem::take(&mut self.diags);
            if self.whole_file(file, done) {
                let rest = std::mem::replace(&mut self.diags, from_pieces);
                self.diags.extend(rest);
            }
        }
        let mine = std::mem::replace(&mut self.diags, before);
        self.diags.extend(mine);
    }

    fn file(&mut self, src: Src<'_>, items: impl IntoIterator<Item = Item>) {
        for (s, converted) in items {
            let b = match s {
                Structure::Block(b) => b,
                Structure::Attribute(a) => {
                    self.diags.push(
                        src.loc(a.key.span())
                            .error(format!(
                                "unexpected attribute \"{}\" at the top level",
                                a.key.as_str()
                            ))
                            .with_detail(format!(
                                "only blocks are allowed here: {}",
                                list_names(BLOCK_TYPES.iter().copied())
                            )),
                    );
                    continue;
                }
            };
            let h = header(src, &b);
            let ty = b.ident.as_str();
            match ty {
                "resource" | "data" => {
                    let Some(labels) = self.labels(&b, &h, &["TYPE", "NAME"]) else {
                        continue;
                    };
                    let [rty, name] = <[String; 2]>::try_from(labels).unwrap_or_default();
                    let addr = if ty == "data" {
                        ResourceAddr::data(rty, name)
                    } else {
                        ResourceAddr::managed(rty, name)
                    };
                    let what = if ty == "data" {
                        "data source"
                    } else {
                        "resource"
                    };
                    match self.resources.entry(addr.clone()) {
                        std::collections::hash_map::Entry::Occupied(first) => {
                            let first = self.config.resources[*first.get()].loc.span();
                            self.diags.push(h.error(format!(
                                "duplicate {what} \"{addr}\"; it was first declared at {first}"
                            )));
                            continue;
                        }
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(self.config.resources.len());
                        }
                    }
                    let body = match converted {
                        Some((body, diags)) => {
                            self.diags.extend(diags);
                            body
                        }
                        None => convert_body(src, b.body, Some(h.clone()), &mut self.diags),
                    };
                    let r = self.resource(addr, body, h);
                    self.config.resources.push(r);
                }
                "variable" => {
                    let Some(labels) = self.labels(&b, &h, &["NAME"]) else {
                        continue;
                    };
                    let name = labels.into_iter().next().unwrap_or_default();
                    if !self.first_declaration(
                        "variable",
                        &name,
                        &h,
                        |p| &mut p.variables,
                        name.clone(),
                    ) {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    let v = self.variable(name, body, h);
                    self.config.variables.push(v);
                }
                "output" => {
                    let Some(labels) = self.labels(&b, &h, &["NAME"]) else {
                        continue;
                    };
                    let name = labels.into_iter().next().unwrap_or_default();
                    if !self.first_declaration(
                        "output",
                        &name,
                        &h,
                        |p| &mut p.outputs,
                        name.clone(),
                    ) {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    if let Some(o) = self.output(name, body, h) {
                        self.config.outputs.push(o);
                    }
                }
                "provider" => {
                    let Some(labels) = self.labels(&b, &h, &["NAME"]) else {
                        continue;
                    };
                    let name = labels.into_iter().next().unwrap_or_default();
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    // Two blocks of one provider are distinguished by alias.
                    let alias = body
                        .attributes
                        .iter()
                        .find(|a| a.name == "alias")
                        .and_then(|a| constant(&a.expr, "alias").ok())
                        .and_then(|v| v.as_str().map(str::to_string));
                    let key = match &alias {
                        Some(a) => format!("{name}.{a}"),
                        None => name.clone(),
                    };
                    if !self.first_declaration(
                        "provider configuration",
                        &key,
                        &h,
                        |p| &mut p.providers,
                        key.clone(),
                    ) {
                        continue;
                    }
                    self.config
                        .providers
                        .push(ProviderBlock { name, body, loc: h });
                }
                "locals" => {
                    if self.labels(&b, &h, &[]).is_none() {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h), &mut self.diags);
                    for block in body.blocks {
                        self.diags.push(block.loc.error(format!(
                            "unexpected block \"{}\" in locals; locals are set as name = value",
                            block.ty
                        )));
                    }
                    for a in body.attributes {
                        if !self.first_declaration(
                            "local value",
                            &a.name,
                            &a.loc,
                            |p| &mut p.locals,
                            a.name.clone(),
                        ) {
                            continue;
                        }
                        self.config.locals.push(Local {
                            name: a.name,
                            expr: a.expr,
                            loc: a.loc,
                        });
                    }
                }
                // Settings blocks: only `backend` is read; the rest
                // (`required_providers`, `required_version`) is accepted.
                "kiln" | "terraform" => {
                    let kiln = b.ident.as_str() == "kiln";
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    for nested in body.blocks.iter().filter(|n| n.ty == "backend") {
                        self.backend(nested);
                    }
                    // OpenTofu's `terraform { encryption }` is another
                    // language (key providers, methods): only kiln's is read.
                    if kiln {
                        for nested in body.blocks.iter().filter(|n| n.ty == "encryption") {
                            self.encryption(nested);
                        }
                    }
                }
                "check" => {
                    let Some(labels) = self.labels(&b, &h, &["NAME"]) else {
                        continue;
                    };
                    let name = labels.into_iter().next().unwrap_or_default();
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    let mut check = Check {
                        name,
                        asserts: Vec::new(),
                        scoped_data: None,
                        loc: h,
                    };
                    for a in &body.attributes {
                        self.diags.push(a.loc.error(format!(
                            "unexpected attribute \"{}\" in check; a check holds assert blocks (and a data block)",
                            a.name
                        )));
                    }
                    for nested in &body.blocks {
                        match nested.ty.as_str() {
                            "assert" => {
                                if let Some(v) = self.validation(nested) {
                                    check.asserts.push(v);
                                }
                            }
                            "data" => check.scoped_data = Some(nested.loc.clone()),
                            other => self.diags.push(nested.loc.error(format!(
                                "unexpected block \"{other}\" in check; a check holds assert blocks (and a data block)"
                            ))),
                        }
                    }
                    if check.asserts.is_empty() {
                        self.diags.push(
                            check
                                .loc
                                .error(format!("check \"{}\" has no assert block", check.name))
                                .with_detail("write assert { condition = EXPRESSION, error_message = \"...\" }"),
                        );
                    }
                    self.config.checks.push(check);
                }
                "import" => {
                    if self.labels(&b, &h, &[]).is_none() {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    self.import(body, h);
                }
                "moved" | "removed" => {
                    let moved = b.ident.as_str() == "moved";
                    if self.labels(&b, &h, &[]).is_none() {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    self.refactoring(moved, body, h);
                }
                "module" => {
                    let Some(labels) = self.labels(&b, &h, &["NAME"]) else {
                        continue;
                    };
                    let name = labels.into_iter().next().unwrap_or_default();
                    if !self.first_declaration(
                        "module",
                        &name,
                        &h,
                        |p| &mut p.modules,
                        name.clone(),
                    ) {
                        continue;
                    }
                    let body = convert_body(src, b.body, Some(h.clone()), &mut self.diags);
                    if let Some(m) = self.module(name, body, h) {
                        self.config.modules.push(m);
                    }
                }
                other => {
                    let hint = suggest::hint(other, BLOCK_TYPES.iter().copied());
                    self.diags.push(
                        src.loc(b.ident.span())
                            .error(format!("unknown block type \"{other}\"{hint}"))
                            .with_detail(format!(
                                "the top level allows {}",
                                list_names(BLOCK_TYPES.iter().copied())
                            )),
                    );
                }
            }
        }
    }

    /// Checks a name is new; if not, reports the duplicate and returns false.
    fn first_declaration<K: std::hash::Hash + Eq>(
        &mut self,
        what: &str,
        shown: &dyn std::fmt::Display,
        at: &Loc,
        table: impl FnOnce(&mut Parser) -> &mut FxHashMap<K, Loc>,
        key: K,
    ) -> bool {
        match table(self).entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let first = first.get().span();
                self.diags.push(at.error(format!(
                    "duplicate {what} \"{shown}\"; it was first declared at {first}"
                )));
                false
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(at.clone());
                true
            }
        }
    }

    /// The block's labels if they are exactly `names`, else an error.
    fn labels(
        &mut self,
        b: &hcl_edit::structure::Block,
        h: &Loc,
        names: &[&str],
    ) -> Option<Vec<String>> {
        let ty = b.ident.as_str();
        let got = b.labels.len();
        if got == names.len() {
            return Some(b.labels.iter().map(|l| label_str(l).to_string()).collect());
        }
        let usage = {
            let mut u = ty.to_string();
            for n in names {
                u.push_str(&format!(" \"{n}\""));
            }
            u + " { ... }"
        };
        let summary = if got < names.len() {
            format!(
                "missing label{}: a {ty} block needs {}",
                if names.len() - got > 1 { "s" } else { "" },
                names
                    .iter()
                    .map(|n| n.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        } else if names.is_empty() {
            format!("a {ty} block takes no labels")
        } else {
            format!("too many labels: a {ty} block takes {}", names.len())
        };
        self.diags
            .push(h.error(summary).with_detail(format!("write it as {usage}")));
        None
    }

    fn resource(&mut self, addr: ResourceAddr, mut body: Body, h: Loc) -> Resource {
        let mut r = Resource {
            addr,
            body: Body::default(),
            count: None,
            for_each: None,
            depends_on: Vec::new(),
            provider: None,
            lifecycle: Lifecycle::none(),
            cutover: None,
            loc: h,
        };
        let attrs = std::mem::take(&mut body.attributes);
        for a in attrs {
            match a.name.as_str() {
                "count" => r.count = Some(Box::new(a.expr)),
                "for_each" => r.for_each = Some(Box::new(a.expr)),
                "depends_on" => r.depends_on = self.depends_on(&a.expr),
                "provider" => r.provider = self.provider_ref(&a.expr),
                _ => body.attributes.push(a),
            }
        }
        if let (Some(_), Some(f)) = (&r.count, &r.for_each) {
            self.diags.push(
                f.loc
                    .error("count and for_each cannot both be set")
                    .with_detail("remove one: count makes a list of instances, for_each a map"),
            );
        }
        let blocks = std::mem::take(&mut body.blocks);
        let mut lifecycle_seen: Option<Loc> = None;
        for b in blocks {
            if b.ty == "cutover" {
                if let Some((_, first)) = r.cutover.as_deref() {
                    self.diags.push(b.loc.error(format!(
                        "duplicate cutover block; the first is at {}",
                        first.span()
                    )));
                } else if let Some(c) = self.cutover(&b) {
                    r.cutover = Some(Box::new((c, b.loc.clone())));
                }
                continue;
            }
            if b.ty != "lifecycle" {
                body.blocks.push(b);
                continue;
            }
            if let Some(first) = &lifecycle_seen {
                self.diags.push(b.loc.error(format!(
                    "duplicate lifecycle block; the first is at {}",
                    first.span()
                )));
                continue;
            }
            lifecycle_seen = Some(b.loc.clone());
            r.lifecycle = Arc::new(self.lifecycle(&b));
        }
        body.attributes.shrink_to_fit();
        body.blocks.shrink_to_fit();
        r.body = body;
        r
    }

    /// `backend "TYPE" { ... }` inside a `kiln` or `terraform` block.
    fn encryption(&mut self, b: &Block) {
        const ALLOWED: &[&str] = &["passphrase_env", "previous_passphrase_env", "kms_key_id"];
        if let Some(first) = &self.config.encryption {
            self.diags.push(b.loc.error(format!(
                "duplicate encryption block; the first is at {}",
                first.loc.span()
            )));
            return;
        }
        for nested in &b.body.blocks {
            self.diags.push(
                nested
                    .loc
                    .error(format!("unexpected block \"{}\" in encryption", nested.ty)),
            );
        }
        let mut enc = StateEncryption {
            passphrase_env: "KILN_STATE_PASSPHRASE".into(),
            previous_passphrase_env: "KILN_STATE_PASSPHRASE_PREVIOUS".into(),
            kms_key_id: None,
            loc: b.loc.clone(),
        };
        for a in &b.body.attributes {
            let what = format!("encryption.{}", a.name);
            let result = match a.name.as_str() {
                "passphrase_env" => constant_string(&a.expr, &what).map(|v| enc.passphrase_env = v),
                "previous_passphrase_env" => {
                    constant_string(&a.expr, &what).map(|v| enc.previous_passphrase_env = v)
                }
                "kms_key_id" => constant_string(&a.expr, &what).map(|v| enc.kms_key_id = Some(v)),
                "passphrase" | "key" => Err(a
                    .loc
                    .error(format!("encryption takes no \"{}\": a key never belongs in a file", a.name))
                    .with_detail("name the environment variable that holds it: passphrase_env = \"KILN_STATE_PASSPHRASE\"")
                    .into()),
                other => {
                    let hint = suggest::hint(other, ALLOWED.iter().copied());
                    Err(a
                        .loc
                        .error(format!("unknown attribute \"{other}\" in encryption{hint}"))
                        .with_detail(format!("encryption takes {}", list_names(ALLOWED.iter().copied())))
                        .into())
                }
            };
            if let Err(d) = result {
                self.diags.extend(d);
            }
        }
        self.config.encryption = Some(enc);
    }

    fn backend(&mut self, b: &Block) {
        const KINDS: &[&str] = &["local", "s3"];
        const S3: &[&str] = &[
            "bucket",
            "key",
            "workspace_key_prefix",
            "prefix",
            "region",
            "encrypt",
            "kms_key_id",
            "profile",
            "use_lockfile",
            "dynamodb_table",
        ];
        if let Some(first) = &self.config.backend {
            self.diags.push(b.loc.error(format!(
                "duplicate backend block; the first is at {}",
                first.loc.span()
            )));
            return;
        }
        let [kind] = b.labels.as_slice() else {
            self.diags.push(
                b.loc
                    .error("a backend block takes one label, its type")
                    .with_detail("write backend \"s3\" { ... } or backend \"local\" {}"),
            );
            return;
        };
        for nested in &b.body.blocks {
            self.diags.push(
                nested
                    .loc
                    .error(format!("unexpected block \"{}\" in backend", nested.ty)),
            );
        }
        let kind = match kind.as_str() {
            "local" => {
                for a in &b.body.attributes {
                    self.diags.push(
                        a.loc
                            .error(format!("unknown attribute \"{}\" in backend \"local\"", a.name))
                            .with_detail("the local backend keeps state in .kiln/ beside the configuration and takes no settings"),
                    );
                }
                BackendKind::Local
            }
            "s3" => {
                let mut s3 = S3Backend {
                    bucket: String::new(),
                    prefix: String::new(),
                    key: None,
                    workspace_key_prefix: "env:".into(),
                    profile: None,
                    region: None,
                    encrypt: true,
                    kms_key_id: None,
                };
                // Terraform's rule for both: no leading or trailing `/`.
                let slashes = |a: &crate::Attribute, v: String| {
                    if v.starts_with('/') || v.ends_with('/') || v.is_empty() {
                        Err(Diagnostics::from(a.loc.error(format!(
                            "backend \"s3\" {} must not be empty, start or end with \"/\"",
                            a.name
                        ))))
                    } else {
                        Ok(v)
                    }
                };
                let mut bucket_set = false;
                for a in &b.body.attributes {
                    let what = format!("backend.{}", a.name);
                    let result = match a.name.as_str() {
                        "bucket" => constant_string(&a.expr, &what).map(|v| {
                            bucket_set = true;
                            s3.bucket = v;
                        }),
                        "prefix" => constant_string(&a.expr, &what)
                            .map(|v| s3.prefix = v.trim_matches('/').to_string()),
                        "region" => constant_string(&a.expr, &what).map(|v| s3.region = Some(v)),
                        "encrypt" => constant_bool(&a.expr, &what).map(|v| s3.encrypt = v),
                        "kms_key_id" => {
                            constant_string(&a.expr, &what).map(|v| s3.kms_key_id = Some(v))
                        }
                        "key" => constant_string(&a.expr, &what)
                            .and_then(|v| slashes(a, v))
                            .map(|v| s3.key = Some(v)),
                        "workspace_key_prefix" => constant_string(&a.expr, &what)
                            .and_then(|v| slashes(a, v))
                            .map(|v| s3.workspace_key_prefix = v),
                        "profile" => constant_string(&a.expr, &what).map(|v| s3.profile = Some(v)),
                        "use_lockfile" => constant_bool(&a.expr, &what).map(|v| {
                            if !v {
                                self.diags.push(a.loc.warning("kiln always locks the state").with_detail(
                                    "kiln takes a lock object beside the state (<key>.tflock) with a conditional write whatever use_lockfile says",
                                ));
                            }
                        }),
                        "dynamodb_table" => constant_string(&a.expr, &what).map(|_| {
                            self.diags.push(
                                a.loc
                                    .warning("dynamodb_table is not used: kiln locks with a conditional write to S3")
                                    .with_detail("the lock is the object <key>.tflock, as Terraform's use_lockfile = true takes it; the DynamoDB table can go once nothing else uses it"),
                            );
                        }),
                        other => {
                            let hint = suggest::hint(other, S3.iter().copied());
                            Err(a
                                .loc
                                .error(format!("unknown attribute \"{other}\" in backend \"s3\"{hint}"))
                                .with_detail(format!(
                                    "backend \"s3\" may set {}",
                                    list_names(S3.iter().copied())
                                ))
                                .into())
                        }
                    };
                    if let Err(d) = result {
                        self.diags.extend(d);
                    }
                }
                // A bucket attribute that is there but wrong was reported
                // already.
                let bucket_given = b.body.attributes.iter().any(|a| a.name == "bucket");
                if !bucket_given || (bucket_set && s3.bucket.is_empty()) {
                    self.diags.push(
                        b.loc
                            .error("backend \"s3\" needs a bucket")
                            .with_detail("add bucket = \"NAME\" (an existing bucket)"),
                    );
                }
                let written = |n: &str| b.body.attributes.iter().find(|a| a.name == n);
                if let (Some(_), Some(p)) = (written("key"), written("prefix")) {
                    self.diags.push(
                        p.loc
                            .error("backend \"s3\" takes a key or a prefix, not both")
                            .with_detail("key = \"path/terraform.tfstate\" keeps the state where Terraform keeps it; prefix = \"path\" keeps kiln's <prefix>/<env>/ folders"),
                    );
                }
                if let (None, Some(w)) = (written("key"), written("workspace_key_prefix")) {
                    self.diags.push(
                        w.loc
                            .error("workspace_key_prefix needs a key")
                            .with_detail("add key = \"path/terraform.tfstate\", or use prefix = \"...\" for kiln's layout"),
                    );
                }
                if s3.kms_key_id.is_some() && !s3.encrypt {
                    self.diags.push(
                        b.loc
                            .error("kms_key_id is set but encrypt is false")
                            .with_detail("remove encrypt = false to encrypt with the KMS key, or remove kms_key_id"),
                    );
                }
                BackendKind::S3(s3)
            }
            other => {
                let hint = suggest::hint(other, KINDS.iter().copied());
                self.diags.push(
                    b.loc
                        .error(format!("unknown backend type \"{other}\"{hint}"))
                        .with_detail(format!(
                            "kiln keeps state in {}",
                            list_names(KINDS.iter().copied())
                        )),
                );
                return;
            }
        };
        self.config.backend = Some(Backend {
            kind,
            loc: b.loc.clone(),
        });
    }

    /// An `import` block.
    fn import(&mut self, body: Body, h: Loc) {
        let (mut to, mut id, mut for_each) = (None, None, None);
        for a in body.attributes {
            match a.name.as_str() {
                "to" => {
                    if matches!(a.expr.inner, Expression::Traversal(_)) {
                        to = a
                            .expr
                            .loc
                            .file
                            .text
                            .get(a.expr.loc.range.clone())
                            .map(|t| t.trim().to_string());
                    } else {
                        self.diags.push(
                            a.expr
                                .loc
                                .error("import.to must be an address, not a value")
                                .with_detail(
                                    "write the address bare: to = aws_instance.a (no quotes)",
                                ),
                        );
                        return;
                    }
                }
                "id" => id = Some(a.expr),
                "provider" => {}
                "for_each" => for_each = Some(a.expr),
                other => self.diags.push(a.loc.error(format!(
                    "unknown attribute \"{other}\" in import; it sets to and id"
                ))),
            }
        }
        match (to, id) {
            (Some(to), Some(id)) => self.config.imports.push(Import {
                to,
                id,
                for_each,
                loc: h,
            }),
            _ => self.diags.push(h.error("an import block needs to and id")),
        }
    }

    /// A `moved` or `removed` block (Terraform's refactoring statements).
    fn refactoring(&mut self, moved: bool, body: Body, h: Loc) {
        let what = if moved { "moved" } else { "removed" };
        let wanted: &[&str] = if moved { &["from", "to"] } else { &["from"] };
        let mut found: HashMap<&str, String> = HashMap::new();
        for a in &body.attributes {
            let Some(name) = wanted.iter().find(|w| **w == a.name) else {
                self.diags.push(
                    a.loc
                        .error(format!("unknown attribute \"{}\" in {what}", a.name))
                        .with_detail(format!("a {what} block sets {}", wanted.join(" and "))),
                );
                continue;
            };
            // An address as a bare reference, not a string.
            let bare = matches!(
                a.expr.inner,
                Expression::Traversal(_) | Expression::Variable(_)
            );
            let text = a
                .expr
                .loc
                .file
                .text
                .get(a.expr.loc.range.clone())
                .unwrap_or_default()
                .trim()
                .to_string();
            if !bare {
                self.diags.push(
                    a.expr
                        .loc
                        .error(format!("{what}.{} must be an address, not a value", a.name))
                        .with_detail("write the address bare: from = aws_instance.a (no quotes)"),
                );
                continue;
            }
            found.insert(name, text);
        }
        let mut destroy = true;
        for nested in &body.blocks {
            match (moved, nested.ty.as_str()) {
                (false, "lifecycle") => {
                    for a in &nested.body.attributes {
                        if a.name == "destroy" {
                            match constant_bool(&a.expr, "removed.lifecycle.destroy") {
                                Ok(v) => destroy = v,
                                Err(d) => self.diags.extend(d),
                            }
                        } else {
                            self.diags.push(a.loc.error(format!(
                                "unknown attribute \"{}\" in removed's lifecycle; it sets destroy",
                                a.name
                            )));
                        }
                    }
                }
                // Destroy-time provisioners: kiln runs none; accepted.
                (false, "provisioner" | "connection") => {}
                _ => self.diags.push(
                    nested
                        .loc
                        .error(format!("unexpected block \"{}\" in {what}", nested.ty)),
                ),
            }
        }
        let missing: Vec<&&str> = wanted.iter().filter(|w| !found.contains_key(**w)).collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
            self.diags
                .push(h.error(format!("a {what} block needs {}", names.join(" and "))));
            return;
        }
        if moved {
            self.config.moved.push(Moved {
                from: found.remove("from").unwrap_or_default(),
                to: found.remove("to").unwrap_or_default(),
                loc: h,
            });
        } else {
            self.config.removed.push(Removed {
                from: found.remove("from").unwrap_or_default(),
                destroy,
                loc: h,
            });
        }
    }

    /// `cutover { step { weight, hold } ... check { metric, ... } ... }`
    /// (docs/cutover.md); constants only, as `lifecycle`.
    fn cutover(&mut self, b: &Block) -> Option<Cutover> {
        let before = self.diags.len();
        if !b.labels.is_empty() {
            self.diags
                .push(b.loc.error("a cutover block takes no labels"));
        }
        for a in &b.body.attributes {
            self.diags.push(
                a.loc
                    .error(format!("unexpected attribute \"{}\" in cutover", a.name))
                    .with_detail("a cutover block holds step and check blocks"),
            );
        }
        let mut c = Cutover {
            steps: Vec::new(),
            checks: Vec::new(),
        };
        for nested in &b.body.blocks {
            match nested.ty.as_str() {
                "step" => {
                    if let Some(s) = self.cutover_step(nested) {
                        if let Some(prev) = c.steps.last()
                            && s.weight <= prev.weight
                        {
                            self.diags.push(
                                nested
                                    .loc
                                    .error(format!(
                                        "cutover steps must increase: weight {} after {}",
                                        s.weight, prev.weight
                                    ))
                                    .with_detail("order the steps from the smallest share of traffic to the largest"),
                            );
                        }
                        c.steps.push(s);
                    }
                }
                "check" => {
                    if let Some(k) = self.cutover_check(nested) {
                        c.checks.push(k);
                    }
                }
                other => self.diags.push(
                    nested
                        .loc
                        .error(format!("unexpected block \"{other}\" in cutover"))
                        .with_detail("a cutover block holds step and check blocks"),
                ),
            }
        }
        if c.steps.is_empty() {
            self.diags.push(
                b.loc
                    .error("a cutover block needs at least one step")
                    .with_detail("write step { weight = 10 hold = \"30s\" } for each share of traffic the new generation gets"),
            );
        }
        (self.diags.len() == before).then_some(c)
    }

    fn cutover_step(&mut self, b: &Block) -> Option<CutoverStep> {
        let mut weight = None;
        let mut hold_ms = 0;
        for a in &b.body.attributes {
            let what = format!("cutover.step.{}", a.name);
            match a.name.as_str() {
                "weight" => match constant_number(&a.expr, &what) {
                    Ok(w) if w > 0.0 && w <= 100.0 => weight = Some(w),
                    Ok(w) => self.diags.push(a.expr.loc.error(format!(
                        "{what} must be a percentage above 0 and at most 100, got {w}"
                    ))),
                    Err(d) => self.diags.extend(d),
                },
                "hold" => match self.duration_ms(&a.expr, &what) {
                    Some(ms) => hold_ms = ms,
                    None => return None,
                },
                other => {
                    let hint = suggest::hint(other, ["weight", "hold"]);
                    self.diags.push(
                        a.loc
                            .error(format!("unknown attribute \"{other}\" in cutover.step{hint}"))
                            .with_detail("a step sets weight (percent of requests for the new generation) and hold (a duration like \"30s\")"),
                    );
                }
            }
        }
        match weight {
            Some(weight) => Some(CutoverStep { weight, hold_ms }),
            None => {
                self.diags
                    .push(b.loc.error("a cutover step needs a weight").with_detail(
                    "weight is the percent of requests the new generation gets, like weight = 10",
                ));
                None
            }
        }
    }

    fn cutover_check(&mut self, b: &Block) -> Option<CutoverCheck> {
        const ALLOWED: &[&str] = &[
            "metric",
            "max",
            "max_over_baseline",
            "min_requests",
            "interval",
            "failure_limit",
        ];
        let before = self.diags.len();
        let mut metric = None;
        let mut k = CutoverCheck {
            metric: Metric::ErrorRate,
            max: None,
            max_over_baseline: None,
            min_requests: 1,
            interval_ms: 1000,
            failure_limit: 0,
        };
        let whole = |v: f64, what: &str, loc: &Loc| -> Result<u64, Diagnostics> {
            if v >= 0.0 && v.fract() == 0.0 && v < 1e15 {
                Ok(v as u64)
            } else {
                Err(loc
                    .error(format!(
                        "{what} must be a whole number of 0 or more, got {v}"
                    ))
                    .into())
            }
        };
        for a in &b.body.attributes {
            let what = format!("cutover.check.{}", a.name);
            let r = match a.name.as_str() {
                "metric" => constant_string(&a.expr, &what).and_then(|m| match m.as_str() {
                    "error_rate" => {
                        metric = Some(Metric::ErrorRate);
                        Ok(())
                    }
                    "latency" => {
                        metric = Some(Metric::Latency);
                        Ok(())
                    }
                    other => Err(a
                        .expr
                        .loc
                        .error(format!("unknown metric {other:?}"))
                        .with_detail("a check measures \"error_rate\" (the share of 5xx answers, 0 to 1) or \"latency\" (mean milliseconds to the first byte)")
                        .into()),
                }),
                "max" => constant_number(&a.expr, &what).map(|v| k.max = Some(v)),
                "max_over_baseline" => {
                    constant_number(&a.expr, &what).map(|v| k.max_over_baseline = Some(v))
                }
                "min_requests" => constant_number(&a.expr, &what)
                    .and_then(|v| whole(v, &what, &a.expr.loc))
                    .map(|v| k.min_requests = v),
                "failure_limit" => constant_number(&a.expr, &what)
                    .and_then(|v| whole(v, &what, &a.expr.loc))
                    .map(|v| k.failure_limit = v.min(u64::from(u32::MAX)) as u32),
                "interval" => match self.duration_ms(&a.expr, &what) {
                    Some(0) => Err(a.expr.loc.error(format!("{what} must be above 0")).into()),
                    Some(ms) => {
                        k.interval_ms = ms;
                        Ok(())
                    }
                    None => Ok(()),
                },
                other => {
                    let hint = suggest::hint(other, ALLOWED.iter().copied());
                    Err(a
                        .loc
                        .error(format!("unknown attribute \"{other}\" in cutover.check{hint}"))
                        .with_detail(format!("a check may set {}", list_names(ALLOWED.iter().copied())))
                        .into())
                }
            };
            if let Err(d) = r {
                self.diags.extend(d);
            }
        }
        match metric {
            Some(m) => k.metric = m,
            None => self.diags.push(
                b.loc
                    .error("a cutover check needs a metric")
                    .with_detail("metric = \"error_rate\" or metric = \"latency\""),
            ),
        }
        if k.max.is_none() && k.max_over_baseline.is_none() {
            self.diags.push(
                b.loc
                    .error("a cutover check needs max or max_over_baseline")
                    .with_detail("max fails the step above a value; max_over_baseline fails it when the new generation is worse than the old one by more than a margin"),
            );
        }
        (self.diags.len() == before).then_some(k)
    }

    /// A constant Go duration (`"500ms"`, `"1m30s"`) in milliseconds; `None`
    /// after reporting a mistake.
    fn duration_ms(&mut self, expr: &Expr, what: &str) -> Option<u64> {
        let text = match constant_string(expr, what) {
            Ok(t) => t,
            Err(d) => {
                self.diags.extend(d);
                return None;
            }
        };
        match kiln_model::cutover::go_duration_ns(&text) {
            Some(ns) if ns >= 0 => Some((ns / 1_000_000) as u64),
            _ => {
                self.diags.push(
                    expr.loc
                        .error(format!("{what} {text:?} is not a duration"))
                        .with_detail("write a duration such as \"500ms\", \"30s\" or \"5m\""),
                );
                None
            }
        }
    }

    fn lifecycle(&mut self, b: &Block) -> Lifecycle {
        const ALLOWED: &[&str] = &[
            "prevent_destroy",
            "stateful",
            "create_before_destroy",
            "ignore_changes",
            "replace_triggered_by",
        ];
        let mut l = Lifecycle::default();
        if !b.labels.is_empty() {
            self.diags
                .push(b.loc.error("a lifecycle block takes no labels"));
        }
        for nested in &b.body.blocks {
            match nested.ty.as_str() {
                "precondition" => {
                    if let Some(c) = self.validation(nested) {
                        l.preconditions.push(c);
                    }
                }
                "postcondition" => {
                    if let Some(c) = self.validation(nested) {
                        l.postconditions.push(c);
                    }
                }
                other => self.diags.push(
                    nested
                        .loc
                        .error(format!("unexpected block \"{other}\" in lifecycle"))
                        .with_detail(
                            "a lifecycle block may hold precondition and postcondition blocks",
                        ),
                ),
            }
        }
        for a in &b.body.attributes {
            let what = format!("lifecycle.{}", a.name);
            match a.name.as_str() {
                "prevent_destroy" => match constant_bool(&a.expr, &what) {
                    Ok(v) => l.prevent_destroy = v,
                    Err(d) => self.diags.extend(d),
                },
                "stateful" => match constant_bool(&a.expr, &what) {
                    Ok(v) => l.stateful = v,
                    Err(d) => self.diags.extend(d),
                },
                "ignore_changes" => match &a.expr.inner {
                    Expression::Variable(v) if v.as_str() == "all" => l.ignore_all_changes = true,
                    Expression::Array(items) => {
                        for item in items.iter() {
                            let name = match item {
                                Expression::Variable(v) => Some(v.as_str().to_string()),
                                Expression::Traversal(t) => match &t.expr {
                                    Expression::Variable(v) => Some(v.as_str().to_string()),
                                    _ => None,
                                },
                                Expression::String(s) => Some(s.as_str().to_string()),
                                _ => None,
                            };
                            match name {
                                Some(n) => l.ignore_changes.push(n),
                                None => self.diags.push(a.expr.loc.error(
                                    "ignore_changes entries must be attribute names, like [tags]",
                                )),
                            }
                        }
                    }
                    _ => self.diags.push(a.expr.loc.error(
                        "ignore_changes must be a list of attribute names, like [tags], or all",
                    )),
                },
                "replace_triggered_by" => {
                    l.replace_triggered_by = self.depends_on(&a.expr);
                }
                // kiln always creates the replacement before destroying the
                // original; `true` says so, `false` cannot be honoured.
                "create_before_destroy" => match constant_bool(&a.expr, &what) {
                    Ok(true) => {}
                    Ok(false) => self.diags.push(
                        a.expr
                            .loc
                            .error(
                                "kiln always creates a replacement before destroying the original",
                            )
                            .with_detail("remove create_before_destroy = false"),
                    ),
                    Err(d) => self.diags.extend(d),
                },
                other => {
                    let hint = suggest::hint(other, ALLOWED.iter().copied());
                    self.diags.push(
                        a.loc
                            .error(format!("unknown lifecycle attribute \"{other}\"{hint}"))
                            .with_detail(format!(
                                "a lifecycle block may set {}",
                                list_names(ALLOWED.iter().copied())
                            )),
                    );
                }
            }
        }
        l
    }

    fn depends_on(&mut self, expr: &Expr) -> Vec<Reference> {
        let Expression::Array(items) = &expr.inner else {
            self.diags.push(
                expr.loc.error(
                    "depends_on must be a list of resource references, like [null_resource.a]",
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let at = expr.loc_of(item.span());
            let subject = match item {
                Expression::Traversal(t) => match &t.expr {
                    Expression::Variable(root) => subject_of(root.as_str(), &t.operators),
                    _ => None,
                },
                // Terraform 0.11's quoted form, still accepted with a
                // warning (Terraform: "Quoted references are deprecated").
                Expression::String(s) => {
                    let quoted = match hcl_edit::parser::parse_expr(s.value()) {
                        Ok(Expression::Traversal(t)) => match &t.expr {
                            Expression::Variable(root) => subject_of(root.as_str(), &t.operators),
                            _ => None,
                        },
                        _ => None,
                    };
                    if quoted.is_some() {
                        self.diags.push(
                            at.warning("quoted references are deprecated")
                                .with_detail(format!(
                                    "in this context, references are expected literally rather than in quotes; remove the quotes: {}",
                                    s.value()
                                )),
                        );
                    }
                    quoted
                }
                _ => None,
            };
            match subject {
                Some(s @ (Subject::Resource(_) | Subject::Module(_))) => out.push(Reference {
                    subject: s,
                    loc: at,
                }),
                _ => {
                    self.diags.push(at.error(
                        "depends_on entries must be resource references, like null_resource.a",
                    ))
                }
            }
        }
        out
    }

    fn provider_ref(&mut self, expr: &Expr) -> Option<String> {
        let name = match &expr.inner {
            Expression::Variable(v) => Some(v.as_str().to_string()),
            Expression::String(s) => Some(s.as_str().to_string()),
            Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
                (Expression::Variable(p), [op]) => match op.value() {
                    TraversalOperator::GetAttr(alias) => {
                        Some(format!("{}.{}", p.as_str(), alias.as_str()))
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        if name.is_none() {
            self.diags.push(
                expr.loc
                    .error("provider must name a provider configuration, like aws or aws.west"),
            );
        }
        name
    }

    fn variable(&mut self, name: String, body: Body, h: Loc) -> Variable {
        const ALLOWED: &[&str] = &[
            "type",
            "default",
            "description",
            "sensitive",
            "ephemeral",
            "nullable",
        ];
        let mut v = Variable {
            name,
            ty: None,
            shape: Shape::Plain,
            default: None,
            description: String::new(),
            sensitive: false,
            ephemeral: false,
            nullable: true,
            validations: Vec::new(),
            loc: h,
        };
        for b in &body.blocks {
            if b.ty == "validation" {
                if let Some(val) = self.validation(b) {
                    v.validations.push(val);
                }
            } else {
                self.diags.push(
                    b.loc
                        .error(format!("unexpected block \"{}\" in variable", b.ty))
                        .with_detail("a variable block may hold validation blocks only"),
                );
            }
        }
        let mut default_expr = None;
        for a in &body.attributes {
            match a.name.as_str() {
                "type" => match parse_type(&a.expr) {
                    Ok((t, shape)) => {
                        v.ty = Some(t);
                        v.shape = shape;
                    }
                    Err(d) => self.diags.push(d),
                },
                "default" => default_expr = Some(&a.expr),
                "description" => match constant_string(&a.expr, "description") {
                    Ok(s) => v.description = s,
                    Err(d) => self.diags.extend(d),
                },
                "sensitive" => match constant_bool(&a.expr, "sensitive") {
                    Ok(b) => v.sensitive = b,
                    Err(d) => self.diags.extend(d),
                },
                "ephemeral" => match constant_bool(&a.expr, "ephemeral") {
                    Ok(b) => v.ephemeral = b,
                    Err(d) => self.diags.extend(d),
                },
                "nullable" => match constant_bool(&a.expr, "nullable") {
                    Ok(b) => v.nullable = b,
                    Err(d) => self.diags.extend(d),
                },
                other => {
                    let hint = suggest::hint(other, ALLOWED.iter().copied());
                    self.diags.push(
                        a.loc
                            .error(format!("unknown variable attribute \"{other}\"{hint}"))
                            .with_detail(format!(
                                "a variable block may set {}",
                                list_names(ALLOWED.iter().copied())
                            )),
                    );
                }
            }
        }
        if let Some(e) = default_expr {
            match constant(e, "a variable's default") {
                Err(d) => self.diags.extend(d),
                Ok(d) => match &v.ty {
                    None => v.default = Some(d),
                    Some(t) => match convert_constraint(d, t, &v.shape) {
                        Ok(d) => v.default = Some(d),
                        Err(err) => self.diags.push(e.loc.error(format!(
                            "default of variable \"{}\" does not fit its type: {err}",
                            v.name
                        ))),
                    },
                },
            }
        }
        if v.sensitive {
            v.default = v.default.map(Value::sensitive);
        }
        v
    }

    fn validation(&mut self, b: &Block) -> Option<Validation> {
        for nested in &b.body.blocks {
            self.diags.push(
                nested
                    .loc
                    .error(format!("unexpected block \"{}\" in validation", nested.ty)),
            );
        }
        let mut condition = None;
        let mut message = None;
        for a in &b.body.attributes {
            match a.name.as_str() {
                "condition" => condition = Some(a.expr.clone()),
                "error_message" => message = Some(a.expr.clone()),
                other => {
                    let hint = suggest::hint(other, ["condition", "error_message"]);
                    self.diags.push(
                        a.loc
                            .error(format!("unknown validation attribute \"{other}\"{hint}"))
                            .with_detail("a validation block sets condition and error_message"),
                    );
                }
            }
        }
        match (condition, message) {
            (Some(condition), Some(error_message)) => Some(Validation {
                condition,
                error_message,
                loc: b.loc.clone(),
            }),
            (c, _) => {
                let missing = if c.is_none() {
                    "condition"
                } else {
                    "error_message"
                };
                self.diags.push(
                    b.loc
                        .error(format!("a validation block needs {missing}"))
                        .with_detail(
                            "write validation { condition = EXPRESSION, error_message = \"...\" }",
                        ),
                );
                None
            }
        }
    }

    fn module(&mut self, name: String, body: Body, h: Loc) -> Option<ModuleCall> {
        for b in &body.blocks {
            self.diags.push(
                b.loc
                    .error(format!("unexpected block \"{}\" in module", b.ty))
                    .with_detail("a module block sets source, count or for_each, depends_on and the module's input variables"),
            );
        }
        let mut m = ModuleCall {
            name,
            source: String::new(),
            source_loc: h.clone(),
            version: None,
            inputs: Vec::new(),
            count: None,
            for_each: None,
            depends_on: Vec::new(),
            loc: h,
            config: None,
        };
        let mut has_source = false;
        for a in body.attributes {
            match a.name.as_str() {
                "source" => match constant_string(&a.expr, "source") {
                    Ok(s) => {
                        m.source = s;
                        m.source_loc = a.expr.loc.clone();
                        has_source = true;
                    }
                    Err(d) => self.diags.extend(d),
                },
                "count" => m.count = Some(a.expr),
                "for_each" => m.for_each = Some(a.expr),
                "depends_on" => m.depends_on = self.depends_on(&a.expr),
                "version" => match constant_string(&a.expr, "version") {
                    Ok(v) => m.version = Some(v),
                    Err(d) => self.diags.extend(d),
                },
                // Provider configurations are shared with every module.
                "providers" => {}
                _ => m.inputs.push(a),
            }
        }
        if let (Some(_), Some(f)) = (&m.count, &m.for_each) {
            self.diags.push(
                f.loc
                    .error("count and for_each cannot both be set")
                    .with_detail("remove one: count makes a list of instances, for_each a map"),
            );
        }
        if !has_source {
            self.diags.push(
                m.loc
                    .error(format!("module \"{}\" has no source", m.name))
                    .with_detail("add source = \"./path/to/module\""),
            );
            return None;
        }
        Some(m)
    }

    fn output(&mut self, name: String, body: Body, h: Loc) -> Option<Output> {
        const ALLOWED: &[&str] = &[
            "value",
            "description",
            "sensitive",
            "ephemeral",
            "depends_on",
        ];
        for b in &body.blocks {
            self.diags.push(
                b.loc
                    .error(format!("unexpected block \"{}\" in output", b.ty)),
            );
        }
        let mut value = None;
        let mut description = String::new();
        let mut sensitive = false;
        let mut ephemeral = false;
        for a in body.attributes {
            match a.name.as_str() {
                "value" => value = Some(a.expr),
                "description" => match constant_string(&a.expr, "description") {
                    Ok(s) => description = s,
                    Err(d) => self.diags.extend(d),
                },
                "sensitive" => match constant_bool(&a.expr, "sensitive") {
                    Ok(b) => sensitive = b,
                    Err(d) => self.diags.extend(d),
                },
                "ephemeral" => match constant_bool(&a.expr, "ephemeral") {
                    Ok(b) => ephemeral = b,
                    Err(d) => self.diags.extend(d),
                },
                // Outputs wait for everything they refer to anyway.
                "depends_on" => {}
                other => {
                    let hint = suggest::hint(other, ALLOWED.iter().copied());
                    self.diags.push(
                        a.loc
                            .error(format!("unknown output attribute \"{other}\"{hint}"))
                            .with_detail(format!(
                                "an output block may set {}",
                                list_names(ALLOWED.iter().copied())
                            )),
                    );
                }
            }
        }
        let Some(expr) = value else {
            self.diags.push(
                h.error(format!("output \"{name}\" has no value"))
                    .with_detail("add value = EXPRESSION"),
            );
            return None;
        };
        Some(Output {
            name,
            expr,
            sensitive,
            ephemeral,
            description,
            loc: h,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"variable "n" {
  type    = number
  default = 18446744073709551616
}

# a comment with a brace {
locals {
  names = ["a", "b"]
  text  = "${var.n} {not a block} $${literal}"
}

resource "null_resource" "a" {
  for_each = toset(local.names)
  triggers = {
    v = <<-EOT
      a heredoc with a brace }
      and ${each.key}
    EOT
  }
}

/* a block comment
resource "null_resource" "hidden" {}
*/
resource "null_resource" "b" {
  count = 2
  triggers = { x = "}" }
  lifecycle {
    ignore_changes = [triggers]
  }
}

output "o" {
  value = [for r in null_resource.b : r.id]
}
"#;

    fn file(text: &str) -> Vec<SourceFile> {
        vec![SourceFile {
            name: "main.tf".into(),
            text: text.into(),
        }]
    }

    /// A file parsed in pieces (here: at almost every top-level line) gives
    /// the same configuration and diagnostics as parsed whole.
    #[test]
    fn pieces_give_what_a_whole_parse_gives() {
        let whole = parse_in_pieces_of(file(TEXT), 1 << 40);
        for len in [1, 8, 64, 200] {
            assert!(!crate::syntax::tests::cuts(TEXT, len).0.is_empty());
            let pieces = parse_in_pieces_of(file(TEXT), len);
            assert_eq!(
                format!("{:?}", pieces.0),
                format!("{:?}", whole.0),
                "pieces of {len}"
            );
            assert_eq!(format!("{:?}", pieces.1), format!("{:?}", whole.1));
        }
        assert!(!whole.1.has_errors(), "{}", whole.1);
        assert_eq!(whole.0.resources.len(), 2);
        // A first piece of one blank line.
        let short = format!("\n{TEXT}");
        assert_eq!(crate::syntax::tests::cuts(&short, 1).0[0], 1);
        let whole = parse_in_pieces_of(file(&short), 1 << 40);
        let pieces = parse_in_pieces_of(file(&short), 1);
        assert_eq!(format!("{pieces:?}"), format!("{whole:?}"));
    }

    /// Resource and data blocks (whose bodies piece threads convert)
    /// report in the whole parse's order: a duplicate, whose body a whole
    /// parse never converts, and a block with the wrong labels.
    #[test]
    fn pieces_report_what_a_whole_parse_reports() {
        let text = format!(
            "{TEXT}resource \"null_resource\" \"a\" {{\n  count = 1\n}}\ndata \"x\" {{\n  a = 1\n}}\nlocals {{\n  names = 1\n}}\ndata \"x\" \"y\" {{\n  b = [1]\n}}\ndata \"x\" \"y\" {{}}\n"
        );
        let whole = parse_in_pieces_of(file(&text), 1 << 40);
        let shown = whole.1.to_string();
        assert_eq!(shown.matches("error:").count(), 4, "{shown}");
        assert!(shown.contains("duplicate resource"), "{shown}");
        assert!(shown.contains("duplicate data source"), "{shown}");
        assert!(shown.contains("missing label"), "{shown}");
        for len in [1, 8, 64] {
            let pieces = parse_in_pieces_of(file(&text), len);
            assert_eq!(format!("{:?}", pieces.0), format!("{:?}", whole.0));
            assert_eq!(
                format!("{:?}", pieces.1),
                format!("{:?}", whole.1),
                "pieces of {len}"
            );
        }
    }

    /// What a later piece holds evaluates and reports as the whole parse's
    /// would: the evaluator's, the reference walker's and the type reader's
    /// locations count from the piece's place in the file, and a number too
    /// big for hcl-edit is read from the file's text there.
    #[test]
    fn a_later_pieces_expressions_evaluate_as_the_whole_parses() {
        let text = format!(
            "{TEXT}variable \"v\" {{\n  type = object({{ a = optional(strin) }})\n}}\nresource \"null_resource\" \"c\" {{\n  big  = 18446744073709551617\n  bad  = 1 + \"x\"\n  refs = [var.n, local.text, null_resource.a.id]\n}}\n"
        );
        let whole = parse_in_pieces_of(file(&text), 1 << 40);
        let shown = whole.1.to_string();
        assert!(shown.contains("strin"), "{shown}");
        let c = |config: &Config| config.resources[2].clone();
        let at = |r: &crate::Resource| {
            r.body
                .attributes
                .iter()
                .map(|a| {
                    let refs = a.expr.references();
                    let value = crate::eval::constant(&a.expr, "this");
                    (a.name.clone(), format!("{refs:?}"), format!("{value:?}"))
                })
                .collect::<Vec<_>>()
        };
        let want = at(&c(&whole.0));
        assert!(want[0].2.contains("18446744073709551617"), "{want:?}");
        for len in [1, 8, 64] {
            let pieces = parse_in_pieces_of(file(&text), len);
            assert_eq!(format!("{:?}", pieces.1), format!("{:?}", whole.1), "{len}");
            let r = c(&pieces.0);
            assert!(r.loc.range.start > 0);
            assert_eq!(at(&r), want, "pieces of {len}");
        }
    }

    /// A syntax error in a later piece: only the whole parse's syntax error,
    /// none of the earlier pieces' diagnostics (the duplicate here).
    #[test]
    fn a_syntax_error_in_a_piece_is_the_whole_parses_error() {
        let text = format!(
            "{TEXT}resource \"null_resource\" \"a\" {{}}\n{TEXT}resource \"x\" \"y\" {{\n  a = = 1\n}}\n"
        );
        let whole = parse_in_pieces_of(file(&text), 1 << 40);
        let pieces = parse_in_pieces_of(file(&text), 8);
        assert_eq!(whole.1.len(), 1, "{}", whole.1);
        assert!(whole.1.has_errors());
        assert_eq!(format!("{:?}", pieces.1), format!("{:?}", whole.1));
    }

    /// A cut that is not between top-level items (which `top_level_cuts`
    /// does not make): the pieces before it stand, the rest comes from a
    /// whole parse, and the result is the whole parse's.
    #[test]
    fn a_misjudged_cut_falls_back_to_the_whole_parse() {
        let whole = parse_in_pieces_of(file(TEXT), 1 << 40);
        let good = TEXT.find("resource \"null_resource\" \"a\"").unwrap();
        let bad = TEXT.find("  count = 2").unwrap();
        let mut p = Parser::default();
        let f = Arc::new(file(TEXT).remove(0));
        p.config.files.push(f.clone());
        p.file_in_pieces(&f, |cut| {
            cut(good);
            cut(bad);
            true
        });
        let (config, diags) = p.finish();
        assert_eq!(format!("{config:?}"), format!("{:?}", whole.0));
        assert_eq!(format!("{diags:?}"), format!("{:?}", whole.1));
    }

    /// Cuts that stop short (the scan met a closing bracket with none
    /// open): the pieces found stand, the rest of the file is parsed whole.
    #[test]
    fn the_rest_after_the_last_cut_can_be_parsed_whole() {
        let text = format!("{TEXT}resource \"null_resource\" \"c\" {{}}\n");
        let whole = parse_in_pieces_of(file(&text), 1 << 40);
        let good = text.find("resource \"null_resource\" \"a\"").unwrap();
        let mut p = Parser::default();
        let f = Arc::new(file(&text).remove(0));
        p.config.files.push(f.clone());
        p.file_in_pieces(&f, |cut| {
            cut(good);
            false
        });
        let (config, diags) = p.finish();
        assert_eq!(config.resources.len(), 3);
        assert_eq!(config.resource_index.len(), 3);
        assert_eq!(format!("{config:?}"), format!("{:?}", whole.0));
        assert_eq!(format!("{diags:?}"), format!("{:?}", whole.1));
    }
}
