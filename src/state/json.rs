//! The JSON-file backend: `node.json`, `identity/device.json`, `identity/device-auth.json`, in
//! the exact shapes a 2026.7.x TypeScript node host writes (protocol §7.1, §7.3, §12.2).
//!
//! Used on a machine with no 2026.9 state database (see [`super::Backend`]). The approvals
//! document's file is `crate::approvals::store`'s business.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{
    now_ms, read_json_file, read_state_file, to_pretty_json, write_atomic, write_atomic_new,
    DeviceAuthEntry, NodeState, StateError, FIX_OR_MOVE, NODE_STATE_MAX_BYTES,
};
use crate::identity::{self, DeviceIdentity};
use crate::paths::StatePaths;

/// `identity/*.json` may not exceed this (the TS reader's limit for the identity file).
const IDENTITY_FILE_MAX_BYTES: u64 = 128 * 1024;
/// Cap for `identity/device-auth.json`; a few tokens take well under 1 KiB.
const DEVICE_AUTH_MAX_BYTES: u64 = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// node.json
// ---------------------------------------------------------------------------------------------

/// Reads `node.json`; `Ok(None)` when it does not exist.
pub(super) fn load_node(paths: &StatePaths) -> Result<Option<NodeState>, StateError> {
    let path = paths.node_file();
    let Some(doc) = read_json_file(&path, NODE_STATE_MAX_BYTES)? else {
        return Ok(None);
    };
    let mut state =
        NodeState::from_json(&doc).map_err(|problem| StateError::unusable(&path, problem))?;
    if state.commands.is_none() {
        state.commands = load_commands_file(paths)?;
    }
    Ok(Some(state))
}

/// The `--commands` allowlist kept beside `node.json` (`openclaw-node/commands.json`), if any.
pub(super) fn load_commands_file(paths: &StatePaths) -> Result<Option<Vec<String>>, StateError> {
    let path = paths.commands_file();
    match read_json_file(&path, NODE_STATE_MAX_BYTES)? {
        None => Ok(None),
        Some(doc) => serde_json::from_value(doc).map(Some).map_err(|_| {
            StateError::unusable(&path, "must be an array of command id strings")
        }),
    }
}

/// Writes (or, for `None`, removes) `openclaw-node/commands.json`.
pub(super) fn save_commands_file(
    paths: &StatePaths,
    commands: Option<&[String]>,
) -> Result<(), StateError> {
    let path = paths.commands_file();
    match commands {
        Some(commands) => write_atomic(&path, to_pretty_json(&Value::from(commands)).as_bytes()),
        None => match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(StateError::new(&path, format!("cannot remove: {err}"))),
        },
    }
}

/// Writes `node.json` atomically (2-space JSON, no trailing newline, as the TS node wrote it).
pub(super) fn save_node(paths: &StatePaths, state: &NodeState) -> Result<(), StateError> {
    let path = paths.node_file();
    // `node.json` keeps only the keys the TS node wrote, so `openclaw doctor --fix` can import it.
    let mut doc = state.to_json();
    if let Value::Object(map) = &mut doc {
        map.remove("commands");
    }
    save_commands_file(paths, state.commands.as_deref())?;
    let text = to_pretty_json(&doc);
    if text.len() as u64 > NODE_STATE_MAX_BYTES {
        return Err(StateError::new(
            &path,
            format!("would be larger than {NODE_STATE_MAX_BYTES} bytes; remove the extra keys you added to it"),
        ));
    }
    write_atomic(&path, text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// identity/device.json
// ---------------------------------------------------------------------------------------------

/// Loads `identity/device.json`, creating a new key pair on first start.
///
/// An existing file is only ever read: one that cannot be used is an error (moving it away
/// gives the node a new identity, which the gateway must approve again).
pub(super) fn load_or_create_identity(paths: &StatePaths) -> Result<DeviceIdentity, StateError> {
    if let Some(identity) = load_identity(paths)? {
        return Ok(identity);
    }
    let path = paths.device_identity_file();
    let identity = DeviceIdentity::generate();
    let mut text = to_pretty_json(&identity::device_json(&identity, now_ms()));
    text.push('\n');
    if write_atomic_new(&path, text.as_bytes())? {
        log::info!(
            "created device identity {} in {}; the gateway must approve this device before it can connect",
            identity.device_id(),
            path.display()
        );
        return Ok(identity);
    }
    // Another process created the file between our look and our write: use its key.
    load_identity(paths)?.ok_or_else(|| {
        StateError::new(
            &path,
            "appeared and vanished while being created; start the node again",
        )
    })
}

/// Loads `identity/device.json` without ever creating or changing it.
///
/// Reads both legacy forms (protocol §7.3). The device id is always recomputed from the key; a
/// file whose stored `deviceId` disagrees is used with the computed id and a warning.
pub(super) fn load_identity(paths: &StatePaths) -> Result<Option<DeviceIdentity>, StateError> {
    Ok(load_identity_file(paths)?.map(|imported| imported.identity))
}

/// [`load_identity`] with what else the file says (`createdAtMs`, for the SQLite import).
pub(super) fn load_identity_file(
    paths: &StatePaths,
) -> Result<Option<identity::ImportedIdentity>, StateError> {
    let path = paths.device_identity_file();
    let Some(doc) = read_json_file(&path, IDENTITY_FILE_MAX_BYTES)? else {
        return Ok(None);
    };
    let imported = identity::identity_from_device_json(&doc).map_err(|e| {
        StateError::new(
            &path,
            format!(
                "not a usable device identity: {e}; {FIX_OR_MOVE} (moving it away makes a new identity \
                 that the gateway must approve again)"
            ),
        )
    })?;
    let device_id = imported.identity.device_id();
    log::debug!("{}: a {:?} identity", path.display(), imported.form);
    if imported.stored_device_id != device_id {
        log::warn!(
            "{}: stored deviceId {:?} does not match the key; using the id computed from the key, {}",
            path.display(),
            imported.stored_device_id,
            device_id
        );
    }
    Ok(Some(imported))
}

// ---------------------------------------------------------------------------------------------
// identity/device-auth.json
// ---------------------------------------------------------------------------------------------

/// `identity/device-auth.json`: device tokens by role, for one device id:
/// `{"version":1,"deviceId","tokens":{"<role>":{"token","role","scopes":[],"updatedAtMs"}}}`.
///
/// A file written for another device id holds no token for this device. It is left alone when
/// read, and copied aside (never silently dropped) before a new token replaces it.
#[derive(Debug)]
pub struct DeviceAuthFile {
    path: PathBuf,
    /// Serializes read-modify-write cycles within this process.
    lock: Mutex<()>,
    /// A file for another device is reported once, not on every reconnect.
    warned_other_device: AtomicBool,
}

/// The parsed file: the top-level object and its device id.
struct AuthDoc {
    doc: Map<String, Value>,
    device_id: String,
    raw: Vec<u8>,
}

impl DeviceAuthFile {
    /// The store at `identity/device-auth.json` in the state directory.
    pub fn new(paths: &StatePaths) -> DeviceAuthFile {
        DeviceAuthFile::at(paths.device_auth_file())
    }

    /// A store at an explicit path.
    pub fn at(path: PathBuf) -> DeviceAuthFile {
        DeviceAuthFile {
            path,
            lock: Mutex::new(()),
            warned_other_device: AtomicBool::new(false),
        }
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored entry for (`device_id`, `role`), if any. An empty token counts as none.
    pub fn entry(
        &self,
        device_id: &str,
        role: &str,
    ) -> Result<Option<DeviceAuthEntry>, StateError> {
        let Some(doc) = self.read()? else {
            return Ok(None);
        };
        if doc.device_id != device_id {
            if self.warned_other_device.swap(true, Ordering::Relaxed) {
                return Ok(None);
            }
            log::warn!(
                "{} holds tokens for device {}, not for this device {device_id}; ignoring it",
                self.path.display(),
                doc.device_id
            );
            return Ok(None);
        }
        self.entry_in(&doc, role)
    }

    /// Stores the token `hello-ok` issued for (`device_id`, `role`).
    ///
    /// Compare-and-swap: `previous` is the token read before connecting (`None` if there was
    /// none). If the file now holds something else, another process changed it meanwhile and its
    /// token is kept (logged). If the token is the one already stored, nothing is written, so the
    /// stored scopes stay.
    pub fn store(
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
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let existing = self.read()?;
        let current = match &existing {
            Some(doc) if doc.device_id == device_id => self.entry_in(doc, role)?.map(|e| e.token),
            _ => None,
        };
        if current.as_deref() == Some(token) {
            return Ok(());
        }
        if current.as_deref() != previous {
            log::warn!(
                "{} changed while the node was connecting (another node process on this state directory?); \
                 keeping the {role} token stored there",
                self.path.display()
            );
            return Ok(());
        }
        let mut doc = match existing {
            Some(auth) if auth.device_id == device_id => auth.doc,
            Some(auth) => {
                self.set_aside(&auth)?;
                Map::new()
            }
            None => Map::new(),
        };
        doc.insert("version".into(), Value::from(1));
        doc.insert("deviceId".into(), Value::from(device_id));
        let mut scopes: Vec<String> = scopes
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        scopes.sort();
        scopes.dedup();
        let entry = serde_json::json!({
            "token": token,
            "role": role,
            "scopes": scopes,
            "updatedAtMs": now_ms(),
        });
        match doc.get_mut("tokens") {
            Some(Value::Object(tokens)) => {
                tokens.insert(role.to_string(), entry);
            }
            _ => {
                let mut tokens = Map::new();
                tokens.insert(role.to_string(), entry);
                doc.insert("tokens".into(), Value::Object(tokens));
            }
        }
        self.write(&doc)
    }

    /// Deletes the token for (`device_id`, `role`) if it still equals `stale` (compare-and-delete:
    /// a newer token stored meanwhile survives). Other roles and keys are kept.
    pub fn clear_if(&self, device_id: &str, role: &str, stale: &str) -> Result<(), StateError> {
        let role = role.trim();
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(mut auth) = self.read()? else {
            return Ok(());
        };
        if auth.device_id != device_id {
            return Ok(());
        }
        match self.entry_in(&auth, role)? {
            Some(entry) if entry.token == stale => {}
            _ => return Ok(()),
        }
        if let Some(Value::Object(tokens)) = auth.doc.get_mut("tokens") {
            tokens.remove(role);
        }
        log::info!(
            "removed the stale {role} device token from {}",
            self.path.display()
        );
        self.write(&auth.doc)
    }

    /// The file's device id and every token in it (for the import into SQLite); `Ok(None)`
    /// when there is no file.
    pub(super) fn all_entries(&self) -> Result<Option<(String, Vec<DeviceAuthEntry>)>, StateError> {
        let Some(doc) = self.read()? else {
            return Ok(None);
        };
        let roles: Vec<String> = doc
            .doc
            .get("tokens")
            .and_then(Value::as_object)
            .map(|tokens| tokens.keys().cloned().collect())
            .unwrap_or_default();
        let mut entries = Vec::new();
        for role in roles {
            if let Some(entry) = self.entry_in(&doc, &role)? {
                entries.push(entry);
            }
        }
        Ok(Some((doc.device_id.clone(), entries)))
    }

    fn read(&self) -> Result<Option<AuthDoc>, StateError> {
        let Some(raw) = read_state_file(&self.path, DEVICE_AUTH_MAX_BYTES)? else {
            return Ok(None);
        };
        let value: Value = serde_json::from_slice(&raw).map_err(|e| {
            StateError::unusable(
                &self.path,
                format!("not valid JSON ({e}); the file may be truncated or corrupt"),
            )
        })?;
        let Value::Object(doc) = value else {
            return Err(StateError::unusable(&self.path, "expected a JSON object"));
        };
        if doc.get("version").and_then(Value::as_u64) != Some(1) {
            return Err(StateError::unusable(&self.path, "\"version\" must be 1"));
        }
        let device_id = match doc.get("deviceId") {
            Some(Value::String(id)) => id.clone(),
            _ => {
                return Err(StateError::unusable(
                    &self.path,
                    "\"deviceId\" is missing or not a string",
                ))
            }
        };
        if !matches!(doc.get("tokens"), Some(Value::Object(_))) {
            return Err(StateError::unusable(
                &self.path,
                "\"tokens\" is missing or not an object",
            ));
        }
        Ok(Some(AuthDoc {
            doc,
            device_id,
            raw,
        }))
    }

    fn entry_in(&self, auth: &AuthDoc, role: &str) -> Result<Option<DeviceAuthEntry>, StateError> {
        let role = role.trim();
        let Some(value) = auth.doc.get("tokens").and_then(|tokens| tokens.get(role)) else {
            return Ok(None);
        };
        let bad =
            |what: &str| StateError::unusable(&self.path, format!("\"tokens.{role}\": {what}"));
        let object = value.as_object().ok_or_else(|| bad("expected an object"))?;
        let token = match object.get("token") {
            Some(Value::String(token)) => token.clone(),
            _ => return Err(bad("\"token\" is missing or not a string")),
        };
        if token.is_empty() {
            return Ok(None);
        }
        let scopes = match object.get("scopes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(_) => return Err(bad("\"scopes\" must be an array")),
        };
        let updated_at_ms = object
            .get("updatedAtMs")
            .and_then(|v| {
                v.as_u64().or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(|f| f as u64)
                })
            })
            .unwrap_or(0);
        Ok(Some(DeviceAuthEntry {
            token,
            role: role.to_string(),
            scopes,
            updated_at_ms,
        }))
    }

    /// Copies a file written for another device next to it before it is replaced.
    fn set_aside(&self, auth: &AuthDoc) -> Result<(), StateError> {
        let tag: String = auth
            .device_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".device-{tag}.bak"));
        let backup = self.path.with_file_name(name);
        write_atomic(&backup, &auth.raw)?;
        log::warn!(
            "{} held tokens for device {}, not this device; kept a copy at {} and replacing it",
            self.path.display(),
            auth.device_id,
            backup.display()
        );
        Ok(())
    }

    fn write(&self, doc: &Map<String, Value>) -> Result<(), StateError> {
        let mut text = to_pretty_json(&Value::Object(doc.clone()));
        text.push('\n');
        write_atomic(&self.path, text.as_bytes())
    }
}
