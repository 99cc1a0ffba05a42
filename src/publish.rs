//! What the node tells the gateway on its own, outside any invocation, while a session is up:
//! host stats, its skills, its MCP tool catalog (protocol.md §1.7).
//!
//! The session knows only [`Publisher`]: it calls [`Publisher::session_started`] with a handle
//! for requests once `hello-ok` arrived, and [`Publisher::session_ended`] when the connection is
//! gone. [`Publication`] is the one implementation every publication uses: a thread of its own
//! that sleeps on a channel and sends the publication's current content
//!
//! - when a session starts,
//! - when the content source says it changed ([`Publication::changed`]), unless the gateway
//!   already accepted the same content in this session (TS de-duplicates against the last
//!   accepted params),
//! - every `every`, for periodic ones (host stats),
//! - after a failure, with TS's backoff (250 ms, doubling, at most 5 s), for a bounded number of
//!   attempts, so that a gateway that keeps refusing does not keep an idle node awake.
//!
//! Between those, the thread is blocked in `recv`/`recv_timeout`: no polling.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

/// A gateway refusal or a request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFailure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A live session's channel for the node's own requests.
pub trait GatewayRequests: Send + Sync {
    /// Sends `method` with `params_json` (one JSON object) and waits up to `timeout` for the
    /// answer: the response payload (`null` when it had none), or why it failed.
    fn request(
        &self,
        method: &str,
        params_json: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, RequestFailure>;
}

/// Something that publishes while a session is up.
pub trait Publisher: Send + Sync {
    /// A session reached `hello-ok`. Called on the session's reader thread before it serves
    /// anything: hand `session` over to a thread of your own, never block here.
    fn session_started(&self, session: Arc<dyn GatewayRequests>);
    /// That session ended: requests through its handle fail from now on.
    fn session_ended(&self);
}

/// One publication: which request it sends and how often.
pub struct PublicationSpec {
    /// For logs and the thread name: `host-stats`, `skills`, `mcp-tools`.
    pub name: &'static str,
    /// The request method: `node.event`, `node.skills.update`, `node.pluginTools.update`.
    pub method: &'static str,
    /// Resend this often while a session is up (host stats: 60 s); `None`: only on start and
    /// change.
    pub every: Option<Duration>,
    /// Whether content the gateway accepted in this session is sent again when unchanged
    /// (periodic publications: yes; catalogs: no).
    pub resend_unchanged: bool,
    /// How long one request may wait for its answer.
    pub timeout: Duration,
}

/// The retry schedule after a failed send: TS's backoff (protocol.md §1.7).
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Attempts per content, the first included: about 40 s of retries in all.
const MAX_ATTEMPTS: u32 = 12;

enum Signal {
    Started(Arc<dyn GatewayRequests>),
    Ended,
    Changed,
}

/// A running publication; dropping every handle ends its thread.
#[derive(Clone)]
pub struct Publication {
    signals: Sender<Signal>,
}

impl Publication {
    /// Starts the publication's thread. `content` gives the params (JSON text) to send now, or
    /// `None` when there is nothing to send; it runs on the publication's thread.
    pub fn spawn(
        spec: PublicationSpec,
        content: Box<dyn FnMut() -> Option<String> + Send>,
    ) -> std::io::Result<Publication> {
        let (signals, receiver) = unbounded();
        thread::Builder::new()
            .name(format!("publish-{}", spec.name))
            .spawn(move || publication_loop(spec, content, receiver))?;
        Ok(Publication { signals })
    }

    /// The content source changed: send it when a session is up (now, or when one starts).
    pub fn changed(&self) {
        let _ = self.signals.send(Signal::Changed);
    }
}

impl Publisher for Publication {
    fn session_started(&self, session: Arc<dyn GatewayRequests>) {
        let _ = self.signals.send(Signal::Started(session));
    }
    fn session_ended(&self) {
        let _ = self.signals.send(Signal::Ended);
    }
}

/// What the loop owes the gateway.
struct Pending {
    /// The next send is due at this instant.
    due: Instant,
    /// Failed attempts for the current content.
    failures: u32,
}

fn publication_loop(
    spec: PublicationSpec,
    mut content: Box<dyn FnMut() -> Option<String> + Send>,
    signals: Receiver<Signal>,
) {
    let mut session: Option<Arc<dyn GatewayRequests>> = None;
    // The params the gateway accepted in this session.
    let mut accepted: Option<String> = None;
    let mut pending: Option<Pending> = None;
    let mut failure_logged = false;
    loop {
        let signal = match &pending {
            Some(p) if session.is_some() => {
                match signals.recv_timeout(p.due.saturating_duration_since(Instant::now())) {
                    Ok(signal) => Some(signal),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            _ => match signals.recv() {
                Ok(signal) => Some(signal),
                Err(_) => return,
            },
        };
        match signal {
            Some(Signal::Started(new)) => {
                session = Some(new);
                accepted = None;
                failure_logged = false;
                pending = Some(Pending {
                    due: Instant::now(),
                    failures: 0,
                });
                continue;
            }
            Some(Signal::Ended) => {
                session = None;
                pending = None;
                continue;
            }
            Some(Signal::Changed) => {
                // Due now: the zero timeout above sends it once, however many changes came.
                pending = Some(Pending {
                    due: Instant::now(),
                    failures: 0,
                });
                continue;
            }
            None => {}
        }
        // A send is due.
        let (Some(live), Some(due)) = (session.clone(), pending.take()) else {
            continue;
        };
        let Some(params) = content() else {
            pending = spec.every.map(|every| Pending {
                due: Instant::now() + every,
                failures: 0,
            });
            continue;
        };
        if !spec.resend_unchanged && accepted.as_deref() == Some(params.as_str()) {
            log::debug!("{}: unchanged since the gateway accepted it", spec.name);
            continue;
        }
        match live.request(spec.method, &params, spec.timeout) {
            Ok(_) => {
                log::debug!("{}: published", spec.name);
                accepted = Some(params);
                pending = spec.every.map(|every| Pending {
                    due: Instant::now() + every,
                    failures: 0,
                });
            }
            Err(failure) => {
                let failures = due.failures + 1;
                if !failure_logged {
                    log::warn!("node {} publish failed: {failure}", spec.name);
                    failure_logged = true;
                } else {
                    log::debug!("node {} publish failed again: {failure}", spec.name);
                }
                pending = if failures < MAX_ATTEMPTS {
                    Some(Pending {
                        due: Instant::now() + retry_delay(failures),
                        failures,
                    })
                } else {
                    log::debug!("{}: giving up after {failures} attempts", spec.name);
                    spec.every.map(|every| Pending {
                        due: Instant::now() + every,
                        failures: 0,
                    })
                };
            }
        }
    }
}

/// 250 ms after the first failure, doubling, at most 5 s.
fn retry_delay(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(8);
    (RETRY_FIRST * factor).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A gateway that records requests and answers from a script (then `Ok`).
    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<(String, String)>>,
        refusals: Mutex<u32>,
        notify: Mutex<Option<Sender<()>>>,
    }

    impl GatewayRequests for Recorder {
        fn request(
            &self,
            method: &str,
            params_json: &str,
            _timeout: Duration,
        ) -> Result<serde_json::Value, RequestFailure> {
            self.sent
                .lock()
                .unwrap()
                .push((method.to_string(), params_json.to_string()));
            if let Some(tx) = &*self.notify.lock().unwrap() {
                let _ = tx.send(());
            }
            let mut refusals = self.refusals.lock().unwrap();
            if *refusals > 0 {
                *refusals -= 1;
                return Err(RequestFailure {
                    code: "UNAVAILABLE".into(),
                    message: "node pairing changed before request dispatch".into(),
                });
            }
            Ok(serde_json::Value::Null)
        }
    }

    fn spec(every: Option<Duration>, resend_unchanged: bool) -> PublicationSpec {
        PublicationSpec {
            name: "test",
            method: "node.test.update",
            every,
            resend_unchanged,
            timeout: Duration::from_secs(1),
        }
    }

    fn recorder(refusals: u32) -> (Arc<Recorder>, Receiver<()>) {
        let (tx, rx) = unbounded();
        let recorder = Arc::new(Recorder {
            refusals: Mutex::new(refusals),
            notify: Mutex::new(Some(tx)),
            ..Recorder::default()
        });
        (recorder, rx)
    }

    fn content_from(shared: &Arc<Mutex<String>>) -> Box<dyn FnMut() -> Option<String> + Send> {
        let shared = shared.clone();
        Box::new(move || Some(shared.lock().unwrap().clone()))
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn sends_on_start_and_on_change_but_not_the_same_content_twice() {
        let text = Arc::new(Mutex::new(r#"{"tools":[]}"#.to_string()));
        let publication = Publication::spawn(spec(None, false), content_from(&text)).unwrap();
        let (gateway, sent) = recorder(0);
        publication.changed(); // before any session: nothing is sent
        publication.session_started(gateway.clone());
        sent.recv_timeout(WAIT).unwrap();
        publication.changed(); // same content: not sent again
        *text.lock().unwrap() = r#"{"tools":[1]}"#.to_string();
        publication.changed();
        sent.recv_timeout(WAIT).unwrap();
        assert!(sent.recv_timeout(Duration::from_millis(300)).is_err());
        let sent = gateway.sent.lock().unwrap().clone();
        assert_eq!(
            sent,
            [
                ("node.test.update".to_string(), r#"{"tools":[]}"#.to_string()),
                ("node.test.update".to_string(), r#"{"tools":[1]}"#.to_string())
            ]
        );
    }

    #[test]
    fn a_new_session_gets_the_content_again() {
        let text = Arc::new(Mutex::new("{}".to_string()));
        let publication = Publication::spawn(spec(None, false), content_from(&text)).unwrap();
        let (first, sent_first) = recorder(0);
        publication.session_started(first.clone());
        sent_first.recv_timeout(WAIT).unwrap();
        publication.session_ended();
        let (second, sent_second) = recorder(0);
        publication.session_started(second.clone());
        sent_second.recv_timeout(WAIT).unwrap();
        assert_eq!(first.sent.lock().unwrap().len(), 1);
        assert_eq!(second.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_refusal_is_retried_with_backoff_until_accepted() {
        let text = Arc::new(Mutex::new("{}".to_string()));
        let publication = Publication::spawn(spec(None, false), content_from(&text)).unwrap();
        let (gateway, sent) = recorder(2);
        let started = Instant::now();
        publication.session_started(gateway.clone());
        for _ in 0..3 {
            sent.recv_timeout(WAIT).unwrap();
        }
        // 250 ms, then 500 ms.
        assert!(started.elapsed() >= Duration::from_millis(750));
        assert!(sent.recv_timeout(Duration::from_millis(1200)).is_err());
        assert_eq!(gateway.sent.lock().unwrap().len(), 3);
    }

    #[test]
    fn retries_stop_after_a_bounded_number_of_attempts() {
        assert_eq!(retry_delay(1), Duration::from_millis(250));
        assert_eq!(retry_delay(2), Duration::from_millis(500));
        assert_eq!(retry_delay(5), Duration::from_secs(4));
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(40), RETRY_MAX);
        let total: Duration = (1..MAX_ATTEMPTS).map(retry_delay).sum();
        assert!(total < Duration::from_secs(60), "{total:?}");
    }

    #[test]
    fn periodic_publications_resend_and_stop_with_the_session() {
        let text = Arc::new(Mutex::new("{}".to_string()));
        let publication = Publication::spawn(
            spec(Some(Duration::from_millis(100)), true),
            content_from(&text),
        )
        .unwrap();
        let (gateway, sent) = recorder(0);
        publication.session_started(gateway.clone());
        for _ in 0..3 {
            sent.recv_timeout(WAIT).unwrap();
        }
        publication.session_ended();
        // At most one send was already under way when the session ended.
        let _ = sent.recv_timeout(Duration::from_millis(150));
        assert!(sent.recv_timeout(Duration::from_millis(400)).is_err());
    }
}
