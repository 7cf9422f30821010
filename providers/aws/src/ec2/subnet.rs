//! `aws_subnet`.

use super::*;

pub async fn create_subnet(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let sn = &create_once(
        || async {
            let out = ctx
                .c
                .ec2_once
                .create_subnet()
                .set_vpc_id(string(config, "vpc_id"))
                .set_cidr_block(string(config, "cidr_block"))
                .set_availability_zone(string(config, "availability_zone"))
                .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                .send()
                .await
                .map_err(api("CreateSubnet"))?;
            out.subnet()
                .cloned()
                .ok_or_else(|| Error::new("CreateSubnet returned no subnet"))
        },
        || made_by(ctx, |f| describe_subnets(ctx.c, f)),
    )
    .await?;
    let id = sn.subnet_id().unwrap_or_default().to_string();
    let computed = [
        ("id", s(&id)),
        (
            "arn",
            sn.subnet_arn()
                .map_or_else(|| arn(ctx.c, sn.owner_id(), "subnet", &id), s),
        ),
        ("availability_zone", opt_s(sn.availability_zone())),
        ("owner_id", opt_s(sn.owner_id())),
    ];
    let st = state(config, computed);
    if let Some(b) = boolean(config, "map_public_ip_on_launch") {
        ec2.modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(b).build())
            .send()
            .await
            .map_err(api("ModifySubnetAttribute"))
            .map_err(|e| e.after_creating(&id, st.clone()))?;
    }
    Ok((id, st))
}

async fn describe_subnets(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::Subnet>, Error> {
    let out = c
        .ec2
        .describe_subnets()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeSubnets"))?;
    Ok(out.subnets().to_vec())
}

pub async fn read_subnets(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    read_ids(
        items,
        "subnet-id",
        |f| describe_subnets(c, f),
        |sn| {
            let id = sn.subnet_id().unwrap_or_default().to_string();
            let fresh = vec![
                ("id", s(&id)),
                ("availability_zone", opt_s(sn.availability_zone())),
            ];
            (id, fresh)
        },
    )
    .await
}

pub async fn find_subnet(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(sn) = tagged(key, |f| describe_subnets(c, f)).await? else {
        return Ok(None);
    };
    let id = sn.subnet_id().unwrap_or_default().to_string();
    let st = adopted(
        &Subnet.schema(),
        [
            ("id", s(&id)),
            ("arn", opt_s(sn.subnet_arn())),
            ("vpc_id", opt_s(sn.vpc_id())),
            ("cidr_block", opt_s(sn.cidr_block())),
            ("availability_zone", opt_s(sn.availability_zone())),
            ("owner_id", opt_s(sn.owner_id())),
            ("tags", user_tags(sn.tags())),
        ],
    );
    Ok(Some((id, st)))
}

pub async fn delete_subnet(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("subnet {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteSubnet"))
    })
    .await
}

/// `aws_subnet`.
pub struct Subnet;

#[async_trait]
impl Resource for Subnet {
    fn name(&self) -> &'static str {
        "aws_subnet"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("vpc_id", A::required(str_t()))
            .attr("cidr_block", A::required(str_t()))
            .attr("availability_zone", opt_computed(str_t()))
            .attr("map_public_ip_on_launch", A::optional(bool_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("tags", tags_attr())
            // A range exists once per VPC.
            .exclusive(&["vpc_id", "cidr_block"])
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_cidr(config, "cidr_block", out);
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_subnet(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_subnets(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_subnet(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_subnet(c, key).await
    }
}
