//! Helpers shared by the AWS provider's tests: the emulator, SDK clients
//! pointed at it, the provider (in process or as a plugin) and the real
//! `kiln` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use kiln_provider_aws::AwsOptions;
use kiln_provider_aws::api::Clients;
use kiln_testkit::moto::Moto;
pub use kiln_testkit::{Kiln, TempProject};

pub fn moto() -> &'static Moto {
    Moto::shared()
}

pub fn options() -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(moto().endpoint()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    }
}

/// SDK clients on the emulator, for checking what exists without kiln.
pub async fn clients() -> Clients {
    Clients::load(None, &options()).await
}

/// A name unique in this test process and across runs against one emulator.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn plugin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kiln-provider-aws"))
}

/// A script that runs the plugin with the emulator's environment (the
/// host starts plugins with its own environment, which tests must not change).
pub fn plugin_wrapper(dir: &Path) -> PathBuf {
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in moto().env() {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    script.push_str(&format!("exec '{}' \"$@\"\n", plugin_path().display()));
    let path = dir.join("kiln-provider-aws");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// The `kiln` binary: `KILN_BIN` when set, else the one built next to the
/// plugin (`cargo test --workspace` builds both), else one built now in a
/// target directory of its own (a nested cargo on the running test's build
/// directory would wait for its lock forever).
pub fn kiln_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("KILN_BIN") {
            return PathBuf::from(bin);
        }
        let debug = plugin_path().parent().unwrap().to_path_buf();
        let sibling = debug.join("kiln");
        if sibling.is_file() {
            return sibling;
        }
        let own = debug.parent().unwrap().join("kiln-e2e");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "kiln-cli", "--bin", "kiln", "--target-dir"])
            .arg(&own)
            .status()
            .expect("run cargo to build kiln");
        assert!(status.success(), "cargo build -p kiln-cli failed");
        own.join("debug").join("kiln")
    })
    .clone()
}

/// A project holding `main.hcl`, and `kiln` on the emulator in it. The
/// plugin is found next to `kiln` or on `PATH`.
pub fn project(main: &str) -> (TempProject, Kiln) {
    let p = TempProject::new();
    p.write("main.hcl", main);
    let mut k = Kiln::new(kiln_bin(), p.path());
    for (key, v) in moto().env() {
        k = k.env(&key, &v);
    }
    // The plugin on PATH too, wherever kiln came from.
    let plugin_dir = plugin_path().parent().unwrap().to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![plugin_dir];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).unwrap();
    k = k.env("PATH", path.to_str().unwrap());
    (p, k)
}

/// The resource addresses in an environment's state file.
pub fn state_addrs(p: &TempProject, env: &str) -> Vec<String> {
    let Some(s) = p.state_json(env) else {
        return Vec::new();
    };
    s["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["addr"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The id kiln recorded for `addr` in an environment's state file.
pub fn state_id(p: &TempProject, env: &str, addr: &str) -> String {
    let s = p.state_json(env).expect("a state file");
    s["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["addr"] == addr))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("{addr} is not in the state of {env}"))
        .to_string()
}
