//! `aws_lb_target_group_attachment`: one target (an instance id, an IP
//! address or a Lambda ARN, with its `port`) registered in a target group,
//! id `{target_group_arn}/{target_id}:{port}`. RegisterTargets is
//! idempotent; a target and port are registered once per group.

use aws_sdk_elasticloadbalancingv2::types::TargetDescription;

use super::*;

fn target(config: &Value) -> TargetDescription {
    TargetDescription::builder()
        .set_id(string(config, "target_id"))
        .set_port(number(config, "port").map(|p| p as i32))
        .set_availability_zone(string(config, "availability_zone"))
        .build()
}

/// `aws_lb_target_group_attachment`.
pub struct LbTargetGroupAttachment;

#[async_trait]
impl Resource for LbTargetGroupAttachment {
    fn name(&self) -> &'static str {
        "aws_lb_target_group_attachment"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("target_group_arn", A::required(str_t()))
            .attr("target_id", A::required(str_t()))
            .attr("port", A::optional(num_t()))
            .attr("availability_zone", A::optional(str_t()))
            .exclusive(&["target_group_arn", "target_id", "port"])
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let tg = string(config, "target_group_arn").unwrap_or_default();
        ctx.c
            .elb
            .register_targets()
            .target_group_arn(&tg)
            .targets(target(config))
            .send()
            .await
            .map_err(api("RegisterTargets"))?;
        let id = format!(
            "{tg}/{}:{}",
            string(config, "target_id").unwrap_or_default(),
            number(config, "port").map_or(String::new(), |p| p.to_string())
        );
        Ok((id.clone(), state(config, [("id", s(id))])))
    }

    /// One DescribeTargetHealth per target group of the batch.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut registered: BTreeMap<String, Option<Vec<(String, Option<i32>)>>> = BTreeMap::new();
        for (_, prior) in items {
            let tg = string(prior, "target_group_arn").unwrap_or_default();
            if registered.contains_key(&tg) {
                continue;
            }
            let got = c
                .elb
                .describe_target_health()
                .target_group_arn(&tg)
                .send()
                .await
                .map_err(api("DescribeTargetHealth"));
            let targets = match got {
                Ok(out) => Some(
                    out.target_health_descriptions()
                        .iter()
                        .filter_map(|d| {
                            let t = d.target()?;
                            Some((t.id()?.to_string(), t.port()))
                        })
                        .collect(),
                ),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            registered.insert(tg, targets);
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| {
                    let tg = string(prior, "target_group_arn").unwrap_or_default();
                    let want = string(prior, "target_id").unwrap_or_default();
                    let port = number(prior, "port").map(|p| p as i32);
                    registered
                        .get(&tg)?
                        .as_ref()?
                        .iter()
                        .any(|(t, p)| *t == want && (port.is_none() || *p == port))
                        .then(|| refreshed(prior, [("id", s(*id))]))
                })
                .collect(),
        ))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        let tg = string(state, "target_group_arn").unwrap_or_default();
        match ctx
            .c
            .elb
            .deregister_targets()
            .target_group_arn(&tg)
            .targets(target(state))
            .send()
            .await
            .map_err(api("DeregisterTargets"))
        {
            Err(e) if e.is_not_found() || e.code() == "InvalidTarget" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Registrations carry no tags; registering again is harmless.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
