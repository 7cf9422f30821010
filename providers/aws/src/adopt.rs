//! Adoption: an object kiln did not create (a Terraform state imported, an
//! `import` block, `kiln import`) gets the tags kiln's own creates carry —
//! `kiln:env`, `kiln:address`, `kiln:generation`, `kiln:lineage` and
//! `kiln:key` (the idempotency key) — so inventories and recoveries find it
//! like any other. Each service's own tagging call, by the id kiln records
//! (EC2 CreateTags, ELBv2 AddTags, Auto Scaling CreateOrUpdateTags, S3
//! PutBucketTagging merged with the bucket's tags, IAM Tag*, Route 53
//! ChangeTagsForResource, ECS TagResource, ACM AddTagsToCertificate).
//! Types whose objects carry no tags (attachments, rules, records) are left
//! as they are.

use std::collections::BTreeMap;

use kiln_provider::CallContext;

use crate::api::{Clients, Error, api, kiln_tags};

/// Tags object `id` of `type_name` (canonical) as kiln's: whether the type
/// carries tags at all.
pub async fn mark(
    c: &Clients,
    type_name: &str,
    id: &str,
    context: &CallContext,
    key: &str,
) -> Result<bool, Error> {
    let tags = kiln_tags(context, key);
    match type_name {
        "aws_vpc"
        | "aws_subnet"
        | "aws_security_group"
        | "aws_internet_gateway"
        | "aws_route_table"
        | "aws_nat_gateway"
        | "aws_eip"
        | "aws_launch_template"
        | "aws_instance"
        | "aws_ebs_volume"
        | "aws_network_acl" => {
            c.ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(api("CreateTags"))?;
        }
        "aws_lb" | "aws_lb_target_group" | "aws_lb_listener" | "aws_lb_listener_rule" => {
            let list = tags
                .iter()
                .map(|(k, v)| {
                    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect();
            c.elb
                .add_tags()
                .resource_arns(id)
                .set_tags(Some(list))
                .send()
                .await
                .map_err(api("AddTags"))?;
        }
        "aws_autoscaling_group" => {
            let list = tags
                .iter()
                .map(|(k, v)| {
                    aws_sdk_autoscaling::types::Tag::builder()
                        .resource_id(id)
                        .resource_type("auto-scaling-group")
                        .key(k)
                        .value(v)
                        .propagate_at_launch(false)
                        .build()
                })
                .collect();
            c.asg
                .create_or_update_tags()
                .set_tags(Some(list))
                .send()
                .await
                .map_err(api("CreateOrUpdateTags"))?;
        }
        "aws_s3_bucket" => {
            // PutBucketTagging replaces the set: the bucket's own tags stay.
            let mut all: BTreeMap<String, String> = match c
                .s3
                .get_bucket_tagging()
                .bucket(id)
                .send()
                .await
                .map_err(api("GetBucketTagging"))
            {
                Ok(out) => out
                    .tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
                Err(e) if e.code() == "NoSuchTagSet" || e.code() == "NoSuchTagSetError" => {
                    BTreeMap::new()
                }
                Err(e) => return Err(e),
            };
            all.extend(tags);
            let set = all
                .iter()
                .filter_map(|(k, v)| {
                    aws_sdk_s3::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .ok()
                })
                .collect();
            c.s3.put_bucket_tagging()
                .bucket(id)
                .tagging(
                    aws_sdk_s3::types::Tagging::builder()
                        .set_tag_set(Some(set))
                        .build()
                        .map_err(|e| Error::new(format!("bucket tags: {e}")))?,
                )
                .send()
                .await
                .map_err(api("PutBucketTagging"))?;
        }
        "aws_iam_role" | "aws_iam_instance_profile" | "aws_iam_policy" => {
            let list: Vec<aws_sdk_iam::types::Tag> = tags
                .iter()
                .filter_map(|(k, v)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .ok()
                })
                .collect();
            match type_name {
                "aws_iam_role" => c
                    .iam
                    .tag_role()
                    .role_name(id)
                    .set_tags(Some(list))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("TagRole"))?,
                "aws_iam_instance_profile" => c
                    .iam
                    .tag_instance_profile()
                    .instance_profile_name(id)
                    .set_tags(Some(list))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("TagInstanceProfile"))?,
                _ => c
                    .iam
                    .tag_policy()
                    .policy_arn(id)
                    .set_tags(Some(list))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api("TagPolicy"))?,
            }
        }
        "aws_route53_zone" => {
            c.route53
                .change_tags_for_resource()
                .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
                .resource_id(id.trim_start_matches("/hostedzone/"))
                .set_add_tags(Some(
                    tags.iter()
                        .map(|(k, v)| {
                            aws_sdk_route53::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(api("ChangeTagsForResource"))?;
        }
        "aws_ecs_cluster"
        | "aws_ecs_service"
        | "aws_ecs_task_definition"
        | "aws_ecs_capacity_provider" => {
            c.ecs
                .tag_resource()
                .resource_arn(id)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(api("TagResource"))?;
        }
        "aws_acm_certificate" => {
            c.acm
                .add_tags_to_certificate()
                .certificate_arn(id)
                .set_tags(Some(
                    tags.iter()
                        .filter_map(|(k, v)| {
                            aws_sdk_acm::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                                .ok()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(api("AddTagsToCertificate"))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}
