//! Where the node keeps its state: `$OPENCLAW_STATE_DIR`, else `<home>/.openclaw` (on Windows
//! normally `%USERPROFILE%\.openclaw`).
//!
//! Every file name the node reads or writes is spelled here once, so a reader can see the whole
//! on-disk footprint in one place.

use std::path::{Path, PathBuf};

/// The state directory and the files inside it.
#[derive(Debug, Clone)]
pub struct StatePaths {
    dir: PathBuf,
    new_state: NewStateBackend,
}

/// The environment variable that chooses the backend of a fresh state directory.
pub const STATE_BACKEND_ENV: &str = "OPENCLAW_NODE_STATE_BACKEND";

/// Where a state directory that holds neither JSON state files nor a state database keeps its
/// state once the node writes it (`crate::state::Backend::detect`). Existing state always
/// decides for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewStateBackend {
    /// `state/openclaw.sqlite` with the 2026.9.6 schema, what a 2026.9 TS node host creates.
    #[default]
    Sqlite,
    /// The JSON files a 2026.7-era TS CLI reads (`OPENCLAW_NODE_STATE_BACKEND=json`).
    Json,
}

impl NewStateBackend {
    /// Parses the value of [`STATE_BACKEND_ENV`]: `sqlite` or `json`; empty means the default.
    pub fn parse(value: &str) -> Result<NewStateBackend, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "sqlite" => Ok(NewStateBackend::Sqlite),
            "json" => Ok(NewStateBackend::Json),
            other => Err(format!(
                "{STATE_BACKEND_ENV}={other:?} is not a backend: use \"sqlite\" (the default, \
                 openclaw 2026.9's state database) or \"json\" (the JSON files an openclaw \
                 2026.7-era CLI reads)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NewStateBackend::Sqlite => "sqlite",
            NewStateBackend::Json => "json",
        }
    }
}

/// The user's home as the TS host finds it (`resolveRawOsHomeDir`): `OPENCLAW_HOME`, else `HOME`,
/// else `USERPROFILE` (Windows), the first that is set and non-empty. HOME wins over
/// USERPROFILE on Windows too, as in TS (an MSYS or Cygwin shell sets it).
pub fn home_dir() -> Option<PathBuf> {
    ["OPENCLAW_HOME", "HOME", "USERPROFILE"]
        .iter()
        .find_map(|name| std::env::var_os(name).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
}

impl StatePaths {
    /// Resolves the state directory from the environment: `OPENCLAW_STATE_DIR` when set and
    /// non-empty, else `<home>/.openclaw` with the home of [`home_dir`].
    /// [`STATE_BACKEND_ENV`] chooses the backend of a fresh directory.
    pub fn from_env() -> Result<StatePaths, String> {
        let new_state = match std::env::var(STATE_BACKEND_ENV) {
            Ok(value) => NewStateBackend::parse(&value)?,
            Err(std::env::VarError::NotPresent) => NewStateBackend::default(),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!("{STATE_BACKEND_ENV} is not valid text"))
            }
        };
        if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR").filter(|v| !v.is_empty()) {
            return Ok(StatePaths::at(PathBuf::from(dir)).with_new_state(new_state));
        }
        match home_dir() {
            Some(home) => Ok(StatePaths::at(home.join(".openclaw")).with_new_state(new_state)),
            None => Err(
                "neither OPENCLAW_STATE_DIR nor HOME (on Windows USERPROFILE) is set; set one of \
                 them to choose where the node keeps its identity and state"
                    .to_string(),
            ),
        }
    }

    /// Uses `dir` as the state directory (tests and `--state-dir`-like callers).
    /// A fresh directory gets the default backend (SQLite).
    pub fn at(dir: impl Into<PathBuf>) -> StatePaths {
        StatePaths {
            dir: dir.into(),
            new_state: NewStateBackend::default(),
        }
    }

    /// The same directory, with `new_state` as the backend it gets if it is fresh.
    pub fn with_new_state(mut self, new_state: NewStateBackend) -> StatePaths {
        self.new_state = new_state;
        self
    }

    /// The backend this directory gets if it holds no state yet.
    pub fn new_state(&self) -> NewStateBackend {
        self.new_state
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `openclaw.json` (JSON5): gateway auth fallbacks, `nodeHost.*`, `browser.*`, `tools.exec.*`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("openclaw.json")
    }
    /// `node.json`: instance id, display name, gateway endpoint (legacy 2026.7.x shape).
    pub fn node_file(&self) -> PathBuf {
        self.dir.join("node.json")
    }
    pub fn identity_dir(&self) -> PathBuf {
        self.dir.join("identity")
    }
    /// `identity/device.json`: the Ed25519 key pair, PEM, in the TS node host's legacy format.
    pub fn device_identity_file(&self) -> PathBuf {
        self.identity_dir().join("device.json")
    }
    /// `identity/device-auth.json`: device tokens issued by `hello-ok`, keyed by role.
    pub fn device_auth_file(&self) -> PathBuf {
        self.identity_dir().join("device-auth.json")
    }
    /// `exec-approvals.json`: the local exec approvals document.
    pub fn exec_approvals_file(&self) -> PathBuf {
        self.dir.join("exec-approvals.json")
    }
    /// `exec-approvals.sock`: the socket path recorded in the approvals document (unused on Linux).
    pub fn exec_approvals_socket(&self) -> PathBuf {
        self.dir.join("exec-approvals.sock")
    }
    /// `state/openclaw.sqlite`: the shared state database of openclaw 2026.9 and later. When it
    /// exists, the node keeps its state there and the JSON files above are retired.
    pub fn state_db_file(&self) -> PathBuf {
        self.dir.join("state").join("openclaw.sqlite")
    }
    /// Directory for files only this implementation writes (status, audit log, browser profile).
    pub fn node_dir(&self) -> PathBuf {
        self.dir.join("openclaw-node")
    }
    /// `openclaw-node/status.json`: the running node's live connection state, read by `status`.
    /// Held by a running `run` (see `state::run_lock`).
    pub fn run_lock_file(&self) -> PathBuf {
        self.node_dir().join("run.lock")
    }

    pub fn status_file(&self) -> PathBuf {
        self.node_dir().join("status.json")
    }
    /// `openclaw-node/exec-approvals.seen`: where an approvals document with a policy was last
    /// seen; its loss then denies every run instead of falling back to the built-in defaults.
    pub fn approvals_marker_file(&self) -> PathBuf {
        self.node_dir().join("exec-approvals.seen")
    }
    /// `openclaw-node/commands.json`: the saved `--commands` allowlist on the JSON backend.
    /// Not in `node.json`: `openclaw doctor --fix` refuses to import a `node.json` with keys the
    /// TS node never wrote (state-sqlite.md §6.4), and the SQLite row keeps it itself.
    pub fn commands_file(&self) -> PathBuf {
        self.node_dir().join("commands.json")
    }
    /// `openclaw-node/migrated/`: retired JSON files, moved here once imported into SQLite.
    pub fn migrated_dir(&self) -> PathBuf {
        self.node_dir().join("migrated")
    }
    /// `openclaw-node/audit.jsonl`: one line per exec decision, rotated by size.
    pub fn audit_log(&self) -> PathBuf {
        self.node_dir().join("audit.jsonl")
    }
    /// `openclaw-node/browser/`: the profile directory of the browser the node starts.
    pub fn browser_dir(&self) -> PathBuf {
        self.node_dir().join("browser")
    }
    /// `openclaw-node/service.env`: gateway credentials for the installed service, mode 0600.
    pub fn service_env_file(&self) -> PathBuf {
        self.node_dir().join("service.env")
    }
}
