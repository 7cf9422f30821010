//! Crash safety at the provider: what a create made is found by its
//! idempotency key, and a create retried with the same key (after a crash
//! between the call and the journal) adopts the first one's object instead
//! of making a second.

mod common;

use kiln_model::Value;
use kiln_provider::{CallContext, CreateRequest, DeleteRequest, FindRequest, Provider};
use kiln_provider_aws::AwsProvider;

fn full(type_name: &str, set: &[(&str, Value)]) -> Value {
    let schema = AwsProvider::new().schema();
    let mut m: std::collections::BTreeMap<String, Value> = schema.resources[type_name]
        .attributes
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    for (k, v) in set {
        m.insert(k.to_string(), v.clone());
    }
    Value::Map(m.into())
}

fn context(env: &str, address: &str) -> CallContext {
    CallContext {
        env: env.into(),
        lineage: "recovery".into(),
        generation: 1,
        address: address.into(),
        ..CallContext::default()
    }
}

async fn create(p: &AwsProvider, env: &str, ty: &str, key: &str, config: Value) -> String {
    let resp = p
        .create(CreateRequest {
            type_name: ty.into(),
            config,
            idempotency_key: key.into(),
            context: context(env, &format!("{ty}.r")),
        })
        .await;
    assert!(!resp.diagnostics.has_errors(), "{ty}: {}", resp.diagnostics);
    resp.id.unwrap()
}

async fn find(p: &AwsProvider, env: &str, ty: &str, key: &str) -> Option<String> {
    let resp = p
        .find_by_key(FindRequest {
            type_name: ty.into(),
            idempotency_key: key.into(),
            context: context(env, &format!("{ty}.r")),
            config: None,
            intent_at: None,
        })
        .await;
    assert!(!resp.diagnostics.has_errors(), "{ty}: {}", resp.diagnostics);
    resp.found.map(|(id, _)| id)
}

#[tokio::test]
async fn creates_are_found_by_key_and_retries_adopt_instead_of_duplicating() {
    let p = AwsProvider::with_options(common::options());
    let env = common::unique("rec");
    let vpc = create(
        &p,
        &env,
        "aws_vpc",
        &common::unique("kiln-vpc"),
        full("aws_vpc", &[("cidr_block", Value::from("10.7.0.0/16"))]),
    )
    .await;
    let subnet_cfg = full(
        "aws_subnet",
        &[
            ("vpc_id", Value::from(vpc.as_str())),
            ("cidr_block", Value::from("10.7.1.0/24")),
        ],
    );
    let subnet = create(
        &p,
        &env,
        "aws_subnet",
        &common::unique("kiln-sn"),
        subnet_cfg,
    )
    .await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "aws_security_group",
            full(
                "aws_security_group",
                &[("vpc_id", Value::from(vpc.as_str()))],
            ),
        ),
        (
            "aws_launch_template",
            full(
                "aws_launch_template",
                &[
                    ("image_id", Value::from("ami-1e749f67")),
                    ("instance_type", Value::from("t3.micro")),
                ],
            ),
        ),
        (
            "aws_instance",
            full(
                "aws_instance",
                &[
                    ("ami", Value::from("ami-1e749f67")),
                    ("instance_type", Value::from("t3.micro")),
                    ("subnet_id", Value::from(subnet.as_str())),
                ],
            ),
        ),
        (
            "aws_lb_target_group",
            full(
                "aws_lb_target_group",
                &[
                    ("port", Value::from(80i64)),
                    ("protocol", Value::from("HTTP")),
                    ("vpc_id", Value::from(vpc.as_str())),
                ],
            ),
        ),
        (
            "aws_s3_bucket",
            full("aws_s3_bucket", &[("bucket", Value::from(env.clone()))]),
        ),
        (
            "aws_ebs_volume",
            full(
                "aws_ebs_volume",
                &[
                    ("availability_zone", Value::from("us-east-1a")),
                    ("size", Value::from(4i64)),
                ],
            ),
        ),
    ];
    for (ty, config) in cases {
        let key = common::unique("kiln-key");
        assert_eq!(find(&p, &env, ty, &key).await, None, "{ty}: nothing yet");
        let first = create(&p, &env, ty, &key, config.clone()).await;
        assert_eq!(
            find(&p, &env, ty, &key).await.as_deref(),
            Some(first.as_str()),
            "{ty} is found by its key"
        );
        let again = create(&p, &env, ty, &key, config.clone()).await;
        assert_eq!(
            again, first,
            "{ty}: a retried create adopts the first object"
        );
        let resp = p
            .delete(DeleteRequest {
                type_name: ty.into(),
                id: first.clone(),
                state: config,
                context: context(&env, &format!("{ty}.r")),
            })
            .await;
        assert!(!resp.diagnostics.has_errors(), "{ty}: {}", resp.diagnostics);
        assert_eq!(
            find(&p, &env, ty, &key).await,
            None,
            "{ty}: gone after delete"
        );
    }
}
