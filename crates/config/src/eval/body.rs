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
    let fields = Fields::Schema(&schema.attributes);
    let v = body_value(body, fields, scope, &[], &mut diags);
    if diags.has_errors() {
        // A mistake inside a dynamic block's content is found once per
        // block it makes: reported once.
        let mut seen: Vec<Diagnostic> = Vec::new();
        for d in diags {
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
        Err(seen.into_iter().collect())
    } else {
        Ok(v)
    }
}

/// One block a body's blocks of a type produce: a written block, or one
/// element of a `dynamic` block's `for_each` (its content, with the
/// iterator bound).
struct Made<'b> {
    body: &'b Body,
    loc: &'b Loc,
    bindings: Vec<(&'b str, Value)>,
}

/// The blocks a body's blocks of one type make, in source order; `None`
/// when a dynamic block's `for_each` is not known yet (the attribute is
/// then unknown). Marked sensitive if a `for_each` was.
fn expand_blocks<'b>(
    group: &[&'b crate::Block],
    scope: &'b dyn Scope,
    bindings: &[(&'b str, Value)],
    diags: &mut Diagnostics,
) -> Option<(Vec<Made<'b>>, bool)> {
    let mut made = Vec::new();
    let (mut unknown, mut sensitive) = (false, false);
    for b in group {
        let Some(iterator) = dynamic_iterator(b) else {
            if !b.labels.is_empty() {
                diags.push(b.loc.error(format!("a \"{}\" block takes no labels", b.ty)));
            }
            made.push(Made {
                body: &b.body,
                loc: &b.loc,
                bindings: bindings.to_vec(),
            });
            continue;
        };
        let Some(dynamic) = check_dynamic(b, diags) else {
            continue;
        };
        let each = match eval_bound(dynamic.for_each, scope, bindings) {
            Ok(v) => v,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        if let Some(labels) = dynamic.labels {
            match eval_bound(labels, scope, bindings) {
                Ok(Value::List(l)) if l.is_empty() => {}
                Ok(Value::Null) => {}
                Ok(_) => diags.push(
                    labels
                        .loc
                        .error(format!("a \"{}\" block takes no labels", b.sets())),
                ),
                Err(d) => diags.extend(d),
            }
        }
        let (each, marked) = unmark(each);
        sensitive |= marked;
        let elements: Vec<(Value, Value)> = match each {
            Value::Unknown => {
                unknown = true;
                continue;
            }
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(Number::from_i64(i as i64)), v))
                .collect(),
            Value::Null => {
                diags.push(
                    dynamic.for_each.loc.error(
                        "invalid dynamic for_each value: cannot use a null value in for_each",
                    ),
                );
                continue;
            }
            other => {
                diags.push(dynamic.for_each.loc.error(format!(
                    "invalid dynamic for_each value: cannot use a {} value in for_each; an iterable collection is required",
                    other.type_name()
                )));
                continue;
            }
        };
        for (key, value) in elements {
            let mut inner = bindings.to_vec();
            let item: BTreeMap<String, Value> =
                [("key".to_string(), key), ("value".to_string(), value)].into();
            inner.push((iterator, Value::Map(item.into())));
            made.push(Made {
                body: &dynamic.content.body,
                loc: &dynamic.content.loc,
                bindings: inner,
            });
        }
    }
    (!unknown).then_some((made, sensitive))
}

/// The parts of a `dynamic` block.
struct Dynamic<'b> {
    for_each: &'b Expr,
    labels: Option<&'b Expr>,
    content: &'b crate::Block,
}

/// Checks a `dynamic "NAME"` block's shape (Terraform's: one label,
/// `for_each` required, `iterator` a bare name, `labels` optional, exactly
/// one `content` block, nothing else).
fn check_dynamic<'b>(b: &'b crate::Block, diags: &mut Diagnostics) -> Option<Dynamic<'b>> {
    let before = diags.len();
    if b.labels.len() != 1 {
        diags.push(b.loc.error(
            "a dynamic block takes one label: the type of the blocks it makes, like dynamic \"ingress\"",
        ));
    }
    let mut for_each = None;
    let mut labels = None;
    for a in &b.body.attributes {
        match a.name.as_str() {
            "for_each" => for_each = Some(&a.expr),
            "labels" => labels = Some(&a.expr),
            "iterator" => {
                if !matches!(a.expr.inner, Expression::Variable(_)) {
                    diags.push(a.expr.loc.error(
                        "a dynamic block's iterator must be a bare name, like iterator = rule",
                    ));
                }
            }
            other => diags.push(a.loc.error(format!(
                "unknown attribute \"{other}\" in a dynamic block; it takes for_each, iterator, labels and a content block"
            ))),
        }
    }
    let contents: Vec<&crate::Block> = b.body.blocks.iter().filter(|c| c.ty == "content").collect();
    for other in b.body.blocks.iter().filter(|c| c.ty != "content") {
        diags.push(other.loc.error(format!(
            "unexpected \"{}\" block in a dynamic block; the blocks it makes are written in its content block",
            other.ty
        )));
    }
    if contents.len() > 1 {
        diags.push(
            contents[1]
                .loc
                .error("a dynamic block takes one content block"),
        );
    }
    let Some(for_each) = for_each else {
        diags.push(b.loc.error(
            "a dynamic block needs for_each: the collection to make a block for each element of",
        ));
        return None;
    };
    let Some(content) = contents.first().copied() else {
        diags.push(
            b.loc
                .error("a dynamic block needs a content block: the body of each block it makes"),
        );
        return None;
    };
    (diags.len() == before).then_some(Dynamic {
        for_each,
        labels,
        content,
    })
}

fn body_value<'b>(
    body: &'b Body,
    fields: Fields<'_>,
    scope: &'b dyn Scope,
    bindings: &[(&'b str, Value)],
    diags: &mut Diagnostics,
) -> Value {
    let mut out = kiln_model::FieldMap::new();
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
        match eval_bound(&attr.expr, scope, bindings) {
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
        let ty = block.sets();
        // Blocks of one type (written or dynamic) are handled together,
        // where the first appears.
        if body.blocks[..i].iter().any(|b| b.sets() == ty) {
            continue;
        }
        let group: Vec<&crate::Block> = body.blocks_setting(ty).collect();
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
        let value = match expand_blocks(&group, scope, bindings, diags) {
            None => Value::Unknown,
            Some((made, from_sensitive)) => {
                let Some(v) = blocks_value(ty, attr_ty, &made, first, scope, diags) else {
                    continue;
                };
                if from_sensitive { v.sensitive() } else { v }
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
            && body.blocks_setting(name).next().is_none()
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
    Value::Map(out.into())
}

/// The value of the attribute `ty` (of type `attr_ty`) that `made` blocks
/// set; `None` after an error.
fn blocks_value(
    ty: &str,
    attr_ty: &Type,
    made: &[Made<'_>],
    first: &crate::Block,
    scope: &dyn Scope,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let value = |m: &Made<'_>, obj, diags: &mut Diagnostics| {
        body_value(m.body, Fields::Object(obj), scope, &m.bindings, diags)
    };
    match attr_ty {
        Type::Object(obj) => {
            if let Some(second) = made.get(1) {
                diags.push(second.loc.error(format!(
                    "at most one \"{ty}\" block is allowed; the first is at {}",
                    made[0].loc.span()
                )));
            }
            Some(made.first().map_or(Value::Null, |m| value(m, obj, diags)))
        }
        Type::List(elem) | Type::Set(elem) if matches!(**elem, Type::Object(_)) => {
            let Type::Object(obj) = &**elem else {
                unreachable!("checked above")
            };
            let items: Vec<Value> = made.iter().map(|m| value(m, obj, diags)).collect();
            Some(if matches!(attr_ty, Type::Set(_)) {
                Value::List(make_set(items).into())
            } else {
                Value::List(items.into())
            })
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
            None
        }
    }
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
