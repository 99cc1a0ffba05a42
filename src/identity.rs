//! Device identity: the Ed25519 key pair, the device id, and the connect signature payloads.
//!
//! STUB: being written. The interface below is what the rest of the crate uses.

/// The node's Ed25519 key pair and the device id derived from it.
pub struct DeviceIdentity {
    seed: [u8; 32],
}

/// The fields a connect signature covers (protocol §2.2).
pub struct SignatureFields<'a> {
    pub device_id: &'a str,
    pub client_id: &'a str,
    pub client_mode: &'a str,
    pub role: &'a str,
    pub scopes: &'a [String],
    pub signed_at_ms: u64,
    pub token: &'a str,
    pub nonce: &'a str,
    pub platform: &'a str,
    pub device_family: &'a str,
}

impl DeviceIdentity {
    pub fn from_seed(seed: [u8; 32]) -> DeviceIdentity {
        DeviceIdentity { seed }
    }
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
    /// Lowercase hex SHA-256 of the raw public key.
    pub fn device_id(&self) -> String {
        unimplemented!("identity")
    }
    /// The raw public key, base64url without padding.
    pub fn public_key_b64url(&self) -> String {
        unimplemented!("identity")
    }
    /// Ed25519 signature of the UTF-8 payload, base64url without padding.
    pub fn sign_b64url(&self, payload: &str) -> String {
        let _ = payload;
        unimplemented!("identity")
    }
}

/// `v3|deviceId|clientId|mode|role|scopes|signedAt|token|nonce|platform|family`.
pub fn signature_payload_v3(fields: &SignatureFields<'_>) -> String {
    let _ = fields;
    unimplemented!("identity")
}

/// `v2|deviceId|clientId|mode|role|scopes|signedAt|token|nonce`.
pub fn signature_payload_v2(fields: &SignatureFields<'_>) -> String {
    let _ = fields;
    unimplemented!("identity")
}

/// A random UUID v4 (instance ids, run ids).
pub fn random_uuid_v4() -> String {
    unimplemented!("identity")
}
