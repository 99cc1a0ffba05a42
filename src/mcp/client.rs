//! JSON-RPC 2.0 as an MCP client speaks it, over any [`Transport`]: numbered requests and their
//! answers, the server's own requests (`ping`) and notifications, deadlines, and the bounded
//! `tools/list` pagination of node-surface §9.3.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::{json, Value};

/// What a transport's reader hands the connection.
#[derive(Debug)]
pub enum Incoming {
    Message(Value),
    /// The server went away (process exited, stream ended, HTTP failure); why.
    Closed(String),
}

/// A channel to one server. Sending never waits for an answer: answers come back through the
/// transport's [`Incoming`] receiver.
pub trait Transport: Send {
    fn send(&mut self, message: &Value) -> Result<(), String>;
    /// Ends the connection (stops the server process, closes HTTP streams).
    fn close(&mut self);
}

/// An MCP error as the SDK formats it: `MCP error <code>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

pub const REQUEST_TIMEOUT: i64 = -32001;
pub const CONNECTION_CLOSED: i64 = -32000;
const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }
    pub fn timed_out() -> RpcError {
        RpcError::new(REQUEST_TIMEOUT, "Request timed out")
    }
    pub fn closed() -> RpcError {
        RpcError::new(CONNECTION_CLOSED, "Connection closed")
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MCP error {}: {}", self.code, self.message)
    }
}

/// The protocol versions this client accepts from `initialize` (MCP SDK 1.30).
const SUPPORTED_VERSIONS: &[&str] = &[
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
    "2024-10-07",
];

/// A message from the server, sorted out.
pub enum Event {
    Response {
        id: u64,
        result: Result<Value, RpcError>,
    },
    ToolsChanged,
    Closed(String),
    /// Anything else (other notifications, a ping already answered, junk).
    Other,
}

/// One connection: the transport, its incoming messages, and the request counter.
pub struct Connection {
    transport: Box<dyn Transport>,
    incoming: Receiver<Incoming>,
    /// Disconnects when the node stops: start-up waits end at once.
    stop: Receiver<()>,
    next_id: u64,
    closed: bool,
}

impl Connection {
    pub fn new(
        transport: Box<dyn Transport>,
        incoming: Receiver<Incoming>,
        stop: Receiver<()>,
    ) -> Connection {
        Connection {
            transport,
            incoming,
            stop,
            next_id: 0,
            closed: false,
        }
    }

    pub fn incoming(&self) -> &Receiver<Incoming> {
        &self.incoming
    }

    /// Sends a request; its id.
    pub fn request(&mut self, method: &str, params: Option<Value>) -> Result<u64, RpcError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send(&message)?;
        Ok(id)
    }

    pub fn notify(&mut self, method: &str, params: Option<Value>) -> Result<(), RpcError> {
        let mut message = json!({"jsonrpc": "2.0", "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send(&message)
    }

    fn send(&mut self, message: &Value) -> Result<(), RpcError> {
        if self.closed {
            return Err(RpcError::closed());
        }
        self.transport.send(message).map_err(|err| {
            log::debug!("mcp: send failed: {err}");
            RpcError::closed()
        })
    }

    /// Tells the server a request is abandoned (what the SDK sends on a timeout).
    pub fn cancel(&mut self, id: u64, reason: &str) {
        let _ = self.notify(
            "notifications/cancelled",
            Some(json!({"requestId": id, "reason": reason})),
        );
    }

    /// Sorts out one incoming message, answering the server's own requests on the way.
    pub fn classify(&mut self, incoming: Incoming) -> Event {
        let message = match incoming {
            Incoming::Message(message) => message,
            Incoming::Closed(reason) => {
                self.closed = true;
                return Event::Closed(reason);
            }
        };
        let method = message.get("method").and_then(Value::as_str);
        let id = message.get("id");
        match (method, id) {
            (Some(method), Some(id)) => {
                // A request from the server: the SDK client answers `ping`, nothing else.
                let answer = if method == "ping" {
                    json!({"jsonrpc": "2.0", "id": id, "result": {}})
                } else {
                    json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": METHOD_NOT_FOUND, "message": "Method not found"}})
                };
                let _ = self.send(&answer);
                Event::Other
            }
            (Some("notifications/tools/list_changed"), None) => Event::ToolsChanged,
            (Some(_), None) => Event::Other,
            (None, Some(id)) => {
                let Some(id) = id.as_u64() else {
                    return Event::Other;
                };
                let result = match (message.get("result"), message.get("error")) {
                    (_, Some(error)) => Err(RpcError::new(
                        error.get("code").and_then(Value::as_i64).unwrap_or(-32603),
                        error
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("Unknown error"),
                    )),
                    (Some(result), None) => Ok(result.clone()),
                    (None, None) => Err(RpcError::new(-32603, "response without a result")),
                };
                Event::Response { id, result }
            }
            (None, None) => Event::Other,
        }
    }

    /// Waits for the answer to request `id` until `deadline` (start-up only, while nothing
    /// else is in flight). Notes a `tools/list_changed` in `changed`.
    pub fn wait_for(
        &mut self,
        id: u64,
        deadline: Instant,
        changed: &mut bool,
    ) -> Result<Value, RpcError> {
        loop {
            let timeout = deadline.saturating_duration_since(Instant::now());
            let incoming = crossbeam_channel::select! {
                recv(self.incoming) -> incoming => {
                    incoming.unwrap_or_else(|_| Incoming::Closed("reader gone".into()))
                }
                recv(self.stop) -> _ => return Err(RpcError::closed()),
                default(timeout) => {
                    self.cancel(id, "McpError: MCP error -32001: Request timed out");
                    return Err(RpcError::timed_out());
                }
            };
            match self.classify(incoming) {
                Event::Response { id: got, result } if got == id => return result,
                Event::ToolsChanged => *changed = true,
                Event::Closed(reason) => {
                    log::debug!("mcp: connection closed: {reason}");
                    return Err(RpcError::closed());
                }
                _ => {}
            }
        }
    }

    /// `initialize` as the `openclaw-node-host` client, then `notifications/initialized`.
    pub fn initialize(&mut self, timeout: Duration) -> Result<(), RpcError> {
        let deadline = Instant::now() + timeout;
        let id = self.request(
            "initialize",
            Some(json!({
                "protocolVersion": SUPPORTED_VERSIONS[0],
                "capabilities": {},
                "clientInfo": {"name": "openclaw-node-host", "version": env!("CARGO_PKG_VERSION")},
            })),
        )?;
        let mut changed = false;
        let result = self.wait_for(id, deadline, &mut changed)?;
        let version = result.get("protocolVersion").and_then(Value::as_str);
        match version {
            Some(version) if SUPPORTED_VERSIONS.contains(&version) => {}
            other => {
                return Err(RpcError::new(
                    -32603,
                    format!(
                        "Server's protocol version is not supported: {}",
                        other.unwrap_or("undefined")
                    ),
                ))
            }
        }
        self.notify("notifications/initialized", None)
    }

    pub fn close(&mut self) {
        self.closed = true;
        self.transport.close();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.transport.close();
    }
}

const MAX_PAGES: usize = 128;
const MAX_LISTED_TOOLS: usize = 16384;
const MAX_LIST_BYTES: usize = 10 * 1024 * 1024;

/// A `tools/list` in progress: the pages so far, within TS's bounds.
pub struct Listing {
    pub tools: Vec<Value>,
    seen_cursors: HashSet<String>,
    pages: usize,
    bytes: usize,
    pub deadline: Instant,
}

impl Listing {
    pub fn new(timeout: Duration) -> Listing {
        Listing {
            tools: Vec::new(),
            seen_cursors: HashSet::new(),
            pages: 0,
            bytes: 0,
            deadline: Instant::now() + timeout,
        }
    }

    /// Sends the request for the next page (`cursor`, none for the first).
    pub fn request_page(
        &mut self,
        connection: &mut Connection,
        cursor: Option<String>,
    ) -> Result<u64, RpcError> {
        if self.pages >= MAX_PAGES {
            return Err(list_error(format!("exceeded {MAX_PAGES} pages")));
        }
        self.pages += 1;
        connection.request("tools/list", cursor.map(|cursor| json!({"cursor": cursor})))
    }

    /// Takes one page; the cursor of the next one, if any.
    pub fn on_page(&mut self, page: Value) -> Result<Option<String>, RpcError> {
        let bytes = serde_json::to_string(&page).map_or(usize::MAX, |t| t.len());
        if self.bytes.saturating_add(bytes) > MAX_LIST_BYTES {
            return Err(list_error(format!("exceeded {MAX_LIST_BYTES} bytes")));
        }
        self.bytes += bytes;
        let Some(tools) = page.get("tools").and_then(Value::as_array) else {
            return Err(RpcError::new(INVALID_PARAMS, "Invalid tools/list result: tools must be an array"));
        };
        for tool in tools {
            check_tool(tool)?;
            if self.tools.len() >= MAX_LISTED_TOOLS {
                return Err(list_error(format!("exceeded {MAX_LISTED_TOOLS} tools")));
            }
            self.tools.push(tool.clone());
        }
        match page.get("nextCursor") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(cursor)) => {
                if !self.seen_cursors.insert(cursor.clone()) {
                    return Err(list_error("returned a repeated pagination cursor".into()));
                }
                Ok(Some(cursor.clone()))
            }
            Some(_) => Err(RpcError::new(INVALID_PARAMS, "Invalid tools/list result: nextCursor must be a string")),
        }
    }
}

fn list_error(what: String) -> RpcError {
    RpcError::new(-32603, format!("MCP tool listing {what}"))
}

/// The SDK's schema for a listed tool: a string `name` and an object `inputSchema` of type
/// `object`; `outputSchema`, when present, likewise.
fn check_tool(tool: &Value) -> Result<(), RpcError> {
    let invalid = |what: &str| {
        Err(RpcError::new(
            INVALID_PARAMS,
            format!("Invalid tools/list result: {what}"),
        ))
    };
    if !tool.get("name").is_some_and(Value::is_string) {
        return invalid("a tool has no string name");
    }
    for key in ["inputSchema", "outputSchema"] {
        match tool.get(key) {
            None if key == "outputSchema" => {}
            Some(schema) if schema.get("type").and_then(Value::as_str) == Some("object") => {}
            _ => return invalid(&format!("{key} of a tool must be an object schema of type \"object\"")),
        }
    }
    if let Some(schema) = tool.get("outputSchema") {
        super::schema::check_schema(schema)
            .map_err(|err| RpcError::new(INVALID_PARAMS, format!("Invalid output schema: {err}")))?;
    }
    Ok(())
}

/// The SDK's check of a `tools/call` result's shape.
pub fn check_call_result(result: &Value) -> Result<(), RpcError> {
    let invalid = |what: &str| {
        Err(RpcError::new(
            INVALID_PARAMS,
            format!("Invalid tools/call result: {what}"),
        ))
    };
    if !result.is_object() {
        return invalid("not an object");
    }
    if !result.get("content").map_or(true, Value::is_array) {
        return invalid("content must be an array");
    }
    if !result.get("structuredContent").map_or(true, Value::is_object) {
        return invalid("structuredContent must be an object");
    }
    if !result.get("isError").map_or(true, Value::is_boolean) {
        return invalid("isError must be a boolean");
    }
    Ok(())
}
