//! `openclaw-node state`: which backend keeps this node's state, where, and what it holds;
//! and the one-time import of retired JSON files into a SQLite state database.

use std::process::ExitCode;

use argh::FromArgs;
use serde_json::{json, Value};

use crate::approvals::ApprovalsStore;
use crate::paths::StatePaths;
use crate::state::{self, migrate, Backend, DeviceAuthStore, NodeState, SqliteState};
use crate::CliError;

/// Show or migrate where the node keeps its state (JSON files or the 2026.9 SQLite database).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "state")]
pub struct StateArgs {
    #[argh(subcommand)]
    pub action: StateAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum StateAction {
    Show(ShowArgs),
    Migrate(MigrateArgs),
}

/// Tell which backend is in use, where, and what it holds (secrets never shown).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
pub struct ShowArgs {
    /// print JSON
    #[argh(switch)]
    pub json: bool,
}

/// Import the retired JSON files into state/openclaw.sqlite and move them aside.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "migrate")]
pub struct MigrateArgs {
    /// create state/openclaw.sqlite (the openclaw 2026.9.6 schema) when it does not exist
    #[argh(switch)]
    pub create: bool,
}

/// The `state` family: one function per action.
pub fn main(args: &StateArgs) -> Result<ExitCode, CliError> {
    let paths = StatePaths::from_env().map_err(CliError::new)?;
    match &args.action {
        StateAction::Show(show_args) => show(&paths, show_args),
        StateAction::Migrate(migrate_args) => migrate(&paths, migrate_args),
    }
}

/// `state show`: the backend, its location and schema, and each fact's presence. Reads only.
fn show(paths: &StatePaths, args: &ShowArgs) -> Result<ExitCode, CliError> {
    let backend = Backend::detect(paths);
    let schema = match &backend {
        Backend::Sqlite(db) => db.schema().map_err(CliError::from)?,
        Backend::Json(_) => None,
    };
    let err_text = |e: &dyn std::fmt::Display| json!({ "error": e.to_string() });
    let identity = match backend.load_identity() {
        Ok(Some(identity)) => json!({ "deviceId": identity.device_id() }),
        Ok(None) => Value::Null,
        Err(e) => err_text(&e),
    };
    let token = match backend.load_identity() {
        Ok(Some(identity)) => {
            match DeviceAuthStore::new(paths).entry(&identity.device_id(), "node") {
                Ok(Some(entry)) => json!({ "present": true, "scopes": entry.scopes,
                                           "updatedAtMs": entry.updated_at_ms }),
                Ok(None) => json!({ "present": false }),
                Err(e) => err_text(&e),
            }
        }
        _ => Value::Null,
    };
    let node = match backend.load_node() {
        Ok(Some(node)) => node_summary(&node),
        Ok(None) => Value::Null,
        Err(e) => err_text(&e),
    };
    let approvals_store = ApprovalsStore::new(paths);
    let approvals = match approvals_store.read() {
        Ok(s) => json!({ "exists": s.exists, "hash": s.hash }),
        Err(e) => err_text(&e),
    };
    let legacy: Vec<String> = migrate::legacy_files(paths)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let doc = json!({
        "backend": backend.name(),
        "location": backend.location().display().to_string(),
        "exists": !matches!(&backend, Backend::Sqlite(db) if !db.exists()),
        "schema": schema.as_ref().map(|s| json!({
            "version": s.version, "appVersion": s.app_version, "readOnly": s.read_only,
        })),
        "identity": identity,
        "deviceToken": token,
        "nodeConfig": node,
        "approvals": approvals,
        "approvalsSource": approvals_store.source(),
        "retiredFiles": legacy,
    });
    if args.json {
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    match (&backend, &schema) {
        (Backend::Sqlite(db), Some(schema)) => println!(
            "backend: sqlite {}\nschema:  {}",
            db.path().display(),
            schema.describe()
        ),
        (Backend::Sqlite(db), None) => println!(
            "backend: sqlite {} (a fresh state directory: `openclaw-node run` creates it with \
             the openclaw 2026.9.6 schema)",
            db.path().display()
        ),
        _ => println!(
            "backend: json files in {} (no {})",
            paths.dir().display(),
            paths.state_db_file().display()
        ),
    }
    println!("identity:     {}", short(&doc["identity"]));
    println!("device token: {}", short(&doc["deviceToken"]));
    println!("node config:  {}", short(&doc["nodeConfig"]));
    println!(
        "approvals:    {} ({})",
        short(&doc["approvals"]),
        approvals_store.source()
    );
    if !legacy.is_empty() {
        println!(
            "retired JSON files not imported yet: {} (`openclaw-node state migrate` or the next \
             `run` imports them)",
            legacy.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn short(value: &Value) -> String {
    match value {
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

fn node_summary(node: &NodeState) -> Value {
    let g = &node.gateway;
    json!({
        "nodeId": node.node_id,
        "displayName": node.display_name,
        "gateway": { "host": g.host, "port": g.port, "tls": g.tls,
                     "tlsFingerprint": g.tls_fingerprint, "contextPath": g.context_path },
    })
}

/// `state migrate`: import the retired JSON files into the database (creating it with
/// `--create`), as `openclaw doctor --fix` does, and move them to `openclaw-node/migrated/`.
fn migrate(paths: &StatePaths, args: &MigrateArgs) -> Result<ExitCode, CliError> {
    let db = match Backend::detect(paths) {
        Backend::Sqlite(db) => db,
        Backend::Json(_) if args.create => SqliteState::create(paths.state_db_file())?,
        Backend::Json(_) => {
            return Err(CliError::new(format!(
                "{} does not exist: the JSON files are this node's state. `--create` creates the \
                 database and moves the state into it",
                paths.state_db_file().display()
            )))
        }
    };
    // A running node holds the run lock; importing under it would race its writes.
    let _lock = state::run_lock::RunLock::acquire(&paths.run_lock_file())
        .map_err(|err| CliError::new(format!("{err}; stop the node first")))?;
    let report = migrate::import_legacy(paths, &db, crate::approvals::document::check)?;
    if report.lines.is_empty() {
        println!(
            "nothing to import: no retired JSON files in {}",
            paths.dir().display()
        );
    }
    for line in &report.lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
