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
    Value::List(vec![Value::map([
        ("name", Value::from(name)),
        (
            "values",
            Value::List(values.iter().map(|v| Value::from(*v)).collect()),
        ),
    ])])
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
