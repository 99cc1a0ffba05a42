//! Tests for `state`: real files in unique temp directories.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::json;

use super::*;
use crate::identity::DeviceIdentity;

/// A unique directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-state-{name}-{}-{}",
            std::process::id(),
            crate::random::token_b64url(6)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    /// The JSON files (what these tests are about), even while the directory is fresh.
    fn paths(&self) -> StatePaths {
        StatePaths::at(self.0.clone()).with_new_state(crate::paths::NewStateBackend::Json)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

// The key of protocol §2.4, example A, in the files a 2026.7.35 node writes.
const DEVICE_ID_A: &str = "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
const PUBLIC_PEM_A: &str =
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
const PRIVATE_PEM_A: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n-----END PRIVATE KEY-----\n";
const DEVICE_TOKEN: &str = "ZXhhbXBsZS1kZXZpY2UtdG9rZW4tMzItYnl0ZXMtYWI";

fn ts_node_json() -> String {
    to_pretty_json(&json!({
        "version": 1,
        "nodeId": "3c052c60-4416-4961-8dc3-6932a6f38799",
        "displayName": "old-node",
        "gateway": { "host": "127.0.0.1", "port": 18789, "tls": false }
    }))
}

fn ts_device_json() -> String {
    let doc = json!({
        "version": 1,
        "deviceId": DEVICE_ID_A,
        "publicKeyPem": PUBLIC_PEM_A,
        "privateKeyPem": PRIVATE_PEM_A,
        "createdAtMs": 1795496098753u64
    });
    format!("{}\n", to_pretty_json(&doc))
}

fn ts_device_auth_json() -> String {
    let doc = json!({
        "version": 1,
        "deviceId": DEVICE_ID_A,
        "tokens": { "node": { "token": DEVICE_TOKEN, "role": "node", "scopes": [], "updatedAtMs": 1795496099041u64 } }
    });
    format!("{}\n", to_pretty_json(&doc))
}

/// Writes the four-file state directory of a 2026.7.35 TS node (protocol §12.2).
fn write_ts_state_dir(paths: &StatePaths) {
    write(&paths.node_file(), &ts_node_json());
    write(&paths.device_identity_file(), &ts_device_json());
    write(&paths.device_auth_file(), &ts_device_auth_json());
    fs::set_permissions(paths.identity_dir(), fs::Permissions::from_mode(0o700)).unwrap();
}

fn assert_unusable(err: &StateError, path: &Path) {
    assert_eq!(err.path, path);
    let text = err.to_string();
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains("will not overwrite"), "{text}");
}

// ----- write_atomic ----------------------------------------------------------------------------

#[test]
fn write_atomic_creates_private_directories_and_file() {
    let tmp = TempDir::new("create");
    let path = tmp.path().join("a/b/file.json");
    write_atomic(&path, b"hello").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"hello");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&tmp.path().join("a")), 0o700);
    assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
    assert_eq!(entries(&tmp.path().join("a/b")), ["file.json"]);
}

#[test]
fn write_atomic_replaces_content_and_tightens_mode() {
    let tmp = TempDir::new("replace");
    let path = tmp.path().join("file");
    fs::write(&path, "old old old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    write_atomic(&path, b"new").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(mode(&path), 0o600);
    // An existing directory keeps its mode.
    assert_eq!(entries(tmp.path()), ["file"]);
}

/// A write that really fails half-way, also as root: the child process lowers RLIMIT_FSIZE
/// (which binds root too) and catches SIGXFSZ, so writing past the limit fails with EFBIG after
/// part of the data reached the temporary file. Permission tricks (read-only directories) do
/// not work as root, and a full disk cannot be made without mounting a file system.
#[test]
fn failed_write_keeps_the_old_file_and_removes_the_temp_file() {
    const CHILD: &str = "OPENCLAW_NODE_TEST_FSIZE_CHILD";
    const NAME: &str = "state::tests::failed_write_keeps_the_old_file_and_removes_the_temp_file";
    if let Some(dir) = std::env::var_os(CHILD) {
        // Child: provoke the failure and check the error; a failed assertion fails the child.
        let path = PathBuf::from(dir).join("node.json");
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGXFSZ, caught).unwrap();
        let limit = rustix::process::getrlimit(rustix::process::Resource::Fsize);
        rustix::process::setrlimit(
            rustix::process::Resource::Fsize,
            rustix::process::Rlimit {
                current: Some(4096),
                maximum: limit.maximum,
            },
        )
        .unwrap();
        let err = write_atomic(&path, &vec![b'x'; 64 * 1024]).unwrap_err();
        assert_eq!(err.path, path);
        let text = err.to_string();
        assert!(
            text.contains("node.json") && text.contains("writing failed"),
            "{text}"
        );
        assert!(text.contains("ulimit -f"), "{text}");
        return;
    }
    let tmp = TempDir::new("efbig");
    let path = tmp.path().join("node.json");
    fs::write(&path, "the old content").unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child did not run the test: {stdout}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "the old content");
    assert_eq!(entries(tmp.path()), ["node.json"]);
}

#[test]
fn failed_rename_removes_the_temp_file_and_names_the_file() {
    let tmp = TempDir::new("rename");
    let path = tmp.path().join("node.json");
    // A non-empty directory where the file should go: the rename fails, even for root.
    write(&path.join("keep"), "x");
    let err = write_atomic(&path, b"{}").unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.to_string().contains("replacing the file failed"),
        "{err}"
    );
    assert_eq!(entries(tmp.path()), ["node.json"]);
    assert_eq!(fs::read_to_string(path.join("keep")).unwrap(), "x");
}

#[test]
fn parent_that_is_a_file_gives_an_error_naming_the_file() {
    let tmp = TempDir::new("notdir");
    fs::write(tmp.path().join("identity"), "not a directory").unwrap();
    let path = tmp.path().join("identity/device.json");
    let err = write_atomic(&path, b"{}").unwrap_err();
    assert_eq!(err.path, path);
    let text = err.to_string();
    assert!(
        text.contains("identity/device.json") && text.contains("creating its directory"),
        "{text}"
    );
}

#[test]
fn io_errors_name_the_file_and_say_what_to_do() {
    use rustix::io::Errno;
    let path = Path::new("/state/node.json");
    let cases = [
        (Errno::NOSPC, "the disk is full"),
        (Errno::ROFS, "read-only"),
        (Errno::ACCESS, "permission denied"),
        (Errno::FBIG, "ulimit -f"),
    ];
    for (errno, advice) in cases {
        let err = StateError::io(
            path,
            "writing",
            &io::Error::from_raw_os_error(errno.raw_os_error()),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("/state/node.json: writing failed: "),
            "{text}"
        );
        assert!(text.contains(advice), "{text}");
    }
}

#[test]
fn write_atomic_new_never_replaces_an_existing_file() {
    let tmp = TempDir::new("new");
    let path = tmp.path().join("x/device.json");
    assert!(write_atomic_new(&path, b"first").unwrap());
    assert!(!write_atomic_new(&path, b"second").unwrap());
    assert_eq!(fs::read_to_string(&path).unwrap(), "first");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(entries(&tmp.path().join("x")), ["device.json"]);
}

// ----- node.json ---------------------------------------------------------------------------

#[test]
fn node_state_missing_is_none() {
    let tmp = TempDir::new("node-missing");
    assert!(NodeState::load(&tmp.paths()).unwrap().is_none());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn node_state_reads_the_ts_shape_and_writes_it_back_byte_for_byte() {
    let tmp = TempDir::new("node-ts");
    let paths = tmp.paths();
    write(&paths.node_file(), &ts_node_json());
    let state = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(state.node_id, "3c052c60-4416-4961-8dc3-6932a6f38799");
    assert_eq!(state.display_name.as_deref(), Some("old-node"));
    assert_eq!(
        state.gateway,
        GatewayEndpoint {
            host: Some("127.0.0.1".into()),
            port: Some(18789),
            tls: Some(false),
            ..Default::default()
        }
    );
    assert_eq!(state.legacy_token, None);
    state.save(&paths).unwrap();
    assert_eq!(
        fs::read_to_string(paths.node_file()).unwrap(),
        ts_node_json()
    );
    assert_eq!(mode(&paths.node_file()), 0o600);
}

#[test]
fn node_state_keeps_unknown_keys_and_the_legacy_token() {
    let tmp = TempDir::new("node-unknown");
    let paths = tmp.paths();
    let doc = json!({
        "version": 1, "nodeId": " n-1 ", "token": "old-pairing-token", "displayName": "box",
        "gateway": {"host": "gw.example", "port": 443, "tls": true, "tlsFingerprint": "AB:CD",
                    "contextPath": "/oc", "cloudflareAccess": {"clientId": "c"}},
        "installedAppsSharing": false, "commands": ["system.run"]
    });
    write(&paths.node_file(), &doc.to_string());
    let state = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(state.node_id, "n-1");
    assert_eq!(state.legacy_token.as_deref(), Some("old-pairing-token"));
    assert_eq!(state.gateway.tls_fingerprint.as_deref(), Some("AB:CD"));
    assert_eq!(state.gateway.context_path.as_deref(), Some("/oc"));
    state.save(&paths).unwrap();
    let back: Value =
        serde_json::from_str(&fs::read_to_string(paths.node_file()).unwrap()).unwrap();
    let mut expected = doc.clone();
    expected["nodeId"] = json!("n-1");
    // The allowlist moves beside the file: `openclaw doctor --fix` refuses a node.json with
    // keys the TS node never wrote.
    expected.as_object_mut().unwrap().remove("commands");
    assert_eq!(back, expected);
    let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "nodeId",
            "token",
            "displayName",
            "gateway",
            "installedAppsSharing"
        ]
    );
    let side: Value =
        serde_json::from_str(&fs::read_to_string(paths.commands_file()).unwrap()).unwrap();
    assert_eq!(side, json!(["system.run"]));
    assert_eq!(mode(&paths.commands_file()), 0o600);
    let again = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(again.commands, Some(vec!["system.run".to_string()]));

    // --all-commands: the side file goes.
    let mut all = again;
    all.commands = None;
    all.save(&paths).unwrap();
    assert!(!paths.commands_file().exists());
    assert_eq!(NodeState::load(&paths).unwrap().unwrap().commands, None);
}

/// Fuzz regression (node_json): `{"versionon":118446744073709551615}` read back as a different
/// number after each save, because serde_json's default float parser is not exact.
#[test]
fn node_state_numbers_in_unknown_keys_survive_rewrites() {
    let tmp = TempDir::new("node-numbers");
    let paths = tmp.paths();
    write(
        &paths.node_file(),
        r#"{"nodeId":"n","versionon":118446744073709551615,"f":[0.1,2.5e-308,1.7976931348623157e308]}"#,
    );
    let first = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(first.unknown_keys["f"][1].as_f64(), Some(2.5e-308));
    first.save(&paths).unwrap();
    let second = NodeState::load(&paths).unwrap().unwrap();
    assert_eq!(second, first);
    second.save(&paths).unwrap();
    assert_eq!(NodeState::load(&paths).unwrap().unwrap(), first);
}

#[test]
fn node_state_with_a_wrong_shape_is_an_error_and_stays_untouched() {
    let cases = [
        "",
        "{\"version\":1,\"nodeId\":\"abc\"",
        "not json",
        "[]",
        "{\"version\":2,\"nodeId\":\"a\"}",
        "{\"version\":1,\"nodeId\":5}",
        "{\"version\":1,\"nodeId\":\"a\",\"displayName\":[]}",
        "{\"version\":1,\"nodeId\":\"a\",\"token\":1}",
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":\"h:1\"}",
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":{\"port\":70000}}",
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":{\"port\":\"18789\"}}",
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":{\"tls\":\"yes\"}}",
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":{\"host\":7}}",
    ];
    for text in cases {
        let tmp = TempDir::new("node-bad");
        let paths = tmp.paths();
        write(&paths.node_file(), text);
        let err = NodeState::load(&paths).unwrap_err();
        assert_unusable(&err, &paths.node_file());
        assert_eq!(fs::read_to_string(paths.node_file()).unwrap(), text);
    }
    let tmp = TempDir::new("node-bad-msg");
    write(
        &tmp.paths().node_file(),
        "{\"version\":1,\"nodeId\":\"a\",\"gateway\":{\"host\":7}}",
    );
    assert!(NodeState::load(&tmp.paths())
        .unwrap_err()
        .message
        .contains("\"gateway.host\" must be a string"));
}

#[test]
fn node_state_larger_than_64_kib_or_not_a_file_is_an_error() {
    let tmp = TempDir::new("node-big");
    let paths = tmp.paths();
    let big = format!(
        "{{\"version\":1,\"nodeId\":\"a\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    write(&paths.node_file(), &big);
    let err = NodeState::load(&paths).unwrap_err();
    assert_unusable(&err, &paths.node_file());
    assert!(err.message.contains("65536"), "{err}");

    let tmp = TempDir::new("node-dir");
    let paths = tmp.paths();
    fs::create_dir_all(paths.node_file()).unwrap();
    assert_unusable(&NodeState::load(&paths).unwrap_err(), &paths.node_file());

    let mut state = NodeState {
        node_id: "a".into(),
        ..Default::default()
    };
    state
        .unknown_keys
        .insert("pad".into(), json!("x".repeat(70 * 1024)));
    let tmp = TempDir::new("node-big-save");
    let err = state.save(&tmp.paths()).unwrap_err();
    assert!(err.message.contains("larger than"), "{err}");
    assert!(!tmp.paths().node_file().exists());
}

// ----- resolve_endpoint --------------------------------------------------------------------

fn endpoint(
    host: &str,
    port: u16,
    tls: Option<bool>,
    pin: Option<&str>,
    path: Option<&str>,
) -> GatewayEndpoint {
    GatewayEndpoint {
        host: Some(host.into()),
        port: Some(port),
        tls,
        tls_fingerprint: pin.map(Into::into),
        context_path: path.map(Into::into),
    }
}

#[test]
fn resolve_endpoint_defaults_to_loopback() {
    assert_eq!(
        resolve_endpoint(None, &GatewayEndpoint::default()),
        endpoint("127.0.0.1", 18789, None, None, None)
    );
}

#[test]
fn resolve_endpoint_inherits_everything_while_host_and_port_stay() {
    let saved = endpoint("gw.lan", 443, Some(true), Some("ab"), Some("/oc"));
    assert_eq!(
        resolve_endpoint(Some(&saved), &GatewayEndpoint::default()),
        saved
    );
    // Naming the same host and port again is not a change.
    let same = GatewayEndpoint {
        host: Some(" gw.lan ".into()),
        port: Some(443),
        ..Default::default()
    };
    assert_eq!(resolve_endpoint(Some(&saved), &same), saved);
}

#[test]
fn resolve_endpoint_does_not_inherit_tls_pin_or_path_across_a_new_host_or_port() {
    let saved = endpoint("gw.lan", 443, Some(true), Some("ab"), Some("/oc"));
    let new_host = GatewayEndpoint {
        host: Some("other.lan".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(Some(&saved), &new_host),
        endpoint("other.lan", 443, None, None, None)
    );
    let new_port = GatewayEndpoint {
        port: Some(8443),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(Some(&saved), &new_port),
        endpoint("gw.lan", 8443, None, None, None)
    );
    // Explicit flags still apply on the new endpoint.
    let flags = GatewayEndpoint {
        port: Some(8443),
        tls: Some(true),
        context_path: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(Some(&saved), &flags),
        endpoint("gw.lan", 8443, Some(true), None, Some("x"))
    );
}

#[test]
fn resolve_endpoint_tls_and_pin_rules() {
    let saved = endpoint("gw.lan", 443, Some(true), Some("ab"), None);
    // --no-tls drops the pin and turns TLS off.
    let no_tls = GatewayEndpoint {
        tls: Some(false),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(Some(&saved), &no_tls),
        endpoint("gw.lan", 443, Some(false), None, None)
    );
    // A pin on the command line turns TLS on.
    let pin = GatewayEndpoint {
        tls_fingerprint: Some("cd".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(None, &pin),
        endpoint("127.0.0.1", 18789, Some(true), Some("cd"), None)
    );
    // A saved pin turns TLS on even if tls was not saved.
    let pinned = endpoint("gw.lan", 443, None, Some("ab"), None);
    assert_eq!(
        resolve_endpoint(Some(&pinned), &GatewayEndpoint::default()).tls,
        Some(true)
    );
    // A saved plain endpoint stays plain.
    let plain = endpoint("gw.lan", 18789, Some(false), None, None);
    assert_eq!(
        resolve_endpoint(Some(&plain), &GatewayEndpoint::default()).tls,
        Some(false)
    );
}

#[test]
fn resolve_endpoint_empty_context_path_flag_clears_the_saved_one() {
    let saved = endpoint("gw.lan", 443, Some(true), None, Some("/oc"));
    let flags = GatewayEndpoint {
        context_path: Some(" ".into()),
        ..Default::default()
    };
    assert_eq!(resolve_endpoint(Some(&saved), &flags).context_path, None);
    let flags = GatewayEndpoint {
        context_path: Some("/new".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve_endpoint(Some(&saved), &flags)
            .context_path
            .as_deref(),
        Some("/new")
    );
}

// ----- run overrides -----------------------------------------------------------------------

#[test]
fn first_start_makes_an_instance_id_and_keeps_the_machine_name() {
    let ep = endpoint("127.0.0.1", 18789, None, None, None);
    let state = merge_run_overrides(None, None, None, "my-box", &ep);
    assert_eq!(state.node_id.len(), 36);
    assert_eq!(state.node_id.as_bytes()[14], b'4');
    assert_eq!(state.display_name.as_deref(), Some("my-box"));
    assert_eq!(state.gateway, ep);
    // The next start keeps both, even when the machine name changed.
    let again = merge_run_overrides(Some(&state), None, None, "renamed-box", &ep);
    assert_eq!(again, state);
}

#[test]
fn flags_replace_the_instance_id_and_display_name_and_clear_no_token() {
    let mut saved = NodeState {
        node_id: "old-id".into(),
        display_name: Some("old-name".into()),
        gateway: endpoint("gw.lan", 443, Some(true), None, None),
        legacy_token: Some("legacy".into()),
        ..Default::default()
    };
    saved.unknown_keys.insert("extra".into(), json!(1));
    saved
        .unknown_gateway_keys
        .insert("cloudflareAccess".into(), json!({"clientId": "c"}));
    let ep = saved.gateway.clone();
    let next = merge_run_overrides(
        Some(&saved),
        Some(" new-id "),
        Some(" New Name "),
        "box",
        &ep,
    );
    assert_eq!(next.node_id, "new-id");
    assert_eq!(next.display_name.as_deref(), Some("New Name"));
    assert_eq!(next.legacy_token.as_deref(), Some("legacy"));
    assert_eq!(next.unknown_keys["extra"], json!(1));
    assert!(next.unknown_gateway_keys.contains_key("cloudflareAccess"));
    // Blank flags count as absent.
    let same = merge_run_overrides(Some(&saved), Some(" "), Some(""), "box", &ep);
    assert_eq!(same, saved);
    // Another gateway: keys describing the old one go.
    let other = endpoint("other.lan", 443, None, None, None);
    assert!(merge_run_overrides(Some(&saved), None, None, "box", &other)
        .unknown_gateway_keys
        .is_empty());
}

#[test]
fn apply_run_overrides_saves_changes_and_leaves_an_unchanged_file_alone() {
    let tmp = TempDir::new("apply");
    let paths = tmp.paths();
    let ep = resolve_endpoint(None, &GatewayEndpoint::default());
    let first = apply_run_overrides(&paths, None, None, Some("node-a"), &ep).unwrap();
    assert_eq!(mode(&paths.node_file()), 0o600);
    assert_eq!(NodeState::load(&paths).unwrap().as_ref(), Some(&first));

    // A hand-formatted file the run does not change keeps its bytes.
    let compact = first.to_json().to_string();
    fs::write(paths.node_file(), &compact).unwrap();
    let loaded = NodeState::load(&paths).unwrap();
    let saved_ep = loaded.as_ref().map(|s| s.gateway.clone());
    let ep = resolve_endpoint(saved_ep.as_ref(), &GatewayEndpoint::default());
    let second = apply_run_overrides(&paths, loaded, None, None, &ep).unwrap();
    assert_eq!(second, first);
    assert_eq!(fs::read_to_string(paths.node_file()).unwrap(), compact);

    // --node-id changes the saved id and nothing else.
    let loaded = NodeState::load(&paths).unwrap();
    let third = apply_run_overrides(&paths, loaded, Some("other-id"), None, &ep).unwrap();
    assert_eq!(third.node_id, "other-id");
    assert_eq!(third.display_name.as_deref(), Some("node-a"));
    assert_eq!(
        NodeState::load(&paths).unwrap().unwrap().node_id,
        "other-id"
    );
}

#[test]
fn machine_display_name_is_never_empty() {
    let name = machine_display_name();
    assert!(!name.is_empty());
    assert!(!name.to_ascii_lowercase().ends_with(".local"));
}

// ----- identity/device.json ----------------------------------------------------------------

#[test]
fn load_identity_never_creates_anything() {
    let tmp = TempDir::new("id-none");
    assert!(load_identity(&tmp.paths()).unwrap().is_none());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn load_or_create_identity_writes_the_ts_node_form_once() {
    let tmp = TempDir::new("id-create");
    let paths = StatePaths::at(tmp.path().join("state"))
        .with_new_state(crate::paths::NewStateBackend::Json);
    let created = load_or_create_identity(&paths).unwrap();
    let file = paths.device_identity_file();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&paths.identity_dir()), 0o700);
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.ends_with("}\n"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "deviceId",
            "publicKeyPem",
            "privateKeyPem",
            "createdAtMs"
        ]
    );
    assert_eq!(doc["deviceId"], created.device_id());
    assert!(doc["createdAtMs"].as_u64().unwrap() > 1_700_000_000_000);
    let again = load_or_create_identity(&paths).unwrap();
    assert_eq!(again.device_id(), created.device_id());
    assert_eq!(fs::read_to_string(&file).unwrap(), text);
    assert_eq!(entries(&paths.identity_dir()), ["device.json"]);
}

#[test]
fn unusable_identity_files_are_errors_and_never_replaced() {
    let other = DeviceIdentity::generate();
    let cases = [
        String::new(),
        ts_device_json()[..40].to_string(),
        "null".to_string(),
        "{\"version\":1}".to_string(),
        json!({"version": 1, "deviceId": DEVICE_ID_A, "publicKeyPem": other.public_key_pem(),
               "privateKeyPem": PRIVATE_PEM_A})
        .to_string(),
        json!({"version": 1, "deviceId": DEVICE_ID_A, "publicKeyPem": PUBLIC_PEM_A,
               "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"})
        .to_string(),
    ];
    for text in cases {
        let tmp = TempDir::new("id-bad");
        let paths = tmp.paths();
        write(&paths.device_identity_file(), &text);
        assert_unusable(
            &load_identity(&paths).unwrap_err(),
            &paths.device_identity_file(),
        );
        let err = load_or_create_identity(&paths).unwrap_err();
        assert_unusable(&err, &paths.device_identity_file());
        assert_eq!(
            fs::read_to_string(paths.device_identity_file()).unwrap(),
            text
        );
        assert_eq!(entries(&paths.identity_dir()), ["device.json"]);
    }
}

#[test]
fn a_wrong_stored_device_id_is_recomputed_and_the_file_left_alone() {
    let tmp = TempDir::new("id-mismatch");
    let paths = tmp.paths();
    let text = ts_device_json().replace(DEVICE_ID_A, "0000");
    write(&paths.device_identity_file(), &text);
    assert_eq!(
        load_or_create_identity(&paths).unwrap().device_id(),
        DEVICE_ID_A
    );
    assert_eq!(
        fs::read_to_string(paths.device_identity_file()).unwrap(),
        text
    );
}

#[test]
fn the_swift_form_loads_with_the_same_device_id() {
    let tmp = TempDir::new("id-swift");
    let paths = tmp.paths();
    let doc = json!({
        "deviceId": DEVICE_ID_A,
        "publicKey": "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
        "privateKey": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    });
    write(&paths.device_identity_file(), &doc.to_string());
    assert_eq!(
        load_identity(&paths).unwrap().unwrap().device_id(),
        DEVICE_ID_A
    );
}

// ----- a whole 2026.7.35 state directory ---------------------------------------------------

#[test]
fn a_ts_2026_7_35_state_dir_is_reused_as_is() {
    let tmp = TempDir::new("ts-dir");
    let paths = tmp.paths();
    write_ts_state_dir(&paths);
    let before: Vec<String> = [
        paths.node_file(),
        paths.device_identity_file(),
        paths.device_auth_file(),
    ]
    .iter()
    .map(|p| fs::read_to_string(p).unwrap())
    .collect();

    let identity = load_or_create_identity(&paths).unwrap();
    assert_eq!(identity.device_id(), DEVICE_ID_A);
    let store = DeviceAuthStore::new(&paths);
    assert_eq!(
        store
            .token(&identity.device_id(), "node")
            .unwrap()
            .as_deref(),
        Some(DEVICE_TOKEN)
    );
    let state = NodeState::load(&paths).unwrap();
    assert_eq!(
        state.as_ref().unwrap().node_id,
        "3c052c60-4416-4961-8dc3-6932a6f38799"
    );

    // A plain `run` with no flags changes none of the files.
    let ep = resolve_endpoint(
        state.as_ref().map(|s| &s.gateway),
        &GatewayEndpoint::default(),
    );
    let state = apply_run_overrides(&paths, state, None, None, &ep).unwrap();
    assert_eq!(state.display_name.as_deref(), Some("old-node"));
    // hello-ok hands back the same token.
    store
        .store(DEVICE_ID_A, "node", DEVICE_TOKEN, &[], Some(DEVICE_TOKEN))
        .unwrap();
    let after: Vec<String> = [
        paths.node_file(),
        paths.device_identity_file(),
        paths.device_auth_file(),
    ]
    .iter()
    .map(|p| fs::read_to_string(p).unwrap())
    .collect();
    assert_eq!(after, before);
}

// ----- identity/device-auth.json -----------------------------------------------------------

fn auth_doc(paths: &StatePaths) -> Value {
    serde_json::from_str(&fs::read_to_string(paths.device_auth_file()).unwrap()).unwrap()
}

#[test]
fn device_auth_store_round_trip() {
    let tmp = TempDir::new("auth");
    let paths = tmp.paths();
    let store = DeviceAuthStore::new(&paths);
    assert_eq!(store.token(DEVICE_ID_A, "node").unwrap(), None);
    store
        .store(
            DEVICE_ID_A,
            "node",
            "tok-1",
            &["b".into(), "a".into(), "a".into()],
            None,
        )
        .unwrap();
    assert_eq!(mode(&paths.device_auth_file()), 0o600);
    assert_eq!(mode(&paths.identity_dir()), 0o700);
    let entry = store.entry(DEVICE_ID_A, "node").unwrap().unwrap();
    assert_eq!(entry.token, "tok-1");
    assert_eq!(entry.role, "node");
    assert_eq!(entry.scopes, ["a", "b"]);
    assert!(entry.updated_at_ms > 0);
    let text = fs::read_to_string(paths.device_auth_file()).unwrap();
    assert!(text.ends_with("}\n"));
    let doc = auth_doc(&paths);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["deviceId"], DEVICE_ID_A);
    let keys: Vec<&String> = doc["tokens"]["node"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["token", "role", "scopes", "updatedAtMs"]);
}

#[test]
fn device_auth_store_is_compare_and_swap() {
    let tmp = TempDir::new("auth-cas");
    let paths = tmp.paths();
    write(&paths.device_auth_file(), &ts_device_auth_json());
    let store = DeviceAuthStore::new(&paths);
    // Someone else stored a newer token after we read DEVICE_TOKEN: theirs stays.
    store
        .store(
            DEVICE_ID_A,
            "node",
            "ours",
            &[],
            Some("what-we-read-earlier"),
        )
        .unwrap();
    assert_eq!(
        store.token(DEVICE_ID_A, "node").unwrap().as_deref(),
        Some(DEVICE_TOKEN)
    );
    // The file still holds what we read: ours replaces it.
    store
        .store(DEVICE_ID_A, "node", "ours", &[], Some(DEVICE_TOKEN))
        .unwrap();
    assert_eq!(
        store.token(DEVICE_ID_A, "node").unwrap().as_deref(),
        Some("ours")
    );
}

#[test]
fn storing_the_same_token_keeps_the_stored_scopes() {
    let tmp = TempDir::new("auth-same");
    let paths = tmp.paths();
    let store = DeviceAuthStore::new(&paths);
    store
        .store(DEVICE_ID_A, "node", "tok", &["x".into()], None)
        .unwrap();
    let before = fs::read_to_string(paths.device_auth_file()).unwrap();
    store
        .store(DEVICE_ID_A, "node", "tok", &[], Some("tok"))
        .unwrap();
    assert_eq!(
        fs::read_to_string(paths.device_auth_file()).unwrap(),
        before
    );
    assert_eq!(
        store.entry(DEVICE_ID_A, "node").unwrap().unwrap().scopes,
        ["x"]
    );
}

#[test]
fn device_auth_store_keeps_other_roles_and_unknown_keys() {
    let tmp = TempDir::new("auth-keep");
    let paths = tmp.paths();
    let doc = json!({
        "version": 1, "deviceId": DEVICE_ID_A, "note": "mine",
        "tokens": {
            "operator": {"token": "op", "role": "operator", "scopes": ["operator.read"], "updatedAtMs": 5, "x": 1},
            "node": {"token": "old", "role": "node", "scopes": [], "updatedAtMs": 6}
        }
    });
    write(&paths.device_auth_file(), &doc.to_string());
    let store = DeviceAuthStore::new(&paths);
    store
        .store(DEVICE_ID_A, "node", "new", &[], Some("old"))
        .unwrap();
    let back = auth_doc(&paths);
    assert_eq!(back["note"], "mine");
    assert_eq!(back["tokens"]["operator"], doc["tokens"]["operator"]);
    assert_eq!(back["tokens"]["node"]["token"], "new");
    store.clear_if(DEVICE_ID_A, "node", "new").unwrap();
    let back = auth_doc(&paths);
    assert!(back["tokens"].get("node").is_none());
    assert_eq!(back["tokens"]["operator"], doc["tokens"]["operator"]);
    assert_eq!(
        store.token(DEVICE_ID_A, "operator").unwrap().as_deref(),
        Some("op")
    );
}

#[test]
fn clear_if_only_removes_the_stale_token() {
    let tmp = TempDir::new("auth-clear");
    let paths = tmp.paths();
    write(&paths.device_auth_file(), &ts_device_auth_json());
    let store = DeviceAuthStore::new(&paths);
    store
        .clear_if(DEVICE_ID_A, "node", "some-older-token")
        .unwrap();
    store
        .clear_if("another-device", "node", DEVICE_TOKEN)
        .unwrap();
    assert_eq!(
        fs::read_to_string(paths.device_auth_file()).unwrap(),
        ts_device_auth_json()
    );
    store.clear_if(DEVICE_ID_A, "node", DEVICE_TOKEN).unwrap();
    assert_eq!(store.token(DEVICE_ID_A, "node").unwrap(), None);
    assert_eq!(auth_doc(&paths)["deviceId"], DEVICE_ID_A);
    // Nothing stored: nothing to do, nothing created.
    let empty = TempDir::new("auth-clear-none");
    DeviceAuthStore::new(&empty.paths())
        .clear_if(DEVICE_ID_A, "node", "x")
        .unwrap();
    assert!(entries(empty.path()).is_empty());
}

#[test]
fn a_file_for_another_device_holds_no_token_and_is_kept_aside_when_replaced() {
    let tmp = TempDir::new("auth-other");
    let paths = tmp.paths();
    write(&paths.device_auth_file(), &ts_device_auth_json());
    let store = DeviceAuthStore::new(&paths);
    let me = "ffff".repeat(16);
    assert_eq!(store.token(&me, "node").unwrap(), None);
    assert_eq!(
        fs::read_to_string(paths.device_auth_file()).unwrap(),
        ts_device_auth_json()
    );
    store.store(&me, "node", "mine", &[], None).unwrap();
    assert_eq!(store.token(&me, "node").unwrap().as_deref(), Some("mine"));
    let backup = paths
        .identity_dir()
        .join("device-auth.json.device-56475aa75463474c.bak");
    assert_eq!(fs::read_to_string(&backup).unwrap(), ts_device_auth_json());
    assert_eq!(mode(&backup), 0o600);
}

#[test]
fn unusable_device_auth_files_are_errors_and_never_replaced() {
    let cases = [
        "",
        "{\"version\":1,\"deviceId\":",
        "[1]",
        "{\"version\":2,\"deviceId\":\"d\",\"tokens\":{}}",
        "{\"version\":1,\"tokens\":{}}",
        "{\"version\":1,\"deviceId\":\"d\"}",
        "{\"version\":1,\"deviceId\":\"d\",\"tokens\":{\"node\":\"tok\"}}",
        "{\"version\":1,\"deviceId\":\"d\",\"tokens\":{\"node\":{\"token\":5}}}",
        "{\"version\":1,\"deviceId\":\"d\",\"tokens\":{\"node\":{\"token\":\"t\",\"scopes\":\"a\"}}}",
    ];
    for text in cases {
        let tmp = TempDir::new("auth-bad");
        let paths = tmp.paths();
        write(&paths.device_auth_file(), text);
        let store = DeviceAuthStore::new(&paths);
        assert_unusable(
            &store.token("d", "node").unwrap_err(),
            &paths.device_auth_file(),
        );
        assert_unusable(
            &store.store("d", "node", "new", &[], None).unwrap_err(),
            &paths.device_auth_file(),
        );
        assert_unusable(
            &store.clear_if("d", "node", "t").unwrap_err(),
            &paths.device_auth_file(),
        );
        assert_eq!(fs::read_to_string(paths.device_auth_file()).unwrap(), text);
    }
}
