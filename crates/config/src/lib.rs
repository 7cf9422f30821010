//! HCL configuration: files in, a source-level [`Config`] out, plus the
//! expression evaluator the planner drives.
//!
//! The crate is pure: the caller reads the files and hands over their text as
//! [`SourceFile`]s; evaluation asks a [`Scope`] for everything outside the
//! expression (variables, locals, other resources). Nothing here touches the
//! file system, the network or async. User mistakes come back as
//! [`Diagnostics`] with a span, never as a panic.
//!
//! Contract (shared with `kiln-plan`; change it only together):
//! - [`parse`] turns files into a [`Config`], reporting every syntax and
//!   structure error (unknown block types, duplicate names, bad `depends_on`).
//! - [`Expr::references`] lists what an expression refers to, for the graph.
//! - [`eval`] evaluates one expression; [`eval_body`] evaluates a resource
//!   body against its schema into an object value, checking unknown and
//!   missing attributes and converting types.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use kiln_diag::{Diagnostic, Span};
use kiln_model::{ResourceAddr, Type, Value};

mod convert;
mod eval;
mod format;
mod functions;
mod json;
mod marks;
mod modules;
mod parse;
mod shape;
mod suggest;
mod syntax;
mod template_lines;
mod typeexpr;
mod vars;

pub use convert::{ConvertError, convert, convert_constraint};
pub use eval::{eval, eval_body};
pub use format::format;
pub use functions::{function_names, json_indented};
pub use modules::{
    GitSource, ModuleLoader, RegistrySource, git_cache_dir, git_source, join_dir, module_dir,
    parse_embedded, parse_tree, registry_cache_dir, registry_source,
};
pub use parse::{THREAD_STACK, parse, parse_expr};
pub use shape::{AttrShape, Shape};
pub use vars::{parse_var_file, parse_var_value};

/// Whether a file of a configuration directory is configuration: `*.tf`,
/// `*.tf.json` (Terraform's JSON syntax) and kiln's own `*.hcl`, except
/// what Terraform ignores (names starting with `.` or `#`, or ending with
/// `~`: editors' and tools' files such as `.terraform.lock.hcl` and
/// `.tflint.hcl`) and other tools' HCL files (`terragrunt.hcl`, Packer's
/// `*.pkr.hcl`, Nomad's `*.nomad.hcl`).
pub fn is_config_file(name: &str) -> bool {
    if name.starts_with('.') || name.starts_with('#') || name.ends_with('~') {
        return false;
    }
    if name == "terragrunt.hcl"
        || name.ends_with(".pkr.hcl")
        || name.ends_with(".nomad.hcl")
        || name.ends_with(".tfvars.hcl")
    {
        return false;
    }
    name.ends_with(".tf") || name.ends_with(".tf.json") || name.ends_with(".hcl")
}

/// The byte offset of a 1-based line and column (in bytes) in `text`,
/// clamped to its length.
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

/// One configuration file's name (as shown in messages) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// A byte range of a source file; turns into a [`Span`] only when needed.
#[derive(Debug, Clone)]
pub struct Loc {
    pub file: Arc<SourceFile>,
    pub range: Range<usize>,
}

impl Loc {
    pub fn span(&self) -> Span {
        Span::from_range(&self.file.name, &self.file.text, self.range.clone())
    }

    /// An error diagnostic located here.
    pub fn error(&self, summary: impl Into<String>) -> Diagnostic {
        Diagnostic::error(summary).with_span(self.span())
    }

    /// A warning located here.
    pub fn warning(&self, summary: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(summary).with_span(self.span())
    }
}

/// A whole configuration (the root module).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub files: Vec<Arc<SourceFile>>,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    pub resources: Vec<Resource>,
    pub outputs: Vec<Output>,
    pub providers: Vec<ProviderBlock>,
    /// Where state is kept, if the configuration says (`kiln { backend ... }`).
    pub backend: Option<Backend>,
    /// Client-side encryption of the state, if the configuration requires
    /// it (`kiln { encryption { ... } }`).
    pub encryption: Option<StateEncryption>,
    /// `module "NAME" { source = "./dir" ... }` calls, with their modules'
    /// configurations once [`parse_tree`] has loaded them.
    pub modules: Vec<ModuleCall>,
    /// The module's directory relative to the root module's (`""` for the
    /// root, `modules/web` for a child), with `/` separators.
    pub dir: String,
    /// `moved { from = A, to = B }` statements, in source order.
    pub moved: Vec<Moved>,
    /// `removed { from = A  lifecycle { destroy = false } }` statements.
    pub removed: Vec<Removed>,
    /// `check "NAME" { assert { condition, error_message } }` blocks.
    pub checks: Vec<Check>,
    /// `import { to = ADDR, id = "..." }` blocks (root module).
    pub imports: Vec<Import>,
    /// Each resource's place in `resources`, by address, as the parser
    /// found them (see [`ResourceIndex`]).
    pub resource_index: ResourceIndex,
}

/// Where each resource of a configuration is in [`Config::resources`], by
/// address: the table the parser builds to find duplicates, kept so that
/// planning does not hash every address again (at 100,000 resources that
/// is milliseconds of a sequential stretch). The parser keeps it true; code
/// that changes `resources` afterwards must not rely on it — a planner
/// checks its length and builds its own when it does not match. Shared on
/// clone; shows only its length in `Debug`.
#[derive(Clone, Default)]
pub struct ResourceIndex(Arc<kiln_model::fxhash::FxHashMap<ResourceAddr, usize>>);

impl ResourceIndex {
    pub fn get(&self, addr: &ResourceAddr) -> Option<usize> {
        self.0.get(addr).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<kiln_model::fxhash::FxHashMap<ResourceAddr, usize>> for ResourceIndex {
    fn from(map: kiln_model::fxhash::FxHashMap<ResourceAddr, usize>) -> ResourceIndex {
        ResourceIndex(Arc::new(map))
    }
}

impl std::fmt::Debug for ResourceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceIndex({})", self.0.len())
    }
}

/// `import { to = ADDR, id = EXPR }`: adopt the existing object `id` as
/// `to`, unless the state already holds `to`
/// (<https://developer.hashicorp.com/terraform/language/import>).
#[derive(Debug, Clone)]
pub struct Import {
    /// The address as written (with `each.key` in an index under `for_each`).
    pub to: String,
    pub id: Expr,
    /// `for_each`: one import per element (`each.key`, `each.value`).
    pub for_each: Option<Expr>,
    pub loc: Loc,
}

/// `check "NAME" { assert { ... } }`: assertions about the infrastructure
/// that warn when they fail and never stop a plan or an apply
/// (<https://developer.hashicorp.com/terraform/language/checks>).
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub asserts: Vec<Validation>,
    /// A scoped `data` block inside the check (not read by kiln yet).
    pub scoped_data: Option<Loc>,
    pub loc: Loc,
}

/// `moved { from = ADDR, to = ADDR }`: what the state holds at `from` is
/// now at `to` (addresses as written, relative to the module).
#[derive(Debug, Clone)]
pub struct Moved {
    pub from: String,
    pub to: String,
    pub loc: Loc,
}

/// `removed { from = ADDR  lifecycle { destroy = BOOL } }`: `from` left the
/// configuration; with `destroy = false` its objects are forgotten (they
/// leave the state and stay as they are), else destroyed as usual.
#[derive(Debug, Clone)]
pub struct Removed {
    pub from: String,
    pub destroy: bool,
    pub loc: Loc,
}

/// `kiln { encryption { passphrase_env, previous_passphrase_env,
/// kms_key_id } }`: the state, its history, the journal and saved plans are
/// sealed with a passphrase read from an environment variable (never from a
/// file), or with AWS KMS envelope keys; a command with no key refuses
/// instead of writing plaintext.
#[derive(Debug, Clone)]
pub struct StateEncryption {
    /// The variable holding the passphrase (`KILN_STATE_PASSPHRASE`).
    pub passphrase_env: String,
    /// The variable holding the previous passphrase during a rotation
    /// (`KILN_STATE_PASSPHRASE_PREVIOUS`).
    pub previous_passphrase_env: String,
    /// An AWS KMS key (id, ARN or `alias/NAME`): envelope encryption with
    /// its data keys instead of a passphrase (the previous passphrase is
    /// still read, for a move to KMS).
    pub kms_key_id: Option<String>,
    /// The `encryption` block.
    pub loc: Loc,
}

/// `kiln { backend "TYPE" { ... } }` (`terraform { backend ... }` is read
/// the same way): where the environments' state is kept.
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: BackendKind,
    /// The `backend "TYPE"` header.
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// `.kiln/` beside the configuration (the default).
    Local,
    S3(S3Backend),
}

/// `backend "s3" { bucket, prefix | key, workspace_key_prefix, region,
/// encrypt, kms_key_id, profile }`: kiln's layout (`prefix`) or
/// Terraform's (`key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    /// Key prefix; each environment is `<prefix>/<env>/`.
    pub prefix: String,
    /// Terraform's layout: the `default` environment's state object; any
    /// other environment's is `<workspace_key_prefix>/<env>/<key>`.
    pub key: Option<String>,
    /// With `key`: where other environments' states go (`env:` unless set).
    pub workspace_key_prefix: String,
    /// A named profile of the shared AWS configuration.
    pub profile: Option<String>,
    /// `None`: from the standard AWS chain.
    pub region: Option<String>,
    /// Server-side encryption of every write (default true).
    pub encrypt: bool,
    /// With `encrypt`: `aws:kms` with this key instead of `AES256`.
    pub kms_key_id: Option<String>,
}

/// `module "NAME" { source = "./modules/web", count / for_each, inputs }`.
#[derive(Debug, Clone)]
pub struct ModuleCall {
    pub name: String,
    /// `source` as written: a local path (`./...` or `../...`), a git
    /// source, or a registry address.
    pub source: String,
    /// The `source` attribute's value.
    pub source_loc: Loc,
    /// `version`: the constraint a registry source is resolved with.
    pub version: Option<String>,
    /// Every other attribute: the module's input variables.
    pub inputs: Vec<Attribute>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Reference>,
    /// The block header (`module "NAME"`).
    pub loc: Loc,
    /// The called module, loaded by [`parse_tree`] (None after [`parse`], or
    /// if it failed to load).
    pub config: Option<Arc<Config>>,
}

/// `variable "NAME" { type, default, description, sensitive, nullable,
/// validation { ... } }`.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub ty: Option<Type>,
    /// The optional attributes (and their defaults) of object types inside
    /// `ty`; convert values with [`convert_constraint`].
    pub shape: Shape,
    /// The default, already evaluated (defaults are constant expressions).
    pub default: Option<Value>,
    pub description: String,
    pub sensitive: bool,
    /// `ephemeral = true` (Terraform 1.10): the value is never stored in a
    /// plan or the state; it may be used only where nothing is stored — a
    /// write-only argument, a provider block, a local value, an ephemeral
    /// output — and must be given again to apply a saved plan.
    pub ephemeral: bool,
    /// `nullable = false`: a null value is replaced by the default, or is an
    /// error without one.
    pub nullable: bool,
    pub validations: Vec<Validation>,
    pub loc: Loc,
}

/// `validation { condition = ..., error_message = ... }` in a variable.
#[derive(Debug, Clone)]
pub struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
    /// The `validation` block's header.
    pub loc: Loc,
}

/// One entry of a `locals { }` block.
#[derive(Debug, Clone)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub loc: Loc,
}

/// `output "NAME" { value, sensitive, description }`.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub expr: Expr,
    pub sensitive: bool,
    /// `ephemeral = true` (Terraform 1.10): the value is never stored in a
    /// plan or the state; only a child module's output may be ephemeral.
    pub ephemeral: bool,
    pub description: String,
    pub loc: Loc,
}

/// `provider "NAME" { ... }`.
#[derive(Debug, Clone)]
pub struct ProviderBlock {
    pub name: String,
    pub body: Body,
    pub loc: Loc,
}

/// `resource "TYPE" "NAME" { ... }` (or a `data` block).
#[derive(Debug, Clone)]
pub struct Resource {
    pub addr: ResourceAddr,
    /// The body without the meta-arguments below (no `count`, `for_each`,
    /// `depends_on`, `provider`, `lifecycle`).
    pub body: Body,
    /// `count` (boxed, as `for_each` and `cutover`: most resources have
    /// none, and a configuration holds every resource for the whole command).
    pub count: Option<Box<Expr>>,
    pub for_each: Option<Box<Expr>>,
    /// `depends_on = [null_resource.a, ...]`: each a resource reference.
    pub depends_on: Vec<Reference>,
    pub provider: Option<String>,
    /// Shared: every resource without a `lifecycle` block holds the same
    /// empty one ([`Lifecycle::none`]).
    pub lifecycle: Arc<Lifecycle>,
    /// `cutover { step { ... } check { ... } }` on a traffic switch: how
    /// traffic moves to a new generation (docs/cutover.md).
    pub cutover: Option<Box<(kiln_model::Cutover, Loc)>>,
    /// The block header (`resource "TYPE" "NAME"`).
    pub loc: Loc,
}

impl Lifecycle {
    /// The lifecycle of a resource without a `lifecycle` block: one value
    /// shared by all of them.
    pub fn none() -> Arc<Lifecycle> {
        static NONE: std::sync::LazyLock<Arc<Lifecycle>> = std::sync::LazyLock::new(Arc::default);
        NONE.clone()
    }
}

/// `lifecycle { prevent_destroy, stateful, ignore_changes,
/// replace_triggered_by, precondition { }, postcondition { } }`.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// Refuse any plan that destroys (or replaces) this resource.
    pub prevent_destroy: bool,
    /// Treat the resource as stateful even if its type is not.
    pub stateful: bool,
    /// `ignore_changes = [attr, ...]`: changes of these attributes in the
    /// configuration are not planned (the object keeps its value).
    pub ignore_changes: Vec<String>,
    /// `ignore_changes = all`.
    pub ignore_all_changes: bool,
    /// `replace_triggered_by = [null_resource.a, ...]`: replacing (or, for a
    /// whole-resource reference, updating) one of these replaces this one.
    pub replace_triggered_by: Vec<Reference>,
    /// Checked while planning, against the instance's configuration.
    pub preconditions: Vec<Validation>,
    /// Checked after apply, against the new object (`self`).
    pub postconditions: Vec<Validation>,
}

/// Attributes and nested blocks, in source order.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
    pub loc: Option<Loc>,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub expr: Expr,
    /// The attribute's name in the source.
    pub loc: Loc,
}

impl Body {
    /// Every reference the body makes, nested blocks included, in source
    /// order; a `dynamic` block's iterator is not a reference.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        eval::body_references(self, &mut Vec::new(), &mut out);
        out
    }

    /// The blocks that set `name`: `name { ... }` and `dynamic "name" { ... }`.
    pub fn blocks_setting<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
        self.blocks.iter().filter(move |b| b.sets() == name)
    }
}

impl Block {
    /// Every reference the block makes (see [`Body::references`]).
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        eval::block_references(self, &mut Vec::new(), &mut out);
        out
    }

    /// The attribute this block sets: its type, or for `dynamic "NAME"`,
    /// NAME.
    pub fn sets(&self) -> &str {
        match (self.ty.as_str(), self.labels.first()) {
            ("dynamic", Some(name)) => name,
            (ty, _) => ty,
        }
    }
}

/// A nested block (`health_check { ... }`): in a resource body it sets the
/// attribute of that name whose schema type is an object (or a list / set of
/// objects, one element per block).
#[derive(Debug, Clone)]
pub struct Block {
    pub ty: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub loc: Loc,
}

/// An expression with its location.
#[derive(Clone)]
pub struct Expr {
    pub(crate) inner: hcl_edit::expr::Expression,
    pub loc: Loc,
    /// Where in `loc.file` the spans of `inner` count from: 0, or the
    /// start of the piece of a large file it was parsed in (a large file
    /// is parsed piece by piece, see `parse::file_in_pieces`).
    pub(crate) base: usize,
}

/// A span of a syntax tree parsed from the text at `base` of a file, as a
/// range of the file ([`Expr::base`]).
pub(crate) fn in_file(span: Range<usize>, base: usize) -> Range<usize> {
    span.start + base..span.end + base
}

/// The expression's location, its text, and the location in the file of
/// every sub-expression (the same whichever piece of a file it was parsed
/// in).
impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Spans<'e>(&'e Expr, Vec<Range<usize>>);
        impl hcl_edit::visit::Visit for Spans<'_> {
            fn visit_expr(&mut self, node: &hcl_edit::expr::Expression) {
                use hcl_edit::Span;
                self.1.push(self.0.loc_of(node.span()).range);
                hcl_edit::visit::visit_expr(self, node);
            }
        }
        let mut spans = Spans(self, Vec::new());
        hcl_edit::visit::Visit::visit_expr(&mut spans, &self.inner);
        f.debug_struct("Expr")
            .field("loc", &self.loc)
            .field("text", &self.inner.to_string())
            .field("spans", &spans.1)
            .finish()
    }
}

impl Expr {
    /// The location of a span of `inner` (a sub-expression's), or the whole
    /// expression's when it has none.
    pub(crate) fn loc_of(&self, range: Option<Range<usize>>) -> Loc {
        Loc {
            file: self.loc.file.clone(),
            range: range.map_or_else(|| self.loc.range.clone(), |r| in_file(r, self.base)),
        }
    }

    /// Everything this expression refers to, in source order (duplicates kept).
    pub fn references(&self) -> Vec<Reference> {
        eval::references(self)
    }

    pub fn span(&self) -> Span {
        self.loc.span()
    }

    /// Whether the expression, as written, makes a tuple: a `[...]` literal
    /// or a `[for ...]` expression (Terraform refuses one as `for_each`).
    pub fn is_tuple_constructor(&self) -> bool {
        matches!(
            self.inner,
            hcl_edit::expr::Expression::Array(_) | hcl_edit::expr::Expression::ForExpr(_)
        ) && !matches!(&self.inner, hcl_edit::expr::Expression::ForExpr(f) if f.key_expr.is_some())
    }

    /// The variable an expression is exactly (`var.NAME`), if it is one.
    pub fn as_variable(&self) -> Option<&str> {
        use hcl_edit::expr::{Expression, TraversalOperator};
        let Expression::Traversal(t) = &self.inner else {
            return None;
        };
        let Expression::Variable(root) = &t.expr else {
            return None;
        };
        match t.operators.as_slice() {
            [op] if root.as_str() == "var" => match op.value() {
                TraversalOperator::GetAttr(name) => Some(name.as_str()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Something an expression refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// `var.NAME`
    Variable(String),
    /// `local.NAME`
    Local(String),
    /// `TYPE.NAME` or `data.TYPE.NAME` (the whole resource; attribute access
    /// and indexing are evaluated against [`Scope::resource`]'s value).
    Resource(ResourceAddr),
    /// `count.index`
    CountIndex,
    /// `each.key` / `each.value`
    EachKey,
    EachValue,
    /// `path.module`, `path.root`, `path.cwd`
    Path(String),
    /// `kiln.env`, `terraform.workspace`
    Env,
    /// `module.NAME` (the outputs of a module call; an object for a single
    /// instance, a list with `count`, a map with `for_each`).
    Module(String),
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub subject: Subject,
    pub loc: Loc,
}

/// What an expression can see outside itself. The planner implements it over
/// its evaluated variables, locals and planned resource values.
pub trait Scope {
    /// `var.NAME`; `None` if no such variable is declared.
    fn variable(&self, name: &str) -> Option<Value>;
    /// `local.NAME`; `None` if no such local is declared.
    fn local(&self, name: &str) -> Option<Value>;
    /// The value of a resource: an object for a single instance, a list of
    /// objects with `count`, a map of objects with `for_each`. `None` if no
    /// such resource is declared. Attributes not known yet are
    /// [`Value::Unknown`].
    fn resource(&self, addr: &ResourceAddr) -> Option<Value>;
    /// `module.NAME`: the outputs of the module call's instances (an object,
    /// or a list / map of objects with count / for_each). `None` if no such
    /// module call is declared.
    fn module(&self, _name: &str) -> Option<Value> {
        None
    }
    /// `self`: the new object, in a `postcondition` block after apply.
    fn self_value(&self) -> Option<Value> {
        None
    }
    /// `count.index` when evaluating an instance of a counted resource.
    fn count_index(&self) -> Option<u64> {
        None
    }
    /// `each.key` and `each.value` in a `for_each` resource.
    fn each(&self) -> Option<(Value, Value)> {
        None
    }
    /// `path.module`, `path.root`, `path.cwd`.
    fn path(&self, _which: &str) -> Option<String> {
        None
    }
    /// The environment's name (`kiln.env`, `terraform.workspace`).
    fn env(&self) -> String {
        "default".to_string()
    }
    /// The declared names of one kind, only asked for when building a "did
    /// you mean" hint for an undeclared reference. Resources are named as
    /// written (`null_resource.a`, `data.x.y`). The default knows none.
    fn names(&self, _kind: NameKind) -> Vec<String> {
        Vec::new()
    }
    /// The file system the file functions (`file`, `fileset`,
    /// `templatefile`, ...) read. The default has none: each of them fails
    /// with a diagnostic.
    fn files(&self) -> &dyn FileSystem {
        &NoFileSystem
    }
}

/// Read access to the files of a configuration, for the file functions.
/// Paths are as the user wrote them: relative ones are relative to the
/// module's directory (`path.module`). Errors are messages ready for a
/// diagnostic ("no file exists at ...").
pub trait FileSystem {
    /// A file's bytes.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    /// Whether a regular file exists at `path` (an error if something else
    /// does, like a directory).
    fn is_file(&self, path: &str) -> Result<bool, String>;
    /// Every regular file under the directory `dir`, recursively, as paths
    /// relative to `dir` with `/` separators (empty if `dir` does not exist).
    fn files_under(&self, dir: &str) -> Result<Vec<String>, String>;
    /// `path` made absolute and cleaned.
    fn absolute(&self, path: &str) -> Result<String, String>;
    /// The user's home directory, for `pathexpand`.
    fn home_dir(&self) -> Option<String>;
}

/// The file system of a context that has none: every call fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFileSystem;

const NO_FILES: &str =
    "file functions cannot be used here: no configuration directory is available";

impl FileSystem for NoFileSystem {
    fn read(&self, _path: &str) -> Result<Vec<u8>, String> {
        Err(NO_FILES.into())
    }
    fn is_file(&self, _path: &str) -> Result<bool, String> {
        Err(NO_FILES.into())
    }
    fn files_under(&self, _dir: &str) -> Result<Vec<String>, String> {
        Err(NO_FILES.into())
    }
    fn absolute(&self, _path: &str) -> Result<String, String> {
        Err(NO_FILES.into())
    }
    fn home_dir(&self) -> Option<String> {
        None
    }
}

/// What [`Scope::names`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Variable,
    Local,
    Resource,
    Module,
}

/// Values given for variables, by name, from `--var`, `--var-file` and the
/// environment, before type conversion.
pub type VarValues = BTreeMap<String, Value>;
