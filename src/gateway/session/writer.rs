//! The session's writer thread: the only code that writes the socket. It sleeps on the link's
//! channel and on the watchdog's deadline, writes what it is handed the moment it is queued,
//! and ends the connection with a close frame when told to or when the watchdog fires.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Message, WebSocket};

use super::websocket_config;
use crate::gateway::link::{GatewayLink, Outbound};
use crate::gateway::transport::SocketWrite;
use crate::gateway::watchdog::Watchdog;

/// The writer's stream: the write half. It never reads; tungstenite's `WebSocket` just
/// requires `Read` of its stream.
struct WriterIo<W>(W);

impl<W: Write> Write for WriterIo<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W> Read for WriterIo<W> {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the write half of a gateway connection does not read",
        ))
    }
}

/// How long a write may block before `hello-ok` sets the tick interval.
const WRITE_TIMEOUT_BEFORE_HELLO: Duration = Duration::from_secs(30);
/// How long to wait for the gateway's close reply before cutting the connection.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The writer's whole life: until the link's channel closes, a close is asked for, the reader
/// ends, a write fails or times out, or the watchdog fires. Closes the link on the way out, so
/// senders waiting for room do not wait for a writer that is gone.
pub(super) fn writer_loop<W: SocketWrite>(
    half: W,
    rx: Receiver<Outbound>,
    link: GatewayLink,
    reader_done: Receiver<()>,
    watchdog: Arc<Watchdog>,
) {
    let _ = half.set_write_timeout(Some(WRITE_TIMEOUT_BEFORE_HELLO));
    let mut ws = WebSocket::from_raw_socket(WriterIo(half), Role::Client, Some(websocket_config()));
    let never = crossbeam_channel::never::<Instant>();
    loop {
        let timer = match watchdog.time_left() {
            Some(left) => crossbeam_channel::at(Instant::now() + left),
            None => never.clone(),
        };
        select! {
            recv(rx) -> item => {
                let Ok(item) = item else { break };
                link.dequeued(&item);
                let outcome = match item {
                    Outbound::Raw(bytes) => ws.get_mut().0.write_all(&bytes).map_err(tungstenite::Error::Io),
                    Outbound::Text(text) if text.len() >= DIRECT_FRAME_BYTES => send_direct(&mut ws, text),
                    Outbound::Text(text) => ws.send(Message::text(text)),
                    Outbound::Close(code, reason) => {
                        close_and_wait(&mut ws, code, &reason, &reader_done);
                        break;
                    }
                };
                if let Err(err) = outcome {
                    if is_timeout(&err) {
                        let window = watchdog.window().unwrap_or(WRITE_TIMEOUT_BEFORE_HELLO);
                        log::warn!(
                            "the gateway has not read from the connection for {} s; reconnecting",
                            window.as_secs()
                        );
                        watchdog.fire("the gateway stopped reading");
                    } else {
                        log::debug!("gateway write failed: {err}");
                    }
                    ws.get_ref().0.shutdown();
                    break;
                }
            }
            recv(reader_done) -> _ => {
                // The reader queues its close frame (a refused or timed-out handshake) just
                // before it ends, and `select!` may see the end first: send that frame rather
                // than cut the socket without a word. Nothing else still queued matters now.
                let close = rx.try_iter().find_map(|item| {
                    link.dequeued(&item);
                    match item {
                        Outbound::Close(code, reason) => Some((code, reason)),
                        _ => None,
                    }
                });
                if let Some((code, reason)) = close {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: reason.into(),
                    };
                    let _ = ws.close(Some(frame));
                }
                ws.get_ref().0.shutdown();
                break;
            }
            // Armed after hello-ok: a write may now block for the watchdog's window, and the
            // loop computes the first deadline.
            recv(watchdog.rearmed()) -> _ => {
                if let Some(window) = watchdog.window() {
                    let _ = ws.get_ref().0.set_write_timeout(Some(window));
                }
            }
            recv(timer) -> _ => {
                if watchdog.time_left().map(|left| left.is_zero()).unwrap_or(false) {
                    log::warn!("no frame from the gateway for twice the tick interval; reconnecting");
                    watchdog.fire("tick timeout");
                    close_and_wait(&mut ws, 4000, "tick timeout", &reader_done);
                    break;
                }
            }
        }
    }
    // Senders waiting for room in the queue would otherwise wait for a writer that is gone.
    link.close();
}

/// Text frames from this size on are written by [`send_direct`].
const DIRECT_FRAME_BYTES: usize = 64 * 1024;

/// Writes one text message as a single masked frame straight to the socket. tungstenite's
/// `send` would copy the payload into its write buffer (and keep that buffer's capacity
/// afterwards); here the text's own allocation is masked in place and written, so a 22 MB
/// file.fetch result is in memory once. tungstenite still formats the header; its buffer is
/// flushed first, so frames stay in order.
fn send_direct<W: Write>(ws: &mut WebSocket<WriterIo<W>>, text: String) -> tungstenite::Result<()> {
    ws.flush()?;
    let mut frame = Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true);
    let mut mask = [0u8; 4];
    crate::random::fill(&mut mask);
    frame.header_mut().mask = Some(mask);
    let stream = &mut ws.get_mut().0;
    frame.format(stream)?;
    stream.flush().map_err(tungstenite::Error::Io)
}

fn is_timeout(err: &tungstenite::Error) -> bool {
    matches!(err, tungstenite::Error::Io(io) if matches!(io.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
}

fn close_and_wait<W: SocketWrite>(
    ws: &mut WebSocket<WriterIo<W>>,
    code: u16,
    reason: &str,
    reader_done: &Receiver<()>,
) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    };
    let _ = ws.close(Some(frame));
    // Give the gateway a moment to answer the close, then cut the socket, which also wakes the
    // reader if it is still blocked.
    let _ = reader_done.recv_timeout(CLOSE_GRACE);
    ws.get_ref().0.shutdown();
}
