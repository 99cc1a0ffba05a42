//! The SQLite backend: the node-host rows of a 2026.9 `state/openclaw.sqlite`.
//!
//! Since 2026.9 the TypeScript host keeps everything in one shared database and treats the JSON
//! files as retired (it refuses to start while they exist). When that database is there, or
//! the state directory is fresh, the node reads and writes exactly the rows the TS node host
//! uses, and nothing else:
//!
//! | fact | table | key |
//! |---|---|---|
//! | node config (instance id, name, gateway) | `config_machine_state` | `state_key = 'nodeHost.config'` |
//! | device identity (Ed25519, PEM) | `device_identities` | `identity_key = 'primary'` |
//! | device token | `device_auth_tokens` | `(device_id, role)` |
//! | exec approvals | `exec_approvals_config` | `config_key = 'current'`, plus its projection columns |
//!
//! Sharing the file with a running TS gateway or CLI, as TS shares it with itself:
//! - every write holds TS's `state-lifecycle` coordinator (and, for the identity, its
//!   `device-identity` one) and is one `BEGIN IMMEDIATE` transaction (the write lock is taken
//!   before the read that the write depends on, so a read-modify-write cannot interleave with
//!   another writer's); see [`super::coordinator`];
//! - every open connection holds the `state-handles` coordinator shared, so TS never replaces
//!   the file under it;
//! - every connection has a busy timeout, so a writer holding a lock makes us wait, not fail;
//! - the journal mode is whatever the database has (TS uses WAL); it is never changed.
//!
//! A missing database reads as empty; the first write creates it with the whole 2026.9.6
//! schema ([`super::schema`]), as a TS node host's first start does.
//!
//! The schema version is checked on every open. Only versions this node has been verified
//! against are written; a database stamped with any other version is read, never written,
//! and every write says why. A database with no stamp (`user_version` 0 and no `schema_meta`)
//! holds only the tables someone created by hand; TS upgrades such a file in place on first
//! touch, so it is written too, and never stamped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde_json::{Map, Value};

use super::connection::{file_id, Cache, Handle};
use super::approvals_cache;
use super::coordinator::{Coordinators, Family, Hold};
use super::schema::{self, read_schema, Schema};
use super::{now_ms, DeviceAuthEntry, NodeState, StateError};
use crate::identity::DeviceIdentity;

/// How long to wait for another process's lock. TS's own state connections wait 30 s; a node
/// that waits that long on every `system.run` would look hung, and TS transactions on these
/// rows take milliseconds, so 10 s is ample.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `config_machine_state` key of the node-host config.
pub const NODE_CONFIG_KEY: &str = "nodeHost.config";
/// The `device_identities` key of the device's own identity.
pub const IDENTITY_KEY: &str = "primary";
/// The `exec_approvals_config` key of the approvals document.
pub const APPROVALS_KEY: &str = "current";

/// `value_json` of the node-host config may not exceed this (like `node.json`).
const NODE_CONFIG_MAX_BYTES: usize = 64 * 1024;
/// The approvals document may not exceed this (as `exec-approvals.json`).
const APPROVALS_MAX_BYTES: usize = super::APPROVALS_MAX_BYTES as usize;

/// The node-host rows of one state database.
#[derive(Debug, Clone)]
pub struct SqliteState {
    path: PathBuf,
    busy_timeout: Duration,
    locks: Coordinators,
    /// The connection kept open between operations, one per database and process (see
    /// [`super::connection`]).
    cache: Arc<Cache>,
}

/// What a write holds: the connection, then the extra coordinators, then `state-lifecycle`
/// (released in that order, the reverse of taking them).
struct WriteScope {
    conn: Handle,
    _extra: Vec<Hold>,
    _lifecycle: Hold,
}

impl SqliteState {
    /// The database at `path` (normally `$STATE/state/openclaw.sqlite`). Nothing is opened yet.
    pub fn at(path: impl Into<PathBuf>) -> SqliteState {
        let path = path.into();
        SqliteState {
            locks: Coordinators::of(&path),
            cache: Cache::of(&path),
            path,
            busy_timeout: BUSY_TIMEOUT,
        }
    }

    /// The same database with another busy timeout (tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> SqliteState {
        self.busy_timeout = timeout;
        self
    }

    /// Closes the connection kept open between operations (tests: before another connection
    /// takes `state-handles` exclusively).
    #[cfg(any(test, feature = "internals"))]
    pub fn close_idle(&self) {
        self.cache.close_idle();
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The TS coordinator lock files of this database (tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn coordinators(&self) -> &Coordinators {
        &self.locks
    }

    /// Whether the database file exists (as anything: a directory in its place is an error
    /// when it is opened, never a silent empty store).
    pub fn exists(&self) -> bool {
        self.path.symlink_metadata().is_ok()
    }

    /// Creates the database with the whole 2026.9.6 schema when it does not exist (or is an
    /// empty file), as a TS node host's first start does: mode 0600 in 0700 directories, WAL,
    /// `user_version` 18 and `schema_meta`. An existing database is left as it is; it must be
    /// one this node may write (when it is blank) or is only opened. Returns whether it was
    /// created.
    pub fn ensure_created(&self) -> Result<bool, StateError> {
        if let Some((conn, _)) = self.open_existing()? {
            if !schema::is_blank(&conn).map_err(|e| self.error(&e))? {
                return Ok(false);
            }
        }
        let (_scope, created) = self.begin_write(&[])?;
        Ok(created)
    }

    /// [`SqliteState::ensure_created`] for the database at `path`.
    pub fn create(path: impl Into<PathBuf>) -> Result<SqliteState, StateError> {
        let state = SqliteState::at(path);
        state.ensure_created()?;
        Ok(state)
    }

    /// The database file and its journals, by the rules of [`super::trusted`] (SQLite opens them
    /// itself, so only their type, owner, mode and directories are checked, not their size).
    /// `must_exist`: a missing database is an error, else it is fine (about to be created).
    fn check_files(&self, must_exist: bool) -> Result<(), StateError> {
        if !super::trusted::check_trusted(&self.path)? && must_exist {
            return Err(StateError::io(
                &self.path,
                "opening",
                &std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        for suffix in ["-wal", "-journal"] {
            let mut journal = self.path.as_os_str().to_os_string();
            journal.push(suffix);
            super::trusted::check_trusted(Path::new(&journal))?;
        }
        Ok(())
    }

    /// Opens the database (it must exist) under a shared `state-handles` hold and checks its
    /// schema.
    /// The connection kept from the last operation is reused when it is to the same file.
    fn open(&self) -> Result<(Handle, Schema), StateError> {
        self.check_files(true)?;
        let file = file_id(&self.path);
        let conn = match file.and_then(|file| self.cache.take(file)) {
            // Another SqliteState of this database may have kept it with its own timeout.
            Some(conn) => {
                conn.busy_timeout(self.busy_timeout)
                    .map_err(|e| self.error(&e))?;
                conn
            }
            None => {
                let handles = self
                    .locks
                    .shared(Family::StateHandles, self.busy_timeout)?;
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn =
                    Connection::open_with_flags(&self.path, flags).map_err(|e| self.error(&e))?;
                conn.busy_timeout(self.busy_timeout)
                    .map_err(|e| self.error(&e))?;
                Handle::new(conn, handles, file, &self.cache)
            }
        };
        let mut conn = conn;
        let schema = self.check_schema(&mut conn)?;
        Ok((conn, schema))
    }

    /// The schema check, or its last result on this connection when neither the data nor
    /// the schema changed since (see [`super::connection::Checked`]).
    fn check_schema(&self, conn: &mut Handle) -> Result<Schema, StateError> {
        let key = (|| -> rusqlite::Result<(i64, i64)> {
            let data: i64 = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
            Ok((data, schema::schema_cookie(conn)?))
        })()
        .map_err(|e| self.error(&e))?;
        if let Some((checked_at, schema)) = &conn.checked {
            if *checked_at == key {
                return Ok(schema.clone());
            }
        }
        let schema = read_schema(conn).map_err(|e| self.error(&e))?;
        conn.checked = Some((key, schema.clone()));
        Ok(schema)
    }

    /// [`SqliteState::open`], or `Ok(None)` when the database does not exist yet or is an
    /// empty file (it then holds nothing).
    fn open_existing(&self) -> Result<Option<(Handle, Schema)>, StateError> {
        if !self.exists() {
            return Ok(None);
        }
        let (conn, schema) = self.open()?;
        if schema::is_blank(&conn).map_err(|e| self.error(&e))? {
            return Ok(None);
        }
        Ok(Some((conn, schema)))
    }

    /// The schema check alone (for `state show` and the start-up log); `Ok(None)` when the
    /// database does not exist yet.
    pub fn schema(&self) -> Result<Option<Schema>, StateError> {
        Ok(self.open_existing()?.map(|(_, schema)| schema))
    }

    /// Takes what a write needs, in TS's order: `state-lifecycle`, then `extra`, then a
    /// connection that may write. A database that does not exist yet (or is an empty file) is
    /// created first, under the `gateway-lifecycle` fence as TS changes a schema. Also returns
    /// whether it was created.
    fn begin_write(&self, extra: &[Family]) -> Result<(WriteScope, bool), StateError> {
        let lifecycle = self
            .locks
            .exclusive(Family::StateLifecycle, self.busy_timeout)?;
        let extra = extra
            .iter()
            .map(|family| self.locks.exclusive(*family, self.busy_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        // The file is created under the fence too, so a refused creation leaves nothing.
        let mut fence = None;
        if !self.exists() {
            fence = Some(self.schema_fence()?);
            self.create_file()?;
        }
        let (mut conn, mut schema) = self.open()?;
        let mut created = false;
        if schema::is_blank(&conn).map_err(|e| self.error(&e))? {
            let _fence = match fence.take() {
                Some(fence) => fence,
                None => self.schema_fence()?,
            };
            created = schema::initialize(&mut conn).map_err(|e| self.error(&e))?;
            conn.checked = None;
            if created {
                log::info!(
                    "created the state database {} (openclaw {} schema {}), as a TS node \
                     host's first start does",
                    self.path.display(),
                    schema::SCHEMA_APP_VERSION,
                    schema::SCHEMA_VERSION
                );
            }
            schema = read_schema(&conn).map_err(|e| self.error(&e))?;
        }
        drop(fence);
        if let Some(why) = schema.read_only {
            return Err(self.read_only_error(&why));
        }
        Ok((
            WriteScope {
                conn,
                _extra: extra,
                _lifecycle: lifecycle,
            },
            created,
        ))
    }

    /// An empty database file, mode 0600, in 0700 directories (SQLite gives its `-wal` and
    /// `-shm` files the same mode). One that appeared meanwhile is fine.
    fn create_file(&self) -> Result<(), StateError> {
        if let Some(dir) = self.path.parent() {
            super::create_private_dir_all(dir)
                .map_err(|e| StateError::io(&self.path, "creating its directory", &e))?;
        }
        self.check_files(false)?;
        match crate::platform::files::create_new_private(&self.path) {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(StateError::io(&self.path, "creating", &err)),
        }
    }

    /// The `gateway-lifecycle` fence TS takes around a schema change, without waiting: a
    /// gateway holds it for its whole life, and one that owns this directory has created the
    /// schema already.
    fn schema_fence(&self) -> Result<Hold, StateError> {
        self.locks
            .exclusive(Family::GatewayLifecycle, Duration::ZERO)
            .map_err(|err| {
                StateError::new(
                    &self.path,
                    format!(
                        "not created: a running OpenClaw gateway owns this state directory \
                         ({err}); start the node again once the gateway has created its database"
                    ),
                )
            })
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction under `state-lifecycle`; commits when
    /// it returns `Ok`.
    fn write<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        self.write_holding(&[], body)
    }

    /// [`SqliteState::write`], also holding the coordinators `extra`.
    fn write_holding<T>(
        &self,
        extra: &[Family],
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let (mut scope, _) = self.begin_write(extra)?;
        let tx = scope
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(&e))?;
        let value = body(&tx)?;
        tx.commit().map_err(|e| self.error(&e))?;
        approvals_cache::forget(&self.path);
        Ok(value)
    }

    /// An SQLite failure, in words, with advice for the cases a user can act on.
    pub(super) fn error(&self, err: &rusqlite::Error) -> StateError {
        let advice = match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
                " (another process held the database lock for more than {} s; an openclaw \
                 gateway, CLI or doctor run may be busy with it: try again)",
                self.busy_timeout.as_secs_f32()
            ),
            Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => {
                " (the file or its directory is not writable; check owner and mode)".to_string()
            }
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                " (not an SQLite database, or damaged; `openclaw doctor` can check it)".to_string()
            }
            Some(ErrorCode::DiskFull) => " (the disk is full)".to_string(),
            _ => String::new(),
        };
        StateError::new(&self.path, format!("SQLite: {err}{advice}"))
    }

    fn read_only_error(&self, why: &str) -> StateError {
        let mut err = StateError::new(
            &self.path,
            format!("not written: this database is read-only for openclaw-node ({why})"),
        );
        err.read_only = true;
        err
    }

    fn row_error(&self, row: &str, problem: impl std::fmt::Display) -> StateError {
        StateError::new(
            &self.path,
            format!(
                "{row} is not usable: {problem}; `openclaw doctor --fix` may repair it \
                 (the node will not overwrite it)"
            ),
        )
    }

    // -----------------------------------------------------------------------------------------
    // config_machine_state 'nodeHost.config'
    // -----------------------------------------------------------------------------------------

    /// The node-host config row; `Ok(None)` when there is none.
    pub fn load_node(&self) -> Result<Option<NodeState>, StateError> {
        let Some((conn, _)) = self.open_existing()? else {
            return Ok(None);
        };
        let Some(text) = read_text(
            &conn,
            "SELECT value_json FROM config_machine_state WHERE state_key = ?1",
            NODE_CONFIG_KEY,
        )
        .map_err(|e| self.error(&e))?
        else {
            return Ok(None);
        };
        let label = "config_machine_state 'nodeHost.config'";
        if text.len() > NODE_CONFIG_MAX_BYTES {
            return Err(self.row_error(label, "larger than 64 KiB"));
        }
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| self.row_error(label, format!("not valid JSON ({e})")))?;
        NodeState::from_json(&doc)
            .map(Some)
            .map_err(|e| self.row_error(label, e))
    }

    /// `updated_at_ms` of the node-host config row (0 when there is none).
    pub fn node_updated_at_ms(&self) -> Result<u64, StateError> {
        let Some((conn, _)) = self.open_existing()? else {
            return Ok(0);
        };
        let ms: Option<i64> = conn
            .query_row(
                "SELECT updated_at_ms FROM config_machine_state WHERE state_key = ?1",
                [NODE_CONFIG_KEY],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        Ok(ms.and_then(|ms| u64::try_from(ms).ok()).unwrap_or(0))
    }

    /// Writes the node-host config row in the shape TS validates (`version` 1, `gateway.tls`
    /// and `installedAppsSharing` booleans; no legacy `token`), keeping keys this node does not
    /// know (`installedAppsSharing`, `commands`, ...).
    pub fn save_node(&self, state: &NodeState) -> Result<(), StateError> {
        let value = node_config_json(state);
        let text = serde_json::to_string(&value).unwrap_or_default();
        if text.len() > NODE_CONFIG_MAX_BYTES {
            return Err(StateError::new(
                &self.path,
                "the node-host config would be larger than 64 KiB; remove extra keys",
            ));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO config_machine_state (state_key, value_json, updated_at_ms)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT(state_key) DO UPDATE SET value_json = excluded.value_json,
                   updated_at_ms = excluded.updated_at_ms",
                params![NODE_CONFIG_KEY, text, now_ms() as i64],
            )
            .map_err(|e| self.error(&e))?;
            Ok(())
        })
    }

    // -----------------------------------------------------------------------------------------
    // device_identities 'primary'
    // -----------------------------------------------------------------------------------------

    /// The `primary` identity; `Ok(None)` when there is none.
    pub fn load_identity(&self) -> Result<Option<DeviceIdentity>, StateError> {
        let Some((conn, _)) = self.open_existing()? else {
            return Ok(None);
        };
        self.read_identity(&conn)
    }

    fn read_identity(&self, conn: &Connection) -> Result<Option<DeviceIdentity>, StateError> {
        let row = conn
            .query_row(
                "SELECT device_id, public_key_pem, private_key_pem FROM device_identities
                 WHERE identity_key = ?1",
                [IDENTITY_KEY],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        let Some((stored_id, public_pem, private_pem)) = row else {
            return Ok(None);
        };
        let identity = DeviceIdentity::from_pems(&public_pem, &private_pem).map_err(|e| {
            self.row_error(
                "device_identities 'primary'",
                format!("{e} (moving it away makes a new identity the gateway must approve again)"),
            )
        })?;
        if identity.device_id() != stored_id {
            log::warn!(
                "{}: device_identities 'primary' stores device_id {stored_id:?}, which does not match \
                 its key; using the id computed from the key, {}",
                self.path.display(),
                identity.device_id()
            );
        }
        Ok(Some(identity))
    }

    /// Stores `identity` as `primary` unless one exists (`ON CONFLICT DO NOTHING`, as TS does,
    /// so two first starts race safely), and returns the one stored: ours or the winner's.
    /// `created_at_ms` is kept from an imported file, else now.
    pub fn insert_identity(
        &self,
        identity: &DeviceIdentity,
        created_at_ms: Option<u64>,
    ) -> Result<(DeviceIdentity, bool), StateError> {
        let now = now_ms() as i64;
        let created = created_at_ms.map(|ms| ms as i64).unwrap_or(now);
        // TS creates and imports the identity under its device-identity coordinator too.
        self.write_holding(&[Family::DeviceIdentity], |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO device_identities (identity_key, device_id, public_key_pem,
                       private_key_pem, created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(identity_key) DO NOTHING",
                    params![
                        IDENTITY_KEY,
                        identity.device_id(),
                        identity.public_key_pem(),
                        identity.private_key_pem(),
                        created,
                        now
                    ],
                )
                .map_err(|e| self.error(&e))?;
            let stored = self.read_identity(tx)?.ok_or_else(|| {
                StateError::new(
                    &self.path,
                    "device_identities 'primary' vanished; start again",
                )
            })?;
            Ok((stored, inserted == 1))
        })
    }

    // -----------------------------------------------------------------------------------------
    // device_auth_tokens (device_id, role)
    // -----------------------------------------------------------------------------------------

    /// The stored token for (`device_id`, `role`); an empty token counts as none.
    pub fn token_entry(
        &self,
        device_id: &str,
        role: &str,
    ) -> Result<Option<DeviceAuthEntry>, StateError> {
        let Some((conn, _)) = self.open_existing()? else {
            return Ok(None);
        };
        self.read_token(&conn, device_id, role.trim())
    }

    fn read_token(
        &self,
        conn: &Connection,
        device_id: &str,
        role: &str,
    ) -> Result<Option<DeviceAuthEntry>, StateError> {
        let row = conn
            .query_row(
                "SELECT token, scopes_json, updated_at_ms FROM device_auth_tokens
                 WHERE device_id = ?1 AND role = ?2",
                params![device_id, role],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        let Some((token, scopes_json, updated_at_ms)) = row else {
            return Ok(None);
        };
        if token.is_empty() {
            return Ok(None);
        }
        // The scopes are informational; a row whose scopes cannot be read keeps its token.
        let scopes = serde_json::from_str::<Vec<Value>>(&scopes_json)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(DeviceAuthEntry {
            token,
            role: role.to_string(),
            scopes,
            updated_at_ms: u64::try_from(updated_at_ms).unwrap_or(0),
        }))
    }

    /// Stores the token `hello-ok` issued, compare-and-swap against `previous` (see
    /// [`super::DeviceAuthStore::store`]), in one transaction.
    pub fn store_token(
        &self,
        device_id: &str,
        role: &str,
        token: &str,
        scopes: &[String],
        previous: Option<&str>,
    ) -> Result<(), StateError> {
        let role = role.trim();
        if token.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let current = self.read_token(tx, device_id, role)?.map(|e| e.token);
            if current.as_deref() == Some(token) {
                return Ok(());
            }
            if current.as_deref() != previous {
                log::warn!(
                    "{}: the {role} device token changed while the node was connecting (another \
                     process on this state directory?); keeping the stored one",
                    self.path.display()
                );
                return Ok(());
            }
            let scopes_json = Value::from(super::normalize_scopes(scopes)).to_string();
            tx.execute(
                "INSERT INTO device_auth_tokens (device_id, role, token, scopes_json, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(device_id, role) DO UPDATE SET token = excluded.token,
                   scopes_json = excluded.scopes_json, updated_at_ms = excluded.updated_at_ms",
                params![device_id, role, token, scopes_json, now_ms() as i64],
            )
            .map_err(|e| self.error(&e))?;
            Ok(())
        })
    }

    /// Deletes the token for (`device_id`, `role`) if it still equals `stale`.
    pub fn clear_token_if(
        &self,
        device_id: &str,
        role: &str,
        stale: &str,
    ) -> Result<(), StateError> {
        let role = role.trim();
        let removed = self.write(|tx| {
            tx.execute(
                "DELETE FROM device_auth_tokens WHERE device_id = ?1 AND role = ?2 AND token = ?3",
                params![device_id, role, stale],
            )
            .map_err(|e| self.error(&e))
        })?;
        if removed > 0 {
            log::info!(
                "removed the stale {role} device token from {}",
                self.path.display()
            );
        }
        Ok(())
    }

    /// Imports a token from `device-auth.json` as Doctor does: an existing row for the same
    /// (device, role) is kept. Returns whether a row was written.
    pub(super) fn import_token(
        &self,
        entry: &DeviceAuthEntry,
        device_id: &str,
    ) -> Result<bool, StateError> {
        let scopes_json = Value::from(super::normalize_scopes(&entry.scopes)).to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO device_auth_tokens (device_id, role, token, scopes_json, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(device_id, role) DO NOTHING",
                params![device_id, entry.role, entry.token, scopes_json, entry.updated_at_ms as i64],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(&e))
        })
    }

    // -----------------------------------------------------------------------------------------
    // exec_approvals_config 'current'
    // -----------------------------------------------------------------------------------------

    /// `raw_json` of the approvals row; `Ok(None)` when there is none.
    pub fn approvals_raw(&self) -> Result<Option<String>, StateError> {
        let before = approvals_cache::Fingerprint::of(&self.path);
        if let Some(raw) = approvals_cache::lookup(&self.path, &before) {
            return Ok(raw);
        }
        let Some((conn, _)) = self.open_existing()? else {
            return Ok(None);
        };
        let raw = self.read_approvals(&conn)?;
        approvals_cache::store(&self.path, before, &raw);
        Ok(raw)
    }

    fn read_approvals(&self, conn: &Connection) -> Result<Option<String>, StateError> {
        let raw = read_text(
            conn,
            "SELECT raw_json FROM exec_approvals_config WHERE config_key = ?1",
            APPROVALS_KEY,
        )
        .map_err(|e| self.error(&e))?;
        if raw
            .as_ref()
            .is_some_and(|raw| raw.len() > APPROVALS_MAX_BYTES)
        {
            return Err(self.row_error("exec_approvals_config 'current'", "larger than 1 MiB"));
        }
        Ok(raw)
    }

    /// Read-modify-write of the approvals row in one transaction: `update` gets the stored
    /// `raw_json` and returns a result and, when the row must change, the new text.
    pub fn update_approvals<T, E: From<StateError>>(
        &self,
        update: impl FnOnce(Option<String>) -> Result<(T, Option<String>), E>,
    ) -> Result<T, E> {
        let (mut scope, _) = self.begin_write(&[])?;
        let tx = scope
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(&e))?;
        let current = self.read_approvals(&tx)?;
        let (value, next) = update(current)?;
        if let Some(raw) = next {
            write_approvals_row(&tx, &raw).map_err(|e| self.error(&e))?;
        }
        tx.commit().map_err(|e| self.error(&e))?;
        approvals_cache::forget(&self.path);
        Ok(value)
    }

    /// Stores `raw` only when there is no row yet (Doctor's `legacy-imported`). Returns the
    /// stored text afterwards and whether it was written.
    pub(super) fn import_approvals(&self, raw: &str) -> Result<(String, bool), StateError> {
        self.update_approvals::<_, StateError>(|current| match current {
            Some(current) => Ok(((current, false), None)),
            None => Ok(((raw.to_string(), true), Some(raw.to_string()))),
        })
    }
}

/// A TEXT column of the row with key `key`, `None` when there is no such row or table.
fn read_text(conn: &Connection, sql: &str, key: &str) -> rusqlite::Result<Option<String>> {
    match conn
        .query_row(sql, [key], |row| row.get::<_, String>(0))
        .optional()
    {
        // A database with no node-host tables yet (a TS build that creates them lazily, or
        // an empty file) simply holds no row.
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such table") => {
            Ok(None)
        }
        other => other,
    }
}

/// The node config as TS stores it: compact JSON, `version` 1, `gateway.tls` a boolean,
/// `installedAppsSharing` a boolean (TS refuses a row without them), no legacy `token`.
fn node_config_json(state: &NodeState) -> Value {
    let mut state = state.clone();
    state.legacy_token = None;
    if state.gateway.tls.is_none() {
        state.gateway.tls = Some(false);
    }
    let mut doc = match state.to_json() {
        Value::Object(doc) => doc,
        _ => Map::new(),
    };
    if !matches!(doc.get("gateway"), Some(Value::Object(_))) {
        doc.insert("gateway".into(), Value::Object(Map::new()));
    }
    if !matches!(doc.get("installedAppsSharing"), Some(Value::Bool(_))) {
        doc.insert("installedAppsSharing".into(), Value::Bool(false));
    }
    Value::Object(doc)
}

/// The approvals row: `raw_json` as given, and the projection columns TS maintains beside it.
fn write_approvals_row(tx: &rusqlite::Transaction<'_>, raw: &str) -> rusqlite::Result<()> {
    let p = ApprovalsProjection::of(raw);
    tx.execute(
        "INSERT INTO exec_approvals_config (config_key, raw_json, socket_path, has_socket_token,
           default_security, default_ask, default_ask_fallback, auto_allow_skills, agent_count,
           allowlist_count, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(config_key) DO UPDATE SET raw_json = excluded.raw_json,
           socket_path = excluded.socket_path, has_socket_token = excluded.has_socket_token,
           default_security = excluded.default_security, default_ask = excluded.default_ask,
           default_ask_fallback = excluded.default_ask_fallback,
           auto_allow_skills = excluded.auto_allow_skills, agent_count = excluded.agent_count,
           allowlist_count = excluded.allowlist_count, updated_at_ms = excluded.updated_at_ms",
        params![
            APPROVALS_KEY,
            raw,
            p.socket_path,
            p.has_socket_token,
            p.default_security,
            p.default_ask,
            p.default_ask_fallback,
            p.auto_allow_skills,
            p.agent_count,
            p.allowlist_count,
            now_ms() as i64
        ],
    )?;
    Ok(())
}

/// The columns of `exec_approvals_config` that TS derives from the document (spec §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApprovalsProjection {
    pub socket_path: Option<String>,
    pub has_socket_token: i64,
    pub default_security: Option<String>,
    pub default_ask: Option<String>,
    pub default_ask_fallback: Option<String>,
    pub auto_allow_skills: Option<i64>,
    pub agent_count: i64,
    pub allowlist_count: i64,
}

impl ApprovalsProjection {
    pub fn of(raw: &str) -> ApprovalsProjection {
        let doc: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let socket = doc.get("socket");
        let defaults = doc.get("defaults");
        let agents = doc.get("agents").and_then(Value::as_object);
        ApprovalsProjection {
            socket_path: text(socket.and_then(|s| s.get("path"))),
            has_socket_token: i64::from(text(socket.and_then(|s| s.get("token"))).is_some()),
            default_security: text(defaults.and_then(|d| d.get("security"))),
            default_ask: text(defaults.and_then(|d| d.get("ask"))),
            default_ask_fallback: text(defaults.and_then(|d| d.get("askFallback"))),
            auto_allow_skills: defaults
                .and_then(|d| d.get("autoAllowSkills"))
                .and_then(Value::as_bool)
                .map(i64::from),
            agent_count: agents.map(|a| a.len() as i64).unwrap_or(0),
            allowlist_count: agents
                .map(|a| {
                    a.values()
                        .filter_map(|agent| agent.get("allowlist").and_then(Value::as_array))
                        .map(|list| list.len() as i64)
                        .sum()
                })
                .unwrap_or(0),
        }
    }
}
