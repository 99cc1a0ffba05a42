//! Running one command: spawn from argv (no shell), capture output under a cap, time out and
//! cancel by killing the whole process group.
//!
//! STUB: being written. The interface below is what `system.run` uses.

use std::path::PathBuf;
use std::time::Duration;

use crate::invoke::CancelToken;

/// What to run. `env` is the child's complete environment (nothing is inherited).
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// Combined stdout+stderr bytes kept (the head); the rest is read and dropped.
    pub output_cap: usize,
}

/// How it ended.
#[derive(Debug, Default)]
pub struct ExecOutcome {
    /// The exit status, when the process exited (not killed by a signal, not failed to launch).
    pub exit_code: Option<i32>,
    /// The signal that killed the direct child, if one did.
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub stdout: String,
    pub stderr: String,
    /// Output went past `output_cap`.
    pub truncated: bool,
    /// The spawn failed (missing binary, bad cwd ...): the OS error.
    pub launch_error: Option<std::io::Error>,
    pub duration: Duration,
}

/// Runs `spec` to completion, timeout or cancellation.
pub fn run(spec: &ExecSpec, cancel: &CancelToken) -> ExecOutcome {
    let _ = (spec, cancel);
    unimplemented!("exec")
}
