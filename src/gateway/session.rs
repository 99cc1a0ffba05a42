//! One connection to the gateway, from TCP connect to close.
//!
//! [`run`] is [`transport::connect`] (TCP, TLS, the pin check) followed by [`serve`], which
//! works over any pair of socket halves ([`SocketRead`], [`SocketWrite`]): the handshake order,
//! ping and tick, the watchdog and the close sequence are the same over TCP, TLS, or the Unix
//! socket pair the tests in `session/tests.rs` drive with a small in-process gateway.
//!
//! # Threads and the socket
//!
//! A session runs on two threads that share one socket, split in two halves:
//!
//! - The **reader** (the thread that called [`run`] or [`serve`]) owns the read half. It blocks in `read`
//!   with no timeout once the handshake is done, so an idle node sleeps in the kernel. It decodes
//!   each frame and routes it: responses to the waiting requester, `node.invoke.request` to the
//!   worker pool, `node.invoke.cancel` to the invocation's cancel token.
//! - The **writer** owns the write half and is the only code that writes the socket. It sleeps
//!   on a channel; a worker's result wakes it the instant it is queued and is written at once,
//!   so no result ever waits for a polling period. The same channel carries the bytes
//!   tungstenite's reading side wants to send (the upgrade request, pongs, close replies), so
//!   the automatic pong for a gateway ping goes out as soon as the reader has seen the ping.
//!
//! The writer also keeps the tick watchdog (§1.8): it sleeps until `2 × tickIntervalMs` after
//! the last inbound frame, so its only wake-ups are the ones the protocol's tick implies. When
//! the watchdog fires, or the node shuts down, the writer sends a close frame and shuts the
//! socket down, which wakes the reader; when the reader ends first, it tells the writer.
//! The same window bounds a write: a gateway that has taken none of the node's bytes for
//! `2 × tickIntervalMs` is as dead as one that has sent none, and the session ends with the
//! outbound queue (bounded in bytes by the link) as the most it held.
//!
//! When a session ends, every invocation it started is cancelled (children are killed and
//! nothing is sent for them, as the TS host does: the gateway has already failed those
//! invokes), and every request still waiting for a response fails at once.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;
use serde_json::Value;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::frames::{
    self, Challenge, EventFrame, GatewayError, HelloOk, Inbound, InvokeRequestPayload,
};
use super::link::{GatewayLink, Outbound};
use super::transport::{self, GatewayUrl, SocketRead, SocketWrite};
use super::watchdog::Watchdog;
use crate::invoke::{Dispatcher, EventSink, Invocations, InvokeRequest, ResultSink};
use crate::publish::Publisher;
use writer::writer_loop;

/// Everything a session needs to connect and serve.
pub struct SessionSetup<'a> {
    pub url: &'a GatewayUrl,
    pub pin: Option<&'a str>,
    /// Builds the `connect` params text for a challenge (nonce, ts).
    pub connect_frame: &'a dyn Fn(&str, u64) -> String,
    /// Runs the invocations the gateway sends.
    pub dispatcher: &'a Dispatcher,
    /// How long to wait for `connect.challenge`, and then for the connect response.
    pub handshake_timeout: Duration,
    /// Where the current session's writer can be told to close (node shutdown).
    pub control: &'a SessionControl,
    /// Called with `hello-ok` before any invocation is served.
    pub on_hello: &'a dyn Fn(&HelloOk),
    /// Told when the session reached `hello-ok` and when it ended.
    pub publishers: &'a [Arc<dyn Publisher>],
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// `hello-ok` was received; later the connection ended for `reason`.
    Ended { reason: String },
    /// The gateway answered `connect` with an error.
    Rejected(GatewayError),
    /// No `hello-ok`: the connection or the handshake failed.
    Failed(String),
    /// The transport refused to connect for a reason retrying cannot fix.
    Fatal(String),
}

/// Lets another thread (the signal handler) end the active session.
#[derive(Default)]
pub struct SessionControl {
    current: Mutex<Option<(GatewayLink, Arc<Invocations>)>>,
}

/// How long a shutdown waits for terminated invocations to report before closing the socket.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl SessionControl {
    fn set(&self, current: Option<(GatewayLink, Arc<Invocations>)>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = current;
    }

    /// Ends the active session for a node shutdown: running commands are terminated (their
    /// process groups killed), their results are sent while the socket is still up, then the
    /// connection is closed with `code` and `reason`.
    pub fn shut_down(&self, code: u16, reason: &str) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((link, invocations)) = current {
            invocations.terminate_all();
            if !invocations.wait_idle(SHUTDOWN_GRACE) {
                log::warn!("some invocations did not finish within {SHUTDOWN_GRACE:?} of shutdown");
            }
            link.send(Outbound::Close(code, reason.to_string()));
        }
    }
}

/// How much tungstenite reads from the socket at a time. Its default, 128 KiB, is zero-filled
/// before every read: for the node's frames (well under 1 KiB, a few per invocation) that
/// memset was the largest single cost of an invocation, and it kept 128 KiB resident. Larger
/// frames still arrive whole, in more reads.
const READ_CHUNK: usize = 16 * 1024;

/// The largest message the node accepts from the gateway (the TS client's `maxPayload`).
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_CHUNK)
        .max_message_size(Some(frames::MAX_PAYLOAD_DEFAULT))
        .max_frame_size(Some(frames::MAX_PAYLOAD_DEFAULT))
}

/// The reader's stream: reads the socket, and sends what tungstenite writes to the writer.
struct ReaderIo<R> {
    half: R,
    link: GatewayLink,
}

impl<R: Read> Read for ReaderIo<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.half.read(buf)
    }
}

impl<R> Write for ReaderIo<R> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.link.send(Outbound::Raw(data.to_vec())) {
            Ok(data.len())
        } else {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the session's writer has stopped",
            ))
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs one session to its end: connects ([`transport::connect`]: TCP, TLS, the pin check),
/// then [`serve`]s the connection. Blocks the calling thread, which becomes the reader.
pub fn run(setup: SessionSetup<'_>) -> SessionEnd {
    match transport::connect(setup.url, setup.pin) {
        Ok((read_half, write_half)) => serve(read_half, write_half, &setup),
        Err(transport::TransportError::Config(msg)) => SessionEnd::Fatal(msg),
        Err(err) => SessionEnd::Failed(err.to_string()),
    }
}

/// Serves one session over an open connection's two halves, whatever carries them: the
/// WebSocket upgrade (to `setup.url`), the handshake, then invocations until the connection
/// ends. Blocks the calling thread, which becomes the reader; the writer gets a thread of its
/// own. `setup.pin` is not read here: pinning is the transport's.
pub fn serve<R: SocketRead, W: SocketWrite>(
    read_half: R,
    write_half: W,
    setup: &SessionSetup<'_>,
) -> SessionEnd {
    // The link bounds the queue in bytes: when the gateway stops reading, producers stall
    // instead of memory growing, and the writer's timeout ends the session.
    let (out_tx, out_rx) = crossbeam_channel::unbounded::<Outbound>();
    let link = GatewayLink::new(out_tx, session_tag());
    let (reader_done_tx, reader_done_rx) = bounded::<()>(1);
    let watchdog = Arc::new(Watchdog::default());
    let writer = {
        let watchdog = watchdog.clone();
        let link = link.clone();
        thread::Builder::new()
            .name("gateway-writer".into())
            .spawn(move || writer_loop(write_half, out_rx, link, reader_done_rx, watchdog))
    };
    let writer = match writer {
        Ok(handle) => handle,
        Err(err) => return SessionEnd::Failed(format!("cannot start the writer thread: {err}")),
    };
    let invocations = setup.dispatcher.session(
        Arc::new(link.clone()) as Arc<dyn ResultSink>,
        Arc::new(link.clone()) as Arc<dyn EventSink>,
    );
    setup.control.set(Some((link.clone(), invocations.clone())));
    let end = converse(setup, read_half, &link, &watchdog, &invocations);
    // Order matters: stop accepting invoke results, cancel the running ones, then stop the writer.
    setup.control.set(None);
    for publisher in setup.publishers {
        publisher.session_ended();
    }
    link.close();
    invocations.cancel_all();
    let _ = reader_done_tx.send(());
    let _ = writer.join();
    end
}

fn session_tag() -> String {
    let mut bytes = [0u8; 6];
    // Only used to make request ids unique across sessions in logs; a failure is harmless.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    crate::digest::lower_hex(&bytes)
}

/// The reader's part of a session: upgrade, handshake, then the read loop.
fn converse<R: SocketRead>(
    setup: &SessionSetup<'_>,
    read_half: R,
    link: &GatewayLink,
    watchdog: &Watchdog,
    invocations: &Arc<Invocations>,
) -> SessionEnd {
    let _ = read_half.set_read_timeout(Some(setup.handshake_timeout));
    let io = ReaderIo {
        half: read_half,
        link: link.clone(),
    };
    let url = setup.url.to_url();
    let mut ws =
        match tungstenite::client::client_with_config(url.as_str(), io, Some(websocket_config())) {
            Ok((ws, _response)) => ws,
            Err(tungstenite::HandshakeError::Interrupted(_)) => {
                return SessionEnd::Failed(format!("{url}: the WebSocket upgrade timed out"))
            }
            Err(tungstenite::HandshakeError::Failure(err)) => {
                return SessionEnd::Failed(format!("{url}: WebSocket upgrade failed: {err}"))
            }
        };

    // 1. The challenge.
    let challenge = match wait_for_challenge(&mut ws) {
        Ok(challenge) => challenge,
        Err(reason) => {
            link.send(Outbound::Close(1008, reason.clone()));
            return SessionEnd::Failed(reason);
        }
    };
    let Some(ts) = challenge.ts.as_ref().and_then(Value::as_u64) else {
        link.send(Outbound::Close(1008, "connect failed".into()));
        return SessionEnd::Fatal("gateway connect challenge timestamp invalid".into());
    };

    // 2. connect, the first frame the node sends.
    let connect_id = link.next_request_id();
    let params_text = (setup.connect_frame)(&challenge.nonce, ts);
    let frame = format!(
        r#"{{"type":"req","id":{},"method":"connect","params":{params_text}}}"#,
        Value::from(connect_id.as_str())
    );
    link.send(Outbound::Text(frame));

    // 3. hello-ok, or the reason we are refused.
    let hello = match wait_for_response(&mut ws, &connect_id, link) {
        Ok(res) if res.ok => serde_json::from_value::<HelloOk>(res.payload.unwrap_or(Value::Null))
            .unwrap_or_default(),
        Ok(res) => {
            let error = res.error.unwrap_or_else(|| GatewayError {
                code: "UNAVAILABLE".into(),
                message: "connect refused without an error".into(),
                ..GatewayError::default()
            });
            link.send(Outbound::Close(1008, "connect failed".into()));
            return SessionEnd::Rejected(error);
        }
        Err(reason) => {
            link.send(Outbound::Close(4000, "connect timeout".into()));
            return SessionEnd::Failed(reason);
        }
    };
    link.set_max_payload(frames::max_payload(&hello));
    (setup.on_hello)(&hello);
    for publisher in setup.publishers {
        publisher.session_started(Arc::new(link.clone()));
    }
    let _ = ws.get_ref().half.set_read_timeout(None);
    watchdog.arm(frames::tick_interval_ms(&hello));

    // 4. Serve until the connection ends.
    let reason = read_loop(&mut ws, link, watchdog, invocations);
    SessionEnd::Ended { reason }
}

fn wait_for_challenge<R: Read>(ws: &mut WebSocket<ReaderIo<R>>) -> Result<Challenge, String> {
    loop {
        match read_text(ws) {
            Ok(Some(text)) => {
                if let Ok(Inbound::Event(event)) = serde_json::from_str::<Inbound>(&text) {
                    if event.event == "connect.challenge" {
                        let challenge: Challenge =
                            serde_json::from_value(event.payload).unwrap_or(Challenge {
                                nonce: String::new(),
                                ts: None,
                            });
                        if challenge.nonce.trim().is_empty() {
                            return Err("connect challenge missing nonce".into());
                        }
                        return Ok(challenge);
                    }
                }
            }
            Ok(None) => {}
            Err(ReadError::TimedOut) => return Err("connect challenge timeout".into()),
            Err(ReadError::Closed(reason)) => {
                return Err(format!("closed before the challenge: {reason}"))
            }
        }
    }
}

fn wait_for_response<R: Read>(
    ws: &mut WebSocket<ReaderIo<R>>,
    id: &str,
    link: &GatewayLink,
) -> Result<frames::ResFrame, String> {
    loop {
        match read_text(ws) {
            Ok(Some(text)) => match serde_json::from_str::<Inbound>(&text) {
                Ok(Inbound::Res(res)) if res.id == id => return Ok(res),
                Ok(Inbound::Res(res)) => link.route_response(res),
                _ => {}
            },
            Ok(None) => {}
            Err(ReadError::TimedOut) => return Err("no answer to connect (connect timeout)".into()),
            Err(ReadError::Closed(reason)) => {
                return Err(format!("closed during connect: {reason}"))
            }
        }
    }
}

enum ReadError {
    TimedOut,
    Closed(String),
}

/// Reads the next message: `Some(text)` for a text frame, `None` for anything else (binary,
/// ping, pong: ignored, as the protocol asks).
fn read_text<R: Read>(ws: &mut WebSocket<ReaderIo<R>>) -> Result<Option<String>, ReadError> {
    match ws.read() {
        Ok(Message::Text(text)) => Ok(Some(text.as_str().to_owned())),
        Ok(Message::Close(frame)) => Err(ReadError::Closed(describe_close(frame.as_ref()))),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(err))
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(ReadError::TimedOut)
        }
        Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
            Err(ReadError::Closed("connection closed".into()))
        }
        Err(err) => Err(ReadError::Closed(err.to_string())),
    }
}

fn describe_close(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) => format!(
            "closed ({}): {}",
            u16::from(frame.code),
            frame.reason.as_str()
        ),
        None => "closed (1005)".into(),
    }
}

fn read_loop<R: Read>(
    ws: &mut WebSocket<ReaderIo<R>>,
    link: &GatewayLink,
    watchdog: &Watchdog,
    invocations: &Arc<Invocations>,
) -> String {
    loop {
        let text = match ws.read() {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                // tungstenite has queued the close reply; keep reading until it reports the end.
                log::info!("gateway {}", describe_close(frame.as_ref()));
                continue;
            }
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
                return watchdog
                    .close_reason()
                    .unwrap_or_else(|| "connection closed".into())
            }
            Err(err) => {
                return watchdog
                    .close_reason()
                    .unwrap_or_else(|| format!("connection lost: {err}"))
            }
        };
        watchdog.saw_inbound();
        match serde_json::from_str::<Inbound>(text.as_str()) {
            Ok(Inbound::Res(res)) => link.route_response(res),
            Ok(Inbound::Event(event)) => handle_event(event, invocations),
            Ok(Inbound::Req(req)) => log::debug!(
                "ignoring a {:?} request frame from the gateway",
                req.get("method").and_then(Value::as_str).unwrap_or("?")
            ),
            Err(err) => log::debug!(
                "ignoring an undecodable frame ({} bytes): {err}",
                text.len()
            ),
        }
    }
}

fn handle_event(event: EventFrame, invocations: &Arc<Invocations>) {
    match event.event.as_str() {
        "tick" => {}
        "node.invoke.request" => match parse_invoke(event.payload) {
            Some(request) => invocations.start(request),
            None => log::warn!("dropped a node.invoke.request without id, nodeId or command"),
        },
        "node.invoke.cancel" => {
            let id = event
                .payload
                .get("invokeId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if invocations.cancel(id) {
                log::info!("invoke {id} cancelled by the gateway");
            }
        }
        "node.pair.resolved" => {
            let decision = event
                .payload
                .get("decision")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            log::info!(
                "gateway resolved this node's command-surface approval: {decision} (request {})",
                event
                    .payload
                    .get("requestId")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
        }
        other => log::trace!("ignoring event {other}"),
    }
}

/// Checks the fields the protocol requires (§4.1): `id`, `nodeId`, `command` non-empty strings
/// after trimming. `paramsJSON` wins; a `params` object is re-serialised.
pub fn parse_invoke(payload: Value) -> Option<InvokeRequest> {
    let payload: InvokeRequestPayload = serde_json::from_value(payload).ok()?;
    let field = |value: &Option<Value>| -> Option<String> {
        value
            .as_ref()?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let params_json = match &payload.params_json {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Null) | None | Some(Value::String(_)) => match &payload.params {
            Some(Value::Null) | None => None,
            Some(params) => Some(params.to_string()),
        },
        Some(other) => Some(other.to_string()),
    };
    Some(InvokeRequest {
        id: field(&payload.id)?,
        node_id: field(&payload.node_id)?,
        command: field(&payload.command)?,
        params_json,
        timeout_ms: payload.timeout_ms.as_ref().and_then(Value::as_u64),
    })
}

mod writer;

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests;
