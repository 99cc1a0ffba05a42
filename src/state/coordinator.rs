//! The cross-process locks ("coordinators") openclaw 2026.9 takes around its state database,
//! taken the same way, so a Rust node and a TS gateway, CLI or doctor run on the same state
//! directory exclude each other where TS excludes itself.
//!
//! A coordinator is an empty SQLite file held in a transaction: `BEGIN EXCLUSIVE` for an
//! exclusive hold, `BEGIN` plus one read for a shared one, with `journal_mode = MEMORY` so
//! nothing is ever written into it. The lock is SQLite's own file lock on that file (POSIX
//! record locks on Unix), so it is released when the connection closes or the process dies,
//! and any SQLite build sees it. Names and places (2026.9.6 `sqlite-coordinator`,
//! `state-database-coordinator-paths`, `device-identity-coordinator-paths`):
//!
//! | family | file | taken |
//! |---|---|---|
//! | `state-lifecycle` | `/tmp/openclaw-state-locks-<uid>/state-lifecycle.<h>.lock.sqlite` | exclusive, around every write transaction |
//! | `state-handles` | `/tmp/openclaw-state-locks-<uid>/state-handles.<h>.lock.sqlite` | shared, while a connection is open (an exclusive holder is replacing the file) |
//! | `gateway-lifecycle` | `/tmp/openclaw-state-locks-<uid>/gateway-lifecycle.<h>.lock.sqlite` | exclusive without waiting, around a schema change; a running gateway holds it |
//! | `device-identity` | `$STATE/tmp/openclaw-<uid>/device-identity.<h>.lock.sqlite` | exclusive, while the identity is created or imported |
//!
//! `<h>` is the first 8 hex digits of the SHA-256 of the database's canonical path (symbolic
//! links resolved up to the nearest existing ancestor, the rest appended). The lock
//! directories are 0700 and must be real directories owned by this user. TS takes them in the
//! order state-lifecycle, then the others; so does this module's caller, so no two processes
//! wait on each other in a cycle.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StateError;

/// One coordinator family (the first part of the lock file's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    StateLifecycle,
    StateHandles,
    GatewayLifecycle,
    DeviceIdentity,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::StateLifecycle => "state-lifecycle",
            Family::StateHandles => "state-handles",
            Family::GatewayLifecycle => "gateway-lifecycle",
            Family::DeviceIdentity => "device-identity",
        }
    }
}

/// The lock files of one state database.
#[derive(Debug, Clone)]
pub struct Coordinators {
    /// `/tmp/openclaw-state-locks-<uid>` (TS's "state lifecycle runtime directory" on Unix).
    runtime_dir: PathBuf,
    /// `$STATE/tmp/openclaw-<uid>` (TS's gateway lock directory).
    state_lock_dir: PathBuf,
    /// The 8 hex digits naming this database.
    hash: String,
}

impl Coordinators {
    /// The coordinators of the database at `db` (`$STATE/state/openclaw.sqlite`).
    pub fn of(db: &Path) -> Coordinators {
        let uid = crate::platform::host::user_ids().0;
        let canonical = canonical_via_existing_ancestor(db);
        let state_dir = db
            .parent()
            .and_then(Path::parent)
            .map(canonical_via_existing_ancestor)
            .unwrap_or_else(|| PathBuf::from("."));
        Coordinators {
            runtime_dir: PathBuf::from("/tmp").join(format!("openclaw-state-locks-{uid}")),
            state_lock_dir: state_dir.join("tmp").join(format!("openclaw-{uid}")),
            hash: crate::digest::sha256_hex(canonical.as_os_str().as_encoded_bytes())[..8]
                .to_string(),
        }
    }

    /// Where the lock file of `family` is.
    pub fn path(&self, family: Family) -> PathBuf {
        let dir = match family {
            Family::DeviceIdentity => &self.state_lock_dir,
            _ => &self.runtime_dir,
        };
        dir.join(format!("{}.{}.lock.sqlite", family.name(), self.hash))
    }

    /// Takes `family` exclusively, waiting up to `wait` for another holder to let go.
    pub fn exclusive(&self, family: Family, wait: Duration) -> Result<Hold, StateError> {
        self.take(family, wait, true)
    }

    /// Takes `family` shared (others may share it; an exclusive holder makes us wait).
    pub fn shared(&self, family: Family, wait: Duration) -> Result<Hold, StateError> {
        self.take(family, wait, false)
    }

    fn take(&self, family: Family, wait: Duration, exclusive: bool) -> Result<Hold, StateError> {
        let path = self.path(family);
        if let Some(dir) = path.parent() {
            ensure_private_dir(dir)?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| lock_error(&path, family, &e))?;
        let begin = if exclusive {
            "BEGIN EXCLUSIVE;"
        } else {
            "BEGIN; SELECT rootpage FROM sqlite_schema LIMIT 1;"
        };
        conn.busy_timeout(wait)
            .and_then(|()| conn.execute_batch(&format!("PRAGMA journal_mode = MEMORY; {begin}")))
            .map_err(|e| lock_error(&path, family, &e))?;
        Ok(Hold { conn: Some(conn) })
    }
}

/// A coordinator held until this value is dropped.
#[derive(Debug)]
pub struct Hold {
    conn: Option<Connection>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection drops the lock even if the rollback fails.
            let _ = conn.execute_batch("ROLLBACK");
            let _ = conn.close();
        }
    }
}

fn lock_error(path: &Path, family: Family, err: &rusqlite::Error) -> StateError {
    use rusqlite::ErrorCode;
    let message = match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
            "another OpenClaw process holds the {} lock of this state database (an openclaw \
             gateway, CLI or doctor run); try again when it is done",
            family.name()
        ),
        _ => format!("cannot take the {} lock: {err}", family.name()),
    };
    StateError::new(path, message)
}

/// Creates `dir` (0700) if needed and checks it as TS does: a real directory, owned by this
/// user, private. A lock directory someone else controls could be used to hold our locks.
fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    super::create_private_dir_all(dir).map_err(|e| StateError::io(dir, "creating", &e))?;
    let meta = dir
        .symlink_metadata()
        .map_err(|e| StateError::io(dir, "checking", &e))?;
    if !meta.is_dir() {
        return Err(StateError::new(
            dir,
            "this lock directory is not a real directory; remove it",
        ));
    }
    crate::platform::files::keep_dir_mine(dir, &meta).map_err(|message| StateError::new(dir, message))
}

/// `path` with symbolic links resolved up to its nearest existing ancestor, the missing rest
/// appended (TS's `resolvePathViaExistingAncestorSync`), so the name is the same before and
/// after the database is created.
fn canonical_via_existing_ancestor(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut missing = Vec::new();
    let mut cursor = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(cursor) {
            let mut out = real;
            for part in missing.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cursor.parent(), cursor.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                cursor = parent;
            }
            _ => return absolute,
        }
    }
}
