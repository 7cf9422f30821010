//! What every resource module shares: the SDK clients, the provider's
//! settings, errors, waits with timeouts, kiln's tags and physical names.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use kiln_provider::CallContext;

/// The provider block: `provider "aws" { region, default_tags }`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub default_tags: BTreeMap<String, String>,
}

/// Overrides of the standard AWS chain, for tests and embedding; kiln's
/// executable uses none of them.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// An access key id and secret (static credentials).
    pub credentials: Option<(String, String)>,
}

/// One client per AWS service, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    /// EC2 with the SDK's retries off, for the creates that take no client
    /// token: a retry below kiln would make a second object when the first
    /// try's answer was lost. [`create_once`] retries them instead, looking
    /// for the first try's object between tries.
    pub ec2_once: aws_sdk_ec2::Client,
    pub asg: aws_sdk_autoscaling::Client,
    /// Auto Scaling with the SDK's retries off, for CreateAutoScalingGroup:
    /// a retry after a lost answer is refused (`AlreadyExists`) on AWS, but
    /// moto launches the retried group's instances before it refuses.
    pub asg_once: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// ELBv2 with the SDK's retries off, for CreateLoadBalancer,
    /// CreateTargetGroup and CreateListener: AWS makes them idempotent (by
    /// name, by port), but an emulator may not (moto makes a second load
    /// balancer of the same name, a second listener on the same port).
    pub elb_once: aws_sdk_elasticloadbalancingv2::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sts: aws_sdk_sts::Client,
    pub route53: aws_sdk_route53::Client,
    pub acm: aws_sdk_acm::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub region: String,
}

/// How many times an SDK call is tried (with exponential backoff and jitter)
/// when AWS throttles or answers with a server error.
const MAX_ATTEMPTS: u32 = 6;

/// The retry quota of one provider process, in the SDK's tokens (a retry
/// costs 5–14). The SDK's default of 500 is made for long-running services,
/// where it stops retry storms; kiln is one bounded command whose every
/// call is capped at [`MAX_ATTEMPTS`], and a drained quota turns the rest of
/// an apply's transient errors into failures (measured: 30% lost answers
/// drained it within one apply of examples/aws-web).
const RETRY_QUOTA: usize = 100_000;

/// AWS's throttling codes, as the SDK's standard retry classifies them
/// (EC2 `RequestLimitExceeded`, the query services' `Throttling`, S3
/// `SlowDown`, ...): the call was refused before it ran.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

impl Clients {
    /// Loads the standard AWS configuration chain (environment, profile,
    /// `AWS_ENDPOINT_URL`, ...), with the provider block's region first.
    pub async fn load(region: Option<String>, options: &AwsOptions) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(r) = region.or_else(|| options.region.clone()) {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        // Every request of every client waits for EC2's documented tokens.
        if let Some(limited) = crate::rate::limited_default_client(std::sync::Arc::new(
            crate::rate::Buckets::default(),
        )) {
            // A request waiting for its token has sent no byte yet: the SDK's
            // stalled-stream protection would count the wait as a stall.
            loader = loader.http_client(limited).stalled_stream_protection(
                aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
            );
        }
        if let Some((id, secret)) = &options.credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                id,
                secret,
                None,
                None,
                "kiln-options",
            ));
        }
        let config = loader.load().await;
        let partition = RetryPartition::custom("kiln-provider-aws")
            .token_bucket(TokenBucket::new(RETRY_QUOTA))
            .build();
        let ec2_config = aws_sdk_ec2::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let ec2_once = ec2_config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let region = config
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| "us-east-1".into());
        // S3 on an emulator endpoint needs path-style addressing.
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .retry_partition(partition.clone())
            .build();
        let asg_config = aws_sdk_autoscaling::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let asg_once = asg_config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let iam_config = aws_sdk_iam::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let cloudwatch_config = aws_sdk_cloudwatch::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let sts_config = aws_sdk_sts::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let route53_config = aws_sdk_route53::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let acm_config = aws_sdk_acm::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let ecs_config = aws_sdk_ecs::config::Builder::from(&config)
            .retry_partition(partition.clone())
            .build();
        let elb_config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&config)
            .retry_partition(partition)
            .build();
        let elb_once = elb_config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        Clients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_config),
            ec2_once: aws_sdk_ec2::Client::from_conf(ec2_once),
            asg: aws_sdk_autoscaling::Client::from_conf(asg_config),
            asg_once: aws_sdk_autoscaling::Client::from_conf(asg_once),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb_config),
            elb_once: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb_once),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            iam: aws_sdk_iam::Client::from_conf(iam_config),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch_config),
            sts: aws_sdk_sts::Client::from_conf(sts_config),
            route53: aws_sdk_route53::Client::from_conf(route53_config),
            acm: aws_sdk_acm::Client::from_conf(acm_config),
            ecs: aws_sdk_ecs::Client::from_conf(ecs_config),
            region,
        }
    }
}

/// Everything a create, update or delete needs.
pub struct Ctx<'a> {
    pub c: &'a Clients,
    pub settings: &'a Settings,
    pub call: &'a CallContext,
    /// The idempotency key (empty outside create).
    pub key: &'a str,
}

/// A failed operation, for a diagnostic.
#[derive(Debug, Clone, Default)]
pub struct Error {
    /// The AWS error code, when AWS answered with one.
    pub code: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    /// The id and state of an object made before the failure (so it is
    /// recorded, not orphaned).
    pub created: Option<Box<(String, kiln_model::Value)>>,
    /// Whether trying again may succeed: throttling, a server error (5xx),
    /// a timeout or a failed connection. Except for throttling, the call
    /// may have run (AWS documents that a request can succeed although the
    /// client received an error).
    pub retryable: bool,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            ..Error::default()
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    pub fn unsupported(type_name: &str) -> Error {
        Error::new(format!(
            "type {type_name:?} is not supported by the aws provider"
        ))
    }

    /// Records that `id` exists despite the failure.
    pub fn after_creating(mut self, id: &str, state: kiln_model::Value) -> Error {
        self.created = Some(Box::new((id.to_string(), state)));
        self
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    /// Whether AWS refused a create because the object exists already (a
    /// retried create: the name or client token was used by the first try).
    pub fn is_duplicate(&self) -> bool {
        let c = self.code();
        c.contains("AlreadyExists") || c.contains("Duplicate") || c == "BucketAlreadyOwnedByYou"
    }

    /// Whether AWS refused the call as throttled (it did not run).
    pub fn is_throttle(&self) -> bool {
        THROTTLING.contains(&self.code())
    }

    /// Whether AWS refused a create because something it conflicts with
    /// exists — possibly the object an earlier try of this very create made
    /// (its answer lost): a duplicate name or token, a subnet range taken
    /// (`InvalidSubnet.Conflict`), an association already made
    /// (`Resource.AlreadyAssociated`).
    pub fn is_conflict(&self) -> bool {
        self.is_duplicate()
            || matches!(
                self.code(),
                "InvalidSubnet.Conflict" | "Resource.AlreadyAssociated"
            )
    }

    /// Whether AWS said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        let c = self.code();
        c.contains("NotFound")
            || c.starts_with("NoSuch")
            || c == "ValidationError" && self.message.contains("not found")
    }
}

/// Turns an SDK error into an [`Error`] naming the operation; use as
/// `.map_err(api("CreateVpc"))`.
pub fn api<E>(op: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| {
        let code = e.code().map(str::to_string);
        let status = e.raw_response().map_or(0, |r| r.status().as_u16());
        let retryable = match &e {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => {
                status >= 500 || e.code().is_some_and(|c| THROTTLING.contains(&c))
            }
            _ => false,
        };
        let message = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{op} failed: {c}: {m}"),
            (Some(c), None) => format!("{op} failed: {c}"),
            _ => format!("{op} failed: {}", DisplayErrorContext(&e)),
        };
        let detail = match &e {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Some(
                "check the endpoint (AWS_ENDPOINT_URL), the network and the region".to_string(),
            ),
            _ => None,
        };
        Error {
            code,
            message,
            detail,
            retryable,
            ..Error::default()
        }
    }
}

/// Runs a create AWS does not make idempotent (no client token; sent on
/// [`Clients::ec2_once`], without the SDK's retries) so that it makes at
/// most one object whatever the network does:
///
/// - after an error that may mean the call ran (a server error, a timeout,
///   a lost connection: not throttling) or a conflict that may be an
///   earlier try's object ([`Error::is_conflict`]), the object is looked up
///   by kiln's key (`find`) and adopted if it is there;
/// - otherwise a retryable error is tried again, up to [`MAX_ATTEMPTS`]
///   with exponential backoff (200 ms doubling, at most 5 s);
/// - the look-up also follows the last failed try, so a create that
///   finally failed leaves no object behind unrecorded.
pub async fn create_once<T, S, SF, F, FF>(send: S, find: F) -> Result<T, Error>
where
    S: FnMut() -> SF,
    SF: Future<Output = Result<T, Error>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, Error>>,
{
    create_once_with(Duration::from_millis(100), send, find).await
}

/// [`create_once`] with the first backoff `base` (doubling, at most 5 s).
async fn create_once_with<T, S, SF, F, FF>(
    base: Duration,
    mut send: S,
    mut find: F,
) -> Result<T, Error>
where
    S: FnMut() -> SF,
    SF: Future<Output = Result<T, Error>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, Error>>,
{
    let mut attempt = 1;
    loop {
        let e = match send().await {
            Ok(made) => return Ok(made),
            Err(e) => e,
        };
        let may_exist = (e.retryable && !e.is_throttle()) || e.is_conflict();
        if may_exist && let Some(found) = find().await? {
            return Ok(found);
        }
        if !e.retryable || attempt >= MAX_ATTEMPTS {
            return Err(e);
        }
        let backoff = (base * (1 << attempt.min(6))).min(Duration::from_secs(5));
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

/// Polls `check` every `every` until it returns `Some`, or fails after
/// `timeout` with a message saying what was awaited.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, Error>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if started.elapsed() >= timeout {
            return Err(Error::new(format!(
                "timed out after {} waiting for {what}",
                humanize(timeout)
            )));
        }
        tokio::time::sleep(every).await;
    }
}

/// Retries an operation AWS refuses while something else still depends on
/// the object (a subnet with network interfaces of terminating instances, a
/// target group still used by a listener), up to `timeout`.
pub async fn retry_while_in_use<F, Fut>(
    what: &str,
    timeout: Duration,
    mut op: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let started = Instant::now();
    loop {
        match op().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    "DependencyViolation"
                        | "ResourceInUse"
                        | "ResourceInUseFault"
                        | "InvalidGroup.InUse"
                        | "InvalidIPAddress.InUse"
                        | "DeleteConflict"
                        | "ResourceInUseException"
                        | "UpdateInProgressException"
                        | "ClusterContainsServicesException"
                        | "ClusterContainsTasksException"
                        | "ClusterContainsContainerInstancesException"
                ) =>
            {
                if started.elapsed() >= timeout {
                    return Err(Error::new(format!(
                        "timed out after {} waiting to delete {what}, still in use: {}",
                        humanize(timeout),
                        e.message
                    ))
                    .with_detail("something outside this plan may still use it; delete that first and apply again"));
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// How long creates and deletes may wait for AWS to settle.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);
pub const POLL: Duration = Duration::from_millis(500);

/// The tag keys kiln sets on everything it creates.
pub const TAG_ENV: &str = "kiln:env";
pub const TAG_ADDRESS: &str = "kiln:address";
pub const TAG_GENERATION: &str = "kiln:generation";
pub const TAG_LINEAGE: &str = "kiln:lineage";
pub const TAG_KEY: &str = "kiln:key";

/// kiln's own tags of an object: its environment, address, generation,
/// lineage and idempotency key.
pub fn kiln_tags(call: &kiln_provider::CallContext, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_ENV.to_string(), call.env.clone()),
        (TAG_ADDRESS.to_string(), call.address.clone()),
        (TAG_GENERATION.to_string(), call.generation.to_string()),
        (TAG_LINEAGE.to_string(), call.lineage.clone()),
        (TAG_KEY.to_string(), key.to_string()),
    ])
}

/// A change of an object's tags (see [`Ctx::tag_change`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagChange {
    pub set: BTreeMap<String, String>,
    pub removed: Vec<String>,
}

impl Ctx<'_> {
    /// The tags of a new object: the provider's default tags, the
    /// resource's own, then kiln's (which win).
    pub fn tags(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = self.settings.default_tags.clone();
        tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        tags.extend(kiln_tags(self.call, self.key));
        tags
    }

    /// The tags an update applies: default tags and the resource's own
    /// (kiln's tags are never changed after create).
    pub fn user_tags(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = self.settings.default_tags.clone();
        tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        tags
    }

    /// What an update does to an object's tags: `None` when `tags` did not
    /// change; else the tags to set (default tags and the resource's own;
    /// kiln's are never changed after create) and the keys to remove.
    pub fn tag_change(&self, req: &kiln_provider::UpdateRequest) -> Option<TagChange> {
        if !req.changed.iter().any(|c| c == "tags") {
            return None;
        }
        let old = self.user_tags(&crate::values::tags(&req.prior));
        let set = self.user_tags(&crate::values::tags(&req.planned));
        let removed = old.into_keys().filter(|k| !set.contains_key(k)).collect();
        Some(TagChange { set, removed })
    }

    /// The physical name of a new object: `name` as the plan decided it,
    /// else one beginning with `name_prefix` (Terraform's meaning), else
    /// kiln's default (see [`physical_name`]); at most `max` characters.
    pub fn name(&self, config: &kiln_model::Value, max: usize) -> String {
        self.name_from(config, "name", max)
    }

    /// As [`Ctx::name`], for a type whose name argument is `attr` (with
    /// `{attr}_prefix`): `key_name` and `key_name_prefix` of a key pair.
    pub fn name_from(&self, config: &kiln_model::Value, attr: &str, max: usize) -> String {
        if let Some(kiln_model::Value::String(n)) =
            config.get(attr).map(kiln_model::Value::unmarked)
        {
            return n.to_string();
        }
        let prefix = match config
            .get(&format!("{attr}_prefix"))
            .map(kiln_model::Value::unmarked)
        {
            Some(kiln_model::Value::String(p)) => Some(p.clone()),
            _ => None,
        };
        match prefix {
            Some(prefix) => {
                let rest = physical_name(
                    &self.call.env,
                    "",
                    self.call.generation,
                    &self.call.lineage,
                    max.saturating_sub(prefix.len()).max(12),
                );
                let full = format!("{prefix}{rest}");
                if full.len() <= max {
                    return full;
                }
                // Cut, ending in a hash of the whole so that generations and
                // projects stay apart.
                let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
                let head: String = full.chars().take(max.saturating_sub(9)).collect();
                format!("{}-{hash}", head.trim_end_matches('-'))
            }
            None => physical_name(
                &self.call.env,
                &resource_name(&self.call.address),
                self.call.generation,
                &self.call.lineage,
                max,
            ),
        }
    }

    /// A client token for the creates that accept one: the idempotency key.
    pub fn client_token(&self) -> Option<String> {
        (!self.key.is_empty()).then(|| self.key.chars().take(64).collect())
    }
}

/// The resource name of an address (`module.m.aws_vpc.main[0]` → `main-0`).
pub fn resource_name(address: &str) -> String {
    let last = address.rsplit('.').next().unwrap_or(address);
    let mut out = String::new();
    for c in last.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "r".into() } else { out }
}

/// `{env}-{base}-g{generation}-{project}`, with only letters, digits and
/// hyphens (what ELBv2 allows; EC2 and Auto Scaling allow more), at most
/// `max` characters. `{project}` is six hex digits of a hash of the state's
/// lineage, so two projects (two directories, two teams) with the same
/// environment name never collide in one account; a lineage-less call (no
/// state yet known) leaves it out. A longer name keeps its start and ends
/// with a hash of the whole, so it stays unique per environment, base,
/// generation and project.
pub fn physical_name(env: &str, base: &str, generation: u64, lineage: &str, max: usize) -> String {
    let mut raw = String::new();
    for part in [env, base] {
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                raw.push(c);
            } else if !raw.ends_with('-') {
                raw.push('-');
            }
        }
        if !raw.ends_with('-') {
            raw.push('-');
        }
    }
    let mut raw = format!("{}g{generation}", raw.trim_start_matches('-'));
    if !lineage.is_empty() {
        raw.push_str(&format!("-{:06x}", fnv1a(lineage.as_bytes()) & 0xff_ffff));
    }
    if raw.len() <= max {
        return raw;
    }
    let hash = format!("{:08x}", fnv1a(raw.as_bytes()) as u32);
    let keep = max.saturating_sub(hash.len() + 1);
    let head = raw[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Splits ids into chunks of at most `n` (AWS's limit per Describe call).
pub fn chunks<T>(items: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    items.chunks(n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_times_out_saying_what_it_waited_for() {
        let started = std::time::Instant::now();
        let r: Result<(), Error> = wait_for(
            "instance i-1 to be running",
            Duration::from_millis(300),
            Duration::from_millis(50),
            || async { Ok(None) },
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(
            e.message,
            "timed out after 0s waiting for instance i-1 to be running"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    fn lost(code: &str) -> Error {
        Error {
            code: Some(code.into()),
            message: format!("CreateVpc failed: {code}"),
            retryable: code == "InternalError" || code == "RequestLimitExceeded",
            ..Error::default()
        }
    }

    /// Runs `create_once` over scripted answers; returns its result, how
    /// many creates were sent and how many look-ups were made.
    async fn scripted(
        answers: Vec<Result<&'static str, Error>>,
        found_after: usize,
    ) -> (Result<&'static str, Error>, usize, usize) {
        let sent = std::cell::Cell::new(0);
        let looked = std::cell::Cell::new(0);
        let answers = std::cell::RefCell::new(answers.into_iter());
        let r = create_once_with(
            Duration::ZERO,
            || {
                sent.set(sent.get() + 1);
                let next = answers.borrow_mut().next().expect("a scripted answer");
                async move { next }
            },
            || {
                looked.set(looked.get() + 1);
                let n = sent.get();
                async move { Ok((n >= found_after).then_some("vpc-first")) }
            },
        )
        .await;
        (r, sent.get(), looked.get())
    }

    #[tokio::test]
    async fn a_create_whose_answer_was_lost_adopts_the_object_it_made() {
        // The first try ran (its answer replaced by a 500): found, not redone.
        let (r, sent, looked) = scripted(vec![Err(lost("InternalError"))], 1).await;
        assert_eq!((r.unwrap(), sent, looked), ("vpc-first", 1, 1));
        // A throttled try did not run: tried again without a look-up.
        let (r, sent, looked) = scripted(
            vec![Err(lost("RequestLimitExceeded")), Ok("vpc-second")],
            99,
        )
        .await;
        assert_eq!((r.unwrap(), sent, looked), ("vpc-second", 2, 0));
        // A 500 that did not run: looked for, not found, tried again.
        let (r, sent, looked) = scripted(vec![Err(lost("InternalError")), Ok("vpc-new")], 99).await;
        assert_eq!((r.unwrap(), sent, looked), ("vpc-new", 2, 1));
        // A conflict (an earlier try's subnet holds the range): adopted.
        let (r, _, looked) = scripted(vec![Err(lost("InvalidSubnet.Conflict"))], 1).await;
        assert_eq!((r.unwrap(), looked), ("vpc-first", 1));
        // A conflict with something not ours, and a plain refusal: errors.
        let (r, _, _) = scripted(vec![Err(lost("InvalidSubnet.Conflict"))], 99).await;
        assert_eq!(r.unwrap_err().code(), "InvalidSubnet.Conflict");
        let (r, sent, looked) = scripted(vec![Err(lost("InvalidParameterValue"))], 1).await;
        assert_eq!(
            (r.unwrap_err().code(), sent, looked),
            ("InvalidParameterValue", 1, 0)
        );
        // Every try fails: the last failure is looked up too, then reported.
        let all: Vec<_> = (0..MAX_ATTEMPTS)
            .map(|_| Err(lost("InternalError")))
            .collect();
        let (r, sent, looked) = scripted(all, 99).await;
        assert_eq!(r.unwrap_err().code(), "InternalError");
        assert_eq!(
            (sent, looked),
            (MAX_ATTEMPTS as usize, MAX_ATTEMPTS as usize)
        );
    }

    #[test]
    fn names_fit_and_stay_unique() {
        assert_eq!(physical_name("pr-42", "web", 3, "", 32), "pr-42-web-g3");
        let ours = physical_name("pr-42", "web", 3, "lineage-a", 32);
        let theirs = physical_name("pr-42", "web", 3, "lineage-b", 32);
        assert!(
            ours.starts_with("pr-42-web-g3-") && ours.len() == 19,
            "{ours}"
        );
        assert_ne!(ours, theirs, "two projects' pr-42 never meet");
        assert_eq!(resource_name("module.m.aws_lb.front[0]"), "front-0");
        assert_eq!(resource_name("aws_lb.front[\"a b\"]"), "front-a-b");
        let long = physical_name(
            "a-very-long-environment-name",
            "ami-0123456789abcdef0",
            12,
            "lineage-a",
            32,
        );
        assert_eq!(long.len(), 32, "{long}");
        let other = physical_name(
            "a-very-long-environment-name",
            "ami-0123456789abcdef0",
            12,
            "lineage-b",
            32,
        );
        assert_ne!(long, other);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(!long.starts_with('-') && !long.ends_with('-'));
    }
}
