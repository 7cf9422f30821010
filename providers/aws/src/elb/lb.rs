//! `aws_lb` (and its alias `aws_alb`).

use super::*;

fn lb_computed(lb: &LoadBalancer) -> Vec<(&'static str, Value)> {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        ("arn_suffix", arn_suffix(arn)),
        ("name", opt_s(lb.load_balancer_name())),
        ("dns_name", opt_s(lb.dns_name())),
        ("zone_id", opt_s(lb.canonical_hosted_zone_id())),
    ]
}

pub(super) async fn describe_lbs(
    c: &Clients,
    arns: Vec<String>,
) -> Result<Vec<LoadBalancer>, Error> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .elb
            .describe_load_balancers()
            .set_load_balancer_arns((!arns.is_empty()).then(|| arns.clone()))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(api("DescribeLoadBalancers"))?;
        out.extend(page.load_balancers().iter().cloned());
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

pub async fn create_lb(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let scheme = if boolean(config, "internal") == Some(true) {
        LoadBalancerSchemeEnum::Internal
    } else {
        LoadBalancerSchemeEnum::InternetFacing
    };
    let sgs = strings(config, "security_groups");
    let tags = elb_tags(&ctx.tags(&tags(config)));
    let lb = &create_once(
        || async {
            let out = ctx
                .c
                .elb_once
                .create_load_balancer()
                .name(&name)
                .set_subnets(Some(strings(config, "subnets")))
                .set_security_groups((!sgs.is_empty()).then(|| sgs.clone()))
                .scheme(scheme.clone())
                .r#type(LoadBalancerTypeEnum::from(
                    string(config, "load_balancer_type")
                        .as_deref()
                        .unwrap_or("application"),
                ))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(api("CreateLoadBalancer"))?;
            out.load_balancers()
                .first()
                .cloned()
                .ok_or_else(|| Error::new("CreateLoadBalancer returned no load balancer"))
        },
        || async {
            let out = ctx
                .c
                .elb
                .describe_load_balancers()
                .names(&name)
                .send()
                .await
                .map_err(api("DescribeLoadBalancers"));
            let lbs = match out {
                Ok(out) => out.load_balancers().to_vec(),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            mine(ctx, lbs, |lb| lb.load_balancer_arn()).await
        },
    )
    .await?;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let partial = state(config, lb_computed(lb));
    // Wait until it is active (moto answers "active" at once).
    let active = wait_for(
        &format!("load balancer {name} to be active"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let lbs = describe_lbs(ctx.c, vec![arn.clone()]).await?;
            Ok(lbs.into_iter().find(|lb| {
                lb.state()
                    .and_then(|s| s.code())
                    .is_none_or(|c| c.as_str() == "active")
            }))
        },
    )
    .await
    .map_err(|e| e.after_creating(&arn, partial.clone()))?;
    set_attributes(ctx, &arn, config, None)
        .await
        .map_err(|e| e.after_creating(&arn, partial.clone()))?;
    Ok((arn, state(config, lb_computed(&active))))
}

pub async fn read_lbs(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let arns: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
    let found: BTreeMap<String, LoadBalancer> = describe_arns(&arns, |a| describe_lbs(c, a))
        .await?
        .into_iter()
        .map(|lb| (lb.load_balancer_arn().unwrap_or_default().to_string(), lb))
        .collect();
    Ok(items
        .iter()
        .map(|(id, prior)| found.get(*id).map(|lb| refreshed(prior, lb_computed(lb))))
        .collect())
}

pub async fn find_lb(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let lbs = describe_lbs(c, Vec::new()).await?;
    let arns = lbs
        .iter()
        .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
        .collect();
    let Some((arn, user)) = find_tagged(c, arns, key).await? else {
        return Ok(None);
    };
    let Some(lb) = lbs
        .iter()
        .find(|lb| lb.load_balancer_arn() == Some(arn.as_str()))
    else {
        return Ok(None);
    };
    let mut fields = lb_computed(lb);
    fields.extend([
        (
            "internal",
            Value::Bool(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)),
        ),
        ("load_balancer_type", opt_s(lb.r#type().map(|t| t.as_str()))),
        (
            "security_groups",
            crate::values::list(lb.security_groups().iter().cloned()),
        ),
        (
            "subnets",
            crate::values::list(
                lb.availability_zones()
                    .iter()
                    .filter_map(|z| z.subnet_id().map(str::to_string)),
            ),
        ),
        ("tags", user),
    ]);
    Ok(Some((arn, crate::shape::adopted(&Lb.schema(), fields))))
}

/// The load balancer attributes Terraform sets as arguments: argument and
/// attribute key (ModifyLoadBalancerAttributes).
const ATTRIBUTES: &[(&str, &str)] = &[
    ("enable_deletion_protection", "deletion_protection.enabled"),
    (
        "enable_cross_zone_load_balancing",
        "load_balancing.cross_zone.enabled",
    ),
    ("enable_http2", "routing.http2.enabled"),
    ("idle_timeout", "idle_timeout.timeout_seconds"),
    (
        "drop_invalid_header_fields",
        "routing.http.drop_invalid_header_fields.enabled",
    ),
];

/// ModifyLoadBalancerAttributes with the configured ones (those set, or
/// all of `changed` when updating).
async fn set_attributes(
    ctx: &Ctx<'_>,
    arn: &str,
    config: &Value,
    only: Option<&[String]>,
) -> Result<(), Error> {
    let attrs: Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute> = ATTRIBUTES
        .iter()
        .filter(|(arg, _)| only.is_none_or(|c| c.iter().any(|x| x == arg)))
        .filter_map(|(arg, key)| {
            let value = match config.get(arg).map(Value::unmarked) {
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            Some(
                aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                    .key(*key)
                    .value(value)
                    .build(),
            )
        })
        .collect();
    if attrs.is_empty() {
        return Ok(());
    }
    ctx.c
        .elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attrs))
        .send()
        .await
        .map(|_| ())
        .map_err(api("ModifyLoadBalancerAttributes"))
}

pub async fn delete_lb(ctx: &Ctx<'_>, arn: &str) -> Result<(), Error> {
    match ctx
        .c
        .elb
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(api("DeleteLoadBalancer"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// `aws_lb`.
pub struct Lb;

#[async_trait]
impl Resource for Lb {
    fn name(&self) -> &'static str {
        "aws_lb"
    }

    fn schema(&self) -> ResourceSchema {
        named(ids(ResourceSchema::new()), NAME_MAX)
            .attr("internal", A::optional(bool_t()))
            .attr("load_balancer_type", A::optional(str_t()))
            .attr("security_groups", A::optional(strs_t()))
            .attr("subnets", A::optional(strs_t()))
            .attr(
                "enable_deletion_protection",
                A::optional(bool_t())
                    .runtime()
                    .describe("refuses a delete (and so a replacement) while on"),
            )
            .attr(
                "enable_cross_zone_load_balancing",
                A::optional(bool_t()).runtime(),
            )
            .attr("enable_http2", A::optional(bool_t()).runtime())
            .attr(
                "idle_timeout",
                A::optional(num_t()).runtime().describe("seconds"),
            )
            .attr(
                "drop_invalid_header_fields",
                A::optional(bool_t()).runtime(),
            )
            .attr("dns_name", A::computed(str_t()))
            .attr("zone_id", A::computed(str_t()))
            .attr("arn_suffix", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_lb(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_lbs(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        set_attributes(ctx, &req.id, &req.planned, Some(&req.changed)).await?;
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        if boolean(state, "enable_deletion_protection") == Some(true) {
            return Err(
                Error::new(format!("load balancer {id} has deletion protection on")).with_detail(
                    "set enable_deletion_protection = false and apply, then delete or replace it",
                ),
            );
        }
        delete_lb(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_lb(c, key).await
    }
}
