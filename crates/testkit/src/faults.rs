//! A loopback HTTP proxy in front of the AWS emulator that injects the
//! faults AWS sends, so tests see them without a real account:
//!
//! - **throttling**, exactly as each service sends it: EC2 answers `503`
//!   with `RequestLimitExceeded` in its `<Response><Errors>` document; Auto
//!   Scaling and ELBv2 answer `400` with `Throttling` in an `<ErrorResponse>`
//!   (AWS's query protocol); S3 answers `503 SlowDown`. The call never
//!   reaches the emulator.
//! - **server errors**: `500 InternalError` (EC2, S3) / `InternalFailure`
//!   (query services); the call never reaches the emulator.
//! - **lost answers**: the call *runs* on the emulator, and its answer is
//!   replaced by a `500` — AWS documents that a request can succeed although
//!   the client received an error.
//! - **resets**: the call runs, then the connection is closed with no answer.
//! - **latency**: the answer is held back for a fixed time.
//!
//! Faults are drawn per request from a seeded generator, so a run can be
//! repeated; the service of a request is read from its SigV4 credential
//! scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`), and only the
//! services in [`FaultPlan::services`] get faults. The proxy speaks just
//! enough HTTP/1.1 for the AWS SDK: one request per connection
//! (`Connection: close`), bodies by `Content-Length` or chunked. It binds
//! 127.0.0.1 only and stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What to inject, as the probability of each fault per request (their sum
/// at most 1).
#[derive(Debug, Clone)]
pub struct FaultPlan {
    pub seed: u64,
    pub throttle: f64,
    pub server_error: f64,
    pub lost_answer: f64,
    pub reset: f64,
    /// Probability and duration of a delayed answer (drawn independently).
    pub latency: (f64, Duration),
    /// The SigV4 service names that get faults (`ec2`, `autoscaling`,
    /// `elasticloadbalancing`, `s3`); the others pass untouched.
    pub services: Vec<String>,
    /// When set, only requests whose request line contains it get faults
    /// (`"?delete"`: S3's DeleteObjects, `POST /BUCKET?delete`).
    pub only: Option<String>,
    /// Enforce EC2's documented token buckets (see `Ec2Limits`): a request
    /// beyond them is throttled as EC2 throttles it.
    pub ec2_rate_limits: bool,
}

impl FaultPlan {
    /// No faults: a plain pass-through, for a baseline.
    pub fn none(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            throttle: 0.0,
            server_error: 0.0,
            lost_answer: 0.0,
            reset: 0.0,
            latency: (0.0, Duration::ZERO),
            services: ["ec2", "autoscaling", "elasticloadbalancing"]
                .map(String::from)
                .to_vec(),
            only: None,
            ec2_rate_limits: false,
        }
    }
}

/// What the proxy did, counted per fault, and the calls it saw per
/// operation.
#[derive(Debug, Default)]
pub struct FaultStats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub lost_answers: AtomicU64,
    pub resets: AtomicU64,
    pub delayed: AtomicU64,
    calls: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl FaultStats {
    /// The calls seen since the last [`FaultStats::take_calls`], by
    /// `service:Operation` (see [`operation`]), and forgets them.
    pub fn take_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// One line: `N requests: T throttled, E server errors, L lost answers, R resets, D delayed`.
    pub fn summary(&self) -> String {
        let n = |a: &AtomicU64| a.load(Ordering::SeqCst);
        format!(
            "{} requests: {} throttled, {} server errors, {} lost answers, {} resets, {} delayed",
            n(&self.requests),
            n(&self.throttled),
            n(&self.server_errors),
            n(&self.lost_answers),
            n(&self.resets),
            n(&self.delayed)
        )
    }

    /// Faults injected so far (all kinds but latency).
    pub fn faults(&self) -> u64 {
        [
            &self.throttled,
            &self.server_errors,
            &self.lost_answers,
            &self.resets,
        ]
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .sum()
    }
}

/// A running proxy; stops (and stops accepting) when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    pub port: u16,
    pub stats: Arc<FaultStats>,
    plan: Arc<Mutex<(FaultPlan, u64)>>,
    stop: Arc<AtomicBool>,
}

/// EC2's documented token buckets, enforced per account as EC2 does
/// ("Request throttling for the Amazon EC2 API"): a request bucket per
/// action (non-mutating `Describe*`/`Get*`/`List*`: 100 tokens refilled at
/// 20 per second; every other action: 50 at 5), and for the instance
/// actions a resource bucket counting instances (`RunInstances` and
/// `StartInstances`: 1,000 at 2 per second; `StopInstances` and
/// `TerminateInstances`: 1,000 at 20). A request that finds a bucket short
/// is throttled (`RequestLimitExceeded`) and takes nothing.
#[derive(Debug, Default)]
struct Ec2Limits {
    /// Bucket name → (tokens, size, refill per second, last refill).
    buckets: Mutex<std::collections::HashMap<String, (f64, f64, f64, std::time::Instant)>>,
}

impl Ec2Limits {
    /// Whether the request may run (and takes its tokens if so).
    fn admit(&self, body: &[u8]) -> bool {
        let body = String::from_utf8_lossy(body);
        let param = |name: &str| {
            body.split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        let Some(action) = param("Action") else {
            return true;
        };
        let reading = ["Describe", "Get", "List"]
            .iter()
            .any(|p| action.starts_with(p));
        let mut wanted = vec![(
            action.clone(),
            if reading { (100.0, 20.0) } else { (50.0, 5.0) },
            1.0,
        )];
        let ids = body
            .split('&')
            .filter(|kv| kv.starts_with("InstanceId."))
            .count()
            .max(1) as f64;
        match action.as_str() {
            "RunInstances" => wanted.push((
                "instances:run".into(),
                (1000.0, 2.0),
                param("MaxCount")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1.0),
            )),
            "StartInstances" => wanted.push(("instances:start".into(), (1000.0, 2.0), ids)),
            "StopInstances" => wanted.push(("instances:stop".into(), (1000.0, 20.0), ids)),
            "TerminateInstances" => {
                wanted.push(("instances:terminate".into(), (1000.0, 20.0), ids));
            }
            _ => {}
        }
        let Ok(mut map) = self.buckets.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        let mut ok = true;
        for (name, (size, refill), cost) in &wanted {
            let b = map
                .entry(name.clone())
                .or_insert((*size, *size, *refill, now));
            let dt = now.saturating_duration_since(b.3).as_secs_f64();
            b.0 = (b.0 + dt * b.2).min(b.1);
            b.3 = now;
            ok &= b.0 + 1e-9 >= cost.min(*size);
        }
        if ok {
            for (name, (size, _), cost) in &wanted {
                if let Some(b) = map.get_mut(name) {
                    b.0 -= cost.min(*size);
                }
            }
        }
        ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Pass,
    Throttle,
    ServerError,
    LostAnswer,
    Reset,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port forwarding to
    /// `127.0.0.1:upstream`.
    pub fn start(upstream: u16, plan: FaultPlan) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(FaultStats::default());
        let state = plan.seed;
        let plan = Arc::new(Mutex::new((plan, state)));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (stats, plan, stop) = (stats.clone(), plan.clone(), stop.clone());
            let limits = Arc::new(Ec2Limits::default());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stats, plan, limits) = (stats.clone(), plan.clone(), limits.clone());
                    thread::spawn(move || {
                        let _ = serve(conn, upstream, &plan, &stats, &limits);
                    });
                }
            });
        }
        Ok(FaultProxy {
            port,
            stats,
            plan,
            stop,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes what is injected from the next request on (a test turns
    /// faults off to check the result through the same proxy).
    pub fn set_plan(&self, plan: FaultPlan) {
        if let Ok(mut p) = self.plan.lock() {
            p.0 = plan;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// splitmix64: small, seedable, good enough to draw faults.
fn next(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn draw(
    plan: &Mutex<(FaultPlan, u64)>,
    service: &str,
    request_line: &str,
) -> (Fault, Option<Duration>) {
    let Ok(mut guard) = plan.lock() else {
        return (Fault::Pass, None);
    };
    let (plan, state) = &mut *guard;
    if !plan.services.iter().any(|s| s == service)
        || plan
            .only
            .as_ref()
            .is_some_and(|o| !request_line.contains(o.as_str()))
    {
        return (Fault::Pass, None);
    }
    let r = next(state);
    let delay = (next(state) < plan.latency.0).then_some(plan.latency.1);
    let mut edge = 0.0;
    for (p, fault) in [
        (plan.throttle, Fault::Throttle),
        (plan.server_error, Fault::ServerError),
        (plan.lost_answer, Fault::LostAnswer),
        (plan.reset, Fault::Reset),
    ] {
        edge += p;
        if r < edge {
            return (fault, delay);
        }
    }
    (Fault::Pass, delay)
}

/// A request as read off the wire: its head (request line and headers,
/// `Connection` dropped) and its body bytes as sent (chunked or not).
struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        head.push(line);
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = String::new();
            r.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size =
                usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0").trim(), 16)
                    .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                // Trailers end with an empty line; the 2 bytes read were it
                // when there are none.
                break;
            }
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Request { head, body }))
}

/// The operation a request calls: the `X-Amz-Target` action (JSON
/// protocols: ECS, ACM), the `Action=` parameter (query protocols: EC2,
/// Auto Scaling, ELBv2, IAM, STS, CloudWatch), else the method and the
/// path's words (REST protocols: Route 53, S3), ids left out.
pub fn operation(head: &[String], body: &[u8]) -> String {
    if let Some(target) = head.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-amz-target")
            .then(|| v.trim().to_string())
    }) {
        return target.rsplit('.').next().unwrap_or(&target).to_string();
    }
    let body = String::from_utf8_lossy(body);
    if let Some(rest) = body.split("Action=").nth(1) {
        return rest.split('&').next().unwrap_or(rest).trim().to_string();
    }
    let line = head.first().map(String::as_str).unwrap_or("");
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
    let words: Vec<&str> = path
        .split('/')
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    format!("{method} {}", words.join("/"))
}

/// The SigV4 service of a request (`ec2`, `s3`, ...), or `""`.
fn service(head: &[String]) -> String {
    head.iter()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("")
        .to_string()
}

fn serve(
    client: TcpStream,
    upstream: u16,
    plan: &Mutex<(FaultPlan, u64)>,
    stats: &FaultStats,
    limits: &Ec2Limits,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    let mut client = client;
    stats.requests.fetch_add(1, Ordering::SeqCst);
    let service = service(&req.head);
    if let Ok(mut calls) = stats.calls.lock() {
        *calls
            .entry(format!("{service}:{}", operation(&req.head, &req.body)))
            .or_default() += 1;
    }
    let line = req.head.first().map(String::as_str).unwrap_or("");
    let (mut fault, delay) = draw(plan, &service, line);
    let limited = plan.lock().is_ok_and(|p| p.0.ec2_rate_limits);
    if limited && service == "ec2" && fault == Fault::Pass && !limits.admit(&req.body) {
        fault = Fault::Throttle;
    }
    if let Some(d) = delay {
        stats.delayed.fetch_add(1, Ordering::SeqCst);
        thread::sleep(d);
    }
    match fault {
        Fault::Throttle => {
            stats.throttled.fetch_add(1, Ordering::SeqCst);
            return answer_error(&mut client, &service, true);
        }
        Fault::ServerError => {
            stats.server_errors.fetch_add(1, Ordering::SeqCst);
            return answer_error(&mut client, &service, false);
        }
        Fault::Pass | Fault::LostAnswer | Fault::Reset => {}
    }
    let response = forward(upstream, &req)?;
    match fault {
        Fault::LostAnswer => {
            stats.lost_answers.fetch_add(1, Ordering::SeqCst);
            answer_error(&mut client, &service, false)
        }
        Fault::Reset => {
            stats.resets.fetch_add(1, Ordering::SeqCst);
            client.shutdown(Shutdown::Both)
        }
        _ => {
            client.write_all(&close_after(&response))?;
            client.flush()
        }
    }
}

/// Sends the request to the emulator and reads its whole answer.
fn forward(upstream: u16, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out = Vec::new();
    for line in &req.head {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    Ok(response)
}

/// The emulator's answer with `Connection: close` (the proxy serves one
/// request per connection).
fn close_after(response: &[u8]) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response[end + 4..]);
    bytes
}

/// An error answer in the service's own format.
fn answer_error(client: &mut TcpStream, service: &str, throttle: bool) -> std::io::Result<()> {
    let id = "kiln-fault-proxy";
    let (status, body) = match (service, throttle) {
        ("ec2", true) => (
            "503 Service Unavailable",
            ec2_error("RequestLimitExceeded", "Request limit exceeded.", id),
        ),
        ("ec2", false) => (
            "500 Internal Server Error",
            ec2_error(
                "InternalError",
                "An internal error has occurred. Retry your request.",
                id,
            ),
        ),
        ("s3", true) => (
            "503 Slow Down",
            s3_error("SlowDown", "Please reduce your request rate.", id),
        ),
        ("s3", false) => (
            "500 Internal Server Error",
            s3_error(
                "InternalError",
                "We encountered an internal error. Please try again.",
                id,
            ),
        ),
        (_, true) => (
            "400 Bad Request",
            query_error("Sender", "Throttling", "Rate exceeded", id),
        ),
        (_, false) => (
            "500 Internal Server Error",
            query_error(
                "Receiver",
                "InternalFailure",
                "The request processing has failed because of an unknown error.",
                id,
            ),
        ),
    };
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nx-amzn-RequestId: {id}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(text.as_bytes())?;
    client.flush()
}

fn ec2_error(code: &str, message: &str, id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{id}</RequestID></Response>"
    )
}

fn query_error(kind: &str, code: &str, message: &str, id: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"
    )
}

fn s3_error(code: &str, message: &str, id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{id}</RequestId></Error>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_by_protocol() {
        let head = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(
            operation(
                &head(&[
                    "POST / HTTP/1.1",
                    "X-Amz-Target: AmazonEC2ContainerServiceV20141113.DescribeServices"
                ]),
                b"{}"
            ),
            "DescribeServices"
        );
        assert_eq!(
            operation(
                &head(&["POST / HTTP/1.1"]),
                b"Action=DescribeInstances&Version=2016-11-15"
            ),
            "DescribeInstances"
        );
        assert_eq!(
            operation(
                &head(&["GET /2013-04-01/hostedzone/Z123ABC/rrset?x=1 HTTP/1.1"]),
                b""
            ),
            "GET hostedzone/rrset"
        );
    }

    #[test]
    fn draws_follow_the_plan_and_repeat_with_the_seed() {
        let mut plan = FaultPlan::none(7);
        plan.lost_answer = 0.3;
        plan.throttle = 0.1;
        let m = Mutex::new((plan.clone(), plan.seed));
        let first: Vec<Fault> = (0..2000)
            .map(|_| draw(&m, "ec2", "POST / HTTP/1.1").0)
            .collect();
        let lost = first.iter().filter(|f| **f == Fault::LostAnswer).count();
        let throttled = first.iter().filter(|f| **f == Fault::Throttle).count();
        assert!((500..700).contains(&lost), "{lost} lost answers of 2000");
        assert!((140..260).contains(&throttled), "{throttled} throttled");
        let again = Mutex::new((plan.clone(), plan.seed));
        let second: Vec<Fault> = (0..2000)
            .map(|_| draw(&again, "ec2", "POST / HTTP/1.1").0)
            .collect();
        assert_eq!(first, second, "one seed, one sequence");
        assert_eq!(
            draw(&m, "sts", "POST /").0,
            Fault::Pass,
            "other services pass"
        );
        plan.only = Some("?delete".into());
        plan.throttle = 1.0;
        let only = Mutex::new((plan.clone(), plan.seed));
        assert_eq!(
            draw(&only, "ec2", "POST /b?delete HTTP/1.1").0,
            Fault::Throttle
        );
        assert_eq!(draw(&only, "ec2", "PUT /b/k HTTP/1.1").0, Fault::Pass);
    }

    #[test]
    fn the_service_comes_from_the_credential_scope() {
        let head = vec![
            "POST / HTTP/1.1".to_string(),
            "authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0".to_string(),
        ];
        assert_eq!(service(&head), "elasticloadbalancing");
        assert_eq!(service(&head[..1]), "");
    }

    #[test]
    fn a_lost_answer_runs_the_call_and_answers_an_error() {
        // A one-shot upstream that counts what reaches it.
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = upstream.local_addr().unwrap().port();
        let seen = Arc::new(AtomicU64::new(0));
        {
            let seen = seen.clone();
            thread::spawn(move || {
                for conn in upstream.incoming().take(2) {
                    let mut conn = conn.unwrap();
                    let mut r = BufReader::new(conn.try_clone().unwrap());
                    read_request(&mut r).unwrap();
                    seen.fetch_add(1, Ordering::SeqCst);
                    conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .unwrap();
                }
            });
        }
        let mut plan = FaultPlan::none(1);
        plan.lost_answer = 1.0;
        let proxy = FaultProxy::start(port, plan.clone()).unwrap();
        let call = || {
            let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
            s.write_all(b"POST / HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/ec2/aws4_request\r\nContent-Length: 4\r\n\r\nbody")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let lost = call();
        assert!(lost.starts_with("HTTP/1.1 500"), "{lost}");
        assert!(lost.contains("<Code>InternalError</Code>"), "{lost}");
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the call ran");
        plan.lost_answer = 0.0;
        proxy.set_plan(plan);
        let ok = call();
        assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with("ok"), "{ok}");
        assert!(ok.contains("Connection: close"), "{ok}");
        assert_eq!(proxy.stats.lost_answers.load(Ordering::SeqCst), 1);
        assert_eq!(proxy.stats.requests.load(Ordering::SeqCst), 2);
    }
}
