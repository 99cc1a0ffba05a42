//! The SQLite backend: the node-host rows of a 2026.9 `state/openclaw.sqlite`.
//!
//! Since 2026.9 the TypeScript host keeps everything in one shared database and treats the JSON
//! files as retired (it refuses to start while they exist). When that database is there, the
//! node reads and writes exactly the rows the TS node host uses, and nothing else:
//!
//! | fact | table | key |
//! |---|---|---|
//! | node config (instance id, name, gateway) | `config_machine_state` | `state_key = 'nodeHost.config'` |
//! | device identity (Ed25519, PEM) | `device_identities` | `identity_key = 'primary'` |
//! | device token | `device_auth_tokens` | `(device_id, role)` |
//! | exec approvals | `exec_approvals_config` | `config_key = 'current'`, plus its projection columns |
//!
//! Sharing the file with a running TS gateway or CLI:
//! - every connection has a busy timeout, so a writer holding the lock makes us wait, not fail;
//! - every write is one `BEGIN IMMEDIATE` transaction (the write lock is taken before the read
//!   that the write depends on, so a read-modify-write cannot interleave with another writer's);
//! - the journal mode is whatever the database has (TS uses WAL); it is never changed.
//!
//! The schema version is checked on every open. Only versions this node has been verified
//! against are written; a database stamped with any other version is read, never written,
//! and every write says why. A database with no stamp (`user_version` 0 and no `schema_meta`)
//! holds only the tables someone created by hand, or by [`SqliteState::create`]; TS upgrades
//! such a file in place on first touch, so it is written too, and never stamped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde_json::{Map, Value};

use super::{now_ms, DeviceAuthEntry, NodeState, StateError};
use crate::identity::DeviceIdentity;

/// The schema versions (`schema_meta.schema_version` / `PRAGMA user_version`) whose node-host
/// tables this node has been checked against: 18 is openclaw 2026.9.6's.
pub const VERIFIED_SCHEMA_VERSIONS: &[i64] = &[18];

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

/// The four node-host tables and two indexes, exactly as 2026.9.6 creates them, for
/// [`SqliteState::create`] (TS checks the DDL when it upgrades such a database).
const NODE_HOST_DDL: &str = "
CREATE TABLE IF NOT EXISTS config_machine_state (
      state_key TEXT NOT NULL PRIMARY KEY,
      value_json TEXT NOT NULL,
      updated_at_ms INTEGER NOT NULL
    ) STRICT;
CREATE TABLE IF NOT EXISTS device_identities (
  identity_key TEXT NOT NULL PRIMARY KEY,
  device_id TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  private_key_pem TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS idx_device_identities_device
  ON device_identities(device_id, updated_at_ms DESC);
CREATE TABLE IF NOT EXISTS device_auth_tokens (
  device_id TEXT NOT NULL,
  role TEXT NOT NULL,
  token TEXT NOT NULL,
  scopes_json TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, role)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_device_auth_tokens_updated
  ON device_auth_tokens(updated_at_ms DESC, device_id, role);
CREATE TABLE IF NOT EXISTS exec_approvals_config (
  config_key TEXT NOT NULL PRIMARY KEY,
  raw_json TEXT NOT NULL,
  socket_path TEXT,
  has_socket_token INTEGER NOT NULL,
  default_security TEXT,
  default_ask TEXT,
  default_ask_fallback TEXT,
  auto_allow_skills INTEGER,
  agent_count INTEGER NOT NULL,
  allowlist_count INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
";

/// What the schema check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// `schema_meta.schema_version` of the `primary` row, else `PRAGMA user_version`.
    pub version: i64,
    /// `schema_meta.app_version` (the openclaw version that wrote the schema), when present.
    pub app_version: Option<String>,
    /// `None`: this node may write. `Some(why)`: read-only, and why.
    pub read_only: Option<String>,
}

impl Schema {
    /// One line for `state show` and the start-up log.
    pub fn describe(&self) -> String {
        let app = self
            .app_version
            .as_deref()
            .map(|v| format!(", written by openclaw {v}"))
            .unwrap_or_default();
        match (&self.read_only, self.version) {
            (Some(why), _) => format!("schema {}{app}; READ-ONLY: {why}", self.version),
            (None, 0) => "no schema stamp (node-host tables only); read-write".to_string(),
            (None, v) => format!("schema {v}{app} (verified); read-write"),
        }
    }
}

/// The node-host rows of one state database.
#[derive(Debug, Clone)]
pub struct SqliteState {
    path: PathBuf,
    busy_timeout: Duration,
}

impl SqliteState {
    /// The database at `path` (normally `$STATE/state/openclaw.sqlite`). Nothing is opened yet.
    pub fn at(path: impl Into<PathBuf>) -> SqliteState {
        SqliteState {
            path: path.into(),
            busy_timeout: BUSY_TIMEOUT,
        }
    }

    /// The same database with another busy timeout (tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> SqliteState {
        self.busy_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a database holding only the four node-host tables (exact 2026.9.6 DDL), mode 0600
    /// in 0700 directories, WAL mode, `user_version` left at 0 so TS upgrades it in place on
    /// first touch (stamping 18 on a partial schema breaks TS). An existing database is only
    /// given the tables it lacks, and only when its schema may be written.
    pub fn create(path: impl Into<PathBuf>) -> Result<SqliteState, StateError> {
        let state = SqliteState::at(path);
        if let Some(dir) = state.path.parent() {
            super::create_private_dir_all(dir)
                .map_err(|e| StateError::io(&state.path, "creating its directory", &e))?;
        }
        state.check_files(false)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&state.path, flags).map_err(|e| state.error(&e))?;
        crate::platform::files::restrict_path_to_owner(&state.path)
            .map_err(|e| StateError::io(&state.path, "setting mode 0600", &e))?;
        conn.busy_timeout(state.busy_timeout)
            .map_err(|e| state.error(&e))?;
        let schema = read_schema(&conn).map_err(|e| state.error(&e))?;
        if let Some(why) = &schema.read_only {
            return Err(state.read_only_error(why));
        }
        // WAL is what TS uses; only set on a database nobody else has opened in another mode.
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(|e| state.error(&e))?;
        conn.execute_batch(NODE_HOST_DDL)
            .map_err(|e| state.error(&e))?;
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

    /// Opens the database (it must exist) and checks its schema.
    fn open(&self) -> Result<(Connection, Schema), StateError> {
        self.check_files(true)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| self.error(&e))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(|e| self.error(&e))?;
        let schema = read_schema(&conn).map_err(|e| self.error(&e))?;
        Ok((conn, schema))
    }

    /// The schema check alone (for `state show` and the start-up log).
    pub fn schema(&self) -> Result<Schema, StateError> {
        self.open().map(|(_, schema)| schema)
    }

    /// A connection that may write, or the reason it may not.
    fn open_for_write(&self) -> Result<Connection, StateError> {
        let (conn, schema) = self.open()?;
        match schema.read_only {
            Some(why) => Err(self.read_only_error(&why)),
            None => Ok(conn),
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction; commits when it returns `Ok`.
    fn write<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.open_for_write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(&e))?;
        let value = body(&tx)?;
        tx.commit().map_err(|e| self.error(&e))?;
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
        let (conn, _) = self.open()?;
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
        let (conn, _) = self.open()?;
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
        let (conn, _) = self.open()?;
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
        self.write(|tx| {
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
        let (conn, _) = self.open()?;
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
        let (conn, _) = self.open()?;
        self.read_approvals(&conn)
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
        let mut conn = self.open_for_write()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(&e))?;
        let current = self.read_approvals(&tx)?;
        let (value, next) = update(current)?;
        if let Some(raw) = next {
            write_approvals_row(&tx, &raw).map_err(|e| self.error(&e))?;
        }
        tx.commit().map_err(|e| self.error(&e))?;
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

/// The schema check: `schema_meta` 'primary' when present, else `PRAGMA user_version`.
fn read_schema(conn: &Connection) -> rusqlite::Result<Schema> {
    let user_version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_meta')",
        [],
        |row| row.get(0),
    )?;
    let meta = if has_meta {
        conn.query_row(
            "SELECT schema_version, app_version FROM schema_meta WHERE meta_key = 'primary'",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?)),
        )
        .optional()?
    } else {
        None
    };
    let stamped = meta.is_some();
    let (version, app_version) = match meta {
        Some((version, app)) => (version, app),
        None => (user_version, None),
    };
    let newest = VERIFIED_SCHEMA_VERSIONS.iter().copied().max().unwrap_or(0);
    let read_only = if version == 0 && !has_meta {
        None
    } else if VERIFIED_SCHEMA_VERSIONS.contains(&version) {
        if stamped && user_version != version {
            Some(format!(
                "schema_meta says {version} but user_version is {user_version}; a migration may be \
                 half done: run `openclaw doctor --fix`"
            ))
        } else {
            None
        }
    } else if version > newest {
        Some(format!(
            "schema version {version} is newer than the versions this openclaw-node was verified \
             with ({}); update openclaw-node to write to it",
            list(VERIFIED_SCHEMA_VERSIONS)
        ))
    } else {
        Some(format!(
            "schema version {version} is older than the versions this openclaw-node was verified \
             with ({}); `openclaw doctor --fix` upgrades it",
            list(VERIFIED_SCHEMA_VERSIONS)
        ))
    };
    Ok(Schema {
        version,
        app_version,
        read_only,
    })
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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
