//! A strict fake OpenClaw gateway for integration tests and the demo.
//!
//! [`FakeGateway`] listens on `127.0.0.1:<free port>` and speaks the gateway side of the node
//! protocol exactly as the real `openclaw@2026.9.6` gateway does for the paths a node can reach:
//! the `connect.challenge`, the closed `connect` schema, device-signature checks (v3, then v2),
//! shared-token/password/device-token auth, device pairing, hello-ok, ticks, pings, and the
//! node-role methods (`node.invoke.result`, `node.event`, …). Every wire string it produces was
//! copied from the spec (protocol.md §1–§4, §8) or from the gateway's bundled code.
//!
//! It is *strict*: anything a real gateway would reject is rejected with the real error frame, and
//! anything a real gateway would tolerate but a correct node never sends (a `signedAt` that is not
//! the challenge `ts`, a malformed `node.host.stats`, a duplicate request id, …) is recorded as a
//! protocol violation that tests can assert on ([`FakeGateway::violations`]).
//!
//! Design: std threads and crossbeam channels, no async. One acceptor thread; one thread per
//! connection that owns its `tungstenite::WebSocket` (short read timeout, so it can also send
//! ticks and queued frames). Shared state sits behind one mutex with a condvar, so every wait in
//! the API is "until this condition holds, or the timeout", and tests fail instead of hanging.

#![allow(dead_code)]

mod conn;
pub mod crypto;
pub mod node_process;
pub mod schema;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;
use serde_json::{json, Value};

/// The default wait for anything the node is expected to do "soon". Generous on purpose: the
/// machine may be busy building; a test only waits this long when it is about to fail anyway.
pub const WAIT: Duration = Duration::from_secs(30);

/// Milliseconds since the Unix epoch (the gateway's clock for `ts` and `signedAt`).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How the fake gateway behaves. Change it live with [`FakeGateway::update_config`].
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `gateway.auth.token`: token auth mode when set.
    pub shared_token: Option<String>,
    /// `gateway.auth.password`: password auth mode when set (and no token is set).
    pub password: Option<String>,
    /// `hello-ok.policy.tickIntervalMs`, and the tick period.
    pub tick_interval_ms: u64,
    /// Whether ticks are sent at all (false = a silent gateway, for the watchdog test).
    pub send_ticks: bool,
    /// Hold new devices pending (`PAIRING_REQUIRED`) until [`FakeGateway::approve_device`];
    /// otherwise they are approved silently, like loopback connects on a real gateway.
    pub require_pairing: bool,
    /// Keep the command surface pending (`node.runnerInventory.update` answers UNAVAILABLE)
    /// until [`FakeGateway::approve_surface`], which pushes `node.pair.resolved`.
    pub surface_pending: bool,
    /// Behave as an old protocol-3 gateway (2026.3.1): `INVALID_REQUEST "protocol mismatch"` with
    /// `details {expectedProtocol:3}` and no `details.code`, as the real one answers, to anything
    /// that does not cover 3; `hello-ok.protocol` 3.
    pub legacy_protocol3: bool,
    /// Verify only v2 connect signatures, as gateways up to 2026.2.3 do.
    pub v2_signatures_only: bool,
    /// Put `auth.deviceToken` into hello-ok.
    pub issue_device_tokens: bool,
    /// Unused setup-code bootstrap tokens (`device.pair.setupCode`, bootstrap profile "node"):
    /// one enrolls a device with its first command surface approved, and is spent (§3.5).
    pub setup_tokens: Vec<String>,
    /// Ping every connection at this interval after hello (the real gateway: 25 s).
    pub ping_interval: Option<Duration>,
    /// Echo every frame to stderr (shown by the test harness when a test fails).
    pub echo_frames: bool,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
}

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig {
            shared_token: None,
            password: None,
            tick_interval_ms: 30_000,
            send_ticks: true,
            require_pairing: false,
            surface_pending: false,
            legacy_protocol3: false,
            v2_signatures_only: false,
            issue_device_tokens: true,
            setup_tokens: Vec::new(),
            ping_interval: None,
            echo_frames: true,
            port: 0,
        }
    }
}

impl GatewayConfig {
    pub fn token(mut self, token: &str) -> Self {
        self.shared_token = Some(token.to_string());
        self
    }
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
        self
    }
    pub fn tick_interval_ms(mut self, ms: u64) -> Self {
        self.tick_interval_ms = ms;
        self
    }
    pub fn silent(mut self) -> Self {
        self.send_ticks = false;
        self
    }
    pub fn require_pairing(mut self) -> Self {
        self.require_pairing = true;
        self
    }
    pub fn surface_pending(mut self) -> Self {
        self.surface_pending = true;
        self
    }
    pub fn legacy_protocol3(mut self) -> Self {
        self.legacy_protocol3 = true;
        self
    }
    pub fn v2_signatures_only(mut self) -> Self {
        self.v2_signatures_only = true;
        self
    }
    pub fn setup_token(mut self, token: &str) -> Self {
        self.setup_tokens.push(token.to_string());
        self
    }
    pub fn quiet(mut self) -> Self {
        self.echo_frames = false;
        self
    }
}

/// Which way a logged frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToNode,
    FromNode,
}

/// One text frame on the wire.
#[derive(Debug, Clone)]
pub struct LoggedFrame {
    pub conn: usize,
    pub dir: Dir,
    pub at: Instant,
    pub text: String,
    /// The frame parsed as JSON (`None` when it did not parse).
    pub json: Option<Value>,
}

impl LoggedFrame {
    /// `req` frames from the node: the method.
    pub fn method(&self) -> Option<&str> {
        self.json.as_ref()?.get("method")?.as_str()
    }
    /// `event` frames from the gateway: the event name.
    pub fn event(&self) -> Option<&str> {
        self.json.as_ref()?.get("event")?.as_str()
    }
    pub fn params(&self) -> Option<&Value> {
        self.json.as_ref()?.get("params")
    }
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closer {
    /// The gateway sent a close frame (or dropped the socket: `code` is `None`).
    Gateway,
    /// The node sent a close frame.
    Node,
    /// The TCP connection ended without a close frame from the node.
    Abrupt,
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub struct CloseInfo {
    pub by: Closer,
    pub code: Option<u16>,
    pub reason: String,
    pub at: Instant,
}

/// A connect that was answered with hello-ok.
#[derive(Debug, Clone)]
pub struct Hello {
    pub conn: usize,
    pub device_id: String,
    /// The `connect` params as the node sent them.
    pub params: Value,
    /// `hello-ok.auth.method`: `token`, `password`, `device-token` or `none`.
    pub auth_method: String,
    /// Which signature payload verified: `v3` or `v2`.
    pub signature_version: String,
    /// The device token hello-ok carried.
    pub device_token: Option<String>,
    pub at: Instant,
}

/// A connect that was answered with an error (then closed).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub conn: usize,
    /// The `error` object of the `res` frame (`{code, message, details?}`).
    pub error: Value,
    pub close_code: u16,
    pub close_reason: String,
    pub at: Instant,
}

impl Rejection {
    /// `error.details.code`, the field clients branch on.
    pub fn detail_code(&self) -> Option<&str> {
        self.error.get("details")?.get("code")?.as_str()
    }
    pub fn message(&self) -> &str {
        self.error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// How a connect ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Hello(Hello),
    Rejected(Rejection),
}

/// One accepted TCP/WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnRecord {
    pub id: usize,
    pub opened_at: Instant,
    pub nonce: String,
    pub challenge_ts: u64,
    /// The `connect` params, once the first frame arrived.
    pub connect_params: Option<Value>,
    pub outcome: Option<Outcome>,
    pub closed: Option<CloseInfo>,
}

impl ConnRecord {
    pub fn hello(&self) -> Option<&Hello> {
        match &self.outcome {
            Some(Outcome::Hello(h)) => Some(h),
            _ => None,
        }
    }
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.outcome {
            Some(Outcome::Rejected(r)) => Some(r),
            _ => None,
        }
    }
    pub fn is_live(&self) -> bool {
        self.closed.is_none()
    }
}

/// A device-pairing request the gateway holds pending (§3.2).
#[derive(Debug, Clone)]
pub struct PairingRequest {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    pub approved: bool,
}

/// A WebSocket ping the gateway sent, and the pong if one came back.
#[derive(Debug, Clone)]
pub struct PingRecord {
    pub conn: usize,
    pub payload: Vec<u8>,
    pub sent_at: Instant,
    pub rtt: Option<Duration>,
}

/// A `node.invoke.request` to send. Defaults: a fresh UUID id, the connection's device id as
/// `nodeId`, `timeoutMs` 30000 and a fresh `idempotencyKey`.
#[derive(Debug, Clone)]
pub struct Invoke {
    pub id: String,
    pub command: String,
    pub params_json: Option<String>,
    /// Sent as the `params` object instead of `paramsJSON` (§4.1 allows both).
    pub params: Option<Value>,
    pub node_id: Option<String>,
    pub timeout_ms: Option<u64>,
    pub idempotency_key: Option<String>,
}

impl Invoke {
    pub fn new(command: &str) -> Invoke {
        Invoke {
            id: crypto::uuid_v4(),
            command: command.to_string(),
            params_json: None,
            params: None,
            node_id: None,
            timeout_ms: Some(30_000),
            idempotency_key: Some(crypto::uuid_v4()),
        }
    }
    pub fn params_json(mut self, text: &str) -> Invoke {
        self.params_json = Some(text.to_string());
        self
    }
    pub fn params(mut self, value: Value) -> Invoke {
        self.params = Some(value);
        self
    }
    pub fn id(mut self, id: &str) -> Invoke {
        self.id = id.to_string();
        self
    }
    pub fn node_id(mut self, node_id: &str) -> Invoke {
        self.node_id = Some(node_id.to_string());
        self
    }

    fn frame(&self, default_node_id: &str) -> Value {
        let mut payload = serde_json::Map::new();
        payload.insert("id".into(), json!(self.id));
        payload.insert(
            "nodeId".into(),
            json!(self.node_id.as_deref().unwrap_or(default_node_id)),
        );
        payload.insert("command".into(), json!(self.command));
        if let Some(text) = &self.params_json {
            payload.insert("paramsJSON".into(), json!(text));
        }
        if let Some(value) = &self.params {
            payload.insert("params".into(), value.clone());
        }
        if let Some(ms) = self.timeout_ms {
            payload.insert("timeoutMs".into(), json!(ms));
        }
        if let Some(key) = &self.idempotency_key {
            payload.insert("idempotencyKey".into(), json!(key));
        }
        json!({"type": "event", "event": "node.invoke.request", "payload": payload})
    }
}

/// The node's `node.invoke.result` for one invoke, with the `node.event` requests it sent
/// between the request and the result (exec.finished / exec.denied come first, §4.5).
#[derive(Debug, Clone)]
pub struct InvokeReply {
    pub id: String,
    pub conn: usize,
    /// The result params after the gateway's normalisation (§4.2).
    pub params: Value,
    pub ok: bool,
    pub payload_json: Option<String>,
    pub payload: Option<Value>,
    /// `{code?, message?}` for failures.
    pub error: Option<Value>,
    /// `node.event` params the node sent on this connection after the request and before the
    /// result, in order.
    pub events: Vec<Value>,
}

impl InvokeReply {
    /// The result payload as JSON: `payloadJSON` parsed, else `payload`. Panics (fails the test)
    /// when there is none or it does not parse.
    pub fn payload_value(&self) -> Value {
        if let Some(text) = &self.payload_json {
            return serde_json::from_str(text).unwrap_or_else(|e| {
                panic!(
                    "payloadJSON of invoke {} is not JSON ({e}): {text}",
                    self.id
                )
            });
        }
        self.payload
            .clone()
            .unwrap_or_else(|| panic!("invoke {} has no payload: {}", self.id, self.params))
    }
    pub fn error_code(&self) -> Option<&str> {
        self.error.as_ref()?.get("code")?.as_str()
    }
    pub fn error_message(&self) -> Option<&str> {
        self.error.as_ref()?.get("message")?.as_str()
    }
    /// `(code, message)` of a failure, for `assert_eq!` against the spec's exact strings.
    pub fn error_pair(&self) -> (String, String) {
        (
            self.error_code().unwrap_or("<none>").to_string(),
            self.error_message().unwrap_or("<none>").to_string(),
        )
    }
    /// Payloads (parsed `payloadJSON`, else `payload`) of the events named `name`.
    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.get("event").and_then(Value::as_str) == Some(name))
            .map(|e| match e.get("payloadJSON").and_then(Value::as_str) {
                Some(text) => serde_json::from_str(text).unwrap_or(Value::String(text.to_string())),
                None => e.get("payload").cloned().unwrap_or(Value::Null),
            })
            .collect()
    }
}

/// What a connection thread is asked to do.
pub(crate) enum ConnCommand {
    Send(String),
    Close {
        code: u16,
        reason: String,
    },
    Drop,
    Ping(Vec<u8>),
    /// Stop reading the node's frames (ticks and commands still go out).
    Stall,
}

/// A connection thread's command queue. Sending also writes a byte to the thread's wake-up pipe:
/// the thread sleeps in `poll` on its socket and that pipe, so a queued frame goes out at once
/// instead of at the next poll tick (the benchmark times round trips through this gateway).
#[derive(Clone)]
pub(crate) struct ConnSender {
    pub tx: Sender<ConnCommand>,
    pub wake: Arc<std::os::fd::OwnedFd>,
}

impl ConnSender {
    pub fn send(
        &self,
        command: ConnCommand,
    ) -> Result<(), crossbeam_channel::SendError<ConnCommand>> {
        self.tx.send(command)?;
        // The pipe is non-blocking: when it is full, a wake-up is pending anyway.
        let _ = rustix::io::write(&*self.wake, &[1]);
        Ok(())
    }
}

/// A device the gateway knows.
#[derive(Debug, Clone)]
pub(crate) struct DeviceRecord {
    pub public_key: String,
    pub paired: bool,
    pub token: Option<String>,
    pub token_issued_at_ms: u64,
    /// The pending command-surface request id, while the surface awaits approval.
    pub surface_request: Option<String>,
    pub surface_approved: bool,
}

/// A `node.invoke.result` that arrived, accepted or not.
#[derive(Debug, Clone)]
pub(crate) struct ResultRecord {
    pub conn: usize,
    pub invoke_id: String,
    pub frame_index: usize,
    /// Normalised params.
    pub params: Value,
    /// `Err(message)` when the gateway rejected it (schema, nodeId mismatch).
    pub verdict: Result<(), String>,
}

/// Everything the connection threads and the test share.
pub(crate) struct State {
    pub config: GatewayConfig,
    pub conns: Vec<ConnRecord>,
    pub senders: HashMap<usize, ConnSender>,
    pub frames: Vec<LoggedFrame>,
    pub devices: HashMap<String, DeviceRecord>,
    pub pairing: Vec<PairingRequest>,
    /// Invoke id → (connection, index of the request frame in `frames`).
    pub invokes_sent: HashMap<String, (usize, usize)>,
    pub results: Vec<ResultRecord>,
    /// Invoke id → indexes into `results`: lookups stay cheap over the benchmark's thousands of
    /// invokes (a scan per lookup made the gateway quadratic).
    pub results_by_invoke: HashMap<String, Vec<usize>>,
    pub violations: Vec<String>,
    pub pings: Vec<PingRecord>,
    /// Canned answers for node methods: method → `{ok, payload}` or `{ok:false, error}`.
    pub method_overrides: HashMap<String, Value>,
}

impl State {
    pub fn log_frame(&mut self, conn: usize, dir: Dir, text: &str) -> usize {
        self.log_frame_at(conn, dir, text, Instant::now())
    }

    /// Logs a frame with the time it went out (just before the write) or came in (just after
    /// the read), so that waiting for this lock does not count as time on the wire.
    pub fn log_frame_at(&mut self, conn: usize, dir: Dir, text: &str, at: Instant) -> usize {
        if self.config.echo_frames {
            let arrow = match dir {
                Dir::ToNode => "gw->node",
                Dir::FromNode => "node->gw",
            };
            let shown: String = text.chars().take(1500).collect();
            let more = if shown.len() < text.len() { " …" } else { "" };
            eprintln!("[fakegw #{conn} {arrow}] {shown}{more}");
        }
        self.frames.push(LoggedFrame {
            conn,
            dir,
            at,
            text: text.to_string(),
            json: serde_json::from_str(text).ok(),
        });
        self.frames.len() - 1
    }

    /// Records a `node.invoke.result`.
    pub fn push_result(&mut self, record: ResultRecord) {
        self.results_by_invoke
            .entry(record.invoke_id.clone())
            .or_default()
            .push(self.results.len());
        self.results.push(record);
    }

    /// The results that arrived for `invoke_id`, in order.
    pub fn results_for<'a>(&'a self, invoke_id: &str) -> impl Iterator<Item = &'a ResultRecord> {
        self.results_by_invoke
            .get(invoke_id)
            .into_iter()
            .flatten()
            .map(|&index| &self.results[index])
    }

    pub fn violation(&mut self, conn: usize, message: String) {
        let message = format!("conn #{conn}: {message}");
        if self.config.echo_frames {
            eprintln!("[fakegw VIOLATION] {message}");
        }
        self.violations.push(message);
    }

    pub fn conn_mut(&mut self, id: usize) -> Option<&mut ConnRecord> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    /// The newest live connection that completed hello.
    pub fn current_hello(&self) -> Option<&Hello> {
        self.conns
            .iter()
            .rev()
            .filter(|c| c.is_live())
            .find_map(ConnRecord::hello)
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub changed: Condvar,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the gateway down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` under the lock and wakes every waiter.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_all();
        out
    }

    /// Waits until `probe` returns `Some`, or `timeout` passes.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut probe: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(found) = probe(&state) {
                return Some(found);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, (deadline - now).min(Duration::from_millis(200)))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// The running listener (absent while the gateway is stopped).
struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The strict fake gateway. Dropping it stops it.
pub struct FakeGateway {
    shared: Arc<Shared>,
    port: u16,
    listener: Option<Listener>,
}

impl FakeGateway {
    /// Binds `127.0.0.1:<config.port or a free port>` and starts accepting.
    pub fn start(config: GatewayConfig) -> FakeGateway {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port)))
            .unwrap_or_else(|e| panic!("fake gateway: cannot bind 127.0.0.1:{}: {e}", config.port));
        let port = listener
            .local_addr()
            .expect("bound listener has an address")
            .port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                config,
                conns: Vec::new(),
                senders: HashMap::new(),
                frames: Vec::new(),
                devices: HashMap::new(),
                pairing: Vec::new(),
                invokes_sent: HashMap::new(),
                results: Vec::new(),
                results_by_invoke: HashMap::new(),
                violations: Vec::new(),
                pings: Vec::new(),
                method_overrides: HashMap::new(),
            }),
            changed: Condvar::new(),
        });
        let mut gateway = FakeGateway {
            shared,
            port,
            listener: None,
        };
        gateway.listen(listener);
        gateway
    }

    fn listen(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = self.shared.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("fakegw-accept".into())
                .spawn(move || conn::accept_loop(shared, listener, stop))
                .expect("spawn acceptor thread")
        };
        self.listener = Some(Listener { stop, thread });
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// Changes the configuration; it applies to the next connect (ticks: at once).
    pub fn update_config(&self, f: impl FnOnce(&mut GatewayConfig)) {
        self.shared.update(|s| f(&mut s.config));
    }

    /// Turns ticks on or off (off = a silent gateway).
    pub fn set_ticks(&self, on: bool) {
        self.update_config(|c| c.send_ticks = on);
    }

    /// Makes the gateway answer `method` with `{ok:true, payload}` from now on.
    pub fn reply_ok(&self, method: &str, payload: Value) {
        self.shared.update(|s| {
            s.method_overrides
                .insert(method.to_string(), json!({"ok": true, "payload": payload}))
        });
    }

    /// Makes the gateway answer `method` with `{ok:false, error:{code, message}}` from now on.
    pub fn reply_error(&self, method: &str, code: &str, message: &str) {
        self.shared.update(|s| {
            s.method_overrides.insert(
                method.to_string(),
                json!({"ok": false, "error": {"code": code, "message": message}}),
            )
        });
    }

    // ---- observation -------------------------------------------------------------------

    /// Every connection so far, oldest first.
    pub fn connections(&self) -> Vec<ConnRecord> {
        self.shared.lock().conns.clone()
    }

    /// Every text frame so far.
    pub fn frames(&self) -> Vec<LoggedFrame> {
        self.shared.lock().frames.clone()
    }

    /// `params` of every request the node sent with `method`, with its connection.
    pub fn requests(&self, method: &str) -> Vec<(usize, Value)> {
        self.shared
            .lock()
            .frames
            .iter()
            .filter(|f| f.dir == Dir::FromNode && f.method() == Some(method))
            .map(|f| (f.conn, f.params().cloned().unwrap_or(Value::Null)))
            .collect()
    }

    /// Protocol violations recorded so far (empty for a correct node).
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Fails the test when any violation was recorded.
    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "fake gateway recorded protocol violations:\n  {}",
            v.join("\n  ")
        );
    }

    /// The last `n` frames and every violation, for failure messages.
    pub fn describe(&self, n: usize) -> String {
        let s = self.shared.lock();
        let mut out = String::from("--- last frames ---\n");
        for f in s
            .frames
            .iter()
            .rev()
            .take(n)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let arrow = if f.dir == Dir::ToNode {
                "gw->node"
            } else {
                "node->gw"
            };
            let text: String = f.text.chars().take(600).collect();
            out.push_str(&format!("#{} {arrow} {text}\n", f.conn));
        }
        out.push_str("--- connections ---\n");
        for c in &s.conns {
            let outcome = match &c.outcome {
                Some(Outcome::Hello(h)) => format!("hello ({})", h.auth_method),
                Some(Outcome::Rejected(r)) => format!("rejected {}", r.error),
                None => "no connect".to_string(),
            };
            out.push_str(&format!("#{} {outcome}; closed: {:?}\n", c.id, c.closed));
        }
        if !s.violations.is_empty() {
            out.push_str(&format!(
                "--- violations ---\n{}\n",
                s.violations.join("\n")
            ));
        }
        out
    }

    /// The newest live connection that completed hello, waiting up to `timeout` for one.
    pub fn wait_for_hello(&self, timeout: Duration) -> Option<Hello> {
        self.shared
            .wait_for(timeout, |s| s.current_hello().cloned())
    }

    /// Like [`wait_for_hello`](Self::wait_for_hello) but fails the test with context.
    pub fn expect_hello(&self) -> Hello {
        self.wait_for_hello(WAIT)
            .unwrap_or_else(|| panic!("no hello within {WAIT:?}\n{}", self.describe(30)))
    }

    /// The first hello on a connection newer than `after_conn` (a reconnect).
    pub fn wait_for_hello_after(&self, after_conn: usize, timeout: Duration) -> Option<Hello> {
        self.shared.wait_for(timeout, |s| {
            s.conns
                .iter()
                .filter(|c| c.id > after_conn)
                .find_map(ConnRecord::hello)
                .cloned()
        })
    }

    /// The first connect rejection on a connection newer than `after_conn`.
    pub fn wait_for_rejection_after(
        &self,
        after_conn: usize,
        timeout: Duration,
    ) -> Option<Rejection> {
        self.shared.wait_for(timeout, |s| {
            s.conns
                .iter()
                .filter(|c| c.id > after_conn)
                .find_map(ConnRecord::rejection)
                .cloned()
        })
    }

    /// The first connection newer than `after_conn` that sent a `connect` (accepted or not).
    pub fn wait_for_connect_after(
        &self,
        after_conn: usize,
        timeout: Duration,
    ) -> Option<ConnRecord> {
        self.shared.wait_for(timeout, |s| {
            s.conns
                .iter()
                .find(|c| c.id > after_conn && c.connect_params.is_some())
                .cloned()
        })
    }

    /// How connection `conn` ended, waiting up to `timeout`.
    pub fn wait_for_close(&self, conn: usize, timeout: Duration) -> Option<CloseInfo> {
        self.shared.wait_for(timeout, |s| {
            s.conns.iter().find(|c| c.id == conn)?.closed.clone()
        })
    }

    /// Waits until the node sent a request with `method` on a connection ≥ `from_conn`;
    /// returns its params.
    pub fn wait_for_request(
        &self,
        method: &str,
        from_conn: usize,
        timeout: Duration,
    ) -> Option<Value> {
        self.shared.wait_for(timeout, |s| {
            s.frames
                .iter()
                .find(|f| {
                    f.dir == Dir::FromNode && f.conn >= from_conn && f.method() == Some(method)
                })
                .map(|f| f.params().cloned().unwrap_or(Value::Null))
        })
    }

    // ---- pairing --------------------------------------------------------------------------

    /// Device-pairing requests so far.
    pub fn pairing_requests(&self) -> Vec<PairingRequest> {
        self.shared.lock().pairing.clone()
    }

    /// Waits for a pending device-pairing request.
    pub fn wait_for_pairing_request(&self, timeout: Duration) -> Option<PairingRequest> {
        self.shared
            .wait_for(timeout, |s| s.pairing.iter().find(|r| !r.approved).cloned())
    }

    /// Approves every pending device-pairing request (`openclaw devices approve`): the devices
    /// become paired and get a device token; their next connect succeeds.
    pub fn approve_device(&self) -> Vec<String> {
        self.shared.update(|s| {
            let mut approved = Vec::new();
            let pending: Vec<PairingRequest> =
                s.pairing.iter().filter(|r| !r.approved).cloned().collect();
            for request in pending {
                let device = s
                    .devices
                    .entry(request.device_id.clone())
                    .or_insert_with(|| DeviceRecord {
                        public_key: request.public_key.clone(),
                        paired: false,
                        token: None,
                        token_issued_at_ms: 0,
                        surface_request: None,
                        surface_approved: false,
                    });
                device.paired = true;
                if device.token.is_none() {
                    device.token = Some(crypto::new_device_token());
                    device.token_issued_at_ms = now_ms();
                }
                approved.push(request.request_id.clone());
            }
            for r in s.pairing.iter_mut() {
                r.approved = true;
            }
            approved
        })
    }

    /// Approves the pending command surface of the live connection's device (`openclaw nodes
    /// approve`) and pushes `node.pair.resolved` on the live connection. Returns the request id.
    pub fn approve_surface(&self) -> Option<String> {
        let (sender, frame, request_id) = {
            let mut s = self.shared.lock();
            let hello = s.current_hello()?.clone();
            let device = s.devices.get_mut(&hello.device_id)?;
            let request_id = device.surface_request.take()?;
            device.surface_approved = true;
            let frame = json!({"type": "event", "event": "node.pair.resolved", "payload": {
                "requestId": request_id, "nodeId": hello.device_id, "decision": "approved", "ts": now_ms()}});
            (
                s.senders.get(&hello.conn)?.clone(),
                frame.to_string(),
                request_id,
            )
        };
        self.shared.changed.notify_all();
        sender.send(ConnCommand::Send(frame)).ok()?;
        Some(request_id)
    }

    /// The device token the gateway holds for `device_id`.
    pub fn device_token(&self, device_id: &str) -> Option<String> {
        self.shared.lock().devices.get(device_id)?.token.clone()
    }

    /// Revokes the device's token (`openclaw nodes remove` / `device.token.revoke`): the next
    /// connect with it fails with `AUTH_DEVICE_TOKEN_MISMATCH`.
    pub fn revoke_device_token(&self, device_id: &str) {
        self.shared.update(|s| {
            if let Some(d) = s.devices.get_mut(device_id) {
                d.token = None;
            }
        });
    }

    // ---- driving the node -------------------------------------------------------------------

    /// The command channel and hello of the newest live connection, waiting for one.
    fn live(&self, timeout: Duration) -> Result<(ConnSender, Hello), String> {
        self.shared
            .wait_for(timeout, |s| {
                let hello = s.current_hello()?.clone();
                Some((s.senders.get(&hello.conn)?.clone(), hello))
            })
            .ok_or_else(|| {
                format!(
                    "no live connection after hello within {timeout:?}\n{}",
                    self.describe(20)
                )
            })
    }

    /// Sends a text frame to the newest live connection, verbatim (garbage, unknown events …).
    pub fn send_raw(&self, text: &str) {
        let (sender, _) = self.live(WAIT).unwrap_or_else(|e| panic!("send_raw: {e}"));
        let _ = sender.send(ConnCommand::Send(text.to_string()));
    }

    /// Sends `{"type":"event","event":<event>,"payload":<payload>}` to the live connection.
    pub fn send_event(&self, event: &str, payload: Value) {
        self.send_raw(&json!({"type": "event", "event": event, "payload": payload}).to_string());
    }

    /// Sends `node.invoke.request` and returns the invoke id at once.
    pub fn send_invoke(&self, invoke: Invoke) -> String {
        let (sender, hello) = self
            .live(WAIT)
            .unwrap_or_else(|e| panic!("send_invoke: {e}"));
        // The connection thread registers the invoke when it writes the frame, before it can
        // read the node's answer.
        let frame = invoke.frame(&hello.device_id).to_string();
        let _ = sender.send(ConnCommand::Send(frame));
        invoke.id
    }

    /// Waits for the node's `node.invoke.result` for `invoke_id`. `Err` explains what happened
    /// instead (no result, or a result the gateway rejected, with the reason).
    pub fn wait_result(&self, invoke_id: &str, timeout: Duration) -> Result<InvokeReply, String> {
        let found = self.shared.wait_for(timeout, |s| {
            let record = s.results_for(invoke_id).next()?.clone();
            let (_, request_index) = *s.invokes_sent.get(invoke_id)?;
            let events = s
                .frames
                .get(request_index..record.frame_index)
                .unwrap_or(&[])
                .iter()
                .filter(|f| {
                    f.conn == record.conn
                        && f.dir == Dir::FromNode
                        && f.method() == Some("node.event")
                })
                .filter_map(|f| f.params().cloned())
                .collect::<Vec<_>>();
            Some((record, events))
        });
        let Some((record, events)) = found else {
            return Err(format!(
                "no node.invoke.result for invoke {invoke_id} within {timeout:?}\n{}",
                self.describe(30)
            ));
        };
        if let Err(why) = &record.verdict {
            return Err(format!("the gateway rejected the node.invoke.result for {invoke_id}: {why}\nresult params: {}", record.params));
        }
        let p = &record.params;
        Ok(InvokeReply {
            id: invoke_id.to_string(),
            conn: record.conn,
            ok: p.get("ok").and_then(Value::as_bool).unwrap_or(false),
            payload_json: p
                .get("payloadJSON")
                .and_then(Value::as_str)
                .map(str::to_string),
            payload: p.get("payload").cloned(),
            error: p.get("error").cloned(),
            params: record.params.clone(),
            events,
        })
    }

    /// Sends `invoke` and waits for its result; `Err` explains a missing or rejected result.
    pub fn try_invoke(&self, invoke: Invoke, timeout: Duration) -> Result<InvokeReply, String> {
        let id = self.send_invoke(invoke);
        self.wait_result(&id, timeout)
    }

    /// Sends `command` with `paramsJSON` (or none) and waits for the result; fails the test on
    /// timeout or a rejected result.
    pub fn invoke(&self, command: &str, params_json: Option<&str>) -> InvokeReply {
        let mut invoke = Invoke::new(command);
        invoke.params_json = params_json.map(str::to_string);
        self.try_invoke(invoke, WAIT)
            .unwrap_or_else(|e| panic!("invoke {command}: {e}"))
    }

    /// How many `node.invoke.result` requests arrived for `invoke_id` (cancel → 0).
    pub fn result_count(&self, invoke_id: &str) -> usize {
        self.shared.lock().results_for(invoke_id).count()
    }

    /// Sends `node.invoke.cancel {invokeId, nodeId}` to the live connection.
    pub fn send_cancel(&self, invoke_id: &str) {
        let (_, hello) = self
            .live(WAIT)
            .unwrap_or_else(|e| panic!("send_cancel: {e}"));
        self.send_event(
            "node.invoke.cancel",
            json!({"invokeId": invoke_id, "nodeId": hello.device_id}),
        );
    }

    /// Closes the live connection with `code`/`reason` and waits until it is gone.
    pub fn close_connection(&self, code: u16, reason: &str) -> usize {
        let (sender, hello) = self
            .live(WAIT)
            .unwrap_or_else(|e| panic!("close_connection: {e}"));
        let _ = sender.send(ConnCommand::Close {
            code,
            reason: reason.to_string(),
        });
        self.wait_for_close(hello.conn, WAIT);
        hello.conn
    }

    /// Drops the live connection's TCP socket without a close frame.
    pub fn drop_connection(&self) -> usize {
        let (sender, hello) = self
            .live(WAIT)
            .unwrap_or_else(|e| panic!("drop_connection: {e}"));
        let _ = sender.send(ConnCommand::Drop);
        self.wait_for_close(hello.conn, WAIT);
        hello.conn
    }

    /// Makes the live connection stop reading what the node sends, as a hung gateway process
    /// whose socket stays open would; it keeps sending ticks (when configured) and what the test
    /// queues. The connection ends when the node hangs up. Returns its number.
    pub fn stall_connection(&self) -> usize {
        let (sender, hello) = self
            .live(WAIT)
            .unwrap_or_else(|e| panic!("stall_connection: {e}"));
        let _ = sender.send(ConnCommand::Stall);
        hello.conn
    }

    /// Sends a WebSocket ping on the live connection and waits for the pong; `Some(rtt)` when it
    /// came back within `timeout`.
    pub fn ping(&self, timeout: Duration) -> Option<Duration> {
        let (sender, hello) = self.live(WAIT).ok()?;
        let payload = crypto::random_bytes::<8>().to_vec();
        let _ = sender.send(ConnCommand::Ping(payload.clone()));
        self.shared.wait_for(timeout, |s| {
            s.pings
                .iter()
                .find(|p| p.conn == hello.conn && p.payload == payload)
                .and_then(|p| p.rtt)
        })
    }

    /// Every ping sent so far, with its pong time if one came back.
    pub fn pings(&self) -> Vec<PingRecord> {
        self.shared.lock().pings.clone()
    }

    // ---- lifecycle --------------------------------------------------------------------------

    fn live_senders(&self) -> Vec<(usize, ConnSender)> {
        let s = self.shared.lock();
        s.senders.iter().map(|(id, tx)| (*id, tx.clone())).collect()
    }

    fn wait_all_closed(&self) {
        self.shared.wait_for(Duration::from_secs(10), |s| {
            s.senders.is_empty().then_some(())
        });
    }

    /// Stops listening and drops every connection abruptly (a crashed gateway).
    pub fn stop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.stop.store(true, Ordering::SeqCst);
            let _ = listener.thread.join();
        }
        for (_, tx) in self.live_senders() {
            let _ = tx.send(ConnCommand::Drop);
        }
        self.wait_all_closed();
    }

    /// Closes every connection with `1012 "service restart"`, then stops (a gateway restart).
    pub fn shutdown_for_restart(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.stop.store(true, Ordering::SeqCst);
            let _ = listener.thread.join();
        }
        for (_, tx) in self.live_senders() {
            let _ = tx.send(ConnCommand::Close {
                code: 1012,
                reason: "service restart".to_string(),
            });
        }
        self.wait_all_closed();
    }

    /// Listens again on the same port (after [`stop`](Self::stop)); devices, tokens and logs
    /// are kept, as a restarted gateway keeps its state.
    pub fn restart(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port))) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("fake gateway: cannot re-bind port {}: {e}", self.port),
            }
        };
        self.listen(listener);
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.stop();
    }
}
