//! The exec-approvals document in storage: hash-checked reads and compare-and-swap writes, in
//! `exec-approvals.json` or, when the state directory has a 2026.9 database, in its
//! `exec_approvals_config` row `current` (see `crate::state`).
//!
//! File: every write happens under two locks, a mutex for this process's threads and
//! `flock(2)` on the state directory for other processes (the `approvals` CLI next to a running
//! node); the file is replaced atomically (temp file, fsync, rename, directory fsync), mode 0600.
//! SQLite: every write is one `BEGIN IMMEDIATE` transaction that also fills the projection
//! columns TS keeps beside `raw_json`. The stored text and its hash are the same in both.
//!
//! The file is read through `crate::state::trusted` (no links, no FIFOs or devices, not writable
//! by group or others nor in such a directory, at most 1 MiB); a refused file is `Malformed`.
//!
//! A document that exists but cannot be read or parsed is never overwritten or reset: every
//! operation fails with an error naming where it is and the problem, and `system.run` fails
//! closed. So does a document that is *gone*: when one carrying a policy was seen before
//! (`openclaw-node/exec-approvals.seen`), its absence denies every run instead of quietly
//! falling back to the built-in defaults (security=full).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::document::{hash_raw, normalize_internal, parse, serialize, socket_fields, with_socket};
use crate::paths::StatePaths;
use crate::state::{Backend, SqliteState, StateError};

/// The document as read from storage.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub exists: bool,
    /// The exact stored text (hashed).
    pub raw: Option<String>,
    /// The parsed, normalised document.
    pub doc: Value,
    pub hash: String,
}

/// Why the document is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The stored document is not a valid approvals document.
    Malformed { path: PathBuf, detail: String },
    /// Reading, locking or writing failed.
    Io { path: PathBuf, detail: String },
    /// A document with a policy was seen before and is gone now.
    Gone { path: PathBuf, detail: String },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Malformed { path, detail } => write!(
                f,
                "exec approvals file {} is invalid ({detail}); fix it, or move it away to start from the defaults \
                 (the node refuses to run commands until then)",
                path.display()
            ),
            StoreError::Io { path, detail } => write!(f, "exec approvals file {}: {detail}", path.display()),
            StoreError::Gone { path, detail } => write!(f, "exec approvals {}: {detail}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where the document lives.
#[derive(Debug, Clone)]
enum Storage {
    File,
    Sqlite(SqliteState),
}

/// The exec-approvals document in storage, with its hash-checked read and write.
pub struct ApprovalsStore {
    paths: StatePaths,
    storage: Storage,
    lock: Mutex<()>,
}

impl ApprovalsStore {
    /// The store of the state directory's backend (SQLite when `state/openclaw.sqlite` exists).
    pub fn new(paths: &StatePaths) -> ApprovalsStore {
        let storage = match Backend::detect(paths) {
            Backend::Json(_) => Storage::File,
            Backend::Sqlite(db) => Storage::Sqlite(db),
        };
        ApprovalsStore {
            paths: paths.clone(),
            storage,
            lock: Mutex::new(()),
        }
    }

    /// The store in one SQLite database (tests: a short busy timeout).
    #[cfg(any(test, feature = "internals"))]
    pub fn sqlite(paths: &StatePaths, db: SqliteState) -> ApprovalsStore {
        ApprovalsStore {
            paths: paths.clone(),
            storage: Storage::Sqlite(db),
            lock: Mutex::new(()),
        }
    }

    /// `exec-approvals.json`, or `<db>#exec_approvals_config` (the `path` 2026.9 TS reports).
    pub fn file_path(&self) -> PathBuf {
        match &self.storage {
            Storage::File => self.paths.exec_approvals_file(),
            Storage::Sqlite(db) => {
                let mut path = db.path().as_os_str().to_os_string();
                path.push("#exec_approvals_config");
                PathBuf::from(path)
            }
        }
    }

    /// Where the document is, in words, for logs: "file …" or "SQLite row …".
    pub fn source(&self) -> String {
        match &self.storage {
            Storage::File => format!("file {}", self.paths.exec_approvals_file().display()),
            Storage::Sqlite(db) => format!(
                "SQLite row exec_approvals_config 'current' in {}",
                db.path().display()
            ),
        }
    }

    fn io_error(&self, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.file_path(),
            detail: detail.to_string(),
        }
    }

    fn state_error(&self, err: StateError) -> StoreError {
        self.io_error(err.message)
    }

    fn snapshot(&self, raw: Option<String>) -> Result<Snapshot, StoreError> {
        match raw {
            Some(raw) => {
                let doc = parse(&raw).map_err(|detail| StoreError::Malformed {
                    path: self.file_path(),
                    detail,
                })?;
                Ok(Snapshot {
                    exists: true,
                    hash: hash_raw(Some(&raw)),
                    raw: Some(raw),
                    doc,
                })
            }
            None => Ok(Snapshot {
                exists: false,
                raw: None,
                doc: normalize_internal(&serde_json::json!({"version": 1, "agents": {}})),
                hash: hash_raw(None),
            }),
        }
    }

    /// The stored text, `None` when there is none.
    fn read_raw(&self) -> Result<Option<String>, StoreError> {
        match &self.storage {
            Storage::File => {
                let path = self.file_path();
                // No links, no FIFOs or devices, not writable by others, at most 1 MiB: a
                // refused file is Malformed, so every system.run is denied.
                match crate::state::read_state_file(&path, crate::state::APPROVALS_MAX_BYTES) {
                    Ok(Some(bytes)) => {
                        String::from_utf8(bytes)
                            .map(Some)
                            .map_err(|_| StoreError::Malformed {
                                path: path.clone(),
                                detail: "not UTF-8 text".to_string(),
                            })
                    }
                    Ok(None) => Ok(None),
                    Err(err) => {
                        // Malformed's own text says to fix or move the file; say it once.
                        let suffix = format!("; {}", crate::state::FIX_OR_MOVE);
                        let detail = err.message.strip_suffix(suffix.as_str()).unwrap_or(&err.message);
                        Err(StoreError::Malformed {
                            path: path.clone(),
                            detail: detail.to_string(),
                        })
                    }
                }
            }
            Storage::Sqlite(db) => {
                // A retired file beside the database was not imported (it is invalid, or no
                // import ran yet): which of the two is meant is unknown, so neither is used.
                let legacy = self.paths.exec_approvals_file();
                if legacy.symlink_metadata().is_ok() {
                    return Err(StoreError::Malformed {
                        path: legacy,
                        detail: format!(
                            "a retired file beside the state database {} that was not imported; \
                             `openclaw-node state migrate` imports it, or says why it cannot",
                            db.path().display()
                        ),
                    });
                }
                db.approvals_raw().map_err(|err| self.state_error(err))
            }
        }
    }

    /// Reads the document without writing it. A missing document is the empty default, unless
    /// one with a policy was seen before: then it is an error and every run is denied.
    pub fn read(&self) -> Result<Snapshot, StoreError> {
        let snapshot = self.snapshot(self.read_raw()?)?;
        self.check_marker(&snapshot)?;
        Ok(snapshot)
    }

    /// Records that a document with a policy exists (first sight, or a new place), and refuses
    /// a missing one that was recorded.
    fn check_marker(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let marker = self.paths.approvals_marker_file();
        let seen = match crate::state::read_state_file(
            &marker,
            crate::state::APPROVALS_MARKER_MAX_BYTES,
        ) {
            Ok(seen) => seen,
            // A marker that cannot be trusted still says a policy may have been seen: fail
            // closed (a missing document is then denied, not replaced by the defaults).
            Err(err) => {
                log::warn!("{err}");
                Some(Vec::new())
            }
        };
        if snapshot.exists {
            if !carries_policy(&snapshot.doc) {
                return Ok(());
            }
            let source = self.source();
            let recorded = seen
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| v.get("source").and_then(Value::as_str).map(str::to_string));
            if recorded.as_deref() != Some(source.as_str()) {
                let text = serde_json::json!({
                    "source": source,
                    "hash": snapshot.hash,
                    "seenAtMs": crate::state::now_ms(),
                })
                .to_string();
                if let Err(err) = crate::state::write_atomic(&marker, text.as_bytes()) {
                    log::warn!("could not record where the exec approvals are: {err}");
                }
            }
            return Ok(());
        }
        let Some(seen) = seen else {
            return Ok(());
        };
        let where_seen = serde_json::from_slice::<Value>(&seen)
            .ok()
            .and_then(|v| v.get("source").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "an earlier store".to_string());
        Err(StoreError::Gone {
            path: self.file_path(),
            detail: format!(
                "are missing, but exec approvals with a policy were in {where_seen}; every \
                 system.run is denied rather than run under the built-in defaults. Restore them \
                 (a backup, or `openclaw doctor --fix` if it has not imported them yet), or delete \
                 {} to accept the defaults",
                marker.display()
            ),
        })
    }

    /// `ensureExecApprovalsSnapshot`: the document with a socket path and token, written in its
    /// normalised form when it was missing, lacked them, or was not stored normalised.
    pub fn ensure(&self) -> Result<Snapshot, StoreError> {
        let current = self.read()?;
        if Self::is_ensured(&current, &self.default_socket_path()) {
            return Ok(current);
        }
        let default_socket = self.default_socket_path();
        self.update(None, |current| {
            Ok::<_, StoreError>(Some(with_socket(&current.doc, None, &default_socket)))
        })
        .and_then(|snapshot| {
            snapshot.ok_or_else(|| self.io_error("changed while being initialised; retry"))
        })
    }

    fn is_ensured(snapshot: &Snapshot, default_socket: &str) -> bool {
        let (path, token) = socket_fields(&snapshot.doc);
        path.is_some()
            && token.is_some()
            && snapshot.raw.as_deref()
                == Some(serialize(&with_socket(&snapshot.doc, None, default_socket)).as_str())
    }

    /// The socket path recorded in a new document.
    pub fn default_socket_path(&self) -> String {
        self.paths
            .exec_approvals_socket()
            .to_string_lossy()
            .into_owned()
    }

    /// Read-modify-write under the locks (one transaction with SQLite). With `base_hash`,
    /// `Ok(None)` when the stored document no longer has that hash. `update` returns the new
    /// document, or `None` to leave it as is. A write is how a lost document is replaced, so
    /// it does not refuse a missing one the way [`ApprovalsStore::read`] does.
    pub fn update<E: From<StoreError>>(
        &self,
        base_hash: Option<&str>,
        update: impl FnOnce(&Snapshot) -> Result<Option<Value>, E>,
    ) -> Result<Option<Snapshot>, E> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = match &self.storage {
            Storage::File => {
                let _dir_lock = self.lock_dir()?;
                let current = self.snapshot(self.read_raw()?)?;
                match self.next_raw(base_hash, &current, update)? {
                    Step::Stale => return Ok(None),
                    Step::Keep => current,
                    Step::Write(raw) => {
                        write_atomic(&self.file_path(), raw.as_bytes())
                            .map_err(|err| self.io_error(format!("cannot be written: {err}")))?;
                        self.snapshot(Some(raw))?
                    }
                }
            }
            Storage::Sqlite(db) => {
                if self.paths.exec_approvals_file().symlink_metadata().is_ok() {
                    // Same refusal as in read_raw: never write over an unresolved conflict.
                    let err = self.read_raw().err().unwrap_or_else(|| {
                        self.io_error("a retired exec-approvals.json is in the way")
                    });
                    return Err(err.into());
                }
                let step = db.update_approvals::<_, UpdateError<E>>(|raw| {
                    let current = self.snapshot(raw).map_err(UpdateError::Store)?;
                    let step = self
                        .next_raw(base_hash, &current, update)
                        .map_err(UpdateError::Caller)?;
                    let write = match &step {
                        Step::Write(raw) => Some(raw.clone()),
                        _ => None,
                    };
                    Ok(((step, current), write))
                });
                match step {
                    Ok((Step::Stale, _)) => return Ok(None),
                    Ok((Step::Keep, current)) => current,
                    Ok((Step::Write(raw), _)) => self.snapshot(Some(raw))?,
                    Err(UpdateError::Caller(err)) => return Err(err),
                    Err(UpdateError::Store(err)) => return Err(err.into()),
                    Err(UpdateError::State(err)) => return Err(self.state_error(err).into()),
                }
            }
        };
        if let Err(err) = self.check_marker(&written) {
            log::warn!("{err}");
        }
        Ok(Some(written))
    }

    fn next_raw<E>(
        &self,
        base_hash: Option<&str>,
        current: &Snapshot,
        update: impl FnOnce(&Snapshot) -> Result<Option<Value>, E>,
    ) -> Result<Step, E> {
        if base_hash.is_some_and(|base| base != current.hash) {
            return Ok(Step::Stale);
        }
        let Some(next) = update(current)? else {
            return Ok(Step::Keep);
        };
        let raw = serialize(&next);
        if current.exists && current.raw.as_deref() == Some(raw.as_str()) {
            return Ok(Step::Keep);
        }
        Ok(Step::Write(raw))
    }

    fn lock_dir(&self) -> Result<fs::File, StoreError> {
        let dir = self.paths.dir();
        create_private_dir(dir)
            .map_err(|err| self.io_error(format!("cannot create {}: {err}", dir.display())))?;
        crate::platform::files::lock_dir(dir)
            .map_err(|err| self.io_error(format!("cannot lock {}: {err}", dir.display())))
    }
}

/// What an update decided.
enum Step {
    /// The base hash no longer matches.
    Stale,
    /// Nothing to write.
    Keep,
    /// Store this text.
    Write(String),
}

/// The failures inside an SQLite update transaction, kept apart so the caller's own error
/// type comes back unchanged.
enum UpdateError<E> {
    Caller(E),
    Store(StoreError),
    State(StateError),
}

impl<E> From<StateError> for UpdateError<E> {
    fn from(err: StateError) -> UpdateError<E> {
        UpdateError::State(err)
    }
}

/// Whether losing `doc` would change what runs: it sets a default or has an agent entry.
/// A bare stub (socket only, `defaults:{}`, `agents:{}`, what `get` creates) carries none, and
/// Doctor archives such a stub instead of importing it.
pub fn carries_policy(doc: &Value) -> bool {
    let defaults = doc
        .get("defaults")
        .and_then(Value::as_object)
        .is_some_and(|d| !d.is_empty());
    let agents = doc
        .get("agents")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty());
    defaults || agents
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    crate::platform::files::create_private_dir_all(dir)
}

/// `doc` with a socket path and token (the ones it has, else new ones), as every stored
/// document carries.
pub fn ensure_socket_doc(store: &ApprovalsStore, doc: &Value) -> Value {
    with_socket(doc, None, &store.default_socket_path())
}

/// Writes `bytes` to `path` atomically with mode 0600 (temp file, fsync, rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::state::write_atomic(path, bytes).map_err(|err| err.message)
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn temp_store(name: &str) -> (ApprovalsStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!("oc-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let paths = StatePaths::at(&dir).with_new_state(crate::paths::NewStateBackend::Json);
        (ApprovalsStore::new(&paths), dir)
    }

    #[test]
    fn ensure_creates_once_and_hash_covers_stored_text() {
        let (store, dir) = temp_store("ensure");
        let missing = store.read().unwrap();
        assert!(!missing.exists);
        assert_eq!(missing.hash, hash_raw(None));
        let first = store.ensure().unwrap();
        assert!(first.exists);
        let text = fs::read_to_string(store.file_path()).unwrap();
        assert_eq!(
            first.hash,
            crate::digest::sha256_hex(text.as_bytes())
        );
        assert!(text.ends_with("}\n"));
        assert_eq!(
            fs::metadata(store.file_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let second = store.ensure().unwrap();
        assert_eq!(first.hash, second.hash, "a second get does not rewrite");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cas_and_malformed_files() {
        let (store, dir) = temp_store("cas");
        let first = store.ensure().unwrap();
        let stale = store
            .update::<StoreError>(Some("stale"), |_| Ok(Some(json!({}))))
            .unwrap();
        assert!(stale.is_none());
        let next = store
            .update::<StoreError>(Some(&first.hash), |s| {
                let mut doc = s.doc.clone();
                doc["defaults"]["security"] = json!("deny");
                Ok(Some(doc))
            })
            .unwrap()
            .unwrap();
        assert_ne!(next.hash, first.hash);
        fs::write(store.file_path(), "{ not json").unwrap();
        let err = store.read().unwrap_err();
        assert!(err
            .to_string()
            .contains(&store.file_path().display().to_string()));
        assert!(err.to_string().contains("invalid JSON"));
        assert!(store.ensure().is_err());
        assert_eq!(
            fs::read_to_string(store.file_path()).unwrap(),
            "{ not json",
            "never overwritten"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
