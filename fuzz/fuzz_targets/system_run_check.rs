//! `system.run` params, parse and policy phases only (`system_run::check`: nothing is executed,
//! written or sent), under four fixed policies picked by the first byte: deny, allowlist
//! (ask on-miss), full, allowlist (ask always, fallback allowlist). The rest is `paramsJSON`.
//! `system.run.prepare` runs on the same params, and its plan is replayed as an approved run.
//!
//! The invariant that matters: under `security=deny` nothing is ever allowed, approved or not.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::commands::{self, system_run};
use openclaw_node_fuzz::{fake_bin_dir, invoke_context_on, runtime_named};
use serde_json::{json, Value};

fn policies() -> &'static [String; 4] {
    static DOCS: OnceLock<[String; 4]> = OnceLock::new();
    DOCS.get_or_init(|| {
        let bin = fake_bin_dir().display().to_string();
        let allowlist = json!([
            {"pattern": "/usr/bin/echo", "id": "a"},
            {"pattern": format!("{bin}/git"), "argPattern": "^status( --short)?$", "id": "b"},
            {"pattern": format!("{bin}/rg"), "source": "allow-always", "id": "c"},
            {"pattern": "~/bin/*", "id": "d"},
            {"pattern": format!("{bin}/uname"), "argPattern": "^-s\u{0}$", "id": "e"},
        ]);
        let doc = |security: &str, ask: &str, fallback: &str| {
            json!({"version": 1,
                   "defaults": {"security": security, "ask": ask, "askFallback": fallback},
                   "agents": {"main": {"allowlist": allowlist.clone()}}})
            .to_string()
        };
        [
            doc("deny", "off", "deny"),
            doc("allowlist", "on-miss", "deny"),
            doc("full", "off", "deny"),
            doc("allowlist", "always", "allowlist"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let [selector, rest @ ..] = data else {
        return;
    };
    let Ok(params_text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(params) = serde_json::from_str::<Value>(params_text) else {
        return;
    };
    let policy = usize::from(*selector) % 4;
    let node = runtime_named(&format!("run-{policy}"), Some(&policies()[policy]));
    let ctx = invoke_context_on(node);
    let deny = policy == 0;

    if let Ok(report) = system_run::check(&ctx, &params) {
        assert!(
            !(deny && report.allowed),
            "security=deny allowed {params_text}"
        );
        if report.allowed {
            assert!(report
                .exec_argv
                .as_ref()
                .is_some_and(|argv| !argv.is_empty()));
        }
    }

    // Prepare, then replay the plan as an operator-approved run.
    let Ok(prepared) = commands::dispatch(&ctx, "system.run.prepare", Some(params_text)) else {
        return;
    };
    let prepared: Value = serde_json::from_str(&prepared).expect("prepare answered invalid JSON");
    let plan = prepared["plan"].clone();
    let mut approved = json!({
        "command": plan["argv"],
        "systemRunPlan": plan,
        "approved": true,
        "approvalDecision": if selector & 0x80 != 0 { "allow-always" } else { "allow-once" },
    });
    for key in ["rawCommand", "cwd", "agentId", "sessionKey", "env"] {
        if let Some(value) = params.get(key) {
            approved[key] = value.clone();
        }
    }
    if let Ok(report) = system_run::check(&ctx, &approved) {
        assert!(
            !(deny && report.allowed),
            "security=deny allowed an approved {approved}"
        );
    }
});
