//! The provider SDK: what a provider is, what it is asked and what it answers.
//!
//! A provider declares a [`ProviderSchema`] and implements the async
//! operations of [`Provider`]. Every operation takes a request struct and
//! returns a response struct carrying [`Diagnostics`], so the protocol can
//! grow without breaking callers (OpenTofu's `providers.Interface` shape).
//! Providers are plugged in process (linked into `kiln`) or, later, as
//! executables speaking the plugin protocol; the [`Registry`] hides which.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ProviderSchema, Schemas, TrafficCounters, Value};
use serde::{Deserialize, Serialize};

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod protocol;

/// Facts about the apply a provider call belongs to, used to derive physical
/// names and tags so that generations coexist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallContext {
    /// The environment name (`default` unless `--env`).
    pub env: String,
    /// The state's lineage.
    pub lineage: String,
    /// The generation a created resource belongs to.
    pub generation: u64,
    /// The resource instance address, as a string.
    pub address: String,
    /// The directory of the configuration (for providers that resolve paths).
    pub workdir: String,
    /// The directory for kiln's own data (`.kiln` next to the configuration).
    pub datadir: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigureRequest {
    /// The evaluated `provider "NAME" { ... }` block (an object; empty if none).
    pub config: Value,
    pub workdir: String,
    pub datadir: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigureResponse {
    pub diagnostics: Diagnostics,
}

/// Checks a resource's configuration beyond its schema (for example that a
/// CIDR parses). Values may contain unknowns: check only what is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateRequest {
    pub type_name: String,
    pub config: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidateResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    pub type_name: String,
    /// The planned attributes, fully known, as an object.
    pub config: Value,
    /// Derived from lineage, address and generation; passed to the cloud
    /// (client tokens, tags) so that a retried or recovered create finds what
    /// an interrupted one made instead of making it twice.
    pub idempotency_key: String,
    pub context: CallContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateResponse {
    /// The provider's id of what it created; `None` only with errors.
    pub id: Option<String>,
    /// Every attribute, computed ones filled in.
    pub state: Value,
    pub diagnostics: Diagnostics,
}

/// One resource to read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadItem {
    pub type_name: String,
    pub id: String,
    /// The attributes recorded in state.
    pub state: Value,
}

/// A batch of reads; providers answer them with as few cloud calls as they can.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadRequest {
    pub items: Vec<ReadItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadResult {
    /// The current attributes; `None` if the resource no longer exists.
    pub state: Option<Value>,
    /// Set when the object exists but is degraded in a way only a
    /// replacement fixes (a dead process, say): the planner replaces it,
    /// giving this as the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    pub diagnostics: Diagnostics,
}

/// One result per item, in the order of the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadResponse {
    pub results: Vec<ReadResult>,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    pub type_name: String,
    pub id: String,
    pub prior: Value,
    /// The planned attributes, fully known.
    pub planned: Value,
    /// The top-level attribute names that changed.
    pub changed: Vec<String>,
    pub context: CallContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateResponse {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub type_name: String,
    pub id: String,
    pub state: Value,
    pub context: CallContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub diagnostics: Diagnostics,
}

/// Recovery: find what a create with this idempotency key made, if anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindRequest {
    pub type_name: String,
    pub idempotency_key: String,
    pub context: CallContext,
    /// The configuration the interrupted create was sent, where the journal
    /// has it (`null` otherwise), so that a provider that cannot search by
    /// key (a local file) can look where the create would have made the
    /// object.
    #[serde(default)]
    pub config: Option<Value>,
    /// When the interrupted create was sent (its journaled intent; Unix
    /// seconds), where known. A remote API may finish a create after its
    /// caller died; a provider of one waits until the call has had time to
    /// finish before it concludes the create made nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_at: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindResponse {
    /// The id and attributes of what was found.
    pub found: Option<(String, Value)>,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthRequest {
    pub type_name: String,
    pub id: String,
    pub state: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthResponse {
    pub healthy: bool,
    /// What was checked and what it answered, for the user.
    pub message: String,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadDataRequest {
    pub type_name: String,
    pub config: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadDataResponse {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

/// Marks an object kiln did not create as kiln's, once it is adopted (a
/// Terraform state imported, an `import` block or `kiln import`): the
/// provider adds what its own creates carry (for AWS, the `kiln:*` tags
/// with the idempotency key), so that later recoveries and inventories
/// find it like any other object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdoptRequest {
    pub type_name: String,
    pub id: String,
    /// The object's attributes as recorded.
    pub state: Value,
    pub idempotency_key: String,
    pub context: CallContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdoptResponse {
    /// Whether anything was added (false for types that carry nothing).
    pub marked: bool,
    pub diagnostics: Diagnostics,
}

/// One step of a progressive cut-over (docs/cutover.md): the attributes that
/// give the new generation `weight` percent of the requests a traffic switch
/// serves. The old generation is what `prior` routes to and `planned` does
/// not; the new one is what `planned` routes to. Pure: nothing is called.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShiftRequest {
    pub type_name: String,
    /// The switch as it is now (possibly part-way through a shift).
    pub prior: Value,
    /// The switch as the plan wants it (100% on the new generation).
    pub planned: Value,
    /// Percent of requests for the new generation, in [0, 100].
    pub weight: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShiftResponse {
    /// The switch's attributes for the step, given to `update` as its
    /// planned value.
    pub state: Value,
    /// The backends (as [`TrafficResponse`] names them) of the old and of
    /// the new generation; an empty `old` means there is nothing to shift
    /// from, and the switch goes to 100% at once.
    pub old: Vec<String>,
    pub new: Vec<String>,
    pub diagnostics: Diagnostics,
}

impl ShiftResponse {
    /// The answer for a type that is no traffic switch.
    pub fn unsupported(type_name: &str) -> ShiftResponse {
        ShiftResponse {
            diagnostics: Diagnostic::error(format!(
                "{type_name} is no traffic switch: it cannot move traffic a step at a time"
            ))
            .with_detail("remove its cutover block")
            .into(),
            ..ShiftResponse::default()
        }
    }
}

/// Reads a traffic switch's request counters per backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficRequest {
    pub type_name: String,
    pub id: String,
    pub state: Value,
    /// Unix milliseconds the shift began: a provider whose metrics are
    /// sums over a time range (CloudWatch) counts from here.
    pub since_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficResponse {
    /// Cumulative counters by backend name (see [`ShiftResponse::old`]).
    pub backends: BTreeMap<String, TrafficCounters>,
    pub diagnostics: Diagnostics,
}

impl TrafficResponse {
    /// The answer for a type that reports no request metrics.
    pub fn unsupported(type_name: &str) -> TrafficResponse {
        TrafficResponse {
            diagnostics: Diagnostic::error(format!("{type_name} reports no request metrics"))
                .with_detail("remove the cutover block's checks, or use a switch that reports them")
                .into(),
            ..TrafficResponse::default()
        }
    }
}

/// A provider. Implementations must be safe to call concurrently.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The schema; cheap, called once per run.
    fn schema(&self) -> ProviderSchema;

    async fn configure(&self, _req: ConfigureRequest) -> ConfigureResponse {
        ConfigureResponse::default()
    }

    async fn validate(&self, _req: ValidateRequest) -> ValidateResponse {
        ValidateResponse::default()
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse;

    async fn read(&self, req: ReadRequest) -> ReadResponse;

    async fn update(&self, req: UpdateRequest) -> UpdateResponse;

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse;

    async fn find_by_key(&self, _req: FindRequest) -> FindResponse {
        FindResponse::default()
    }

    async fn check_health(&self, _req: HealthRequest) -> HealthResponse {
        HealthResponse {
            healthy: true,
            message: "no health check".into(),
            diagnostics: Diagnostics::new(),
        }
    }

    /// See [`ShiftRequest`]; a type that is no traffic switch cannot shift.
    async fn shift(&self, req: ShiftRequest) -> ShiftResponse {
        ShiftResponse::unsupported(&req.type_name)
    }

    /// See [`TrafficRequest`].
    async fn traffic(&self, req: TrafficRequest) -> TrafficResponse {
        TrafficResponse::unsupported(&req.type_name)
    }

    /// See [`AdoptRequest`]; by default nothing is added.
    async fn adopt(&self, _req: AdoptRequest) -> AdoptResponse {
        AdoptResponse::default()
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        ReadDataResponse {
            state: Value::Null,
            diagnostics: Diagnostic::error(format!(
                "data source {:?} is not supported",
                req.type_name
            ))
            .into(),
        }
    }
}

/// The providers of one run, by name, with their schemas.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    schemas: Schemas,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a provider under the name its schema declares.
    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        let schema = provider.schema();
        let name = schema.name.clone();
        self.schemas.add(schema);
        self.providers.insert(name, provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// The provider that owns a managed resource type.
    pub fn for_resource(&self, type_name: &str) -> Option<(&str, &Arc<dyn Provider>)> {
        let (name, _) = self.schemas.resource(type_name)?;
        let p = self.providers.get(name)?;
        Some((name, p))
    }

    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(|k| k.as_str())
    }
}
