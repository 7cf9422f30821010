//! EC2 resources: VPCs, subnets, internet gateways, route tables and their
//! associations, security groups, launch templates, instances and volumes.
//!
//! Reads are batched with Describe filters on the ids (`vpc-id`, ...): one
//! call per 100 ids, and a filter, unlike an id list, does not fail the whole
//! call when one of the ids is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceStateName, InstanceType, IpPermission, IpRange,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
    TagSpecification, Tenancy, UserIdGroupPair, VolumeType,
};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, chunks, create_once,
    retry_while_in_use, wait_for,
};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, adopted, bool_t, ids, map_t, named, num_t, obj, opt_computed, str_t, strs_t,
    tags as tags_attr, with_shape,
};

pub mod default_objects;
pub mod ebs_volume;
pub mod eip;
pub mod instance;
pub mod internet_gateway;
pub mod key_pair;
pub mod launch_template;
pub mod nat_gateway;
pub mod network_acl;
pub mod route;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod security_group_rule;
pub mod subnet;
pub mod vpc;
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

/// An EC2 object that carries tags.
pub(crate) trait Tagged {
    fn tag_list(&self) -> &[Tag];

    /// Whether it is tagged `kiln:key = key`. Checked on every object a
    /// tag filter returns: an emulator may ignore a filter it does not
    /// know (moto's DescribeNatGateways ignores `tag:` filters), and taking
    /// another object for this create's would adopt what kiln did not make.
    fn has_key(&self, key: &str) -> bool {
        self.tag_list()
            .iter()
            .any(|t| t.key() == Some(TAG_KEY) && t.value() == Some(key))
    }
}

macro_rules! tagged_types {
    ($($t:ident),*) => {$(
        impl Tagged for aws_sdk_ec2::types::$t {
            fn tag_list(&self) -> &[Tag] {
                self.tags()
            }
        }
    )*};
}
tagged_types!(
    Vpc,
    Subnet,
    InternetGateway,
    RouteTable,
    SecurityGroup,
    LaunchTemplate,
    Instance,
    Volume,
    Address,
    NatGateway
);

/// The first object a Describe finds tagged with this create's key: what an
/// earlier try of the create made (none without a key).
async fn made_by<T: Tagged, Fut>(
    ctx: &Ctx<'_>,
    describe: impl FnOnce(Filter) -> Fut,
) -> Result<Option<T>, Error>
where
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    if ctx.key.is_empty() {
        return Ok(None);
    }
    tagged(ctx.key, describe).await
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
        Value::Map(m.into())
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

pub async fn update_tags(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let Some(change) = ctx.tag_change(req) else {
        return Ok(());
    };
    if !change.removed.is_empty() {
        let removed: Vec<Tag> = change
            .removed
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        ctx.c
            .ec2
            .delete_tags()
            .resources(&req.id)
            .set_tags(Some(removed))
            .send()
            .await
            .map_err(api("DeleteTags"))?;
    }
    if !change.set.is_empty() {
        ctx.c
            .ec2
            .create_tags()
            .resources(&req.id)
            .set_tags(Some(ec2_tags(&change.set)))
            .send()
            .await
            .map_err(api("CreateTags"))?;
    }
    Ok(())
}

/// A `name` attribute that must be an IPv4 CIDR block (unknown passes).
fn check_cidr(config: &Value, name: &str, out: &mut Vec<String>) {
    if let Some(c) = string(config, name)
        && !crate::values::is_ipv4_cidr(&c)
    {
        out.push(format!(
            "{name} {c:?} is not a valid IPv4 CIDR block; write it like \"10.0.0.0/16\""
        ));
    }
}

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

/// Describes the objects of a batch with one call per [`BATCH`] ids, by a
/// filter on their ids (`vpc-id`, ...): an id that is gone is left out
/// instead of failing the call.
async fn describe_ids<T, F, Fut>(
    items: &[(&str, &Value)],
    id_filter: &str,
    describe: F,
) -> Result<Vec<T>, Error>
where
    F: Fn(Filter) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    let mut out = Vec::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        out.extend(describe(filter(id_filter, chunk.to_vec())).await?);
    }
    Ok(out)
}

/// Reads a batch by [`describe_ids`]: each found object's id and fresh
/// computed values, merged into its prior state; `None` for the gone.
async fn read_ids<T, F, Fut>(
    items: &[(&str, &Value)],
    id_filter: &str,
    describe: F,
    fresh: impl Fn(&T) -> (String, Vec<(&'static str, Value)>),
) -> Result<Vec<Option<Value>>, Error>
where
    F: Fn(Filter) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    let found = describe_ids(items, id_filter, describe)
        .await?
        .iter()
        .map(fresh)
        .collect();
    Ok(answer(items, found))
}

/// The object tagged `kiln:key = key`, if a Describe finds one.
async fn tagged<T: Tagged, F, Fut>(key: &str, describe: F) -> Result<Option<T>, Error>
where
    F: FnOnce(Filter) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    Ok(describe(key_filter(key))
        .await?
        .into_iter()
        .find(|x| x.has_key(key)))
}
