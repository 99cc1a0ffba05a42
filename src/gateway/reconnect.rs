//! The loop around sessions: connect, serve, and decide what a failure means (protocol §1.9,
//! §1.10, §3.2).
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

use super::connect::{
    connect_params, AuthPlan, ClientDescription, ProtocolVariant, SignatureVersion,
};
use super::frames::{GatewayError, HelloOk};
use super::session::{self, SessionControl, SessionEnd, SessionSetup};
use super::transport::GatewayUrl;
use crate::invoke::Dispatcher;
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
    pub device_auth: DeviceAuthStore,
    pub dispatcher: &'a Dispatcher,
    pub status: &'a StatusReporter,
    pub control: &'a SessionControl,
    /// Disconnected (its sender dropped) when the node must stop.
    pub shutdown: Receiver<()>,
    pub handshake_timeout: Duration,
}

/// Detail codes that end the process with status 1 (§1.10, point 2).
const EXIT_CODES: [&str; 7] = [
    "AUTH_TOKEN_MISSING",
    "AUTH_TOKEN_MISMATCH",
    "AUTH_BOOTSTRAP_TOKEN_INVALID",
    "AUTH_PASSWORD_MISSING",
    "AUTH_PASSWORD_MISMATCH",
    "AUTH_IDENTITY_HEADER_REQUIRED",
    "CLIENT_VERSION_MISMATCH",
];

const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// While pairing is pending, retry at least this often so an approval is picked up quickly.
const PAIRING_RETRY_CAP: Duration = Duration::from_secs(5);
/// The short delay of the device-token retry and of protocol renegotiation.
const QUICK_RETRY: Duration = Duration::from_millis(250);

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
        let mut variant = ProtocolVariant::V4;
        let mut signature = SignatureVersion::V3;
        let mut retry_armed = true;
        let mut retry_with_device_token = false;
        let mut announced_pairing: Option<String> = None;
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
            let auth = AuthPlan::select(
                self.token.as_deref(),
                self.password.as_deref(),
                stored.as_deref(),
                retry_with_device_token,
            );
            retry_with_device_token = false;
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
            });
            let delay = match end {
                SessionEnd::Ended { reason } => {
                    failures = 0;
                    retry_armed = true;
                    announced_pairing = None;
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
                    match self.on_rejected(
                        &error,
                        &auth,
                        stored.as_deref(),
                        &mut variant,
                        &mut signature,
                        &mut announced_pairing,
                    ) {
                        Verdict::Exit(message) => return LoopExit::Fatal(message),
                        Verdict::RetryWithDeviceToken if retry_armed => {
                            retry_armed = false;
                            retry_with_device_token = true;
                            log::warn!("the gateway rejected the shared token; retrying once with this node's device token");
                            QUICK_RETRY
                        }
                        Verdict::RetryWithDeviceToken => {
                            return LoopExit::Fatal(auth_failure_message(&error))
                        }
                        Verdict::Quick => QUICK_RETRY,
                        Verdict::Pairing => backoff(failures).min(PAIRING_RETRY_CAP),
                        Verdict::Backoff(min) => backoff(failures).max(min),
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
            "connected to {} as device {} (auth: {})",
            self.url,
            self.client.device_id,
            auth.and_then(|a| a.method.as_deref()).unwrap_or("?")
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

    fn on_rejected(
        &self,
        error: &GatewayError,
        auth: &AuthPlan,
        stored: Option<&str>,
        variant: &mut ProtocolVariant,
        signature: &mut SignatureVersion,
        announced_pairing: &mut Option<String>,
    ) -> Verdict {
        // Gateways before 2026.5 answer a protocol mismatch without `details.code`; the TS client
        // recognises them by the message, and so do we.
        let detail = match error.detail_code() {
            Some(code) => code,
            None if error
                .message
                .to_ascii_lowercase()
                .contains("protocol mismatch") =>
            {
                "PROTOCOL_MISMATCH"
            }
            None => "",
        };
        self.status.disconnected(&error.to_string());
        match detail {
            "PAIRING_REQUIRED" => {
                let request_id = error.detail_str("requestId").map(str::to_string);
                self.status.pairing_pending(request_id.as_deref());
                if *announced_pairing != request_id || announced_pairing.is_none() {
                    // Printed plainly on stderr, whatever RUST_LOG says: the operator needs it.
                    eprintln!(
                        "{}",
                        pairing_instructions(self.client.device_id, request_id.as_deref())
                    );
                    log::info!(
                        "device pairing pending (request {})",
                        request_id.as_deref().unwrap_or("?")
                    );
                    *announced_pairing = request_id.or(Some(String::new()));
                }
                Verdict::Pairing
            }
            "AUTH_TOKEN_MISMATCH"
                if auth.token.is_some()
                    && stored.is_some()
                    && auth.device_token.is_none()
                    && self.endpoint_trusted() =>
            {
                Verdict::RetryWithDeviceToken
            }
            "AUTH_DEVICE_TOKEN_MISMATCH" => {
                if let Some(sent) = auth.device_token.as_deref() {
                    if let Err(err) =
                        self.device_auth
                            .clear_if(self.client.device_id, super::connect::ROLE, sent)
                    {
                        log::error!("could not delete the rejected device token: {err}");
                    }
                }
                log::error!(
                    "the gateway no longer accepts this node's device token (was the node removed?). \
                     The stored token was deleted; the node will ask to be paired again"
                );
                Verdict::Backoff(Duration::ZERO)
            }
            "PROTOCOL_MISMATCH" => {
                let expected = error
                    .detail("expectedProtocol")
                    .and_then(serde_json::Value::as_u64);
                match (expected, *variant) {
                    (Some(3), ProtocolVariant::V4) => {
                        log::info!(
                            "the gateway speaks protocol 3; retrying with the legacy envelope"
                        );
                        *variant = ProtocolVariant::V3Legacy;
                        Verdict::Quick
                    }
                    (Some(4), ProtocolVariant::V3Legacy) => {
                        *variant = ProtocolVariant::V4;
                        Verdict::Quick
                    }
                    _ => {
                        log::error!("the gateway and this node share no protocol version ({error}); upgrade one of them");
                        Verdict::Backoff(MAX_BACKOFF)
                    }
                }
            }
            code if EXIT_CODES.contains(&code) => Verdict::Exit(auth_failure_message(error)),
            // Only the oldest gateways (protocol 3, up to 2026.2.3) cannot verify v3: try v2
            // once there, and go back to v3 if that fails too.
            "DEVICE_AUTH_SIGNATURE_INVALID" if *variant == ProtocolVariant::V3Legacy => {
                *signature = match *signature {
                    SignatureVersion::V3 => SignatureVersion::V2,
                    SignatureVersion::V2 => SignatureVersion::V3,
                };
                if *signature == SignatureVersion::V2 {
                    log::info!("the gateway refused the v3 device signature; retrying with v2");
                    Verdict::Quick
                } else {
                    log::warn!("the gateway refused the device signature: {error}");
                    Verdict::Backoff(Duration::ZERO)
                }
            }
            "AUTH_RATE_LIMITED" => Verdict::Backoff(
                Duration::from_millis(error.retry_after_ms.unwrap_or(0))
                    .min(Duration::from_secs(300)),
            ),
            _ => {
                log::warn!("the gateway refused the connection: {error}");
                Verdict::Backoff(Duration::ZERO)
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

enum Verdict {
    Exit(String),
    RetryWithDeviceToken,
    Quick,
    Pairing,
    Backoff(Duration),
}

fn auth_failure_message(error: &GatewayError) -> String {
    let detail = error.detail_code().unwrap_or("");
    let advice = match detail {
        "AUTH_TOKEN_MISSING" => "set OPENCLAW_GATEWAY_TOKEN (or gateway.auth.token in openclaw.json) to the gateway's token",
        "AUTH_TOKEN_MISMATCH" => "OPENCLAW_GATEWAY_TOKEN (or gateway.auth.token) does not match the gateway's token; fix it and start again",
        "AUTH_PASSWORD_MISSING" => "set OPENCLAW_GATEWAY_PASSWORD to the gateway's password",
        "AUTH_PASSWORD_MISMATCH" => "OPENCLAW_GATEWAY_PASSWORD does not match the gateway's password; fix it and start again",
        "CLIENT_VERSION_MISMATCH" => "this node shares the gateway's identity but reports an older version; give it its own OPENCLAW_STATE_DIR",
        _ => "check the gateway credentials and start again",
    };
    format!("the gateway refused this node: {error}; {advice}; exiting for supervisor restart")
}

/// The plain instructions for the operator, printed once per pairing request.
pub fn pairing_instructions(device_id: &str, request_id: Option<&str>) -> String {
    let approve = match request_id {
        Some(id) => format!("openclaw devices approve {id}"),
        None => "openclaw devices list   # then: openclaw devices approve <requestId>".to_string(),
    };
    format!(
        "this node (device {device_id}) is waiting for pairing approval. On the gateway host, run:\n\n    {approve}\n\n\
         The node keeps retrying and connects as soon as it is approved; no restart is needed."
    )
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

    #[test]
    fn pairing_instructions_name_the_request() {
        let text = pairing_instructions("abc", Some("req-1"));
        assert!(text.contains("openclaw devices approve req-1"), "{text}");
    }
}
