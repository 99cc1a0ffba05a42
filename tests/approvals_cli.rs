//! `openclaw-node approvals ...` through the binary, over a temporary state directory.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

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

/// `openclaw-node approvals ARGS` on the JSON files (these tests read `exec-approvals.json`;
/// a fresh directory would otherwise get the SQLite database).
fn approvals(state: &Path, args: &[&str]) -> Output {
    approvals_with(state, "json", args)
}

fn approvals_with(state: &Path, backend: &str, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("approvals")
        .args(args)
        .env("OPENCLAW_STATE_DIR", state)
        .env("OPENCLAW_NODE_STATE_BACKEND", backend)
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn a_fresh_directory_keeps_its_approvals_in_the_state_database() {
    let state = state_dir("fresh-sqlite");
    let added = json(&approvals_with(
        &state,
        "",
        &["allow", "/usr/bin/uname", "--json"],
    ));
    assert_eq!(added["added"], true);
    assert!(!state.join("exec-approvals.json").exists());
    assert!(state.join("state/openclaw.sqlite").exists());
    let shown = json(&approvals_with(&state, "sqlite", &["show", "--json"]));
    assert!(shown.to_string().contains("/usr/bin/uname"), "{shown}");
    // The override only decides for a fresh directory: the database stays the truth.
    let shown = json(&approvals_with(&state, "json", &["show", "--json"]));
    assert!(shown.to_string().contains("/usr/bin/uname"), "{shown}");
    assert!(!state.join("exec-approvals.json").exists());
    let bad = approvals_with(&state, "yaml", &["show"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("OPENCLAW_NODE_STATE_BACKEND"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
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

/// The words of a line printed for a POSIX shell: plain words and `'...'` quotes (with `'\''`).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Runs an `openclaw-node approvals ...` line as printed by `check`.
fn run_printed(state: &Path, line: &str) -> Output {
    let words = shell_words(line);
    assert_eq!(words[..2], ["openclaw-node", "approvals"], "{line}");
    let args: Vec<&str> = words[2..].iter().map(String::as_str).collect();
    approvals(state, &args)
}

fn allowlist_mode(state: &Path) {
    let set = approvals(state, &["set", "--security", "allowlist", "--ask", "off"]);
    assert!(set.status.success(), "{}", stderr(&set));
}

#[test]
fn check_names_the_missed_executable_and_the_line_that_allows_it() {
    let state = state_dir("suggest");
    allowlist_mode(&state);
    assert!(approvals(&state, &["allow", "uname", "--agent", "main"])
        .status
        .success());
    let denied = approvals(
        &state,
        &["check", "--agent", "main", "--json", "--", "ls", "/"],
    );
    assert_eq!(denied.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(report["reason"], "allowlist-miss");
    let segment = &report["segments"][0];
    assert_eq!(segment["command"], "ls /");
    assert_eq!(segment["argv0"], "ls");
    assert_eq!(segment["matched"], false);
    let path = segment["resolvedPath"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::canonicalize(&path).unwrap().to_str(),
        Some(path.as_str()),
        "the real path"
    );
    assert!(path.ends_with("/ls"), "{path}");
    let line = format!("openclaw-node approvals allow {path} --agent main");
    assert_eq!(report["suggest"], serde_json::json!([line]));

    // The same, for a person.
    let text = approvals(&state, &["check", "--agent", "main", "--", "ls", "/"]);
    let out = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        out.contains(&format!("ls /  (ls -> {path}): MISSED the allowlist")),
        "{out}"
    );
    assert!(out.contains(&format!("to allow it: {line}")), "{out}");

    // Running the printed line lets the check pass, for that agent only.
    let allowed = run_printed(&state, &line);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let report = json(&approvals(
        &state,
        &["check", "--agent", "main", "--json", "--", "ls", "/"],
    ));
    assert_eq!(report["allowed"], true);
    assert_eq!(report["rule"], format!("allowlist:{path}"));
    assert_eq!(report["suggest"], serde_json::json!([]));
    let other = approvals(&state, &["check", "--json", "--", "ls", "/"]);
    assert_eq!(other.status.code(), Some(1), "no agent: the `*` list");
    let report: Value = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(
        report["suggest"],
        serde_json::json!([format!("openclaw-node approvals allow {path}")]),
        "no --agent without an agent"
    );
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn check_names_the_missed_segment_of_a_pipeline() {
    let state = state_dir("pipeline");
    // No safe bins, so `wc -l` needs an entry of its own.
    std::fs::write(
        state.join("openclaw.json"),
        r#"{"tools": {"exec": {"safeBins": []}}}"#,
    )
    .unwrap();
    allowlist_mode(&state);
    let miss = approvals(&state, &["check", "--json", "--", "echo", "hi"]);
    let echo: Value = serde_json::from_slice(&miss.stdout).unwrap();
    let echo_path = echo["segments"][0]["resolvedPath"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(approvals(&state, &["allow", &echo_path]).status.success());

    let argv = ["check", "--json", "--", "sh", "-c", "echo hi | wc -l"];
    let denied = approvals(&state, &argv);
    assert_eq!(denied.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&denied.stdout).unwrap();
    let segments = report["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2, "{report}");
    assert_eq!(segments[0]["command"], "echo hi");
    assert_eq!(segments[0]["matched"], true);
    assert_eq!(segments[0]["rule"], format!("allowlist:{echo_path}"));
    assert_eq!(segments[1]["command"], "wc -l");
    assert_eq!(segments[1]["argv0"], "wc");
    assert_eq!(segments[1]["matched"], false);
    assert!(segments[1].get("rule").is_none());
    let wc = segments[1]["resolvedPath"].as_str().unwrap();
    assert!(wc.ends_with("/wc"), "{wc}");
    let suggest = report["suggest"].as_array().unwrap();
    assert_eq!(suggest.len(), 1, "only the missed segment: {report}");
    assert_eq!(suggest[0], format!("openclaw-node approvals allow {wc}"));
    assert!(run_printed(&state, suggest[0].as_str().unwrap())
        .status
        .success());
    assert_eq!(json(&approvals(&state, &argv))["allowed"], true);
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn check_suggests_nothing_that_would_not_help() {
    let state = state_dir("no-suggest");
    allowlist_mode(&state);
    for argv in [
        &["sh", "-c", "uname $(id)"][..], // cannot be analysed
        &["bash", "-lc", "uname"][..],    // a shell needs an argument-bound entry
        &["xargs", "echo"][..],           // so does xargs
        &["definitely-missing-xyz"][..],  // nothing on disk to allow
        &["sh", "-c", "id"][..],          // fine: the payload's segment is `id`
    ] {
        let mut args = vec!["check", "--json", "--"];
        args.extend_from_slice(argv);
        let report: Value = serde_json::from_slice(&approvals(&state, &args).stdout).unwrap();
        assert_eq!(report["allowed"], false, "{argv:?}");
        let expect_line = argv == ["sh", "-c", "id"];
        assert_eq!(
            !report["suggest"].as_array().unwrap().is_empty(),
            expect_line,
            "{argv:?}: {report}"
        );
    }
    // ask=always: an allowlist entry does not spare the operator.
    assert!(approvals(&state, &["set", "--ask", "always"])
        .status
        .success());
    let report: Value =
        serde_json::from_slice(&approvals(&state, &["check", "--json", "--", "uname"]).stdout)
            .unwrap();
    assert_eq!(report["reason"], "approval-required");
    assert_eq!(report["segments"][0]["matched"], false);
    assert_eq!(report["suggest"], serde_json::json!([]));
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn lock_and_unlock() {
    let state = state_dir("lock");
    let locked = json(&approvals(&state, &["lock", "--json"]));
    assert_eq!(locked["locked"], true);
    assert_eq!(locked["changed"], true);
    assert_eq!(locked["byLockFile"], true);
    assert!(state.join("exec-approvals.remote-readonly").exists());
    let again = json(&approvals(&state, &["lock", "--json"]));
    assert_eq!(again["changed"], false);
    assert_eq!(
        json(&approvals(&state, &["show", "--json"]))["remoteReadonly"],
        true
    );
    let shown = approvals(&state, &["show"]);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("exec approvals are read-only for the gateway"),
        "{text}"
    );
    let unlocked = json(&approvals(&state, &["unlock", "--json"]));
    assert_eq!(unlocked["locked"], false);
    assert_eq!(unlocked["changed"], true);
    assert!(!state.join("exec-approvals.remote-readonly").exists());
    // A lock in openclaw.json is reported, and `unlock` does not lift it.
    std::fs::write(
        state.join("openclaw.json"),
        r#"{nodeHost: {execApprovals: {remote: "readonly"}}}"#,
    )
    .unwrap();
    let config_locked = json(&approvals(&state, &["unlock", "--json"]));
    assert_eq!(config_locked["locked"], true);
    assert_eq!(config_locked["byConfig"], true);
    let _ = std::fs::remove_dir_all(&state);
}
