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
