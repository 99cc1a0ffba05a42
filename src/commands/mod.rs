//! The commands this node executes, and the one table that routes an invocation to its handler.
//!
//! One module per command family. [`COMMANDS`] is read by advertising (`connect.caps` and
//! `connect.commands`), by the command surface a node serves, and by dispatch, so the node never
//! declares a command it cannot run, nor runs one it did not declare. Adding a command means
//! adding one entry. Anything not in the table is answered `command not supported`.

pub mod allowlist;
mod context;
pub mod exec_approvals;
pub mod file_transfer;
pub mod host_files;
pub mod mcp_tools;
pub mod notify;
pub mod ollama;
pub mod system_run;
pub mod system_which;

use std::sync::Arc;

pub use context::{InvokeContext, NodeRuntime};

use crate::invoke::{require_params, Call, CommandSet, InvokeError, InvokeResult};

/// One command: its wire name, the capability it belongs to, its handler, and whether this
/// host can serve it.
pub struct Command {
    pub name: &'static str,
    /// The capability it belongs to; empty for a command of none (`system.notify`).
    pub cap: &'static str,
    handler: fn(&InvokeContext, Option<&str>) -> InvokeResult,
    /// Whether the command is offered on this host (a browser was found, for example).
    available: fn(&NodeRuntime) -> bool,
}

fn always(_: &NodeRuntime) -> bool {
    true
}

/// Every command this build implements.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "system.execApprovals.get",
        cap: "system",
        handler: exec_approvals::handle_get,
        available: always,
    },
    Command {
        name: "system.execApprovals.set",
        cap: "system",
        handler: exec_approvals::handle_set,
        available: always,
    },
    Command {
        name: "system.run",
        cap: "system",
        handler: system_run::handle_run,
        available: always,
    },
    Command {
        name: "system.run.prepare",
        cap: "system",
        handler: system_run::handle_prepare,
        available: always,
    },
    Command {
        name: "system.notify",
        cap: "",
        handler: notify::handle,
        available: |node| notify::available(&node.config, &node.path_env),
    },
    Command {
        name: "system.which",
        cap: "system",
        handler: system_which::handle,
        available: always,
    },
    Command {
        name: "file.stat",
        cap: "file",
        handler: file_transfer::stat,
        available: file_transfer::available,
    },
    Command {
        name: "file.fetch",
        cap: "file",
        handler: file_transfer::fetch,
        available: file_transfer::available,
    },
    Command {
        name: "file.write",
        cap: "file",
        handler: file_transfer::write,
        available: file_transfer::available,
    },
    Command {
        name: "dir.fetch",
        cap: "file",
        handler: file_transfer::fetch_tree,
        available: file_transfer::available,
    },
    Command {
        name: "dir.list",
        cap: "file",
        handler: file_transfer::list,
        available: file_transfer::available,
    },
    Command {
        name: "fs.listDir",
        cap: "system",
        handler: host_files::list_dir,
        available: host_files::available,
    },
    Command {
        name: "terminal.upload",
        cap: "system",
        handler: host_files::upload,
        available: host_files::available,
    },
    Command {
        name: "mcp.tools.call.v1",
        cap: "mcp",
        handler: mcp_tools::handle_call,
        available: always,
    },
    Command {
        name: "ollama.chat",
        cap: "local-inference",
        handler: ollama::handle_chat,
        available: |node| ollama::enabled(&node.config),
    },
    Command {
        name: "ollama.models",
        cap: "local-inference",
        handler: ollama::handle_models,
        available: |node| ollama::enabled(&node.config),
    },
    Command {
        name: "browser.proxy",
        cap: "browser",
        handler: browser_proxy,
        available: |node| node.browser.is_some(),
    },
];

fn browser_proxy(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let Some(browser) = &ctx.node.browser else {
        return Err(not_supported());
    };
    let params = require_params(params_json)?;
    browser.handle(&ctx.cancel, params)
}

fn not_supported() -> InvokeError {
    InvokeError::unavailable("command not supported")
}

/// The commands this node serves: the table's entries that are available on this host (and in
/// the `--commands` allowlist, when there is one), bound to the node's runtime.
pub struct CommandSurface {
    node: Arc<NodeRuntime>,
    served: Vec<&'static Command>,
    /// Whether a `--commands` allowlist chose the surface (node-surface.md §3.3).
    restricted: bool,
}

impl CommandSurface {
    /// Every command of [`COMMANDS`] this host can serve.
    pub fn new(node: Arc<NodeRuntime>) -> CommandSurface {
        let served = COMMANDS
            .iter()
            .filter(|command| (command.available)(&node))
            .collect();
        CommandSurface {
            node,
            served,
            restricted: false,
        }
    }

    /// The surface for `allowlist` (`None`: every available command). Ids this host cannot
    /// serve are dropped; an allowlist that keeps nothing is TS's start-up error.
    pub fn chosen(
        node: Arc<NodeRuntime>,
        allowlist: Option<&[String]>,
    ) -> Result<CommandSurface, String> {
        let mut surface = CommandSurface::new(node);
        let Some(allowlist) = allowlist else {
            return Ok(surface);
        };
        surface
            .served
            .retain(|command| allowlist.iter().any(|id| id == command.name));
        if surface.served.is_empty() {
            return Err(allowlist::nothing_retained(allowlist));
        }
        let dropped: Vec<&str> = allowlist
            .iter()
            .map(String::as_str)
            .filter(|id| !surface.served.iter().any(|command| command.name == *id))
            .collect();
        if !dropped.is_empty() {
            log::info!(
                "--commands: not available on this node, not advertised: {}",
                dropped.join(", ")
            );
        }
        surface.restricted = true;
        Ok(surface)
    }

    /// Whether an allowlist restricted the surface: then TS sends no `pathEnv` and publishes
    /// nothing on its own (no host stats, skills, plugin tools, runner inventory).
    pub fn restricted(&self) -> bool {
        self.restricted
    }

    /// The capability and command surface sent in `connect`: `(caps, commands)`, each sorted.
    pub fn advertised(&self) -> (Vec<String>, Vec<String>) {
        let mut caps: Vec<String> = Vec::new();
        let mut commands: Vec<String> = Vec::new();
        for command in &self.served {
            if !command.cap.is_empty() && !caps.iter().any(|cap| cap == command.cap) {
                caps.push(command.cap.to_string());
            }
            commands.push(command.name.to_string());
        }
        caps.sort();
        commands.sort();
        (caps, commands)
    }

    fn find(&self, name: &str) -> Option<&'static Command> {
        self.served
            .iter()
            .copied()
            .find(|command| command.name == name)
    }
}

impl CommandSet for CommandSurface {
    fn run(&self, call: Call, command: &str, params_json: Option<&str>) -> InvokeResult {
        match self.find(command) {
            Some(command) => {
                (command.handler)(&InvokeContext::new(call, self.node.clone()), params_json)
            }
            // TS answers this before any dispatch when an allowlist chose the surface.
            None if self.restricted => Err(InvokeError::unavailable(
                "command not advertised by this node",
            )),
            None => Err(not_supported()),
        }
    }
}

/// Runs one invocation's handler against every command available on `ctx.node` (tests and
/// fuzzing, where no session exists). Unknown commands get `command not supported`.
#[cfg(any(test, feature = "internals"))]
pub fn dispatch(ctx: &InvokeContext, command: &str, params_json: Option<&str>) -> InvokeResult {
    match COMMANDS
        .iter()
        .find(|entry| entry.name == command && (entry.available)(&ctx.node))
    {
        Some(entry) => (entry.handler)(ctx, params_json),
        None => Err(not_supported()),
    }
}

// Built on system_run's POSIX test support.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::invoke::pool::Pool;
    use std::sync::mpsc;

    #[test]
    fn the_table_names_each_command_once() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        for command in COMMANDS {
            // TS files `dir.*` under the `file` cap (node-surface §8.2).
            let under_cap = command.name.starts_with(command.cap)
                || (command.cap == "file" && command.name.starts_with("dir."))
                || (command.cap == "system"
                    && ["fs.listDir", "terminal.upload"].contains(&command.name));
            assert!(
                under_cap
                    || (command.cap == "local-inference" && command.name.starts_with("ollama.")),
                "{} is not under its cap {}",
                command.name,
                command.cap
            );
        }
    }

    #[test]
    fn without_a_browser_the_surface_has_no_browser_and_refuses_it() {
        use crate::commands::system_run::tests::support::context;
        let (ctx, _events, _dir) = context("surface-no-browser", serde_json::json!({}));
        assert!(ctx.node.browser.is_none());
        let surface = CommandSurface::new(ctx.node.clone());
        let (caps, commands) = surface.advertised();
        let files: &[&str] = if cfg!(unix) {
            &["dir.fetch", "dir.list", "file.fetch", "file.stat", "file.write"]
        } else {
            &[]
        };
        let host: &[&str] = if cfg!(unix) { &["fs.listDir"] } else { &[] };
        let system = [
            "mcp.tools.call.v1",
            "ollama.chat",
            "ollama.models",
            "system.execApprovals.get",
            "system.execApprovals.set",
            "system.run",
            "system.run.prepare",
            "system.which",
        ];
        let upload: &[&str] = if cfg!(unix) { &["terminal.upload"] } else { &[] };
        let caps_expected: &[&str] = if cfg!(unix) {
            &["file", "local-inference", "mcp", "system"]
        } else {
            &["local-inference", "mcp", "system"]
        };
        assert_eq!(caps, caps_expected);
        assert_eq!(commands, [files, host, &system[..], upload].concat());
        let call = Call {
            cancel: ctx.cancel.clone(),
            events: ctx.events.clone(),
            timeout_ms: None,
        };
        for command in ["browser.proxy", "system.nope", ""] {
            assert_eq!(
                surface.run(call.clone(), command, Some("{}")).unwrap_err(),
                not_supported()
            );
            assert_eq!(
                dispatch(&ctx, command, Some("{}")).unwrap_err(),
                not_supported()
            );
        }
        assert!(surface
            .run(call, "system.which", Some(r#"{"bins":["sh"]}"#))
            .is_ok());
    }

    #[test]
    fn an_allowlist_restricts_advertising_and_dispatch() {
        use crate::commands::system_run::tests::support::context;
        let (ctx, _events, _dir) = context("surface-allowlist", serde_json::json!({}));
        let only = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        let surface =
            CommandSurface::chosen(ctx.node.clone(), Some(&only(&["system.which", "desktop.stream"])))
                .unwrap();
        assert!(surface.restricted());
        assert_eq!(surface.advertised(), (only(&["system"]), only(&["system.which"])));
        let call = Call {
            cancel: ctx.cancel.clone(),
            events: ctx.events.clone(),
            timeout_ms: None,
        };
        let refused = surface
            .run(call.clone(), "system.run", Some(r#"{"command":["true"]}"#))
            .unwrap_err();
        assert_eq!(
            refused,
            InvokeError::unavailable("command not advertised by this node")
        );
        assert!(surface
            .run(call, "system.which", Some(r#"{"bins":["sh"]}"#))
            .is_ok());
        // Nothing available survives: TS's start-up error.
        let err = CommandSurface::chosen(ctx.node.clone(), Some(&only(&["desktop.stream"])))
            .err()
            .unwrap();
        assert!(err.starts_with("Node command allowlist retained no available commands."));
        let full = CommandSurface::chosen(ctx.node.clone(), None).unwrap();
        assert!(!full.restricted());
        assert!(full.advertised().1.contains(&"system.run".to_string()));
    }

    /// Fuzz finding: params nested close to serde_json's 128-level limit overflowed the old
    /// 256 KiB worker stack (in debug builds; release had little margin), killing the node.
    #[test]
    fn deeply_nested_params_fit_the_worker_stack() {
        use crate::commands::system_run::tests::support::context;
        let (ctx, _events, _dir) = context("pool-deep-params", serde_json::json!({}));
        let nested = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        let jobs = [
            (
                "system.execApprovals.set",
                format!(
                    r#"{{"file":{{"version":1,"agents":{{"main":{{"x":{}}}}}}}}}"#,
                    nested(123)
                ),
            ),
            (
                "system.run.prepare",
                format!(r#"{{"command":["true"],"env":{}}}"#, nested(126)),
            ),
            ("system.which", format!(r#"{{"bins":{}}}"#, nested(126))),
        ];
        let pool = Pool::new(1, 4);
        let (tx, rx) = mpsc::channel();
        pool.try_submit(Box::new(move || {
            for (command, params) in jobs {
                let answer = crate::commands::dispatch(&ctx, command, Some(&params));
                tx.send((command, answer.is_ok())).unwrap();
            }
        }))
        .ok()
        .unwrap();
        assert_eq!(rx.recv().unwrap(), ("system.execApprovals.set", true));
        assert_eq!(rx.recv().unwrap().0, "system.run.prepare");
        assert_eq!(rx.recv().unwrap(), ("system.which", true));
    }
}
