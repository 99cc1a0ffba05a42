//! Route errors: an HTTP-like status with a JSON body `{error, code?, reason?}`, the shape the
//! TS browser control server answers with and the gateway and agent tool key on (spec §7.2).

use serde_json::{Map, Value};

use super::budget::Interrupt;
use super::cdp::CdpError;

/// `code` for actionability failures (spec §7.2).
pub const ACT_OPERATION_FAILED: &str = "ACT_OPERATION_FAILED";
/// `reason` for SSRF and URL policy refusals.
pub const NAVIGATION_BLOCKED: &str = "navigation_blocked";

/// A route that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteError {
    /// An error response: status 400..599 and its body.
    Http {
        status: u16,
        body: Map<String, Value>,
    },
    /// The request ran out of time or was cancelled; the proxy builds its own message.
    Interrupted(Interrupt),
    /// A JavaScript dialog is open on the page; act and snapshot answer this as a success
    /// with `blockedByDialog:true` and the dialog state (spec §6.5).
    BlockedByDialog,
}

impl RouteError {
    /// `status` with body `{error: message}`.
    pub fn new(status: u16, message: impl Into<String>) -> RouteError {
        let mut body = Map::new();
        body.insert("error".to_string(), Value::String(message.into()));
        RouteError::Http { status, body }
    }

    /// A generic failure: 500 with `Error: <message>`, as TS's `String(err)`.
    pub fn internal(message: impl std::fmt::Display) -> RouteError {
        RouteError::new(500, format!("Error: {message}"))
    }

    /// An actionability failure (500, `ACT_OPERATION_FAILED`, no `Error: ` prefix).
    pub fn act_failed(message: impl Into<String>) -> RouteError {
        RouteError::new(500, message).with_code(ACT_OPERATION_FAILED)
    }

    /// A navigation refused by policy (400, `reason: navigation_blocked`).
    pub fn blocked(message: impl Into<String>) -> RouteError {
        RouteError::new(400, message).with_reason(NAVIGATION_BLOCKED)
    }

    pub fn with_code(self, code: &str) -> RouteError {
        self.with_field("code", code)
    }

    pub fn with_reason(self, reason: &str) -> RouteError {
        self.with_field("reason", reason)
    }

    fn with_field(mut self, key: &str, value: &str) -> RouteError {
        if let RouteError::Http { body, .. } = &mut self {
            body.insert(key.to_string(), Value::String(value.to_string()));
        }
        self
    }

    /// The `error` text, for batch results and logs.
    pub fn message(&self) -> String {
        match self {
            RouteError::Http { body, .. } => body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            RouteError::Interrupted(Interrupt::Cancelled) => "cancelled".to_string(),
            RouteError::BlockedByDialog => "blocked by a JavaScript dialog".to_string(),
            RouteError::Interrupted(_) => "timed out".to_string(),
        }
    }
}

impl From<Interrupt> for RouteError {
    fn from(interrupt: Interrupt) -> RouteError {
        match interrupt {
            // An action-level timeout that no handler turned into its own message.
            Interrupt::ActionTimeout => {
                RouteError::new(500, "TimeoutError: browser action timed out")
            }
            other => RouteError::Interrupted(other),
        }
    }
}

impl From<CdpError> for RouteError {
    fn from(err: CdpError) -> RouteError {
        match err {
            CdpError::Timeout => RouteError::Interrupted(Interrupt::RequestTimeout),
            CdpError::Closed(reason) => RouteError::internal(format!(
                "browser connection closed ({reason}). The browser may have exited; POST /start starts it again."
            )),
            other => RouteError::internal(other),
        }
    }
}

/// A route's result.
pub type RouteResult<T> = Result<T, RouteError>;
