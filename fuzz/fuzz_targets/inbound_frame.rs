//! Inbound frame decoding: any text frame the gateway may send, down the same path the
//! session's reader takes (frame → response routing / event → `node.invoke.request` checks,
//! `connect.challenge`, `hello-ok` policy), plus the error accessors the reconnect loop uses.
#![no_main]

use crossbeam_channel::unbounded;
use libfuzzer_sys::fuzz_target;
use openclaw_node::gateway::frames::{self, Challenge, GatewayError, HelloOk, Inbound};
use openclaw_node::gateway::link::{GatewayLink, Outbound};
use openclaw_node::gateway::session::parse_invoke;
use openclaw_node::invoke::InvokeError;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // tungstenite hands the reader only text frames, which it has checked are UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The handshake decodes the connect response's payload as hello-ok.
    if let Ok(hello) = serde_json::from_str::<HelloOk>(text) {
        check_hello(&hello);
    }
    match serde_json::from_str::<Inbound>(text) {
        Ok(Inbound::Res(res)) => {
            if let Some(error) = &res.error {
                check_error(error);
            }
            let payload = res.payload.clone().unwrap_or(Value::Null);
            let hello = serde_json::from_value::<HelloOk>(payload).unwrap_or_default();
            check_hello(&hello);
            // Routing a response nobody waits for is ignored; one somebody waits for is handed
            // over whole.
            let (tx, _rx) = unbounded();
            let link = GatewayLink::new(tx, "fuzz".into());
            link.route_response(res);
        }
        Ok(Inbound::Event(event)) => {
            // The reader only looks at some event names, but every payload must survive every
            // decoder: a gateway bug must not crash the node.
            let challenge =
                serde_json::from_value::<Challenge>(event.payload.clone()).unwrap_or(Challenge {
                    nonce: String::new(),
                    ts: None,
                });
            let _ = challenge.ts.as_ref().and_then(Value::as_u64);
            let _ = event.payload.get("invokeId").and_then(Value::as_str);
            let _ = event.payload.get("decision").and_then(Value::as_str);
            if let Some(request) = parse_invoke(event.payload) {
                for field in [&request.id, &request.node_id, &request.command] {
                    assert!(!field.is_empty(), "parse_invoke accepted an empty field");
                    assert_eq!(field.trim(), field.as_str(), "parse_invoke kept blanks");
                }
                if let Some(params) = &request.params_json {
                    assert!(
                        !params.is_empty(),
                        "an empty paramsJSON must count as absent"
                    );
                }
                check_result_frame(&request.id, &request.node_id);
            }
        }
        Ok(Inbound::Req(_)) | Err(_) => {}
    }
});

/// The policy numbers the session uses stay in the ranges its timers and buffers can take.
fn check_hello(hello: &HelloOk) {
    let tick = frames::tick_interval_ms(hello);
    assert!(tick >= 1, "tick interval below 1 ms");
    // The watchdog waits 2 × tick after the last frame, measured from a monotonic clock that
    // may run for years: it must neither overflow nor come out shorter than the tick.
    let window = tick.checked_mul(2).expect("2 × tickIntervalMs overflows");
    assert!(
        std::time::Instant::now()
            .checked_add(std::time::Duration::from_millis(window))
            .is_some(),
        "the tick deadline cannot be represented"
    );
    let max = frames::max_payload(hello);
    assert!(max >= 1024, "maxPayload below 1 KiB");
    if let Some(auth) = &hello.auth {
        let _ = auth.device_token.as_deref().filter(|t| !t.is_empty());
        let _ = auth.role.as_deref();
        let _ = auth.method.as_deref();
    }
}

fn check_error(error: &GatewayError) {
    let _ = error.detail_code();
    let _ = error.detail_str("requestId");
    let _ = error.detail("expectedProtocol").and_then(Value::as_u64);
    let _ = error.to_string();
}

/// The result frame for an invocation with these ids is valid JSON that carries them verbatim.
fn check_result_frame(id: &str, node_id: &str) {
    let (tx, rx) = unbounded();
    let link = GatewayLink::new(tx, "fuzz".into());
    link.send_invoke_result(id, node_id, Err(InvokeError::invalid("fuzz")));
    let Ok(Outbound::Text(frame)) = rx.try_recv() else {
        panic!("no result frame was queued");
    };
    let frame: Value = serde_json::from_str(&frame).expect("the result frame is not JSON");
    assert_eq!(frame["params"]["id"].as_str(), Some(id));
    assert_eq!(frame["params"]["nodeId"].as_str(), Some(node_id));
}
