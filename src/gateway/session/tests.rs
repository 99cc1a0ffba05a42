//! The session in process: [`serve`] over a Unix socket pair, with a small gateway on the other
//! end that speaks the spec's frames (§1.3 handshake, §1.8 tick and ping, §1.11 close codes, §4
//! invocations). No binary is spawned and no port is opened.
//!
//! Every wait is bounded by [`WAIT`], generous on purpose: nothing here asserts how fast the node
//! is. The only clock assertions are lower bounds (the watchdog must not fire early).
//!
//! A failed handshake (`1008 connect failed`, `4000 connect timeout`) must end with its close
//! frame: the reader queues it and, at once, tells the writer that the session is over; the
//! writer sends a queued close frame whichever of the two it sees first.

use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;

use super::*;
use crate::invoke::pool::Pool;
use crate::invoke::{Call, CommandSet, Dispatcher, InvokeError, InvokeResult, Payload};

/// The most any step may take before a test gives up on it.
const WAIT: Duration = Duration::from_secs(10);
/// The challenge's `ts`, which the node must sign as `signedAt`.
const TS: u64 = 1_767_225_600_000;

impl SocketRead for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
}

impl SocketWrite for UnixStream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
    fn shutdown(&self) {
        let _ = UnixStream::shutdown(self, Shutdown::Both);
    }
}

/// The node's commands in these tests.
struct Commands;

impl CommandSet for Commands {
    fn run(&self, call: Call, command: &str, params_json: Option<&str>) -> InvokeResult {
        match command {
            "echo" => Ok(params_json.unwrap_or("null").into()),
            "inline" => Ok(Payload::Inline(r#"{"content":[],"isError":false}"#.into())),
            "bad-inline" => Ok(Payload::Inline("not json".into())),
            // Runs until cancelled (or WAIT, so a broken test cannot hang a worker).
            "block" => {
                let deadline = Instant::now() + WAIT;
                while !call.cancel.is_cancelled() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
                Ok(r#""unblocked""#.into())
            }
            // Sends a node.event, which returns once the gateway has answered it.
            "event" => {
                call.events
                    .node_event("test.event", r#"{"n":1}"#.to_string());
                Ok(r#"{"acknowledged":true}"#.into())
            }
            _ => Err(InvokeError::invalid("command not supported")),
        }
    }
}

/// What one test session produced.
struct Outcome<T> {
    end: SessionEnd,
    /// What the gateway's script returned.
    gateway: T,
    /// `tickIntervalMs` of every `hello-ok` the node was told about.
    hellos: Vec<u64>,
}

/// Runs [`serve`] on this thread and `script` as the gateway on another, over a socket pair.
/// The script gets the node's [`SessionControl`] to play the signal handler.
fn session<T: Send>(
    handshake_timeout: Duration,
    script: impl FnOnce(Gateway, &SessionControl) -> T + Send,
) -> Outcome<T> {
    session_with(&[], handshake_timeout, script)
}

/// [`session`] with these publishers told of the session.
fn session_with<T: Send>(
    publishers: &[Arc<dyn Publisher>],
    handshake_timeout: Duration,
    script: impl FnOnce(Gateway, &SessionControl) -> T + Send,
) -> Outcome<T> {
    let (node, gateway) = UnixStream::pair().expect("a Unix socket pair");
    gateway
        .set_read_timeout(Some(WAIT))
        .expect("a read timeout on the gateway's end");
    let reader = node.try_clone().expect("a second handle on the node's end");
    let url = GatewayUrl::new("127.0.0.1", 18789, false, None);
    let connect_frame = |nonce: &str, ts: u64| json!({"nonce": nonce, "signedAt": ts}).to_string();
    let hellos = Mutex::new(Vec::new());
    let on_hello = |hello: &HelloOk| {
        hellos
            .lock()
            .expect("hellos")
            .push(frames::tick_interval_ms(hello))
    };
    let control = SessionControl::default();
    let dispatcher = Dispatcher::new(Arc::new(Commands), Pool::new(2, 2));
    let setup = SessionSetup {
        url: &url,
        pin: None,
        connect_frame: &connect_frame,
        dispatcher: &dispatcher,
        handshake_timeout,
        control: &control,
        on_hello: &on_hello,
        publishers,
    };
    let (end, gateway) = thread::scope(|scope| {
        let control = &control;
        // When the script ends, or panics, its socket is dropped, which ends the session.
        let script = scope.spawn(move || script(Gateway::accept(gateway), control));
        let end = serve(reader, node, &setup);
        match script.join() {
            Ok(out) => (end, out),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let hellos = hellos.lock().expect("hellos").clone();
    Outcome {
        end,
        gateway,
        hellos,
    }
}

/// The gateway's end: a server-side WebSocket over the other half of the pair.
struct Gateway {
    ws: WebSocket<UnixStream>,
}

impl Gateway {
    fn accept(stream: UnixStream) -> Gateway {
        Gateway {
            ws: tungstenite::accept(stream).expect("the node's WebSocket upgrade"),
        }
    }

    fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .expect("the gateway's send");
    }

    fn event(&mut self, event: &str, payload: Value) {
        self.send(json!({"type": "event", "event": event, "payload": payload}));
    }

    fn challenge(&mut self) {
        self.event(
            "connect.challenge",
            json!({"nonce": "nonce-1", "ts": TS, "capabilities": []}),
        );
    }

    fn invoke(&mut self, id: &str, command: &str, params_json: &str) {
        self.event(
            "node.invoke.request",
            json!({"id": id, "nodeId": "node-1", "command": command, "paramsJSON": params_json}),
        );
    }

    /// The node's next message.
    fn recv(&mut self) -> Message {
        match self.ws.read() {
            Ok(message) => message,
            Err(err) => panic!("nothing from the node within {WAIT:?}: {err}"),
        }
    }

    /// The node's next text frame, as JSON.
    fn frame(&mut self) -> Value {
        match self.recv() {
            Message::Text(text) => serde_json::from_str(text.as_str()).expect("a JSON frame"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Challenge, `connect`, `hello-ok` with this tick interval. Returns the `connect` frame.
    fn handshake(&mut self, tick_interval_ms: u64) -> Value {
        self.challenge();
        let connect = self.frame();
        self.send(json!({
            "type": "res", "id": connect["id"], "ok": true,
            "payload": {"type": "hello-ok", "protocol": 4,
                        "policy": {"tickIntervalMs": tick_interval_ms, "maxPayload": 26214400}},
        }));
        connect
    }

    /// The node's close frame as (code, reason), skipping anything before it.
    fn close_frame(&mut self) -> (u16, String) {
        loop {
            if let Message::Close(frame) = self.recv() {
                let frame = frame.expect("a close frame with a code");
                return (u16::from(frame.code), frame.reason.as_str().to_string());
            }
        }
    }

    /// Everything the node sends until the connection ends.
    fn drain(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Ok(message) = self.ws.read() {
            messages.push(message);
        }
        messages
    }
}

/// What a failed handshake sends: its close frame, and nothing else.
fn only_close(messages: &[Message], code: u16, reason: &str) {
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, Message::Close(Some(_)))),
        "no close frame after a failed handshake: {messages:?}"
    );
    for message in messages {
        match message {
            Message::Close(Some(frame)) => {
                assert_eq!(
                    (u16::from(frame.code), frame.reason.as_str()),
                    (code, reason)
                )
            }
            other => panic!("the node sent {other:?} after a failed handshake"),
        }
    }
}

fn ended(end: &SessionEnd) -> &str {
    match end {
        SessionEnd::Ended { reason } => reason,
        other => panic!("the session did not reach hello-ok: {other:?}"),
    }
}

#[test]
fn the_handshake_is_challenge_then_connect_then_hello_ok() {
    let out = session(WAIT, |mut gw, _| {
        // §1.3, step 1: the node opens the WebSocket and sends nothing yet.
        let socket = gw.ws.get_ref().try_clone().expect("socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let early = gw.ws.read();
        assert!(
            matches!(&early, Err(tungstenite::Error::Io(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
            "the node spoke before the challenge: {early:?}"
        );
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        // Steps 2-4: whatever else the node sends, `connect` is its first frame.
        gw.handshake(5_000)
    });
    let connect = out.gateway;
    assert_eq!(
        (&connect["type"], &connect["method"]),
        (&json!("req"), &json!("connect"))
    );
    assert!(
        connect["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{connect}"
    );
    // The params are the setup's, built for this challenge's nonce and ts.
    assert_eq!(
        connect["params"],
        json!({"nonce": "nonce-1", "signedAt": TS})
    );
    assert_eq!(out.hellos, [5_000], "on_hello sees hello-ok once");
    ended(&out.end);
}

#[test]
fn noise_is_ignored_before_and_after_the_handshake() {
    // §1.2: unknown events, unparseable text, binary frames and responses nobody waits for are
    // ignored, before the challenge, while connect waits, and while serving.
    fn noise(gw: &mut Gateway) {
        gw.event("presence", json!({"n": 1}));
        gw.ws.send(Message::text("not json")).expect("send");
        gw.ws
            .send(Message::Binary(b"\x00\x01"[..].into()))
            .expect("send");
        gw.send(json!({"type": "res", "id": "nobody", "ok": true}));
        gw.send(json!({"type": "req", "id": "r", "method": "x"}));
    }
    let out = session(WAIT, |mut gw, _| {
        noise(&mut gw);
        gw.challenge();
        let connect = gw.frame();
        noise(&mut gw);
        gw.send(json!({
            "type": "res", "id": connect["id"], "ok": true,
            "payload": {"type": "hello-ok", "policy": {"tickIntervalMs": 30_000}},
        }));
        noise(&mut gw);
        gw.invoke("inv-n", "echo", "1");
        let result = gw.frame();
        gw.ws.close(None).expect("close");
        (connect, result)
    });
    let (connect, result) = out.gateway;
    assert_eq!(connect["method"], "connect");
    assert_eq!(
        result["params"],
        json!({"id": "inv-n", "nodeId": "node-1", "ok": true, "payloadJSON": "1"})
    );
    assert_eq!(out.hellos, [30_000]);
    ended(&out.end);
}

#[test]
fn a_refused_connect_is_rejected_with_the_gateways_error() {
    let error = json!({
        "code": "NOT_PAIRED", "message": "pairing required: device is not approved yet",
        "details": {"code": "PAIRING_REQUIRED", "requestId": "req-1"},
    });
    let out = session(WAIT, |mut gw, _| {
        gw.challenge();
        let connect = gw.frame();
        gw.send(json!({"type": "res", "id": connect["id"], "ok": false, "error": error}));
        gw.drain()
    });
    match out.end {
        SessionEnd::Rejected(got) => assert_eq!(
            got,
            serde_json::from_value::<GatewayError>(error).expect("error")
        ),
        other => panic!("expected Rejected, got {other:?}"),
    }
    only_close(&out.gateway, 1008, "connect failed");
    assert!(out.hellos.is_empty(), "on_hello was called for a refusal");
}

#[test]
fn a_missing_challenge_times_out() {
    let out = session(Duration::from_millis(200), |mut gw, _| gw.drain());
    match &out.end {
        SessionEnd::Failed(reason) => assert_eq!(reason, "connect challenge timeout"),
        other => panic!("expected Failed, got {other:?}"),
    }
    // No challenge, no connect.
    only_close(&out.gateway, 1008, "connect challenge timeout");
}

#[test]
fn an_unanswered_connect_times_out() {
    let out = session(Duration::from_millis(200), |mut gw, _| {
        gw.challenge();
        assert_eq!(gw.frame()["method"], "connect");
        gw.drain()
    });
    match &out.end {
        SessionEnd::Failed(reason) => assert_eq!(reason, "no answer to connect (connect timeout)"),
        other => panic!("expected Failed, got {other:?}"),
    }
    only_close(&out.gateway, 4000, "connect timeout");
}

#[test]
fn a_bad_challenge_gets_no_connect() {
    // §1.3: an empty nonce fails the attempt; a missing ts ends reconnecting altogether.
    for (payload, want) in [
        (
            json!({"nonce": " ", "ts": TS}),
            "connect challenge missing nonce",
        ),
        (
            json!({"nonce": "n"}),
            "gateway connect challenge timestamp invalid",
        ),
    ] {
        let out = session(WAIT, |mut gw, _| {
            gw.event("connect.challenge", payload.clone());
            gw.drain()
        });
        match &out.end {
            SessionEnd::Failed(reason) | SessionEnd::Fatal(reason) => assert_eq!(reason, want),
            other => panic!("{payload}: {other:?}"),
        }
        assert_eq!(
            matches!(out.end, SessionEnd::Fatal(_)),
            payload.get("ts").is_none(),
            "{payload}: only a bad ts is fatal"
        );
        for message in &out.gateway {
            assert!(
                matches!(message, Message::Close(_)),
                "{payload}: {message:?}"
            );
        }
    }
}

#[test]
fn a_ping_is_answered_with_its_pong() {
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(30_000);
        gw.ws
            .send(Message::Ping(b"probe"[..].into()))
            .expect("ping");
        gw.recv()
    });
    match out.gateway {
        Message::Pong(payload) => assert_eq!(&payload[..], b"probe"),
        other => panic!("expected a pong, got {other:?}"),
    }
    ended(&out.end);
}

#[test]
fn ticks_keep_the_session_alive() {
    const TICK_MS: u64 = 200;
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(TICK_MS);
        // Three watchdog windows of ticks, one every tenth of the interval.
        let until = Instant::now() + Duration::from_millis(6 * TICK_MS);
        while Instant::now() < until {
            gw.event("tick", json!({"ts": TS}));
            thread::sleep(Duration::from_millis(TICK_MS / 10));
        }
        // Still served: an invocation is answered, not a close frame.
        gw.invoke("inv-alive", "echo", "{}");
        let result = gw.frame();
        gw.ws.close(None).expect("close");
        result
    });
    assert_eq!(out.gateway["params"]["id"], "inv-alive");
    assert_ne!(ended(&out.end), "tick timeout");
}

#[test]
fn silence_past_twice_the_tick_interval_ends_the_session() {
    const TICK_MS: u64 = 50;
    let out = session(WAIT, |mut gw, _| {
        let hello_sent = Instant::now();
        gw.handshake(TICK_MS);
        let close = gw.close_frame();
        (close, hello_sent.elapsed())
    });
    let (close, silence) = out.gateway;
    assert_eq!(close, (4000, "tick timeout".to_string()));
    // Not before the window: 2 × tickIntervalMs after hello-ok (less the millisecond the
    // watchdog's clock rounds down).
    assert!(
        silence >= Duration::from_millis(2 * TICK_MS - 1),
        "closed after {silence:?}"
    );
    assert_eq!(ended(&out.end), "tick timeout");
}

#[test]
fn a_gateway_that_stops_reading_ends_the_session() {
    const TICK_MS: u64 = 200;
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(TICK_MS);
        // A result far larger than the socket's buffers, which the gateway never reads: the
        // writer's write blocks, and the watchdog's window bounds it.
        let big = format!("\"{}\"", "x".repeat(1 << 20));
        gw.invoke("inv-big", "echo", &big);
        // Ticks keep the node's reader content, so only the blocked write can end the session;
        // the node shutting the socket down ends this loop.
        let deadline = Instant::now() + WAIT;
        let tick = json!({"type": "event", "event": "tick", "payload": {"ts": TS}}).to_string();
        while Instant::now() < deadline && gw.ws.send(Message::text(tick.clone())).is_ok() {
            thread::sleep(Duration::from_millis(TICK_MS / 10));
        }
        // Handed back, not dropped: the connection stayed open, only unread.
        gw
    });
    assert_eq!(ended(&out.end), "the gateway stopped reading");
}

#[test]
fn the_gateways_close_is_answered_and_ends_the_session() {
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(30_000);
        gw.ws
            .close(Some(CloseFrame {
                code: CloseCode::from(1012),
                reason: "service restart".into(),
            }))
            .expect("close");
        // The node's reply, then the end of the connection.
        let reply = gw.close_frame();
        (reply, gw.drain())
    });
    let (reply, after) = out.gateway;
    assert_eq!(reply, (1012, "service restart".to_string()));
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(ended(&out.end), "connection closed");
}

#[test]
fn a_node_shutdown_closes_with_its_code_and_reason() {
    let out = session(WAIT, |mut gw, control| {
        gw.handshake(30_000);
        control.shut_down(1000, "node shutting down");
        let close = gw.close_frame();
        // Complete the close handshake: tungstenite has queued the reply.
        let _ = gw.ws.flush();
        close
    });
    assert_eq!(out.gateway, (1000, "node shutting down".to_string()));
    ended(&out.end);
}

#[test]
fn invocations_reach_the_dispatcher_and_one_result_comes_back() {
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(30_000);
        let mut results = Vec::new();
        gw.invoke("inv-1", "echo", r#"{"x":1}"#);
        results.push(gw.frame());
        // Unknown commands are the dispatcher's to refuse, with a result.
        gw.invoke("inv-2", "no.such.command", "{}");
        results.push(gw.frame());
        // A request without a command is dropped (§4.1); a cancelled invocation sends nothing
        // (§4.3). The next result is the echo after them.
        gw.event(
            "node.invoke.request",
            json!({"id": "inv-3", "nodeId": "node-1"}),
        );
        gw.invoke("inv-4", "block", "{}");
        gw.event("node.invoke.cancel", json!({"invokeId": "inv-4"}));
        gw.invoke("inv-5", "echo", "[5]");
        results.push(gw.frame());
        gw.ws.close(None).expect("close");
        results
    });
    let results = out.gateway;
    for result in &results {
        assert_eq!(
            (&result["type"], &result["method"]),
            (&json!("req"), &json!("node.invoke.result")),
            "{result}"
        );
    }
    let params: Vec<&Value> = results.iter().map(|r| &r["params"]).collect();
    assert_eq!(
        params,
        [
            &json!({"id": "inv-1", "nodeId": "node-1", "ok": true, "payloadJSON": "{\"x\":1}"}),
            &json!({"id": "inv-2", "nodeId": "node-1", "ok": false,
                    "error": {"code": "INVALID_REQUEST", "message": "command not supported"}}),
            &json!({"id": "inv-5", "nodeId": "node-1", "ok": true, "payloadJSON": "[5]"}),
        ]
    );
    ended(&out.end);
}

#[test]
fn a_response_reaches_the_request_waiting_for_it() {
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(30_000);
        gw.invoke("inv-e", "event", "{}");
        let event = gw.frame();
        // Answered well inside the link's 30 s request timeout and this test's WAIT: the
        // result can only come within WAIT if this response reached the waiting command.
        gw.send(json!({"type": "res", "id": event["id"], "ok": true, "payload": {}}));
        let result = gw.frame();
        gw.ws.close(None).expect("close");
        (event, result)
    });
    let (event, result) = out.gateway;
    assert_eq!(event["method"], "node.event");
    assert_eq!(
        event["params"],
        json!({"event": "test.event", "payloadJSON": "{\"n\":1}"})
    );
    assert_eq!(
        result["params"],
        json!({"id": "inv-e", "nodeId": "node-1", "ok": true, "payloadJSON": "{\"acknowledged\":true}"})
    );
    ended(&out.end);
}

#[test]
fn run_reports_a_transport_configuration_error_as_fatal() {
    // The transport refuses before any socket is opened; `run` maps that to Fatal, which the
    // reconnect loop does not retry.
    let url = GatewayUrl::new("127.0.0.1", 9, false, None);
    let control = SessionControl::default();
    let dispatcher = Dispatcher::new(Arc::new(Commands), Pool::new(1, 1));
    let pin = "ab".repeat(32);
    let end = run(SessionSetup {
        url: &url,
        pin: Some(&pin),
        connect_frame: &|_: &str, _: u64| String::from("{}"),
        dispatcher: &dispatcher,
        handshake_timeout: WAIT,
        control: &control,
        on_hello: &|_: &HelloOk| {},
        publishers: &[],
    });
    match end {
        SessionEnd::Fatal(message) => {
            assert_eq!(
                message,
                "gateway tls fingerprint requires wss:// gateway url"
            )
        }
        other => panic!("expected Fatal, got {other:?}"),
    }
}

/// Checks the fields the protocol requires (§4.1).
#[test]
fn invoke_payload_rules() {
    let req = parse_invoke(json!({"id":" a ","nodeId":"n","command":"system.which","paramsJSON":"{\"bins\":[]}","timeoutMs":5})).unwrap();
    assert_eq!(
        (req.id.as_str(), req.params_json.as_deref(), req.timeout_ms),
        ("a", Some("{\"bins\":[]}"), Some(5))
    );
    let req = parse_invoke(json!({"id":"a","nodeId":"n","command":"c","params":{"x":1}})).unwrap();
    assert_eq!(req.params_json.as_deref(), Some(r#"{"x":1}"#));
    let req = parse_invoke(json!({"id":"a","nodeId":"n","command":"c","paramsJSON":null})).unwrap();
    assert_eq!(req.params_json, None);
    let req = parse_invoke(json!({"id":"a","nodeId":"n","command":"c","paramsJSON":""})).unwrap();
    assert_eq!(req.params_json, None);
    assert!(parse_invoke(json!({"id":"","nodeId":"n","command":"c"})).is_none());
    assert!(parse_invoke(json!({"id":"a","nodeId":"n","command":7})).is_none());
    assert!(parse_invoke(json!("x")).is_none());
}

#[test]
fn an_inline_payload_goes_out_as_an_object_and_a_broken_one_as_an_error() {
    let out = session(WAIT, |mut gw, _| {
        gw.handshake(30_000);
        gw.invoke("inv-i", "inline", "{}");
        let inline = gw.frame();
        gw.invoke("inv-b", "bad-inline", "{}");
        let broken = gw.frame();
        gw.ws.close(None).expect("close");
        (inline, broken)
    });
    let (inline, broken) = out.gateway;
    assert_eq!(
        inline["params"],
        json!({"id": "inv-i", "nodeId": "node-1", "ok": true,
               "payload": {"content": [], "isError": false}})
    );
    assert_eq!(
        broken["params"],
        json!({"id": "inv-b", "nodeId": "node-1", "ok": false,
               "error": {"code": "UNAVAILABLE", "message": "node invocation failed"}})
    );
    ended(&out.end);
}

#[test]
fn publications_go_out_after_hello_ok_and_are_retried_after_a_refusal() {
    use crate::publish::{Publication, PublicationSpec};
    let publication = Publication::spawn(
        PublicationSpec {
            name: "test",
            method: "node.skills.update",
            every: None,
            resend_unchanged: false,
            timeout: WAIT,
        },
        Box::new(|| Some(r#"{"skills":[]}"#.to_string())),
    )
    .expect("the publication thread");
    let publishers: [Arc<dyn Publisher>; 1] = [Arc::new(publication)];
    let out = session_with(&publishers, WAIT, |mut gw, _| {
        gw.handshake(30_000);
        let first = gw.frame();
        gw.send(json!({"type": "res", "id": first["id"], "ok": false,
                       "error": {"code": "UNAVAILABLE", "message": "node pairing changed before request dispatch",
                                 "retryable": true, "details": {"code": "PAIRING_CHANGED"}}}));
        let second = gw.frame();
        gw.send(json!({"type": "res", "id": second["id"], "ok": true, "payload": {"skills": []}}));
        gw.ws.close(None).expect("close");
        (first, second)
    });
    let (first, second) = out.gateway;
    for request in [&first, &second] {
        assert_eq!(request["type"], "req");
        assert_eq!(request["method"], "node.skills.update");
        assert_eq!(request["params"], json!({"skills": []}));
    }
    assert_ne!(first["id"], second["id"]);
    ended(&out.end);
}

#[test]
fn a_large_result_is_one_masked_frame_in_order_with_the_small_ones() {
    // Over the writer's direct-frame size, with characters the frame must escape.
    let big = serde_json::to_string(&"a\"b\\c\u{1}é ".repeat(40_000)).unwrap();
    let expected = big.clone();
    let out = session(WAIT, move |mut gw, _| {
        gw.handshake(30_000);
        gw.invoke("inv-big", "echo", &big);
        let first = gw.frame();
        gw.invoke("inv-small", "echo", "[1]");
        let second = gw.frame();
        gw.ws.close(None).expect("close");
        (first, second)
    });
    let (first, second) = out.gateway;
    // The gateway's WebSocket refuses unmasked client frames, so arriving at all shows the mask.
    assert_eq!(first["params"]["id"], "inv-big");
    assert_eq!(first["params"]["payloadJSON"].as_str(), Some(expected.as_str()));
    assert_eq!(second["params"]["payloadJSON"], "[1]");
    ended(&out.end);
}
