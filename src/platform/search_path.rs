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
