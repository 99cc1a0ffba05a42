//! `system.execApprovals.get` / `system.execApprovals.set`.
//!
//! STUB: being written.

use crate::invoke::{InvokeContext, InvokeError, InvokeResult};

pub fn handle_get(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let _ = (ctx, params_json);
    Err(InvokeError::unavailable("command not supported"))
}

pub fn handle_set(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let _ = (ctx, params_json);
    Err(InvokeError::unavailable("command not supported"))
}
