//! Invocations: what a command handler sees of a `node.invoke.request`, and what it answers.
//!
//! The session's reader thread decodes the request; the [`dispatch`]er registers it and hands
//! it to a [`pool`] worker; the worker runs it through the node's [`CommandSet`] and sends
//! exactly one `node.invoke.result` (or nothing, when the invocation was cancelled).
//!
//! This layer knows no command: it depends only on [`crate::cancel`].

pub mod dispatch;
pub mod pool;

pub use dispatch::{Call, CommandSet, Dispatcher, Invocations, ResultSink};

/// An invocation as the gateway sent it, already checked for the non-empty `id`, `nodeId` and
/// `command` the protocol requires.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    /// The params as JSON text: `paramsJSON`, or the `params` object re-serialised. `None` when
    /// the gateway sent neither (or `null`, or an empty string).
    pub params_json: Option<String>,
    /// The gateway's remaining deadline for the invoke (informational).
    pub timeout_ms: Option<u64>,
}

/// A failed invocation: `{ok:false, error:{code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeError {
    pub code: String,
    pub message: String,
}

impl InvokeError {
    pub fn new(code: &str, message: impl Into<String>) -> InvokeError {
        InvokeError {
            code: code.to_string(),
            message: message.into(),
        }
    }
    /// `INVALID_REQUEST` with the given message, verbatim.
    pub fn invalid(message: impl Into<String>) -> InvokeError {
        InvokeError::new("INVALID_REQUEST", message)
    }
    pub fn unavailable(message: impl Into<String>) -> InvokeError {
        InvokeError::new("UNAVAILABLE", message)
    }
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What a successful invocation answers, as JSON text either way, so that each command controls
/// its own key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Sent as the string `payloadJSON` (§4.2): what almost every command answers.
    JsonText(String),
    /// Sent as the object `payload`, inline in the result frame: what the TS host answers for
    /// `mcp.tools.call.v1`. The text must be one JSON value.
    #[allow(dead_code)] // until mcp.tools.call.v1 (issue 13) lands: remove then
    Inline(String),
}

impl Payload {
    /// The JSON text, whichever way it is sent.
    pub fn json(&self) -> &str {
        match self {
            Payload::JsonText(text) | Payload::Inline(text) => text,
        }
    }
}

/// A payload reads as its JSON text (tests, logs, and `serde_json::from_str(&payload)`).
impl std::ops::Deref for Payload {
    type Target = str;
    fn deref(&self) -> &str {
        self.json()
    }
}

impl PartialEq<&str> for Payload {
    fn eq(&self, text: &&str) -> bool {
        self.json() == *text
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Payload {
        Payload::JsonText(text.to_string())
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Payload {
        Payload::JsonText(text)
    }
}

/// What a handler answers: a [`Payload`], or an error.
pub type InvokeResult = Result<Payload, InvokeError>;

/// Where a handler's `node.event` requests go. In a live session this is the gateway link, which
/// sends the event and waits for the gateway's answer (the protocol wants `exec.finished` to be
/// acknowledged before the result goes out). Tests use a recorder.
pub trait EventSink: Send + Sync {
    /// Sends `node.event {event, payloadJSON}` and returns once the gateway answered or the
    /// request failed. Failures are logged, never fatal: the TS node ignores them too.
    fn node_event(&self, event: &str, payload_json: String);
}

/// An [`EventSink`] that drops everything (local CLI checks, benchmarks).
pub struct NoEvents;
impl EventSink for NoEvents {
    fn node_event(&self, _event: &str, _payload_json: String) {}
}

/// The rules shared by every command for `paramsJSON` (protocol §5, general rules): missing →
/// `paramsJSON required`, unparseable → `paramsJSON malformed JSON`.
pub fn require_params(params_json: Option<&str>) -> Result<serde_json::Value, InvokeError> {
    match params_json {
        None => Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: paramsJSON required",
        )),
        Some(text) => parse_params(text),
    }
}

/// Like [`require_params`], but a missing `paramsJSON` means `{}`.
pub fn optional_params(params_json: Option<&str>) -> Result<serde_json::Value, InvokeError> {
    match params_json {
        None => Ok(serde_json::Value::Object(Default::default())),
        Some(text) => parse_params(text),
    }
}

fn parse_params(text: &str) -> Result<serde_json::Value, InvokeError> {
    serde_json::from_str(text)
        .map_err(|_| InvokeError::invalid("Error: INVALID_REQUEST: paramsJSON malformed JSON"))
}
