//! IAM: `aws_iam_role`, `aws_iam_instance_profile`, `aws_iam_policy`,
//! `aws_iam_role_policy` and `aws_iam_role_policy_attachment`. IAM is
//! global (one namespace per account), named by generation like everything
//! else (`name` as written for the first object, a derived name for a
//! replacement that would collide), and every argument but the tags
//! replaces: a new trust or permissions policy is a new role beside the old
//! one, and the instance profiles, launch templates and groups that use it
//! follow as a new generation.
//!
//! IAM cannot list by tag: a find by key lists the account's objects of the
//! type (1,000 per call) and reads the tags of each (one call per object).
//! It runs only when a create was interrupted, and the look-up a retried
//! create needs is answered by the name it used (`EntityAlreadyExists`,
//! then the tags of that one object).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use kiln_model::Value;
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, SETTLE_TIMEOUT, TAG_KEY, api, retry_while_in_use};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, adopted, bool_t, named, num_t, opt_computed, str_t, tags as tags_attr,
};
use crate::values::{boolean, number, opt_s, refreshed, s, state, string, tags};

pub mod instance_profile;
pub mod policy;
pub mod role;
pub mod role_policy;
pub mod role_policy_attachment;

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The user's tags of an object read back (kiln's own left out).
fn user_tags(tags: &[Tag]) -> Value {
    let m: BTreeMap<String, Value> = tags
        .iter()
        .filter(|t| !t.key().starts_with("kiln:"))
        .map(|t| (t.key().to_string(), s(t.value())))
        .collect();
    if m.is_empty() {
        Value::Null
    } else {
        Value::Map(m.into())
    }
}

fn has_key(tags: &[Tag], key: &str) -> bool {
    tags.iter().any(|t| t.key() == TAG_KEY && t.value() == key)
}

/// A policy document as IAM accepts it: valid JSON. Terraform users write
/// `jsonencode(...)` or an `aws_iam_policy_document`'s `json`.
fn check_document(config: &Value, attr: &str, out: &mut Vec<String>) {
    if let Some(doc) = string(config, attr)
        && serde_json::from_str::<serde_json::Value>(&doc).is_err()
    {
        out.push(format!(
            "{attr} is not valid JSON; write it with jsonencode(...) or an aws_iam_policy_document data source"
        ));
    }
}

/// An IAM object that carries tags, by the name (or ARN) IAM keys it by.
#[derive(Clone, Copy)]
enum Tagged<'a> {
    Role(&'a str),
    InstanceProfile(&'a str),
    Policy(&'a str),
}

/// Tag changes of an IAM object: the removed keys untagged, then the
/// user's tags as planned set (one call each).
async fn retag(ctx: &Ctx<'_>, req: &UpdateRequest, object: Tagged<'_>) -> Result<(), Error> {
    let Some(change) = ctx.tag_change(req) else {
        return Ok(());
    };
    let iam = &ctx.c.iam;
    if !change.removed.is_empty() {
        let keys = Some(change.removed);
        match object {
            Tagged::Role(n) => iam
                .untag_role()
                .role_name(n)
                .set_tag_keys(keys)
                .send()
                .await
                .map(|_| ())
                .map_err(api("UntagRole")),
            Tagged::InstanceProfile(n) => iam
                .untag_instance_profile()
                .instance_profile_name(n)
                .set_tag_keys(keys)
                .send()
                .await
                .map(|_| ())
                .map_err(api("UntagInstanceProfile")),
            Tagged::Policy(arn) => iam
                .untag_policy()
                .policy_arn(arn)
                .set_tag_keys(keys)
                .send()
                .await
                .map(|_| ())
                .map_err(api("UntagPolicy")),
        }?;
    }
    if !change.set.is_empty() {
        let tags = Some(iam_tags(&change.set));
        match object {
            Tagged::Role(n) => iam
                .tag_role()
                .role_name(n)
                .set_tags(tags)
                .send()
                .await
                .map(|_| ())
                .map_err(api("TagRole")),
            Tagged::InstanceProfile(n) => iam
                .tag_instance_profile()
                .instance_profile_name(n)
                .set_tags(tags)
                .send()
                .await
                .map(|_| ())
                .map_err(api("TagInstanceProfile")),
            Tagged::Policy(arn) => iam
                .tag_policy()
                .policy_arn(arn)
                .set_tags(tags)
                .send()
                .await
                .map(|_| ())
                .map_err(api("TagPolicy")),
        }?;
    }
    Ok(())
}
