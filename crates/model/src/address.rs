//! Resource and instance addresses: `null_resource.a`, `null_resource.a[0]`,
//! `module.web["a"].null_resource.x`, `data.null_data_source.d`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

/// Managed resources (`resource` blocks) or data sources (`data` blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceMode {
    Managed,
    Data,
}

/// A resource block's address within its module: mode, type and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddr {
    pub mode: ResourceMode,
    pub ty: SmolStr,
    pub name: SmolStr,
}

impl ResourceAddr {
    pub fn managed(ty: impl Into<SmolStr>, name: impl Into<SmolStr>) -> ResourceAddr {
        ResourceAddr {
            mode: ResourceMode::Managed,
            ty: ty.into(),
            name: name.into(),
        }
    }

    pub fn data(ty: impl Into<SmolStr>, name: impl Into<SmolStr>) -> ResourceAddr {
        ResourceAddr {
            mode: ResourceMode::Data,
            ty: ty.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.ty, self.name)
    }
}

/// The key of one instance of a resource or module with `count` or `for_each`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum InstanceKey {
    #[default]
    None,
    Int(u64),
    Str(SmolStr),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", quote(s)),
        }
    }
}

/// One step of a module path: `module.NAME[KEY]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleStep {
    pub name: SmolStr,
    pub key: InstanceKey,
}

/// The address of one resource instance, unique within a state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceAddr {
    pub module: Vec<ModuleStep>,
    pub resource: ResourceAddr,
    pub key: InstanceKey,
}

impl InstanceAddr {
    /// The single instance of a root-module resource without count/for_each.
    pub fn root(resource: ResourceAddr) -> InstanceAddr {
        InstanceAddr {
            module: Vec::new(),
            resource,
            key: InstanceKey::None,
        }
    }

    pub fn with_key(mut self, key: InstanceKey) -> InstanceAddr {
        self.key = key;
        self
    }

    /// True if `self` is `other` or an instance of the resource `other` names
    /// without a key (so `--replace null_resource.a` covers `null_resource.a[0]`).
    pub fn matches(&self, pattern: &InstanceAddr) -> bool {
        self.module == pattern.module
            && self.resource == pattern.resource
            && (pattern.key == InstanceKey::None || self.key == pattern.key)
    }
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.module {
            write!(f, "module.{}{}.", step.name, step.key)?;
        }
        write!(f, "{}{}", self.resource, self.key)
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError {
    pub input: String,
    pub reason: String,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid resource address {:?}: {}; expected TYPE.NAME, TYPE.NAME[0], TYPE.NAME[\"key\"] or module.M.TYPE.NAME",
            self.input, self.reason
        )
    }
}

impl std::error::Error for AddrError {}

impl FromStr for InstanceAddr {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<InstanceAddr, AddrError> {
        let err = |reason: &str| AddrError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let mut p = Parser { s: input, i: 0 };
        let mut module = Vec::new();
        loop {
            let save = p.i;
            let word = p.ident().ok_or_else(|| err("expected a name"))?;
            if word == "module" && p.eat('.') {
                let name = p
                    .ident()
                    .ok_or_else(|| err("expected a module name after \"module.\""))?;
                let key = p.key().map_err(|r| err(&r))?;
                module.push(ModuleStep {
                    name: name.into(),
                    key,
                });
                if !p.eat('.') {
                    return Err(err("a module path must be followed by a resource"));
                }
                continue;
            }
            p.i = save;
            break;
        }
        let mut mode = ResourceMode::Managed;
        let mut ty = p.ident().ok_or_else(|| err("expected a resource type"))?;
        if ty == "data" && p.eat('.') {
            mode = ResourceMode::Data;
            ty = p
                .ident()
                .ok_or_else(|| err("expected a data source type after \"data.\""))?;
        }
        let ty = SmolStr::new(ty);
        if !p.eat('.') {
            return Err(err("expected \".\" and a resource name after the type"));
        }
        let name = p
            .ident()
            .ok_or_else(|| err("expected a resource name"))?
            .into();
        let key = p.key().map_err(|r| err(&r))?;
        if p.i != p.s.len() {
            return Err(err(&format!("unexpected {:?}", &p.s[p.i..])));
        }
        Ok(InstanceAddr {
            module,
            resource: ResourceAddr { mode, ty, name },
            key,
        })
    }
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_alphanumeric() || c == '_' || (i > 0 && c == '-')))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.i += len;
        Some(&rest[..len])
    }

    fn key(&mut self) -> Result<InstanceKey, String> {
        if !self.eat('[') {
            return Ok(InstanceKey::None);
        }
        let rest = self.rest();
        let key = if rest.starts_with('"') {
            let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            let s = de
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| "unterminated string key".to_string())?;
            self.i += de.byte_offset();
            InstanceKey::Str(s.into())
        } else {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let n = rest[..len]
                .parse::<u64>()
                .map_err(|_| "expected a number or a string key".to_string())?;
            self.i += len;
            InstanceKey::Int(n)
        };
        if !self.eat(']') {
            return Err("expected \"]\"".to_string());
        }
        Ok(key)
    }
}

impl Serialize for InstanceAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for InstanceAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InstanceAddr, D::Error> {
        // A visitor, not a `String`: an address is read from the text it
        // is in (a state holds one per resource and dependency).
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = InstanceAddr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource instance address")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<InstanceAddr, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "null_resource.a",
            "null_resource.a[0]",
            "null_resource.a[\"k.x\"]",
            "data.null_data_source.d",
            "module.web[\"a\"].module.x[2].null_resource.x",
        ] {
            let a: InstanceAddr = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "a", "a.", "a.b[", "a.b[x]", "a.b c", "module.m"] {
            assert!(s.parse::<InstanceAddr>().is_err(), "{s}");
        }
    }

    #[test]
    fn pattern_without_key_matches_instances() {
        let pat: InstanceAddr = "null_resource.a".parse().unwrap();
        let inst: InstanceAddr = "null_resource.a[3]".parse().unwrap();
        assert!(inst.matches(&pat));
        assert!(!pat.matches(&inst));
    }
}
