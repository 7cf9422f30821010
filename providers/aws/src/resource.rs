//! The provider as a table of resource types: every type is one module
//! implementing [`Resource`] (`kind`), listed once in [`TYPES`]. The provider's
//! schema, validation, create, read, update, delete, find-by-key and health
//! check all dispatch through the table, so adding a type is one file and
//! one line here.

use crate::kind::Resource;
use crate::{
    acm_certificate, autoscaling_attachment, autoscaling_group, autoscaling_policy,
    cloudwatch_metric_alarm, ec2, ecs, elb, iam, launch_configuration, route53, s3_bucket,
    s3_bucket_config,
};

/// Every resource type the provider serves, one line each.
pub static TYPES: &[&dyn Resource] = &[
    &ec2::vpc::Vpc,
    &ec2::subnet::Subnet,
    &ec2::internet_gateway::InternetGateway,
    &ec2::eip::Eip,
    &ec2::nat_gateway::NatGateway,
    &ec2::route::Route,
    &ec2::route_table::RouteTable,
    &ec2::route_table_association::RouteTableAssociation,
    &ec2::security_group::SecurityGroup,
    &ec2::default_objects::DefaultSecurityGroup,
    &ec2::default_objects::DefaultRouteTable,
    &ec2::default_objects::DefaultNetworkAcl,
    &ec2::network_acl::NetworkAcl,
    &ec2::network_acl::NetworkAclRule,
    &ec2::security_group_rule::SecurityGroupRule,
    &ec2::security_group_rule::VpcSecurityGroupRule { ingress: true },
    &ec2::security_group_rule::VpcSecurityGroupRule { ingress: false },
    &ec2::launch_template::LaunchTemplate,
    &ec2::key_pair::KeyPair,
    &ec2::instance::Instance,
    &ec2::ebs_volume::EbsVolume,
    &launch_configuration::LaunchConfigurationType,
    &autoscaling_group::AutoscalingGroup,
    &autoscaling_attachment::AutoscalingAttachment,
    &autoscaling_policy::AutoscalingPolicy,
    &autoscaling_policy::AutoscalingSchedule,
    &cloudwatch_metric_alarm::MetricAlarm,
    &acm_certificate::AcmCertificate,
    &acm_certificate::AcmCertificateValidation,
    &elb::lb::Lb,
    &elb::target_group::LbTargetGroup,
    &elb::listener::LbListener,
    &elb::listener_rule::LbListenerRule,
    &elb::target_group_attachment::LbTargetGroupAttachment,
    &iam::role::IamRole,
    &iam::instance_profile::IamInstanceProfile,
    &iam::policy::IamPolicy,
    &iam::role_policy::IamRolePolicy,
    &iam::role_policy_attachment::IamRolePolicyAttachment,
    &route53::zone::Route53Zone,
    &route53::record::Route53Record,
    &s3_bucket::S3Bucket,
    &s3_bucket_config::BucketConfig(s3_bucket_config::Part::Versioning),
    &s3_bucket_config::BucketConfig(s3_bucket_config::Part::Encryption),
    &s3_bucket_config::BucketConfig(s3_bucket_config::Part::PublicAccessBlock),
    &s3_bucket_config::BucketConfig(s3_bucket_config::Part::Policy),
    &ecs::cluster::EcsCluster,
    &ecs::capacity_provider::EcsCapacityProvider,
    &ecs::cluster_capacity_providers::EcsClusterCapacityProviders,
    &ecs::task_definition::EcsTaskDefinition,
    &ecs::service::EcsService,
];

/// The type serving a type name (an alias reaches the type it stands for).
pub fn lookup(type_name: &str) -> Option<&'static dyn Resource> {
    let name = canonical(type_name);
    TYPES.iter().copied().find(|t| t.name() == name)
}

/// Terraform's older names for the ELBv2 types, served as the types they
/// stand for (the AWS provider documents `aws_alb*` as aliases).
pub const ALIASES: &[(&str, &str)] = &[
    ("aws_alb", "aws_lb"),
    ("aws_alb_target_group", "aws_lb_target_group"),
    ("aws_alb_listener", "aws_lb_listener"),
];

/// The type a type name is served as: itself, or what its alias stands for.
pub fn canonical(type_name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == type_name)
        .map_or(type_name, |(_, real)| real)
}
