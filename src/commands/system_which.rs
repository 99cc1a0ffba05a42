//! `system.which`: where the node's PATH finds each named binary (protocol §5.3).

use std::path::Path;

use serde_json::{Map, Value};

use super::InvokeContext;
use crate::invoke::{require_params, InvokeError, InvokeResult};
use crate::js::string as js_string;

pub fn handle(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = require_params(params_json)?;
    let Some(bins) = params.get("bins").and_then(Value::as_array) else {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: bins required",
        ));
    };
    let mut found = Map::new();
    for bin in bins {
        let name = js_string(bin);
        let name = name.trim();
        if name.is_empty() || name.contains('/') || name.contains('\\') {
            continue;
        }
        if let Some(path) = which(name, &ctx.node.path_env) {
            found.insert(name.to_string(), Value::String(path));
        }
    }
    let mut result = Map::new();
    result.insert("bins".to_string(), Value::Object(found));
    Ok(Value::Object(result).to_string().into())
}

/// The first `dir/name` on `path_env` that exists. Existence only, like the TS host
/// (`fs.existsSync`): the gateway uses the answer to decide what to offer, not to run it.
pub fn which(name: &str, path_env: &str) -> Option<String> {
    path_env
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.exists())
        .map(|candidate| candidate.to_string_lossy().into_owned())
}
