//! The node's side of one session as workers see it: send a request and wait for its response,
//! send a result, send an event.
//!
//! Every outbound frame goes through one channel to the writer thread. Responses are routed
//! back by id: the reader thread looks the id up in `pending` and hands the frame to whoever
//! waits for it. When the session ends, `pending` is cleared, so every waiter wakes with an error
//! instead of waiting out its timeout.
//!
//! The queue to the writer is bounded in bytes, not frames: a gateway that stops reading must not
//! make the node's memory grow, and one frame can be anything from a 2-byte pong to a 25 MiB
//! screenshot. Senders wait while [`OUTBOUND_BUDGET`] bytes are queued; the writer's write
//! timeout ends a session whose gateway stopped reading, which wakes them with `false`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use serde::Serialize;

use super::frames::{self, InvokeResultParams, NodeEventParams, ReqFrame, ResFrame, ResultError};
use crate::invoke::{EventSink, InvokeError, InvokeResult, Payload, ResultSink};
use crate::publish::{GatewayRequests, RequestFailure};
use serde_json::value::RawValue;
use serde_json::Value;

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

/// Bytes that may wait for the writer before senders block. Room for a burst of results without
/// making a slow gateway's queue a memory problem; one frame larger than this still goes alone.
pub const OUTBOUND_BUDGET: usize = 8 << 20;

/// What a queued item is charged beyond its bytes (the channel slot and the `Vec`/`String`).
const ITEM_OVERHEAD: usize = 64;

impl Outbound {
    /// What this item counts against [`OUTBOUND_BUDGET`] while it is queued.
    pub fn queued_cost(&self) -> usize {
        ITEM_OVERHEAD
            + match self {
                Outbound::Raw(bytes) => bytes.len(),
                Outbound::Text(text) => text.len(),
                Outbound::Close(_, reason) => reason.len(),
            }
    }
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
    queue: QueueBudget,
}

/// The bytes queued for the writer, and the senders waiting for room.
struct QueueBudget {
    limit: usize,
    queued: Mutex<usize>,
    room: Condvar,
}

impl GatewayLink {
    /// A link whose queue holds up to [`OUTBOUND_BUDGET`] bytes. The receiving end of
    /// `outbound` must report what it takes with [`GatewayLink::dequeued`].
    pub fn new(outbound: Sender<Outbound>, tag: String) -> GatewayLink {
        GatewayLink::with_budget(outbound, tag, OUTBOUND_BUDGET)
    }

    fn with_budget(outbound: Sender<Outbound>, tag: String, limit: usize) -> GatewayLink {
        GatewayLink {
            inner: Arc::new(LinkInner {
                outbound,
                pending: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                tag,
                max_payload: AtomicUsize::new(frames::MAX_PAYLOAD_DEFAULT),
                open: AtomicBool::new(true),
                queue: QueueBudget {
                    limit,
                    queued: Mutex::new(0),
                    room: Condvar::new(),
                },
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

    /// Hands one outbound item to the writer, waiting while the queue is over its byte budget.
    /// Fails quietly once the session is over.
    pub fn send(&self, item: Outbound) -> bool {
        let cost = item.queued_cost();
        if !self.reserve(cost) {
            return false;
        }
        if self.inner.outbound.send(item).is_err() {
            self.dequeued_cost(cost);
            return false;
        }
        true
    }

    /// Called by the writer for every item it takes off the queue: frees its room.
    pub fn dequeued(&self, item: &Outbound) {
        self.dequeued_cost(item.queued_cost());
    }

    /// Waits until `cost` fits the budget (an empty queue takes anything) or the link closes.
    fn reserve(&self, cost: usize) -> bool {
        let budget = &self.inner.queue;
        let mut queued = lock(&budget.queued);
        loop {
            if !self.inner.open.load(Ordering::Acquire) {
                return false;
            }
            if *queued == 0 || *queued + cost <= budget.limit {
                *queued += cost;
                return true;
            }
            queued = budget
                .room
                .wait(queued)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn dequeued_cost(&self, cost: usize) {
        let budget = &self.inner.queue;
        let mut queued = lock(&budget.queued);
        *queued = queued.saturating_sub(cost);
        budget.room.notify_all();
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

    /// Sends the one `node.invoke.result` of an invocation. A result larger than the gateway
    /// accepts (`policy.maxPayload`) is replaced by an error saying so, rather than having the
    /// gateway drop the connection. Takes the result so that its payload is freed once the
    /// frame holds a copy: a sender waiting for room in the queue then holds one copy, not two.
    pub fn send_invoke_result(&self, invoke_id: &str, node_id: &str, result: InvokeResult) {
        let request_id = self.next_request_id();
        let text = match result {
            Ok(Payload::JsonText(text)) => json_text_frame(&request_id, invoke_id, node_id, text),
            other => result_frame(&request_id, invoke_id, node_id, &other),
        };
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

    /// Ends the session for workers: pending waiters wake with `Closed`, senders waiting for
    /// room wake with `false`, later sends are dropped.
    pub fn close(&self) {
        self.inner.open.store(false, Ordering::Release);
        self.lock_pending().clear();
        // Under the lock, so a sender between its `open` check and its wait cannot miss this.
        let _queued = lock(&self.inner.queue.queued);
        self.inner.queue.room.notify_all();
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sender<ResFrame>>> {
        lock(&self.inner.pending)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A successful `node.invoke.result` whose `payloadJSON` is `text`, built around `text` in its
/// own allocation (see [`frames::embed_as_json_string`]): a file.fetch of 16 MiB is one 22 MB
/// buffer from the handler to the socket, never two. The frame's shape still comes from
/// serde: the frame of an empty payload is split where the payload goes.
fn json_text_frame(request_id: &str, invoke_id: &str, node_id: &str, text: String) -> String {
    let empty = result_frame(request_id, invoke_id, node_id, &Ok(Payload::JsonText(String::new())));
    const TAIL: &str = r#""}}"#;
    debug_assert!(empty.ends_with(r#""payloadJSON":""}}"#), "{empty}");
    let prefix = &empty[..empty.len() - TAIL.len()];
    frames::embed_as_json_string(prefix, text, TAIL)
}

fn result_frame(request_id: &str, invoke_id: &str, node_id: &str, result: &InvokeResult) -> String {
    let mut params = InvokeResultParams {
        id: invoke_id,
        node_id,
        ok: true,
        payload_json: None,
        payload: None,
        error: None,
    };
    match result {
        Ok(Payload::JsonText(text)) => params.payload_json = Some(text),
        // Borrowed, not parsed into a value: the text goes into the frame as it is, once.
        Ok(Payload::Inline(text)) => match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => params.payload = Some(raw),
            Err(err) => {
                log::error!("invoke {invoke_id}: the command's payload is not JSON ({err})");
                let error = Err(InvokeError::unavailable("node invocation failed"));
                return result_frame(request_id, invoke_id, node_id, &error);
            }
        },
        Err(err) => {
            params.ok = false;
            params.error = Some(ResultError {
                code: &err.code,
                message: &err.message,
            });
        }
    }
    ReqFrame::new(request_id, "node.invoke.result", params).to_text()
}

impl ResultSink for GatewayLink {
    fn send_result(&self, invoke_id: &str, node_id: &str, result: InvokeResult) {
        self.send_invoke_result(invoke_id, node_id, result);
    }
}

impl GatewayRequests for GatewayLink {
    fn request(
        &self,
        method: &str,
        params_json: &str,
        timeout: Duration,
    ) -> Result<Value, RequestFailure> {
        let params = serde_json::from_str::<&RawValue>(params_json).map_err(|err| RequestFailure {
            code: "INVALID_REQUEST".into(),
            message: format!("{method} params are not JSON: {err}"),
        })?;
        match GatewayLink::request(self, method, params, timeout) {
            Ok(res) if res.ok => Ok(res.payload.unwrap_or(Value::Null)),
            Ok(res) => {
                let error = res.error.unwrap_or_default();
                Err(RequestFailure {
                    code: error.code,
                    message: error.message,
                })
            }
            Err(err) => Err(RequestFailure {
                code: "UNAVAILABLE".into(),
                message: match err {
                    LinkError::TimedOut => format!("no answer within {timeout:?}"),
                    LinkError::Closed => "the connection closed".into(),
                },
            }),
        }
    }
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
        link.send_invoke_result("inv", "node", Ok(r#"{"bins":{}}"#.into()));
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
            Err(InvokeError::unavailable("command not supported")),
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
        link.send_invoke_result("inv", "node", Ok("x".repeat(4096).into()));
        let Outbound::Text(text) = rx.recv().unwrap() else {
            panic!()
        };
        assert!(
            text.contains(r#""ok":false"#) && text.contains("result too large"),
            "{text}"
        );
    }

    /// A link with a 1000-byte budget that an oversized frame has filled, and a thread trying
    /// to send one more frame (its outcome is what the thread returns).
    fn full_link() -> (
        GatewayLink,
        crossbeam_channel::Receiver<Outbound>,
        std::thread::JoinHandle<bool>,
    ) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let link = GatewayLink::with_budget(tx, "t".into(), 1000);
        // An empty queue takes a frame of any size; then the budget applies.
        assert!(link.send(Outbound::Text("x".repeat(5000))));
        let sender = {
            let link = link.clone();
            std::thread::spawn(move || link.send(Outbound::Text("y".repeat(100))))
        };
        (link, rx, sender)
    }

    #[test]
    fn senders_wait_while_the_queue_is_over_its_byte_budget() {
        let (link, rx, blocked) = full_link();
        let first = rx.recv().unwrap();
        assert!(rx.try_recv().is_err(), "the second frame waited for room");
        link.dequeued(&first);
        assert!(blocked.join().unwrap());
        let second = rx.recv().unwrap();
        link.dequeued(&second);
        assert_eq!(*lock(&link.inner.queue.queued), 0);
    }

    #[test]
    fn closing_wakes_senders_waiting_for_room() {
        let (link, _rx, blocked) = full_link();
        // Whether it is already waiting or not, it must give up.
        link.close();
        assert!(!blocked.join().unwrap());
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
