//! One connection of the fake gateway: the challenge, the `connect` checks in the real gateway's
//! order (schema → protocol → role → device proof → auth → pairing), hello-ok or the exact error
//! frame and close, then the node-role methods, ticks and pings.

use std::collections::HashSet;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::pipe::{pipe_with, PipeFlags};

use crossbeam_channel::{unbounded, Receiver};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::crypto::{self, SignedFields};
use super::schema;
use super::{
    now_ms, CloseInfo, Closer, ConnCommand, ConnRecord, ConnSender, DeviceRecord, Dir, Hello,
    Outcome, PairingRequest, PingRecord, Rejection, ResultRecord, Shared, State,
};

/// `DEVICE_SIGNATURE_SKEW_MS` of the real gateway.
const SIGNATURE_SKEW_MS: u64 = 120_000;
/// `CLOSE_REASON_MAX_BYTES` of the real gateway.
const CLOSE_REASON_MAX_BYTES: usize = 120;
/// How often a connection thread wakes up for its timers (ticks, pings, the close grace) when
/// neither the node nor the test has anything for it.
const POLL: Duration = Duration::from_millis(20);
/// How long the gateway waits for the node to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Accepts connections until `stop` is set; one thread per connection.
pub(crate) fn accept_loop(shared: Arc<Shared>, listener: TcpListener, stop: Arc<AtomicBool>) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let Ok((wake_rx, wake_tx)) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)
                else {
                    continue;
                };
                let (tx, rx) = unbounded();
                let tx = ConnSender {
                    tx,
                    wake: Arc::new(wake_tx),
                };
                let nonce = crypto::uuid_v4();
                let challenge_ts = now_ms();
                let id = shared.update(|s| {
                    let id = s.conns.len() + 1;
                    s.conns.push(ConnRecord {
                        id,
                        opened_at: Instant::now(),
                        nonce: nonce.clone(),
                        challenge_ts,
                        connect_params: None,
                        outcome: None,
                        closed: None,
                    });
                    s.senders.insert(id, tx);
                    id
                });
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("fakegw-conn-{id}"))
                    .spawn(move || serve(shared, id, stream, rx, wake_rx, nonce, challenge_ts))
                    .expect("spawn connection thread");
            }
            // Sleep until a connection is pending (accepted at once), or 10 ms to look at `stop`.
            Err(_) => {
                let mut fds = [PollFd::new(&listener, PollFlags::IN)];
                let _ = poll(&mut fds, Some(&timespec(Duration::from_millis(10))));
            }
        }
    }
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// The connection's socket as tungstenite sees it. After the upgrade, a read finds out first
/// (with a zero-timeout `poll`) whether data is there and answers `WouldBlock` when not, so the
/// connection thread can sleep on the socket and its wake-up pipe together; writes block as
/// before.
struct Socket {
    tcp: TcpStream,
    reads_block: bool,
}

impl Socket {
    fn readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut fds = [PollFd::new(&self.tcp, PollFlags::IN)];
        Ok(poll(&mut fds, Some(&timespec(timeout)))? > 0)
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.reads_block && !self.readable(Duration::ZERO)? {
            return Err(ErrorKind::WouldBlock.into());
        }
        self.tcp.read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl std::ops::Deref for Socket {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        &self.tcp
    }
}

fn serve(
    shared: Arc<Shared>,
    id: usize,
    stream: TcpStream,
    rx: Receiver<ConnCommand>,
    wake: OwnedFd,
    nonce: String,
    challenge_ts: u64,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let stream = Socket {
        tcp: stream,
        reads_block: true,
    };
    // The real gateway's frame limit is its `maxPayload` (25 MiB, advertised in hello-ok), not
    // tungstenite's 16 MiB default: a 16 MiB file.fetch result (22.4 MB) must get through.
    let limits = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(26_214_400))
        .max_frame_size(Some(26_214_400));
    let mut ws = match tungstenite::accept_with_config(stream, Some(limits)) {
        Ok(ws) => ws,
        Err(e) => {
            shared.update(|s| {
                if let Some(c) = s.conn_mut(id) {
                    c.closed = Some(CloseInfo {
                        by: Closer::Abrupt,
                        code: None,
                        reason: format!("websocket upgrade failed: {e}"),
                        at: Instant::now(),
                    });
                }
                s.senders.remove(&id);
            });
            return;
        }
    };
    let _ = ws.get_ref().set_read_timeout(Some(POLL));
    ws.get_mut().reads_block = false;
    let mut conn = Conn {
        shared,
        id,
        ws,
        rx,
        wake,
        nonce,
        challenge_ts,
        phase: Phase::AwaitConnect,
        seq: 0,
        next_tick: None,
        next_ping: None,
        closing_deadline: None,
        seen_request_ids: HashSet::new(),
        finished: false,
        stalled: false,
    };
    conn.run();
}

enum Phase {
    /// Challenge sent; the first frame must be `connect`.
    AwaitConnect,
    /// hello-ok sent.
    Ready { device_id: String, legacy: bool },
    /// Rejected or closing: frames are logged but not answered.
    Done,
}

/// What the connect checks decided.
enum Verdict {
    Hello {
        device_id: String,
        auth_method: String,
        signature_version: String,
        token: Option<(String, u64)>,
        protocol: u64,
        legacy: bool,
        tick_interval_ms: u64,
    },
    Reject {
        error: Value,
        close_code: u16,
        close_reason: String,
    },
}

struct Conn {
    shared: Arc<Shared>,
    id: usize,
    ws: WebSocket<Socket>,
    rx: Receiver<ConnCommand>,
    /// The read end of the pipe [`ConnSender::send`] writes to.
    wake: OwnedFd,
    nonce: String,
    challenge_ts: u64,
    phase: Phase,
    seq: u64,
    next_tick: Option<Instant>,
    next_ping: Option<Instant>,
    closing_deadline: Option<Instant>,
    seen_request_ids: HashSet<String>,
    finished: bool,
    /// Set by [`ConnCommand::Stall`]: the node's frames are left unread in the socket.
    stalled: bool,
}

impl Conn {
    fn run(&mut self) {
        let legacy = self.shared.lock().config.legacy_protocol3;
        let mut payload = json!({"nonce": self.nonce, "ts": self.challenge_ts});
        if !legacy {
            payload["capabilities"] = json!(["model-catalog-snapshot"]);
        }
        self.send_text(
            &json!({"type": "event", "event": "connect.challenge", "payload": payload}).to_string(),
        );
        while !self.finished {
            self.drain_commands();
            if self.finished {
                break;
            }
            self.timers();
            if self.stalled {
                self.wait_while_stalled();
                continue;
            }
            if self.closing_deadline.is_some_and(|d| Instant::now() > d) {
                // The node never answered the close frame; give up on it.
                let _ = self.ws.get_ref().shutdown(Shutdown::Both);
                self.end(Closer::Abrupt, None, "no close frame from the node".into());
                break;
            }
            match self.ws.read() {
                Ok(message) => self.on_message(message),
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    // Sends the automatic pong to a ping, and a pending close reply.
                    match self.ws.flush() {
                        Ok(()) => self.wait_for_input(),
                        Err(tungstenite::Error::Io(e))
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            self.wait_for_input()
                        }
                        Err(e) => self.on_transport_end(e),
                    }
                }
                Err(e) => self.on_transport_end(e),
            }
        }
        let id = self.id;
        self.shared.update(|s| {
            s.senders.remove(&id);
        });
    }

    /// Sleeps until the node sends something, a command is queued, or [`POLL`] passes.
    fn wait_for_input(&mut self) {
        let mut fds = [
            PollFd::new(&self.ws.get_ref().tcp, PollFlags::IN),
            PollFd::new(&self.wake, PollFlags::IN),
        ];
        let _ = poll(&mut fds, Some(&timespec(POLL)));
        // Empty the pipe; the commands themselves wait in the channel.
        let mut buf = [0u8; 64];
        while matches!(rustix::io::read(&self.wake, &mut buf), Ok(n) if n > 0) {}
    }

    /// A stalled gateway reads nothing, so it learns that the node gave up from the socket's
    /// hang-up flags alone; ticks and test commands still go out.
    fn wait_while_stalled(&mut self) {
        let mut fds = [
            PollFd::new(&self.ws.get_ref().tcp, PollFlags::RDHUP),
            PollFd::new(&self.wake, PollFlags::IN),
        ];
        let _ = poll(&mut fds, Some(&timespec(POLL)));
        let hung_up = fds[0]
            .revents()
            .intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR);
        let mut buf = [0u8; 64];
        while matches!(rustix::io::read(&self.wake, &mut buf), Ok(n) if n > 0) {}
        if hung_up {
            let _ = self.ws.get_ref().shutdown(Shutdown::Both);
            self.end(
                Closer::Abrupt,
                None,
                "the node hung up on a stalled gateway".into(),
            );
        }
    }

    /// Records how the connection ended (the first record wins) and stops the loop.
    fn end(&mut self, by: Closer, code: Option<u16>, reason: String) {
        self.record_close(by, code, reason);
        self.finished = true;
    }

    fn record_close(&mut self, by: Closer, code: Option<u16>, reason: String) {
        let id = self.id;
        self.shared.update(|s| {
            let echo = s.config.echo_frames;
            if let Some(c) = s.conn_mut(id) {
                if c.closed.is_none() {
                    if echo {
                        eprintln!(
                            "[fakegw #{id}] closed by {by:?}: code {code:?} reason {reason:?}"
                        );
                    }
                    c.closed = Some(CloseInfo {
                        by,
                        code,
                        reason,
                        at: Instant::now(),
                    });
                }
            }
        });
    }

    fn on_transport_end(&mut self, error: tungstenite::Error) {
        match error {
            // The close handshake completed; the close itself was recorded when it started.
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                self.end(Closer::Abrupt, None, "connection closed".into())
            }
            other => self.end(Closer::Abrupt, None, other.to_string()),
        }
    }

    fn drain_commands(&mut self) {
        while let Ok(command) = self.rx.try_recv() {
            match command {
                ConnCommand::Send(text) => self.send_text(&text),
                ConnCommand::Close { code, reason } => self.close(code, &reason),
                ConnCommand::Drop => {
                    let _ = self.ws.get_ref().shutdown(Shutdown::Both);
                    self.end(Closer::Gateway, None, "dropped by the gateway".into());
                }
                ConnCommand::Ping(payload) => self.ping(payload),
                ConnCommand::Stall => self.stalled = true,
            }
            if self.finished {
                return;
            }
        }
    }

    fn timers(&mut self) {
        let Phase::Ready { .. } = self.phase else {
            return;
        };
        if self.closing_deadline.is_some() {
            return;
        }
        let (send_ticks, interval, ping_interval) = {
            let s = self.shared.lock();
            (
                s.config.send_ticks,
                s.config.tick_interval_ms,
                s.config.ping_interval,
            )
        };
        let now = Instant::now();
        let interval = Duration::from_millis(interval.max(50));
        match self.next_tick {
            Some(at) if now >= at => {
                self.next_tick = Some(now + interval);
                if send_ticks {
                    self.seq += 1;
                    let tick = json!({"type": "event", "event": "tick", "payload": {"ts": now_ms()}, "seq": self.seq});
                    self.send_text(&tick.to_string());
                }
            }
            None => self.next_tick = Some(now + interval),
            _ => {}
        }
        if let Some(every) = ping_interval {
            match self.next_ping {
                Some(at) if now >= at => {
                    self.next_ping = Some(now + every);
                    self.ping(crypto::random_bytes::<8>().to_vec());
                }
                None => self.next_ping = Some(now + every),
                _ => {}
            }
        }
    }

    fn send_text(&mut self, text: &str) {
        if self.finished || self.closing_deadline.is_some() {
            return;
        }
        let at = Instant::now();
        match self.ws.send(Message::text(text)) {
            Ok(()) => {
                let id = self.id;
                self.shared.update(|s| {
                    let index = s.log_frame_at(id, Dir::ToNode, text, at);
                    let frame = &s.frames[index];
                    if frame.event() == Some("node.invoke.request") {
                        let invoke_id = frame.json.as_ref().and_then(|j| {
                            j.get("payload")?.get("id")?.as_str().map(str::to_string)
                        });
                        if let Some(invoke_id) = invoke_id {
                            s.invokes_sent.insert(invoke_id, (id, index));
                        }
                    }
                });
            }
            Err(e) => self.on_transport_end(e),
        }
    }

    fn close(&mut self, code: u16, reason: &str) {
        if self.finished || self.closing_deadline.is_some() {
            return;
        }
        self.record_close(Closer::Gateway, Some(code), reason.to_string());
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        if let Err(e) = self.ws.close(Some(frame)) {
            self.on_transport_end(e);
            return;
        }
        let _ = self.ws.flush();
        self.phase = Phase::Done;
        self.closing_deadline = Some(Instant::now() + CLOSE_GRACE);
    }

    fn ping(&mut self, payload: Vec<u8>) {
        if self.finished || self.closing_deadline.is_some() {
            return;
        }
        match self.ws.send(Message::Ping(payload.clone().into())) {
            Ok(()) => {
                let id = self.id;
                self.shared.update(|s| {
                    s.pings.push(PingRecord {
                        conn: id,
                        payload,
                        sent_at: Instant::now(),
                        rtt: None,
                    })
                });
            }
            Err(e) => self.on_transport_end(e),
        }
    }

    fn on_message(&mut self, message: Message) {
        let at = Instant::now();
        match message {
            Message::Text(text) => {
                let text = text.as_str().to_string();
                let id = self.id;
                let index = self
                    .shared
                    .update(|s| s.log_frame_at(id, Dir::FromNode, &text, at));
                match self.phase {
                    Phase::AwaitConnect => self.on_first_frame(&text),
                    Phase::Ready { .. } => self.on_request(&text, index),
                    Phase::Done => {}
                }
            }
            Message::Binary(bytes) => {
                let id = self.id;
                self.shared.update(|s| {
                    s.violation(
                        id,
                        format!(
                            "node sent a binary frame ({} bytes); frames are JSON text",
                            bytes.len()
                        ),
                    )
                });
            }
            Message::Ping(_) => {
                let _ = self.ws.flush();
            }
            Message::Pong(payload) => {
                let id = self.id;
                self.shared.update(|s| {
                    if let Some(p) = s
                        .pings
                        .iter_mut()
                        .find(|p| p.conn == id && p.payload == payload.as_ref() && p.rtt.is_none())
                    {
                        p.rtt = Some(p.sent_at.elapsed());
                    }
                });
            }
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_string()),
                    None => (None, String::new()),
                };
                // When the gateway started the close, this is the node's echo.
                self.record_close(Closer::Node, code, reason);
                self.phase = Phase::Done;
            }
            Message::Frame(_) => {}
        }
    }

    fn respond(&mut self, id: &str, result: Result<Value, Value>) {
        let frame = match result {
            Ok(payload) => json!({"type": "res", "id": id, "ok": true, "payload": payload}),
            Err(error) => json!({"type": "res", "id": id, "ok": false, "error": error}),
        };
        self.send_text(&frame.to_string());
    }

    fn violation(&self, message: String) {
        let id = self.id;
        self.shared.update(|s| s.violation(id, message));
    }

    fn reject(
        &mut self,
        frame_id: Option<&str>,
        error: Value,
        close_code: u16,
        close_reason: &str,
    ) {
        let close_reason = truncate_close_reason(close_reason);
        let id = self.id;
        self.shared.update(|s| {
            if let Some(c) = s.conn_mut(id) {
                c.outcome = Some(Outcome::Rejected(Rejection {
                    conn: id,
                    error: error.clone(),
                    close_code,
                    close_reason: close_reason.clone(),
                    at: Instant::now(),
                }));
            }
        });
        if let Some(frame_id) = frame_id {
            self.respond(frame_id, Err(error));
        }
        self.phase = Phase::Done;
        self.close(close_code, &close_reason);
    }

    /// The handshake: the first frame must be a valid `connect` request.
    fn on_first_frame(&mut self, text: &str) {
        let parsed: Option<Value> = serde_json::from_str(text).ok();
        let is_request = parsed
            .as_ref()
            .is_some_and(|v| schema::check(&schema::request_frame(), v, "").is_ok());
        let Some(frame) = parsed.filter(|_| is_request) else {
            self.violation(format!("first frame is not a request frame: {text}"));
            let id = self.id;
            self.shared.update(|s| {
                if let Some(c) = s.conn_mut(id) {
                    c.outcome = Some(Outcome::Rejected(Rejection {
                        conn: id,
                        error: json!({"code": "INVALID_REQUEST", "message": "invalid request frame"}),
                        close_code: 1008,
                        close_reason: "invalid request frame".into(),
                        at: Instant::now(),
                    }));
                }
            });
            self.phase = Phase::Done;
            self.close(1008, "invalid request frame");
            return;
        };
        let frame_id = frame["id"].as_str().unwrap_or_default().to_string();
        if frame["method"] != "connect" {
            let message = "invalid handshake: first request must be connect";
            self.violation(format!(
                "first request is {:?}, not connect",
                frame["method"]
            ));
            self.reject(
                Some(&frame_id),
                json!({"code": "INVALID_REQUEST", "message": message}),
                1008,
                message,
            );
            return;
        }
        let params = frame.get("params").cloned().unwrap_or(Value::Null);
        let id = self.id;
        self.shared.update(|s| {
            if let Some(c) = s.conn_mut(id) {
                c.connect_params = Some(params.clone());
            }
        });
        if let Err(e) = schema::check(&schema::connect_params(), &params, "") {
            let message = format!("invalid connect params: {e}");
            self.violation(message.clone());
            self.reject(
                Some(&frame_id),
                json!({"code": "INVALID_REQUEST", "message": message}),
                1008,
                &message,
            );
            return;
        }
        let (nonce, challenge_ts) = (self.nonce.clone(), self.challenge_ts);
        let verdict = self
            .shared
            .update(|s| admit(s, id, &nonce, challenge_ts, &params));
        match verdict {
            Verdict::Reject {
                error,
                close_code,
                close_reason,
            } => {
                self.reject(Some(&frame_id), error, close_code, &close_reason);
            }
            Verdict::Hello {
                device_id,
                auth_method,
                signature_version,
                token,
                protocol,
                legacy,
                tick_interval_ms,
            } => {
                let mut auth = json!({"method": auth_method, "role": "node", "scopes": []});
                if let Some((token, issued_at)) = &token {
                    auth["deviceToken"] = json!(token);
                    auth["issuedAtMs"] = json!(issued_at);
                }
                let hello = json!({
                    "type": "hello-ok",
                    "protocol": protocol,
                    "server": {"version": if legacy { "dev" } else { "fake" }, "connId": format!("fake-conn-{id}")},
                    "features": {"methods": [], "events": []},
                    "snapshot": {},
                    "auth": auth,
                    "policy": {"maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": tick_interval_ms},
                });
                self.phase = Phase::Ready {
                    device_id: device_id.clone(),
                    legacy,
                };
                self.respond(&frame_id, Ok(hello));
                self.shared.update(|s| {
                    if let Some(c) = s.conn_mut(id) {
                        c.outcome = Some(Outcome::Hello(Hello {
                            conn: id,
                            device_id,
                            params,
                            auth_method,
                            signature_version,
                            device_token: token.map(|(t, _)| t),
                            at: Instant::now(),
                        }));
                    }
                });
            }
        }
    }

    /// A request from a connected node.
    fn on_request(&mut self, text: &str, frame_index: usize) {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            self.violation(format!("unparseable frame from the node: {text}"));
            return;
        };
        match frame.get("type").and_then(Value::as_str) {
            Some("req") => {}
            other => {
                self.violation(format!(
                    "node sent a frame of type {other:?}; a node only sends requests: {text}"
                ));
                return;
            }
        }
        if let Err(e) = schema::check(&schema::request_frame(), &frame, "") {
            self.violation(format!("invalid request frame: {e}: {text}"));
            if let Some(id) = frame.get("id").and_then(Value::as_str) {
                let id = id.to_string();
                self.respond(&id, Err(json!({"code": "INVALID_REQUEST", "message": format!("invalid request frame: {e}")})));
            }
            return;
        }
        let id = frame["id"].as_str().unwrap_or_default().to_string();
        let method = frame["method"].as_str().unwrap_or_default().to_string();
        if !self.seen_request_ids.insert(id.clone()) {
            self.violation(format!(
                "request id {id:?} used twice on one connection ({method})"
            ));
        }
        let params = frame.get("params").cloned().unwrap_or(Value::Null);
        let result = self.dispatch(&method, &params, frame_index);
        let overridden = self.shared.lock().method_overrides.get(&method).cloned();
        let result = match overridden {
            Some(canned) if canned["ok"] == true => Ok(canned["payload"].clone()),
            Some(canned) => Err(canned["error"].clone()),
            None => result,
        };
        self.respond(&id, result);
    }

    fn dispatch(
        &mut self,
        method: &str,
        params: &Value,
        frame_index: usize,
    ) -> Result<Value, Value> {
        let Phase::Ready { device_id, legacy } = &self.phase else {
            return Err(unauthorized_role());
        };
        let (device_id, legacy) = (device_id.clone(), *legacy);
        match method {
            "node.invoke.result" => self.on_invoke_result(&device_id, params, frame_index),
            "node.event" => self.on_node_event(params),
            "node.invoke.progress" => {
                schema::check(&schema::invoke_progress_params(), params, "")
                    .map_err(|e| invalid_params(method, &e))?;
                if params["nodeId"] != device_id.as_str() {
                    return Err(invalid("nodeId mismatch"));
                }
                Ok(json!({"ok": true, "ignored": false}))
            }
            "node.runnerInventory.update" | "node.skills.update" | "node.pluginTools.update"
                if legacy =>
            {
                Err(unauthorized_role())
            }
            "node.runnerInventory.update" => {
                let pending = self
                    .shared
                    .lock()
                    .devices
                    .get(&device_id)
                    .and_then(|d| d.surface_request.clone());
                match pending {
                    Some(request_id) => Err(json!({"code": "UNAVAILABLE", "message": format!(
                        "node capability surface is awaiting operator approval; run `openclaw nodes approve {request_id}` (see `openclaw nodes pending`), then this node retries automatically"
                    )})),
                    None => Ok(json!({"nodeId": device_id})),
                }
            }
            "node.skills.update" => Ok(
                json!({"nodeId": device_id, "skills": params.get("skills").cloned().unwrap_or(json!([]))}),
            ),
            "node.pluginTools.update" => Ok(
                json!({"nodeId": device_id, "tools": params.get("tools").cloned().unwrap_or(json!([]))}),
            ),
            "node.pluginSurface.refresh"
            | "node.pending.pull"
            | "node.pending.ack"
            | "node.pending.drain"
            | "skills.bins"
                if !legacy =>
            {
                Ok(json!({"ok": true}))
            }
            "connect" => {
                self.violation("connect sent again after hello".into());
                Err(unauthorized_role())
            }
            _ => Err(unauthorized_role()),
        }
    }

    /// `node.invoke.result` (§4.2): normalise, validate the closed schema, check `nodeId`.
    fn on_invoke_result(
        &mut self,
        device_id: &str,
        params: &Value,
        frame_index: usize,
    ) -> Result<Value, Value> {
        let normalized = schema::normalize_invoke_result(params);
        let invoke_id = normalized
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let verdict = match schema::check(&schema::invoke_result_params(), &normalized, "") {
            Err(e) => Err(invalid_params("node.invoke.result", &e)),
            Ok(()) if normalized["nodeId"] != device_id => Err(invalid("nodeId mismatch")),
            Ok(()) => Ok(()),
        };
        let conn = self.id;
        self.shared.update(|s| {
            let mut problems = Vec::new();
            if let Err(error) = &verdict {
                problems.push(format!("node.invoke.result rejected: {}", error["message"]));
            } else {
                let ok = normalized["ok"] == true;
                let has_json = normalized.get("payloadJSON").is_some();
                let has_payload = normalized.get("payload").is_some();
                if has_json && has_payload {
                    problems.push(format!("node.invoke.result {invoke_id} carries both payloadJSON and payload"));
                }
                if ok && normalized.get("error").is_some() {
                    problems.push(format!("node.invoke.result {invoke_id} is ok:true but carries an error"));
                }
                if !ok && normalized.get("error").is_none() {
                    problems.push(format!("node.invoke.result {invoke_id} is ok:false without an error"));
                }
                if let Some(text) = normalized.get("payloadJSON").and_then(Value::as_str) {
                    if serde_json::from_str::<Value>(text).is_err() {
                        problems.push(format!("node.invoke.result {invoke_id}: payloadJSON is not JSON: {text}"));
                    }
                }
                match s.invokes_sent.get(&invoke_id) {
                    None => problems.push(format!("node.invoke.result for an invoke the gateway never sent: {invoke_id}")),
                    Some((c, _)) if *c != conn => {
                        problems.push(format!("node.invoke.result {invoke_id} on connection #{conn}, request went to #{c}"))
                    }
                    _ => {}
                }
                if s.results_for(&invoke_id).any(|r| r.verdict.is_ok()) {
                    problems.push(format!("second node.invoke.result for {invoke_id}"));
                }
            }
            for p in problems {
                s.violation(conn, p);
            }
            s.push_result(ResultRecord {
                conn,
                invoke_id: invoke_id.clone(),
                frame_index,
                params: normalized.clone(),
                verdict: verdict.clone().map_err(|e| e["message"].as_str().unwrap_or_default().to_string()),
            });
        });
        verdict?;
        let known = {
            let s = self.shared.lock();
            s.invokes_sent
                .get(&invoke_id)
                .is_some_and(|(c, _)| *c == conn)
                && s.results_for(&invoke_id)
                    .filter(|r| r.verdict.is_ok())
                    .count()
                    == 1
        };
        Ok(if known {
            json!({"ok": true})
        } else {
            json!({"ok": true, "ignored": true})
        })
    }

    /// `node.event` (§4.5, §8.2).
    fn on_node_event(&mut self, params: &Value) -> Result<Value, Value> {
        schema::check(&schema::node_event_params(), params, "")
            .map_err(|e| invalid_params("node.event", &e))?;
        let event = params["event"].as_str().unwrap_or_default().to_string();
        let payload = match params.get("payloadJSON").and_then(Value::as_str) {
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(v) => v,
                Err(_) => {
                    self.violation(format!(
                        "node.event {event}: payloadJSON is not JSON: {text}"
                    ));
                    Value::Null
                }
            },
            None => params.get("payload").cloned().unwrap_or(Value::Null),
        };
        match event.as_str() {
            "node.host.stats" => match schema::check_host_stats(&payload) {
                Ok(()) => {
                    Ok(json!({"ok": true, "event": event, "handled": true, "reason": "updated"}))
                }
                Err(e) => {
                    self.violation(format!("node.host.stats payload invalid: {e}: {payload}"));
                    Ok(
                        json!({"ok": true, "event": event, "handled": false, "reason": "invalid_payload"}),
                    )
                }
            },
            "exec.finished" | "exec.denied" | "exec.started" => {
                if !payload.is_object() {
                    self.violation(format!("{event} payload is not an object: {payload}"));
                }
                Ok(json!({"ok": true}))
            }
            _ => Ok(json!({"ok": true})),
        }
    }
}

fn invalid(message: &str) -> Value {
    json!({"code": "INVALID_REQUEST", "message": message})
}

fn invalid_params(method: &str, error: &str) -> Value {
    invalid(&format!("invalid {method} params: {error}"))
}

fn unauthorized_role() -> Value {
    invalid("unauthorized role: node")
}

/// Truncates a close reason to the gateway's 120-byte limit, on a character boundary.
fn truncate_close_reason(reason: &str) -> String {
    if reason.is_empty() {
        return "invalid handshake".to_string();
    }
    let mut end = reason.len().min(CLOSE_REASON_MAX_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

fn reject(
    code: &str,
    message: &str,
    details: Option<Value>,
    close_code: u16,
    close_reason: &str,
) -> Verdict {
    let mut error = json!({"code": code, "message": message});
    if let Some(details) = details {
        error["details"] = details;
    }
    Verdict::Reject {
        error,
        close_code,
        close_reason: close_reason.to_string(),
    }
}

/// The connect checks, in the real gateway's order. Runs under the state lock.
fn admit(s: &mut State, conn: usize, nonce: &str, challenge_ts: u64, params: &Value) -> Verdict {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let min = params["minProtocol"].as_f64().unwrap_or(0.0) as i64;
    let max = params["maxProtocol"].as_f64().unwrap_or(0.0) as i64;
    let client = &params["client"];
    let client_id = text(&client["id"]).unwrap_or_default();
    let mode = text(&client["mode"]).unwrap_or_default();
    let role = params
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("operator")
        .to_string();
    let is_node = role == "node" && mode == "node";

    // 1. Protocol (§1.12).
    let protocol = if s.config.legacy_protocol3 {
        if !(min <= 3 && 3 <= max) {
            return reject(
                "INVALID_REQUEST",
                "protocol mismatch",
                Some(
                    // A real 2026.3.1 gateway sends no `details.code` (seen by scripts/interop.sh).
                    json!({"clientMinProtocol": min, "clientMaxProtocol": max, "expectedProtocol": 3}),
                ),
                1002,
                "protocol mismatch",
            );
        }
        3
    } else {
        let current = min <= 4 && 4 <= max;
        let previous_node = is_node && min <= 3 && 3 <= max;
        if !current && !previous_node {
            return reject(
                "INVALID_REQUEST",
                "protocol mismatch",
                Some(
                    json!({"code": "PROTOCOL_MISMATCH", "clientMinProtocol": min, "clientMaxProtocol": max, "expectedProtocol": 4, "minimumProbeProtocol": 3}),
                ),
                1002,
                "protocol mismatch",
            );
        }
        if current {
            4
        } else {
            3
        }
    };

    // 2. Only node hosts (the fake's own strictness; a real gateway admits other clients).
    if client_id != "node-host" || !is_node || params.get("role").is_none() {
        let message = format!(
            "fake gateway: only node hosts are admitted (client.id \"node-host\", client.mode \"node\", role \"node\"); got client.id {client_id:?}, client.mode {mode:?}, role {:?}",
            params.get("role")
        );
        s.violation(conn, message.clone());
        return reject("INVALID_REQUEST", &message, None, 1008, &message);
    }
    let scopes: Vec<String> = match params.get("scopes").and_then(Value::as_array) {
        Some(list) if list.is_empty() => Vec::new(),
        other => {
            let message = format!("fake gateway: a node must send scopes: [] (got {other:?})");
            s.violation(conn, message.clone());
            return reject("INVALID_REQUEST", &message, None, 1008, &message);
        }
    };
    let platform = text(&client["platform"]);
    let family = client
        .get("deviceFamily")
        .and_then(Value::as_str)
        .map(str::to_string);
    let pair_ok = matches!(
        (platform.as_deref(), family.as_deref()),
        (Some("linux"), Some("Linux"))
            | (Some("macos"), Some("Mac"))
            | (Some("windows"), Some("Windows"))
    );
    // The legacy v3 envelope drops deviceFamily (§12.3).
    let legacy_ok = protocol == 3 && family.is_none() && platform.is_some();
    if !pair_ok && !legacy_ok {
        let message = format!(
            "fake gateway: client.platform/deviceFamily must be linux/Linux, macos/Mac or windows/Windows, or the gateway classifies the node as unknown and withholds system.run (§1.4); got {platform:?}/{family:?}"
        );
        s.violation(conn, message.clone());
        return reject("INVALID_REQUEST", &message, None, 1008, &message);
    }

    // 3. Device identity is required for role node.
    let Some(device) = params.get("device") else {
        return reject(
            "NOT_PAIRED",
            "device identity required",
            Some(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
            1008,
            "device identity required",
        );
    };

    // 4. Device proof (§2.3).
    let device_reject = |reason: &str, message: &str, code: &str| {
        reject(
            "INVALID_REQUEST",
            message,
            Some(json!({"code": code, "reason": reason})),
            1008,
            message,
        )
    };
    let device_id = text(&device["id"]).unwrap_or_default();
    let public_key = text(&device["publicKey"]).unwrap_or_default();
    if crypto::device_id_from_public_key(&public_key).as_deref() != Some(device_id.as_str()) {
        return device_reject(
            "device-id-mismatch",
            "device identity mismatch",
            "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        );
    }
    let signed_at = device["signedAt"].as_f64().unwrap_or(-1.0);
    if signed_at < 0.0 || (now_ms() as f64 - signed_at).abs() > SIGNATURE_SKEW_MS as f64 {
        return device_reject(
            "device-signature-stale",
            "device signature expired",
            "DEVICE_AUTH_SIGNATURE_EXPIRED",
        );
    }
    let signed_at = signed_at as u64;
    let provided_nonce = device["nonce"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    if provided_nonce.is_empty() {
        return device_reject(
            "device-nonce-missing",
            "device nonce required",
            "DEVICE_AUTH_NONCE_REQUIRED",
        );
    }
    if provided_nonce != nonce {
        return device_reject(
            "device-nonce-mismatch",
            "device nonce mismatch",
            "DEVICE_AUTH_NONCE_MISMATCH",
        );
    }
    let auth = params.get("auth").filter(|a| a.is_object());
    if auth
        .and_then(Value::as_object)
        .is_some_and(|a| a.values().all(|v| v.as_str() == Some("")))
    {
        s.violation(
            conn,
            "connect sent an empty auth object; it is omitted when empty (§1.5)".into(),
        );
    }
    let raw = |key: &str| {
        auth.and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // JS `auth.token ?? auth.deviceToken ?? auth.bootstrapToken ?? ""`: a present empty string
    // counts.
    let signature_token = raw("token")
        .or_else(|| raw("deviceToken"))
        .or_else(|| raw("bootstrapToken"))
        .unwrap_or_default();
    let fields = SignedFields {
        device_id: &device_id,
        client_id: &client_id,
        client_mode: &mode,
        role: &role,
        scopes: &scopes,
        signed_at_ms: signed_at,
        token: &signature_token,
        nonce: &provided_nonce,
        platform: platform.as_deref(),
        device_family: family.as_deref(),
    };
    let Some(key) = crypto::decode_public_key(&public_key) else {
        return device_reject(
            "device-public-key",
            "device public key invalid",
            "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        );
    };
    let signature = device["signature"].as_str().unwrap_or_default();
    // A gateway up to 2026.2.3 verifies only v2 (§12.3).
    let accepts_v3 = !s.config.v2_signatures_only;
    let signature_version =
        if accepts_v3 && crypto::verify_signature(&key, &crypto::payload_v3(&fields), signature) {
            "v3"
        } else if crypto::verify_signature(&key, &crypto::payload_v2(&fields), signature) {
            "v2"
        } else {
            return device_reject(
                "device-signature",
                "device signature invalid",
                "DEVICE_AUTH_SIGNATURE_INVALID",
            );
        };
    if signed_at != challenge_ts {
        s.violation(
            conn,
            format!("device.signedAt {signed_at} is not the challenge ts {challenge_ts} (§1.3)"),
        );
    }

    // 5. Auth (§1.5, §1.10).
    let trimmed = |key: &str| {
        raw(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let truthy = |key: &str| raw(key).is_some_and(|v| !v.is_empty());
    let (mut ok, mut method, mut reason): (bool, &str, Option<&str>) =
        match (&s.config.shared_token, &s.config.password) {
            (Some(expected), _) => match trimmed("token") {
                None => (false, "token", Some("token_missing")),
                Some(t) if &t == expected => (true, "token", None),
                Some(_) => (false, "token", Some("token_mismatch")),
            },
            (None, Some(expected)) => match trimmed("password") {
                None => (false, "password", Some("password_missing")),
                Some(p) if &p == expected => (true, "password", None),
                Some(_) => (false, "password", Some("password_mismatch")),
            },
            (None, None) => (true, "none", None),
        };
    let auth_mode = method;
    if let Some(bootstrap) = trimmed("bootstrapToken").filter(|_| !ok) {
        // A setup code's token enrolls once; a spent or unknown one is invalid.
        match s.config.setup_tokens.iter().position(|t| *t == bootstrap) {
            Some(at) => {
                s.config.setup_tokens.remove(at);
                ok = true;
                method = "bootstrap-token";
            }
            None => reason = Some("bootstrap_token_invalid"),
        }
    }
    let bootstrap_enrolled = method == "bootstrap-token";
    if !ok {
        let (candidate, explicit) = match trimmed("deviceToken") {
            Some(t) => (Some(t), true),
            None => (trimmed("token"), false),
        };
        if let Some(candidate) = candidate {
            let valid = s
                .devices
                .get(&device_id)
                .is_some_and(|d| d.paired && d.token.as_deref() == Some(candidate.as_str()));
            if valid {
                ok = true;
                method = "device-token";
            } else if explicit {
                reason = Some("device_token_mismatch");
            }
        }
    }
    if !ok {
        let auth_provided = if truthy("password") {
            "password"
        } else if truthy("token") {
            "token"
        } else if truthy("bootstrapToken") {
            "bootstrap-token"
        } else if truthy("deviceToken") {
            "device-token"
        } else {
            "none"
        };
        let can_retry =
            reason == Some("token_mismatch") && auth_provided == "token" && !truthy("deviceToken");
        let next_step = if can_retry {
            "retry_with_device_token"
        } else {
            match reason {
                Some("token_missing" | "password_missing") => "update_auth_configuration",
                Some("token_mismatch" | "password_mismatch" | "device_token_mismatch") => {
                    "update_auth_credentials"
                }
                Some("rate_limited") => "wait_then_retry",
                _ => "review_auth_configuration",
            }
        };
        let message = match reason {
            Some("token_missing") => "unauthorized: gateway token missing (provide gateway auth token)".to_string(),
            Some("token_mismatch") => "unauthorized: gateway token mismatch (provide gateway auth token)".to_string(),
            Some("password_missing") => "unauthorized: gateway password missing (provide gateway auth password)".to_string(),
            Some("password_mismatch") => "unauthorized: gateway password mismatch (provide gateway auth password)".to_string(),
            Some("bootstrap_token_invalid") => "unauthorized: setup code invalid, expired, revoked, or already used (create a new code; review `openclaw devices list`)".to_string(),
            Some("device_token_mismatch") => "unauthorized: device token mismatch (rotate/reissue device token)".to_string(),
            _ if auth_mode == "token" && auth_provided == "device-token" => {
                "unauthorized: device token rejected (pair/repair this device, or provide gateway token)".to_string()
            }
            _ => "unauthorized".to_string(),
        };
        let detail_code = match reason {
            Some("token_missing") => "AUTH_TOKEN_MISSING",
            Some("token_mismatch") => "AUTH_TOKEN_MISMATCH",
            Some("password_missing") => "AUTH_PASSWORD_MISSING",
            Some("password_mismatch") => "AUTH_PASSWORD_MISMATCH",
            Some("bootstrap_token_invalid") => "AUTH_BOOTSTRAP_TOKEN_INVALID",
            Some("device_token_mismatch") => "AUTH_DEVICE_TOKEN_MISMATCH",
            None => "AUTH_REQUIRED",
            _ => "AUTH_UNAUTHORIZED",
        };
        let mut details = json!({"code": detail_code});
        if let Some(reason) = reason {
            details["authReason"] = json!(reason);
        }
        details["canRetryWithDeviceToken"] = json!(can_retry);
        details["recommendedNextStep"] = json!(next_step);
        return reject("INVALID_REQUEST", &message, Some(details), 1008, &message);
    }

    // 6. Device pairing (§3.2).
    let paired = s.devices.get(&device_id).is_some_and(|d| d.paired);
    if !paired {
        if s.config.require_pairing && !bootstrap_enrolled {
            let request_id = match s
                .pairing
                .iter()
                .find(|r| r.device_id == device_id && !r.approved)
            {
                Some(r) => r.request_id.clone(),
                None => {
                    let request_id = crypto::uuid_v4();
                    s.pairing.push(PairingRequest {
                        request_id: request_id.clone(),
                        device_id: device_id.clone(),
                        public_key: public_key.clone(),
                        approved: false,
                    });
                    request_id
                }
            };
            let message = "pairing required: device is not approved yet";
            return reject(
                "NOT_PAIRED",
                message,
                Some(json!({
                    "code": "PAIRING_REQUIRED",
                    "reason": "not-paired",
                    "requestId": request_id,
                    "remediationHint": "Approve this device from the pending pairing requests.",
                    "deviceId": device_id,
                    "requestedRole": "node",
                })),
                1008,
                &format!("{message} (requestId: {request_id})"),
            );
        }
        // Loopback connects are approved silently.
        let device = s
            .devices
            .entry(device_id.clone())
            .or_insert_with(|| DeviceRecord {
                public_key: public_key.clone(),
                paired: false,
                token: None,
                token_issued_at_ms: 0,
                surface_request: None,
                surface_approved: false,
            });
        device.paired = true;
        // Bootstrap enrollment approves the first command surface too.
        device.surface_approved |= bootstrap_enrolled;
    }

    // 7. hello-ok: the device token, and the command surface.
    let issue = s.config.issue_device_tokens;
    let surface_pending = s.config.surface_pending;
    let (tick_interval_ms, legacy) = (s.config.tick_interval_ms, s.config.legacy_protocol3);
    let device = s.devices.get_mut(&device_id).expect("device paired above");
    if issue && device.token.is_none() {
        device.token = Some(crypto::new_device_token());
        device.token_issued_at_ms = now_ms();
    }
    if surface_pending && !device.surface_approved && device.surface_request.is_none() {
        device.surface_request = Some(crypto::uuid_v4());
    }
    let token = if issue {
        device.token.clone().map(|t| (t, device.token_issued_at_ms))
    } else {
        None
    };
    Verdict::Hello {
        device_id,
        auth_method: method.to_string(),
        signature_version: signature_version.to_string(),
        token,
        protocol: if legacy { 3 } else { 4 },
        legacy,
        tick_interval_ms,
    }
}
