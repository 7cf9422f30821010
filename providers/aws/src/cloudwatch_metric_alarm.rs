//! `aws_cloudwatch_metric_alarm`: an alarm on a metric, the usual trigger
//! of a scaling policy. PutMetricAlarm writes an alarm whole, so
//! everything but `alarm_name` is run-time configuration changed in place
//! (an alarm whose dimension names a group follows the group's new
//! generation without being replaced). `alarm_name` follows the
//! physical-name rule: PutMetricAlarm on a live alarm's name would take it
//! over, so a replacement (a `--rebuild`) while the live one holds the name
//! gets a derived one. Writing the same alarm again is harmless, so a
//! retried create needs no look-up.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use kiln_model::{Type, Value};
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, api, chunks};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, bool_t, map_t, num_t, str_t, strs_t, tags as tags_attr};
use crate::values::{boolean, number, refreshed, s, state, string, string_map, strings, tags};

/// CloudWatch's limit of alarm names.
const NAME_MAX: usize = 255;
/// Alarm names per DescribeAlarms call.
const BATCH: usize = 100;

const OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

fn float(v: &Value, attr: &str) -> Option<f64> {
    match v.get(attr).map(Value::unmarked) {
        Some(Value::Number(n)) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn cw_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// PutMetricAlarm with the whole configuration under `name`.
async fn put(ctx: &Ctx<'_>, name: &str, config: &Value, with_tags: bool) -> Result<(), Error> {
    let dimensions: Vec<Dimension> = config
        .get("dimensions")
        .map(string_map)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
    let list = |attr: &str| Some(strings(config, attr)).filter(|l| !l.is_empty());
    let mut req = ctx
        .c
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .set_alarm_description(string(config, "alarm_description"))
        .set_comparison_operator(
            string(config, "comparison_operator").map(|o| ComparisonOperator::from(o.as_str())),
        )
        .set_evaluation_periods(number(config, "evaluation_periods").map(|n| n as i32))
        .set_datapoints_to_alarm(number(config, "datapoints_to_alarm").map(|n| n as i32))
        .set_metric_name(string(config, "metric_name"))
        .set_namespace(string(config, "namespace"))
        .set_period(number(config, "period").map(|n| n as i32))
        .set_statistic(string(config, "statistic").map(|s| Statistic::from(s.as_str())))
        .set_extended_statistic(string(config, "extended_statistic"))
        .set_threshold(float(config, "threshold"))
        .set_threshold_metric_id(string(config, "threshold_metric_id"))
        .set_actions_enabled(boolean(config, "actions_enabled"))
        .set_alarm_actions(list("alarm_actions"))
        .set_ok_actions(list("ok_actions"))
        .set_insufficient_data_actions(list("insufficient_data_actions"))
        .set_dimensions((!dimensions.is_empty()).then_some(dimensions))
        .set_unit(string(config, "unit").map(|u| u.as_str().into()))
        .set_treat_missing_data(string(config, "treat_missing_data"))
        .set_evaluate_low_sample_count_percentile(string(
            config,
            "evaluate_low_sample_count_percentiles",
        ));
    if with_tags {
        req = req.set_tags(Some(cw_tags(&ctx.tags(&tags(config)))));
    }
    req.send().await.map(|_| ()).map_err(api("PutMetricAlarm"))
}

async fn describe(
    c: &Clients,
    names: Vec<String>,
) -> Result<Vec<aws_sdk_cloudwatch::types::MetricAlarm>, Error> {
    let out = c
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names))
        .send()
        .await
        .map_err(api("DescribeAlarms"))?;
    Ok(out.metric_alarms().to_vec())
}

/// `aws_cloudwatch_metric_alarm`.
pub struct MetricAlarm;

#[async_trait]
impl Resource for MetricAlarm {
    fn name(&self) -> &'static str {
        "aws_cloudwatch_metric_alarm"
    }

    fn schema(&self) -> ResourceSchema {
        let rt = |t: Type| A::optional(t).runtime();
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("alarm_name", A::required(str_t()))
            .attr("comparison_operator", A::required(str_t()).runtime())
            .attr("evaluation_periods", A::required(num_t()).runtime())
            .attr("alarm_description", rt(str_t()))
            .attr("metric_name", rt(str_t()))
            .attr("namespace", rt(str_t()))
            .attr("period", rt(num_t()))
            .attr("statistic", rt(str_t()))
            .attr("extended_statistic", rt(str_t()))
            .attr("threshold", rt(num_t()))
            .attr("threshold_metric_id", rt(str_t()))
            .attr("datapoints_to_alarm", rt(num_t()))
            .attr("actions_enabled", rt(bool_t()))
            .attr("alarm_actions", rt(strs_t()))
            .attr("ok_actions", rt(strs_t()))
            .attr("insufficient_data_actions", rt(strs_t()))
            .attr("dimensions", rt(map_t()))
            .attr("unit", rt(str_t()))
            .attr(
                "treat_missing_data",
                rt(str_t()).describe("\"missing\", \"ignore\", \"breaching\" or \"notBreaching\""),
            )
            .attr("evaluate_low_sample_count_percentiles", rt(str_t()))
            .attr("tags", tags_attr())
            .physical_name("alarm_name", NAME_MAX)
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(op) = string(config, "comparison_operator")
            && !OPERATORS.contains(&op.as_str())
        {
            out.push(format!(
                "comparison_operator {op:?} is not one of {}",
                OPERATORS.join(", ")
            ));
        }
        if string(config, "statistic").is_some() && string(config, "extended_statistic").is_some() {
            out.push("statistic and extended_statistic conflict: set one of them".into());
        }
        if let Some(t) = string(config, "treat_missing_data")
            && !["missing", "ignore", "breaching", "notBreaching"].contains(&t.as_str())
        {
            out.push(format!(
                "treat_missing_data {t:?} must be \"missing\", \"ignore\", \"breaching\" or \"notBreaching\""
            ));
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        let name = ctx.name_from(config, "alarm_name", NAME_MAX);
        put(ctx, &name, config, true).await?;
        let arn = describe(ctx.c, vec![name.clone()])
            .await?
            .first()
            .and_then(|a| a.alarm_arn().map(str::to_string));
        let computed = [
            ("id", s(&name)),
            ("alarm_name", s(&name)),
            ("arn", arn.map_or(Value::Null, s)),
        ];
        Ok((name, state(config, computed)))
    }

    /// One DescribeAlarms per 100 names.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        let names: Vec<String> = items.iter().map(|(id, _)| id.to_string()).collect();
        let mut found = BTreeMap::new();
        for chunk in chunks(&names, BATCH) {
            for a in describe(c, chunk.to_vec()).await? {
                found.insert(
                    a.alarm_name().unwrap_or_default().to_string(),
                    a.alarm_arn().unwrap_or_default().to_string(),
                );
            }
        }
        Ok(observed(
            items
                .iter()
                .map(|(id, prior)| Some(refreshed(prior, [("arn", s(found.get(*id)?))])))
                .collect(),
        ))
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        put(ctx, &req.id, &req.planned, false).await?;
        let Some(change) = ctx.tag_change(req) else {
            return Ok(());
        };
        let arn = string(&req.prior, "arn").unwrap_or_default();
        if !change.removed.is_empty() {
            ctx.c
                .cloudwatch
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(change.removed))
                .send()
                .await
                .map_err(api("UntagResource"))?;
        }
        if !change.set.is_empty() {
            ctx.c
                .cloudwatch
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(cw_tags(&change.set)))
                .send()
                .await
                .map_err(api("TagResource"))?;
        }
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        match ctx
            .c
            .cloudwatch
            .delete_alarms()
            .alarm_names(id)
            .send()
            .await
            .map_err(api("DeleteAlarms"))
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find(&self, _c: &Clients, _key: &str) -> Result<Option<(String, Value)>, Error> {
        Ok(None)
    }
}
