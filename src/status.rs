//! The running node's status file (`openclaw-node/status.json`), read by `openclaw-node status`.
//!
//! STUB: being written by the service work. The session calls these at each state change.

use crate::paths::StatePaths;

/// Writes the live connection state for `status` to read. Failures are logged, never fatal.
pub struct StatusReporter {
    paths: StatePaths,
}

impl StatusReporter {
    pub fn new(paths: &StatePaths) -> StatusReporter {
        StatusReporter {
            paths: paths.clone(),
        }
    }
    /// The node started: pid, gateway endpoint, ids.
    pub fn started(
        &self,
        gateway_url: &str,
        device_id: &str,
        instance_id: &str,
        display_name: &str,
    ) {
        let _ = (
            &self.paths,
            gateway_url,
            device_id,
            instance_id,
            display_name,
        );
    }
    /// A connection attempt begins.
    pub fn connecting(&self) {}
    /// `hello-ok` arrived.
    pub fn connected(&self) {}
    /// Device pairing is pending on the gateway.
    pub fn pairing_pending(&self, request_id: Option<&str>) {
        let _ = request_id;
    }
    /// The connection ended or failed; `error` says why.
    pub fn disconnected(&self, error: &str) {
        let _ = error;
    }
    /// The node is exiting.
    pub fn stopped(&self) {}
}
