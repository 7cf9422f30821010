//! Invariants that test themselves: the crate graph, the module graph, who
//! may print, what the pure crates may touch, what a test may be, and that
//! every declared dependency is used. Each check reads the workspace as it
//! is (`cargo metadata` and the sources) and fails with the place to fix.
//! The rules are docs/architecture.md's, which holds the dependency table
//! this test reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One workspace package, as `cargo metadata` describes it.
struct Package {
    /// The name without `kiln-` (`plan`, `provider-aws`).
    short: String,
    dir: PathBuf,
    /// Dependencies: (package name, kind: "normal", "dev" or "build").
    deps: Vec<(String, String, Option<String>)>,
}

fn packages() -> Vec<Package> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| Package {
            short: p["name"]
                .as_str()
                .unwrap()
                .trim_start_matches("kiln-")
                .to_string(),
            dir: Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf(),
            deps: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().unwrap().to_string(),
                        d["kind"].as_str().unwrap_or("normal").to_string(),
                        d["rename"].as_str().map(str::to_string),
                    )
                })
                .collect(),
        })
        .collect()
}

/// The table under "## Dependencies" in docs/architecture.md: crate → the
/// crates of ours it may depend on.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("## Dependencies")
        .nth(1)
        .expect("docs/architecture.md has a ## Dependencies section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| crate"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let may = cells[1]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            (cells[0].to_string(), may)
        })
        .collect()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A source file's text before its `#[cfg(test)]` module, if any: what the
/// library itself compiles.
fn library_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn rel(path: &Path) -> String {
    let root = std::fs::canonicalize(root()).unwrap();
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// Whether `text` contains `word` not inside a longer identifier.
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[test]
fn crates_depend_only_as_the_architecture_table_allows() {
    let table = allowed();
    let ours: BTreeSet<String> = packages().iter().map(|p| p.short.clone()).collect();
    let mut wrong = Vec::new();
    for p in packages() {
        let Some(may) = table.get(&p.short) else {
            wrong.push(format!(
                "{} is not in the table of docs/architecture.md (## Dependencies): add its row",
                p.short
            ));
            continue;
        };
        for (name, kind, _) in &p.deps {
            let short = name.trim_start_matches("kiln-");
            if kind == "dev" || !ours.contains(short) || short == p.short {
                continue;
            }
            if !may.contains(short) {
                wrong.push(format!(
                    "{} depends on {short}, which the table of docs/architecture.md does not allow (may depend on: {})",
                    p.short,
                    may.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_table_rejects_a_dependency_it_does_not_list() {
    // The check above is only as good as its reading of the table: a row
    // that says nothing may be used must read as empty, not as "anything".
    let table = allowed();
    assert!(table["diag"].is_empty());
    assert!(table["engine"].contains("plan"));
    assert!(!table["engine"].contains("config"));
    assert!(!table["plan"].contains("provider"));
}

#[test]
fn no_module_imports_from_a_module_that_imports_from_it() {
    let mut cycles = Vec::new();
    for p in packages() {
        let src = p.dir.join("src");
        // Top-level modules: `src/NAME.rs` and `src/NAME/`.
        let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for file in rust_files(&src) {
            let first = file
                .strip_prefix(&src)
                .unwrap()
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if first == "lib" || first == "main" || first == "bin" {
                continue;
            }
            modules.entry(first).or_default().push(file);
        }
        let names: BTreeSet<&String> = modules.keys().collect();
        let mut edges: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
        for (m, files) in &modules {
            let uses = edges.entry(m).or_default();
            for f in files {
                let text = library_text(f);
                for (i, _) in text.match_indices("crate::") {
                    let name: String = text[i + 7..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if let Some(n) = names.get(&name)
                        && *n != m
                    {
                        uses.insert(n);
                    }
                }
            }
        }
        // Every strongly connected set of modules with more than one member.
        for (a, targets) in &edges {
            for b in targets {
                if a < b && reaches(&edges, b, a) {
                    cycles.push(format!(
                        "{}: module {a} imports from {b}, and {b} (directly or not) from {a}; move what they share to a leaf module",
                        p.short
                    ));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "{}", cycles.join("\n"));
}

/// Whether `to` is reachable from `from` in `edges`.
fn reaches(edges: &BTreeMap<&String, BTreeSet<&String>>, from: &String, to: &String) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n) {
            stack.extend(edges.get(n).into_iter().flatten().copied());
        }
    }
    false
}

/// Places that may write to the terminal, and why.
const MAY_PRINT: &[(&str, &str)] = &[
    ("crates/cli/src/output.rs", "the CLI's one output module"),
    (
        "crates/cli/src/main.rs",
        "hands stderr to the log subscriber",
    ),
    (
        "crates/provider/src/protocol.rs",
        "a plugin's stdin and stdout are its protocol, not the terminal",
    ),
    (
        "providers/local/src/balancer.rs",
        "the balancer runs as its own process and logs to its stderr",
    ),
    ("providers/local/src/bin/", "test executables"),
    ("crates/testkit/src/", "the dev-only test kit"),
];

#[test]
fn only_the_cli_output_module_writes_to_the_terminal() {
    let needles = [
        concat!("print", "ln!"),
        concat!("eprint", "ln!"),
        concat!("print", "!("),
        concat!("eprint", "!("),
        concat!("dbg", "!("),
        concat!("io::std", "out()"),
        concat!("io::std", "err()"),
        concat!("io::std", "err)"),
    ];
    let mut found = Vec::new();
    for p in packages() {
        for file in rust_files(&p.dir.join("src")) {
            let name = rel(&file);
            if MAY_PRINT.iter().any(|(place, _)| name.starts_with(place)) {
                continue;
            }
            let text = library_text(&file);
            for n in needles {
                if text.contains(n) {
                    found.push(format!("{name}: {n} (write through the CLI's output module, or report to the caller)"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn config_state_and_plan_touch_no_runtime_file_system_or_network() {
    let needles = [
        "tokio",
        "std::fs",
        "std::process",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "std::env::var",
    ];
    let mut found = Vec::new();
    for p in packages() {
        if !["config", "state", "plan"].contains(&p.short.as_str()) {
            continue;
        }
        for (name, kind, _) in &p.deps {
            if kind == "normal"
                && (name == "tokio" || name.starts_with("aws-") || name == "reqwest")
            {
                found.push(format!("{} depends on {name}", p.short));
            }
        }
        for file in rust_files(&p.dir.join("src")) {
            let text = library_text(&file);
            for n in needles {
                if has_word(&text, n) {
                    found.push(format!("{}: uses {n}", rel(&file)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "config, state and plan must stay pure (I/O lives in ops, store, engine):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_test_is_ignored_or_expected_to_panic() {
    let needles = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let mut found = Vec::new();
    for dir in ["crates", "providers", "fuzz"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for n in needles {
                if text.contains(n) {
                    found.push(format!("{}: {n}]", rel(&file)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a test runs and asserts; an opt-in slow test reads an environment variable:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_declared_dependency_is_used() {
    let mut unused = Vec::new();
    for p in packages() {
        let text_of = |dirs: &[&str]| -> String {
            let mut s = String::new();
            for d in dirs {
                for f in rust_files(&p.dir.join(d)) {
                    s.push_str(&std::fs::read_to_string(f).unwrap());
                }
            }
            if let Ok(build) = std::fs::read_to_string(p.dir.join("build.rs")) {
                s.push_str(&build);
            }
            s
        };
        let lib = text_of(&["src"]);
        let everything = text_of(&["src", "tests", "benches", "examples"]);
        for (name, kind, rename) in &p.deps {
            // A crate's own dev-dependency on itself turns on a feature for
            // its tests.
            if name.trim_start_matches("kiln-") == p.short {
                continue;
            }
            let ident = match rename {
                Some(r) => r.replace('-', "_"),
                // md-5's library is `md5`.
                None if name == "md-5" => "md5".to_string(),
                None => name.replace('-', "_"),
            };
            let text = if kind == "normal" { &lib } else { &everything };
            if !has_word(text, &ident) {
                unused.push(format!(
                    "{}: {kind} dependency {name} is never used; remove it from {}",
                    p.short,
                    rel(&p.dir.join("Cargo.toml"))
                ));
            }
        }
    }
    assert!(unused.is_empty(), "{}", unused.join("\n"));
}
