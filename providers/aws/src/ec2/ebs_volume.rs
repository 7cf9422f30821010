//! `aws_ebs_volume`, stateful: size, type and IOPS change in place (ModifyVolume).

use super::*;

fn volume_computed(c: &Clients, v: &aws_sdk_ec2::types::Volume) -> Vec<(&'static str, Value)> {
    let id = v.volume_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "volume", id)),
        ("size", v.size().map_or(Value::Null, |x| n(i64::from(x)))),
        ("type", opt_s(v.volume_type().map(VolumeType::as_str))),
    ]
}

async fn describe_volumes(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::Volume>, Error> {
    let out = c
        .ec2
        .describe_volumes()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeVolumes"))?;
    Ok(out.volumes().to_vec())
}

pub async fn create_volume(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let out = ctx
        .c
        .ec2
        .create_volume()
        .set_availability_zone(string(config, "availability_zone"))
        .set_size(number(config, "size").map(|x| x as i32))
        .set_volume_type(string(config, "type").map(|t| VolumeType::from(t.as_str())))
        .set_iops(number(config, "iops").map(|x| x as i32))
        .set_encrypted(boolean(config, "encrypted"))
        .set_snapshot_id(string(config, "snapshot_id"))
        .set_client_token(ctx.client_token())
        .tag_specifications(tag_spec(ResourceType::Volume, &ctx.tags(&tags(config))))
        .send()
        .await
        .map_err(api("CreateVolume"))?;
    let id = out.volume_id().unwrap_or_default().to_string();
    let computed = vec![
        ("id", s(&id)),
        ("arn", arn(ctx.c, None, "volume", &id)),
        ("size", out.size().map_or(Value::Null, |x| n(i64::from(x)))),
        ("type", opt_s(out.volume_type().map(VolumeType::as_str))),
    ];
    Ok((id, state(config, computed)))
}

pub async fn read_volumes(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    read_ids(
        items,
        "volume-id",
        |f| describe_volumes(c, f),
        |v| {
            let id = v.volume_id().unwrap_or_default().to_string();
            (id, volume_computed(c, v))
        },
    )
    .await
}

pub async fn find_volume(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let Some(v) = tagged(key, |f| describe_volumes(c, f)).await? else {
        return Ok(None);
    };
    let id = v.volume_id().unwrap_or_default().to_string();
    let mut fields = volume_computed(c, &v);
    fields.extend([
        ("availability_zone", opt_s(v.availability_zone())),
        ("tags", user_tags(v.tags())),
    ]);
    Ok(Some((id, adopted(&EbsVolume.schema(), fields))))
}

pub async fn update_volume(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    let changed = |a: &str| req.changed.iter().any(|c| c == a);
    if changed("size") || changed("type") || changed("iops") {
        ctx.c
            .ec2
            .modify_volume()
            .volume_id(&req.id)
            .set_size(number(&req.planned, "size").map(|x| x as i32))
            .set_volume_type(string(&req.planned, "type").map(|t| VolumeType::from(t.as_str())))
            .set_iops(number(&req.planned, "iops").map(|x| x as i32))
            .send()
            .await
            .map_err(api("ModifyVolume"))?;
    }
    update_tags(ctx, req).await
}

pub async fn delete_volume(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    let what = format!("volume {id}");
    retry_while_in_use(&what, Duration::from_secs(300), || async {
        ctx.c
            .ec2
            .delete_volume()
            .volume_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(api("DeleteVolume"))
            .map_err(|e| {
                if e.code() == "VolumeInUse" {
                    Error {
                        code: Some("ResourceInUse".into()),
                        ..e
                    }
                } else {
                    e
                }
            })
    })
    .await
}

/// `aws_ebs_volume`.
pub struct EbsVolume;

#[async_trait]
impl Resource for EbsVolume {
    fn name(&self) -> &'static str {
        "aws_ebs_volume"
    }

    fn schema(&self) -> ResourceSchema {
        let mut volume = ids(ResourceSchema::new())
            .attr("availability_zone", A::required(str_t()))
            .attr("size", opt_computed(num_t()).updatable())
            .attr("type", opt_computed(str_t()).updatable())
            .attr("iops", A::optional(num_t()).updatable())
            .attr("encrypted", A::optional(bool_t()))
            .attr("snapshot_id", A::optional(str_t()))
            .attr("tags", tags_attr());
        volume.stateful = true;
        volume
    }

    fn look_before_create(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_volume(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_volumes(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_volume(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_volume(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_volume(c, key).await
    }
}
