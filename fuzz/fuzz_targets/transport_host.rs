//! The connection rules on user-given text: `--tls-fingerprint` normalisation, the plaintext
//! `ws://` rule and the URL built from a host and context path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_node::gateway::transport::{self, GatewayUrl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pin) = transport::normalize_fingerprint(text) {
        assert_eq!(pin.len(), 64);
        assert!(pin.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(
            transport::normalize_fingerprint(&pin).ok().as_deref(),
            Some(pin.as_str())
        );
    }
    assert!(transport::check_plaintext_allowed(text, true).is_ok());
    let (host, context_path) = text.split_once('\0').unwrap_or((text, ""));
    let url = GatewayUrl::new(host, 443, false, Some(context_path));
    if url.is_loopback() {
        assert!(
            transport::check_plaintext_allowed(&url.host, false).is_ok(),
            "a loopback host must be allowed plaintext"
        );
    }
    let _ = transport::check_plaintext_allowed(host, false);
    let _ = GatewayUrl::new(host, 1, true, None).to_url();
    let url = url.to_url();
    assert!(url.starts_with("ws://"));
});
