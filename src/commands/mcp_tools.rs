//! `mcp.tools.call.v1` (cap `mcp`, node-surface §9.4): a call of a tool of one of the node's
//! MCP servers. Answers the bounded result as an inline `payload` object, as the TS host does.

use std::time::Duration;

use serde_json::Value;

use super::InvokeContext;
use crate::invoke::{require_params, InvokeError, InvokeResult, Payload};
use crate::mcp::bound_result;

/// The budget when the gateway sent no `timeoutMs`.
const DEFAULT_BUDGET_MS: u64 = 120_000;
/// The longest JavaScript timer, to which TS clamps the frame's timeout.
const MAX_TIMER_MS: u64 = 2_147_483_647;

pub fn handle_call(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let Some(mcp) = &ctx.node.mcp else {
        return Err(InvokeError::new(
            "MCP_SERVER_UNAVAILABLE",
            "node host MCP is unavailable",
        ));
    };
    let params = require_params(params_json)?;
    let Value::Object(params) = params else {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: MCP tool params must be an object",
        ));
    };
    let text = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let (server, tool) = (text("server"), text("tool"));
    if server.is_empty() || tool.is_empty() {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: server and tool required",
        ));
    }
    let arguments = match params.get("arguments") {
        None => Value::Object(Default::default()),
        Some(arguments @ Value::Object(_)) => arguments.clone(),
        Some(_) => {
            return Err(InvokeError::invalid(
                "Error: INVALID_REQUEST: arguments must be an object",
            ))
        }
    };
    let budget = ctx
        .timeout_ms
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_BUDGET_MS, |ms| ms.min(MAX_TIMER_MS));
    match mcp.call(
        &server,
        &tool,
        arguments,
        Duration::from_millis(budget),
        &ctx.cancel,
    ) {
        Ok(result) => Ok(Payload::Inline(bound_result(&result).to_string())),
        Err(err) => Err(InvokeError::new(err.code, err.message)),
    }
}
