//! EC2 resources: VPCs, subnets, internet gateways, route tables and their
//! associations, security groups, launch templates, instances and volumes.
//!
//! Reads are batched with Describe filters on the ids (`vpc-id`, ...): one
//! call per 100 ids, and a filter, unlike an id list, does not fail the whole
//! call when one of the ids is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceStateName, InstanceType, IpPermission, IpRange,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
    TagSpecification, Tenancy, UserIdGroupPair, VolumeType,
};
use kiln_model::Value;
use kiln_provider::UpdateRequest;

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, chunks, create_once,
    retry_while_in_use, wait_for,
};
use crate::schema::adopted;
use crate::values::{
    boolean, n, number, objects, opt_s, refreshed, s, state, string, strings, tags,
};

/// AWS's limit of values per Describe filter that kiln uses.
const BATCH: usize = 100;

pub fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(rt: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

fn key_filter(key: &str) -> Filter {
    filter(&format!("tag:{TAG_KEY}"), [key.to_string()])
}

/// The first object a Describe finds tagged with this create's key: what an
/// earlier try of the create made (none without a key).
async fn made_by<T, Fut>(
    ctx: &Ctx<'_>,
    describe: impl FnOnce(Filter) -> Fut,
) -> Result<Option<T>, Error>
where
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    if ctx.key.is_empty() {
        return Ok(None);
    }
    Ok(describe(key_filter(ctx.key)).await?.into_iter().next())
}

/// The user's tags of an object read back (kiln's own left out).
fn user_tags(tags: &[Tag]) -> Value {
    let m: BTreeMap<String, Value> = tags
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), s(t.value().unwrap_or_default()))))
        .filter(|(k, _)| !k.starts_with("kiln:"))
        .collect();
    if m.is_empty() {
        Value::Null
    } else {
        Value::Map(m)
    }
}

/// Answers a batch from `found` (id → fresh computed values).
fn answer(
    items: &[(&str, &Value)],
    mut found: BTreeMap<String, Vec<(&'static str, Value)>>,
) -> Vec<Option<Value>> {
    items
        .iter()
        .map(|(id, prior)| found.remove(*id).map(|fresh| refreshed(prior, fresh)))
        .collect()
}

fn ids_of(items: &[(&str, &Value)]) -> Vec<String> {
    items.iter().map(|(id, _)| id.to_string()).collect()
}

fn arn(c: &Clients, owner: Option<&str>, kind: &str, id: &str) -> Value {
    s(format!(
        "arn:aws:ec2:{}:{}:{kind}/{id}",
        c.region,
        owner.unwrap_or("000000000000")
    ))
}

// ---------------------------------------------------------------------------
// VPC

pub async fn create_vpc(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let vpc = create_once(
        || async {
            let mut req = ctx
                .c
                .ec2_once
                .create_vpc()
                .set_cidr_block(string(config, "cidr_block"))
                .tag_specifications(tag_spec(ResourceType::Vpc, &tags));
            if let Some(t) = string(config, "instance_tenancy") {
                req = req.instance_tenancy(Tenancy::from(t.as_str()));
            }
            let out = req.send().await.map_err(api("CreateVpc"))?;
            out.vpc()
                .cloned()
                .ok_or_else(|| Error::new("CreateVpc returned no VPC"))
        },
        || made_by(ctx, |f| describe_vpcs(ctx.c, f)),
    )
    .await?;
    let id = vpc.vpc_id().unwrap_or_default().to_string();
    let owner = vpc.owner_id().map(str::to_string);
    let partial = state(config, [("id", s(&id))]);
    let fail = |e: Error| e.after_creating(&id, partial.clone());
    for (attr, support) in [
        ("enable_dns_support", true),
        ("enable_dns_hostnames", false),
    ] {
        if let Some(b) = boolean(config, attr) {
            let v = AttributeBooleanValue::builder().value(b).build();
            let r = ec2.modify_vpc_attribute().vpc_id(&id);
            let r = if support {
                r.enable_dns_support(v)
            } else {
                r.enable_dns_hostnames(v)
            };
            r.send()
                .await
                .map_err(api("ModifyVpcAttribute"))
                .map_err(fail)?;
        }
    }
    let (sg, rt) = vpc_defaults(ctx.c, &id).await.map_err(fail)?;
    let computed = [
        ("id", s(&id)),
        ("arn", arn(ctx.c, owner.as_deref(), "vpc", &id)),
        ("owner_id", opt_s(owner.as_deref())),
        ("default_security_group_id", sg),
        ("main_route_table_id", rt),
    ];
    Ok((id, state(config, computed)))
}

/// A VPC's default security group and main route table.
async fn vpc_defaults(c: &Clients, id: &str) -> Result<(Value, Value), Error> {
    let sg = c
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", [id.to_string()]))
        .filters(filter("group-name", ["default".to_string()]))
        .send()
        .await
        .map_err(api("DescribeSecurityGroups"))?;
    let rt = c
        .ec2
        .describe_route_tables()
        .filters(filter("vpc-id", [id.to_string()]))
        .filters(filter("association.main", ["true".to_string()]))
        .send()
        .await
        .map_err(api("DescribeRouteTables"))?;
    Ok((
        opt_s(sg.security_groups().first().and_then(|g| g.group_id())),
        opt_s(rt.route_tables().first().and_then(|t| t.route_table_id())),
    ))
}

async fn describe_vpcs(c: &Clients, f: Filter) -> Result<Vec<aws_sdk_ec2::types::Vpc>, Error> {
    let out = c
        .ec2
        .describe_vpcs()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeVpcs"))?;
    Ok(out.vpcs().to_vec())
}

pub async fn read_vpcs(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for v in describe_vpcs(c, filter("vpc-id", chunk.to_vec())).await? {
            let id = v.vpc_id().unwrap_or_default().to_string();
            found.insert(id.clone(), vec![("id", s(&id))]);
        }
    }
    Ok(answer(items, found))
}

pub async fn find_vpc(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(v) = describe_vpcs(c, key_filter(key)).await?.into_iter().next() else {
        return Ok(None);
    };
    let id = v.vpc_id().unwrap_or_default().to_string();
    let (sg, rt) = vpc_defaults(c, &id).await?;
    let st = adopted(
        "aws_vpc",
        [
            ("default_security_group_id", sg),
            ("main_route_table_id", rt),
            ("id", s(&id)),
            ("arn", arn(c, v.owner_id(), "vpc", &id)),
            ("cidr_block", opt_s(v.cidr_block())),
            ("owner_id", opt_s(v.owner_id())),
            ("tags", user_tags(v.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_vpc(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("VPC {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteVpc"))
    })
    .await
}

// ---------------------------------------------------------------------------
// Subnet

pub async fn create_subnet(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let sn = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_subnet()
                .set_vpc_id(string(config, "vpc_id"))
                .set_cidr_block(string(config, "cidr_block"))
                .set_availability_zone(string(config, "availability_zone"))
                .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                .send()
                .await
                .map_err(api("CreateSubnet"))?;
            out.subnet()
                .cloned()
                .ok_or_else(|| Error::new("CreateSubnet returned no subnet"))
        },
        || made_by(ctx, |f| describe_subnets(ctx.c, f)),
    )
    .await?;
    let id = sn.subnet_id().unwrap_or_default().to_string();
    let computed = [
        ("id", s(&id)),
        (
            "arn",
            sn.subnet_arn()
                .map_or_else(|| arn(ctx.c, sn.owner_id(), "subnet", &id), s),
        ),
        ("availability_zone", opt_s(sn.availability_zone())),
        ("owner_id", opt_s(sn.owner_id())),
    ];
    let st = state(config, computed);
    if let Some(b) = boolean(config, "map_public_ip_on_launch") {
        ec2.modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(b).build())
            .send()
            .await
            .map_err(api("ModifySubnetAttribute"))
            .map_err(|e| e.after_creating(&id, st.clone()))?;
    }
    Ok((id, st))
}

async fn describe_subnets(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::Subnet>, Error> {
    let out = c
        .ec2
        .describe_subnets()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeSubnets"))?;
    Ok(out.subnets().to_vec())
}

pub async fn read_subnets(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for sn in describe_subnets(c, filter("subnet-id", chunk.to_vec())).await? {
            let id = sn.subnet_id().unwrap_or_default().to_string();
            found.insert(
                id.clone(),
                vec![
                    ("id", s(&id)),
                    ("availability_zone", opt_s(sn.availability_zone())),
                ],
            );
        }
    }
    Ok(answer(items, found))
}

pub async fn find_subnet(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(sn) = describe_subnets(c, key_filter(key))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = sn.subnet_id().unwrap_or_default().to_string();
    let st = adopted(
        "aws_subnet",
        [
            ("id", s(&id)),
            ("arn", opt_s(sn.subnet_arn())),
            ("vpc_id", opt_s(sn.vpc_id())),
            ("cidr_block", opt_s(sn.cidr_block())),
            ("availability_zone", opt_s(sn.availability_zone())),
            ("owner_id", opt_s(sn.owner_id())),
            ("tags", user_tags(sn.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_subnet(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("subnet {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteSubnet"))
    })
    .await
}

// ---------------------------------------------------------------------------
// Internet gateway

pub async fn create_igw(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let igw = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &tags))
                .send()
                .await
                .map_err(api("CreateInternetGateway"))?;
            out.internet_gateway()
                .cloned()
                .ok_or_else(|| Error::new("CreateInternetGateway returned no gateway"))
        },
        || made_by(ctx, |f| describe_igws(ctx.c, f)),
    )
    .await?;
    let id = igw.internet_gateway_id().unwrap_or_default().to_string();
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, igw.owner_id(), "internet-gateway", &id)),
            ("owner_id", opt_s(igw.owner_id())),
        ],
    );
    let attached_to = |vpc: &str| igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc));
    if let Some(vpc) = string(config, "vpc_id")
        && !attached_to(&vpc)
    {
        let attached = ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(&vpc)
            .send()
            .await
            .map_err(api("AttachInternetGateway"));
        match attached {
            Ok(_) => {}
            // A retried attach whose first try ran (its answer lost).
            Err(e) if e.code() == "Resource.AlreadyAssociated" => {
                let now = describe_igws(ctx.c, filter("internet-gateway-id", [id.clone()]))
                    .await
                    .map_err(|e| e.after_creating(&id, st.clone()))?;
                let ours = now
                    .iter()
                    .flat_map(|g| g.attachments())
                    .any(|a| a.vpc_id() == Some(vpc.as_str()));
                if !ours {
                    return Err(e.after_creating(&id, st));
                }
            }
            Err(e) => return Err(e.after_creating(&id, st)),
        }
    }
    Ok((id, st))
}

async fn describe_igws(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::InternetGateway>, Error> {
    let out = c
        .ec2
        .describe_internet_gateways()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeInternetGateways"))?;
    Ok(out.internet_gateways().to_vec())
}

pub async fn read_igws(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for g in describe_igws(c, filter("internet-gateway-id", chunk.to_vec())).await? {
            let id = g.internet_gateway_id().unwrap_or_default().to_string();
            found.insert(id.clone(), vec![("id", s(&id))]);
        }
    }
    Ok(answer(items, found))
}

pub async fn find_igw(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(g) = describe_igws(c, key_filter(key)).await?.into_iter().next() else {
        return Ok(None);
    };
    let id = g.internet_gateway_id().unwrap_or_default().to_string();
    let vpc = g.attachments().first().and_then(|a| a.vpc_id());
    let st = adopted(
        "aws_internet_gateway",
        [
            ("id", s(&id)),
            ("arn", arn(c, g.owner_id(), "internet-gateway", &id)),
            ("vpc_id", opt_s(vpc)),
            ("owner_id", opt_s(g.owner_id())),
            ("tags", user_tags(g.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_igw(ctx: &Ctx<'_>, id: &str, st: &Value) -> Result<(), Error> {
    let ec2 = &ctx.c.ec2;
    if let Some(vpc) = string(st, "vpc_id") {
        let detached = ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(api("DetachInternetGateway"));
        if let Err(e) = detached
            && !e.is_not_found()
            && e.code() != "Gateway.NotAttached"
        {
            return Err(e);
        }
    }
    retry_while_in_use(
        &format!("internet gateway {id}"),
        SETTLE_TIMEOUT,
        || async {
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DeleteInternetGateway"))
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// Route table and association

pub async fn create_route_table(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let rt = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_route_table()
                .set_vpc_id(string(config, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::RouteTable, &tags))
                .send()
                .await
                .map_err(api("CreateRouteTable"))?;
            out.route_table()
                .cloned()
                .ok_or_else(|| Error::new("CreateRouteTable returned no route table"))
        },
        || made_by(ctx, |f| describe_route_tables(ctx.c, f)),
    )
    .await?;
    let id = rt.route_table_id().unwrap_or_default().to_string();
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, rt.owner_id(), "route-table", &id)),
            ("owner_id", opt_s(rt.owner_id())),
        ],
    );
    for route in objects(config, "route") {
        let made = ec2
            .create_route()
            .route_table_id(&id)
            .set_destination_cidr_block(string(route, "cidr_block"))
            .set_gateway_id(string(route, "gateway_id"))
            .send()
            .await
            .map_err(api("CreateRoute"));
        match made {
            Ok(_) => {}
            // The table is new: the route is this create's own (an earlier
            // try whose answer was lost, or an adopted table's).
            Err(e) if e.code() == "RouteAlreadyExists" => {}
            Err(e) => return Err(e.after_creating(&id, st)),
        }
    }
    Ok((id, st))
}

async fn describe_route_tables(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, Error> {
    let out = c
        .ec2
        .describe_route_tables()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeRouteTables"))?;
    Ok(out.route_tables().to_vec())
}

pub async fn read_route_tables(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for rt in describe_route_tables(c, filter("route-table-id", chunk.to_vec())).await? {
            let id = rt.route_table_id().unwrap_or_default().to_string();
            found.insert(id.clone(), vec![("id", s(&id))]);
        }
    }
    Ok(answer(items, found))
}

pub async fn find_route_table(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(rt) = describe_route_tables(c, key_filter(key))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = rt.route_table_id().unwrap_or_default().to_string();
    let st = adopted(
        "aws_route_table",
        [
            ("id", s(&id)),
            ("arn", arn(c, rt.owner_id(), "route-table", &id)),
            ("vpc_id", opt_s(rt.vpc_id())),
            ("owner_id", opt_s(rt.owner_id())),
            ("tags", user_tags(rt.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_route_table(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("route table {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteRouteTable"))
    })
    .await
}

pub async fn create_association(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let table = string(config, "route_table_id");
    let subnet = string(config, "subnet_id");
    let id = create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .associate_route_table()
                .set_route_table_id(table.clone())
                .set_subnet_id(subnet.clone())
                .send()
                .await
                .map_err(api("AssociateRouteTable"))?;
            Ok(out.association_id().unwrap_or_default().to_string())
        },
        // Associations carry no tags: an earlier try's is the one between
        // this very subnet and table (a subnet has at most one).
        || async {
            let (Some(table), Some(subnet)) = (&table, &subnet) else {
                return Ok(None);
            };
            let f = filter("association.subnet-id", [subnet.clone()]);
            Ok(describe_route_tables(ctx.c, f)
                .await?
                .iter()
                .flat_map(|rt| rt.associations())
                .find(|a| {
                    a.subnet_id() == Some(subnet.as_str())
                        && a.route_table_id() == Some(table.as_str())
                })
                .and_then(|a| a.route_table_association_id().map(str::to_string)))
        },
    )
    .await?;
    Ok((id.clone(), state(config, [("id", s(id))])))
}

pub async fn read_associations(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        let f = filter("association.route-table-association-id", chunk.to_vec());
        for rt in describe_route_tables(c, f).await? {
            for a in rt.associations() {
                if let Some(id) = a.route_table_association_id() {
                    found.insert(id.to_string(), vec![("id", s(id))]);
                }
            }
        }
    }
    Ok(answer(items, found))
}

pub async fn delete_association(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .disassociate_route_table()
        .association_id(id)
        .send()
        .await
        .map_err(api("DisassociateRouteTable"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Security group

fn permission(rule: &Value) -> IpPermission {
    let protocol = match string(rule, "protocol").as_deref() {
        None | Some("all") | Some("-1") => "-1".to_string(),
        Some(p) => p.to_string(),
    };
    let description = string(rule, "description");
    let ranges: Vec<IpRange> = strings(rule, "cidr_blocks")
        .into_iter()
        .map(|c| {
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.clone())
                .build()
        })
        .collect();
    let groups: Vec<UserIdGroupPair> = strings(rule, "security_groups")
        .into_iter()
        .map(|g| UserIdGroupPair::builder().group_id(g).build())
        .collect();
    let mut p = IpPermission::builder().ip_protocol(&protocol);
    if protocol != "-1" {
        p = p
            .set_from_port(number(rule, "from_port").map(|x| x as i32))
            .set_to_port(number(rule, "to_port").map(|x| x as i32));
    }
    p.set_ip_ranges((!ranges.is_empty()).then_some(ranges))
        .set_user_id_group_pairs((!groups.is_empty()).then_some(groups))
        .build()
}

pub async fn create_security_group(
    ctx: &Ctx<'_>,
    config: &Value,
) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let name = ctx.name(config, 255);
    let tags = ctx.tags(&tags(config));
    let id = create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_security_group()
                .group_name(&name)
                .description(
                    string(config, "description").unwrap_or_else(|| "Managed by kiln".into()),
                )
                .set_vpc_id(string(config, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &tags))
                .send()
                .await
                .map_err(api("CreateSecurityGroup"))?;
            Ok(out.group_id().unwrap_or_default().to_string())
        },
        || async {
            let found = made_by(ctx, |f| describe_sgs(ctx.c, f)).await?;
            Ok(found.and_then(|g| g.group_id().map(str::to_string)))
        },
    )
    .await?;
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, None, "security-group", &id)),
            ("name", s(&name)),
            ("owner_id", Value::Null),
        ],
    );
    let fail = |e: Error| e.after_creating(&id, st.clone());
    let ingress: Vec<IpPermission> = objects(config, "ingress")
        .into_iter()
        .map(permission)
        .collect();
    if !ingress.is_empty() {
        let authorized = ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(api("AuthorizeSecurityGroupIngress"));
        // The group is new: a rule already there is an earlier try's.
        if let Err(e) = authorized
            && e.code() != "InvalidPermission.Duplicate"
        {
            return Err(fail(e));
        }
    }
    if config.get("egress").is_some_and(|v| !v.is_null()) {
        // Configured egress replaces AWS's default "all traffic out" rule.
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let revoked = ec2
            .revoke_security_group_egress()
            .group_id(&id)
            .ip_permissions(all)
            .send()
            .await
            .map_err(api("RevokeSecurityGroupEgress"));
        if let Err(e) = revoked
            && e.code() != "InvalidPermission.NotFound"
        {
            return Err(fail(e));
        }
        let egress: Vec<IpPermission> = objects(config, "egress")
            .into_iter()
            .map(permission)
            .collect();
        if !egress.is_empty() {
            let authorized = ec2
                .authorize_security_group_egress()
                .group_id(&id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .map_err(api("AuthorizeSecurityGroupEgress"));
            if let Err(e) = authorized
                && e.code() != "InvalidPermission.Duplicate"
            {
                return Err(fail(e));
            }
        }
    }
    let owner = describe_sgs(ctx.c, filter("group-id", [id.clone()]))
        .await
        .map_err(fail)?
        .first()
        .and_then(|g| g.owner_id().map(str::to_string));
    let st = state(
        &st,
        [
            ("owner_id", opt_s(owner.as_deref())),
            ("arn", arn(ctx.c, owner.as_deref(), "security-group", &id)),
        ],
    );
    Ok((id, st))
}

async fn describe_sgs(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, Error> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeSecurityGroups"))?;
    Ok(out.security_groups().to_vec())
}

pub async fn read_security_groups(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for g in describe_sgs(c, filter("group-id", chunk.to_vec())).await? {
            let id = g.group_id().unwrap_or_default().to_string();
            found.insert(id.clone(), vec![("id", s(&id))]);
        }
    }
    Ok(answer(items, found))
}

/// Rules as comparable tuples: (protocol, from, to, source).
fn rule_set(perms: &[IpPermission]) -> std::collections::BTreeSet<(String, i32, i32, String)> {
    let mut out = std::collections::BTreeSet::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1").to_string();
        let (from, to) = if proto == "-1" {
            (-1, -1)
        } else {
            (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
        };
        for r in p.ip_ranges() {
            out.insert((
                proto.clone(),
                from,
                to,
                r.cidr_ip().unwrap_or_default().to_string(),
            ));
        }
        for g in p.user_id_group_pairs() {
            out.insert((
                proto.clone(),
                from,
                to,
                g.group_id().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

fn show_rules(rules: &std::collections::BTreeSet<(String, i32, i32, String)>) -> String {
    let items: Vec<String> = rules
        .iter()
        .map(|(p, f, t, src)| match p.as_str() {
            "-1" => format!("all from {src}"),
            _ if f == t => format!("{p}/{f} from {src}"),
            _ => format!("{p}/{f}-{t} from {src}"),
        })
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Security groups whose rules were changed outside kiln (someone opened
/// port 22 by hand, say): immutable infrastructure replaces them.
pub async fn security_group_drift(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<String>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for g in describe_sgs(c, filter("group-id", chunk.to_vec())).await? {
            found.insert(g.group_id().unwrap_or_default().to_string(), g);
        }
    }
    Ok(items
        .iter()
        .map(|(id, prior)| {
            let g = found.get(*id)?;
            let mut changes = Vec::new();
            let want: Vec<IpPermission> = objects(prior, "ingress")
                .into_iter()
                .map(permission)
                .collect();
            let (want, got) = (rule_set(&want), rule_set(g.ip_permissions()));
            if want != got {
                changes.push(format!(
                    "ingress is {} instead of {}",
                    show_rules(&got),
                    show_rules(&want)
                ));
            }
            if prior.get("egress").is_some_and(|v| !v.is_null()) {
                let want: Vec<IpPermission> = objects(prior, "egress")
                    .into_iter()
                    .map(permission)
                    .collect();
                let (want, got) = (rule_set(&want), rule_set(g.ip_permissions_egress()));
                if want != got {
                    changes.push(format!(
                        "egress is {} instead of {}",
                        show_rules(&got),
                        show_rules(&want)
                    ));
                }
            }
            (!changes.is_empty()).then(|| {
                format!(
                    "its rules were changed outside kiln: {}",
                    changes.join("; ")
                )
            })
        })
        .collect())
}

pub async fn find_security_group(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(g) = describe_sgs(c, key_filter(key)).await?.into_iter().next() else {
        return Ok(None);
    };
    let id = g.group_id().unwrap_or_default().to_string();
    let st = adopted(
        "aws_security_group",
        [
            ("id", s(&id)),
            ("arn", arn(c, g.owner_id(), "security-group", &id)),
            ("name", opt_s(g.group_name())),
            ("description", opt_s(g.description())),
            ("vpc_id", opt_s(g.vpc_id())),
            ("owner_id", opt_s(g.owner_id())),
            ("tags", user_tags(g.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_security_group(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("security group {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteSecurityGroup"))
    })
    .await
}

// ---------------------------------------------------------------------------
// Launch template

/// Fails unless the image exists (AWS would only say so when an instance
/// is launched from it, long after the template was made).
async fn check_image(c: &Clients, attr: &str, image: &str) -> Result<(), Error> {
    let found = c
        .ec2
        .describe_images()
        .image_ids(image)
        .send()
        .await
        .map_err(api("DescribeImages"));
    let missing = Error::new(format!(
        "{attr} {image:?} does not exist in region {}",
        c.region
    ))
    .with_detail("check the AMI id and the region; an aws_ami data source can look one up");
    match found {
        Ok(out) if !out.images().is_empty() => Ok(()),
        Ok(_) => Err(missing),
        Err(e) if e.is_not_found() || e.code().starts_with("InvalidAMIID") => Err(missing),
        Err(e) => Err(e),
    }
}

pub async fn create_launch_template(
    ctx: &Ctx<'_>,
    config: &Value,
) -> Result<(String, Value), Error> {
    if let Some(image) = string(config, "image_id") {
        check_image(ctx.c, "image_id", &image).await?;
    }
    let name = ctx.name(config, 128);
    let all_tags = ctx.tags(&tags(config));
    let mut data = RequestLaunchTemplateData::builder()
        .set_image_id(string(config, "image_id"))
        .set_key_name(string(config, "key_name"))
        .set_user_data(string(config, "user_data"))
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(ec2_tags(&all_tags)))
                .build(),
        );
    if let Some(t) = string(config, "instance_type") {
        data = data.instance_type(InstanceType::from(t.as_str()));
    }
    let sgs = strings(config, "vpc_security_group_ids");
    if !sgs.is_empty() {
        data = data.set_security_group_ids(Some(sgs));
    }
    let out = ctx
        .c
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .set_version_description(string(config, "description"))
        .set_client_token(ctx.client_token())
        .launch_template_data(data.build())
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, &all_tags))
        .send()
        .await
        .map_err(api("CreateLaunchTemplate"))?;
    let lt = out
        .launch_template()
        .ok_or_else(|| Error::new("CreateLaunchTemplate returned no template"))?;
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    Ok((id.clone(), state(config, lt_computed(ctx.c, lt))))
}

fn lt_computed(c: &Clients, lt: &aws_sdk_ec2::types::LaunchTemplate) -> Vec<(&'static str, Value)> {
    let id = lt.launch_template_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "launch-template", id)),
        ("name", opt_s(lt.launch_template_name())),
        ("latest_version", n(lt.latest_version_number().unwrap_or(1))),
        (
            "default_version",
            n(lt.default_version_number().unwrap_or(1)),
        ),
    ]
}

async fn describe_lts(
    c: &Clients,
    ids: Vec<String>,
    f: Option<Filter>,
) -> Result<Vec<aws_sdk_ec2::types::LaunchTemplate>, Error> {
    let out = c
        .ec2
        .describe_launch_templates()
        .set_launch_template_ids((!ids.is_empty()).then_some(ids))
        .set_filters(f.map(|f| vec![f]))
        .send()
        .await
        .map_err(api("DescribeLaunchTemplates"))?;
    Ok(out.launch_templates().to_vec())
}

pub async fn read_launch_templates(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        // An id list fails whole when one id is gone: then ask one by one.
        let lts = match describe_lts(c, chunk.to_vec(), None).await {
            Ok(l) => l,
            Err(e) if e.is_not_found() => {
                let mut all = Vec::new();
                for id in chunk {
                    match describe_lts(c, vec![id.clone()], None).await {
                        Ok(l) => all.extend(l),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
                all
            }
            Err(e) => return Err(e),
        };
        for lt in lts {
            let id = lt.launch_template_id().unwrap_or_default().to_string();
            found.insert(id, lt_computed(c, &lt));
        }
    }
    Ok(answer(items, found))
}

pub async fn find_launch_template(
    c: &Clients,
    key: &str,
) -> Result<Option<(String, Value)>, Error> {
    let Some(lt) = describe_lts(c, Vec::new(), Some(key_filter(key)))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    let mut fields = lt_computed(c, &lt);
    fields.push(("tags", user_tags(lt.tags())));
    Ok(Some((id, adopted("aws_launch_template", fields))))
}

pub async fn delete_launch_template(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(api("DeleteLaunchTemplate"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Instance

async fn describe_instances(
    c: &Clients,
    filters: Vec<Filter>,
) -> Result<Vec<aws_sdk_ec2::types::Instance>, Error> {
    let out = c
        .ec2
        .describe_instances()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(api("DescribeInstances"))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect())
}

fn instance_state(i: &aws_sdk_ec2::types::Instance) -> Option<InstanceStateName> {
    i.state().and_then(|s| s.name()).cloned()
}

fn is_gone(i: &aws_sdk_ec2::types::Instance) -> bool {
    matches!(
        instance_state(i),
        Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
    )
}

fn instance_computed(c: &Clients, i: &aws_sdk_ec2::types::Instance) -> Vec<(&'static str, Value)> {
    let id = i.instance_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "instance", id)),
        (
            "availability_zone",
            opt_s(i.placement().and_then(|p| p.availability_zone())),
        ),
        // Terraform's convention: an empty string when there is none.
        ("private_ip", s(i.private_ip_address().unwrap_or_default())),
        ("public_ip", s(i.public_ip_address().unwrap_or_default())),
        (
            "instance_state",
            opt_s(instance_state(i).as_ref().map(InstanceStateName::as_str)),
        ),
    ]
}

pub async fn create_instance(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ami = string(config, "ami").unwrap_or_default();
    check_image(ctx.c, "ami", &ami).await?;
    let all_tags = ctx.tags(&tags(config));
    let sgs = strings(config, "vpc_security_group_ids");
    let out = ctx
        .c
        .ec2
        .run_instances()
        .image_id(&ami)
        .set_instance_type(string(config, "instance_type").map(|t| InstanceType::from(t.as_str())))
        .min_count(1)
        .max_count(1)
        .set_subnet_id(string(config, "subnet_id"))
        .set_security_group_ids((!sgs.is_empty()).then_some(sgs))
        .set_key_name(string(config, "key_name"))
        .set_user_data(string(config, "user_data").map(|u| crate::values::base64(u.as_bytes())))
        .set_client_token(ctx.client_token())
        .tag_specifications(tag_spec(ResourceType::Instance, &all_tags))
        .tag_specifications(tag_spec(ResourceType::Volume, &all_tags))
        .send()
        .await
        .map_err(api("RunInstances"))?;
    let inst = out
        .instances()
        .first()
        .ok_or_else(|| Error::new("RunInstances returned no instance"))?;
    let id = inst.instance_id().unwrap_or_default().to_string();
    let mut computed = instance_computed(ctx.c, inst);
    computed.push(("subnet_id", opt_s(inst.subnet_id())));
    let partial = state(config, computed);
    let running = wait_for(
        &format!("instance {id} to be running"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let found =
                describe_instances(ctx.c, vec![filter("instance-id", [id.clone()])]).await?;
            Ok(found
                .into_iter()
                .find(|i| instance_state(i) == Some(InstanceStateName::Running)))
        },
    )
    .await
    .map_err(|e| e.after_creating(&id, partial.clone()))?;
    let mut computed = instance_computed(ctx.c, &running);
    computed.push(("subnet_id", opt_s(running.subnet_id())));
    // A configured subnet stays as given.
    let mut st = state(config, computed);
    if let (Some(cfg), Value::Map(m)) = (string(config, "subnet_id"), &mut st) {
        m.insert("subnet_id".into(), s(cfg));
    }
    Ok((id, st))
}

pub async fn read_instances(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for i in describe_instances(c, vec![filter("instance-id", chunk.to_vec())]).await? {
            if !is_gone(&i) {
                found.insert(
                    i.instance_id().unwrap_or_default().to_string(),
                    instance_computed(c, &i),
                );
            }
        }
    }
    Ok(answer(items, found))
}

pub async fn find_instance(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let found = describe_instances(c, vec![key_filter(key)]).await?;
    let Some(i) = found.into_iter().find(|i| !is_gone(i)) else {
        return Ok(None);
    };
    let id = i.instance_id().unwrap_or_default().to_string();
    let mut fields = instance_computed(c, &i);
    fields.extend([
        ("ami", opt_s(i.image_id())),
        (
            "instance_type",
            opt_s(i.instance_type().map(InstanceType::as_str)),
        ),
        ("subnet_id", opt_s(i.subnet_id())),
        ("tags", user_tags(i.tags())),
    ]);
    Ok(Some((id, adopted("aws_instance", fields))))
}

pub async fn delete_instance(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .terminate_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(api("TerminateInstances"))
    {
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    wait_for(
        &format!("instance {id} to terminate"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let found =
                describe_instances(ctx.c, vec![filter("instance-id", [id.to_string()])]).await?;
            Ok(found
                .iter()
                .all(|i| instance_state(i) == Some(InstanceStateName::Terminated))
                .then_some(()))
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// EBS volume (stateful)

fn volume_computed(c: &Clients, v: &aws_sdk_ec2::types::Volume) -> Vec<(&'static str, Value)> {
    let id = v.volume_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "volume", id)),
        ("size", v.size().map_or(Value::Null, |x| n(i64::from(x)))),
        ("type", opt_s(v.volume_type().map(VolumeType::as_str))),
    ]
}

async fn describe_volumes(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::Volume>, Error> {
    let out = c
        .ec2
        .describe_volumes()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeVolumes"))?;
    Ok(out.volumes().to_vec())
}

pub async fn create_volume(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let out = ctx
        .c
        .ec2
        .create_volume()
        .set_availability_zone(string(config, "availability_zone"))
        .set_size(number(config, "size").map(|x| x as i32))
        .set_volume_type(string(config, "type").map(|t| VolumeType::from(t.as_str())))
        .set_iops(number(config, "iops").map(|x| x as i32))
        .set_encrypted(boolean(config, "encrypted"))
        .set_snapshot_id(string(config, "snapshot_id"))
        .set_client_token(ctx.client_token())
        .tag_specifications(tag_spec(ResourceType::Volume, &ctx.tags(&tags(config))))
        .send()
        .await
        .map_err(api("CreateVolume"))?;
    let id = out.volume_id().unwrap_or_default().to_string();
    let computed = vec![
        ("id", s(&id)),
        ("arn", arn(ctx.c, None, "volume", &id)),
        ("size", out.size().map_or(Value::Null, |x| n(i64::from(x)))),
        ("type", opt_s(out.volume_type().map(VolumeType::as_str))),
    ];
    Ok((id, state(config, computed)))
}

pub async fn read_volumes(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        for v in describe_volumes(c, filter("volume-id", chunk.to_vec())).await? {
            found.insert(
                v.volume_id().unwrap_or_default().to_string(),
                volume_computed(c, &v),
            );
        }
    }
    Ok(answer(items, found))
}

pub async fn find_volume(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(v) = describe_volumes(c, key_filter(key))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = v.volume_id().unwrap_or_default().to_string();
    let mut fields = volume_computed(c, &v);
    fields.extend([
        ("availability_zone", opt_s(v.availability_zone())),
        ("tags", user_tags(v.tags())),
    ]);
    Ok(Some((id, adopted("aws_ebs_volume", fields))))
}

pub async fn update_volume(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let changed = |a: &str| req.changed.iter().any(|c| c == a);
    if changed("size") || changed("type") || changed("iops") {
        ctx.c
            .ec2
            .modify_volume()
            .volume_id(&req.id)
            .set_size(number(&req.planned, "size").map(|x| x as i32))
            .set_volume_type(string(&req.planned, "type").map(|t| VolumeType::from(t.as_str())))
            .set_iops(number(&req.planned, "iops").map(|x| x as i32))
            .send()
            .await
            .map_err(api("ModifyVolume"))?;
    }
    update_tags(ctx, req).await
}

pub async fn delete_volume(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    let what = format!("volume {id}");
    retry_while_in_use(&what, Duration::from_secs(300), || async {
        ctx.c
            .ec2
            .delete_volume()
            .volume_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteVolume"))
            .map_err(|e| {
                if e.code() == "VolumeInUse" {
                    Error {
                        code: Some("ResourceInUse".into()),
                        ..e
                    }
                } else {
                    e
                }
            })
    })
    .await
}

// ---------------------------------------------------------------------------
// Tags, changed in place on any EC2 object.

/// Routes change in place: removed destinations are deleted, new ones
/// created, and a destination whose gateway changed is replaced (traffic
/// to it never stops being routed).
pub async fn update_route_table(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if req.changed.iter().any(|c| c == "route") {
        let routes = |v: &Value| -> BTreeMap<String, Option<String>> {
            objects(v, "route")
                .into_iter()
                .filter_map(|r| Some((string(r, "cidr_block")?, string(r, "gateway_id"))))
                .collect()
        };
        let (old, new) = (routes(&req.prior), routes(&req.planned));
        let ec2 = &ctx.c.ec2;
        for (cidr, gateway) in &new {
            match old.get(cidr) {
                None => ec2
                    .create_route()
                    .route_table_id(&req.id)
                    .destination_cidr_block(cidr)
                    .set_gateway_id(gateway.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("CreateRoute"))?,
                Some(g) if g != gateway => ec2
                    .replace_route()
                    .route_table_id(&req.id)
                    .destination_cidr_block(cidr)
                    .set_gateway_id(gateway.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("ReplaceRoute"))?,
                Some(_) => {}
            }
        }
        for cidr in old.keys().filter(|c| !new.contains_key(*c)) {
            ec2.delete_route()
                .route_table_id(&req.id)
                .destination_cidr_block(cidr)
                .send()
                .await
                .map_err(api("DeleteRoute"))?;
        }
    }
    update_tags(ctx, req).await
}

pub async fn update_tags(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if !req.changed.iter().any(|c| c == "tags") {
        return Ok(());
    }
    let old = ctx.user_tags(&tags(&req.prior));
    let new = ctx.user_tags(&tags(&req.planned));
    let removed: Vec<Tag> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| Tag::builder().key(k).build())
        .collect();
    if !removed.is_empty() {
        ctx.c
            .ec2
            .delete_tags()
            .resources(&req.id)
            .set_tags(Some(removed))
            .send()
            .await
            .map_err(api("DeleteTags"))?;
    }
    if !new.is_empty() {
        ctx.c
            .ec2
            .create_tags()
            .resources(&req.id)
            .set_tags(Some(ec2_tags(&new)))
            .send()
            .await
            .map_err(api("CreateTags"))?;
    }
    Ok(())
}
