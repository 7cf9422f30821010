//! `aws_autoscaling_group`: named by generation, so a new launch template
//! brings a new group next to the old one; capacity, target groups, health
//! check settings and tags are run-time configuration, changed in place.
//!
//! The health check (`check_health`, run by the engine right after create)
//! waits up to `wait_for_capacity_timeout` until `desired_capacity`
//! instances (at least `min_size`) are InService and Healthy and, when the
//! group has target groups, as many targets of each are healthy: only then
//! may traffic move to it.
//!
//! Against moto, the emulator the tests use: moto reports a group's
//! instances InService (and Healthy) at once, registers them in the group's
//! target groups and reports those targets healthy, so the wait passes on
//! its first look. No concession is made for it: the same checks run
//! against AWS, where they take minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, LaunchTemplateSpecification, LifecycleState, Tag,
};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, chunks, create_once, wait_for,
};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{
    A, ResourceSchema, bool_t, ids, named, num_t, obj, opt_computed, str_t, strs_t,
};
use crate::values::{
    boolean, n, number, objects, opt_s, parse_timeout, refreshed, s, state, string, strings,
};

/// Auto Scaling's limit of names per DescribeAutoScalingGroups call.
const BATCH: usize = 50;

fn asg_tags(
    name: &str,
    tags: &BTreeMap<String, String>,
    propagate: &BTreeMap<String, bool>,
) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(propagate.get(k).copied().unwrap_or(true))
                .build()
        })
        .collect()
}

/// The `tag` blocks and the legacy `tags` list (maps of strings, as the
/// AWS provider before 5.0 took them): key → value, and key →
/// propagate_at_launch.
fn tag_blocks(config: &Value) -> (BTreeMap<String, String>, BTreeMap<String, bool>) {
    let mut tags = BTreeMap::new();
    let mut propagate = BTreeMap::new();
    for t in objects(config, "tag")
        .into_iter()
        .chain(objects(config, "tags"))
    {
        if let Some(k) = string(t, "key") {
            tags.insert(k.clone(), string(t, "value").unwrap_or_default());
            let p = boolean(t, "propagate_at_launch")
                .or_else(|| string(t, "propagate_at_launch").map(|s| s == "true"));
            propagate.insert(k, p.unwrap_or(false));
        }
    }
    (tags, propagate)
}

fn computed(g: &AutoScalingGroup) -> Vec<(&'static str, Value)> {
    let name = g.auto_scaling_group_name().unwrap_or_default();
    vec![
        ("id", s(name)),
        ("name", s(name)),
        ("arn", opt_s(g.auto_scaling_group_arn())),
    ]
}

/// What a read refreshes: the run-time capacity, so drift shows as an
/// in-place update back to the configuration.
fn refreshed_fields(g: &AutoScalingGroup) -> Vec<(&'static str, Value)> {
    let mut f = computed(g);
    let num = |x: Option<i32>| x.map_or(Value::Null, |x| n(i64::from(x)));
    f.push(("min_size", num(g.min_size())));
    f.push(("max_size", num(g.max_size())));
    f.push(("desired_capacity", num(g.desired_capacity())));
    f
}

pub async fn create(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, 255);
    let (own, propagate) = tag_blocks(config);
    let tags = asg_tags(&name, &ctx.tags(&own), &propagate);
    let lt = objects(config, "launch_template")
        .into_iter()
        .next()
        .map(|lt| {
            LaunchTemplateSpecification::builder()
                .set_launch_template_id(string(lt, "id"))
                .set_launch_template_name(string(lt, "name"))
                .version(string(lt, "version").unwrap_or_else(|| "$Default".into()))
                .build()
        });
    let zones = strings(config, "vpc_zone_identifier");
    let azs = strings(config, "availability_zones");
    let tgs = strings(config, "target_group_arns");
    // Made once: an earlier try's group (its answer lost, or a create
    // interrupted before) is the one of this name carrying this key.
    create_once(
        || async {
            ctx.c
                .asg_once
                .create_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .set_launch_template(lt.clone())
                .set_launch_configuration_name(string(config, "launch_configuration"))
                .set_termination_policies(
                    Some(strings(config, "termination_policies")).filter(|p| !p.is_empty()),
                )
                .set_default_cooldown(number(config, "default_cooldown").map(|x| x as i32))
                .set_new_instances_protected_from_scale_in(boolean(config, "protect_from_scale_in"))
                .set_max_instance_lifetime(
                    number(config, "max_instance_lifetime").map(|x| x as i32),
                )
                .set_capacity_rebalance(boolean(config, "capacity_rebalance"))
                .set_service_linked_role_arn(string(config, "service_linked_role_arn"))
                .set_placement_group(string(config, "placement_group"))
                .set_min_size(number(config, "min_size").map(|x| x as i32))
                .set_max_size(number(config, "max_size").map(|x| x as i32))
                .set_desired_capacity(number(config, "desired_capacity").map(|x| x as i32))
                .set_vpc_zone_identifier((!zones.is_empty()).then(|| zones.join(",")))
                .set_availability_zones((!azs.is_empty()).then(|| azs.clone()))
                .set_target_group_arns((!tgs.is_empty()).then(|| tgs.clone()))
                .set_health_check_type(string(config, "health_check_type"))
                .set_health_check_grace_period(
                    number(config, "health_check_grace_period").map(|x| x as i32),
                )
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(api("CreateAutoScalingGroup"))
        },
        || async {
            let ours = describe(ctx.c, vec![name.clone()])
                .await?
                .into_iter()
                .any(|g| !ctx.key.is_empty() && tag(&g, TAG_KEY) == Some(ctx.key));
            Ok(ours.then_some(()))
        },
    )
    .await?;
    let metrics = strings(config, "enabled_metrics");
    if !metrics.is_empty() {
        enable_metrics(ctx, &name, config, metrics)
            .await
            .map_err(|e| {
                e.after_creating(&name, state(config, [("id", s(&name)), ("name", s(&name))]))
            })?;
    }
    let g = describe(ctx.c, vec![name.clone()])
        .await?
        .pop()
        .ok_or_else(|| {
            Error::new(format!(
                "Auto Scaling group {name} is missing right after its creation"
            ))
        })?;
    let mut fields = computed(&g);
    if string(config, "desired_capacity").is_none() && number(config, "desired_capacity").is_none()
    {
        fields.push((
            "desired_capacity",
            g.desired_capacity()
                .map_or(Value::Null, |x| n(i64::from(x))),
        ));
    }
    Ok((name, state(config, fields)))
}

fn tag<'a>(g: &'a AutoScalingGroup, key: &str) -> Option<&'a str> {
    g.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

async fn describe(c: &Clients, names: Vec<String>) -> Result<Vec<AutoScalingGroup>, Error> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .asg
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names((!names.is_empty()).then(|| names.clone()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api("DescribeAutoScalingGroups"))?;
        out.extend(page.auto_scaling_groups().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// Whether a group is being deleted (it still describes for a while).
fn deleting(g: &AutoScalingGroup) -> bool {
    g.status().is_some_and(|s| s.contains("Delete"))
}

pub async fn read(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let names: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
    let mut found: BTreeMap<String, AutoScalingGroup> = BTreeMap::new();
    for chunk in chunks(&names, BATCH) {
        for g in describe(c, chunk.to_vec()).await? {
            if !deleting(&g) {
                found.insert(
                    g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    g,
                );
            }
        }
    }
    Ok(items
        .iter()
        .map(|(id, prior)| {
            let g = found.get(*id)?;
            let mut fresh = refreshed_fields(g);
            // An unset desired capacity is AWS's to choose: keep it unset.
            if prior.get("desired_capacity").is_none_or(Value::is_null) {
                fresh.retain(|(k, _)| *k != "desired_capacity");
            }
            Some(refreshed(prior, fresh))
        })
        .collect())
}

pub async fn find(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(g) = describe(c, Vec::new())
        .await?
        .into_iter()
        .find(|g| tag(g, TAG_KEY) == Some(key) && !deleting(g))
    else {
        return Ok(None);
    };
    let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
    let mut fields = refreshed_fields(&g);
    fields.extend([
        (
            "vpc_zone_identifier",
            g.vpc_zone_identifier().map_or(Value::Null, |z| {
                crate::values::list(z.split(',').map(str::to_string))
            }),
        ),
        (
            "target_group_arns",
            crate::values::list(g.target_group_arns().iter().cloned()),
        ),
        ("health_check_type", opt_s(g.health_check_type())),
        (
            "launch_template",
            g.launch_template().map_or(Value::Null, |lt| {
                Value::map([
                    ("id", opt_s(lt.launch_template_id())),
                    ("name", Value::Null),
                    ("version", opt_s(lt.version())),
                ])
            }),
        ),
    ]);
    Ok(Some((
        name,
        crate::shape::adopted(&AutoscalingGroup.schema(), fields),
    )))
}

/// Turns on group metrics collection (`enabled_metrics`, at
/// `metrics_granularity`, "1Minute" by default).
async fn enable_metrics(
    ctx: &Ctx<'_>,
    name: &str,
    config: &Value,
    metrics: Vec<String>,
) -> Result<(), Error> {
    ctx.c
        .asg
        .enable_metrics_collection()
        .auto_scaling_group_name(name)
        .granularity(string(config, "metrics_granularity").unwrap_or_else(|| "1Minute".into()))
        .set_metrics(Some(metrics))
        .send()
        .await
        .map(|_| ())
        .map_err(api("EnableMetricsCollection"))
}

pub async fn update(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let changed = |a: &str| req.changed.iter().any(|c| c == a);
    let p = &req.planned;
    let asg = &ctx.c.asg;
    if [
        "min_size",
        "max_size",
        "desired_capacity",
        "health_check_type",
        "health_check_grace_period",
        "termination_policies",
        "default_cooldown",
        "protect_from_scale_in",
        "max_instance_lifetime",
        "capacity_rebalance",
    ]
    .iter()
    .any(|a| changed(a))
    {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(&req.id)
            .set_min_size(number(p, "min_size").map(|x| x as i32))
            .set_max_size(number(p, "max_size").map(|x| x as i32))
            .set_desired_capacity(number(p, "desired_capacity").map(|x| x as i32))
            .set_health_check_type(string(p, "health_check_type"))
            .set_health_check_grace_period(number(p, "health_check_grace_period").map(|x| x as i32))
            .set_termination_policies(
                Some(strings(p, "termination_policies")).filter(|p| !p.is_empty()),
            )
            .set_default_cooldown(number(p, "default_cooldown").map(|x| x as i32))
            .set_new_instances_protected_from_scale_in(boolean(p, "protect_from_scale_in"))
            .set_max_instance_lifetime(number(p, "max_instance_lifetime").map(|x| x as i32))
            .set_capacity_rebalance(boolean(p, "capacity_rebalance"))
            .send()
            .await
            .map_err(api("UpdateAutoScalingGroup"))?;
    }
    if changed("enabled_metrics") || changed("metrics_granularity") {
        let old = strings(&req.prior, "enabled_metrics");
        if !old.is_empty() {
            asg.disable_metrics_collection()
                .auto_scaling_group_name(&req.id)
                .set_metrics(Some(old))
                .send()
                .await
                .map_err(api("DisableMetricsCollection"))?;
        }
        let new = strings(p, "enabled_metrics");
        if !new.is_empty() {
            enable_metrics(ctx, &req.id, p, new).await?;
        }
    }
    if changed("target_group_arns") {
        let old: BTreeSet<String> = strings(&req.prior, "target_group_arns")
            .into_iter()
            .collect();
        let new: BTreeSet<String> = strings(p, "target_group_arns").into_iter().collect();
        let added: Vec<String> = new.difference(&old).cloned().collect();
        let removed: Vec<String> = old.difference(&new).cloned().collect();
        if !added.is_empty() {
            asg.attach_load_balancer_target_groups()
                .auto_scaling_group_name(&req.id)
                .set_target_group_arns(Some(added))
                .send()
                .await
                .map_err(api("AttachLoadBalancerTargetGroups"))?;
        }
        if !removed.is_empty() {
            asg.detach_load_balancer_target_groups()
                .auto_scaling_group_name(&req.id)
                .set_target_group_arns(Some(removed))
                .send()
                .await
                .map_err(api("DetachLoadBalancerTargetGroups"))?;
        }
    }
    if changed("tag") || changed("tags") {
        let (old, _) = tag_blocks(&req.prior);
        let (new, propagate) = tag_blocks(p);
        let removed: Vec<Tag> = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| {
                Tag::builder()
                    .resource_id(&req.id)
                    .resource_type("auto-scaling-group")
                    .key(k)
                    .build()
            })
            .collect();
        if !removed.is_empty() {
            asg.delete_tags()
                .set_tags(Some(removed))
                .send()
                .await
                .map_err(api("DeleteTags"))?;
        }
        let all = ctx.user_tags(&new);
        if !all.is_empty() {
            asg.create_or_update_tags()
                .set_tags(Some(asg_tags(&req.id, &all, &propagate)))
                .send()
                .await
                .map_err(api("CreateOrUpdateTags"))?;
        }
    }
    if changed("desired_capacity") || changed("min_size") || changed("target_group_arns") {
        wait_for_capacity(ctx.c, &req.id, p).await?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .asg
        .delete_auto_scaling_group()
        .auto_scaling_group_name(id)
        .force_delete(true)
        .send()
        .await
        .map_err(api("DeleteAutoScalingGroup"))
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.message.contains("not found") => return Ok(()),
        Err(e) => return Err(e),
    }
    wait_for(
        &format!("Auto Scaling group {id} to be deleted"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            Ok(describe(ctx.c, vec![id.to_string()])
                .await?
                .is_empty()
                .then_some(()))
        },
    )
    .await
}

/// Waits until the group has its capacity in service (and healthy behind
/// its target groups); the message says what was found.
pub async fn wait_for_capacity(c: &Clients, name: &str, st: &Value) -> Result<String, Error> {
    let timeout = string(st, "wait_for_capacity_timeout")
        .and_then(|t| parse_timeout(&t))
        .unwrap_or(Duration::from_secs(600));
    if timeout.is_zero() {
        return Ok("wait_for_capacity_timeout is 0: not waited".into());
    }
    let last = std::sync::Mutex::new(String::from("no answer yet"));
    let seen = |msg: String| {
        if let Ok(mut l) = last.lock() {
            *l = msg;
        }
    };
    let result = wait_for(
        &format!("Auto Scaling group {name} to have its capacity in service"),
        timeout,
        Duration::from_secs(1),
        || {
            let seen = &seen;
            async move {
                let Some(g) = describe(c, vec![name.to_string()]).await?.pop() else {
                    return Err(Error::new(format!(
                        "Auto Scaling group {name} does not exist"
                    )));
                };
                let want = g
                    .desired_capacity()
                    .unwrap_or(0)
                    .max(g.min_size().unwrap_or(0));
                let in_service: Vec<&str> = g
                    .instances()
                    .iter()
                    .filter(|i| {
                        i.lifecycle_state() == Some(&LifecycleState::InService)
                            && i.health_status()
                                .is_none_or(|h| h.eq_ignore_ascii_case("healthy"))
                    })
                    .filter_map(|i| i.instance_id())
                    .collect();
                let mut msg = format!("{} of {want} instances InService", in_service.len());
                seen(msg.clone());
                if (in_service.len() as i32) < want {
                    return Ok(None);
                }
                // min_elb_capacity / wait_for_elb_capacity: how many targets
                // must be healthy in each target group (default: the
                // group's capacity).
                let elb_want = number(st, "wait_for_elb_capacity")
                    .or_else(|| number(st, "min_elb_capacity"))
                    .map_or(want, |n| n as i32);
                for tg in g.target_group_arns() {
                    let health = c
                        .elb
                        .describe_target_health()
                        .target_group_arn(tg)
                        .send()
                        .await
                        .map_err(api("DescribeTargetHealth"))?;
                    let healthy = health
                        .target_health_descriptions()
                        .iter()
                        .filter(|d| {
                            d.target_health().and_then(|h| h.state())
                                == Some(&TargetHealthStateEnum::Healthy)
                        })
                        .count();
                    msg = format!(
                        "{} of {want} instances InService, {healthy} of {elb_want} healthy in target group {tg}",
                        in_service.len()
                    );
                    seen(msg.clone());
                    if (healthy as i32) < elb_want {
                        return Ok(None);
                    }
                }
                Ok(Some(msg))
            }
        },
    )
    .await;
    let last = last.lock().map(|l| l.clone()).unwrap_or_default();
    result.map_err(|e| Error::new(format!("{} (last seen: {last})", e.message)))
}

/// `aws_autoscaling_group`.
pub struct AutoscalingGroup;

#[async_trait]
impl Resource for AutoscalingGroup {
    fn name(&self) -> &'static str {
        "aws_autoscaling_group"
    }

    fn schema(&self) -> ResourceSchema {
        let mut asg = named(ids(ResourceSchema::new()), 255)
            .attr(
                "launch_template",
                A::optional(obj(&[
                    ("id", str_t()),
                    ("name", str_t()),
                    ("version", str_t()),
                ])),
            )
            .attr(
            "launch_configuration",
            A::optional(str_t()).describe("the name of an aws_launch_configuration"),
        )
        .attr("min_size", A::required(num_t()).runtime())
            .attr("max_size", A::required(num_t()).runtime())
            .attr("desired_capacity", opt_computed(num_t()).runtime())
            .attr("vpc_zone_identifier", A::optional(strs_t()))
            .attr("availability_zones", A::optional(strs_t()))
            .attr("target_group_arns", A::optional(strs_t()).runtime())
            .attr("health_check_type", A::optional(str_t()).runtime())
            .attr("health_check_grace_period", A::optional(num_t()).runtime())
            .attr("termination_policies", A::optional(strs_t()).runtime())
            .attr("default_cooldown", A::optional(num_t()).runtime())
            .attr("protect_from_scale_in", A::optional(bool_t()).runtime())
            .attr("max_instance_lifetime", A::optional(num_t()).runtime())
            .attr("capacity_rebalance", A::optional(bool_t()).runtime())
            .attr("enabled_metrics", A::optional(strs_t()).runtime())
            .attr("metrics_granularity", A::optional(str_t()).runtime())
            .attr("service_linked_role_arn", A::optional(str_t()))
            .attr("placement_group", A::optional(str_t()))
            .attr(
                "min_elb_capacity",
                A::optional(num_t())
                    .runtime()
                    .describe("targets that must be healthy in each target group before traffic moves"),
            )
            .attr(
                "wait_for_elb_capacity",
                A::optional(num_t())
                    .runtime()
                    .describe("as min_elb_capacity, and takes precedence over it"),
            )
            .attr(
                "force_delete",
                A::optional(bool_t())
                    .runtime()
                    .describe("kiln deletes a group with its instances either way: an old generation must go"),
            )
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
            )
            .attr(
                "tags",
                A::optional(Type::List(Box::new(Type::Map(Box::new(str_t())))))
                    .runtime()
                    .describe("the AWS provider's list form before 5.0: maps with key, value and propagate_at_launch; kept with the tag blocks"),
            );
        asg.health_check = true;
        asg
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let set = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        match (set("launch_template"), set("launch_configuration")) {
            (true, true) => out.push(
                "launch_template and launch_configuration conflict: set one of them".into(),
            ),
            (false, false) => out.push(
                "set launch_template or launch_configuration: the group needs to know what to launch"
                    .into(),
            ),
            _ => {}
        }
        let min = number(config, "min_size");
        let max = number(config, "max_size");
        let desired = number(config, "desired_capacity");
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
        if let Some(t) = string(config, "wait_for_capacity_timeout")
            && parse_timeout(&t).is_none()
        {
            out.push(format!(
                "wait_for_capacity_timeout {t:?} is not a duration like \"10m\" or \"0\""
            ));
        }
        if let Some(t) = string(config, "health_check_type")
            && t != "EC2"
            && t != "ELB"
        {
            out.push(format!(
                "health_check_type {t:?} must be \"EC2\" or \"ELB\""
            ));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find(c, key).await
    }

    async fn health(&self, c: &Clients, id: &str, state: &Value) -> Option<Result<String, Error>> {
        Some(wait_for_capacity(c, id, state).await)
    }
}
