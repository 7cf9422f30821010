//! Progressive cut-over: one step of a traffic switch's shift to a new
//! generation (docs/cutover.md).
//!
//! A switch's update with a `cutover` block runs as one plan step taken
//! several times, once per stage: each stage asks the provider for the
//! switch's attributes at the stage's weight ([`ShiftRequest`]), sets them
//! with an update (journaled as its own intent and result, so a crash leaves
//! the state knowing the weights), then holds while the checks are measured
//! on the switch's own counters ([`TrafficRequest`]) and the new
//! generation's health checks run. The last stage is the planned value. The
//! apply's coordinator requeues the step between stages; a failed check
//! fails the step, and the apply's rollback sets the switch back to what it
//! was before the first stage in one update.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_model::{Cutover, CutoverCheck, TrafficCounters, Value};
use kiln_provider::{HealthRequest, Provider, ShiftRequest, TrafficRequest, UpdateRequest};

use crate::CutoverProgress;
use crate::util::{changed_keys, errors};

/// A new-generation object's health check, with its provider.
pub(crate) type Health = (Arc<dyn Provider>, HealthRequest);

/// One stage of a shift, as the engine runs it.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    /// 0-based; `count` stages in all.
    pub index: usize,
    pub count: usize,
    /// Percent of requests for the new generation.
    pub weight: f64,
    pub hold: Duration,
    pub checks: Vec<CutoverCheck>,
    /// Unix milliseconds the shift's first stage began.
    pub since_ms: u64,
}

impl Stage {
    pub(crate) fn of(c: &Cutover, index: usize, since_ms: u64) -> Stage {
        let all = stages(c);
        let (weight, hold_ms) = all[index.min(all.len() - 1)];
        Stage {
            index,
            count: all.len(),
            weight,
            hold: Duration::from_millis(hold_ms),
            checks: c.checks.clone(),
            since_ms,
        }
    }

    pub(crate) fn progress(&self, checks: Option<String>) -> CutoverProgress {
        CutoverProgress {
            stage: self.index + 1,
            stages: self.count,
            weight: self.weight,
            hold: self.hold,
            checks,
        }
    }

    pub(crate) fn last(&self) -> bool {
        self.index + 1 >= self.count
    }

    /// "step 2 of 5 (25% for 2s)".
    pub(crate) fn describe(&self) -> String {
        format!(
            "step {} of {} ({}% for {})",
            self.index + 1,
            self.count,
            self.weight,
            hold_text(self.hold)
        )
    }
}

/// `1m30s`, `500ms`, `0s`.
fn hold_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) && ms < 60_000 {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{}s", ms as f64 / 1000.0)
        };
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s > 0 || out.is_empty() {
        let _ = write!(out, "{s}s");
    }
    out
}

/// The (weight, hold in ms) of every stage: the declared steps, then the
/// planned value (100%, no hold) unless the last step is already 100%.
pub(crate) fn stages(c: &Cutover) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = c
        .steps
        .iter()
        .map(|s| (s.weight.min(100.0), s.hold_ms))
        .collect();
    if out.last().is_none_or(|(w, _)| *w < 100.0) {
        out.push((100.0, 0));
    }
    out
}

/// How a stage ended.
#[derive(Debug, Clone)]
pub(crate) struct StageEnd {
    /// What the switch was set to; `None` if it was not changed (the
    /// shift or the update failed: `verdict` says why).
    pub state: Option<Value>,
    /// There was nothing to shift from: the switch went to 100% at once.
    pub straight: bool,
    /// The checks' last values (`Ok`), or why the stage failed.
    pub verdict: Result<String, String>,
    /// For the first stage: the switch with every request on the old
    /// generation, what a rollback sets it back to.
    pub origin: Option<Value>,
}

/// Runs one stage: shift, update, hold and check.
pub(crate) async fn run_stage(
    provider: Arc<dyn Provider>,
    req: UpdateRequest,
    stage: &Stage,
    health: &[Health],
) -> StageEnd {
    let failed = |msg: String| StageEnd {
        state: None,
        straight: false,
        verdict: Err(msg),
        origin: None,
    };
    let shift = provider
        .shift(ShiftRequest {
            type_name: req.type_name.clone(),
            prior: req.prior.clone(),
            planned: req.planned.clone(),
            weight: stage.weight,
        })
        .await;
    if let Some(e) = errors(&shift.diagnostics) {
        return failed(e);
    }
    let straight = shift.old.is_empty();
    let origin = if stage.index == 0 && !straight {
        let back = provider
            .shift(ShiftRequest {
                type_name: req.type_name.clone(),
                prior: req.prior.clone(),
                planned: req.planned.clone(),
                weight: 0.0,
            })
            .await;
        if let Some(e) = errors(&back.diagnostics) {
            return failed(e);
        }
        Some(back.state)
    } else {
        None
    };
    let target = if straight {
        req.planned.clone()
    } else {
        shift.state
    };
    let changed = changed_keys(&req.prior, &target);
    let state = if changed.is_empty() {
        req.prior.clone()
    } else {
        let resp = provider
            .update(UpdateRequest {
                planned: target,
                changed,
                ..req.clone()
            })
            .await;
        if let Some(e) = errors(&resp.diagnostics) {
            return failed(e);
        }
        resp.state
    };
    let end = |verdict| StageEnd {
        state: Some(state.clone()),
        straight,
        verdict,
        origin: origin.clone(),
    };
    if straight || stage.hold.is_zero() {
        return end(Ok(String::new()));
    }
    let sides = (&shift.old[..], &shift.new[..]);
    end(hold(&provider, &req, &state, stage, sides, health).await)
}

/// Holds a stage for its time, measuring its checks every interval; then
/// runs the new generation's health checks.
async fn hold(
    provider: &Arc<dyn Provider>,
    req: &UpdateRequest,
    state: &Value,
    stage: &Stage,
    (old, new): (&[String], &[String]),
    health: &[Health],
) -> Result<String, String> {
    let traffic = || async {
        let r = provider
            .traffic(TrafficRequest {
                type_name: req.type_name.clone(),
                id: req.id.clone(),
                state: state.clone(),
                since_ms: stage.since_ms,
            })
            .await;
        match errors(&r.diagnostics) {
            Some(e) => Err(format!("the checks cannot be measured: {e}")),
            None => Ok(r.backends),
        }
    };
    let deadline = Instant::now() + stage.hold;
    let tick = stage
        .checks
        .iter()
        .map(|c| Duration::from_millis(c.interval_ms.max(1)))
        .min()
        .unwrap_or(stage.hold);
    let baseline = match stage.checks.is_empty() {
        true => BTreeMap::new(),
        false => traffic().await?,
    };
    let mut failures = vec![0u32; stage.checks.len()];
    let mut summary = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(tick)).await;
        if !stage.checks.is_empty() {
            let now = traffic().await?;
            let window = |names: &[String]| {
                let mut sum = TrafficCounters::default();
                for n in names {
                    let c = now.get(n).copied().unwrap_or_default();
                    sum.add(&c.since(&baseline.get(n).copied().unwrap_or_default()));
                }
                sum
            };
            let (new_w, old_w) = (window(new), window(old));
            summary.clear();
            for (k, check) in stage.checks.iter().enumerate() {
                let (line, failing) = judge(check, &new_w, &old_w);
                if !summary.is_empty() {
                    summary.push_str("; ");
                }
                summary.push_str(&line);
                if failing {
                    failures[k] += 1;
                    if failures[k] > check.failure_limit {
                        return Err(format!(
                            "cutover {}: check {} failed: {line}",
                            stage.describe(),
                            check.metric.name()
                        ));
                    }
                }
            }
        }
        if left <= tick {
            break;
        }
    }
    for (p, h) in health {
        let r = provider_health(p, h).await;
        if let Err(e) = r {
            return Err(format!(
                "cutover {}: the new generation's health check failed: {e}",
                stage.describe()
            ));
        }
    }
    Ok(summary)
}

async fn provider_health(provider: &Arc<dyn Provider>, h: &HealthRequest) -> Result<(), String> {
    let r = provider.check_health(h.clone()).await;
    match errors(&r.diagnostics) {
        Some(e) => Err(format!("{} {}: {e}", h.type_name, h.id)),
        None if !r.healthy => Err(format!("{} {}: {}", h.type_name, h.id, r.message)),
        None => Ok(()),
    }
}

/// A check's reading over a window: its line for the user, and whether it
/// fails. Below `min_requests` it never fails.
pub(crate) fn judge(
    check: &CutoverCheck,
    new: &TrafficCounters,
    old: &TrafficCounters,
) -> (String, bool) {
    let name = check.metric.name();
    let mut line = String::new();
    let Some(value) = new.value(check.metric) else {
        return (
            format!("{name}: no request to the new generation yet"),
            false,
        );
    };
    let _ = write!(line, "{name} {value:.4} over {} requests", new.requests);
    let baseline = old.value(check.metric);
    if let Some(b) = baseline {
        let _ = write!(line, " (old generation {b:.4} over {})", old.requests);
    }
    if new.requests < check.min_requests {
        let _ = write!(
            line,
            ", fewer than {} requests: no verdict yet",
            check.min_requests
        );
        return (line, false);
    }
    if let Some(max) = check.max
        && value > max
    {
        let _ = write!(line, " is above max {max}");
        return (line, true);
    }
    if let (Some(margin), Some(b)) = (check.max_over_baseline, baseline)
        && value - b > margin
    {
        let _ = write!(line, " is above the old generation's by more than {margin}");
        return (line, true);
    }
    (line, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_model::{CutoverStep, Metric};

    fn check(max: Option<f64>, over: Option<f64>) -> CutoverCheck {
        CutoverCheck {
            metric: Metric::ErrorRate,
            max,
            max_over_baseline: over,
            min_requests: 10,
            interval_ms: 100,
            failure_limit: 0,
        }
    }

    fn counters(requests: u64, errors: u64) -> TrafficCounters {
        TrafficCounters {
            requests,
            errors,
            latency_ms: 0.0,
        }
    }

    #[test]
    fn a_check_fails_above_its_max_or_its_baseline_margin_once_it_has_enough_requests() {
        let c = check(Some(0.05), None);
        assert!(judge(&c, &counters(20, 2), &counters(100, 0)).1);
        assert!(!judge(&c, &counters(20, 1), &counters(100, 0)).1);
        assert!(!judge(&c, &counters(5, 5), &counters(100, 0)).1, "too few");
        let c = check(None, Some(0.01));
        assert!(judge(&c, &counters(100, 5), &counters(100, 1)).1);
        assert!(!judge(&c, &counters(100, 5), &counters(100, 5)).1);
        let (line, _) = judge(&c, &counters(0, 0), &counters(10, 0));
        assert!(line.contains("no request"), "{line}");
    }

    #[test]
    fn stages_end_at_the_planned_value() {
        let c = Cutover {
            steps: vec![
                CutoverStep {
                    weight: 10.0,
                    hold_ms: 500,
                },
                CutoverStep {
                    weight: 50.0,
                    hold_ms: 1000,
                },
            ],
            checks: vec![],
        };
        assert_eq!(stages(&c), [(10.0, 500), (50.0, 1000), (100.0, 0)]);
        let mut full = c.clone();
        full.steps.push(CutoverStep {
            weight: 100.0,
            hold_ms: 2000,
        });
        assert_eq!(stages(&full).len(), 3, "a 100% step is the last stage");
        assert!(Stage::of(&full, 2, 0).last());
        assert_eq!(Stage::of(&c, 1, 0).describe(), "step 2 of 3 (50% for 1s)");
        assert_eq!(hold_text(Duration::from_millis(90_000)), "1m30s");
        assert_eq!(hold_text(Duration::from_millis(500)), "500ms");
    }
}
