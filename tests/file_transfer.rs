//! The file-transfer commands through the strict fake gateway, as the real gateway drives them:
//! the surface, both phases with one idempotency key, a 16 MiB fetch on the wire, an archive and
//! a bound write. (Error paths: unit tests in `src/files/`; the real gateway:
//! `scripts/interop-files.sh`.)
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::fs;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{FakeGateway, GatewayConfig, Invoke, WAIT};

fn start(dir: &TempDir) -> (FakeGateway, NodeProcess, Value) {
    let gw = FakeGateway::start(GatewayConfig::default());
    let spec = NodeSpawn::new(
        PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node")),
        gw.port(),
        dir.path(),
    )
    .display_name("files-node");
    let node = NodeProcess::spawn(&spec);
    let hello = gw
        .wait_for_hello(WAIT)
        .unwrap_or_else(|| panic!("no handshake\n{}", gw.describe(20)));
    (gw, node, hello.params)
}

/// The gateway's two phases for `command`: preflight, then the bound call, one idempotency key.
fn two_phase(gw: &FakeGateway, command: &str, params: Value) -> (Value, Value) {
    let key = format!("k-{command}");
    let mut preflight = params.clone();
    preflight["preflightOnly"] = json!(true);
    let mut invoke = Invoke::new(command).params(preflight);
    invoke.idempotency_key = Some(key.clone());
    let pre = gw.try_invoke(invoke, WAIT).unwrap();
    assert!(pre.ok, "{:?}", pre.error);
    let pre = pre.payload_value();
    assert_eq!(pre["ok"], true, "{pre}");
    let mut bound = params;
    bound["expectedCanonicalPath"] = pre["path"].clone();
    bound["expectedBinding"] = pre["binding"].clone();
    let mut invoke = Invoke::new(command).params(bound);
    invoke.idempotency_key = Some(key);
    let done = gw.try_invoke(invoke, WAIT).unwrap();
    assert!(done.ok, "{:?}", done.error);
    (pre, done.payload_value())
}

#[test]
fn the_file_commands_end_to_end() {
    let dir = TempDir::new("file-transfer");
    let root = fs::canonicalize(dir.path()).unwrap().join("share");
    fs::create_dir_all(root.join("tree/sub")).unwrap();
    fs::write(root.join("tree/.hidden"), "h\n").unwrap();
    fs::write(root.join("tree/sub/x.txt"), "x\n").unwrap();
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    fs::write(root.join("big.bin"), &big).unwrap();
    let (gw, mut node, connect) = start(&dir);
    assert!(
        connect["caps"].as_array().unwrap().contains(&json!("file")),
        "{connect}"
    );
    for command in [
        "dir.fetch",
        "dir.list",
        "file.fetch",
        "file.stat",
        "file.write",
        "fs.listDir",
        "terminal.upload",
    ] {
        assert!(
            connect["commands"]
                .as_array()
                .unwrap()
                .contains(&json!(command)),
            "{command}"
        );
    }

    let path = root.join("big.bin");
    let (pre, fetched) = two_phase(
        &gw,
        "file.fetch",
        json!({"path": path, "maxBytes": 16 << 20, "followSymlinks": false}),
    );
    assert_eq!(
        (pre["size"].clone(), pre["base64"].clone()),
        (json!(16 << 20), json!(""))
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(fetched["base64"].as_str().unwrap())
        .unwrap();
    assert!(bytes == big, "the 16 MiB fetch arrived altered");
    assert_eq!(fetched["binding"], pre["binding"]);

    let (pre, tree) = two_phase(
        &gw,
        "dir.fetch",
        json!({"path": root.join("tree"), "maxBytes": 8388608}),
    );
    assert_eq!(pre["entries"], json!([".hidden", "sub", "sub/x.txt"]));
    assert_eq!(tree["entries"], pre["entries"]);
    assert!(tree["tarBytes"].as_u64().unwrap() > 0);

    let target = root.join("drop.txt");
    let (pre, written) = two_phase(
        &gw,
        "file.write",
        json!({"path": target, "contentBase64": "aGk=", "followSymlinks": false}),
    );
    assert_eq!(pre["binding"]["kind"], "write");
    assert_eq!(
        (
            written["overwritten"].clone(),
            written["binding"]["kind"].clone()
        ),
        (json!(false), json!("existing"))
    );
    assert_eq!(fs::read(&target).unwrap(), b"hi");

    // An application error is a successful invoke whose payload says ok:false.
    let reply = gw.invoke("file.stat", Some(r#"{"path":"relative"}"#));
    assert!(reply.ok);
    assert_eq!(
        reply.payload_value(),
        json!({"ok": false, "code": "INVALID_PATH", "message": "path must be absolute"})
    );
    // Unreadable params are an invoke error.
    let reply = gw.invoke("file.stat", Some("{nope"));
    assert!(!reply.ok);

    node.terminate();
    node.wait_exit(WAIT);
    gw.assert_no_violations();
}
