//! Ephemeral values (Terraform 1.10, `variable { ephemeral = true }`): a
//! value that is never written to a plan or the state. So it may flow only
//! where nothing is stored: a write-only argument
//! ([`AttributeSchema::write_only`](kiln_model::AttributeSchema)), a provider
//! block, a local value (which becomes ephemeral), an ephemeral output of a
//! child module, or an ephemeral variable of a child module. Anything else
//! — a stored argument, `count`, `for_each`, a plain output — is an error at
//! the reference, before anything is planned.
//!
//! The check follows references, not values: a local value is ephemeral when
//! its expression refers to an ephemeral variable or local.

use std::collections::BTreeSet;

use kiln_config::{Config, Expr, Reference, Subject};
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{ResourceMode, Schemas};

/// Reports every use of an ephemeral value where it would be stored, in
/// `config` and the modules it calls.
pub(crate) fn check(config: &Config, schemas: &Schemas, diags: &mut Diagnostics) {
    check_module(config, schemas, true, diags);
}

const WHERE: &str = "an ephemeral value is never stored; use it in a write-only argument (such as env_wo), a provider block, a local value, or an ephemeral output or variable of a child module";

fn check_module(config: &Config, schemas: &Schemas, root: bool, diags: &mut Diagnostics) {
    let mut ephemeral: BTreeSet<Subject> = config
        .variables
        .iter()
        .filter(|v| v.ephemeral)
        .map(|v| Subject::Variable(v.name.clone()))
        .collect();
    // Locals built from ephemeral values are ephemeral, transitively.
    loop {
        let before = ephemeral.len();
        for l in &config.locals {
            let subject = Subject::Local(l.name.clone());
            if !ephemeral.contains(&subject) && first(&l.expr, &ephemeral).is_some() {
                ephemeral.insert(subject);
            }
        }
        if ephemeral.len() == before {
            break;
        }
    }
    if ephemeral.is_empty() && config.modules.iter().all(|m| m.config.is_none()) {
        return;
    }
    let used_in = |r: &Reference, what: &str| -> Diagnostic {
        r.loc
            .error(format!(
                "{} is ephemeral and cannot be used in {what}",
                name(&r.subject)
            ))
            .with_detail(WHERE)
    };
    for res in &config.resources {
        let schema = match res.addr.mode {
            ResourceMode::Managed => schemas.resource(&res.addr.ty),
            ResourceMode::Data => schemas.data_source(&res.addr.ty),
        }
        .map(|(_, s)| s);
        let addr = res.addr.to_string();
        for a in &res.body.attributes {
            let write_only = schema
                .and_then(|s| s.attributes.get(&a.name))
                .is_some_and(|s| s.write_only);
            if !write_only && let Some(r) = first(&a.expr, &ephemeral) {
                diags.push(used_in(
                    &r,
                    &format!("argument \"{}\" of {addr}, which is stored", a.name),
                ));
            }
        }
        let mut blocks: Vec<&kiln_config::Block> = res.body.blocks.iter().collect();
        while let Some(b) = blocks.pop() {
            for a in &b.body.attributes {
                if let Some(r) = first(&a.expr, &ephemeral) {
                    diags.push(used_in(
                        &r,
                        &format!("{}.{} of {addr}, which is stored", b.ty, a.name),
                    ));
                }
            }
            blocks.extend(b.body.blocks.iter());
        }
        for (meta, e) in [("count", &res.count), ("for_each", &res.for_each)] {
            if let Some(r) = e.as_ref().and_then(|e| first(e, &ephemeral)) {
                diags.push(used_in(
                    &r,
                    &format!("the {meta} of {addr}: instance keys are stored"),
                ));
            }
        }
    }
    for o in &config.outputs {
        if o.ephemeral && root {
            diags.push(
                o.loc
                    .error(format!(
                        "output \"{}\" cannot be ephemeral: the root module's outputs are stored in the state",
                        o.name
                    ))
                    .with_detail("only a child module's outputs may be ephemeral; remove ephemeral = true"),
            );
        } else if !o.ephemeral
            && let Some(r) = first(&o.expr, &ephemeral)
        {
            let hint = if root {
                "a root module's outputs are stored in the state".to_string()
            } else {
                format!("mark output \"{}\" ephemeral = true", o.name)
            };
            diags.push(
                used_in(&r, &format!("output \"{}\"", o.name))
                    .with_detail(format!("{WHERE}; {hint}")),
            );
        }
    }
    for call in &config.modules {
        let Some(child) = &call.config else { continue };
        for input in &call.inputs {
            let Some(r) = first(&input.expr, &ephemeral) else {
                continue;
            };
            let takes = child
                .variables
                .iter()
                .any(|v| v.name == input.name && v.ephemeral);
            if !takes {
                diags.push(
                    used_in(
                        &r,
                        &format!(
                            "input \"{}\" of module \"{}\", whose variable is not ephemeral",
                            input.name, call.name
                        ),
                    )
                    .with_detail(format!(
                        "{WHERE}; declare variable \"{}\" with ephemeral = true in the module",
                        input.name
                    )),
                );
            }
        }
        check_module(child, schemas, false, diags);
    }
}

/// The first reference of `e` to an ephemeral value.
fn first(e: &Expr, ephemeral: &BTreeSet<Subject>) -> Option<Reference> {
    if ephemeral.is_empty() {
        return None;
    }
    e.references()
        .into_iter()
        .find(|r| ephemeral.contains(&r.subject))
}

fn name(s: &Subject) -> String {
    match s {
        Subject::Variable(n) => format!("var.{n}"),
        Subject::Local(n) => format!("local.{n}"),
        other => format!("{other:?}"),
    }
}
