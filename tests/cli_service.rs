//! The service commands through the real binary: `status --json` against hand-written status
//! files, `--json` documents and exit codes without a service manager, and the `openclaw node …`
//! drop-in (a symlink named `openclaw`), which the gateway's SSH-verified pairing relies on.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

struct Home {
    root: PathBuf,
}

impl Home {
    fn new(name: &str) -> Home {
        let root = std::env::temp_dir().join(format!("ocn-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("home")).unwrap();
        Home { root }
    }
    fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The binary (or `program`, e.g. the drop-in symlink) in this home, with no service
    /// manager and no credentials in its environment.
    fn run(&self, program: &Path, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("xdg"))
            .env("OPENCLAW_STATE_DIR", self.state())
            .env("OPENCLAW_NODE_SYSTEMCTL", "none")
            .env_remove("OPENCLAW_NODE_LAUNCHCTL")
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .env_remove("OPENCLAW_GATEWAY_PASSWORD")
            .output()
            .unwrap()
    }
    fn node(&self, args: &[&str]) -> Output {
        self.run(Path::new(BIN), args)
    }

    fn write_status(&self, doc: &Value) {
        let path = self.state().join("openclaw-node/status.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    }

    /// A symlink called `openclaw` to the binary: the drop-in.
    fn drop_in(&self) -> PathBuf {
        let link = self.root.join("bin/openclaw");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        link
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process that stays alive for the test, standing in for a running node.
struct LiveProcess(std::process::Child);
impl LiveProcess {
    fn start() -> LiveProcess {
        LiveProcess(Command::new("sleep").arg("300").spawn().unwrap())
    }
}
impl Drop for LiveProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_doc(pid: u32, state: &str, last_error: Option<&str>) -> Value {
    json!({
        "version": 1,
        "pid": pid,
        "startedAtMs": 1_788_000_000_000u64,
        "state": state,
        "sinceMs": 1_788_000_060_000u64,
        "lastError": last_error,
        "lastErrorAtMs": last_error.map(|_| 1_788_000_050_000u64),
        "pairingRequestId": null,
        "gatewayUrl": "ws://gw.example:18789/",
        "deviceId": "a011deadbeef",
        "instanceId": "172b4ea8-796c-44d2-a558-d83e1e787ea0",
        "displayName": "node-a",
        "updatedAtMs": 1_788_000_060_000u64
    })
}

#[test]
fn status_json_shows_a_connected_node_then_its_last_error() {
    let home = Home::new("status");
    let node = LiveProcess::start();
    let pid = node.0.id();

    home.write_status(&status_doc(pid, "connected", None));
    let out = home.node(&["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let c = &doc["connection"];
    assert_eq!(c["running"], true);
    assert_eq!(c["stale"], false);
    assert_eq!(c["state"], "connected");
    assert_eq!(c["pid"], pid);
    assert_eq!(c["sinceMs"], 1_788_000_060_000u64);
    assert_eq!(c["gatewayUrl"], "ws://gw.example:18789/");
    assert_eq!(c["lastError"], Value::Null);
    // No systemd here: said so, and the rest of the report is still there.
    assert_eq!(doc["service"]["available"], false);
    assert_eq!(doc["service"]["manager"], Value::Null);
    assert!(doc["service"]["unavailableReason"]
        .as_str()
        .unwrap()
        .contains("OPENCLAW_NODE_SYSTEMCTL=none"));
    assert_eq!(doc["node"]["paired"], false);

    // The gateway went away: the node reports the error while it retries.
    home.write_status(&status_doc(
        pid,
        "connecting",
        Some("connection refused (os error 111)"),
    ));
    let doc = stdout_json(&home.node(&["status", "--json"]));
    assert_eq!(doc["connection"]["state"], "connecting");
    assert_eq!(
        doc["connection"]["lastError"],
        "connection refused (os error 111)"
    );
    assert_eq!(doc["connection"]["lastErrorAtMs"], 1_788_000_050_000u64);
    let text = String::from_utf8(home.node(&["status"]).stdout).unwrap();
    assert!(
        text.contains("Connection:  connecting since 2026-08-29 10:41:00 UTC"),
        "{text}"
    );
    assert!(
        text.contains("Last error:  connection refused (os error 111) (2026-08-29 10:40:50 UTC"),
        "{text}"
    );

    // The process is gone without marking the file: not running, and said to be stale.
    drop(node);
    let doc = stdout_json(&home.node(&["status", "--json"]));
    assert_eq!(doc["connection"]["running"], false);
    assert_eq!(doc["connection"]["stale"], true);
    let text = String::from_utf8(home.node(&["status"]).stdout).unwrap();
    assert!(
        text.contains(&format!("not running (pid {pid} is gone")),
        "{text}"
    );
}

#[test]
fn status_json_schema_is_complete_with_nothing_installed() {
    let home = Home::new("empty");
    let out = home.node(&["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&doc),
        ["service", "gateway", "node", "connection", "problems"]
    );
    assert_eq!(
        keys(&doc["service"]),
        [
            "manager",
            "available",
            "unavailableReason",
            "label",
            "definitionPath",
            "installed",
            "enabled",
            "running",
            "pid",
            "state",
            "detail",
            "command",
            "linger",
            "envFile",
            "envFilePresent",
            "loaded",
            "loadedText",
            "notLoadedText",
            "runtime"
        ]
    );
    assert_eq!(
        keys(&doc["node"]),
        ["nodeId", "displayName", "deviceId", "paired"]
    );
    assert_eq!(doc["connection"], Value::Null);
    assert_eq!(doc["gateway"], Value::Null);
}

#[test]
fn actions_without_a_service_manager() {
    let home = Home::new("actions");
    // stop of an absent service: success, a no-op.
    let out = home.node(&["stop", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["action"], "stop");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["result"], "not-installed");

    // start: exits non-zero, says why, and the JSON carries the hints.
    let out = home.node(&["start", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = stdout_json(&out);
    assert_eq!(doc["ok"], false);
    assert!(doc["error"]
        .as_str()
        .unwrap()
        .contains("systemd is not available"));
    assert!(doc["hints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h.as_str().unwrap().contains("install --print")));
    assert!(stderr(&out).contains("systemd is not available"));

    // install: a clear error naming the way out.
    let out = home.node(&["install", "--host", "gw.example"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`install` needs systemd (Linux) or launchd (macOS)"),
        "{}",
        stderr(&out)
    );

    // install --print: the start script alone on stdout.
    let out = home.node(&[
        "install",
        "--print",
        "--host",
        "gw.example",
        "--runtime",
        "node",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(
        script.contains(&format!(
            "exec '{BIN}' 'run' '--host' 'gw.example' '--port' '18789'"
        )),
        "{script}"
    );
    assert!(stderr(&out).contains("--runtime node has no effect"));
}

#[test]
fn drop_in_openclaw_node_subcommands() {
    let home = Home::new("dropin");
    let openclaw = home.drop_in();

    // `openclaw node identity --json` never creates an identity; without one it fails the way
    // `openclaw node identity` does, and prints nothing on stdout for the probe to misread.
    let out = home.run(&openclaw, &["node", "identity", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("no node device identity found"),
        "{}",
        stderr(&out)
    );
    assert!(!home.state().join("identity").exists());

    // Other subcommands work under the drop-in name too.
    let out = home.run(&openclaw, &["node", "status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["service"]["available"], false);

    // Only `openclaw node …` is provided.
    let out = home.run(&openclaw, &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("only provides `openclaw node <subcommand>`"));
}

/// `identity --json` prints exactly `{"deviceId":…,"publicKey":…}` for a key in the node's
/// legacy `identity/device.json` format (protocol §7.3), with the values computed here
/// independently: device id = hex SHA-256 of the raw public key, key = base64url, no padding.
#[test]
fn identity_json_matches_openclaw() {
    use base64::Engine as _;
    use ring::signature::KeyPair as _;
    use sha2::Digest as _;

    let home = Home::new("identity");
    let seed = [7u8; 32];
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let public = pair.public_key().as_ref().to_vec();
    let device_id = hex(&sha2::Sha256::digest(&public));
    let public_b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&public);

    // PKCS#8 v1 and SPKI, as Node's crypto writes them.
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&public);
    let pem = |label: &str, der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    };
    let doc = json!({
        "version": 1,
        "deviceId": device_id,
        "publicKeyPem": pem("PUBLIC KEY", &spki),
        "privateKeyPem": pem("PRIVATE KEY", &pkcs8),
        "createdAtMs": 1_788_000_000_000u64
    });
    let path = home.state().join("identity/device.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();

    let expected = format!("{{\"deviceId\":\"{device_id}\",\"publicKey\":\"{public_b64url}\"}}\n");
    let out = home.run(&home.drop_in(), &["node", "identity", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let out = home.node(&["identity", "--json"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let out = home.node(&["identity"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("deviceId:  {device_id}\npublicKey: {public_b64url}\n")
    );

    // status shows the device id; with a node token stored, the node is paired.
    let auth = json!({"version": 1, "deviceId": device_id, "tokens": {"node": {"token": "dt", "role": "node", "scopes": [], "updatedAtMs": 1}}});
    std::fs::write(
        home.state().join("identity/device-auth.json"),
        serde_json::to_vec(&auth).unwrap(),
    )
    .unwrap();
    let doc = stdout_json(&home.node(&["status", "--json"]));
    assert_eq!(doc["node"]["deviceId"], device_id);
    assert_eq!(doc["node"]["paired"], true);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn status_names_the_node_the_way_the_gateway_addresses_it() {
    let home = Home::new("status-names");
    std::fs::create_dir_all(home.state()).unwrap();
    std::fs::write(
        home.state().join("node.json"),
        r#"{"version":1,"nodeId":"172b4ea8-796c-44d2-a558-d83e1e787ea0","displayName":"lab box","gateway":{"host":"gw.example","port":18789}}"#,
    )
    .unwrap();
    let out = home.node(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Name:        lab box"), "{text}");
    // The name is quoted so the printed flag pastes as one word.
    assert!(text.contains("Gateway ref: --node 'lab box'"), "{text}");
    assert!(
        text.contains("Instance id: 172b4ea8-796c-44d2-a558-d83e1e787ea0 (client.instanceId; not a --node value)"),
        "{text}"
    );
    assert!(
        !text.contains("Node id:"),
        "the ambiguous label is gone: {text}"
    );
}

#[test]
fn install_print_manager_prints_for_another_machine() {
    // No service manager here (OPENCLAW_NODE_SYSTEMCTL=none): without --manager, a script.
    let home = Home::new("print-manager");
    let out = home.node(&["install", "--print", "--host", "gw.example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("#!/bin/sh"));

    let out = home.node(&[
        "install",
        "--print",
        "--manager",
        "systemd",
        "--host",
        "gw.example",
        "--port",
        "18790",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let unit = String::from_utf8(out.stdout).unwrap();
    assert!(
        unit.contains("[Service]") && unit.contains("ExecStart="),
        "{unit}"
    );
    assert!(
        unit.contains("--host gw.example") && unit.contains("--port 18790"),
        "{unit}"
    );

    let out = home.node(&[
        "install",
        "--print",
        "--manager=launchd",
        "--host",
        "gw.example",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<key>ProgramArguments</key>"));

    let doc = stdout_json(&home.node(&[
        "install",
        "--print",
        "--manager",
        "script",
        "--json",
        "--host",
        "gw.example",
    ]));
    assert_eq!(doc["printed"]["format"], "sh-script");

    // A name it cannot print, and --manager without --print, are refused with a reason.
    let out = home.node(&["install", "--print", "--manager", "upstart"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("use systemd, launchd or script"),
        "{}",
        stderr(&out)
    );
    let out = home.node(&["install", "--manager", "systemd", "--host", "gw.example"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--manager chooses what --print prints"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_help_states_the_defaults_it_uses() {
    let home = Home::new("install-help");
    let out = home.node(&["install", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // argh wraps the descriptions: compare with the white space folded.
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // install, like run, takes the endpoint the last run saved before the built-in defaults.
    assert!(
        help.contains("default: the one the last run saved, else 127.0.0.1"),
        "{help}"
    );
    assert!(
        help.contains("default: the saved one, else 18789"),
        "{help}"
    );
    assert!(help.contains("--manager"), "{help}");
}
