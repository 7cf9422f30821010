//! `aws_eip`: an Elastic IP address in a VPC. Allocated with its tags
//! (AllocateAddress takes no client token: a retried allocation looks for
//! the first try's address by its key first). `instance` and
//! `network_interface` are run-time configuration, moved in place with
//! AssociateAddress / DisassociateAddress; everything else replaces.
//! Released with ReleaseAddress, retried while a NAT gateway being deleted
//! still holds it.

use super::*;

fn eip_computed(c: &Clients, a: &aws_sdk_ec2::types::Address) -> Vec<(&'static str, Value)> {
    let id = a.allocation_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("allocation_id", s(id)),
        ("arn", arn(c, None, "elastic-ip", id)),
        ("public_ip", opt_s(a.public_ip())),
        ("private_ip", opt_s(a.private_ip_address())),
        ("association_id", opt_s(a.association_id())),
        ("domain", s(a.domain().map_or("vpc", |d| d.as_str()))),
        ("public_ipv4_pool", opt_s(a.public_ipv4_pool())),
        (
            "public_dns",
            a.public_ip().map_or(Value::Null, |ip| {
                s(format!(
                    "ec2-{}.{}.compute.amazonaws.com",
                    ip.replace('.', "-"),
                    c.region
                ))
            }),
        ),
    ]
}

async fn describe_addresses(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::Address>, Error> {
    let out = c
        .ec2
        .describe_addresses()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeAddresses"))?;
    Ok(out.addresses().to_vec())
}

/// Associates the address with the configured instance or network
/// interface, if any; whether it did.
async fn associate(ctx: &Ctx<'_>, id: &str, config: &Value) -> Result<bool, Error> {
    let instance = string(config, "instance");
    let eni = string(config, "network_interface");
    if instance.is_none() && eni.is_none() {
        return Ok(false);
    }
    ctx.c
        .ec2
        .associate_address()
        .allocation_id(id)
        .set_instance_id(instance)
        .set_network_interface_id(eni)
        .set_private_ip_address(string(config, "associate_with_private_ip"))
        .allow_reassociation(false)
        .send()
        .await
        .map_err(api("AssociateAddress"))?;
    Ok(true)
}

pub async fn create_eip(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let tags = ctx.tags(&tags(config));
    let a = create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .allocate_address()
                .domain(aws_sdk_ec2::types::DomainType::Vpc)
                .set_public_ipv4_pool(string(config, "public_ipv4_pool"))
                .set_address(string(config, "address"))
                .tag_specifications(tag_spec(ResourceType::ElasticIp, &tags))
                .send()
                .await
                .map_err(api("AllocateAddress"))?;
            Ok(aws_sdk_ec2::types::Address::builder()
                .set_allocation_id(out.allocation_id().map(str::to_string))
                .set_public_ip(out.public_ip().map(str::to_string))
                .set_public_ipv4_pool(out.public_ipv4_pool().map(str::to_string))
                .set_domain(out.domain().cloned())
                .build())
        },
        || made_by(ctx, |f| describe_addresses(ctx.c, f)),
    )
    .await?;
    let id = a.allocation_id().unwrap_or_default().to_string();
    let st = state(config, eip_computed(ctx.c, &a));
    let fail = |e: Error| e.after_creating(&id, st.clone());
    if associate(ctx, &id, config).await.map_err(fail)? {
        // Associated: the private address and the association are known now.
        let now = describe_addresses(ctx.c, filter("allocation-id", [id.clone()]))
            .await
            .map_err(fail)?;
        if let Some(a) = now.first() {
            return Ok((id.clone(), state(config, eip_computed(ctx.c, a))));
        }
    }
    Ok((id, st))
}

pub async fn read_eips(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let found: BTreeMap<String, aws_sdk_ec2::types::Address> =
        describe_ids(items, "allocation-id", |f| describe_addresses(c, f))
            .await?
            .into_iter()
            .map(|a| (a.allocation_id().unwrap_or_default().to_string(), a))
            .collect();
    Ok(items
        .iter()
        .map(|(id, prior)| {
            let a = found.get(*id)?;
            let mut fresh = eip_computed(c, a);
            // Where it is associated is run-time configuration: a move
            // outside kiln shows as an in-place update back. Only the
            // attribute the configuration sets is compared (an instance's
            // address also names its network interface; a NAT gateway's
            // association is the gateway's own).
            let configured = |k: &str| prior.get(k).is_some_and(|v| !v.is_null());
            if configured("instance") {
                fresh.push(("instance", opt_s(a.instance_id())));
            } else if configured("network_interface") {
                fresh.push(("network_interface", opt_s(a.network_interface_id())));
            }
            Some(refreshed(prior, fresh))
        })
        .collect())
}

pub async fn find_eip(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(a) = tagged(key, |f| describe_addresses(c, f)).await? else {
        return Ok(None);
    };
    let id = a.allocation_id().unwrap_or_default().to_string();
    let mut fields = eip_computed(c, &a);
    fields.push(("tags", user_tags(a.tags())));
    Ok(Some((id, adopted(&Eip.schema(), fields))))
}

pub async fn update_eip(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let moved = req
        .changed
        .iter()
        .any(|c| c == "instance" || c == "network_interface");
    if moved {
        if let Some(association) = string(&req.prior, "association_id") {
            let gone = ctx
                .c
                .ec2
                .disassociate_address()
                .association_id(association)
                .send()
                .await
                .map_err(api("DisassociateAddress"));
            if let Err(e) = gone
                && !e.is_not_found()
                && e.code() != "InvalidAssociationID.NotFound"
            {
                return Err(e);
            }
        }
        associate(ctx, &req.id, &req.planned).await?;
    }
    update_tags(ctx, req).await
}

pub async fn delete_eip(ctx: &Ctx<'_>, id: &str, st: &Value) -> Result<(), Error> {
    let configured = ["instance", "network_interface"]
        .iter()
        .any(|k| st.get(k).is_some_and(|v| !v.is_null()));
    if configured && let Some(association) = string(st, "association_id") {
        let gone = ctx
            .c
            .ec2
            .disassociate_address()
            .association_id(association)
            .send()
            .await
            .map_err(api("DisassociateAddress"));
        if let Err(e) = gone
            && !e.is_not_found()
            && e.code() != "InvalidAssociationID.NotFound"
        {
            return Err(e);
        }
    }
    retry_while_in_use(&format!("Elastic IP {id}"), SETTLE_TIMEOUT, || async {
        match ctx
            .c
            .ec2
            .release_address()
            .allocation_id(id)
            .send()
            .await
            .map_err(api("ReleaseAddress"))
        {
            Err(e) if e.code() == "InvalidAllocationID.NotFound" => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await
}

/// `aws_eip`.
pub struct Eip;

#[async_trait]
impl Resource for Eip {
    fn name(&self) -> &'static str {
        "aws_eip"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr(
                "domain",
                opt_computed(str_t()).describe("\"vpc\" (the only domain AWS still offers)"),
            )
            .attr(
                "vpc",
                A::optional(bool_t())
                    .describe("deprecated by Terraform; true means domain \"vpc\""),
            )
            .attr(
                "instance",
                A::optional(str_t())
                    .runtime()
                    .describe("the instance the address is associated with, moved in place"),
            )
            .attr(
                "network_interface",
                A::optional(str_t()).runtime().describe(
                    "the network interface the address is associated with, moved in place",
                ),
            )
            .attr("associate_with_private_ip", A::optional(str_t()).runtime())
            .attr("public_ipv4_pool", opt_computed(str_t()))
            .attr("address", A::optional(str_t()))
            .attr("allocation_id", A::computed(str_t()))
            .attr("association_id", A::computed(str_t()))
            .attr("public_ip", A::computed(str_t()))
            .attr("private_ip", A::computed(str_t()))
            .attr("public_dns", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(d) = string(config, "domain")
            && d != "vpc"
        {
            out.push(format!(
                "domain {d:?} is not supported; AWS offers only \"vpc\" addresses"
            ));
        }
        if boolean(config, "vpc") == Some(false) {
            out.push(
                "vpc = false (EC2-Classic) is not supported; leave it out or set domain = \"vpc\""
                    .into(),
            );
        }
        if string(config, "instance").is_some() && string(config, "network_interface").is_some() {
            out.push("instance and network_interface conflict: set one of them".into());
        }
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_eip(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_eips(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_eip(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        delete_eip(ctx, id, state).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_eip(c, key).await
    }
}
