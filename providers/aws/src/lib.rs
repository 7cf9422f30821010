//! The `aws` provider: VPC, EC2, Auto Scaling, ELBv2, ACM, IAM, CloudWatch,
//! Route 53 and S3 resources on the official AWS SDK for Rust, served as
//! the `kiln-provider-aws` executable (the list: `docs/aws.md`).
//!
//! Resource types and attribute names follow the Terraform AWS provider for
//! the subset kiln supports, so configurations port with little change. The
//! differences all come from kiln's rule, *don't update, version and
//! replace*:
//!
//! - Physical names never collide: `name` is used as written for the first
//!   object, and a replacement while the live object holds it gets
//!   `{name}-g{generation}` (cut to AWS's limit); `name_prefix` and the
//!   default make `{prefix or env-resource name}-g{generation}-{project}`
//!   (`{project}`: six hex digits of the state's lineage; shortened with a
//!   hash where AWS limits the length), so the old and the new generation
//!   coexist, and two projects' environments never collide.
//! - Only run-time attributes change in place (tags, an Auto Scaling group's
//!   capacity and target groups, a listener's or a rule's actions, routes,
//!   a record's values and weights, rules of security groups and ACLs,
//!   scaling policies and alarms, a bucket's configuration); everything
//!   else replaces. Buckets, volumes and hosted zones are stateful.
//! - Everything taggable carries `kiln:env`, `kiln:address`,
//!   `kiln:generation`, `kiln:lineage` and `kiln:key` (the idempotency key),
//!   and the creates that accept one get the key as client token, so
//!   `find_by_key` finds what an interrupted apply made.
//!
//! Credentials, region and endpoint come from the standard AWS chain
//! (`aws-config`: environment, profile, `AWS_ENDPOINT_URL`); the provider
//! block may set `region` and `default_tags`. Credentials are never read by
//! kiln itself, so they cannot reach a state file or a message. SDK calls
//! retry with exponential backoff on throttling and server errors, and every
//! wait has a timeout whose message says what was awaited.
//!
//! The module layout: [`api`] (clients, errors, waits, tags, names),
//! `values` (reading attributes out of a [`Value`]), `kind` (the
//! `Resource` trait every type implements), `shape` (the attribute shapes
//! types share), one module per resource type grouped by service family
//! (`ec2/vpc.rs`, `elb/lb.rs`, `iam/role.rs`, ...), `resource` (the table
//! of types and the aliases), `schema` (the provider schema built from the
//! table, validation) and `data` (data sources).
//!
//! Adding a resource type is one file and one line: a module with a unit
//! struct implementing `kind::Resource` (its schema with Terraform's
//! argument names, create, batched read, update, delete, find by key), and
//! its line in `resource::TYPES`. The conformance suite fails until it has
//! a case for the type, and `docs/aws.md` is regenerated from the schema.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ProviderSchema, Value};
use kiln_provider::{
    AdoptRequest, AdoptResponse, ConfigureRequest, ConfigureResponse, CreateRequest,
    CreateResponse, DeleteRequest, DeleteResponse, FindRequest, FindResponse, HealthRequest,
    HealthResponse, Provider, ReadDataRequest, ReadDataResponse, ReadRequest, ReadResponse,
    ReadResult, ShiftRequest, ShiftResponse, TrafficRequest, TrafficResponse, UpdateRequest,
    UpdateResponse, ValidateRequest, ValidateResponse,
};
use tokio::sync::OnceCell;

mod acm_certificate;
mod adopt;
pub mod api;
mod autoscaling_attachment;
mod autoscaling_group;
mod autoscaling_policy;
mod cloudwatch_metric_alarm;
mod data;
mod ec2;
mod ecs;
mod elb;
mod iam;
mod kind;
mod launch_configuration;
mod policy_document;
pub mod rate;
mod resource;
mod route53;
mod s3_bucket;
mod s3_bucket_config;
mod schema;
mod shape;
mod values;

pub use api::AwsOptions;
use api::{Clients, Ctx, Error, Settings};
use kind::Resource;

/// The `aws` provider. Clients are built on first use, from the settings of
/// `configure` (or the defaults if it was never called).
#[derive(Default)]
pub struct AwsProvider {
    options: AwsOptions,
    settings: Mutex<Settings>,
    clients: OnceCell<Clients>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider").finish_non_exhaustive()
    }
}

impl AwsProvider {
    /// The provider as kiln runs it: everything from the standard chain.
    pub fn new() -> AwsProvider {
        AwsProvider::default()
    }

    /// A provider with explicit overrides of the standard chain (tests point
    /// it at the emulator this way, without touching the process environment).
    pub fn with_options(options: AwsOptions) -> AwsProvider {
        AwsProvider {
            options,
            ..AwsProvider::default()
        }
    }

    fn settings(&self) -> Settings {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn clients(&self) -> &Clients {
        let settings = self.settings();
        self.clients
            .get_or_init(|| Clients::load(settings.region.clone(), &self.options))
            .await
    }
}

/// The type serving a type name, or the error that it is not supported.
fn resource(type_name: &str) -> Result<&'static dyn Resource, Error> {
    resource::lookup(type_name).ok_or_else(|| Error::unsupported(type_name))
}

/// The state of an adopted object for a create: the configuration, with the
/// computed values of what was found.
fn adopt(type_name: &str, config: &Value, found: &Value) -> Value {
    let schema = schema::provider_schema();
    let computed = schema
        .resources
        .get(type_name)
        .map(|r| {
            r.attributes
                .iter()
                .filter(|(_, a)| a.is_computed())
                .filter_map(|(k, _)| Some((k.clone(), found.get(k)?.clone())))
                .filter(|(k, v)| !v.is_null() || config.get(k).is_none_or(Value::is_null))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut m = config.unmarked().as_map().cloned().unwrap_or_default();
    for (k, v) in computed {
        if config.get(&k).is_none_or(|c| c.is_null() || c.is_unknown()) {
            m.insert(k, v);
        }
    }
    Value::Map(m.into())
}

/// How long after an interrupted create's call it may still finish in AWS
/// (the caller died; AWS keeps processing the request it received). A
/// look-up by key sooner than this could miss the object and orphan it.
const IN_FLIGHT_SETTLE: std::time::Duration = std::time::Duration::from_secs(4);

fn error_diag(subject: &str, e: &Error) -> Diagnostics {
    let mut d = Diagnostic::error(format!("{subject}: {}", e.message));
    if let Some(detail) = &e.detail {
        d = d.with_detail(detail.clone());
    }
    d.into()
}

/// The subject of a message: the address when known, else the type and id.
fn subject(address: &str, type_name: &str, id: &str) -> String {
    if address.is_empty() {
        format!("{type_name} {id}")
    } else {
        address.to_string()
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn schema(&self) -> ProviderSchema {
        schema::provider_schema().clone()
    }

    async fn configure(&self, req: ConfigureRequest) -> ConfigureResponse {
        let mut diagnostics = Diagnostics::new();
        let mut settings = Settings::default();
        if let Some(r) = values::string(&req.config, "region") {
            settings.region = Some(r);
        }
        match req.config.get("default_tags") {
            None | Some(Value::Null) => {}
            Some(v) => {
                // Terraform writes `default_tags { tags = {...} }`; a plain map works too.
                let tags = v.get("tags").unwrap_or(v);
                settings.default_tags = values::string_map(tags);
                if settings.default_tags.keys().any(|k| k.starts_with("kiln:")) {
                    diagnostics.push(
                        Diagnostic::error("provider \"aws\": default_tags may not use the kiln: prefix")
                            .with_detail("kiln:env, kiln:address, kiln:generation, kiln:lineage and kiln:key are set by kiln itself"),
                    );
                }
            }
        }
        if let Ok(mut s) = self.settings.lock() {
            *s = settings;
        }
        ConfigureResponse { diagnostics }
    }

    async fn validate(&self, req: ValidateRequest) -> ValidateResponse {
        let mut diagnostics = Diagnostics::new();
        for msg in schema::validate_config(&req.type_name, &req.config) {
            diagnostics.push(Diagnostic::error(msg));
        }
        ValidateResponse { diagnostics }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        let settings = self.settings();
        let clients = self.clients().await;
        let ctx = Ctx {
            c: clients,
            settings: &settings,
            call: &req.context,
            key: &req.idempotency_key,
        };
        let who = subject(&req.context.address, &req.type_name, "(new)");
        let problems = schema::validate(&req.type_name, &req.config);
        if let Some(first) = problems.first() {
            return CreateResponse {
                diagnostics: Diagnostic::error(format!("{who}: {first}")).into(),
                ..CreateResponse::default()
            };
        }
        let result = match resource(&req.type_name) {
            Err(e) => Err(e),
            // Objects without a unique name are looked up by key first: a
            // retried create adopts what the first try made. (RunInstances
            // and CreateVolume also take the key as client token; the look-up
            // covers the other creates, and emulators that ignore tokens.)
            Ok(t)
                if t.look_before_create()
                    && !req.idempotency_key.is_empty()
                    && let Ok(Some((id, found))) = t.find(clients, &req.idempotency_key).await =>
            {
                Ok((id, adopt(t.name(), &req.config, &found)))
            }
            Ok(t) => t.create(&ctx, &req.config).await,
        };
        // A retried create whose first try made the object: adopt it.
        let result = match result {
            Err(e) if e.is_duplicate() && !req.idempotency_key.is_empty() => {
                let found = match resource(&req.type_name) {
                    Ok(t) => t.find(clients, &req.idempotency_key).await,
                    Err(e) => Err(e),
                };
                match found {
                    Ok(Some((id, found))) => Ok((
                        id,
                        adopt(resource::canonical(&req.type_name), &req.config, &found),
                    )),
                    _ => Err(e),
                }
            }
            other => other,
        };
        match result {
            Ok((id, state)) => CreateResponse {
                id: Some(id),
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(e) => {
                // An object made before the failure is reported, so the engine
                // records it (and deletes it) instead of orphaning it.
                let diagnostics = error_diag(&who, &e);
                let (id, state) = e.created.map_or((None, Value::Null), |b| (Some(b.0), b.1));
                CreateResponse {
                    id,
                    state,
                    diagnostics,
                }
            }
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let clients = self.clients().await;
        // Group the batch by type; each type answers its ids with as few
        // Describe calls as AWS allows.
        let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, item) in req.items.iter().enumerate() {
            by_type
                .entry(resource::canonical(&item.type_name))
                .or_default()
                .push(i);
        }
        let mut results: Vec<ReadResult> = vec![ReadResult::default(); req.items.len()];
        for (type_name, idx) in by_type {
            let items: Vec<(&str, &Value)> = idx
                .iter()
                .map(|&i| (req.items[i].id.as_str(), &req.items[i].state))
                .collect();
            let answers = match resource(type_name) {
                Ok(t) => t.read(clients, &items).await,
                Err(e) => Err(e),
            };
            match answers {
                Ok(answers) => {
                    for (&i, seen) in idx.iter().zip(answers) {
                        results[i].state = seen.state;
                        results[i].drift = seen.drift;
                    }
                }
                Err(e) => {
                    for &i in &idx {
                        let item = &req.items[i];
                        results[i].state = Some(item.state.clone());
                        results[i].diagnostics =
                            error_diag(&subject("", &item.type_name, &item.id), &e);
                    }
                }
            }
        }
        ReadResponse {
            results,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        let settings = self.settings();
        let clients = self.clients().await;
        let ctx = Ctx {
            c: clients,
            settings: &settings,
            call: &req.context,
            key: "",
        };
        let who = subject(&req.context.address, &req.type_name, &req.id);
        let problems = schema::validate(&req.type_name, &req.planned);
        if let Some(first) = problems.first() {
            return UpdateResponse {
                state: req.prior,
                diagnostics: Diagnostic::error(format!("{who}: {first}")).into(),
            };
        }
        let result = match resource(&req.type_name) {
            Ok(t) => t.update(&ctx, &req).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => UpdateResponse {
                state: values::merge_planned(&req.prior, &req.planned),
                diagnostics: Diagnostics::new(),
            },
            Err(e) => UpdateResponse {
                state: req.prior,
                diagnostics: error_diag(&who, &e),
            },
        }
    }

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse {
        let settings = self.settings();
        let clients = self.clients().await;
        let ctx = Ctx {
            c: clients,
            settings: &settings,
            call: &req.context,
            key: "",
        };
        let who = subject(&req.context.address, &req.type_name, &req.id);
        let result = match resource(&req.type_name) {
            Ok(t) => t.delete(&ctx, &req.id, &req.state).await,
            Err(e) => Err(e),
        };
        DeleteResponse {
            diagnostics: match result {
                Ok(()) => Diagnostics::new(),
                Err(e) => error_diag(&who, &e),
            },
        }
    }

    async fn find_by_key(&self, req: FindRequest) -> FindResponse {
        let clients = self.clients().await;
        let key = req.idempotency_key.as_str();
        // A create sent just before its caller died may still be running in
        // AWS: give it time to finish before looking.
        if let Some(at) = req.intent_at {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // `at` is whole seconds: count from the end of its second.
            let ready = at + 1 + IN_FLIGHT_SETTLE.as_secs();
            if now < ready {
                tokio::time::sleep(std::time::Duration::from_secs(ready - now)).await;
            }
        }
        let result = match resource(&req.type_name) {
            Ok(t) => t.find(clients, key).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(found) => FindResponse {
                found,
                diagnostics: Diagnostics::new(),
            },
            Err(e) => FindResponse {
                found: None,
                diagnostics: error_diag(&subject(&req.context.address, &req.type_name, key), &e),
            },
        }
    }

    async fn check_health(&self, req: HealthRequest) -> HealthResponse {
        let clients = self.clients().await;
        let checked = match resource::lookup(&req.type_name) {
            Some(t) => t.health(clients, &req.id, &req.state).await,
            None => None,
        };
        let (healthy, message) = match checked {
            None => (true, "no health check".to_string()),
            Some(Ok(message)) => (true, message),
            Some(Err(e)) => (false, e.message),
        };
        HealthResponse {
            healthy,
            message,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn shift(&self, req: ShiftRequest) -> ShiftResponse {
        match resource::canonical(&req.type_name) {
            "aws_lb_listener" => elb::listener::shift(&req),
            other => ShiftResponse::unsupported(other),
        }
    }

    async fn traffic(&self, req: TrafficRequest) -> TrafficResponse {
        let clients = self.clients().await;
        match resource::canonical(&req.type_name) {
            "aws_lb_listener" => match elb::listener::traffic(clients, &req).await {
                Ok(backends) => TrafficResponse {
                    backends,
                    diagnostics: Diagnostics::new(),
                },
                Err(e) => TrafficResponse {
                    backends: Default::default(),
                    diagnostics: error_diag(&format!("aws_lb_listener {}", req.id), &e),
                },
            },
            other => TrafficResponse::unsupported(other),
        }
    }

    async fn adopt(&self, req: AdoptRequest) -> AdoptResponse {
        let clients = self.clients().await;
        let type_name = resource::canonical(&req.type_name);
        match adopt::mark(
            clients,
            type_name,
            &req.id,
            &req.context,
            &req.idempotency_key,
        )
        .await
        {
            Ok(marked) => AdoptResponse {
                marked,
                diagnostics: Diagnostics::new(),
            },
            Err(e) => AdoptResponse {
                marked: false,
                diagnostics: error_diag(
                    &subject(&req.context.address, &req.type_name, &req.idempotency_key),
                    &e,
                ),
            },
        }
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        let clients = self.clients().await;
        match data::read(clients, &req.type_name, &req.config).await {
            Ok(state) => ReadDataResponse {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(e) => ReadDataResponse {
                state: Value::Null,
                diagnostics: error_diag(&format!("data.{}", req.type_name), &e),
            },
        }
    }
}
