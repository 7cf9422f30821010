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
