//! The remote-readonly lock: a node whose exec approvals only a local admin can widen.
//!
//! The TS host lets the gateway replace the approvals document (`system.execApprovals.set`),
//! persist allow-always grants, and excuse an allowlist miss with `approved: true`. A gateway
//! that is compromised, or an operator who clicks "always", can therefore widen what runs on
//! the machine. A node owner who does not want that locks the approvals:
//!
//! * `nodeHost.execApprovals.remote: "readonly"` in `openclaw.json` (any value other than
//!   `"readwrite"` counts as read-only: a typo must not silently unlock), or
//! * `openclaw-node approvals lock`, which creates [`LOCK_FILE_NAME`] next to
//!   `exec-approvals.json` (`approvals unlock` removes it). The file's presence is the lock; a
//!   file that cannot be checked (permission denied) counts as present.
//!
//! Locked, the node refuses `system.execApprovals.set`, never persists an allow-always grant,
//! and honours no `approved`/`approvalDecision`/auto-review sent by the gateway: only the
//! local document (allowlist, safe bins, existing grants) decides, so with `ask=on-miss` a miss
//! is denied with `approval required` whatever the gateway says.

use std::path::{Path, PathBuf};

use crate::config::NodeConfig;
use crate::paths::StatePaths;

/// The lock file, next to `exec-approvals.json`.
pub const LOCK_FILE_NAME: &str = "exec-approvals.remote-readonly";

/// The answer to a `system.execApprovals.set` on a locked node.
pub const MSG_SET_LOCKED: &str = "Error: INVALID_REQUEST: exec approvals are read-only for the \
     gateway on this node (remote readonly); change them on the node with `openclaw-node \
     approvals`, or unlock with `openclaw-node approvals unlock`";

/// Where `approvals lock` writes the lock.
pub fn lock_file(paths: &StatePaths) -> PathBuf {
    paths.exec_approvals_file().with_file_name(LOCK_FILE_NAME)
}

/// True when the file at `path` exists, or cannot be checked.
fn present(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => true,
        Err(err) => err.kind() != std::io::ErrorKind::NotFound,
    }
}

/// The lock as the local lock file says.
pub fn locked_by_file(paths: &StatePaths) -> bool {
    present(&lock_file(paths))
}

/// The lock as `openclaw.json` says.
pub fn locked_by_config(config: &NodeConfig) -> bool {
    config.exec_approvals_remote_readonly()
}

/// The node's approvals are read-only for the gateway.
pub fn is_locked(paths: &StatePaths, config: &NodeConfig) -> bool {
    locked_by_config(config) || locked_by_file(paths)
}

/// Creates the lock file; `Ok(false)` when it was already there.
pub fn lock(paths: &StatePaths) -> std::io::Result<bool> {
    let path = lock_file(paths);
    if present(&path) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &path,
        "exec approvals are read-only for the gateway; `openclaw-node approvals unlock` removes this file\n",
    )?;
    Ok(true)
}

/// Removes the lock file; `Ok(false)` when there was none.
pub fn unlock(paths: &StatePaths) -> std::io::Result<bool> {
    match std::fs::remove_file(lock_file(paths)) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lock_file_and_config_each_lock() {
        let dir = std::env::temp_dir().join(format!("oc-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = StatePaths::at(&dir);
        let open = NodeConfig::from_value(json!({}));
        assert!(!is_locked(&paths, &open));
        assert!(lock(&paths).unwrap());
        assert!(!lock(&paths).unwrap(), "already locked");
        assert!(is_locked(&paths, &open));
        assert!(unlock(&paths).unwrap());
        assert!(!unlock(&paths).unwrap());
        assert!(!is_locked(&paths, &open));
        for (value, locked) in [
            (json!("readonly"), true),
            (json!("readwrite"), false),
            (json!("read-only"), true),
            (json!(true), true),
            (json!(null), false),
        ] {
            let config = NodeConfig::from_value(
                json!({"nodeHost": {"execApprovals": {"remote": value.clone()}}}),
            );
            assert_eq!(is_locked(&paths, &config), locked, "{value}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
