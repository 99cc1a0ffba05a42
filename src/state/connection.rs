//! Connections to the state database: each holds TS's `state-handles` coordinator shared for
//! as long as it is open, and one is kept open between operations.
//!
//! Opening a connection is cheap; its first statement is not: SQLite parses the whole schema
//! (105 tables, 223 indexes, 64 KB of DDL in 2026.9.6), about a millisecond of CPU, and a
//! `system.run` reads the approvals twice. So the last connection used goes back into a
//! [`Cache`] and the next operation takes it. The cache closes it after [`IDLE_CLOSE`] of
//! disuse, as TS closes its own idle handles (TS after 30 minutes; this node sooner, so that a
//! TS process that must replace the file, which needs `state-handles` exclusively, is kept out
//! only briefly). Closing is one timed wait on a thread that exists only while a connection is
//! cached: an idle node has no connection open and nothing that wakes up.
//!
//! A cached connection is used only for the same file (device and inode): a database replaced
//! or removed behind the node's back is opened anew, never read through a stale handle.

use std::ops::{Deref, DerefMut};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::coordinator::Hold;
use super::schema::Schema;

/// The schema check of a kept connection and what it was made at: (`PRAGMA data_version`,
/// `PRAGMA schema_version`). Both unchanged means no other connection committed anything and
/// the schema is the same, so the check (four queries, two of them over `sqlite_master`)
/// need not run again.
pub type Checked = ((i64, i64), Schema);

/// How long an unused connection stays open.
pub const IDLE_CLOSE: Duration = Duration::from_secs(10);

/// How long an operation waits for the kept connection while another one uses it.
const LEND_WAIT: Duration = Duration::from_millis(50);

/// Which file a connection has open: (device, inode).
pub type FileId = (u64, u64);

/// The file at `path` as a [`FileId`], if it exists.
pub fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::metadata(path).ok()?;
    crate::platform::files::file_identity(path, &meta)
}

/// An open connection with its shared `state-handles` hold; goes back into its cache when
/// dropped (outside a transaction), else closes, the connection before the hold.
#[derive(Debug)]
pub struct Handle {
    conn: Option<Connection>,
    lease: Option<Hold>,
    file: Option<FileId>,
    cache: Option<Arc<Cache>>,
    /// This is the cache's connection, lent out (others wait for it rather than open more).
    lent: bool,
    /// The last schema check on this connection.
    pub checked: Option<Checked>,
}

impl Handle {
    /// A new connection to the file `file`, to return to `cache` after use.
    pub fn new(conn: Connection, lease: Hold, file: Option<FileId>, cache: &Arc<Cache>) -> Handle {
        Handle {
            conn: Some(conn),
            lease: Some(lease),
            file,
            cache: Some(cache.clone()),
            lent: false,
            checked: None,
        }
    }
}

impl Deref for Handle {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only Drop takes the connection out.
        self.conn.as_ref().expect("a live handle has its connection")
    }
}

impl DerefMut for Handle {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("a live handle has its connection")
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let (Some(conn), Some(lease)) = (self.conn.take(), self.lease.take()) else {
            return;
        };
        match (self.cache.take(), self.file) {
            (Some(cache), Some(file)) if conn.is_autocommit() => {
                cache.put(conn, lease, file, self.checked.take(), self.lent)
            }
            (cache, _) => {
                drop(conn);
                drop(lease);
                if let (Some(cache), true) = (cache, self.lent) {
                    cache.returned();
                }
            }
        }
    }
}

/// At most one idle connection of one database, for the whole process ([`Cache::of`]).
#[derive(Debug, Default)]
pub struct Cache {
    slot: Mutex<Slot>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Slot {
    idle: Option<Idle>,
    /// The kept connection is lent to an operation.
    lent: bool,
    /// A closing thread is waiting for this slot.
    closer: bool,
}

#[derive(Debug)]
struct Idle {
    conn: Connection,
    lease: Hold,
    file: FileId,
    checked: Option<Checked>,
    since: Instant,
}

impl Cache {
    /// The one cache of the database at `path` in this process, shared by every
    /// `SqliteState` of it (the node makes one per store; they all reuse one connection).
    pub fn of(path: &Path) -> Arc<Cache> {
        static CACHES: OnceLock<Mutex<HashMap<PathBuf, Arc<Cache>>>> = OnceLock::new();
        let mut caches = CACHES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        caches.entry(path.to_path_buf()).or_default().clone()
    }

    /// The idle connection to `file`, if there is one (one to another file is closed).
    /// While it is lent to another operation, waits a little for it ([`LEND_WAIT`]; reads
    /// take microseconds) rather than open a second connection, which would parse the whole
    /// schema into memory of its own (about 2 MiB).
    pub fn take(self: &Arc<Self>, file: FileId) -> Option<Handle> {
        let mut slot = self.lock();
        if slot.idle.is_none() && slot.lent {
            slot = self
                .wake
                .wait_timeout_while(slot, LEND_WAIT, |slot| slot.idle.is_none() && slot.lent)
                .map(|(slot, _)| slot)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        let idle = slot.idle.take()?;
        if idle.file != file {
            return None;
        }
        slot.lent = true;
        Some(Handle {
            conn: Some(idle.conn),
            lease: Some(idle.lease),
            file: Some(idle.file),
            cache: Some(self.clone()),
            lent: true,
            checked: idle.checked,
        })
    }

    /// The lent connection was closed instead of returned (it was left in a transaction).
    fn returned(&self) {
        self.lock().lent = false;
        self.wake.notify_all();
    }

    /// Closes the idle connection now (tests, and before the file is touched by hand).
    #[cfg(any(test, feature = "internals"))]
    pub fn close_idle(&self) {
        let idle = self.lock().idle.take();
        drop(idle);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `conn` for the next operation, unless one is kept already; starts the closing
    /// thread when there is none.
    fn put(
        self: &Arc<Self>,
        conn: Connection,
        lease: Hold,
        file: FileId,
        checked: Option<Checked>,
        lent: bool,
    ) {
        let mut slot = self.lock();
        if lent {
            slot.lent = false;
            self.wake.notify_all();
        }
        if slot.idle.is_some() {
            drop(conn);
            drop(lease);
            return;
        }
        if !slot.closer {
            let cache = self.clone();
            let spawned = std::thread::Builder::new()
                .name("state-db-idle".into())
                .spawn(move || cache.close_when_idle());
            if spawned.is_err() {
                // No closer, no cache: the connection closes now.
                drop(conn);
                drop(lease);
                return;
            }
            slot.closer = true;
        }
        slot.idle = Some(Idle {
            conn,
            lease,
            file,
            checked,
            since: Instant::now(),
        });
        self.wake.notify_all();
    }

    /// The closing thread: waits until the kept connection has been idle for [`IDLE_CLOSE`],
    /// closes it and ends; a connection taken meanwhile and put back restarts the wait.
    fn close_when_idle(self: Arc<Self>) {
        let mut slot = self.lock();
        loop {
            let Some(since) = slot.idle.as_ref().map(|idle| idle.since) else {
                // Taken and not put back (yet): wait for it, or end if nobody returns it.
                let (next, timeout) = self
                    .wake
                    .wait_timeout(slot, IDLE_CLOSE)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                slot = next;
                if timeout.timed_out() && slot.idle.is_none() {
                    slot.closer = false;
                    return;
                }
                continue;
            };
            let idle_for = since.elapsed();
            if idle_for >= IDLE_CLOSE {
                let idle = slot.idle.take();
                slot.closer = false;
                drop(slot);
                drop(idle);
                return;
            }
            let (next, _) = self
                .wake
                .wait_timeout(slot, IDLE_CLOSE - idle_for)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            slot = next;
        }
    }
}
