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
///
/// On Windows each PATH entry (`;`-separated) is tried with the PATHEXT extensions, lowercased
/// (default `.EXE;.CMD;.BAT;.COM`), as TS does, but a name that already ends in one of them is
/// tried as it is first, so `git.exe` finds `git.exe` where TS looks for `git.exe.exe`.
pub fn which(name: &str, path_env: &str) -> Option<String> {
    let candidates = candidate_names(name);
    path_env
        .split(crate::platform::search_path::SEPARATOR)
        .filter(|dir| !dir.is_empty())
        .flat_map(|dir| candidates.iter().map(move |c| Path::new(dir).join(c)))
        .find(|candidate| candidate.exists())
        .map(|candidate| candidate.to_string_lossy().into_owned())
}

#[cfg(unix)]
fn candidate_names(name: &str) -> Vec<String> {
    vec![name.to_string()]
}

#[cfg(windows)]
fn candidate_names(name: &str) -> Vec<String> {
    let exts: Vec<String> = std::env::var("PATHEXT")
        .unwrap_or_else(|_| ".EXE;.CMD;.BAT;.COM".to_string())
        .split(';')
        .map(|ext| ext.trim().to_ascii_lowercase())
        .collect();
    let lower = name.to_ascii_lowercase();
    let has_own = exts.iter().any(|ext| !ext.is_empty() && lower.ends_with(ext.as_str()));
    let own = has_own.then(|| name.to_string());
    own.into_iter()
        .chain(exts.iter().map(|ext| format!("{name}{ext}")))
        .collect()
}
