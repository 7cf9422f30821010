//! `aws_lb_listener_rule`: a rule of a listener — conditions (path, host,
//! header, method, query string, source address) and the actions taken
//! when they match. Like the listener, it steers traffic: its actions,
//! conditions and priority change in place (ModifyRule,
//! SetRulePriorities); a new listener replaces it. A priority is used once
//! per listener, so two resources with the same listener and priority are
//! refused at plan time.

use super::*;

fn values_block(v: &Value, block: &str) -> Option<Vec<String>> {
    objects(v, block).first().map(|b| strings(b, "values"))
}

/// The `condition` blocks as ELBv2 takes them.
fn conditions(config: &Value) -> Vec<aws_sdk_elasticloadbalancingv2::types::RuleCondition> {
    use aws_sdk_elasticloadbalancingv2::types::{
        HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
        PathPatternConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
        RuleCondition, SourceIpConditionConfig,
    };
    let mut out = Vec::new();
    for c in objects(config, "condition") {
        if let Some(values) = values_block(c, "path_pattern") {
            out.push(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        PathPatternConditionConfig::builder()
                            .set_values(Some(values))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(values) = values_block(c, "host_header") {
            out.push(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .set_values(Some(values))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(values) = values_block(c, "http_request_method") {
            out.push(
                RuleCondition::builder()
                    .field("http-request-method")
                    .http_request_method_config(
                        HttpRequestMethodConditionConfig::builder()
                            .set_values(Some(values))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(values) = values_block(c, "source_ip") {
            out.push(
                RuleCondition::builder()
                    .field("source-ip")
                    .source_ip_config(
                        SourceIpConditionConfig::builder()
                            .set_values(Some(values))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(h) = objects(c, "http_header").first() {
            out.push(
                RuleCondition::builder()
                    .field("http-header")
                    .http_header_config(
                        HttpHeaderConditionConfig::builder()
                            .set_http_header_name(string(h, "http_header_name"))
                            .set_values(Some(strings(h, "values")))
                            .build(),
                    )
                    .build(),
            );
        }
        let pairs: Vec<QueryStringKeyValuePair> = objects(c, "query_string")
            .into_iter()
            .map(|q| {
                QueryStringKeyValuePair::builder()
                    .set_key(string(q, "key"))
                    .set_value(string(q, "value"))
                    .build()
            })
            .collect();
        if !pairs.is_empty() {
            out.push(
                RuleCondition::builder()
                    .field("query-string")
                    .query_string_config(
                        QueryStringConditionConfig::builder()
                            .set_values(Some(pairs))
                            .build(),
                    )
                    .build(),
            );
        }
    }
    out
}

async fn describe_rules(
    c: &Clients,
    arns: Vec<String>,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Rule>, Error> {
    let out = c
        .elb
        .describe_rules()
        .set_rule_arns(Some(arns))
        .send()
        .await
        .map_err(api("DescribeRules"))?;
    Ok(out.rules().to_vec())
}

/// `aws_lb_listener_rule`.
pub struct LbListenerRule;

#[async_trait]
impl Resource for LbListenerRule {
    fn name(&self) -> &'static str {
        "aws_lb_listener_rule"
    }

    fn schema(&self) -> ResourceSchema {
        let values = || obj(&[("values", strs_t())]);
        let mut r = ids(ResourceSchema::new())
            .attr("listener_arn", A::required(str_t()))
            .attr(
                "priority",
                A::required(num_t())
                    .runtime()
                    .describe("1 to 50000, lower first; changed in place"),
            )
            .attr(
                "action",
                A::required(Type::List(Box::new(action_t())))
                    .runtime()
                    .describe("what a matching request gets, changed in place"),
            )
            .attr(
                "condition",
                A::required(Type::List(Box::new(obj(&[
                    ("path_pattern", values()),
                    ("host_header", values()),
                    ("http_request_method", values()),
                    ("source_ip", values()),
                    (
                        "http_header",
                        obj(&[("http_header_name", str_t()), ("values", strs_t())]),
                    ),
                    (
                        "query_string",
                        Type::List(Box::new(obj(&[("key", str_t()), ("value", str_t())]))),
                    ),
                ]))))
                .runtime()
                .describe("which requests match, changed in place"),
            )
            .attr("tags", tags_attr())
            .exclusive(&["listener_arn", "priority"]);
        // It steers traffic: --rebuild moves it in place with its listener.
        r.traffic_switch = true;
        r
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_actions(objects(config, "action"), "action", out);
        if let Some(p) = number(config, "priority")
            && !(1..=50000).contains(&p)
        {
            out.push(format!("priority {p} is outside 1 .. 50000"));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let tags = elb_tags(&ctx.tags(&tags(config)));
        let listener = string(config, "listener_arn");
        let made = ctx
            .c
            .elb_once
            .create_rule()
            .set_listener_arn(listener.clone())
            .set_priority(number(config, "priority").map(|p| p as i32))
            .set_actions(Some(actions_of(objects(config, "action"))))
            .set_conditions(Some(conditions(config)))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(api("CreateRule"));
        let rule = match made {
            Ok(out) => out
                .rules()
                .first()
                .cloned()
                .ok_or_else(|| Error::new("CreateRule returned no rule"))?,
            // A retried create whose first try ran: the rule at this
            // priority carrying this create's key is ours.
            Err(e) if e.code() == "PriorityInUse" => {
                let on_listener = ctx
                    .c
                    .elb
                    .describe_rules()
                    .set_listener_arn(listener)
                    .send()
                    .await
                    .map_err(api("DescribeRules"))?
                    .rules()
                    .to_vec();
                match mine(ctx, on_listener, |r| r.rule_arn()).await? {
                    Some(r) => r,
                    None => {
                        return Err(e.with_detail("another rule of the listener has this priority"));
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let arn = rule.rule_arn().unwrap_or_default().to_string();
        Ok((
            arn.clone(),
            state(config, [("id", s(&arn)), ("arn", s(&arn))]),
        ))
    }

    /// Rule ARNs in chunks of 20 (one by one when one is gone).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let arns: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
        let found: std::collections::BTreeSet<String> =
            describe_arns(&arns, |a| describe_rules(c, a))
                .await?
                .into_iter()
                .filter_map(|r| r.rule_arn().map(str::to_string))
                .collect();
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| found.contains(*id).then(|| (*prior).clone()))
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let changed = |a: &str| req.changed.iter().any(|c| c == a);
        let p = &req.planned;
        if changed("priority") {
            ctx.c
                .elb
                .set_rule_priorities()
                .rule_priorities(
                    aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                        .rule_arn(&req.id)
                        .set_priority(number(p, "priority").map(|n| n as i32))
                        .build(),
                )
                .send()
                .await
                .map_err(api("SetRulePriorities"))?;
        }
        if changed("action") || changed("condition") {
            ctx.c
                .elb
                .modify_rule()
                .rule_arn(&req.id)
                .set_actions(Some(actions_of(objects(p, "action"))))
                .set_conditions(Some(conditions(p)))
                .send()
                .await
                .map_err(api("ModifyRule"))?;
        }
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        match ctx
            .c
            .elb
            .delete_rule()
            .rule_arn(id)
            .send()
            .await
            .map_err(api("DeleteRule"))
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Found through its listener's rules by `create`'s `PriorityInUse`
    /// answer; a rule interrupted before it answered is re-created.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
