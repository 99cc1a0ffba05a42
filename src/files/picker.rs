//! `fs.listDir` (§6): the directories of one host directory, for the Control UI's directory
//! picker. Lexical paths (symlinks are listed, not resolved), directories only (a symlink
//! counts when it leads to one), hidden names last, then UTF-16 code unit order.

use std::path::Path;

use serde_json::{Map, Value};

use super::paths::{dirname, join, normalize};
use super::posix::node_error;

/// The listing of `requested` (the home directory when absent or empty), or TS's error text.
pub fn list(requested: Option<&str>, home: &str) -> Result<String, String> {
    let requested = requested.filter(|path| !path.is_empty()).unwrap_or(home);
    if !requested.starts_with('/') {
        return Err("Error: fs.listDir path must be absolute".into());
    }
    let normalized = normalize(requested);
    let resolved = match normalized.trim_end_matches('/') {
        "" => "/".to_string(),
        trimmed => trimmed.to_string(),
    };
    let read = std::fs::read_dir(&resolved).map_err(|err| {
        let errno = rustix::io::Errno::from_raw_os_error(err.raw_os_error().unwrap_or(5));
        node_error(errno, "scandir", &resolved)
    })?;
    let mut entries: Vec<(String, bool)> = Vec::new();
    for entry in read.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let is_dir = if kind.is_symlink() {
            Path::new(&resolved).join(&name).is_dir()
        } else {
            kind.is_dir()
        };
        if is_dir {
            let hidden = name.starts_with('.');
            entries.push((name, hidden));
        }
    }
    entries.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| a.0.encode_utf16().cmp(b.0.encode_utf16()))
    });
    let mut out = Map::new();
    out.insert("path".into(), Value::from(resolved.as_str()));
    let parent = dirname(&resolved);
    if parent != resolved {
        out.insert("parent".into(), Value::from(parent));
    }
    out.insert("home".into(), Value::from(home));
    let listed: Vec<Value> = entries
        .into_iter()
        .map(|(name, hidden)| {
            let mut entry = Map::new();
            let path = join(&resolved, &name);
            entry.insert("name".into(), Value::from(name));
            entry.insert("path".into(), Value::from(path));
            if hidden {
                entry.insert("hidden".into(), Value::Bool(true));
            }
            Value::Object(entry)
        })
        .collect();
    out.insert("entries".into(), Value::Array(listed));
    Ok(Value::Object(out).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::TempDir;
    use std::fs;

    #[test]
    fn directories_only_hidden_last_symlinks_followed_for_the_type() {
        let tmp = TempDir::new("picker");
        for dir in ["other", "dir", ".git", "B"] {
            fs::create_dir(tmp.path().join(dir)).unwrap();
        }
        fs::write(tmp.path().join("file.txt"), "").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("dir"), tmp.path().join("dirlink")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("file.txt"), tmp.path().join("filelink")).unwrap();
        let base = tmp.path().to_str().unwrap();
        let listing: Value = serde_json::from_str(&list(Some(&format!("{base}//./")), "/home/u").unwrap()).unwrap();
        assert_eq!(listing["path"], base);
        assert_eq!(listing["parent"], dirname(base));
        assert_eq!(listing["home"], "/home/u");
        let names: Vec<&str> = listing["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["B", "dir", "dirlink", "other", ".git"]);
        assert_eq!(listing["entries"][1], serde_json::json!({"name": "dir", "path": format!("{base}/dir")}));
        assert_eq!(listing["entries"][4]["hidden"], true);
        let root: Value = serde_json::from_str(&list(Some("/"), "/h").unwrap()).unwrap();
        assert!(root.get("parent").is_none());
        assert_eq!(list(Some("rel"), "/h").unwrap_err(), "Error: fs.listDir path must be absolute");
        assert_eq!(
            list(Some("/nope-openclaw"), "/h").unwrap_err(),
            "Error: ENOENT: no such file or directory, scandir '/nope-openclaw'"
        );
        let home: Value = serde_json::from_str(&list(Some(""), base).unwrap()).unwrap();
        assert_eq!(home["path"], base);
    }
}
