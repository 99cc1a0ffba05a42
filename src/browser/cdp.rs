//! A synchronous Chrome DevTools Protocol client over one plain `ws://` WebSocket.
//!
//! One connection per browser: the browser-level socket, with page sessions multiplexed over
//! it (`Target.attachToTarget {flatten:true}` gives each page a `sessionId`). One reader thread
//! per connection routes responses to their caller by `id` and hands every event to the
//! connection's [`CdpListener`]. Callers write from their own threads through a second
//! WebSocket object over a clone of the same TCP stream, so a blocked read never delays a
//! write and no thread polls while the browser is idle.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use serde_json::{json, Value};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// A CDP event: `{method, params, sessionId?}`.
#[derive(Debug, Clone)]
pub struct CdpEvent {
    pub method: String,
    pub params: Value,
    pub session_id: Option<String>,
}

/// Receives a connection's events on its reader thread. Implementations must not block and
/// must not wait for a CDP response (the reader thread is the one that would deliver it);
/// [`CdpConnection::send_detached`] is the way to answer an event.
pub trait CdpListener: Send + Sync {
    fn event(&self, event: CdpEvent);
    /// The socket closed or failed; no more events or responses will arrive.
    fn closed(&self, reason: &str);
}

/// Why a CDP call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CdpError {
    /// The browser answered with `{error:{code, message}}`.
    Protocol { code: i64, message: String },
    /// No answer within the time the caller allowed.
    Timeout,
    /// The connection is gone (the browser exited or closed the socket).
    Closed(String),
    /// Connecting or the WebSocket handshake failed.
    Connect(String),
}

impl std::fmt::Display for CdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CdpError::Protocol { message, .. } => f.write_str(message),
            CdpError::Timeout => f.write_str("CDP command timed out"),
            CdpError::Closed(reason) => write!(f, "browser connection closed: {reason}"),
            CdpError::Connect(reason) => write!(f, "cannot connect to the browser: {reason}"),
        }
    }
}

/// The answer to one command.
pub type Reply = Result<Value, CdpError>;

struct Shared {
    writer: Mutex<WebSocket<TcpStream>>,
    pending: Mutex<HashMap<u64, Sender<Reply>>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    /// Set when the node itself is about to end the connection (no alarm in the log then).
    closing: AtomicBool,
    close_reason: Mutex<Option<String>>,
    /// Kept to unblock the reader (shutdown) when the connection is dropped.
    control: TcpStream,
}

/// One CDP WebSocket connection. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct CdpConnection {
    shared: Arc<Shared>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

/// A command that was sent and whose answer has not been read yet. Dropping it forgets the
/// answer (the reader discards it when it arrives).
pub struct PendingCall {
    id: u64,
    rx: Receiver<Reply>,
    shared: Arc<Shared>,
}

/// Screenshots of long pages arrive as one large text message; 256 MiB leaves room for the
/// largest capture the proxy would still accept after its own 10 MiB file cap is applied.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE_BYTES);
    config.max_frame_size = Some(MAX_MESSAGE_BYTES);
    config
}

/// The reader's side of the stream. Writes are swallowed: the reader must never put bytes on
/// the wire (an automatic pong would interleave with a caller's frame). Chromium's DevTools
/// server does not ping, so nothing is lost.
struct ReadSide {
    stream: TcpStream,
    handshake_done: bool,
}

impl Read for ReadSide {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for ReadSide {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.handshake_done {
            Ok(buf.len())
        } else {
            self.stream.write(buf)
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.handshake_done {
            Ok(())
        } else {
            self.stream.flush()
        }
    }
}

/// Splits `ws://host:port/path` into the socket address part and checks the scheme.
fn socket_address(ws_url: &str) -> Result<String, CdpError> {
    let rest = ws_url.strip_prefix("ws://").ok_or_else(|| {
        CdpError::Connect(format!(
            "unsupported CDP WebSocket URL {ws_url:?} (only ws:// is supported)"
        ))
    })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(CdpError::Connect(format!(
            "CDP WebSocket URL {ws_url:?} has no host"
        )));
    }
    Ok(authority.to_string())
}

impl CdpConnection {
    /// Connects to `ws_url` (`ws://127.0.0.1:<port>/devtools/browser/<id>`) within `timeout`
    /// and starts the reader thread, which reports to `listener`.
    pub fn connect(
        ws_url: &str,
        timeout: Duration,
        listener: Arc<dyn CdpListener>,
    ) -> Result<CdpConnection, CdpError> {
        let authority = socket_address(ws_url)?;
        let addrs: Vec<_> = authority
            .to_socket_addrs()
            .map_err(|err| CdpError::Connect(format!("{authority}: {err}")))?
            .collect();
        let addr = addrs
            .first()
            .ok_or_else(|| CdpError::Connect(format!("{authority}: no address")))?;
        let timeout = timeout.max(Duration::from_millis(1));
        let stream = TcpStream::connect_timeout(addr, timeout)
            .map_err(|err| CdpError::Connect(format!("{authority}: {err}")))?;
        let _ = stream.set_nodelay(true);
        let io = |err: std::io::Error| CdpError::Connect(err.to_string());
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let write_stream = stream.try_clone().map_err(io)?;
        let control = stream.try_clone().map_err(io)?;
        let side = ReadSide {
            stream,
            handshake_done: false,
        };
        let (mut reader_ws, _response) =
            tungstenite::client::client_with_config(ws_url, side, Some(ws_config())).map_err(
                |err| CdpError::Connect(format!("WebSocket handshake with {ws_url} failed: {err}")),
            )?;
        reader_ws.get_mut().handshake_done = true;
        // The reader blocks until the browser speaks; the writer keeps a timeout so a browser
        // that stops reading cannot wedge a caller forever.
        reader_ws
            .get_mut()
            .stream
            .set_read_timeout(None)
            .map_err(io)?;
        write_stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .map_err(io)?;
        let writer = WebSocket::from_raw_socket(write_stream, Role::Client, Some(ws_config()));
        let shared = Arc::new(Shared {
            writer: Mutex::new(writer),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            control,
        });
        let reader_shared = Arc::clone(&shared);
        let reader = std::thread::Builder::new()
            .name("cdp-reader".to_string())
            .spawn(move || read_loop(reader_ws, reader_shared, listener))
            .map_err(|err| {
                CdpError::Connect(format!("cannot start the CDP reader thread: {err}"))
            })?;
        Ok(CdpConnection {
            shared,
            reader: Mutex::new(Some(reader)),
        })
    }

    /// Whether the connection has closed (the browser exited, or [`CdpConnection::close`]).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<String> {
        lock(&self.shared.close_reason).clone()
    }

    /// Sends a command and returns a handle to wait for its answer.
    pub fn send(
        &self,
        method: &str,
        params: Value,
        session_id: Option<&str>,
    ) -> Result<PendingCall, CdpError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = crossbeam_channel::bounded(1);
        lock(&self.shared.pending).insert(id, tx);
        let pending = PendingCall {
            id,
            rx,
            shared: Arc::clone(&self.shared),
        };
        self.write(id, method, params, session_id)?;
        Ok(pending)
    }

    /// Sends a command without waiting for (or keeping) its answer. Safe to call from a
    /// [`CdpListener`].
    pub fn send_detached(&self, method: &str, params: Value, session_id: Option<&str>) {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Err(err) = self.write(id, method, params, session_id) {
            log::debug!("CDP {method} not sent: {err}");
        }
    }

    /// Sends a command and waits up to `timeout` for its answer.
    pub fn call(
        &self,
        method: &str,
        params: Value,
        session_id: Option<&str>,
        timeout: Duration,
    ) -> Result<Value, CdpError> {
        let pending = self.send(method, params, session_id)?;
        match pending.wait(timeout) {
            Some(reply) => reply,
            None => Err(CdpError::Timeout),
        }
    }

    fn write(
        &self,
        id: u64,
        method: &str,
        params: Value,
        session_id: Option<&str>,
    ) -> Result<(), CdpError> {
        if self.is_closed() {
            lock(&self.shared.pending).remove(&id);
            return Err(CdpError::Closed(
                self.close_reason().unwrap_or_else(|| "closed".to_string()),
            ));
        }
        let mut frame = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session_id {
            frame["sessionId"] = Value::String(session.to_string());
        }
        let text = frame.to_string();
        let result = lock(&self.shared.writer).send(Message::text(text));
        if let Err(err) = result {
            lock(&self.shared.pending).remove(&id);
            let reason = format!("write failed: {err}");
            mark_closed(&self.shared, &reason);
            return Err(CdpError::Closed(reason));
        }
        Ok(())
    }

    /// Announces that the browser is about to go away on purpose (`Browser.close`), so the
    /// reader does not report the dropped connection as a failure.
    pub fn expect_close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }

    /// Closes the socket and waits for the reader thread to end. Pending calls fail with
    /// [`CdpError::Closed`].
    pub fn close(&self) {
        mark_closed(&self.shared, "closed by the node");
        let _ = self.shared.control.shutdown(Shutdown::Both);
        if let Some(handle) = lock(&self.reader).take() {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for CdpConnection {
    fn drop(&mut self) {
        self.close();
    }
}

impl PendingCall {
    /// Waits up to `timeout` for the answer; `None` when it has not arrived yet (the call stays
    /// pending and can be waited on again).
    pub fn wait(&self, timeout: Duration) -> Option<Reply> {
        match self.rx.recv_timeout(timeout) {
            Ok(reply) => Some(reply),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(self.closed()),
        }
    }

    /// The answer if it has arrived (or the connection is gone), without waiting.
    pub fn try_reply(&self) -> Option<Reply> {
        match self.rx.try_recv() {
            Ok(reply) => Some(reply),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(self.closed()),
        }
    }

    /// The channel the answer arrives on, for a wait that also watches other things (the
    /// cancel token, a page's changes); read it with [`PendingCall::try_reply`].
    pub fn receiver(&self) -> &Receiver<Reply> {
        &self.rx
    }

    fn closed(&self) -> Reply {
        Err(CdpError::Closed(
            lock(&self.shared.close_reason)
                .clone()
                .unwrap_or_else(|| "closed".to_string()),
        ))
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.id);
    }
}

fn mark_closed(shared: &Shared, reason: &str) {
    if shared.closed.swap(true, Ordering::SeqCst) {
        return;
    }
    *lock(&shared.close_reason) = Some(reason.to_string());
    // Dropping the senders wakes every waiter with `Disconnected`, read as `Closed`.
    lock(&shared.pending).clear();
}

fn read_loop(mut ws: WebSocket<ReadSide>, shared: Arc<Shared>, listener: Arc<dyn CdpListener>) {
    let reason = loop {
        let message = match ws.read() {
            Ok(message) => message,
            Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
                break "the browser closed the DevTools connection".to_string()
            }
            Err(err) => break format!("DevTools connection failed: {err}"),
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text.into(),
                Err(_) => continue,
            },
            Message::Close(_) => break "the browser closed the DevTools connection".to_string(),
            _ => continue,
        };
        let Ok(mut frame) = serde_json::from_str::<Value>(text.as_str()) else {
            log::debug!("CDP: ignoring a frame that is not JSON");
            continue;
        };
        if let Some(id) = frame.get("id").and_then(Value::as_u64) {
            let reply = match frame.get_mut("error") {
                Some(error) => Err(CdpError::Protocol {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("CDP error")
                        .to_string(),
                }),
                None => Ok(frame
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or(Value::Null)),
            };
            if let Some(tx) = lock(&shared.pending).remove(&id) {
                let _ = tx.send(reply);
            }
            continue;
        }
        if let Some(method) = frame
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let session_id = frame
                .get("sessionId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let params = frame
                .get_mut("params")
                .map(Value::take)
                .unwrap_or(Value::Null);
            listener.event(CdpEvent {
                method,
                params,
                session_id,
            });
        }
    };
    if shared.closed.load(Ordering::SeqCst) || shared.closing.load(Ordering::SeqCst) {
        log::debug!("browser: {reason}");
    } else {
        log::warn!("browser: {reason}");
    }
    mark_closed(&shared, &reason);
    listener.closed(&reason);
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every structure
/// guarded here stays consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ws_urls_are_accepted() {
        assert_eq!(
            socket_address("ws://127.0.0.1:9222/devtools/browser/x").unwrap(),
            "127.0.0.1:9222"
        );
        assert!(matches!(
            socket_address("wss://example.com/x"),
            Err(CdpError::Connect(_))
        ));
        assert!(matches!(
            socket_address("ws:///x"),
            Err(CdpError::Connect(_))
        ));
    }
}
