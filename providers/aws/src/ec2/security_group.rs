//! `aws_security_group`: rules changed outside kiln are drift, which
//! replaces the group. `ingress` / `egress` left unset leave the group's
//! rules to the rule resources (`security_group_rule`).

use super::*;

/// A rule as AWS takes it, from an `ingress` / `egress` block or an
/// `aws_security_group_rule`: its sources are `cidr_blocks`,
/// `ipv6_cidr_blocks`, `prefix_list_ids`, `security_groups` or
/// `source_security_group_id`, and `self` (the group `own` itself).
pub(super) fn permission(rule: &Value, own: &str) -> IpPermission {
    let protocol = match string(rule, "protocol").as_deref() {
        None | Some("all") | Some("-1") => "-1".to_string(),
        Some(p) => p.to_string(),
    };
    let description = string(rule, "description");
    let ranges: Vec<IpRange> = strings(rule, "cidr_blocks")
        .into_iter()
        .map(|c| {
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.clone())
                .build()
        })
        .collect();
    let ranges6: Vec<aws_sdk_ec2::types::Ipv6Range> = strings(rule, "ipv6_cidr_blocks")
        .into_iter()
        .map(|c| {
            aws_sdk_ec2::types::Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(description.clone())
                .build()
        })
        .collect();
    let lists: Vec<aws_sdk_ec2::types::PrefixListId> = strings(rule, "prefix_list_ids")
        .into_iter()
        .map(|id| {
            aws_sdk_ec2::types::PrefixListId::builder()
                .prefix_list_id(id)
                .set_description(description.clone())
                .build()
        })
        .collect();
    let mut sources = strings(rule, "security_groups");
    sources.extend(string(rule, "source_security_group_id"));
    if boolean(rule, "self") == Some(true) && !own.is_empty() {
        sources.push(own.to_string());
    }
    let groups: Vec<UserIdGroupPair> = sources
        .into_iter()
        .map(|g| {
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(description.clone())
                .build()
        })
        .collect();
    let mut p = IpPermission::builder().ip_protocol(&protocol);
    if protocol != "-1" {
        p = p
            .set_from_port(number(rule, "from_port").map(|x| x as i32))
            .set_to_port(number(rule, "to_port").map(|x| x as i32));
    }
    p.set_ip_ranges((!ranges.is_empty()).then_some(ranges))
        .set_ipv6_ranges((!ranges6.is_empty()).then_some(ranges6))
        .set_prefix_list_ids((!lists.is_empty()).then_some(lists))
        .set_user_id_group_pairs((!groups.is_empty()).then_some(groups))
        .build()
}

pub async fn create_security_group(
    ctx: &Ctx<'_>,
    config: &Value,
) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let name = ctx.name(config, 255);
    let tags = ctx.tags(&tags(config));
    let id = create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_security_group()
                .group_name(&name)
                .description(
                    string(config, "description").unwrap_or_else(|| "Managed by kiln".into()),
                )
                .set_vpc_id(string(config, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &tags))
                .send()
                .await
                .map_err(api("CreateSecurityGroup"))?;
            Ok(out.group_id().unwrap_or_default().to_string())
        },
        || async {
            let found = made_by(ctx, |f| describe_sgs(ctx.c, f)).await?;
            Ok(found.and_then(|g| g.group_id().map(str::to_string)))
        },
    )
    .await?;
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, None, "security-group", &id)),
            ("name", s(&name)),
            ("owner_id", Value::Null),
        ],
    );
    let fail = |e: Error| e.after_creating(&id, st.clone());
    let ingress: Vec<IpPermission> = objects(config, "ingress")
        .into_iter()
        .map(|r| permission(r, &id))
        .collect();
    if !ingress.is_empty() {
        let authorized = ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(api("AuthorizeSecurityGroupIngress"));
        // The group is new: a rule already there is an earlier try's.
        if let Err(e) = authorized
            && e.code() != "InvalidPermission.Duplicate"
        {
            return Err(fail(e));
        }
    }
    if config.get("egress").is_some_and(|v| !v.is_null()) {
        // Configured egress replaces AWS's default "all traffic out" rule.
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let revoked = ec2
            .revoke_security_group_egress()
            .group_id(&id)
            .ip_permissions(all)
            .send()
            .await
            .map_err(api("RevokeSecurityGroupEgress"));
        if let Err(e) = revoked
            && e.code() != "InvalidPermission.NotFound"
        {
            return Err(fail(e));
        }
        let egress: Vec<IpPermission> = objects(config, "egress")
            .into_iter()
            .map(|r| permission(r, &id))
            .collect();
        if !egress.is_empty() {
            let authorized = ec2
                .authorize_security_group_egress()
                .group_id(&id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .map_err(api("AuthorizeSecurityGroupEgress"));
            if let Err(e) = authorized
                && e.code() != "InvalidPermission.Duplicate"
            {
                return Err(fail(e));
            }
        }
    }
    let owner = describe_sgs(ctx.c, filter("group-id", [id.clone()]))
        .await
        .map_err(fail)?
        .first()
        .and_then(|g| g.owner_id().map(str::to_string));
    let st = state(
        &st,
        [
            ("owner_id", opt_s(owner.as_deref())),
            ("arn", arn(ctx.c, owner.as_deref(), "security-group", &id)),
        ],
    );
    Ok((id, st))
}

pub(super) async fn describe_sgs(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, Error> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeSecurityGroups"))?;
    Ok(out.security_groups().to_vec())
}

/// Reads security groups back with one Describe per 100 ids. A group whose
/// rules were changed outside kiln (someone opened port 22 by hand, say) is
/// drift: immutable infrastructure replaces it.
async fn read_security_groups(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Observed>, Error> {
    let found: BTreeMap<String, aws_sdk_ec2::types::SecurityGroup> =
        describe_ids(items, "group-id", |f| describe_sgs(c, f))
            .await?
            .into_iter()
            .map(|g| (g.group_id().unwrap_or_default().to_string(), g))
            .collect();
    Ok(items
        .iter()
        .map(|(id, prior)| match found.get(*id) {
            None => Observed::default(),
            Some(g) => Observed {
                state: Some(refreshed(
                    prior,
                    vec![
                        ("id", s(*id)),
                        (
                            "ingress",
                            with_shape(prior.get("ingress").unwrap_or(&Value::Null), &rules_t()),
                        ),
                        (
                            "egress",
                            with_shape(prior.get("egress").unwrap_or(&Value::Null), &rules_t()),
                        ),
                    ],
                )),
                drift: rules_drift(prior, g),
            },
        })
        .collect())
}

/// How a group's rules differ from the recorded ones, said as a reason.
fn rules_drift(prior: &Value, g: &aws_sdk_ec2::types::SecurityGroup) -> Option<String> {
    let own = g.group_id().unwrap_or_default();
    let mut changes = Vec::new();
    // Unset `ingress` (or `egress`) leaves the rules to
    // `aws_security_group_rule` and `aws_vpc_security_group_*_rule`
    // resources, as in Terraform; `ingress = []` says "none".
    if prior.get("ingress").is_some_and(|v| !v.is_null()) {
        let want: Vec<IpPermission> = objects(prior, "ingress")
            .into_iter()
            .map(|r| permission(r, own))
            .collect();
        let (want, got) = (rule_set(&want), rule_set(g.ip_permissions()));
        if want != got {
            changes.push(format!(
                "ingress is {} instead of {}",
                show_rules(&got),
                show_rules(&want)
            ));
        }
    }
    if prior.get("egress").is_some_and(|v| !v.is_null()) {
        let want: Vec<IpPermission> = objects(prior, "egress")
            .into_iter()
            .map(|r| permission(r, own))
            .collect();
        let (want, got) = (rule_set(&want), rule_set(g.ip_permissions_egress()));
        if want != got {
            changes.push(format!(
                "egress is {} instead of {}",
                show_rules(&got),
                show_rules(&want)
            ));
        }
    }
    (!changes.is_empty()).then(|| {
        format!(
            "its rules were changed outside kiln: {}",
            changes.join("; ")
        )
    })
}

pub async fn find_security_group(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(g) = tagged(key, |f| describe_sgs(c, f)).await? else {
        return Ok(None);
    };
    let id = g.group_id().unwrap_or_default().to_string();
    let st = adopted(
        &SecurityGroup.schema(),
        [
            ("id", s(&id)),
            ("arn", arn(c, g.owner_id(), "security-group", &id)),
            ("name", opt_s(g.group_name())),
            ("description", opt_s(g.description())),
            ("vpc_id", opt_s(g.vpc_id())),
            ("owner_id", opt_s(g.owner_id())),
            ("tags", user_tags(g.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_security_group(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("security group {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteSecurityGroup"))
    })
    .await
}

/// `aws_security_group`.
pub struct SecurityGroup;

fn rules_t() -> Type {
    Type::List(Box::new(rule_t()))
}

fn rule_t() -> Type {
    obj(&[
        ("from_port", num_t()),
        ("to_port", num_t()),
        ("protocol", str_t()),
        ("cidr_blocks", strs_t()),
        ("security_groups", strs_t()),
        ("ipv6_cidr_blocks", strs_t()),
        ("prefix_list_ids", strs_t()),
        ("self", bool_t()),
        ("description", str_t()),
    ])
}

#[async_trait]
impl Resource for SecurityGroup {
    fn name(&self) -> &'static str {
        "aws_security_group"
    }

    fn schema(&self) -> ResourceSchema {
        named(ids(ResourceSchema::new()), 255)
            .attr("description", A::optional(str_t()))
            .attr("vpc_id", A::optional(str_t()))
            .attr("ingress", A::optional(Type::List(Box::new(rule_t()))))
            .attr(
                "egress",
                A::optional(Type::List(Box::new(rule_t())))
                    .describe("when unset, AWS's default (all traffic out) is kept"),
            )
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        for dir in ["ingress", "egress"] {
            for rule in objects(config, dir) {
                for c in strings(rule, "cidr_blocks") {
                    if !crate::values::is_ipv4_cidr(&c) {
                        out.push(format!(
                            "{dir} cidr_blocks {c:?} is not a valid IPv4 CIDR block; write it like \"0.0.0.0/0\""
                        ));
                    }
                }
                for p in ["from_port", "to_port"] {
                    if let Some(n) = number(rule, p)
                        && !(-1..=65535).contains(&n)
                    {
                        out.push(format!("{dir} {p} {n} is not a port (0 to 65535, or -1)"));
                    }
                }
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_security_group(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_security_groups(c, items).await
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_security_group(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_security_group(c, key).await
    }
}
/// Rules as comparable tuples: (protocol, from, to, source).
pub(super) fn rule_set(
    perms: &[IpPermission],
) -> std::collections::BTreeSet<(String, i32, i32, String)> {
    let mut out = std::collections::BTreeSet::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1").to_string();
        let (from, to) = if proto == "-1" {
            (-1, -1)
        } else {
            (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
        };
        for r in p.ip_ranges() {
            out.insert((
                proto.clone(),
                from,
                to,
                r.cidr_ip().unwrap_or_default().to_string(),
            ));
        }
        for r in p.ipv6_ranges() {
            out.insert((
                proto.clone(),
                from,
                to,
                r.cidr_ipv6().unwrap_or_default().to_string(),
            ));
        }
        for l in p.prefix_list_ids() {
            out.insert((
                proto.clone(),
                from,
                to,
                l.prefix_list_id().unwrap_or_default().to_string(),
            ));
        }
        for g in p.user_id_group_pairs() {
            out.insert((
                proto.clone(),
                from,
                to,
                g.group_id().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

fn show_rules(rules: &std::collections::BTreeSet<(String, i32, i32, String)>) -> String {
    let items: Vec<String> = rules
        .iter()
        .map(|(p, f, t, src)| match p.as_str() {
            "-1" => format!("all from {src}"),
            _ if f == t => format!("{p}/{f} from {src}"),
            _ => format!("{p}/{f}-{t} from {src}"),
        })
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
