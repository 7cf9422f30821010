//! The objects AWS makes with every VPC, taken under management as
//! Terraform does (the community VPC module manages all three by default):
//! `aws_default_security_group`, `aws_default_route_table` and
//! `aws_default_network_acl`. kiln never creates or deletes them: a create
//! adopts the VPC's default object and writes its rules, routes or entries
//! over whatever was there (as Terraform documents); a delete leaves the
//! object to AWS; a change of rules, routes or entries is made in place.
//! A new VPC (a new generation) brings new defaults, so a different VPC,
//! route table or ACL id replaces.

use super::network_acl::{acl_entry_t, describe_acls, write_entries};
use super::route;
use super::route_table::describe_route_tables;
use super::security_group::{describe_sgs, permission};
use super::*;

/// Revokes every rule of a group, then authorizes the configured ones.
async fn write_rules(c: &Clients, group: &str, config: &Value) -> Result<(), Error> {
    let found = describe_sgs(c, filter("group-id", [group.to_string()])).await?;
    let Some(g) = found.first() else {
        return Err(Error::new(format!("security group {group} does not exist")));
    };
    if !g.ip_permissions().is_empty() {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(g.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(api("RevokeSecurityGroupIngress"))?;
    }
    if !g.ip_permissions_egress().is_empty() {
        c.ec2
            .revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()))
            .send()
            .await
            .map_err(api("RevokeSecurityGroupEgress"))?;
    }
    let ingress: Vec<IpPermission> = objects(config, "ingress")
        .into_iter()
        .map(|r| permission(r, group))
        .collect();
    if !ingress.is_empty() {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(api("AuthorizeSecurityGroupIngress"))?;
    }
    let egress: Vec<IpPermission> = objects(config, "egress")
        .into_iter()
        .map(|r| permission(r, group))
        .collect();
    if !egress.is_empty() {
        c.ec2
            .authorize_security_group_egress()
            .group_id(group)
            .set_ip_permissions(Some(egress))
            .send()
            .await
            .map_err(api("AuthorizeSecurityGroupEgress"))?;
    }
    Ok(())
}

/// Tags of an adopted default object: the configured ones with kiln's.
pub(super) async fn tag(ctx: &Ctx<'_>, id: &str, config: &Value) -> Result<(), Error> {
    ctx.c
        .ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(ec2_tags(&ctx.tags(&tags(config)))))
        .send()
        .await
        .map(|_| ())
        .map_err(api("CreateTags"))
}

fn rule_t() -> Type {
    obj(&[
        ("from_port", num_t()),
        ("to_port", num_t()),
        ("protocol", str_t()),
        ("cidr_blocks", strs_t()),
        ("ipv6_cidr_blocks", strs_t()),
        ("prefix_list_ids", strs_t()),
        ("security_groups", strs_t()),
        ("self", bool_t()),
        ("description", str_t()),
    ])
}

/// `aws_default_security_group`.
pub struct DefaultSecurityGroup;

#[async_trait]
impl Resource for DefaultSecurityGroup {
    fn name(&self) -> &'static str {
        "aws_default_security_group"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr(
                "ingress",
                A::optional(Type::List(Box::new(rule_t())))
                    .runtime()
                    .describe("the only inbound rules the default group keeps (none when unset)"),
            )
            .attr(
                "egress",
                A::optional(Type::List(Box::new(rule_t())))
                    .runtime()
                    .describe("the only outbound rules the default group keeps (none when unset)"),
            )
            .attr("name", A::computed(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
            .exclusive(&["vpc_id"])
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let vpc = string(config, "vpc_id").unwrap_or_default();
        let found = describe_sgs(ctx.c, filter("vpc-id", [vpc.clone()]))
            .await?
            .into_iter()
            .find(|g| g.group_name() == Some("default"));
        let Some(g) = found else {
            return Err(Error::new(format!(
                "VPC {vpc} has no default security group"
            )));
        };
        let id = g.group_id().unwrap_or_default().to_string();
        write_rules(ctx.c, &id, config).await?;
        tag(ctx, &id, config).await?;
        let computed = [
            ("id", s(&id)),
            ("arn", arn(ctx.c, g.owner_id(), "security-group", &id)),
            ("name", s("default")),
            ("owner_id", opt_s(g.owner_id())),
        ];
        Ok((id, state(config, computed)))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_ids(
            items,
            "group-id",
            |f| describe_sgs(c, f),
            |g| {
                let id = g.group_id().unwrap_or_default().to_string();
                (id.clone(), vec![("id", s(&id))])
            },
        )
        .await
        .map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        if req.changed.iter().any(|c| c == "ingress" || c == "egress") {
            write_rules(ctx.c, &req.id, &req.planned).await?;
        }
        update_tags(ctx, req).await
    }

    /// The default group stays with its VPC.
    async fn delete(&self, _ctx: &Ctx<'_>, _id: &str, _state: &Value) -> Result<(), Error> {
        Ok(())
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}

/// Deletes a table's routes other than the local one and `keep`'s, then
/// creates the configured ones.
async fn write_routes(c: &Clients, table: &str, config: &Value) -> Result<(), Error> {
    let found = describe_route_tables(c, filter("route-table-id", [table.to_string()])).await?;
    let Some(t) = found.first() else {
        return Err(Error::new(format!("route table {table} does not exist")));
    };
    let wanted: BTreeMap<String, route::Target> = objects(config, "route")
        .into_iter()
        .filter_map(|r| Some((string(r, "cidr_block")?, route::target(r))))
        .collect();
    for r in t.routes() {
        let local = r.gateway_id() == Some("local");
        if let Some(cidr) = r.destination_cidr_block()
            && !local
            && !wanted.contains_key(cidr)
        {
            route::delete(c, table, cidr).await?;
        }
    }
    for (cidr, to) in &wanted {
        route::create(c, table, cidr, to).await?;
    }
    Ok(())
}

/// `aws_default_route_table`.
pub struct DefaultRouteTable;

fn route_block_t() -> Type {
    let mut fields = vec![("cidr_block", str_t())];
    fields.extend(route::TARGETS.iter().map(|t| (*t, str_t())));
    obj(&fields)
}

#[async_trait]
impl Resource for DefaultRouteTable {
    fn name(&self) -> &'static str {
        "aws_default_route_table"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("default_route_table_id", A::required(str_t()))
            .attr(
                "route",
                A::optional(Type::List(Box::new(route_block_t())))
                    .runtime()
                    .describe("the only routes the main table keeps besides the local one"),
            )
            .attr("vpc_id", A::computed(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
            .exclusive(&["default_route_table_id"])
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        for r in objects(config, "route") {
            route::check_targets(r, "a route block", out);
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let id = string(config, "default_route_table_id").unwrap_or_default();
        let found = describe_route_tables(ctx.c, filter("route-table-id", [id.clone()])).await?;
        let Some(t) = found.first() else {
            return Err(Error::new(format!("route table {id} does not exist")));
        };
        write_routes(ctx.c, &id, config).await?;
        tag(ctx, &id, config).await?;
        let computed = [
            ("id", s(&id)),
            ("arn", arn(ctx.c, t.owner_id(), "route-table", &id)),
            ("vpc_id", opt_s(t.vpc_id())),
            ("owner_id", opt_s(t.owner_id())),
        ];
        Ok((id.clone(), state(config, computed)))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_ids(
            items,
            "route-table-id",
            |f| describe_route_tables(c, f),
            |t| {
                let id = t.route_table_id().unwrap_or_default().to_string();
                (id.clone(), vec![("id", s(&id))])
            },
        )
        .await
        .map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        if req.changed.iter().any(|c| c == "route") {
            write_routes(ctx.c, &req.id, &req.planned).await?;
        }
        update_tags(ctx, req).await
    }

    /// The main table stays with its VPC, routes and all.
    async fn delete(&self, _ctx: &Ctx<'_>, _id: &str, _state: &Value) -> Result<(), Error> {
        Ok(())
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}

/// `aws_default_network_acl`.
pub struct DefaultNetworkAcl;

#[async_trait]
impl Resource for DefaultNetworkAcl {
    fn name(&self) -> &'static str {
        "aws_default_network_acl"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("default_network_acl_id", A::required(str_t()))
            .attr(
                "subnet_ids",
                A::optional(strs_t()).describe("accepted for Terraform's sake: subnets without an ACL of their own use the default"),
            )
            .attr(
                "ingress",
                A::optional(Type::List(Box::new(acl_entry_t())))
                    .runtime()
                    .describe("the only inbound entries the default ACL keeps (none when unset: all denied)"),
            )
            .attr(
                "egress",
                A::optional(Type::List(Box::new(acl_entry_t())))
                    .runtime()
                    .describe("the only outbound entries the default ACL keeps (none when unset: all denied)"),
            )
            .attr("vpc_id", A::computed(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
            .exclusive(&["default_network_acl_id"])
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let id = string(config, "default_network_acl_id").unwrap_or_default();
        let found = describe_acls(ctx.c, vec![id.clone()]).await?;
        let Some(a) = found.first() else {
            return Err(Error::new(format!("network ACL {id} does not exist")));
        };
        write_entries(ctx.c, &id, config).await?;
        tag(ctx, &id, config).await?;
        let computed = [
            ("id", s(&id)),
            ("arn", arn(ctx.c, a.owner_id(), "network-acl", &id)),
            ("vpc_id", opt_s(a.vpc_id())),
            ("owner_id", opt_s(a.owner_id())),
        ];
        Ok((id.clone(), state(config, computed)))
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
        if req.changed.iter().any(|c| c == "ingress" || c == "egress") {
            write_entries(ctx.c, &req.id, &req.planned).await?;
        }
        update_tags(ctx, req).await
    }

    /// The default ACL stays with its VPC.
    async fn delete(&self, _ctx: &Ctx<'_>, _id: &str, _state: &Value) -> Result<(), Error> {
        Ok(())
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
