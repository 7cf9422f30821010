//! Applies at the cloud's rate limit: many instances through a loopback
//! proxy that enforces EC2's documented token buckets and throttles
//! beyond them as EC2 does. kiln's provider takes the same tokens before
//! each request (`kiln_provider_aws::rate`), so nothing is throttled and
//! the apply takes the time the buckets impose, and no longer.
//!
//! The bound, for N instances created by one `RunInstances` each: the
//! `RunInstances` request bucket holds 50 tokens and refills 5 per second,
//! so the first 50 start at once and the other N − 50 need (N − 50) / 5
//! seconds; the instance bucket (1,000, refilled 2 per second) allows up
//! to 1,000 at once and binds nothing below that. `KILN_RATE_INSTANCES`
//! sets N (default 100: 10 s); docs/performance.md has N = 300 (50 s).

mod common;

use std::time::Instant;

use kiln_testkit::faults::{FaultPlan, FaultProxy};

#[test]
fn many_instances_are_created_at_ec2s_rate_limit_without_being_throttled() {
    let n: u64 = std::env::var("KILN_RATE_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let env = common::unique("rate");
    let (p, k) = common::project(&format!(
        r#"
provider "aws" {{
  region = "us-east-1"
}}

resource "aws_instance" "web" {{
  count         = {n}
  ami           = "ami-1e749f67"
  instance_type = "t3.micro"
  tags = {{
    Name = "web-${{count.index}}"
  }}
}}
"#
    ));
    let mut plan = FaultPlan::none(1);
    plan.ec2_rate_limits = true;
    let proxy = FaultProxy::start(common::moto().port, plan).unwrap();
    let k = k.env("KILN_ENV", &env);
    let limited = k.clone().env("AWS_ENDPOINT_URL", &proxy.endpoint());

    let started = Instant::now();
    let r = limited.run(&["apply", "--yes", "--parallelism", "64"]);
    let took = started.elapsed().as_secs_f64();
    r.success();
    let calls = proxy.stats.take_calls();
    let throttled = proxy
        .stats
        .throttled
        .load(std::sync::atomic::Ordering::SeqCst);
    let bound = n.saturating_sub(50) as f64 / 5.0;
    #[allow(clippy::print_stderr, reason = "the benchmark figure of this test")]
    {
        eprintln!(
            "rate limits: {n} instances in {took:.1} s; EC2's buckets allow {bound:.1} s; \
             {throttled} requests throttled; {} RunInstances, {} requests in all",
            calls.get("ec2:RunInstances").copied().unwrap_or(0),
            calls.values().sum::<u64>()
        );
    }
    // The client's buckets and the proxy's run on two clocks, and requests
    // that took their tokens in one order may arrive in another: a stray
    // throttle is retried, a storm would not be.
    let requests: u64 = calls.values().sum();
    assert!(
        throttled <= 1 + requests / 100,
        "kiln takes EC2's tokens before each request, yet {throttled} of {requests} were throttled: {calls:?}"
    );
    assert_eq!(
        common::state_addrs(&p, &env).len() as u64,
        n,
        "every instance is in the state"
    );
    assert!(
        took >= bound * 0.95,
        "the proxy holds the apply to the buckets' bound ({took:.1} s < {bound:.1} s)"
    );

    // Torn down straight on the emulator (TerminateInstances is throttled
    // the same way; its time is not the point here).
    k.run(&["destroy", "--yes"]).success();
}
