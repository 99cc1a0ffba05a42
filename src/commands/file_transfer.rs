//! The file-transfer commands (cap `file`, node-surface §8): `file.stat`, `file.fetch`,
//! `dir.list`, `dir.fetch`, `file.write`. The plugin envelope: application errors are a
//! successful invoke whose payload says `ok:false`; only unreadable params fail the invoke.
//! The filesystem work is in [`crate::files`]; on hosts without it (Windows) the commands are
//! not offered.


use super::InvokeContext;
use crate::invoke::InvokeResult;

/// Whether this build can serve the file commands.
pub fn available(_: &super::NodeRuntime) -> bool {
    cfg!(unix)
}

#[cfg(unix)]
fn serve(params_json: Option<&str>, command: fn(&serde_json::Value) -> String) -> InvokeResult {
    let params = crate::invoke::optional_params(params_json)?;
    Ok(command(&params).into())
}

#[cfg(unix)]
mod unix {
    use super::*;
    use crate::files;

    pub fn stat(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
        serve(params_json, files::stat::run)
    }
    pub fn fetch(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
        serve(params_json, files::fetch::run)
    }
    pub fn list(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
        serve(params_json, files::list::run)
    }
    pub fn fetch_tree(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
        serve(params_json, files::archive::run)
    }
    pub fn write(_: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
        let params = files::write::ContentParams::parse(params_json)
            .map_err(|_| {
                crate::invoke::InvokeError::invalid("Error: INVALID_REQUEST: paramsJSON malformed JSON")
            })?;
        Ok(files::write::run(&params).into())
    }
}

#[cfg(not(unix))]
mod unix {
    use super::*;

    pub fn unsupported(_: &InvokeContext, _: Option<&str>) -> InvokeResult {
        Err(crate::invoke::InvokeError::unavailable("command not supported"))
    }
    pub use unsupported as stat;
    pub use unsupported as fetch;
    pub use unsupported as list;
    pub use unsupported as write;
    pub use unsupported as fetch_tree;
}

pub use unix::{fetch, fetch_tree, list, stat, write};
