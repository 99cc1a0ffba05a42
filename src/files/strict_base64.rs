//! The strict base64 rule of the TS host's `file.write` (`inspectStrictBase64` plus its
//! re-encode check): standard and URL-safe alphabets (even mixed), optional padding that must
//! complete a group, no trailing garbage, and zero unused bits. Decodes in bounded chunks so a
//! 16 MiB upload is never copied into a normalised string first.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Standard alphabet, no padding, non-zero trailing bits rejected (TS re-encodes and compares).
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

fn is_data_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'-' | b'_')
}

/// The decoded size of `value` if its structure is valid (TS `inspectStrictBase64`), without
/// decoding. `None` means "not valid base64".
pub fn inspect(value: &str) -> Option<usize> {
    let mut data = 0usize;
    let mut padding = 0usize;
    for &byte in value.as_bytes() {
        if byte == b'=' {
            padding += 1;
            if padding > 2 {
                return None;
            }
            continue;
        }
        if padding > 0 || !is_data_char(byte) {
            return None;
        }
        data += 1;
    }
    if data == 0 {
        return (padding == 0).then_some(0);
    }
    let remainder = data % 4;
    if padding == 0 {
        return (remainder != 1).then_some(data * 3 / 4);
    }
    if data + padding < 4 || (data + padding) % 4 != 0 {
        return None;
    }
    if (padding == 1 && remainder != 3) || (padding == 2 && remainder != 2) {
        return None;
    }
    Some(data * 3 / 4)
}

/// Characters decoded per step: a multiple of 4, so only the last step has a partial group.
const CHUNK_CHARS: usize = 64 * 1024;

/// Decodes `value` under the strict rule: `None` when [`inspect`] refuses it or a final group
/// has non-zero unused bits (TS: the re-encoded bytes differ from the input).
pub fn decode(value: &str) -> Option<Vec<u8>> {
    let size = inspect(value)?;
    let data = value.trim_end_matches('=').as_bytes();
    let mut out = vec![0u8; size];
    let mut written = 0;
    let mut chunk = Vec::with_capacity(CHUNK_CHARS);
    for piece in data.chunks(CHUNK_CHARS) {
        chunk.clear();
        chunk.extend(piece.iter().map(|&byte| match byte {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        }));
        written += DECODER.decode_slice(&chunk, &mut out[written..]).ok()?;
    }
    (written == size).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        assert_eq!(decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
        // Non-zero unused bits: `aGl=` would decode to "hi" too.
        assert_eq!(decode("aGl="), None);
    }

    #[test]
    fn structure_errors() {
        for bad in [
            "a", "aGk==", "aG===", "aGk=x", "=", "==", "aGVsbG8=a", "a b", "aGk*", "aG=k", "abcde",
            "ab=", "abc==",
        ] {
            assert_eq!(inspect(bad).and_then(|_| decode(bad)), None, "{bad:?}");
        }
        assert_eq!(inspect("aGVsbG8="), Some(5));
        assert_eq!(inspect("aGVsbG8"), Some(5));
        // Mixed alphabets are accepted, as TS does.
        assert_eq!(decode("+/-_").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn long_input_crosses_chunks() {
        let bytes: Vec<u8> = (0..200_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode(&text).unwrap(), bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(decode(&url).unwrap(), bytes);
    }
}
