//! Resource bodies evaluated against their schema: every attribute, the
//! configured ones converted to their type, unknown and missing ones
//! reported.

use super::*;

/// What a body may set: a resource schema, or the fields of an object type
/// (a nested block, whose fields are all optional).
#[derive(Clone, Copy)]
enum Fields<'s> {
    Schema(&'s BTreeMap<String, AttributeSchema>),
    Object(&'s BTreeMap<String, Type>),
}

impl<'s> Fields<'s> {
    fn get(self, name: &str) -> Option<(&'s Type, Presence, bool)> {
        match self {
            Fields::Schema(m) => m.get(name).map(|a| (&a.ty, a.presence, a.sensitive)),
            Fields::Object(m) => m.get(name).map(|t| (t, Presence::Optional, false)),
        }
    }

    fn iter(self) -> Box<dyn Iterator<Item = (&'s str, &'s Type, Presence)> + 's> {
        match self {
            Fields::Schema(m) => Box::new(m.iter().map(|(k, a)| (k.as_str(), &a.ty, a.presence))),
            Fields::Object(m) => {
                Box::new(m.iter().map(|(k, t)| (k.as_str(), t, Presence::Optional)))
            }
        }
    }

    fn settable(self) -> impl Iterator<Item = &'s str> {
        self.iter()
            .filter(|(_, _, p)| *p != Presence::Computed)
            .map(|(k, _, _)| k)
    }
}

/// Evaluates a resource body against its schema into an object value holding
/// every attribute of the schema: the configured ones converted to their
/// type, the others null. Reports unknown attributes (with the known names),
/// missing required ones, and type mismatches, all located.
pub fn eval_body(
    body: &Body,
    schema: &ResourceSchema,
    scope: &dyn Scope,
) -> Result<Value, Diagnostics> {
    let mut diags = Diagnostics::new();
    let v = body_value(body, Fields::Schema(&schema.attributes), scope, &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(v)
    }
}

fn body_value(
    body: &Body,
    fields: Fields<'_>,
    scope: &dyn Scope,
    diags: &mut Diagnostics,
) -> Value {
    let mut out = BTreeMap::new();
    for attr in &body.attributes {
        let name = attr.name.as_str();
        let Some((ty, presence, sensitive)) = fields.get(name) else {
            diags.push(unknown_name(&attr.loc, "attribute", name, fields));
            continue;
        };
        if presence == Presence::Computed {
            diags.push(
                attr.loc
                    .error(format!(
                        "attribute \"{name}\" is computed by the provider and cannot be set"
                    ))
                    .with_detail("remove it; its value is known after apply"),
            );
            continue;
        }
        match eval(&attr.expr, scope) {
            Err(d) => diags.extend(d),
            Ok(v) => match convert(v, ty) {
                Ok(v) => {
                    let v = if sensitive && !v.is_null() {
                        v.sensitive()
                    } else {
                        v
                    };
                    out.insert(name.to_string(), v);
                }
                Err(e) => diags.push(attr.expr.loc.error(format!("attribute \"{name}\": {e}"))),
            },
        }
    }
    for (i, block) in body.blocks.iter().enumerate() {
        let ty = block.ty.as_str();
        // Blocks of one type are handled together, where the first appears.
        if body.blocks[..i].iter().any(|b| b.ty == ty) {
            continue;
        }
        let group: Vec<&crate::Block> = body.blocks[i..].iter().filter(|b| b.ty == ty).collect();
        let first = group[0];
        let Some((attr_ty, presence, sensitive)) = fields.get(ty) else {
            diags.push(unknown_name(&first.loc, "block type", ty, fields));
            continue;
        };
        if presence == Presence::Computed {
            diags.push(first.loc.error(format!(
                "\"{ty}\" is computed by the provider and cannot be set"
            )));
            continue;
        }
        if let Some(attr) = body.attributes.iter().find(|a| a.name == ty) {
            diags.push(first.loc.error(format!(
                "\"{ty}\" is set both as an attribute (at {}) and as a block",
                attr.loc.span()
            )));
            continue;
        }
        for b in &group {
            if !b.labels.is_empty() {
                diags.push(b.loc.error(format!("a \"{ty}\" block takes no labels")));
            }
        }
        let value = match attr_ty {
            Type::Object(obj) => {
                if let Some(second) = group.get(1) {
                    diags.push(second.loc.error(format!(
                        "at most one \"{ty}\" block is allowed; the first is at {}",
                        first.loc.span()
                    )));
                }
                body_value(&first.body, Fields::Object(obj), scope, diags)
            }
            Type::List(elem) | Type::Set(elem) if matches!(**elem, Type::Object(_)) => {
                let Type::Object(obj) = &**elem else {
                    unreachable!("checked above")
                };
                let items: Vec<Value> = group
                    .iter()
                    .map(|b| body_value(&b.body, Fields::Object(obj), scope, diags))
                    .collect();
                if matches!(attr_ty, Type::Set(_)) {
                    Value::List(make_set(items))
                } else {
                    Value::List(items)
                }
            }
            other => {
                diags.push(
                    first
                        .loc
                        .error(format!(
                            "\"{ty}\" is an attribute of type {other}, not a block"
                        ))
                        .with_detail(format!("set it with an equals sign: {ty} = ...")),
                );
                continue;
            }
        };
        out.insert(
            ty.to_string(),
            if sensitive { value.sensitive() } else { value },
        );
    }
    for (name, _, presence) in fields.iter() {
        if out.contains_key(name) {
            continue;
        }
        if presence == Presence::Required
            && !body.attributes.iter().any(|a| a.name == name)
            && !body.blocks.iter().any(|b| b.ty == name)
        {
            let loc = body
                .loc
                .as_ref()
                .or(body.attributes.first().map(|a| &a.loc));
            let mut d = Diagnostic::error(format!("missing required attribute \"{name}\""));
            if let Some(loc) = loc {
                d = d.with_span(loc.span());
            }
            diags.push(d);
        }
        out.insert(name.to_string(), Value::Null);
    }
    Value::Map(out)
}

fn unknown_name(loc: &Loc, what: &str, name: &str, fields: Fields<'_>) -> Diagnostic {
    let hint = suggest::hint(name, fields.settable());
    let names: Vec<&str> = fields.settable().collect();
    let d = loc.error(format!("unknown {what} \"{name}\"{hint}"));
    if names.is_empty() {
        d.with_detail("nothing can be set here")
    } else {
        d.with_detail(format!(
            "the valid names are {}",
            list_names(names.into_iter())
        ))
    }
}
