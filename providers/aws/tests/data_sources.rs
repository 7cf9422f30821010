//! The data sources on the emulator.

mod common;

use kiln_model::Value;
use kiln_provider::{Provider, ReadDataRequest};
use kiln_provider_aws::AwsProvider;

async fn read(p: &AwsProvider, ty: &str, config: Value) -> Result<Value, String> {
    let resp = p
        .read_data(ReadDataRequest {
            type_name: ty.into(),
            config,
        })
        .await;
    if resp.diagnostics.has_errors() {
        Err(resp.diagnostics.to_string())
    } else {
        Ok(resp.state)
    }
}

fn filter(name: &str, values: &[&str]) -> Value {
    Value::List(
        vec![Value::map([
            ("name", Value::from(name)),
            (
                "values",
                Value::List(values.iter().map(|v| Value::from(*v)).collect()),
            ),
        ])]
        .into(),
    )
}

#[tokio::test]
async fn data_sources_answer_from_the_cloud() {
    let p = AwsProvider::with_options(common::options());

    let zones = read(
        &p,
        "aws_availability_zones",
        Value::map([("state", Value::from("available"))]),
    )
    .await
    .unwrap();
    let names = zones.get("names").and_then(Value::as_list).unwrap();
    assert!(names.len() >= 2, "{zones:?}");
    assert!(
        names
            .iter()
            .all(|n| n.as_str().unwrap().starts_with("us-east-1"))
    );

    let vpc = read(&p, "aws_vpc", Value::map([("default", Value::Bool(true))]))
        .await
        .unwrap();
    let vpc_id = vpc.get("id").and_then(Value::as_str).unwrap().to_string();
    assert!(vpc_id.starts_with("vpc-"), "{vpc:?}");
    assert!(vpc.get("cidr_block").and_then(Value::as_str).is_some());

    let subnets = read(
        &p,
        "aws_subnets",
        Value::map([("filter", filter("vpc-id", &[&vpc_id]))]),
    )
    .await
    .unwrap();
    let ids = subnets.get("ids").and_then(Value::as_list).unwrap();
    assert!(!ids.is_empty(), "the default VPC has subnets: {subnets:?}");

    let ami = read(
        &p,
        "aws_ami",
        Value::map([
            ("most_recent", Value::Bool(true)),
            ("filter", filter("name", &["ubuntu/images/*"])),
        ]),
    )
    .await
    .unwrap();
    assert!(
        ami.get("id")
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("ami-"),
        "{ami:?}"
    );

    // Nothing matches: a clear error, not an empty id.
    let none = read(
        &p,
        "aws_ami",
        Value::map([("filter", filter("name", &["no-such-image-*"]))]),
    )
    .await
    .unwrap_err();
    assert!(none.contains("no image matches"), "{none}");
}

/// `aws_key_pair` finds an imported key by name, with its public key when
/// asked; an unknown name is a clear error.
#[tokio::test]
async fn key_pairs_are_found_by_name() {
    let c = common::clients().await;
    let name = common::unique("key");
    let material = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC6zG70fCIX0+JPBS+IRrUBTv1avMbHdN8DAEKkdg0/IQPLRfe1wYKOiPQ2jjdQcgQQCu4KVjSwEeqc1TwjHkvltPHDqmcXo2IL6hvI1sdkv3oQRK5EUa7KeGkjcAia/AQDUonSJer+nE1k6AmMIfDofC1f5GOqk9J/vRgNknA9oM676LYiV2Wra3fN9TEozZBv6PBntX2BFonWw2GHMR1InWq/zDnTOYD5XEIcn2vBXBsMHoIyzBQau3MOzyxA1rvKlRuM7XnQKWtgb4T0ILr9bDxNA/q7KFqAGI+pmphAtRTLxZEmnCdCQzVoo6PE8OikoGTJ6Y0gY5AHMMq+S8B/ kiln-test";
    c.ec2
        .import_key_pair()
        .key_name(&name)
        .public_key_material(aws_sdk_ec2::primitives::Blob::new(material))
        .send()
        .await
        .unwrap();
    let p = AwsProvider::with_options(common::options());
    let found = read(
        &p,
        "aws_key_pair",
        Value::map([
            ("key_name", Value::from(name.as_str())),
            ("include_public_key", Value::Bool(true)),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(
        found.get("key_name").and_then(Value::as_str),
        Some(name.as_str())
    );
    assert!(
        found
            .get("key_pair_id")
            .and_then(Value::as_str)
            .is_some_and(|i| i.starts_with("key-")),
        "{found:?}"
    );
    assert!(
        found.get("fingerprint").and_then(Value::as_str).is_some(),
        "{found:?}"
    );
    let missing = read(
        &p,
        "aws_key_pair",
        Value::map([("key_name", Value::from("no-such-key-anywhere"))]),
    )
    .await
    .unwrap_err();
    assert!(missing.contains("key pair"), "{missing}");
    c.ec2
        .delete_key_pair()
        .key_name(&name)
        .send()
        .await
        .unwrap();
}

/// `aws_caller_identity`, `aws_region`, `aws_subnet` and `aws_instances`
/// answer from the emulator; several matching subnets are a clear error.
#[tokio::test]
async fn identity_region_subnet_and_instances() {
    let c = common::clients().await;
    let p = AwsProvider::with_options(common::options());
    let me = read(&p, "aws_caller_identity", Value::map::<&str>([]))
        .await
        .unwrap();
    assert_eq!(
        me.get("account_id").and_then(Value::as_str),
        Some("123456789012"),
        "{me:?}"
    );
    let region = read(&p, "aws_region", Value::map::<&str>([]))
        .await
        .unwrap();
    assert_eq!(
        region.get("name").and_then(Value::as_str),
        Some("us-east-1")
    );
    let other = read(
        &p,
        "aws_region",
        Value::map([("name", Value::from("eu-west-1"))]),
    )
    .await
    .unwrap_err();
    assert!(other.contains("not the provider's region"), "{other}");

    let marker = common::unique("ds");
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.58.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, cidr) in ["10.58.1.0/24", "10.58.2.0/24"].iter().enumerate() {
        let sn = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(*cidr)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Subnet)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("tier")
                            .value(&marker)
                            .build(),
                    )
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("n")
                            .value(i.to_string())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        subnets.push(sn.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let one = read(
        &p,
        "aws_subnet",
        Value::map([
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.58.2.0/24")),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(
        one.get("id").and_then(Value::as_str),
        Some(subnets[1].as_str())
    );
    let by_tags = read(
        &p,
        "aws_subnet",
        Value::map([(
            "tags",
            Value::map([
                ("tier", Value::from(marker.as_str())),
                ("n", Value::from("0")),
            ]),
        )]),
    )
    .await
    .unwrap();
    assert_eq!(
        by_tags.get("id").and_then(Value::as_str),
        Some(subnets[0].as_str())
    );
    let two = read(
        &p,
        "aws_subnet",
        Value::map([("tags", Value::map([("tier", Value::from(marker.as_str()))]))]),
    )
    .await
    .unwrap_err();
    assert!(two.contains("2 subnets match"), "{two}");

    let run = c
        .ec2
        .run_instances()
        .image_id("ami-1e749f67")
        .min_count(2)
        .max_count(2)
        .subnet_id(&subnets[0])
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("tier")
                        .value(&marker)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut launched: Vec<String> = run
        .instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_string())
        .collect();
    launched.sort();
    let found = read(
        &p,
        "aws_instances",
        Value::map([(
            "instance_tags",
            Value::map([("tier", Value::from(marker.as_str()))]),
        )]),
    )
    .await
    .unwrap();
    let mut ids: Vec<String> = match found.get("ids") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        other => panic!("{other:?}"),
    };
    ids.sort();
    assert_eq!(ids, launched);
    c.ec2
        .terminate_instances()
        .set_instance_ids(Some(launched))
        .send()
        .await
        .unwrap();
}
