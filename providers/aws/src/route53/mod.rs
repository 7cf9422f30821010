//! Route 53: `aws_route53_zone` (public or private hosted zones) and
//! `aws_route53_record` (simple, alias and weighted records).
//!
//! A hosted zone is stateful: its name servers are what the parent domain
//! delegates to, so a new zone would break resolution until the
//! delegation changed; it is never replaced unless named, and a zone with
//! records is deleted only with `force_destroy`. A record is a traffic
//! switch: where it points (records, TTL, alias, weight) changes in place
//! with UPSERT, and `--rebuild` moves it to the new generation in place.
//! Names are compared without their trailing dot, as Terraform does.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{Tag, TagResourceType};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, POLL, api, wait_for};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, bool_t, num_t, obj, opt_computed, str_t, strs_t, tags as tags_attr,
};
use crate::values::{boolean, number, objects, opt_s, refreshed, s, state, string, strings, tags};

pub mod record;
pub mod zone;

/// How long a change may take to reach every Route 53 server (INSYNC).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A zone id as Terraform writes it: without the `/hostedzone/` prefix.
fn bare_zone(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// A DNS name without its trailing dot, lowercase.
fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn r53_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Waits until a change has reached every Route 53 server.
async fn in_sync(c: &Clients, change: Option<&str>) -> Result<(), Error> {
    let Some(change) = change else {
        return Ok(());
    };
    let id = change.trim_start_matches("/change/").to_string();
    wait_for(
        &format!("Route 53 change {id} to be in sync"),
        CHANGE_TIMEOUT,
        POLL,
        || async {
            let out = c
                .route53
                .get_change()
                .id(&id)
                .send()
                .await
                .map_err(api("GetChange"))?;
            Ok(out
                .change_info()
                .is_some_and(|i| i.status().as_str() == "INSYNC")
                .then_some(()))
        },
    )
    .await
}
