//! `openclaw.json` (JSON5): the node machine's own OpenClaw config.
//!
//! STUB: being written by the state/config work. The interface below is what the rest of the
//! crate uses.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The parsed config file. Missing file = empty config.
#[derive(Debug, Clone, Default)]
pub struct NodeConfig {
    raw: Value,
    source: Option<PathBuf>,
}

#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl NodeConfig {
    /// Reads `path` as JSON5. A missing file is an empty config; anything else that goes wrong
    /// is an error naming the file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let _ = path;
        Ok(NodeConfig::default())
    }

    /// A config from an already parsed tree (tests).
    pub fn from_value(raw: Value) -> NodeConfig {
        NodeConfig { raw, source: None }
    }

    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The value at `path` (object keys), if present.
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(&self.raw, |value, key| value.get(key))
    }

    /// A string at `path`, trimmed; `None` when absent, not a string, or blank.
    pub fn get_str(&self, path: &[&str]) -> Option<&str> {
        self.get(path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    }

    /// A boolean at `path`.
    pub fn get_bool(&self, path: &[&str]) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// `gateway.auth.token`.
    pub fn gateway_token(&self) -> Option<&str> {
        self.get_str(&["gateway", "auth", "token"])
    }

    /// `gateway.auth.password`.
    pub fn gateway_password(&self) -> Option<&str> {
        self.get_str(&["gateway", "auth", "password"])
    }
}
