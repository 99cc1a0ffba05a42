//! `node.json`: any file content, read the way `run` reads it, then the endpoint rules, the
//! saved pin, the URL and the plaintext rule applied to what it held; a state that loads must
//! survive `run`'s merge, a save and a reload unchanged.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::gateway::transport::{self, GatewayUrl};
use openclaw_node::paths::StatePaths;
use openclaw_node::state::{self, GatewayEndpoint, NodeState};
use openclaw_node_fuzz::{put_file, scratch_dir};

fuzz_target!(|data: &[u8]| {
    static PATHS: OnceLock<StatePaths> = OnceLock::new();
    let paths = PATHS.get_or_init(|| StatePaths::at(scratch_dir("node-json")));
    put_file(&paths.node_file(), data);
    let Ok(Some(saved)) = NodeState::load(paths) else {
        return;
    };

    // The document round-trips through its own serialisation.
    let again = NodeState::from_json(&saved.to_json()).expect("to_json output does not parse");
    assert_eq!(again, saved, "node.json does not round-trip");

    // What `run` does with it: resolve the endpoint, check the saved pin, build the URL.
    let endpoint = state::resolve_endpoint(Some(&saved.gateway), &GatewayEndpoint::default());
    if let Some(pin) = &endpoint.tls_fingerprint {
        let _ = transport::normalize_fingerprint(pin);
    }
    let url = GatewayUrl::new(
        endpoint
            .host
            .as_deref()
            .unwrap_or(state::DEFAULT_GATEWAY_HOST),
        endpoint.port.unwrap_or(state::DEFAULT_GATEWAY_PORT),
        endpoint.tls.unwrap_or(false),
        endpoint.context_path.as_deref(),
    );
    let _ = url.to_url();
    let _ = transport::check_plaintext_allowed(&url.host, false);

    // The merged state is saved and reads back as written.
    let merged = state::merge_run_overrides(Some(&saved), None, None, "fuzz-host", &endpoint);
    if merged.save(paths).is_ok() {
        let reloaded = NodeState::load(paths)
            .expect("a saved node.json does not load")
            .expect("a saved node.json vanished");
        assert_eq!(reloaded, merged, "a saved node.json reads back different");
    }
});
