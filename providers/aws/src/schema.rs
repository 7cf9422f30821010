//! Every resource and data source type of the provider, with its attributes
//! (named as in the Terraform AWS provider) and what a change to each means;
//! and the checks `validate` runs beyond the types.

use std::collections::BTreeMap;

use kiln_model::{AttributeSchema as A, ProviderSchema, ResourceSchema, Type, Value};

use crate::values;

fn str_t() -> Type {
    Type::String
}
fn num_t() -> Type {
    Type::Number
}
fn bool_t() -> Type {
    Type::Bool
}
fn strs_t() -> Type {
    Type::List(Box::new(Type::String))
}
fn map_t() -> Type {
    Type::Map(Box::new(Type::String))
}
fn obj(fields: &[(&str, Type)]) -> Type {
    Type::Object(
        fields
            .iter()
            .map(|(k, t)| (k.to_string(), t.clone()))
            .collect(),
    )
}

fn opt_computed(t: Type) -> A {
    A::new(t, kiln_model::Presence::OptionalComputed)
}

fn tags() -> A {
    A::optional(map_t())
        .runtime()
        .describe("tags of the object, changed in place; kiln adds kiln:env, kiln:address, kiln:generation, kiln:lineage and kiln:key")
}

/// `id` and `arn`, computed.
fn ids(r: ResourceSchema) -> ResourceSchema {
    r.attr("id", A::computed(str_t()))
        .attr("arn", A::computed(str_t()))
}

/// `name` and `name_prefix`, Terraform's: `name` is the physical name as
/// written (a replacement while the live object holds it takes a derived
/// one, see [`kiln_model::PhysicalName`]); `name_prefix` makes a name that
/// begins with it, `{prefix}{env}-g{generation}-{project}`; with neither,
/// `{env}-{resource name}-g{generation}-{project}`. At most `max`
/// characters (AWS's limit for the type).
fn named(r: ResourceSchema, max: usize) -> ResourceSchema {
    r.attr(
        "name",
        A::new(str_t(), kiln_model::Presence::OptionalComputed).describe(
            "the physical name (default: made from name_prefix, or from the environment, the resource name and the generation)",
        ),
    )
    .attr(
        "name_prefix",
        A::optional(str_t()).describe("the physical name begins with it (conflicts with name)"),
    )
    .physical_name("name", max)
}

fn rule_t() -> Type {
    obj(&[
        ("from_port", num_t()),
        ("to_port", num_t()),
        ("protocol", str_t()),
        ("cidr_blocks", strs_t()),
        ("security_groups", strs_t()),
        ("description", str_t()),
    ])
}

fn filter_t() -> Type {
    Type::List(Box::new(obj(&[("name", str_t()), ("values", strs_t())])))
}

fn resources() -> BTreeMap<String, ResourceSchema> {
    let mut r = BTreeMap::new();
    r.insert(
        "aws_vpc".into(),
        ids(ResourceSchema::new())
            .attr("cidr_block", A::required(str_t()))
            .attr("instance_tenancy", A::optional(str_t()))
            .attr("enable_dns_support", A::optional(bool_t()))
            .attr("enable_dns_hostnames", A::optional(bool_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("default_security_group_id", A::computed(str_t()))
            .attr("main_route_table_id", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_subnet".into(),
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr("cidr_block", A::required(str_t()))
            .attr("availability_zone", opt_computed(str_t()))
            .attr("map_public_ip_on_launch", A::optional(bool_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags())
            // A range exists once per VPC.
            .exclusive(&["vpc_id", "cidr_block"]),
    );
    r.insert(
        "aws_internet_gateway".into(),
        ids(ResourceSchema::new())
            .attr("vpc_id", A::optional(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_route_table".into(),
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr(
                "route",
                A::optional(Type::List(Box::new(obj(&[
                    ("cidr_block", str_t()),
                    ("gateway_id", str_t()),
                ]))))
                .runtime()
                .describe("routes are changed in place (a new table would have to take over every subnet's association)"),
            )
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_route_table_association".into(),
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("subnet_id", A::required(str_t()))
            .attr("route_table_id", A::required(str_t()))
            // A subnet has one route table association.
            .exclusive(&["subnet_id"]),
    );
    r.insert(
        "aws_security_group".into(),
        named(ids(ResourceSchema::new()), 255)
            .attr("description", A::optional(str_t()))
            .attr("vpc_id", A::optional(str_t()))
            .attr("ingress", A::optional(Type::List(Box::new(rule_t()))))
            .attr(
                "egress",
                A::optional(Type::List(Box::new(rule_t())))
                    .describe("when unset, AWS's default (all traffic out) is kept"),
            )
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_launch_template".into(),
        named(ids(ResourceSchema::new()), 128)
            .attr("description", A::optional(str_t()))
            .attr("image_id", A::optional(str_t()))
            .attr("instance_type", A::optional(str_t()))
            .attr("key_name", A::optional(str_t()))
            .attr(
                "user_data",
                A::optional(str_t()).describe("base64-encoded, as in Terraform (filebase64)"),
            )
            .attr("vpc_security_group_ids", A::optional(strs_t()))
            .attr("latest_version", A::computed(num_t()))
            .attr("default_version", A::computed(num_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_instance".into(),
        ids(ResourceSchema::new())
            .attr("ami", A::required(str_t()))
            .attr("instance_type", A::required(str_t()))
            .attr("subnet_id", opt_computed(str_t()))
            .attr("vpc_security_group_ids", A::optional(strs_t()))
            .attr("key_name", A::optional(str_t()))
            .attr(
                "user_data",
                A::optional(str_t()).describe("plain text; kiln base64-encodes it"),
            )
            .attr("availability_zone", A::computed(str_t()))
            .attr("private_ip", A::computed(str_t()))
            .attr("public_ip", A::computed(str_t()))
            .attr("instance_state", A::computed(str_t()))
            .attr("tags", tags()),
    );
    let mut asg = named(ids(ResourceSchema::new()), 255)
        .attr(
            "launch_template",
            A::optional(obj(&[
                ("id", str_t()),
                ("name", str_t()),
                ("version", str_t()),
            ])),
        )
        .attr("min_size", A::required(num_t()).runtime())
        .attr("max_size", A::required(num_t()).runtime())
        .attr("desired_capacity", opt_computed(num_t()).runtime())
        .attr("vpc_zone_identifier", A::optional(strs_t()))
        .attr("availability_zones", A::optional(strs_t()))
        .attr("target_group_arns", A::optional(strs_t()).runtime())
        .attr("health_check_type", A::optional(str_t()).runtime())
        .attr("health_check_grace_period", A::optional(num_t()).runtime())
        .attr(
            "wait_for_capacity_timeout",
            A::optional(str_t())
                .runtime()
                .describe("how long to wait for the instances to be InService and healthy (default \"10m\"; \"0\" skips)"),
        )
        .attr(
            "tag",
            A::optional(Type::List(Box::new(obj(&[
                ("key", str_t()),
                ("value", str_t()),
                ("propagate_at_launch", bool_t()),
            ]))))
            .runtime(),
        );
    asg.health_check = true;
    r.insert("aws_autoscaling_group".into(), asg);
    r.insert(
        "aws_lb".into(),
        named(ids(ResourceSchema::new()), 32)
            .attr("internal", A::optional(bool_t()))
            .attr("load_balancer_type", A::optional(str_t()))
            .attr("security_groups", A::optional(strs_t()))
            .attr("subnets", A::optional(strs_t()))
            .attr("dns_name", A::computed(str_t()))
            .attr("zone_id", A::computed(str_t()))
            .attr("arn_suffix", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_lb_target_group".into(),
        named(ids(ResourceSchema::new()), 32)
            .attr("port", A::optional(num_t()))
            .attr("protocol", A::optional(str_t()))
            .attr("vpc_id", A::optional(str_t()))
            .attr("target_type", A::optional(str_t()))
            .attr(
                "health_check",
                A::optional(obj(&[
                    ("path", str_t()),
                    ("port", str_t()),
                    ("protocol", str_t()),
                    ("matcher", str_t()),
                    ("interval", num_t()),
                    ("timeout", num_t()),
                    ("healthy_threshold", num_t()),
                    ("unhealthy_threshold", num_t()),
                ])),
            )
            .attr("arn_suffix", A::computed(str_t()))
            .attr("tags", tags()),
    );
    r.insert(
        "aws_lb_listener".into(),
        ids(ResourceSchema::new())
            .attr("load_balancer_arn", A::required(str_t()))
            .attr("port", A::optional(num_t()))
            .attr("protocol", A::optional(str_t()))
            .attr(
                "default_action",
                A::required(Type::List(Box::new(obj(&[
                    ("type", str_t()),
                    ("target_group_arn", str_t()),
                    (
                        "forward",
                        obj(&[(
                            "target_group",
                            Type::List(Box::new(obj(&[("arn", str_t()), ("weight", num_t())]))),
                        )]),
                    ),
                ]))))
                .runtime()
                .describe("forward to a target group, or to several with weights: the cut-over switch, changed in place"),
            )
            .attr("tags", tags()),
    );
    // A listener owns its port on the load balancer: --rebuild moves it to
    // the new generation in place instead of replacing it.
    if let Some(listener) = r.get_mut("aws_lb_listener") {
        listener.traffic_switch = true;
    }
    let mut bucket = ResourceSchema::new()
        .attr("id", A::computed(str_t()))
        .attr("arn", A::computed(str_t()))
        .attr("bucket", A::required(str_t()))
        .attr(
            "force_destroy",
            A::optional(bool_t())
                .runtime()
                .describe("delete every object with the bucket"),
        )
        .attr("bucket_domain_name", A::computed(str_t()))
        .attr("region", A::computed(str_t()))
        .attr("tags", tags())
        .exclusive(&["bucket"]);
    bucket.stateful = true;
    r.insert("aws_s3_bucket".into(), bucket);
    let mut volume = ids(ResourceSchema::new())
        .attr("availability_zone", A::required(str_t()))
        .attr("size", opt_computed(num_t()).updatable())
        .attr("type", opt_computed(str_t()).updatable())
        .attr("iops", A::optional(num_t()).updatable())
        .attr("encrypted", A::optional(bool_t()))
        .attr("snapshot_id", A::optional(str_t()))
        .attr("tags", tags());
    volume.stateful = true;
    r.insert("aws_ebs_volume".into(), volume);
    r
}

fn data_sources() -> BTreeMap<String, ResourceSchema> {
    let mut d = BTreeMap::new();
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
        "aws_availability_zones".into(),
        ResourceSchema::new()
            .attr("state", A::optional(str_t()))
            .attr("id", A::computed(str_t()))
            .attr("names", A::computed(strs_t()))
            .attr("zone_ids", A::computed(strs_t())),
    );
    d
}

/// Terraform's older names for the ELBv2 types, served as the types they
/// stand for (the AWS provider documents `aws_alb*` as aliases).
pub const ALIASES: &[(&str, &str)] = &[
    ("aws_alb", "aws_lb"),
    ("aws_alb_target_group", "aws_lb_target_group"),
    ("aws_alb_listener", "aws_lb_listener"),
];

/// The type a type name is served as: itself, or what its alias stands for.
pub fn canonical(type_name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == type_name)
        .map_or(type_name, |(_, real)| real)
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
    for (alias, real) in ALIASES {
        if let Some(s) = r.get(*real).cloned() {
            r.insert((*alias).to_string(), s);
        }
    }
    r
}

/// The problems of a configuration beyond its types (unknown values pass).
pub fn validate(type_name: &str, config: &Value) -> Vec<String> {
    let type_name = canonical(type_name);
    let mut out = Vec::new();
    let cidr = |name: &str, out: &mut Vec<String>| {
        if let Some(c) = values::string(config, name)
            && !values::is_ipv4_cidr(&c)
        {
            out.push(format!(
                "{name} {c:?} is not a valid IPv4 CIDR block; write it like \"10.0.0.0/16\""
            ));
        }
    };
    if let Some(rule) = provider_schema()
        .resources
        .get(type_name)
        .and_then(|r| r.physical_name.as_ref())
    {
        let name = values::string(config, "name");
        if name.is_some() && values::string(config, "name_prefix").is_some() {
            out.push("name and name_prefix conflict: set one of them".into());
        }
        if let Some(n) = name.filter(|n| n.len() > rule.max_len) {
            out.push(format!(
                "name {n:?} is {} characters long; AWS allows at most {} for {type_name}",
                n.len(),
                rule.max_len
            ));
        }
    }
    match type_name {
        "aws_vpc" | "aws_subnet" => cidr("cidr_block", &mut out),
        "aws_route_table" => {
            for r in values::objects(config, "route") {
                if let Some(c) = values::string(r, "cidr_block")
                    && !values::is_ipv4_cidr(&c)
                {
                    out.push(format!(
                        "route cidr_block {c:?} is not a valid IPv4 CIDR block"
                    ));
                }
            }
        }
        "aws_security_group" => {
            for dir in ["ingress", "egress"] {
                for rule in values::objects(config, dir) {
                    for c in values::strings(rule, "cidr_blocks") {
                        if !values::is_ipv4_cidr(&c) {
                            out.push(format!(
                                "{dir} cidr_blocks {c:?} is not a valid IPv4 CIDR block; write it like \"0.0.0.0/0\""
                            ));
                        }
                    }
                    for p in ["from_port", "to_port"] {
                        if let Some(n) = values::number(rule, p)
                            && !(-1..=65535).contains(&n)
                        {
                            out.push(format!("{dir} {p} {n} is not a port (0 to 65535, or -1)"));
                        }
                    }
                }
            }
        }
        "aws_autoscaling_group" => {
            let min = values::number(config, "min_size");
            let max = values::number(config, "max_size");
            let desired = values::number(config, "desired_capacity");
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                out.push(format!("min_size {min} is greater than max_size {max}"));
            }
            if let (Some(d), Some(min), Some(max)) = (desired, min, max)
                && !(min..=max).contains(&d)
            {
                out.push(format!(
                    "desired_capacity {d} is outside min_size {min} .. max_size {max}"
                ));
            }
            if let Some(t) = values::string(config, "wait_for_capacity_timeout")
                && values::parse_timeout(&t).is_none()
            {
                out.push(format!(
                    "wait_for_capacity_timeout {t:?} is not a duration like \"10m\" or \"0\""
                ));
            }
            if let Some(t) = values::string(config, "health_check_type")
                && t != "EC2"
                && t != "ELB"
            {
                out.push(format!(
                    "health_check_type {t:?} must be \"EC2\" or \"ELB\""
                ));
            }
        }
        "aws_lb_listener" => {
            for a in values::objects(config, "default_action") {
                match values::string(a, "type").as_deref() {
                    Some("forward") | None => {}
                    Some(other) => out.push(format!(
                        "default_action type {other:?} is not supported; kiln supports \"forward\""
                    )),
                }
            }
        }
        "aws_s3_bucket" => {
            if let Some(b) = values::string(config, "bucket") {
                let ok = (3..=63).contains(&b.len())
                    && b.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    })
                    && b.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && b.ends_with(|c: char| c.is_ascii_alphanumeric());
                if !ok {
                    out.push(format!(
                        "bucket {b:?} is not a valid bucket name: 3 to 63 lowercase letters, digits, '-' or '.'"
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

/// The state of an object found by its key: every attribute of the type,
/// those AWS reports filled in.
pub fn adopted(type_name: &str, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let schema = provider_schema();
    let mut m: BTreeMap<String, Value> = schema
        .resources
        .get(type_name)
        .map(|r| {
            r.attributes
                .keys()
                .map(|k| (k.clone(), Value::Null))
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    Value::Map(m)
}
