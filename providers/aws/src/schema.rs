//! The provider's schema, built from the table of resource types and the
//! data sources' own; and the checks `validate` runs beyond the types.

use std::collections::BTreeMap;

use kiln_model::{ProviderSchema, ResourceSchema, Type, Value};

use crate::shape::{A, bool_t, map_t, num_t, obj, opt_computed, str_t, strs_t};
use crate::values;

fn filter_t() -> Type {
    Type::List(Box::new(obj(&[("name", str_t()), ("values", strs_t())])))
}

/// Every resource type's schema, from the table.
fn resources() -> BTreeMap<String, ResourceSchema> {
    crate::resource::TYPES
        .iter()
        .map(|t| (t.name().to_string(), t.schema()))
        .collect()
}

fn data_sources() -> BTreeMap<String, ResourceSchema> {
    let mut d = BTreeMap::new();
    let principals_t = Type::List(Box::new(obj(&[
        ("type", str_t()),
        ("identifiers", strs_t()),
    ])));
    d.insert(
        "aws_iam_policy_document".into(),
        ResourceSchema::new()
            .attr("version", A::optional(str_t()))
            .attr("policy_id", A::optional(str_t()))
            .attr("source_policy_documents", A::optional(strs_t()))
            .attr("override_policy_documents", A::optional(strs_t()))
            .attr(
                "statement",
                A::optional(Type::List(Box::new(obj(&[
                    ("sid", str_t()),
                    ("effect", str_t()),
                    ("actions", strs_t()),
                    ("not_actions", strs_t()),
                    ("resources", strs_t()),
                    ("not_resources", strs_t()),
                    ("principals", principals_t.clone()),
                    ("not_principals", principals_t),
                    (
                        "condition",
                        Type::List(Box::new(obj(&[
                            ("test", str_t()),
                            ("variable", str_t()),
                            ("values", strs_t()),
                        ]))),
                    ),
                ])))),
            )
            .attr("id", A::computed(str_t()))
            .attr("json", A::computed(str_t()))
            .attr("minified_json", A::computed(str_t())),
    );
    d.insert(
        "aws_ami".into(),
        ResourceSchema::new()
            .attr("owners", A::optional(strs_t()))
            .attr("most_recent", A::optional(bool_t()))
            .attr("name_prefix", A::optional(str_t()))
            .attr("filter", A::optional(filter_t()))
            .attr("id", A::computed(str_t()))
            .attr("image_id", A::computed(str_t()))
            .attr("name", A::computed(str_t()))
            .attr("architecture", A::computed(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("creation_date", A::computed(str_t())),
    );
    d.insert(
        "aws_key_pair".into(),
        ResourceSchema::new()
            .attr("key_name", opt_computed(str_t()))
            .attr("key_pair_id", opt_computed(str_t()))
            .attr("include_public_key", A::optional(bool_t()))
            .attr("filter", A::optional(filter_t()))
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("fingerprint", A::computed(str_t()))
            .attr("key_type", A::computed(str_t()))
            .attr("public_key", A::computed(str_t())),
    );
    d.insert(
        "aws_vpc".into(),
        ResourceSchema::new()
            .attr("default", A::optional(bool_t()))
            .attr("id", opt_computed(str_t()))
            .attr("filter", A::optional(filter_t()))
            .attr("cidr_block", A::computed(str_t()))
            .attr("arn", A::computed(str_t())),
    );
    d.insert(
        "aws_subnets".into(),
        ResourceSchema::new()
            .attr("filter", A::optional(filter_t()))
            .attr("id", A::computed(str_t()))
            .attr("ids", A::computed(strs_t())),
    );
    d.insert(
        "aws_subnet".into(),
        ResourceSchema::new()
            .attr("id", opt_computed(str_t()))
            .attr("vpc_id", opt_computed(str_t()))
            .attr("cidr_block", opt_computed(str_t()))
            .attr("availability_zone", opt_computed(str_t()))
            .attr("default_for_az", A::optional(bool_t()))
            .attr("tags", A::optional(map_t()))
            .attr("filter", A::optional(filter_t()))
            .attr("arn", A::computed(str_t()))
            .attr("availability_zone_id", A::computed(str_t()))
            .attr("map_public_ip_on_launch", A::computed(bool_t()))
            .attr("owner_id", A::computed(str_t())),
    );
    d.insert(
        "aws_instances".into(),
        ResourceSchema::new()
            .attr("instance_tags", A::optional(map_t()))
            .attr("instance_state_names", A::optional(strs_t()))
            .attr("filter", A::optional(filter_t()))
            .attr("id", A::computed(str_t()))
            .attr("ids", A::computed(strs_t()))
            .attr("private_ips", A::computed(strs_t()))
            .attr("public_ips", A::computed(strs_t())),
    );
    d.insert(
        "aws_route53_zone".into(),
        ResourceSchema::new()
            .attr("zone_id", opt_computed(str_t()))
            .attr("name", opt_computed(str_t()))
            .attr("private_zone", A::optional(bool_t()))
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("name_servers", A::computed(strs_t()))
            .attr("primary_name_server", A::computed(str_t()))
            .attr("resource_record_set_count", A::computed(num_t())),
    );
    d.insert(
        "aws_caller_identity".into(),
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("account_id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("user_id", A::computed(str_t())),
    );
    d.insert(
        "aws_region".into(),
        ResourceSchema::new()
            .attr("name", opt_computed(str_t()))
            .attr("id", A::computed(str_t()))
            .attr("description", A::computed(str_t()))
            .attr("endpoint", A::computed(str_t())),
    );
    d.insert(
        "aws_availability_zones".into(),
        ResourceSchema::new()
            .attr("state", A::optional(str_t()))
            .attr("id", A::computed(str_t()))
            .attr("names", A::computed(strs_t()))
            .attr("zone_ids", A::computed(strs_t())),
    );
    d
}

/// The provider's schema, built once per process (validation and adoption
/// look attributes up per resource).
pub fn provider_schema() -> &'static ProviderSchema {
    static SCHEMA: std::sync::OnceLock<ProviderSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(build_schema)
}

fn build_schema() -> ProviderSchema {
    ProviderSchema {
        name: "aws".into(),
        config: ResourceSchema::new()
            .attr("region", A::optional(str_t()))
            .attr(
                "default_tags",
                A::optional(obj(&[("tags", map_t())]))
                    .describe("tags added to every taggable resource"),
            ),
        resources: with_aliases(resources()),
        data_sources: data_sources(),
    }
}

/// The resource schemas with each alias beside the type it stands for.
fn with_aliases(mut r: BTreeMap<String, ResourceSchema>) -> BTreeMap<String, ResourceSchema> {
    for (alias, real) in crate::resource::ALIASES {
        if let Some(s) = r.get(*real).cloned() {
            r.insert((*alias).to_string(), s);
        }
    }
    r
}

/// The problems of a configuration, checked before planning: those of
/// [`validate`], and a name set together with a prefix it does not begin
/// with (a live object's state carries both: the name made from the
/// prefix).
pub fn validate_config(type_name: &str, config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rule) = provider_schema()
        .resources
        .get(crate::resource::canonical(type_name))
        .and_then(|r| r.physical_name.as_ref())
    {
        let attr = rule.attribute.as_str();
        // A name that begins with the prefix is the one made from it (the
        // planner carries a live object's name into an in-place update).
        if let (Some(name), Some(prefix)) = (
            values::string(config, attr),
            values::string(config, &format!("{attr}_prefix")),
        ) && !name.starts_with(&prefix)
        {
            out.push(format!(
                "{attr} and {attr}_prefix conflict: set one of them"
            ));
        }
    }
    out.extend(validate(type_name, config));
    out
}

/// The problems of a configuration beyond its types (unknown values pass).
pub fn validate(type_name: &str, config: &Value) -> Vec<String> {
    let type_name = crate::resource::canonical(type_name);
    let mut out = Vec::new();
    if let Some(rule) = provider_schema()
        .resources
        .get(type_name)
        .and_then(|r| r.physical_name.as_ref())
    {
        let attr = rule.attribute.as_str();
        let name = values::string(config, attr);
        if let Some(n) = name.filter(|n| n.len() > rule.max_len) {
            out.push(format!(
                "{attr} {n:?} is {} characters long; AWS allows at most {} for {type_name}",
                n.len(),
                rule.max_len
            ));
        }
    }
    if let Some(t) = crate::resource::lookup(type_name) {
        t.validate(config, &mut out);
    }
    out
}
