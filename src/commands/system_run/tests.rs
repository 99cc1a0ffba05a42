//! Handler-level tests: a [`NodeRuntime`] over a temp state dir and a recording event sink.
//! Tests named `runs_*` start real processes through the runner.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;
use crate::cancel::CancelToken;
use crate::invoke::EventSink;

pub(crate) mod support {
    use super::*;
    use crate::approvals::ApprovalsStore;
    use crate::commands::NodeRuntime;
    use crate::config::NodeConfig;
    use crate::paths::StatePaths;

    /// Records every `node.event` in order.
    #[derive(Default)]
    pub struct Recorder {
        pub events: Mutex<Vec<(String, String)>>,
    }

    impl EventSink for Recorder {
        fn node_event(&self, event: &str, payload_json: String) {
            self.events
                .lock()
                .unwrap()
                .push((event.to_string(), payload_json));
        }
    }

    impl Recorder {
        pub fn take(&self) -> Vec<(String, Value)> {
            self.events
                .lock()
                .unwrap()
                .drain(..)
                .map(|(e, p)| (e, serde_json::from_str(&p).unwrap()))
                .collect()
        }
    }

    /// A context over a fresh state dir under the system temp dir, with `config` as openclaw.json.
    pub fn context(name: &str, config: Value) -> (InvokeContext, Arc<Recorder>, PathBuf) {
        context_with_secrets(name, config, vec![], vec![])
    }

    pub fn context_with_secrets(
        name: &str,
        config: Value,
        secret_env_names: Vec<String>,
        secret_values: Vec<String>,
    ) -> (InvokeContext, Arc<Recorder>, PathBuf) {
        let dir = std::env::temp_dir().join(format!("oc-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // These tests read and write exec-approvals.json: the JSON backend.
        let paths = StatePaths::at(&dir).with_new_state(crate::paths::NewStateBackend::Json);
        let node = NodeRuntime {
            approvals: ApprovalsStore::new(&paths),
            paths,
            config: Arc::new(NodeConfig::from_value(config)),
            path_env: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            secrets: crate::secrets::Secrets::new(secret_env_names, secret_values),
            browser: None,
        };
        let events = Arc::new(Recorder::default());
        let ctx = InvokeContext {
            cancel: CancelToken::new(),
            events: events.clone(),
            node: Arc::new(node),
        };
        (ctx, events, dir)
    }

    /// Writes an approvals document directly.
    pub fn write_approvals(dir: &std::path::Path, doc: Value) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("exec-approvals.json"),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
    }

    pub fn real(name: &str) -> String {
        let ctx = crate::approvals::resolve::ResolveContext::new(
            Some("/"),
            "/usr/local/bin:/usr/bin:/bin",
        );
        crate::approvals::resolve::resolve_executable(name, &ctx)
            .resolved_real_path
            .expect("binary needed by the test")
    }
}

use support::*;

fn run(ctx: &InvokeContext, params: Value) -> InvokeResult {
    handle_run(ctx, Some(&params.to_string()))
}

fn prepare(ctx: &InvokeContext, params: Value) -> Value {
    serde_json::from_str(&handle_prepare(ctx, Some(&params.to_string())).unwrap()).unwrap()
}

fn tmp() -> String {
    std::fs::canonicalize("/tmp")
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn parse_errors_answer_invalid_request_without_events() {
    let (ctx, events, _dir) = context("parse", json!({}));
    let cases: Vec<(Option<&str>, &str)> = vec![
        (None, "Error: INVALID_REQUEST: paramsJSON required"),
        (Some("{nope"), "Error: INVALID_REQUEST: paramsJSON malformed JSON"),
        (Some("{\"command\":\"echo hi\"}"), "command required"),
        (Some("{\"command\":[]}"), "command required"),
        (Some("1"), "command required"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"rawCommand\":\"echo ho\"}"), "INVALID_REQUEST: rawCommand does not match command"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"approved\":true}"), "explicit approval requires matching systemRunPlan"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"approvalSource\":\"x\"}"), "approvalSource invalid"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"approvalSource\":\"ask-fallback\",\"approved\":false}"), "approvalSource cannot be combined with explicit approval"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"approvalSource\":\"ask-fallback\"}"), "approvalSource requires matching systemRunPlan"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"systemRunPlan\":{\"argv\":[]}}"), "systemRunPlan invalid"),
        (Some("{\"command\":[\"echo\",\"hi\"],\"systemRunPlan\":null}"), "systemRunPlan invalid"),
        (
            Some("{\"command\":[\"echo\",\"hi\"],\"approved\":true,\"systemRunPlan\":{\"argv\":[\"echo\",\"hi\"],\"commandText\":\"echo hi\"}}"),
            "delayed approval requires a prepared policy snapshot",
        ),
        (
            Some("{\"command\":[\"env\"],\"env\":{\"LD_PRELOAD\":\"/x.so\",\"PATH\":\"/evil\",\"HOME\":\"/h\",\"bad key\":\"1\"}}"),
            "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: HOME, LD_PRELOAD, PATH; invalid non-portable override keys: bad key)",
        ),
        (
            Some("{\"command\":[\"env\",\"LD_PRELOAD=/x\",\"id\"]}"),
            "SYSTEM_RUN_DENIED: command env assignment rejected (blocked env assignment keys: LD_PRELOAD)",
        ),
    ];
    for (params, message) in cases {
        let err = handle_run(&ctx, params).unwrap_err();
        assert_eq!(err.code, "INVALID_REQUEST", "{params:?}");
        assert_eq!(err.message, message, "{params:?}");
    }
    let err = handle_run(&ctx, Some("null")).unwrap_err();
    assert_eq!(err.code, "INVALID_REQUEST");
    let err = run(
        &ctx,
        json!({"command": ["ls"], "cwd": "node://abc/skills/x"}),
    )
    .unwrap_err();
    assert_eq!(err.code, "INVALID_REQUEST");
    assert!(err.message.contains("node skill cwd"));
    assert!(
        events.take().is_empty(),
        "validation failures send no event"
    );
}

#[test]
fn security_deny_sends_exec_denied_first() {
    let (ctx, events, dir) = context("deny", json!({}));
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "deny", "ask": "off", "askFallback": "deny"}}),
    );
    let err = run(&ctx, json!({"command": ["echo", "hi"], "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-deny"})).unwrap_err();
    assert_eq!(err.code, "SYSTEM_RUN_DENIED");
    assert_eq!(err.message, "SYSTEM_RUN_DISABLED: security=deny");
    let recorded = events.events.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "exec.denied");
    assert_eq!(
        recorded[0].1,
        "{\"sessionKey\":\"agent:main:main\",\"runId\":\"r-deny\",\"host\":\"node\",\"command\":\"echo hi\",\"reason\":\"security=deny\",\"suppressNotifyOnExit\":false}"
    );
    let audit = std::fs::read_to_string(ctx.node.paths.audit_log()).unwrap();
    let line: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["decision"], "denied");
    assert_eq!(line["reason"], "security=deny");
    assert_eq!(line["runId"], "r-deny");
    assert_eq!(line["argv"], json!(["echo", "hi"]));
}

#[test]
fn config_floor_denies_even_with_a_full_document() {
    let (ctx, events, dir) = context(
        "config-floor",
        json!({"tools": {"exec": {"security": "deny"}}}),
    );
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "full"}}),
    );
    let err = run(&ctx, json!({"command": ["echo", "hi"]})).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DISABLED: security=deny");
    let recorded = events.take();
    assert_eq!(recorded[0].1["sessionKey"], "node");
    assert_eq!(
        recorded[0].1["runId"].as_str().unwrap().len(),
        36,
        "a random UUID run id"
    );
}

#[test]
fn allowlist_miss_and_approval_required() {
    let (ctx, events, dir) = context("miss", json!({}));
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "off"},
        "agents": {"main": {"allowlist": [{"pattern": "uname"}]}}}),
    );
    let err = run(&ctx, json!({"command": ["ls", "/"], "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-al2"})).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: allowlist miss");
    assert_eq!(events.take()[0].1["reason"], "allowlist-miss");
    // A shell payload with a substitution is never analysable: a miss even with uname allowed.
    let err = run(
        &ctx,
        json!({"command": ["sh", "-c", "uname $(id)"], "agentId": "main"}),
    )
    .unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: allowlist miss");
    events.take();

    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"}}),
    );
    let err = run(&ctx, json!({"command": ["/bin/sh", "-lc", "echo via-shell"], "rawCommand": "echo via-shell", "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-shell"})).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: approval required");
    let recorded = events.take();
    assert_eq!(recorded[0].1["command"], "/bin/sh -lc \"echo via-shell\"");
    assert_eq!(recorded[0].1["reason"], "approval-required");
    // ask=always needs approval even in full mode.
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "full", "ask": "always"}}),
    );
    let err = run(&ctx, json!({"command": ["echo", "x"]})).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: approval required");
}

#[test]
fn malformed_approvals_fail_closed_naming_the_file() {
    let (ctx, events, dir) = context("malformed", json!({}));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("exec-approvals.json"), "{ broken").unwrap();
    let err = run(&ctx, json!({"command": ["echo", "hi"]})).unwrap_err();
    assert_eq!(err.code, "SYSTEM_RUN_DENIED");
    assert!(
        err.message
            .starts_with("SYSTEM_RUN_DISABLED: security=deny: exec approvals file "),
        "{}",
        err.message
    );
    assert!(err.message.contains("exec-approvals.json"));
    assert!(err.message.contains("invalid JSON"));
    assert_eq!(events.take()[0].1["reason"], "security=deny");
    let (ctx, _events, _dir) = context("bad-config", json!({"tools": {"exec": {"mode": "yolo"}}}));
    let err = run(&ctx, json!({"command": ["echo", "hi"]})).unwrap_err();
    assert!(err.message.contains("tools.exec.mode"), "{}", err.message);
}

#[test]
fn untrusted_approvals_files_deny_every_run() {
    // A FIFO (would hang a plain read) and a link to a permissive policy: both refused, denied.
    let (ctx, events, dir) = context("fifo-approvals", json!({}));
    std::fs::create_dir_all(&dir).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("exec-approvals.json"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let err = run(&ctx, json!({"command": ["echo", "hi"]})).unwrap_err();
    assert_eq!(err.code, "SYSTEM_RUN_DENIED");
    assert!(err.message.contains("exec-approvals.json"), "{}", err.message);
    assert!(
        err.message.contains("not a regular file (a FIFO)"),
        "{}",
        err.message
    );
    assert_eq!(events.take()[0].1["reason"], "security=deny");

    let (ctx, _events, dir) = context("linked-approvals", json!({}));
    std::fs::create_dir_all(&dir).unwrap();
    let permissive = dir.join("permissive.json");
    std::fs::write(
        &permissive,
        json!({"version": 1, "defaults": {"security": "full", "ask": "off"}, "agents": {}})
            .to_string(),
    )
    .unwrap();
    std::os::unix::fs::symlink(&permissive, dir.join("exec-approvals.json")).unwrap();
    let err = run(&ctx, json!({"command": ["echo", "hi"]})).unwrap_err();
    assert_eq!(err.code, "SYSTEM_RUN_DENIED");
    assert!(err.message.contains("symbolic link"), "{}", err.message);
}

#[test]
fn stale_policy_snapshot_is_refused() {
    let (ctx, events, dir) = context("stale", json!({}));
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss"}}),
    );
    let prepared = prepare(
        &ctx,
        json!({"command": ["uname", "-s"], "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "rawCommand": "uname -s"}),
    );
    let plan = prepared["plan"].clone();
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "always"}}),
    );
    let err = run(&ctx, json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan, "cwd": "/tmp",
        "agentId": "main", "sessionKey": "agent:main:main", "runId": "r1", "approved": true, "approvalDecision": "allow-once"})).unwrap_err();
    assert_eq!(
        err.message,
        "SYSTEM_RUN_DENIED: exec approval policy changed; request approval again"
    );
    assert_eq!(events.take()[0].1["reason"], "approval-required");
}

#[test]
fn prepare_shapes() {
    let (ctx, _events, dir) = context("prepare", json!({}));
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"}}),
    );
    let uname = real("uname");
    let prepared = prepare(
        &ctx,
        json!({"command": ["uname", "-s"], "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "rawCommand": "uname -s"}),
    );
    let keys: Vec<&String> = prepared.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["plan", "execPolicy", "allowAlwaysCoverage"]);
    assert_eq!(prepared["plan"]["argv"], json!([uname, "-s"]));
    assert_eq!(prepared["plan"]["cwd"], tmp());
    assert_eq!(prepared["plan"]["commandText"], format!("{uname} -s"));
    assert_eq!(prepared["plan"]["commandPreview"], Value::Null);
    assert_eq!(prepared["plan"]["agentId"], "main");
    assert_eq!(
        prepared["plan"]["policySnapshot"],
        json!({"security": "allowlist", "ask": "on-miss", "askFallback": "deny", "autoAllowSkills": false, "allowlistRules": []})
    );
    assert_eq!(
        prepared["execPolicy"],
        json!({"security": "allowlist", "ask": "on-miss"})
    );
    if tmp() == "/tmp" {
        assert_eq!(
            prepared["allowAlwaysCoverage"],
            json!({"complete": true, "patterns": [{"pattern": uname, "argPattern": "sha256:cwd-argv:v1:f51b9bb536bd638ffab79981a615f5cc5d1a8ffe6f7f1e54dc8b3af6070c419e"}]})
        );
    }
    let err = handle_prepare(&ctx, Some(&json!({"command": ["sh", "-c", "echo hi && uname"], "rawCommand": "echo hi && uname", "agentId": "main", "security": "full", "ask": "off"}).to_string())).unwrap_err();
    assert_eq!(err.code, "INVALID_REQUEST");
    assert!(err.message.starts_with("SYSTEM_RUN_DENIED: approval cannot safely bind this interpreter/runtime command\nNo approval request was created"));
    let err = handle_prepare(
        &ctx,
        Some(&json!({"command": ["echo", "hi"], "env": {"PATH": "/x"}}).to_string()),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: PATH)"
    );
    let err = handle_prepare(
        &ctx,
        Some(&json!({"command": ["ls"], "cwd": "node://n/skills/x"}).to_string()),
    )
    .unwrap_err();
    assert!(err
        .message
        .starts_with("Error: INVALID_REQUEST: node skill cwd"));

    // Full/off on both sides: no binding, argv kept, cwd realpath'ed, no coverage.
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "full", "ask": "off", "askFallback": "full"}}),
    );
    let full = prepare(
        &ctx,
        json!({"command": ["sh", "-c", "echo hi && uname"], "rawCommand": "echo hi && uname", "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "security": "full", "ask": "off"}),
    );
    assert_eq!(
        full["plan"]["argv"],
        json!(["sh", "-c", "echo hi && uname"])
    );
    assert_eq!(full["plan"]["commandPreview"], "echo hi && uname");
    assert!(full["plan"].get("mutableFileOperand").is_none());
    assert_eq!(
        full["allowAlwaysCoverage"],
        json!({"complete": false, "patterns": []})
    );
    assert_eq!(
        full["execPolicy"],
        json!({"security": "full", "ask": "off"})
    );
}

#[test]
fn event_output_rule() {
    let result = |stdout: &str, stderr: &str, error: Option<&str>| RunResult {
        exit_code: Some(0),
        timed_out: false,
        success: true,
        stdout: stdout.into(),
        stderr: stderr.into(),
        error: error.map(Into::into),
    };
    assert_eq!(
        event_output(&result("hello\n", "err\n", None)),
        "hello\n\nerr"
    );
    assert_eq!(event_output(&result("", "", Some("boom"))), "boom");
    assert_eq!(
        event_output(&result("  \n", "", None)),
        "  \n",
        "blank output is sent untrimmed"
    );
    let long = "x".repeat(25_000);
    let out = event_output(&result(&long, "", None));
    assert!(out.starts_with("... (truncated) x"));
    assert_eq!(out.len(), "... (truncated) ".len() + 20_000);
    let emoji = format!("a{}", "😀".repeat(10_000));
    let out = event_output(&result(&emoji, "", None));
    assert_eq!(out, format!("... (truncated) {}", "😀".repeat(10_000)));
    let mut odd = "😀".repeat(10_001);
    odd.push('b');
    let out = event_output(&result(&odd, "", None));
    assert!(!out.contains('\u{FFFD}'), "never splits a surrogate pair");
}

#[test]
fn result_payload_shapes() {
    let outcome = ExecOutcome {
        exit_code: Some(3),
        stdout: "hello\n".into(),
        stderr: "err\n".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&run_result(&outcome, None)).unwrap(),
        "{\"exitCode\":3,\"timedOut\":false,\"success\":false,\"stdout\":\"hello\\n\",\"stderr\":\"err\\n\",\"error\":null}"
    );
    let killed = ExecOutcome {
        signal: Some(9),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&run_result(&killed, None)).unwrap(),
        "{\"timedOut\":false,\"success\":false,\"stdout\":\"\",\"stderr\":\"\",\"error\":null}"
    );
    let timed_out = ExecOutcome {
        timed_out: true,
        signal: Some(15),
        ..Default::default()
    };
    assert_eq!(run_result(&timed_out, None).exit_code, Some(124));
    let trapped = ExecOutcome {
        timed_out: true,
        exit_code: Some(7),
        ..Default::default()
    };
    assert_eq!(run_result(&trapped, None).exit_code, Some(7));
    let enoent = ExecOutcome {
        launch_error: Some(std::io::Error::from_raw_os_error(2)),
        ..Default::default()
    };
    assert_eq!(
        run_result(&enoent, None).error.as_deref(),
        Some("Command failed during launch or output capture (ENOENT)")
    );
    assert_eq!(
        run_result(&enoent, Some("/nonexistent-dir")).error.as_deref(),
        Some("node exec working directory does not exist on the node host: /nonexistent-dir (os reported: Command failed during launch or output capture (ENOENT))")
    );
    assert_eq!(
        run_result(&enoent, Some("/etc/passwd")).error.as_deref(),
        Some("node exec working directory is not a directory on the node host: /etc/passwd (os reported: Command failed during launch or output capture (ENOENT))")
    );
}

// ---- runner-backed tests -------------------------------------------------------------------

#[test]
fn runs_echo_and_sends_exec_finished_first() {
    let (ctx, events, _dir) = context("echo", json!({}));
    let result = run(&ctx, json!({"command": ["sh", "-c", "echo hello; echo err 1>&2; exit 3"], "cwd": "/tmp", "env": {"FOO": "bar", "LANG": "C"},
        "timeoutMs": 5000, "agentId": "main", "sessionKey": "agent:main:main", "runId": "run-test-1", "extra": "ignored"})).unwrap();
    assert_eq!(result, "{\"exitCode\":3,\"timedOut\":false,\"success\":false,\"stdout\":\"hello\\n\",\"stderr\":\"err\\n\",\"error\":null}");
    let recorded = events.events.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "exec.finished");
    assert_eq!(
        recorded[0].1,
        "{\"sessionKey\":\"agent:main:main\",\"runId\":\"run-test-1\",\"host\":\"node\",\"command\":\"sh -c \\\"echo hello; echo err 1>&2; exit 3\\\"\",\"exitCode\":3,\"timedOut\":false,\"success\":false,\"output\":\"hello\\n\\nerr\",\"suppressNotifyOnExit\":false}"
    );
    let audit = std::fs::read_to_string(ctx.node.paths.audit_log()).unwrap();
    let line: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["decision"], "allowed");
    assert_eq!(line["exitCode"], 3);
    assert_eq!(line["rule"], "security=full");
    assert!(
        line.get("stdout").is_none() && line.get("output").is_none(),
        "no output in the audit log"
    );
    assert!(!audit.contains("bar"), "no env values in the audit log");
}

#[test]
fn runs_launch_failures_and_timeouts() {
    let (ctx, events, _dir) = context("launch", json!({}));
    let result: Value = serde_json::from_str(
        &run(
            &ctx,
            json!({"command": ["/nonexistent/bin"], "runId": "r-enoent"}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        result,
        json!({"timedOut": false, "success": false, "stdout": "", "stderr": "", "error": "Command failed during launch or output capture (ENOENT)"})
    );
    let finished = events.take();
    assert_eq!(
        finished[0].1["output"],
        "Command failed during launch or output capture (ENOENT)"
    );
    assert!(finished[0].1.get("exitCode").is_none());
    let result: Value = serde_json::from_str(
        &run(&ctx, json!({"command": ["ls"], "cwd": "/nonexistent-dir"})).unwrap(),
    )
    .unwrap();
    assert_eq!(result["error"], "node exec working directory does not exist on the node host: /nonexistent-dir (os reported: Command failed during launch or output capture (ENOENT))");
    let result = run(&ctx, json!({"command": ["sleep", "5"], "timeoutMs": 300})).unwrap();
    assert_eq!(result, "{\"exitCode\":124,\"timedOut\":true,\"success\":false,\"stdout\":\"\",\"stderr\":\"\",\"error\":null}");
    let killed = run(&ctx, json!({"command": ["sh", "-c", "kill -9 $$"]})).unwrap();
    assert_eq!(
        killed,
        "{\"timedOut\":false,\"success\":false,\"stdout\":\"\",\"stderr\":\"\",\"error\":null}"
    );
}

#[test]
fn runs_never_leak_node_secrets_to_children() {
    let secret = "super-secret-gateway-token-value".to_string();
    let (ctx, _events, _dir) = context_with_secrets(
        "secrets",
        json!({}),
        vec!["MY_NODE_SECRET".into()],
        vec![secret.clone()],
    );
    let output: Value = serde_json::from_str(
        &run(
            &ctx,
            json!({"command": ["env"], "env": {
        "OPENCLAW_GATEWAY_TOKEN": "tok", "OPENCLAW_GATEWAY_PASSWORD": "pw", "MY_NODE_SECRET": "x",
        "LEAK": secret, "WRAPPED": format!("Bearer {secret}"), "FOO": "bar", "PAGER": "cat"}}),
        )
        .unwrap(),
    )
    .unwrap();
    let stdout = output["stdout"].as_str().unwrap();
    assert!(!stdout.contains("OPENCLAW_GATEWAY_TOKEN="), "{stdout}");
    assert!(!stdout.contains("OPENCLAW_GATEWAY_PASSWORD="));
    assert!(!stdout.contains("MY_NODE_SECRET="));
    assert!(!stdout.contains(&secret));
    assert!(stdout.contains("OPENCLAW_CLI=1"));
    assert!(stdout.lines().any(|l| l == "FOO=bar"));
    assert!(stdout.lines().any(|l| l == "PAGER="));
    // Shell wrappers only keep locale/terminal overrides.
    let output: Value = serde_json::from_str(&run(&ctx, json!({"command": ["sh", "-c", "env"], "env": {"FOO": "bar", "LC_FOO": "x", "TERM": "xterm"}})).unwrap()).unwrap();
    let stdout = output["stdout"].as_str().unwrap();
    assert!(!stdout.lines().any(|l| l == "FOO=bar"));
    assert!(stdout.lines().any(|l| l == "LC_FOO=x"));
}

#[test]
fn runs_allowlisted_commands_and_records_usage() {
    let (ctx, events, dir) = context("allowlist", json!({}));
    let echo = real("echo");
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "off", "askFallback": "deny"},
        "agents": {"main": {"allowlist": [{"pattern": echo, "id": "e1"}, {"pattern": "uname", "id": "u1"}]}}}),
    );
    let before = ctx.node.approvals.read().unwrap().hash;
    let result: Value = serde_json::from_str(&run(&ctx, json!({"command": ["sh", "-c", "echo a && uname"], "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-al4"})).unwrap()).unwrap();
    assert_eq!(result["exitCode"], 0);
    assert_eq!(result["stdout"], "a\nLinux\n");
    assert_eq!(events.take()[0].0, "exec.finished");
    let after = ctx.node.approvals.read().unwrap();
    assert_ne!(after.hash, before, "usage bookkeeping changes the hash");
    let entry = &after.doc["agents"]["main"]["allowlist"][0];
    assert_eq!(entry["lastUsedCommand"], "sh -c \"echo a && uname\"");
    assert_eq!(entry["lastResolvedPath"], echo);
    let result: Value = serde_json::from_str(
        &run(&ctx, json!({"command": ["uname", "-s"], "agentId": "main"})).unwrap(),
    )
    .unwrap();
    assert_eq!(result["stdout"], "Linux\n");
    assert!(run(&ctx, json!({"command": ["ls", "/"], "agentId": "main"})).is_err());
    // Safe bins need no entry.
    let result: Value = serde_json::from_str(
        &run(
            &ctx,
            json!({"command": ["sh", "-c", "echo x | wc -l"], "agentId": "main"}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(result["stdout"].as_str().unwrap().trim(), "1");
}

#[test]
fn runs_allow_always_then_same_run_passes_without_approval() {
    let (ctx, events, dir) = context("always", json!({}));
    write_approvals(
        &dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"}}),
    );
    let prepared = prepare(
        &ctx,
        json!({"command": ["uname", "-s"], "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "rawCommand": "uname -s"}),
    );
    let plan = prepared["plan"].clone();
    let result = run(&ctx, json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan, "cwd": "/tmp",
        "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-approved", "approved": true, "approvalDecision": "allow-always"})).unwrap();
    assert_eq!(result, "{\"exitCode\":0,\"timedOut\":false,\"success\":true,\"stdout\":\"Linux\\n\",\"stderr\":\"\",\"error\":null}");
    let finished = events.take();
    assert_eq!(finished[0].1["output"], "Linux");
    let doc = ctx.node.approvals.read().unwrap().doc;
    let list = doc["agents"]["main"]["allowlist"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["source"], "allow-always");
    assert_eq!(
        list[0]["argPattern"],
        prepared["allowAlwaysCoverage"]["patterns"][0]["argPattern"]
    );
    assert_eq!(
        list[1]["pattern"],
        crate::approvals::pattern::node_command_marker(plan["commandText"].as_str().unwrap())
    );
    // The same argv in the same cwd now passes allowlist mode on its own.
    let again = run(
        &ctx,
        json!({"command": plan["argv"], "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "runId": "r-after-always"}),
    );
    assert!(again.is_ok(), "{again:?}");
    // Other args still need approval.
    let other = run(
        &ctx,
        json!({"command": [plan["argv"][0], "-a"], "cwd": "/tmp", "agentId": "main"}),
    )
    .unwrap_err();
    assert_eq!(other.message, "SYSTEM_RUN_DENIED: approval required");
}

#[test]
fn a_cancelled_invocation_sends_nothing() {
    let (ctx, events, _dir) = context("cancelled", json!({}));
    ctx.cancel.cancel();
    assert!(run(&ctx, json!({"command": ["echo", "hi"]})).is_err());
    assert!(events.take().is_empty());
    assert!(
        !ctx.node.paths.audit_log().exists(),
        "nothing decided, nothing logged"
    );
}

#[test]
fn runs_a_shutdown_termination_still_reports() {
    let (ctx, events, _dir) = context("terminated", json!({}));
    ctx.cancel.terminate();
    let result: Value = serde_json::from_str(
        &run(&ctx, json!({"command": ["echo", "hi"], "runId": "r-term"})).unwrap(),
    )
    .unwrap();
    assert_eq!(result["success"], false);
    assert_eq!(
        result["error"],
        "Command not started: the node host is shutting down"
    );
    let recorded = events.take();
    assert_eq!(recorded[0].0, "exec.finished");
    assert_eq!(recorded[0].1["runId"], "r-term");
}

#[test]
fn a_node_skill_cwd_runs_in_the_skill_folder() {
    let (ctx, _events, dir) = context("skill-cwd", json!({}));
    let identity = crate::state::load_or_create_identity(&ctx.node.paths).unwrap();
    let skill = dir.join("skills/hello-skill");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: hello-skill\ndescription: d\n---\n",
    )
    .unwrap();
    let locator = format!("node://{}/skills/hello-skill", identity.device_id());
    let out: Value =
        serde_json::from_str(&run(&ctx, json!({"command": ["pwd"], "cwd": locator})).unwrap())
            .unwrap();
    let real = std::fs::canonicalize(&skill).unwrap();
    assert_eq!(out["stdout"], format!("{}\n", real.display()));
    let plan = prepare(&ctx, json!({"command": ["pwd"], "cwd": locator}));
    assert_eq!(plan["plan"]["cwd"], real.to_string_lossy().as_ref());
    let err = run(
        &ctx,
        json!({"command": ["pwd"], "cwd": format!("node://{}/skills/missing", identity.device_id())}),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: node skill cwd locator is unavailable"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
