//! `aws_route_table`: routes are run-time configuration, changed in place.

use super::route;
use super::*;

pub async fn create_route_table(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let tags = ctx.tags(&tags(config));
    let rt = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_route_table()
                .set_vpc_id(string(config, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::RouteTable, &tags))
                .send()
                .await
                .map_err(api("CreateRouteTable"))?;
            out.route_table()
                .cloned()
                .ok_or_else(|| Error::new("CreateRouteTable returned no route table"))
        },
        || made_by(ctx, |f| describe_route_tables(ctx.c, f)),
    )
    .await?;
    let id = rt.route_table_id().unwrap_or_default().to_string();
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, rt.owner_id(), "route-table", &id)),
            ("owner_id", opt_s(rt.owner_id())),
        ],
    );
    for r in objects(config, "route") {
        let Some(cidr) = string(r, "cidr_block") else {
            continue;
        };
        // The table is new: a route already there to the same target is
        // this create's own (an earlier try whose answer was lost).
        if let Err(e) = route::create(ctx.c, &id, &cidr, &route::target(r)).await {
            return Err(e.after_creating(&id, st));
        }
    }
    Ok((id, st))
}

pub(super) async fn describe_route_tables(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, Error> {
    let out = c
        .ec2
        .describe_route_tables()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeRouteTables"))?;
    Ok(out.route_tables().to_vec())
}

pub async fn read_route_tables(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    read_ids(
        items,
        "route-table-id",
        |f| describe_route_tables(c, f),
        |rt| {
            let id = rt.route_table_id().unwrap_or_default().to_string();
            let fresh = vec![("id", s(&id))];
            (id, fresh)
        },
    )
    .await
}

pub async fn find_route_table(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(rt) = tagged(key, |f| describe_route_tables(c, f)).await? else {
        return Ok(None);
    };
    let id = rt.route_table_id().unwrap_or_default().to_string();
    let st = adopted(
        &RouteTable.schema(),
        [
            ("id", s(&id)),
            ("arn", arn(c, rt.owner_id(), "route-table", &id)),
            ("vpc_id", opt_s(rt.vpc_id())),
            ("owner_id", opt_s(rt.owner_id())),
            ("tags", user_tags(rt.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_route_table(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("route table {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteRouteTable"))
    })
    .await
}

/// Routes change in place: removed destinations are deleted, new ones
/// created, and a destination whose gateway changed is replaced (traffic
/// to it never stops being routed).
pub async fn update_route_table(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if req.changed.iter().any(|c| c == "route") {
        let routes = |v: &Value| -> BTreeMap<String, route::Target> {
            objects(v, "route")
                .into_iter()
                .filter_map(|r| Some((string(r, "cidr_block")?, route::target(r))))
                .collect()
        };
        let (old, new) = (routes(&req.prior), routes(&req.planned));
        for (cidr, to) in &new {
            match old.get(cidr) {
                None => route::create(ctx.c, &req.id, cidr, to).await?,
                Some(was) if was != to => route::replace(ctx.c, &req.id, cidr, to).await?,
                Some(_) => {}
            }
        }
        for cidr in old.keys().filter(|c| !new.contains_key(*c)) {
            route::delete(ctx.c, &req.id, cidr).await?;
        }
    }
    update_tags(ctx, req).await
}

/// A `route` block: a destination and one of Terraform's targets.
fn route_block_t() -> Type {
    let mut fields = vec![("cidr_block", str_t())];
    fields.extend(route::TARGETS.iter().map(|t| (*t, str_t())));
    obj(&fields)
}

/// `aws_route_table`.
pub struct RouteTable;

#[async_trait]
impl Resource for RouteTable {
    fn name(&self) -> &'static str {
        "aws_route_table"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr(
                "route",
                A::optional(Type::List(Box::new(route_block_t())))
                .runtime()
                .describe("routes are changed in place (a new table would have to take over every subnet's association)"),
            )
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        for r in objects(config, "route") {
            if let Some(c) = string(r, "cidr_block")
                && !crate::values::is_ipv4_cidr(&c)
            {
                out.push(format!(
                    "route cidr_block {c:?} is not a valid IPv4 CIDR block"
                ));
            }
            route::check_targets(r, "a route block", out);
        }
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_route_table(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        // Route blocks written before a target existed read with it null.
        let states = read_route_tables(c, items).await?;
        Ok(observed(
            states
                .into_iter()
                .map(|st| {
                    st.map(|st| {
                        let shaped = with_shape(
                            st.get("route").unwrap_or(&Value::Null),
                            &Type::List(Box::new(route_block_t())),
                        );
                        state(&st, [("route", shaped)])
                    })
                })
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_route_table(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_route_table(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_route_table(c, key).await
    }
}
