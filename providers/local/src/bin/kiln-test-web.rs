//! A tiny web app for tests of `local_service` and `local_balancer`: it
//! listens on 127.0.0.1:$PORT and answers every request with the text of
//! `$VERSION` (and the replica number), or with 500 when `UNHEALTHY=1`.
//! With `EXIT_AT_START=1` it exits at once with status 3.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn answer(mut s: TcpStream, body: &str, unhealthy: bool) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let status = if unhealthy {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let resp = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes());
}

fn main() -> std::process::ExitCode {
    if std::env::var("EXIT_AT_START").as_deref() == Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "kiln-test-web: exiting at start as asked"
        );
        return std::process::ExitCode::from(3);
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let version = std::env::var("VERSION").unwrap_or_else(|_| "unversioned".into());
    let replica = std::env::var("KILN_REPLICA").unwrap_or_default();
    let unhealthy = std::env::var("UNHEALTHY").as_deref() == Ok("1");
    let body = format!("{version} {replica}\n");
    let listener = match TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap_or(0))) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "kiln-test-web: cannot listen on {port}: {e}"
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    for s in listener.incoming().flatten() {
        let body = body.clone();
        std::thread::spawn(move || answer(s, &body, unhealthy));
    }
    std::process::ExitCode::SUCCESS
}
