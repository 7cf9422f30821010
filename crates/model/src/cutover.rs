//! Progressive cut-over: how a traffic switch moves requests to a new
//! generation a step at a time, and the checks that gate each step.
//!
//! Written in a `cutover` block of a traffic-switch resource
//! (`local_balancer`, `aws_lb_listener`), read by the planner into the
//! switch's update action, run by the engine: each step sets the switch so
//! the new generation gets `weight` percent of requests, holds for `hold`
//! while the checks are measured, then moves on; the last step is the
//! planned value (100%). A failed check sets the switch back to the old
//! generation and rolls the apply back. See docs/cutover.md.

use serde::{Deserialize, Serialize};

/// The steps and checks of a `cutover` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cutover {
    /// In order; weights strictly increase. A last step below 100 is
    /// followed by the switch's planned value (100%), held for nothing.
    pub steps: Vec<CutoverStep>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CutoverCheck>,
}

/// One step: the new generation's share of requests, and how long it is held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutoverStep {
    /// Percent of requests for the new generation, in (0, 100].
    pub weight: f64,
    /// Milliseconds the step is held, measured, before the next one.
    pub hold_ms: u64,
}

/// A metric the switch reports per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The share of answers with a 5xx status (0 to 1).
    ErrorRate,
    /// The mean time to the first byte of an answer, in milliseconds.
    Latency,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::Latency => "latency",
        }
    }
}

/// A check measured during every hold, over the requests of the step so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutoverCheck {
    pub metric: Metric,
    /// Fails when the new generation's value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Fails when the new generation's value is above the old generation's
    /// over the same window by more than this (Kayenta's baseline
    /// comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_over_baseline: Option<f64>,
    /// Below this many requests to the new generation in the window, no
    /// verdict is given yet.
    pub min_requests: u64,
    /// Milliseconds between measurements.
    pub interval_ms: u64,
    /// Failed measurements tolerated in one step; one more stops the shift.
    pub failure_limit: u32,
}

/// Request counters of one backend (or target group), cumulative since the
/// switch started counting: the engine subtracts two readings to get a
/// window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficCounters {
    pub requests: u64,
    /// Answers with a 5xx status.
    pub errors: u64,
    /// Sum of the times to first byte, in milliseconds.
    pub latency_ms: f64,
}

impl TrafficCounters {
    pub fn add(&mut self, o: &TrafficCounters) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.latency_ms += o.latency_ms;
    }

    /// `self - earlier`, saturating (a restarted counter reads as a fresh
    /// window).
    pub fn since(&self, earlier: &TrafficCounters) -> TrafficCounters {
        if self.requests < earlier.requests {
            return *self;
        }
        TrafficCounters {
            requests: self.requests - earlier.requests,
            errors: self.errors.saturating_sub(earlier.errors),
            latency_ms: (self.latency_ms - earlier.latency_ms).max(0.0),
        }
    }

    /// The metric's value over these counters (`None` with no request).
    pub fn value(&self, metric: Metric) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        let n = self.requests as f64;
        Some(match metric {
            Metric::ErrorRate => self.errors as f64 / n,
            Metric::Latency => self.latency_ms / n,
        })
    }
}

/// A Go duration (`"300ms"`, `"-1.5h"`, `"2h45m"`) in nanoseconds, as Go's
/// `time.ParseDuration` reads it (Terraform's `timeadd`, and the holds of a
/// `cutover` block).
pub fn go_duration_ns(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * unit;
    }
    let ns = total.round() as i128;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_difference_of_two_readings() {
        let a = TrafficCounters {
            requests: 10,
            errors: 1,
            latency_ms: 50.0,
        };
        let b = TrafficCounters {
            requests: 30,
            errors: 5,
            latency_ms: 150.0,
        };
        let w = b.since(&a);
        assert_eq!(w.requests, 20);
        assert_eq!(w.value(Metric::ErrorRate), Some(0.2));
        assert_eq!(w.value(Metric::Latency), Some(5.0));
        assert_eq!(a.since(&b), a, "a restarted counter is a fresh window");
        assert_eq!(TrafficCounters::default().value(Metric::ErrorRate), None);
    }
}
