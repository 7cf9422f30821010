//! `kiln`: the command-line front end.
//!
//! Each command is a short function over one operation of `kiln_ops`
//! (see `commands`);
//! everything the user sees goes through `output`. Errors are `anyhow` and
//! print with their whole cause chain; exit codes are 0 (success), 1 (error)
//! and, with `--detailed-exitcode`, 2 (changes present).

mod args;
mod commands;
mod envs;
mod fmt;
mod output;
mod render;
mod report;
mod rollback;
mod workspace;

use std::process::ExitCode;

/// Planning allocates many small values; glibc's allocator spent over a third
/// of a 100,000-resource plan in malloc and free (perf, docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    // The local provider's balancer runs as a detached `kiln __balancer DIR`
    // process; it needs neither clap's full parse nor the async runtime here.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__balancer") {
        return kiln_provider_local::balancer::balancer_main(&argv[2..]);
    }
    let cli = args::Cli::parse();
    let out = output::Output::new(cli.global.no_color);
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("KILN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let started = std::time::Instant::now();
    let code = match runtime.block_on(commands::run(cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error_chain(&e);
            ExitCode::from(1)
        }
    };
    if std::env::var_os("KILN_STATS").is_some() {
        out.status(&stats_line(started.elapsed()));
    }
    code
}

/// `KILN_STATS=1`: the command's wall time and peak memory, on stderr (the
/// benchmark reads them; handy when reporting a slow run).
fn stats_line(elapsed: std::time::Duration) -> String {
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    match peak_kib {
        Some(kib) => format!(
            "kiln-stats: wall {:.3} s, peak memory {:.1} MiB",
            elapsed.as_secs_f64(),
            kib as f64 / 1024.0
        ),
        None => format!(
            "kiln-stats: wall {:.3} s, peak memory unknown (no /proc/self/status)",
            elapsed.as_secs_f64()
        ),
    }
}
