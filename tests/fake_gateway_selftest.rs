//! Tests of the fake gateway itself, driven by a minimal in-test node client (tungstenite + ring,
//! signing with the protocol §2.4 test-vector key). If these pass, a failure in `node_core.rs`
//! points at the node, not at the fake.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use support::crypto::{self, SignedFields, TestKey};
use support::{Closer, FakeGateway, GatewayConfig, Invoke, WAIT};
use tungstenite::{Message, WebSocket};

const SPEC_DEVICE_ID: &str = "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

/// How the minimal client signs its connect.
#[derive(Clone, Copy, PartialEq)]
enum Sign {
    V3,
    V2,
    Garbage,
}

/// A minimal node: enough of the protocol to exercise the fake.
struct Client {
    ws: WebSocket<TcpStream>,
    challenge: Value,
    key: TestKey,
}

impl Client {
    fn open(gateway: &FakeGateway, key: TestKey) -> Client {
        let stream =
            TcpStream::connect(("127.0.0.1", gateway.port())).expect("connect to fake gateway");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (mut ws, _) = tungstenite::client(gateway.url(), stream).expect("websocket handshake");
        let challenge = read_json(&mut ws).expect("connect.challenge");
        Client { ws, challenge, key }
    }

    fn nonce(&self) -> String {
        self.challenge["payload"]["nonce"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn ts(&self) -> u64 {
        self.challenge["payload"]["ts"].as_u64().unwrap()
    }

    /// Connect params as a correct node builds them (§1.4), with `auth` and the given signature.
    fn params(&self, auth: Value, sign: Sign, protocol: u64) -> Value {
        let token = ["token", "deviceToken", "bootstrapToken"]
            .iter()
            .find_map(|k| auth.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        let device_id = self.key.device_id();
        let nonce = self.nonce();
        let family = (protocol == 4).then_some("Linux");
        let fields = SignedFields {
            device_id: &device_id,
            client_id: "node-host",
            client_mode: "node",
            role: "node",
            scopes: &[],
            signed_at_ms: self.ts(),
            token: &token,
            nonce: &nonce,
            platform: Some("linux"),
            device_family: family,
        };
        let signature = match sign {
            Sign::V3 => self.key.sign_b64url(&crypto::payload_v3(&fields)),
            Sign::V2 => self.key.sign_b64url(&crypto::payload_v2(&fields)),
            Sign::Garbage => self.key.sign_b64url("not the payload"),
        };
        let mut client = json!({"id": "node-host", "displayName": "selftest", "version": "0.1.0",
            "platform": "linux", "mode": "node", "instanceId": "00000000-0000-4000-8000-000000000000"});
        if let Some(family) = family {
            client["deviceFamily"] = json!(family);
        }
        let mut params = json!({
            "minProtocol": protocol, "maxProtocol": protocol,
            "client": client,
            "caps": ["system"],
            "commands": ["system.run", "system.which"],
            "role": "node", "scopes": [],
            "device": {"id": device_id, "publicKey": self.key.public_key_b64url(),
                       "signature": signature, "signedAt": self.ts(), "nonce": nonce},
        });
        if auth.as_object().is_some_and(|a| !a.is_empty()) {
            params["auth"] = auth;
        }
        params
    }

    fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .expect("send");
    }

    /// Sends `connect` and returns the response frame.
    fn connect(&mut self, params: Value) -> Value {
        self.send(json!({"type": "req", "id": "1", "method": "connect", "params": params}));
        self.read_until(|f| f["type"] == "res")
            .expect("connect response")
    }

    fn read_until(&mut self, mut want: impl FnMut(&Value) -> bool) -> Option<Value> {
        loop {
            let frame = read_json(&mut self.ws)?;
            if want(&frame) {
                return Some(frame);
            }
        }
    }

    /// Reads until the gateway's close frame; returns `(code, reason)`.
    fn read_close(&mut self) -> Option<(u16, String)> {
        loop {
            match self.ws.read() {
                Ok(Message::Close(Some(frame))) => {
                    return Some((frame.code.into(), frame.reason.to_string()))
                }
                Ok(Message::Close(None)) => return None,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

fn read_json(ws: &mut WebSocket<TcpStream>) -> Option<Value> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Close(_)) => return None,
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

fn gateway(config: GatewayConfig) -> FakeGateway {
    FakeGateway::start(config)
}

#[test]
fn crypto_matches_the_spec_test_vectors() {
    let key = TestKey::spec_vector();
    assert_eq!(
        key.public_key_b64url(),
        "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
    );
    assert_eq!(key.device_id(), SPEC_DEVICE_ID);
    assert_eq!(
        crypto::device_id_from_public_key("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg").unwrap(),
        SPEC_DEVICE_ID
    );
    let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
    assert_eq!(
        crypto::device_id_from_public_key(pem).unwrap(),
        SPEC_DEVICE_ID
    );
    let fields = |token: &'static str| SignedFields {
        device_id: SPEC_DEVICE_ID,
        client_id: "node-host",
        client_mode: "node",
        role: "node",
        scopes: &[],
        signed_at_ms: 1795496029380,
        token,
        nonce: "d5bfb165-a5b6-44ae-a21a-12515ff8b4ea",
        platform: Some("linux"),
        device_family: Some("Linux"),
    };
    let v3 = crypto::payload_v3(&fields("example-shared-token"));
    assert_eq!(v3, "v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|node-host|node|node||1795496029380|example-shared-token|d5bfb165-a5b6-44ae-a21a-12515ff8b4ea|linux|linux");
    assert_eq!(
        key.sign_b64url(&v3),
        "_G5JAxagsMq-C5rfqAlGAy00BG4fd0z56dA5eDGqkSCcQvEMyNWyTFFaTdaqRVNskGAV26ovNr_P9_QPlrcKBg"
    );
    let v2 = crypto::payload_v2(&fields("example-shared-token"));
    assert_eq!(
        key.sign_b64url(&v2),
        "rMt3gc1EOP2AFA7-H5qx4oIpJPP3Xu9FEDcBGsGvDXxI4WP3j10tJRg8jBtnIrfQvjR_PI5-ZqMGFJ1n3IHsBw"
    );
    let no_token = crypto::payload_v3(&fields(""));
    assert_eq!(
        key.sign_b64url(&no_token),
        "p_cx6DhakFxiOjnQq1ZWHT47ONkSeyTlHhzMzQSoAMRIe5Ota4N0BHmnkfLDqkuKQtkbC7w6GxwV_ddsxV0xBQ"
    );
    let device_token = crypto::payload_v3(&fields("ZXhhbXBsZS1kZXZpY2UtdG9rZW4tMzItYnl0ZXMtYWI"));
    assert_eq!(
        key.sign_b64url(&device_token),
        "wv98kjvQjKRPrMXuCbAiETpyUq-M6kvdiSppp8cjBsrd69rw3CdSk-YUBMjaCDNHX3G0aWtGlajrw_FOqxw3Bg"
    );
    let raw = key.public_raw();
    assert!(crypto::verify_signature(
        &raw,
        &v3,
        "_G5JAxagsMq-C5rfqAlGAy00BG4fd0z56dA5eDGqkSCcQvEMyNWyTFFaTdaqRVNskGAV26ovNr_P9_QPlrcKBg"
    ));
    assert!(!crypto::verify_signature(
        &raw,
        &v2,
        "_G5JAxagsMq-C5rfqAlGAy00BG4fd0z56dA5eDGqkSCcQvEMyNWyTFFaTdaqRVNskGAV26ovNr_P9_QPlrcKBg"
    ));
}

#[test]
fn good_connect_is_accepted_with_hello_ok() {
    let gw = gateway(
        GatewayConfig::default()
            .token("secret")
            .tick_interval_ms(1234),
    );
    let mut client = Client::open(&gw, TestKey::spec_vector());
    assert_eq!(client.challenge["event"], "connect.challenge");
    assert_eq!(
        client.challenge["payload"]["capabilities"],
        json!(["model-catalog-snapshot"])
    );
    assert_eq!(client.nonce().len(), 36);

    let res = client.connect(client.params(json!({"token": "secret"}), Sign::V3, 4));
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["id"], "1");
    let hello = &res["payload"];
    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    assert_eq!(hello["auth"]["method"], "token");
    assert_eq!(hello["auth"]["role"], "node");
    assert_eq!(hello["auth"]["scopes"], json!([]));
    assert_eq!(hello["auth"]["deviceToken"].as_str().unwrap().len(), 43);
    assert_eq!(hello["policy"]["tickIntervalMs"], 1234);

    let h = gw.expect_hello();
    assert_eq!(h.device_id, SPEC_DEVICE_ID);
    assert_eq!(h.signature_version, "v3");
    assert_eq!(
        h.device_token.as_deref(),
        hello["auth"]["deviceToken"].as_str()
    );
    assert_eq!(gw.device_token(SPEC_DEVICE_ID), h.device_token);

    // Ticks follow at the configured interval, with a per-connection seq.
    let tick = client.read_until(|f| f["event"] == "tick").expect("tick");
    assert_eq!(tick["seq"], 1);
    assert!(tick["payload"]["ts"].is_u64());
    gw.assert_no_violations();
}

#[test]
fn v2_signature_is_accepted() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    let res = client.connect(client.params(json!({}), Sign::V2, 4));
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["method"], "none");
    assert_eq!(gw.expect_hello().signature_version, "v2");
}

#[test]
fn wrong_signature_is_rejected_with_device_auth_signature_invalid() {
    let gw = gateway(GatewayConfig::default().token("secret"));
    let mut client = Client::open(&gw, TestKey::spec_vector());
    let res = client.connect(client.params(json!({"token": "secret"}), Sign::Garbage, 4));
    assert_eq!(
        res["error"],
        json!({"code": "INVALID_REQUEST", "message": "device signature invalid",
               "details": {"code": "DEVICE_AUTH_SIGNATURE_INVALID", "reason": "device-signature"}})
    );
    assert_eq!(res["ok"], false);
    assert_eq!(
        client.read_close(),
        Some((1008, "device signature invalid".to_string()))
    );
    let conn = &gw.connections()[0];
    assert_eq!(
        conn.rejection().unwrap().detail_code(),
        Some("DEVICE_AUTH_SIGNATURE_INVALID")
    );
    let closed = gw.wait_for_close(conn.id, WAIT).unwrap();
    assert_eq!((closed.by, closed.code), (Closer::Gateway, Some(1008)));
}

#[test]
fn a_signature_over_another_token_is_rejected() {
    // The token slot is auth.token ?? auth.deviceToken ?? …: signing "" while sending a token fails.
    let gw = gateway(GatewayConfig::default().token("secret"));
    let mut client = Client::open(&gw, TestKey::random());
    let mut params = client.params(json!({}), Sign::V3, 4);
    params["auth"] = json!({"token": "secret"});
    let res = client.connect(params);
    assert_eq!(
        res["error"]["details"]["code"],
        "DEVICE_AUTH_SIGNATURE_INVALID"
    );
}

/// `(name, how to break the connect params, expected message, expected details.code)`.
type ProofCase = (
    &'static str,
    Box<dyn Fn(&mut Value)>,
    &'static str,
    &'static str,
);

#[test]
fn device_proof_failures_answer_the_exact_errors() {
    let gw = gateway(GatewayConfig::default());
    let cases: Vec<ProofCase> = vec![
        (
            "id",
            Box::new(|p: &mut Value| p["device"]["id"] = json!("00".repeat(32))),
            "device identity mismatch",
            "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        ),
        (
            "stale",
            Box::new(|p: &mut Value| p["device"]["signedAt"] = json!(1000)),
            "device signature expired",
            "DEVICE_AUTH_SIGNATURE_EXPIRED",
        ),
        (
            "nonce",
            Box::new(|p: &mut Value| p["device"]["nonce"] = json!("other-nonce")),
            "device nonce mismatch",
            "DEVICE_AUTH_NONCE_MISMATCH",
        ),
        (
            "blank nonce",
            Box::new(|p: &mut Value| p["device"]["nonce"] = json!("  ")),
            "device nonce required",
            "DEVICE_AUTH_NONCE_REQUIRED",
        ),
    ];
    for (name, mutate, message, code) in cases {
        let mut client = Client::open(&gw, TestKey::random());
        let mut params = client.params(json!({}), Sign::V3, 4);
        mutate(&mut params);
        let res = client.connect(params);
        assert_eq!(res["error"]["message"], message, "{name}: {res}");
        assert_eq!(res["error"]["details"]["code"], code, "{name}");
        assert_eq!(
            client.read_close(),
            Some((1008, message.to_string())),
            "{name}"
        );
    }
}

#[test]
fn first_frame_that_is_not_connect_is_rejected() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    client
        .send(json!({"type": "req", "id": "7", "method": "node.event", "params": {"event": "x"}}));
    let res = client.read_until(|f| f["type"] == "res").unwrap();
    assert_eq!(
        res,
        json!({"type": "res", "id": "7", "ok": false, "error": {"code": "INVALID_REQUEST",
               "message": "invalid handshake: first request must be connect"}})
    );
    assert_eq!(
        client.read_close(),
        Some((
            1008,
            "invalid handshake: first request must be connect".to_string()
        ))
    );

    // Not even a request: closed without a response.
    let mut client = Client::open(&gw, TestKey::random());
    client.ws.send(Message::text("hello?")).unwrap();
    assert_eq!(
        client.read_close(),
        Some((1008, "invalid request frame".to_string()))
    );
    assert!(!gw.violations().is_empty());
}

#[test]
fn connect_schema_is_closed() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    let mut params = client.params(json!({}), Sign::V3, 4);
    params["client"]["color"] = json!("blue");
    let res = client.connect(params);
    assert_eq!(
        res["error"]["message"],
        "invalid connect params: at /client: unexpected property 'color'"
    );
    assert_eq!(client.read_close().unwrap().0, 1008);

    let mut client = Client::open(&gw, TestKey::random());
    let mut params = client.params(json!({}), Sign::V3, 4);
    params.as_object_mut().unwrap().remove("minProtocol");
    let res = client.connect(params);
    assert_eq!(
        res["error"]["message"],
        "invalid connect params: must have required property 'minProtocol'"
    );
}

#[test]
fn pairing_is_held_pending_then_approved() {
    let gw = gateway(GatewayConfig::default().require_pairing());
    let key = TestKey::random();
    let mut client = Client::open(&gw, TestKey::from_seed(&[7; 32]));
    let _ = key;
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    let request = gw.wait_for_pairing_request(WAIT).expect("pending request");
    let device_id = client.key.device_id();
    assert_eq!(
        res["error"],
        json!({"code": "NOT_PAIRED", "message": "pairing required: device is not approved yet",
               "details": {"code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": request.request_id,
                           "remediationHint": "Approve this device from the pending pairing requests.",
                           "deviceId": device_id, "requestedRole": "node"}})
    );
    assert_eq!(
        client.read_close(),
        Some((
            1008,
            format!(
                "pairing required: device is not approved yet (requestId: {})",
                request.request_id
            )
        ))
    );

    // A second attempt before approval reuses the same request.
    let mut client = Client::open(&gw, TestKey::from_seed(&[7; 32]));
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    assert_eq!(
        res["error"]["details"]["requestId"],
        json!(request.request_id)
    );

    assert_eq!(gw.approve_device(), vec![request.request_id.clone()]);
    let mut client = Client::open(&gw, TestKey::from_seed(&[7; 32]));
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(
        res["payload"]["auth"]["deviceToken"].as_str(),
        gw.device_token(&device_id).as_deref()
    );
}

#[test]
fn token_mismatch_then_device_token_retry() {
    let gw = gateway(GatewayConfig::default().token("right"));
    let key = [9u8; 32];
    let mut client = Client::open(&gw, TestKey::from_seed(&key));
    let res = client.connect(client.params(json!({"token": "right"}), Sign::V3, 4));
    let device_token = res["payload"]["auth"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_string();

    let mut client = Client::open(&gw, TestKey::from_seed(&key));
    let res = client.connect(client.params(json!({"token": "wrong"}), Sign::V3, 4));
    let message = "unauthorized: gateway token mismatch (provide gateway auth token)";
    assert_eq!(
        res["error"],
        json!({"code": "INVALID_REQUEST", "message": message,
               "details": {"code": "AUTH_TOKEN_MISMATCH", "authReason": "token_mismatch",
                           "canRetryWithDeviceToken": true, "recommendedNextStep": "retry_with_device_token"}})
    );
    assert_eq!(client.read_close(), Some((1008, message.to_string())));

    // The one-shot retry: {token, deviceToken}, signed with the token.
    let mut client = Client::open(&gw, TestKey::from_seed(&key));
    let res = client.connect(client.params(
        json!({"token": "wrong", "deviceToken": device_token}),
        Sign::V3,
        4,
    ));
    assert_eq!(res["payload"]["auth"]["method"], "device-token", "{res}");

    // No shared token at all: the stored device token alone, in the signature's token slot.
    let mut client = Client::open(&gw, TestKey::from_seed(&key));
    let res = client.connect(client.params(json!({"deviceToken": device_token}), Sign::V3, 4));
    assert_eq!(res["payload"]["auth"]["method"], "device-token", "{res}");

    // A revoked token: AUTH_DEVICE_TOKEN_MISMATCH.
    gw.revoke_device_token(&TestKey::from_seed(&key).device_id());
    let mut client = Client::open(&gw, TestKey::from_seed(&key));
    let res = client.connect(client.params(json!({"deviceToken": device_token}), Sign::V3, 4));
    assert_eq!(
        res["error"]["message"],
        "unauthorized: device token mismatch (rotate/reissue device token)"
    );
    assert_eq!(
        res["error"]["details"]["code"],
        "AUTH_DEVICE_TOKEN_MISMATCH"
    );
    assert_eq!(res["error"]["details"]["canRetryWithDeviceToken"], false);

    // A fresh device with no token at all.
    let mut client = Client::open(&gw, TestKey::random());
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    assert_eq!(res["error"]["details"]["code"], "AUTH_TOKEN_MISSING");
    assert_eq!(
        res["error"]["details"]["recommendedNextStep"],
        "update_auth_configuration"
    );
}

#[test]
fn protocol_versions() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    let res = client.connect(client.params(json!({}), Sign::V3, 5));
    assert_eq!(
        res["error"],
        json!({"code": "INVALID_REQUEST", "message": "protocol mismatch",
               "details": {"code": "PROTOCOL_MISMATCH", "clientMinProtocol": 5, "clientMaxProtocol": 5,
                           "expectedProtocol": 4, "minimumProbeProtocol": 3}})
    );
    assert_eq!(
        client.read_close(),
        Some((1002, "protocol mismatch".to_string()))
    );

    let old = gateway(GatewayConfig::default().legacy_protocol3());
    let mut client = Client::open(&old, TestKey::random());
    assert!(client.challenge["payload"].get("capabilities").is_none());
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    assert_eq!(res["error"]["details"]["expectedProtocol"], 3);
    // As a real 2026.3.1 gateway: the message, no details.code.
    assert_eq!(res["error"]["message"], "protocol mismatch");
    assert!(res["error"]["details"].get("code").is_none());
    assert_eq!(
        client.read_close(),
        Some((1002, "protocol mismatch".to_string()))
    );

    let mut client = Client::open(&old, TestKey::random());
    let res = client.connect(client.params(json!({}), Sign::V3, 3));
    assert_eq!(res["payload"]["protocol"], 3, "{res}");
    assert_eq!(res["payload"]["server"]["version"], "dev");
}

/// Answers invokes like a node would, on a background thread; returns what it saw.
fn serve_one_invoke(
    mut client: Client,
    node_id_override: Option<&'static str>,
) -> std::thread::JoinHandle<Client> {
    std::thread::spawn(move || {
        let request = client
            .read_until(|f| f["event"] == "node.invoke.request")
            .expect("invoke request");
        let p = &request["payload"];
        let node_id = node_id_override
            .map(str::to_string)
            .unwrap_or_else(|| p["nodeId"].as_str().unwrap().to_string());
        client.send(json!({"type": "req", "id": "2", "method": "node.event",
            "params": {"event": "exec.finished", "payloadJSON": "{\"runId\":\"r\",\"exitCode\":0}"}}));
        let ack = client.read_until(|f| f["type"] == "res").unwrap();
        assert_eq!(ack["payload"], json!({"ok": true}));
        client.send(json!({"type": "req", "id": "3", "method": "node.invoke.result",
            "params": {"id": p["id"], "nodeId": node_id, "ok": true, "payloadJSON": "{\"bins\":{}}"}}));
        let ack = client.read_until(|f| f["type"] == "res").unwrap();
        client.send(json!({"type": "req", "id": "4", "method": "node.invoke.result",
            "params": {"id": "never-sent", "nodeId": p["nodeId"], "ok": true, "payloadJSON": "{}"}}));
        let late = client.read_until(|f| f["type"] == "res").unwrap();
        client.send(json!({"type": "req", "id": "5", "method": "sessions.list", "params": {}}));
        let denied = client.read_until(|f| f["type"] == "res").unwrap();
        client.challenge = json!({"ack": ack, "late": late, "denied": denied});
        client
    })
}

#[test]
fn invoke_round_trip_records_events_and_checks_results() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    client.connect(client.params(json!({}), Sign::V3, 4));
    let node = serve_one_invoke(client, None);
    let reply = gw.invoke("system.which", Some("{\"bins\":[\"sh\"]}"));
    assert!(reply.ok);
    assert_eq!(reply.payload_value(), json!({"bins": {}}));
    assert_eq!(
        reply.events_named("exec.finished"),
        vec![json!({"runId": "r", "exitCode": 0})]
    );
    let client = node.join().unwrap();
    assert_eq!(client.challenge["ack"]["payload"], json!({"ok": true}));
    assert_eq!(
        client.challenge["late"]["payload"],
        json!({"ok": true, "ignored": true})
    );
    assert_eq!(
        client.challenge["denied"]["error"],
        json!({"code": "INVALID_REQUEST", "message": "unauthorized role: node"})
    );
    // The late result is a violation; nothing else is.
    let violations = gw.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("never sent"));
}

#[test]
fn result_with_a_foreign_node_id_is_rejected() {
    let gw = gateway(GatewayConfig::default());
    let mut client = Client::open(&gw, TestKey::random());
    client.connect(client.params(json!({}), Sign::V3, 4));
    let node = serve_one_invoke(client, Some("someone-else"));
    let err = gw
        .try_invoke(
            Invoke::new("system.which").params(json!({"bins": []})),
            WAIT,
        )
        .unwrap_err();
    assert!(err.contains("nodeId mismatch"), "{err}");
    let client = node.join().unwrap();
    assert_eq!(
        client.challenge["ack"]["error"],
        json!({"code": "INVALID_REQUEST", "message": "nodeId mismatch"})
    );
}

#[test]
fn pings_close_and_restart() {
    let mut gw = gateway(GatewayConfig::default().quiet());
    let port = gw.port();
    let mut client = Client::open(&gw, TestKey::random());
    client.connect(client.params(json!({}), Sign::V3, 4));
    // The client answers pings only while it reads.
    let reader = std::thread::spawn(move || {
        let close = client.read_close();
        (client, close)
    });
    assert!(gw.ping(WAIT).is_some(), "no pong");
    let conn = gw.close_connection(4321, "test close");
    let (_, close) = reader.join().unwrap();
    assert_eq!(close, Some((4321, "test close".to_string())));
    assert_eq!(gw.wait_for_close(conn, WAIT).unwrap().code, Some(4321));

    gw.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    gw.restart();
    assert_eq!(gw.port(), port);
    let mut client = Client::open(&gw, TestKey::random());
    let res = client.connect(client.params(json!({}), Sign::V3, 4));
    assert_eq!(res["ok"], true);
}

#[test]
fn surface_approval_pushes_node_pair_resolved() {
    let gw = gateway(GatewayConfig::default().surface_pending());
    let mut client = Client::open(&gw, TestKey::random());
    client.connect(client.params(json!({}), Sign::V3, 4));
    client.send(json!({"type": "req", "id": "2", "method": "node.runnerInventory.update",
        "params": {"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}}}));
    let res = client.read_until(|f| f["type"] == "res").unwrap();
    assert_eq!(res["error"]["code"], "UNAVAILABLE");
    assert!(res["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("node capability surface is awaiting operator approval"));
    let request_id = gw.approve_surface().expect("a pending surface");
    let event = client
        .read_until(|f| f["event"] == "node.pair.resolved")
        .unwrap();
    assert_eq!(event["payload"]["requestId"], json!(request_id));
    assert_eq!(event["payload"]["decision"], "approved");
    assert_eq!(event["payload"]["nodeId"], json!(client.key.device_id()));
}
