//! The rule resources of a security group:
//!
//! - `aws_security_group_rule` (the older one): one `type` (ingress or
//!   egress), a port range and protocol, and any number of sources
//!   (`cidr_blocks`, `ipv6_cidr_blocks`, `prefix_list_ids`,
//!   `source_security_group_id`, `self`). Its sources and description
//!   change in place (revoke what went, authorize what came), so a
//!   replacement never authorizes a rule its predecessor still holds; the
//!   group, type, ports and protocol replace. Id `sgrule-{hash}`.
//! - `aws_vpc_security_group_ingress_rule` / `_egress_rule`: one AWS rule
//!   each, with its own id (`sgr-...`) and tags; the description and tags
//!   change in place.

use super::security_group::{describe_sgs, permission, rule_set};
use super::*;

fn is_ingress(v: &Value) -> bool {
    string(v, "type").as_deref() != Some("egress")
}

fn group_of(v: &Value) -> String {
    string(v, "security_group_id").unwrap_or_default()
}

async fn authorize(c: &Clients, ingress: bool, group: &str, p: IpPermission) -> Result<(), Error> {
    let done = if ingress {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(p)
            .send()
            .await
            .map(|_| ())
            .map_err(api("AuthorizeSecurityGroupIngress"))
    } else {
        c.ec2
            .authorize_security_group_egress()
            .group_id(group)
            .ip_permissions(p)
            .send()
            .await
            .map(|_| ())
            .map_err(api("AuthorizeSecurityGroupEgress"))
    };
    match done {
        // An earlier try's (its answer lost): the rule is there as wanted.
        Err(e) if e.code() == "InvalidPermission.Duplicate" => Ok(()),
        other => other,
    }
}

async fn revoke(c: &Clients, ingress: bool, group: &str, p: IpPermission) -> Result<(), Error> {
    let done = if ingress {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .ip_permissions(p)
            .send()
            .await
            .map(|_| ())
            .map_err(api("RevokeSecurityGroupIngress"))
    } else {
        c.ec2
            .revoke_security_group_egress()
            .group_id(group)
            .ip_permissions(p)
            .send()
            .await
            .map(|_| ())
            .map_err(api("RevokeSecurityGroupEgress"))
    };
    match done {
        Err(e) if e.is_not_found() || e.code() == "InvalidPermission.NotFound" => Ok(()),
        other => other,
    }
}

/// The permission of `now` minus the sources `before` already had.
fn only_new(now: &Value, before: &Value, own: &str) -> Option<IpPermission> {
    let keep = |attr: &str| -> Vec<String> {
        let had = strings(before, attr);
        strings(now, attr)
            .into_iter()
            .filter(|x| !had.contains(x))
            .collect()
    };
    let mut v = now.unmarked().as_map().cloned().unwrap_or_default();
    let mut any = false;
    for attr in ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"] {
        let new = keep(attr);
        any |= !new.is_empty();
        v.insert(
            attr.to_string(),
            Value::List(new.into_iter().map(Value::from).collect()),
        );
    }
    let source = string(now, "source_security_group_id")
        .filter(|s| string(before, "source_security_group_id").as_deref() != Some(s.as_str()));
    any |= source.is_some();
    v.insert(
        "source_security_group_id".to_string(),
        source.map_or(Value::Null, Value::from),
    );
    let own_new = boolean(now, "self") == Some(true) && boolean(before, "self") != Some(true);
    any |= own_new;
    v.insert("self".to_string(), Value::Bool(own_new));
    any.then(|| permission(&Value::Map(v.into()), own))
}

fn rule_id(config: &Value) -> String {
    let p = permission(config, &group_of(config));
    let mut key = format!("{}|{}|", group_of(config), is_ingress(config));
    for t in rule_set(&[p]) {
        key.push_str(&format!("{t:?}"));
    }
    format!("sgrule-{}", crate::api::fnv1a(key.as_bytes()) as u32)
}

/// `aws_security_group_rule`.
pub struct SecurityGroupRule;

#[async_trait]
impl Resource for SecurityGroupRule {
    fn name(&self) -> &'static str {
        "aws_security_group_rule"
    }

    fn schema(&self) -> ResourceSchema {
        let source = |d: &str| A::optional(strs_t()).runtime().describe(d);
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr(
                "type",
                A::required(str_t()).describe("\"ingress\" or \"egress\""),
            )
            .attr("security_group_id", A::required(str_t()))
            .attr("from_port", A::required(num_t()))
            .attr("to_port", A::required(num_t()))
            .attr("protocol", A::required(str_t()))
            .attr("cidr_blocks", source("IPv4 sources, changed in place"))
            .attr("ipv6_cidr_blocks", source("IPv6 sources, changed in place"))
            .attr(
                "prefix_list_ids",
                source("prefix list sources, changed in place"),
            )
            .attr("source_security_group_id", A::optional(str_t()).runtime())
            .attr("self", A::optional(bool_t()).runtime())
            .attr("description", A::optional(str_t()).runtime())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        match string(config, "type").as_deref() {
            None | Some("ingress") | Some("egress") => {}
            Some(other) => out.push(format!("type {other:?} must be \"ingress\" or \"egress\"")),
        }
        for c in strings(config, "cidr_blocks") {
            if !crate::values::is_ipv4_cidr(&c) {
                out.push(format!("cidr_blocks {c:?} is not a valid IPv4 CIDR block"));
            }
        }
        let sources = ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"]
            .iter()
            .any(|a| !strings(config, a).is_empty())
            || string(config, "source_security_group_id").is_some()
            || boolean(config, "self") == Some(true)
            || [
                "cidr_blocks",
                "ipv6_cidr_blocks",
                "prefix_list_ids",
                "source_security_group_id",
                "self",
            ]
            .iter()
            .any(|a| config.get(a).is_some_and(Value::is_unknown));
        if !sources && config.is_known() {
            out.push(
                "the rule has no source: set cidr_blocks, ipv6_cidr_blocks, prefix_list_ids, source_security_group_id or self"
                    .into(),
            );
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let group = group_of(config);
        authorize(
            ctx.c,
            is_ingress(config),
            &group,
            permission(config, &group),
        )
        .await?;
        let id = rule_id(config);
        Ok((id.clone(), state(config, [("id", s(id))])))
    }

    /// One DescribeSecurityGroups per 100 groups; the rule is there while
    /// the group has every one of its sources.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let groups: Vec<(String, &Value)> = items
            .iter()
            .map(|(_, prior)| (group_of(prior), *prior))
            .collect();
        let ids: Vec<(&str, &Value)> = groups.iter().map(|(g, p)| (g.as_str(), *p)).collect();
        let found: BTreeMap<String, aws_sdk_ec2::types::SecurityGroup> =
            describe_ids(&ids, "group-id", |f| describe_sgs(c, f))
                .await?
                .into_iter()
                .map(|g| (g.group_id().unwrap_or_default().to_string(), g))
                .collect();
        Ok(items
            .iter()
            .map(|(_, prior)| {
                let Some(g) = found.get(&group_of(prior)) else {
                    return Observed::default();
                };
                let have = if is_ingress(prior) {
                    rule_set(g.ip_permissions())
                } else {
                    rule_set(g.ip_permissions_egress())
                };
                let want = rule_set(&[permission(prior, &group_of(prior))]);
                Observed {
                    state: want.is_subset(&have).then(|| (*prior).clone()),
                    drift: None,
                }
            })
            .collect())
    }

    /// Sources that went are revoked, sources that came authorized; a new
    /// description is written over every source.
    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let group = group_of(&req.planned);
        let ingress = is_ingress(&req.planned);
        if let Some(gone) = only_new(&req.prior, &req.planned, &group) {
            revoke(ctx.c, ingress, &group, gone).await?;
        }
        if let Some(came) = only_new(&req.planned, &req.prior, &group) {
            authorize(ctx.c, ingress, &group, came).await?;
        }
        if req.changed.iter().any(|c| c == "description") {
            let p = permission(&req.planned, &group);
            let sent = if ingress {
                ctx.c
                    .ec2
                    .update_security_group_rule_descriptions_ingress()
                    .group_id(&group)
                    .ip_permissions(p)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("UpdateSecurityGroupRuleDescriptionsIngress"))
            } else {
                ctx.c
                    .ec2
                    .update_security_group_rule_descriptions_egress()
                    .group_id(&group)
                    .ip_permissions(p)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("UpdateSecurityGroupRuleDescriptionsEgress"))
            };
            sent?;
        }
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        let group = group_of(state);
        revoke(ctx.c, is_ingress(state), &group, permission(state, &group)).await
    }

    /// The rule carries no tags; authorizing it again is harmless.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}

impl Tagged for aws_sdk_ec2::types::SecurityGroupRule {
    fn tag_list(&self) -> &[Tag] {
        self.tags()
    }
}

async fn describe_rules(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroupRule>, Error> {
    let out = c
        .ec2
        .describe_security_group_rules()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeSecurityGroupRules"))?;
    Ok(out.security_group_rules().to_vec())
}

/// The permission of an `aws_vpc_security_group_*_rule`.
fn vpc_rule_permission(config: &Value) -> IpPermission {
    let protocol = match string(config, "ip_protocol").as_deref() {
        None | Some("-1") | Some("all") => "-1".to_string(),
        Some(p) => p.to_string(),
    };
    let rule = Value::map([
        ("protocol", Value::from(protocol.as_str())),
        (
            "from_port",
            config.get("from_port").cloned().unwrap_or(Value::Null),
        ),
        (
            "to_port",
            config.get("to_port").cloned().unwrap_or(Value::Null),
        ),
        (
            "cidr_blocks",
            Value::List(
                string(config, "cidr_ipv4")
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        ),
        (
            "ipv6_cidr_blocks",
            Value::List(
                string(config, "cidr_ipv6")
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        ),
        (
            "prefix_list_ids",
            Value::List(
                string(config, "prefix_list_id")
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        ),
        (
            "source_security_group_id",
            string(config, "referenced_security_group_id").map_or(Value::Null, Value::from),
        ),
        (
            "description",
            string(config, "description").map_or(Value::Null, Value::from),
        ),
    ]);
    permission(&rule, "")
}

/// `aws_vpc_security_group_ingress_rule` and `_egress_rule`.
pub struct VpcSecurityGroupRule {
    pub ingress: bool,
}

#[async_trait]
impl Resource for VpcSecurityGroupRule {
    fn name(&self) -> &'static str {
        if self.ingress {
            "aws_vpc_security_group_ingress_rule"
        } else {
            "aws_vpc_security_group_egress_rule"
        }
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("security_group_rule_id", A::computed(str_t()))
            .attr("security_group_id", A::required(str_t()))
            .attr(
                "ip_protocol",
                A::required(str_t()).describe("\"tcp\", \"udp\", \"icmp\", or \"-1\" for all"),
            )
            .attr("from_port", A::optional(num_t()))
            .attr("to_port", A::optional(num_t()))
            .attr("cidr_ipv4", A::optional(str_t()))
            .attr("cidr_ipv6", A::optional(str_t()))
            .attr("prefix_list_id", A::optional(str_t()))
            .attr("referenced_security_group_id", A::optional(str_t()))
            .attr("description", A::optional(str_t()).runtime())
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let set: Vec<&str> = [
            "cidr_ipv4",
            "cidr_ipv6",
            "prefix_list_id",
            "referenced_security_group_id",
        ]
        .into_iter()
        .filter(|a| config.get(a).is_some_and(|v| !v.is_null()))
        .collect();
        if set.len() != 1 && config.is_known() {
            out.push(format!(
                "set exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id and referenced_security_group_id (set: {})",
                if set.is_empty() { "none".to_string() } else { set.join(", ") }
            ));
        }
        check_cidr(config, "cidr_ipv4", out);
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let group = group_of(config);
        let tags = ctx.tags(&tags(config));
        let spec = tag_spec(ResourceType::SecurityGroupRule, &tags);
        let p = vpc_rule_permission(config);
        let made = if self.ingress {
            ctx.c
                .ec2
                .authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(p)
                .tag_specifications(spec)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(api("AuthorizeSecurityGroupIngress"))
        } else {
            ctx.c
                .ec2
                .authorize_security_group_egress()
                .group_id(&group)
                .ip_permissions(p)
                .tag_specifications(spec)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(api("AuthorizeSecurityGroupEgress"))
        };
        let rule = match made {
            Ok(rules) => rules.into_iter().next(),
            // A retried create whose first try ran: the rule tagged with
            // this create's key is ours; another equal rule is refused.
            Err(e) if e.code() == "InvalidPermission.Duplicate" => {
                match tagged(ctx.key, |f| describe_rules(ctx.c, f)).await? {
                    Some(r) if !ctx.key.is_empty() => Some(r),
                    _ => {
                        return Err(e.with_detail(
                            "another rule of the group already allows this; remove one of them",
                        ));
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let id = rule
            .and_then(|r| r.security_group_rule_id().map(str::to_string))
            .ok_or_else(|| Error::new("the authorization returned no rule id"))?;
        let computed = [
            ("id", s(&id)),
            ("security_group_rule_id", s(&id)),
            ("arn", arn(ctx.c, None, "security-group-rule", &id)),
        ];
        Ok((id.clone(), state(config, computed)))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_ids(
            items,
            "security-group-rule-id",
            |f| describe_rules(c, f),
            |r| {
                let id = r.security_group_rule_id().unwrap_or_default().to_string();
                (id.clone(), vec![("id", s(&id))])
            },
        )
        .await
        .map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        if req.changed.iter().any(|c| c == "description") {
            let p = vpc_rule_permission(&req.planned);
            let request = aws_sdk_ec2::types::SecurityGroupRuleRequest::builder()
                .ip_protocol(p.ip_protocol().unwrap_or("-1"))
                .set_from_port(p.from_port())
                .set_to_port(p.to_port())
                .set_cidr_ipv4(string(&req.planned, "cidr_ipv4"))
                .set_cidr_ipv6(string(&req.planned, "cidr_ipv6"))
                .set_prefix_list_id(string(&req.planned, "prefix_list_id"))
                .set_referenced_group_id(string(&req.planned, "referenced_security_group_id"))
                .set_description(string(&req.planned, "description"))
                .build();
            ctx.c
                .ec2
                .modify_security_group_rules()
                .group_id(group_of(&req.planned))
                .security_group_rules(
                    aws_sdk_ec2::types::SecurityGroupRuleUpdate::builder()
                        .security_group_rule_id(&req.id)
                        .security_group_rule(request)
                        .build(),
                )
                .send()
                .await
                .map_err(api("ModifySecurityGroupRules"))?;
        }
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        let group = group_of(state);
        let done = if self.ingress {
            ctx.c
                .ec2
                .revoke_security_group_ingress()
                .group_id(&group)
                .security_group_rule_ids(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("RevokeSecurityGroupIngress"))
        } else {
            ctx.c
                .ec2
                .revoke_security_group_egress()
                .group_id(&group)
                .security_group_rule_ids(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("RevokeSecurityGroupEgress"))
        };
        match done {
            Err(e) if e.is_not_found() || e.code() == "InvalidSecurityGroupRuleId.NotFound" => {
                Ok(())
            }
            other => other,
        }
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let Some(r) = tagged(key, |f| describe_rules(c, f)).await? else {
            return Ok(None);
        };
        let id = r.security_group_rule_id().unwrap_or_default().to_string();
        let fields = vec![
            ("id", s(&id)),
            ("security_group_rule_id", s(&id)),
            ("security_group_id", opt_s(r.group_id())),
            ("ip_protocol", opt_s(r.ip_protocol())),
            (
                "from_port",
                r.from_port().map_or(Value::Null, |p| n(i64::from(p))),
            ),
            (
                "to_port",
                r.to_port().map_or(Value::Null, |p| n(i64::from(p))),
            ),
            ("cidr_ipv4", opt_s(r.cidr_ipv4())),
            ("cidr_ipv6", opt_s(r.cidr_ipv6())),
            ("prefix_list_id", opt_s(r.prefix_list_id())),
            ("description", opt_s(r.description())),
            ("tags", user_tags(r.tags())),
        ];
        Ok(Some((id, adopted(&self.schema(), fields))))
    }
}
