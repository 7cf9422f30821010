//! `aws_internet_gateway`: attached to its VPC on create, detached before delete.

use super::*;

pub async fn create_igw(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let igw = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &tags))
                .send()
                .await
                .map_err(api("CreateInternetGateway"))?;
            out.internet_gateway()
                .cloned()
                .ok_or_else(|| Error::new("CreateInternetGateway returned no gateway"))
        },
        || made_by(ctx, |f| describe_igws(ctx.c, f)),
    )
    .await?;
    let id = igw.internet_gateway_id().unwrap_or_default().to_string();
    let st = state(
        config,
        [
            ("id", s(&id)),
            ("arn", arn(ctx.c, igw.owner_id(), "internet-gateway", &id)),
            ("owner_id", opt_s(igw.owner_id())),
        ],
    );
    let attached_to = |vpc: &str| igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc));
    if let Some(vpc) = string(config, "vpc_id")
        && !attached_to(&vpc)
    {
        let attached = ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(&vpc)
            .send()
            .await
            .map_err(api("AttachInternetGateway"));
        match attached {
            Ok(_) => {}
            // A retried attach whose first try ran (its answer lost).
            Err(e) if e.code() == "Resource.AlreadyAssociated" => {
                let now = describe_igws(ctx.c, filter("internet-gateway-id", [id.clone()]))
                    .await
                    .map_err(|e| e.after_creating(&id, st.clone()))?;
                let ours = now
                    .iter()
                    .flat_map(|g| g.attachments())
                    .any(|a| a.vpc_id() == Some(vpc.as_str()));
                if !ours {
                    return Err(e.after_creating(&id, st));
                }
            }
            Err(e) => return Err(e.after_creating(&id, st)),
        }
    }
    Ok((id, st))
}

async fn describe_igws(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::InternetGateway>, Error> {
    let out = c
        .ec2
        .describe_internet_gateways()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeInternetGateways"))?;
    Ok(out.internet_gateways().to_vec())
}

pub async fn read_igws(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    read_ids(
        items,
        "internet-gateway-id",
        |f| describe_igws(c, f),
        |g| {
            let id = g.internet_gateway_id().unwrap_or_default().to_string();
            let fresh = vec![("id", s(&id))];
            (id, fresh)
        },
    )
    .await
}

pub async fn find_igw(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(g) = tagged(key, |f| describe_igws(c, f)).await? else {
        return Ok(None);
    };
    let id = g.internet_gateway_id().unwrap_or_default().to_string();
    let vpc = g.attachments().first().and_then(|a| a.vpc_id());
    let st = adopted(
        &InternetGateway.schema(),
        [
            ("id", s(&id)),
            ("arn", arn(c, g.owner_id(), "internet-gateway", &id)),
            ("vpc_id", opt_s(vpc)),
            ("owner_id", opt_s(g.owner_id())),
            ("tags", user_tags(g.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_igw(ctx: &Ctx<'_>, id: &str, st: &Value) -> Result<(), Error> {
    let ec2 = &ctx.c.ec2;
    if let Some(vpc) = string(st, "vpc_id") {
        let detached = ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(api("DetachInternetGateway"));
        if let Err(e) = detached
            && !e.is_not_found()
            && e.code() != "Gateway.NotAttached"
        {
            return Err(e);
        }
    }
    retry_while_in_use(
        &format!("internet gateway {id}"),
        SETTLE_TIMEOUT,
        || async {
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(api("DeleteInternetGateway"))
        },
    )
    .await
}

/// `aws_internet_gateway`.
pub struct InternetGateway;

#[async_trait]
impl Resource for InternetGateway {
    fn name(&self) -> &'static str {
        "aws_internet_gateway"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("vpc_id", A::optional(str_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_igw(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_igws(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        delete_igw(ctx, id, state).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_igw(c, key).await
    }
}
