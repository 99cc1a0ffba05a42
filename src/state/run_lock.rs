//! One `run` per state directory.
//!
//! Two nodes sharing a state directory share one device identity: the gateway sees one device
//! connecting twice, each connection replacing the other, and both write the same status and
//! token files. `run` therefore holds an exclusive `flock(2)` on `openclaw-node/run.lock` for its
//! whole life. The kernel drops the lock when the process ends however it ends, so a crash
//! leaves no stale lock to clean up; the pid written into the file is only for the message.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::create_private_dir_all;
use crate::platform::files;

/// Held for as long as this value lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another live process holds it; its pid when the file names one.
    Held {
        path: PathBuf,
        pid: Option<u32>,
    },
    Io {
        path: PathBuf,
        detail: String,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, pid } => {
                let who = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
                write!(
                    f,
                    "already running{who}: another openclaw-node run uses this state directory \
                     (lock {}). Stop it first, or give this one its own OPENCLAW_STATE_DIR",
                    path.display()
                )
            }
            LockError::Io { path, detail } => {
                write!(f, "cannot lock {}: {detail}", path.display())
            }
        }
    }
}

impl RunLock {
    /// Takes the lock at `path` without waiting, and records this process's pid in it.
    pub fn acquire(path: &Path) -> Result<RunLock, LockError> {
        let io_error = |detail: String| LockError::Io {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(dir) = path.parent() {
            create_private_dir_all(dir).map_err(|e| io_error(e.to_string()))?;
        }
        let mut file = files::open_private_rw(path).map_err(|e| io_error(e.to_string()))?;
        match files::try_lock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut text = String::new();
                // Bounded: the file holds a pid, and a hostile one is only ever parsed.
                let _ = (&file).take(64).read_to_string(&mut text);
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(err) => return Err(io_error(err.to_string())),
        }
        // Ours now: replace whatever pid an earlier run left.
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        if let Err(err) = written {
            log::warn!("could not record the pid in {}: {err}", path.display());
        }
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = std::env::temp_dir().join(format!("oc-run-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("openclaw-node/run.lock");
        let first = RunLock::acquire(&path).expect("the first run takes the lock");
        match RunLock::acquire(&path) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        RunLock::acquire(&path).expect("free again once the holder is gone");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
