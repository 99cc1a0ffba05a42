//! Randomness from the OS (through `ring`, already rustls' provider): bytes, UUIDs, tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SecureRandom as _;

use crate::digest::lower_hex;

/// Fills `buf` from the OS random source.
///
/// Panics only when the OS cannot supply randomness at all (`getrandom` failing), where going on
/// would mean predictable keys and tokens.
pub fn fill(buf: &mut [u8]) {
    ring::rand::SystemRandom::new()
        .fill(buf)
        .expect("the operating system's random source failed; refusing to continue without it");
}

/// A random (version 4) UUID in lowercase hyphenated form.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = lower_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `bytes` random bytes, base64url without padding (32 bytes give 43 chars).
pub fn token_b64url(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_helpers_have_the_right_shapes() {
        let uuid = uuid_v4();
        assert_eq!(uuid.len(), 36);
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(uuid
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(uuid_v4(), uuid);
        let token = token_b64url(32);
        assert_eq!(token.len(), 43);
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(token_b64url(24).len(), 32);
        let mut buf = [0u8; 64];
        fill(&mut buf);
        assert_ne!(buf, [0u8; 64]);
    }
}
