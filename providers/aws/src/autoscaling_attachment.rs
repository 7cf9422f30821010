//! `aws_autoscaling_attachment`: a target group (`lb_target_group_arn`) or
//! a Classic load balancer (`elb`) attached to an Auto Scaling group, id
//! `{group}/{target}`. Attach calls are idempotent; a pair is attached
//! once, so two resources attaching the same pair are refused at plan time.

use async_trait::async_trait;
use kiln_model::Value;
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, api};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, str_t};
use crate::values::{refreshed, s, state, string};

fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

/// `aws_autoscaling_attachment`.
pub struct AutoscalingAttachment;

#[async_trait]
impl Resource for AutoscalingAttachment {
    fn name(&self) -> &'static str {
        "aws_autoscaling_attachment"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("autoscaling_group_name", A::required(str_t()))
            .attr("lb_target_group_arn", A::optional(str_t()))
            .attr("elb", A::optional(str_t()))
            .exclusive(&["autoscaling_group_name", "lb_target_group_arn"])
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let tg = config
            .get("lb_target_group_arn")
            .is_some_and(|v| !v.is_null());
        let elb = config.get("elb").is_some_and(|v| !v.is_null());
        if tg == elb {
            out.push("set exactly one of lb_target_group_arn and elb".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let group = string(config, "autoscaling_group_name").unwrap_or_default();
        let target = if let Some(tg) = string(config, "lb_target_group_arn") {
            ctx.c
                .asg
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(&group)
                .target_group_arns(&tg)
                .send()
                .await
                .map_err(api("AttachLoadBalancerTargetGroups"))?;
            tg
        } else {
            let elb = string(config, "elb").unwrap_or_default();
            ctx.c
                .asg
                .attach_load_balancers()
                .auto_scaling_group_name(&group)
                .load_balancer_names(&elb)
                .send()
                .await
                .map_err(api("AttachLoadBalancers"))?;
            elb
        };
        let id = format!("{group}/{target}");
        Ok((id.clone(), state(config, [("id", s(id))])))
    }

    /// One DescribeAutoScalingGroups for the batch's groups.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut groups: Vec<String> = items
            .iter()
            .map(|(id, _)| split(id).0.to_string())
            .collect();
        groups.sort();
        groups.dedup();
        let mut attached = std::collections::BTreeMap::new();
        for chunk in crate::api::chunks(&groups, 50) {
            let out = c
                .asg
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(api("DescribeAutoScalingGroups"))?;
            for g in out.auto_scaling_groups() {
                let mut targets: Vec<String> = g.target_group_arns().to_vec();
                targets.extend(g.load_balancer_names().iter().cloned());
                attached.insert(
                    g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    targets,
                );
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    let (group, target) = split(id);
                    attached
                        .get(group)?
                        .iter()
                        .any(|t| t == target)
                        .then(|| refreshed(prior, [("id", s(*id))]))
                })
                .collect(),
        ))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        let (group, target) = split(id);
        let detached = if string(state, "lb_target_group_arn").is_some() {
            ctx.c
                .asg
                .detach_load_balancer_target_groups()
                .auto_scaling_group_name(group)
                .target_group_arns(target)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DetachLoadBalancerTargetGroups"))
        } else {
            ctx.c
                .asg
                .detach_load_balancers()
                .auto_scaling_group_name(group)
                .load_balancer_names(target)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DetachLoadBalancers"))
        };
        match detached {
            Err(e) if e.is_not_found() || e.message.contains("not found") => Ok(()),
            other => other,
        }
    }

    /// Attachments carry no tags; attaching again is harmless.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
