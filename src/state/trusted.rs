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
//! A file that does not exist is `Ok(None)`; its directories are then not checked (the caller
//! decides what absence means, e.g. the approvals marker).

use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::StateError;

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

/// Opens and checks the file and its directories; `Ok(None)` when it does not exist.
fn open_trusted(path: &Path) -> Result<Option<File>, StateError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags | OFlags::NOCTTY, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => {
            return Err(StateError::new(
                path,
                "is a symbolic link; the node does not follow links for its state files: \
                 replace it with the file itself",
            ))
        }
        Err(err) => return Err(StateError::io(path, "opening", &io::Error::from(err))),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| StateError::io(path, "opening", &e.into()))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(StateError::unusable(
            path,
            format!(
                "is not a regular file ({}); the node reads its state only from regular files",
                describe_kind(kind)
            ),
        ));
    }
    check_owner_and_mode(path, stat.st_uid, stat.st_mode as u32, "it")?;
    check_directories(path)?;
    Ok(Some(File::from(fd)))
}

/// The node's effective user id.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Owner must be the node's user or root; no group or world write. `what` names the object in
/// the message ("it" for the file, "its directory …" for a directory).
fn check_owner_and_mode(path: &Path, uid: u32, mode: u32, what: &str) -> Result<(), StateError> {
    let me = euid();
    if uid != me && uid != 0 {
        return Err(StateError::new(
            path,
            format!(
                "{what} is owned by uid {uid}, not by the node's user (uid {me}) or root; \
                 another user could change what the node trusts: chown {me} {}, or move it away",
                quote(path)
            ),
        ));
    }
    let is_dir = FileType::from_raw_mode(mode as _) == FileType::Directory;
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(is_dir && sticky) {
        return Err(StateError::new(
            path,
            format!(
                "{what} is writable by group or others (mode {:04o}); only its owner may change \
                 what the node trusts: chmod go-w {}",
                mode & 0o7777,
                quote(path)
            ),
        ));
    }
    Ok(())
}

/// Walks every directory above `path` up to `/`, lexically and along the resolved path.
fn check_directories(path: &Path) -> Result<(), StateError> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| StateError::io(path, "finding the current directory", &e))?
            .join(path)
    };
    let parent = match absolute.parent() {
        Some(parent) => normalize(parent),
        None => return Ok(()),
    };
    let mut dirs: Vec<PathBuf> = parent.ancestors().map(Path::to_path_buf).collect();
    if let Ok(resolved) = std::fs::canonicalize(&parent) {
        if resolved != parent {
            dirs.extend(resolved.ancestors().map(Path::to_path_buf));
        }
    }
    for dir in &dirs {
        // `stat`, not `lstat`: a directory reached through a link is checked where it really is;
        // the link itself sits in the directory above, which is checked too.
        let stat = rustix::fs::stat(dir.as_path()).map_err(|e| {
            StateError::io(
                path,
                &format!("checking its directory {}", dir.display()),
                &e.into(),
            )
        })?;
        let what = format!("its directory {}", dir.display());
        check_owner_and_mode(dir, stat.st_uid, stat.st_mode as u32, &what).map_err(|err| {
            StateError::new(
                path,
                format!(
                    "{}; anyone who can write there can replace the file",
                    err.message
                ),
            )
        })?;
    }
    Ok(())
}

/// `path` without `.` components and with `..` applied lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn quote(path: &Path) -> String {
    crate::shell_quote::always(&path.to_string_lossy())
}

fn describe_kind(kind: FileType) -> &'static str {
    match kind {
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symbolic link",
        _ => "not a regular file",
    }
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
