//! The node binary with an MCP server configured, against the strict fake gateway: the catalog
//! goes out as `node.pluginTools.update` (first possibly empty, then the tools), and
//! `mcp.tools.call.v1` answers with an inline `payload` object, never `payloadJSON`.
// POSIX only: these tests use sh, flock(2) or a Python fixture that Wine does not have.
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{FakeGateway, GatewayConfig, Invoke, WAIT};

fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node"))
}

fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

#[test]
fn the_catalog_is_published_and_calls_answer_inline_payloads() {
    let gw = FakeGateway::start(GatewayConfig::default().token("tok"));
    let dir = TempDir::new("mcp-node");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp_server.py");
    std::fs::write(
        state.join("openclaw.json"),
        json!({"nodeHost":{"mcp":{"servers":{"demo":{"command": python(),
            "args":[fixture], "toolFilter":{"include":["echo","fail"]}}}}}})
        .to_string(),
    )
    .unwrap();
    let spec = NodeSpawn::new(node_bin(), gw.port(), dir.path())
        .display_name("mcp-node")
        .token("tok");
    let mut node = NodeProcess::spawn(&spec);
    let hello = gw.expect_hello();
    assert!(hello.params["commands"]
        .as_array()
        .unwrap()
        .contains(&json!("mcp.tools.call.v1")));
    assert!(hello.params["caps"]
        .as_array()
        .unwrap()
        .contains(&json!("mcp")));

    let deadline = Instant::now() + WAIT;
    let tools = loop {
        let updates = gw.requests("node.pluginTools.update");
        if let Some((_, last)) = updates.last() {
            if last["tools"].as_array().is_some_and(|t| t.len() == 2) {
                break last["tools"].clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no catalog with two tools\n{}\n{}",
            gw.describe(20),
            node.all_output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(tools[0]["name"], "demo_echo");
    assert_eq!(tools[1]["name"], "demo_fail");
    assert_eq!(tools[1]["mcp"], json!({"server":"demo","tool":"fail"}));
    // Not sent twice with the same content.
    std::thread::sleep(Duration::from_millis(300));
    let updates = gw.requests("node.pluginTools.update");
    let with_tools = updates.iter().filter(|(_, p)| p["tools"] == tools).count();
    assert_eq!(with_tools, 1, "{updates:?}");

    let mut invoke = Invoke::new("mcp.tools.call.v1");
    invoke.params_json =
        Some(r#"{"server":"demo","tool":"echo","arguments":{"text":"hi"}}"#.into());
    invoke.timeout_ms = Some(125_000);
    let reply = gw.try_invoke(invoke, WAIT).unwrap();
    assert!(reply.ok, "{}", reply.params);
    assert!(reply.payload_json.is_none(), "{}", reply.params);
    assert_eq!(
        reply.payload,
        Some(json!({"content":[{"type":"text","text":"echo: hi"}]}))
    );
    let failed = gw.invoke(
        "mcp.tools.call.v1",
        Some(r#"{"server":"demo","tool":"nope"}"#),
    );
    assert_eq!(
        failed.error_pair(),
        (
            "MCP_TOOL_UNAVAILABLE".to_string(),
            "MCP tool \"nope\" is unavailable on server \"demo\"".to_string()
        )
    );
    gw.assert_no_violations();
    node.terminate();
    assert!(node.wait_exit(WAIT).is_some());
}
