//! The one interface over both backends: which one a state directory uses, and the identity,
//! node-config and device-token operations that dispatch to it.
//!
//! The choice is made from the directory itself, every time, so every caller (the running
//! node, `approvals`, `status`, `service`) agrees without being told:
//! - SQLite whenever `state/openclaw.sqlite` exists (a 2026.9 TS host, `openclaw doctor --fix`
//!   or this node created it);
//! - else the JSON files when any of them exists (an earlier openclaw-node, or a 2026.7 TS
//!   node, wrote them: that node keeps working as it was);
//! - else, in a fresh directory, SQLite: the first write creates the database with the
//!   2026.9.6 schema, as a 2026.9 TS node host's first start does, so the TS CLI works in
//!   that HOME. `OPENCLAW_NODE_STATE_BACKEND=json` makes a fresh directory use the JSON files
//!   instead, for a machine whose `openclaw` CLI is 2026.7-era and reads only those.

use std::path::PathBuf;

use super::json::{self, DeviceAuthFile};
use super::sqlite::SqliteState;
use super::{NodeState, StateError};
use crate::identity::DeviceIdentity;
use crate::paths::{NewStateBackend, StatePaths};

/// One stored device token (`tokens.<role>` in `identity/device-auth.json`, or a
/// `device_auth_tokens` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthEntry {
    /// The device token (a secret: never log it).
    pub token: String,
    pub role: String,
    /// The scopes granted with the token, as stored.
    pub scopes: Vec<String>,
    /// When the token was stored (ms since the epoch); 0 when the store did not say.
    pub updated_at_ms: u64,
}

/// Where a state directory keeps its facts.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `node.json`, `identity/*.json`, `exec-approvals.json` in the state directory.
    Json(StatePaths),
    /// The node-host rows of `state/openclaw.sqlite`.
    Sqlite(SqliteState),
}

impl Backend {
    /// SQLite when `state/openclaw.sqlite` exists (as anything: a directory in its place is an
    /// error when it is opened, never a silent fall-back to the JSON files); else JSON when a
    /// JSON state file exists; else the directory's choice for fresh state (SQLite unless
    /// `OPENCLAW_NODE_STATE_BACKEND=json`).
    pub fn detect(paths: &StatePaths) -> Backend {
        let db = SqliteState::at(paths.state_db_file());
        if db.exists() {
            return Backend::Sqlite(db);
        }
        if !super::migrate::legacy_files(paths).is_empty() {
            return Backend::Json(paths.clone());
        }
        match paths.new_state() {
            NewStateBackend::Sqlite => Backend::Sqlite(db),
            NewStateBackend::Json => Backend::Json(paths.clone()),
        }
    }

    /// `"json"` or `"sqlite"`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Json(_) => "json",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    /// The directory (JSON) or database file (SQLite).
    pub fn location(&self) -> PathBuf {
        match self {
            Backend::Json(paths) => paths.dir().to_path_buf(),
            Backend::Sqlite(db) => db.path().to_path_buf(),
        }
    }

    pub fn load_node(&self) -> Result<Option<NodeState>, StateError> {
        match self {
            Backend::Json(paths) => json::load_node(paths),
            Backend::Sqlite(db) => db.load_node(),
        }
    }

    pub fn save_node(&self, state: &NodeState) -> Result<(), StateError> {
        match self {
            Backend::Json(paths) => json::save_node(paths, state),
            Backend::Sqlite(db) => db.save_node(state),
        }
    }

    pub fn load_identity(&self) -> Result<Option<DeviceIdentity>, StateError> {
        match self {
            Backend::Json(paths) => json::load_identity(paths),
            Backend::Sqlite(db) => db.load_identity(),
        }
    }
}

/// Loads the device identity, creating a new key pair on first start.
///
/// An existing identity is only ever read: one that cannot be used is an error (replacing it
/// gives the node a new identity, which the gateway must approve again). With SQLite, a legacy
/// `identity/device.json` that was not imported yet is never replaced by a new key: that is
/// the pairing-loss the import exists to prevent.
pub fn load_or_create_identity(paths: &StatePaths) -> Result<DeviceIdentity, StateError> {
    match Backend::detect(paths) {
        Backend::Json(paths) => json::load_or_create_identity(&paths),
        Backend::Sqlite(db) => {
            if let Some(identity) = db.load_identity()? {
                return Ok(identity);
            }
            let legacy = paths.device_identity_file();
            if legacy.symlink_metadata().is_ok() {
                return Err(StateError::new(
                    &legacy,
                    format!(
                        "this identity is not in {} yet; `openclaw-node state migrate` imports it \
                         (a new identity would lose this device's pairing)",
                        db.path().display()
                    ),
                ));
            }
            let (identity, created) = db.insert_identity(&DeviceIdentity::generate(), None)?;
            if created {
                log::info!(
                    "created device identity {} in {} (device_identities 'primary'); the gateway \
                     must approve this device before it can connect",
                    identity.device_id(),
                    db.path().display()
                );
            }
            Ok(identity)
        }
    }
}

/// Loads the device identity without ever creating or changing anything.
pub fn load_identity(paths: &StatePaths) -> Result<Option<DeviceIdentity>, StateError> {
    Backend::detect(paths).load_identity()
}

/// The device tokens `hello-ok` issues, by (device id, role), in the backend in use.
#[derive(Debug)]
pub struct DeviceAuthStore {
    inner: AuthBackend,
}

#[derive(Debug)]
enum AuthBackend {
    File(DeviceAuthFile),
    Sqlite(SqliteState),
}

impl DeviceAuthStore {
    /// The store of the state directory's backend.
    pub fn new(paths: &StatePaths) -> DeviceAuthStore {
        let inner = match Backend::detect(paths) {
            Backend::Json(paths) => AuthBackend::File(DeviceAuthFile::new(&paths)),
            Backend::Sqlite(db) => AuthBackend::Sqlite(db),
        };
        DeviceAuthStore { inner }
    }

    /// A JSON store at an explicit path (tests and fuzzing).
    #[cfg(any(test, feature = "internals"))]
    pub fn at(path: PathBuf) -> DeviceAuthStore {
        DeviceAuthStore {
            inner: AuthBackend::File(DeviceAuthFile::at(path)),
        }
    }

    /// The tokens of one SQLite database (tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn sqlite(db: SqliteState) -> DeviceAuthStore {
        DeviceAuthStore {
            inner: AuthBackend::Sqlite(db),
        }
    }

    /// Where the tokens are, in words (tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn location(&self) -> String {
        match &self.inner {
            AuthBackend::File(file) => file.path().display().to_string(),
            AuthBackend::Sqlite(db) => format!("device_auth_tokens in {}", db.path().display()),
        }
    }

    /// The stored token for (`device_id`, `role`), if any.
    pub fn token(&self, device_id: &str, role: &str) -> Result<Option<String>, StateError> {
        Ok(self.entry(device_id, role)?.map(|entry| entry.token))
    }

    /// The stored entry for (`device_id`, `role`), if any. An empty token counts as none.
    pub fn entry(
        &self,
        device_id: &str,
        role: &str,
    ) -> Result<Option<DeviceAuthEntry>, StateError> {
        match &self.inner {
            AuthBackend::File(file) => file.entry(device_id, role),
            AuthBackend::Sqlite(db) => db.token_entry(device_id, role),
        }
    }

    /// Stores the token `hello-ok` issued for (`device_id`, `role`).
    ///
    /// Compare-and-swap: `previous` is the token read before connecting (`None` if there was
    /// none). If the store now holds something else, another process changed it meanwhile and
    /// its token is kept (logged). If the token is the one already stored, nothing is written,
    /// so the stored scopes stay.
    pub fn store(
        &self,
        device_id: &str,
        role: &str,
        token: &str,
        scopes: &[String],
        previous: Option<&str>,
    ) -> Result<(), StateError> {
        match &self.inner {
            AuthBackend::File(file) => file.store(device_id, role, token, scopes, previous),
            AuthBackend::Sqlite(db) => db.store_token(device_id, role, token, scopes, previous),
        }
    }

    /// Deletes the token for (`device_id`, `role`) if it still equals `stale` (compare-and-delete:
    /// a newer token stored meanwhile survives).
    pub fn clear_if(&self, device_id: &str, role: &str, stale: &str) -> Result<(), StateError> {
        match &self.inner {
            AuthBackend::File(file) => file.clear_if(device_id, role, stale),
            AuthBackend::Sqlite(db) => db.clear_token_if(device_id, role, stale),
        }
    }
}

/// What `run` does first, under its run lock: choose the backend, say which and why (and, for
/// SQLite, its schema), create the database of a fresh directory as a TS node host's first
/// start does, and import the retired JSON files an earlier openclaw-node left beside the
/// database. An import that cannot be done safely stops the node (it names the file and what
/// to do); an unreadable database does too, as the node cannot know who it is.
pub fn open_for_run(
    paths: &StatePaths,
    check_approvals: super::migrate::ApprovalsCheck,
) -> Result<Backend, StateError> {
    let backend = Backend::detect(paths);
    match &backend {
        Backend::Json(paths) => {
            let why = if super::migrate::legacy_files(paths).is_empty() {
                format!(
                    "a fresh state directory, and {}={}",
                    crate::paths::STATE_BACKEND_ENV,
                    paths.new_state().name()
                )
            } else {
                format!(
                    "JSON state files are here and no {} (`openclaw doctor --fix` or \
                     `openclaw-node state migrate --create` moves them into SQLite)",
                    paths.state_db_file().display()
                )
            };
            log::info!("state: JSON files in {} ({why})", paths.dir().display());
        }
        Backend::Sqlite(db) => {
            if db.ensure_created()? {
                log::info!(
                    "state: a fresh state directory gets the SQLite state of openclaw 2026.9 \
                     (set {}=json for the JSON files an openclaw 2026.7-era CLI reads)",
                    crate::paths::STATE_BACKEND_ENV
                );
            }
            let schema = db.schema()?.ok_or_else(|| {
                StateError::new(db.path(), "the state database vanished while starting; start again")
            })?;
            let level = if schema.read_only.is_some() {
                log::Level::Warn
            } else {
                log::Level::Info
            };
            log::log!(
                level,
                "state: SQLite {} ({})",
                db.path().display(),
                schema.describe()
            );
            if schema.read_only.is_none() {
                super::migrate::import_legacy(paths, db, check_approvals)?;
            } else if !super::migrate::legacy_files(paths).is_empty() {
                log::warn!(
                    "retired JSON state files are here but the database is read-only; they are \
                     not imported (and not used)"
                );
            }
        }
    }
    Ok(backend)
}
