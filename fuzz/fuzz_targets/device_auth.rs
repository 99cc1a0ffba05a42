//! `identity/device-auth.json`: any file content, read by the device-token store as the
//! reconnect loop reads it; when the file is usable, a token stored for its device and role
//! must read back, and a compare-and-delete of that token must remove it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::paths::StatePaths;
use openclaw_node::state::DeviceAuthStore;
use openclaw_node_fuzz::{put_file, scratch_dir};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    static PATHS: OnceLock<StatePaths> = OnceLock::new();
    let paths = PATHS.get_or_init(|| StatePaths::at(scratch_dir("device-auth")));
    let path = paths.device_auth_file();
    put_file(&path, data);

    // The device id and a role the file names, so lookups reach the entries it holds.
    let doc = serde_json::from_slice::<Value>(data).unwrap_or(Value::Null);
    let device_id = doc["deviceId"]
        .as_str()
        .unwrap_or("fuzz-device")
        .to_string();
    let role = doc["tokens"]
        .as_object()
        .and_then(|tokens| tokens.keys().next().cloned())
        .unwrap_or_else(|| "node".to_string());

    let store = DeviceAuthStore::at(path);
    let _ = store.token("some-other-device", "node");
    let Ok(entry) = store.entry(&device_id, &role) else {
        return;
    };
    if let Some(entry) = &entry {
        assert!(!entry.token.is_empty(), "an empty token counts as none");
    }
    let previous = entry.map(|e| e.token);
    let scopes = vec![" operator.read ".to_string(), String::new()];
    if store
        .store(
            &device_id,
            &role,
            "fuzz-token",
            &scopes,
            previous.as_deref(),
        )
        .is_err()
    {
        return;
    }
    let stored = store
        .entry(&device_id, &role)
        .expect("a file the store just wrote does not read")
        .expect("the stored token is missing");
    assert_eq!(stored.token, "fuzz-token");
    assert_eq!(stored.role, role.trim());
    assert_eq!(stored.scopes, vec!["operator.read".to_string()]);
    store
        .clear_if(&device_id, &role, "fuzz-token")
        .expect("clearing a stored token failed");
    assert_eq!(
        store.token(&device_id, &role).expect("re-read failed"),
        None
    );
});
