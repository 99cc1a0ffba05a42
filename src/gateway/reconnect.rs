//! The loop around sessions: connect, serve, and act on how each one ended (protocol §1.9,
//! §1.10, §3.2). What a refusal means is decided by [`refusal::judge`], a pure function; this
//! loop applies the effects it lists (status file, stderr, log, the stored device token).
//!
//! - After a session that reached `hello-ok`, the next attempt waits 1 s.
//! - Failures back off 1 s doubling to 30 s, with up to 20 % jitter so a fleet of nodes does not
//!   reconnect in lock step after a gateway restart.
//! - Device pairing pending (`PAIRING_REQUIRED`): the approve command is printed once, and the
//!   node keeps retrying (every few seconds at most), so an approval takes effect without a
//!   restart. The TS host pauses here until restarted; this is deliberate.
//! - Credential failures a retry cannot fix (wrong token or password, missing token) end the
//!   process with status 1, so a supervisor notices and restarts it.

use std::time::Duration;

use crossbeam_channel::{select, Receiver};

use super::connect::{connect_params, AuthPlan, ClientDescription};
use super::frames::HelloOk;
use super::refusal::{self, Attempt, Effect, Negotiation, Verdict, MAX_BACKOFF};
use super::session::{self, SessionControl, SessionEnd, SessionSetup};
use super::transport::GatewayUrl;
use crate::invoke::Dispatcher;
use crate::publish::Publisher;
use std::sync::Arc;
use crate::state::DeviceAuthStore;
use crate::status::StatusReporter;

/// How the node loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LoopExit {
    /// SIGINT/SIGTERM: exit 0.
    Shutdown,
    /// A failure retrying cannot fix (credentials, configuration): exit 1 with this message.
    Fatal(String),
}

/// Everything the loop needs that does not change between attempts.
pub struct NodeLoop<'a> {
    pub url: GatewayUrl,
    pub pin: Option<String>,
    pub client: ClientDescription<'a>,
    pub token: Option<String>,
    pub password: Option<String>,
    /// A setup code's bootstrap token (`--pair`/`--pair-if-needed`), forgotten after the first
    /// `hello-ok`; later connects use the device token it earned.
    pub bootstrap: Option<String>,
    /// `--pair`: send the bootstrap token even when a device token is stored.
    pub prefer_bootstrap: bool,
    pub device_auth: DeviceAuthStore,
    pub dispatcher: &'a Dispatcher,
    pub status: &'a StatusReporter,
    pub control: &'a SessionControl,
    /// Disconnected (its sender dropped) when the node must stop.
    pub shutdown: Receiver<()>,
    pub handshake_timeout: Duration,
    /// Told of every session that reached `hello-ok`, and of its end.
    pub publishers: &'a [Arc<dyn Publisher>],
}

/// The backoff before attempt `attempt` (1-based): 1 s, 2 s, 4 s … 30 s, minus up to 20 % jitter.
pub fn backoff(attempt: u32) -> Duration {
    let nominal = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
    nominal.mul_f64(1.0 - 0.2 * f64::from(byte[0]) / 255.0)
}

impl NodeLoop<'_> {
    /// Connects and serves until shutdown or a fatal failure.
    pub fn run(&self) -> LoopExit {
        let mut failures: u32 = 0;
        let mut negotiation = Negotiation::default();
        let mut bootstrap = self.bootstrap.clone();
        loop {
            if self.shutdown_requested() {
                return LoopExit::Shutdown;
            }
            let stored = match self
                .device_auth
                .token(self.client.device_id, super::connect::ROLE)
            {
                Ok(token) => token,
                Err(err) => {
                    log::warn!("ignoring the stored device token: {err}");
                    None
                }
            };
            let auth = AuthPlan::select_with_bootstrap(
                self.token.as_deref(),
                self.password.as_deref(),
                bootstrap.as_deref(),
                self.prefer_bootstrap,
                stored.as_deref(),
                negotiation.send_device_token,
            );
            negotiation.send_device_token = false;
            let (variant, signature) = (negotiation.variant, negotiation.signature);
            self.status.connecting();
            log::debug!("connecting to {} (protocol {})", self.url, variant.number());
            let connect_frame = |nonce: &str, ts: u64| {
                connect_params(&self.client, &auth, variant, signature, nonce, ts)
            };
            let on_hello = |hello: &HelloOk| self.on_hello(hello, stored.as_deref());
            let end = session::run(SessionSetup {
                url: &self.url,
                pin: self.pin.as_deref(),
                connect_frame: &connect_frame,
                dispatcher: self.dispatcher,
                handshake_timeout: self.handshake_timeout,
                control: self.control,
                on_hello: &on_hello,
                publishers: self.publishers,
            });
            let delay = match end {
                SessionEnd::Ended { reason } => {
                    failures = 0;
                    // The code is spent: from now on the device token it earned is used.
                    bootstrap = None;
                    negotiation.session_established();
                    if self.shutdown_requested() {
                        return LoopExit::Shutdown;
                    }
                    log::warn!("disconnected from the gateway: {reason}; reconnecting");
                    self.status.disconnected(&reason);
                    failures += 1;
                    backoff(failures)
                }
                SessionEnd::Failed(reason) => {
                    failures += 1;
                    let delay = backoff(failures);
                    log::warn!(
                        "cannot reach the gateway at {}: {reason}; retrying in {delay:.1?}",
                        self.url
                    );
                    self.status.disconnected(&reason);
                    delay
                }
                SessionEnd::Fatal(message) => return LoopExit::Fatal(message),
                SessionEnd::Rejected(error) => {
                    failures += 1;
                    let attempt = Attempt {
                        auth: &auth,
                        stored_device_token: stored.is_some(),
                        endpoint_trusted: self.endpoint_trusted(),
                        device_id: self.client.device_id,
                    };
                    let refusal = refusal::judge(&negotiation, &attempt, &error);
                    for effect in refusal.effects {
                        self.apply(effect);
                    }
                    negotiation = refusal.next;
                    match refusal.verdict {
                        Verdict::Exit(message) => return LoopExit::Fatal(message),
                        verdict => verdict.delay(backoff(failures)),
                    }
                }
            };
            if self.wait_or_shutdown(delay) {
                return LoopExit::Shutdown;
            }
        }
    }

    fn on_hello(&self, hello: &HelloOk, stored: Option<&str>) {
        let auth = hello.auth.as_ref();
        log::info!(
            "connected to {} as device {} (auth: {}; protocol {}, gateway {})",
            self.url,
            self.client.device_id,
            auth.and_then(|a| a.method.as_deref()).unwrap_or("?"),
            hello
                .protocol
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            hello
                .server
                .as_ref()
                .and_then(|s| s.get("version"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("version unknown")
        );
        self.status.connected();
        if let Some(issued) = auth
            .and_then(|a| a.device_token.as_deref())
            .filter(|t| !t.is_empty())
        {
            if Some(issued) != stored {
                let role = auth
                    .and_then(|a| a.role.as_deref())
                    .unwrap_or(super::connect::ROLE);
                let scopes = auth.map(|a| a.scopes.clone()).unwrap_or_default();
                match self
                    .device_auth
                    .store(self.client.device_id, role, issued, &scopes, stored)
                {
                    Ok(()) => log::info!(
                        "stored the device token the gateway issued; later connects can use it"
                    ),
                    Err(err) => log::error!("could not store the gateway's device token: {err}"),
                }
            }
        }
    }

    /// Does what the refusal matrix asked for, in its order.
    fn apply(&self, effect: Effect) {
        match effect {
            Effect::ReportDisconnected(reason) => self.status.disconnected(&reason),
            Effect::ReportPairingPending(request_id) => {
                self.status.pairing_pending(request_id.as_deref())
            }
            // Printed plainly on stderr, whatever RUST_LOG says: the operator needs it.
            Effect::TellOperator(text) => eprintln!("{text}"),
            Effect::Log(level, message) => log::log!(level, "{message}"),
            Effect::ClearDeviceToken { rejected } => {
                if let Err(err) = self.device_auth.clear_if(
                    self.client.device_id,
                    super::connect::ROLE,
                    &rejected,
                ) {
                    log::error!("could not delete the rejected device token: {err}");
                }
            }
        }
    }

    /// Loopback, or TLS with a pinned certificate (§1.5, one-shot retry preconditions).
    fn endpoint_trusted(&self) -> bool {
        self.url.is_loopback() || (self.url.tls && self.pin.is_some())
    }

    /// Shutdown is signalled by dropping the sender, so every later check sees it too.
    fn shutdown_requested(&self) -> bool {
        matches!(
            self.shutdown.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }

    /// Sleeps `delay` unless shutdown is requested first; returns whether it was.
    fn wait_or_shutdown(&self, delay: Duration) -> bool {
        select! {
            recv(self.shutdown) -> _ => true,
            default(delay) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_thirty_seconds_with_bounded_jitter() {
        for (attempt, nominal) in [
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 30),
            (7, 30),
            (50, 30),
        ] {
            let delay = backoff(attempt);
            let nominal = Duration::from_secs(nominal);
            assert!(
                delay <= nominal && delay >= nominal.mul_f64(0.8),
                "attempt {attempt}: {delay:?}"
            );
        }
    }
}
