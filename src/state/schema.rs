//! The state database's schema: the version check every open makes, and the 2026.9.6 schema
//! a new database is given.
//!
//! A fresh state directory gets the database a 2026.9.6 TS node host creates on its first
//! start: the whole shared schema ([`SCHEMA_SQL`], 105 tables), `PRAGMA user_version` 18,
//! `auto_vacuum = INCREMENTAL`, WAL, and one `schema_meta` row
//! `('primary', 'global', 18, NULL, '2026.9.6', now, now)`. A TS node host writes nothing else
//! on a fresh start (no `migration_runs` receipts: those record imports of legacy files), so TS
//! and `openclaw doctor` find nothing to migrate or repair. `app_version` names the openclaw
//! release whose schema this is, as TS's check compares it with the schema it knows.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::now_ms;

/// The schema version [`initialize`] writes (openclaw 2026.9.6's).
pub const SCHEMA_VERSION: i64 = 18;
/// The openclaw release whose schema [`SCHEMA_SQL`] is, recorded in `schema_meta.app_version`.
pub const SCHEMA_APP_VERSION: &str = "2026.9.6";

/// The whole 2026.9.6 state schema as a 2026.9.6 node host creates it on first start: the
/// `sql` column of its `sqlite_master`, in creation order (internal `sqlite_*` objects left to
/// SQLite). Replayed on a blank file it gives the same `sqlite_master`, root pages included;
/// TS verifies the tables and indexes against its own copy on every open, so this text is
/// never edited by hand, only replaced by a dump from a newer release (and its version added
/// to [`VERIFIED_SCHEMA_VERSIONS`]).
pub const SCHEMA_SQL: &str = include_str!("schema_v18.sql");

/// The schema versions (`schema_meta.schema_version` / `PRAGMA user_version`) whose node-host
/// tables this node has been checked against: 18 is openclaw 2026.9.6's.
pub const VERIFIED_SCHEMA_VERSIONS: &[i64] = &[18];


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


/// The schema check: `schema_meta` 'primary' when present, else `PRAGMA user_version`.
pub(super) fn read_schema(conn: &Connection) -> rusqlite::Result<Schema> {
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
    let read_only = match read_only {
        None => external_owner(conn)?.map(|manager| {
            format!(
                "it is claimed by the external supervisor {manager} (config_machine_state \
                 'gateway.supervision'), which TS obeys unless {SUPERVISOR_MODE_ENV}=external; \
                 run the node under that supervisor"
            )
        }),
        other => other,
    };
    Ok(Schema {
        version,
        app_version,
        read_only,
    })
}

/// TS's switch that a process runs under the external supervisor that owns the database.
const SUPERVISOR_MODE_ENV: &str = "OPENCLAW_SUPERVISOR_MODE";

/// The manager id of an external ownership claim (`config_machine_state`
/// 'gateway.supervision'), when one is there and this process is not that supervisor's. TS
/// refuses every write then (`assertOpenClawStateWriteAllowed`); so does this node. A claim
/// that cannot be read is still a claim.
fn external_owner(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let supervised = std::env::var(SUPERVISOR_MODE_ENV)
        .is_ok_and(|mode| mode.trim().eq_ignore_ascii_case("external"));
    if supervised {
        return Ok(None);
    }
    let claim = conn
        .query_row(
            "SELECT value_json FROM config_machine_state WHERE state_key = 'gateway.supervision'",
            [],
            |row| row.get::<_, String>(0),
        )
        .optional();
    let claim = match claim {
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such table") => {
            return Ok(None)
        }
        other => other?,
    };
    Ok(claim.map(|text| {
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("managerId").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| "(unreadable claim)".to_string())
    }))
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the database holds no schema at all (a new, empty file).
pub(super) fn is_blank(conn: &Connection) -> rusqlite::Result<bool> {
    // The schema cookie stays 0 until the first object is created: no scan of sqlite_master.
    Ok(schema_cookie(conn)? == 0)
}

/// `PRAGMA schema_version`: changes whenever the schema does (on any connection).
pub(super) fn schema_cookie(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA schema_version", [], |row| row.get(0))
}

/// Gives a blank database the 2026.9.6 schema, as the TS host does on first start, in one
/// `BEGIN IMMEDIATE` transaction. `Ok(false)` when it was not blank any more once the write
/// lock was held (another process initialized it first): then nothing was changed.
pub(super) fn initialize(conn: &mut Connection) -> rusqlite::Result<bool> {
    // auto_vacuum can only be chosen before the first page exists (TS: only when page_count
    // is 0); the journal mode is set outside any transaction.
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    if pages == 0 {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !is_blank(&tx)? {
        return Ok(false);
    }
    tx.execute_batch(SCHEMA_SQL)?;
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
    let now = now_ms() as i64;
    tx.execute(
        "INSERT INTO schema_meta (meta_key, role, schema_version, agent_id, app_version,
           created_at, updated_at)
         VALUES ('primary', 'global', ?1, NULL, ?2, ?3, ?3)",
        params![SCHEMA_VERSION, SCHEMA_APP_VERSION, now],
    )?;
    tx.commit()?;
    Ok(true)
}
