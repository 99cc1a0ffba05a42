//! The node's side of one session as workers see it: send a request and wait for its response,
//! send a result, send an event.
//!
//! Every outbound frame goes through one channel to the writer thread. Responses are routed
//! back by id: the reader thread looks the id up in `pending` and hands the frame to whoever
//! waits for it. When the session ends, `pending` is cleared, so every waiter wakes with an error
//! instead of waiting out its timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use serde::Serialize;

use super::frames::{self, InvokeResultParams, NodeEventParams, ReqFrame, ResFrame, ResultError};
use crate::invoke::{EventSink, InvokeError, InvokeResult};

/// What the writer thread is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// Bytes tungstenite's reading side produced (HTTP upgrade, pong, close reply): written as is.
    Raw(Vec<u8>),
    /// One text frame.
    Text(String),
    /// Send a close frame with this code and reason, then end the connection.
    Close(u16, String),
}

/// How long the node waits for the gateway to answer one of its requests (§1.8).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request got no response.
#[derive(Debug)]
pub enum LinkError {
    /// The session ended before the response came.
    Closed,
    TimedOut,
}

/// A cheap, clonable handle on one session's outbound side.
#[derive(Clone)]
pub struct GatewayLink {
    inner: Arc<LinkInner>,
}

struct LinkInner {
    outbound: Sender<Outbound>,
    pending: Mutex<HashMap<String, Sender<ResFrame>>>,
    next_id: AtomicU64,
    tag: String,
    max_payload: AtomicUsize,
    open: AtomicBool,
}

impl GatewayLink {
    pub fn new(outbound: Sender<Outbound>, tag: String) -> GatewayLink {
        GatewayLink {
            inner: Arc::new(LinkInner {
                outbound,
                pending: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                tag,
                max_payload: AtomicUsize::new(frames::MAX_PAYLOAD_DEFAULT),
                open: AtomicBool::new(true),
            }),
        }
    }

    /// A fresh request id, `"<n>:<session tag>"` (the gateway treats ids as opaque).
    pub fn next_request_id(&self) -> String {
        format!(
            "{}:{}",
            self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            self.inner.tag
        )
    }

    pub fn set_max_payload(&self, bytes: usize) {
        self.inner.max_payload.store(bytes, Ordering::Relaxed);
    }

    /// Hands one outbound item to the writer. Fails quietly once the session is over.
    pub fn send(&self, item: Outbound) -> bool {
        self.inner.open.load(Ordering::Acquire) && self.inner.outbound.send(item).is_ok()
    }

    /// Sends `method(params)` and waits for the gateway's response.
    pub fn request(
        &self,
        method: &str,
        params: impl Serialize,
        timeout: Duration,
    ) -> Result<ResFrame, LinkError> {
        let id = self.next_request_id();
        let (tx, rx) = bounded(1);
        self.lock_pending().insert(id.clone(), tx);
        if !self.send(Outbound::Text(ReqFrame::new(&id, method, params).to_text())) {
            self.lock_pending().remove(&id);
            return Err(LinkError::Closed);
        }
        let outcome = rx.recv_timeout(timeout);
        self.lock_pending().remove(&id);
        outcome.map_err(|err| {
            if err.is_timeout() {
                LinkError::TimedOut
            } else {
                LinkError::Closed
            }
        })
    }

    /// Sends a request whose response nobody waits for (results: the TS node ignores their
    /// failures too).
    pub fn notify(&self, method: &str, params: impl Serialize) -> bool {
        let id = self.next_request_id();
        self.send(Outbound::Text(ReqFrame::new(&id, method, params).to_text()))
    }

    /// Sends the one `node.invoke.result` of an invocation. A result larger than the gateway
    /// accepts (`policy.maxPayload`) is replaced by an error saying so, rather than having the
    /// gateway drop the connection.
    pub fn send_invoke_result(&self, invoke_id: &str, node_id: &str, result: &InvokeResult) {
        let text = result_frame(&self.next_request_id(), invoke_id, node_id, result);
        let limit = self.inner.max_payload.load(Ordering::Relaxed);
        let text = if text.len() > limit {
            let error = InvokeError::unavailable(format!(
                "result too large for the gateway ({} bytes; policy.maxPayload is {limit})",
                text.len()
            ));
            result_frame(&self.next_request_id(), invoke_id, node_id, &Err(error))
        } else {
            text
        };
        self.send(Outbound::Text(text));
    }

    /// Called by the reader with every `res` frame. Unknown ids are ignored (§1.2).
    pub fn route_response(&self, res: ResFrame) {
        let waiter = self.lock_pending().remove(&res.id);
        match waiter {
            Some(tx) => {
                let _ = tx.send(res);
            }
            None => log::trace!("response to {} that nobody waits for", res.id),
        }
    }

    /// Ends the session for workers: pending waiters wake with `Closed`, later sends are dropped.
    pub fn close(&self) {
        self.inner.open.store(false, Ordering::Release);
        self.lock_pending().clear();
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sender<ResFrame>>> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn result_frame(request_id: &str, invoke_id: &str, node_id: &str, result: &InvokeResult) -> String {
    let params = match result {
        Ok(payload_json) => InvokeResultParams {
            id: invoke_id,
            node_id,
            ok: true,
            payload_json: Some(payload_json),
            error: None,
        },
        Err(err) => InvokeResultParams {
            id: invoke_id,
            node_id,
            ok: false,
            payload_json: None,
            error: Some(ResultError {
                code: &err.code,
                message: &err.message,
            }),
        },
    };
    ReqFrame::new(request_id, "node.invoke.result", params).to_text()
}

impl EventSink for GatewayLink {
    fn node_event(&self, event: &str, payload_json: String) {
        let params = NodeEventParams {
            event,
            payload_json: &payload_json,
        };
        match self.request("node.event", params, REQUEST_TIMEOUT) {
            Ok(res) if res.ok => {}
            Ok(res) => log::debug!(
                "gateway refused node.event {event}: {}",
                res.error.map(|e| e.to_string()).unwrap_or_default()
            ),
            Err(err) => log::debug!("node.event {event} got no answer: {err:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_frames_match_the_protocol() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let link = GatewayLink::new(tx, "t".into());
        link.send_invoke_result("inv", "node", &Ok(r#"{"bins":{}}"#.to_string()));
        let Outbound::Text(text) = rx.recv().unwrap() else {
            panic!()
        };
        assert_eq!(
            text,
            r#"{"type":"req","id":"1:t","method":"node.invoke.result","params":{"id":"inv","nodeId":"node","ok":true,"payloadJSON":"{\"bins\":{}}"}}"#
        );
        link.send_invoke_result(
            "inv",
            "node",
            &Err(InvokeError::unavailable("command not supported")),
        );
        let Outbound::Text(text) = rx.recv().unwrap() else {
            panic!()
        };
        assert_eq!(
            text,
            r#"{"type":"req","id":"2:t","method":"node.invoke.result","params":{"id":"inv","nodeId":"node","ok":false,"error":{"code":"UNAVAILABLE","message":"command not supported"}}}"#
        );
    }

    #[test]
    fn oversized_results_become_errors() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let link = GatewayLink::new(tx, "t".into());
        link.set_max_payload(2048);
        link.send_invoke_result("inv", "node", &Ok("x".repeat(4096)));
        let Outbound::Text(text) = rx.recv().unwrap() else {
            panic!()
        };
        assert!(
            text.contains(r#""ok":false"#) && text.contains("result too large"),
            "{text}"
        );
    }

    #[test]
    fn closing_wakes_waiters() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let link = GatewayLink::new(tx, "t".into());
        let waiter = {
            let link = link.clone();
            std::thread::spawn(move || {
                link.request("node.event", serde_json::json!({}), Duration::from_secs(60))
            })
        };
        let _ = rx.recv().unwrap();
        while link.lock_pending().is_empty() {
            std::thread::yield_now();
        }
        link.close();
        assert!(matches!(waiter.join().unwrap(), Err(LinkError::Closed)));
    }
}
