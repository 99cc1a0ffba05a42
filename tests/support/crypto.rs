//! The fake gateway's cryptography: device ids, Ed25519 verification of connect signatures
//! (protocol §2), and the random ids and tokens a gateway hands out.
//!
//! Written from the spec, independently of the node's own `identity` module, so a bug there
//! cannot hide behind the same bug here.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

/// The DER prefix of an Ed25519 SPKI public key; the raw 32-byte key follows it.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Base64url without padding, the encoding of `publicKey` and `signature` on the wire.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url or standard base64, padded or not (the gateway tolerates all four).
pub fn decode_b64_any(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .or_else(|_| STANDARD.decode(text))
        .ok()
}

/// The raw 32-byte Ed25519 key from `device.publicKey`: base64url/base64 of the raw key, or a
/// SPKI PEM (which the gateway also accepts).
pub fn decode_public_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = STANDARD.decode(body.trim()).ok()?;
        if der.len() != 44 || der[..12] != SPKI_ED25519_PREFIX {
            return None;
        }
        der[12..].to_vec()
    } else {
        decode_b64_any(text)?
    };
    bytes.try_into().ok()
}

/// `sha256(raw public key)` as the gateway derives the device id, or `None` when the key does not
/// decode to 32 bytes.
pub fn device_id_from_public_key(text: &str) -> Option<String> {
    decode_public_key(text).map(|raw| sha256_hex(&raw))
}

/// Whether `signature` (base64url/base64) is a valid Ed25519 signature of `payload` by `public_key`.
pub fn verify_signature(public_key: &[u8; 32], payload: &str, signature: &str) -> bool {
    let Some(sig) = decode_b64_any(signature) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(payload.as_bytes(), &sig)
        .is_ok()
}

/// `platform`/`deviceFamily` as they enter a v3 payload: trimmed, ASCII `A-Z` lowercased only.
pub fn normalize_metadata(value: Option<&str>) -> String {
    value
        .map(str::trim)
        .unwrap_or("")
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The fields a connect signature covers (protocol §2.2).
#[derive(Debug, Clone)]
pub struct SignedFields<'a> {
    pub device_id: &'a str,
    pub client_id: &'a str,
    pub client_mode: &'a str,
    pub role: &'a str,
    pub scopes: &'a [String],
    pub signed_at_ms: u64,
    pub token: &'a str,
    pub nonce: &'a str,
    pub platform: Option<&'a str>,
    pub device_family: Option<&'a str>,
}

/// `v2|deviceId|clientId|mode|role|scopes|signedAt|token|nonce`.
pub fn payload_v2(f: &SignedFields<'_>) -> String {
    [
        "v2",
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

/// `v2…|platform'|deviceFamily'` with the v3 tag.
pub fn payload_v3(f: &SignedFields<'_>) -> String {
    [
        "v3",
        f.device_id,
        f.client_id,
        f.client_mode,
        f.role,
        &f.scopes.join(","),
        &f.signed_at_ms.to_string(),
        f.token,
        f.nonce,
        &normalize_metadata(f.platform),
        &normalize_metadata(f.device_family),
    ]
    .join("|")
}

/// `n` bytes from the OS random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not something a test can recover from.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("OS random source");
    bytes
}

/// A random UUID v4, the shape of the gateway's nonces and request ids.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A device token in the shape the gateway issues: 32 random bytes, base64url (43 chars).
pub fn new_device_token() -> String {
    b64url(&random_bytes::<32>())
}

/// An Ed25519 key pair for test clients (the self-test's minimal node).
pub struct TestKey {
    pair: Ed25519KeyPair,
}

impl TestKey {
    /// The key for a fixed 32-byte seed (protocol §2.4 uses `00 01 02 … 1f`).
    pub fn from_seed(seed: &[u8; 32]) -> TestKey {
        // Any 32-byte seed is a valid Ed25519 private key.
        TestKey {
            pair: Ed25519KeyPair::from_seed_unchecked(seed).expect("32-byte seed"),
        }
    }
    /// The §2.4 test-vector key (seed `000102…1f`).
    pub fn spec_vector() -> TestKey {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = i as u8;
        }
        TestKey::from_seed(&seed)
    }
    /// A fresh random key.
    pub fn random() -> TestKey {
        TestKey::from_seed(&random_bytes::<32>())
    }
    pub fn public_raw(&self) -> [u8; 32] {
        // An Ed25519 public key is always 32 bytes.
        self.pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("32-byte public key")
    }
    pub fn public_key_b64url(&self) -> String {
        b64url(&self.public_raw())
    }
    pub fn device_id(&self) -> String {
        sha256_hex(&self.public_raw())
    }
    pub fn sign_b64url(&self, payload: &str) -> String {
        b64url(self.pair.sign(payload.as_bytes()).as_ref())
    }
}
