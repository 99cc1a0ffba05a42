//! `browser.proxy`: drive a local Chromium over the Chrome DevTools Protocol.
//!
//! STUB: being written.

use crate::config::NodeConfig;
use crate::invoke::{InvokeContext, InvokeError, InvokeResult};
use crate::paths::StatePaths;

pub struct BrowserProxy {}

impl BrowserProxy {
    /// The proxy, when enabled by config and a browser or CDP endpoint is available.
    pub fn from_config(config: &NodeConfig, paths: &StatePaths) -> Option<BrowserProxy> {
        let _ = (config, paths);
        None
    }
    /// Serves one `browser.proxy` invocation.
    pub fn handle(&self, ctx: &InvokeContext, params: serde_json::Value) -> InvokeResult {
        let _ = (ctx, params);
        Err(InvokeError::unavailable("command not supported"))
    }
    /// Stops a browser the node started.
    pub fn shutdown(&self) {}
}
