//! `aws_lb_listener` (and its alias `aws_alb_listener`): the traffic switch. Its `default_action` is run-time configuration, changed in place with ModifyListener; traffic moved outside kiln is drift, set back in place.

use super::lb::describe_lbs;
use super::*;

fn actions(config: &Value) -> Vec<Action> {
    actions_of(objects(config, "default_action"))
}

fn listener_computed(l: &Listener) -> Vec<(&'static str, Value)> {
    let arn = l.listener_arn().unwrap_or_default();
    vec![("id", s(arn)), ("arn", s(arn))]
}

pub async fn create_listener(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let lb = string(config, "load_balancer_arn");
    let tags = elb_tags(&ctx.tags(&tags(config)));
    let l = &create_once(
        || async {
            let out = ctx
                .c
                .elb_once
                .create_listener()
                .set_load_balancer_arn(lb.clone())
                .set_port(number(config, "port").map(|x| x as i32))
                .set_protocol(string(config, "protocol").map(|p| ProtocolEnum::from(p.as_str())))
                .set_default_actions(Some(actions(config)))
                .set_certificates(string(config, "certificate_arn").map(|arn| {
                    vec![
                        aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                            .certificate_arn(arn)
                            .build(),
                    ]
                }))
                .set_ssl_policy(string(config, "ssl_policy"))
                .set_alpn_policy(string(config, "alpn_policy").map(|p| vec![p]))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(api("CreateListener"))?;
            out.listeners()
                .first()
                .cloned()
                .ok_or_else(|| Error::new("CreateListener returned no listener"))
        },
        // An earlier try's listener is on this very load balancer.
        || async {
            let Some(lb) = &lb else { return Ok(None) };
            let on_lb = describe_listeners(ctx.c, Vec::new(), Some(lb)).await?;
            mine(ctx, on_lb, |l| l.listener_arn()).await
        },
    )
    .await?;
    let arn = l.listener_arn().unwrap_or_default().to_string();
    Ok((arn, state(config, listener_computed(l))))
}

async fn describe_listeners(
    c: &Clients,
    arns: Vec<String>,
    lb: Option<&str>,
) -> Result<Vec<Listener>, Error> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .elb
            .describe_listeners()
            .set_listener_arns((!arns.is_empty()).then(|| arns.clone()))
            .set_load_balancer_arn(lb.map(str::to_string))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(api("DescribeListeners"))?;
        out.extend(page.listeners().iter().cloned());
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

/// Where a listener's actions send traffic: target group ARN → weight (a
/// single target group, or one without a weight, counts as weight 1).
fn forwarding(actions: &[Action]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for a in actions {
        let groups = a
            .forward_config()
            .map(|f| f.target_groups())
            .unwrap_or_default();
        if groups.is_empty()
            && let Some(arn) = a.target_group_arn()
        {
            out.insert(arn.to_string(), 1);
        }
        for g in groups {
            if let Some(arn) = g.target_group_arn() {
                out.insert(arn.to_string(), g.weight().map_or(1, i64::from));
            }
        }
    }
    out
}

/// The same for a listener's `default_action` as kiln recorded it.
fn forwarding_recorded(state: &Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for a in objects(state, "default_action") {
        let groups = a
            .get("forward")
            .map(|f| objects(f, "target_group"))
            .unwrap_or_default();
        if groups.is_empty()
            && let Some(arn) = string(a, "target_group_arn")
        {
            out.insert(arn, 1);
        }
        for g in groups {
            if let Some(arn) = string(g, "arn") {
                out.insert(arn, number(g, "weight").unwrap_or(1));
            }
        }
    }
    out
}

/// `default_action` as the configuration would write `forwarding`.
fn default_action_of(forwarding: &BTreeMap<String, i64>) -> Value {
    let action = match forwarding.iter().next() {
        Some((arn, 1)) if forwarding.len() == 1 => Value::map([
            ("type", s("forward")),
            ("target_group_arn", s(arn.as_str())),
            ("forward", Value::Null),
        ]),
        _ => Value::map([
            ("type", s("forward")),
            ("target_group_arn", Value::Null),
            (
                "forward",
                Value::map([(
                    "target_group",
                    Value::List(
                        forwarding
                            .iter()
                            .map(|(arn, w)| {
                                Value::map([
                                    ("arn", s(arn.as_str())),
                                    ("weight", crate::values::n(*w)),
                                ])
                            })
                            .collect(),
                    ),
                )]),
            ),
        ]),
    };
    Value::List(vec![action].into())
}

fn show_forwarding(f: &BTreeMap<String, i64>) -> String {
    if f.is_empty() {
        return "nothing".into();
    }
    f.iter()
        .map(|(arn, w)| {
            // arn:aws:elasticloadbalancing:…:targetgroup/NAME/ID → NAME
            let name = arn.split('/').nth(1).unwrap_or(arn);
            format!("{name} (weight {w})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads listeners back. A listener whose traffic was moved outside kiln
/// is drift: its state takes the real forwarding (so the plan sets it back
/// in place, a listener being a traffic switch) and the answer says where
/// the traffic goes instead.
pub async fn read_listeners(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<(Option<Value>, Option<String>)>, Error> {
    let arns: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
    let found: BTreeMap<String, Listener> =
        describe_arns(&arns, |a| describe_listeners(c, a, None))
            .await?
            .into_iter()
            .map(|l| (l.listener_arn().unwrap_or_default().to_string(), l))
            .collect();
    Ok(items
        .iter()
        .map(|(id, prior)| {
            let Some(l) = found.get(*id) else {
                return (None, None);
            };
            let mut fields = listener_computed(l);
            let (real, recorded) = (forwarding(l.default_actions()), forwarding_recorded(prior));
            let drift = (real != recorded).then(|| {
                fields.push(("default_action", default_action_of(&real)));
                format!(
                    "it forwards to {} instead of {}",
                    show_forwarding(&real),
                    show_forwarding(&recorded)
                )
            });
            (Some(refreshed(prior, fields)), drift)
        })
        .collect())
}

pub async fn find_listener(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let mut all = Vec::new();
    for lb in describe_lbs(c, Vec::new()).await? {
        if let Some(arn) = lb.load_balancer_arn() {
            all.extend(describe_listeners(c, Vec::new(), Some(arn)).await?);
        }
    }
    let arns = all
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let Some((arn, user)) = find_tagged(c, arns, key).await? else {
        return Ok(None);
    };
    let Some(l) = all.iter().find(|l| l.listener_arn() == Some(arn.as_str())) else {
        return Ok(None);
    };
    let mut fields = listener_computed(l);
    fields.extend([
        ("load_balancer_arn", opt_s(l.load_balancer_arn())),
        (
            "port",
            l.port()
                .map_or(Value::Null, |p| crate::values::n(i64::from(p))),
        ),
        ("protocol", opt_s(l.protocol().map(|p| p.as_str()))),
        ("tags", user),
    ]);
    Ok(Some((
        arn,
        crate::shape::adopted(&LbListener.schema(), fields),
    )))
}

/// `base` forwarding as `f` says (its `default_action` replaced).
fn with_forwarding(base: &Value, f: &BTreeMap<String, i64>) -> Value {
    let mut v = base.clone();
    if let Value::Map(m) = &mut v {
        m.insert("default_action", default_action_of(f));
    }
    v
}

/// One step of a progressive cut-over (docs/cutover.md): the target groups
/// `prior` forwards to and `planned` does not (the old generation) share
/// `100 - weight` percent of requests by their weights, `planned`'s target
/// groups `weight` percent by theirs. ELBv2 weights are whole numbers from
/// 0 to 999 (`TargetGroupTuple.Weight`): the largest share gets 999, the
/// others in proportion, so a share is exact to about 0.1%.
pub fn shift(req: &ShiftRequest) -> ShiftResponse {
    let prior = forwarding_recorded(&req.prior);
    let planned = forwarding_recorded(&req.planned);
    let old: BTreeMap<String, i64> = prior
        .iter()
        .filter(|(arn, w)| !planned.contains_key(*arn) && **w > 0)
        .map(|(a, w)| (a.clone(), *w))
        .collect();
    let mut resp = ShiftResponse {
        old: old.keys().cloned().collect(),
        new: planned.keys().cloned().collect(),
        ..ShiftResponse::default()
    };
    if old.is_empty() || req.weight >= 100.0 {
        resp.state = req.planned.clone();
        return resp;
    }
    if req.weight <= 0.0 {
        // All on the old generation: the prior value itself unless it
        // already forwards to a new group (a shift restarted after a crash).
        resp.state = if prior.keys().any(|a| planned.contains_key(a)) {
            with_forwarding(&req.prior, &old)
        } else {
            req.prior.clone()
        };
        return resp;
    }
    let p = req.weight / 100.0;
    let total = |m: &BTreeMap<String, i64>| m.values().sum::<i64>().max(1) as f64;
    let (old_total, new_total) = (total(&old), total(&planned));
    let shares: Vec<(String, f64)> = old
        .iter()
        .map(|(a, w)| (a.clone(), *w as f64 / old_total * (1.0 - p)))
        .chain(
            planned
                .iter()
                .map(|(a, w)| (a.clone(), *w as f64 / new_total * p)),
        )
        .collect();
    let top = shares.iter().map(|(_, x)| *x).fold(0.0, f64::max);
    let weights: BTreeMap<String, i64> = shares
        .into_iter()
        .map(|(a, x)| {
            let w = if x > 0.0 {
                ((x / top * 999.0).round() as i64).max(1)
            } else {
                0
            };
            (a, w)
        })
        .collect();
    resp.state = with_forwarding(&req.planned, &weights);
    resp
}

/// The request counters of each target group a listener forwards to, from
/// CloudWatch's `AWS/ApplicationELB` metrics (dimensions `TargetGroup` and
/// `LoadBalancer`): `RequestCount`, `HTTPCode_Target_5XX_Count` and
/// `TargetResponseTime` (seconds), each summed from `since_ms` to now.
pub async fn traffic(
    c: &Clients,
    req: &TrafficRequest,
) -> Result<BTreeMap<String, TrafficCounters>, Error> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let suffix = |arn: &str, kind: &str| arn.split_once(kind).map(|(_, rest)| rest.to_string());
    let lb = string(&req.state, "load_balancer_arn").and_then(|a| suffix(&a, ":loadbalancer/"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut out = BTreeMap::new();
    for arn in forwarding_recorded(&req.state).keys() {
        // arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
        let Some((_, tg)) = arn.rsplit_once(':') else {
            continue;
        };
        let mut dims = vec![Dimension::builder().name("TargetGroup").value(tg).build()];
        if let Some(lb) = &lb {
            dims.push(Dimension::builder().name("LoadBalancer").value(lb).build());
        }
        let mut sums = [0.0f64; 3];
        for (k, metric) in [
            "RequestCount",
            "HTTPCode_Target_5XX_Count",
            "TargetResponseTime",
        ]
        .into_iter()
        .enumerate()
        {
            let r = c
                .cloudwatch
                .get_metric_statistics()
                .namespace("AWS/ApplicationELB")
                .metric_name(metric)
                .set_dimensions(Some(dims.clone()))
                .start_time(DateTime::from_millis(req.since_ms as i64))
                .end_time(DateTime::from_millis(now + 1000))
                .period(60)
                .statistics(Statistic::Sum)
                .send()
                .await
                .map_err(api("GetMetricStatistics"))?;
            sums[k] = r.datapoints().iter().filter_map(|d| d.sum()).sum();
        }
        out.insert(
            arn.clone(),
            TrafficCounters {
                requests: sums[0].max(0.0) as u64,
                errors: sums[1].max(0.0) as u64,
                latency_ms: sums[2] * 1000.0,
            },
        );
    }
    Ok(out)
}

pub async fn update_listener(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let changed = |a: &str| req.changed.iter().any(|c| c == a);
    if changed("default_action")
        || changed("certificate_arn")
        || changed("ssl_policy")
        || changed("alpn_policy")
    {
        let p = &req.planned;
        ctx.c
            .elb
            .modify_listener()
            .listener_arn(&req.id)
            .set_default_actions(Some(actions(p)))
            .set_certificates(string(p, "certificate_arn").map(|arn| {
                vec![
                    aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                        .certificate_arn(arn)
                        .build(),
                ]
            }))
            .set_ssl_policy(string(p, "ssl_policy"))
            .set_alpn_policy(string(p, "alpn_policy").map(|a| vec![a]))
            .send()
            .await
            .map_err(api("ModifyListener"))?;
    }
    update_tags(ctx, req).await
}

pub async fn delete_listener(ctx: &Ctx<'_>, arn: &str) -> Result<(), Error> {
    match ctx
        .c
        .elb
        .delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .map_err(api("DeleteListener"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// `aws_lb_listener`.
pub struct LbListener;

#[async_trait]
impl Resource for LbListener {
    fn name(&self) -> &'static str {
        "aws_lb_listener"
    }

    fn schema(&self) -> ResourceSchema {
        let mut listener = ids(ResourceSchema::new())
            .attr("load_balancer_arn", A::required(str_t()))
            .attr("port", A::optional(num_t()))
            .attr("protocol", A::optional(str_t()))
            .attr(
                "default_action",
                A::required(Type::List(Box::new(action_t())))
                .runtime()
                .describe("forward to a target group, or to several with weights (the cut-over switch), a fixed response or a redirect; changed in place"),
            )
            .attr(
                "certificate_arn",
                A::optional(str_t())
                    .runtime()
                    .describe("the server certificate of an HTTPS or TLS listener, changed in place"),
            )
            .attr("ssl_policy", A::optional(str_t()).runtime())
            .attr("alpn_policy", A::optional(str_t()).runtime())
            .attr("tags", tags_attr());
        // A listener owns its port on the load balancer: --rebuild moves it
        // to the new generation in place instead of replacing it.
        listener.traffic_switch = true;
        listener
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_actions(objects(config, "default_action"), "default_action", out);
        let secure = matches!(string(config, "protocol").as_deref(), Some("HTTPS" | "TLS"));
        if secure && config.get("certificate_arn").is_some_and(Value::is_null) {
            out.push("an HTTPS or TLS listener needs certificate_arn".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_listener(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        Ok(read_listeners(c, items)
            .await?
            .into_iter()
            .map(|(state, drift)| Observed { state, drift })
            .collect())
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_listener(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_listener(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_listener(c, key).await
    }
}
