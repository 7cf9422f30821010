//! `aws_launch_template`.

use super::*;

pub async fn create_launch_template(
    ctx: &Ctx<'_>,
    config: &Value,
) -> Result<(String, Value), Error> {
    if let Some(image) = string(config, "image_id") {
        check_image(ctx.c, "image_id", &image).await?;
    }
    let name = ctx.name(config, 128);
    let all_tags = ctx.tags(&tags(config));
    let mut data = RequestLaunchTemplateData::builder()
        .set_image_id(string(config, "image_id"))
        .set_key_name(string(config, "key_name"))
        .set_user_data(string(config, "user_data"))
        .set_ebs_optimized(flag(config, "ebs_optimized"))
        .set_disable_api_termination(boolean(config, "disable_api_termination"))
        .set_instance_initiated_shutdown_behavior(
            string(config, "instance_initiated_shutdown_behavior")
                .map(|b| aws_sdk_ec2::types::ShutdownBehavior::from(b.as_str())),
        )
        .set_tag_specifications(Some(tag_specifications(config, &all_tags)));
    if let Some(t) = string(config, "instance_type") {
        data = data.instance_type(InstanceType::from(t.as_str()));
    }
    if let Some(m) = objects(config, "monitoring").first() {
        data = data.monitoring(
            aws_sdk_ec2::types::LaunchTemplatesMonitoringRequest::builder()
                .set_enabled(boolean(m, "enabled"))
                .build(),
        );
    }
    if let Some(m) = objects(config, "metadata_options").first() {
        use aws_sdk_ec2::types::{
            LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
            LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateInstanceMetadataTagsState,
        };
        data = data.metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .set_http_endpoint(
                    string(m, "http_endpoint")
                        .map(|v| LaunchTemplateInstanceMetadataEndpointState::from(v.as_str())),
                )
                .set_http_tokens(
                    string(m, "http_tokens")
                        .map(|v| LaunchTemplateHttpTokensState::from(v.as_str())),
                )
                .set_http_put_response_hop_limit(
                    number(m, "http_put_response_hop_limit").map(|n| n as i32),
                )
                .set_instance_metadata_tags(
                    string(m, "instance_metadata_tags")
                        .map(|v| LaunchTemplateInstanceMetadataTagsState::from(v.as_str())),
                )
                .build(),
        );
    }
    let devices = block_device_mappings(config);
    if !devices.is_empty() {
        data = data.set_block_device_mappings(Some(devices));
    }
    let interfaces = network_interfaces(config);
    if !interfaces.is_empty() {
        data = data.set_network_interfaces(Some(interfaces));
    }
    let sgs = strings(config, "vpc_security_group_ids");
    if !sgs.is_empty() {
        data = data.set_security_group_ids(Some(sgs));
    }
    if let Some(p) = config.get("iam_instance_profile").filter(|v| !v.is_null()) {
        data = data.iam_instance_profile(
            aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .set_arn(string(p, "arn"))
                .set_name(string(p, "name"))
                .build(),
        );
    }
    let out = ctx
        .c
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .set_version_description(string(config, "description"))
        .set_client_token(ctx.client_token())
        .launch_template_data(data.build())
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, &all_tags))
        .send()
        .await
        .map_err(api("CreateLaunchTemplate"))?;
    let lt = out
        .launch_template()
        .ok_or_else(|| Error::new("CreateLaunchTemplate returned no template"))?;
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    Ok((id.clone(), state(config, lt_computed(ctx.c, lt))))
}

/// Terraform writes some of the template's booleans as strings ("true",
/// "false", or unset): a bool or such a string, read as a bool.
fn flag(v: &Value, attr: &str) -> Option<bool> {
    boolean(v, attr).or_else(|| match string(v, attr)?.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}

/// The instances' and volumes' tags: each `tag_specifications` block's tags
/// with the resource's own and kiln's (kiln's win), and kiln's for the
/// instance and its volumes even without a block.
fn tag_specifications(
    config: &Value,
    all_tags: &BTreeMap<String, String>,
) -> Vec<LaunchTemplateTagSpecificationRequest> {
    let mut by_type: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for kind in ["instance", "volume"] {
        by_type.insert(kind.to_string(), BTreeMap::new());
    }
    for spec in objects(config, "tag_specifications") {
        let kind = string(spec, "resource_type").unwrap_or_else(|| "instance".into());
        by_type.entry(kind).or_default().extend(tags(spec));
    }
    by_type
        .into_iter()
        .map(|(kind, own)| {
            let mut merged = own;
            merged.extend(all_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::from(kind.as_str()))
                .set_tags(Some(ec2_tags(&merged)))
                .build()
        })
        .collect()
}

fn block_device_mappings(
    config: &Value,
) -> Vec<aws_sdk_ec2::types::LaunchTemplateBlockDeviceMappingRequest> {
    use aws_sdk_ec2::types::{
        LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    };
    objects(config, "block_device_mappings")
        .into_iter()
        .map(|d| {
            let ebs = objects(d, "ebs").first().map(|e| {
                LaunchTemplateEbsBlockDeviceRequest::builder()
                    .set_volume_size(number(e, "volume_size").map(|n| n as i32))
                    .set_volume_type(string(e, "volume_type").map(|t| VolumeType::from(t.as_str())))
                    .set_iops(number(e, "iops").map(|n| n as i32))
                    .set_throughput(number(e, "throughput").map(|n| n as i32))
                    .set_encrypted(flag(e, "encrypted"))
                    .set_delete_on_termination(flag(e, "delete_on_termination"))
                    .set_kms_key_id(string(e, "kms_key_id"))
                    .set_snapshot_id(string(e, "snapshot_id"))
                    .build()
            });
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .set_device_name(string(d, "device_name"))
                .set_virtual_name(string(d, "virtual_name"))
                .set_no_device(string(d, "no_device"))
                .set_ebs(ebs)
                .build()
        })
        .collect()
}

fn network_interfaces(
    config: &Value,
) -> Vec<aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecificationRequest> {
    use aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecificationRequest as Nic;
    objects(config, "network_interfaces")
        .into_iter()
        .map(|n| {
            let groups = strings(n, "security_groups");
            Nic::builder()
                .set_associate_public_ip_address(flag(n, "associate_public_ip_address"))
                .set_delete_on_termination(flag(n, "delete_on_termination"))
                .set_description(string(n, "description"))
                .set_device_index(number(n, "device_index").map(|i| i as i32))
                .set_groups((!groups.is_empty()).then_some(groups))
                .set_subnet_id(string(n, "subnet_id"))
                .set_network_interface_id(string(n, "network_interface_id"))
                .set_private_ip_address(string(n, "private_ip_address"))
                .build()
        })
        .collect()
}

fn lt_computed(c: &Clients, lt: &aws_sdk_ec2::types::LaunchTemplate) -> Vec<(&'static str, Value)> {
    let id = lt.launch_template_id().unwrap_or_default();
    vec![
        ("id", s(id)),
        ("arn", arn(c, None, "launch-template", id)),
        ("name", opt_s(lt.launch_template_name())),
        ("latest_version", n(lt.latest_version_number().unwrap_or(1))),
        (
            "default_version",
            n(lt.default_version_number().unwrap_or(1)),
        ),
    ]
}

async fn describe_lts(
    c: &Clients,
    ids: Vec<String>,
    f: Option<Filter>,
) -> Result<Vec<aws_sdk_ec2::types::LaunchTemplate>, Error> {
    let out = c
        .ec2
        .describe_launch_templates()
        .set_launch_template_ids((!ids.is_empty()).then_some(ids))
        .set_filters(f.map(|f| vec![f]))
        .send()
        .await
        .map_err(api("DescribeLaunchTemplates"))?;
    Ok(out.launch_templates().to_vec())
}

pub async fn read_launch_templates(
    c: &Clients,
    items: &[(&str, &Value)],
) -> Result<Vec<Option<Value>>, Error> {
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids_of(items), BATCH) {
        // An id list fails whole when one id is gone: then ask one by one.
        let lts = match describe_lts(c, chunk.to_vec(), None).await {
            Ok(l) => l,
            Err(e) if e.is_not_found() => {
                let mut all = Vec::new();
                for id in chunk {
                    match describe_lts(c, vec![id.clone()], None).await {
                        Ok(l) => all.extend(l),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
                all
            }
            Err(e) => return Err(e),
        };
        for lt in lts {
            let id = lt.launch_template_id().unwrap_or_default().to_string();
            found.insert(id, lt_computed(c, &lt));
        }
    }
    Ok(answer(items, found))
}

pub async fn find_launch_template(
    c: &Clients,
    key: &str,
) -> Result<Option<(String, Value)>, Error> {
    let Some(lt) = describe_lts(c, Vec::new(), Some(key_filter(key)))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    let mut fields = lt_computed(c, &lt);
    fields.push(("tags", user_tags(lt.tags())));
    Ok(Some((id, adopted(&LaunchTemplate.schema(), fields))))
}

pub async fn delete_launch_template(ctx: &Ctx<'_>, id: &str) -> Result<(), Error> {
    match ctx
        .c
        .ec2
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(api("DeleteLaunchTemplate"))
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// `aws_launch_template`.
pub struct LaunchTemplate;

#[async_trait]
impl Resource for LaunchTemplate {
    fn name(&self) -> &'static str {
        "aws_launch_template"
    }

    fn schema(&self) -> ResourceSchema {
        named(ids(ResourceSchema::new()), 128)
            .attr("description", A::optional(str_t()))
            .attr("image_id", A::optional(str_t()))
            .attr("instance_type", A::optional(str_t()))
            .attr("key_name", A::optional(str_t()))
            .attr(
                "user_data",
                A::optional(str_t()).describe("base64-encoded, as in Terraform (filebase64)"),
            )
            .attr("vpc_security_group_ids", A::optional(strs_t()))
            .attr(
                "iam_instance_profile",
                A::optional(obj(&[("arn", str_t()), ("name", str_t())]))
                    .describe("the instance profile the instances run as, by arn or name"),
            )
            .attr("ebs_optimized", A::optional(str_t()))
            .attr("disable_api_termination", A::optional(bool_t()))
            .attr("instance_initiated_shutdown_behavior", A::optional(str_t()))
            .attr("monitoring", A::optional(obj(&[("enabled", bool_t())])))
            .attr(
                "metadata_options",
                A::optional(obj(&[
                    ("http_endpoint", str_t()),
                    ("http_tokens", str_t()),
                    ("http_put_response_hop_limit", num_t()),
                    ("instance_metadata_tags", str_t()),
                ])),
            )
            .attr(
                "tag_specifications",
                A::optional(Type::List(Box::new(obj(&[
                    ("resource_type", str_t()),
                    ("tags", map_t()),
                ]))))
                .describe("tags of the instances and volumes launched (kiln adds its own)"),
            )
            .attr(
                "block_device_mappings",
                A::optional(Type::List(Box::new(obj(&[
                    ("device_name", str_t()),
                    ("no_device", str_t()),
                    ("virtual_name", str_t()),
                    (
                        "ebs",
                        obj(&[
                            ("volume_size", num_t()),
                            ("volume_type", str_t()),
                            ("iops", num_t()),
                            ("throughput", num_t()),
                            ("encrypted", str_t()),
                            ("delete_on_termination", str_t()),
                            ("kms_key_id", str_t()),
                            ("snapshot_id", str_t()),
                        ]),
                    ),
                ])))),
            )
            .attr(
                "network_interfaces",
                A::optional(Type::List(Box::new(obj(&[
                    ("associate_public_ip_address", str_t()),
                    ("delete_on_termination", str_t()),
                    ("description", str_t()),
                    ("device_index", num_t()),
                    ("security_groups", strs_t()),
                    ("subnet_id", str_t()),
                    ("network_interface_id", str_t()),
                    ("private_ip_address", str_t()),
                ])))),
            )
            .attr(
                "update_default_version",
                A::optional(bool_t())
                    .describe("accepted for Terraform's sake: a kiln template has one version"),
            )
            .attr("latest_version", A::computed(num_t()))
            .attr("default_version", A::computed(num_t()))
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(p) = config.get("iam_instance_profile")
            && string(p, "arn").is_some()
            && string(p, "name").is_some()
        {
            out.push("iam_instance_profile: arn and name conflict; set one of them".into());
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_launch_template(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_launch_templates(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update_tags(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        delete_launch_template(ctx, id).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find_launch_template(c, key).await
    }
}
