//! Client-side rate limiting: every EC2 request waits for a token from
//! buckets of the sizes and refill rates AWS documents, so an apply runs at
//! the account's rate limit instead of into a storm of
//! `RequestLimitExceeded` retries.
//!
//! EC2 throttles per API action ("Request throttling for the Amazon EC2
//! API", Amazon EC2 Developer Guide) with two kinds of token bucket:
//!
//! - **request rate**: one token per request, a bucket per action, sized
//!   by the action's category: non-mutating (`Describe*`, `Get*`) 100
//!   tokens refilled at 20 per second; mutating and resource-intensive
//!   actions 50 refilled at 5 per second;
//! - **resource rate**: one token per instance for `RunInstances` (1,000,
//!   refilled at 2 per second), `StartInstances` (1,000 at 2),
//!   `StopInstances` and `TerminateInstances` (1,000 at 20).
//!
//! A bucket starts full, as an account's does. The limiter sits in the HTTP
//! client every SDK client of the provider shares ([`Limited`]), so it sees
//! each try (a retry takes a token too, as AWS counts it). Other services
//! publish no buckets: their throttling is left to the SDK's retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// A token bucket's shape: its size and its refill per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub size: f64,
    pub refill: f64,
}

/// The buckets one EC2 request draws from: `(bucket name, shape, tokens)`.
/// `body` is the request's form-encoded query (`Action=RunInstances&...`).
pub fn ec2_buckets(body: &str) -> Vec<(String, Shape, f64)> {
    let param = |name: &str| {
        body.split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let Some(action) = param("Action") else {
        return Vec::new();
    };
    let non_mutating = ["Describe", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p));
    let request = if non_mutating {
        Shape {
            size: 100.0,
            refill: 20.0,
        }
    } else {
        Shape {
            size: 50.0,
            refill: 5.0,
        }
    };
    let mut out = vec![(format!("ec2:{action}"), request, 1.0)];
    let instances = || -> f64 {
        let ids = body
            .split('&')
            .filter(|kv| kv.starts_with("InstanceId."))
            .count();
        ids.max(1) as f64
    };
    let resource = match action {
        "RunInstances" => Some((
            Shape {
                size: 1000.0,
                refill: 2.0,
            },
            param("MaxCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1.0),
        )),
        "StartInstances" => Some((
            Shape {
                size: 1000.0,
                refill: 2.0,
            },
            instances(),
        )),
        "StopInstances" | "TerminateInstances" => Some((
            Shape {
                size: 1000.0,
                refill: 20.0,
            },
            instances(),
        )),
        _ => None,
    };
    if let Some((shape, cost)) = resource {
        out.push((format!("ec2:{action}:instances"), shape, cost));
    }
    out
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    shape: Shape,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.shape.refill).min(self.shape.size);
        self.at = now;
    }
}

/// Token buckets by name, shared by every request of a provider process.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes `tokens` from each bucket at once, or says how long to wait
    /// until all of them hold enough. A cost above a bucket's size waits
    /// for a full bucket and takes it.
    fn try_take(&self, wanted: &[(String, Shape, f64)], now: Instant) -> Option<Duration> {
        let Ok(mut map) = self.buckets.lock() else {
            return None;
        };
        let mut wait = Duration::ZERO;
        for (name, shape, cost) in wanted {
            let b = map.entry(name.clone()).or_insert(Bucket {
                tokens: shape.size,
                shape: *shape,
                at: now,
            });
            b.refill(now);
            let need = cost.min(shape.size) - b.tokens;
            if need > 0.0 {
                wait = wait.max(Duration::from_secs_f64(need / shape.refill.max(1e-9)));
            }
        }
        if !wait.is_zero() {
            return Some(wait);
        }
        for (name, shape, cost) in wanted {
            if let Some(b) = map.get_mut(name) {
                b.tokens -= cost.min(shape.size);
            }
        }
        None
    }

    /// Waits until every bucket holds its tokens, and takes them.
    pub async fn take(&self, wanted: &[(String, Shape, f64)]) {
        while let Some(wait) = self.try_take(wanted, Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The SigV4 service of a signed request (`ec2`, `autoscaling`, ...).
fn service(request: &HttpRequest) -> Option<&str> {
    let auth = request.headers().get("authorization")?;
    auth.split("Credential=").nth(1)?.split('/').nth(3)
}

/// The SDK's default HTTPS client, wrapped in [`Limited`].
pub fn limited_default_client(buckets: Arc<Buckets>) -> Option<Limited> {
    use aws_smithy_runtime::client::defaults::default_http_client_plugin_v2;
    use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = default_http_client_plugin_v2(BehaviorVersion::latest())?;
    let inner = plugin
        .runtime_components(&RuntimeComponentsBuilder::new("kiln-rate-limits"))
        .http_client()?;
    Some(Limited::new(inner, buckets))
}

/// An HTTP client that takes EC2's tokens before each request it sends.
#[derive(Debug, Clone)]
pub struct Limited {
    inner: SharedHttpClient,
    buckets: Arc<Buckets>,
}

impl Limited {
    pub fn new(inner: SharedHttpClient, buckets: Arc<Buckets>) -> Limited {
        Limited { inner, buckets }
    }
}

impl HttpClient for Limited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            buckets: self.buckets.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    buckets: Arc<Buckets>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let wanted = match service(&request) {
            Some("ec2") => request
                .body()
                .bytes()
                .map(|b| ec2_buckets(&String::from_utf8_lossy(b)))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let inner = self.inner.clone();
        let buckets = self.buckets.clone();
        HttpConnectorFuture::new(async move {
            if !wanted.is_empty() {
                buckets.take(&wanted).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_instances_draws_a_request_and_an_instance_per_count() {
        let b = ec2_buckets("Action=RunInstances&Version=2016-11-15&MaxCount=3&MinCount=3");
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].1.size, b[0].1.refill, b[0].2), (50.0, 5.0, 1.0));
        assert_eq!((b[1].1.size, b[1].1.refill, b[1].2), (1000.0, 2.0, 3.0));
        let d = ec2_buckets("Action=DescribeInstances&Version=2016-11-15");
        assert_eq!((d[0].1.size, d[0].1.refill), (100.0, 20.0));
        let t = ec2_buckets("Action=TerminateInstances&InstanceId.1=i-1&InstanceId.2=i-2");
        assert_eq!(t[1].2, 2.0);
        assert!(ec2_buckets("Version=1").is_empty());
    }

    #[test]
    fn a_bucket_gives_its_burst_then_its_refill_rate() {
        let b = Buckets::default();
        let want = vec![(
            "x".to_string(),
            Shape {
                size: 2.0,
                refill: 4.0,
            },
            1.0,
        )];
        let t0 = Instant::now();
        assert_eq!(b.try_take(&want, t0), None);
        assert_eq!(b.try_take(&want, t0), None);
        let wait = b.try_take(&want, t0).expect("empty");
        assert!((wait.as_secs_f64() - 0.25).abs() < 1e-6, "{wait:?}");
        assert_eq!(b.try_take(&want, t0 + Duration::from_millis(250)), None);
    }
}
