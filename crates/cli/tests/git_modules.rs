//! Git module sources end to end: a repository served by `git daemon` on
//! loopback, a configuration calling a module in it at a tag, `kiln init`
//! downloading and pinning it, the pin kept when the tag moves, and a plan
//! before `kiln init` saying what to run.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "kiln")
        .env("GIT_AUTHOR_EMAIL", "kiln@example.invalid")
        .env("GIT_COMMITTER_NAME", "kiln")
        .env("GIT_COMMITTER_EMAIL", "kiln@example.invalid")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `git daemon` serving `base` on 127.0.0.1, stopped when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(base: &Path) -> (Daemon, u16) {
    let port = free_port();
    let child = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
        ])
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start git daemon");
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "git daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, port)
}

#[test]
fn git_module_sources_are_downloaded_pinned_and_kept_by_kiln_init() {
    let served = tempfile::tempdir().unwrap();
    let repo = served.path().join("mods.git");
    std::fs::create_dir_all(repo.join("modules/web")).unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(
        repo.join("modules/web/main.tf"),
        "variable \"name\" {}\n\nresource \"null_resource\" \"r\" {\n  triggers = { n = var.name }\n}\n\noutput \"id\" {\n  value = null_resource.r.id\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "v1"]);
    git(&repo, &["tag", "v1"]);
    let v1 = git(&repo, &["rev-parse", "HEAD"]);
    let (_daemon, port) = serve(served.path());

    let source = format!("git::git://127.0.0.1:{port}/mods.git//modules/web?ref=v1");
    let (p, k) = project(&format!(
        "module \"web\" {{\n  source = \"{source}\"\n  name   = \"x\"\n}}\n\noutput \"id\" {{\n  value = module.web.id\n}}\n"
    ));
    let before = k.run(&["plan"]);
    assert_ne!(before.code, 0);
    assert!(
        before.stderr.contains("is not downloaded") && before.stderr.contains("kiln init"),
        "{}",
        before.stderr
    );

    let init = k.run(&["init"]);
    init.success();
    assert!(
        init.stderr
            .contains(&format!("Downloaded {source} at {}", &v1[..12])),
        "{}",
        init.stderr
    );
    let lock: serde_json::Value = serde_json::from_str(&p.read(".kiln/modules.lock.json")).unwrap();
    assert_eq!(
        lock["modules"][format!("git://127.0.0.1:{port}/mods.git@v1")],
        v1.as_str()
    );
    k.run(&["apply", "--yes"]).success();
    assert!(state_id(&p, "default", "module.web.null_resource.r").is_some());

    // The tag moves upstream; the pin holds, even for a fresh checkout.
    std::fs::write(
        repo.join("modules/web/extra.tf"),
        "output \"v\" {\n  value = 2\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "v2"]);
    git(&repo, &["tag", "-f", "v1"]);
    let again = k.run(&["init"]);
    again.success();
    assert!(
        again
            .stderr
            .contains(&format!("Using {source} at {}", &v1[..12])),
        "{}",
        again.stderr
    );
    std::fs::remove_dir_all(p.path().join(".kiln/.modules")).unwrap();
    let fresh = k.run(&["init"]);
    fresh.success();
    assert!(
        fresh
            .stderr
            .contains(&format!("Downloaded {source} at {}", &v1[..12])),
        "{}",
        fresh.stderr
    );
    assert!(!p.exists(".kiln/.modules/extra.tf"));
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A reference that does not exist is a clear error.
    p.write(
        "main.hcl",
        &format!("module \"web\" {{\n  source = \"git::git://127.0.0.1:{port}/mods.git//modules/web?ref=v9\"\n  name   = \"x\"\n}}\n"),
    );
    let bad = k.run(&["init"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("has no reference v9"), "{}", bad.stderr);
}
