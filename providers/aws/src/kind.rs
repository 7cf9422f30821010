//! What one resource type of the provider is: the [`Resource`] trait every
//! type implements, and what a read answers ([`Observed`]). A leaf module:
//! every type imports it; the table of types is `resource`.

use async_trait::async_trait;
use kiln_model::{ResourceSchema, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error};

/// One resource type of the Terraform AWS provider, as kiln serves it.
///
/// Every method is called with the canonical type (an alias such as
/// `aws_alb` reaches the type it stands for). Errors are [`Error`]s; an
/// object made before a failure travels in [`Error::created`] so the engine
/// records it instead of orphaning it.
#[async_trait]
pub trait Resource: Send + Sync {
    /// The Terraform type name (`aws_vpc`).
    fn name(&self) -> &'static str;

    /// The attributes, named as in the Terraform AWS provider, with what a
    /// change to each means (Terraform's force-new attributes replace; its
    /// update-in-place ones are `runtime` or `updatable` only where kiln's
    /// rule allows).
    fn schema(&self) -> ResourceSchema;

    /// Problems of a configuration beyond its types, one message each
    /// (unknown values pass). Name checks common to every named type run
    /// before this (`schema::validate`).
    fn validate(&self, _config: &Value, _out: &mut Vec<String>) {}

    /// Whether a create first looks for an object an earlier try made, by
    /// [`Resource::find`]: for creates that take neither a client token nor a
    /// unique name, so a retried create adopts instead of duplicating.
    fn look_before_create(&self) -> bool {
        false
    }

    /// Creates the object: its id and state (the configuration with the
    /// computed attributes filled in). `ctx.key` is the idempotency key.
    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error>;

    /// Reads a batch of `(id, prior state)` back with as few calls as the
    /// API allows (one Describe per 100 ids where it accepts an id filter):
    /// one answer per item, in order.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error>;

    /// Applies an in-place change. The planner sends only changes to
    /// `runtime` or `updatable` attributes (and tags).
    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error>;

    /// Deletes the object and waits until it is gone, retrying while AWS
    /// says it is still in use by something being deleted. An object
    /// already gone is success.
    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error>;

    /// What a create with this idempotency key made, found by the
    /// `kiln:key` tag: its id and state (every attribute of the type, those
    /// AWS reports filled in). `None` for types that carry no tags.
    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error>;

    /// The health check the engine runs before traffic moves to a new
    /// object (`ResourceSchema::health_check`): `Ok` with what was found,
    /// or `Err` saying why it is unhealthy. `None` for types without one.
    async fn health(
        &self,
        _c: &Clients,
        _id: &str,
        _state: &Value,
    ) -> Option<Result<String, Error>> {
        None
    }
}

/// What a read found of one object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The refreshed state; `None` when the object is gone.
    pub state: Option<Value>,
    /// A change made outside kiln that the object cannot take back in
    /// place (the planner replaces it), said as a reason.
    pub drift: Option<String>,
}

/// Answers without drift.
pub fn observed(states: Vec<Option<Value>>) -> Vec<Observed> {
    states
        .into_iter()
        .map(|state| Observed { state, drift: None })
        .collect()
}
