//! Shared by the test files: a small scope and a compact value rendering.
#![allow(dead_code)]

use std::collections::BTreeMap;

use kiln_config::{FileSystem, NameKind, Scope};
use kiln_diag::Diagnostics;
use kiln_model::{ResourceAddr, Value};

/// Renders a value showing its marks: `sensitive(...)`, `unknown`.
pub fn show(v: &Value) -> String {
    match v {
        Value::Sensitive(inner) => format!("sensitive({})", show(inner)),
        Value::Unknown => "unknown".to_string(),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// `! summary @line:col` for each diagnostic, one a line.
pub fn show_diags(d: &Diagnostics) -> String {
    d.iter()
        .map(|d| match &d.span {
            Some(s) => format!("! {} @{}:{}", d.summary, s.start.line, s.start.col),
            None => format!("! {}", d.summary),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares a rendering with an expectation: values exactly; errors as
/// `! SUBSTRING @L:C` (the summary contains SUBSTRING, the span starts at L:C).
pub fn matches(got: &str, expect: &str) -> bool {
    if !expect.starts_with('!') {
        return got == expect;
    }
    let got_lines: Vec<&str> = got.lines().collect();
    let expect_lines: Vec<&str> = expect.lines().collect();
    got_lines.len() == expect_lines.len()
        && got_lines.iter().zip(&expect_lines).all(|(g, e)| {
            let (e_msg, e_at) = e.rsplit_once(" @").unwrap_or((e, ""));
            let (g_msg, g_at) = g.rsplit_once(" @").unwrap_or((g, ""));
            g_msg.contains(e_msg.trim_start_matches("! ")) && g_at == e_at
        })
}

pub struct TestScope {
    pub vars: BTreeMap<String, Value>,
    pub locals: BTreeMap<String, Value>,
    pub resources: BTreeMap<ResourceAddr, Value>,
    pub files: MemFs,
}

/// An in-memory module directory at `/module`, home at `/home/me`.
#[derive(Default)]
pub struct MemFs {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemFs {
    fn key(path: &str) -> String {
        let p = if path == "/module" {
            "."
        } else {
            path.strip_prefix("/module/").unwrap_or(path)
        };
        p.strip_prefix("./")
            .unwrap_or(p)
            .trim_end_matches('/')
            .to_string()
    }

    pub fn sample() -> MemFs {
        let files: [(&str, &[u8]); 7] = [
            ("hello.txt", b"Hello World"),
            ("bin.dat", &[0xff, 0x00, 0x01]),
            ("greeting.tftpl", b"Hello, ${name}!"),
            (
                "list.tftpl",
                b"%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n",
            ),
            ("bad.tftpl", b"line one\n${nope}\n"),
            ("files/a.txt", b"a"),
            ("files/sub/b.md", b"b"),
        ];
        MemFs {
            files: files
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
        }
    }
}

impl FileSystem for MemFs {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(&Self::key(path))
            .cloned()
            .ok_or_else(|| format!("no file exists at \"{path}\""))
    }
    fn is_file(&self, path: &str) -> Result<bool, String> {
        let k = Self::key(path);
        if self.files.contains_key(&k) {
            return Ok(true);
        }
        if self.files.keys().any(|f| f.starts_with(&format!("{k}/"))) {
            return Err(format!("\"{path}\" is not a regular file, but a directory"));
        }
        Ok(false)
    }
    fn files_under(&self, dir: &str) -> Result<Vec<String>, String> {
        let k = Self::key(dir);
        let prefix = if k.is_empty() || k == "." {
            String::new()
        } else {
            format!("{k}/")
        };
        Ok(self
            .files
            .keys()
            .filter_map(|f| f.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }
    fn absolute(&self, path: &str) -> Result<String, String> {
        Ok(if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/module/{}", Self::key(path))
        })
    }
    fn home_dir(&self) -> Option<String> {
        Some("/home/me".to_string())
    }
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::map(entries.iter().map(|(k, v)| (*k, v.clone())))
}

fn list(items: &[Value]) -> Value {
    Value::List(items.to_vec().into())
}

impl TestScope {
    pub fn new() -> TestScope {
        let s = Value::from;
        let n = |i: i64| Value::from(i);
        let vars = [
            ("name", s("web")),
            ("n", n(3)),
            ("list", list(&[s("a"), s("b"), s("c")])),
            ("nums", list(&[n(3), n(1), n(2)])),
            ("m", obj(&[("a", n(1)), ("b", n(2))])),
            ("secret", s("hunter2").sensitive()),
            ("unk", Value::Unknown),
            ("flag", Value::Bool(true)),
            (
                "objs",
                list(&[obj(&[("id", s("x"))]), obj(&[("id", s("y"))])]),
            ),
            ("empty", s("")),
            ("nul", Value::Null),
            ("mixed", list(&[s("a"), Value::Unknown])),
            ("secret_list", list(&[s("a"), s("b").sensitive()])),
        ];
        let locals = [
            ("greeting", s("hello")),
            ("tpl", s("Hi ${who}%{ for n in nums }[${n}]%{ endfor }")),
        ];
        let resources = [
            (
                ResourceAddr::managed("null_resource", "a"),
                obj(&[("id", s("a-1")), ("triggers", obj(&[("k", s("v"))]))]),
            ),
            (
                ResourceAddr::managed("null_resource", "pending"),
                obj(&[("id", Value::Unknown)]),
            ),
            (
                ResourceAddr::managed("null_resource", "many"),
                list(&[obj(&[("id", s("m0"))]), obj(&[("id", s("m1"))])]),
            ),
            (
                ResourceAddr::data("null_data_source", "d"),
                obj(&[("out", s("d"))]),
            ),
        ];
        TestScope {
            vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            locals: locals
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            resources: resources.into_iter().collect(),
            files: MemFs::sample(),
        }
    }
}

impl Scope for TestScope {
    fn variable(&self, name: &str) -> Option<Value> {
        self.vars.get(name).cloned()
    }
    fn local(&self, name: &str) -> Option<Value> {
        self.locals.get(name).cloned()
    }
    fn resource(&self, addr: &ResourceAddr) -> Option<Value> {
        self.resources.get(addr).cloned()
    }
    fn count_index(&self) -> Option<u64> {
        Some(1)
    }
    fn each(&self) -> Option<(Value, Value)> {
        Some((Value::from("k"), Value::from("v")))
    }
    fn path(&self, which: &str) -> Option<String> {
        Some(format!("/{which}"))
    }
    fn env(&self) -> String {
        "staging".to_string()
    }
    fn files(&self) -> &dyn FileSystem {
        &self.files
    }
    fn names(&self, kind: NameKind) -> Vec<String> {
        match kind {
            NameKind::Variable => self.vars.keys().cloned().collect(),
            NameKind::Local => self.locals.keys().cloned().collect(),
            NameKind::Resource => self.resources.keys().map(|a| a.to_string()).collect(),
            NameKind::Module => Vec::new(),
        }
    }
}

/// Asserts every case, reporting all failures at once.
pub fn check_all(cases: &[(&str, &str)], run: impl Fn(&str) -> String) {
    let mut failures = Vec::new();
    for (input, expect) in cases {
        let got = run(input);
        if !matches(&got, expect) {
            failures.push(format!(
                "input:  {input}\nexpect: {expect}\ngot:    {got}\n"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
