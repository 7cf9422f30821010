//! `aws_route_table_association`: carries no tags; an earlier try's is the one between the same subnet and table.

use super::route_table::describe_route_tables;
use super::*;

pub async fn create_association(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let table = string(config, "route_table_id");
    let subnet = string(config, "subnet_id");
    let id = create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .associate_route_table()
                .set_route_table_id(table.clone())
                .set_subnet_id(subnet.clone())
                .send()
                .await
                .map_err(api("AssociateRouteTable"))?;
            Ok(out.association_id().unwrap_or_default().to_string())
        },
        // Associations carry no tags: an earlier try's is the one between
        // this very subnet and table (a subnet has at most one).
        || async {
            let (Some(table), Some(subnet)) = (&table, &subnet) else {
                return Ok(None);
            };
            let f = filter("association.subnet-id", [subnet.clone()]);
            Ok(describe_route_tables(ctx.c, f)
                .await?
                .iter()
                .flat_map(|rt| rt.associations())
                .find(|a| {
                    a.subnet_id() == Some(subnet.as_str())
                        && a.route_table_id() == Some(table.as_str())
                })
                .and_then(|a| a.route_table_association_id().map(str::to_string)))
        },
    )
    .await?;
    Ok((id.clone(), state(config, [("id", s(id))])))
}

pub async fn read_associations(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        let f = filter("association.route-table-association-id", chunk.to_vec());
        for rt in describe_route_tables(c, f).await? {
            for a in rt.associations() {
                if let Some(id) = a.route_table_association_id() {
                    found.insert(id.to_string(), vec![("id", s(id))]);
                }
            }
        }
    }
    Ok(answer(items, found))
}

pub async fn delete_association(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .disassociate_route_table()
        .association_id(id)
        .send()
        .await
        .map_err(api("DisassociateRouteTable"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// `aws_route_table_association`.
pub struct RouteTableAssociation;

#[async_trait]
impl Resource for RouteTableAssociation {
    fn name(&self) -> &'static str {
        "aws_route_table_association"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("subnet_id", A::required(str_t()))
            .attr("route_table_id", A::required(str_t()))
            // A subnet has one route table association.
            .exclusive(&["subnet_id"])
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_association(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_associations(c, items).await.map(observed)
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_association(ctx, id).await
    }

    /// Associations carry no tags; an interrupted one is found by the route
    /// table's read and the next plan recreates it.
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
