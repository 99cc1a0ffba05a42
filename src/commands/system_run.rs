//! `system.run` and `system.run.prepare`.
//!
//! STUB: being written.

use crate::invoke::{InvokeContext, InvokeError, InvokeResult};

pub fn handle_run(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let _ = (ctx, params_json);
    Err(InvokeError::unavailable("command not supported"))
}

pub fn handle_prepare(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let _ = (ctx, params_json);
    Err(InvokeError::unavailable("command not supported"))
}
