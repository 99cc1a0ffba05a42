//! JSON files beside a SQLite state database: import them once, then move them aside.
//!
//! An earlier openclaw-node (or a 2026.7 TS node) wrote `node.json`, `identity/device.json`,
//! `identity/device-auth.json` and `exec-approvals.json`. Once `state/openclaw.sqlite` exists,
//! a 2026.9 TS host refuses to work while any of them is there, and two copies of a fact would
//! drift apart. So, as `openclaw doctor --fix` does (spec state-sqlite §6), each file is
//! imported into its rows in one transaction and then moved to `openclaw-node/migrated/`
//! (kept, mode unchanged, in a 0700 directory: never deleted, in case the user wants it back):
//!
//! - `device-auth.json`: one row per role; an existing row for the same device and role wins.
//! - `device.json`: becomes `primary` when there is none; the same key already there is fine;
//!   a *different* key is a conflict that stops here (as Doctor stops): which identity is this
//!   node's is the user's call, and guessing would lose one pairing.
//! - `exec-approvals.json`: imported byte for byte when there is no row (so its hash, and a
//!   gateway's `baseHash`, survive); an identical row is fine; a different row wins (it is
//!   what the TS host has been enforcing) and the file is moved aside with a warning.
//!   A file that is not a valid document stays where it is, and every run is denied until it
//!   is fixed or removed (see `approvals::store`).
//! - `node.json`: becomes `nodeHost.config` (its legacy `token` dropped) when there is no row;
//!   with the same instance id the newer of the two wins; another instance id keeps the row.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::json::{self, DeviceAuthFile};
use super::sqlite::SqliteState;
use super::{create_private_dir_all, now_ms, NodeState, StateError};
use crate::paths::StatePaths;

/// What one import did, one line per fact, in words (logged and printed by `state migrate`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<String>,
}

impl Report {
    fn say(&mut self, line: String) {
        log::info!("{line}");
        self.lines.push(line);
    }
}

/// The retired JSON files present in the state directory.
pub fn legacy_files(paths: &StatePaths) -> Vec<PathBuf> {
    [
        paths.device_auth_file(),
        paths.device_identity_file(),
        paths.exec_approvals_file(),
        paths.node_file(),
    ]
    .into_iter()
    .filter(|p| p.symlink_metadata().is_ok())
    .collect()
}

/// Imports the retired JSON files of `paths` into `db` and moves them aside. Does nothing
/// when there are none. Stops at the first file that cannot be imported safely; the files
/// already handled stay handled (each import is its own transaction, and is idempotent).
/// Whether an exec-approvals document is valid (`approvals::document::check`): the document's
/// rules belong to the policy library, which itself stores its document through this module.
pub type ApprovalsCheck = fn(&str) -> Result<(), String>;

pub fn import_legacy(
    paths: &StatePaths,
    db: &SqliteState,
    check_approvals: ApprovalsCheck,
) -> Result<Report, StateError> {
    let mut report = Report::default();
    if legacy_files(paths).is_empty() {
        return Ok(report);
    }
    import_device_auth(paths, db, &mut report)?;
    import_identity(paths, db, &mut report)?;
    import_approvals(paths, db, check_approvals, &mut report)?;
    import_node(paths, db, &mut report)?;
    Ok(report)
}

fn import_device_auth(
    paths: &StatePaths,
    db: &SqliteState,
    report: &mut Report,
) -> Result<(), StateError> {
    let file = DeviceAuthFile::new(paths);
    let Some((device_id, entries)) = file.all_entries()? else {
        return Ok(());
    };
    let mut imported = 0;
    for entry in &entries {
        if db.import_token(entry, &device_id)? {
            imported += 1;
        }
    }
    let kept = entries.len() - imported;
    let aside = move_aside(paths, file.path())?;
    report.say(format!(
        "imported {imported} device token(s) from {} into {} ({kept} kept as already stored); \
         the file is now {}",
        file.path().display(),
        db.path().display(),
        aside.display()
    ));
    Ok(())
}

fn import_identity(
    paths: &StatePaths,
    db: &SqliteState,
    report: &mut Report,
) -> Result<(), StateError> {
    let path = paths.device_identity_file();
    let Some(imported) = json::load_identity_file(paths)? else {
        return Ok(());
    };
    let legacy_id = imported.identity.device_id();
    let (stored, created) = db.insert_identity(&imported.identity, imported.created_at_ms)?;
    if stored.device_id() != legacy_id {
        return Err(StateError::new(
            &path,
            format!(
                "holds device {legacy_id}, but {} already holds another identity, device {}; \
                 nothing was changed. Keep the one the gateway has paired: move this file away \
                 to keep the database's, or stop every openclaw process and remove the \
                 device_identities 'primary' row to keep this one",
                db.path().display(),
                stored.device_id()
            ),
        ));
    }
    let aside = move_aside(paths, &path)?;
    report.say(format!(
        "{} device identity {legacy_id} from {} (device_identities 'primary'); the file is now {}",
        if created { "imported" } else { "already had" },
        path.display(),
        aside.display()
    ));
    Ok(())
}

fn import_approvals(
    paths: &StatePaths,
    db: &SqliteState,
    check_approvals: ApprovalsCheck,
    report: &mut Report,
) -> Result<(), StateError> {
    let path = paths.exec_approvals_file();
    let Some(bytes) = super::read_state_file(&path, super::APPROVALS_MAX_BYTES)? else {
        return Ok(());
    };
    let raw = match String::from_utf8(bytes) {
        Ok(raw) => raw,
        Err(_) => {
            log::error!(
                "{} is not UTF-8 text: not imported; every system.run is denied until it is \
                 fixed or removed",
                path.display()
            );
            return Ok(());
        }
    };
    if let Err(problem) = check_approvals(&raw) {
        log::error!(
            "{} is not a valid exec approvals document ({problem}): not imported; every \
             system.run is denied until it is fixed or removed",
            path.display()
        );
        return Ok(());
    }
    let (stored, written) = db.import_approvals(&raw)?;
    let aside = move_aside(paths, &path)?;
    let what = if written {
        "imported the exec approvals"
    } else if stored == raw {
        "the database already had these exec approvals"
    } else {
        log::warn!(
            "{} differs from the exec approvals in {}; the database's are kept (the TS host has \
             been enforcing them); review the moved file {}",
            path.display(),
            db.path().display(),
            aside.display()
        );
        "kept the database's exec approvals, which differ from"
    };
    report.say(format!(
        "{what} {} (exec_approvals_config 'current'); the file is now {}",
        path.display(),
        aside.display()
    ));
    Ok(())
}

fn import_node(
    paths: &StatePaths,
    db: &SqliteState,
    report: &mut Report,
) -> Result<(), StateError> {
    let path = paths.node_file();
    let Some(mut legacy) = json::load_node(paths)? else {
        return Ok(());
    };
    legacy.legacy_token = None;
    let file_ms = fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let what = match db.load_node()? {
        None => {
            db.save_node(&legacy)?;
            "imported the node config"
        }
        Some(row) if row.node_id == legacy.node_id && file_ms > db.node_updated_at_ms()? => {
            db.save_node(&merge_newer(&legacy, &row))?;
            "imported the newer node config"
        }
        Some(row) if row.node_id == legacy.node_id => {
            "kept the newer node config of the database over"
        }
        Some(row) => {
            log::warn!(
                "{} names instance id {}, the database {}; the database's is kept",
                path.display(),
                legacy.node_id,
                row.node_id
            );
            "kept the database's node config over"
        }
    };
    let aside = move_aside(paths, &path)?;
    report.say(format!(
        "{what} {} (config_machine_state 'nodeHost.config'); the file is now {}",
        path.display(),
        aside.display()
    ));
    Ok(())
}

/// The legacy file's facts, with the keys only the row has (`installedAppsSharing`,
/// `commands`, ...) kept.
fn merge_newer(legacy: &NodeState, row: &NodeState) -> NodeState {
    let mut next = legacy.clone();
    if next.commands.is_none() {
        next.commands = row.commands.clone();
    }
    for (key, value) in &row.unknown_keys {
        next.unknown_keys
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    next
}

/// Moves `path` to `openclaw-node/migrated/<name>.<ms>` (rename: same file system).
fn move_aside(paths: &StatePaths, path: &Path) -> Result<PathBuf, StateError> {
    let dir = paths.migrated_dir();
    create_private_dir_all(&dir).map_err(|e| StateError::io(&dir, "creating", &e))?;
    let relative = path.strip_prefix(paths.dir()).unwrap_or(path);
    let flat: String = relative
        .to_string_lossy()
        .chars()
        .map(|c| if c == '/' { '-' } else { c })
        .collect();
    let target = dir.join(format!("{flat}.{}", now_ms()));
    crate::platform::files::replace(path, &target).map_err(|e| {
        StateError::io(
            path,
            &format!("moving it to {} after its import", target.display()),
            &e,
        )
    })?;
    super::sync_dir(paths.dir());
    Ok(target)
}
