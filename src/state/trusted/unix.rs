//! The Unix checks: `O_NOFOLLOW`, `fstat`, owner and mode of the file and every directory above.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::super::StateError;

/// Opens and checks the file and its directories; `Ok(None)` when it does not exist.
pub(super) fn open_trusted(path: &Path) -> Result<Option<File>, StateError> {
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

