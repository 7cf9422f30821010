//! The null provider against the provider conformance suite.

use kiln_model::Value;
use kiln_provider::conformance::{ConformanceCase, ConformanceOptions, assert_conforms};
use kiln_provider_null::NullProvider;

fn config(labels: Value, delay: Value) -> Value {
    Value::map([
        ("triggers", Value::map([("version", Value::from("1"))])),
        ("labels", labels),
        ("delay", delay),
        ("id", Value::Unknown),
    ])
}

#[tokio::test]
async fn null_resource_conforms() {
    let cases = [
        ConformanceCase::new(
            "null_resource",
            config(Value::map([("team", Value::from("a"))]), Value::Null),
        )
        .with_update(config(
            Value::map([("team", Value::from("b"))]),
            Value::from("10ms"),
        )),
        ConformanceCase::new("null_resource", config(Value::Null, Value::from("1ms"))),
        ConformanceCase::new(
            "null_resource",
            Value::map([
                ("triggers", Value::Null),
                ("labels", Value::Null),
                ("delay", Value::Null),
                ("id", Value::Null),
            ]),
        ),
    ];
    let options = ConformanceOptions {
        objects_have_backing: false,
        ..ConformanceOptions::default()
    };
    assert_conforms(&NullProvider::new(), &cases, &options).await;
}

#[tokio::test]
async fn the_suite_reports_a_broken_case() {
    // The suite must be able to fail: an update that changes a replace-only
    // attribute is reported against the case.
    let cases = [
        ConformanceCase::new("null_resource", config(Value::Null, Value::Null)).with_update(
            Value::map([
                ("triggers", Value::map([("version", Value::from("2"))])),
                ("labels", Value::Null),
                ("delay", Value::Null),
                ("id", Value::Unknown),
            ]),
        ),
    ];
    let options = ConformanceOptions {
        objects_have_backing: false,
        ..ConformanceOptions::default()
    };
    let failures = kiln_provider::conformance::run(&NullProvider::new(), &cases, &options).await;
    let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "null_resource.conformance_0 [schema]: the case's update changes triggers, which is not a run-time attribute"
        ]
    );
}

/// Every `random_*` type with its arguments as the planner sends them
/// (every attribute present; computed ones unknown).
#[tokio::test]
async fn random_resources_conform() {
    use kiln_provider::Provider as _;
    let provider = kiln_provider_null::RandomProvider::new();
    let schema = provider.schema();
    let config = |ty: &str, set: &[(&str, Value)]| {
        let rs = &schema.resources[ty];
        let mut m = std::collections::BTreeMap::new();
        for (name, a) in &rs.attributes {
            let v = if a.is_settable() {
                Value::Null
            } else {
                Value::Unknown
            };
            m.insert(name.clone(), v);
        }
        for (k, v) in set {
            m.insert((*k).to_string(), v.clone());
        }
        ConformanceCase::new(ty, Value::Map(m.into()))
    };
    let keepers = ("keepers", Value::map([("ami", Value::from("ami-1"))]));
    let cases = [
        config(
            "random_id",
            &[("byte_length", Value::from(4)), keepers.clone()],
        ),
        config("random_string", &[("length", Value::from(10))]),
        config(
            "random_password",
            &[("length", Value::from(20)), ("special", Value::Bool(false))],
        ),
        config("random_pet", std::slice::from_ref(&keepers)),
        config(
            "random_integer",
            &[("min", Value::from(1)), ("max", Value::from(6))],
        ),
        config("random_uuid", &[]),
        config(
            "random_shuffle",
            &[(
                "input",
                Value::List(vec![Value::from("a"), Value::from("b")].into()),
            )],
        ),
    ];
    let options = ConformanceOptions {
        objects_have_backing: false,
        ..ConformanceOptions::default()
    };
    assert_conforms(&provider, &cases, &options).await;
}
