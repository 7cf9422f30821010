//! Data sources: `aws_ami` (owners, filters, most_recent), `aws_vpc` (the
//! default one, or by id or filters), `aws_subnets` (ids by filters) and
//! `aws_availability_zones`, `aws_key_pair`, `aws_subnet` (by id, filters,
//! tags or attributes), `aws_instances` (ids and addresses by tags, states
//! and filters), `aws_caller_identity` (STS GetCallerIdentity),
//! `aws_region` (the provider's), `aws_route53_zone`, and `aws_iam_policy_document` (computed
//! locally, `policy_document`).

use aws_sdk_ec2::types::Filter;
use kiln_model::Value;

use crate::api::{Clients, Error, api};
use crate::values::{boolean, list, objects, opt_s, s, string, strings};

fn filters(config: &Value) -> Vec<Filter> {
    objects(config, "filter")
        .into_iter()
        .map(|f| {
            Filter::builder()
                .set_name(string(f, "name"))
                .set_values(Some(strings(f, "values")))
                .build()
        })
        .collect()
}

pub async fn read(c: &Clients, type_name: &str, config: &Value) -> Result<Value, Error> {
    match type_name {
        "aws_ami" => ami(c, config).await,
        "aws_vpc" => vpc(c, config).await,
        "aws_subnets" => subnets(c, config).await,
        "aws_availability_zones" => zones(c, config).await,
        "aws_iam_policy_document" => crate::policy_document::read(config),
        "aws_key_pair" => key_pair(c, config).await,
        "aws_subnet" => subnet(c, config).await,
        "aws_instances" => instances(c, config).await,
        "aws_caller_identity" => caller_identity(c, config).await,
        "aws_region" => region(c, config),
        "aws_route53_zone" => crate::route53::zone::read_data(c, config).await,
        other => Err(Error::new(format!(
            "data source {other:?} is not supported by the aws provider"
        ))),
    }
}

fn with(config: &Value, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    crate::values::state(config, fields)
}

async fn ami(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut fs = filters(config);
    if let Some(p) = string(config, "name_prefix") {
        fs.push(
            Filter::builder()
                .name("name")
                .values(format!("{p}*"))
                .build(),
        );
    }
    let owners = strings(config, "owners");
    let out = c
        .ec2
        .describe_images()
        .set_owners((!owners.is_empty()).then_some(owners))
        .set_filters((!fs.is_empty()).then_some(fs))
        .send()
        .await
        .map_err(api("DescribeImages"))?;
    let mut images = out.images().to_vec();
    images.sort_by(|a, b| a.creation_date().cmp(&b.creation_date()));
    if images.len() > 1 && boolean(config, "most_recent") != Some(true) {
        return Err(Error::new(format!(
            "{} images match; narrow the filters or set most_recent = true",
            images.len()
        )));
    }
    let Some(img) = images.last() else {
        return Err(Error::new("no image matches the owners and filters")
            .with_detail("check the filters and the region"));
    };
    let id = img.image_id().unwrap_or_default();
    Ok(with(
        config,
        [
            ("id", s(id)),
            ("image_id", s(id)),
            ("name", opt_s(img.name())),
            (
                "architecture",
                opt_s(img.architecture().map(|a| a.as_str())),
            ),
            ("owner_id", opt_s(img.owner_id())),
            ("creation_date", opt_s(img.creation_date())),
        ],
    ))
}

async fn vpc(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut fs = filters(config);
    if boolean(config, "default") == Some(true) {
        fs.push(Filter::builder().name("is-default").values("true").build());
    }
    if let Some(id) = string(config, "id") {
        fs.push(Filter::builder().name("vpc-id").values(id).build());
    }
    let out = c
        .ec2
        .describe_vpcs()
        .set_filters((!fs.is_empty()).then_some(fs))
        .send()
        .await
        .map_err(api("DescribeVpcs"))?;
    let vpcs = out.vpcs();
    let [v] = vpcs else {
        return Err(Error::new(format!(
            "{} VPCs match; exactly one must (set default = true, id or filters)",
            vpcs.len()
        )));
    };
    let id = v.vpc_id().unwrap_or_default();
    Ok(with(
        config,
        [
            ("id", s(id)),
            ("cidr_block", opt_s(v.cidr_block())),
            (
                "arn",
                s(format!(
                    "arn:aws:ec2:{}:{}:vpc/{id}",
                    c.region,
                    v.owner_id().unwrap_or("000000000000")
                )),
            ),
        ],
    ))
}

async fn subnets(c: &Clients, config: &Value) -> Result<Value, Error> {
    let fs = filters(config);
    let out = c
        .ec2
        .describe_subnets()
        .set_filters((!fs.is_empty()).then_some(fs))
        .send()
        .await
        .map_err(api("DescribeSubnets"))?;
    let mut ids: Vec<String> = out
        .subnets()
        .iter()
        .filter_map(|sn| sn.subnet_id().map(str::to_string))
        .collect();
    ids.sort();
    Ok(with(config, [("id", s(&c.region)), ("ids", list(ids))]))
}

async fn zones(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut req = c.ec2.describe_availability_zones();
    if let Some(state) = string(config, "state") {
        req = req.filters(Filter::builder().name("state").values(state).build());
    }
    let out = req.send().await.map_err(api("DescribeAvailabilityZones"))?;
    let mut names = Vec::new();
    let mut ids = Vec::new();
    for z in out.availability_zones() {
        names.extend(z.zone_name().map(str::to_string));
        ids.extend(z.zone_id().map(str::to_string));
    }
    Ok(with(
        config,
        [
            ("id", s(&c.region)),
            ("names", list(names)),
            ("zone_ids", list(ids)),
        ],
    ))
}

async fn key_pair(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut fs = filters(config);
    if let Some(name) = string(config, "key_name") {
        fs.push(Filter::builder().name("key-name").values(name).build());
    }
    if let Some(id) = string(config, "key_pair_id") {
        fs.push(Filter::builder().name("key-pair-id").values(id).build());
    }
    let out = c
        .ec2
        .describe_key_pairs()
        .set_filters((!fs.is_empty()).then_some(fs))
        .set_include_public_key(boolean(config, "include_public_key"))
        .send()
        .await
        .map_err(api("DescribeKeyPairs"));
    let out = match out {
        Err(e) if e.is_not_found() => {
            return Err(Error::new("no key pair matches")
                .with_detail("check key_name, key_pair_id and the region"));
        }
        other => other?,
    };
    let keys = out.key_pairs();
    let [k] = keys else {
        return Err(Error::new(format!(
            "{} key pairs match; exactly one must (set key_name, key_pair_id or filters)",
            keys.len()
        )));
    };
    let id = k.key_pair_id().unwrap_or_default();
    Ok(with(
        config,
        [
            ("id", s(id)),
            ("key_pair_id", s(id)),
            ("key_name", opt_s(k.key_name())),
            ("fingerprint", opt_s(k.key_fingerprint())),
            ("key_type", opt_s(k.key_type().map(|t| t.as_str()))),
            ("public_key", opt_s(k.public_key())),
            (
                "arn",
                s(format!(
                    "arn:aws:ec2:{}:000000000000:key-pair/{id}",
                    c.region
                )),
            ),
        ],
    ))
}

/// Tag filters (`tag:KEY = VALUE`) for a `tags` map argument.
fn tag_filters(config: &Value, attr: &str) -> Vec<Filter> {
    config
        .get(attr)
        .map(crate::values::string_map)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect()
}

async fn subnet(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut fs = filters(config);
    fs.extend(tag_filters(config, "tags"));
    for (attr, filter) in [
        ("vpc_id", "vpc-id"),
        ("cidr_block", "cidr-block"),
        ("availability_zone", "availability-zone"),
    ] {
        if let Some(v) = string(config, attr) {
            fs.push(Filter::builder().name(filter).values(v).build());
        }
    }
    if let Some(b) = boolean(config, "default_for_az") {
        fs.push(
            Filter::builder()
                .name("default-for-az")
                .values(b.to_string())
                .build(),
        );
    }
    let out = c
        .ec2
        .describe_subnets()
        .set_subnet_ids(string(config, "id").map(|id| vec![id]))
        .set_filters((!fs.is_empty()).then_some(fs))
        .send()
        .await
        .map_err(api("DescribeSubnets"));
    let out = match out {
        Err(e) if e.is_not_found() => {
            return Err(Error::new("no subnet matches")
                .with_detail("check the id, the filters and the region"));
        }
        other => other?,
    };
    let subnets = out.subnets();
    let [sn] = subnets else {
        return Err(Error::new(format!(
            "{} subnets match; exactly one must (set id, filters, tags or more attributes)",
            subnets.len()
        )));
    };
    let tags: std::collections::BTreeMap<String, Value> = sn
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), s(t.value().unwrap_or_default()))))
        .collect();
    Ok(with(
        config,
        [
            ("id", opt_s(sn.subnet_id())),
            ("vpc_id", opt_s(sn.vpc_id())),
            ("cidr_block", opt_s(sn.cidr_block())),
            ("availability_zone", opt_s(sn.availability_zone())),
            ("availability_zone_id", opt_s(sn.availability_zone_id())),
            ("arn", opt_s(sn.subnet_arn())),
            ("owner_id", opt_s(sn.owner_id())),
            (
                "map_public_ip_on_launch",
                Value::Bool(sn.map_public_ip_on_launch().unwrap_or(false)),
            ),
            ("tags", Value::Map(tags.into())),
        ],
    ))
}

async fn instances(c: &Clients, config: &Value) -> Result<Value, Error> {
    let mut fs = filters(config);
    fs.extend(tag_filters(config, "instance_tags"));
    let states = strings(config, "instance_state_names");
    let states = if states.is_empty() {
        vec!["running".to_string()]
    } else {
        states
    };
    fs.push(
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(states))
            .build(),
    );
    let mut ids = Vec::new();
    let mut private = Vec::new();
    let mut public = Vec::new();
    let mut pages = c
        .ec2
        .describe_instances()
        .set_filters(Some(fs))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("DescribeInstances"))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            ids.extend(i.instance_id().map(str::to_string));
            private.extend(i.private_ip_address().map(str::to_string));
            public.extend(i.public_ip_address().map(str::to_string));
        }
    }
    Ok(with(
        config,
        [
            ("id", s(&c.region)),
            ("ids", list(ids)),
            ("private_ips", list(private)),
            ("public_ips", list(public)),
        ],
    ))
}

async fn caller_identity(c: &Clients, config: &Value) -> Result<Value, Error> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(api("GetCallerIdentity"))?;
    Ok(with(
        config,
        [
            ("id", opt_s(out.account())),
            ("account_id", opt_s(out.account())),
            ("arn", opt_s(out.arn())),
            ("user_id", opt_s(out.user_id())),
        ],
    ))
}

/// The provider's region (another region's name is refused: kiln has one
/// region per provider configuration).
fn region(c: &Clients, config: &Value) -> Result<Value, Error> {
    if let Some(name) = string(config, "name")
        && name != c.region
    {
        return Err(Error::new(format!(
            "region {name:?} is not the provider's region {:?}",
            c.region
        ))
        .with_detail("leave name out to read the provider's region"));
    }
    let suffix = if c.region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(with(
        config,
        [
            ("id", s(&c.region)),
            ("name", s(&c.region)),
            ("description", Value::Null),
            ("endpoint", s(format!("ec2.{}.{suffix}", c.region))),
        ],
    ))
}
