//! What a command handler sees: the node's long-lived runtime, and the invocation it serves.

use std::sync::Arc;

use crate::approvals::ApprovalsStore;
use crate::browser::BrowserProxy;
use crate::cancel::CancelToken;
use crate::config::NodeConfig;
use crate::invoke::{Call, EventSink};
use crate::mcp::McpHost;
use crate::paths::StatePaths;
use crate::secrets::Secrets;

/// Shared, read-mostly state for command handlers. Built once by `run`, kept across reconnects.
pub struct NodeRuntime {
    pub paths: StatePaths,
    pub config: Arc<NodeConfig>,
    /// The PATH the node resolves bare commands with and advertises as `connect.pathEnv`.
    pub path_env: String,
    /// The node's own secrets (gateway token, password, service credentials) and the rule that
    /// keeps them from every child's environment, even under another variable name.
    pub secrets: Secrets,
    pub approvals: ApprovalsStore,
    /// Present when the browser proxy is enabled and a browser or CDP endpoint was found.
    pub browser: Option<BrowserProxy>,
    /// The MCP servers of `nodeHost.mcp.servers`; `None` when `mcp.tools.call.v1` is not
    /// served (it then answers `node host MCP is unavailable`).
    pub mcp: Option<Arc<McpHost>>,
}

/// Everything a handler may use while it serves one invocation.
#[derive(Clone)]
pub struct InvokeContext {
    pub cancel: CancelToken,
    pub events: Arc<dyn EventSink>,
    pub node: Arc<NodeRuntime>,
    /// The gateway's deadline for this invocation (`timeoutMs` of the request), if it sent one.
    pub timeout_ms: Option<u64>,
}

impl InvokeContext {
    /// The context of `call`, served with `node`'s state.
    pub fn new(call: Call, node: Arc<NodeRuntime>) -> InvokeContext {
        InvokeContext {
            cancel: call.cancel,
            events: call.events,
            node,
            timeout_ms: call.timeout_ms,
        }
    }
}
