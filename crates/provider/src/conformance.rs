//! The provider conformance suite: one set of checks every provider passes,
//! in process or through the plugin protocol (the AWS provider runs it as a
//! plugin). Behind the `conformance` feature, which only tests enable.
//!
//! A provider's tests hand [`run`] the provider and a few
//! [`ConformanceCase`]s (a resource type, a full configuration and optionally
//! a second configuration that changes only run-time attributes). The suite
//! walks each case through the life of a resource — validate, create, a
//! batched read, update in place, delete, read again, delete again — and
//! returns every broken expectation as a [`Failure`]. [`assert_conforms`]
//! panics with all of them, for tests.
//!
//! The checks:
//! - the schema is self-consistent: names are identifiers, resource types are
//!   prefixed by the provider name, object types have fields, and the case's
//!   configuration holds every attribute of the schema (computed ones unset);
//! - create returns an id and a state holding every schema attribute, with
//!   configured values preserved and computed ones known (and `id`, when the
//!   schema has one, equal to the returned id);
//! - a batched read of every created object answers in request order with the
//!   created state and no drift;
//! - types with a health check report healthy once created;
//! - update of run-time attributes returns the new values;
//! - delete succeeds and a later read says the object is gone (skipped for
//!   providers whose objects have no backing, see
//!   [`ConformanceOptions::objects_have_backing`]);
//! - deleting an already deleted object is not an error.

use std::fmt;

use kiln_model::{ChangeBehaviour, Presence, ProviderSchema, ResourceSchema, Type, Value};

use crate::{
    CallContext, CreateRequest, DeleteRequest, HealthRequest, Provider, ReadItem, ReadRequest,
    UpdateRequest, ValidateRequest,
};

/// One resource to walk through its life.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceCase {
    pub type_name: String,
    /// The full configuration: every schema attribute, unset ones `Null`,
    /// computed ones `Null` or `Unknown`.
    pub config: Value,
    /// A second configuration that differs from `config` only in run-time
    /// attributes; the suite updates the object to it in place.
    pub update: Option<Value>,
}

impl ConformanceCase {
    pub fn new(type_name: impl Into<String>, config: Value) -> ConformanceCase {
        ConformanceCase {
            type_name: type_name.into(),
            config,
            update: None,
        }
    }

    pub fn with_update(mut self, update: Value) -> ConformanceCase {
        self.update = Some(update);
        self
    }
}

/// How to run the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceOptions {
    /// The context passed to create, update and delete; the suite sets
    /// `address` per case (`TYPE.conformance_N`).
    pub context: CallContext,
    /// False for providers whose objects have no real backing (`null`):
    /// a read after delete may still return the object.
    pub objects_have_backing: bool,
}

impl Default for ConformanceOptions {
    fn default() -> ConformanceOptions {
        ConformanceOptions {
            context: CallContext {
                env: "conformance".into(),
                lineage: "conformance-lineage".into(),
                generation: 1,
                ..CallContext::default()
            },
            objects_have_backing: true,
        }
    }
}

/// One broken expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `TYPE.conformance_N`, or the provider name for schema checks.
    pub subject: String,
    /// The step: `schema`, `validate`, `create`, `read`, `health`, `update`,
    /// `delete`, `read after delete`, `delete again`.
    pub step: &'static str,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.subject, self.step, self.message)
    }
}

struct Report {
    failures: Vec<Failure>,
}

impl Report {
    fn fail(&mut self, subject: &str, step: &'static str, message: impl Into<String>) {
        self.failures.push(Failure {
            subject: subject.to_string(),
            step,
            message: message.into(),
        });
    }
}

/// Runs the suite and returns every failure (empty: the provider conforms).
pub async fn run(
    provider: &dyn Provider,
    cases: &[ConformanceCase],
    options: &ConformanceOptions,
) -> Vec<Failure> {
    let mut report = Report {
        failures: Vec::new(),
    };
    let schema = provider.schema();
    check_provider_schema(&schema, &mut report);

    // Validate and create every case first, so the read can be batched.
    struct Live<'a> {
        case: &'a ConformanceCase,
        subject: String,
        schema: &'a ResourceSchema,
        context: CallContext,
        id: String,
        state: Value,
    }
    /// One batched read of every live object, in order.
    fn read_all(live: &[Live<'_>]) -> ReadRequest {
        let items = live
            .iter()
            .map(|l| ReadItem {
                type_name: l.case.type_name.clone(),
                id: l.id.clone(),
                state: l.state.clone(),
            })
            .collect();
        ReadRequest { items }
    }
    let mut live: Vec<Live<'_>> = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let subject = format!("{}.conformance_{i}", case.type_name);
        let Some(rs) = schema.resources.get(&case.type_name) else {
            report.fail(
                &subject,
                "schema",
                format!(
                    "the provider's schema has no resource type {:?}",
                    case.type_name
                ),
            );
            continue;
        };
        check_case_config(&subject, rs, &case.config, "config", &mut report);
        if let Some(update) = &case.update {
            check_case_config(&subject, rs, update, "update", &mut report);
            check_update_is_runtime(&subject, rs, &case.config, update, &mut report);
        }

        let v = provider
            .validate(ValidateRequest {
                type_name: case.type_name.clone(),
                config: case.config.clone(),
            })
            .await;
        if v.diagnostics.has_errors() {
            report.fail(
                &subject,
                "validate",
                format!("a valid configuration was rejected: {}", v.diagnostics),
            );
        }

        let context = CallContext {
            address: subject.clone(),
            ..options.context.clone()
        };
        let created = provider
            .create(CreateRequest {
                type_name: case.type_name.clone(),
                config: case.config.clone(),
                idempotency_key: format!("{}/{subject}/1", context.lineage),
                context: context.clone(),
            })
            .await;
        if created.diagnostics.has_errors() {
            report.fail(
                &subject,
                "create",
                format!("create failed: {}", created.diagnostics),
            );
            continue;
        }
        let Some(id) = created.id.filter(|id| !id.is_empty()) else {
            report.fail(&subject, "create", "create returned no id");
            continue;
        };
        check_state(
            &subject,
            "create",
            rs,
            &case.config,
            &created.state,
            &mut report,
        );
        if rs.attributes.contains_key("id")
            && created.state.get("id").and_then(Value::as_str) != Some(id.as_str())
        {
            report.fail(
                &subject,
                "create",
                format!(
                    "attribute id is {}, not the returned id {id:?}",
                    created.state.get("id").unwrap_or(&Value::Null)
                ),
            );
        }
        live.push(Live {
            case,
            subject,
            schema: rs,
            context,
            id,
            state: created.state,
        });
    }

    // One batched read of everything created, answered in order.
    if !live.is_empty() {
        let read = provider.read(read_all(&live)).await;
        if read.diagnostics.has_errors() {
            report.fail(
                &schema.name,
                "read",
                format!("batched read failed: {}", read.diagnostics),
            );
        }
        if read.results.len() != live.len() {
            report.fail(
                &schema.name,
                "read",
                format!(
                    "a batched read of {} items answered {} results",
                    live.len(),
                    read.results.len()
                ),
            );
        }
        for (l, r) in live.iter().zip(&read.results) {
            if r.diagnostics.has_errors() {
                report.fail(
                    &l.subject,
                    "read",
                    format!("read failed: {}", r.diagnostics),
                );
            }
            match &r.state {
                None => report.fail(&l.subject, "read", "the created object reads as gone"),
                Some(s) => diff_states(&l.subject, "read", &l.state, s, &mut report),
            }
            if let Some(d) = &r.drift {
                report.fail(
                    &l.subject,
                    "read",
                    format!("fresh object reports drift: {d}"),
                );
            }
        }
    }

    for l in &mut live {
        if l.schema.health_check {
            let h = provider
                .check_health(HealthRequest {
                    type_name: l.case.type_name.clone(),
                    id: l.id.clone(),
                    state: l.state.clone(),
                })
                .await;
            if !h.healthy || h.diagnostics.has_errors() {
                report.fail(
                    &l.subject,
                    "health",
                    format!("not healthy: {} {}", h.message, h.diagnostics),
                );
            }
        }

        if let Some(update) = &l.case.update {
            let changed = changed_attributes(&l.case.config, update);
            let planned = planned_update(l.schema, &l.state, update);
            let resp = provider
                .update(UpdateRequest {
                    type_name: l.case.type_name.clone(),
                    id: l.id.clone(),
                    prior: l.state.clone(),
                    planned,
                    changed: changed.clone(),
                    context: l.context.clone(),
                })
                .await;
            if resp.diagnostics.has_errors() {
                report.fail(
                    &l.subject,
                    "update",
                    format!("update failed: {}", resp.diagnostics),
                );
            } else {
                check_state(
                    &l.subject,
                    "update",
                    l.schema,
                    update,
                    &resp.state,
                    &mut report,
                );
                for name in &changed {
                    let want = update.get(name).unwrap_or(&Value::Null);
                    if want.is_null() {
                        continue;
                    }
                    let got = resp.state.get(name).unwrap_or(&Value::Null);
                    if got != want {
                        report.fail(
                            &l.subject,
                            "update",
                            format!("{name} is {got} after the update, not {want}"),
                        );
                    }
                }
                l.state = resp.state;
            }
        }

        let del = provider
            .delete(DeleteRequest {
                type_name: l.case.type_name.clone(),
                id: l.id.clone(),
                state: l.state.clone(),
                context: l.context.clone(),
            })
            .await;
        if del.diagnostics.has_errors() {
            report.fail(
                &l.subject,
                "delete",
                format!("delete failed: {}", del.diagnostics),
            );
        }
    }

    if options.objects_have_backing && !live.is_empty() {
        let read = provider.read(read_all(&live)).await;
        if read.diagnostics.has_errors() {
            report.fail(
                &schema.name,
                "read after delete",
                format!("batched read failed: {}", read.diagnostics),
            );
        }
        for (l, r) in live.iter().zip(&read.results) {
            if r.state.is_some() {
                report.fail(
                    &l.subject,
                    "read after delete",
                    "the deleted object still reads as existing (state should be None)",
                );
            }
        }
    }

    for l in &live {
        let again = provider
            .delete(DeleteRequest {
                type_name: l.case.type_name.clone(),
                id: l.id.clone(),
                state: l.state.clone(),
                context: l.context.clone(),
            })
            .await;
        if again.diagnostics.has_errors() {
            report.fail(
                &l.subject,
                "delete again",
                format!(
                    "deleting an already deleted object must succeed: {}",
                    again.diagnostics
                ),
            );
        }
    }

    report.failures
}

/// Runs the suite and panics with every failure, for tests.
pub async fn assert_conforms(
    provider: &dyn Provider,
    cases: &[ConformanceCase],
    options: &ConformanceOptions,
) {
    let failures = run(provider, cases, options).await;
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().map(|f| format!("  - {f}")).collect();
        panic!(
            "provider {:?} fails {} conformance check(s):\n{}",
            provider.schema().name,
            failures.len(),
            list.join("\n")
        );
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_type(subject: &str, attr: &str, ty: &Type, report: &mut Report) {
    match ty {
        Type::Object(fields) => {
            if fields.is_empty() {
                report.fail(
                    subject,
                    "schema",
                    format!("attribute {attr} is an object type with no fields"),
                );
            }
            for (k, t) in fields {
                check_type(subject, &format!("{attr}.{k}"), t, report);
            }
        }
        Type::List(t) | Type::Set(t) | Type::Map(t) => check_type(subject, attr, t, report),
        Type::Tuple(items) => {
            for t in items {
                check_type(subject, attr, t, report);
            }
        }
        Type::String | Type::Number | Type::Bool | Type::Any => {}
    }
}

fn check_resource_schema(subject: &str, rs: &ResourceSchema, report: &mut Report) {
    if rs.attributes.is_empty() {
        report.fail(subject, "schema", "the type has no attributes");
    }
    for (name, a) in &rs.attributes {
        if !is_identifier(name) {
            report.fail(
                subject,
                "schema",
                format!("attribute name {name:?} is not a lowercase identifier"),
            );
        }
        check_type(subject, name, &a.ty, report);
        if a.change == ChangeBehaviour::Update && !rs.stateful {
            report.fail(
                subject,
                "schema",
                format!("attribute {name} is `update` but the type is not stateful"),
            );
        }
    }
}

fn check_provider_schema(schema: &ProviderSchema, report: &mut Report) {
    let name = schema.name.as_str();
    if !is_identifier(name) {
        report.fail(
            name,
            "schema",
            format!("provider name {name:?} is not a lowercase identifier"),
        );
    }
    let prefix = format!("{name}_");
    for (kind, types) in [
        ("resource", &schema.resources),
        ("data source", &schema.data_sources),
    ] {
        for (ty, rs) in types {
            if !ty.starts_with(&prefix) {
                report.fail(
                    name,
                    "schema",
                    format!("{kind} type {ty:?} does not start with {prefix:?}"),
                );
            }
            check_resource_schema(ty, rs, report);
        }
    }
}

/// The case's configuration is what the engine would send: every schema
/// attribute present, required ones set, computed ones unset.
fn check_case_config(
    subject: &str,
    rs: &ResourceSchema,
    config: &Value,
    which: &str,
    report: &mut Report,
) {
    let Some(m) = config.as_map() else {
        report.fail(
            subject,
            "schema",
            format!("the case's {which} is not an object"),
        );
        return;
    };
    for (name, a) in &rs.attributes {
        let v = m.get(name);
        match (a.presence, v) {
            (_, None) => report.fail(
                subject,
                "schema",
                format!("the case's {which} lacks attribute {name} (pass Null for unset ones)"),
            ),
            (Presence::Required, Some(v)) if v.is_null() => report.fail(
                subject,
                "schema",
                format!("the case's {which} leaves required attribute {name} unset"),
            ),
            (Presence::Computed, Some(v)) if !v.is_null() && !v.is_unknown() => report.fail(
                subject,
                "schema",
                format!("the case's {which} sets computed attribute {name}"),
            ),
            _ => {}
        }
    }
    for name in m.keys() {
        if !rs.attributes.contains_key(name.as_str()) {
            report.fail(
                subject,
                "schema",
                format!("the case's {which} has {name}, which the schema does not declare"),
            );
        }
    }
}

fn check_update_is_runtime(
    subject: &str,
    rs: &ResourceSchema,
    config: &Value,
    update: &Value,
    report: &mut Report,
) {
    for name in changed_attributes(config, update) {
        if rs
            .attributes
            .get(&name)
            .is_some_and(|a| a.change != ChangeBehaviour::Runtime)
        {
            report.fail(
                subject,
                "schema",
                format!("the case's update changes {name}, which is not a run-time attribute"),
            );
        }
    }
}

/// A returned state holds every schema attribute, keeps what was configured
/// and knows every computed value.
fn check_state(
    subject: &str,
    step: &'static str,
    rs: &ResourceSchema,
    config: &Value,
    state: &Value,
    report: &mut Report,
) {
    let Some(m) = state.as_map() else {
        report.fail(
            subject,
            step,
            format!("the state is a {}, not an object", state.type_name()),
        );
        return;
    };
    for (name, a) in &rs.attributes {
        let Some(got) = m.get(name) else {
            report.fail(subject, step, format!("the state lacks attribute {name}"));
            continue;
        };
        if !got.is_known() {
            report.fail(
                subject,
                step,
                format!("attribute {name} is still unknown in the returned state"),
            );
        }
        let want = config.get(name).unwrap_or(&Value::Null);
        if a.write_only {
            // Sent, never returned: it would reach the state.
            if !got.is_null() {
                report.fail(
                    subject,
                    step,
                    format!("write-only attribute {name} came back in the state; return null"),
                );
            }
            continue;
        }
        if a.is_settable() && !want.is_null() && want.is_known() && got != want {
            report.fail(
                subject,
                step,
                format!("configured {name} = {want} came back as {got}"),
            );
        }
        if a.presence == Presence::Computed && got.is_null() {
            report.fail(
                subject,
                step,
                format!("computed attribute {name} was not filled in"),
            );
        }
    }
}

fn diff_states(subject: &str, step: &'static str, want: &Value, got: &Value, report: &mut Report) {
    let empty = kiln_model::FieldMap::new();
    let w = want.as_map().unwrap_or(&empty);
    let g = got.as_map().unwrap_or(&empty);
    for (name, wv) in w {
        let gv = g.get(name).unwrap_or(&Value::Null);
        if gv != wv {
            report.fail(
                subject,
                step,
                format!("{name} reads back as {gv}, but create returned {wv}"),
            );
        }
    }
}

/// The top-level attributes whose value differs between two configurations.
fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let empty = kiln_model::FieldMap::new();
    let b = before.as_map().unwrap_or(&empty);
    let a = after.as_map().unwrap_or(&empty);
    let mut names: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| k.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What the planner would send for an in-place update: the new configuration
/// with computed values carried over from the prior state.
fn planned_update(rs: &ResourceSchema, prior: &Value, update: &Value) -> Value {
    let mut m = update.as_map().cloned().unwrap_or_default();
    for (name, a) in &rs.attributes {
        let unset = m.get(name).is_none_or(|v| v.is_null() || v.is_unknown());
        if a.is_computed()
            && unset
            && let Some(p) = prior.get(name)
        {
            m.insert(name.clone(), p.clone());
        }
    }
    Value::Map(m.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_model::AttributeSchema;

    #[test]
    fn case_config_must_hold_every_attribute() {
        let rs = ResourceSchema::new()
            .attr("a", AttributeSchema::required(Type::String))
            .attr("id", AttributeSchema::computed(Type::String));
        let mut report = Report {
            failures: Vec::new(),
        };
        check_case_config(
            "t",
            &rs,
            &Value::map([("id", Value::from("x"))]),
            "config",
            &mut report,
        );
        let msgs: Vec<String> = report.failures.iter().map(|f| f.message.clone()).collect();
        assert_eq!(
            msgs,
            [
                "the case's config lacks attribute a (pass Null for unset ones)",
                "the case's config sets computed attribute id",
            ]
        );
    }

    #[test]
    fn planned_update_carries_computed_values() {
        let rs = ResourceSchema::new()
            .attr("n", AttributeSchema::optional(Type::Number).runtime())
            .attr("id", AttributeSchema::computed(Type::String));
        let prior = Value::map([("n", Value::from(1i64)), ("id", Value::from("x"))]);
        let update = Value::map([("n", Value::from(2i64)), ("id", Value::Unknown)]);
        assert_eq!(
            planned_update(&rs, &prior, &update),
            Value::map([("n", Value::from(2i64)), ("id", Value::from("x"))])
        );
        assert_eq!(changed_attributes(&prior, &update), ["id", "n"]);
    }
}
