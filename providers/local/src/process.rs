//! Detached processes: started in their own process group so they outlive
//! kiln and miss the terminal's Ctrl-C, checked through `/proc`, stopped with
//! SIGTERM then SIGKILL.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a process gets between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// What to start.
#[derive(Debug)]
pub(crate) struct Spawn<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub dir: &'a Path,
    pub log: &'a Path,
}

/// Starts a detached process (new process group, stdin null, output to the
/// log file). The child is reaped by a background thread while this process
/// lives, so a dead child never lingers as a zombie that looks alive.
pub(crate) fn spawn_detached(s: &Spawn<'_>) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    if let Some(parent) = s.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(s.log)?;
    let log2 = log.try_clone()?;
    Command::new(s.program)
        .args(s.args)
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .current_dir(s.dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn()
}

/// Waits for the child in a background thread, so that it does not stay a
/// zombie once it exits while kiln still runs.
pub(crate) fn reap(mut child: Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Whether a process with this pid exists and is not a zombie.
pub(crate) fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 0
    {
        let _ = kill(Pid::from_raw(raw), sig);
    }
}

/// Stops every process: SIGTERM, up to `grace` for them to exit, then
/// SIGKILL. Processes already gone are fine. Returns the pids that survived
/// even SIGKILL (normally none).
pub(crate) async fn terminate_all(pids: &[u32], grace: Duration) -> Vec<u32> {
    let live: Vec<u32> = pids.iter().copied().filter(|p| is_running(*p)).collect();
    for pid in &live {
        signal(*pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while live.iter().any(|p| is_running(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for pid in live.iter().filter(|p| is_running(**p)) {
        signal(*pid, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while live.iter().any(|p| is_running(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    live.into_iter().filter(|p| is_running(*p)).collect()
}

/// A free port on 127.0.0.1: bind port 0, read it, close.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// The last lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(5);
    lines[start..].join("\n")
}
