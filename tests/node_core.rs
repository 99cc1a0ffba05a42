//! Integration tests of the node binary's gateway core against the strict fake gateway: the
//! handshake on the wire, identity and device-token persistence, pairing, liveness, reconnects,
//! exit codes, and the invoke protocol's general rules.
//!
//! Each test starts a fake gateway on a free port and `openclaw-node run --host 127.0.0.1 --port
//! <p> --display-name …` with a private HOME and OPENCLAW_STATE_DIR and RUST_LOG=debug; the node's
//! stderr is printed when a test fails. Waits are generous (see `support::WAIT`); nothing asserts
//! on timing.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{crypto, Closer, FakeGateway, GatewayConfig, Invoke, WAIT};

fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node"))
}

/// A node spec for `gw` with its HOME and state dir under `dir`.
fn spec(gw: &FakeGateway, dir: &TempDir) -> NodeSpawn {
    NodeSpawn::new(node_bin(), gw.port(), dir.path()).display_name("core-node")
}

/// Starts a node and waits for its hello.
fn start_connected(gw: &FakeGateway, spec: &NodeSpawn) -> (NodeProcess, support::Hello) {
    let node = NodeProcess::spawn(spec);
    let hello = gw.wait_for_hello(WAIT).unwrap_or_else(|| {
        panic!(
            "the node never completed the handshake\n{}",
            gw.describe(20)
        )
    });
    (node, hello)
}

/// Stops a node with SIGTERM and returns its exit code.
fn stop(node: &mut NodeProcess) -> Option<i32> {
    node.terminate();
    node.wait_exit(WAIT)
        .expect("node did not exit after SIGTERM")
        .code()
}

/// The PATH the node advertises: its own, with the node binary's directory, `/usr/bin` and
/// `/bin` moved to the front when already present (the TS host's `ensureOpenClawCliOnPath`).
fn expected_path_env() -> String {
    let raw = std::env::var("PATH").unwrap();
    let parts: Vec<&str> = raw.split(':').filter(|p| !p.is_empty()).collect();
    let bin = node_bin();
    let own = bin.parent().unwrap().to_str().unwrap().to_string();
    let mut merged: Vec<&str> = Vec::new();
    for dir in [own.as_str(), "/usr/bin", "/bin"]
        .into_iter()
        .filter(|d| parts.contains(d))
        .chain(parts.iter().copied())
    {
        if !merged.contains(&dir) {
            merged.push(dir);
        }
    }
    merged.join(":")
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit())
}

#[test]
fn handshake_fields_are_exact() {
    let gw = FakeGateway::start(GatewayConfig::default().token("tok"));
    let dir = TempDir::new("handshake");
    let spec = spec(&gw, &dir).token("tok");
    let (_node, hello) = start_connected(&gw, &spec);
    let p = &hello.params;
    let conn = &gw.connections()[hello.conn - 1];

    assert_eq!(
        (p["minProtocol"].clone(), p["maxProtocol"].clone()),
        (json!(4), json!(4))
    );
    let client = p["client"].as_object().unwrap();
    let mut keys: Vec<&str> = client.keys().map(String::as_str).collect();
    keys.sort();
    keys.retain(|k| *k != "modelIdentifier");
    assert_eq!(
        keys,
        [
            "deviceFamily",
            "displayName",
            "id",
            "instanceId",
            "mode",
            "platform",
            "version"
        ]
    );
    assert_eq!(client["id"], "node-host");
    assert_eq!(client["mode"], "node");
    assert_eq!(client["platform"], "linux");
    assert_eq!(client["deviceFamily"], "Linux");
    assert_eq!(client["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(client["displayName"], "core-node");
    assert!(
        is_uuid_v4(client["instanceId"].as_str().unwrap()),
        "{}",
        client["instanceId"]
    );
    assert_eq!(p["role"], "node");
    assert_eq!(p["scopes"], json!([]));

    let caps: Vec<&str> = p["caps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(caps.contains(&"system"), "{caps:?}");
    let mut sorted = caps.clone();
    sorted.sort();
    assert_eq!(caps, sorted, "caps are sent sorted");
    let commands: Vec<&str> = p["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for required in [
        "system.execApprovals.get",
        "system.execApprovals.set",
        "system.run",
        "system.run.prepare",
        "system.which",
    ] {
        assert!(
            commands.contains(&required),
            "{required} missing from {commands:?}"
        );
    }
    let mut sorted = commands.clone();
    sorted.sort();
    assert_eq!(commands, sorted, "commands are sent sorted");
    assert_eq!(p["pathEnv"], json!(expected_path_env()));

    // A shared token is configured and nothing is stored yet: exactly {token}.
    assert_eq!(p["auth"], json!({"token": "tok"}));
    let device = &p["device"];
    assert_eq!(
        crypto::device_id_from_public_key(device["publicKey"].as_str().unwrap()).as_deref(),
        device["id"].as_str()
    );
    assert_eq!(
        device["publicKey"].as_str().unwrap().len(),
        43,
        "unpadded base64url"
    );
    assert_eq!(
        device["signature"].as_str().unwrap().len(),
        86,
        "unpadded base64url"
    );
    assert_eq!(device["nonce"], json!(conn.nonce));
    assert_eq!(device["signedAt"], json!(conn.challenge_ts));
    assert_eq!(hello.signature_version, "v3");
    assert_eq!(hello.auth_method, "token");

    // The connect is the first frame the node sends.
    let first = gw
        .frames()
        .into_iter()
        .find(|f| f.conn == hello.conn && f.dir == support::Dir::FromNode)
        .unwrap();
    assert_eq!(first.method(), Some("connect"));
    gw.assert_no_violations();
}

/// The device tokens a state directory holds, as text: `identity/device-auth.json`, else the
/// `device_auth_tokens` rows of `state/openclaw.sqlite`.
fn stored_tokens(state_dir: &std::path::Path) -> String {
    let file = state_dir.join("identity").join("device-auth.json");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return text;
    }
    let Ok(db) = rusqlite::Connection::open_with_flags(
        state_dir.join("state").join("openclaw.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return String::new();
    };
    let mut rows = Vec::new();
    if let Ok(mut query) = db.prepare("SELECT device_id, role, token FROM device_auth_tokens") {
        let found = query.query_map([], |row| {
            Ok(format!(
                "{} {} {}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?
            ))
        });
        if let Ok(found) = found {
            rows.extend(found.flatten());
        }
    }
    rows.join("\n")
}

/// Restarts keep the identity, on both backends: the 2026.9 database a fresh directory gets,
/// and the JSON files `OPENCLAW_NODE_STATE_BACKEND=json` keeps it on.
#[test]
fn identity_persists_across_restarts() {
    for (backend, store) in [
        ("", "state/openclaw.sqlite"),
        ("json", "identity/device.json"),
    ] {
        let gw = FakeGateway::start(GatewayConfig::default());
        let dir = TempDir::new("identity");
        let spec = spec(&gw, &dir).env("OPENCLAW_NODE_STATE_BACKEND", backend);
        let (mut node, first) = start_connected(&gw, &spec);
        // No credentials at all: `auth` is omitted (§1.5).
        assert!(first.params.get("auth").is_none(), "{}", first.params);
        assert_eq!(stop(&mut node), Some(143));

        let store_file = spec.state_dir.join(store);
        let mode = std::fs::metadata(&store_file)
            .unwrap_or_else(|e| panic!("{}: {e}", store_file.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{store} mode {mode:o}");
        let other = if backend == "json" {
            "state/openclaw.sqlite"
        } else {
            "identity/device.json"
        };
        assert!(!spec.state_dir.join(other).exists(), "{other} written too");

        let _node = NodeProcess::spawn(&spec);
        let second = gw
            .wait_for_hello_after(first.conn, WAIT)
            .expect("hello after restart");
        assert_eq!(second.device_id, first.device_id);
        assert_eq!(
            second.params["device"]["publicKey"],
            first.params["device"]["publicKey"]
        );
        assert_eq!(
            second.params["client"]["instanceId"],
            first.params["client"]["instanceId"]
        );
        gw.assert_no_violations();
    }
}

#[test]
fn device_token_is_stored_and_reused_without_a_shared_token() {
    let gw = FakeGateway::start(GatewayConfig::default().token("tok"));
    let dir = TempDir::new("devtoken");
    let with_token = spec(&gw, &dir).token("tok");
    let (mut node, first) = start_connected(&gw, &with_token);
    let issued = first
        .device_token
        .clone()
        .expect("hello-ok carried a device token");
    assert_eq!(stop(&mut node), Some(143));

    // Same state dir, no OPENCLAW_GATEWAY_TOKEN: the stored device token alone, and it is the
    // signature's token slot (the fake verified the signature, or there would be no hello).
    let without_token = spec(&gw, &dir);
    let _node = NodeProcess::spawn(&without_token);
    let second = gw
        .wait_for_hello_after(first.conn, WAIT)
        .unwrap_or_else(|| panic!("no hello with the stored device token\n{}", gw.describe(20)));
    assert_eq!(second.params["auth"], json!({"deviceToken": issued}));
    assert_eq!(second.auth_method, "device-token");
    assert_eq!(second.signature_version, "v3");
    gw.assert_no_violations();
}

#[test]
fn shared_token_mismatch_retries_once_with_the_device_token() {
    let gw = FakeGateway::start(GatewayConfig::default().token("right"));
    let dir = TempDir::new("retry");
    let (mut node, first) = start_connected(&gw, &spec(&gw, &dir).token("right"));
    let issued = first.device_token.clone().unwrap();
    assert_eq!(stop(&mut node), Some(143));

    let _node = NodeProcess::spawn(&spec(&gw, &dir).token("wrong"));
    let rejected = gw
        .wait_for_rejection_after(first.conn, WAIT)
        .expect("the wrong token is rejected");
    assert_eq!(rejected.detail_code(), Some("AUTH_TOKEN_MISMATCH"));
    // With a shared token configured, the stored device token is not sent at first (§1.5).
    let refused = &gw.connections()[rejected.conn - 1];
    assert_eq!(
        refused.connect_params.as_ref().unwrap()["auth"],
        json!({"token": "wrong"})
    );
    let retry = gw
        .wait_for_hello_after(rejected.conn, WAIT)
        .unwrap_or_else(|| {
            panic!(
                "no device-token retry after AUTH_TOKEN_MISMATCH\n{}",
                gw.describe(20)
            )
        });
    assert_eq!(
        retry.params["auth"],
        json!({"token": "wrong", "deviceToken": issued})
    );
    assert_eq!(retry.auth_method, "device-token");
}

#[test]
fn pairing_pending_is_announced_once_and_approval_is_picked_up_without_restart() {
    let gw = FakeGateway::start(GatewayConfig::default().require_pairing().surface_pending());
    let dir = TempDir::new("pairing");
    let mut node = NodeProcess::spawn(&spec(&gw, &dir));
    let request = gw
        .wait_for_pairing_request(WAIT)
        .expect("a pairing request");
    let approve = format!("openclaw devices approve {}", request.request_id);
    assert!(
        node.wait_for_output(&approve, WAIT),
        "the approve command was not printed:\n{}",
        node.stderr()
    );

    // Two more refused attempts with the same request; the command is still printed once.
    let first = gw
        .connections()
        .iter()
        .find(|c| c.rejection().is_some())
        .unwrap()
        .id;
    let second = gw
        .wait_for_rejection_after(first, WAIT)
        .expect("the node retries while pending");
    gw.wait_for_rejection_after(second.conn, WAIT)
        .expect("the node keeps retrying");
    assert_eq!(node.count_in_output(&approve), 1, "{}", node.stderr());

    gw.approve_device();
    let hello = gw.wait_for_hello(WAIT).unwrap_or_else(|| {
        panic!(
            "the approval was not picked up without a restart\n{}",
            gw.describe(20)
        )
    });
    assert!(node.is_running());
    assert_eq!(hello.device_id, request.device_id);
    assert!(hello.device_token.is_some());

    // Command-surface approval arrives on the live connection and is logged.
    let surface = gw.approve_surface().expect("a pending command surface");
    assert!(
        node.wait_for_output(&surface, WAIT),
        "node.pair.resolved was not logged:\n{}",
        node.stderr()
    );
    let line = node
        .stderr()
        .lines()
        .find(|l| l.contains(&surface))
        .unwrap()
        .to_string();
    assert!(line.contains("approved"), "{line}");
    gw.assert_no_violations();
}

#[test]
fn tick_timeout_closes_4000_and_reconnects() {
    let gw = FakeGateway::start(GatewayConfig::default().tick_interval_ms(1000).silent());
    let dir = TempDir::new("tick");
    let (_node, hello) = start_connected(&gw, &spec(&gw, &dir));
    let closed = gw
        .wait_for_close(hello.conn, WAIT)
        .expect("the node closes a silent connection");
    assert_eq!(
        (closed.by, closed.code, closed.reason.as_str()),
        (Closer::Node, Some(4000), "tick timeout"),
        "{}",
        gw.describe(10)
    );
    let again = gw
        .wait_for_hello_after(hello.conn, WAIT)
        .expect("the node reconnects");
    eprintln!(
        "reconnected {:?} after the tick-timeout close",
        again.at.duration_since(closed.at)
    );
}

#[test]
fn ticking_gateway_keeps_the_connection() {
    let gw = FakeGateway::start(GatewayConfig::default().tick_interval_ms(300));
    let dir = TempDir::new("ticking");
    let (_node, hello) = start_connected(&gw, &spec(&gw, &dir));
    // Several tick intervals later the same connection still serves invokes.
    std::thread::sleep(Duration::from_millis(1500));
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert_eq!(reply.conn, hello.conn);
    assert!(gw.connections()[hello.conn - 1].is_live());
}

#[test]
fn pings_are_answered() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("ping");
    let (_node, _) = start_connected(&gw, &spec(&gw, &dir));
    for _ in 0..3 {
        let rtt = gw.ping(WAIT).expect("no pong for a ping");
        eprintln!("pong after {rtt:?}");
    }
    // Also while a command is being answered.
    gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(gw.ping(WAIT).is_some());
}

#[test]
fn gateway_restart_with_1012_and_abrupt_drop_both_reconnect() {
    let mut gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("restart");
    let (node, hello) = start_connected(&gw, &spec(&gw, &dir));

    gw.shutdown_for_restart();
    let closed = gw.wait_for_close(hello.conn, WAIT).unwrap();
    assert_eq!((closed.by, closed.code), (Closer::Gateway, Some(1012)));
    // Let the node meet a closed port at least once before the gateway is back.
    std::thread::sleep(Duration::from_millis(1500));
    gw.restart();
    let second = gw
        .wait_for_hello_after(hello.conn, WAIT)
        .unwrap_or_else(|| panic!("no reconnect after a 1012 restart\n{}", node.stderr()));
    assert_eq!(second.device_id, hello.device_id);

    let dropped = gw.drop_connection();
    let third = gw
        .wait_for_hello_after(dropped, WAIT)
        .unwrap_or_else(|| panic!("no reconnect after an abrupt drop\n{}", node.stderr()));
    assert!(gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#)).ok);
    assert_eq!(third.device_id, hello.device_id);
}

#[test]
fn fresh_node_exits_1_on_token_mismatch() {
    let gw = FakeGateway::start(GatewayConfig::default().token("right"));
    let dir = TempDir::new("mismatch");
    let mut node = NodeProcess::spawn(&spec(&gw, &dir).token("wrong"));
    let status = node
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("the node did not exit\n{}", node.stderr()));
    assert_eq!(status.code(), Some(1), "{}", node.stderr());
    let conns = gw.connections();
    let attempts: Vec<_> = conns
        .iter()
        .filter(|c| c.connect_params.is_some())
        .collect();
    // No stored device token: nothing to retry with.
    assert_eq!(attempts.len(), 1, "{}", gw.describe(10));
    assert_eq!(
        attempts[0].rejection().unwrap().detail_code(),
        Some("AUTH_TOKEN_MISMATCH")
    );
    assert!(
        node.stderr().contains("AUTH_TOKEN_MISMATCH"),
        "{}",
        node.stderr()
    );
}

#[test]
fn sigterm_closes_cleanly_and_exits_143() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("sigterm");
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    assert_eq!(stop(&mut node), Some(143), "{}", node.stderr());
    let closed = gw.wait_for_close(hello.conn, WAIT).unwrap();
    assert_eq!(
        (closed.by, closed.code),
        (Closer::Node, Some(1000)),
        "{closed:?}"
    );
}

#[test]
fn unknown_command_and_params_rules() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("params");
    let (_node, _) = start_connected(&gw, &spec(&gw, &dir));

    let reply = gw.invoke("foo.bar", Some(r#"{"x": 1}"#));
    assert!(!reply.ok);
    assert_eq!(
        reply.error,
        Some(json!({"code": "UNAVAILABLE", "message": "command not supported"}))
    );

    assert_params_rules(&gw, "system.which");
    // The result goes back for the node's own device id.
    let reply = gw.invoke("system.which", None);
    assert_eq!(
        reply.params["nodeId"],
        json!(gw.wait_for_hello(WAIT).unwrap().device_id)
    );
    gw.assert_no_violations();
}

/// The general `paramsJSON` rules of §5 for `command`: missing, empty, `params:null` and
/// unparseable.
fn assert_params_rules(gw: &FakeGateway, command: &str) {
    let required = (
        "INVALID_REQUEST".to_string(),
        "Error: INVALID_REQUEST: paramsJSON required".to_string(),
    );
    let malformed = (
        "INVALID_REQUEST".to_string(),
        "Error: INVALID_REQUEST: paramsJSON malformed JSON".to_string(),
    );
    assert_eq!(
        gw.invoke(command, None).error_pair(),
        required,
        "{command} without paramsJSON"
    );
    assert_eq!(
        gw.invoke(command, Some("")).error_pair(),
        required,
        "{command} with empty paramsJSON"
    );
    assert_eq!(
        gw.invoke(command, Some("{not json")).error_pair(),
        malformed,
        "{command}"
    );
    let null = gw
        .try_invoke(Invoke::new(command).params(Value::Null), WAIT)
        .unwrap();
    assert_eq!(null.error_pair(), required, "{command} with params:null");
}

#[test]
fn system_run_params_rules() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("runparams");
    let (_node, _) = start_connected(&gw, &spec(&gw, &dir));
    assert_params_rules(&gw, "system.run");
    gw.assert_no_violations();
}

#[test]
fn system_which_answers_from_path_and_accepts_the_params_object() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("which");
    let (_node, _) = start_connected(&gw, &spec(&gw, &dir));
    let path = std::env::var("PATH").unwrap();
    let sh = path
        .split(':')
        .map(|d| std::path::Path::new(d).join("sh"))
        .find(|p| p.exists())
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let reply = gw.invoke(
        "system.which",
        Some(r#"{"bins":["sh","no-such-bin-4711","a/sh",""]}"#),
    );
    assert!(reply.ok, "{:?}", reply.error);
    assert!(
        reply.payload_json.is_some(),
        "built-in commands answer with payloadJSON"
    );
    assert_eq!(reply.payload_value(), json!({"bins": {"sh": sh}}));

    let reply = gw
        .try_invoke(
            Invoke::new("system.which").params(json!({"bins": ["sh"]})),
            WAIT,
        )
        .unwrap();
    assert_eq!(reply.payload_value(), json!({"bins": {"sh": sh}}));

    let reply = gw.invoke("system.which", Some(r#"{"bins":"sh"}"#));
    assert_eq!(
        reply.error_pair(),
        (
            "INVALID_REQUEST".to_string(),
            "Error: INVALID_REQUEST: bins required".to_string()
        )
    );
    gw.assert_no_violations();
}

#[test]
fn unknown_events_and_garbage_are_ignored() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("garbage");
    let (_node, hello) = start_connected(&gw, &spec(&gw, &dir));
    gw.send_raw("this is not json");
    gw.send_raw("[1,2,3]");
    gw.send_raw(r#"{"type":"res","id":"nobody-asked","ok":true,"payload":{}}"#);
    gw.send_raw(r#"{"type":"mystery"}"#);
    gw.send_event("voicewake.changed", json!({"triggers": ["openclaw"]}));
    gw.send_event("presence", json!({}));
    gw.send_event(
        "node.invoke.cancel",
        json!({"invokeId": "not-running", "nodeId": hello.device_id}),
    );
    // Invalid invoke requests are dropped without a result (§4.1).
    gw.send_event(
        "node.invoke.request",
        json!({"id": "", "nodeId": hello.device_id, "command": "system.which"}),
    );
    gw.send_event(
        "node.invoke.request",
        json!({"id": "no-command", "nodeId": hello.device_id}),
    );

    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok);
    assert_eq!(reply.conn, hello.conn, "the connection survived");
    assert!(gw.connections()[hello.conn - 1].is_live());
    assert_eq!(gw.result_count("no-command"), 0);
    gw.assert_no_violations();
}

/// Whether a process whose command line contains `needle` is running.
fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| {
            String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        })
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn cancel_kills_the_command_and_sends_no_result() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("cancel");
    let (_node, _) = start_connected(&gw, &spec(&gw, &dir));
    let marker = "31.4159";
    let id = gw.send_invoke(Invoke::new("system.run").params_json(&format!(
        r#"{{"command":["sleep","{marker}"],"runId":"r-cancel"}}"#
    )));
    assert!(
        wait_until(WAIT, || process_running(&format!("sleep {marker}"))),
        "system.run never started the command\n{}",
        gw.describe(10)
    );
    gw.send_cancel(&id);
    assert!(
        wait_until(WAIT, || !process_running(&format!("sleep {marker}"))),
        "the command survived the cancel"
    );
    // Anything sent after the cancel would arrive before this later result.
    assert!(gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#)).ok);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gw.result_count(&id),
        0,
        "a result was sent after the cancel\n{}",
        gw.describe(10)
    );
    let finished: Vec<_> = gw
        .requests("node.event")
        .into_iter()
        .filter(|(_, p)| {
            p["payloadJSON"]
                .as_str()
                .is_some_and(|t| t.contains("r-cancel"))
        })
        .collect();
    assert!(
        finished.is_empty(),
        "exec events were sent for the cancelled run: {finished:?}"
    );
}

#[test]
fn busy_answer_when_the_pool_is_saturated() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("busy");
    // One worker and a queue of four (OPENCLAW_NODE_MAX_INVOKES sets the workers; the queue is
    // four times that): the sixth concurrent invoke finds no room.
    let spec = spec(&gw, &dir).env("OPENCLAW_NODE_MAX_INVOKES", "1");
    let (_node, _) = start_connected(&gw, &spec);
    let ids: Vec<String> = (0..8)
        .map(|_| {
            gw.send_invoke(Invoke::new("system.run").params_json(r#"{"command":["sleep","2.5"]}"#))
        })
        .collect();
    // The busy answers come at once, while the first sleep still runs.
    let busy: Vec<_> = ids
        .iter()
        .filter_map(|id| gw.wait_result(id, Duration::from_millis(1500)).ok())
        .filter(|r| r.error_code() == Some("UNAVAILABLE"))
        .collect();
    assert!(
        !busy.is_empty(),
        "no busy answer for 8 concurrent invokes on a 1-worker pool\n{}",
        gw.describe(20)
    );
    for reply in &busy {
        let message = reply.error_message().unwrap_or_default();
        assert!(message.contains("busy"), "{message}");
    }
    for id in &ids {
        gw.send_cancel(id);
    }
}

#[test]
fn protocol_3_gateway_gets_the_legacy_envelope() {
    let gw = FakeGateway::start(GatewayConfig::default().legacy_protocol3());
    let dir = TempDir::new("proto3");
    let (_node, hello) = start_connected(&gw, &spec(&gw, &dir));
    let conns = gw.connections();
    let first = conns.iter().find(|c| c.connect_params.is_some()).unwrap();
    let rejection = first.rejection().expect("the first 4/4 connect is refused");
    assert_eq!(rejection.message(), "protocol mismatch");
    assert_eq!(first.connect_params.as_ref().unwrap()["minProtocol"], 4);

    let p = &hello.params;
    assert_eq!(
        (p["minProtocol"].clone(), p["maxProtocol"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(p["client"]["platform"], "linux");
    assert!(
        p["client"].get("deviceFamily").is_none(),
        "the v3 envelope has no deviceFamily"
    );
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok);
    // Methods an old gateway refuses ("unauthorized role: node") must not break the session.
    assert!(gw.connections()[hello.conn - 1].is_live());
    gw.assert_no_violations();
}

#[test]
fn revoked_device_token_is_deleted() {
    let gw = FakeGateway::start(GatewayConfig::default().token("tok"));
    let dir = TempDir::new("revoked");
    let (mut node, first) = start_connected(&gw, &spec(&gw, &dir).token("tok"));
    let issued = first.device_token.clone().unwrap();
    assert_eq!(stop(&mut node), Some(143));
    let state_dir = dir.path().join("state");
    let stored = stored_tokens(&state_dir);
    assert!(
        stored.contains(&issued),
        "the device token was not stored in {}",
        state_dir.display()
    );

    gw.revoke_device_token(&first.device_id);
    let mut node = NodeProcess::spawn(&spec(&gw, &dir));
    let rejected = gw
        .wait_for_rejection_after(first.conn, WAIT)
        .expect("the revoked token is refused");
    assert_eq!(rejected.detail_code(), Some("AUTH_DEVICE_TOKEN_MISMATCH"));
    // The stored token is deleted (§1.10 point 4, §3.4) and never offered again.
    let next = gw.wait_for_connect_after(rejected.conn, WAIT);
    if let Some(next) = next {
        let params = next.connect_params.unwrap();
        assert!(
            params
                .get("auth")
                .and_then(|a| a.get("deviceToken"))
                .is_none(),
            "the revoked token was sent again: {params}"
        );
    }
    node.wait_exit(WAIT);
    let stored = stored_tokens(&state_dir);
    assert!(
        !stored.contains(&issued),
        "the revoked token is still stored:\n{stored}"
    );
}

#[test]
fn sigterm_while_waiting_for_pairing_exits_143() {
    let gw = FakeGateway::start(GatewayConfig::default().require_pairing());
    let dir = TempDir::new("pairing-sigterm");
    let mut node = NodeProcess::spawn(&spec(&gw, &dir));
    gw.wait_for_pairing_request(WAIT)
        .expect("a pairing request");
    assert_eq!(stop(&mut node), Some(143), "{}", node.stderr());
}

#[test]
fn sigterm_while_the_gateway_is_down_exits_143() {
    let mut gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("down-sigterm");
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    gw.stop();
    gw.wait_for_close(hello.conn, WAIT);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(stop(&mut node), Some(143), "{}", node.stderr());
}

#[test]
fn a_gateway_that_verifies_only_v2_signatures_gets_one() {
    // The oldest gateways speak protocol 3 and verify only v2 signatures (2026.1.29–2026.2.3).
    let gw = FakeGateway::start(
        GatewayConfig::default()
            .legacy_protocol3()
            .v2_signatures_only(),
    );
    let dir = TempDir::new("v2sig");
    let (_node, hello) = start_connected(&gw, &spec(&gw, &dir));
    assert_eq!(hello.params["minProtocol"], 3);
    let refused: Vec<_> = gw
        .connections()
        .iter()
        .filter_map(|c| {
            c.rejection()
                .and_then(|r| r.detail_code().map(str::to_string))
        })
        .collect();
    assert!(
        refused.contains(&"DEVICE_AUTH_SIGNATURE_INVALID".to_string()),
        "{refused:?}"
    );
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok, "{reply:?}");
}
