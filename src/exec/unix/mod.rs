//! The Unix process runner: a process group per run, watched from one `poll(2)` loop (pidfd,
//! pipes, the cancel token's wake pipe), TERM then KILL to the group, and the subreaper that
//! finds descendants which left it.

mod group;
mod reaper;
mod spawn;
mod supervise;

pub use group::{kill_foreign_group, ProcessGroup};
pub use reaper::become_subreaper;
pub(super) use spawn::spawn;
pub(super) use supervise::supervise;

use super::{capture, ExecSpec, EXIT_DRAIN_MAX, EXIT_QUIET, KILL_GRACE};

/// Output as UTF-8; invalid bytes become U+FFFD.
pub(super) fn decode_output(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}
