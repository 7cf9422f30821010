//! ECS: `aws_ecs_cluster`, `aws_ecs_capacity_provider`,
//! `aws_ecs_cluster_capacity_providers`, `aws_ecs_task_definition` and
//! `aws_ecs_service`, with the Terraform AWS provider's arguments.
//!
//! The immutable rule applied to containers: a new image is a new task
//! definition (a new revision, registered beside the old one) and a new
//! service generation, started and checked healthy (its running task count
//! reaches the desired count) before traffic moves to it; the old
//! generation is deleted afterwards. A running service's task definition is
//! never patched in place. What is run-time configuration — a service's
//! desired count, a capacity provider's managed scaling, a cluster's
//! capacity providers and default strategy — changes in place.
//!
//! Names: clusters, services and capacity providers are named by
//! generation like every named type (`name` as written for the first
//! object, a derived name for a replacement that would collide). A task
//! definition's `family` is shared by its revisions, so it never collides.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, retry_while_in_use, wait_for,
};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, adopted, bool_t, named, num_t, obj, opt_computed, str_t, strs_t,
    tags as tags_attr,
};
use crate::values::{boolean, number, objects, opt_s, refreshed, s, state, string, strings, tags};

pub mod capacity_provider;
pub mod cluster;
pub mod cluster_capacity_providers;
pub mod service;
pub mod task_definition;

/// ECS's limit on cluster, service and capacity provider names.
const NAME_MAX: usize = 255;

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The user's tags of an object read back (kiln's own left out).
fn user_tags(tags: &[Tag]) -> Value {
    let m: BTreeMap<String, Value> = tags
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("kiln:"))
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                s(t.value().unwrap_or_default()),
            )
        })
        .collect();
    if m.is_empty() {
        Value::Null
    } else {
        Value::Map(m.into())
    }
}

fn has_key(tags: &[Tag], key: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(TAG_KEY) && t.value() == Some(key))
}

/// Applies a change of `tags` to the object `arn` (TagResource /
/// UntagResource).
async fn retag(ctx: &Ctx<'_>, req: &UpdateRequest, arn: &str) -> Result<(), Error> {
    let Some(change) = ctx.tag_change(req) else {
        return Ok(());
    };
    if !change.removed.is_empty() {
        ctx.c
            .ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(change.removed.clone()))
            .send()
            .await
            .map_err(api("UntagResource"))?;
    }
    if !change.set.is_empty() {
        ctx.c
            .ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&change.set)))
            .send()
            .await
            .map_err(api("TagResource"))?;
    }
    Ok(())
}

/// The cluster name of an ARN or name (`arn:aws:ecs:r:a:cluster/NAME`).
fn cluster_name(cluster: &str) -> String {
    cluster.rsplit('/').next().unwrap_or(cluster).to_string()
}

/// Every cluster ARN of the account (for finds by key).
async fn all_clusters(c: &Clients) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut pages = c.ecs.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(api("ListClusters"))?;
        out.extend(page.cluster_arns().iter().cloned());
    }
    Ok(out)
}
