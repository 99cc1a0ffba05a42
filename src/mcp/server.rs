//! One configured MCP server: the thread that owns its connection for the node's lifetime.
//!
//! The thread connects (at most six servers connect at once), initializes, lists the tools,
//! then serves: tool calls from its bounded queue go out as `tools/call` requests, several in
//! flight at once, each with its deadline; answers, pings and `tools/list_changed` come back
//! through the transport. When the connection ends the server's tools are withdrawn, every
//! call in flight fails, and the thread reconnects with TS's backoff (250 ms doubling to 60 s,
//! back to 250 ms after a connection that listed its tools).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, Sender};
use serde_json::{json, Value};

use super::catalog::{select_tools, truncate_utf16, ListedTool};
use super::client::{check_call_result, Connection, Event, Listing, RpcError, REQUEST_TIMEOUT};
use super::config::{ServerConfig, Transport as TransportConfig};
use super::{CallError, Host};

const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(60);
const CONNECT_CONCURRENCY: usize = 6;
const ERROR_MAX_UNITS: usize = 1024;
/// Calls waiting for the server thread; more are refused rather than queued without bound.
pub const QUEUE_BOUND: usize = 32;

pub enum Job {
    Call {
        tool: String,
        arguments: Value,
        timeout: Duration,
        reply: Sender<Result<Value, CallError>>,
    },
    Stop,
}

/// Admission for connection attempts: at most [`CONNECT_CONCURRENCY`] at once.
#[derive(Default)]
pub struct Admission {
    running: Mutex<usize>,
    freed: Condvar,
}

impl Admission {
    fn enter(&self) -> AdmissionSlot<'_> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= CONNECT_CONCURRENCY {
            running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        AdmissionSlot(self)
    }
}

struct AdmissionSlot<'a>(&'a Admission);

impl Drop for AdmissionSlot<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        self.0.freed.notify_one();
    }
}

pub fn queue() -> (Sender<Job>, Receiver<Job>) {
    bounded(QUEUE_BOUND)
}

/// How a served connection ended.
enum End {
    Closed,
    Failed(RpcError),
    Stop,
}

/// The server's thread: connect, serve, reconnect, until [`Job::Stop`].
pub fn run(config: ServerConfig, index: usize, host: Arc<Host>, jobs: Receiver<Job>) {
    let name = config.name.clone();
    let mut delay = RETRY_FIRST;
    let mut first = true;
    loop {
        let attempt = {
            let _slot = host.admission.enter();
            connect(&config, &host)
        };
        match attempt {
            Ok((mut connection, tools)) => {
                delay = RETRY_FIRST;
                host.set_server(index, true, tools.clone());
                let end = serve(&config, &mut connection, tools, index, &host, &jobs);
                host.set_server(index, false, Vec::new());
                connection.close();
                match end {
                    End::Stop => return,
                    End::Closed => log::warn!("node host MCP server \"{name}\" disconnected"),
                    End::Failed(err) => log::warn!(
                        "node host MCP server \"{name}\" tool refresh failed: {}",
                        format_error(&err.to_string())
                    ),
                }
            }
            Err(err) => {
                let what = if first { "failed" } else { "reconnect failed" };
                log::warn!(
                    "node host MCP server \"{name}\" {what}: {}",
                    format_error(&err.to_string())
                );
            }
        }
        first = false;
        let wait = delay;
        delay = (delay * 2).min(RETRY_MAX);
        if host.stopping() || !idle(&name, &jobs, wait) {
            return;
        }
    }
}

/// Waits `wait` while the server is down, refusing the calls that still arrive (a call raced
/// the disconnect); false on [`Job::Stop`].
fn idle(name: &str, jobs: &Receiver<Job>, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        match jobs.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Job::Stop) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return false,
            Ok(Job::Call { reply, .. }) => {
                let _ = reply.send(Err(CallError::unavailable(name)));
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => return true,
        }
    }
}

fn connect(config: &ServerConfig, host: &Host) -> Result<(Connection, Vec<ListedTool>), RpcError> {
    let mut connection = open(config, host)?;
    connection.initialize(config.connection_timeout)?;
    let tools = list_blocking(&mut connection, config)?;
    Ok((connection, tools))
}

fn open(config: &ServerConfig, host: &Host) -> Result<Connection, RpcError> {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let transport: Box<dyn super::client::Transport> = match &config.transport {
        TransportConfig::Stdio {
            command,
            args,
            env,
            cwd,
        } => Box::new(
            super::stdio::StdioTransport::spawn(
                super::stdio::Launch {
                    server: &config.name,
                    command,
                    args,
                    env: super::config::child_env(env, &host.secrets),
                    cwd: cwd.as_deref(),
                },
                sender,
            )
            .map_err(|err| RpcError::new(-32000, err))?,
        ),
        TransportConfig::Http { .. } => Box::new(
            super::http::HttpTransport::open(config, sender)
                .map_err(|err| RpcError::new(-32000, err))?,
        ),
    };
    Ok(Connection::new(transport, receiver, host.stop_signal()))
}

/// `tools/list`, every page, before the server is offered.
fn list_blocking(connection: &mut Connection, config: &ServerConfig) -> Result<Vec<ListedTool>, RpcError> {
    let mut listing = Listing::new(config.request_timeout);
    let mut cursor = None;
    let mut changed = false;
    loop {
        let id = listing.request_page(connection, cursor)?;
        let page = connection.wait_for(id, listing.deadline, &mut changed)?;
        cursor = listing.on_page(page)?;
        if cursor.is_none() {
            return Ok(select_tools(&listing.tools, &config.filter));
        }
    }
}

enum Pending {
    Call {
        tool: String,
        deadline: Instant,
        reply: Sender<Result<Value, CallError>>,
    },
    Page,
}

fn serve(
    config: &ServerConfig,
    connection: &mut Connection,
    mut tools: Vec<ListedTool>,
    index: usize,
    host: &Host,
    jobs: &Receiver<Job>,
) -> End {
    let name = config.name.as_str();
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    // The refresh under way, and whether another change came in meanwhile.
    let mut listing: Option<Listing> = None;
    let mut refresh_again = false;
    let incoming = connection.incoming().clone();
    loop {
        let next_deadline = pending
            .values()
            .filter_map(|p| match p {
                Pending::Call { deadline, .. } => Some(*deadline),
                Pending::Page => None,
            })
            .chain(listing.as_ref().map(|l| l.deadline))
            .min();
        let timeout = next_deadline.map_or(Duration::from_secs(86_400), |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        select! {
            recv(jobs) -> job => match job {
                Ok(Job::Call { tool, arguments, timeout, reply }) => {
                    let params = json!({"name": tool, "arguments": arguments});
                    match connection.request("tools/call", Some(params)) {
                        Ok(id) => {
                            pending.insert(id, Pending::Call { tool, deadline: Instant::now() + timeout, reply });
                        }
                        Err(_) => {
                            let _ = reply.send(Err(CallError::disconnected(name)));
                        }
                    }
                }
                Ok(Job::Stop) | Err(_) => {
                    fail_calls(&mut pending, name);
                    return End::Stop;
                }
            },
            recv(incoming) -> message => {
                let message = message.unwrap_or(super::client::Incoming::Closed("reader gone".into()));
                match connection.classify(message) {
                    Event::Response { id, result } => match pending.remove(&id) {
                        Some(Pending::Call { tool, reply, .. }) => {
                            let outcome = finish_call(&tools, &tool, result);
                            let _ = reply.send(outcome);
                        }
                        Some(Pending::Page) => {
                            let Some(current) = listing.as_mut() else { continue };
                            match result.and_then(|page| current.on_page(page)) {
                                Ok(Some(cursor)) => match current.request_page(connection, Some(cursor)) {
                                    Ok(id) => { pending.insert(id, Pending::Page); }
                                    Err(err) => { fail_calls(&mut pending, name); return End::Failed(err); }
                                },
                                Ok(None) => {
                                    let done = listing.take().map(|l| l.tools).unwrap_or_default();
                                    tools = select_tools(&done, &config.filter);
                                    host.set_server(index, true, tools.clone());
                                    if std::mem::take(&mut refresh_again) {
                                        match start_refresh(connection, config, &mut pending) {
                                            Ok(l) => listing = Some(l),
                                            Err(err) => { fail_calls(&mut pending, name); return End::Failed(err); }
                                        }
                                    }
                                }
                                Err(err) => { fail_calls(&mut pending, name); return End::Failed(err); }
                            }
                        }
                        None => {}
                    },
                    Event::ToolsChanged => {
                        if listing.is_some() {
                            refresh_again = true;
                        } else {
                            match start_refresh(connection, config, &mut pending) {
                                Ok(l) => listing = Some(l),
                                Err(err) => { fail_calls(&mut pending, name); return End::Failed(err); }
                            }
                        }
                    }
                    Event::Closed(reason) => {
                        log::debug!("mcp {name}: {reason}");
                        fail_calls(&mut pending, name);
                        return End::Closed;
                    }
                    Event::Other => {}
                }
            },
            default(timeout) => {}
        }
        // Deadlines.
        let now = Instant::now();
        if listing.as_ref().is_some_and(|l| l.deadline <= now) {
            fail_calls(&mut pending, name);
            return End::Failed(RpcError::new(
                -32603,
                format!("MCP tool listing timed out after {}ms", config.request_timeout.as_millis()),
            ));
        }
        let expired: Vec<u64> = pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Call { deadline, .. } if *deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(Pending::Call { reply, .. }) = pending.remove(&id) {
                connection.cancel(id, "McpError: MCP error -32001: Request timed out");
                let _ = reply.send(Err(CallError::from_rpc(&RpcError::timed_out())));
            }
        }
    }
}

fn start_refresh(
    connection: &mut Connection,
    config: &ServerConfig,
    pending: &mut HashMap<u64, Pending>,
) -> Result<Listing, RpcError> {
    let mut listing = Listing::new(config.request_timeout);
    let id = listing.request_page(connection, None)?;
    pending.insert(id, Pending::Page);
    Ok(listing)
}

fn fail_calls(pending: &mut HashMap<u64, Pending>, name: &str) {
    for (_, entry) in pending.drain() {
        if let Pending::Call { reply, .. } = entry {
            let _ = reply.send(Err(CallError::disconnected(name)));
        }
    }
}

/// A `tools/call` answer: its shape checked, then its `structuredContent` against the tool's
/// `outputSchema` (TS `normalizeMcpToolCatalog`'s result validators).
fn finish_call(tools: &[ListedTool], tool: &str, result: Result<Value, RpcError>) -> Result<Value, CallError> {
    let result = result.map_err(|err| CallError::from_rpc(&err))?;
    check_call_result(&result).map_err(|err| CallError::from_rpc(&err))?;
    let schema = tools
        .iter()
        .find(|t| t.name == tool)
        .and_then(|t| t.output_schema.as_ref());
    if let Some(schema) = schema {
        let is_error = result.get("isError") == Some(&Value::Bool(true));
        match result.get("structuredContent") {
            None if !is_error => {
                return Err(CallError::from_rpc(&RpcError::new(
                    -32600,
                    format!("Tool {tool} has an output schema but did not return structured content"),
                )))
            }
            None => {}
            Some(structured) => {
                if let Err(why) = super::schema::validate(schema, structured) {
                    return Err(CallError::from_rpc(&RpcError::new(
                        -32602,
                        format!("Structured content does not match the tool's output schema: {why}"),
                    )));
                }
            }
        }
    }
    Ok(result)
}

/// TS `formatMcpError`: at most 1024 UTF-16 units.
pub fn format_error(message: &str) -> String {
    truncate_utf16(message, ERROR_MAX_UNITS)
}

impl CallError {
    pub fn unavailable(server: &str) -> CallError {
        CallError::new("MCP_SERVER_UNAVAILABLE", format!("MCP server \"{server}\" is unavailable"))
    }
    fn disconnected(server: &str) -> CallError {
        CallError::new("MCP_SERVER_UNAVAILABLE", format!("MCP server \"{server}\" disconnected"))
    }
    fn from_rpc(err: &RpcError) -> CallError {
        let code = if err.code == REQUEST_TIMEOUT {
            "MCP_TOOL_TIMEOUT"
        } else {
            "MCP_TOOL_ERROR"
        };
        CallError::new(code, format_error(&err.to_string()))
    }
}
