//! `aws_autoscaling_policy` and `aws_autoscaling_schedule`: how an Auto
//! Scaling group's capacity follows load or the clock. Both are run-time
//! configuration of their group: PutScalingPolicy and
//! PutScheduledUpdateGroupAction write a policy or an action whole, so
//! every argument but the name and the group changes in place. Neither
//! carries tags; writing one again is harmless, so a retried create needs
//! no look-up. Their ids are `{group}/{name}` (Terraform's are the name
//! alone), and their names follow the physical-name rule: names are unique
//! per group in AWS, but a replacement (in a new group generation) takes a
//! derived name while the live one holds the written name, so no two live
//! objects ever share a name or an id (moto, the emulator, even keys
//! policies by name alone).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    PredefinedMetricSpecification, StepAdjustment, TargetTrackingConfiguration,
};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, api};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, bool_t, num_t, obj, opt_computed, str_t};
use crate::values::{boolean, number, objects, opt_s, refreshed, s, state, string};

/// Auto Scaling's limit on policy and scheduled action names.
const NAME_MAX: usize = 255;

fn group_of(v: &Value) -> String {
    string(v, "autoscaling_group_name").unwrap_or_default()
}

/// A bound of a step: Terraform writes it as a string ("" for none).
fn bound(v: &Value, attr: &str) -> Option<f64> {
    number_f(v, attr).or_else(|| string(v, attr)?.parse().ok())
}

fn number_f(v: &Value, attr: &str) -> Option<f64> {
    match v.get(attr).map(Value::unmarked) {
        Some(Value::Number(n)) => n.to_string().parse().ok(),
        _ => None,
    }
}

async fn put_policy(ctx: &Ctx<'_>, config: &Value) -> Result<Option<String>, Error> {
    let steps: Vec<StepAdjustment> = objects(config, "step_adjustment")
        .into_iter()
        .map(|s| {
            StepAdjustment::builder()
                .set_scaling_adjustment(number(s, "scaling_adjustment").map(|n| n as i32))
                .set_metric_interval_lower_bound(bound(s, "metric_interval_lower_bound"))
                .set_metric_interval_upper_bound(bound(s, "metric_interval_upper_bound"))
                .build()
        })
        .collect();
    let tracking = objects(config, "target_tracking_configuration")
        .first()
        .map(|t| {
            let predefined = objects(t, "predefined_metric_specification")
                .first()
                .map(|p| {
                    PredefinedMetricSpecification::builder()
                        .set_predefined_metric_type(
                            string(p, "predefined_metric_type").map(|m| m.as_str().into()),
                        )
                        .set_resource_label(string(p, "resource_label"))
                        .build()
                });
            TargetTrackingConfiguration::builder()
                .set_predefined_metric_specification(predefined)
                .set_target_value(number_f(t, "target_value"))
                .set_disable_scale_in(boolean(t, "disable_scale_in"))
                .build()
        });
    let out = ctx
        .c
        .asg
        .put_scaling_policy()
        .auto_scaling_group_name(group_of(config))
        .set_policy_name(string(config, "name"))
        .set_policy_type(string(config, "policy_type"))
        .set_adjustment_type(string(config, "adjustment_type"))
        .set_scaling_adjustment(number(config, "scaling_adjustment").map(|n| n as i32))
        .set_cooldown(number(config, "cooldown").map(|n| n as i32))
        .set_min_adjustment_magnitude(number(config, "min_adjustment_magnitude").map(|n| n as i32))
        .set_estimated_instance_warmup(
            number(config, "estimated_instance_warmup").map(|n| n as i32),
        )
        .set_metric_aggregation_type(string(config, "metric_aggregation_type"))
        .set_enabled(boolean(config, "enabled"))
        .set_step_adjustments((!steps.is_empty()).then_some(steps))
        .set_target_tracking_configuration(tracking)
        .send()
        .await
        .map_err(api("PutScalingPolicy"))?;
    if let Some(arn) = out.policy_arn() {
        return Ok(Some(arn.to_string()));
    }
    // Not every endpoint answers with the ARN: ask for it.
    let found = ctx
        .c
        .asg
        .describe_policies()
        .auto_scaling_group_name(group_of(config))
        .set_policy_names(string(config, "name").map(|n| vec![n]))
        .send()
        .await
        .map_err(api("DescribePolicies"))?;
    Ok(found
        .scaling_policies()
        .first()
        .and_then(|p| p.policy_arn().map(str::to_string)))
}

/// `aws_autoscaling_policy`.
pub struct AutoscalingPolicy;

#[async_trait]
impl Resource for AutoscalingPolicy {
    fn name(&self) -> &'static str {
        "aws_autoscaling_policy"
    }

    fn schema(&self) -> ResourceSchema {
        let rt = |t: Type| A::optional(t).runtime();
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("name", A::required(str_t()))
            .attr("autoscaling_group_name", A::required(str_t()))
            .attr(
                "policy_type",
                opt_computed(str_t()).runtime().describe(
                    "\"SimpleScaling\" (default), \"StepScaling\", \"TargetTrackingScaling\" or \"PredictiveScaling\"",
                ),
            )
            .attr("adjustment_type", rt(str_t()))
            .attr("scaling_adjustment", rt(num_t()))
            .attr("cooldown", rt(num_t()))
            .attr("min_adjustment_magnitude", rt(num_t()))
            .attr("estimated_instance_warmup", rt(num_t()))
            .attr("metric_aggregation_type", rt(str_t()))
            .attr("enabled", rt(bool_t()))
            .attr(
                "step_adjustment",
                rt(Type::List(Box::new(obj(&[
                    ("scaling_adjustment", num_t()),
                    ("metric_interval_lower_bound", str_t()),
                    ("metric_interval_upper_bound", str_t()),
                ])))),
            )
            .attr(
                "target_tracking_configuration",
                rt(obj(&[
                    (
                        "predefined_metric_specification",
                        obj(&[
                            ("predefined_metric_type", str_t()),
                            ("resource_label", str_t()),
                        ]),
                    ),
                    ("target_value", num_t()),
                    ("disable_scale_in", bool_t()),
                ])),
            )
            .physical_name("name", NAME_MAX)
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        match string(config, "policy_type").as_deref() {
            None
            | Some("SimpleScaling" | "StepScaling" | "TargetTrackingScaling" | "PredictiveScaling") => {}
            Some(other) => out.push(format!(
                "policy_type {other:?} must be \"SimpleScaling\", \"StepScaling\", \"TargetTrackingScaling\" or \"PredictiveScaling\""
            )),
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let config = &state(config, [("name", s(ctx.name(config, NAME_MAX)))]);
        let arn = put_policy(ctx, config).await?;
        let name = ctx.name(config, NAME_MAX);
        let id = format!("{}/{name}", group_of(config));
        let computed = [
            ("id", s(&id)),
            ("arn", arn.map_or(Value::Null, s)),
            (
                "policy_type",
                s(string(config, "policy_type").unwrap_or_else(|| "SimpleScaling".into())),
            ),
        ];
        Ok((id, state(config, computed)))
    }

    /// One DescribePolicies per group of the batch.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut by_group: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (_, prior) in items {
            let group = group_of(prior);
            if by_group.contains_key(&group) {
                continue;
            }
            let mut policies = BTreeMap::new();
            let mut pages = c
                .asg
                .describe_policies()
                .auto_scaling_group_name(&group)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                match page.map_err(api("DescribePolicies")) {
                    Ok(p) => {
                        for policy in p.scaling_policies() {
                            policies.insert(
                                policy.policy_name().unwrap_or_default().to_string(),
                                policy.policy_arn().unwrap_or_default().to_string(),
                            );
                        }
                    }
                    Err(e) if e.is_not_found() || e.message.contains("not found") => break,
                    Err(e) => return Err(e),
                }
            }
            by_group.insert(group, policies);
        }
        Ok(observed(
            items
                .iter()
                .map(|(_, prior)| {
                    let name = string(prior, "name")?;
                    let arn = by_group.get(&group_of(prior))?.get(&name)?;
                    Some(refreshed(prior, [("arn", s(arn))]))
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        put_policy(ctx, &req.planned).await.map(|_| ())
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        match ctx
            .c
            .asg
            .delete_policy()
            .auto_scaling_group_name(group_of(state))
            .set_policy_name(string(state, "name"))
            .send()
            .await
            .map_err(api("DeletePolicy"))
        {
            Err(e) if e.is_not_found() || e.message.contains("not found") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}

fn time(v: &Value, attr: &str) -> Result<Option<aws_sdk_autoscaling::primitives::DateTime>, Error> {
    string(v, attr)
        .map(|t| {
            aws_sdk_autoscaling::primitives::DateTime::from_str(
                &t,
                aws_sdk_autoscaling::primitives::DateTimeFormat::DateTime,
            )
            .map_err(|_| {
                Error::new(format!(
                    "{attr} {t:?} is not a UTC time like \"2026-12-01T18:00:00Z\""
                ))
            })
        })
        .transpose()
}

async fn put_schedule(ctx: &Ctx<'_>, config: &Value) -> Result<(), Error> {
    ctx.c
        .asg
        .put_scheduled_update_group_action()
        .auto_scaling_group_name(group_of(config))
        .set_scheduled_action_name(string(config, "scheduled_action_name"))
        .set_min_size(number(config, "min_size").map(|n| n as i32))
        .set_max_size(number(config, "max_size").map(|n| n as i32))
        .set_desired_capacity(number(config, "desired_capacity").map(|n| n as i32))
        .set_recurrence(string(config, "recurrence"))
        .set_start_time(time(config, "start_time")?)
        .set_end_time(time(config, "end_time")?)
        .set_time_zone(string(config, "time_zone"))
        .send()
        .await
        .map(|_| ())
        .map_err(api("PutScheduledUpdateGroupAction"))
}

/// `aws_autoscaling_schedule`.
pub struct AutoscalingSchedule;

#[async_trait]
impl Resource for AutoscalingSchedule {
    fn name(&self) -> &'static str {
        "aws_autoscaling_schedule"
    }

    fn schema(&self) -> ResourceSchema {
        let rt = |t: Type| A::optional(t).runtime();
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("scheduled_action_name", A::required(str_t()))
            .attr("autoscaling_group_name", A::required(str_t()))
            .attr("min_size", rt(num_t()))
            .attr("max_size", rt(num_t()))
            .attr("desired_capacity", rt(num_t()))
            .attr(
                "recurrence",
                rt(str_t()).describe("a cron expression in time_zone (UTC by default)"),
            )
            .attr("start_time", rt(str_t()).describe("RFC 3339, UTC"))
            .attr("end_time", rt(str_t()).describe("RFC 3339, UTC"))
            .attr("time_zone", rt(str_t()))
            .physical_name("scheduled_action_name", NAME_MAX)
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        for attr in ["start_time", "end_time"] {
            if let Err(e) = time(config, attr) {
                out.push(e.message);
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name_from(config, "scheduled_action_name", NAME_MAX);
        let config = &state(config, [("scheduled_action_name", s(&name))]);
        put_schedule(ctx, config).await?;
        let arn = describe_schedules(ctx.c, &group_of(config))
            .await?
            .remove(&name)
            .unwrap_or_default();
        let id = format!("{}/{name}", group_of(config));
        Ok((id.clone(), state(config, [("id", s(&id)), ("arn", s(arn))])))
    }

    /// One DescribeScheduledActions per group of the batch.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut by_group: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (_, prior) in items {
            let group = group_of(prior);
            if let std::collections::btree_map::Entry::Vacant(slot) = by_group.entry(group) {
                let found = describe_schedules(c, slot.key()).await?;
                slot.insert(found);
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(_, prior)| {
                    let name = string(prior, "scheduled_action_name")?;
                    let arn = by_group.get(&group_of(prior))?.get(&name)?;
                    Some(refreshed(prior, [("arn", opt_s(Some(arn)))]))
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        put_schedule(ctx, &req.planned).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        match ctx
            .c
            .asg
            .delete_scheduled_action()
            .auto_scaling_group_name(group_of(state))
            .set_scheduled_action_name(string(state, "scheduled_action_name"))
            .send()
            .await
            .map_err(api("DeleteScheduledAction"))
        {
            Err(e) if e.is_not_found() || e.message.contains("not found") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}

/// A group's scheduled actions: name → ARN (none for a group that is gone).
async fn describe_schedules(c: &Clients, group: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    let mut pages = c
        .asg
        .describe_scheduled_actions()
        .auto_scaling_group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page.map_err(api("DescribeScheduledActions")) {
            Ok(p) => {
                for a in p.scheduled_update_group_actions() {
                    out.insert(
                        a.scheduled_action_name().unwrap_or_default().to_string(),
                        a.scheduled_action_arn().unwrap_or_default().to_string(),
                    );
                }
            }
            Err(e) if e.is_not_found() || e.message.contains("not found") => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
