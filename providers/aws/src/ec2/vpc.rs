//! `aws_vpc`.

use super::*;

pub async fn create_vpc(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let ec2 = &ctx.c.ec2;
    let tags = ctx.tags(&tags(config));
    let vpc = create_once(
        || async {
            let mut req = ctx
                .c
                .ec2_once
                .create_vpc()
                .set_cidr_block(string(config, "cidr_block"))
                .tag_specifications(tag_spec(ResourceType::Vpc, &tags));
            if let Some(t) = string(config, "instance_tenancy") {
                req = req.instance_tenancy(Tenancy::from(t.as_str()));
            }
            let out = req.send().await.map_err(api("CreateVpc"))?;
            out.vpc()
                .cloned()
                .ok_or_else(|| Error::new("CreateVpc returned no VPC"))
        },
        || made_by(ctx, |f| describe_vpcs(ctx.c, f)),
    )
    .await?;
    let id = vpc.vpc_id().unwrap_or_default().to_string();
    let owner = vpc.owner_id().map(str::to_string);
    let partial = state(config, [("id", s(&id))]);
    let fail = |e: Error| e.after_creating(&id, partial.clone());
    for (attr, support) in [
        ("enable_dns_support", true),
        ("enable_dns_hostnames", false),
    ] {
        if let Some(b) = boolean(config, attr) {
            let v = AttributeBooleanValue::builder().value(b).build();
            let r = ec2.modify_vpc_attribute().vpc_id(&id);
            let r = if support {
                r.enable_dns_support(v)
            } else {
                r.enable_dns_hostnames(v)
            };
            r.send()
                .await
                .map_err(api("ModifyVpcAttribute"))
                .map_err(fail)?;
        }
    }
    let defaults = vpc_defaults(ctx.c, &id).await.map_err(fail)?;
    let mut computed = vec![
        ("id", s(&id)),
        ("arn", arn(ctx.c, owner.as_deref(), "vpc", &id)),
        ("owner_id", opt_s(owner.as_deref())),
    ];
    computed.extend(defaults);
    Ok((id, state(config, computed)))
}

/// A VPC's default security group and main route table.
/// A VPC's default objects: security group, main route table, network ACL.
async fn vpc_defaults(c: &Clients, id: &str) -> Result<[(&'static str, Value); 4], Error> {
    let sg = c
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", [id.to_string()]))
        .filters(filter("group-name", ["default".to_string()]))
        .send()
        .await
        .map_err(api("DescribeSecurityGroups"))?;
    let rt = c
        .ec2
        .describe_route_tables()
        .filters(filter("vpc-id", [id.to_string()]))
        .filters(filter("association.main", ["true".to_string()]))
        .send()
        .await
        .map_err(api("DescribeRouteTables"))?;
    let acl = c
        .ec2
        .describe_network_acls()
        .filters(filter("vpc-id", [id.to_string()]))
        .filters(filter("default", ["true".to_string()]))
        .send()
        .await
        .map_err(api("DescribeNetworkAcls"))?;
    let rt = opt_s(rt.route_tables().first().and_then(|t| t.route_table_id()));
    Ok([
        (
            "default_security_group_id",
            opt_s(sg.security_groups().first().and_then(|g| g.group_id())),
        ),
        ("main_route_table_id", rt.clone()),
        ("default_route_table_id", rt),
        (
            "default_network_acl_id",
            opt_s(acl.network_acls().first().and_then(|a| a.network_acl_id())),
        ),
    ])
}

async fn describe_vpcs(c: &Clients, f: Filter) -> Result<Vec<aws_sdk_ec2::types::Vpc>, Error> {
    let out = c
        .ec2
        .describe_vpcs()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeVpcs"))?;
    Ok(out.vpcs().to_vec())
}

pub async fn read_vpcs(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    read_ids(
        items,
        "vpc-id",
        |f| describe_vpcs(c, f),
        |v| {
            let id = v.vpc_id().unwrap_or_default().to_string();
            let fresh = vec![("id", s(&id))];
            (id, fresh)
        },
    )
    .await
}

pub async fn find_vpc(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(v) = tagged(key, |f| describe_vpcs(c, f)).await? else {
        return Ok(None);
    };
    let id = v.vpc_id().unwrap_or_default().to_string();
    let defaults = vpc_defaults(c, &id).await?;
    let mut fields = defaults.to_vec();
    fields.extend([
        ("id", s(&id)),
        ("arn", arn(c, v.owner_id(), "vpc", &id)),
        ("cidr_block", opt_s(v.cidr_block())),
        ("owner_id", opt_s(v.owner_id())),
        ("tags", user_tags(v.tags())),
    ]);
    let st = adopted(&Vpc.schema(), fields);
    Ok(Some((id, st)))
}

pub async fn delete_vpc(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    retry_while_in_use(&format!("VPC {id}"), SETTLE_TIMEOUT, || async {
        ctx.c
            .ec2
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteVpc"))
    })
    .await
}

/// `aws_vpc`.
pub struct Vpc;

#[async_trait]
impl Resource for Vpc {
    fn name(&self) -> &'static str {
        "aws_vpc"
    }

    fn schema(&self) -> ResourceSchema {
        ids(ResourceSchema::new())
            .attr("cidr_block", A::required(str_t()))
            .attr("instance_tenancy", A::optional(str_t()))
            .attr("enable_dns_support", A::optional(bool_t()))
            .attr("enable_dns_hostnames", A::optional(bool_t()))
            .attr("owner_id", A::computed(str_t()))
            .attr("default_security_group_id", A::computed(str_t()))
            .attr("main_route_table_id", A::computed(str_t()))
            .attr("default_route_table_id", A::computed(str_t()))
            .attr("default_network_acl_id", A::computed(str_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        check_cidr(config, "cidr_block", out);
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_vpc(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_vpcs(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_vpc(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_vpc(c, key).await
    }
}
