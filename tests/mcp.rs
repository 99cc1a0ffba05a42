//! MCP servers hosted on the node (node-surface §9), against a real stdio server
//! (`tests/fixtures/mcp_server.py`, newline-delimited JSON-RPC): the catalog and its changes,
//! `mcp.tools.call.v1` through the command table with every §9.4 error, the child's
//! environment, a hanging and a crashing server, and the result bounding.
// POSIX only: these tests use sh, flock(2) or a Python fixture that Wine does not have.
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::cancel::CancelToken;
use openclaw_node::commands::{dispatch, InvokeContext, NodeRuntime};
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::{NoEvents, Payload};
use openclaw_node::mcp::{config::servers, McpHost};
use openclaw_node::paths::StatePaths;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp_server.py")
        .to_string_lossy()
        .into_owned()
}

struct Setup {
    host: Arc<McpHost>,
    changes: Receiver<()>,
    ctx: InvokeContext,
    dir: PathBuf,
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oc-mcp-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A host with the given `nodeHost.mcp.servers`, and a node runtime that serves it.
fn setup(label: &str, servers_config: Value) -> Setup {
    let dir = scratch(label);
    let config = NodeConfig::from_value(json!({"nodeHost":{"mcp":{"servers": servers_config}}}));
    let host = Arc::new(McpHost::start(
        servers(&config),
        openclaw_node::secrets::Secrets::default(),
    ));
    let (tx, changes) = unbounded();
    host.on_change(Box::new(move || {
        let _ = tx.send(());
    }));
    let paths = StatePaths::at(dir.join("state"));
    let node = NodeRuntime {
        approvals: ApprovalsStore::new(&paths),
        paths,
        config: Arc::new(config),
        path_env: std::env::var("PATH").unwrap_or_default(),
        secrets: openclaw_node::secrets::Secrets::default(),
        browser: None,
        mcp: Some(host.clone()),
    };
    let ctx = InvokeContext {
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: Arc::new(node),
        timeout_ms: Some(125_000),
    };
    Setup {
        host,
        changes,
        ctx,
        dir,
    }
}

/// The system's Python, not a version manager's shim (which adds variables of its own).
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn demo(extra: Value) -> Value {
    let mut server = json!({"command": python(), "args": [fixture()],
        "toolFilter": {"exclude": ["*_secret"]}});
    if let (Value::Object(server), Value::Object(extra)) = (&mut server, extra) {
        server.extend(extra);
    }
    json!({ "demo": server })
}

/// Waits until the catalog holds the tool names `names` (exactly).
fn wait_catalog(setup: &Setup, names: &[&str]) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let params: Value = serde_json::from_str(&setup.host.update_params()).unwrap();
        let got: Vec<&str> = params["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        if got == names {
            return params;
        }
        assert!(
            Instant::now() < deadline,
            "catalog never became {names:?}; it is {got:?}"
        );
        let _ = setup.changes.recv_timeout(Duration::from_millis(200));
    }
}

const TOOLS: &[&str] = &[
    "demo_big",
    "demo_crash",
    "demo_echo",
    "demo_env",
    "demo_fail",
    "demo_grow",
    "demo_hang",
    "demo_misshaped",
    "demo_rpcfail",
    "demo_shaped",
];

fn call(setup: &Setup, params: Value) -> Result<Payload, (String, String)> {
    dispatch(&setup.ctx, "mcp.tools.call.v1", Some(&params.to_string()))
        .map_err(|err| (err.code, err.message))
}

fn inline(payload: Payload) -> Value {
    match payload {
        Payload::Inline(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected an inline payload, got {other:?}"),
    }
}

#[test]
fn the_catalog_lists_every_page_filtered_and_named_as_ts() {
    let setup = setup("catalog", demo(json!({})));
    let params = wait_catalog(&setup, TOOLS);
    assert_eq!(
        params["tools"][2],
        json!({"pluginId":"node-mcp","name":"demo_echo","description":"Echo text back",
            "parameters":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]},
            "command":"mcp.tools.call.v1","mcp":{"server":"demo","tool":"echo"}})
    );
    // A description-less tool is described by its name.
    assert_eq!(params["tools"][9]["description"], "shaped");
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn calls_succeed_fail_and_validate_as_ts_answers_them() {
    let setup = setup("calls", demo(json!({})));
    wait_catalog(&setup, TOOLS);
    let ok = call(
        &setup,
        json!({"server":" demo ","tool":"echo","arguments":{"text":"hi"}}),
    );
    assert_eq!(
        inline(ok.unwrap()),
        json!({"content":[{"type":"text","text":"echo: hi"}]})
    );
    let failed = inline(call(&setup, json!({"server":"demo","tool":"fail"})).unwrap());
    assert_eq!(
        failed.to_string(),
        r#"{"content":[{"type":"text","text":"boom"}],"isError":true}"#
    );
    // The text block that mirrors the structured content is dropped.
    let shaped = inline(call(&setup, json!({"server":"demo","tool":"shaped"})).unwrap());
    assert_eq!(shaped, json!({"content":[],"structuredContent":{"sum":3}}));
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"misshaped"})).unwrap_err(),
        (
            "MCP_TOOL_ERROR".into(),
            "MCP error -32602: Structured content does not match the tool's output schema: data/sum must be number".into()
        )
    );
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"rpcfail"})).unwrap_err(),
        (
            "MCP_TOOL_ERROR".into(),
            "MCP error -32603: tool exploded".into()
        )
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn bad_params_and_unknown_targets_get_the_ts_errors() {
    let setup = setup("errors", demo(json!({})));
    wait_catalog(&setup, TOOLS);
    let invalid = |message: &str| ("INVALID_REQUEST".to_string(), message.to_string());
    assert_eq!(
        dispatch(&setup.ctx, "mcp.tools.call.v1", None)
            .map_err(|e| (e.code, e.message))
            .unwrap_err(),
        invalid("Error: INVALID_REQUEST: paramsJSON required")
    );
    assert_eq!(
        dispatch(&setup.ctx, "mcp.tools.call.v1", Some("{"))
            .map_err(|e| (e.code, e.message))
            .unwrap_err(),
        invalid("Error: INVALID_REQUEST: paramsJSON malformed JSON")
    );
    assert_eq!(
        call(&setup, json!([1])).unwrap_err(),
        invalid("Error: INVALID_REQUEST: MCP tool params must be an object")
    );
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"  "})).unwrap_err(),
        invalid("Error: INVALID_REQUEST: server and tool required")
    );
    assert_eq!(
        call(
            &setup,
            json!({"server":"demo","tool":"echo","arguments":[1]})
        )
        .unwrap_err(),
        invalid("Error: INVALID_REQUEST: arguments must be an object")
    );
    assert_eq!(
        call(&setup, json!({"server":"nope","tool":"echo"})).unwrap_err(),
        (
            "MCP_SERVER_UNAVAILABLE".into(),
            "MCP server \"nope\" is unavailable".into()
        )
    );
    for tool in ["admin_secret", "missing"] {
        assert_eq!(
            call(&setup, json!({"server":"demo","tool":tool})).unwrap_err(),
            (
                "MCP_TOOL_UNAVAILABLE".into(),
                format!("MCP tool \"{tool}\" is unavailable on server \"demo\"")
            )
        );
    }
    // A node without MCP (restricted surface).
    let mut ctx = setup.ctx.clone();
    let mut node = NodeRuntime {
        approvals: ApprovalsStore::new(&ctx.node.paths),
        paths: ctx.node.paths.clone(),
        config: ctx.node.config.clone(),
        path_env: ctx.node.path_env.clone(),
        secrets: openclaw_node::secrets::Secrets::default(),
        browser: None,
        mcp: None,
    };
    node.mcp = None;
    ctx.node = Arc::new(node);
    assert_eq!(
        dispatch(
            &ctx,
            "mcp.tools.call.v1",
            Some(r#"{"server":"demo","tool":"echo"}"#)
        )
        .map_err(|e| (e.code, e.message))
        .unwrap_err(),
        (
            "MCP_SERVER_UNAVAILABLE".into(),
            "node host MCP is unavailable".into()
        )
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn a_hanging_tool_times_out_and_the_server_keeps_serving() {
    let setup = setup("hang", demo(json!({"requestTimeoutMs": 1000})));
    wait_catalog(&setup, TOOLS);
    let started = Instant::now();
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"hang"})).unwrap_err(),
        (
            "MCP_TOOL_TIMEOUT".into(),
            "MCP error -32001: Request timed out".into()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The frame's own, shorter budget wins over the server's.
    let mut short = setup.ctx.clone();
    short.timeout_ms = Some(300);
    assert_eq!(
        dispatch(
            &short,
            "mcp.tools.call.v1",
            Some(r#"{"server":"demo","tool":"hang"}"#)
        )
        .unwrap_err()
        .code,
        "MCP_TOOL_TIMEOUT"
    );
    assert!(call(
        &setup,
        json!({"server":"demo","tool":"echo","arguments":{"text":"x"}})
    )
    .is_ok());
    // A cancelled invocation stops waiting at once.
    let mut cancelled = setup.ctx.clone();
    cancelled.cancel = CancelToken::new();
    let token = cancelled.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        token.cancel();
    });
    let started = Instant::now();
    let hang = r#"{"server":"demo","tool":"hang"}"#;
    assert!(dispatch(&cancelled, "mcp.tools.call.v1", Some(hang)).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn a_crash_costs_one_call_withdraws_the_tools_and_reconnects() {
    let setup = setup("crash", demo(json!({})));
    wait_catalog(&setup, TOOLS);
    let pid_before = env_of(&setup)["pid"].as_u64().unwrap();
    // Every change so far led to the catalog above; the next one is the crash's withdrawal.
    while setup.changes.try_recv().is_ok() {}
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"crash"})).unwrap_err(),
        (
            "MCP_SERVER_UNAVAILABLE".into(),
            "MCP server \"demo\" disconnected".into()
        )
    );
    // Withdrawn, then republished. The host notifies only when the catalog differs from what
    // it was, so the first change after the crash is its withdrawal. Waiting for it matters:
    // until the server's thread has seen the crash the old catalog is still current, and a call
    // would find the server unavailable (the race this test lost once in CI).
    setup
        .changes
        .recv_timeout(WAIT)
        .expect("the crashed server's tools were never withdrawn");
    wait_catalog(&setup, TOOLS);
    let pid_after = env_of(&setup)["pid"].as_u64().unwrap();
    assert_ne!(pid_before, pid_after, "the server was started again");
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn a_changed_tool_list_is_listed_again_and_published() {
    let setup = setup("grow", demo(json!({})));
    wait_catalog(&setup, TOOLS);
    assert!(call(&setup, json!({"server":"demo","tool":"grow"})).is_ok());
    let mut grown: Vec<&str> = TOOLS.to_vec();
    grown.insert(4, "demo_extra");
    let catalog = wait_catalog(&setup, &grown);
    assert_eq!(catalog["tools"][4]["description"], "Added later");
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn a_big_text_result_is_cut_to_one_mib_with_the_marker() {
    let setup = setup("big", demo(json!({})));
    wait_catalog(&setup, TOOLS);
    let payload = inline(call(&setup, json!({"server":"demo","tool":"big"})).unwrap());
    let text = payload["content"][0]["text"].as_str().unwrap();
    assert!(text.ends_with("\n[truncated: MCP text content exceeded 1 MB]"));
    assert!(text.len() <= 1024 * 1024 && text.len() > 1024 * 1024 - 2);
    assert_eq!(payload["content"].as_array().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

fn env_of(setup: &Setup) -> Value {
    let payload = inline(
        call(
            setup,
            json!({"server":"demo","tool":"env","arguments":{"a":1}}),
        )
        .unwrap(),
    );
    serde_json::from_str(payload["content"][0]["text"].as_str().unwrap()).unwrap()
}

#[test]
fn the_server_gets_the_default_env_plus_its_own_never_the_nodes() {
    let cwd = scratch("env-cwd");
    let setup = setup(
        "env",
        demo(
            json!({"env": {"BAR_MCP_VAR": "yes", "LD_PRELOAD": "/evil.so", "COUNT": 3},
            "cwd": cwd.to_str().unwrap()}),
        ),
    );
    wait_catalog(&setup, TOOLS);
    let seen = env_of(&setup);
    let env = seen["env"].as_object().unwrap();
    assert_eq!(env["BAR_MCP_VAR"], "yes");
    assert_eq!(env["COUNT"], "3");
    assert!(!env.contains_key("LD_PRELOAD"));
    // cargo sets these for the test process; the server must not inherit them.
    assert!(!env.contains_key("CARGO_MANIFEST_DIR"));
    for key in env.keys() {
        assert!(
            [
                "BAR_MCP_VAR",
                "COUNT",
                "HOME",
                "LOGNAME",
                "PATH",
                "SHELL",
                "TERM",
                "USER",
                "LC_CTYPE",
                "PWD"
            ]
            .contains(&key.as_str()),
            "unexpected variable {key}"
        );
    }
    assert_eq!(
        std::fs::canonicalize(seen["cwd"].as_str().unwrap()).unwrap(),
        std::fs::canonicalize(&cwd).unwrap()
    );
    assert_eq!(seen["args"], json!({"a": 1}));
    let pid = seen["pid"].as_u64().unwrap();
    setup.host.shutdown();
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "the server outlived the host's shutdown"
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn a_server_that_cannot_start_is_unavailable_and_others_still_serve() {
    let mut servers = demo(json!({}));
    servers["broken"] = json!({"command": "sh", "args": ["-c", "echo dying >&2; exit 1"]});
    servers["missing"] = json!({"command": "/nonexistent/mcp-server"});
    let setup = setup("broken", servers);
    wait_catalog(&setup, TOOLS);
    for server in ["broken", "missing"] {
        assert_eq!(
            call(&setup, json!({"server":server,"tool":"echo"})).unwrap_err(),
            (
                "MCP_SERVER_UNAVAILABLE".into(),
                format!("MCP server \"{server}\" is unavailable")
            )
        );
    }
    assert!(call(
        &setup,
        json!({"server":"demo","tool":"echo","arguments":{"text":"x"}})
    )
    .is_ok());
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn without_servers_nothing_runs_and_the_catalog_is_empty() {
    let setup = setup("none", json!({}));
    assert_eq!(setup.host.update_params(), r#"{"tools":[]}"#);
    assert_eq!(
        call(&setup, json!({"server":"demo","tool":"echo"}))
            .unwrap_err()
            .0,
        "MCP_SERVER_UNAVAILABLE"
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
}

/// The fixture serving HTTP on a free loopback port; its port. Killed on drop.
struct HttpServer {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl HttpServer {
    fn start(label: &str) -> HttpServer {
        use std::io::BufRead;
        let log = scratch(label).join("server.log");
        let mut child = std::process::Command::new(python())
            .args([fixture().as_str(), "--http", "0"])
            .env("MCP_TEST_LOG", &log)
            .env("MCP_TEST_EXPIRE", "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        HttpServer { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_tools() -> Vec<&'static str> {
    let mut tools = TOOLS.to_vec();
    tools.insert(4, "demo_expire");
    tools
}

#[test]
fn a_streamable_http_server_serves_lists_changes_and_survives_session_expiry() {
    std::env::set_var("MCP_HTTP_TEST_TOKEN", "s3cret");
    let server = HttpServer::start("http-streamable");
    let setup = setup(
        "streamable",
        json!({"demo": {"url": format!("http://127.0.0.1:{}/mcp", server.port),
            "transport": "streamable-http",
            "headers": {"Authorization": "Bearer ${MCP_HTTP_TEST_TOKEN}"},
            "toolFilter": {"exclude": ["*_secret"]}}}),
    );
    wait_catalog(&setup, &http_tools());
    let ok = call(
        &setup,
        json!({"server":"demo","tool":"echo","arguments":{"text":"over http"}}),
    );
    assert_eq!(
        inline(ok.unwrap()),
        json!({"content":[{"type":"text","text":"echo: over http"}]})
    );
    let log = server.log();
    assert!(log.contains(r#""auth": "Bearer s3cret""#), "{log}");
    assert!(log.contains(r#""session": "s1""#), "{log}");
    assert!(log.contains(r#""version": "2025-11-25""#), "{log}");
    // The answer comes as an SSE stream holding the list_changed notification first.
    assert!(call(&setup, json!({"server":"demo","tool":"grow"})).is_ok());
    let mut grown = http_tools();
    grown.insert(5, "demo_extra");
    wait_catalog(&setup, &grown);
    // The server forgets the session: the next call fails, the node initializes again.
    assert!(call(&setup, json!({"server":"demo","tool":"expire"})).is_ok());
    let expired = call(
        &setup,
        json!({"server":"demo","tool":"echo","arguments":{"text":"x"}}),
    );
    assert_eq!(expired.unwrap_err().0, "MCP_TOOL_ERROR");
    let deadline = Instant::now() + WAIT;
    loop {
        match call(
            &setup,
            json!({"server":"demo","tool":"echo","arguments":{"text":"again"}}),
        ) {
            Ok(_) => break,
            Err(err) => assert!(Instant::now() < deadline, "never reconnected: {err:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.log().contains(r#""session": "s2""#));
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn an_sse_server_serves_and_lists_changes() {
    let server = HttpServer::start("http-sse");
    let setup = setup(
        "sse",
        json!({"demo": {"url": format!("http://127.0.0.1:{}/sse", server.port),
            "toolFilter": {"exclude": ["*_secret"]}}}),
    );
    wait_catalog(&setup, &http_tools());
    let failed = inline(call(&setup, json!({"server":"demo","tool":"fail"})).unwrap());
    assert_eq!(failed["isError"], true);
    assert!(call(&setup, json!({"server":"demo","tool":"grow"})).is_ok());
    let mut grown = http_tools();
    grown.insert(5, "demo_extra");
    wait_catalog(&setup, &grown);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[test]
fn an_http_server_that_is_down_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let setup = setup(
        "http-down",
        json!({"down": {"url": format!("http://127.0.0.1:{port}/sse")}}),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        call(&setup, json!({"server":"down","tool":"echo"})).unwrap_err(),
        (
            "MCP_SERVER_UNAVAILABLE".into(),
            "MCP server \"down\" is unavailable".into()
        )
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
}
