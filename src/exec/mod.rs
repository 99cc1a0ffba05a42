//! Running one command: spawn from argv (no shell), capture output under a cap, time out and
//! cancel by killing the whole process group.
//!
//! This is the process runner behind `system.run` (protocol.md §5.1 "Execution"). It follows
//! the TS node host (`runCommandWithTimeout` with `killProcessTree`, head capture of 200 000
//! combined bytes):
//!
//! - The child is spawned directly from argv with an environment of exactly [`ExecSpec::env`],
//!   stdin a pipe closed at once, stdout and stderr piped, in a new process group.
//! - Output: the first [`ExecSpec::output_cap`] bytes of stdout and stderr *together* are kept;
//!   the rest is read and dropped, so memory stays bounded whatever the command prints, and the
//!   command is never killed for printing. See [`TRUNCATION_MARKER`].
//! - Timeout and cancellation: SIGTERM to the process group, SIGKILL to the group
//!   [`KILL_GRACE`] later if anything in it is still alive.
//! - A direct child that exits non-zero (or dies of a signal) takes the rest of its process
//!   group with it, by the same TERM→KILL sequence.
//! - After the direct child exits, the pipes are drained until they are quiet for
//!   [`EXIT_QUIET`] or [`EXIT_DRAIN_MAX`] has passed, so a background grandchild holding a pipe
//!   (`sh -c 'sleep 100 &'`) does not hold the result back. Such a grandchild is left running
//!   when the direct child exited 0, as the TS host does.
//!
//! The child and its group belong to a [`ProcessGroup`], the one owner of a spawned process
//! group in the node (Chromium and the service manager's tools go through it too): it signals
//! the group, reaps the leader, and kills a group dropped unreaped.
//!
//! Cost: no threads. The caller's thread `poll(2)`s on stdout, stderr, a pidfd for the child
//! (Linux) and the cancel token's wake fd, with the poll timeout taken from the nearest
//! deadline; it never sleeps in a loop. Every child is reaped on every path.
//!
//! On unix systems without pidfds (or when `pidfd_open` fails) the runner notices the child's
//! exit by `try_wait` at bounded intervals (1 ms doubling to 50 ms) instead.

mod capture;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

#[cfg(unix)]
pub use unix::kill_foreign_group;
pub use imp::{become_subreaper, ProcessGroup};

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;

/// The combined stdout+stderr bytes `system.run` keeps (`OUTPUT_CAP` in the TS host).
pub const DEFAULT_OUTPUT_CAP: usize = 200_000;

/// Appended to stderr when it is non-blank, else to stdout, when output was dropped.
pub const TRUNCATION_MARKER: &str = "\n... (truncated)";

/// Time between SIGTERM and SIGKILL to the process group.
#[cfg_attr(windows, allow(dead_code))] // Windows terminates a Job at once
pub const KILL_GRACE: Duration = Duration::from_millis(300);

/// After the direct child exits, the pipes are closed once they have been quiet this long.
pub const EXIT_QUIET: Duration = Duration::from_millis(100);

/// After the direct child exits, the pipes are closed at the latest this much later.
pub const EXIT_DRAIN_MAX: Duration = Duration::from_secs(1);

/// Exit code `system.run` reports for a run that timed out (see [`reported_exit_code`]).
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// What to run. `env` is the child's complete environment (nothing is inherited).
///
/// `argv[0]` without a `/` is looked up in the `PATH` of `env` as `execvp(3)` would (with no
/// `PATH` there, the libc default path applies). A relative path with a `/` (`./tool`) is taken
/// from `cwd` when it is set, else from the node's working directory. An executable without
/// `#!` is run by `/bin/sh` as a script file, as `execvp(3)` and the TS host do.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The command and its arguments; never run through a shell.
    pub argv: Vec<String>,
    /// The child's working directory; `None` keeps the node's.
    pub cwd: Option<PathBuf>,
    /// The child's whole environment, in order (a later duplicate key wins).
    pub env: Vec<(String, String)>,
    /// Kill the run after this long. `None` or zero means no timeout.
    pub timeout: Option<Duration>,
    /// Combined stdout+stderr bytes kept (the head); the rest is read and dropped.
    /// [`Default`] gives [`DEFAULT_OUTPUT_CAP`].
    pub output_cap: usize,
}

impl Default for ExecSpec {
    fn default() -> ExecSpec {
        ExecSpec {
            argv: Vec::new(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }
}

/// How it ended.
#[derive(Debug, Default)]
pub struct ExecOutcome {
    /// The exit status, when the process exited (not killed by a signal, not failed to launch).
    /// This is the child's own code; see [`reported_exit_code`] for what `system.run` reports.
    pub exit_code: Option<i32>,
    /// The signal that killed the direct child, if one did.
    pub signal: Option<i32>,
    /// The timeout fired while the direct child was running (the group was then terminated).
    pub timed_out: bool,
    /// The cancel token fired during the run (the group was then terminated), or before it, in
    /// which case nothing was launched.
    pub cancelled: bool,
    /// Captured stdout, decoded as UTF-8 (invalid bytes become U+FFFD), with
    /// [`TRUNCATION_MARKER`] appended when it was chosen to carry it.
    pub stdout: String,
    /// Captured stderr, like `stdout`.
    pub stderr: String,
    /// Output went past `output_cap`.
    pub truncated: bool,
    /// The spawn failed (missing binary, bad cwd ...): the OS error. See [`launch_error_code`].
    pub launch_error: Option<io::Error>,
    /// The direct child's process id (also its process group id), once it was launched.
    pub pid: Option<u32>,
    /// From the call to [`run`] to its return.
    pub duration: Duration,
}

/// Runs `spec` to completion, timeout or cancellation, on the calling thread.
///
/// Returns after the direct child has been reaped and the pipes are closed; when the process
/// group was being terminated, also after the group is gone or has been sent SIGKILL. A token
/// already cancelled on entry launches nothing and returns `cancelled`.
pub fn run(spec: &ExecSpec, cancel: &CancelToken) -> ExecOutcome {
    let started = Instant::now();
    let mut outcome = ExecOutcome::default();
    if cancel.is_cancelled() {
        outcome.cancelled = true;
        outcome.duration = started.elapsed();
        return outcome;
    }
    let group = match imp::spawn(spec) {
        Ok(group) => group,
        Err(err) => {
            outcome.launch_error = Some(err);
            outcome.duration = started.elapsed();
            return outcome;
        }
    };
    outcome.pid = Some(group.id());
    let ended = imp::supervise(group, spec, cancel);
    outcome.exit_code = ended.exit_code;
    outcome.signal = ended.signal;
    outcome.timed_out = ended.timed_out;
    outcome.cancelled = ended.cancelled;
    let captured = ended.capture.finish();
    outcome.stdout = captured.stdout;
    outcome.stderr = captured.stderr;
    outcome.truncated = captured.truncated;
    outcome.duration = started.elapsed();
    outcome
}

/// The `exitCode` `system.run` reports: `None` (key absent) after a launch failure or a death by
/// signal; after a timeout, 124 when the child died of the signal or exited 0 and its own code
/// when it trapped SIGTERM and exited non-zero; otherwise the child's code.
pub fn reported_exit_code(outcome: &ExecOutcome) -> Option<i32> {
    if outcome.launch_error.is_some() {
        return None;
    }
    if outcome.timed_out {
        return match outcome.exit_code {
            None | Some(0) => Some(TIMEOUT_EXIT_CODE),
            Some(code) => Some(code),
        };
    }
    outcome.exit_code
}

/// The errno name of a launch error, as Node.js puts it in `error.code` ("ENOENT", "ENOTDIR",
/// "EACCES", ...), for `system.run`'s "Command failed during launch or output capture (CODE)".
/// Errors that carry no OS error (a NUL byte in an argument, an empty argv) are "EINVAL";
/// OS errors without a name here are "UNKNOWN", as libuv names them.
pub fn launch_error_code(err: &io::Error) -> &'static str {
    crate::platform::os_error::errno_name(err).unwrap_or("EINVAL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_exit_code_follows_the_timeout_rule() {
        let outcome = |exit_code, signal, timed_out| ExecOutcome {
            exit_code,
            signal,
            timed_out,
            ..ExecOutcome::default()
        };
        assert_eq!(reported_exit_code(&outcome(Some(0), None, false)), Some(0));
        assert_eq!(reported_exit_code(&outcome(Some(3), None, false)), Some(3));
        assert_eq!(reported_exit_code(&outcome(None, Some(9), false)), None);
        assert_eq!(
            reported_exit_code(&outcome(None, Some(15), true)),
            Some(124)
        );
        assert_eq!(reported_exit_code(&outcome(Some(0), None, true)), Some(124));
        assert_eq!(reported_exit_code(&outcome(Some(7), None, true)), Some(7));
        let failed = ExecOutcome {
            launch_error: Some(io::Error::from_raw_os_error(2)),
            ..ExecOutcome::default()
        };
        assert_eq!(reported_exit_code(&failed), None);
    }

    #[cfg(unix)]
    #[test]
    fn launch_error_codes_use_errno_names() {
        use rustix::io::Errno;
        let code =
            |errno: Errno| launch_error_code(&io::Error::from_raw_os_error(errno.raw_os_error()));
        assert_eq!(code(Errno::NOENT), "ENOENT");
        assert_eq!(code(Errno::NOTDIR), "ENOTDIR");
        assert_eq!(code(Errno::ACCESS), "EACCES");
        assert_eq!(code(Errno::NOEXEC), "ENOEXEC");
        assert_eq!(code(Errno::XDEV), "UNKNOWN");
        assert_eq!(
            launch_error_code(&io::Error::new(io::ErrorKind::InvalidInput, "nul byte")),
            "EINVAL"
        );
    }

    #[test]
    fn default_spec_keeps_the_system_run_cap() {
        assert_eq!(ExecSpec::default().output_cap, 200_000);
    }
}
