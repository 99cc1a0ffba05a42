//! The publications of a node with its full surface (node-surface.md §3.3: a `--commands`
//! surface makes none): host stats every minute, the runner inventory, and the skills (unless
//! `nodeHost.skills.enabled` is false).
//!
//! The runner inventory is `{"protocolFeatures":[]}`: this node hosts no worker sessions, and
//! says so. It is also how the node learns that its command surface awaits re-approval: the
//! gateway refuses the update with the exact `openclaw nodes approve <requestId>` command
//! (protocol.md §3.3), which the node then tells the operator once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::host_stats::HostStats;
use crate::publish::{GatewayRequests, Publication, PublicationSpec, Publisher, RequestFailure};

/// TS's host-stats period (protocol.md §8.2).
pub const HOST_STATS_EVERY: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Host stats of the volume holding `home`, sent on every session start and every minute.
pub fn host_stats(home: PathBuf) -> std::io::Result<Publication> {
    Publication::spawn(
        PublicationSpec {
            name: "host-stats",
            method: "node.event",
            every: Some(HOST_STATS_EVERY),
            resend_unchanged: true,
            timeout: REQUEST_TIMEOUT,
        },
        Box::new(move || HostStats::sample(&home).map(|stats| stats.event_params())),
    )
}

/// The skills in `dir`, published on session start and whenever the watcher sees a change
/// (an unchanged catalog is not sent again in the same session).
pub fn skills(dir: PathBuf) -> std::io::Result<Arc<dyn Publisher>> {
    let scanned = dir.clone();
    let unsupported = Arc::new(AtomicBool::new(false));
    let gate = unsupported.clone();
    let publication = Publication::spawn(
        PublicationSpec {
            name: "skills",
            method: "node.skills.update",
            every: None,
            resend_unchanged: false,
            timeout: REQUEST_TIMEOUT,
        },
        Box::new(move || {
            (!gate.load(Ordering::SeqCst))
                .then(|| crate::skills::update_params(&crate::skills::scan(&scanned)))
        }),
    )?;
    let on_change = publication.clone();
    crate::skills::watch(dir, move || on_change.changed())?;
    Ok(Arc::new(Guarded {
        publication,
        unsupported,
        announced: None,
    }))
}

/// The runner inventory, with the re-approval notice.
pub fn runner_inventory() -> std::io::Result<Arc<dyn Publisher>> {
    let unsupported = Arc::new(AtomicBool::new(false));
    let gate = unsupported.clone();
    let publication = Publication::spawn(
        PublicationSpec {
            name: "runner-inventory",
            method: "node.runnerInventory.update",
            every: None,
            resend_unchanged: false,
            timeout: REQUEST_TIMEOUT,
        },
        Box::new(move || {
            (!gate.load(Ordering::SeqCst)).then(|| r#"{"protocolFeatures":[]}"#.to_string())
        }),
    )?;
    Ok(Arc::new(Guarded {
        publication,
        unsupported,
        announced: Some(Arc::new(Mutex::new(None))),
    }))
}

/// A publication older gateways may not know, so it stops for the session when the gateway
/// says so (TS's "legacy-unsupported"); with `announced`, it also watches the answers for a
/// pending command surface.
struct Guarded {
    publication: Publication,
    /// Set when this session's gateway does not know the method; the content is then `None`.
    unsupported: Arc<AtomicBool>,
    /// The request the operator was told about, so it is told once.
    announced: Option<Arc<Mutex<Option<String>>>>,
}

impl Publisher for Guarded {
    fn session_started(&self, session: Arc<dyn GatewayRequests>) {
        self.unsupported.store(false, Ordering::SeqCst);
        self.publication.session_started(Arc::new(Watched {
            session,
            unsupported: self.unsupported.clone(),
            announced: self.announced.clone(),
        }));
    }
    fn session_ended(&self) {
        self.publication.session_ended();
    }
}

struct Watched {
    session: Arc<dyn GatewayRequests>,
    unsupported: Arc<AtomicBool>,
    announced: Option<Arc<Mutex<Option<String>>>>,
}

impl GatewayRequests for Watched {
    fn request(
        &self,
        method: &str,
        params_json: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, RequestFailure> {
        let answer = self.session.request(method, params_json, timeout);
        let Err(failure) = &answer else {
            return answer;
        };
        if legacy_unsupported(failure, method) {
            log::debug!("the gateway does not take {method} ({failure}); not sent again this session");
            self.unsupported.store(true, Ordering::SeqCst);
        }
        if let (Some(announced), Some(request_id)) =
            (&self.announced, pending_surface_request(failure))
        {
            let mut announced = announced.lock().unwrap_or_else(|e| e.into_inner());
            if announced.as_deref() != Some(request_id.as_str()) {
                eprintln!("{}", reapproval_instructions(&request_id));
                log::info!("command surface pending re-approval (request {request_id})");
                *announced = Some(request_id);
            }
        }
        answer
    }
}

/// What gateways before 2026.9 answer a method they do not have (protocol.md §8.3).
fn legacy_unsupported(failure: &RequestFailure, method: &str) -> bool {
    failure.code == "INVALID_REQUEST"
        && (failure.message == format!("unknown method: {method}")
            || failure.message == "unauthorized role: node")
}

/// The request id in the gateway's "awaiting operator approval" refusal.
fn pending_surface_request(failure: &RequestFailure) -> Option<String> {
    if failure.code != "UNAVAILABLE" || !failure.message.contains("awaiting operator approval") {
        return None;
    }
    let rest = failure.message.split("openclaw nodes approve ").nth(1)?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// What the operator reads, like the device-pairing instructions.
fn reapproval_instructions(request_id: &str) -> String {
    format!(
        "this node's command surface changed and awaits operator approval; until then the gateway \
         keeps to the commands approved before. On the gateway host, run:\n\n    \
         openclaw nodes approve {request_id}\n\nNo restart is needed."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_request_id_is_read_from_the_gateway_refusal() {
        let failure = RequestFailure {
            code: "UNAVAILABLE".into(),
            message: "node capability surface is awaiting operator approval; run `openclaw nodes \
                      approve 5f0c-77aa` (see `openclaw nodes pending`), then this node retries \
                      automatically"
                .into(),
        };
        assert_eq!(pending_surface_request(&failure).as_deref(), Some("5f0c-77aa"));
        let other = RequestFailure {
            code: "UNAVAILABLE".into(),
            message: "node runner inventory publication is not current; retry after pairing completes".into(),
        };
        assert_eq!(pending_surface_request(&other), None);
        assert!(reapproval_instructions("r-1").contains("    openclaw nodes approve r-1\n"));
    }
}
