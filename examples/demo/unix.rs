#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use support::node_process::{node_binary_beside_example, NodeProcess, NodeSpawn, TempDir};
use support::{Dir, FakeGateway, GatewayConfig, Invoke, LoggedFrame};

const TOKEN: &str = "demo-shared-token";
const WAIT: Duration = Duration::from_secs(30);

pub fn main() -> ExitCode {
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\ndemo failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), String> {
    let bin = node_binary()?;
    heading("openclaw-node demo");
    let gw = FakeGateway::start(GatewayConfig::default().token(TOKEN).quiet());
    println!("fake gateway   {}  (shared token auth)", gw.url());
    let dir = TempDir::new("demo");
    let spec = NodeSpawn {
        rust_log: "warn".to_string(),
        ..NodeSpawn::new(&bin, gw.port(), dir.path())
    }
    .display_name("demo-node")
    .token(TOKEN);
    println!(
        "node           {} run --host 127.0.0.1 --port {} --display-name demo-node",
        bin.display(),
        gw.port()
    );
    println!("state dir      {}", spec.state_dir.display());
    let mut node = NodeProcess::spawn(&spec);

    section("handshake");
    let Some(hello) = gw.wait_for_hello(WAIT) else {
        return Err(format!(
            "the node did not connect within {WAIT:?}\n--- node stderr ---\n{}",
            node.stderr()
        ));
    };
    let frames = gw.frames();
    let on_conn = |f: &&LoggedFrame| f.conn == hello.conn;
    if let Some(challenge) = frames
        .iter()
        .filter(on_conn)
        .find(|f| f.event() == Some("connect.challenge"))
    {
        let p = &challenge.json.as_ref().unwrap()["payload"];
        show(
            Dir::ToNode,
            "connect.challenge",
            &format!("nonce {} ts {}", p["nonce"], p["ts"]),
        );
    }
    let p = &hello.params;
    let client = &p["client"];
    show(
        Dir::FromNode,
        "connect",
        &format!(
            "{} {} ({}/{}) \"{}\", role {}, protocol {}..{}, auth {{{}}}",
            client["id"].as_str().unwrap_or("?"),
            client["version"].as_str().unwrap_or("?"),
            client["platform"].as_str().unwrap_or("?"),
            client["deviceFamily"].as_str().unwrap_or("-"),
            client["displayName"].as_str().unwrap_or(""),
            p["role"].as_str().unwrap_or("?"),
            p["minProtocol"],
            p["maxProtocol"],
            p["auth"]
                .as_object()
                .map(|a| a.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        ),
    );
    continuation(&format!("commands {}", compact(&p["commands"])));
    continuation(&format!(
        "device {}, Ed25519 signature {} verified by the gateway",
        hello.device_id, hello.signature_version
    ));
    show(
        Dir::ToNode,
        "hello-ok",
        &format!(
            "auth method {}, device token {}",
            hello.auth_method,
            if hello.device_token.is_some() {
                "issued (the node stores it)"
            } else {
                "none"
            }
        ),
    );

    section("system.which");
    exchange(
        &gw,
        Invoke::new("system.which").params_json(r#"{"bins":["sh","git","no-such-tool"]}"#),
    )?;

    section("system.run");
    let reply = exchange(
        &gw,
        Invoke::new("system.run")
            .params_json(r#"{"command":["echo","hello from openclaw-node"],"runId":"demo-run"}"#),
    )?;
    if reply.ok {
        if let Some(stdout) = reply.payload_value()["stdout"].as_str() {
            println!("\n  the command printed: {}", stdout.trim_end());
        }
    }

    section("shutdown");
    node.terminate();
    let status = node.wait_exit(WAIT);
    let closed = gw.wait_for_close(hello.conn, WAIT);
    match closed {
        Some(c) => println!(
            "SIGTERM → the node closed the connection ({} {:?}) and exited with {}",
            c.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no close frame".into()),
            c.reason,
            match status.map(|s| s.code()) {
                Some(Some(code)) => format!("status {code}"),
                Some(None) => "a signal".to_string(),
                None => "no exit yet".to_string(),
            }
        ),
        None => println!("SIGTERM sent; the connection did not close within {WAIT:?}"),
    }
    let violations = gw.violations();
    if !violations.is_empty() {
        return Err(format!(
            "the fake gateway saw protocol violations:\n  {}",
            violations.join("\n  ")
        ));
    }
    println!("\nno protocol violations. Done.");
    Ok(())
}

/// Sends one invoke, then prints the request, every `node.event` that came before the result,
/// and the result.
fn exchange(gw: &FakeGateway, invoke: Invoke) -> Result<support::InvokeReply, String> {
    let command = invoke.command.clone();
    let params = invoke.params_json.clone().unwrap_or_default();
    show(
        Dir::ToNode,
        "node.invoke.request",
        &format!("{command}  {params}"),
    );
    let reply = gw.try_invoke(invoke, WAIT)?;
    for event in &reply.events {
        let name = event["event"].as_str().unwrap_or("?");
        let payload = event["payloadJSON"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| compact(&event["payload"]));
        show(Dir::FromNode, &format!("node.event {name}"), &payload);
    }
    if reply.ok {
        show(Dir::FromNode, "node.invoke.result", "ok");
        for line in pretty(&reply.payload_value()).lines() {
            continuation(line);
        }
    } else {
        let (code, message) = reply.error_pair();
        show(
            Dir::FromNode,
            "node.invoke.result",
            &format!("error {code}: {message}"),
        );
    }
    show(Dir::ToNode, "res", r#"{"ok":true}"#);
    Ok(reply)
}

fn heading(text: &str) {
    println!("{text}\n{}", "=".repeat(text.len()));
}

fn section(name: &str) {
    println!(
        "\n── {name} {}",
        "─".repeat(60usize.saturating_sub(name.len()))
    );
}

fn show(dir: Dir, what: &str, detail: &str) {
    let arrow = match dir {
        Dir::ToNode => "gateway → node",
        Dir::FromNode => "node → gateway",
    };
    println!("{arrow}  {what:<22} {detail}");
}

fn continuation(text: &str) {
    println!("{:39}{text}", "");
}

fn compact(value: &Value) -> String {
    value.to_string()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The node binary: `OPENCLAW_NODE_BIN`, else `target/<profile>/openclaw-node` next to this
/// example, built first when cargo started the demo.
fn node_binary() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("OPENCLAW_NODE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let (bin, _) = node_binary_beside_example()?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found. Build it first with `cargo build --bin openclaw-node` (add --release for \
             a release demo), or point OPENCLAW_NODE_BIN at an openclaw-node binary.",
            bin.display()
        ))
    }
}
