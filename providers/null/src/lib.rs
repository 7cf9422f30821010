//! The `null` provider: resources with no real backing, for tests,
//! benchmarks and glue.
//!
//! `null_resource` exercises every planner rule without touching the outside
//! world: `triggers` force a replacement, `labels` are run-time configuration
//! updated in place, and `delay` makes creates and deletes take time (for
//! parallelism and progress tests). Nothing is stored anywhere: a read returns
//! what state recorded and recovery finds nothing.
//!
//! Failure injection for end-to-end tests of partial failures: a create whose
//! address is listed in `KILN_NULL_FAIL` (comma-separated addresses) fails.
//!
//! Beside it, embedded the same way: Terraform's built-in `terraform`
//! provider (`terraform_data`) and HashiCorp's `random` provider
//! ([`RandomProvider`]).

use std::collections::BTreeMap;
use std::time::Duration;

mod random;

pub use random::RandomProvider;

use async_trait::async_trait;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, ProviderSchema, ResourceSchema, Type, Value};
use kiln_provider::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, Provider, ReadDataRequest,
    ReadDataResponse, ReadRequest, ReadResponse, ReadResult, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};

/// The environment variable listing addresses whose create must fail.
pub const FAIL_ENV: &str = "KILN_NULL_FAIL";

/// The `null` provider. Stateless; cheap to construct.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullProvider;

impl NullProvider {
    pub fn new() -> NullProvider {
        NullProvider
    }
}

fn map_of_strings() -> Type {
    Type::Map(Box::new(Type::String))
}

fn null_resource_schema() -> ResourceSchema {
    ResourceSchema::new()
        .attr(
            "triggers",
            AttributeSchema::optional(map_of_strings())
                .describe("arbitrary values whose change replaces the resource"),
        )
        .attr(
            "labels",
            AttributeSchema::optional(map_of_strings())
                .runtime()
                .describe("run-time labels, updated in place"),
        )
        .attr(
            "delay",
            AttributeSchema::optional(Type::String)
                .runtime()
                .describe("how long create and delete take, like \"300ms\""),
        )
        .attr(
            "id",
            AttributeSchema::computed(Type::String).describe("a random decimal id"),
        )
}

fn null_data_source_schema() -> ResourceSchema {
    ResourceSchema::new()
        .attr(
            "inputs",
            AttributeSchema::optional(map_of_strings()).describe("values copied to outputs"),
        )
        .attr(
            "outputs",
            AttributeSchema::computed(map_of_strings()).describe("the inputs"),
        )
        .attr("id", AttributeSchema::computed(Type::String))
}

/// Parses the `delay` attribute; `Ok(None)` when it is unset or not yet known.
fn parse_delay(config: &Value) -> Result<Option<Duration>, Diagnostic> {
    let Some(v) = config.get("delay") else {
        return Ok(None);
    };
    if v.is_null() || !v.is_known() {
        return Ok(None);
    }
    let Some(s) = v.as_str() else {
        return Err(Diagnostic::error(format!(
            "null_resource: delay must be a string like \"300ms\", not a {}",
            v.type_name()
        )));
    };
    humantime::parse_duration(s).map(Some).map_err(|e| {
        Diagnostic::error(format!("null_resource: invalid delay {s:?}: {e}"))
            .with_detail("write a duration such as \"300ms\", \"2s\" or \"1m 30s\"")
    })
}

fn random_id() -> String {
    // Like Terraform's null provider: a random non-negative decimal integer.
    (rand::random::<u64>() >> 1).to_string()
}

/// Whether `address` is listed in `KILN_NULL_FAIL`.
fn failure_injected(address: &str) -> bool {
    std::env::var(FAIL_ENV).is_ok_and(|list| listed(&list, address))
}

/// Whether `address` is one of the comma-separated addresses of `list`.
fn listed(list: &str, address: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|a| !a.is_empty() && a == address)
}

/// A read of objects that exist only in the state: each is as recorded.
fn as_recorded(req: ReadRequest) -> ReadResponse {
    ReadResponse {
        results: req
            .items
            .into_iter()
            .map(|item| ReadResult {
                state: Some(item.state),
                drift: None,
                diagnostics: Diagnostics::new(),
            })
            .collect(),
        diagnostics: Diagnostics::new(),
    }
}

/// The attributes of `config` with `id` set.
fn with_id(config: &Value, id: &str) -> Value {
    let mut m: kiln_model::FieldMap = config.as_map().cloned().unwrap_or_default();
    m.insert("id", Value::string(id));
    Value::Map(m.into())
}

#[async_trait]
impl Provider for NullProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            name: "null".into(),
            config: ResourceSchema::new(),
            resources: BTreeMap::from([("null_resource".into(), null_resource_schema())]),
            data_sources: BTreeMap::from([("null_data_source".into(), null_data_source_schema())]),
        }
    }

    async fn validate(&self, req: ValidateRequest) -> ValidateResponse {
        let mut diagnostics = Diagnostics::new();
        if req.type_name == "null_resource"
            && let Err(d) = parse_delay(&req.config)
        {
            diagnostics.push(d);
        }
        ValidateResponse { diagnostics }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        if req.type_name != "null_resource" {
            return CreateResponse {
                diagnostics: unsupported(&req.type_name).into(),
                ..CreateResponse::default()
            };
        }
        let delay = match parse_delay(&req.config) {
            Ok(d) => d,
            Err(d) => {
                return CreateResponse {
                    diagnostics: d.into(),
                    ..CreateResponse::default()
                };
            }
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if failure_injected(&req.context.address) {
            return CreateResponse {
                diagnostics: Diagnostic::error(format!(
                    "null_resource {}: failure injected by {FAIL_ENV}",
                    req.context.address
                ))
                .into(),
                ..CreateResponse::default()
            };
        }
        let id = random_id();
        CreateResponse {
            state: with_id(&req.config, &id),
            id: Some(id),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        as_recorded(req)
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        if let Err(d) = parse_delay(&req.planned) {
            return UpdateResponse {
                state: req.prior,
                diagnostics: d.into(),
            };
        }
        UpdateResponse {
            state: with_id(&req.planned, &req.id),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse {
        // A bad delay cannot block a delete: it only shortens it.
        if let Ok(Some(d)) = parse_delay(&req.state) {
            tokio::time::sleep(d).await;
        }
        DeleteResponse::default()
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        if req.type_name != "null_data_source" {
            return ReadDataResponse {
                state: Value::Null,
                diagnostics: Diagnostic::error(format!(
                    "data source {:?} is not supported by the null provider",
                    req.type_name
                ))
                .into(),
            };
        }
        let inputs = match req.config.get("inputs") {
            Some(v) if !v.is_null() => v.clone(),
            _ => Value::Map(BTreeMap::new().into()),
        };
        ReadDataResponse {
            state: Value::map([
                ("inputs", inputs.clone()),
                ("outputs", inputs),
                ("id", Value::string("static")),
            ]),
            diagnostics: Diagnostics::new(),
        }
    }
}

/// Terraform's built-in provider (`terraform.io/builtin/terraform`), for
/// its `terraform_data` resource, which configurations use where they once
/// used `null_resource`: `input` (any value) is echoed as `output` once
/// created; a change of `triggers_replace` (or, kiln's rule for a stateless
/// resource, of `input`) replaces it. The id is a random UUID, as
/// Terraform's. See
/// <https://developer.hashicorp.com/terraform/language/resources/terraform-data>.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerraformProvider;

impl TerraformProvider {
    pub fn new() -> TerraformProvider {
        TerraformProvider
    }
}

fn terraform_data_schema() -> ResourceSchema {
    ResourceSchema::new()
        .attr(
            "input",
            AttributeSchema::optional(Type::Any)
                .describe("a value stored in the state and reflected in output after apply"),
        )
        .attr(
            "output",
            AttributeSchema::computed(Type::Any).describe("the input, once applied"),
        )
        .attr(
            "triggers_replace",
            AttributeSchema::optional(Type::Any)
                .describe("a value whose change replaces the resource"),
        )
        .attr(
            "id",
            AttributeSchema::computed(Type::String).describe("a random UUID"),
        )
}

/// A random (version 4) UUID.
pub(crate) fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[async_trait]
impl Provider for TerraformProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            name: "terraform".into(),
            config: ResourceSchema::new(),
            resources: BTreeMap::from([("terraform_data".into(), terraform_data_schema())]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn validate(&self, _req: ValidateRequest) -> ValidateResponse {
        ValidateResponse {
            diagnostics: Diagnostics::new(),
        }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        if req.type_name != "terraform_data" {
            return CreateResponse {
                diagnostics: Diagnostic::error(format!(
                    "resource type {:?} is not supported by the terraform provider",
                    req.type_name
                ))
                .with_detail("the built-in terraform provider offers terraform_data")
                .into(),
                ..CreateResponse::default()
            };
        }
        let id = random_uuid();
        let mut m: kiln_model::FieldMap = req.config.as_map().cloned().unwrap_or_default();
        let input = m.get("input").cloned().unwrap_or(Value::Null);
        m.insert("output", input);
        m.insert("id", Value::string(&id));
        CreateResponse {
            state: Value::Map(m.into()),
            id: Some(id),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        as_recorded(req)
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        // Every argument replaces: nothing is updated in place.
        UpdateResponse {
            state: req.prior,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn delete(&self, _req: DeleteRequest) -> DeleteResponse {
        DeleteResponse::default()
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        ReadDataResponse {
            state: Value::Null,
            diagnostics: Diagnostic::error(format!(
                "data source {:?} is not supported by the terraform provider",
                req.type_name
            ))
            .into(),
        }
    }
}

fn unsupported(type_name: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "resource type {type_name:?} is not supported by the null provider"
    ))
    .with_detail("the null provider offers null_resource")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_provider::CallContext;

    fn create_req(config: Value, address: &str) -> CreateRequest {
        CreateRequest {
            type_name: "null_resource".into(),
            config,
            idempotency_key: "k".into(),
            context: CallContext {
                address: address.into(),
                ..CallContext::default()
            },
        }
    }

    fn config(delay: Value) -> Value {
        Value::map([
            ("triggers", Value::map([("v", Value::from("1"))])),
            ("labels", Value::Null),
            ("delay", delay),
            ("id", Value::Unknown),
        ])
    }

    #[tokio::test]
    async fn create_fills_a_decimal_id_and_keeps_config() {
        let resp = NullProvider
            .create(create_req(config(Value::Null), "null_resource.a"))
            .await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let id = resp.id.unwrap();
        assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");
        assert_eq!(resp.state.get("id").and_then(Value::as_str), Some(&*id));
        assert_eq!(
            resp.state.get("triggers"),
            Some(&Value::map([("v", Value::from("1"))]))
        );
    }

    #[tokio::test]
    async fn validate_rejects_a_bad_delay_naming_the_attribute() {
        let resp = NullProvider
            .validate(ValidateRequest {
                type_name: "null_resource".into(),
                config: config(Value::from("soon")),
            })
            .await;
        let msg = format!("{:?}", resp.diagnostics);
        assert!(msg.contains("delay"), "{msg}");
        let ok = NullProvider
            .validate(ValidateRequest {
                type_name: "null_resource".into(),
                config: config(Value::Unknown),
            })
            .await;
        assert!(ok.diagnostics.is_empty());
    }

    #[tokio::test]
    async fn delay_is_slept_in_create() {
        let start = std::time::Instant::now();
        let resp = NullProvider
            .create(create_req(config(Value::from("150ms")), "null_resource.d"))
            .await;
        assert!(resp.id.is_some());
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn failure_list_matches_whole_addresses() {
        assert!(listed(
            "null_resource.a, null_resource.b",
            "null_resource.b"
        ));
        assert!(listed(
            "module.m.null_resource.x[0]",
            "module.m.null_resource.x[0]"
        ));
        assert!(!listed("null_resource.ab", "null_resource.a"));
        assert!(!listed("", "null_resource.a"));
    }

    #[tokio::test]
    async fn data_source_copies_inputs_to_outputs() {
        let inputs = Value::map([("a", Value::from("x"))]);
        let resp = NullProvider
            .read_data(ReadDataRequest {
                type_name: "null_data_source".into(),
                config: Value::map([("inputs", inputs.clone())]),
            })
            .await;
        assert_eq!(resp.state.get("outputs"), Some(&inputs));
    }
}
