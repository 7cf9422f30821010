//! Services and balancers against the provider conformance suite (files and
//! artifacts run it in `file.rs`).

mod common;

use common::{Project, strings, web_service};
use kiln_model::Value;
use kiln_provider::conformance::{ConformanceCase, ConformanceOptions, assert_conforms};

#[tokio::test]
async fn services_and_balancers_conform() {
    let p = Project::new().await;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let lb = |backends: &[&str]| {
        Value::map([
            ("listen", Value::from(listen.as_str())),
            ("backends", strings(backends)),
            ("weights", Value::Null),
            ("id", Value::Unknown),
            ("pid", Value::Unknown),
            ("control_port", Value::Unknown),
        ])
    };
    let cases =
        [
            ConformanceCase::new("local_service", web_service("v1", 1, &[]))
                .with_update(web_service("v1", 2, &[])),
            ConformanceCase::new("local_balancer", lb(&["127.0.0.1:1"]))
                .with_update(lb(&["127.0.0.1:2", "127.0.0.1:3"])),
        ];
    let options = ConformanceOptions {
        context: p.context(""),
        objects_have_backing: true,
    };
    assert_conforms(&p.provider, &cases, &options).await;
}
