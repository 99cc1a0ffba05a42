//! The command dispatcher with arbitrary params: the first byte picks the command (or, past the
//! known ones, the text up to the first NUL names it), the second says whether `paramsJSON` is
//! absent, the rest is `paramsJSON`. Every answer must be a JSON payload or a coded error.
//!
//! Commands with effects outside the process are not dispatched here (`ACTING`): `system.run`
//! would run whatever argv the fuzzer invents (its params go through `system_run::check`, parse
//! and policy with no execution, in `system_run_check`), `file.write` and `terminal.upload` would
//! write where it names, `system.notify` would spawn `notify-send`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_node::commands;
use openclaw_node_fuzz::{invoke_context, runtime};
use serde_json::Value;

const COMMANDS: [&str; 5] = [
    "system.which",
    "system.run.prepare",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "browser.proxy",
];

const ACTING: [&str; 4] = ["system.run", "file.write", "terminal.upload", "system.notify"];

/// The codes an invoke error may carry: the node's own, and node-surface §9.4's for MCP (the
/// fuzz context has no MCP servers, so `mcp.tools.call.v1` answers MCP_SERVER_UNAVAILABLE).
const ERROR_CODES: [&str; 7] = [
    "INVALID_REQUEST",
    "UNAVAILABLE",
    "SYSTEM_RUN_DENIED",
    "MCP_SERVER_UNAVAILABLE",
    "MCP_TOOL_UNAVAILABLE",
    "MCP_TOOL_TIMEOUT",
    "MCP_TOOL_ERROR",
];

fuzz_target!(|data: &[u8]| {
    let [selector, absent, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (command, params) = match COMMANDS.get(usize::from(*selector)) {
        Some(command) => (*command, text),
        None => text.split_once('\0').unwrap_or((text, "")),
    };
    if ACTING.contains(&command) {
        return;
    }
    let params = if absent & 1 == 1 { None } else { Some(params) };
    let ctx = invoke_context();
    if command == "system.execApprovals.set" && absent & 2 == 0 {
        // Without a stored document no base hash is needed, so the write path is reachable.
        let _ = std::fs::remove_file(ctx.node.approvals.file_path());
    }
    match commands::dispatch(&ctx, command, params) {
        Ok(payload) => {
            let payload: Value =
                serde_json::from_str(&payload).expect("a handler answered with invalid JSON");
            match command {
                "system.which" => check_which(&payload),
                "system.execApprovals.get" | "system.execApprovals.set" => {
                    check_approvals_reply(&ctx, &payload)
                }
                _ => {}
            }
        }
        Err(err) => {
            assert!(
                ERROR_CODES.contains(&err.code.as_str()),
                "unexpected error code {}",
                err.code
            );
            assert!(!err.message.is_empty());
            // Echoing the request's own text back is fine; the node's secret is not.
            assert!(
                !err.message.contains("fuzz-secret-value")
                    || params.is_some_and(|p| p.contains("fuzz-secret-value")),
                "an error message carries a secret"
            );
        }
    }
});

/// Every answer is `<a PATH dir>/<name>`.
fn check_which(payload: &Value) {
    let path_env = runtime().path_env.clone();
    for (name, path) in payload["bins"].as_object().expect("bins is not an object") {
        let path = path.as_str().expect("a bins entry is not a string");
        assert!(
            path_env
                .split(':')
                .any(|dir| path == format!("{dir}/{name}")),
            "which answered {path} for {name}, outside PATH"
        );
    }
}

/// A get/set reply describes the stored document: its hash, no socket token, and a second get
/// agrees.
fn check_approvals_reply(ctx: &openclaw_node::commands::InvokeContext, payload: &Value) {
    assert_eq!(payload["exists"], Value::Bool(true));
    assert!(
        payload["file"]["socket"].get("token").is_none(),
        "the socket token left the node"
    );
    let again = commands::dispatch(ctx, "system.execApprovals.get", None)
        .expect("get after a successful get/set failed");
    let again: Value = serde_json::from_str(&again).expect("get answered invalid JSON");
    assert_eq!(
        again["hash"], payload["hash"],
        "the document changed behind a get"
    );
    assert_eq!(again["file"], payload["file"]);
}
