//! Provider schemas: the resource types a provider offers, their attributes,
//! and how each attribute may change. The planner decides create / update /
//! replace from these alone, without calling the provider.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

/// An attribute's type constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
    /// Any type: no conversion, no check.
    Any,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(fields) => {
                f.write_str("object({")?;
                for (i, (k, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {t}")?;
                }
                f.write_str("})")
            }
            Type::Tuple(items) => {
                f.write_str("tuple([")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Any => f.write_str("any"),
        }
    }
}

/// Whether the user must, may, or cannot set an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Required,
    Optional,
    /// Set by the provider only (an id, an address, a checksum).
    Computed,
    /// Optional; the provider fills it in when the user leaves it out.
    OptionalComputed,
}

/// What a change to an attribute means (DESIGN.md, "The planner's rules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeBehaviour {
    /// The resource must be replaced (the default).
    #[default]
    Replace,
    /// Run-time configuration: changed in place (tags, capacity, backends).
    Runtime,
    /// For stateful resources: the cloud changes it in place without losing data.
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeSchema {
    #[serde(rename = "type")]
    pub ty: Type,
    pub presence: Presence,
    #[serde(default)]
    pub change: ChangeBehaviour,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub description: String,
    /// A write-only argument (Terraform 1.11's `password_wo` kind): its
    /// value reaches the provider at create and update, and is never written
    /// to a plan or the state (it reads back as null); a change of it alone
    /// changes nothing. It may take an ephemeral value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_only: bool,
    /// What of a computed attribute is known before the object exists (see
    /// [`PlannedValue`]); `None`: nothing, it is unknown until apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<PlannedValue>,
}

/// What the planner knows of a computed attribute of an object it will
/// create: what a Terraform provider's plan fills in from the
/// configuration. kiln's planner calls no provider, so the schema says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedValue {
    /// A list of objects, one per distinct string among the configuration
    /// attributes `from` (each a string or a list of strings), in order:
    /// each object's `key` attribute is that string, its other attributes
    /// are unknown. ACM's `domain_validation_options` is one per
    /// `domain_name` and `subject_alternative_names`, so a `for_each` keyed
    /// by `dvo.domain_name` is known at plan time, as in Terraform.
    EachOf { from: Vec<String>, key: String },
}

impl PlannedValue {
    /// The planned value from the object's configuration, `None` when the
    /// configuration does not tell it yet (an unknown input).
    pub fn from_config(&self, config: &crate::FieldMap, ty: &Type) -> Option<crate::Value> {
        use crate::Value;
        match self {
            PlannedValue::EachOf { from, key } => {
                let fields = match ty {
                    Type::List(t) | Type::Set(t) => match t.as_ref() {
                        Type::Object(f) => f,
                        _ => return None,
                    },
                    _ => return None,
                };
                let mut keys: Vec<SmolStr> = Vec::new();
                for name in from {
                    let v = config
                        .get(name)
                        .map(Value::unmarked)
                        .unwrap_or(&Value::Null);
                    let items: Vec<&Value> = match v {
                        Value::Null => Vec::new(),
                        Value::String(_) => vec![v],
                        Value::List(items) => items.iter().map(Value::unmarked).collect(),
                        _ => return None,
                    };
                    for item in items {
                        match item {
                            Value::String(s) if !keys.contains(s) => keys.push(s.clone()),
                            Value::String(_) => {}
                            _ => return None,
                        }
                    }
                }
                Some(Value::List(
                    keys.into_iter()
                        .map(|k| {
                            Value::Map(
                                fields
                                    .keys()
                                    .map(|f| {
                                        let v = if f == key {
                                            Value::String(k.clone())
                                        } else {
                                            Value::Unknown
                                        };
                                        (f.clone(), v)
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                ))
            }
        }
    }
}

impl AttributeSchema {
    pub fn new(ty: Type, presence: Presence) -> AttributeSchema {
        AttributeSchema {
            ty,
            presence,
            change: ChangeBehaviour::Replace,
            sensitive: false,
            description: String::new(),
            write_only: false,
            planned: None,
        }
    }

    pub fn required(ty: Type) -> AttributeSchema {
        AttributeSchema::new(ty, Presence::Required)
    }

    pub fn optional(ty: Type) -> AttributeSchema {
        AttributeSchema::new(ty, Presence::Optional)
    }

    pub fn computed(ty: Type) -> AttributeSchema {
        AttributeSchema::new(ty, Presence::Computed)
    }

    pub fn runtime(mut self) -> AttributeSchema {
        self.change = ChangeBehaviour::Runtime;
        self
    }

    pub fn updatable(mut self) -> AttributeSchema {
        self.change = ChangeBehaviour::Update;
        self
    }

    pub fn sensitive(mut self) -> AttributeSchema {
        self.sensitive = true;
        self
    }

    /// A write-only argument (see [`AttributeSchema::write_only`]); it is
    /// sensitive too.
    pub fn write_only(mut self) -> AttributeSchema {
        self.write_only = true;
        self.sensitive = true;
        self.change = ChangeBehaviour::Runtime;
        self
    }

    /// A computed attribute partly known at plan time (see [`PlannedValue`]).
    pub fn planned(mut self, p: PlannedValue) -> AttributeSchema {
        self.planned = Some(p);
        self
    }

    pub fn describe(mut self, d: impl Into<String>) -> AttributeSchema {
        self.description = d.into();
        self
    }

    pub fn is_settable(&self) -> bool {
        self.presence != Presence::Computed
    }

    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }
}

/// One resource (or data source) type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSchema {
    pub attributes: BTreeMap<String, AttributeSchema>,
    /// Holds data: never replaced or deleted unless the user names it.
    #[serde(default)]
    pub stateful: bool,
    /// The provider implements `check_health` for this type; steps that move
    /// traffic onto a new instance wait for it to pass.
    #[serde(default)]
    pub health_check: bool,
    /// A traffic switch (a balancer on a fixed port, a listener): kept across
    /// generations, never replaced by `--rebuild` or drift, because two of
    /// them cannot coexist; its run-time attributes are what moves traffic
    /// from one generation to the next (and back, on rollback).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub traffic_switch: bool,
    /// Sets of attributes whose values two live objects of this type cannot
    /// share (a subnet's `vpc_id` with its `cidr_block`): a replacement that
    /// keeps all of one set could not be created beside the object it
    /// replaces, so the planner refuses it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusive: Vec<Vec<String>>,
    /// The argument holding the object's physical name (`name` of a load
    /// balancer), which two live objects of this type cannot share. The
    /// first object gets the name as written; a replacement while the
    /// written name is held by a live object gets a derived name (see
    /// [`PhysicalName`]), which the plan shows with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_name: Option<PhysicalName>,
    #[serde(default)]
    pub description: String,
}

/// A name argument that is the object's physical name.
///
/// The derived name of a replacement in generation `g` is the written name
/// with `-g{g}` appended, cut to `max_len` characters by keeping its start
/// and ending in a hash of the whole (`-` and 8 hex digits); the next
/// replacement, once the written name is free again, takes the written
/// name back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalName {
    /// The argument (`name`).
    pub attribute: String,
    /// The longest name the cloud accepts (32 for ELBv2 load balancers and
    /// target groups).
    pub max_len: usize,
}

impl ResourceSchema {
    pub fn new() -> ResourceSchema {
        ResourceSchema {
            attributes: BTreeMap::new(),
            stateful: false,
            health_check: false,
            traffic_switch: false,
            exclusive: Vec::new(),
            physical_name: None,
            description: String::new(),
        }
    }

    pub fn attr(mut self, name: &str, a: AttributeSchema) -> ResourceSchema {
        self.attributes.insert(name.to_string(), a);
        self
    }

    /// Declares attributes two live objects of this type cannot share.
    pub fn exclusive(mut self, names: &[&str]) -> ResourceSchema {
        self.exclusive
            .push(names.iter().map(|n| n.to_string()).collect());
        self
    }

    /// Declares `attribute` the object's physical name, at most `max_len`
    /// characters (see [`PhysicalName`]).
    pub fn physical_name(mut self, attribute: &str, max_len: usize) -> ResourceSchema {
        self.physical_name = Some(PhysicalName {
            attribute: attribute.to_string(),
            max_len,
        });
        self
    }
}

impl Default for ResourceSchema {
    fn default() -> Self {
        ResourceSchema::new()
    }
}

/// Everything one provider offers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProviderSchema {
    pub name: String,
    /// The provider's own configuration block (`provider "aws" { ... }`).
    #[serde(default)]
    pub config: ResourceSchema,
    pub resources: BTreeMap<String, ResourceSchema>,
    #[serde(default)]
    pub data_sources: BTreeMap<String, ResourceSchema>,
}

impl ProviderSchema {
    /// The provider's reference as Markdown: every resource type and data
    /// source with its arguments (type, required or optional, what a change
    /// means) and its computed attributes. Generated from the schema, so a
    /// document made from it cannot drift from what the provider accepts.
    pub fn reference_markdown(&self) -> String {
        let mut out = String::new();
        for (name, r) in &self.resources {
            out.push_str(&format!("### `{name}`\n\n"));
            let mut traits = Vec::new();
            if r.stateful {
                traits.push("stateful (never replaced unless named)".to_string());
            }
            if r.health_check {
                traits.push("health-checked before cut-over".to_string());
            }
            if r.traffic_switch {
                traits.push("traffic switch (moved in place on a rebuild)".to_string());
            }
            if let Some(p) = &r.physical_name {
                traits.push(format!(
                    "physical name `{}` (at most {} characters)",
                    p.attribute, p.max_len
                ));
            }
            for set in &r.exclusive {
                traits.push(format!("`{}` unique among resources", set.join("` + `")));
            }
            if !traits.is_empty() {
                out.push_str(&format!("{}.\n\n", traits.join("; ")));
            }
            reference_table(&mut out, r, true);
        }
        if !self.data_sources.is_empty() {
            out.push_str("### Data sources\n\n");
            for (name, d) in &self.data_sources {
                out.push_str(&format!("#### `data.{name}`\n\n"));
                reference_table(&mut out, d, false);
            }
        }
        out
    }
}

/// One type's arguments as a Markdown table, then its computed attributes.
fn reference_table(out: &mut String, r: &ResourceSchema, changes: bool) {
    let args: Vec<_> = r
        .attributes
        .iter()
        .filter(|(_, a)| a.is_settable())
        .collect();
    if !args.is_empty() {
        out.push_str(if changes {
            "| argument | type | | a change | |\n|---|---|---|---|---|\n"
        } else {
            "| argument | type | | |\n|---|---|---|---|\n"
        });
        for (k, a) in args {
            let presence = match a.presence {
                Presence::Required => "required",
                _ => "optional",
            };
            let change = match a.change {
                ChangeBehaviour::Replace => "replaces",
                ChangeBehaviour::Runtime => "in place",
                ChangeBehaviour::Update => "in place (stateful)",
            };
            let note = a.description.replace('|', "\\|");
            let ty = a.ty.to_string().replace('|', "\\|");
            if changes {
                out.push_str(&format!(
                    "| `{k}` | `{ty}` | {presence} | {change} | {note} |\n"
                ));
            } else {
                out.push_str(&format!("| `{k}` | `{ty}` | {presence} | {note} |\n"));
            }
        }
        out.push('\n');
    }
    let computed: Vec<String> = r
        .attributes
        .iter()
        .filter(|(_, a)| a.presence == Presence::Computed)
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    if !computed.is_empty() {
        out.push_str(&format!("Computed: {}.\n\n", computed.join(", ")));
    }
}

/// The schemas of every configured provider, looked up by resource type.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    pub providers: BTreeMap<String, ProviderSchema>,
    resource_index: BTreeMap<String, String>,
    data_index: BTreeMap<String, String>,
}

impl Schemas {
    pub fn new(providers: impl IntoIterator<Item = ProviderSchema>) -> Schemas {
        let mut s = Schemas::default();
        for p in providers {
            s.add(p);
        }
        s
    }

    pub fn add(&mut self, p: ProviderSchema) {
        for ty in p.resources.keys() {
            self.resource_index.insert(ty.clone(), p.name.clone());
        }
        for ty in p.data_sources.keys() {
            self.data_index.insert(ty.clone(), p.name.clone());
        }
        self.providers.insert(p.name.clone(), p);
    }

    /// The provider name and schema for a managed resource type.
    pub fn resource(&self, ty: &str) -> Option<(&str, &ResourceSchema)> {
        let provider = self.resource_index.get(ty)?;
        let schema = self.providers.get(provider)?.resources.get(ty)?;
        Some((provider.as_str(), schema))
    }

    pub fn data_source(&self, ty: &str) -> Option<(&str, &ResourceSchema)> {
        let provider = self.data_index.get(ty)?;
        let schema = self.providers.get(provider)?.data_sources.get(ty)?;
        Some((provider.as_str(), schema))
    }

    /// All managed resource type names, for "did you mean" messages.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_index.keys().map(|k| k.as_str())
    }
}

/// Whether `word` occurs in `text` with no letter or digit on either side.
fn names_word(text: &str, word: &str) -> bool {
    let bounded = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    text.match_indices(word).any(|(i, _)| {
        bounded(text[..i].chars().next_back()) && bounded(text[i + word.len()..].chars().next())
    })
}

impl PhysicalName {
    /// The name a replacement in `generation` takes while `written` is held.
    pub fn derived(&self, written: &str, generation: u64) -> String {
        self.fit(format!("{written}-g{generation}"))
    }

    /// The name `written` stands for in environment `env`: as written in
    /// the `default` environment, or when it already names the environment
    /// (`"web-${terraform.workspace}"`: the environment's name as a whole
    /// word of it); otherwise `{written}-{env}`, so that two environments
    /// of one configuration never collide on a name. Fitted to the limit as
    /// [`PhysicalName::derived`] is.
    pub fn in_env(&self, written: &str, env: &str) -> String {
        if env.is_empty() || env == "default" || names_word(written, env) {
            return written.to_string();
        }
        self.fit(format!("{written}-{env}"))
    }

    /// `raw`, or when longer than the limit its beginning and a hash of it.
    fn fit(&self, raw: String) -> String {
        if raw.len() <= self.max_len {
            return raw;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in raw.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let hash = format!("{:08x}", h as u32);
        let mut keep = self.max_len.saturating_sub(hash.len() + 1);
        while !raw.is_char_boundary(keep) {
            keep -= 1;
        }
        format!("{}-{hash}", raw[..keep].trim_end_matches('-'))
    }

    /// Whether `physical` is `written` or the name it derives to in
    /// `generation`.
    pub fn is_form_of(&self, physical: &str, written: &str, generation: u64) -> bool {
        physical == written || physical == self.derived(written, generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_names_carry_the_environment_outside_default() {
        let rule = PhysicalName {
            attribute: "name".into(),
            max_len: 32,
        };
        assert_eq!(rule.in_env("web", "default"), "web");
        assert_eq!(rule.in_env("web", "pr-7"), "web-pr-7");
        // Already named after the environment (terraform.workspace).
        assert_eq!(rule.in_env("web-pr-7", "pr-7"), "web-pr-7");
        assert_eq!(rule.in_env("pr-7-web", "pr-7"), "pr-7-web");
        // A letter of the name is not the environment's name.
        assert_eq!(rule.in_env("web", "e"), "web-e");
        assert_eq!(rule.in_env("web-pr-77", "pr-7"), "web-pr-77-pr-7");
        let long = rule.in_env("a-very-long-load-balancer-name", "staging");
        assert!(
            long.len() <= 32 && long.starts_with("a-very-long"),
            "{long}"
        );
        assert_ne!(long, rule.in_env("a-very-long-load-balancer-name", "prod"));
    }
}
