//! Exec approvals: the local policy document and the decision for each run.
//!
//! STUB: being written.

pub mod cli;

use crate::paths::StatePaths;

/// The exec-approvals document on disk, with its hash-checked read and write.
pub struct ApprovalsStore {
    paths: StatePaths,
}

impl ApprovalsStore {
    pub fn new(paths: &StatePaths) -> ApprovalsStore {
        ApprovalsStore {
            paths: paths.clone(),
        }
    }
    pub fn paths(&self) -> &StatePaths {
        &self.paths
    }
}
