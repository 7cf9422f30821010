//! `aws_acm_certificate` and `aws_acm_certificate_validation`.
//!
//! A certificate is requested from ACM (`domain_name`, with DNS or email
//! validation) or imported (`private_key`, `certificate_body`,
//! `certificate_chain`). Everything but the tags replaces: a new
//! certificate is issued beside the old one, the listeners move to it in
//! place, then the old one is deleted (retried while a listener still
//! uses it). The request takes the idempotency key as its token, so a
//! retried request returns the first one's certificate. A requested
//! certificate's DNS validation records (`domain_validation_options`) are
//! awaited, since the records that prove ownership are made from them.
//!
//! `aws_acm_certificate_validation` waits until the certificate is issued
//! (ISSUED); it makes and deletes nothing.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, POLL, SETTLE_TIMEOUT, api, retry_while_in_use, wait_for};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, obj, opt_computed, str_t, strs_t, tags as tags_attr};
use crate::values::{opt_s, refreshed, s, state, string, strings, tags};

/// How long a certificate may take to be issued (Terraform's default
/// create timeout for the validation resource is 75 minutes).
const ISSUE_TIMEOUT: Duration = Duration::from_secs(75 * 60);

fn acm_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// ACM's idempotency token: up to 32 word characters.
fn token(key: &str) -> Option<String> {
    let t: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    (!t.is_empty()).then_some(t)
}

async fn describe(
    c: &Clients,
    arn: &str,
) -> Result<Option<aws_sdk_acm::types::CertificateDetail>, Error> {
    match c
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(api("DescribeCertificate"))
    {
        Ok(out) => Ok(out.certificate().cloned()),
        Err(e) if e.is_not_found() || e.code() == "ResourceNotFoundException" => Ok(None),
        Err(e) => Err(e),
    }
}

fn cert_computed(d: &aws_sdk_acm::types::CertificateDetail) -> Vec<(&'static str, Value)> {
    let arn = d.certificate_arn().unwrap_or_default();
    // In the order the names were asked for (the domain name, then the
    // alternative names), the order the plan predicts them in.
    let names: Vec<&str> = d
        .domain_name()
        .into_iter()
        .chain(d.subject_alternative_names().iter().map(String::as_str))
        .collect();
    let mut dvos: Vec<_> = d.domain_validation_options().iter().collect();
    dvos.sort_by_key(|o| {
        names
            .iter()
            .position(|n| *n == o.domain_name())
            .unwrap_or(usize::MAX)
    });
    let options: Vec<Value> = dvos
        .into_iter()
        .filter_map(|o| {
            let r = o.resource_record()?;
            Some(Value::map([
                ("domain_name", s(o.domain_name())),
                ("resource_record_name", s(r.name())),
                ("resource_record_type", s(r.r#type().as_str())),
                ("resource_record_value", s(r.value())),
            ]))
        })
        .collect();
    vec![
        ("id", s(arn)),
        ("arn", s(arn)),
        ("status", opt_s(d.status().map(|s| s.as_str()))),
        ("type", opt_s(d.r#type().map(|t| t.as_str()))),
        ("domain_validation_options", Value::List(options.into())),
        (
            "not_after",
            d.not_after().map_or(Value::Null, |t| s(t.to_string())),
        ),
        (
            "not_before",
            d.not_before().map_or(Value::Null, |t| s(t.to_string())),
        ),
    ]
}

fn imported(config: &Value) -> bool {
    config.get("certificate_body").is_some_and(|v| !v.is_null())
}

async fn create_cert(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let tags = acm_tags(&ctx.tags(&tags(config)));
    let arn = if imported(config) {
        ctx.c
            .acm
            .import_certificate()
            .certificate(aws_sdk_acm::primitives::Blob::new(
                string(config, "certificate_body").unwrap_or_default(),
            ))
            .private_key(aws_sdk_acm::primitives::Blob::new(
                string(config, "private_key").unwrap_or_default(),
            ))
            .set_certificate_chain(
                string(config, "certificate_chain").map(aws_sdk_acm::primitives::Blob::new),
            )
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(api("ImportCertificate"))?
            .certificate_arn()
            .map(str::to_string)
    } else {
        let sans = strings(config, "subject_alternative_names");
        ctx.c
            .acm
            .request_certificate()
            .set_domain_name(string(config, "domain_name"))
            .set_subject_alternative_names((!sans.is_empty()).then_some(sans))
            .validation_method(ValidationMethod::from(
                string(config, "validation_method")
                    .unwrap_or_else(|| "DNS".into())
                    .as_str(),
            ))
            .set_key_algorithm(string(config, "key_algorithm").map(|k| k.as_str().into()))
            .set_idempotency_token(token(ctx.key))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(api("RequestCertificate"))?
            .certificate_arn()
            .map(str::to_string)
    };
    let arn = arn.ok_or_else(|| Error::new("ACM returned no certificate ARN"))?;
    let partial = state(config, [("id", s(&arn)), ("arn", s(&arn))]);
    let dns = !imported(config) && string(config, "validation_method").is_none_or(|m| m == "DNS");
    // The DNS validation records appear a few seconds after the request.
    let detail = wait_for(
        &format!("certificate {arn} to have its validation records"),
        SETTLE_TIMEOUT,
        POLL,
        || async {
            let Some(d) = describe(ctx.c, &arn).await? else {
                return Ok(None);
            };
            let ready = !dns
                || (!d.domain_validation_options().is_empty()
                    && d.domain_validation_options()
                        .iter()
                        .all(|o| o.resource_record().is_some()));
            Ok(ready.then_some(d))
        },
    )
    .await
    .map_err(|e| e.after_creating(&arn, partial.clone()))?;
    Ok((arn, state(config, cert_computed(&detail))))
}

/// `aws_acm_certificate`.
pub struct AcmCertificate;

#[async_trait]
impl Resource for AcmCertificate {
    fn name(&self) -> &'static str {
        "aws_acm_certificate"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("domain_name", opt_computed(str_t()))
            .attr("subject_alternative_names", opt_computed(strs_t()))
            .attr(
                "validation_method",
                A::optional(str_t()).describe("\"DNS\" (default) or \"EMAIL\""),
            )
            .attr("key_algorithm", A::optional(str_t()))
            .attr("private_key", A::optional(str_t()).sensitive())
            .attr("certificate_body", A::optional(str_t()))
            .attr("certificate_chain", A::optional(str_t()))
            .attr("status", A::computed(str_t()))
            .attr("type", A::computed(str_t()))
            .attr("not_after", A::computed(str_t()))
            .attr("not_before", A::computed(str_t()))
            .attr(
                "domain_validation_options",
                A::computed(Type::List(Box::new(obj(&[
                    ("domain_name", str_t()),
                    ("resource_record_name", str_t()),
                    ("resource_record_type", str_t()),
                    ("resource_record_value", str_t()),
                ]))))
                // One per name, known at plan time as in Terraform, so that
                // `for_each = { for dvo in ... : dvo.domain_name => ... }`
                // plans before the certificate exists.
                .planned(kiln_model::schema::PlannedValue::EachOf {
                    from: vec!["domain_name".into(), "subject_alternative_names".into()],
                    key: "domain_name".into(),
                }),
            )
            .attr("tags", tags_attr())
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        let requested = config.get("domain_name").is_some_and(|v| !v.is_null());
        let imported = imported(config);
        if requested == imported && config.is_known() {
            out.push(
                "set domain_name (a certificate ACM issues) or certificate_body and private_key (one you import)"
                    .into(),
            );
        }
        if imported && config.get("private_key").is_some_and(Value::is_null) {
            out.push("an imported certificate needs its private_key".into());
        }
        if let Some(m) = string(config, "validation_method")
            && m != "DNS"
            && m != "EMAIL"
        {
            out.push(format!(
                "validation_method {m:?} must be \"DNS\" or \"EMAIL\""
            ));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_cert(ctx, config).await
    }

    /// One DescribeCertificate each (ACM has no batched describe).
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for (id, prior) in items {
            out.push(
                describe(c, id)
                    .await?
                    .map(|d| refreshed(prior, cert_computed(&d))),
            );
        }
        Ok(observed(out))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let Some(change) = ctx.tag_change(req) else {
            return Ok(());
        };
        let gone: Vec<Tag> = change
            .removed
            .iter()
            .filter_map(|k| Tag::builder().key(k).build().ok())
            .collect();
        if !gone.is_empty() {
            ctx.c
                .acm
                .remove_tags_from_certificate()
                .certificate_arn(&req.id)
                .set_tags(Some(gone))
                .send()
                .await
                .map_err(api("RemoveTagsFromCertificate"))?;
        }
        if !change.set.is_empty() {
            ctx.c
                .acm
                .add_tags_to_certificate()
                .certificate_arn(&req.id)
                .set_tags(Some(acm_tags(&change.set)))
                .send()
                .await
                .map_err(api("AddTagsToCertificate"))?;
        }
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        retry_while_in_use(&format!("certificate {id}"), SETTLE_TIMEOUT, || async {
            match ctx
                .c
                .acm
                .delete_certificate()
                .certificate_arn(id)
                .send()
                .await
                .map_err(api("DeleteCertificate"))
            {
                Err(e) if e.code() == "ResourceNotFoundException" => Ok(()),
                other => other.map(|_| ()),
            }
        })
        .await
    }

    /// The certificate tagged with the key (ACM lists certificates, then
    /// each one's tags).
    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let mut pages = c.acm.list_certificates().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(api("ListCertificates"))?;
            for summary in page.certificate_summary_list() {
                let Some(arn) = summary.certificate_arn() else {
                    continue;
                };
                let tags = c
                    .acm
                    .list_tags_for_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .map_err(api("ListTagsForCertificate"))?;
                let ours = tags
                    .tags()
                    .iter()
                    .any(|t| t.key() == crate::api::TAG_KEY && t.value() == Some(key));
                if ours && let Some(d) = describe(c, arn).await? {
                    let mut fields = cert_computed(&d);
                    fields.push(("domain_name", opt_s(d.domain_name())));
                    return Ok(Some((
                        arn.to_string(),
                        crate::shape::adopted(&self.schema(), fields),
                    )));
                }
            }
        }
        Ok(None)
    }
}

/// `aws_acm_certificate_validation`.
pub struct AcmCertificateValidation;

#[async_trait]
impl Resource for AcmCertificateValidation {
    fn name(&self) -> &'static str {
        "aws_acm_certificate_validation"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("certificate_arn", A::required(str_t()))
            .attr(
                "validation_record_fqdns",
                A::optional(strs_t()).describe(
                    "the DNS records made for validation (waited on through the certificate)",
                ),
            )
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let arn = string(config, "certificate_arn").unwrap_or_default();
        wait_for(
            &format!("certificate {arn} to be issued"),
            ISSUE_TIMEOUT,
            POLL,
            || async {
                match describe(ctx.c, &arn).await? {
                    None => Err(Error::new(format!("certificate {arn} does not exist"))),
                    Some(d) => match d.status() {
                        Some(CertificateStatus::Issued) => Ok(Some(())),
                        Some(
                            bad @ (CertificateStatus::Failed
                            | CertificateStatus::ValidationTimedOut
                            | CertificateStatus::Revoked
                            | CertificateStatus::Expired),
                        ) => Err(Error::new(format!(
                            "certificate {arn} is {}: {}",
                            bad.as_str(),
                            d.failure_reason().map_or("no reason given", |r| r.as_str())
                        ))),
                        _ => Ok(None),
                    },
                }
            },
        )
        .await?;
        Ok((arn.clone(), state(config, [("id", s(&arn))])))
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for (id, prior) in items {
            let issued = describe(c, id)
                .await?
                .is_some_and(|d| d.status() == Some(&CertificateStatus::Issued));
            out.push(issued.then(|| (*prior).clone()));
        }
        Ok(observed(out))
    }

    async fn update(&self, _ctx: &Ctx<'_>, _req: &UpdateRequest) -> Result<(), Error> {
        Ok(())
    }

    /// A validation is a wait: nothing to delete.
    async fn delete(&self, _ctx: &Ctx<'_>, _id: &str, _state: &Value) -> Result<(), Error> {
        Ok(())
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
