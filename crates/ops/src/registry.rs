//! Module registry sources (`kiln init`): Terraform's module registry
//! protocol (<https://developer.hashicorp.com/terraform/internals/module-registry-protocol>)
//! and its version constraints
//! (<https://developer.hashicorp.com/terraform/language/expressions/version-constraints>).
//!
//! An address `[HOST/]NAMESPACE/NAME/SYSTEM` is resolved on HOST
//! (`registry.terraform.io` by default): service discovery
//! (`/.well-known/terraform.json`, `modules.v1`), the versions the registry
//! lists, the newest one the `version` constraint allows (or the one the
//! lock file pins, while it still does), and its download location (the
//! `X-Terraform-Get` header), which is a git source fetched as any other.
//! HTTPS always, except for a registry on the loopback interface (a local
//! mirror, the tests), which may speak plain HTTP.

use anyhow::{Context, Result, bail};

/// One version constraint: an operator and a version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Constraint {
    op: Op,
    version: semver::Version,
    /// How many segments were written (`~> 1.2` has 2).
    segments: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Pessimistic,
}

/// A version as the registry lists it (`1.2.3`, `v1.2.3`, `1.2`).
pub(crate) fn parse_version(s: &str) -> Option<semver::Version> {
    let s = s.trim().trim_start_matches('v');
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    let (core, pre) = s.split_once('-').map_or((s, None), |(a, b)| (a, Some(b)));
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let text = match pre {
        Some(p) => format!("{}-{p}", parts.join(".")),
        None => parts.join("."),
    };
    semver::Version::parse(&text).ok()
}

fn parse_constraints(text: &str) -> Result<Vec<Constraint>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (op, rest) = [
            ("~>", Op::Pessimistic),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
        .unwrap_or((Op::Eq, part));
        let rest = rest.trim();
        let segments = rest.split('-').next().unwrap_or("").split('.').count();
        let version = parse_version(rest)
            .with_context(|| format!("version constraint {text:?}: {rest:?} is not a version"))?;
        out.push(Constraint {
            op,
            version,
            segments,
        });
    }
    if out.is_empty() {
        bail!("version constraint {text:?} has no version");
    }
    Ok(out)
}

fn allows(c: &Constraint, v: &semver::Version) -> bool {
    use std::cmp::Ordering::*;
    let ord = v.cmp(&c.version);
    match c.op {
        Op::Eq => v == &c.version,
        Op::Ne => v != &c.version,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
        Op::Pessimistic => {
            if ord == Less {
                return false;
            }
            // Only the rightmost written segment may grow: `~> 1.2` is
            // >= 1.2, < 2.0; `~> 1.2.3` is >= 1.2.3, < 1.3.0.
            let b = &c.version;
            match c.segments {
                0..=2 => v.major == b.major,
                _ => v.major == b.major && v.minor == b.minor,
            }
        }
    }
}

/// The newest of `versions` that `constraint` allows (any, without one).
/// A pre-release is chosen only when a constraint names it exactly, as in
/// Terraform.
pub(crate) fn newest<'v>(
    versions: &'v [semver::Version],
    constraint: Option<&str>,
) -> Result<Option<&'v semver::Version>> {
    let cs = match constraint {
        Some(c) => parse_constraints(c)?,
        None => Vec::new(),
    };
    Ok(versions
        .iter()
        .filter(|v| v.pre.is_empty() || cs.iter().any(|c| c.op == Op::Eq && &c.version == *v))
        .filter(|v| cs.iter().all(|c| allows(c, v)))
        .max())
}

/// Whether `version` satisfies `constraint` (a pinned version is kept
/// while it does).
pub(crate) fn satisfies(version: &semver::Version, constraint: Option<&str>) -> Result<bool> {
    Ok(match constraint {
        Some(c) => parse_constraints(c)?.iter().all(|c| allows(c, version)),
        None => true,
    })
}

/// How long one registry request may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into()
}

/// `https://HOST`, or `http://HOST` for a registry on the loopback
/// interface.
fn origin(host: &str) -> String {
    let name = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let loopback = name == "localhost" || name.starts_with("127.") || name == "[::1]";
    format!("{}://{host}", if loopback { "http" } else { "https" })
}

/// `target` resolved against `base` (an absolute URL, a path from the
/// origin, or a relative path).
fn resolve_url(base: &str, target: &str) -> String {
    if target.contains("://") {
        return target.to_string();
    }
    let origin_end = base.find("://").map_or(0, |i| {
        base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j)
    });
    if target.starts_with('/') {
        return format!("{}{target}", &base[..origin_end]);
    }
    let dir = base
        .rfind('/')
        .filter(|&i| i >= origin_end)
        .map_or(base, |i| &base[..=i]);
    format!("{dir}{target}")
}

fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, Option<String>, String)> {
    let mut resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("X-Terraform-Get")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of GET {url}"))?;
    Ok((status, location, body))
}

/// A registry module resolved: the version chosen and where its code is.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub version: semver::Version,
    /// The download location (`X-Terraform-Get`), as the registry gave it.
    pub location: String,
}

/// Resolves `r` on its registry: the newest version `constraint` allows,
/// or `pinned` while it still does, and its download location.
pub(crate) fn resolve(
    r: &kiln_config::RegistrySource,
    constraint: Option<&str>,
    pinned: Option<&semver::Version>,
) -> Result<Resolved> {
    let agent = agent();
    let discovery = format!("{}/.well-known/terraform.json", origin(&r.host));
    let (_, _, body) = get(&agent, &discovery)
        .with_context(|| format!("{} does not answer as a Terraform registry", r.host))?;
    let doc: serde_json::Value = serde_json::from_str(&body)
        .with_context(|| format!("{discovery} is not service discovery JSON"))?;
    let Some(modules) = doc.get("modules.v1").and_then(|v| v.as_str()) else {
        bail!(
            "{} offers no module registry (no modules.v1 in {discovery})",
            r.host
        );
    };
    let mut base = resolve_url(&discovery, modules);
    if !base.ends_with('/') {
        base.push('/');
    }
    let package = format!("{}{}/{}/{}", base, r.namespace, r.name, r.system);
    let (_, _, body) = get(&agent, &format!("{package}/versions"))?;
    let doc: serde_json::Value = serde_json::from_str(&body)
        .with_context(|| format!("{package}/versions is not the registry's version list"))?;
    let mut versions: Vec<semver::Version> = doc["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["versions"].as_array().into_iter().flatten())
        .filter_map(|v| v["version"].as_str().and_then(parse_version))
        .collect();
    versions.sort();
    let version = match pinned {
        Some(p) if versions.contains(p) && satisfies(p, constraint)? => p.clone(),
        _ => match newest(&versions, constraint)? {
            Some(v) => v.clone(),
            None => bail!(
                "no version of {}/{}/{} on {} matches {:?} (it has {})",
                r.namespace,
                r.name,
                r.system,
                r.host,
                constraint.unwrap_or("any"),
                versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let download = format!("{package}/{version}/download");
    let (_, location, body) = get(&agent, &download)?;
    // The location is a header (204), or a JSON body on some registries.
    let location = location
        .or_else(|| {
            serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|d| d["location"].as_str().map(str::to_string))
        })
        .with_context(|| format!("{download} names no download location (X-Terraform-Get)"))?;
    Ok(Resolved {
        version,
        location: resolve_url(&download, &location),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        parse_version(s).unwrap()
    }

    #[test]
    fn constraints_choose_as_terraform_does() {
        let all: Vec<semver::Version> = ["1.0.0", "1.2.0", "1.2.5", "1.3.0-beta", "2.0.0", "2.1.0"]
            .iter()
            .map(|s| v(s))
            .collect();
        let pick = |c: Option<&str>| newest(&all, c).unwrap().map(ToString::to_string);
        assert_eq!(pick(None).as_deref(), Some("2.1.0"));
        assert_eq!(pick(Some("~> 1.0")).as_deref(), Some("1.2.5"));
        assert_eq!(pick(Some("~> 1.2.0")).as_deref(), Some("1.2.5"));
        assert_eq!(pick(Some(">= 1.2, < 2.0")).as_deref(), Some("1.2.5"));
        assert_eq!(pick(Some("1.2.0")).as_deref(), Some("1.2.0"));
        assert_eq!(pick(Some("!= 2.1.0")).as_deref(), Some("2.0.0"));
        assert_eq!(pick(Some("= 1.3.0-beta")).as_deref(), Some("1.3.0-beta"));
        assert_eq!(pick(Some("> 2.1.0")), None);
        assert!(newest(&all, Some("~> banana")).is_err());
        assert!(satisfies(&v("1.2.0"), Some("~> 1.1")).unwrap());
        assert!(!satisfies(&v("2.0.0"), Some("~> 1.1")).unwrap());
    }

    #[test]
    fn urls_resolve_against_the_request() {
        assert_eq!(
            origin("registry.terraform.io"),
            "https://registry.terraform.io"
        );
        assert_eq!(origin("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            resolve_url(
                "https://r.example/.well-known/terraform.json",
                "/v1/modules/"
            ),
            "https://r.example/v1/modules/"
        );
        assert_eq!(
            resolve_url(
                "https://r.example/v1/modules/a/b/c/1.0.0/download",
                "./archive.tgz"
            ),
            "https://r.example/v1/modules/a/b/c/1.0.0/./archive.tgz"
        );
        assert_eq!(
            resolve_url("https://r.example/x", "git::https://g.example/r.git?ref=v1"),
            "git::https://g.example/r.git?ref=v1"
        );
    }
}
