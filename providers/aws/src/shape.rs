//! The shapes resource types share: attribute types, `id`/`arn`, tags,
//! Terraform's `name`/`name_prefix`, and the state of an adopted object.
//! A leaf module: every resource type imports it, it imports none of them.

use std::collections::BTreeMap;

pub(crate) use kiln_model::{AttributeSchema as A, ResourceSchema};
use kiln_model::{Type, Value};

pub(crate) fn str_t() -> Type {
    Type::String
}
pub(crate) fn num_t() -> Type {
    Type::Number
}
pub(crate) fn bool_t() -> Type {
    Type::Bool
}
pub(crate) fn strs_t() -> Type {
    Type::List(Box::new(Type::String))
}
pub(crate) fn map_t() -> Type {
    Type::Map(Box::new(Type::String))
}
pub(crate) fn obj(fields: &[(&str, Type)]) -> Type {
    Type::Object(
        fields
            .iter()
            .map(|(k, t)| (k.to_string(), t.clone()))
            .collect(),
    )
}

pub(crate) fn opt_computed(t: Type) -> A {
    A::new(t, kiln_model::Presence::OptionalComputed)
}

pub(crate) fn tags() -> A {
    A::optional(map_t())
        .runtime()
        .describe("tags of the object, changed in place; kiln adds kiln:env, kiln:address, kiln:generation, kiln:lineage and kiln:key")
}

/// `id` and `arn`, computed.
pub(crate) fn ids(r: ResourceSchema) -> ResourceSchema {
    r.attr("id", A::computed(str_t()))
        .attr("arn", A::computed(str_t()))
}

/// `name` and `name_prefix`, Terraform's: `name` is the physical name as
/// written (a replacement while the live object holds it takes a derived
/// one, see [`kiln_model::PhysicalName`]); `name_prefix` makes a name that
/// begins with it, `{prefix}{env}-g{generation}-{project}`; with neither,
/// `{env}-{resource name}-g{generation}-{project}`. At most `max`
/// characters (AWS's limit for the type).
pub(crate) fn named(r: ResourceSchema, max: usize) -> ResourceSchema {
    r.attr(
        "name",
        A::new(str_t(), kiln_model::Presence::OptionalComputed).describe(
            "the physical name (default: made from name_prefix, or from the environment, the resource name and the generation)",
        ),
    )
    .attr(
        "name_prefix",
        A::optional(str_t()).describe("the physical name begins with it (conflicts with name)"),
    )
    .physical_name("name", max)
}

/// The state of an object found by its key: every attribute of the type
/// (`schema`), those AWS reports filled in, the others null.
pub fn adopted(
    schema: &ResourceSchema,
    fields: impl IntoIterator<Item = (&'static str, Value)>,
) -> Value {
    let mut m: BTreeMap<String, Value> = schema
        .attributes
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    Value::Map(m.into())
}

/// `v` with every object the type `ty` describes given all its attributes:
/// one missing (a state written before the attribute existed) is null, as
/// a configuration converted to the type has it. Without this, a type that
/// gains a block attribute would see every older state as changed.
pub fn with_shape(v: &Value, ty: &Type) -> Value {
    match (v.unmarked(), ty) {
        (Value::Map(m), Type::Object(fields)) => {
            let mut out = m.clone();
            for (k, t) in fields {
                let filled = out.get(k).map_or(Value::Null, |x| with_shape(x, t));
                out.insert(k.clone(), filled);
            }
            Value::Map(out)
        }
        (Value::List(items), Type::List(t) | Type::Set(t)) => {
            Value::List(items.iter().map(|x| with_shape(x, t)).collect())
        }
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_state_gets_the_attributes_its_type_gained_as_null() {
        let ty = Type::List(Box::new(obj(&[
            ("cidr_block", str_t()),
            ("nat_gateway_id", str_t()),
        ])));
        let old = Value::List(vec![Value::map([("cidr_block", Value::from("0.0.0.0/0"))])].into());
        let want = Value::List(
            vec![Value::map([
                ("cidr_block", Value::from("0.0.0.0/0")),
                ("nat_gateway_id", Value::Null),
            ])]
            .into(),
        );
        assert_eq!(with_shape(&old, &ty), want);
        assert_eq!(
            with_shape(&want, &ty),
            want,
            "a complete value is unchanged"
        );
        assert_eq!(with_shape(&Value::Null, &ty), Value::Null);
    }
}
