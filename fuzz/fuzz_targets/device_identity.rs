//! `identity/device.json`: any file content, read by `state::load_identity` (both legacy
//! forms). A key that loads must re-export and re-import to the same device. Input that is not
//! JSON goes straight to the key decoders, split at the first NUL into (public, private).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::identity::{self, DeviceIdentity};
use openclaw_node::paths::StatePaths;
use openclaw_node::state;
use openclaw_node_fuzz::{put_file, scratch_dir};

fuzz_target!(|data: &[u8]| {
    static PATHS: OnceLock<StatePaths> = OnceLock::new();
    let paths = PATHS.get_or_init(|| StatePaths::at(scratch_dir("device-identity")));

    if serde_json::from_slice::<serde_json::Value>(data).is_err() {
        let text = String::from_utf8_lossy(data);
        let (public, private) = text.split_once('\0').unwrap_or((&text, ""));
        for loaded in [
            DeviceIdentity::from_pems(public, private),
            DeviceIdentity::from_raw_keys_b64(public, private),
        ] {
            if let Ok(identity) = loaded {
                check_round_trip(&identity);
            }
        }
        return;
    }

    put_file(&paths.device_identity_file(), data);
    if let Ok(Some(identity)) = state::load_identity(paths) {
        check_round_trip(&identity);
    }
});

fn check_round_trip(identity: &DeviceIdentity) {
    let doc = identity::device_json(identity, 1);
    let imported =
        identity::identity_from_device_json(&doc).expect("device_json does not re-import");
    assert_eq!(imported.identity.device_id(), identity.device_id());
    assert_eq!(imported.stored_device_id, identity.device_id());
    let pems = DeviceIdentity::from_pems(&identity.public_key_pem(), &identity.private_key_pem())
        .expect("own PEMs do not load");
    assert_eq!(pems.seed(), identity.seed());
}
