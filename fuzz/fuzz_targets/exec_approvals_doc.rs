//! The exec-approvals document: any file content through the store's reader (parse, schema,
//! normalisation), then what the node derives from it (policy per agent, policy snapshots,
//! redaction, socket defaults), and the store's `ensure` rewrite.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openclaw_node::approvals::document;
use openclaw_node::approvals::policy::{self, Ask, PolicySnapshot, Security};
use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::config::NodeConfig;
use openclaw_node::paths::StatePaths;
use openclaw_node_fuzz::{put_file, scratch_dir};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    static PATHS: OnceLock<StatePaths> = OnceLock::new();
    let paths = PATHS.get_or_init(|| StatePaths::at(scratch_dir("exec-approvals")));
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = document::parse(raw) else {
        return;
    };

    // Normalisation is idempotent and its output is valid and survives its own serialisation.
    document::validate(&doc).expect("a normalised document fails validation");
    assert_eq!(
        document::normalize_internal(&doc),
        doc,
        "normalisation is not idempotent"
    );
    let text = document::serialize(&doc);
    assert_eq!(
        document::parse(&text).expect("serialised document does not parse"),
        doc
    );

    // What leaves the node never holds the socket token.
    let redacted = document::redact(&doc);
    assert!(
        redacted["socket"].get("token").is_none(),
        "redact kept the token"
    );
    let socketed = document::with_socket(&doc, None, "/run/fuzz.sock");
    let (path, token) = document::socket_fields(&socketed);
    assert!(
        path.is_some() && token.is_some(),
        "with_socket left a field empty"
    );
    let _ = policy::resolved_defaults(&doc);

    // Policies for the default agent and every named one.
    let config = NodeConfig::default();
    let mut agents: Vec<Option<String>> = vec![None, Some("main".into()), Some("*".into())];
    if let Some(map) = doc["agents"].as_object() {
        agents.extend(map.keys().take(8).cloned().map(Some));
    }
    for agent in &agents {
        let agent = agent.as_deref();
        let approvals = policy::agent_approvals(&doc, agent, Security::Full, Ask::Off);
        for entry in &approvals.allowlist {
            let _ = entry.match_key();
        }
        let _ = policy::effective_policy(&doc, &config, agent);
        let snapshot = PolicySnapshot::of(&doc, agent);
        let back = PolicySnapshot::from_json(&snapshot.to_json())
            .expect("a policy snapshot does not read back");
        assert_eq!(back, snapshot, "policy snapshot round trip");
        assert!(snapshot.is_current(&snapshot));
    }

    // Through the store: the file reads as parse() says, and ensure() settles in one write.
    put_file(&paths.exec_approvals_file(), data);
    let store = ApprovalsStore::new(paths);
    let snapshot = store
        .read()
        .expect("the store refused a document parse() accepts");
    // Entries without an id get a fresh random one at every read, as in the TS host.
    assert_eq!(without_ids(&snapshot.doc), without_ids(&doc));
    assert_eq!(snapshot.hash, document::hash_raw(Some(raw)));
    let ensured = store.ensure().expect("ensure failed");
    let again = store.ensure().expect("second ensure failed");
    assert_eq!(
        again.hash, ensured.hash,
        "ensure rewrote an ensured document"
    );
    let stored: Value = serde_json::from_str(again.raw.as_deref().expect("no raw text"))
        .expect("the stored document is not JSON");
    assert_eq!(stored, again.doc);
});

/// The document with the allowlist entries' ids removed.
fn without_ids(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(agents) = doc.get_mut("agents").and_then(Value::as_object_mut) {
        for agent in agents.values_mut() {
            if let Some(entries) = agent.get_mut("allowlist").and_then(Value::as_array_mut) {
                for entry in entries {
                    if let Some(entry) = entry.as_object_mut() {
                        entry.shift_remove("id");
                    }
                }
            }
        }
    }
    doc
}
