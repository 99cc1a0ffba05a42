//! Persistent node state: `node.json`, `identity/device.json`, `identity/device-auth.json`.
//! Every write is atomic (temp file, fsync, rename) with mode 0600.
//!
//! STUB: being written. The interface below is what the rest of the crate uses.

use std::path::{Path, PathBuf};

use crate::identity::DeviceIdentity;
use crate::paths::StatePaths;

/// A state file could not be read, parsed or written. Always names the file.
#[derive(Debug)]
pub struct StateError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for StateError {}

/// Writes `bytes` to `path` atomically with mode 0600, creating parent directories (0700).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let _ = (path, bytes);
    unimplemented!("state")
}

/// The saved gateway endpoint (`node.json` `gateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayEndpoint {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<bool>,
    pub tls_fingerprint: Option<String>,
    pub context_path: Option<String>,
}

/// `node.json`.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// The client instance id (`client.instanceId`), a UUID v4 made on first start.
    pub node_id: String,
    pub display_name: Option<String>,
    pub gateway: GatewayEndpoint,
}

impl NodeState {
    /// Reads `node.json`; `Ok(None)` when it does not exist.
    pub fn load(paths: &StatePaths) -> Result<Option<NodeState>, StateError> {
        let _ = paths;
        Ok(None)
    }
    pub fn save(&self, paths: &StatePaths) -> Result<(), StateError> {
        let _ = paths;
        Ok(())
    }
}

/// Loads `identity/device.json`, creating a new key pair on first start.
pub fn load_or_create_identity(paths: &StatePaths) -> Result<DeviceIdentity, StateError> {
    let _ = paths;
    unimplemented!("state")
}

/// Loads `identity/device.json` without ever creating it.
pub fn load_identity(paths: &StatePaths) -> Result<Option<DeviceIdentity>, StateError> {
    let _ = paths;
    Ok(None)
}

/// `identity/device-auth.json`: device tokens by role.
pub struct DeviceAuthStore {
    path: PathBuf,
}

impl DeviceAuthStore {
    pub fn new(paths: &StatePaths) -> DeviceAuthStore {
        DeviceAuthStore { path: paths.device_auth_file() }
    }
    /// The stored token for (`device_id`, `role`), if any.
    pub fn token(&self, device_id: &str, role: &str) -> Result<Option<String>, StateError> {
        let _ = (device_id, role, &self.path);
        Ok(None)
    }
    /// Stores the token `hello-ok` issued. Compare-and-swap against `previous`.
    pub fn store(&self, device_id: &str, role: &str, token: &str, scopes: &[String], previous: Option<&str>) -> Result<(), StateError> {
        let _ = (device_id, role, token, scopes, previous);
        Ok(())
    }
    /// Deletes the token for (`device_id`, `role`) if it still equals `stale`.
    pub fn clear_if(&self, device_id: &str, role: &str, stale: &str) -> Result<(), StateError> {
        let _ = (device_id, role, stale);
        Ok(())
    }
}
