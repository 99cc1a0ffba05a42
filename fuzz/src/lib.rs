//! Helpers shared by the fuzz targets: a private scratch directory per process, and
//! [`NodeRuntime`]s over it for the dispatcher and `system.run` targets.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::cancel::CancelToken;
use openclaw_node::commands::{InvokeContext, NodeRuntime};
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::NoEvents;
use openclaw_node::paths::StatePaths;

/// A directory only this fuzzing process uses, created on first use: under
/// `$OPENCLAW_FUZZ_SCRATCH` when set (the smoke script removes it afterwards), else /dev/shm
/// when it exists (targets that go through the file readers write one file per input).
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = if let Some(dir) = std::env::var_os("OPENCLAW_FUZZ_SCRATCH") {
        PathBuf::from(dir)
    } else if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("openclaw-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cannot create the fuzzing scratch directory");
    dir
}

/// Writes `bytes` to `path`, creating its directory. A failure here is the harness's, not the
/// code under test's, so it panics.
pub fn put_file(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("cannot create a scratch directory");
    }
    std::fs::write(path, bytes).expect("cannot write a scratch file");
}

/// A scratch directory of fake executables (`git`, `node`, `python3`, `rg`, `uname`), first on
/// the PATH the targets resolve commands with; `/usr/bin:/bin` follow so shells and `env`
/// resolve to the real (never executed) files.
pub fn fake_bin_dir() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = scratch_dir("bin");
        for name in ["git", "node", "python3", "rg", "uname"] {
            let path = bin.join(name);
            put_file(&path, b"#!/bin/sh\nexit 0\n");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("cannot make a fake binary executable");
        }
        bin
    })
}

/// The PATH of every runtime here: [`fake_bin_dir`], then `/usr/bin:/bin`.
pub fn fuzz_path_env() -> String {
    format!("{}:/usr/bin:/bin", fake_bin_dir().display())
}

/// The runtime called `name`, made on first use with its own state directory, an empty config,
/// and `approvals` (when given) as its exec-approvals document.
pub fn runtime_named(name: &str, approvals: Option<&str>) -> Arc<NodeRuntime> {
    static RUNTIMES: OnceLock<Mutex<HashMap<String, Arc<NodeRuntime>>>> = OnceLock::new();
    let mut runtimes = RUNTIMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    runtimes
        .entry(name.to_string())
        .or_insert_with(|| {
            let paths = StatePaths::at(scratch_dir(&format!("state-{name}")));
            if let Some(doc) = approvals {
                put_file(&paths.exec_approvals_file(), doc.as_bytes());
            }
            Arc::new(NodeRuntime {
                approvals: ApprovalsStore::new(&paths),
                paths,
                config: Arc::new(NodeConfig::default()),
                path_env: fuzz_path_env(),
                secrets: openclaw_node::secrets::Secrets::new(
                    vec!["OPENCLAW_GATEWAY_TOKEN".into()],
                    vec!["fuzz-secret-value".into()],
                ),
                browser: None,
                mcp: None,
            })
        })
        .clone()
}

/// The dispatcher target's runtime (no approvals document at first).
pub fn runtime() -> Arc<NodeRuntime> {
    runtime_named("dispatch", None)
}

/// A fresh invocation context on `node`, with events dropped.
pub fn invoke_context_on(node: Arc<NodeRuntime>) -> InvokeContext {
    InvokeContext {
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node,
        timeout_ms: None,
    }
}

/// A fresh invocation context on [`runtime`].
pub fn invoke_context() -> InvokeContext {
    invoke_context_on(runtime())
}

/// Splits `text` at NUL into words (argv from fuzz input).
pub fn nul_words(text: &str) -> Vec<String> {
    text.split('\0').map(str::to_string).collect()
}
