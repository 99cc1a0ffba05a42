//! Tests for the backends behind one interface, the SQLite rows, schema checks, locking, the
//! import of retired JSON files, and the lost-approvals marker. Real files and real SQLite
//! databases in unique temp directories.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::json::DeviceAuthFile;
use super::*;
use crate::approvals::document::hash_raw;
use crate::approvals::{ApprovalsStore, StoreError};
use crate::identity::DeviceIdentity;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-sqlite-{name}-{}-{}",
            std::process::id(),
            crate::random::token_b64url(6)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn paths(&self) -> StatePaths {
        StatePaths::at(self.0.clone())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A state directory with a database holding the node-host tables, as [`SqliteState::create`]
/// makes it.
fn sqlite_dir(name: &str) -> (TempDir, StatePaths) {
    let dir = TempDir::new(name);
    let paths = dir.paths();
    SqliteState::create(paths.state_db_file()).unwrap();
    (dir, paths)
}

/// The four node-host tables and two indexes as state-sqlite.md §2 quotes them from a 2026.9.6
/// database.
const SPEC_NODE_HOST_DDL: &str = "CREATE TABLE config_machine_state (
      state_key TEXT NOT NULL PRIMARY KEY,
      value_json TEXT NOT NULL,
      updated_at_ms INTEGER NOT NULL
    ) STRICT;
CREATE TABLE device_identities (
  identity_key TEXT NOT NULL PRIMARY KEY,
  device_id TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  private_key_pem TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_device_identities_device
  ON device_identities(device_id, updated_at_ms DESC);
CREATE TABLE device_auth_tokens (
  device_id TEXT NOT NULL,
  role TEXT NOT NULL,
  token TEXT NOT NULL,
  scopes_json TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, role)
) STRICT;
CREATE INDEX idx_device_auth_tokens_updated
  ON device_auth_tokens(updated_at_ms DESC, device_id, role);
CREATE TABLE exec_approvals_config (
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
) STRICT;";

/// A state directory whose database holds only the four node-host tables and their indexes,
/// `user_version` 0, as someone could create by hand (TS accepts and upgrades it: spec §5).
fn node_host_tables_dir(name: &str) -> (TempDir, StatePaths) {
    let dir = TempDir::new(name);
    let paths = dir.paths();
    fs::create_dir_all(paths.state_db_file().parent().unwrap()).unwrap();
    Connection::open(paths.state_db_file())
        .unwrap()
        .execute_batch(SPEC_NODE_HOST_DDL)
        .unwrap();
    (dir, paths)
}

fn db(paths: &StatePaths) -> Connection {
    Connection::open(paths.state_db_file()).unwrap()
}

fn endpoint(host: &str, port: u16) -> GatewayEndpoint {
    GatewayEndpoint {
        host: Some(host.into()),
        port: Some(port),
        tls: Some(false),
        ..GatewayEndpoint::default()
    }
}

/// The same story through the one interface, whatever the backend.
fn exercise_interface(paths: &StatePaths) {
    // node config
    assert!(NodeState::load(paths).unwrap().is_none());
    let state = apply_run_overrides(
        paths,
        None,
        None,
        Some("nodex"),
        &endpoint("10.0.0.5", 19979),
    )
    .unwrap();
    let loaded = NodeState::load(paths).unwrap().unwrap();
    assert_eq!(loaded.node_id, state.node_id);
    assert_eq!(loaded.display_name.as_deref(), Some("nodex"));
    assert_eq!(loaded.gateway.host.as_deref(), Some("10.0.0.5"));
    assert_eq!(loaded.gateway.port, Some(19979));
    // identity: created once, then the same
    assert!(load_identity(paths).unwrap().is_none());
    let first = load_or_create_identity(paths).unwrap();
    let again = load_or_create_identity(paths).unwrap();
    assert_eq!(first.device_id(), again.device_id());
    assert_eq!(
        load_identity(paths).unwrap().unwrap().device_id(),
        first.device_id()
    );
    // device tokens: CAS store, read, compare-and-delete
    let id = first.device_id();
    let auth = DeviceAuthStore::new(paths);
    assert_eq!(auth.token(&id, "node").unwrap(), None);
    auth.store(
        &id,
        "node",
        "tok-1",
        &["b".into(), "a".into(), "a".into()],
        None,
    )
    .unwrap();
    let entry = auth.entry(&id, "node").unwrap().unwrap();
    assert_eq!(entry.token, "tok-1");
    assert_eq!(entry.scopes, vec!["a".to_string(), "b".to_string()]);
    auth.store(&id, "node", "tok-2", &[], Some("stale"))
        .unwrap();
    assert_eq!(
        auth.token(&id, "node").unwrap().as_deref(),
        Some("tok-1"),
        "CAS kept it"
    );
    auth.clear_if(&id, "node", "other").unwrap();
    assert_eq!(auth.token(&id, "node").unwrap().as_deref(), Some("tok-1"));
    auth.clear_if(&id, "node", "tok-1").unwrap();
    assert_eq!(auth.token(&id, "node").unwrap(), None);
    // approvals: get creates, set is CAS, hash covers the stored text
    let approvals = ApprovalsStore::new(paths);
    assert!(!approvals.read().unwrap().exists);
    let ensured = approvals.ensure().unwrap();
    assert!(ensured.exists);
    assert_eq!(ensured.hash, hash_raw(ensured.raw.as_deref()));
    let stale = approvals
        .update::<StoreError>(Some("nope"), |_| Ok(Some(json!({}))))
        .unwrap();
    assert!(stale.is_none());
    let next = approvals
        .update::<StoreError>(Some(&ensured.hash), |s| {
            let mut doc = s.doc.clone();
            doc["defaults"]["security"] = json!("allowlist");
            doc["agents"]["*"]["allowlist"] = json!([{"pattern": "/usr/bin/uname"}]);
            Ok(Some(doc))
        })
        .unwrap()
        .unwrap();
    let read = approvals.read().unwrap();
    assert_eq!(read.hash, next.hash);
    assert_eq!(read.doc["defaults"]["security"], "allowlist");
}

#[test]
fn json_backend_behind_the_interface() {
    let dir = TempDir::new("iface-json");
    let paths = dir.paths().with_new_state(crate::paths::NewStateBackend::Json);
    assert_eq!(Backend::detect(&paths).name(), "json");
    exercise_interface(&paths);
    assert!(paths.node_file().exists());
    assert!(paths.device_identity_file().exists());
    assert!(paths.exec_approvals_file().exists());
    assert!(
        !paths.state_db_file().exists(),
        "JSON never creates the database"
    );
}

#[test]
fn sqlite_backend_behind_the_interface_and_no_retired_files() {
    let (_dir, paths) = sqlite_dir("iface-sqlite");
    assert_eq!(Backend::detect(&paths).name(), "sqlite");
    exercise_interface(&paths);
    for retired in [
        paths.node_file(),
        paths.device_identity_file(),
        paths.device_auth_file(),
        paths.exec_approvals_file(),
    ] {
        assert!(
            !retired.exists(),
            "{} must not be created beside SQLite",
            retired.display()
        );
    }
    assert_eq!(
        fs::metadata(paths.state_db_file())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn sqlite_rows_have_the_ts_shapes() {
    let (_dir, paths) = sqlite_dir("rows");
    let mut saved = NodeState {
        node_id: "d9ec02ff-b845-416b-905a-a37f93ad0344".into(),
        display_name: Some("nodex".into()),
        gateway: GatewayEndpoint {
            host: Some("127.0.0.1".into()),
            port: Some(19979),
            ..GatewayEndpoint::default()
        },
        legacy_token: Some("old".into()),
        ..NodeState::default()
    };
    saved.commands = Some(vec!["system.run".into()]);
    saved.save(&paths).unwrap();
    let conn = db(&paths);
    let value: String = conn
        .query_row(
            "SELECT value_json FROM config_machine_state WHERE state_key='nodeHost.config'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let value: Value = serde_json::from_str(&value).unwrap();
    assert_eq!(
        value,
        json!({"version":1,"nodeId":"d9ec02ff-b845-416b-905a-a37f93ad0344","displayName":"nodex",
               "gateway":{"host":"127.0.0.1","port":19979,"tls":false},"commands":["system.run"],
               "installedAppsSharing":false})
    );

    let identity = load_or_create_identity(&paths).unwrap();
    let (id, public_pem, created, updated): (String, String, i64, i64) = conn
        .query_row(
            "SELECT device_id, public_key_pem, created_at_ms, updated_at_ms FROM device_identities
             WHERE identity_key='primary'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(id, identity.device_id());
    assert_eq!(public_pem, identity.public_key_pem());
    assert!(public_pem.ends_with("-----END PUBLIC KEY-----\n"));
    assert_eq!(created, updated);

    DeviceAuthStore::new(&paths)
        .store(&id, "node", "tok", &[], None)
        .unwrap();
    let scopes: String = conn
        .query_row(
            "SELECT scopes_json FROM device_auth_tokens WHERE device_id=?1 AND role='node'",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scopes, "[]");

    let store = ApprovalsStore::new(&paths);
    let first = store.ensure().unwrap();
    let row = |conn: &Connection| -> (String, Option<String>, i64, Option<String>, i64, i64) {
        conn.query_row(
            "SELECT raw_json, socket_path, has_socket_token, default_security, agent_count,
                    allowlist_count FROM exec_approvals_config WHERE config_key='current'",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap()
    };
    let (raw, socket, has_token, security, agents, allowlist) = row(&conn);
    assert_eq!(hash_raw(Some(&raw)), first.hash, "hash = sha256(raw_json)");
    assert!(raw.ends_with("}\n") && raw.contains("\n  \"version\": 1"));
    assert_eq!(
        socket.as_deref(),
        Some(store.default_socket_path().as_str())
    );
    assert_eq!((has_token, security, agents, allowlist), (1, None, 0, 0));
    store
        .update::<StoreError>(None, |s| {
            let mut doc = s.doc.clone();
            doc["defaults"]["security"] = json!("allowlist");
            doc["agents"]["*"]["allowlist"] = json!([{"pattern": "/a"}, {"pattern": "/b"}]);
            doc["agents"]["main"]["allowlist"] = json!([{"pattern": "/c"}]);
            Ok(Some(doc))
        })
        .unwrap();
    let (_, _, _, security, agents, allowlist) = row(&conn);
    assert_eq!(
        (security.as_deref(), agents, allowlist),
        (Some("allowlist"), 2, 3)
    );
    assert!(store
        .file_path()
        .to_string_lossy()
        .ends_with("openclaw.sqlite#exec_approvals_config"));
}

/// A database stamped like 2026.9.6's (`schema_meta` 'primary' + `user_version`).
fn stamp(paths: &StatePaths, version: i64) {
    let conn = db(paths);
    conn.execute_batch(&format!(
        "CREATE TABLE schema_meta (meta_key TEXT NOT NULL PRIMARY KEY, role TEXT NOT NULL,
           schema_version INTEGER NOT NULL, agent_id TEXT, app_version TEXT,
           created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
         INSERT INTO schema_meta VALUES ('primary','global',{version},NULL,'2099.1.1',1,1);
         PRAGMA user_version = {version};"
    ))
    .unwrap();
}

#[test]
fn verified_schema_is_written_and_a_newer_one_only_read() {
    let (_dir, paths) = node_host_tables_dir("schema");
    let sqlite = SqliteState::at(paths.state_db_file());
    assert_eq!(sqlite.schema().unwrap().unwrap().read_only, None);
    stamp(&paths, 18);
    let schema = sqlite.schema().unwrap().unwrap();
    assert_eq!((schema.version, schema.read_only.clone()), (18, None));
    let identity = load_or_create_identity(&paths).unwrap();
    DeviceAuthStore::new(&paths)
        .store(&identity.device_id(), "node", "tok", &[], None)
        .unwrap();

    db(&paths)
        .execute_batch("UPDATE schema_meta SET schema_version = 19; PRAGMA user_version = 19;")
        .unwrap();
    let schema = sqlite.schema().unwrap().unwrap();
    assert_eq!(schema.version, 19);
    assert!(
        schema.describe().contains("READ-ONLY"),
        "{}",
        schema.describe()
    );
    // reads work
    assert_eq!(
        load_identity(&paths).unwrap().unwrap().device_id(),
        identity.device_id()
    );
    assert_eq!(
        DeviceAuthStore::new(&paths)
            .token(&identity.device_id(), "node")
            .unwrap()
            .as_deref(),
        Some("tok")
    );
    // writes are refused, and say why
    let err = DeviceAuthStore::new(&paths)
        .store(&identity.device_id(), "node", "new", &[], Some("tok"))
        .unwrap_err();
    assert!(err.read_only && err.to_string().contains("newer"), "{err}");
    let err = ApprovalsStore::new(&paths).ensure().unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    // run goes on with an unsaved node config
    let state = apply_run_overrides(&paths, None, None, None, &endpoint("127.0.0.1", 1)).unwrap();
    assert!(!state.node_id.is_empty());
    assert!(NodeState::load(&paths).unwrap().is_none());
    // an older stamp is read-only too
    db(&paths)
        .execute_batch("UPDATE schema_meta SET schema_version = 12; PRAGMA user_version = 12;")
        .unwrap();
    assert!(sqlite
        .schema()
        .unwrap()
        .unwrap()
        .read_only
        .unwrap()
        .contains("older"));
}

#[test]
fn a_busy_database_waits_then_fails_with_advice() {
    let (_dir, paths) = sqlite_dir("busy");
    let sqlite =
        SqliteState::at(paths.state_db_file()).with_busy_timeout(Duration::from_millis(200));
    let holder = db(&paths);
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Readers are not blocked by a writer in WAL mode.
    assert!(sqlite.load_identity().unwrap().is_none());
    let started = std::time::Instant::now();
    let err = sqlite
        .insert_identity(&DeviceIdentity::generate(), None)
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert!(err.to_string().contains("lock"), "{err}");
    assert!(err.to_string().contains("try again"), "{err}");
    let store = ApprovalsStore::sqlite(&paths, sqlite.clone());
    let err = store.ensure().unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();

    // A lock released within the timeout only delays the write.
    let patient = SqliteState::at(paths.state_db_file()).with_busy_timeout(Duration::from_secs(5));
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        holder.execute_batch("COMMIT").unwrap();
    });
    let (identity, created) = patient
        .insert_identity(&DeviceIdentity::generate(), None)
        .unwrap();
    assert!(created);
    releaser.join().unwrap();
    assert_eq!(
        patient.load_identity().unwrap().unwrap().device_id(),
        identity.device_id()
    );
}

#[test]
fn two_creators_race_to_one_identity() {
    let (_dir, paths) = sqlite_dir("race");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let paths = paths.clone();
            std::thread::spawn(move || load_or_create_identity(&paths).unwrap().device_id())
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

/// What an earlier openclaw-node leaves: the four JSON files.
fn write_legacy(paths: &StatePaths) -> (DeviceIdentity, String) {
    let identity = json::load_or_create_identity(paths).unwrap();
    let state = NodeState {
        node_id: "11111111-2222-4333-8444-555555555555".into(),
        display_name: Some("legacy".into()),
        gateway: endpoint("127.0.0.1", 18790),
        legacy_token: Some("very-old".into()),
        ..NodeState::default()
    };
    json::save_node(paths, &state).unwrap();
    DeviceAuthFile::new(paths)
        .store(&identity.device_id(), "node", "legacy-token", &[], None)
        .unwrap();
    let store = ApprovalsStore::new(paths);
    let snap = store
        .update::<StoreError>(None, |s| {
            let mut doc = crate::approvals::store::ensure_socket_doc(&store, &s.doc);
            doc["defaults"]["security"] = json!("allowlist");
            doc["agents"]["*"]["allowlist"] = json!([{"pattern": "/usr/bin/uname"}]);
            Ok(Some(doc))
        })
        .unwrap()
        .unwrap();
    (identity, snap.hash)
}

#[test]
fn retired_json_files_are_imported_once_and_moved_aside() {
    let dir = TempDir::new("import");
    let paths = dir.paths();
    let (identity, hash) = write_legacy(&paths);
    // openclaw 2026.9 created the database meanwhile
    let sqlite = SqliteState::create(paths.state_db_file()).unwrap();
    assert_eq!(Backend::detect(&paths).name(), "sqlite");
    // Before the import the SQLite backend refuses to guess.
    assert!(
        load_or_create_identity(&paths).is_err(),
        "never a new identity over a legacy one"
    );
    assert!(
        ApprovalsStore::new(&paths).read().is_err(),
        "never defaults over a legacy file"
    );

    open_for_run(&paths, crate::approvals::document::check).unwrap();
    assert_eq!(migrate::legacy_files(&paths), Vec::<PathBuf>::new());
    assert_eq!(
        load_identity(&paths).unwrap().unwrap().device_id(),
        identity.device_id()
    );
    assert_eq!(
        DeviceAuthStore::new(&paths)
            .token(&identity.device_id(), "node")
            .unwrap()
            .as_deref(),
        Some("legacy-token")
    );
    let node = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(node.node_id, "11111111-2222-4333-8444-555555555555");
    assert_eq!(node.gateway.port, Some(18790));
    assert_eq!(node.legacy_token, None, "Doctor drops it too");
    let approvals = ApprovalsStore::new(&paths).read().unwrap();
    assert_eq!(approvals.hash, hash, "byte-identical import keeps the hash");
    assert_eq!(approvals.doc["defaults"]["security"], "allowlist");
    let moved = fs::read_dir(paths.migrated_dir()).unwrap().count();
    assert_eq!(moved, 4);
    // Idempotent: a second run finds nothing to do.
    assert!(migrate::import_legacy(&paths, &sqlite, crate::approvals::document::check)
        .unwrap()
        .lines
        .is_empty());
}

#[test]
fn a_different_identity_in_sqlite_stops_the_import_and_moves_nothing() {
    let dir = TempDir::new("conflict");
    let paths = dir.paths();
    write_legacy(&paths);
    let sqlite = SqliteState::create(paths.state_db_file()).unwrap();
    let (other, _) = sqlite
        .insert_identity(&DeviceIdentity::generate(), None)
        .unwrap();
    let err = migrate::import_legacy(&paths, &sqlite, crate::approvals::document::check).unwrap_err();
    assert!(err.to_string().contains(&other.device_id()), "{err}");
    assert!(paths.device_identity_file().exists());
    assert!(paths.node_file().exists());
}

#[test]
fn a_conflicting_approvals_row_wins_and_the_file_is_moved_aside() {
    let dir = TempDir::new("approvals-conflict");
    let paths = dir.paths();
    write_legacy(&paths);
    let sqlite = SqliteState::create(paths.state_db_file()).unwrap();
    sqlite.import_approvals("{\n  \"version\": 1,\n  \"defaults\": {\n    \"security\": \"deny\"\n  },\n  \"agents\": {}\n}\n").unwrap();
    migrate::import_legacy(&paths, &sqlite, crate::approvals::document::check).unwrap();
    assert!(!paths.exec_approvals_file().exists());
    let read = ApprovalsStore::new(&paths).read().unwrap();
    assert_eq!(read.doc["defaults"]["security"], "deny");
}

#[test]
fn lost_approvals_deny_instead_of_falling_back_to_the_defaults() {
    for sqlite in [false, true] {
        let (_dir, paths) = if sqlite {
            sqlite_dir("lost-sqlite")
        } else {
            let dir = TempDir::new("lost-json");
            let paths = dir.paths().with_new_state(crate::paths::NewStateBackend::Json);
            (dir, paths)
        };
        let store = ApprovalsStore::new(&paths);
        // a stub without policy: its loss changes nothing
        store.ensure().unwrap();
        if sqlite {
            db(&paths)
                .execute("DELETE FROM exec_approvals_config", [])
                .unwrap();
        } else {
            fs::remove_file(paths.exec_approvals_file()).unwrap();
        }
        assert!(!store.read().unwrap().exists);
        // a document with a policy is seen, then lost
        store
            .update::<StoreError>(None, |s| {
                let mut doc = crate::approvals::store::ensure_socket_doc(&store, &s.doc);
                doc["defaults"]["security"] = json!("allowlist");
                Ok(Some(doc))
            })
            .unwrap();
        assert!(store.read().unwrap().exists);
        assert!(paths.approvals_marker_file().exists());
        if sqlite {
            db(&paths)
                .execute("DELETE FROM exec_approvals_config", [])
                .unwrap();
        } else {
            fs::remove_file(paths.exec_approvals_file()).unwrap();
        }
        let err = store.read().unwrap_err();
        assert!(matches!(err, StoreError::Gone { .. }), "{err}");
        assert!(
            err.to_string().contains("every system.run is denied"),
            "{err}"
        );
        let notice =
            crate::approvals::startup_notice(&store, Default::default());
        assert_eq!(notice.level, log::Level::Error, "{}", notice.message);
        // writing a document again is the way back
        store
            .update::<StoreError>(None, |s| {
                let mut doc = crate::approvals::store::ensure_socket_doc(&store, &s.doc);
                doc["defaults"]["security"] = json!("deny");
                Ok(Some(doc))
            })
            .unwrap();
        assert!(store.read().unwrap().exists);
    }
}

#[test]
fn the_startup_notice_names_the_source() {
    let (_dir, paths) = sqlite_dir("notice");
    let store = ApprovalsStore::new(&paths);
    let config = crate::config::NodeConfig::default();
    let notice = crate::approvals::startup_notice(&store, (&config).into());
    assert!(
        notice.message.contains("built-in defaults"),
        "{}",
        notice.message
    );
    store.ensure().unwrap();
    let notice = crate::approvals::startup_notice(&store, (&config).into());
    assert!(
        notice
            .message
            .contains("SQLite row exec_approvals_config 'current'"),
        "{}",
        notice.message
    );
}

#[test]
fn an_unreadable_database_is_an_error_never_the_json_files() {
    let dir = TempDir::new("garbage");
    let paths = dir.paths();
    fs::create_dir_all(paths.state_db_file().parent().unwrap()).unwrap();
    fs::write(
        paths.state_db_file(),
        b"this is not sqlite, just some bytes of text....",
    )
    .unwrap();
    assert!(load_identity(&paths).is_err());
    assert!(ApprovalsStore::new(&paths).read().is_err());
    assert!(open_for_run(&paths, crate::approvals::document::check).is_err());
    assert!(!paths.device_identity_file().exists());
}
