//! `exec-approvals.json` on disk: hash-checked reads and compare-and-swap writes.
//!
//! Every write happens under two locks: a mutex for this process's threads and `flock(2)` on
//! the state directory for other processes (the `approvals` CLI next to a running node). The
//! file is replaced atomically (temp file, fsync, rename, directory fsync) with mode 0600.
//!
//! A file that exists but cannot be read or parsed is never overwritten or reset: every
//! operation fails with an error naming the file and the problem, and `system.run` fails closed.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::document::{hash_raw, normalize_internal, parse, serialize, socket_fields, with_socket};
use crate::paths::StatePaths;

/// The document as read from disk.
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
    /// The file exists but is not a valid approvals document.
    Malformed { path: PathBuf, detail: String },
    /// Reading, locking or writing failed.
    Io { path: PathBuf, detail: String },
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
        }
    }
}

impl std::error::Error for StoreError {}

/// The exec-approvals document on disk, with its hash-checked read and write.
pub struct ApprovalsStore {
    paths: StatePaths,
    lock: Mutex<()>,
}

impl ApprovalsStore {
    pub fn new(paths: &StatePaths) -> ApprovalsStore {
        ApprovalsStore {
            paths: paths.clone(),
            lock: Mutex::new(()),
        }
    }

    pub fn paths(&self) -> &StatePaths {
        &self.paths
    }

    /// `exec-approvals.json`.
    pub fn file_path(&self) -> PathBuf {
        self.paths.exec_approvals_file()
    }

    fn io_error(&self, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.file_path(),
            detail: detail.to_string(),
        }
    }

    /// Reads the document without writing anything. A missing file is the empty default.
    pub fn read(&self) -> Result<Snapshot, StoreError> {
        let path = self.file_path();
        match fs::read(&path) {
            Ok(bytes) => {
                let raw = String::from_utf8(bytes).map_err(|_| StoreError::Malformed {
                    path: path.clone(),
                    detail: "not UTF-8 text".to_string(),
                })?;
                let doc = parse(&raw).map_err(|detail| StoreError::Malformed {
                    path: path.clone(),
                    detail,
                })?;
                Ok(Snapshot {
                    exists: true,
                    hash: hash_raw(Some(&raw)),
                    raw: Some(raw),
                    doc,
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Snapshot {
                exists: false,
                raw: None,
                doc: normalize_internal(&serde_json::json!({"version": 1, "agents": {}})),
                hash: hash_raw(None),
            }),
            Err(err) => Err(self.io_error(format!("cannot be read: {err}"))),
        }
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

    /// Read-modify-write under the locks. With `base_hash`, `Ok(None)` when the stored document
    /// no longer has that hash. `update` returns the new document, or `None` to leave it as is.
    pub fn update<E: From<StoreError>>(
        &self,
        base_hash: Option<&str>,
        update: impl FnOnce(&Snapshot) -> Result<Option<Value>, E>,
    ) -> Result<Option<Snapshot>, E> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _dir_lock = self.lock_dir()?;
        let current = self.read()?;
        if base_hash.is_some_and(|base| base != current.hash) {
            return Ok(None);
        }
        let Some(next) = update(&current)? else {
            return Ok(Some(current));
        };
        let raw = serialize(&next);
        if current.exists && current.raw.as_deref() == Some(raw.as_str()) {
            return Ok(Some(current));
        }
        write_atomic(&self.file_path(), raw.as_bytes())
            .map_err(|err| self.io_error(format!("cannot be written: {err}")))?;
        let doc = parse(&raw).map_err(|detail| StoreError::Malformed {
            path: self.file_path(),
            detail,
        })?;
        Ok(Some(Snapshot {
            exists: true,
            hash: hash_raw(Some(&raw)),
            raw: Some(raw),
            doc,
        }))
    }

    fn lock_dir(&self) -> Result<fs::File, StoreError> {
        let dir = self.paths.dir();
        create_private_dir(dir)
            .map_err(|err| self.io_error(format!("cannot create {}: {err}", dir.display())))?;
        let handle = fs::File::open(dir)
            .map_err(|err| self.io_error(format!("cannot open {}: {err}", dir.display())))?;
        rustix::fs::flock(&handle, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|err| self.io_error(format!("cannot lock {}: {err}", dir.display())))?;
        Ok(handle)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn temp_store(name: &str) -> (ApprovalsStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!("oc-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        (ApprovalsStore::new(&StatePaths::at(&dir)), dir)
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
            super::super::pattern::sha256_hex(text.as_bytes())
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
