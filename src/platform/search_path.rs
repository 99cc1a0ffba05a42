//! The search PATH the node resolves bare command names with, and advertises to the gateway.

/// What separates PATH entries: `:` on Unix, `;` on Windows (where `:` follows drive letters).
pub const SEPARATOR: char = if cfg!(windows) { ';' } else { ':' };

/// The PATH used when the node's own is empty (protocol §5.1, PATH handling).
#[cfg(unix)]
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The PATH used when the node's own is empty: Windows' own directories (the TS host would
/// install the POSIX default there, which finds nothing).
#[cfg(windows)]
pub const DEFAULT_PATH: &str = r"C:\Windows\System32;C:\Windows";

/// Directories moved to the front of PATH when they are on it (TS `ensureOpenClawCliOnPath`).
const FRONT: &[&str] = if cfg!(windows) { &[] } else { &["/usr/bin", "/bin"] };

/// The node's PATH: its own when non-empty, else [`DEFAULT_PATH`], reordered as the TS host
/// does (`ensureOpenClawCliOnPath`): this binary's directory, then `/usr/bin` and `/bin`, move to
/// the front when they are already on PATH. Nothing is added. Bare command names therefore
/// resolve to the same files as on a TS node, which matters for allowlist matches and for the
/// executables `system.run.prepare` pins.
pub fn effective_path_env() -> String {
    let raw = match std::env::var("PATH") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => DEFAULT_PATH.to_string(),
    };
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.to_string_lossy().into_owned()));
    reorder_path(&raw, own_dir.as_deref())
}

fn reorder_path(raw: &str, own_dir: Option<&str>) -> String {
    let parts: Vec<&str> = raw.split(SEPARATOR).filter(|part| !part.is_empty()).collect();
    let front = own_dir
        .into_iter()
        .chain(FRONT.iter().copied())
        .filter(|dir| parts.contains(dir));
    let mut merged: Vec<&str> = Vec::with_capacity(parts.len());
    for dir in front.chain(parts.iter().copied()) {
        if !merged.contains(&dir) {
            merged.push(dir);
        }
    }
    merged.join(&SEPARATOR.to_string())
}

/// `path_env` without relative or empty entries (Unix: entries not starting with `/`;
/// Windows: entries without a drive or UNC root), which the policy never resolves through and
/// which would make the child's own lookups find files in its cwd.
pub fn absolute_entries(path_env: &str) -> String {
    path_env
        .split(SEPARATOR)
        .filter(|dir| is_absolute_dir(dir))
        .collect::<Vec<_>>()
        .join(&SEPARATOR.to_string())
}

#[cfg(unix)]
fn is_absolute_dir(dir: &str) -> bool {
    dir.starts_with('/')
}

/// `C:\dir`, `C:/dir` or `\\server\share`; not `C:dir` (relative to the drive's cwd) or `\dir`.
#[cfg(windows)]
fn is_absolute_dir(dir: &str) -> bool {
    let dir = dir.trim_matches('"');
    let bytes = dir.as_bytes();
    (bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && matches!(bytes[2], b'\\' | b'/'))
        || dir.starts_with("\\\\")
}

/// Whether two environment variable names are the same variable: exactly equal on Unix,
/// equal ignoring ASCII case on Windows (where `Path` and `PATH` are one variable).
pub fn env_keys_equal(a: &str, b: &str) -> bool {
    if cfg!(windows) {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::reorder_path;

    #[test]
    fn path_is_reordered_like_the_ts_host() {
        assert_eq!(
            reorder_path(
                "/usr/local/bin:/opt/node/bin:/usr/bin:/bin:/usr/bin",
                Some("/opt/node/bin")
            ),
            "/opt/node/bin:/usr/bin:/bin:/usr/local/bin"
        );
        // Directories not on PATH are never added.
        assert_eq!(
            reorder_path("/usr/local/bin:/sbin", Some("/x")),
            "/usr/local/bin:/sbin"
        );
        assert_eq!(reorder_path("/a::/b", None), "/a:/b");
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn windows_paths_split_on_semicolons_and_keep_absolute_entries() {
        assert_eq!(
            absolute_entries(r"C:\Windows\System32;relative;C:rel;D:/tools;\\srv\share\bin;;\x"),
            r"C:\Windows\System32;D:/tools;\\srv\share\bin"
        );
        assert_eq!(reorder_path(r"C:\a;;C:\b;C:\a", Some(r"C:\b")), r"C:\b;C:\a");
        assert!(env_keys_equal("Path", "PATH"));
    }
}
