//! Module trees: the root configuration plus every module it calls, loaded
//! through a [`ModuleLoader`] the caller provides (the CLI reads
//! directories; a saved plan replays the files it embeds), so this crate
//! stays free of the file system.

use std::collections::HashMap;
use std::sync::Arc;

use kiln_diag::Diagnostics;

use crate::{Config, SourceFile, parse};

/// Reads the configuration files of one module directory (relative to the
/// root module's, `/`-separated, like `modules/web`). File names should
/// include the directory, so diagnostics point at the right file. An error
/// is a message ready for a diagnostic ("no such directory").
pub type ModuleLoader<'a> = dyn FnMut(&str) -> Result<Vec<SourceFile>, String> + 'a;

/// How deep modules may nest (a module that calls itself stops here).
const MAX_DEPTH: usize = 32;

/// A module source in git, as Terraform writes one
/// (<https://developer.hashicorp.com/terraform/language/modules/sources>):
/// `git::URL`, `git::URL//SUBDIR`, with `?ref=REF`; `github.com/ORG/REPO`
/// is `git::https://github.com/ORG/REPO.git`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// What `git clone` takes.
    pub url: String,
    /// A branch, tag or commit (`?ref=`); the default branch without one.
    pub reference: Option<String>,
    /// The module's directory inside the repository (`//SUBDIR`).
    pub subdir: Option<String>,
}

/// The git source `source` names, if it is one.
pub fn git_source(source: &str) -> Option<GitSource> {
    let rest = if let Some(r) = source.strip_prefix("git::") {
        r.to_string()
    } else if let Some(r) = source.strip_prefix("github.com/") {
        // github.com/ORG/REPO[//SUBDIR][?ref=]
        let (path, query) = r.split_once('?').map_or((r, None), |(p, q)| (p, Some(q)));
        let (repo, sub) = path
            .split_once("//")
            .map_or((path, None), |(a, b)| (a, Some(b)));
        let repo = repo.trim_end_matches(".git");
        let mut s = format!("https://github.com/{repo}.git");
        if let Some(sub) = sub {
            s = format!("{s}//{sub}");
        }
        if let Some(q) = query {
            s = format!("{s}?{q}");
        }
        s
    } else {
        return None;
    };
    let (path, query) = rest
        .split_once('?')
        .map_or((rest.as_str(), None), |(p, q)| (p, Some(q)));
    let reference = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("ref=").map(str::to_string))
    });
    // `//` after the scheme's own `://` separates the subdirectory.
    let scheme_end = path.find("://").map_or(0, |i| i + 3);
    let (url, subdir) = match path[scheme_end..].find("//") {
        Some(i) => (
            path[..scheme_end + i].to_string(),
            Some(path[scheme_end + i + 2..].to_string()).filter(|s| !s.is_empty()),
        ),
        None => (path.to_string(), None),
    };
    Some(GitSource {
        url,
        reference,
        subdir,
    })
}

/// Where `kiln init` keeps the checkout of a git module source, relative
/// to the root module: `.kiln/.modules/HASH` (a name no environment can
/// take), one per repository and reference.
pub fn git_cache_dir(source: &str) -> String {
    use sha2::Digest as _;
    let g = git_source(source);
    let key = g.map_or_else(
        || source.to_string(),
        |g| format!("{}@{}", g.url, g.reference.unwrap_or_default()),
    );
    let hash = sha2::Sha256::digest(key.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(".kiln/.modules/{hex}")
}

/// A module registry address, as Terraform writes one:
/// `[HOST/]NAMESPACE/NAME/SYSTEM[//SUBDIR]` (the host defaults to
/// `registry.terraform.io`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySource {
    pub host: String,
    pub namespace: String,
    pub name: String,
    pub system: String,
    /// A module inside the package (`//modules/NAME`).
    pub subdir: Option<String>,
}

/// The registry address `source` names, if it is one.
pub fn registry_source(source: &str) -> Option<RegistrySource> {
    if source.starts_with("./")
        || source.starts_with("../")
        || source.starts_with('/')
        || source.contains("::")
        || source.contains("://")
        || source.starts_with("github.com/")
        || source.starts_with("bitbucket.org/")
    {
        return None;
    }
    let (path, subdir) = source.split_once("//").map_or((source, None), |(a, b)| {
        (a, Some(b.trim_matches('/').to_string()))
    });
    let parts: Vec<&str> = path.split('/').collect();
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let (host, rest) = match parts.len() {
        3 => ("registry.terraform.io".to_string(), &parts[..]),
        4 if parts[0].contains('.') || parts[0].contains(':') => {
            (parts[0].to_ascii_lowercase(), &parts[1..])
        }
        _ => return None,
    };
    if !rest.iter().all(|p| ident(p)) {
        return None;
    }
    Some(RegistrySource {
        host,
        namespace: rest[0].to_string(),
        name: rest[1].to_string(),
        system: rest[2].to_string(),
        subdir: subdir.filter(|s| !s.is_empty()),
    })
}

/// Where `kiln init` keeps a registry module, relative to the root module:
/// `.kiln/.modules/HASH` of the address (without its subdirectory) and
/// the version constraint as written, so that loading needs no network.
pub fn registry_cache_dir(source: &str, version: Option<&str>) -> String {
    use sha2::Digest as _;
    let package = source.split_once("//").map_or(source, |(a, _)| a);
    let key = format!("registry:{package}@{}", version.unwrap_or_default());
    let hash = sha2::Sha256::digest(key.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(".kiln/.modules/{hex}")
}

/// The directory a module call's `source` (with its `version` constraint)
/// names, relative to the root module's, from the calling module's
/// directory `from`: a local path (`./...` or `../...`) inside the root
/// module, or where `kiln init` put a git or registry source; `None` for
/// anything else.
pub fn module_dir(from: &str, source: &str, version: Option<&str>) -> Option<String> {
    if let Some(r) = registry_source(source) {
        let mut dir = registry_cache_dir(source, version);
        if let Some(sub) = r.subdir {
            dir = format!("{dir}/{sub}");
        }
        return Some(dir);
    }
    if let Some(GitSource { subdir, .. }) = git_source(source) {
        let mut dir = git_cache_dir(source);
        if let Some(sub) = subdir {
            dir = format!("{dir}/{}", sub.trim_matches('/'));
        }
        return Some(dir);
    }
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Parses the root module's `files` and, through `load`, every module it
/// calls (recursively). Each call's [`ModuleCall::config`](crate::ModuleCall)
/// is filled in; a module used twice is parsed once. Reports a missing
/// directory, a source that is not a local path, an input the module does
/// not declare and a required input left out, each at the module block.
pub fn parse_tree(files: Vec<SourceFile>, load: &mut ModuleLoader<'_>) -> (Config, Diagnostics) {
    let (mut config, mut diags) = parse(files);
    let mut cache: HashMap<String, Option<Arc<Config>>> = HashMap::new();
    let mut stack = vec![String::new()];
    resolve(&mut config, load, &mut cache, &mut stack, &mut diags);
    (config, diags)
}

fn resolve(
    config: &mut Config,
    load: &mut ModuleLoader<'_>,
    cache: &mut HashMap<String, Option<Arc<Config>>>,
    stack: &mut Vec<String>,
    diags: &mut Diagnostics,
) {
    for call in &mut config.modules {
        let Some(dir) = module_dir(&config.dir, &call.source, call.version.as_deref()) else {
            diags.push(
                call.source_loc
                    .error(format!(
                        "module source \"{}\" is not a local path, a git source or a registry address",
                        call.source
                    ))
                    .with_detail(
                        "kiln loads local modules (source = \"./modules/NAME\"), git sources (source = \"git::https://HOST/REPO.git//DIR?ref=TAG\") and registry modules (source = \"NAMESPACE/NAME/SYSTEM\" with version = \"~> 5.0\"), the last two downloaded by `kiln init`; archives over HTTP, S3 and GCS sources are not supported",
                    ),
            );
            continue;
        };
        if stack.contains(&dir) || stack.len() > MAX_DEPTH {
            diags.push(
                call.loc
                    .error(format!(
                        "module \"{}\" calls itself (through {dir})",
                        call.name
                    ))
                    .with_detail("a module cannot call itself, directly or through other modules"),
            );
            continue;
        }
        let child = match cache.get(&dir) {
            Some(c) => c.clone(),
            None => {
                let loaded = match load(&dir) {
                    Ok(files) => {
                        let (mut child, d) = parse(files);
                        child.dir = dir.clone();
                        diags.extend(d);
                        stack.push(dir.clone());
                        resolve(&mut child, load, cache, stack, diags);
                        stack.pop();
                        Some(Arc::new(child))
                    }
                    Err(e)
                        if git_source(&call.source).is_some()
                            || registry_source(&call.source).is_some() =>
                    {
                        diags.push(
                            call.source_loc
                                .error(format!(
                                    "module \"{}\" ({}) is not downloaded: {e}",
                                    call.name, call.source
                                ))
                                .with_detail("run `kiln init` to download the configuration's git and registry module sources"),
                        );
                        None
                    }
                    Err(e) => {
                        diags.push(
                            call.source_loc
                                .error(format!(
                                    "cannot load module \"{}\" from {}: {e}",
                                    call.name, call.source
                                ))
                                .with_detail("check the path: it is relative to the directory of the calling module"),
                        );
                        None
                    }
                };
                cache.insert(dir.clone(), loaded.clone());
                loaded
            }
        };
        let Some(child) = child else { continue };
        check_inputs(call, &child, diags);
        call.config = Some(child);
    }
}

fn check_inputs(call: &crate::ModuleCall, child: &Config, diags: &mut Diagnostics) {
    for a in &call.inputs {
        if !child.variables.iter().any(|v| v.name == a.name) {
            let hint =
                crate::suggest::hint(&a.name, child.variables.iter().map(|v| v.name.as_str()));
            diags.push(
                a.loc
                    .error(format!(
                        "module \"{}\" has no input variable \"{}\"{hint}",
                        call.name, a.name
                    ))
                    .with_detail(format!(
                        "the module at {} declares: {}",
                        call.source,
                        crate::eval::list_names(child.variables.iter().map(|v| v.name.as_str()))
                    )),
            );
        }
    }
    let missing: Vec<&str> = child
        .variables
        .iter()
        .filter(|v| v.default.is_none() && !call.inputs.iter().any(|a| a.name == v.name))
        .map(|v| v.name.as_str())
        .collect();
    if !missing.is_empty() {
        let (noun, list) = if missing.len() == 1 {
            ("input", format!("\"{}\"", missing[0]))
        } else {
            (
                "inputs",
                missing
                    .iter()
                    .map(|m| format!("\"{m}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        diags.push(
            call.loc
                .error(format!(
                    "module \"{}\" is missing required {noun} {list}",
                    call.name
                ))
                .with_detail("set each one in the module block, or give the variable a default"),
        );
    }
}

fn dirname(name: &str) -> &str {
    name.rfind('/').map_or("", |i| &name[..i])
}

/// `dir` joined to `base` with `/` (either may be empty).
pub fn join_dir(base: &str, dir: &str) -> String {
    match (base.is_empty(), dir.is_empty()) {
        (true, _) => dir.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{dir}"),
    }
}

/// Parses a configuration saved as `(file name, text)` pairs (a plan's or a
/// state's copy): the root module's files come first and share a directory;
/// a module's files are those in that directory joined with the module's.
pub fn parse_embedded(files: &[(String, String)]) -> (Config, Diagnostics) {
    let root = files.first().map_or("", |f| dirname(&f.0)).to_string();
    let in_dir = |d: &str| -> Vec<SourceFile> {
        files
            .iter()
            .filter(|(name, _)| dirname(name) == d)
            .map(|(name, text)| SourceFile {
                name: name.clone(),
                text: text.clone(),
            })
            .collect()
    };
    let root_files = in_dir(&root);
    parse_tree(root_files, &mut |dir: &str| {
        let found = in_dir(&join_dir(&root, dir));
        if found.is_empty() {
            Err("the saved configuration has no files for it".to_string())
        } else {
            Ok(found)
        }
    })
}
