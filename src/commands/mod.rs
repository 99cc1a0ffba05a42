//! The commands this node executes, and the table that routes an invocation to its handler.
//!
//! One module per command family. [`advertised`] and [`dispatch`] read the same table, so the
//! node never declares a command it cannot run, nor runs one it did not declare.

pub mod exec_approvals;
pub mod system_run;
pub mod system_which;

use crate::invoke::{InvokeContext, InvokeError, InvokeResult};
use crate::node::NodeRuntime;

/// The capability and command surface sent in `connect`: `(caps, commands)`, each sorted.
pub fn advertised(node: &NodeRuntime) -> (Vec<String>, Vec<String>) {
    let mut caps = vec!["system".to_string()];
    let mut commands: Vec<String> = SYSTEM_COMMANDS.iter().map(|c| c.to_string()).collect();
    if node.browser.is_some() {
        caps.push("browser".to_string());
        commands.push("browser.proxy".to_string());
    }
    caps.sort();
    commands.sort();
    (caps, commands)
}

const SYSTEM_COMMANDS: [&str; 5] = [
    "system.execApprovals.get",
    "system.execApprovals.set",
    "system.run",
    "system.run.prepare",
    "system.which",
];

/// Runs one invocation's handler. Unknown commands get the protocol's `command not supported`.
pub fn dispatch(ctx: &InvokeContext, command: &str, params_json: Option<&str>) -> InvokeResult {
    match command {
        "system.execApprovals.get" => exec_approvals::handle_get(ctx, params_json),
        "system.execApprovals.set" => exec_approvals::handle_set(ctx, params_json),
        "system.which" => system_which::handle(ctx, params_json),
        "system.run.prepare" => system_run::handle_prepare(ctx, params_json),
        "system.run" => system_run::handle_run(ctx, params_json),
        "browser.proxy" => match &ctx.node.browser {
            Some(browser) => {
                let params = crate::invoke::require_params(params_json)?;
                browser.handle(ctx, params)
            }
            None => Err(InvokeError::unavailable("command not supported")),
        },
        _ => Err(InvokeError::unavailable("command not supported")),
    }
}
