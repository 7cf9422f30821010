//! A tiny HTTP/1.0 client for health checks: one GET, the status line read,
//! everything within a timeout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `GET path` to `addr` and returns the status code and reason, or
/// what went wrong, in words for the user.
pub(crate) async fn get(
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    match tokio::time::timeout(timeout, get_inner(addr, path)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn get_inner(addr: &str, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: kiln\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    // Only the status line matters; read until it is complete or the
    // connection closes.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let line = line.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    let mut parts = line.splitn(3, ' ');
    let proto = parts.next().unwrap_or("");
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if proto.starts_with("HTTP/") => {
            Ok((code, parts.next().unwrap_or("").to_string()))
        }
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}
