//! kiln's shared vocabulary.
//!
//! Every other crate talks in these types: [`InstanceAddr`] names a resource
//! instance, [`Value`] is the dynamic value of HCL expressions, resource
//! attributes and provider payloads (with *unknown* for "known after apply"
//! and *sensitive* marks), and [`schema`] says what a provider's resources look
//! like and how each attribute may change. The crate has no I/O and no async.

pub mod address;
pub mod cutover;
pub mod fxhash;
pub mod number;
pub mod schema;
pub mod str_map;
pub mod value;

pub use address::{AddrError, InstanceAddr, InstanceKey, ModuleStep, ResourceAddr, ResourceMode};
pub use cutover::{Cutover, CutoverCheck, CutoverStep, Metric, TrafficCounters};
pub use schema::{
    AttributeSchema, ChangeBehaviour, PhysicalName, PlannedValue, Presence, ProviderSchema,
    ResourceSchema, Schemas, Type,
};
/// Short text kept inline (up to 23 bytes, no allocation): names, types,
/// ids and map keys (see `str_map`).
pub use smol_str::SmolStr;
pub use value::{FieldMap, Fields, MapKind, Number, Seq, SeqKind, Value};
