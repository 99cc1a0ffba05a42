//! Device identity: the Ed25519 key pair, the device id, the connect signature payloads, the
//! key encodings of the legacy `identity/device.json`, and the OS random source.
//!
//! The gateway identifies a node by its key: the device id is the SHA-256 of the raw public key
//! (protocol §2.1), so keeping the key is keeping the pairing. The file formats here are those a
//! 2026.7.x TypeScript node (PEM) and the older Swift app (raw keys) wrote, so a Rust node can take
//! over their state directory without pairing again. Reading and writing the file itself is
//! `crate::state`'s job; this module only converts between the document and the key.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Value};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 v1 private key; the 32-byte seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const PUBLIC_PEM_LABEL: &str = "PUBLIC KEY";
const PRIVATE_PEM_LABEL: &str = "PRIVATE KEY";

/// The node's Ed25519 key pair and the device id derived from it.
pub struct DeviceIdentity {
    seed: [u8; 32],
    key_pair: Ed25519KeyPair,
    public_key: [u8; 32],
}

/// The fields a connect signature covers (protocol §2.2).
pub struct SignatureFields<'a> {
    /// `device.id`.
    pub device_id: &'a str,
    /// `client.id`, e.g. `node-host`.
    pub client_id: &'a str,
    /// `client.mode`, e.g. `node`.
    pub client_mode: &'a str,
    /// `role`, e.g. `node`.
    pub role: &'a str,
    /// `connect.params.scopes`, joined with `,` (empty for nodes).
    pub scopes: &'a [String],
    /// `device.signedAt` = the challenge's `ts`.
    pub signed_at_ms: u64,
    /// The signature token of protocol §1.5, `""` when there is none.
    pub token: &'a str,
    /// The challenge nonce.
    pub nonce: &'a str,
    /// `client.platform` as sent (v3 only; normalised here).
    pub platform: &'a str,
    /// `client.deviceFamily` as sent (v3 only; normalised here).
    pub device_family: &'a str,
}

/// Key material that cannot be decoded, or a public key that does not belong to the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError {
    /// What is wrong with the key material.
    pub message: String,
}

impl IdentityError {
    fn new(message: impl Into<String>) -> IdentityError {
        IdentityError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IdentityError {}

impl DeviceIdentity {
    /// A new key pair from a fresh random seed.
    pub fn generate() -> DeviceIdentity {
        let mut seed = [0u8; 32];
        crate::random::fill(&mut seed);
        DeviceIdentity::from_seed(seed)
    }

    /// The key pair of a 32-byte Ed25519 seed (the PKCS#8 private key's content).
    pub fn from_seed(seed: [u8; 32]) -> DeviceIdentity {
        // ring only rejects seeds of the wrong length, which the array type rules out.
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .expect("a 32-byte seed is always a valid Ed25519 seed");
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(key_pair.public_key().as_ref());
        DeviceIdentity {
            seed,
            key_pair,
            public_key,
        }
    }

    /// The 32-byte seed (the private key). Handle with care: whoever has it is this device.
    #[cfg(any(test, feature = "internals"))]
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The raw 32-byte public key.
    #[cfg(any(test, feature = "internals"))]
    pub fn public_key_raw(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// Lowercase hex SHA-256 of the raw public key (64 chars): the device id the gateway routes by.
    pub fn device_id(&self) -> String {
        device_id_for_public_key(&self.public_key)
    }

    /// The raw public key, base64url without padding (43 chars), as sent in `device.publicKey`.
    pub fn public_key_b64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key)
    }

    /// Ed25519 signature of the UTF-8 payload, base64url without padding (86 chars).
    pub fn sign_b64url(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key_pair.sign(payload.as_bytes()).as_ref())
    }

    /// The public key as canonical SPKI PEM (`-----BEGIN PUBLIC KEY-----`, ends in `\n`).
    pub fn public_key_pem(&self) -> String {
        pem_encode(
            PUBLIC_PEM_LABEL,
            &[&SPKI_PREFIX[..], &self.public_key[..]].concat(),
        )
    }

    /// The private key as canonical PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, ends in `\n`).
    pub fn private_key_pem(&self) -> String {
        pem_encode(
            PRIVATE_PEM_LABEL,
            &[&PKCS8_PREFIX[..], &self.seed[..]].concat(),
        )
    }

    /// The key pair of a PKCS#8 private key PEM, checked against the SPKI public key PEM stored
    /// beside it (a pair that does not match could never have been paired).
    pub fn from_pems(
        public_key_pem: &str,
        private_key_pem: &str,
    ) -> Result<DeviceIdentity, IdentityError> {
        let public_der = pem_decode(PUBLIC_PEM_LABEL, public_key_pem)
            .map_err(|e| IdentityError::new(format!("publicKeyPem: {e}")))?;
        let private_der = pem_decode(PRIVATE_PEM_LABEL, private_key_pem)
            .map_err(|e| IdentityError::new(format!("privateKeyPem: {e}")))?;
        let public_key = strip_der_prefix(&public_der, &SPKI_PREFIX)
            .ok_or_else(|| IdentityError::new("publicKeyPem is not an Ed25519 SPKI public key"))?;
        let seed = strip_der_prefix(&private_der, &PKCS8_PREFIX).ok_or_else(|| {
            IdentityError::new("privateKeyPem is not an Ed25519 PKCS#8 private key")
        })?;
        DeviceIdentity::from_key_pair_parts(public_key, seed)
    }

    /// The key pair of the older Swift form: raw 32-byte keys in base64 or base64url (padding
    /// optional), the private key being the seed.
    pub fn from_raw_keys_b64(
        public_key: &str,
        private_key: &str,
    ) -> Result<DeviceIdentity, IdentityError> {
        let public_key = decode_raw_key_b64(public_key)
            .map_err(|e| IdentityError::new(format!("publicKey: {e}")))?;
        let seed = decode_raw_key_b64(private_key)
            .map_err(|e| IdentityError::new(format!("privateKey: {e}")))?;
        DeviceIdentity::from_key_pair_parts(public_key, seed)
    }

    fn from_key_pair_parts(
        public_key: [u8; 32],
        seed: [u8; 32],
    ) -> Result<DeviceIdentity, IdentityError> {
        let identity = DeviceIdentity::from_seed(seed);
        if identity.public_key != public_key {
            return Err(IdentityError::new(
                "the public key does not belong to the private key (device id would be wrong)",
            ));
        }
        Ok(identity)
    }
}

impl Clone for DeviceIdentity {
    fn clone(&self) -> DeviceIdentity {
        DeviceIdentity::from_seed(self.seed)
    }
}

impl std::fmt::Debug for DeviceIdentity {
    // The seed is the device's secret; Debug output may end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id())
            .finish_non_exhaustive()
    }
}

/// Lowercase hex SHA-256 of a raw public key.
pub fn device_id_for_public_key(public_key: &[u8]) -> String {
    crate::digest::sha256_hex(public_key)
}

/// Which legacy `identity/device.json` form a document was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFileForm {
    /// `{"version":1,"deviceId","publicKeyPem","privateKeyPem","createdAtMs"}` (TS node).
    NodePem,
    /// `{"deviceId","publicKey","privateKey"}` with raw keys in base64/base64url (Swift app).
    SwiftRaw,
}

/// An identity read from a legacy `identity/device.json` document.
#[derive(Debug, Clone)]
pub struct ImportedIdentity {
    /// The key pair; its device id is computed from the key.
    pub identity: DeviceIdentity,
    /// Which form the file was in.
    pub form: DeviceFileForm,
    /// The `deviceId` the file claims. The id in use is always recomputed from the key; a
    /// different stored value is worth a warning, nothing more.
    pub stored_device_id: String,
    /// `createdAtMs`, when present and a non-negative integer.
    pub created_at_ms: Option<u64>,
}

/// Reads a legacy `identity/device.json` document in either form (protocol §7.3).
pub fn identity_from_device_json(doc: &Value) -> Result<ImportedIdentity, IdentityError> {
    let object = doc
        .as_object()
        .ok_or_else(|| IdentityError::new("expected a JSON object"))?;
    let text = |key: &str| -> Result<&str, IdentityError> {
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| IdentityError::new(format!("\"{key}\" is missing or not a string")))
    };
    let created_at_ms = object.get("createdAtMs").and_then(Value::as_u64);
    if let Some(version) = object.get("version") {
        if version.as_u64() != Some(1) {
            return Err(IdentityError::new(format!(
                "unsupported \"version\" {version} (expected 1)"
            )));
        }
        let stored_device_id = text("deviceId")?.to_string();
        let identity = DeviceIdentity::from_pems(text("publicKeyPem")?, text("privateKeyPem")?)?;
        return Ok(ImportedIdentity {
            identity,
            form: DeviceFileForm::NodePem,
            stored_device_id,
            created_at_ms,
        });
    }
    if object.contains_key("publicKey") || object.contains_key("privateKey") {
        let stored_device_id = text("deviceId")?.to_string();
        let identity = DeviceIdentity::from_raw_keys_b64(text("publicKey")?, text("privateKey")?)?;
        return Ok(ImportedIdentity {
            identity,
            form: DeviceFileForm::SwiftRaw,
            stored_device_id,
            created_at_ms,
        });
    }
    Err(IdentityError::new(
        "not a device identity: expected {\"version\":1,\"deviceId\",\"publicKeyPem\",\"privateKeyPem\"} \
         or {\"deviceId\",\"publicKey\",\"privateKey\"}",
    ))
}

/// The legacy TS node's `identity/device.json` document for `identity`.
pub fn device_json(identity: &DeviceIdentity, created_at_ms: u64) -> Value {
    json!({
        "version": 1,
        "deviceId": identity.device_id(),
        "publicKeyPem": identity.public_key_pem(),
        "privateKeyPem": identity.private_key_pem(),
        "createdAtMs": created_at_ms,
    })
}

/// `v3|deviceId|clientId|mode|role|scopes|signedAt|token|nonce|platform|family`.
pub fn signature_payload_v3(fields: &SignatureFields<'_>) -> String {
    format!(
        "{}|{}|{}",
        payload_common("v3", fields),
        normalize_device_metadata(fields.platform),
        normalize_device_metadata(fields.device_family)
    )
}

/// `v2|deviceId|clientId|mode|role|scopes|signedAt|token|nonce`.
pub fn signature_payload_v2(fields: &SignatureFields<'_>) -> String {
    payload_common("v2", fields)
}

fn payload_common(version: &str, f: &SignatureFields<'_>) -> String {
    [
        version,
        f.device_id,
        f.client_id,
        f.client_mode,
        f.role,
        &f.scopes.join(","),
        &f.signed_at_ms.to_string(),
        f.token,
        f.nonce,
    ]
    .join("|")
}

/// Trimmed (as JavaScript's `String.prototype.trim` does), ASCII `A–Z` lowercased only; the
/// gateway rebuilds the payload the same way, so any other folding would break the signature.
fn normalize_device_metadata(value: &str) -> String {
    js_trim(value).to_ascii_lowercase()
}

/// JavaScript's `trim()`: WhiteSpace and LineTerminator. Unlike Rust's `trim()` it strips
/// U+FEFF and keeps U+0085.
fn js_trim(value: &str) -> &str {
    value.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

/// PEM as Node's `crypto` writes it: base64 wrapped at 64 columns, every line ending in `\n`.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes one PEM block with the given label. Tolerates CRLF, missing final newline and
/// surrounding blank space, which hand-copied files tend to have; the key checks come after.
fn pem_decode(label: &str, pem: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let pem = pem.trim();
    let inner = pem
        .strip_prefix(&begin)
        .and_then(|rest| rest.strip_suffix(&end))
        .ok_or_else(|| format!("expected a PEM block \"{begin}\" … \"{end}\""))?;
    let body: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("invalid base64 in the PEM body ({e})"))
}

fn strip_der_prefix(der: &[u8], prefix: &[u8]) -> Option<[u8; 32]> {
    let raw = der.strip_prefix(prefix)?;
    raw.try_into().ok()
}

/// Raw 32-byte key in standard base64 or base64url, padded or not (the Swift app used either).
fn decode_raw_key_b64(text: &str) -> Result<[u8; 32], String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let standard: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let raw = LENIENT
        .decode(standard.as_bytes())
        .map_err(|e| format!("invalid base64 ({e})"))?;
    let len = raw.len();
    raw.try_into()
        .map_err(|_| format!("expected a raw 32-byte key, got {len} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::lower_hex as to_hex;

    const SEED_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const PUBLIC_RAW_A: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    const PUBLIC_B64U_A: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
    const DEVICE_ID_A: &str = "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
    const PUBLIC_PEM_A: &str =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
    const PRIVATE_PEM_A: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n-----END PRIVATE KEY-----\n";
    const SIGNED_AT: u64 = 1795496029380;
    const NONCE: &str = "d5bfb165-a5b6-44ae-a21a-12515ff8b4ea";

    fn seed_a() -> [u8; 32] {
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&SEED_A[i * 2..i * 2 + 2], 16).unwrap();
        }
        seed
    }

    fn fields<'a>(token: &'a str, scopes: &'a [String]) -> SignatureFields<'a> {
        SignatureFields {
            device_id: DEVICE_ID_A,
            client_id: "node-host",
            client_mode: "node",
            role: "node",
            scopes,
            signed_at_ms: SIGNED_AT,
            token,
            nonce: NONCE,
            platform: "linux",
            device_family: "Linux",
        }
    }

    fn verify(identity: &DeviceIdentity, payload: &str, signature_b64url: &str) -> bool {
        let signature = URL_SAFE_NO_PAD.decode(signature_b64url).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            identity.public_key_raw(),
        )
        .verify(payload.as_bytes(), &signature)
        .is_ok()
    }

    #[test]
    fn vector_a_keys_and_ids() {
        let id = DeviceIdentity::from_seed(seed_a());
        assert_eq!(to_hex(id.public_key_raw()), PUBLIC_RAW_A);
        assert_eq!(id.public_key_b64url(), PUBLIC_B64U_A);
        assert_eq!(id.public_key_b64url().len(), 43);
        assert_eq!(id.device_id(), DEVICE_ID_A);
        assert_eq!(id.public_key_pem(), PUBLIC_PEM_A);
        assert_eq!(id.private_key_pem(), PRIVATE_PEM_A);
    }

    #[test]
    fn vector_a_v3_with_shared_token() {
        let id = DeviceIdentity::from_seed(seed_a());
        let payload = signature_payload_v3(&fields("example-shared-token", &[]));
        assert_eq!(
            payload,
            "v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|node-host|node|node||1795496029380|example-shared-token|d5bfb165-a5b6-44ae-a21a-12515ff8b4ea|linux|linux"
        );
        let signature = id.sign_b64url(&payload);
        assert_eq!(
            signature,
            "_G5JAxagsMq-C5rfqAlGAy00BG4fd0z56dA5eDGqkSCcQvEMyNWyTFFaTdaqRVNskGAV26ovNr_P9_QPlrcKBg"
        );
        assert_eq!(signature.len(), 86);
    }

    #[test]
    fn vector_a_v2_with_shared_token() {
        let id = DeviceIdentity::from_seed(seed_a());
        let payload = signature_payload_v2(&fields("example-shared-token", &[]));
        assert_eq!(
            payload,
            "v2|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|node-host|node|node||1795496029380|example-shared-token|d5bfb165-a5b6-44ae-a21a-12515ff8b4ea"
        );
        assert_eq!(
            id.sign_b64url(&payload),
            "rMt3gc1EOP2AFA7-H5qx4oIpJPP3Xu9FEDcBGsGvDXxI4WP3j10tJRg8jBtnIrfQvjR_PI5-ZqMGFJ1n3IHsBw"
        );
    }

    #[test]
    fn vector_a_v3_without_token() {
        let id = DeviceIdentity::from_seed(seed_a());
        let payload = signature_payload_v3(&fields("", &[]));
        assert_eq!(
            payload,
            "v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|node-host|node|node||1795496029380||d5bfb165-a5b6-44ae-a21a-12515ff8b4ea|linux|linux"
        );
        assert_eq!(
            id.sign_b64url(&payload),
            "p_cx6DhakFxiOjnQq1ZWHT47ONkSeyTlHhzMzQSoAMRIe5Ota4N0BHmnkfLDqkuKQtkbC7w6GxwV_ddsxV0xBQ"
        );
    }

    #[test]
    fn vector_b_device_token_in_slot() {
        let id = DeviceIdentity::from_seed(seed_a());
        let payload =
            signature_payload_v3(&fields("ZXhhbXBsZS1kZXZpY2UtdG9rZW4tMzItYnl0ZXMtYWI", &[]));
        assert_eq!(
            payload,
            "v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|node-host|node|node||1795496029380|ZXhhbXBsZS1kZXZpY2UtdG9rZW4tMzItYnl0ZXMtYWI|d5bfb165-a5b6-44ae-a21a-12515ff8b4ea|linux|linux"
        );
        assert_eq!(
            id.sign_b64url(&payload),
            "wv98kjvQjKRPrMXuCbAiETpyUq-M6kvdiSppp8cjBsrd69rw3CdSk-YUBMjaCDNHX3G0aWtGlajrw_FOqxw3Bg"
        );
    }

    #[test]
    fn payload_joins_scopes_and_normalizes_metadata_like_the_gateway() {
        let scopes = vec!["operator.read".to_string(), "operator.write".to_string()];
        let mut f = fields("t", &scopes);
        f.platform = "\u{feff} MacOS\t";
        f.device_family = "  ÄBC Mac ";
        let payload = signature_payload_v3(&f);
        assert!(
            payload.contains("|operator.read,operator.write|"),
            "{payload}"
        );
        // Only ASCII A–Z fold; "Ä" stays as it is.
        assert!(payload.ends_with("|macos|Äbc mac"), "{payload}");
        // U+0085 is not whitespace to JavaScript, so it survives the trim.
        f.platform = "\u{85}Linux";
        assert!(signature_payload_v3(&f).ends_with("|\u{85}linux|Äbc mac"));
    }

    #[test]
    fn generated_signature_verifies_with_ring() {
        let id = DeviceIdentity::generate();
        assert_eq!(id.device_id().len(), 64);
        let payload = signature_payload_v3(&fields("tok", &[]));
        let signature = id.sign_b64url(&payload);
        assert!(verify(&id, &payload, &signature));
        assert!(!verify(&id, &format!("{payload}x"), &signature));
        assert_ne!(DeviceIdentity::generate().seed(), id.seed());
    }

    #[test]
    fn pem_round_trip() {
        let id = DeviceIdentity::generate();
        let back = DeviceIdentity::from_pems(&id.public_key_pem(), &id.private_key_pem()).unwrap();
        assert_eq!(back.seed(), id.seed());
        assert_eq!(back.device_id(), id.device_id());
        let a = DeviceIdentity::from_pems(PUBLIC_PEM_A, PRIVATE_PEM_A).unwrap();
        assert_eq!(a.device_id(), DEVICE_ID_A);
        // CRLF line ends and a missing final newline still decode.
        let crlf = PRIVATE_PEM_A.replace('\n', "\r\n");
        assert_eq!(
            DeviceIdentity::from_pems(PUBLIC_PEM_A.trim_end(), &crlf)
                .unwrap()
                .seed(),
            &seed_a()
        );
    }

    #[test]
    fn pem_pair_that_does_not_match_is_rejected() {
        let other = DeviceIdentity::generate();
        let err = DeviceIdentity::from_pems(&other.public_key_pem(), PRIVATE_PEM_A).unwrap_err();
        assert!(err.message.contains("does not belong"), "{err}");
        let err = DeviceIdentity::from_pems(PRIVATE_PEM_A, PRIVATE_PEM_A).unwrap_err();
        assert!(err.message.contains("publicKeyPem"), "{err}");
        let err = DeviceIdentity::from_pems(
            PUBLIC_PEM_A,
            "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("privateKeyPem") && err.message.contains("base64"),
            "{err}"
        );
        // An RSA-sized or otherwise foreign DER is not an Ed25519 key.
        let foreign = pem_encode(PRIVATE_PEM_LABEL, &[0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(DeviceIdentity::from_pems(PUBLIC_PEM_A, &foreign).is_err());
    }

    #[test]
    fn node_form_document_round_trip() {
        let id = DeviceIdentity::from_seed(seed_a());
        let doc = device_json(&id, 1795496098753);
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["deviceId"], DEVICE_ID_A);
        assert_eq!(doc["publicKeyPem"], PUBLIC_PEM_A);
        assert_eq!(doc["privateKeyPem"], PRIVATE_PEM_A);
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "version",
                "deviceId",
                "publicKeyPem",
                "privateKeyPem",
                "createdAtMs"
            ]
        );
        let imported = identity_from_device_json(&doc).unwrap();
        assert_eq!(imported.form, DeviceFileForm::NodePem);
        assert_eq!(imported.identity.device_id(), DEVICE_ID_A);
        assert_eq!(imported.stored_device_id, DEVICE_ID_A);
        assert_eq!(imported.created_at_ms, Some(1795496098753));
    }

    #[test]
    fn swift_form_imports_in_base64_and_base64url() {
        let id = DeviceIdentity::from_seed(seed_a());
        let forms = [
            (
                STANDARD.encode(id.public_key_raw()),
                STANDARD.encode(id.seed()),
            ),
            (
                URL_SAFE_NO_PAD.encode(id.public_key_raw()),
                URL_SAFE_NO_PAD.encode(id.seed()),
            ),
            (
                STANDARD
                    .encode(id.public_key_raw())
                    .trim_end_matches('=')
                    .to_string(),
                base64::engine::general_purpose::URL_SAFE.encode(id.seed()),
            ),
        ];
        for (public_key, private_key) in forms {
            let doc =
                json!({"deviceId": "stale-id", "publicKey": public_key, "privateKey": private_key});
            let imported = identity_from_device_json(&doc).unwrap();
            assert_eq!(imported.form, DeviceFileForm::SwiftRaw);
            // The id is recomputed from the key; the stored one is only reported.
            assert_eq!(imported.identity.device_id(), DEVICE_ID_A);
            assert_eq!(imported.stored_device_id, "stale-id");
            assert_eq!(imported.created_at_ms, None);
        }
    }

    #[test]
    fn swift_form_with_bad_keys_is_rejected() {
        let short = STANDARD.encode([1u8; 31]);
        let doc = json!({"deviceId": "x", "publicKey": PUBLIC_B64U_A, "privateKey": short});
        let err = identity_from_device_json(&doc).unwrap_err();
        assert!(
            err.message.contains("privateKey") && err.message.contains("31 bytes"),
            "{err}"
        );
        let other = DeviceIdentity::generate();
        let doc = json!({"deviceId": "x", "publicKey": other.public_key_b64url(),
                         "privateKey": URL_SAFE_NO_PAD.encode(seed_a())});
        assert!(identity_from_device_json(&doc)
            .unwrap_err()
            .message
            .contains("does not belong"));
    }

    #[test]
    fn unrecognized_documents_are_rejected() {
        for doc in [
            json!([]),
            json!({}),
            json!({"version": 2, "deviceId": DEVICE_ID_A, "publicKeyPem": PUBLIC_PEM_A, "privateKeyPem": PRIVATE_PEM_A}),
            json!({"version": 1, "deviceId": DEVICE_ID_A, "publicKeyPem": PUBLIC_PEM_A}),
            json!({"version": 1, "deviceId": DEVICE_ID_A, "publicKeyPem": 5, "privateKeyPem": PRIVATE_PEM_A}),
        ] {
            assert!(identity_from_device_json(&doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn debug_output_hides_the_seed() {
        let id = DeviceIdentity::from_seed(seed_a());
        let debug = format!("{id:?}");
        assert!(debug.contains(DEVICE_ID_A));
        assert!(!debug.contains("seed") && !debug.contains("[0, 1, 2"));
    }
}
