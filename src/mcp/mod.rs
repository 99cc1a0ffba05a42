//! MCP servers hosted on the node (node-surface §9): the servers of `nodeHost.mcp.servers`,
//! their tool catalog (published as `node.pluginTools.update`), and `mcp.tools.call.v1`.
//!
//! Threads, not an async runtime: **one thread per configured server** owns that server's
//! connection for the node's lifetime (connect, list, serve, reconnect; see [`server`]). Calls
//! reach it through a **bounded queue** ([`server::QUEUE_BOUND`]); a full queue refuses the
//! call instead of piling up work. A stdio server adds two reader threads (its stdout and its
//! stderr), an HTTP server one per open stream or request. The invoking worker waits for its
//! call's answer on a channel of its own, so a server that hangs or crashes costs that call an
//! error (timeout, disconnect), never a worker for longer than the call's budget, never the
//! node. With no server configured nothing is started: no thread, no cost.
//!
//! The catalog is rebuilt whenever a server's tools change (listed, `tools/list_changed`,
//! withdrawn when it went away); a change wakes the publication (see [`crate::publish`]).

mod bound;
pub mod catalog;
mod client;
pub mod config;
mod http;
mod schema;
mod server;
mod stdio;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde_json::Value;

pub use bound::bound_result;
use catalog::ListedTool;
use crate::publish::{Publication, PublicationSpec};
use config::ServerConfig;
use server::Job;

/// A failed call: `{ok:false, error:{code, message}}` with one of the `MCP_*` codes of §9.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub code: &'static str,
    pub message: String,
}

impl CallError {
    fn new(code: &'static str, message: impl Into<String>) -> CallError {
        CallError {
            code,
            message: message.into(),
        }
    }
}

/// What the server threads share with the host.
struct Host {
    admission: server::Admission,
    secrets: crate::secrets::Secrets,
    /// Per server, in config order: connected, and the tools it offers.
    servers: Mutex<Vec<(String, bool, Vec<ListedTool>)>>,
    descriptors: Mutex<Vec<Value>>,
    on_change: Mutex<Option<Box<dyn Fn() + Send>>>,
    stopping: AtomicBool,
    /// Dropped when the node stops, which ends every wait of a connection starting up.
    stop_sender: Mutex<Option<Sender<()>>>,
    stop: Receiver<()>,
}

impl Host {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn stop_signal(&self) -> Receiver<()> {
        self.stop.clone()
    }

    /// A server connected (with its tools) or went away (`connected: false`, no tools).
    fn set_server(&self, index: usize, connected: bool, tools: Vec<ListedTool>) {
        let changed = {
            let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = servers.get_mut(index) {
                entry.1 = connected;
                entry.2 = tools;
            }
            let listed: Vec<(String, Vec<ListedTool>)> = servers
                .iter()
                .map(|(name, _, tools)| (name.clone(), tools.clone()))
                .collect();
            let total: usize = listed.iter().map(|(_, tools)| tools.len()).sum();
            let next = catalog::descriptors(&listed);
            if next.len() < total {
                log::warn!(
                    "node host MCP catalog bounded: published {} of {total} tools",
                    next.len()
                );
            }
            let mut descriptors = self.descriptors.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *descriptors != next;
            *descriptors = next;
            changed
        };
        if changed {
            if let Some(notify) = &*self.on_change.lock().unwrap_or_else(|p| p.into_inner()) {
                notify();
            }
        }
    }
}

/// Starts the servers of `nodeHost.mcp.servers` and the publication of their catalog
/// (`node.pluginTools.update`, the whole catalog each time; `{"tools":[]}` without servers, as
/// TS sends it).
pub fn start(
    config: &crate::config::NodeConfig,
    secrets: crate::secrets::Secrets,
) -> std::io::Result<(Arc<McpHost>, Publication)> {
    let host = Arc::new(McpHost::start(config::servers(config), secrets));
    let weak = Arc::downgrade(&host);
    let publication = Publication::spawn(
        PublicationSpec {
            name: "mcp-tools",
            method: "node.pluginTools.update",
            every: None,
            resend_unchanged: false,
            timeout: Duration::from_secs(30),
        },
        Box::new(move || weak.upgrade().map(|host| host.update_params())),
    )?;
    let changed = publication.clone();
    host.on_change(Box::new(move || changed.changed()));
    Ok((host, publication))
}

/// The node's MCP servers.
pub struct McpHost {
    host: Arc<Host>,
    /// Per server: its name, its call queue, and its own tool-call timeout.
    queues: Vec<(String, Sender<Job>, Duration)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl McpHost {
    /// Starts a thread for each enabled server of `servers` (none: nothing is started).
    pub fn start(servers: Vec<ServerConfig>, secrets: crate::secrets::Secrets) -> McpHost {
        let (stop_sender, stop) = crossbeam_channel::bounded(0);
        let host = Arc::new(Host {
            admission: server::Admission::default(),
            secrets,
            servers: Mutex::new(
                servers
                    .iter()
                    .map(|s| (s.name.clone(), false, Vec::new()))
                    .collect(),
            ),
            descriptors: Mutex::new(Vec::new()),
            on_change: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stop_sender: Mutex::new(Some(stop_sender)),
            stop,
        });
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for (index, config) in servers.into_iter().enumerate() {
            let (sender, receiver) = server::queue();
            let name = config.name.clone();
            let tool_call_timeout = config.tool_call_timeout;
            let shared = host.clone();
            match std::thread::Builder::new()
                .name(format!("mcp-{name}"))
                .spawn(move || {
                    let name = config.name.clone();
                    let host = shared.clone();
                    // A bug in this server's thread costs this server, not the node: its calls
                    // are then answered `unavailable`.
                    let run = std::panic::AssertUnwindSafe(|| server::run(config, index, shared, receiver));
                    if std::panic::catch_unwind(run).is_err() {
                        log::error!("node host MCP server \"{name}\" stopped after an internal error");
                        host.set_server(index, false, Vec::new());
                    }
                })
            {
                Ok(thread) => {
                    threads.push(thread);
                    queues.push((name, sender, tool_call_timeout));
                }
                Err(err) => log::warn!("node host MCP server \"{name}\" failed: cannot start its thread: {err}"),
            }
        }
        McpHost {
            host,
            queues,
            threads: Mutex::new(threads),
        }
    }

    /// Calls `notify` (on a server's thread) whenever the catalog changed.
    pub fn on_change(&self, notify: Box<dyn Fn() + Send>) {
        *self.host.on_change.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }

    /// The current catalog as `node.pluginTools.update` params.
    pub fn update_params(&self) -> String {
        let descriptors = self.host.descriptors.lock().unwrap_or_else(|p| p.into_inner());
        catalog::update_params(&descriptors)
    }

    /// Calls `tool` on `server` with `arguments` (an object) within `timeout` (or the server's
    /// own tool-call timeout, when shorter); the raw
    /// `tools/call` result, checked against the tool's output schema.
    pub fn call(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
        timeout: Duration,
        cancel: &crate::cancel::CancelToken,
    ) -> Result<Value, CallError> {
        let connected = self
            .host
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|(name, connected, _)| name == server && *connected);
        let queue = self.queues.iter().find(|(name, _, _)| name == server);
        let (Some((_, queue, own_timeout)), true) = (queue, connected) else {
            return Err(CallError::unavailable(server));
        };
        let published = self
            .host
            .descriptors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|d| d["mcp"]["server"] == server && d["mcp"]["tool"] == tool);
        if !published {
            return Err(CallError::new(
                "MCP_TOOL_UNAVAILABLE",
                format!("MCP tool \"{tool}\" is unavailable on server \"{server}\""),
            ));
        }
        // TS: min(the frame's timeout, the server's tool-call timeout).
        let timeout = timeout.min(*own_timeout);
        let (reply, answer) = crossbeam_channel::bounded(1);
        let job = Job::Call {
            tool: tool.to_string(),
            arguments,
            timeout,
            reply,
        };
        match queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(CallError::new(
                    "MCP_TOOL_ERROR",
                    format!("MCP server \"{server}\" has too many calls waiting; retry later"),
                ))
            }
            Err(TrySendError::Disconnected(_)) => return Err(CallError::unavailable(server)),
        }
        // The server thread answers by the deadline; the margin covers a thread that is busy
        // tearing a connection down. A cancelled invocation stops waiting (its result is not
        // sent); the server's late answer is then dropped.
        let deadline = std::time::Instant::now() + timeout + Duration::from_secs(5);
        loop {
            let mut select = crossbeam_channel::Select::new();
            select.recv(&answer);
            match cancel.ready_until(select, deadline) {
                crate::cancel::Woken::Ready(_) => {
                    if let Ok(outcome) = answer.try_recv() {
                        return outcome;
                    }
                }
                crate::cancel::Woken::Cancelled => {
                    return Err(CallError::new("MCP_TOOL_ERROR", "the invocation was cancelled"))
                }
                crate::cancel::Woken::TimedOut => {
                    return Err(CallError::new(
                        "MCP_TOOL_TIMEOUT",
                        "MCP error -32001: Request timed out",
                    ))
                }
            }
        }
    }

    /// Stops every server (their process groups included) and waits for their threads.
    pub fn shutdown(&self) {
        self.host.stopping.store(true, Ordering::SeqCst);
        drop(self.host.stop_sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        for (_, queue, _) in &self.queues {
            let _ = queue.send_timeout(Job::Stop, Duration::from_secs(1));
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for McpHost {
    fn drop(&mut self) {
        self.shutdown();
    }
}
