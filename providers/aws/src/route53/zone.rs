//! `aws_route53_zone`.

use super::*;

fn zone_computed(
    z: &aws_sdk_route53::types::HostedZone,
    name_servers: &[String],
) -> Vec<(&'static str, Value)> {
    let id = bare_zone(z.id());
    vec![
        ("id", s(&id)),
        ("zone_id", s(&id)),
        ("arn", s(format!("arn:aws:route53:::hostedzone/{id}"))),
        (
            "name_servers",
            Value::List(name_servers.iter().map(|n| s(n.as_str())).collect()),
        ),
        (
            "primary_name_server",
            name_servers.first().map_or(Value::Null, |n| s(n.as_str())),
        ),
    ]
}

/// A zone's name servers: its delegation set's, or (a private zone has
/// none) the values of its apex NS record, as Terraform reads them.
async fn name_servers(
    c: &Clients,
    z: &aws_sdk_route53::types::HostedZone,
    delegated: Vec<String>,
) -> Result<Vec<String>, Error> {
    if !delegated.is_empty() {
        return Ok(delegated);
    }
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(bare_zone(z.id()))
        .start_record_name(z.name())
        .start_record_type(aws_sdk_route53::types::RrType::Ns)
        .max_items(1)
        .send()
        .await
        .map_err(api("ListResourceRecordSets"))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| norm(r.name()) == norm(z.name()) && r.r#type().as_str() == "NS")
        .map(|r| {
            r.resource_records()
                .iter()
                .map(|x| x.value().trim_end_matches('.').to_string())
                .collect()
        })
        .unwrap_or_default())
}

async fn get(
    c: &Clients,
    id: &str,
) -> Result<Option<(aws_sdk_route53::types::HostedZone, Vec<String>)>, Error> {
    match c
        .route53
        .get_hosted_zone()
        .id(id)
        .send()
        .await
        .map_err(api("GetHostedZone"))
    {
        Ok(out) => {
            let Some(z) = out.hosted_zone().cloned() else {
                return Ok(None);
            };
            let delegated = out
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            let ns = name_servers(c, &z, delegated).await?;
            Ok(Some((z, ns)))
        }
        Err(e) if e.is_not_found() || e.code() == "NoSuchHostedZone" => Ok(None),
        Err(e) => Err(e),
    }
}

fn vpcs(config: &Value) -> Vec<(String, Option<String>)> {
    objects(config, "vpc")
        .into_iter()
        .filter_map(|v| Some((string(v, "vpc_id")?, string(v, "vpc_region"))))
        .collect()
}

fn vpc_of(c: &Clients, (id, region): &(String, Option<String>)) -> aws_sdk_route53::types::Vpc {
    aws_sdk_route53::types::Vpc::builder()
        .vpc_id(id)
        .vpc_region(aws_sdk_route53::types::VpcRegion::from(
            region.as_deref().unwrap_or(&c.region),
        ))
        .build()
}

async fn create_zone(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = string(config, "name").unwrap_or_default();
    let vpcs = vpcs(config);
    // The idempotency key is the caller reference: AWS makes one zone per
    // reference, and a find lists zones by it.
    let reference = if ctx.key.is_empty() {
        format!("kiln-{}", std::process::id())
    } else {
        ctx.key.to_string()
    };
    let made = ctx
        .c
        .route53
        .create_hosted_zone()
        .name(&name)
        .caller_reference(&reference)
        .hosted_zone_config(
            aws_sdk_route53::types::HostedZoneConfig::builder()
                .comment(string(config, "comment").unwrap_or_else(|| "Managed by kiln".into()))
                .private_zone(!vpcs.is_empty())
                .build(),
        )
        .set_vpc(vpcs.first().map(|v| vpc_of(ctx.c, v)))
        .set_delegation_set_id(string(config, "delegation_set_id"))
        .send()
        .await
        .map_err(api("CreateHostedZone"))?;
    let zone = made
        .hosted_zone()
        .cloned()
        .ok_or_else(|| Error::new("CreateHostedZone returned no zone"))?;
    let delegated = made
        .delegation_set()
        .map(|d| d.name_servers().to_vec())
        .unwrap_or_default();
    let id = bare_zone(zone.id());
    let ns = name_servers(ctx.c, &zone, delegated)
        .await
        .map_err(|e| e.after_creating(&id, state(config, [("id", s(&id))])))?;
    let st = state(config, zone_computed(&zone, &ns));
    let fail = |e: Error| e.after_creating(&id, st.clone());
    ctx.c
        .route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&id)
        .set_add_tags(Some(r53_tags(&ctx.tags(&tags(config)))))
        .send()
        .await
        .map_err(api("ChangeTagsForResource"))
        .map_err(fail)?;
    for v in vpcs.iter().skip(1) {
        ctx.c
            .route53
            .associate_vpc_with_hosted_zone()
            .hosted_zone_id(&id)
            .vpc(vpc_of(ctx.c, v))
            .send()
            .await
            .map_err(api("AssociateVPCWithHostedZone"))
            .map_err(fail)?;
    }
    in_sync(ctx.c, made.change_info().map(|c| c.id()))
        .await
        .map_err(fail)?;
    Ok((id, st))
}

/// Deletes every record but the zone's own NS and SOA (`force_destroy`).
async fn empty(ctx: &Ctx<'_>, id: &str, name: &str) -> Result<(), Error> {
    let mut doomed = Vec::new();
    let mut start: Option<(String, aws_sdk_route53::types::RrType, Option<String>)> = None;
    loop {
        let mut req = ctx.c.route53.list_resource_record_sets().hosted_zone_id(id);
        if let Some((name, ty, set)) = start.take() {
            req = req
                .start_record_name(name)
                .start_record_type(ty)
                .set_start_record_identifier(set);
        }
        let page = req.send().await.map_err(api("ListResourceRecordSets"))?;
        for r in page.resource_record_sets() {
            let apex = norm(r.name()) == norm(name);
            let own = apex && matches!(r.r#type().as_str(), "NS" | "SOA");
            if !own {
                doomed.push(r.clone());
            }
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => {
                start = Some((
                    n.to_string(),
                    t.clone(),
                    page.next_record_identifier().map(str::to_string),
                ));
            }
            _ => break,
        }
    }
    for chunk in doomed.chunks(100) {
        let changes = chunk
            .iter()
            .map(|r| {
                aws_sdk_route53::types::Change::builder()
                    .action(aws_sdk_route53::types::ChangeAction::Delete)
                    .resource_record_set(r.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::new(format!("a record of zone {id}: {e}")))?;
        ctx.c
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(id)
            .change_batch(
                aws_sdk_route53::types::ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .map_err(|e| Error::new(e.to_string()))?,
            )
            .send()
            .await
            .map_err(api("ChangeResourceRecordSets"))?;
    }
    Ok(())
}

/// `aws_route53_zone`.
pub struct Route53Zone;

#[async_trait]
impl Resource for Route53Zone {
    fn name(&self) -> &'static str {
        "aws_route53_zone"
    }

    fn schema(&self) -> ResourceSchema {
        let mut z = ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("zone_id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("name", A::required(str_t()))
            .attr("comment", A::optional(str_t()))
            .attr("delegation_set_id", A::optional(str_t()))
            .attr(
                "vpc",
                A::optional(Type::List(Box::new(obj(&[
                    ("vpc_id", str_t()),
                    ("vpc_region", str_t()),
                ]))))
                .updatable()
                .describe("a private zone's VPCs, changed in place (new ones associated before old ones are let go), as in Terraform; a rebuilt VPC keeps the zone"),
            )
            .attr(
                "force_destroy",
                A::optional(bool_t())
                    .runtime()
                    .describe("delete the zone's records with it"),
            )
            .attr("name_servers", A::computed(strs_t()))
            .attr("primary_name_server", A::computed(str_t()))
            .attr("tags", tags_attr());
        z.stateful = true;
        z
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if !vpcs(config).is_empty() && string(config, "delegation_set_id").is_some() {
            out.push("a private zone (vpc) takes no delegation_set_id".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_zone(ctx, config).await
    }

    /// One GetHostedZone each (Route 53 has no batched read of zones).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for (id, prior) in items {
            out.push(
                get(c, id)
                    .await?
                    .map(|(z, ns)| refreshed(prior, zone_computed(&z, &ns))),
            );
        }
        Ok(observed(out))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        if req.changed.iter().any(|c| c == "vpc") {
            let (old, new) = (vpcs(&req.prior), vpcs(&req.planned));
            // Associated first: a private zone always keeps one VPC.
            for v in new.iter().filter(|v| !old.contains(v)) {
                let done = ctx
                    .c
                    .route53
                    .associate_vpc_with_hosted_zone()
                    .hosted_zone_id(&req.id)
                    .vpc(vpc_of(ctx.c, v))
                    .send()
                    .await
                    .map_err(api("AssociateVPCWithHostedZone"));
                match done {
                    Ok(out) => in_sync(ctx.c, out.change_info().map(|c| c.id())).await?,
                    Err(e) if e.code() == "ConflictingDomainExists" || e.is_duplicate() => {}
                    Err(e) => return Err(e),
                }
            }
            for v in old.iter().filter(|v| !new.contains(v)) {
                let done = ctx
                    .c
                    .route53
                    .disassociate_vpc_from_hosted_zone()
                    .hosted_zone_id(&req.id)
                    .vpc(vpc_of(ctx.c, v))
                    .send()
                    .await
                    .map_err(api("DisassociateVPCFromHostedZone"));
                match done {
                    Ok(out) => in_sync(ctx.c, out.change_info().map(|c| c.id())).await?,
                    Err(e) if e.is_not_found() || e.code() == "VPCAssociationNotFound" => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let Some(change) = ctx.tag_change(req) else {
            return Ok(());
        };
        ctx.c
            .route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&req.id)
            .set_add_tags((!change.set.is_empty()).then(|| r53_tags(&change.set)))
            .set_remove_tag_keys((!change.removed.is_empty()).then_some(change.removed))
            .send()
            .await
            .map(|_| ())
            .map_err(api("ChangeTagsForResource"))
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        if boolean(state, "force_destroy") == Some(true) {
            empty(ctx, id, &string(state, "name").unwrap_or_default()).await?;
        }
        match ctx
            .c
            .route53
            .delete_hosted_zone()
            .id(id)
            .send()
            .await
            .map_err(api("DeleteHostedZone"))
        {
            Err(e) if e.is_not_found() || e.code() == "NoSuchHostedZone" => Ok(()),
            Err(e) if e.code() == "HostedZoneNotEmpty" => Err(e.with_detail(
                "the zone has records kiln does not manage; delete them, or set force_destroy = true and apply first",
            )),
            Err(e) => Err(e),
            Ok(out) => in_sync(ctx.c, out.change_info().map(|c| c.id())).await,
        }
    }

    /// The zone whose caller reference is the key.
    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let mut pages = c.route53.list_hosted_zones().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api("ListHostedZones"))?;
            if let Some(z) = page
                .hosted_zones()
                .iter()
                .find(|z| z.caller_reference() == key)
            {
                let id = bare_zone(z.id());
                let (zone, ns) = get(c, &id).await?.unwrap_or((z.clone(), Vec::new()));
                let mut fields = zone_computed(&zone, &ns);
                fields.push(("name", s(norm(zone.name()))));
                fields.push(("comment", opt_s(zone.config().and_then(|c| c.comment()))));
                return Ok(Some((id, crate::shape::adopted(&self.schema(), fields))));
            }
        }
        Ok(None)
    }
}

/// `data "aws_route53_zone"`: a zone by `zone_id`, or by `name` (and
/// `private_zone`).
pub async fn read_data(c: &Clients, config: &Value) -> Result<Value, Error> {
    let zone = if let Some(id) = string(config, "zone_id") {
        get(c, &id).await?
    } else {
        let name = norm(&string(config, "name").unwrap_or_default());
        let private = boolean(config, "private_zone").unwrap_or(false);
        let mut found = None;
        let mut pages = c.route53.list_hosted_zones().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api("ListHostedZones"))?;
            if let Some(z) = page.hosted_zones().iter().find(|z| {
                norm(z.name()) == name
                    && z.config().map(|c| c.private_zone()).unwrap_or(false) == private
            }) {
                found = Some(bare_zone(z.id()));
                break;
            }
        }
        match found {
            Some(id) => get(c, &id).await?,
            None => None,
        }
    };
    let Some((z, ns)) = zone else {
        return Err(Error::new("no hosted zone matches")
            .with_detail("check zone_id, or name and private_zone"));
    };
    let mut fields = zone_computed(&z, &ns);
    fields.push(("name", s(norm(z.name()))));
    fields.push((
        "private_zone",
        Value::Bool(z.config().map(|c| c.private_zone()).unwrap_or(false)),
    ));
    fields.push((
        "resource_record_set_count",
        z.resource_record_set_count()
            .map_or(Value::Null, Value::from),
    ));
    Ok(state(config, fields))
}
