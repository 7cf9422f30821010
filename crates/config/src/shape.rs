//! Where a type constraint has optional object attributes, and their
//! defaults: the part of a constraint the model's `Type` cannot say.

use std::collections::BTreeMap;

use kiln_model::Value;

/// Where a type constraint has optional object attributes (and defaults).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Shape {
    /// Nothing optional inside.
    #[default]
    Plain,
    /// An object type's attributes.
    Object(BTreeMap<String, AttrShape>),
    /// The element type of a list, set or map.
    Elements(Box<Shape>),
    /// A tuple's element types.
    Tuple(Vec<Shape>),
}

/// One attribute of an object type constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrShape {
    pub optional: bool,
    /// `optional(T, default)`'s default, converted to `T`.
    pub default: Option<Value>,
    pub shape: Shape,
}

impl Shape {
    pub(crate) fn is_plain(&self) -> bool {
        *self == Shape::Plain
    }
}
