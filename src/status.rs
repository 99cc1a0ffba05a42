//! The running node's status file (`openclaw-node/status.json`), read by `openclaw-node status`.
//!
//! The session reports each change of its connection state through [`StatusReporter`]; every
//! report rewrites the small JSON file atomically (mode 0600), so `status` works the same for an
//! installed service and for a foreground `run`, without talking to the process. On exit the
//! file is kept and marked `stopped`, so `status` can still say why the node ended.
//!
//! A node killed with SIGKILL (or a crash) cannot mark its file. [`read_status`] therefore
//! checks that the recorded pid is alive, and on Linux that it is still the same process (its
//! start time), before calling the node running.

use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::paths::StatePaths;

/// The status file's format version.
pub const STATUS_VERSION: u32 = 1;

/// Error texts are cut to this many bytes: the file is read often and must stay small.
const MAX_ERROR_LEN: usize = 2000;

/// The connection state a running node reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// The process started and has not tried to connect yet.
    Starting,
    /// A connection attempt is under way (including reconnects after a failure).
    Connecting,
    /// `hello-ok` arrived; the node serves invocations.
    Connected,
    /// The gateway holds a device-pairing request for this node; an operator must approve it.
    PairingPending,
    /// The last connection ended or failed; the node waits before it retries.
    Disconnected,
    /// The process exited.
    Stopped,
}

impl ConnectionState {
    /// The state as written in the file and in `status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Starting => "starting",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::PairingPending => "pairing_pending",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Stopped => "stopped",
        }
    }
}

/// The content of `status.json`. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    /// [`STATUS_VERSION`].
    pub version: u32,
    /// The node's process id.
    pub pid: u32,
    /// Linux: the process start time (`/proc/<pid>/stat` field 22), to tell a reused pid apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start_ticks: Option<u64>,
    /// When the node started.
    pub started_at_ms: u64,
    /// The connection state now.
    pub state: ConnectionState,
    /// When `state` was entered.
    pub since_ms: u64,
    /// The most recent connection error; kept after a later success, with its time.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When `last_error` happened.
    #[serde(default)]
    pub last_error_at_ms: Option<u64>,
    /// The device-pairing request id while pairing is pending (when the gateway sent one).
    #[serde(default)]
    pub pairing_request_id: Option<String>,
    /// The gateway URL the node connects to.
    #[serde(default)]
    pub gateway_url: Option<String>,
    /// The device id (hex SHA-256 of the public key).
    #[serde(default)]
    pub device_id: Option<String>,
    /// The client instance id (`client.instanceId`, the "node id" of `node.json`).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The name the gateway shows for the node.
    #[serde(default)]
    pub display_name: Option<String>,
    /// When the file was last written.
    pub updated_at_ms: u64,
}

/// A status file as read back, with the liveness verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    /// What the file says.
    pub snapshot: StatusSnapshot,
    /// The process that wrote the file is alive and has not marked itself stopped.
    pub running: bool,
    /// The file claims a live state but its process is gone (killed, crashed, or the machine
    /// rebooted): what it says is history.
    pub stale: bool,
}

/// Writes the live connection state for `status` to read. Failures are logged, never fatal.
pub struct StatusReporter {
    path: std::path::PathBuf,
    inner: Mutex<ReporterInner>,
}

struct ReporterInner {
    snapshot: Option<StatusSnapshot>,
    /// A failed write is logged once; a node on a read-only disk should not flood its log.
    warned: bool,
}

impl StatusReporter {
    /// A reporter for the status file under `paths`. Nothing is written until [`Self::started`].
    pub fn new(paths: &StatePaths) -> StatusReporter {
        StatusReporter {
            path: paths.status_file(),
            inner: Mutex::new(ReporterInner {
                snapshot: None,
                warned: false,
            }),
        }
    }

    /// The node started: pid, gateway endpoint, ids. Replaces whatever an earlier run left.
    pub fn started(
        &self,
        gateway_url: &str,
        device_id: &str,
        instance_id: &str,
        display_name: &str,
    ) {
        let now = now_ms();
        let pid = std::process::id();
        let snapshot = StatusSnapshot {
            version: STATUS_VERSION,
            pid,
            pid_start_ticks: process_start_ticks(pid),
            started_at_ms: now,
            state: ConnectionState::Starting,
            since_ms: now,
            last_error: None,
            last_error_at_ms: None,
            pairing_request_id: None,
            gateway_url: non_empty(gateway_url),
            device_id: non_empty(device_id),
            instance_id: non_empty(instance_id),
            display_name: non_empty(display_name),
            updated_at_ms: now,
        };
        let mut inner = self.lock();
        inner.snapshot = Some(snapshot);
        self.flush(&mut inner);
    }

    /// A connection attempt begins.
    pub fn connecting(&self) {
        self.update(|snap, _| snap.state = ConnectionState::Connecting);
    }

    /// `hello-ok` arrived.
    pub fn connected(&self) {
        self.update(|snap, _| {
            snap.state = ConnectionState::Connected;
            snap.pairing_request_id = None;
        });
    }

    /// Device pairing is pending on the gateway.
    pub fn pairing_pending(&self, request_id: Option<&str>) {
        self.update(|snap, _| {
            snap.state = ConnectionState::PairingPending;
            // A retry without a request id does not forget the one the operator needs.
            if let Some(id) = request_id.and_then(non_empty) {
                snap.pairing_request_id = Some(id);
            }
        });
    }

    /// The connection ended or failed; `error` says why.
    pub fn disconnected(&self, error: &str) {
        self.update(|snap, now| {
            snap.state = ConnectionState::Disconnected;
            snap.last_error = Some(truncate(error.trim(), MAX_ERROR_LEN));
            snap.last_error_at_ms = Some(now);
        });
    }

    /// The node is exiting.
    pub fn stopped(&self) {
        self.update(|snap, _| snap.state = ConnectionState::Stopped);
    }

    /// The current snapshot.
    #[cfg(test)]
    pub fn snapshot(&self) -> Option<StatusSnapshot> {
        self.lock().snapshot.clone()
    }

    fn update(&self, change: impl FnOnce(&mut StatusSnapshot, u64)) {
        let mut inner = self.lock();
        let now = now_ms();
        let Some(snap) = inner.snapshot.as_mut() else {
            return;
        };
        let before = snap.state;
        change(snap, now);
        if snap.state != before {
            snap.since_ms = now;
        }
        snap.updated_at_ms = now;
        self.flush(&mut inner);
    }

    /// Writes the snapshot while the lock is held, so two threads' reports reach the disk in the
    /// order they were made.
    fn flush(&self, inner: &mut ReporterInner) {
        let Some(snap) = inner.snapshot.as_ref() else {
            return;
        };
        let result = serde_json::to_vec_pretty(snap)
            .map_err(|err| err.to_string())
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                crate::state::write_atomic(&self.path, &bytes).map_err(|err| err.to_string())
            });
        match result {
            Ok(()) => inner.warned = false,
            Err(err) if !inner.warned => {
                inner.warned = true;
                log::warn!(
                    "cannot write the status file: {err}; `openclaw-node status` will not show \
                     the live connection state"
                );
            }
            Err(_) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReporterInner> {
        // A panic elsewhere while the lock was held leaves a consistent snapshot (every change is
        // a plain field assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads the status file. `Ok(None)` when no node has written one yet. A file that cannot be
/// parsed is an error naming the file (a `run` rewrites it at start).
pub fn read_status(paths: &StatePaths) -> Result<Option<LiveStatus>, String> {
    read_status_file(&paths.status_file())
}

/// [`read_status`] for an explicit path.
pub fn read_status_file(path: &Path) -> Result<Option<LiveStatus>, String> {
    // The same reader as every state file: no links, regular files only, not writable by
    // others, at most 64 KiB.
    let bytes = match crate::state::read_state_file(path, crate::state::STATUS_MAX_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let snapshot: StatusSnapshot = serde_json::from_slice(&bytes).map_err(|err| {
        format!(
            "{}: not a status file ({err}); it is rewritten when the node next starts",
            path.display()
        )
    })?;
    let claims_running = snapshot.state != ConnectionState::Stopped;
    let alive = claims_running && process_alive(snapshot.pid, snapshot.pid_start_ticks);
    Ok(Some(LiveStatus {
        running: alive,
        stale: claims_running && !alive,
        snapshot,
    }))
}

/// Whether `pid` is a live process, and (when `start_ticks` is known and `/proc` is readable)
/// the same process that wrote the file rather than a later one given the same pid.
pub fn process_alive(pid: u32, start_ticks: Option<u64>) -> bool {
    if !crate::platform::host::pid_alive(pid) {
        return false;
    }
    match (start_ticks, process_start_ticks(pid)) {
        (Some(recorded), Some(current)) => recorded == current,
        _ => true,
    }
}

/// Linux: the start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22).
/// `None` elsewhere or when `/proc` is not mounted.
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (the command name) is in parentheses and may contain spaces or ')'; the fields
    // after the last ')' start at field 3.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(22 - 3)?.parse().ok()
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn temp_paths(name: &str) -> StatePaths {
        let dir = std::env::temp_dir().join(format!("ocn-status-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        StatePaths::at(dir)
    }

    #[test]
    fn reports_follow_the_session() {
        let paths = temp_paths("follow");
        let reporter = StatusReporter::new(&paths);
        // Before `started` nothing is written.
        reporter.connecting();
        assert_eq!(read_status(&paths).unwrap(), None);

        reporter.started("ws://gw:18789", "dev123", "inst-1", "node-a");
        let live = read_status(&paths).unwrap().unwrap();
        assert!(live.running);
        assert!(!live.stale);
        assert_eq!(live.snapshot.state, ConnectionState::Starting);
        assert_eq!(live.snapshot.pid, std::process::id());
        assert_eq!(live.snapshot.gateway_url.as_deref(), Some("ws://gw:18789"));
        assert_eq!(live.snapshot.device_id.as_deref(), Some("dev123"));
        assert_eq!(live.snapshot.instance_id.as_deref(), Some("inst-1"));
        assert_eq!(live.snapshot.display_name.as_deref(), Some("node-a"));

        reporter.connecting();
        reporter.pairing_pending(Some("req-9"));
        let snap = read_status(&paths).unwrap().unwrap().snapshot;
        assert_eq!(snap.state, ConnectionState::PairingPending);
        assert_eq!(snap.pairing_request_id.as_deref(), Some("req-9"));
        // A retry that reports no id keeps the one the operator needs.
        reporter.pairing_pending(None);
        assert_eq!(
            reporter.snapshot().unwrap().pairing_request_id.as_deref(),
            Some("req-9")
        );

        reporter.connected();
        let snap = read_status(&paths).unwrap().unwrap().snapshot;
        assert_eq!(snap.state, ConnectionState::Connected);
        assert_eq!(snap.pairing_request_id, None);
        assert_eq!(snap.last_error, None);

        reporter.disconnected("connection refused (os error 111)");
        reporter.connecting();
        let snap = read_status(&paths).unwrap().unwrap().snapshot;
        assert_eq!(snap.state, ConnectionState::Connecting);
        assert_eq!(
            snap.last_error.as_deref(),
            Some("connection refused (os error 111)")
        );
        assert!(snap.last_error_at_ms.is_some());

        reporter.stopped();
        let live = read_status(&paths).unwrap().unwrap();
        assert_eq!(live.snapshot.state, ConnectionState::Stopped);
        assert!(!live.running);
        assert!(!live.stale);
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(paths.status_file())
                    .unwrap()
                    .permissions()
            ) & 0o777,
            0o600
        );
        std::fs::remove_dir_all(paths.dir()).unwrap();
    }

    #[test]
    fn a_dead_pid_is_not_running() {
        let paths = temp_paths("dead");
        // A child that has exited and been reaped: its pid is (for now) free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let snap = StatusSnapshot {
            version: 1,
            pid,
            pid_start_ticks: None,
            started_at_ms: 1,
            state: ConnectionState::Connected,
            since_ms: 1,
            last_error: None,
            last_error_at_ms: None,
            pairing_request_id: None,
            gateway_url: None,
            device_id: None,
            instance_id: None,
            display_name: None,
            updated_at_ms: 1,
        };
        let bytes = serde_json::to_vec(&snap).unwrap();
        crate::state::write_atomic(&paths.status_file(), &bytes).unwrap();
        let live = read_status(&paths).unwrap().unwrap();
        assert!(!live.running);
        assert!(live.stale);
        std::fs::remove_dir_all(paths.dir()).unwrap();
    }

    #[test]
    fn a_reused_pid_is_not_the_node() {
        let me = std::process::id();
        let ticks = process_start_ticks(me);
        assert!(process_alive(me, ticks));
        if let Some(ticks) = ticks {
            assert!(!process_alive(me, Some(ticks + 1)));
        }
    }

    #[test]
    fn a_garbled_file_is_an_error_naming_it() {
        let paths = temp_paths("garbled");
        crate::state::write_atomic(&paths.status_file(), b"{nope").unwrap();
        let err = read_status(&paths).unwrap_err();
        assert!(err.contains("status.json"), "{err}");
        std::fs::remove_dir_all(paths.dir()).unwrap();
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let text = "é".repeat(MAX_ERROR_LEN);
        let cut = truncate(&text, MAX_ERROR_LEN);
        assert!(cut.len() <= MAX_ERROR_LEN + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
