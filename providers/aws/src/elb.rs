//! ELBv2: `aws_lb`, `aws_lb_target_group` and `aws_lb_listener`. The
//! listener's `default_action` (forward, with weighted target groups) is
//! run-time configuration: the cut-over switch, changed in place with
//! ModifyListener. Load balancers and target groups are named by
//! generation (32 characters at most, as ELBv2 requires).
//!
//! Reads pass ARN lists (20 per call, ELBv2's limit for load balancers);
//! when one ARN is gone the whole call fails, so kiln then asks one by one.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Listener, LoadBalancer, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, Matcher, ProtocolEnum, Tag, TargetGroup, TargetGroupTuple,
    TargetTypeEnum,
};
use kiln_model::Value;
use kiln_provider::UpdateRequest;

use crate::api::{
    Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, TAG_KEY, api, chunks, create_once,
    retry_while_in_use, wait_for,
};
use crate::values::{boolean, number, objects, opt_s, refreshed, s, state, string, strings, tags};

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
                    Value::Map(user)
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

// ---------------------------------------------------------------------------
// Load balancer

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

async fn describe_lbs(c: &Clients, arns: Vec<String>) -> Result<Vec<LoadBalancer>, Error> {
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
    Ok(Some((arn, crate::schema::adopted("aws_lb", fields))))
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

// ---------------------------------------------------------------------------
// Target group

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
        crate::schema::adopted("aws_lb_target_group", fields),
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

// ---------------------------------------------------------------------------
// Listener

fn actions(config: &Value) -> Vec<Action> {
    objects(config, "default_action")
        .into_iter()
        .map(|a| {
            let mut b = Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .set_target_group_arn(string(a, "target_group_arn"));
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
            b.build()
        })
        .collect()
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
    Value::List(vec![action])
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
        crate::schema::adopted("aws_lb_listener", fields),
    )))
}

pub async fn update_listener(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if req.changed.iter().any(|c| c == "default_action") {
        ctx.c
            .elb
            .modify_listener()
            .listener_arn(&req.id)
            .set_default_actions(Some(actions(&req.planned)))
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

/// Tags of any ELBv2 object, changed in place.
pub async fn update_tags(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if !req.changed.iter().any(|c| c == "tags") {
        return Ok(());
    }
    let old = ctx.user_tags(&tags(&req.prior));
    let new = ctx.user_tags(&tags(&req.planned));
    let removed: Vec<String> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    if !removed.is_empty() {
        ctx.c
            .elb
            .remove_tags()
            .resource_arns(&req.id)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(api("RemoveTags"))?;
    }
    if !new.is_empty() {
        ctx.c
            .elb
            .add_tags()
            .resource_arns(&req.id)
            .set_tags(Some(elb_tags(&new)))
            .send()
            .await
            .map_err(api("AddTags"))?;
    }
    Ok(())
}
