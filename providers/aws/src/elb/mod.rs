//! ELBv2: `aws_lb`, `aws_lb_target_group` and `aws_lb_listener`. The
//! listener's `default_action` (forward, with weighted target groups) is
//! run-time configuration: the cut-over switch, changed in place with
//! ModifyListener. Load balancers and target groups are named by
//! generation (32 characters at most, as ELBv2 requires).
//!
//! Reads pass ARN lists (20 per call, ELBv2's limit for load balancers);
//! when one ARN is gone the whole call fails, so kiln then asks one by one.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Listener, LoadBalancer, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, Matcher, ProtocolEnum, Tag, TargetGroup, TargetGroupTuple,
    TargetTypeEnum,
};
use kiln_model::{TrafficCounters, Type, Value};
use kiln_provider::{ShiftRequest, ShiftResponse, TrafficRequest, UpdateRequest};

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, chunks, create_once,
    retry_while_in_use, wait_for,
};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, bool_t, ids, named, num_t, obj, str_t, strs_t, tags as tags_attr,
};
use crate::values::{boolean, number, objects, opt_s, refreshed, s, state, string, strings, tags};

pub mod lb;
pub mod listener;
pub mod listener_rule;
pub mod target_group;
pub mod target_group_attachment;

const BATCH: usize = 20;
/// ELBv2's limit on load balancer and target group names.
const NAME_MAX: usize = 32;

fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn arn_suffix(arn: &str) -> Value {
    // arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID → app/NAME/ID
    arn.split_once(':')
        .and_then(|_| arn.rsplit(':').next())
        .map(|tail| {
            let tail = tail.strip_prefix("loadbalancer/").unwrap_or(tail);
            s(tail)
        })
        .unwrap_or(Value::Null)
}

/// Describes ARNs in chunks; when a chunk fails because an ARN is gone,
/// asks one by one and leaves the gone ones out.
async fn describe_arns<T, F, Fut>(arns: &[String], mut call: F) -> Result<Vec<T>, Error>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    let mut out = Vec::new();
    for chunk in chunks(arns, BATCH) {
        match call(chunk.to_vec()).await {
            Ok(v) => out.extend(v),
            Err(e) if e.is_not_found() => {
                for arn in chunk {
                    match call(vec![arn.clone()]).await {
                        Ok(v) => out.extend(v),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The ARN among `arns` tagged with `kiln:key = key`, with its user tags.
async fn find_tagged(
    c: &Clients,
    arns: Vec<String>,
    key: &str,
) -> Result<Option<(String, Value)>, Error> {
    for chunk in chunks(&arns, BATCH) {
        let out = c
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(api("DescribeTags"))?;
        for d in out.tag_descriptions() {
            if d.tags()
                .iter()
                .any(|t| t.key() == Some(TAG_KEY) && t.value() == Some(key))
            {
                let user: BTreeMap<String, Value> = d
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), s(t.value().unwrap_or_default()))))
                    .filter(|(k, _)| !k.starts_with("kiln:"))
                    .collect();
                let user = if user.is_empty() {
                    Value::Null
                } else {
                    Value::Map(user.into())
                };
                return Ok(Some((
                    d.resource_arn().unwrap_or_default().to_string(),
                    user,
                )));
            }
        }
    }
    Ok(None)
}

/// Tags of any ELBv2 object, changed in place.
pub async fn update_tags(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let Some(change) = ctx.tag_change(req) else {
        return Ok(());
    };
    if !change.removed.is_empty() {
        ctx.c
            .elb
            .remove_tags()
            .resource_arns(&req.id)
            .set_tag_keys(Some(change.removed))
            .send()
            .await
            .map_err(api("RemoveTags"))?;
    }
    if !change.set.is_empty() {
        ctx.c
            .elb
            .add_tags()
            .resource_arns(&req.id)
            .set_tags(Some(elb_tags(&change.set)))
            .send()
            .await
            .map_err(api("AddTags"))?;
    }
    Ok(())
}

/// The object among `found` tagged with this create's key (an earlier try's).
async fn mine<T>(
    ctx: &Ctx<'_>,
    found: Vec<T>,
    arn: impl Fn(&T) -> Option<&str>,
) -> Result<Option<T>, Error> {
    if ctx.key.is_empty() {
        return Ok(None);
    }
    let arns: Vec<String> = found
        .iter()
        .filter_map(|x| arn(x).map(str::to_string))
        .collect();
    let Some((ours, _)) = find_tagged(ctx.c, arns, ctx.key).await? else {
        return Ok(None);
    };
    Ok(found.into_iter().find(|x| arn(x) == Some(ours.as_str())))
}

/// The action blocks of a listener (`default_action`) or a listener rule
/// (`action`), as Terraform writes them: `type` "forward" (one
/// `target_group_arn`, or a `forward` block of weighted `target_group`s),
/// "fixed-response" (a `fixed_response` block) or "redirect" (a `redirect`
/// block); `order` when there are several.
pub(super) fn actions_of(blocks: Vec<&Value>) -> Vec<Action> {
    blocks
        .into_iter()
        .map(|a| {
            let kind = string(a, "type").unwrap_or_else(|| "forward".into());
            let mut b = Action::builder()
                .r#type(ActionTypeEnum::from(kind.as_str()))
                .set_order(number(a, "order").map(|o| o as i32));
            match kind.as_str() {
                "fixed-response" => {
                    if let Some(f) = objects(a, "fixed_response").first() {
                        b = b.fixed_response_config(
                            aws_sdk_elasticloadbalancingv2::types::FixedResponseActionConfig::builder()
                                .set_content_type(string(f, "content_type"))
                                .set_message_body(string(f, "message_body"))
                                .set_status_code(string(f, "status_code").or_else(|| {
                                    number(f, "status_code").map(|n| n.to_string())
                                }))
                                .build(),
                        );
                    }
                }
                "redirect" => {
                    if let Some(r) = objects(a, "redirect").first() {
                        b = b.redirect_config(
                            aws_sdk_elasticloadbalancingv2::types::RedirectActionConfig::builder()
                                .set_host(string(r, "host"))
                                .set_path(string(r, "path"))
                                .set_port(string(r, "port").or_else(|| number(r, "port").map(|n| n.to_string())))
                                .set_protocol(string(r, "protocol"))
                                .set_query(string(r, "query"))
                                .set_status_code(string(r, "status_code").map(|c| {
                                    aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::from(c.as_str())
                                }))
                                .build(),
                        );
                    }
                }
                _ => {
                    b = b.set_target_group_arn(string(a, "target_group_arn"));
                    let groups: Vec<TargetGroupTuple> = a
                        .get("forward")
                        .map(|f| objects(f, "target_group"))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|g| {
                            TargetGroupTuple::builder()
                                .set_target_group_arn(string(g, "arn"))
                                .set_weight(number(g, "weight").map(|w| w as i32))
                                .build()
                        })
                        .collect();
                    if !groups.is_empty() {
                        b = b.forward_config(
                            ForwardActionConfig::builder()
                                .set_target_groups(Some(groups))
                                .build(),
                        );
                    }
                }
            }
            b.build()
        })
        .collect()
}

/// The action types kiln supports, and a check of an action block.
pub(super) fn check_actions(blocks: Vec<&Value>, what: &str, out: &mut Vec<String>) {
    for a in blocks {
        match string(a, "type").as_deref() {
            None | Some("forward") => {}
            Some(t @ ("fixed-response" | "redirect")) => {
                let block = t.replace('-', "_");
                if objects(a, &block).is_empty() && a.is_known() {
                    out.push(format!("{what} of type {t:?} needs a {block} block"));
                }
            }
            Some(other) => out.push(format!(
                "{what} type {other:?} is not supported; kiln supports \"forward\", \"fixed-response\" and \"redirect\""
            )),
        }
    }
}

/// The type of an action block: forward, fixed-response or redirect.
pub(super) fn action_t() -> Type {
    obj(&[
        ("type", str_t()),
        ("order", num_t()),
        ("target_group_arn", str_t()),
        (
            "forward",
            obj(&[(
                "target_group",
                Type::List(Box::new(obj(&[("arn", str_t()), ("weight", num_t())]))),
            )]),
        ),
        (
            "fixed_response",
            obj(&[
                ("content_type", str_t()),
                ("message_body", str_t()),
                ("status_code", str_t()),
            ]),
        ),
        (
            "redirect",
            obj(&[
                ("host", str_t()),
                ("path", str_t()),
                ("port", str_t()),
                ("protocol", str_t()),
                ("query", str_t()),
                ("status_code", str_t()),
            ]),
        ),
    ])
}
