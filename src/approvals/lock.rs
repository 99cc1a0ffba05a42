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

/// The node's approvals are read-only for the gateway: `openclaw.json` says so
/// (`config_readonly`, the application reads it) or the local lock file does.
pub fn is_locked(paths: &StatePaths, config_readonly: bool) -> bool {
    config_readonly || locked_by_file(paths)
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

    #[test]
    fn the_lock_file_or_the_config_locks() {
        let dir = std::env::temp_dir().join(format!("oc-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = StatePaths::at(&dir);
        assert!(!is_locked(&paths, false));
        assert!(is_locked(&paths, true), "the config alone locks");
        assert!(lock(&paths).unwrap());
        assert!(!lock(&paths).unwrap(), "already locked");
        assert!(is_locked(&paths, false));
        assert!(unlock(&paths).unwrap());
        assert!(!unlock(&paths).unwrap());
        assert!(!is_locked(&paths, false));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
