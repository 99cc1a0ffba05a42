//! Pairing setup codes (`--pair`, `--pair-if-needed`, `connect`): decoding exactly as TS's
//! `decodePairingSetupCode` (node-surface.md §3.1, protocol.md §3.5), and the endpoint a code
//! names.
//!
//! A code is `oc-pair://` (any case, optional) then base64url of a JSON object
//! `{url, urls?, bootstrapToken, expiresAtMs?, tlsFingerprint?}`; unknown fields are ignored.
//! Every URL must already be in the form TS's URL normaliser gives (`ws://`/`wss://`, host,
//! optional non-default port, optional path that is not `/`, no userinfo, query or fragment).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::Value;

use crate::gateway::transport::normalize_fingerprint;
use crate::state::GatewayEndpoint;

const INVALID_CODE: &str = "Invalid pairing setup code or URL.";
const INVALID_PAYLOAD: &str = "Invalid pairing setup payload.";
/// TS's text for a code past its `expiresAtMs`.
pub const EXPIRED: &str = "Pairing setup code has expired.";
const MAX_URLS: usize = 8;

/// A decoded setup code. The bootstrap token is a bearer secret: never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupCode {
    pub url: String,
    pub urls: Option<Vec<String>>,
    pub bootstrap_token: String,
    pub expires_at_ms: Option<u64>,
    /// Normalised (64 lowercase hex digits).
    pub tls_fingerprint: Option<String>,
}

impl std::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupCode")
            .field("url", &self.url)
            .field("urls", &self.urls)
            .field("bootstrap_token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .finish()
    }
}

/// Node's `Buffer.from(s, "base64url")` on input that passed the character check: padding
/// optional, trailing bits ignored.
const LENIENT_B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl SetupCode {
    /// Decodes `input` (a code or an `oc-pair://` URL) as of `now_ms`, with TS's error texts.
    pub fn decode(input: &str, now_ms: u64) -> Result<SetupCode, String> {
        let trimmed = input.trim();
        let code = match trimmed.get(..10) {
            Some(prefix) if prefix.eq_ignore_ascii_case("oc-pair://") => &trimmed[10..],
            _ => trimmed,
        };
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(INVALID_CODE.into());
        }
        // Node decodes what it can: a lone last character carries no whole byte.
        let usable = if code.len() % 4 == 1 {
            &code[..code.len() - 1]
        } else {
            code
        };
        let bytes = LENIENT_B64URL
            .decode(usable)
            .map_err(|_| INVALID_CODE.to_string())?;
        // `toString("utf8")` replaces invalid sequences rather than failing.
        let text = String::from_utf8_lossy(&bytes);
        let doc: Value = serde_json::from_str(&text).map_err(|_| INVALID_CODE.to_string())?;
        let object = doc.as_object().ok_or(INVALID_PAYLOAD)?;
        let trimmed_string = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let url = trimmed_string("url").ok_or(INVALID_PAYLOAD)?;
        let bootstrap_token = trimmed_string("bootstrapToken").ok_or(INVALID_PAYLOAD)?;
        if !is_normalized_gateway_url(&url) {
            return Err(INVALID_PAYLOAD.into());
        }
        let urls = match object.get("urls") {
            None => None,
            Some(Value::Array(list))
                if !list.is_empty()
                    && list.len() <= MAX_URLS
                    && list
                        .iter()
                        .all(|u| u.as_str().is_some_and(is_normalized_gateway_url)) =>
            {
                Some(
                    list.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect(),
                )
            }
            Some(_) => return Err(INVALID_PAYLOAD.into()),
        };
        let expires_at_ms = match object.get("expiresAtMs") {
            None => None,
            Some(value) => {
                let ms = safe_non_negative_integer(value).ok_or(INVALID_PAYLOAD)?;
                if ms <= now_ms {
                    return Err(EXPIRED.into());
                }
                Some(ms)
            }
        };
        let tls_fingerprint = match object.get("tlsFingerprint") {
            None => None,
            Some(Value::String(text)) => {
                Some(normalize_fingerprint(text).map_err(|_| INVALID_PAYLOAD.to_string())?)
            }
            Some(_) => return Err(INVALID_PAYLOAD.into()),
        };
        Ok(SetupCode {
            url,
            urls,
            bootstrap_token,
            expires_at_ms,
            tls_fingerprint,
        })
    }

    /// The endpoints to try, in order (`urls`, else `[url]`); the pin belongs only to the
    /// candidate that is `url`.
    pub fn candidates(&self) -> Vec<GatewayEndpoint> {
        let list = self
            .urls
            .clone()
            .unwrap_or_else(|| vec![self.url.clone()]);
        list.iter()
            .filter_map(|url| {
                let mut endpoint = endpoint_of(url)?;
                if *url == self.url {
                    endpoint.tls_fingerprint = self.tls_fingerprint.clone();
                }
                Some(endpoint)
            })
            .collect()
    }

    /// The endpoint the node connects to: the first candidate.
    pub fn primary(&self) -> GatewayEndpoint {
        self.candidates().into_iter().next().unwrap_or_default()
    }
}

/// `Number.isSafeInteger(v) && v >= 0` for a JSON number.
fn safe_non_negative_integer(value: &Value) -> Option<u64> {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    if let Some(n) = value.as_u64() {
        return (n <= MAX_SAFE).then_some(n);
    }
    let f = value.as_f64()?;
    (f.fract() == 0.0 && (0.0..=MAX_SAFE as f64).contains(&f)).then_some(f as u64)
}

/// Whether `url` is exactly what TS's `normalizeUrl(url, "ws")` makes of it.
fn is_normalized_gateway_url(url: &str) -> bool {
    endpoint_of(url).is_some()
}

/// The endpoint of a URL in normalised form; `None` for anything else.
fn endpoint_of(url: &str) -> Option<GatewayEndpoint> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("ws://")?)
    };
    if rest.contains(['?', '#', '@', '\\']) {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority)?;
    if !canonical_host(host) {
        return None;
    }
    let default_port = if tls { 443 } else { 80 };
    let port = match port {
        None => default_port,
        Some(text) => {
            if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
                return None;
            }
            let port: u16 = text.parse().ok()?;
            if port == default_port {
                return None;
            }
            port
        }
    };
    if path == "/" || !canonical_path(path) {
        return None;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(GatewayEndpoint {
        host: Some(host.to_string()),
        port: Some(port),
        tls: Some(tls),
        tls_fingerprint: None,
        context_path: (!path.is_empty()).then(|| path.to_string()),
    })
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

/// A host as the WHATWG URL parser prints it: lowercase ASCII names, canonical dotted IPv4,
/// bracketed canonical IPv6.
fn canonical_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.to_string() == inner && !inner.contains('.'));
    }
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
    {
        return false;
    }
    // A last label that is a number makes the parser read the host as IPv4 ("127.1",
    // "0x7f.1"): only the canonical dotted quad survives unchanged.
    let last = host.rsplit('.').find(|label| !label.is_empty()).unwrap_or("");
    let numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last.starts_with("0x")
            || last.starts_with("0X"));
    if numeric {
        return host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.to_string() == host);
    }
    true
}

/// A path the parser keeps as it is: no dot segments, nothing it would percent-encode.
fn canonical_path(path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ok = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/|[]".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if !ok {
            return false;
        }
    }
    !path.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_000_000_000;

    fn encode(json: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(json: &str) -> Result<SetupCode, String> {
        SetupCode::decode(&encode(json), NOW)
    }

    #[test]
    fn the_live_code_decodes_with_and_without_the_url_prefix() {
        let json = r#"{"url":"ws://127.0.0.1:19987","bootstrapToken":"PAV9-MkMk","expiresAtMs":1796107498307}"#;
        let code = decode(json).unwrap();
        assert_eq!(code.url, "ws://127.0.0.1:19987");
        assert_eq!(code.bootstrap_token, "PAV9-MkMk");
        assert_eq!(code.expires_at_ms, Some(1_796_107_498_307));
        let prefixed = SetupCode::decode(&format!("  OC-PAIR://{}\n", encode(json)), NOW).unwrap();
        assert_eq!(prefixed, code);
        assert_eq!(
            code.primary(),
            GatewayEndpoint {
                host: Some("127.0.0.1".into()),
                port: Some(19987),
                tls: Some(false),
                tls_fingerprint: None,
                context_path: None,
            }
        );
        // Padding is optional; a padded code fails the character check, as in TS.
        assert_eq!(
            SetupCode::decode(&format!("{}=", encode(json)), NOW).unwrap_err(),
            INVALID_CODE
        );
    }

    #[test]
    fn bad_codes_get_ts_texts() {
        let cases: &[(&str, &str)] = &[
            ("not a code!", INVALID_CODE),
            ("", INVALID_CODE),
            ("oc-pair://", INVALID_CODE),
        ];
        for (input, want) in cases {
            assert_eq!(SetupCode::decode(input, NOW).unwrap_err(), *want, "{input:?}");
        }
        assert_eq!(
            SetupCode::decode(&encode("not json"), NOW).unwrap_err(),
            INVALID_CODE
        );
        let payloads: &[(&str, &str)] = &[
            (r#"[1,2]"#, INVALID_PAYLOAD),
            (r#""text""#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"  "}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1/","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"WS://h:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://H:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:80","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"wss://h:443","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://u@h:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1?x=1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"http://h:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"h:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://127.1:1","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1/a/../b","bootstrapToken":"t"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","urls":[]}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","urls":["ws://h:1/"]}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","expiresAtMs":1.5}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","expiresAtMs":-1}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","expiresAtMs":"1"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","expiresAtMs":1000}"#, EXPIRED),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","tlsFingerprint":"zz"}"#, INVALID_PAYLOAD),
            (r#"{"url":"ws://h:1","bootstrapToken":"t","tlsFingerprint":5}"#, INVALID_PAYLOAD),
        ];
        for (json, want) in payloads {
            assert_eq!(decode(json).unwrap_err(), *want, "{json}");
        }
        let nine: Vec<String> = (1..=9).map(|p| format!("\"ws://h:{p}\"")).collect();
        let json = format!(
            r#"{{"url":"ws://h:1","bootstrapToken":"t","urls":[{}]}}"#,
            nine.join(",")
        );
        assert_eq!(decode(&json).unwrap_err(), INVALID_PAYLOAD);
    }

    #[test]
    fn normalized_urls_candidates_and_the_pin() {
        let pin = "AB:".repeat(31) + "AB";
        let json = format!(
            r#"{{"url":" wss://gw.example.ts.net ","bootstrapToken":"t","urls":["wss://h:8443/openclaw-gw","wss://gw.example.ts.net","ws://[::1]:9"],"tlsFingerprint":"sha256:{pin}","extra":1}}"#
        );
        let code = decode(&json).unwrap();
        assert_eq!(code.url, "wss://gw.example.ts.net");
        assert_eq!(code.tls_fingerprint.as_deref(), Some("ab".repeat(32).as_str()));
        let candidates = code.candidates();
        assert_eq!(candidates.len(), 3);
        assert_eq!(candidates[0].host.as_deref(), Some("h"));
        assert_eq!(candidates[0].port, Some(8443));
        assert_eq!(candidates[0].context_path.as_deref(), Some("/openclaw-gw"));
        assert_eq!(candidates[0].tls_fingerprint, None);
        assert_eq!(candidates[1].port, Some(443));
        assert_eq!(candidates[1].tls_fingerprint, code.tls_fingerprint);
        assert_eq!(candidates[2].host.as_deref(), Some("::1"));
        assert_eq!(candidates[2].tls, Some(false));
        assert_eq!(code.primary(), candidates[0]);
        // The token never reaches a log through Debug.
        assert!(!format!("{code:?}").contains("\"t\""));
        // A lone trailing base64 character is ignored, as Node does.
        let plain = encode(r#"{"url":"ws://h:1","bootstrapToken":"t"}"#);
        let odd = if plain.len() % 4 == 0 { format!("{plain}A") } else { plain };
        if odd.len() % 4 == 1 {
            assert!(SetupCode::decode(&odd, NOW).is_ok());
        }
    }
}
