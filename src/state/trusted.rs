//! The one way the node reads a file it trusts for decisions (state and policy files), as sshd
//! reads `authorized_keys` under `StrictModes` (OpenSSH `auth2-pubkey.c`, `misc.c` safe_path).
//!
//! A file is used only when all of these hold; otherwise the read fails closed with a message that
//! names the file and says how to fix it:
//! - it is opened with `O_NOFOLLOW`: a symbolic link in its place is refused, never followed;
//! - it is opened with `O_NONBLOCK` and `fstat`ed before any read: anything but a regular file
//!   (a FIFO, a device such as `/dev/zero`, a socket) is refused, and a FIFO cannot hang the open;
//! - it is owned by the node's effective user or by root;
//! - it is not writable by group or others (`mode & 0o022 == 0`);
//! - every directory above it, from its own directory up to `/` (lexically, and again along the
//!   resolved path when a directory on the way is a link), is owned by the node's user or root and
//!   is not group- or world-writable, unless it has the sticky bit (`/tmp`, mode 1777): there
//!   others may add entries but cannot rename or remove ours, so the path below stays ours;
//! - it is at most `max` bytes, enforced while reading (at most `max + 1` bytes are read, so a
//!   file that grows, or lies about its size, costs no more than that).
//!
//! sshd stops its walk at the user's home directory; this walk goes on to `/`, because
//! `OPENCLAW_STATE_DIR` may be anywhere. The directories above a home (`/home`, `/`) are root's
//! on any sane system, so the extra steps cost nothing there.
//!
//! On Windows (`trusted/windows.rs`) the file must be a regular file and no reparse point (a
//! symbolic link or junction in its place is refused, never followed), and the size cap holds;
//! ownership and ACLs are not evaluated there yet (the node's own files are written owner-only).
//!
//! A file that does not exist is `Ok(None)`; its directories are then not checked (the caller
//! decides what absence means, e.g. the approvals marker).

use std::io::{self, Read as _};
use std::path::Path;

use super::StateError;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix::open_trusted;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::open_trusted;

/// Reads `path` through the rules above; `Ok(None)` when it does not exist.
pub fn read_trusted(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StateError> {
    let Some(file) = open_trusted(path)? else {
        return Ok(None);
    };
    read_capped(file, max, path).map(Some)
}

/// Reads at most `max + 1` bytes of `reader`: more than `max` is an error, so memory stays
/// bounded whatever the file does (grows while read, or never ends).
pub(crate) fn read_capped(reader: impl io::Read, max: u64, path: &Path) -> Result<Vec<u8>, StateError> {
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| StateError::io(path, "reading", &e))?;
    if bytes.len() as u64 > max {
        return Err(StateError::unusable(
            path,
            format!(
                "is larger than {} (the limit for this file; the node read no more of it)",
                describe_size(max)
            ),
        ));
    }
    Ok(bytes)
}

/// Checks `path` by the same rules without reading it (the SQLite database, which SQLite opens
/// itself). `Ok(false)` when it does not exist.
pub fn check_trusted(path: &Path) -> Result<bool, StateError> {
    Ok(open_trusted(path)?.is_some())
}

fn describe_size(max: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if max >= MIB && max % MIB == 0 {
        format!("{} MiB ({max} bytes)", max / MIB)
    } else if max >= 1024 && max % 1024 == 0 {
        format!("{} KiB ({max} bytes)", max / 1024)
    } else {
        format!("{max} bytes")
    }
}
