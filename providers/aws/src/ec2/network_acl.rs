//! Network ACLs: `aws_network_acl` and `aws_network_acl_rule`, and the
//! entry and association helpers `aws_default_network_acl` shares.

use super::*;

/// ACLs by id (the `network-acl-id` filter is not served everywhere: moto
/// lacks it), one by one when a call fails because one is gone.
pub(super) async fn describe_acls(
    c: &Clients,
    ids: Vec<String>,
) -> Result<Vec<aws_sdk_ec2::types::NetworkAcl>, Error> {
    let call = |ids: Vec<String>| async move {
        c.ec2
            .describe_network_acls()
            .set_network_acl_ids(Some(ids))
            .send()
            .await
            .map(|out| out.network_acls().to_vec())
            .map_err(api("DescribeNetworkAcls"))
    };
    match call(ids.clone()).await {
        Err(e) if e.is_not_found() && ids.len() > 1 => {
            let mut all = Vec::new();
            for id in ids {
                match call(vec![id]).await {
                    Ok(found) => all.extend(found),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(all)
        }
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

pub(super) fn acl_entry_t() -> Type {
    obj(&[
        ("rule_no", num_t()),
        ("action", str_t()),
        ("protocol", str_t()),
        ("cidr_block", str_t()),
        ("ipv6_cidr_block", str_t()),
        ("from_port", num_t()),
        ("to_port", num_t()),
        ("icmp_type", num_t()),
        ("icmp_code", num_t()),
    ])
}

/// The protocol number AWS takes ("tcp" → 6, "all" → -1).
fn protocol_number(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "tcp" => "6".into(),
        "udp" => "17".into(),
        "icmp" => "1".into(),
        "icmpv6" => "58".into(),
        other => other.to_string(),
    }
}

/// Deletes an ACL's numbered entries and creates the configured ones.
pub(super) async fn write_entries(c: &Clients, acl: &str, config: &Value) -> Result<(), Error> {
    let found = describe_acls(c, vec![acl.to_string()]).await?;
    let Some(a) = found.first() else {
        return Err(Error::new(format!("network ACL {acl} does not exist")));
    };
    for e in a.entries() {
        // 32767 is the catch-all deny AWS keeps.
        if let Some(n) = e.rule_number().filter(|n| *n != 32767) {
            c.ec2
                .delete_network_acl_entry()
                .network_acl_id(acl)
                .rule_number(n)
                .egress(e.egress().unwrap_or(false))
                .send()
                .await
                .map_err(api("DeleteNetworkAclEntry"))?;
        }
    }
    for (egress, block) in [(false, "ingress"), (true, "egress")] {
        for e in objects(config, block) {
            put_entry(c, acl, egress, e, false).await?;
        }
    }
    Ok(())
}

/// Creates (or, with `replace`, rewrites) one entry: `rule_no` (or
/// `rule_number`), `action` (or `rule_action`), `protocol`, a CIDR block,
/// ports, ICMP type and code — the block's and `aws_network_acl_rule`'s
/// names alike.
async fn put_entry(
    c: &Clients,
    acl: &str,
    egress: bool,
    e: &Value,
    replace: bool,
) -> Result<(), Error> {
    let rule = number(e, "rule_no")
        .or_else(|| number(e, "rule_number"))
        .map(|n| n as i32);
    let action = string(e, "action")
        .or_else(|| string(e, "rule_action"))
        .map(|a| aws_sdk_ec2::types::RuleAction::from(a.to_ascii_lowercase().as_str()));
    let protocol = protocol_number(&string(e, "protocol").unwrap_or_else(|| "-1".into()));
    let ports = aws_sdk_ec2::types::PortRange::builder()
        .set_from(number(e, "from_port").map(|n| n as i32))
        .set_to(number(e, "to_port").map(|n| n as i32))
        .build();
    let icmp = e.get("icmp_type").is_some_and(|v| !v.is_null()).then(|| {
        aws_sdk_ec2::types::IcmpTypeCode::builder()
            .set_type(number(e, "icmp_type").map(|n| n as i32))
            .set_code(number(e, "icmp_code").map(|n| n as i32))
            .build()
    });
    if replace {
        c.ec2
            .replace_network_acl_entry()
            .network_acl_id(acl)
            .egress(egress)
            .set_rule_number(rule)
            .set_rule_action(action)
            .protocol(protocol)
            .set_cidr_block(string(e, "cidr_block"))
            .set_ipv6_cidr_block(string(e, "ipv6_cidr_block"))
            .port_range(ports)
            .set_icmp_type_code(icmp)
            .send()
            .await
            .map(|_| ())
            .map_err(api("ReplaceNetworkAclEntry"))
    } else {
        c.ec2
            .create_network_acl_entry()
            .network_acl_id(acl)
            .egress(egress)
            .set_rule_number(rule)
            .set_rule_action(action)
            .protocol(protocol)
            .set_cidr_block(string(e, "cidr_block"))
            .set_ipv6_cidr_block(string(e, "ipv6_cidr_block"))
            .port_range(ports)
            .set_icmp_type_code(icmp)
            .send()
            .await
            .map(|_| ())
            .map_err(api("CreateNetworkAclEntry"))
    }
}

impl Tagged for aws_sdk_ec2::types::NetworkAcl {
    fn tag_list(&self) -> &[Tag] {
        self.tags()
    }
}

/// Moves `subnets` to `acl` (ReplaceNetworkAclAssociation from whichever
/// ACL holds each now).
async fn associate(c: &Clients, vpc: &str, acl: &str, subnets: &[String]) -> Result<(), Error> {
    if subnets.is_empty() {
        return Ok(());
    }
    let out = c
        .ec2
        .describe_network_acls()
        .filters(filter("vpc-id", [vpc.to_string()]))
        .send()
        .await
        .map_err(api("DescribeNetworkAcls"))?;
    for subnet in subnets {
        let current = out
            .network_acls()
            .iter()
            .flat_map(|a| a.associations())
            .find(|a| a.subnet_id() == Some(subnet.as_str()))
            .and_then(|a| a.network_acl_association_id());
        let Some(association) = current else {
            return Err(Error::new(format!(
                "subnet {subnet} has no network ACL association in VPC {vpc}"
            )));
        };
        c.ec2
            .replace_network_acl_association()
            .association_id(association)
            .network_acl_id(acl)
            .send()
            .await
            .map_err(api("ReplaceNetworkAclAssociation"))?;
    }
    Ok(())
}

/// The VPC's default ACL.
async fn default_acl(c: &Clients, vpc: &str) -> Result<String, Error> {
    let out = c
        .ec2
        .describe_network_acls()
        .filters(filter("vpc-id", [vpc.to_string()]))
        .filters(filter("default", ["true".to_string()]))
        .send()
        .await
        .map_err(api("DescribeNetworkAcls"))?;
    out.network_acls()
        .first()
        .and_then(|a| a.network_acl_id().map(str::to_string))
        .ok_or_else(|| Error::new(format!("VPC {vpc} has no default network ACL")))
}

/// `aws_network_acl`: an ACL of its own with its entries and subnets.
/// Entries and subnets change in place (a replacement takes the subnets
/// over from the live ACL, whose delete then finds none left to give back).
pub struct NetworkAcl;

#[async_trait]
impl Resource for NetworkAcl {
    fn name(&self) -> &'static str {
        "aws_network_acl"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr(
                "subnet_ids",
                A::optional(strs_t())
                    .runtime()
                    .describe("the subnets that use this ACL, moved in place"),
            )
            .attr(
                "ingress",
                A::optional(Type::List(Box::new(acl_entry_t()))).runtime(),
            )
            .attr(
                "egress",
                A::optional(Type::List(Box::new(acl_entry_t()))).runtime(),
            )
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let vpc = string(config, "vpc_id").unwrap_or_default();
        let out = ctx
            .c
            .ec2
            .create_network_acl()
            .vpc_id(&vpc)
            .set_client_token(ctx.client_token())
            .tag_specifications(tag_spec(ResourceType::NetworkAcl, &ctx.tags(&tags(config))))
            .send()
            .await
            .map_err(api("CreateNetworkAcl"))?;
        let a = out
            .network_acl()
            .ok_or_else(|| Error::new("CreateNetworkAcl returned no ACL"))?;
        let id = a.network_acl_id().unwrap_or_default().to_string();
        let st = state(
            config,
            [
                ("id", s(&id)),
                ("arn", arn(ctx.c, a.owner_id(), "network-acl", &id)),
                ("owner_id", opt_s(a.owner_id())),
            ],
        );
        let fail = |e: Error| e.after_creating(&id, st.clone());
        write_entries(ctx.c, &id, config).await.map_err(fail)?;
        associate(ctx.c, &vpc, &id, &strings(config, "subnet_ids"))
            .await
            .map_err(fail)?;
        Ok((id, st))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut found = BTreeMap::new();
        for chunk in chunks(&ids_of(items), BATCH) {
            for a in describe_acls(c, chunk.to_vec()).await? {
                let id = a.network_acl_id().unwrap_or_default().to_string();
                found.insert(id.clone(), vec![("id", s(&id))]);
            }
        }
        Ok(observed(answer(items, found)))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let changed = |a: &str| req.changed.iter().any(|c| c == a);
        if changed("ingress") || changed("egress") {
            write_entries(ctx.c, &req.id, &req.planned).await?;
        }
        if changed("subnet_ids") {
            let vpc = string(&req.planned, "vpc_id").unwrap_or_default();
            let new = strings(&req.planned, "subnet_ids");
            let gone: Vec<String> = strings(&req.prior, "subnet_ids")
                .into_iter()
                .filter(|s| !new.contains(s))
                .collect();
            associate(ctx.c, &vpc, &req.id, &new).await?;
            associate(ctx.c, &vpc, &default_acl(ctx.c, &vpc).await?, &gone).await?;
        }
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        let vpc = string(state, "vpc_id").unwrap_or_default();
        // Only the subnets this ACL still holds go back to the default.
        let held: Vec<String> = describe_acls(ctx.c, vec![id.to_string()])
            .await?
            .iter()
            .flat_map(|a| a.associations())
            .filter_map(|a| a.subnet_id().map(str::to_string))
            .collect();
        if !held.is_empty() {
            associate(ctx.c, &vpc, &default_acl(ctx.c, &vpc).await?, &held).await?;
        }
        retry_while_in_use(&format!("network ACL {id}"), SETTLE_TIMEOUT, || async {
            ctx.c
                .ec2
                .delete_network_acl()
                .network_acl_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DeleteNetworkAcl"))
        })
        .await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let out = c
            .ec2
            .describe_network_acls()
            .filters(key_filter(key))
            .send()
            .await
            .map_err(api("DescribeNetworkAcls"))?;
        let Some(a) = out.network_acls().iter().find(|a| a.has_key(key)) else {
            return Ok(None);
        };
        let id = a.network_acl_id().unwrap_or_default().to_string();
        let fields = vec![
            ("id", s(&id)),
            ("arn", arn(c, a.owner_id(), "network-acl", &id)),
            ("vpc_id", opt_s(a.vpc_id())),
            ("owner_id", opt_s(a.owner_id())),
            ("tags", user_tags(a.tags())),
        ];
        Ok(Some((id, adopted(&self.schema(), fields))))
    }
}

/// `aws_network_acl_rule`: one entry of an ACL, id
/// `{acl}-{rule_number}-{ingress|egress}`. What it allows changes in place
/// (ReplaceNetworkAclEntry): a replacement would need the same rule number
/// its predecessor holds.
pub struct NetworkAclRule;

#[async_trait]
impl Resource for NetworkAclRule {
    fn name(&self) -> &'static str {
        "aws_network_acl_rule"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("network_acl_id", A::required(str_t()))
            .attr("rule_number", A::required(num_t()))
            .attr("egress", A::optional(bool_t()))
            .attr("protocol", A::required(str_t()).runtime())
            .attr("rule_action", A::required(str_t()).runtime())
            .attr("cidr_block", A::optional(str_t()).runtime())
            .attr("ipv6_cidr_block", A::optional(str_t()).runtime())
            .attr("from_port", A::optional(num_t()).runtime())
            .attr("to_port", A::optional(num_t()).runtime())
            .attr("icmp_type", A::optional(num_t()).runtime())
            .attr("icmp_code", A::optional(num_t()).runtime())
            .exclusive(&["network_acl_id", "rule_number", "egress"])
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(a) = string(config, "rule_action")
            && !a.eq_ignore_ascii_case("allow")
            && !a.eq_ignore_ascii_case("deny")
        {
            out.push(format!("rule_action {a:?} must be \"allow\" or \"deny\""));
        }
        if let Some(n) = number(config, "rule_number")
            && !(1..=32766).contains(&n)
        {
            out.push(format!("rule_number {n} is outside 1 .. 32766"));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let acl = string(config, "network_acl_id").unwrap_or_default();
        let egress = boolean(config, "egress").unwrap_or(false);
        match put_entry(ctx.c, &acl, egress, config, false).await {
            Ok(()) => {}
            // An earlier try's entry (its answer lost) is rewritten as ours.
            Err(e) if e.code() == "NetworkAclEntryAlreadyExists" => {
                put_entry(ctx.c, &acl, egress, config, true).await?;
            }
            Err(e) => return Err(e),
        }
        let id = format!(
            "{acl}-{}-{}",
            number(config, "rule_number").unwrap_or_default(),
            if egress { "egress" } else { "ingress" }
        );
        Ok((id.clone(), state(config, [("id", s(id))])))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut acls: Vec<String> = items
            .iter()
            .map(|(_, p)| string(p, "network_acl_id").unwrap_or_default())
            .collect();
        acls.sort();
        acls.dedup();
        let mut found = std::collections::BTreeSet::new();
        for chunk in chunks(&acls, BATCH) {
            for a in describe_acls(c, chunk.to_vec()).await? {
                for e in a.entries() {
                    found.insert((
                        a.network_acl_id().unwrap_or_default().to_string(),
                        e.rule_number().unwrap_or_default(),
                        e.egress().unwrap_or(false),
                    ));
                }
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(_, prior)| {
                    let key = (
                        string(prior, "network_acl_id").unwrap_or_default(),
                        number(prior, "rule_number").unwrap_or_default() as i32,
                        boolean(prior, "egress").unwrap_or(false),
                    );
                    found.contains(&key).then(|| (*prior).clone())
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let acl = string(&req.planned, "network_acl_id").unwrap_or_default();
        let egress = boolean(&req.planned, "egress").unwrap_or(false);
        put_entry(ctx.c, &acl, egress, &req.planned, true).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        // An entry already gone is success; look first (not every endpoint
        // answers a delete of a missing entry with NotFound: moto fails).
        let acl = string(state, "network_acl_id").unwrap_or_default();
        let rule = number(state, "rule_number").unwrap_or_default() as i32;
        let egress = boolean(state, "egress").unwrap_or(false);
        let there = describe_acls(ctx.c, vec![acl.clone()])
            .await?
            .iter()
            .flat_map(|a| a.entries())
            .any(|e| e.rule_number() == Some(rule) && e.egress() == Some(egress));
        if !there {
            return Ok(());
        }
        match ctx
            .c
            .ec2
            .delete_network_acl_entry()
            .set_network_acl_id(string(state, "network_acl_id"))
            .set_rule_number(number(state, "rule_number").map(|n| n as i32))
            .egress(boolean(state, "egress").unwrap_or(false))
            .send()
            .await
            .map_err(api("DeleteNetworkAclEntry"))
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Entries carry no tags; a retried create rewrites its entry.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
