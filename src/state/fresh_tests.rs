//! Tests for the fresh-state rule (a new state directory gets the 2026.9.6 database), the
//! override, the TS coordinator locks held by a real second connection, and the fail-closed
//! paths of the SQLite approvals row. Real files and real SQLite in unique temp directories.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;

use super::coordinator::{Coordinators, Family};
use super::*;
use crate::approvals::{ApprovalsStore, StoreError};
use crate::identity::DeviceIdentity;
use crate::paths::NewStateBackend;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-fresh-{name}-{}-{}",
            std::process::id(),
            crate::random::token_b64url(6)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn paths(&self) -> StatePaths {
        StatePaths::at(self.0.join(".openclaw"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn check(raw: &str) -> Result<(), String> {
    crate::approvals::document::check(raw)
}

#[test]
fn a_fresh_directory_gets_the_2026_9_6_database_on_first_write() {
    let dir = TempDir::new("fresh");
    let paths = dir.paths();
    let backend = Backend::detect(&paths);
    assert_eq!(backend.name(), "sqlite");
    // Reading creates nothing.
    assert!(backend.load_identity().unwrap().is_none());
    assert!(NodeState::load(&paths).unwrap().is_none());
    assert!(!ApprovalsStore::new(&paths).read().unwrap().exists);
    assert!(!paths.dir().exists());

    let backend = open_for_run(&paths, check).unwrap();
    assert_eq!(backend.name(), "sqlite");
    let db_file = paths.state_db_file();
    assert_eq!(mode(&db_file), 0o600);
    assert_eq!(mode(db_file.parent().unwrap()), 0o700);
    assert_eq!(mode(paths.dir()), 0o700);
    let conn = Connection::open(&db_file).unwrap();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(one("PRAGMA user_version"), 18);
    assert_eq!(one("PRAGMA auto_vacuum"), 2, "INCREMENTAL, as TS chooses");
    assert_eq!(
        one("SELECT count(*) FROM sqlite_master WHERE type = 'table'"),
        105
    );
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let meta: (String, String, i64, Option<String>, String, i64, i64) = conn
        .query_row("SELECT * FROM schema_meta", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap();
    assert_eq!(
        (&*meta.0, &*meta.1, meta.2, meta.3, &*meta.4),
        ("primary", "global", 18, None, "2026.9.6")
    );
    assert_eq!(meta.5, meta.6);
    assert_eq!(one("SELECT count(*) FROM schema_meta"), 1);
    assert_eq!(one("SELECT count(*) FROM migration_runs"), 0, "no receipts");
    // The node-host tables are exactly the ones the spec quotes from a 2026.9.6 database.
    for table in [
        "config_machine_state",
        "device_identities",
        "device_auth_tokens",
        "exec_approvals_config",
    ] {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = ?1",
                [table],
                |row| row.get(0),
            )
            .unwrap();
        assert!(sql.ends_with("STRICT"), "{table}: {sql}");
    }

    // Everything the node keeps goes into its rows; no JSON state file appears.
    let identity = load_or_create_identity(&paths).unwrap();
    let endpoint = GatewayEndpoint {
        host: Some("127.0.0.1".into()),
        port: Some(18789),
        ..GatewayEndpoint::default()
    };
    apply_run_overrides(&paths, None, None, Some("fresh"), &endpoint).unwrap();
    DeviceAuthStore::new(&paths)
        .store(&identity.device_id(), "node", "tok", &[], None)
        .unwrap();
    ApprovalsStore::new(&paths).ensure().unwrap();
    assert_eq!(one("SELECT count(*) FROM device_identities"), 1);
    assert_eq!(one("SELECT count(*) FROM device_auth_tokens"), 1);
    assert_eq!(one("SELECT count(*) FROM exec_approvals_config"), 1);
    assert!(migrate::legacy_files(&paths).is_empty());

    // A second start changes nothing in the schema.
    open_for_run(&paths, check).unwrap();
    let updated: i64 = conn
        .query_row("SELECT updated_at FROM schema_meta", [], |row| row.get(0))
        .unwrap();
    assert_eq!(updated, meta.6);
}

#[test]
fn json_state_without_a_database_stays_json() {
    let dir = TempDir::new("json-stays");
    let paths = dir.paths();
    let identity = json::load_or_create_identity(&paths).unwrap();
    assert!(paths.device_identity_file().exists());
    let backend = open_for_run(&paths, check).unwrap();
    assert_eq!(backend.name(), "json");
    assert_eq!(
        load_or_create_identity(&paths).unwrap().device_id(),
        identity.device_id()
    );
    ApprovalsStore::new(&paths).ensure().unwrap();
    assert!(paths.exec_approvals_file().exists());
    assert!(!paths.state_db_file().exists());
}

#[test]
fn the_override_keeps_a_fresh_directory_on_json_and_nothing_else() {
    assert_eq!(NewStateBackend::parse("").unwrap(), NewStateBackend::Sqlite);
    assert_eq!(NewStateBackend::parse(" JSON ").unwrap(), NewStateBackend::Json);
    let err = NewStateBackend::parse("yaml").unwrap_err();
    assert!(err.contains("OPENCLAW_NODE_STATE_BACKEND") && err.contains("json"), "{err}");

    let dir = TempDir::new("override");
    let paths = dir.paths().with_new_state(NewStateBackend::Json);
    assert_eq!(open_for_run(&paths, check).unwrap().name(), "json");
    load_or_create_identity(&paths).unwrap();
    assert!(paths.device_identity_file().exists());
    assert!(!paths.state_db_file().exists());

    // An existing database always wins: the override only decides for a fresh directory.
    let dir = TempDir::new("override-db");
    let paths = dir.paths();
    SqliteState::create(paths.state_db_file()).unwrap();
    let paths = paths.with_new_state(NewStateBackend::Json);
    assert_eq!(open_for_run(&paths, check).unwrap().name(), "sqlite");
}

#[test]
fn coordinator_files_are_named_as_ts_names_them() {
    let dir = TempDir::new("names");
    let paths = dir.paths();
    let db = paths.state_db_file();
    let before = Coordinators::of(&db);
    SqliteState::create(&db).unwrap();
    let canonical = fs::canonicalize(&db).unwrap();
    let hash = &crate::digest::sha256_hex(canonical.as_os_str().as_encoded_bytes())[..8];
    let uid = rustix::process::getuid().as_raw();
    for (family, expected) in [
        (
            Family::StateLifecycle,
            PathBuf::from(format!(
                "/tmp/openclaw-state-locks-{uid}/state-lifecycle.{hash}.lock.sqlite"
            )),
        ),
        (
            Family::StateHandles,
            PathBuf::from(format!(
                "/tmp/openclaw-state-locks-{uid}/state-handles.{hash}.lock.sqlite"
            )),
        ),
        (
            Family::DeviceIdentity,
            fs::canonicalize(paths.dir())
                .unwrap()
                .join(format!("tmp/openclaw-{uid}/device-identity.{hash}.lock.sqlite")),
        ),
    ] {
        assert_eq!(before.path(family), expected, "named before the database existed");
        assert_eq!(Coordinators::of(&db).path(family), expected);
    }
    // Creating the database took (and released) the write and schema locks.
    assert!(before.path(Family::StateLifecycle).exists());
    assert!(before.path(Family::GatewayLifecycle).exists());
}

/// Holds `family` of the database in `paths` the way TS does, from a second connection.
fn ts_holds(db: &SqliteState, family: Family, exclusive: bool) -> Connection {
    let path = db.coordinators().path(family);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    let begin = if exclusive {
        "BEGIN EXCLUSIVE;"
    } else {
        "BEGIN; SELECT rootpage FROM sqlite_schema LIMIT 1;"
    };
    conn.execute_batch(&format!("PRAGMA journal_mode = MEMORY; {begin}"))
        .unwrap();
    conn
}

fn fresh_db(name: &str) -> (TempDir, StatePaths, SqliteState) {
    let dir = TempDir::new(name);
    let paths = dir.paths();
    let db = SqliteState::create(paths.state_db_file())
        .unwrap()
        .with_busy_timeout(Duration::from_millis(200));
    (dir, paths, db)
}

#[test]
fn a_ts_writer_holding_the_state_lifecycle_lock_makes_writes_wait_then_fail() {
    let (_dir, paths, db) = fresh_db("lifecycle");
    let holder = ts_holds(&db, Family::StateLifecycle, true);
    // Reads do not take it.
    assert!(db.load_identity().unwrap().is_none());
    let started = Instant::now();
    let err = db
        .store_token("dev", "node", "tok", &[], None)
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert!(err.to_string().contains("state-lifecycle"), "{err}");
    assert!(err.to_string().contains("try again"), "{err}");
    let store = ApprovalsStore::sqlite(&paths, db.clone());
    assert!(store.ensure().is_err(), "approvals writes wait for it too");
    // Released within the timeout: the write only waits.
    let patient = SqliteState::at(paths.state_db_file()).with_busy_timeout(Duration::from_secs(5));
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(holder);
    });
    patient.store_token("dev", "node", "tok", &[], None).unwrap();
    releaser.join().unwrap();
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "tok");
}

#[test]
fn identity_creation_waits_for_the_ts_device_identity_lock() {
    let (_dir, _paths, db) = fresh_db("identity-lock");
    let holder = ts_holds(&db, Family::DeviceIdentity, true);
    let err = db
        .insert_identity(&DeviceIdentity::generate(), None)
        .unwrap_err();
    assert!(err.to_string().contains("device-identity"), "{err}");
    assert!(db.load_identity().unwrap().is_none(), "nothing written");
    // Other writes do not need it.
    db.store_token("dev", "node", "tok", &[], None).unwrap();
    drop(holder);
    assert!(db.insert_identity(&DeviceIdentity::generate(), None).unwrap().1);
}

#[test]
fn a_file_being_replaced_under_the_state_handles_lock_is_not_read() {
    let (_dir, paths, db) = fresh_db("handles");
    // Other live handles share it.
    let sharer = ts_holds(&db, Family::StateHandles, false);
    assert!(db.load_identity().unwrap().is_none());
    drop(sharer);
    // While the node keeps its connection open, TS cannot take it exclusively to replace the
    // file; once that connection is closed (after IDLE_CLOSE, here at once), it can.
    let path = db.coordinators().path(Family::StateHandles);
    let taker = Connection::open(&path).unwrap();
    let refused = taker.execute_batch("PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE;");
    assert!(refused.is_err(), "exclusive state-handles while the node's connection is open");
    drop(taker);
    db.close_idle();
    // An exclusive holder (a restore or compaction replacing the file) keeps us out.
    let holder = ts_holds(&db, Family::StateHandles, true);
    let err = db.load_identity().unwrap_err();
    assert!(err.to_string().contains("state-handles"), "{err}");
    let err = ApprovalsStore::sqlite(&paths, db.clone()).read().unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    drop(holder);
    assert!(db.load_identity().unwrap().is_none());
}

#[test]
fn one_connection_is_kept_between_operations_and_closed_when_idle() {
    let (_dir, paths, db) = fresh_db("kept");
    db.store_token("dev", "node", "tok", &[], None).unwrap();
    let path = db.coordinators().path(Family::StateHandles);
    let exclusive = || {
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE; ROLLBACK;")
            .is_ok()
    };
    assert!(!exclusive(), "the connection is kept, with its shared hold");
    // Each operation reuses it: reads see other connections' writes at once.
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute("UPDATE device_auth_tokens SET token = 'other'", [])
        .unwrap();
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "other");
    // A database removed behind the node's back, and a new one in its place, is opened anew,
    // never read through the kept connection to the old file.
    for suffix in ["", "-wal", "-shm"] {
        let mut file = paths.state_db_file().into_os_string();
        file.push(suffix);
        let _ = fs::remove_file(file);
    }
    assert!(db.token_entry("dev", "node").unwrap().is_none());
    let other = SqliteState::create(paths.state_db_file()).unwrap();
    other.store_token("dev", "node", "replaced", &[], None).unwrap();
    other.close_idle();
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute("UPDATE device_auth_tokens SET token = 'replaced-2'", [])
        .unwrap();
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "replaced-2");
    // Idle for IDLE_CLOSE: closed, and the hold released.
    std::thread::sleep(super::connection::IDLE_CLOSE + Duration::from_millis(500));
    assert!(exclusive(), "closed after {:?} idle", super::connection::IDLE_CLOSE);
}

#[test]
fn a_running_gateway_fences_the_creation_of_a_fresh_schema() {
    let dir = TempDir::new("fence");
    let paths = dir.paths();
    let db = SqliteState::at(paths.state_db_file());
    let holder = ts_holds(&db, Family::GatewayLifecycle, true);
    let err = open_for_run(&paths, check).unwrap_err();
    assert!(err.to_string().contains("gateway owns this state directory"), "{err}");
    assert!(!paths.state_db_file().exists(), "nothing left behind");
    drop(holder);
    assert_eq!(open_for_run(&paths, check).unwrap().name(), "sqlite");
}

#[test]
fn an_empty_database_file_is_initialized_not_mistaken_for_state() {
    let dir = TempDir::new("empty-file");
    let paths = dir.paths();
    fs::create_dir_all(paths.state_db_file().parent().unwrap()).unwrap();
    fs::write(paths.state_db_file(), b"").unwrap();
    fs::set_permissions(paths.state_db_file(), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_identity(&paths).unwrap().is_none());
    open_for_run(&paths, check).unwrap();
    let version: i64 = Connection::open(paths.state_db_file())
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 18);
}

/// An allowlist document stored in the row, as `system.execApprovals.set` stores it.
fn set_allowlist(store: &ApprovalsStore) {
    store
        .update::<StoreError>(None, |s| {
            let mut doc = crate::approvals::store::ensure_socket_doc(store, &s.doc);
            doc["defaults"]["security"] = json!("allowlist");
            doc["agents"]["*"]["allowlist"] = json!([{"pattern": "/usr/bin/uname"}]);
            Ok(Some(doc))
        })
        .unwrap();
}

#[test]
fn an_unreadable_approvals_row_denies_every_run() {
    let (_dir, paths, _db) = fresh_db("bad-row");
    let store = ApprovalsStore::new(&paths);
    set_allowlist(&store);
    let conn = Connection::open(paths.state_db_file()).unwrap();
    for bad in ["{ not json", "[1, 2]", "{\"version\": 1, \"agents\": 7}"] {
        conn.execute(
            "UPDATE exec_approvals_config SET raw_json = ?1 WHERE config_key = 'current'",
            [bad],
        )
        .unwrap();
        let err = store.read().unwrap_err();
        assert!(matches!(err, StoreError::Malformed { .. }), "{bad}: {err}");
        let notice = crate::approvals::startup_notice(&store, Default::default());
        assert_eq!(notice.level, log::Level::Error, "{}", notice.message);
        assert!(notice.message.contains("every system.run is denied"), "{}", notice.message);
        // Never replaced by a write that would reset it.
        assert!(store.ensure().is_err());
        let kept: String = conn
            .query_row("SELECT raw_json FROM exec_approvals_config", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, bad);
    }
}

#[test]
fn a_newer_schema_is_read_only_and_still_enforces_its_allowlist() {
    let (_dir, paths, _db) = fresh_db("newer");
    let store = ApprovalsStore::new(&paths);
    set_allowlist(&store);
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute_batch("UPDATE schema_meta SET schema_version = 19; PRAGMA user_version = 19;")
        .unwrap();
    // The policy is read as stored: not "run everything".
    let notice = crate::approvals::startup_notice(&store, Default::default());
    assert!(notice.message.contains("security=allowlist"), "{}", notice.message);
    // open_for_run says so, and writes are refused with the reason.
    let backend = open_for_run(&paths, check).unwrap();
    let Backend::Sqlite(db) = backend else {
        panic!("sqlite expected")
    };
    let schema = db.schema().unwrap().unwrap();
    assert!(schema.describe().contains("READ-ONLY"), "{}", schema.describe());
    let err = store
        .update::<StoreError>(None, |s| {
            let mut doc = s.doc.clone();
            doc["defaults"]["security"] = json!("full");
            Ok(Some(doc))
        })
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(store.read().unwrap().doc["defaults"]["security"], "allowlist");
}

#[test]
fn a_database_locked_for_long_denies_instead_of_running() {
    let (_dir, paths, db) = fresh_db("locked");
    let store = ApprovalsStore::sqlite(&paths, db.clone());
    set_allowlist(&store);
    // A second connection holding an exclusive lock (locking_mode EXCLUSIVE keeps even WAL
    // readers out, as a crashed or stuck writer with that mode does). It can only get it
    // while the node has no connection open.
    db.close_idle();
    let holder = Connection::open(paths.state_db_file()).unwrap();
    holder
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
             UPDATE schema_meta SET updated_at = updated_at;",
        )
        .unwrap();
    let started = Instant::now();
    let err = store.read().unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(err.to_string().contains("lock"), "{err}");
    let notice = crate::approvals::startup_notice(&store, Default::default());
    assert_eq!(notice.level, log::Level::Error, "{}", notice.message);
    drop(holder);
    assert_eq!(store.read().unwrap().doc["defaults"]["security"], "allowlist");
}

#[test]
fn an_approvals_row_gone_after_it_existed_denies() {
    let (_dir, paths, _db) = fresh_db("row-gone");
    let store = ApprovalsStore::new(&paths);
    set_allowlist(&store);
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute("DELETE FROM exec_approvals_config", [])
        .unwrap();
    let err = store.read().unwrap_err();
    assert!(matches!(err, StoreError::Gone { .. }), "{err}");
    // So is the whole database removed behind the node's back.
    set_allowlist(&store);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = paths.state_db_file().into_os_string();
        file.push(suffix);
        let _ = fs::remove_file(file);
    }
    let err = ApprovalsStore::new(&paths).read().unwrap_err();
    assert!(matches!(err, StoreError::Gone { .. }), "{err}");
}

#[test]
fn a_database_claimed_by_an_external_supervisor_is_read_only() {
    let (_dir, paths, db) = fresh_db("supervised");
    db.store_token("dev", "node", "tok", &[], None).unwrap();
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute(
            "INSERT INTO config_machine_state VALUES ('gateway.supervision', ?1, 1)",
            [r#"{"version":1,"mode":"external","managerId":"acme-supervisor","claimedAt":1}"#],
        )
        .unwrap();
    let schema = db.schema().unwrap().unwrap();
    assert!(
        schema.read_only.as_deref().unwrap_or("").contains("acme-supervisor"),
        "{schema:?}"
    );
    let err = db.store_token("dev", "node", "new", &[], Some("tok")).unwrap_err();
    assert!(err.read_only, "{err}");
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "tok");
}

/// The bundled SQLite is built without the full-text and R*Tree modules (`.cargo/config.toml`):
/// a state database that holds such a table (a future TS release could add one) still serves
/// the node's rows, and a module-less build never loads extensions.
#[test]
fn a_virtual_table_of_a_module_left_out_does_not_stop_the_node() {
    let (_dir, paths, db) = fresh_db("vtab");
    db.store_token("dev", "node", "tok", &[], None).unwrap();
    let conn = Connection::open(paths.state_db_file()).unwrap();
    let made = conn.execute_batch("CREATE VIRTUAL TABLE notes USING fts5(body);");
    assert!(
        made.is_err_and(|e| e.to_string().contains("no such module")),
        "the bundled SQLite has FTS5: LIBSQLITE3_FLAGS of .cargo/config.toml not applied?"
    );
    // Write the entry as a build with FTS5 would leave it.
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql)
           VALUES ('table', 'notes', 'notes', 0, 'CREATE VIRTUAL TABLE notes USING fts5(body)');
         PRAGMA writable_schema = OFF;",
    )
    .unwrap();
    drop(conn);
    let db = SqliteState::at(paths.state_db_file());
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "tok");
    db.store_token("dev", "node", "tok-2", &[], Some("tok")).unwrap();
    assert_eq!(db.token_entry("dev", "node").unwrap().unwrap().token, "tok-2");
    let err = Connection::open(paths.state_db_file())
        .unwrap()
        .query_row("SELECT count(*) FROM notes", [], |row| row.get::<_, i64>(0))
        .unwrap_err();
    assert!(err.to_string().contains("no such module"), "{err}");
}

#[test]
fn an_allowlist_kept_beside_node_json_survives_the_move_to_sqlite() {
    let dir = TempDir::new("commands-to-sqlite");
    let paths = dir.paths();
    let backend = open_for_run(&paths, check).unwrap();
    assert_eq!(backend.name(), "sqlite");
    // `openclaw doctor --fix` imported node.json (which never holds the allowlist) into the
    // database; the JSON backend's side file is still there.
    let state = NodeState::from_json(&json!({"nodeId": "n-1"})).unwrap();
    state.save(&paths).unwrap();
    json::save_commands_file(&paths, Some(&["system.which".to_string()])).unwrap();
    let loaded = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(loaded.commands, Some(vec!["system.which".to_string()]));
    // Saved into the row, the side file goes: one truth.
    loaded.save(&paths).unwrap();
    assert!(!paths.commands_file().exists());
    assert_eq!(
        NodeState::load(&paths).unwrap().unwrap().commands,
        Some(vec!["system.which".to_string()])
    );
}
