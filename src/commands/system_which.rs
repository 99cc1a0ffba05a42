//! `system.which`: where the node's PATH finds each named binary (protocol §5.3).

use std::path::Path;

use serde_json::{Map, Value};

use super::InvokeContext;
use crate::invoke::{require_params, InvokeError, InvokeResult};
use crate::js::string as js_string;
use crate::platform::{executable_search, Platform};

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

/// Where `name` is found on `path_env` as the node's platform searches (see
/// [`which_on`]); PATHEXT from the node's own environment.
pub fn which(name: &str, path_env: &str) -> Option<String> {
    let pathext = std::env::var("PATHEXT").ok();
    which_on(Platform::HOST, name, path_env, pathext.as_deref(), &|p| {
        Path::new(p).exists()
    })
}

/// The first candidate on `path_env` the probe finds. Existence only, like the TS host
/// (`fs.existsSync`): the gateway uses the answer to decide what to offer, not to run it. On
/// Windows, PATH splits on `;` and each PATHEXT extension is tried, except for a name that
/// already has one (`git.exe` is not looked up as `git.exe.exe`, as the TS host does).
pub fn which_on(
    platform: Platform,
    name: &str,
    path_env: &str,
    pathext: Option<&str>,
    exists: &dyn Fn(&str) -> bool,
) -> Option<String> {
    executable_search::search(name, path_env, pathext, platform, false, exists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn windows_which_uses_pathext_once() {
        let files: HashSet<&str> = ["C:\\Program Files\\Git\\cmd\\git.exe", "C:\\Windows\\System32\\cmd.exe"]
            .into_iter()
            .collect();
        let exists = |p: &str| files.contains(p);
        let path = "C:\\Windows\\System32;C:\\Program Files\\Git\\cmd";
        let found = |name| which_on(Platform::Windows, name, path, None, &exists);
        assert_eq!(found("git").as_deref(), Some("C:\\Program Files\\Git\\cmd\\git.exe"));
        assert_eq!(found("git.exe").as_deref(), Some("C:\\Program Files\\Git\\cmd\\git.exe"));
        assert_eq!(found("cmd").as_deref(), Some("C:\\Windows\\System32\\cmd.exe"));
        assert_eq!(found("svn"), None);
    }

    #[test]
    fn unix_which_is_existence_on_colon_path() {
        let exists = |p: &str| p == "/bin/sh";
        assert_eq!(
            which_on(Platform::Unix, "sh", "/usr/bin::/bin", None, &exists).as_deref(),
            Some("/bin/sh")
        );
        if cfg!(unix) {
            assert_eq!(which("sh", "/bin").as_deref(), Some("/bin/sh"));
        }
    }
}
