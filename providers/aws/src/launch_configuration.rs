//! `aws_launch_configuration`: Auto Scaling's older launch description,
//! immutable in AWS as in kiln (every argument replaces), named by
//! generation. Launch configurations carry no tags: a retried create whose
//! first try made the configuration (`AlreadyExists` on its name) adopts it
//! only when it describes the same image, type and security groups;
//! anything else of that name is refused, never taken over.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    BlockDeviceMapping, Ebs, InstanceMonitoring, LaunchConfiguration,
};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, api, chunks};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, bool_t, named, num_t, obj, str_t, strs_t};
use crate::values::{
    base64, boolean, number, objects, opt_s, refreshed, s, state, string, strings,
};

/// Auto Scaling's limit of launch configuration names.
const NAME_MAX: usize = 255;
/// Names per DescribeLaunchConfigurations call.
const BATCH: usize = 50;

fn lc_computed(lc: &LaunchConfiguration) -> Vec<(&'static str, Value)> {
    let name = lc.launch_configuration_name().unwrap_or_default();
    vec![
        ("id", s(name)),
        ("name", s(name)),
        ("arn", opt_s(lc.launch_configuration_arn())),
    ]
}

async fn describe(c: &Clients, names: Vec<String>) -> Result<Vec<LaunchConfiguration>, Error> {
    let out = c
        .asg
        .describe_launch_configurations()
        .set_launch_configuration_names(Some(names))
        .send()
        .await
        .map_err(api("DescribeLaunchConfigurations"))?;
    Ok(out.launch_configurations().to_vec())
}

fn block_devices(config: &Value) -> Vec<BlockDeviceMapping> {
    let ebs = |d: &Value| {
        Ebs::builder()
            .set_volume_size(number(d, "volume_size").map(|n| n as i32))
            .set_volume_type(string(d, "volume_type"))
            .set_iops(number(d, "iops").map(|n| n as i32))
            .set_delete_on_termination(boolean(d, "delete_on_termination"))
            .set_encrypted(boolean(d, "encrypted"))
            .set_snapshot_id(string(d, "snapshot_id"))
            .build()
    };
    let mut out: Vec<BlockDeviceMapping> = objects(config, "root_block_device")
        .into_iter()
        .map(|d| {
            // The root device's name comes from the image; "/dev/xvda" is
            // the name Amazon Linux images use, which AWS maps onto theirs.
            BlockDeviceMapping::builder()
                .device_name("/dev/xvda")
                .ebs(ebs(d))
                .build()
        })
        .collect();
    out.extend(objects(config, "ebs_block_device").into_iter().map(|d| {
        BlockDeviceMapping::builder()
            .set_device_name(string(d, "device_name"))
            .ebs(ebs(d))
            .build()
    }));
    out
}

async fn create(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name(config, NAME_MAX);
    let sgs = strings(config, "security_groups");
    let user_data = string(config, "user_data")
        .map(|u| base64(u.as_bytes()))
        .or_else(|| string(config, "user_data_base64"));
    let devices = block_devices(config);
    let made = ctx
        .c
        .asg
        .create_launch_configuration()
        .launch_configuration_name(&name)
        .set_image_id(string(config, "image_id"))
        .set_instance_type(string(config, "instance_type"))
        .set_iam_instance_profile(string(config, "iam_instance_profile"))
        .set_key_name(string(config, "key_name"))
        .set_security_groups((!sgs.is_empty()).then(|| sgs.clone()))
        .set_associate_public_ip_address(boolean(config, "associate_public_ip_address"))
        .set_user_data(user_data)
        .set_ebs_optimized(boolean(config, "ebs_optimized"))
        .set_placement_tenancy(string(config, "placement_tenancy"))
        .set_spot_price(string(config, "spot_price"))
        .set_instance_monitoring(
            boolean(config, "enable_monitoring")
                .map(|b| InstanceMonitoring::builder().enabled(b).build()),
        )
        .set_block_device_mappings((!devices.is_empty()).then_some(devices))
        .send()
        .await
        .map_err(api("CreateLaunchConfiguration"));
    match made {
        Ok(_) => {}
        Err(e) if e.is_duplicate() => {
            let there = describe(ctx.c, vec![name.clone()]).await?;
            let same = there.first().is_some_and(|lc| {
                lc.image_id() == string(config, "image_id").as_deref()
                    && lc.instance_type() == string(config, "instance_type").as_deref()
                    && lc
                        .security_groups()
                        .iter()
                        .cloned()
                        .collect::<BTreeSet<_>>()
                        == sgs.iter().cloned().collect()
            });
            if !same {
                return Err(Error::new(format!(
                    "a launch configuration named {name:?} already exists and is not this one"
                ))
                .with_detail("choose another name (or name_prefix)"));
            }
        }
        Err(e) => return Err(e),
    }
    let lc = describe(ctx.c, vec![name.clone()])
        .await?
        .pop()
        .ok_or_else(|| {
            Error::new(format!(
                "launch configuration {name} is missing right after its creation"
            ))
        })?;
    Ok((name, state(config, lc_computed(&lc))))
}

/// `aws_launch_configuration`.
pub struct LaunchConfigurationType;

fn device_t(root: bool) -> Type {
    let mut fields = vec![
        ("volume_size", num_t()),
        ("volume_type", str_t()),
        ("iops", num_t()),
        ("delete_on_termination", bool_t()),
        ("encrypted", bool_t()),
    ];
    if !root {
        fields.push(("device_name", str_t()));
        fields.push(("snapshot_id", str_t()));
    }
    Type::List(Box::new(obj(&fields)))
}

#[async_trait]
impl Resource for LaunchConfigurationType {
    fn name(&self) -> &'static str {
        "aws_launch_configuration"
    }

    fn schema(&self) -> ResourceSchema {
        named(ResourceSchema::new(), NAME_MAX)
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("image_id", A::required(str_t()))
            .attr("instance_type", A::required(str_t()))
            .attr("iam_instance_profile", A::optional(str_t()))
            .attr("key_name", A::optional(str_t()))
            .attr("security_groups", A::optional(strs_t()))
            .attr("associate_public_ip_address", A::optional(bool_t()))
            .attr(
                "user_data",
                A::optional(str_t()).describe("plain text; kiln base64-encodes it"),
            )
            .attr("user_data_base64", A::optional(str_t()))
            .attr("enable_monitoring", A::optional(bool_t()))
            .attr("ebs_optimized", A::optional(bool_t()))
            .attr("placement_tenancy", A::optional(str_t()))
            .attr("spot_price", A::optional(str_t()))
            .attr("root_block_device", A::optional(device_t(true)))
            .attr("ebs_block_device", A::optional(device_t(false)))
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if string(config, "user_data").is_some() && string(config, "user_data_base64").is_some() {
            out.push("user_data and user_data_base64 conflict: set one of them".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create(ctx, config).await
    }

    /// One DescribeLaunchConfigurations per 50 names.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let names: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
        let mut found = std::collections::BTreeMap::new();
        for chunk in chunks(&names, BATCH) {
            for lc in describe(c, chunk.to_vec()).await? {
                found.insert(
                    lc.launch_configuration_name()
                        .unwrap_or_default()
                        .to_string(),
                    lc,
                );
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| Some(refreshed(prior, lc_computed(found.get(*id)?))))
                .collect(),
        ))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        crate::api::retry_while_in_use(
            &format!("launch configuration {id}"),
            crate::api::SETTLE_TIMEOUT,
            || async {
                match ctx
                    .c
                    .asg
                    .delete_launch_configuration()
                    .launch_configuration_name(id)
                    .send()
                    .await
                    .map_err(api("DeleteLaunchConfiguration"))
                {
                    Err(e) if e.is_not_found() || e.message.contains("not found") => Ok(()),
                    other => other.map(|_| ()),
                }
            },
        )
        .await
    }

    /// Launch configurations carry no tags: a retried create is answered by
    /// its name (see the module documentation).
    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
