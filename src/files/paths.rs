//! Path text as Node's `path` module treats it on POSIX, for the checks TS makes before it
//! touches the filesystem.

use serde_json::Value;

use super::outcome::Failure;

/// Node's `path.posix.normalize`: collapses `.`, `..` and repeated `/`, keeps a trailing `/`.
/// Only called on absolute paths.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if path.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// Node's `path.posix.dirname` of a normalized absolute path without a trailing slash.
pub fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Node's `path.posix.basename` of a normalized absolute path without a trailing slash.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `path.join(dir, name)` for a name without slashes.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The read commands' `path` rule (TS `readAbsolutePath`).
pub fn read_absolute(value: Option<&Value>) -> Result<String, Failure> {
    let path = match value.and_then(Value::as_str) {
        Some(path) if !path.is_empty() => path,
        _ => return Err(Failure::new("INVALID_PATH", "path required")),
    };
    if path.contains('\0') {
        return Err(Failure::new("INVALID_PATH", "path contains NUL byte"));
    }
    if !path.starts_with('/') {
        return Err(Failure::new("INVALID_PATH", "path must be absolute"));
    }
    Ok(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_as_node() {
        assert_eq!(normalize("/a/t/../t/a.txt"), "/a/t/a.txt");
        assert_eq!(normalize("//a//b/./c"), "/a/b/c");
        assert_eq!(normalize("/dir/"), "/dir/");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("/"), "/");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "x"), "/x");
    }

    #[test]
    fn path_rules() {
        let err = |v: Value| read_absolute(Some(&v)).unwrap_err().message;
        assert_eq!(err(json!("")), "path required");
        assert_eq!(err(json!(3)), "path required");
        assert_eq!(read_absolute(None).unwrap_err().message, "path required");
        assert_eq!(err(json!("/a\u{0}b")), "path contains NUL byte");
        assert_eq!(err(json!("rel/x")), "path must be absolute");
        assert_eq!(read_absolute(Some(&json!("/x"))).unwrap(), "/x");
    }
}
