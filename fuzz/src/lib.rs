//! Helpers shared by the fuzz targets: a private scratch directory per process, and a
//! [`NodeRuntime`] over it for the dispatcher target.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::{CancelToken, InvokeContext, NoEvents};
use openclaw_node::node::NodeRuntime;
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

/// One runtime for the whole fuzzing process: a scratch state directory, an empty config, and a
/// PATH of one scratch directory holding two fake binaries, so `system.which` answers are
/// deterministic and nothing outside the scratch directory is looked at.
pub fn runtime() -> Arc<NodeRuntime> {
    static RUNTIME: OnceLock<Arc<NodeRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let dir = scratch_dir("runtime");
            let bin = dir.join("bin");
            put_file(&bin.join("git"), b"#!/bin/sh\n");
            put_file(&bin.join("node"), b"#!/bin/sh\n");
            let paths = StatePaths::at(dir.join("state"));
            std::fs::create_dir_all(paths.dir()).expect("cannot create the scratch state dir");
            Arc::new(NodeRuntime {
                approvals: ApprovalsStore::new(&paths),
                paths,
                config: Arc::new(NodeConfig::default()),
                path_env: bin.to_string_lossy().into_owned(),
                secret_env_names: vec!["OPENCLAW_GATEWAY_TOKEN".into()],
                secret_values: vec!["fuzz-secret-value".into()],
                browser: None,
            })
        })
        .clone()
}

/// A fresh invocation context on [`runtime`], with events dropped.
pub fn invoke_context() -> InvokeContext {
    InvokeContext {
        invoke_id: "fuzz-invoke".into(),
        node_id: "fuzz-node".into(),
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: runtime(),
    }
}
