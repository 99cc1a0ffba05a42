//! The command line's conventions through the real binary: `--version`, `-h`, `--flag=value`,
//! and the default log level of `run` (this crate at info, its dependencies at warn).
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{FakeGateway, GatewayConfig, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

/// The binary with a private HOME and state dir under `dir`.
fn node(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HOME", dir.join("home"))
        .env("OPENCLAW_STATE_DIR", dir.join("state"))
        .env_remove("RUST_LOG")
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .output()
        .expect("run the node binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_release_and_the_commit() {
    let dir = TempDir::new("cli-version");
    for flag in ["--version", "-V"] {
        let out = node(dir.path(), &[flag]);
        assert!(out.status.success(), "{flag}: {out:?}");
        let line = text(&out.stdout);
        let expected = format!("openclaw-node {} (", env!("CARGO_PKG_VERSION"));
        assert!(line.starts_with(&expected), "{flag}: {line}");
        // Built from this checkout: the commit is known.
        assert!(line.contains("commit "), "{flag}: {line}");
    }
}

#[test]
fn short_h_is_help_everywhere() {
    let dir = TempDir::new("cli-help");
    for args in [&["-h"][..], &["run", "-h"], &["approvals", "check", "-h"]] {
        let out = node(dir.path(), args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(
            text(&out.stdout).contains("Usage: openclaw-node"),
            "{args:?}"
        );
    }
}

#[test]
fn equals_form_flags_mean_the_same_as_two_words() {
    let dir = TempDir::new("cli-equals");
    let out = node(
        dir.path(),
        &[
            "approvals",
            "allow",
            "--agent=ci",
            "/usr/bin/echo",
            "--json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = node(dir.path(), &["approvals", "show", "--agent=ci", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let shown: Value = serde_json::from_slice(&out.stdout).expect("show --json is JSON");
    assert!(
        shown.to_string().contains("/usr/bin/echo"),
        "the entry added with --agent=ci is in agent ci's list: {shown}"
    );
    // After `--` nothing is rewritten: the checked argv keeps `--x=y` as one word.
    let out = node(
        dir.path(),
        &[
            "approvals",
            "check",
            "--json",
            "--agent=ci",
            "--",
            "echo",
            "--x=y",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("check --json is JSON");
    assert!(
        report.to_string().contains("--x=y"),
        "the argv after -- is verbatim: {report}"
    );
}

#[test]
fn run_logs_at_info_without_dependency_debug_lines() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("cli-log-level");
    let mut spec = NodeSpawn::new(PathBuf::from(BIN), gw.port(), dir.path());
    spec.rust_log = String::new();
    let mut node = NodeProcess::spawn(&spec);
    assert!(
        gw.wait_for_hello(WAIT).is_some(),
        "no handshake\n{}",
        node.all_output()
    );
    assert!(
        node.wait_for_output("connected to", WAIT),
        "{}",
        node.all_output()
    );
    node.terminate();
    node.wait_exit(WAIT).expect("the node exits on SIGTERM");
    let log = node.stderr();
    assert!(log.contains(" INFO "), "this crate logs at info:\n{log}");
    assert!(
        log.contains("exec policy: security="),
        "the effective exec policy is logged at start:\n{log}"
    );
    assert!(
        !log.contains("DEBUG") && !log.contains("TRACE"),
        "nothing below info by default (tungstenite's `Client handshake done.` was):\n{log}"
    );
}

#[test]
fn a_second_run_on_the_same_state_dir_is_refused() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("cli-run-lock");
    let spec = NodeSpawn::new(PathBuf::from(BIN), gw.port(), dir.path());
    let mut first = NodeProcess::spawn(&spec);
    assert!(gw.wait_for_hello(WAIT).is_some(), "{}", first.all_output());
    let mut second = NodeProcess::spawn(&spec);
    let status = second
        .wait_exit(WAIT)
        .expect("the second run exits instead of connecting");
    assert_eq!(status.code(), Some(1), "{}", second.all_output());
    let expected = format!("already running (pid {})", first.pid());
    assert!(
        second.stderr().contains(&expected),
        "{expected:?} in:\n{}",
        second.stderr()
    );
    assert!(first.is_running(), "the first run is untouched");
    first.terminate();
    first
        .wait_exit(WAIT)
        .expect("the first run stops on SIGTERM");
}
