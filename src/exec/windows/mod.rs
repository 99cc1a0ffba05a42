//! The Windows process runner: one Job object per run (kill-on-close), the gateway's argv as
//! libuv would quote it, PATH+PATHEXT resolution, and output decoded as the TS host does.
//!
//! - [`job`]: [`ProcessGroup`], a child and the Job that holds it and everything it starts. The
//!   child is created suspended, put in the Job, then resumed, so no grandchild escapes.
//!   Timeout and cancel terminate the Job; so does the end of the run: a run leaves no process
//!   behind on Windows (the TS host's `taskkill /T` cannot promise that, and leaves a
//!   background grandchild of a successful run running; this port does not).
//! - [`command_line`]: resolution (PATH, PATHEXT, `.exe .com .cmd .bat` only), libuv's
//!   `quote_cmd_arg`, execa's `/q` for cmd.exe, the cmd.exe wrapper for `.cmd`/`.bat`, and
//!   libuv's required environment variables.
//! - [`supervise`]: two pipe-reader threads and an exit watcher feed one loop that waits on
//!   their channels and the cancel token, with the timeout and drain deadlines.
//! - [`decode`]: UTF-16 BOM, else strict UTF-8, else the console code page (encoding_rs).

mod command_line;
mod decode;
mod job;
mod supervise;

pub use decode::decode_output;
pub use job::ProcessGroup;
pub(super) use supervise::{spawn, supervise};

use super::{capture, ExecSpec, EXIT_DRAIN_MAX, EXIT_QUIET};

/// Windows has no subreaper: the Job object of each run plays that part.
pub fn become_subreaper() -> std::io::Result<()> {
    Ok(())
}
