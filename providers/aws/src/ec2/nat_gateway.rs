//! `aws_nat_gateway`: public (with an Elastic IP's `allocation_id`) or
//! private. CreateNatGateway takes the idempotency key as client token; the
//! create waits until the gateway is `available` and the delete until it is
//! `deleted` (minutes on AWS), as Terraform does, so the routes, the
//! address and the subnet that depend on it can follow. A gateway that is
//! `deleting`, `deleted` or `failed` reads as gone.

use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState};

use super::*;

/// How long a NAT gateway may take to become available or to be deleted
/// (Terraform's default create and delete timeouts are 10 and 30 minutes).
const NAT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn nat_computed(n: &aws_sdk_ec2::types::NatGateway) -> Vec<(&'static str, Value)> {
    let id = n.nat_gateway_id().unwrap_or_default();
    let primary = n
        .nat_gateway_addresses()
        .iter()
        .find(|a| a.is_primary().unwrap_or(true));
    vec![
        ("id", s(id)),
        ("vpc_id", opt_s(n.vpc_id())),
        (
            "network_interface_id",
            opt_s(primary.and_then(|a| a.network_interface_id())),
        ),
        ("private_ip", opt_s(primary.and_then(|a| a.private_ip()))),
        ("public_ip", opt_s(primary.and_then(|a| a.public_ip()))),
        (
            "association_id",
            opt_s(primary.and_then(|a| a.association_id())),
        ),
        (
            "connectivity_type",
            s(n.connectivity_type().map_or("public", |c| c.as_str())),
        ),
    ]
}

fn is_gone(n: &aws_sdk_ec2::types::NatGateway) -> bool {
    matches!(
        n.state(),
        Some(NatGatewayState::Deleting | NatGatewayState::Deleted | NatGatewayState::Failed)
    )
}

async fn describe_nats(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::NatGateway>, Error> {
    let out = c
        .ec2
        .describe_nat_gateways()
        .filter(f)
        .send()
        .await
        .map_err(api("DescribeNatGateways"))?;
    Ok(out.nat_gateways().to_vec())
}

async fn describe_nat(
    c: &Clients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, Error> {
    Ok(describe_nats(c, filter("nat-gateway-id", [id.to_string()]))
        .await?
        .into_iter()
        .find(|n| n.nat_gateway_id() == Some(id)))
}

pub async fn create_nat(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let tags = ctx.tags(&tags(config));
    let mut req = ctx
        .c
        .ec2
        .create_nat_gateway()
        .set_subnet_id(string(config, "subnet_id"))
        .set_allocation_id(string(config, "allocation_id"))
        .set_private_ip_address(string(config, "private_ip"))
        .set_client_token(ctx.client_token())
        .tag_specifications(tag_spec(ResourceType::Natgateway, &tags));
    if let Some(t) = string(config, "connectivity_type") {
        req = req.connectivity_type(ConnectivityType::from(t.as_str()));
    }
    let out = req.send().await.map_err(api("CreateNatGateway"))?;
    let n = out
        .nat_gateway()
        .ok_or_else(|| Error::new("CreateNatGateway returned no NAT gateway"))?;
    let id = n.nat_gateway_id().unwrap_or_default().to_string();
    let st = state(config, nat_computed(n));
    let ready = wait_for(
        &format!("NAT gateway {id} to be available"),
        NAT_TIMEOUT,
        POLL,
        || async {
            match describe_nat(ctx.c, &id).await? {
                Some(n) if n.state() == Some(&NatGatewayState::Available) => Ok(Some(n)),
                Some(n) if n.state() == Some(&NatGatewayState::Failed) => Err(Error::new(format!(
                    "NAT gateway {id} failed: {}",
                    n.failure_message().unwrap_or("no reason given")
                ))),
                _ => Ok(None),
            }
        },
    )
    .await
    .map_err(|e| e.after_creating(&id, st.clone()))?;
    Ok((id, state(config, nat_computed(&ready))))
}

pub async fn read_nats(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let live: Vec<aws_sdk_ec2::types::NatGateway> =
        describe_ids(items, "nat-gateway-id", |f| describe_nats(c, f))
            .await?
            .into_iter()
            .filter(|n| !is_gone(n))
            .collect();
    let found = live
        .iter()
        .map(|n| {
            (
                n.nat_gateway_id().unwrap_or_default().to_string(),
                nat_computed(n),
            )
        })
        .collect();
    Ok(answer(items, found))
}

pub async fn find_nat(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let found = describe_nats(c, key_filter(key)).await?;
    let Some(n) = found.into_iter().find(|n| n.has_key(key) && !is_gone(n)) else {
        return Ok(None);
    };
    let id = n.nat_gateway_id().unwrap_or_default().to_string();
    let primary = n.nat_gateway_addresses().first();
    let mut fields = nat_computed(&n);
    fields.push(("subnet_id", opt_s(n.subnet_id())));
    fields.push((
        "allocation_id",
        opt_s(primary.and_then(|a| a.allocation_id())),
    ));
    fields.push(("tags", user_tags(n.tags())));
    Ok(Some((id, adopted(&NatGateway.schema(), fields))))
}

pub async fn delete_nat(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    let deleted = ctx
        .c
        .ec2
        .delete_nat_gateway()
        .nat_gateway_id(id)
        .send()
        .await
        .map_err(api("DeleteNatGateway"));
    match deleted {
        Err(e) if e.is_not_found() || e.code() == "NatGatewayNotFound" => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    wait_for(
        &format!("NAT gateway {id} to be deleted"),
        NAT_TIMEOUT,
        POLL,
        || async {
            Ok(match describe_nat(ctx.c, id).await? {
                None => Some(()),
                Some(n) if n.state() == Some(&NatGatewayState::Deleted) => Some(()),
                Some(_) => None,
            })
        },
    )
    .await
}

/// `aws_nat_gateway`.
pub struct NatGateway;

#[async_trait]
impl Resource for NatGateway {
    fn name(&self) -> &'static str {
        "aws_nat_gateway"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("subnet_id", A::required(str_t()))
            .attr(
                "allocation_id",
                A::optional(str_t()).describe("the Elastic IP of a public NAT gateway"),
            )
            .attr(
                "connectivity_type",
                opt_computed(str_t()).describe("\"public\" (default) or \"private\""),
            )
            .attr("private_ip", opt_computed(str_t()))
            .attr("vpc_id", A::computed(str_t()))
            .attr("network_interface_id", A::computed(str_t()))
            .attr("public_ip", A::computed(str_t()))
            .attr("association_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let kind = string(config, "connectivity_type");
        match kind.as_deref() {
            None | Some("public") | Some("private") => {}
            Some(other) => out.push(format!(
                "connectivity_type {other:?} must be \"public\" or \"private\""
            )),
        }
        if kind.as_deref() == Some("private") && string(config, "allocation_id").is_some() {
            out.push("a private NAT gateway takes no allocation_id".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_nat(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_nats(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_nat(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_nat(c, key).await
    }
}
