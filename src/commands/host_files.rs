//! `fs.listDir` and `terminal.upload` (cap `system`, node-surface §6 and §7): the Control UI's
//! directory picker and terminal drag-and-drop. Built-in JSON envelope: errors are invoke
//! errors, `INVALID_REQUEST` with JavaScript's `String(err)` text.

use super::InvokeContext;
use crate::invoke::{InvokeError, InvokeResult};

/// Whether this build can serve them (the filesystem code is Unix only).
pub fn available(_: &super::NodeRuntime) -> bool {
    cfg!(unix)
}

/// `os.homedir()`: `$HOME`, else `/`.
#[cfg(unix)]
fn home() -> String {
    std::env::var("HOME")
        .ok()
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// `os.tmpdir()`: `$TMPDIR`, `$TMP`, `$TEMP`, else `/tmp`, without a trailing slash.
#[cfg(unix)]
fn temp_dir() -> std::path::PathBuf {
    let dir = ["TMPDIR", "TMP", "TEMP"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "/tmp".into());
    let trimmed = dir.trim_end_matches('/');
    std::path::PathBuf::from(if trimmed.is_empty() { "/" } else { trimmed })
}

#[cfg(unix)]
pub fn list_dir(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = crate::invoke::require_params(params_json)?;
    let path = match params.get("path") {
        None => None,
        Some(serde_json::Value::String(path)) => Some(path.as_str()),
        Some(_) => {
            return Err(InvokeError::invalid(
                "Error: INVALID_REQUEST: path must be a string",
            ))
        }
    };
    crate::files::picker::list(path, &home())
        .map(Into::into)
        .map_err(InvokeError::invalid)
}

#[cfg(unix)]
pub fn upload(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    use crate::files::write::ContentParams;
    let Some(text) = params_json else {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: paramsJSON required",
        ));
    };
    let params = ContentParams::parse(Some(text)).map_err(|_| {
        InvokeError::invalid("Error: INVALID_REQUEST: paramsJSON malformed JSON")
    })?;
    let (Some(name), Some(content)) = (
        params.get("name").and_then(serde_json::Value::as_str),
        params.content(),
    ) else {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: terminal upload name and content are required",
        ));
    };
    crate::files::staging::stage(name, content, &temp_dir())
        .map(Into::into)
        .map_err(|message| {
            InvokeError::invalid(if message.starts_with("Error") {
                message
            } else {
                format!("Error: {message}")
            })
        })
}

#[cfg(not(unix))]
pub fn list_dir(_: &InvokeContext, _: Option<&str>) -> InvokeResult {
    Err(InvokeError::unavailable("command not supported"))
}

#[cfg(not(unix))]
pub use list_dir as upload;

#[cfg(all(test, unix))]
mod tests {
    use crate::commands::dispatch;
    use crate::commands::system_run::tests::support::context;

    #[test]
    fn param_errors_are_invoke_errors_with_ts_text() {
        let (ctx, _events, _dir) = context("host-files", serde_json::json!({}));
        let error = |command: &str, params: Option<&str>| {
            let err = dispatch(&ctx, command, params).unwrap_err();
            assert_eq!(err.code, "INVALID_REQUEST");
            err.message
        };
        assert_eq!(error("fs.listDir", None), "Error: INVALID_REQUEST: paramsJSON required");
        assert_eq!(
            error("fs.listDir", Some(r#"{"path":5}"#)),
            "Error: INVALID_REQUEST: path must be a string"
        );
        assert_eq!(
            error("fs.listDir", Some(r#"{"path":"rel"}"#)),
            "Error: fs.listDir path must be absolute"
        );
        assert_eq!(
            error("terminal.upload", Some(r#"{"name":"a"}"#)),
            "Error: INVALID_REQUEST: terminal upload name and content are required"
        );
        assert_eq!(
            error("terminal.upload", Some(r#"{"name":"a","contentBase64":"aGl="}"#)),
            "Error: invalid terminal upload encoding"
        );
        assert_eq!(
            error("terminal.upload", Some("{x")),
            "Error: INVALID_REQUEST: paramsJSON malformed JSON"
        );
    }
}
