//! `aws_lb_target_group` (and its alias `aws_alb_target_group`).

use super::*;

fn tg_computed(tg: &TargetGroup) -> Vec<(&'static str, Value)> {
    let arn = tg.target_group_arn().unwrap_or_default();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        ("arn_suffix", arn_suffix(arn)),
        ("name", opt_s(tg.target_group_name())),
    ]
}

async fn describe_tgs(c: &Clients, arns: Vec<String>) -> Result<Vec<TargetGroup>, Error> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .elb
            .describe_target_groups()
            .set_target_group_arns((!arns.is_empty()).then(|| arns.clone()))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(api("DescribeTargetGroups"))?;
        out.extend(page.target_groups().iter().cloned());
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

pub async fn create_target_group(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let tg = &create_once(
        || send_create_target_group(ctx, config, &name),
        || async {
            let out = ctx
                .c
                .elb
                .describe_target_groups()
                .names(&name)
                .send()
                .await
                .map_err(api("DescribeTargetGroups"));
            let tgs = match out {
                Ok(out) => out.target_groups().to_vec(),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            mine(ctx, tgs, |tg| tg.target_group_arn()).await
        },
    )
    .await?;
    let arn = tg.target_group_arn().unwrap_or_default().to_string();
    Ok((arn, state(config, tg_computed(tg))))
}

async fn send_create_target_group(
    ctx: &Ctx<'_>,
    config: &Value,
    name: &str,
) -> Result<TargetGroup, Error> {
    let mut req = ctx
        .c
        .elb_once
        .create_target_group()
        .name(name)
        .set_port(number(config, "port").map(|x| x as i32))
        .set_protocol(string(config, "protocol").map(|p| ProtocolEnum::from(p.as_str())))
        .set_vpc_id(string(config, "vpc_id"))
        .target_type(TargetTypeEnum::from(
            string(config, "target_type")
                .as_deref()
                .unwrap_or("instance"),
        ))
        .set_tags(Some(elb_tags(&ctx.tags(&tags(config)))));
    if let Some(hc) = objects(config, "health_check").into_iter().next() {
        req = req
            .set_health_check_path(string(hc, "path"))
            .set_health_check_port(string(hc, "port"))
            .set_health_check_protocol(
                string(hc, "protocol").map(|p| ProtocolEnum::from(p.as_str())),
            )
            .set_matcher(string(hc, "matcher").map(|m| Matcher::builder().http_code(m).build()))
            .set_health_check_interval_seconds(number(hc, "interval").map(|x| x as i32))
            .set_health_check_timeout_seconds(number(hc, "timeout").map(|x| x as i32))
            .set_healthy_threshold_count(number(hc, "healthy_threshold").map(|x| x as i32))
            .set_unhealthy_threshold_count(number(hc, "unhealthy_threshold").map(|x| x as i32));
    }
    let out = req.send().await.map_err(api("CreateTargetGroup"))?;
    out.target_groups()
        .first()
        .cloned()
        .ok_or_else(|| Error::new("CreateTargetGroup returned no target group"))
}

pub async fn read_target_groups(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let arns: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
    let found: BTreeMap<String, TargetGroup> = describe_arns(&arns, |a| describe_tgs(c, a))
        .await?
        .into_iter()
        .map(|tg| (tg.target_group_arn().unwrap_or_default().to_string(), tg))
        .collect();
    Ok(items
        .iter()
        .map(|(id, prior)| found.get(*id).map(|tg| refreshed(prior, tg_computed(tg))))
        .collect())
}

pub async fn find_target_group(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let tgs = describe_tgs(c, Vec::new()).await?;
    let arns = tgs
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_string))
        .collect();
    let Some((arn, user)) = find_tagged(c, arns, key).await? else {
        return Ok(None);
    };
    let Some(tg) = tgs
        .iter()
        .find(|t| t.target_group_arn() == Some(arn.as_str()))
    else {
        return Ok(None);
    };
    let mut fields = tg_computed(tg);
    fields.extend([
        (
            "port",
            tg.port()
                .map_or(Value::Null, |p| crate::values::n(i64::from(p))),
        ),
        ("protocol", opt_s(tg.protocol().map(|p| p.as_str()))),
        ("vpc_id", opt_s(tg.vpc_id())),
        ("tags", user),
    ]);
    Ok(Some((
        arn,
        crate::shape::adopted(&LbTargetGroup.schema(), fields),
    )))
}

pub async fn delete_target_group(ctx: &Ctx<'_>, arn: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("target group {arn}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteTargetGroup"))
    })
    .await
}

/// `aws_lb_target_group`.
pub struct LbTargetGroup;

#[async_trait]
impl Resource for LbTargetGroup {
    fn name(&self) -> &'static str {
        "aws_lb_target_group"
    }

    fn schema(&self) -> ResourceSchema {
        named(ids(ResourceSchema::new()), NAME_MAX)
            .attr("port", A::optional(num_t()))
            .attr("protocol", A::optional(str_t()))
            .attr("vpc_id", A::optional(str_t()))
            .attr("target_type", A::optional(str_t()))
            .attr(
                "health_check",
                A::optional(obj(&[
                    ("path", str_t()),
                    ("port", str_t()),
                    ("protocol", str_t()),
                    ("matcher", str_t()),
                    ("interval", num_t()),
                    ("timeout", num_t()),
                    ("healthy_threshold", num_t()),
                    ("unhealthy_threshold", num_t()),
                ])),
            )
            .attr("arn_suffix", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_target_group(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_target_groups(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_target_group(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_target_group(c, key).await
    }
}
