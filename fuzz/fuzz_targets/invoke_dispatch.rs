//! The command dispatcher with arbitrary params: the first byte picks the command (or, past the
//! known ones, the text up to the first NUL names it), the second says whether `paramsJSON` is
//! absent, the rest is `paramsJSON`. Every answer must be a JSON payload or a coded error.
//!
//! `system.run` is not fuzzed here: it would run whatever argv the fuzzer invents.
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
    if command == "system.run" {
        return;
    }
    let params = if absent & 1 == 1 { None } else { Some(params) };
    let ctx = invoke_context();
    match commands::dispatch(&ctx, command, params) {
        Ok(payload) => {
            let payload: Value =
                serde_json::from_str(&payload).expect("a handler answered with invalid JSON");
            if command == "system.which" {
                let bin_dir = runtime().path_env.clone();
                for (name, path) in payload["bins"].as_object().expect("bins is not an object") {
                    let path = path.as_str().expect("a bins entry is not a string");
                    assert_eq!(path, format!("{bin_dir}/{name}"), "which answered outside PATH");
                }
            }
        }
        Err(err) => {
            assert!(
                matches!(err.code.as_str(), "INVALID_REQUEST" | "UNAVAILABLE"),
                "unexpected error code {}",
                err.code
            );
            assert!(!err.message.is_empty());
        }
    }
});
