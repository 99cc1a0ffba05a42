//! `openclaw-node approvals ...` through the binary, over a temporary state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node"))
}

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oc-approvals-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn approvals(state: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("approvals")
        .args(args)
        .env("OPENCLAW_STATE_DIR", state)
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn show_allow_check_remove() {
    let state = state_dir("flow");
    let shown = json(&approvals(&state, &["show", "--json"]));
    assert_eq!(shown["security"], "full");
    assert_eq!(shown["exists"], false);

    let added = json(&approvals(
        &state,
        &["allow", "uname", "--agent", "main", "--json"],
    ));
    assert_eq!(added["added"], true);
    let file = state.join("exec-approvals.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["agents"]["main"]["allowlist"][0]["pattern"], "uname");
    assert!(
        doc["socket"]["token"].is_string(),
        "a written document carries its socket token"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Switch to allowlist mode by hand, as an admin would.
    let mut doc = doc;
    doc["defaults"]["security"] = "allowlist".into();
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let allowed = approvals(
        &state,
        &["check", "--agent", "main", "--json", "--", "uname", "-s"],
    );
    let report = json(&allowed);
    assert_eq!(report["allowed"], true);
    assert_eq!(report["rule"], "allowlist:uname");
    let denied = approvals(
        &state,
        &["check", "--agent", "main", "--json", "--", "ls", "/"],
    );
    assert_eq!(denied.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(report["allowed"], false);
    assert_eq!(report["reason"], "allowlist-miss");
    assert_eq!(report["message"], "SYSTEM_RUN_DENIED: allowlist miss");

    let removed = json(&approvals(
        &state,
        &["remove", "uname", "--agent", "main", "--json"],
    ));
    assert_eq!(removed["removed"], 1);
    let missing = approvals(&state, &["remove", "uname", "--agent", "main"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no entry with pattern"));
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn malformed_document_is_reported_and_left_alone() {
    let state = state_dir("malformed");
    let file = state.join("exec-approvals.json");
    std::fs::write(
        &file,
        "{\"version\": 1, \"defaults\": {\"security\": \"sometimes\"}}",
    )
    .unwrap();
    for args in [
        &["show"][..],
        &["allow", "rg"][..],
        &["check", "--", "true"][..],
    ] {
        let output = approvals(&state, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("defaults.security") || stdout.contains("defaults.security"),
            "{args:?}: {stderr} {stdout}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"version\": 1, \"defaults\": {\"security\": \"sometimes\"}}"
    );
    std::fs::remove_dir_all(&state).unwrap();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_broken_document_is_reported_once_by_check() {
    let state = state_dir("broken-once");
    std::fs::write(state.join("exec-approvals.json"), "{not json").unwrap();
    let output = approvals(&state, &["check", "--", "true"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(
        err.matches("exec-approvals.json").count(),
        1,
        "one message, not a log line and a denial: {err}"
    );
    assert!(err.contains("every system.run is denied"), "{err}");
    assert!(
        !err.contains("security=deny") && output.stdout.is_empty(),
        "no made-up security=deny: {err}"
    );
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn set_switches_the_policy_and_check_follows_it() {
    let state = state_dir("set");
    let set = json(&approvals(
        &state,
        &["set", "--security", "allowlist", "--json"],
    ));
    assert_eq!(set["scope"], "defaults");
    assert_eq!(set["effective"]["security"], "allowlist");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("exec-approvals.json")).unwrap())
            .unwrap();
    assert_eq!(doc["defaults"]["security"], "allowlist");
    // Allowlist mode with an empty allowlist: nothing runs.
    let denied = approvals(&state, &["check", "--json", "--", "uname"]);
    assert_eq!(denied.status.code(), Some(1));
    // One agent may be stricter; values are checked before anything is written.
    let agent = json(&approvals(
        &state,
        &[
            "set",
            "--agent",
            "ci",
            "--security",
            "deny",
            "--ask",
            "always",
            "--json",
        ],
    ));
    assert_eq!(agent["scope"], "agents[\"ci\"]");
    assert_eq!(agent["effective"]["security"], "deny");
    let before = std::fs::read_to_string(state.join("exec-approvals.json")).unwrap();
    for bad in [
        &["set", "--security", "sometimes"][..],
        &["set", "--ask", "maybe"][..],
        &["set"][..],
    ] {
        let output = approvals(&state, bad);
        assert_eq!(output.status.code(), Some(1), "{bad:?}");
        assert!(
            stderr(&output).contains("openclaw-node") || stderr(&output).contains("use "),
            "{bad:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(state.join("exec-approvals.json")).unwrap(),
        before,
        "a refused set writes nothing"
    );
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn relative_patterns_are_refused_and_hints_paste_safely() {
    let state = state_dir("relative");
    for pattern in ["./build.sh", "bin/tool"] {
        let output = approvals(&state, &["allow", pattern]);
        assert_eq!(output.status.code(), Some(1), "{pattern}");
        assert!(
            stderr(&output).contains("relative path"),
            "{pattern}: {}",
            stderr(&output)
        );
    }
    assert!(
        !state.join("exec-approvals.json").exists(),
        "nothing was written for a pattern that can never match"
    );
    // Globs and bare names are fine.
    for pattern in ["rg", "/usr/bin/*", "~/bin/tool", "**/git"] {
        assert!(
            approvals(&state, &["allow", pattern]).status.success(),
            "{pattern}"
        );
    }
    // The hint after a miss names agent `*` quoted, so the shell does not expand it.
    let output = approvals(&state, &["remove", "nope"]);
    assert!(
        stderr(&output).contains("approvals show --agent '*'"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_dir_all(&state).unwrap();
}
