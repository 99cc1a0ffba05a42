//! The refusal matrix: what the node does when the gateway answers `connect` with an error
//! (protocol §1.10, §1.12, §3.2), as one pure function.
//!
//! [`judge`] reads the refused attempt ([`Attempt`]: which credentials were sent, whether a device
//! token is stored, whether the endpoint is trusted), what the loop carries between attempts
//! ([`Negotiation`]: protocol variant, signature version, the one-shot device-token retry, the
//! pairing request already announced) and the gateway's error, and returns a [`Refusal`]: a
//! [`Verdict`] (when to try again, or exit), the next [`Negotiation`], and the [`Effect`]s the
//! caller must apply, in order (status file, stderr, log, deleting the stored device token).
//! It touches nothing itself, so every row of the matrix is a unit test.
//!
//! Where the node departs from the TS host: `PAIRING_REQUIRED` and `AUTH_DEVICE_TOKEN_MISMATCH`
//! keep retrying (pairing at least every [`PAIRING_RETRY_CAP`]) instead of pausing until a
//! restart, so an approval takes effect by itself.

use std::time::Duration;

use super::connect::{AuthPlan, ProtocolVariant, SignatureVersion};
use super::frames::GatewayError;

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

/// The longest backoff; also the least wait after a protocol version no side can meet.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// While pairing is pending, retry at least this often so an approval is picked up quickly.
pub const PAIRING_RETRY_CAP: Duration = Duration::from_secs(5);
/// The short delay of the device-token retry and of protocol renegotiation (§1.9).
pub const QUICK_RETRY: Duration = Duration::from_millis(250);
/// The most a gateway's `retryAfterMs` can make the node wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What the reconnect loop carries from one attempt to the next, as far as refusals read and
/// change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// The envelope the next `connect` uses.
    pub variant: ProtocolVariant,
    /// The device signature the next `connect` signs.
    pub signature: SignatureVersion,
    /// Whether the one-shot device-token retry after `AUTH_TOKEN_MISMATCH` is still available.
    /// Spent by that retry, armed again by `hello-ok`.
    pub device_token_retry_armed: bool,
    /// Whether the next attempt is that retry: it sends the stored device token with the
    /// shared one. The loop clears it once the attempt is made.
    pub send_device_token: bool,
    /// The pairing request the operator was told about (`Some("")` when it had no id), so a
    /// refusal for the same request is not announced again. Cleared by `hello-ok`.
    pub announced_pairing: Option<String>,
}

impl Default for Negotiation {
    /// Where a node starts: protocol 4, v3 signatures, the device-token retry armed.
    fn default() -> Negotiation {
        Negotiation {
            variant: ProtocolVariant::V4,
            signature: SignatureVersion::V3,
            device_token_retry_armed: true,
            send_device_token: false,
            announced_pairing: None,
        }
    }
}

impl Negotiation {
    /// After a session that reached `hello-ok`: the retry is armed again and a later pairing
    /// request will be announced. The protocol and signature that worked are kept.
    pub fn session_established(&mut self) {
        self.device_token_retry_armed = true;
        self.announced_pairing = None;
    }
}

/// The facts of the refused attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The credentials that `connect` sent.
    pub auth: &'a AuthPlan,
    /// Whether a device token is stored for this node (sent or not).
    pub stored_device_token: bool,
    /// Loopback, or TLS with a pinned certificate: only then may a device token follow a
    /// refused shared token (§1.5).
    pub endpoint_trusted: bool,
    /// This node's device id, for the pairing instructions.
    pub device_id: &'a str,
}

/// When to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// After [`QUICK_RETRY`]: the next attempt changes what it sends.
    RetrySoon,
    /// After the usual backoff, but not sooner than `at_least`.
    Backoff { at_least: Duration },
    /// Pairing is pending: after the usual backoff capped at [`PAIRING_RETRY_CAP`].
    AwaitPairing,
    /// Retrying cannot help: end the process with status 1 and this message.
    Exit(String),
}

impl Verdict {
    /// How long to wait before the next attempt, given the loop's current `backoff`. Zero
    /// for [`Verdict::Exit`]: there is no next attempt.
    pub fn delay(&self, backoff: Duration) -> Duration {
        match self {
            Verdict::RetrySoon => QUICK_RETRY,
            Verdict::Backoff { at_least } => backoff.max(*at_least),
            Verdict::AwaitPairing => backoff.min(PAIRING_RETRY_CAP),
            Verdict::Exit(_) => Duration::ZERO,
        }
    }
}

/// Something the caller does because of a refusal. Applied in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Record in the status file that the node is disconnected, with this reason.
    ReportDisconnected(String),
    /// Record in the status file that pairing is pending, with the request id when known.
    ReportPairingPending(Option<String>),
    /// Print on stderr whatever `RUST_LOG` says: the operator has to act on it.
    TellOperator(String),
    Log(log::Level, String),
    /// Delete the stored device token if it is still this one (compare and delete), so the
    /// next attempt asks to be paired again.
    ClearDeviceToken {
        rejected: String,
    },
}

/// What the node does about one refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub verdict: Verdict,
    pub next: Negotiation,
    pub effects: Vec<Effect>,
}

/// The refusal matrix. Pure: the same inputs always give the same [`Refusal`].
pub fn judge(state: &Negotiation, attempt: &Attempt<'_>, error: &GatewayError) -> Refusal {
    let mut next = state.clone();
    let mut effects = vec![Effect::ReportDisconnected(error.to_string())];
    let auth = attempt.auth;
    let verdict = match detail_code(error) {
        "PAIRING_REQUIRED" => {
            let request_id = error.detail_str("requestId").map(str::to_string);
            effects.push(Effect::ReportPairingPending(request_id.clone()));
            // Announced once per request; a refusal without an id counts as the request "",
            // so a gateway that sends none is not answered with the instructions every 5 s.
            let key = request_id.clone().unwrap_or_default();
            if state.announced_pairing.as_deref() != Some(key.as_str()) {
                effects.push(Effect::TellOperator(pairing_instructions(
                    attempt.device_id,
                    request_id.as_deref(),
                )));
                effects.push(Effect::Log(
                    log::Level::Info,
                    format!(
                        "device pairing pending (request {})",
                        request_id.as_deref().unwrap_or("?")
                    ),
                ));
                next.announced_pairing = Some(key);
            }
            Verdict::AwaitPairing
        }
        "AUTH_TOKEN_MISMATCH"
            if auth.token.is_some()
                && attempt.stored_device_token
                && auth.device_token.is_none()
                && attempt.endpoint_trusted =>
        {
            if state.device_token_retry_armed {
                next.device_token_retry_armed = false;
                next.send_device_token = true;
                effects.push(Effect::Log(log::Level::Warn, "the gateway rejected the shared token; retrying once with this node's device token".into()));
                Verdict::RetrySoon
            } else {
                Verdict::Exit(auth_failure_message(error))
            }
        }
        "AUTH_DEVICE_TOKEN_MISMATCH" => {
            if let Some(sent) = &auth.device_token {
                effects.push(Effect::ClearDeviceToken {
                    rejected: sent.clone(),
                });
            }
            effects.push(Effect::Log(
                log::Level::Error,
                "the gateway no longer accepts this node's device token (was the node removed?). \
                 The stored token was deleted; the node will ask to be paired again"
                    .into(),
            ));
            Verdict::Backoff {
                at_least: Duration::ZERO,
            }
        }
        "PROTOCOL_MISMATCH" => {
            let expected = error
                .detail("expectedProtocol")
                .and_then(serde_json::Value::as_u64);
            match (expected, state.variant) {
                (Some(3), ProtocolVariant::V4) => {
                    effects.push(Effect::Log(
                        log::Level::Info,
                        "the gateway speaks protocol 3; retrying with the legacy envelope".into(),
                    ));
                    next.variant = ProtocolVariant::V3Legacy;
                    Verdict::RetrySoon
                }
                (Some(4), ProtocolVariant::V3Legacy) => {
                    next.variant = ProtocolVariant::V4;
                    Verdict::RetrySoon
                }
                _ => {
                    effects.push(Effect::Log(log::Level::Error, format!("the gateway and this node share no protocol version ({error}); upgrade one of them")));
                    Verdict::Backoff {
                        at_least: MAX_BACKOFF,
                    }
                }
            }
        }
        code if EXIT_CODES.contains(&code) => Verdict::Exit(auth_failure_message(error)),
        // Only the oldest gateways (protocol 3, up to 2026.2.3) cannot verify v3: try v2
        // once there, and go back to v3 if that fails too.
        "DEVICE_AUTH_SIGNATURE_INVALID" if state.variant == ProtocolVariant::V3Legacy => {
            match state.signature {
                SignatureVersion::V3 => {
                    next.signature = SignatureVersion::V2;
                    effects.push(Effect::Log(
                        log::Level::Info,
                        "the gateway refused the v3 device signature; retrying with v2".into(),
                    ));
                    Verdict::RetrySoon
                }
                SignatureVersion::V2 => {
                    next.signature = SignatureVersion::V3;
                    effects.push(Effect::Log(
                        log::Level::Warn,
                        format!("the gateway refused the device signature: {error}"),
                    ));
                    Verdict::Backoff {
                        at_least: Duration::ZERO,
                    }
                }
            }
        }
        "AUTH_RATE_LIMITED" => Verdict::Backoff {
            at_least: Duration::from_millis(error.retry_after_ms.unwrap_or(0)).min(MAX_RETRY_AFTER),
        },
        _ => {
            effects.push(Effect::Log(
                log::Level::Warn,
                format!("the gateway refused the connection: {error}"),
            ));
            Verdict::Backoff {
                at_least: Duration::ZERO,
            }
        }
    };
    Refusal {
        verdict,
        next,
        effects,
    }
}

/// `details.code`. Gateways before 2026.5 answer a protocol mismatch without one; the TS client
/// recognises them by the message, and so do we.
fn detail_code(error: &GatewayError) -> &str {
    match error.detail_code() {
        Some(code) => code,
        None if error
            .message
            .to_ascii_lowercase()
            .contains("protocol mismatch") =>
        {
            "PROTOCOL_MISMATCH"
        }
        None => "",
    }
}

/// What to do about a used, expired or revoked setup code (`openclaw devices join-code` is the
/// gateway's command for a node onboarding link; the Control UI's Devices page shows codes).
pub const SETUP_CODE_ADVICE: &str = "the setup code is invalid, expired (codes live 10 minutes), revoked or already used (each is single-use). \
     Mint a new one on the gateway host with `openclaw devices join-code` (or on the Control UI's Devices page) and start again with \
     --pair <new code>; once paired, start with --pair-if-needed so that restarts use the stored device token";

fn auth_failure_message(error: &GatewayError) -> String {
    let detail = error.detail_code().unwrap_or("");
    let advice = match detail {
        "AUTH_TOKEN_MISSING" => "set OPENCLAW_GATEWAY_TOKEN (or gateway.auth.token in openclaw.json) to the gateway's token",
        "AUTH_TOKEN_MISMATCH" => "OPENCLAW_GATEWAY_TOKEN (or gateway.auth.token) does not match the gateway's token; fix it and start again",
        "AUTH_PASSWORD_MISSING" => "set OPENCLAW_GATEWAY_PASSWORD to the gateway's password",
        "AUTH_PASSWORD_MISMATCH" => "OPENCLAW_GATEWAY_PASSWORD does not match the gateway's password; fix it and start again",
        "CLIENT_VERSION_MISMATCH" => "this node shares the gateway's identity but reports an older version; give it its own OPENCLAW_STATE_DIR",
        "AUTH_BOOTSTRAP_TOKEN_INVALID" => SETUP_CODE_ADVICE,
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
    //! The matrix as a table: one row per branch of [`judge`]. Every row also checks that the
    //! refusal is reported to the status file first, whatever the verdict.

    use super::*;
    use serde_json::json;

    const DEVICE: &str = "dev-1";

    fn error(code: &str, message: &str, details: serde_json::Value) -> GatewayError {
        GatewayError {
            code: code.into(),
            message: message.into(),
            details: (!details.is_null()).then_some(details),
            retry_after_ms: None,
        }
    }

    /// A refusal whose only fact is `details.code`.
    fn detail(code: &str) -> GatewayError {
        error("INVALID_REQUEST", "refused", json!({ "code": code }))
    }

    fn pairing(request_id: Option<&str>) -> GatewayError {
        let mut details = json!({"code": "PAIRING_REQUIRED", "reason": "not-paired"});
        if let Some(id) = request_id {
            details["requestId"] = json!(id);
        }
        error("NOT_PAIRED", "pairing required", details)
    }

    fn protocol(expected: Option<u64>) -> GatewayError {
        let mut details = json!({"code": "PROTOCOL_MISMATCH"});
        if let Some(n) = expected {
            details["expectedProtocol"] = json!(n);
        }
        error("INVALID_REQUEST", "protocol mismatch", details)
    }

    fn rate_limited(retry_after_ms: Option<u64>) -> GatewayError {
        GatewayError {
            retry_after_ms,
            ..detail("AUTH_RATE_LIMITED")
        }
    }

    /// What the refused `connect` sent, and what the node knew.
    #[derive(Clone)]
    struct Facts {
        auth: AuthPlan,
        stored: bool,
        trusted: bool,
    }

    /// A shared token sent, a device token stored but not sent, a trusted endpoint: the
    /// preconditions of the one-shot device-token retry.
    fn shared_token() -> Facts {
        Facts {
            auth: AuthPlan {
                token: Some("shared".into()),
                ..AuthPlan::default()
            },
            stored: true,
            trusted: true,
        }
    }

    /// Only the stored device token sent (no shared token or password configured).
    fn device_token() -> Facts {
        Facts {
            auth: AuthPlan {
                device_token: Some("dtok".into()),
                ..AuthPlan::default()
            },
            stored: true,
            trusted: true,
        }
    }

    /// Nothing sent, nothing stored: a fresh node without credentials.
    fn nothing() -> Facts {
        Facts {
            auth: AuthPlan::default(),
            stored: false,
            trusted: true,
        }
    }

    fn start() -> Negotiation {
        Negotiation::default()
    }

    fn with(change: impl FnOnce(&mut Negotiation)) -> Negotiation {
        let mut state = Negotiation::default();
        change(&mut state);
        state
    }

    fn legacy(signature: SignatureVersion) -> Negotiation {
        with(|n| {
            n.variant = ProtocolVariant::V3Legacy;
            n.signature = signature;
        })
    }

    fn log(level: log::Level, message: impl Into<String>) -> Effect {
        Effect::Log(level, message.into())
    }

    struct Row {
        name: &'static str,
        state: Negotiation,
        facts: Facts,
        error: GatewayError,
        verdict: Verdict,
        next: Negotiation,
        /// The effects after the status report every refusal starts with.
        effects: Vec<Effect>,
    }

    fn check(row: Row) {
        let attempt = Attempt {
            auth: &row.facts.auth,
            stored_device_token: row.facts.stored,
            endpoint_trusted: row.facts.trusted,
            device_id: DEVICE,
        };
        let refusal = judge(&row.state, &attempt, &row.error);
        let mut effects = vec![Effect::ReportDisconnected(row.error.to_string())];
        effects.extend(row.effects);
        assert_eq!(refusal.verdict, row.verdict, "{}: verdict", row.name);
        assert_eq!(refusal.next, row.next, "{}: next state", row.name);
        assert_eq!(refusal.effects, effects, "{}: effects", row.name);
        // Pure: the same inputs give the same answer.
        assert_eq!(
            judge(&row.state, &attempt, &row.error),
            refusal,
            "{}",
            row.name
        );
    }

    fn exit_row(name: &'static str, facts: Facts, error: GatewayError, advice: &str) -> Row {
        let message = auth_failure_message(&error);
        assert!(
            message.contains(advice) && message.ends_with("exiting for supervisor restart"),
            "{name}: {message}"
        );
        Row {
            name,
            state: start(),
            facts,
            error,
            verdict: Verdict::Exit(message),
            next: start(),
            effects: vec![],
        }
    }

    fn backoff_zero() -> Verdict {
        Verdict::Backoff {
            at_least: Duration::ZERO,
        }
    }

    #[test]
    fn pairing_rows() {
        let announce = |id: Option<&str>| {
            vec![
                Effect::ReportPairingPending(id.map(str::to_string)),
                Effect::TellOperator(pairing_instructions(DEVICE, id)),
                log(
                    log::Level::Info,
                    format!("device pairing pending (request {})", id.unwrap_or("?")),
                ),
            ]
        };
        let seen = |id: &str| with(|n| n.announced_pairing = Some(id.into()));
        for row in [
            Row {
                name: "pairing: a new request is announced on stderr and in the log",
                state: start(),
                facts: device_token(),
                error: pairing(Some("req-1")),
                verdict: Verdict::AwaitPairing,
                next: seen("req-1"),
                effects: announce(Some("req-1")),
            },
            Row {
                name: "pairing: the same request again is only reported to the status file",
                state: seen("req-1"),
                facts: device_token(),
                error: pairing(Some("req-1")),
                verdict: Verdict::AwaitPairing,
                next: seen("req-1"),
                effects: vec![Effect::ReportPairingPending(Some("req-1".into()))],
            },
            Row {
                name: "pairing: a different request is announced",
                state: seen("req-1"),
                facts: nothing(),
                error: pairing(Some("req-2")),
                verdict: Verdict::AwaitPairing,
                next: seen("req-2"),
                effects: announce(Some("req-2")),
            },
            Row {
                name: "pairing: a request without an id is announced with the list command",
                state: start(),
                facts: nothing(),
                error: pairing(None),
                verdict: Verdict::AwaitPairing,
                next: seen(""),
                effects: announce(None),
            },
            Row {
                name: "pairing: without an id, a repeated refusal is only reported",
                state: seen(""),
                facts: nothing(),
                error: pairing(None),
                verdict: Verdict::AwaitPairing,
                next: seen(""),
                effects: vec![Effect::ReportPairingPending(None)],
            },
        ] {
            check(row);
        }
    }

    #[test]
    fn shared_token_mismatch_rows() {
        let mismatch = || detail("AUTH_TOKEN_MISMATCH");
        let advice = "does not match the gateway's token";
        let spent = with(|n| n.device_token_retry_armed = false);
        check(Row {
            name: "token mismatch: the one-shot retry with the device token",
            state: start(),
            facts: shared_token(),
            error: mismatch(),
            verdict: Verdict::RetrySoon,
            next: with(|n| {
                n.device_token_retry_armed = false;
                n.send_device_token = true;
            }),
            effects: vec![log(
                log::Level::Warn,
                "the gateway rejected the shared token; retrying once with this node's device token",
            )],
        });
        check(Row {
            state: spent.clone(),
            next: spent,
            ..exit_row(
                "token mismatch: the retry already spent exits",
                shared_token(),
                mismatch(),
                advice,
            )
        });
        for (name, facts) in [
            (
                "token mismatch: an untrusted endpoint exits",
                Facts {
                    trusted: false,
                    ..shared_token()
                },
            ),
            (
                "token mismatch: no stored device token exits",
                Facts {
                    stored: false,
                    ..shared_token()
                },
            ),
            (
                "token mismatch: the retry itself refused exits",
                Facts {
                    auth: AuthPlan {
                        device_token: Some("dtok".into()),
                        ..shared_token().auth
                    },
                    ..shared_token()
                },
            ),
            (
                "token mismatch: no shared token sent exits",
                Facts {
                    auth: AuthPlan {
                        password: Some("pw".into()),
                        ..AuthPlan::default()
                    },
                    ..shared_token()
                },
            ),
        ] {
            check(exit_row(name, facts, mismatch(), advice));
        }
    }

    #[test]
    fn exit_code_rows() {
        for (code, advice) in [
            ("AUTH_TOKEN_MISSING", "set OPENCLAW_GATEWAY_TOKEN"),
            (
                "AUTH_BOOTSTRAP_TOKEN_INVALID",
                "Mint a new one on the gateway host with `openclaw devices join-code`",
            ),
            ("AUTH_PASSWORD_MISSING", "set OPENCLAW_GATEWAY_PASSWORD"),
            (
                "AUTH_PASSWORD_MISMATCH",
                "OPENCLAW_GATEWAY_PASSWORD does not match",
            ),
            (
                "AUTH_IDENTITY_HEADER_REQUIRED",
                "check the gateway credentials",
            ),
            (
                "CLIENT_VERSION_MISMATCH",
                "give it its own OPENCLAW_STATE_DIR",
            ),
        ] {
            check(exit_row(code, nothing(), detail(code), advice));
        }
    }

    #[test]
    fn device_token_mismatch_rows() {
        let revoked = || {
            log(
                log::Level::Error,
                "the gateway no longer accepts this node's device token (was the node removed?). \
                 The stored token was deleted; the node will ask to be paired again",
            )
        };
        check(Row {
            name: "device token mismatch: the token sent is deleted",
            state: start(),
            facts: device_token(),
            error: detail("AUTH_DEVICE_TOKEN_MISMATCH"),
            verdict: backoff_zero(),
            next: start(),
            effects: vec![
                Effect::ClearDeviceToken {
                    rejected: "dtok".into(),
                },
                revoked(),
            ],
        });
        check(Row {
            name: "device token mismatch: none sent, nothing to delete",
            state: start(),
            facts: shared_token(),
            error: detail("AUTH_DEVICE_TOKEN_MISMATCH"),
            verdict: backoff_zero(),
            next: start(),
            effects: vec![revoked()],
        });
    }

    #[test]
    fn protocol_rows() {
        let legacy_v3 = legacy(SignatureVersion::V3);
        let no_common = |error: &GatewayError| {
            vec![log(
                log::Level::Error,
                format!(
                    "the gateway and this node share no protocol version ({error}); upgrade one of them"
                ),
            )]
        };
        let at_most = Verdict::Backoff {
            at_least: MAX_BACKOFF,
        };
        // Gateways before 2026.5: no details.code, recognised by the message.
        let old_gateway = error(
            "INVALID_REQUEST",
            "Protocol mismatch: expected 3",
            json!({"expectedProtocol": 3}),
        );
        let old_gateway_bare = error("INVALID_REQUEST", "protocol mismatch", json!(null));
        for row in [
            Row {
                name: "protocol: a protocol-3 gateway gets the legacy envelope",
                state: start(),
                facts: shared_token(),
                error: protocol(Some(3)),
                verdict: Verdict::RetrySoon,
                next: legacy_v3.clone(),
                effects: vec![log(
                    log::Level::Info,
                    "the gateway speaks protocol 3; retrying with the legacy envelope",
                )],
            },
            Row {
                name: "protocol: recognised by the message alone",
                state: start(),
                facts: shared_token(),
                effects: vec![log(
                    log::Level::Info,
                    "the gateway speaks protocol 3; retrying with the legacy envelope",
                )],
                error: old_gateway,
                verdict: Verdict::RetrySoon,
                next: legacy_v3.clone(),
            },
            Row {
                name: "protocol: back to 4 when the gateway asks for it",
                state: legacy_v3.clone(),
                facts: shared_token(),
                error: protocol(Some(4)),
                verdict: Verdict::RetrySoon,
                next: start(),
                effects: vec![],
            },
            Row {
                name: "protocol: 3 asked while already speaking 3",
                state: legacy_v3.clone(),
                facts: shared_token(),
                effects: no_common(&protocol(Some(3))),
                error: protocol(Some(3)),
                verdict: at_most.clone(),
                next: legacy_v3.clone(),
            },
            Row {
                name: "protocol: no expected version",
                state: start(),
                facts: shared_token(),
                effects: no_common(&protocol(None)),
                error: protocol(None),
                verdict: at_most.clone(),
                next: start(),
            },
            Row {
                name: "protocol: message only, no details",
                state: start(),
                facts: shared_token(),
                effects: no_common(&old_gateway_bare),
                error: old_gateway_bare.clone(),
                verdict: at_most,
                next: start(),
            },
        ] {
            check(row);
        }
    }

    #[test]
    fn signature_rows() {
        let invalid = || detail("DEVICE_AUTH_SIGNATURE_INVALID");
        check(Row {
            name: "signature: a protocol-3 gateway refusing v3 gets v2",
            state: legacy(SignatureVersion::V3),
            facts: device_token(),
            error: invalid(),
            verdict: Verdict::RetrySoon,
            next: legacy(SignatureVersion::V2),
            effects: vec![log(
                log::Level::Info,
                "the gateway refused the v3 device signature; retrying with v2",
            )],
        });
        check(Row {
            name: "signature: v2 refused too goes back to v3 and backs off",
            state: legacy(SignatureVersion::V2),
            facts: device_token(),
            error: invalid(),
            verdict: backoff_zero(),
            next: legacy(SignatureVersion::V3),
            effects: vec![log(
                log::Level::Warn,
                format!("the gateway refused the device signature: {}", invalid()),
            )],
        });
        check(Row {
            name: "signature: on protocol 4 it is an ordinary refusal",
            state: start(),
            facts: device_token(),
            error: invalid(),
            verdict: backoff_zero(),
            next: start(),
            effects: vec![log(
                log::Level::Warn,
                format!("the gateway refused the connection: {}", invalid()),
            )],
        });
    }

    #[test]
    fn rate_limit_rows() {
        for (name, retry_after_ms, at_least) in [
            ("rate limited: waits retryAfterMs", Some(7_000), 7),
            (
                "rate limited: retryAfterMs capped at 300 s",
                Some(10_000_000),
                300,
            ),
            ("rate limited: without retryAfterMs, plain backoff", None, 0),
        ] {
            check(Row {
                name,
                state: start(),
                facts: shared_token(),
                error: rate_limited(retry_after_ms),
                verdict: Verdict::Backoff {
                    at_least: Duration::from_secs(at_least),
                },
                next: start(),
                effects: vec![],
            });
        }
    }

    #[test]
    fn other_refusals_back_off() {
        for error in [
            detail("AUTH_SCOPE_MISMATCH"),
            detail("DEVICE_AUTH_NONCE_MISMATCH"),
            error("UNAVAILABLE", "gateway starting", json!(null)),
            error("", "", json!({"code": 7})),
        ] {
            check(Row {
                name: "other: logged, ordinary backoff",
                state: start(),
                facts: shared_token(),
                effects: vec![log(
                    log::Level::Warn,
                    format!("the gateway refused the connection: {error}"),
                )],
                error,
                verdict: backoff_zero(),
                next: start(),
            });
        }
    }

    #[test]
    fn verdict_delays() {
        let backoff = Duration::from_secs(8);
        let at_least = |secs| Verdict::Backoff {
            at_least: Duration::from_secs(secs),
        };
        assert_eq!(Verdict::RetrySoon.delay(backoff), QUICK_RETRY);
        assert_eq!(at_least(0).delay(backoff), backoff);
        assert_eq!(at_least(30).delay(backoff), Duration::from_secs(30));
        assert_eq!(Verdict::AwaitPairing.delay(backoff), PAIRING_RETRY_CAP);
        assert_eq!(
            Verdict::AwaitPairing.delay(Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(Verdict::Exit(String::new()).delay(backoff), Duration::ZERO);
    }

    #[test]
    fn a_session_rearms_the_retry_and_forgets_the_announcement() {
        let mut state = with(|n| {
            n.variant = ProtocolVariant::V3Legacy;
            n.device_token_retry_armed = false;
            n.announced_pairing = Some("req-1".into());
        });
        state.session_established();
        assert_eq!(state, with(|n| n.variant = ProtocolVariant::V3Legacy));
    }

    #[test]
    fn pairing_instructions_name_the_request() {
        let text = pairing_instructions("abc", Some("req-1"));
        assert!(text.contains("openclaw devices approve req-1"), "{text}");
    }
}
