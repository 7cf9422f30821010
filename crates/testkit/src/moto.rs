//! The local AWS emulator: `moto` on a free loopback port, one per test
//! process, installed with pip if missing. Never a real account: the
//! credentials are dummies and every endpoint is `http://127.0.0.1:PORT`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Starts moto's threaded server and exits when the test process that
/// started it is gone, so no emulator outlives its tests.
///
/// moto checks an S3 write's `If-None-Match` / `If-Match` condition and then
/// writes, two steps with no lock between them, so two concurrent
/// conditional PUTs of one key can both succeed. S3 makes the check and the
/// write one atomic step, which kiln's lock and its no-lost-update writes
/// rely on; the launcher serializes moto's object writes and deletes so the
/// emulator behaves like S3 under concurrency.
const LAUNCHER: &str = r#"
import os, sys, time, threading
from moto.server import ThreadedMotoServer
from moto.s3.responses import S3Response
_s3_writes = threading.Lock()
def _atomic(f):
    def run(*args, **kwargs):
        with _s3_writes:
            return f(*args, **kwargs)
    return run
for _name in ("put_object", "delete_object"):
    setattr(S3Response, _name, _atomic(getattr(S3Response, _name)))
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.5)
server.stop()
"#;

/// A running emulator.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// The emulator shared by every test of this process (started on first use).
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| {
            Moto::start().unwrap_or_else(|e| panic!("cannot start the AWS emulator: {e}"))
        })
    }

    /// Starts a new emulator (installing moto first if needed).
    pub fn start() -> Result<Moto, String> {
        ensure_installed()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut child = Command::new(python())
            .args(["-c", LAUNCHER, &port.to_string()])
            // A requested ACM certificate is issued after this many seconds
            // (moto's default is 60; AWS takes minutes after DNS validation).
            .env("MOTO_ACM_VALIDATION_WAIT", "2")
            // moto runs no containers: an ECS service reports this many
            // tasks running (kiln's health check waits for the desired
            // count, at most 3 in the tests).
            .env("MOTO_ECS_SERVICE_RUNNING", "3")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http(port, "GET", "/moto-api/reset", "").is_ok() {
                return Ok(Moto { child, port });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("moto exited with {status} before it was ready"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("moto did not answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that points the AWS SDK (and kiln) at the emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// One plain (unsigned) S3 request, path-style: `/BUCKET/KEY`; the
    /// status code and the body. moto does not check signatures.
    pub fn s3(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        // moto treats a request without credentials as anonymous (and
        // refuses reads of a private bucket); it does not check signatures.
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n";
        let answer = http_with(self.port, method, path, auth, body).expect("an S3 request to moto");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Creates a bucket (a no-op if this test process made it already).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.s3("PUT", &format!("/{bucket}"), "");
        assert!(
            status == 200 || body.contains("BucketAlreadyOwnedByYou"),
            "creating bucket {bucket}: {status} {body}"
        );
    }

    /// Creates a symmetric AWS KMS key (KMS's JSON protocol, unsigned:
    /// moto does not check signatures); its KeyId.
    pub fn kms_create_key(&self) -> String {
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0\r\nX-Amz-Target: TrentService.CreateKey\r\nContent-Type: application/x-amz-json-1.1\r\n";
        let answer = http_with(self.port, "POST", "/", auth, "{}").expect("a KMS request to moto");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let doc: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("KMS CreateKey answered {answer:?}: {e}"));
        doc["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap_or_else(|| panic!("KMS CreateKey answered {answer:?}"))
            .to_string()
    }

    /// Forgets every resource the emulator holds.
    pub fn reset(&self) {
        http(self.port, "POST", "/moto-api/reset", "").expect("reset moto");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> &'static str {
    "python3"
}

/// Installs `moto[server]` with pip unless it is importable already.
pub fn ensure_installed() -> Result<(), String> {
    let importable = || {
        Command::new(python())
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if importable() {
        return Ok(());
    }
    let status = Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "moto[server]>=5,<6",
        ])
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !status.success() || !importable() {
        return Err("`python3 -m pip install 'moto[server]'` failed; install it by hand and run the tests again".into());
    }
    Ok(())
}

/// A minimal HTTP/1.0 request on loopback; the status line and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    http_with(port, method, path, "", body)
}

/// [`http`] with extra header lines (each ending in CRLF).
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    if !out.starts_with("HTTP/1.") {
        return Err(std::io::Error::other(format!(
            "not an HTTP answer: {out:?}"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_resets() {
        let m = Moto::shared();
        let answer = http(m.port, "POST", "/moto-api/reset", "").unwrap();
        assert!(
            answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
            "{answer}"
        );
        m.reset();
        assert!(
            m.env()
                .iter()
                .any(|(k, v)| k == "AWS_ENDPOINT_URL" && v.starts_with("http://127.0.0.1:"))
        );
    }
}
