//! TLS and certificate pinning against a local TLS endpoint (protocol §1.13).
//!
//! The pin is checked inside the TLS handshake, so with a wrong pin the node must not get as far
//! as the WebSocket upgrade, let alone a credential; with the right one it must speak the
//! protocol over TLS.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERT: &[u8] = include_bytes!("fixtures/tls-test-cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/tls-test-key.pem");
/// `openssl x509 -in tests/fixtures/tls-test-cert.pem -noout -fingerprint -sha256`
const FINGERPRINT: &str = "6A:A2:C8:40:57:84:2B:AE:EA:03:7C:E5:68:B0:92:15:D0:42:7D:86:4B:C0:0C:07:A7:0C:B0:3F:8F:31:A2:FB";

fn server_config() -> Arc<rustls::ServerConfig> {
    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

struct Node {
    child: Child,
    stderr: mpsc::Receiver<String>,
    _state: TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The node with `--tls`, and `--tls-fingerprint pin` when given.
fn start_node(port: u16, pin: Option<&str>) -> Node {
    let dir = std::env::temp_dir().join(format!("openclaw-node-tls-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pin_args: Vec<&str> = pin
        .map(|pin| vec!["--tls-fingerprint", pin])
        .unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tls",
        ])
        .args(&pin_args)
        .args(["--display-name", "tls-test"])
        .env("OPENCLAW_STATE_DIR", &dir)
        .env("OPENCLAW_GATEWAY_TOKEN", "secret-token-for-tls-test")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Node {
        child,
        stderr: rx,
        _state: TempDir(dir),
    }
}

fn wait_for_line(node: &Node, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = node.stderr.recv_timeout(Duration::from_millis(200)) {
            if line.contains(needle) {
                return line;
            }
        }
    }
    panic!("the node never logged {needle:?}");
}

#[test]
fn wrong_pin_aborts_before_any_byte_of_the_upgrade() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let wrong = "ab".repeat(32);
    let node = start_node(port, Some(&wrong));

    let (mut tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = rustls::ServerConnection::new(server_config()).unwrap();
    let mut plaintext = Vec::new();
    // Drive the server side until the client gives up; collect any application data.
    let handshake_completed = loop {
        match conn.complete_io(&mut tcp) {
            Ok(_) if !conn.is_handshaking() => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    if handshake_completed {
        let _ = conn.complete_io(&mut tcp);
        let _ = conn.reader().read_to_end(&mut plaintext);
    }
    assert!(
        !handshake_completed,
        "the client finished a TLS handshake with a certificate it should have refused"
    );
    assert!(plaintext.is_empty());

    let line = wait_for_line(&node, "fingerprint mismatch");
    let actual = FINGERPRINT.replace(':', "").to_ascii_lowercase();
    assert!(
        line.contains(&wrong),
        "the error must show the expected pin: {line}"
    );
    assert!(
        line.contains(&actual),
        "the error must show the presented fingerprint: {line}"
    );
    assert!(!line.contains("secret-token-for-tls-test"));
}

#[test]
fn right_pin_speaks_the_protocol_over_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Any accepted form of the pin works: colons, upper case.
    let _node = start_node(port, Some(FINGERPRINT));

    let (tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = rustls::ServerConnection::new(server_config()).unwrap();
    let tls = rustls::StreamOwned::new(conn, tcp);
    let mut ws = tungstenite::accept(tls).expect("WebSocket upgrade over TLS");
    ws.send(tungstenite::Message::text(
        r#"{"type":"event","event":"connect.challenge","payload":{"nonce":"n-1","ts":1795496029380}}"#,
    ))
    .unwrap();
    let frame = loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(text) => break text.as_str().to_owned(),
            _ => continue,
        }
    };
    let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(frame["method"], "connect");
    assert_eq!(frame["params"]["device"]["nonce"], "n-1");
    assert_eq!(
        frame["params"]["auth"]["token"],
        "secret-token-for-tls-test"
    );
}

#[test]
fn a_self_signed_gateway_is_refused_with_the_fingerprint_and_how_to_pin_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let node = start_node(port, None);
    let (mut tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = rustls::ServerConnection::new(server_config()).unwrap();
    let handshake_completed = loop {
        match conn.complete_io(&mut tcp) {
            Ok(_) if !conn.is_handshaking() => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    assert!(
        !handshake_completed,
        "an untrusted certificate was accepted"
    );
    let line = wait_for_line(&node, "--tls-fingerprint");
    let actual = FINGERPRINT.replace(':', "").to_ascii_lowercase();
    assert!(line.contains("self-signed"), "{line}");
    assert!(
        line.contains(&format!("--tls-fingerprint {actual}")),
        "the hint names the presented fingerprint: {line}"
    );
    assert!(!line.contains("secret-token-for-tls-test"));
}
