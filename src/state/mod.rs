//! Persistent node state: the node config (instance id, name, gateway), the device identity,
//! the device tokens, and (through `crate::approvals::store`) the exec approvals document.
//!
//! Two backends keep the same facts, behind one interface ([`Backend`], [`NodeState::load`],
//! [`load_or_create_identity`], [`DeviceAuthStore`], `ApprovalsStore`):
//! - [`json`]: the files a 2026.7.x TypeScript node host writes (`node.json`,
//!   `identity/device.json`, `identity/device-auth.json`, `exec-approvals.json`; protocol §7.1,
//!   §7.3, §12.2), where they exist and no 2026.9 database does, or in a fresh directory with
//!   `OPENCLAW_NODE_STATE_BACKEND=json`;
//! - [`sqlite`]: the rows of `$STATE/state/openclaw.sqlite` that a 2026.9 TS node host uses,
//!   whenever that database exists, and in a fresh state directory, where the first write
//!   creates it with the 2026.9.6 schema ([`schema`]). The JSON files are then retired: never
//!   written, and those an earlier openclaw-node left are imported once and moved aside
//!   ([`migrate`]), as `openclaw doctor --fix` does. [`coordinator`] takes the lock files TS
//!   takes around the database.
//!
//! Either way a TS node's state is picked up as it is (same device id, token, gateway and
//! approvals), and `openclaw doctor --fix` after this node ran leaves it working.
//!
//! Rules every function here keeps:
//! - Every write is atomic ([`write_atomic`]: temp file, fsync, rename, directory fsync) with mode
//!   0600; directories the node creates are 0700 (on Windows: an owner-only protected DACL,
//!   and `MoveFileExW` for the rename; see `platform::files`).
//! - Every read goes through [`trusted`] (sshd's StrictModes: no links, regular files only,
//!   owned by the node's user or root and not writable by others, nor any directory above it, and
//!   a size cap per file); a refused file is an error like an unreadable one.
//! - A file that exists but cannot be read or understood is an error naming the file and saying
//!   what to do. It is never reset or overwritten: it may hold the only copy of a paired key.
//! - Keys the node does not know are kept when it rewrites a file.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub(crate) use crate::clock::now_ms;
use crate::paths::StatePaths;
use crate::platform::files;

/// `node.json` may not exceed this (the Doctor migration refuses larger files).
pub const NODE_STATE_MAX_BYTES: u64 = 64 * 1024;
/// `exec-approvals.json` (and its SQLite row) may not exceed this; a large allowlist is a few
/// tens of KiB.
pub const APPROVALS_MAX_BYTES: u64 = 1024 * 1024;
/// `openclaw-node/status.json`, written by `run` and read by `status`: a few hundred bytes.
pub const STATUS_MAX_BYTES: u64 = 64 * 1024;
/// `openclaw-node/exec-approvals.seen`: one short JSON object.
pub const APPROVALS_MARKER_MAX_BYTES: u64 = 4 * 1024;

/// Gateway host used when neither a flag nor the saved state names one (protocol §1.1).
pub const DEFAULT_GATEWAY_HOST: &str = "127.0.0.1";
/// Gateway port used when neither a flag nor the saved state names one (protocol §1.1).
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;

/// What to tell the user about a file that exists but cannot be used.
pub(crate) const FIX_OR_MOVE: &str = "fix the file or move it away; the node will not overwrite it";

/// A state file or database could not be read, parsed or written. Always names the file.
#[derive(Debug)]
pub struct StateError {
    /// The file the error is about.
    pub path: PathBuf,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The write was refused because the database's schema is not one this node writes.
    pub read_only: bool,
}

impl StateError {
    fn new(path: &Path, message: impl Into<String>) -> StateError {
        StateError {
            path: path.to_path_buf(),
            message: message.into(),
            read_only: false,
        }
    }

    /// A file that exists but does not hold what it should.
    fn unusable(path: &Path, problem: impl std::fmt::Display) -> StateError {
        StateError::new(path, format!("{problem}; {FIX_OR_MOVE}"))
    }

    /// An I/O failure while `doing` something to `path`, with advice for the common causes.
    fn io(path: &Path, doing: &str, err: &io::Error) -> StateError {
        StateError::new(path, format!("{doing} failed: {}", describe_io_error(err)))
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for StateError {}

fn describe_io_error(err: &io::Error) -> String {
    let advice = match crate::platform::os_error::errno_name(err) {
        Some("ENOSPC") => Some("the disk is full; free some space and start the node again"),
        Some("EDQUOT") => {
            Some("the disk quota is exhausted; free some space and start the node again")
        }
        Some("EROFS") => {
            Some("the file system is read-only; point OPENCLAW_STATE_DIR at a writable directory")
        }
        Some("EFBIG") => Some("the file size limit (ulimit -f) was reached; raise it"),
        Some("EACCES" | "EPERM") => {
            Some("permission denied; check the owner and mode of the file and its directory")
        }
        Some("ENOTDIR") => Some("a path component is a file, not a directory"),
        Some("EISDIR") => Some("a directory is in the way of the file"),
        _ => None,
    };
    match advice {
        Some(advice) => format!("{err} ({advice})"),
        None => err.to_string(),
    }
}

/// Writes `bytes` to `path` atomically with mode 0600, creating parent directories (0700).
///
/// The data goes to a temporary file in the same directory, which is flushed to disk, given mode
/// 0600 and renamed over `path`; then the directory is flushed so the rename survives a crash.
/// Readers see the old file or the new one, never a mix. A symbolic link at `path` is replaced by
/// the file (rename(2) replaces the link itself), never followed. If anything fails, the old file is left
/// as it was and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let (dir, tmp) = prepare_temp(path)?;
    let written = write_temp(&tmp, bytes)
        .and_then(|()| files::replace(&tmp, path).map_err(|e| ("replacing the file", e)));
    if let Err((doing, err)) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::io(path, doing, &err));
    }
    sync_dir(dir);
    Ok(())
}

/// Like [`write_atomic`], but never replaces an existing file: `Ok(false)` when `path` already
/// exists (another process created it first). Used where two first starts could race.
fn write_atomic_new(path: &Path, bytes: &[u8]) -> Result<bool, StateError> {
    let (dir, tmp) = prepare_temp(path)?;
    if let Err((doing, err)) = write_temp(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::io(path, doing, &err));
    }
    // A hard link is the atomic "create only if absent" for a fully written file.
    let created = match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links: fall back to check-then-rename, racy only there.
        Err(_) if path.symlink_metadata().is_ok() => Ok(false),
        Err(_) => files::replace(&tmp, path)
            .map(|()| true)
            .map_err(|e| StateError::io(path, "creating the file", &e)),
    };
    let _ = fs::remove_file(&tmp);
    if let Ok(true) = created {
        sync_dir(dir);
    }
    created
}

fn prepare_temp(path: &Path) -> Result<(&Path, PathBuf), StateError> {
    let name = path
        .file_name()
        .ok_or_else(|| StateError::new(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir_all(dir).map_err(|e| StateError::io(path, "creating its directory", &e))?;
    let mut suffix = [0u8; 6];
    crate::random::fill(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    Ok((
        dir,
        dir.join(format!(".{name}.tmp-{}-{suffix}", std::process::id())),
    ))
}

fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<(), (&'static str, io::Error)> {
    let mut file = files::create_new_private(tmp).map_err(|e| ("creating a temporary file", e))?;
    file.write_all(bytes).map_err(|e| ("writing", e))?;
    files::restrict_to_owner(&file).map_err(|e| ("making it private to its owner", e))?;
    file.sync_all().map_err(|e| ("flushing to disk", e))
}

/// Creates `dir` and its missing parents owner-only (0700). Existing directories keep theirs.
fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    files::create_private_dir_all(dir)
}

/// Flushes a directory so a rename in it is durable. Failure only costs durability after a
/// crash (the new file is already in place), so it is logged, not returned.
fn sync_dir(dir: &Path) {
    if let Err(err) = files::sync_dir(dir) {
        log::warn!("could not flush directory {} to disk: {err}", dir.display());
    }
}

/// Reads a state file of at most `max` bytes through [`trusted::read_trusted`] (no links, only
/// regular files owned by the node's user or root and not writable by others, in directories
/// likewise); `Ok(None)` when it does not exist.
pub(crate) fn read_state_file(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StateError> {
    trusted::read_trusted(path, max)
}

/// Reads and parses a JSON state file; `Ok(None)` when it does not exist.
fn read_json_file(path: &Path, max: u64) -> Result<Option<Value>, StateError> {
    let Some(bytes) = read_state_file(path, max)? else {
        return Ok(None);
    };
    // serde_json's messages give only line and column, never the text, so no secret leaks.
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        StateError::unusable(
            path,
            format!("not valid JSON ({e}); the file may be truncated or corrupt"),
        )
    })
}

/// Pretty JSON with 2-space indent, as the TS node's `JSON.stringify(value, null, 2)`.
fn to_pretty_json(value: &Value) -> String {
    // Serializing a Value cannot fail: its keys are strings and its numbers are finite.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// node.json
// ---------------------------------------------------------------------------------------------

/// The saved gateway endpoint (`node.json` `gateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayEndpoint {
    /// Host name or IP literal (an IPv6 literal without brackets).
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `wss://` when true; `None` when nothing decided it.
    pub tls: Option<bool>,
    /// The pinned SHA-256 of the gateway's leaf certificate, as the user wrote it.
    pub tls_fingerprint: Option<String>,
    /// The path the gateway is served under, e.g. `/openclaw-gw`.
    pub context_path: Option<String>,
}

/// `node.json`, in the legacy shape of protocol §7.1:
/// `{"version":1,"nodeId","token"?,"displayName"?,"gateway"?:{host,port,tls,tlsFingerprint,contextPath}}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeState {
    /// The client instance id (`client.instanceId`), a UUID v4 made on first start. Empty only
    /// when the file had none; [`apply_run_overrides`] fills it in.
    pub node_id: String,
    pub display_name: Option<String>,
    pub gateway: GatewayEndpoint,
    /// The old per-node pairing `token` (pre-2026.7.2). Unused; kept because the TS node kept it.
    pub legacy_token: Option<String>,
    /// The saved `--commands` allowlist (sorted ids, unknown ones kept as TS keeps them);
    /// `None`: the full surface.
    pub commands: Option<Vec<String>>,
    /// Top-level keys this node does not know, kept verbatim when the file is rewritten.
    pub unknown_keys: Map<String, Value>,
    /// `gateway` keys this node does not know, kept verbatim while the gateway stays the same.
    pub unknown_gateway_keys: Map<String, Value>,
}

const NODE_KEYS: [&str; 6] = [
    "version",
    "nodeId",
    "token",
    "displayName",
    "gateway",
    "commands",
];
const GATEWAY_KEYS: [&str; 5] = ["host", "port", "tls", "tlsFingerprint", "contextPath"];

impl NodeState {
    /// Reads the saved node config (`node.json`, or the SQLite `nodeHost.config` row);
    /// `Ok(None)` when there is none.
    pub fn load(paths: &StatePaths) -> Result<Option<NodeState>, StateError> {
        let backend = Backend::detect(paths);
        let mut state = backend.load_node()?;
        if let (Backend::Sqlite(_), Some(state)) = (&backend, state.as_mut()) {
            // `openclaw doctor --fix` imports `node.json` without the allowlist the JSON
            // backend kept beside it: the restriction survives the move.
            if state.commands.is_none() {
                state.commands = json::load_commands_file(paths)?;
            }
        }
        Ok(state)
    }

    /// Saves the node config to the backend in use (`node.json` is written atomically as
    /// 2-space JSON with no trailing newline, as the TS node wrote it).
    pub fn save(&self, paths: &StatePaths) -> Result<(), StateError> {
        let backend = Backend::detect(paths);
        backend.save_node(self)?;
        if let Backend::Sqlite(_) = backend {
            // The row holds the allowlist now: one truth.
            json::save_commands_file(paths, None)?;
        }
        Ok(())
    }

    /// Parses the document. Known keys must have their types; `null` counts as absent; blank
    /// strings count as absent (the TS node trims them the same way).
    pub fn from_json(doc: &Value) -> Result<NodeState, String> {
        let object = doc.as_object().ok_or("expected a JSON object")?;
        match object.get("version") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => {
                return Err(format!(
                    "unsupported \"version\" {v} (this node reads version 1)"
                ))
            }
        }
        let node_id = optional_string(object, "nodeId", "nodeId")?.unwrap_or_default();
        let legacy_token = match object.get("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) => Some(token.clone()),
            Some(_) => return Err("\"token\" must be a string".to_string()),
        };
        let display_name = optional_string(object, "displayName", "displayName")?;
        let (gateway, unknown_gateway_keys) = match object.get("gateway") {
            None | Some(Value::Null) => (GatewayEndpoint::default(), Map::new()),
            Some(Value::Object(gateway)) => parse_gateway(gateway)?,
            Some(_) => return Err("\"gateway\" must be an object".to_string()),
        };
        let commands = match object.get("commands") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| id.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                    .ok_or("\"commands\" must be an array of command id strings")?,
            ),
            Some(_) => return Err("\"commands\" must be an array of command id strings".into()),
        };
        let unknown_keys = object
            .iter()
            .filter(|(key, _)| !NODE_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(NodeState {
            node_id,
            display_name,
            gateway,
            legacy_token,
            commands,
            unknown_keys,
            unknown_gateway_keys,
        })
    }

    /// The document, keys in the TS node's order, then the unknown ones in their own order.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("version".into(), Value::from(1));
        doc.insert("nodeId".into(), Value::from(self.node_id.as_str()));
        if let Some(token) = &self.legacy_token {
            doc.insert("token".into(), Value::from(token.as_str()));
        }
        if let Some(name) = &self.display_name {
            doc.insert("displayName".into(), Value::from(name.as_str()));
        }
        let g = &self.gateway;
        let mut gateway = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                gateway.insert(key.to_string(), value);
            }
        };
        put("host", g.host.as_deref().map(Value::from));
        put("port", g.port.map(Value::from));
        put("tls", g.tls.map(Value::from));
        put(
            "tlsFingerprint",
            g.tls_fingerprint.as_deref().map(Value::from),
        );
        put("contextPath", g.context_path.as_deref().map(Value::from));
        for (key, value) in &self.unknown_gateway_keys {
            if !GATEWAY_KEYS.contains(&key.as_str()) {
                gateway.insert(key.clone(), value.clone());
            }
        }
        if !gateway.is_empty() {
            doc.insert("gateway".into(), Value::Object(gateway));
        }
        for (key, value) in &self.unknown_keys {
            if !NODE_KEYS.contains(&key.as_str()) {
                doc.insert(key.clone(), value.clone());
            }
        }
        // Last, as TS writes it (after `installedAppsSharing`).
        if let Some(commands) = &self.commands {
            doc.insert("commands".into(), Value::from(commands.clone()));
        }
        Value::Object(doc)
    }
}

/// A string field, trimmed, blank as absent. `label` is how the error names the key.
fn optional_string(
    object: &Map<String, Value>,
    key: &str,
    label: &str,
) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("\"{label}\" must be a string")),
    }
}

fn parse_gateway(
    object: &Map<String, Value>,
) -> Result<(GatewayEndpoint, Map<String, Value>), String> {
    let port = match object.get("port") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    format!("\"gateway.port\" must be a port number 1-65535, not {value}")
                })?,
        ),
    };
    let tls = match object.get("tls") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err("\"gateway.tls\" must be true or false".to_string()),
    };
    let field = |key: &str| optional_string(object, key, &format!("gateway.{key}"));
    let endpoint = GatewayEndpoint {
        host: field("host")?,
        port,
        tls,
        tls_fingerprint: field("tlsFingerprint")?,
        context_path: field("contextPath")?,
    };
    let unknown = object
        .iter()
        .filter(|(key, _)| !GATEWAY_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok((endpoint, unknown))
}

/// The endpoint to connect to, from the `run` flags and the saved endpoint (protocol §1.1; the
/// rules of 2026.9.6's `resolveNodeGatewayOptions`).
///
/// `flags` holds what was given on the command line: `tls` is `Some(true)` for `--tls`,
/// `Some(false)` for `--no-tls`, `None` for neither. The caller must already have rejected
/// `--no-tls` together with `--tls-fingerprint`.
///
/// - host and port: the flag, else the saved value, else 127.0.0.1:18789.
/// - When the host or port differs from the saved one, the saved TLS setting, pin and context
///   path belong to another gateway and are not inherited.
/// - `--no-tls` drops any pin; a pin (given or inherited) turns TLS on.
/// - An empty `--context-path ""` clears the saved path.
///
/// The result always has a host and port. `tls` stays `None` when nothing decided it; the TS
/// node then uses the local config's `gateway.tls.enabled`, else plain `ws://`.
pub fn resolve_endpoint(
    saved: Option<&GatewayEndpoint>,
    flags: &GatewayEndpoint,
) -> GatewayEndpoint {
    let empty = GatewayEndpoint::default();
    let saved = saved.unwrap_or(&empty);
    let non_blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let baseline_host = non_blank(&saved.host).unwrap_or_else(|| DEFAULT_GATEWAY_HOST.to_string());
    let baseline_port = saved.port.unwrap_or(DEFAULT_GATEWAY_PORT);
    let host = non_blank(&flags.host).unwrap_or_else(|| baseline_host.clone());
    let port = flags.port.unwrap_or(baseline_port);
    let retargeted = host != baseline_host || port != baseline_port;

    let tls_fingerprint = if flags.tls == Some(false) {
        None
    } else if flags.tls_fingerprint.is_some() {
        non_blank(&flags.tls_fingerprint)
    } else if retargeted {
        None
    } else {
        non_blank(&saved.tls_fingerprint)
    };
    let tls = match flags.tls {
        Some(tls) => Some(tls),
        None if tls_fingerprint.is_some() => Some(true),
        None if retargeted => None,
        None => saved.tls,
    };
    let context_path = match &flags.context_path {
        Some(_) => non_blank(&flags.context_path),
        None if retargeted => None,
        None => non_blank(&saved.context_path),
    };
    GatewayEndpoint {
        host: Some(host),
        port: Some(port),
        tls,
        tls_fingerprint,
        context_path,
    }
}

/// The state `run` starts with: the saved state with the command line applied (pure; see
/// [`apply_run_overrides`], which also saves it).
///
/// As the 2026.7.x TS node does (`runNodeHost`):
/// - the instance id is `--node-id` (trimmed) when given, else the saved one, else a new UUID v4;
/// - the display name is `--display-name` (trimmed) when given, else the saved one, else
///   `fallback_display_name` (the machine name); the result is saved, so it sticks;
/// - the gateway is `endpoint`, already resolved with [`resolve_endpoint`];
/// - nothing else changes: a legacy `token` and unknown keys are kept. `gateway` keys this node
///   does not know are kept only while the host and port stay the same, as they describe that
///   gateway.
///
/// Changing the instance id clears no token. The TS help text says `--node-id` "clears pairing
/// token", but neither 2026.7.35 nor 2026.9.6 clears anything (2026.9.6 reworded the help to
/// "Override the generated node instance id"): pairing belongs to the device key, which the
/// instance id does not touch.
pub fn merge_run_overrides(
    saved: Option<&NodeState>,
    node_id: Option<&str>,
    display_name: Option<&str>,
    fallback_display_name: &str,
    endpoint: &GatewayEndpoint,
) -> NodeState {
    let mut state = saved.cloned().unwrap_or_default();
    let explicit = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(node_id) = explicit(node_id) {
        state.node_id = node_id;
    } else if state.node_id.trim().is_empty() {
        state.node_id = crate::random::uuid_v4();
    }
    if let Some(name) = explicit(display_name) {
        state.display_name = Some(name);
    } else if state.display_name.is_none() {
        state.display_name = explicit(Some(fallback_display_name));
    }
    let host_port = |g: &GatewayEndpoint| {
        (
            g.host
                .clone()
                .unwrap_or_else(|| DEFAULT_GATEWAY_HOST.to_string()),
            g.port.unwrap_or(DEFAULT_GATEWAY_PORT),
        )
    };
    let same_gateway = host_port(&state.gateway) == host_port(endpoint);
    if !same_gateway {
        state.unknown_gateway_keys.clear();
    }
    state.gateway = endpoint.clone();
    state
}

/// Applies `run`'s flags to the saved state and saves the result when it changed (see
/// [`merge_run_overrides`] for the rules). `state` is what [`NodeState::load`] returned;
/// `endpoint` comes from [`resolve_endpoint`]. The fallback display name is the machine name.
pub fn apply_run_overrides(
    paths: &StatePaths,
    state: Option<NodeState>,
    node_id: Option<&str>,
    display_name: Option<&str>,
    endpoint: &GatewayEndpoint,
) -> Result<NodeState, StateError> {
    let next = merge_run_overrides(
        state.as_ref(),
        node_id,
        display_name,
        &machine_display_name(),
        endpoint,
    );
    match &state {
        None => log::info!("new node instance id {}", next.node_id),
        Some(saved) if !saved.node_id.is_empty() && saved.node_id != next.node_id => log::info!(
            "node instance id changed from {} to {}; the device id and its pairing stay as they are",
            saved.node_id,
            next.node_id
        ),
        Some(_) => {}
    }
    if state.as_ref() != Some(&next) {
        match next.save(paths) {
            // A database this node may only read: run with the merged state, keep the stored one.
            Err(err) if err.read_only => log::warn!("node config not saved: {err}"),
            other => other?,
        }
    }
    Ok(next)
}

/// Saves the `--commands` allowlist this run uses (`None`: the full surface) when it differs
/// from `state`'s, logging as TS does when a saved list is forgotten.
pub fn apply_command_allowlist(
    paths: &StatePaths,
    mut state: NodeState,
    commands: Option<Vec<String>>,
) -> Result<NodeState, StateError> {
    if state.commands == commands {
        return Ok(state);
    }
    if commands.is_none() {
        log::info!("cleared saved command allowlist; advertising the full default command surface");
    }
    state.commands = commands;
    match state.save(paths) {
        Err(err) if err.read_only => log::warn!("node config not saved: {err}"),
        other => other?,
    }
    Ok(state)
}

/// The machine's name as the TS node shows it: the host name without `.local`, else "openclaw".
pub fn machine_display_name() -> String {
    let name = crate::platform::host::host_name();
    let name = name.trim();
    let name = match name.len().checked_sub(".local".len()) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".local") => {
            &name[..cut]
        }
        _ => name,
    };
    if name.is_empty() {
        "openclaw".to_string()
    } else {
        name.to_string()
    }
}

mod approvals_cache;
mod connection;
pub mod coordinator;
pub mod json;
pub mod migrate;
pub mod run_lock;
pub mod schema;
pub mod sqlite;
mod store;
pub mod trusted;

pub use sqlite::SqliteState;
pub use store::{
    load_identity, load_or_create_identity, open_for_run, Backend, DeviceAuthEntry, DeviceAuthStore,
};

/// Scopes as they are stored: trimmed, without blanks, sorted, without duplicates.
pub(crate) fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> = scopes
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod fresh_tests;
// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod sqlite_tests;
// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests;
// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod trusted_tests;
