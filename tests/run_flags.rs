//! `run` refuses the connection flags `install` refuses, before anything is saved: one resolver
//! serves both (src/endpoint.rs).
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocn-run-flags-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch dir");
    dir
}

#[test]
fn run_refuses_port_zero_and_contradicting_tls_flags_and_saves_nothing() {
    for (name, args, says) in [
        (
            "port0",
            &["run", "--port", "0"][..],
            "--port must be between 1 and 65535",
        ),
        (
            "tls",
            &["run", "--tls", "--no-tls"][..],
            "--tls and --no-tls contradict each other; pass one",
        ),
    ] {
        let dir = scratch(name);
        let out = Command::new(BIN)
            .args(args)
            .env("HOME", dir.join("home"))
            .env("OPENCLAW_STATE_DIR", dir.join("state"))
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .output()
            .expect("run the node binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !dir.join("state").join("node.json").exists(),
            "{args:?} saved node.json"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
