//! The node's long-lived runtime: what every invocation may read, built once at start-up.

use std::sync::Arc;

use crate::approvals::ApprovalsStore;
use crate::browser::BrowserProxy;
use crate::config::NodeConfig;
use crate::paths::StatePaths;

/// Shared, read-mostly state for command handlers. Built once by `run`, kept across reconnects.
pub struct NodeRuntime {
    pub paths: StatePaths,
    pub config: Arc<NodeConfig>,
    /// The PATH the node resolves bare commands with and advertises as `connect.pathEnv`.
    pub path_env: String,
    /// Names of environment variables holding the node's own secrets (gateway token, password,
    /// service credentials). They are removed from every child's environment.
    pub secret_env_names: Vec<String>,
    /// Secret values the node read from disk or the environment; never passed to a child, even
    /// under another variable name.
    pub secret_values: Vec<String>,
    pub approvals: ApprovalsStore,
    /// Present when the browser proxy is enabled and a browser or CDP endpoint was found.
    pub browser: Option<BrowserProxy>,
}

/// The PATH used when the node's own is empty (protocol §5.1, PATH handling).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
    let parts: Vec<&str> = raw.split(':').filter(|part| !part.is_empty()).collect();
    let front = own_dir
        .into_iter()
        .chain(["/usr/bin", "/bin"])
        .filter(|dir| parts.contains(dir));
    let mut merged: Vec<&str> = Vec::with_capacity(parts.len());
    for dir in front.chain(parts.iter().copied()) {
        if !merged.contains(&dir) {
            merged.push(dir);
        }
    }
    merged.join(":")
}

#[cfg(test)]
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
