//! Git module sources end to end: a repository served by `git daemon` on
//! loopback, a configuration calling a module in it at a tag, `kiln init`
//! downloading and pinning it, the pin kept when the tag moves, and a plan
//! before `kiln init` saying what to run; and registry modules, from a
//! registry served on loopback (Terraform's module registry protocol) whose
//! versions live in that repository.

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

/// A module registry on loopback, speaking Terraform's module registry
/// protocol: service discovery, the version list of `acme/web/null`, and a
/// download answer (204, `X-Terraform-Get`) pointing at the tag of the
/// version in the git repository served beside it. Serves until dropped;
/// every request path is recorded.
struct Registry {
    port: u16,
    versions: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Registry {
    fn start(git_port: u16, versions: &[&str]) -> Registry {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let versions = std::sync::Arc::new(std::sync::Mutex::new(
            versions.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        ));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (v, s, st) = (versions.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                s.lock().unwrap().push(path.clone());
                let (status, headers, body) = match path.as_str() {
                    "/.well-known/terraform.json" => (
                        "200 OK",
                        String::new(),
                        r#"{"modules.v1":"/v1/modules/"}"#.to_string(),
                    ),
                    "/v1/modules/acme/web/null/versions" => {
                        let list: Vec<String> = v
                            .lock()
                            .unwrap()
                            .iter()
                            .map(|x| format!(r#"{{"version":"{x}"}}"#))
                            .collect();
                        (
                            "200 OK",
                            String::new(),
                            format!(r#"{{"modules":[{{"versions":[{}]}}]}}"#, list.join(",")),
                        )
                    }
                    p if p.starts_with("/v1/modules/acme/web/null/")
                        && p.ends_with("/download") =>
                    {
                        let version = p.split('/').nth(6).unwrap_or("");
                        (
                            "204 No Content",
                            format!(
                                "X-Terraform-Get: git::git://127.0.0.1:{git_port}/mods.git//modules/web?ref=v{version}\r\n"
                            ),
                            String::new(),
                        )
                    }
                    _ => ("404 Not Found", String::new(), "{}".to_string()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Registry {
            port,
            versions,
            seen,
            stop,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn registry_modules_resolve_their_version_constraint_and_stay_pinned() {
    let served = tempfile::tempdir().unwrap();
    let repo = served.path().join("mods.git");
    std::fs::create_dir_all(repo.join("modules/web")).unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    let release = |v: &str| {
        std::fs::write(
            repo.join("modules/web/main.tf"),
            format!("variable \"name\" {{}}\n\nresource \"null_resource\" \"r\" {{\n  triggers = {{ n = var.name }}\n}}\n\noutput \"release\" {{\n  value = \"{v}\"\n}}\n"),
        )
        .unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "--quiet", "-m", v]);
        git(&repo, &["tag", &format!("v{v}")]);
    };
    for v in ["1.0.0", "1.2.0", "2.0.0"] {
        release(v);
    }
    let (_daemon, git_port) = serve(served.path());
    let registry = Registry::start(git_port, &["1.0.0", "1.2.0", "2.0.0"]);

    let source = format!("127.0.0.1:{}/acme/web/null", registry.port);
    let (p, k) = project(&format!(
        "module \"web\" {{\n  source  = \"{source}\"\n  version = \"~> 1.0\"\n  name    = \"x\"\n}}\n\noutput \"release\" {{\n  value = module.web.release\n}}\n"
    ));
    let before = k.run(&["plan"]);
    assert_ne!(before.code, 0);
    assert!(before.stderr.contains("kiln init"), "{}", before.stderr);

    // ~> 1.0 is the newest 1.x: 1.2.0.
    let init = k.run(&["init"]);
    init.success();
    assert!(
        init.stderr
            .contains(&format!("Downloaded {source} at 1.2.0")),
        "{}",
        init.stderr
    );
    k.run(&["apply", "--yes"]).success();
    let out = k.run(&["output", "release"]);
    assert!(out.stdout.contains("1.2.0"), "{}", out.all());
    let lock: serde_json::Value = serde_json::from_str(&p.read(".kiln/modules.lock.json")).unwrap();
    assert_eq!(
        lock["registry"][format!("{source}@~> 1.0")]["version"],
        "1.2.0"
    );

    // 1.3.0 is published: the pin holds, and a run with the module there
    // asks nothing of the registry.
    release("1.3.0");
    registry.versions.lock().unwrap().push("1.3.0".into());
    registry.seen.lock().unwrap().clear();
    let again = k.run(&["init"]);
    again.success();
    assert!(
        again.stderr.contains(&format!("Using {source} at 1.2.0")),
        "{}",
        again.stderr
    );
    assert!(registry.seen.lock().unwrap().is_empty());
    k.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A constraint the pin no longer meets resolves again: = 1.3.0.
    p.write(
        "main.hcl",
        &format!("module \"web\" {{\n  source  = \"{source}\"\n  version = \"1.3.0\"\n  name    = \"x\"\n}}\n\noutput \"release\" {{\n  value = module.web.release\n}}\n"),
    );
    let newer = k.run(&["init"]);
    newer.success();
    assert!(
        newer
            .stderr
            .contains(&format!("Downloaded {source} at 1.3.0")),
        "{}",
        newer.stderr
    );
    k.run(&["apply", "--yes"]).success();
    assert!(k.run(&["output", "release"]).stdout.contains("1.3.0"));

    // No version matches: a clear error naming what there is.
    p.write(
        "main.hcl",
        &format!("module \"web\" {{\n  source  = \"{source}\"\n  version = \">= 3.0\"\n  name    = \"x\"\n}}\n"),
    );
    let none = k.run(&["init"]);
    assert_ne!(none.code, 0);
    assert!(
        none.stderr.contains("no version of acme/web/null")
            && none.stderr.contains("1.0.0, 1.2.0, 1.3.0, 2.0.0"),
        "{}",
        none.stderr
    );
}
