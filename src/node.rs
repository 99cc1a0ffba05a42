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

/// The node's PATH: its own when non-empty, else [`DEFAULT_PATH`].
pub fn effective_path_env() -> String {
    match std::env::var("PATH") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => DEFAULT_PATH.to_string(),
    }
}
