//! What every resource module shares: the SDK clients, the provider's
//! settings, errors, waits with timeouts, kiln's tags and physical names.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
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
    pub asg: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
}

/// How many times an SDK call is tried (with exponential backoff and jitter)
/// when AWS throttles or answers with a server error.
const MAX_ATTEMPTS: u32 = 6;

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
        let region = config
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| "us-east-1".into());
        // S3 on an emulator endpoint needs path-style addressing.
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            asg: aws_sdk_autoscaling::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
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
pub fn api<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        let code = e.code().map(str::to_string);
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
            ..Error::default()
        }
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

impl Ctx<'_> {
    /// The tags of a new object: the provider's default tags, the
    /// resource's own, then kiln's (which win).
    pub fn tags(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = self.settings.default_tags.clone();
        tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        tags.insert(TAG_ENV.into(), self.call.env.clone());
        tags.insert(TAG_ADDRESS.into(), self.call.address.clone());
        tags.insert(TAG_GENERATION.into(), self.call.generation.to_string());
        tags.insert(TAG_LINEAGE.into(), self.call.lineage.clone());
        tags.insert(TAG_KEY.into(), self.key.to_string());
        tags
    }

    /// The tags an update applies: default tags and the resource's own
    /// (kiln's tags are never changed after create).
    pub fn user_tags(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = self.settings.default_tags.clone();
        tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        tags
    }

    /// The physical name of a new object (see [`physical_name`]).
    pub fn name(&self, prefix: Option<&str>, max: usize) -> String {
        let resource = resource_name(&self.call.address);
        physical_name(
            &self.call.env,
            prefix.unwrap_or(&resource),
            self.call.generation,
            &self.call.lineage,
            max,
        )
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
