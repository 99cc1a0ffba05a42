//! The surface around the commands against the strict fake gateway (issue 17): a chosen
//! command surface (`--commands` / `--all-commands`), host stats and the runner inventory
//! after `hello-ok`, and the re-approval notice.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{FakeGateway, GatewayConfig, WAIT};

fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node"))
}

fn spec(gw: &FakeGateway, dir: &TempDir) -> NodeSpawn {
    NodeSpawn::new(node_bin(), gw.port(), dir.path()).display_name("surface-node")
}

fn start_connected(gw: &FakeGateway, spec: &NodeSpawn) -> (NodeProcess, support::Hello) {
    let node = NodeProcess::spawn(spec);
    let hello = gw
        .wait_for_hello(WAIT)
        .unwrap_or_else(|| panic!("no handshake\n{}", gw.describe(20)));
    (node, hello)
}

fn stop(node: &mut NodeProcess) -> Option<i32> {
    node.terminate();
    node.wait_exit(WAIT).expect("node did not exit").code()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The saved node config: `node.json`, else the `nodeHost.config` row of the state database a
/// fresh state directory gets.
fn saved_node_config(dir: &TempDir) -> Option<Value> {
    let text = std::fs::read_to_string(dir.path().join("state/node.json")).or_else(|_| {
        let db = rusqlite::Connection::open_with_flags(
            dir.path().join("state/state/openclaw.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(|_| ())?;
        db.query_row(
            "SELECT value_json FROM config_machine_state WHERE state_key = 'nodeHost.config'",
            [],
            |row| row.get::<_, String>(0),
        )
        .map_err(|_| ())
    });
    serde_json::from_str(&text.ok()?).ok()
}

fn saved_commands(dir: &TempDir) -> Option<Value> {
    saved_node_config(dir)?.get("commands").cloned()
}

#[test]
fn commands_restricts_advertising_and_dispatch_and_is_saved() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("surface-commands");
    let (mut node, hello) =
        start_connected(&gw, &spec(&gw, &dir).arg("--commands").arg("system.which"));
    assert_eq!(strings(&hello.params["commands"]), ["system.which"]);
    assert_eq!(strings(&hello.params["caps"]), ["system"]);
    assert!(hello.params.get("pathEnv").is_none(), "{}", hello.params);
    assert_eq!(saved_commands(&dir), Some(json!(["system.which"])));

    let which = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(which.ok, "{:?}", which.error);
    let refused = gw.invoke("system.run", Some(r#"{"command":["true"]}"#));
    assert!(!refused.ok);
    let error = refused.error.clone().unwrap();
    assert_eq!(error["code"], "UNAVAILABLE");
    assert_eq!(error["message"], "command not advertised by this node");
    // A restricted surface publishes nothing on its own (node-surface.md §3.3).
    std::thread::sleep(Duration::from_millis(500));
    for method in [
        "node.event",
        "node.runnerInventory.update",
        "node.skills.update",
    ] {
        assert!(gw.requests(method).is_empty(), "{method} was sent");
    }
    assert_eq!(stop(&mut node), Some(143));

    // Omitting the flag reuses the saved list; --all-commands forgets it.
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    assert_eq!(strings(&hello.params["commands"]), ["system.which"]);
    assert_eq!(stop(&mut node), Some(143));
    let before = gw.connections().len();
    let mut node = NodeProcess::spawn(&spec(&gw, &dir).arg("--all-commands"));
    let hello = gw.wait_for_hello_after(before, WAIT).expect("no handshake");
    assert!(strings(&hello.params["commands"]).contains(&"system.run".to_string()));
    assert!(hello.params.get("pathEnv").is_some());
    assert_eq!(saved_commands(&dir), None);
    assert!(node.wait_for_output("cleared saved command allowlist", WAIT));
    assert_eq!(stop(&mut node), Some(143));
    gw.assert_no_violations();
}

#[test]
fn bad_commands_flags_exit_1_with_ts_texts_and_save_nothing() {
    for (args, says) in [
        (
            &["--commands", "system.which,,system.run"][..],
            "--commands requires comma-separated non-empty command ids",
        ),
        (
            &["--commands", "system.which", "--all-commands"][..],
            "--all-commands cannot be combined with --commands",
        ),
        (
            &["--commands", "system.whitch"][..],
            "unknown command id system.whitch. Valid ids: ",
        ),
        (
            &["--commands", "desktop.stream"][..],
            "Node command allowlist retained no available commands. Unknown or unavailable ids: desktop.stream.",
        ),
    ] {
        let dir = TempDir::new("surface-bad-flags");
        let mut spec = NodeSpawn::new(node_bin(), 9, dir.path());
        for arg in args {
            spec = spec.arg(arg);
        }
        let mut node = NodeProcess::spawn(&spec);
        let status = node.wait_exit(WAIT).expect("the node did not exit");
        assert_eq!(status.code(), Some(1), "{args:?}: {}", node.all_output());
        assert!(node.all_output().contains(says), "{args:?}: {}", node.all_output());
    }
}

#[test]
fn host_stats_and_runner_inventory_follow_hello() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("surface-stats");
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    let stats = gw
        .wait_for_request("node.event", hello.conn, WAIT)
        .expect("no node.event after hello");
    assert_eq!(stats["event"], "node.host.stats");
    let payload: Value = serde_json::from_str(stats["payloadJSON"].as_str().unwrap()).unwrap();
    // The fake checks the closed schema and the clamps; these are this host's values.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert_eq!(payload["memoryTotalBytes"], json!(total_kib * 1024));
    assert!(payload["cpuCount"].as_u64().unwrap() >= 1);
    assert!(payload["diskTotalBytes"].as_u64().unwrap() > 0, "{payload}");
    let inventory = gw
        .wait_for_request("node.runnerInventory.update", hello.conn, WAIT)
        .expect("no runner inventory");
    assert_eq!(inventory, json!({"protocolFeatures": []}));
    assert_eq!(stop(&mut node), Some(143));
    gw.assert_no_violations();
}

#[test]
fn a_pending_surface_is_announced_once_with_the_approve_command() {
    let gw = FakeGateway::start(GatewayConfig::default().surface_pending());
    let dir = TempDir::new("surface-reapproval");
    let (mut node, _hello) = start_connected(&gw, &spec(&gw, &dir));
    assert!(
        node.wait_for_output("openclaw nodes approve ", WAIT),
        "{}",
        node.all_output()
    );
    // Retries with backoff keep the same request: told once.
    std::thread::sleep(Duration::from_secs(2));
    assert!(gw.requests("node.runnerInventory.update").len() >= 2);
    assert_eq!(node.count_in_output("    openclaw nodes approve "), 1);
    assert_eq!(stop(&mut node), Some(143));
}

/// A setup code for `gw` carrying `token`, as `device.pair.setupCode` mints it.
fn setup_code(gw: &FakeGateway, token: &str) -> String {
    use base64::Engine;
    let json = json!({
        "url": format!("ws://127.0.0.1:{}", gw.port()),
        "bootstrapToken": token,
        "expiresAtMs": support::now_ms() + 600_000,
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

fn auth_sent(hello: &support::Hello) -> Value {
    hello.params.get("auth").cloned().unwrap_or(Value::Null)
}

#[test]
fn pair_enrolls_with_the_bootstrap_token_alone_and_pair_if_needed_reuses_the_device_token() {
    let gw = FakeGateway::start(
        GatewayConfig::default()
            .token("gw-shared-secret")
            .require_pairing()
            .setup_token("boot-token-1"),
    );
    let dir = TempDir::new("surface-pair");
    let code = setup_code(&gw, "boot-token-1");
    // The endpoint comes from the code; a shared token in the env is not used.
    let first = spec(&gw, &dir)
        .without_endpoint_flags()
        .token("wrong-token")
        .arg("--pair")
        .arg(&format!("oc-pair://{code}"));
    let (mut node, hello) = start_connected(&gw, &first);
    assert_eq!(auth_sent(&hello), json!({"bootstrapToken": "boot-token-1"}));
    assert_eq!(hello.auth_method, "bootstrap-token");
    assert!(
        gw.pairing_requests().is_empty(),
        "no manual approval was needed"
    );
    let issued = hello.device_token.clone().expect("a device token");
    let which = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(which.ok, "{:?}", which.error);
    // Reconnects inside the process use the device token the code earned.
    let conn = gw.close_connection(1012, "service restart");
    let again = gw.wait_for_hello_after(conn, WAIT).expect("no reconnect");
    assert_eq!(auth_sent(&again), json!({"deviceToken": issued}));
    assert_eq!(stop(&mut node), Some(143));
    let saved = saved_node_config(&dir).expect("a saved node config");
    assert_eq!(saved["gateway"]["port"], json!(gw.port()));
    assert!(!saved.to_string().contains("boot-token-1"), "{saved}");

    // A restart with the same, spent code: --pair-if-needed uses the stored token.
    let before = gw.connections().len();
    let mut node = NodeProcess::spawn(
        &spec(&gw, &dir)
            .without_endpoint_flags()
            .env("OPENCLAW_NODE_PAIR_CODE", &code),
    );
    let hello = gw.wait_for_hello_after(before, WAIT).expect("no handshake");
    assert_eq!(auth_sent(&hello), json!({"deviceToken": issued}));
    assert_eq!(stop(&mut node), Some(143));

    // --pair always sends the bootstrap token: the spent code ends the node with exit 1 and
    // the command that mints a new one.
    let before = gw.connections().len();
    let mut node = NodeProcess::spawn(&spec(&gw, &dir).arg("--pair").arg(&code));
    let status = node.wait_exit(WAIT).expect("the node did not exit");
    assert_eq!(status.code(), Some(1), "{}", node.all_output());
    assert!(
        node.all_output().contains("openclaw devices join-code"),
        "{}",
        node.all_output()
    );
    let rejected = gw
        .wait_for_rejection_after(before, WAIT)
        .expect("no rejection");
    assert_eq!(rejected.detail_code(), Some("AUTH_BOOTSTRAP_TOKEN_INVALID"));
    gw.assert_no_violations();
}

#[test]
fn bad_and_conflicting_setup_codes_exit_1_before_connecting() {
    let expired = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"url":"ws://127.0.0.1:9","bootstrapToken":"t","expiresAtMs":1000}"#)
    };
    for (args, says) in [
        (vec!["--pair", "not a code"], "Invalid pairing setup code or URL."),
        (
            vec!["--pair", expired.as_str()],
            "Pairing setup code has expired.",
        ),
        (
            vec!["--pair", "abc", "--pair-if-needed", "abc"],
            "option '--pair-if-needed <code-or-url>' cannot be used with option '--pair <code-or-url>'",
        ),
        // Expired and never paired: nothing to fall back on.
        (
            vec!["--pair-if-needed", expired.as_str()],
            "openclaw devices join-code",
        ),
    ] {
        let dir = TempDir::new("surface-bad-code");
        let mut spec = NodeSpawn::new(node_bin(), 9, dir.path());
        for arg in &args {
            spec = spec.arg(arg);
        }
        let mut node = NodeProcess::spawn(&spec);
        let status = node.wait_exit(WAIT).expect("the node did not exit");
        assert_eq!(status.code(), Some(1), "{args:?}: {}", node.all_output());
        assert!(node.all_output().contains(says), "{args:?}: {}", node.all_output());
    }
}

#[test]
fn skills_are_published_and_refreshed_when_a_skill_folder_changes() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("surface-skills");
    let skills = dir.path().join("state/skills");
    let hello_md = "---\nname: hello-skill\ndescription: Says hello from the node.\n---\n# Hello\n";
    std::fs::create_dir_all(skills.join("hello-skill")).unwrap();
    std::fs::write(skills.join("hello-skill/SKILL.md"), hello_md).unwrap();
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    let first = gw
        .wait_for_request("node.skills.update", hello.conn, WAIT)
        .expect("no node.skills.update after hello");
    assert_eq!(
        first,
        json!({"skills": [{"name": "hello-skill", "description": "Says hello from the node.", "content": hello_md}]})
    );
    // A new skill appears: published again without a restart.
    let other_md = "---\nname: disk-report\ndescription: Reports disk use.\n---\ndf -h\n";
    std::fs::create_dir_all(skills.join("disk-report")).unwrap();
    std::fs::write(skills.join("disk-report/SKILL.md"), other_md).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let names = loop {
        let sent = gw.requests("node.skills.update");
        let last = sent
            .last()
            .map(|(_, params)| params.clone())
            .unwrap_or(Value::Null);
        let names: Vec<String> = last["skills"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if names.len() == 2 || std::time::Instant::now() > deadline {
            break names;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(names, ["disk-report", "hello-skill"]);
    assert_eq!(stop(&mut node), Some(143));
    gw.assert_no_violations();
}

#[test]
fn sigint_exits_130_and_compat_flags_are_accepted_or_refused() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("surface-sigint");
    let mut spec = spec(&gw, &dir);
    for flag in [
        "--share-installed-apps",
        "--no-desktop-sharing",
        "--auth-from-env",
    ] {
        spec = spec.arg(flag);
    }
    let (mut node, _hello) = start_connected(&gw, &spec);
    node.signal(rustix::process::Signal::INT);
    let status = node.wait_exit(WAIT).expect("the node did not exit");
    assert_eq!(status.code(), Some(130), "{}", node.all_output());
    for flag in ["--session-host", "--ephemeral"] {
        let dir = TempDir::new("surface-refused-flag");
        let mut node = NodeProcess::spawn(&NodeSpawn::new(node_bin(), 9, dir.path()).arg(flag));
        let status = node.wait_exit(WAIT).expect("the node did not exit");
        assert_eq!(status.code(), Some(1), "{flag}: {}", node.all_output());
        assert!(node.all_output().contains("not supported"), "{flag}");
    }
}

#[test]
fn an_old_gateway_that_lacks_the_methods_is_asked_once_per_session() {
    let gw = FakeGateway::start(GatewayConfig::default().legacy_protocol3());
    let dir = TempDir::new("surface-legacy");
    let (mut node, hello) = start_connected(&gw, &spec(&gw, &dir));
    gw.wait_for_request("node.runnerInventory.update", hello.conn, WAIT)
        .expect("no runner inventory");
    gw.wait_for_request("node.skills.update", hello.conn, WAIT)
        .expect("no skills");
    // The backoff would have retried after 250 ms and 500 ms.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(gw.requests("node.runnerInventory.update").len(), 1);
    assert_eq!(gw.requests("node.skills.update").len(), 1);
    assert_eq!(stop(&mut node), Some(143));
}

#[test]
fn a_code_with_several_urls_connects_to_the_first_that_answers() {
    use base64::Engine;
    let gw = FakeGateway::start(GatewayConfig::default().token("t").setup_token("boot-2"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    let json = json!({
        "url": format!("ws://127.0.0.1:{dead}"),
        "urls": [format!("ws://127.0.0.1:{dead}"), format!("ws://127.0.0.1:{}", gw.port())],
        "bootstrapToken": "boot-2",
    });
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
    let dir = TempDir::new("surface-candidates");
    let (mut node, hello) = start_connected(
        &gw,
        &spec(&gw, &dir)
            .without_endpoint_flags()
            .arg("--pair")
            .arg(&code),
    );
    assert_eq!(hello.auth_method, "bootstrap-token");
    assert_eq!(stop(&mut node), Some(143));
}
