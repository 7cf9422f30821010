//! `aws_route`, one route of a route table, and the routes of a table's
//! `route` blocks: a destination (`destination_cidr_block`, or `cidr_block`
//! in a block) and one target, named as in Terraform. Routes carry no tags
//! and no id of their own: `aws_route`'s id is `{route_table_id}_{destination}`.
//! The target is run-time configuration, moved in place with ReplaceRoute
//! (traffic to the destination is never unrouted); the table or the
//! destination replaces.

use super::route_table::describe_route_tables;
use super::*;

/// The targets a route may have, as Terraform names them; one is set.
pub const TARGETS: &[&str] = &[
    "gateway_id",
    "nat_gateway_id",
    "network_interface_id",
    "transit_gateway_id",
    "vpc_peering_connection_id",
    "egress_only_gateway_id",
    "vpc_endpoint_id",
];

/// A route's target: the attribute that names it and its id.
pub type Target = Option<(&'static str, String)>;

/// The target a route block or an `aws_route` configuration names.
pub fn target(route: &Value) -> Target {
    TARGETS.iter().find_map(|t| Some((*t, string(route, t)?)))
}

/// The problems of a route's targets: more than one set.
pub fn check_targets(route: &Value, what: &str, out: &mut Vec<String>) {
    let set: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| string(route, t).is_some())
        .collect();
    if set.len() > 1 {
        out.push(format!(
            "{what} sets {}: a route has one target",
            set.join(" and ")
        ));
    }
}

macro_rules! with_target {
    ($req:expr, $target:expr) => {{
        let req = $req;
        match $target {
            Some(("gateway_id", id)) => req.gateway_id(id),
            Some(("nat_gateway_id", id)) => req.nat_gateway_id(id),
            Some(("network_interface_id", id)) => req.network_interface_id(id),
            Some(("transit_gateway_id", id)) => req.transit_gateway_id(id),
            Some(("vpc_peering_connection_id", id)) => req.vpc_peering_connection_id(id),
            Some(("egress_only_gateway_id", id)) => req.egress_only_internet_gateway_id(id),
            Some(("vpc_endpoint_id", id)) => req.vpc_endpoint_id(id),
            _ => req,
        }
    }};
}

/// Creates a route. `RouteAlreadyExists` is success when the route there
/// goes to the same target (an earlier try whose answer was lost), and an
/// error naming the route that is there otherwise.
pub async fn create(c: &Clients, table: &str, cidr: &str, to: &Target) -> Result<(), Error> {
    let made = with_target!(
        c.ec2
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(cidr),
        to.clone()
    )
    .send()
    .await
    .map_err(api("CreateRoute"));
    match made {
        Ok(_) => Ok(()),
        Err(e) if e.code() == "RouteAlreadyExists" => {
            let there = existing(c, table, cidr).await?;
            if there.as_ref().map(|(_, id)| id) == to.as_ref().map(|(_, id)| id) {
                Ok(())
            } else {
                Err(Error::new(format!(
                    "route table {table} already has a route to {cidr} (to {})",
                    there.map_or_else(|| "an unknown target".into(), |(_, id)| id)
                ))
                .with_detail(
                    "another route block or aws_route owns this destination; remove one of them",
                ))
            }
        }
        Err(e) => Err(e),
    }
}

/// Points an existing route at a new target.
pub async fn replace(c: &Clients, table: &str, cidr: &str, to: &Target) -> Result<(), Error> {
    with_target!(
        c.ec2
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(cidr),
        to.clone()
    )
    .send()
    .await
    .map(|_| ())
    .map_err(api("ReplaceRoute"))
}

/// Deletes a route; one already gone is success.
pub async fn delete(c: &Clients, table: &str, cidr: &str) -> Result<(), Error> {
    match c
        .ec2
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block(cidr)
        .send()
        .await
        .map_err(api("DeleteRoute"))
    {
        Err(e) if e.is_not_found() || e.code() == "InvalidRoute.NotFound" => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The target of the route to `cidr` in a table, as AWS reports it.
async fn existing(c: &Clients, table: &str, cidr: &str) -> Result<Target, Error> {
    let tables = describe_route_tables(c, filter("route-table-id", [table.to_string()])).await?;
    Ok(tables
        .iter()
        .flat_map(|t| t.routes())
        .find(|r| r.destination_cidr_block() == Some(cidr))
        .and_then(reported_target))
}

/// A route's target as AWS reports it.
fn reported_target(r: &aws_sdk_ec2::types::Route) -> Target {
    let pick = |attr: &'static str, id: Option<&str>| id.map(|id| (attr, id.to_string()));
    pick("nat_gateway_id", r.nat_gateway_id())
        .or_else(|| pick("transit_gateway_id", r.transit_gateway_id()))
        .or_else(|| pick("vpc_peering_connection_id", r.vpc_peering_connection_id()))
        .or_else(|| {
            pick(
                "egress_only_gateway_id",
                r.egress_only_internet_gateway_id(),
            )
        })
        .or_else(|| pick("network_interface_id", r.network_interface_id()))
        .or_else(|| {
            // An endpoint's route reports its id as the gateway.
            r.gateway_id().map(|g| {
                let attr = if g.starts_with("vpce-") {
                    "vpc_endpoint_id"
                } else {
                    "gateway_id"
                };
                (attr, g.to_string())
            })
        })
}

fn route_id(table: &str, cidr: &str) -> String {
    format!("{table}_{cidr}")
}

/// `aws_route`.
pub struct Route;

#[async_trait]
impl Resource for Route {
    fn name(&self) -> &'static str {
        "aws_route"
    }

    fn schema(&self) -> ResourceSchema {
        let mut r = ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("route_table_id", A::required(str_t()))
            .attr("destination_cidr_block", A::required(str_t()))
            .attr("origin", A::computed(str_t()))
            .attr("state", A::computed(str_t()));
        for t in TARGETS {
            r = r.attr(
                t,
                A::optional(str_t())
                    .runtime()
                    .describe("the route's target (one is set), moved in place"),
            );
        }
        // A destination is routed once per table.
        r.exclusive(&["route_table_id", "destination_cidr_block"])
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_cidr(config, "destination_cidr_block", out);
        check_targets(config, "the route", out);
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let (Some(table), Some(cidr)) = (
            string(config, "route_table_id"),
            string(config, "destination_cidr_block"),
        ) else {
            return Err(Error::new(
                "route_table_id and destination_cidr_block are required",
            ));
        };
        create(ctx.c, &table, &cidr, &target(config)).await?;
        let id = route_id(&table, &cidr);
        let st = state(
            config,
            [
                ("id", s(&id)),
                ("origin", s("CreateRoute")),
                ("state", s("active")),
            ],
        );
        Ok((id, st))
    }

    /// One DescribeRouteTables per 100 tables; a route whose target was
    /// moved outside kiln reads with the real target (set back in place).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let tables: Vec<(String, &Value)> = items
            .iter()
            .map(|(_, prior)| (string(prior, "route_table_id").unwrap_or_default(), *prior))
            .collect();
        let ids: Vec<(&str, &Value)> = tables.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let found: BTreeMap<String, aws_sdk_ec2::types::RouteTable> =
            describe_ids(&ids, "route-table-id", |f| describe_route_tables(c, f))
                .await?
                .into_iter()
                .map(|t| (t.route_table_id().unwrap_or_default().to_string(), t))
                .collect();
        Ok(items
            .iter()
            .map(|(_, prior)| {
                let table = string(prior, "route_table_id").unwrap_or_default();
                let cidr = string(prior, "destination_cidr_block").unwrap_or_default();
                let Some(r) = found
                    .get(&table)
                    .into_iter()
                    .flat_map(|t| t.routes())
                    .find(|r| r.destination_cidr_block() == Some(cidr.as_str()))
                else {
                    return Observed::default();
                };
                let mut fresh: Vec<(&'static str, Value)> =
                    TARGETS.iter().map(|t| (*t, Value::Null)).collect();
                if let Some((attr, id)) = reported_target(r) {
                    fresh.retain(|(k, _)| *k != attr);
                    fresh.push((attr, s(id)));
                }
                fresh.push(("state", opt_s(r.state().map(|s| s.as_str()))));
                Observed {
                    state: Some(refreshed(prior, fresh)),
                    drift: None,
                }
            })
            .collect())
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let table = string(&req.planned, "route_table_id").unwrap_or_default();
        let cidr = string(&req.planned, "destination_cidr_block").unwrap_or_default();
        replace(ctx.c, &table, &cidr, &target(&req.planned)).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        let table = string(state, "route_table_id").unwrap_or_default();
        let cidr = string(state, "destination_cidr_block").unwrap_or_default();
        delete(ctx.c, &table, &cidr).await
    }

    /// Routes carry no tags; a retried create finds its route by
    /// `RouteAlreadyExists` with the same target.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
