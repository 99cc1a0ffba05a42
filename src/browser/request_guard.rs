//! Every request a page makes, vetted with the navigation policy (issue 11): the top-level
//! guard ([`super::navguard`]) sees only the navigations the agent asks for, so a page could
//! still reach loopback or the LAN through `fetch()`, `location.href = ...`, a redirect from
//! an allowed host, or an `<img>`. With a policy that restricts anything, each page session
//! enables CDP `Fetch` interception for every request; Chromium pauses each one (each
//! redirect hop is a new pause) and the node answers `Fetch.continueRequest` or
//! `Fetch.failRequest` (`BlockedByClient`) by [`NavigationPolicy::allows_request`], the same
//! parser and DNS check as a top-level navigation.
//!
//! The connection's reader thread must not block, and a DNS lookup may, so paused requests go
//! through a bounded queue to one vetting thread per browser; a full queue, a vetting thread
//! that is gone, or a lookup that does not finish in time refuses the request (fail closed).
//! Like the TS node this is best effort against DNS rebinding: Chromium resolves again.
//! WebSockets are not `Fetch` requests and are not vetted.

use std::sync::Weak;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde_json::{json, Value};

use super::budget::Budget;
use super::cdp::CdpConnection;
use super::navguard::NavigationPolicy;
use crate::cancel::CancelToken;

/// Requests waiting for a verdict; beyond this a page's burst is refused, not queued.
const QUEUE: usize = 256;
/// How long one verdict (a DNS lookup) may take.
const LOOKUP: Duration = Duration::from_secs(5);

/// One paused request.
struct Paused {
    session: String,
    request_id: String,
    url: String,
}

/// The `Fetch.enable` parameters: every request, paused before it is sent.
pub fn fetch_enable_params() -> Value {
    json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] })
}

/// The vetting side of a browser connection.
pub struct RequestGuard {
    tx: Sender<Paused>,
}

impl RequestGuard {
    /// Starts the vetting thread; it ends when the guard is dropped.
    pub fn start(policy: NavigationPolicy, conn: Weak<CdpConnection>) -> std::io::Result<RequestGuard> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        std::thread::Builder::new()
            .name("browser-requests".to_string())
            .spawn(move || vet(&policy, &conn, &rx))?;
        Ok(RequestGuard { tx })
    }

    /// A `Fetch.requestPaused` event, on the reader thread: queued for a verdict, or refused
    /// at once when it cannot be queued.
    pub fn paused(&self, conn: &CdpConnection, session: &str, params: &Value) {
        let Some(request_id) = params.get("requestId").and_then(Value::as_str) else {
            return;
        };
        let url = params
            .pointer("/request/url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let paused = Paused {
            session: session.to_string(),
            request_id: request_id.to_string(),
            url,
        };
        if let Err(TrySendError::Full(paused) | TrySendError::Disconnected(paused)) =
            self.tx.try_send(paused)
        {
            log::debug!("browser: request queue unavailable, refusing {}", paused.url);
            answer(conn, &paused, false);
        }
    }
}

fn vet(policy: &NavigationPolicy, conn: &Weak<CdpConnection>, rx: &Receiver<Paused>) {
    for paused in rx {
        let allowed = policy.allows_request(&paused.url, &Budget::new(LOOKUP, CancelToken::new()));
        if !allowed {
            log::info!("browser: request blocked by policy: {}", redact(&paused.url));
        }
        match conn.upgrade() {
            Some(conn) => answer(&conn, &paused, allowed),
            None => return,
        }
    }
}

fn answer(conn: &CdpConnection, paused: &Paused, allowed: bool) {
    if allowed {
        conn.send_detached(
            "Fetch.continueRequest",
            json!({ "requestId": paused.request_id }),
            Some(&paused.session),
        );
    } else {
        conn.send_detached(
            "Fetch.failRequest",
            json!({ "requestId": paused.request_id, "errorReason": "BlockedByClient" }),
            Some(&paused.session),
        );
    }
}

/// The URL for the log: scheme and host only (a query may carry tokens).
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => url.chars().take(16).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_vetted_with_the_navigation_policy() {
        let budget = Budget::new(LOOKUP, CancelToken::new());
        let strict = NavigationPolicy::from_config(None);
        assert!(strict.restricts_requests());
        for blocked in [
            "http://127.0.0.1:9/",
            "http://localhost/x",
            "https://[::1]/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f000001/",
            "http://2130706433/",
            "ws://8.8.8.8/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(!strict.allows_request(blocked, &budget), "{blocked}");
        }
        for allowed in ["http://8.8.8.8/", "data:text/plain,x", "blob:http://8.8.8.8/x", "about:blank"] {
            assert!(strict.allows_request(allowed, &budget), "{allowed}");
        }
        let listed = NavigationPolicy::from_config(Some(&json!({"allowedHostnames": ["127.0.0.1"]})));
        assert!(listed.allows_request("http://127.0.0.1:9/", &budget));
        assert!(!listed.allows_request("http://localhost:9/", &budget));
        let open = NavigationPolicy::from_config(Some(&json!({"dangerouslyAllowPrivateNetwork": true})));
        assert!(!open.restricts_requests());
    }

    #[test]
    fn the_log_never_shows_a_query_or_credentials() {
        assert_eq!(redact("http://user:pw@host:8/p?token=1"), "http://host:8/…");
    }
}
