//! The `connect` request: client description, auth selection, and the signed device proof
//! (protocol §1.4, §1.5, §2.2).

use crate::identity::{
    signature_payload_v2, signature_payload_v3, DeviceIdentity, SignatureFields,
};

use super::frames::{ClientInfo, ConnectAuth, ConnectParams, DeviceProof};

/// `client.id` of a headless node host.
pub const CLIENT_ID: &str = "node-host";
pub const CLIENT_MODE: &str = "node";
pub const ROLE: &str = "node";

/// Which envelope the gateway speaks: 4 for current gateways, 3 for the old ones that answer a
/// 4/4 connect with `PROTOCOL_MISMATCH, expectedProtocol: 3` (§1.12, §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVariant {
    V4,
    V3Legacy,
}

impl ProtocolVariant {
    pub fn number(self) -> u32 {
        match self {
            ProtocolVariant::V4 => 4,
            ProtocolVariant::V3Legacy => 3,
        }
    }
}

/// Which connect signature payload to sign (§2.2, §12.3). Every gateway since 2026.2.26 verifies
/// v3; gateways up to 2026.2.3 verify only v2, so v2 is tried after a v3 signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V3,
    V2,
}

/// `client.platform` and `client.deviceFamily` for this OS. The gateway grants `system.run` only
/// when both agree (linux+Linux, macos+Mac, windows+Windows), so these are load-bearing.
pub fn platform(variant: ProtocolVariant) -> (&'static str, Option<&'static str>) {
    match (std::env::consts::OS, variant) {
        ("linux", ProtocolVariant::V4) => ("linux", Some("Linux")),
        ("macos", ProtocolVariant::V4) => ("macos", Some("Mac")),
        ("windows", ProtocolVariant::V4) => ("windows", Some("Windows")),
        ("macos", ProtocolVariant::V3Legacy) => ("darwin", None),
        ("windows", ProtocolVariant::V3Legacy) => ("win32", None),
        (other, _) => (other, None),
    }
}

/// The credentials one connect attempt sends (§1.5). Built by [`AuthPlan::select`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthPlan {
    pub token: Option<String>,
    pub password: Option<String>,
    pub device_token: Option<String>,
    pub bootstrap_token: Option<String>,
}

impl AuthPlan {
    /// The shared token and password are sent when configured; the stored device token only
    /// when neither is, or on the one-shot retry after a shared-token mismatch.
    pub fn select(
        token: Option<&str>,
        password: Option<&str>,
        stored_device_token: Option<&str>,
        retry_with_device_token: bool,
    ) -> AuthPlan {
        let device_token = if retry_with_device_token || (token.is_none() && password.is_none()) {
            stored_device_token
        } else {
            None
        };
        AuthPlan {
            token: token.map(str::to_string),
            password: password.map(str::to_string),
            device_token: device_token.map(str::to_string),
            bootstrap_token: None,
        }
    }

    /// [`AuthPlan::select`] with a setup code's bootstrap token (protocol §1.5, §3.5): when it
    /// is preferred (`--pair`, until the first `hello-ok`) it is sent alone; otherwise it is
    /// sent only when nothing else is (`--pair-if-needed` before a device token is stored).
    pub fn select_with_bootstrap(
        token: Option<&str>,
        password: Option<&str>,
        bootstrap: Option<&str>,
        prefer_bootstrap: bool,
        stored_device_token: Option<&str>,
        retry_with_device_token: bool,
    ) -> AuthPlan {
        if let Some(bootstrap) = bootstrap.filter(|_| prefer_bootstrap) {
            return AuthPlan {
                bootstrap_token: Some(bootstrap.to_string()),
                ..AuthPlan::default()
            };
        }
        let mut plan = AuthPlan::select(
            token,
            password,
            stored_device_token,
            retry_with_device_token,
        );
        if plan.token.is_none() && plan.password.is_none() && plan.device_token.is_none() {
            plan.bootstrap_token = bootstrap.map(str::to_string);
        }
        plan
    }

    /// The value signed in the payload's token slot: token, else device token, else bootstrap
    /// token, else "". A password never goes into the signature.
    pub fn signature_token(&self) -> &str {
        self.token
            .as_deref()
            .or(self.device_token.as_deref())
            .or(self.bootstrap_token.as_deref())
            .unwrap_or("")
    }
}

/// What the node says about itself in `connect`.
pub struct ClientDescription<'a> {
    pub identity: &'a DeviceIdentity,
    pub device_id: &'a str,
    pub public_key: &'a str,
    pub display_name: Option<&'a str>,
    pub instance_id: &'a str,
    pub caps: &'a [String],
    pub commands: &'a [String],
    /// `None` with a `--commands` surface: TS sends no `pathEnv` then.
    pub path_env: Option<&'a str>,
}

/// The `connect` params as JSON text, signed for this challenge.
pub fn connect_params(
    client: &ClientDescription<'_>,
    auth: &AuthPlan,
    variant: ProtocolVariant,
    signature_version: SignatureVersion,
    nonce: &str,
    signed_at: u64,
) -> String {
    let (platform, device_family) = platform(variant);
    let scopes: [String; 0] = [];
    let fields = SignatureFields {
        device_id: client.device_id,
        client_id: CLIENT_ID,
        client_mode: CLIENT_MODE,
        role: ROLE,
        scopes: &scopes,
        signed_at_ms: signed_at,
        token: auth.signature_token(),
        nonce,
        platform,
        device_family: device_family.unwrap_or(""),
    };
    let payload = match signature_version {
        SignatureVersion::V3 => signature_payload_v3(&fields),
        SignatureVersion::V2 => signature_payload_v2(&fields),
    };
    let signature = client.identity.sign_b64url(&payload);
    let params = ConnectParams {
        min_protocol: variant.number(),
        max_protocol: variant.number(),
        client: ClientInfo {
            id: CLIENT_ID,
            display_name: client.display_name,
            version: env!("CARGO_PKG_VERSION"),
            platform,
            device_family,
            mode: CLIENT_MODE,
            instance_id: Some(client.instance_id),
        },
        caps: client.caps,
        commands: client.commands,
        path_env: client.path_env,
        auth: ConnectAuth {
            token: auth.token.as_deref(),
            device_token: auth.device_token.as_deref(),
            password: auth.password.as_deref(),
            bootstrap_token: auth.bootstrap_token.as_deref(),
        },
        role: ROLE,
        scopes: &scopes,
        device: DeviceProof {
            id: client.device_id,
            public_key: client.public_key,
            signature: &signature,
            signed_at,
            nonce,
        },
    };
    // Plain structs of strings and numbers always serialise.
    serde_json::to_string(&params).expect("connect params always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_selection_follows_the_protocol() {
        // Shared token wins; the stored device token is not sent.
        let plan = AuthPlan::select(Some("T"), None, Some("S"), false);
        assert_eq!(
            (plan.token.as_deref(), plan.device_token.as_deref()),
            (Some("T"), None)
        );
        assert_eq!(plan.signature_token(), "T");
        // No shared secret: the device token is sent and signed.
        let plan = AuthPlan::select(None, None, Some("S"), false);
        assert_eq!(plan.device_token.as_deref(), Some("S"));
        assert_eq!(plan.signature_token(), "S");
        // The one-shot retry sends both; the signature keeps the shared token.
        let plan = AuthPlan::select(Some("T"), None, Some("S"), true);
        assert_eq!(
            (plan.token.as_deref(), plan.device_token.as_deref()),
            (Some("T"), Some("S"))
        );
        assert_eq!(plan.signature_token(), "T");
        // A password is sent but never signed.
        let plan = AuthPlan::select(None, Some("P"), Some("S"), false);
        assert_eq!(
            (plan.password.as_deref(), plan.device_token.as_deref()),
            (Some("P"), None)
        );
        assert_eq!(plan.signature_token(), "");
        assert_eq!(
            AuthPlan::select(None, None, None, false),
            AuthPlan::default()
        );
        // --pair: the bootstrap token alone, signed, even with a stored device token.
        let plan = AuthPlan::select_with_bootstrap(None, None, Some("B"), true, Some("S"), false);
        assert_eq!(
            (plan.bootstrap_token.as_deref(), plan.device_token.as_deref()),
            (Some("B"), None)
        );
        assert_eq!(plan.signature_token(), "B");
        // --pair-if-needed: the stored device token wins; without one, the bootstrap token.
        let plan = AuthPlan::select_with_bootstrap(None, None, Some("B"), false, Some("S"), false);
        assert_eq!(
            (plan.bootstrap_token.as_deref(), plan.device_token.as_deref()),
            (None, Some("S"))
        );
        let plan = AuthPlan::select_with_bootstrap(None, None, Some("B"), false, None, false);
        assert_eq!(plan.bootstrap_token.as_deref(), Some("B"));
        assert_eq!(plan.signature_token(), "B");
    }
}
