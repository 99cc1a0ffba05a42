//! `system.notify` (no cap, node-surface §12.1): a desktop notification through
//! `notify-send`. Declared only on Linux, when `notify-send` is on the node's PATH at start-up
//! and `plugins.entries.linux-node.config.notify.enabled` is not `false`, as the TS linux-node
//! plugin does. Plugin envelope: `{"ok":true}` as `payloadJSON`; failures `INVALID_REQUEST`
//! with `Error: CODE: detail`.

use std::time::Duration;

use serde_json::Value;

use super::system_which::which;
use super::InvokeContext;
use crate::config::NodeConfig;
use crate::exec::{self, ExecSpec};
use crate::invoke::{InvokeError, InvokeResult};
use crate::mcp::catalog::truncate_utf16;

const TIMEOUT: Duration = Duration::from_secs(10);
const DETAIL_MAX_UNITS: usize = 300;

/// Whether the notify capability is turned on (an invalid linux-node config turns it off).
fn enabled(config: &NodeConfig) -> bool {
    let Some(plugin) = config.get(&["plugins", "entries", "linux-node", "config"]) else {
        return true;
    };
    let valid_entry = |key: &str| match plugin.get(key) {
        None => true,
        Some(Value::Object(entry)) => entry
            .iter()
            .all(|(k, v)| k == "enabled" && v.is_boolean()),
        Some(_) => false,
    };
    let Value::Object(keys) = plugin else {
        return plugin.is_null();
    };
    let known = keys
        .keys()
        .all(|k| matches!(k.as_str(), "notify" | "camera" | "location"));
    known
        && ["notify", "camera", "location"].iter().all(|k| valid_entry(k))
        && plugin.pointer("/notify/enabled") != Some(&Value::Bool(false))
}

/// Declared on Linux when enabled and `notify-send` is on the node's PATH.
pub fn available(config: &NodeConfig, path_env: &str) -> bool {
    cfg!(target_os = "linux") && enabled(config) && which("notify-send", path_env).is_some()
}

fn thrown(message: impl std::fmt::Display) -> InvokeError {
    InvokeError::invalid(format!("Error: {message}"))
}

pub fn handle(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let Some(notify_send) = which("notify-send", &ctx.node.path_env) else {
        return Err(thrown("NOTIFICATIONS_UNAVAILABLE: notify-send not found"));
    };
    // TS: unparseable or non-object params are `{}`.
    let params = params_json
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object)
        .unwrap_or(Value::Null);
    let text = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let (title, body) = (text("title"), text("body"));
    if title.is_empty() && body.is_empty() {
        return Err(thrown("INVALID_REQUEST: empty notification"));
    }
    let urgency = match params.get("priority").and_then(Value::as_str) {
        Some("passive") => "low",
        Some("timeSensitive") => "critical",
        _ => "normal",
    };
    let spec = ExecSpec {
        argv: vec![
            notify_send,
            "--urgency".into(),
            urgency.into(),
            "--".into(),
            title,
            body,
        ],
        env: crate::approvals::env::child_env(
            crate::approvals::env::process_env(),
            &[],
            &ctx.node.path_env,
            &ctx.node.secrets,
        ),
        timeout: Some(TIMEOUT),
        output_cap: 64 * 1024,
        ..ExecSpec::default()
    };
    let outcome = exec::run(&spec, &ctx.cancel);
    if let Some(err) = &outcome.launch_error {
        return Err(thrown(format!("NOTIFICATIONS_UNAVAILABLE: {err}")));
    }
    if outcome.timed_out {
        return Err(thrown("NOTIFICATIONS_UNAVAILABLE: command timed out"));
    }
    if outcome.exit_code != Some(0) {
        let detail = [outcome.stderr.trim(), outcome.stdout.trim()]
            .into_iter()
            .find(|d| !d.is_empty())
            .map(|d| truncate_utf16(&d.split_whitespace().collect::<Vec<_>>().join(" "), DETAIL_MAX_UNITS))
            .unwrap_or_else(|| {
                format!(
                    "exit {}",
                    outcome
                        .exit_code
                        .map_or("unknown".to_string(), |c| c.to_string())
                )
            });
        return Err(thrown(format!("NOTIFICATIONS_UNAVAILABLE: {detail}")));
    }
    Ok(r#"{"ok":true}"#.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_linux_node_config_decides() {
        assert!(enabled(&NodeConfig::default()));
        let with = |v: Value| {
            enabled(&NodeConfig::from_value(
                json!({"plugins":{"entries":{"linux-node":{"config": v}}}}),
            ))
        };
        assert!(with(json!({"camera": {"enabled": true}})));
        assert!(!with(json!({"notify": {"enabled": false}})));
        assert!(!with(json!({"notify": {"enabled": "yes"}})));
        assert!(!with(json!({"bogus": {}})));
    }
}
