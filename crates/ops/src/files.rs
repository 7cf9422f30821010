//! The file system of a configuration directory, for the file functions
//! (`file`, `fileset`, `templatefile`, ...): relative paths resolve against
//! the directory (`path.module`).

use std::path::{Component, Path, PathBuf};

use kiln_config::FileSystem;

/// Reads files relative to one directory.
#[derive(Debug, Clone)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: impl Into<PathBuf>) -> DirFiles {
        DirFiles { root: root.into() }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        clean(&self.root.join(path))
    }
}

/// Removes `.` and resolves `..` lexically (no symlinks followed).
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn missing(path: &str) -> String {
    format!(
        "no file exists at {path:?}; file functions read only files that are part of the configuration, so for a file a resource creates, use that resource's attributes instead"
    )
}

impl FileSystem for DirFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let p = self.resolve(path);
        match std::fs::read(&p) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing(path)),
            Err(_) if p.is_dir() => Err(format!("{path:?} is a directory, not a file")),
            Err(e) => Err(format!("cannot read {path:?}: {e}")),
        }
    }

    fn is_file(&self, path: &str) -> Result<bool, String> {
        match std::fs::metadata(self.resolve(path)) {
            Ok(m) if m.is_file() => Ok(true),
            Ok(_) => Err(format!("{path:?} is not a regular file, but a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("cannot stat {path:?}: {e}")),
        }
    }

    fn files_under(&self, dir: &str) -> Result<Vec<String>, String> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().to_string();
                let rel = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                let ty = entry.file_type()?;
                if ty.is_dir() {
                    walk(&entry.path(), &rel, out)?;
                } else if entry.path().is_file() {
                    out.push(rel);
                }
            }
            Ok(())
        }
        let root = self.resolve(dir);
        let mut out = Vec::new();
        if root.is_dir() {
            walk(&root, "", &mut out).map_err(|e| format!("cannot list {dir:?}: {e}"))?;
        }
        out.sort();
        Ok(out)
    }

    fn absolute(&self, path: &str) -> Result<String, String> {
        Ok(self.resolve(path).display().to_string())
    }

    fn home_dir(&self) -> Option<String> {
        std::env::var("HOME").ok().filter(|h| !h.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_relative_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/deep")).unwrap();
        std::fs::write(dir.path().join("a.txt"), "A").unwrap();
        std::fs::write(dir.path().join("sub/deep/b.txt"), "B").unwrap();
        let fs = DirFiles::new(dir.path());
        assert_eq!(fs.read("a.txt").unwrap(), b"A");
        assert_eq!(fs.read("./sub/../a.txt").unwrap(), b"A");
        assert!(
            fs.read("nope")
                .unwrap_err()
                .contains("no file exists at \"nope\"")
        );
        assert_eq!(fs.is_file("a.txt"), Ok(true));
        assert_eq!(fs.is_file("nope"), Ok(false));
        assert!(fs.is_file("sub").is_err());
        assert_eq!(fs.files_under(".").unwrap(), ["a.txt", "sub/deep/b.txt"]);
        assert_eq!(fs.files_under("sub").unwrap(), ["deep/b.txt"]);
        assert!(fs.files_under("missing").unwrap().is_empty());
        let abs = fs.absolute("sub/../a.txt").unwrap();
        assert_eq!(Path::new(&abs), dir.path().join("a.txt"));
    }
}
