//! `aws_route53_record`.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::*;

/// The zone's name, without the trailing dot.
async fn zone_name(c: &Clients, zone: &str) -> Result<String, Error> {
    let out = c
        .route53
        .get_hosted_zone()
        .id(zone)
        .send()
        .await
        .map_err(api("GetHostedZone"))?;
    Ok(out
        .hosted_zone()
        .map(|z| norm(z.name()))
        .unwrap_or_default())
}

/// A record's full name: `name` as written when it is in the zone, else
/// `name` in the zone (Terraform's rule: `www` in `example.com`).
fn fqdn(name: &str, zone: &str) -> String {
    let name = norm(name);
    if zone.is_empty() || name == zone || name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    }
}

fn record_id(zone: &str, name: &str, ty: &str, set: Option<&str>) -> String {
    match set {
        Some(set) => format!("{zone}_{name}_{ty}_{set}"),
        None => format!("{zone}_{name}_{ty}"),
    }
}

/// The record set a configuration describes, under its full name.
fn record_set(config: &Value, name: &str) -> Result<ResourceRecordSet, Error> {
    let alias = objects(config, "alias").first().map(|a| {
        AliasTarget::builder()
            .set_dns_name(string(a, "name"))
            .set_hosted_zone_id(string(a, "zone_id"))
            .evaluate_target_health(boolean(a, "evaluate_target_health").unwrap_or(false))
            .build()
    });
    let alias = alias
        .transpose()
        .map_err(|e| Error::new(format!("alias: {e}")))?;
    let records: Vec<ResourceRecord> = strings(config, "records")
        .into_iter()
        .map(|r| ResourceRecord::builder().value(r).build())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::new(format!("records: {e}")))?;
    let weight = objects(config, "weighted_routing_policy")
        .first()
        .and_then(|w| number(w, "weight"));
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(
            string(config, "type").unwrap_or_default().as_str(),
        ))
        .set_ttl(if alias.is_some() {
            None
        } else {
            number(config, "ttl")
        })
        .set_resource_records((!records.is_empty()).then_some(records))
        .set_alias_target(alias)
        .set_set_identifier(string(config, "set_identifier"))
        .set_weight(weight)
        .set_health_check_id(string(config, "health_check_id"))
        .build()
        .map_err(|e| Error::new(format!("the record: {e}")))
}

/// Sends one change of one record set and waits until it is in sync.
async fn change(
    c: &Clients,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(), Error> {
    let out = c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(set)
                        .build()
                        .map_err(|e| Error::new(e.to_string()))?,
                )
                .build()
                .map_err(|e| Error::new(e.to_string()))?,
        )
        .send()
        .await
        .map_err(api("ChangeResourceRecordSets"))?;
    in_sync(c, out.change_info().map(|i| i.id())).await
}

/// The live record set of a name, type and set identifier.
async fn current(
    c: &Clients,
    zone: &str,
    name: &str,
    ty: &str,
    set: Option<&str>,
) -> Result<Option<ResourceRecordSet>, Error> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(RrType::from(ty))
        .set_start_record_identifier(set.map(str::to_string))
        .max_items(100)
        .send()
        .await
        .map_err(api("ListResourceRecordSets"));
    let out = match out {
        Err(e) if e.is_not_found() || e.code() == "NoSuchHostedZone" => return Ok(None),
        other => other?,
    };
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| {
            norm(r.name()) == norm(name) && r.r#type().as_str() == ty && r.set_identifier() == set
        })
        .cloned())
}

/// What a live record set says of the run-time arguments.
fn observed_fields(r: &ResourceRecordSet, prior: &Value) -> Vec<(&'static str, Value)> {
    let mut fields = Vec::new();
    if let Some(a) = r.alias_target() {
        let evaluate = objects(prior, "alias")
            .first()
            .and_then(|p| p.get("evaluate_target_health").cloned())
            .unwrap_or(Value::Bool(a.evaluate_target_health()));
        fields.push((
            "alias",
            Value::List(
                vec![Value::map([
                    ("name", s(norm(a.dns_name()))),
                    ("zone_id", s(a.hosted_zone_id())),
                    ("evaluate_target_health", evaluate),
                ])]
                .into(),
            ),
        ));
    } else {
        let mut got: Vec<String> = r
            .resource_records()
            .iter()
            .map(|x| x.value().to_string())
            .collect();
        let mut want = strings(prior, "records");
        got.sort();
        want.sort();
        // Records are a set: keep the written order when the set is equal.
        if got != want {
            fields.push((
                "records",
                Value::List(got.into_iter().map(Value::from).collect()),
            ));
        }
        fields.push(("ttl", r.ttl().map_or(Value::Null, Value::from)));
    }
    if let Some(w) = r.weight() {
        fields.push((
            "weighted_routing_policy",
            Value::List(vec![Value::map([("weight", Value::from(w))])].into()),
        ));
    }
    fields
}

/// `aws_route53_record`.
pub struct Route53Record;

#[async_trait]
impl Resource for Route53Record {
    fn name(&self) -> &'static str {
        "aws_route53_record"
    }

    fn schema(&self) -> ResourceSchema {
        let mut r = ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("fqdn", A::computed(str_t()))
            .attr("zone_id", A::required(str_t()))
            .attr("name", A::required(str_t()))
            .attr("type", A::required(str_t()))
            .attr("set_identifier", A::optional(str_t()))
            .attr("ttl", A::optional(num_t()).runtime())
            .attr(
                "records",
                A::optional(strs_t())
                    .runtime()
                    .describe("the values, changed in place"),
            )
            .attr(
                "alias",
                A::optional(Type::List(Box::new(obj(&[
                    ("name", str_t()),
                    ("zone_id", str_t()),
                    ("evaluate_target_health", bool_t()),
                ]))))
                .runtime()
                .describe("a load balancer or other AWS target, changed in place"),
            )
            .attr(
                "weighted_routing_policy",
                A::optional(Type::List(Box::new(obj(&[("weight", num_t())]))))
                    .runtime()
                    .describe("the share of answers for this set_identifier, changed in place"),
            )
            .attr("health_check_id", A::optional(str_t()).runtime())
            .attr(
                "allow_overwrite",
                opt_computed(bool_t())
                    .runtime()
                    .describe("take over a record of the same name and type made outside kiln"),
            )
            .exclusive(&["zone_id", "name", "type", "set_identifier"]);
        // Where names resolve is the cut-over switch: moved in place.
        r.traffic_switch = true;
        r
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let alias = !objects(config, "alias").is_empty();
        let records = config.get("records").is_some_and(|v| !v.is_null());
        if alias && records {
            out.push("alias and records conflict: an alias record has no records".into());
        }
        if !alias && !records && config.is_known() {
            out.push("set records (with ttl) or an alias block".into());
        }
        if records && config.get("ttl").is_some_and(Value::is_null) {
            out.push("a record with records needs a ttl".into());
        }
        let weighted = !objects(config, "weighted_routing_policy").is_empty();
        if weighted && config.get("set_identifier").is_some_and(Value::is_null) {
            out.push("a weighted record needs a set_identifier".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let zone = bare_zone(&string(config, "zone_id").unwrap_or_default());
        let name = fqdn(
            &string(config, "name").unwrap_or_default(),
            &zone_name(ctx.c, &zone).await?,
        );
        let ty = string(config, "type").unwrap_or_default();
        let set = string(config, "set_identifier");
        let wanted = record_set(config, &name)?;
        match change(ctx.c, &zone, ChangeAction::Create, wanted.clone()).await {
            Ok(()) => {}
            // Already there: an earlier try's when it is exactly this
            // record, or allowed to be taken over; refused otherwise.
            Err(e) if e.code() == "InvalidChangeBatch" && e.message.contains("already exists") => {
                let there = current(ctx.c, &zone, &name, &ty, set.as_deref()).await?;
                let same = there.as_ref().is_some_and(|t| {
                    t.ttl() == wanted.ttl()
                        && t.resource_records() == wanted.resource_records()
                        && t.alias_target().map(|a| norm(a.dns_name()))
                            == wanted.alias_target().map(|a| norm(a.dns_name()))
                });
                if !same {
                    if boolean(config, "allow_overwrite") != Some(true) {
                        return Err(Error::new(format!(
                            "a {ty} record {name} already exists in zone {zone} and kiln did not create it"
                        ))
                        .with_detail("set allow_overwrite = true to take it over, or choose another name"));
                    }
                    change(ctx.c, &zone, ChangeAction::Upsert, wanted).await?;
                }
            }
            Err(e) => return Err(e),
        }
        let id = record_id(&zone, &name, &ty, set.as_deref());
        let computed = [
            ("id", s(&id)),
            ("fqdn", s(&name)),
            (
                "allow_overwrite",
                Value::Bool(boolean(config, "allow_overwrite").unwrap_or(false)),
            ),
        ];
        Ok((id, state(config, computed)))
    }

    /// One ListResourceRecordSets each (starting at the record's name).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for (_, prior) in items {
            let zone = bare_zone(&string(prior, "zone_id").unwrap_or_default());
            let name = string(prior, "fqdn").unwrap_or_default();
            let ty = string(prior, "type").unwrap_or_default();
            let set = string(prior, "set_identifier");
            out.push(
                current(c, &zone, &name, &ty, set.as_deref())
                    .await?
                    .map(|r| refreshed(prior, observed_fields(&r, prior))),
            );
        }
        Ok(observed(out))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let zone = bare_zone(&string(&req.planned, "zone_id").unwrap_or_default());
        let name = string(&req.prior, "fqdn").unwrap_or_default();
        change(
            ctx.c,
            &zone,
            ChangeAction::Upsert,
            record_set(&req.planned, &name)?,
        )
        .await
    }

    async fn delete(&self, ctx: &Ctx<'_>, _id: &str, state: &Value) -> Result<(), Error> {
        let zone = bare_zone(&string(state, "zone_id").unwrap_or_default());
        let name = string(state, "fqdn").unwrap_or_default();
        let ty = string(state, "type").unwrap_or_default();
        let set = string(state, "set_identifier");
        // A DELETE names the record exactly as it is now.
        let Some(live) = current(ctx.c, &zone, &name, &ty, set.as_deref()).await? else {
            return Ok(());
        };
        change(ctx.c, &zone, ChangeAction::Delete, live).await
    }

    /// Records carry no tags; a retried create finds its record by the
    /// name (see `create`).
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
