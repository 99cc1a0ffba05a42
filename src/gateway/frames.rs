//! The gateway protocol's frames as serde types (protocol §1.2, §1.4, §1.6, §4).
//!
//! Only data lives here: no I/O, so the whole protocol can be tested on strings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A frame the gateway sent. Anything that does not decode is ignored by the reader, as the
/// protocol asks (§1.2).
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum Inbound {
    #[serde(rename = "res")]
    Res(ResFrame),
    #[serde(rename = "event")]
    Event(EventFrame),
    /// The gateway does not send requests to nodes today; decoded only to be ignored.
    #[serde(rename = "req")]
    Req(Value),
}

/// `{"type":"res","id","ok","payload"?,"error"?}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResFrame {
    pub id: String,
    pub ok: bool,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub error: Option<GatewayError>,
}

/// The `error` of a failed response. Branch on `details.code`, not on `code` (§1.10).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GatewayError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[serde(
        default,
        rename = "retryAfterMs",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_ms: Option<u64>,
}

impl GatewayError {
    /// `details.code`, the fine-grained reason.
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }
    /// A string field of `details`.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.as_ref()?.get(key)?.as_str()
    }
    /// A field of `details`.
    pub fn detail(&self, key: &str) -> Option<&Value> {
        self.details.as_ref()?.get(key)
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(detail) = self.detail_code() {
            write!(f, " (detail={detail})")?;
        }
        Ok(())
    }
}

/// `{"type":"event","event","payload"?,"seq"?}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventFrame {
    pub event: String,
    #[serde(default)]
    pub payload: Value,
}

/// A request the node sends: `{"type":"req","id","method","params"}`.
#[derive(Debug, Serialize)]
pub struct ReqFrame<'a, P: Serialize> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    pub method: &'a str,
    pub params: P,
}

impl<'a, P: Serialize> ReqFrame<'a, P> {
    pub fn new(id: &'a str, method: &'a str, params: P) -> ReqFrame<'a, P> {
        ReqFrame {
            kind: "req",
            id,
            method,
            params,
        }
    }
    /// The frame as the text of one WebSocket message.
    pub fn to_text(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // failing Serialize impls.
        serde_json::to_string(self).expect("request frames always serialise")
    }
}

/// `connect.challenge` payload.
#[derive(Debug, Deserialize)]
pub struct Challenge {
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub ts: Option<Value>,
}

/// The `connect` params of a node (§1.4). The gateway's schema is closed: no extra keys.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams<'a> {
    pub min_protocol: u32,
    pub max_protocol: u32,
    pub client: ClientInfo<'a>,
    pub caps: &'a [String],
    pub commands: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_env: Option<&'a str>,
    #[serde(skip_serializing_if = "ConnectAuth::is_empty")]
    pub auth: ConnectAuth<'a>,
    pub role: &'a str,
    pub scopes: &'a [String],
    pub device: DeviceProof<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    pub version: &'a str,
    pub platform: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<&'a str>,
    pub mode: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<&'a str>,
}

/// `auth`: which credentials are sent (§1.5). Omitted entirely when empty.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectAuth<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
    /// A setup code's single-use token (`--pair`, protocol §3.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<&'a str>,
}

impl ConnectAuth<'_> {
    pub fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.device_token.is_none()
            && self.password.is_none()
            && self.bootstrap_token.is_none()
    }
}

/// `device`: the signed proof of the node's identity (§2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceProof<'a> {
    pub id: &'a str,
    pub public_key: &'a str,
    pub signature: &'a str,
    pub signed_at: u64,
    pub nonce: &'a str,
}

/// What the node uses of `hello-ok` (§1.6). Everything else is informational.
#[derive(Debug, Default, Deserialize)]
pub struct HelloOk {
    #[serde(default)]
    pub protocol: Option<u32>,
    #[serde(default)]
    pub auth: Option<HelloAuth>,
    #[serde(default)]
    pub policy: Option<HelloPolicy>,
    #[serde(default)]
    pub server: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloAuth {
    #[serde(default)]
    pub device_token: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloPolicy {
    #[serde(default)]
    pub max_payload: Option<Value>,
    #[serde(default)]
    pub tick_interval_ms: Option<Value>,
}

/// The tick interval the watchdog uses: `policy.tickIntervalMs` when it is a positive number,
/// else 30 000 (§1.6), at most [`MAX_TICK_INTERVAL_MS`].
pub fn tick_interval_ms(hello: &HelloOk) -> u64 {
    hello
        .policy
        .as_ref()
        .and_then(|p| p.tick_interval_ms.as_ref())
        .and_then(Value::as_f64)
        .filter(|ms| ms.is_finite() && *ms >= 1.0)
        .map(|ms| (ms as u64).min(MAX_TICK_INTERVAL_MS))
        .unwrap_or(30_000)
}

/// The largest tick interval honoured: the TS client's timer cap (`MAX_SAFE_TIMEOUT_DELAY_MS`,
/// 2^31 − 1 ms, about 24.8 days). A larger value would overflow the watchdog's `2 × tick`
/// deadline.
pub const MAX_TICK_INTERVAL_MS: u64 = 2_147_483_647;

/// The largest frame the node may send: `policy.maxPayload`, else the client default 25 MiB.
pub fn max_payload(hello: &HelloOk) -> usize {
    hello
        .policy
        .as_ref()
        .and_then(|p| p.max_payload.as_ref())
        .and_then(Value::as_u64)
        .filter(|bytes| *bytes >= 1024)
        .map(|bytes| bytes as usize)
        .unwrap_or(MAX_PAYLOAD_DEFAULT)
}

/// The client's WebSocket `maxPayload` (§1.1): 25 MiB.
pub const MAX_PAYLOAD_DEFAULT: usize = 26_214_400;

/// The `node.invoke.request` payload (§4.1), before validation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeRequestPayload {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub node_id: Option<Value>,
    #[serde(default)]
    pub command: Option<Value>,
    #[serde(default, rename = "paramsJSON")]
    pub params_json: Option<Value>,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub timeout_ms: Option<Value>,
}

/// `node.invoke.result` params (§4.2), success or failure.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeResultParams<'a> {
    pub id: &'a str,
    pub node_id: &'a str,
    pub ok: bool,
    #[serde(rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<&'a str>,
    /// The inline form (`Payload::Inline`), for the commands whose TS answer is an object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a serde_json::value::RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ResultError<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ResultError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// `node.event` params (§4.5).
#[derive(Debug, Serialize)]
pub struct NodeEventParams<'a> {
    pub event: &'a str,
    #[serde(rename = "payloadJSON")]
    pub payload_json: &'a str,
}

/// `prefix`, then `text` as the contents of a JSON string (escaped exactly as serde_json escapes
/// it), then `suffix`, built in `text`'s own allocation: a 22 MB `payloadJSON` is escaped in
/// place, back to front, instead of being copied into a second buffer.
pub fn embed_as_json_string(prefix: &str, text: String, suffix: &str) -> String {
    fn escape(byte: u8) -> Option<&'static [u8]> {
        const CONTROL: [&[u8]; 32] = [
            b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
            b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
            b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
            b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
            b"\\u001e", b"\\u001f",
        ];
        match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0..=0x1f => Some(CONTROL[usize::from(byte)]),
            _ => None,
        }
    }
    let extra: usize = text
        .bytes()
        .map(|byte| escape(byte).map_or(0, |seq| seq.len() - 1))
        .sum();
    let mut bytes = text.into_bytes();
    let old_len = bytes.len();
    let body_end = prefix.len() + old_len + extra;
    bytes.resize(body_end + suffix.len(), 0);
    // Back to front: the write position never falls behind the read position, so every byte
    // is read before anything overwrites it.
    let mut write = body_end;
    for read in (0..old_len).rev() {
        let byte = bytes[read];
        match escape(byte) {
            None => {
                write -= 1;
                bytes[write] = byte;
            }
            Some(seq) => {
                write -= seq.len();
                bytes[write..write + seq.len()].copy_from_slice(seq);
            }
        }
    }
    debug_assert_eq!(write, prefix.len());
    bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
    bytes[body_end..].copy_from_slice(suffix.as_bytes());
    // Only ASCII was inserted and multi-byte sequences were moved whole.
    String::from_utf8(bytes).expect("escaping keeps UTF-8 valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_escapes_as_serde_json() {
        let all_bytes: String = (0u8..=0x7f).map(char::from).collect();
        for text in [
            "",
            r#"{"bins":{}}"#,
            "quote \" backslash \\ é ☃ 😀",
            all_bytes.as_str(),
        ] {
            let quoted = serde_json::to_string(text).unwrap();
            let inner = &quoted[1..quoted.len() - 1];
            assert_eq!(
                embed_as_json_string("<", text.to_string(), ">"),
                format!("<{inner}>")
            );
        }
    }

    #[test]
    fn decodes_the_three_frame_kinds() {
        let res: Inbound = serde_json::from_str(
            r#"{"type":"res","id":"1","ok":false,"error":{"code":"NOT_PAIRED","message":"pairing required","details":{"code":"PAIRING_REQUIRED","requestId":"r1"}}}"#,
        )
        .unwrap();
        let Inbound::Res(res) = res else {
            panic!("not a res")
        };
        let err = res.error.unwrap();
        assert_eq!(err.detail_code(), Some("PAIRING_REQUIRED"));
        assert_eq!(err.detail_str("requestId"), Some("r1"));

        let event: Inbound =
            serde_json::from_str(r#"{"type":"event","event":"tick","payload":{"ts":1},"seq":3}"#)
                .unwrap();
        assert!(matches!(event, Inbound::Event(e) if e.event == "tick"));
        assert!(serde_json::from_str::<Inbound>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<Inbound>("not json").is_err());
    }

    #[test]
    fn connect_params_omit_empty_auth_and_absent_fields() {
        let caps = vec!["system".to_string()];
        let commands = vec!["system.which".to_string()];
        let params = ConnectParams {
            min_protocol: 4,
            max_protocol: 4,
            client: ClientInfo {
                id: "node-host",
                display_name: None,
                version: "0.1.0",
                platform: "linux",
                device_family: Some("Linux"),
                mode: "node",
                instance_id: Some("i"),
            },
            caps: &caps,
            commands: &commands,
            path_env: None,
            auth: ConnectAuth::default(),
            role: "node",
            scopes: &[],
            device: DeviceProof {
                id: "d",
                public_key: "k",
                signature: "s",
                signed_at: 5,
                nonce: "n",
            },
        };
        let text = serde_json::to_string(&params).unwrap();
        assert_eq!(
            text,
            r#"{"minProtocol":4,"maxProtocol":4,"client":{"id":"node-host","version":"0.1.0","platform":"linux","deviceFamily":"Linux","mode":"node","instanceId":"i"},"caps":["system"],"commands":["system.which"],"role":"node","scopes":[],"device":{"id":"d","publicKey":"k","signature":"s","signedAt":5,"nonce":"n"}}"#
        );
    }

    #[test]
    fn hello_policy_defaults() {
        let hello: HelloOk =
            serde_json::from_str(r#"{"type":"hello-ok","policy":{"tickIntervalMs":"x"}}"#).unwrap();
        assert_eq!(tick_interval_ms(&hello), 30_000);
        assert_eq!(max_payload(&hello), MAX_PAYLOAD_DEFAULT);
        let hello: HelloOk =
            serde_json::from_str(r#"{"policy":{"tickIntervalMs":2000,"maxPayload":1048576}}"#)
                .unwrap();
        assert_eq!(tick_interval_ms(&hello), 2000);
        assert_eq!(max_payload(&hello), 1_048_576);
    }

    /// Fuzz regression (inbound_frame): `tickIntervalMs: 30006e70` saturated to `u64::MAX`, and
    /// the watchdog's `2 × tick` overflowed.
    #[test]
    fn huge_tick_interval_is_capped() {
        for huge in ["30006e70", "1e300", "18446744073709551615", "2147483648"] {
            let hello: HelloOk =
                serde_json::from_str(&format!(r#"{{"policy":{{"tickIntervalMs":{huge}}}}}"#))
                    .unwrap();
            assert_eq!(tick_interval_ms(&hello), MAX_TICK_INTERVAL_MS, "{huge}");
        }
        assert!(MAX_TICK_INTERVAL_MS.checked_mul(2).is_some());
    }
}
