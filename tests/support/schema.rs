//! Closed-schema checks the real gateway applies to what a node sends (protocol §1.4, §4.2, §4.5,
//! §8.2), with error texts in the gateway's `formatValidationErrors` style
//! (`at /client: unexpected property 'x'`, `must have required property 'id'`, …).
//!
//! Only the first error is reported; the real validator may list several, joined by `; `.

use serde_json::Value;

/// A tiny description of a TypeBox schema: enough for the node-facing methods.
pub enum Schema {
    Any,
    Str,
    NonEmptyString,
    /// An integer (JS semantics: `3.0` is an integer) with optional bounds.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// Any number with optional bounds.
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    /// One of the listed string values.
    Enum(&'static [&'static str]),
    Array(Box<Schema>),
    /// A fixed-length array.
    Tuple(Vec<Schema>),
    /// An object whose values all match the schema (keys: non-empty strings).
    Record(Box<Schema>),
    /// A closed object: `(key, required, schema)`; any other key is an error.
    Object(Vec<(&'static str, bool, Schema)>),
}

use Schema::*;

fn req(key: &'static str, schema: Schema) -> (&'static str, bool, Schema) {
    (key, true, schema)
}

fn opt(key: &'static str, schema: Schema) -> (&'static str, bool, Schema) {
    (key, false, schema)
}

fn int_min(min: i64) -> Schema {
    Integer {
        min: Some(min),
        max: None,
    }
}

fn located(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("at {path}: {message}")
    }
}

fn is_integer(value: &Value) -> Option<f64> {
    let n = value.as_f64()?;
    (n.fract() == 0.0).then_some(n)
}

/// Checks `value` against `schema`; `Err` holds the gateway-style message of the first error.
pub fn check(schema: &Schema, value: &Value, path: &str) -> Result<(), String> {
    match schema {
        Any => Ok(()),
        Str => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| located(path, "must be string")),
        NonEmptyString => match value.as_str() {
            Some("") => Err(located(path, "must NOT have fewer than 1 characters")),
            Some(_) => Ok(()),
            None => Err(located(path, "must be string")),
        },
        Integer { min, max } => {
            let n = is_integer(value).ok_or_else(|| located(path, "must be integer"))?;
            if let Some(min) = min {
                if n < *min as f64 {
                    return Err(located(path, &format!("must be >= {min}")));
                }
            }
            if let Some(max) = max {
                if n > *max as f64 {
                    return Err(located(path, &format!("must be <= {max}")));
                }
            }
            Ok(())
        }
        Number { min, max } => {
            let n = value
                .as_f64()
                .ok_or_else(|| located(path, "must be number"))?;
            if let Some(min) = min {
                if n < *min {
                    return Err(located(path, &format!("must be >= {min}")));
                }
            }
            if let Some(max) = max {
                if n > *max {
                    return Err(located(path, &format!("must be <= {max}")));
                }
            }
            Ok(())
        }
        Boolean => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| located(path, "must be boolean")),
        Enum(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            _ => Err(located(path, "must be equal to one of the allowed values")),
        },
        Array(item) => {
            let items = value
                .as_array()
                .ok_or_else(|| located(path, "must be array"))?;
            for (i, v) in items.iter().enumerate() {
                check(item, v, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        Tuple(items) => {
            let values = value
                .as_array()
                .ok_or_else(|| located(path, "must be array"))?;
            if values.len() > items.len() {
                return Err(located(
                    path,
                    &format!("must NOT have more than {} items", items.len()),
                ));
            }
            if values.len() < items.len() {
                return Err(located(
                    path,
                    &format!("must NOT have fewer than {} items", items.len()),
                ));
            }
            for (i, (s, v)) in items.iter().zip(values).enumerate() {
                check(s, v, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        Record(inner) => {
            let map = value
                .as_object()
                .ok_or_else(|| located(path, "must be object"))?;
            for (k, v) in map {
                if k.is_empty() {
                    return Err(located(
                        path,
                        "property name must NOT have fewer than 1 characters",
                    ));
                }
                check(inner, v, &format!("{path}/{k}"))?;
            }
            Ok(())
        }
        Object(fields) => {
            let map = value
                .as_object()
                .ok_or_else(|| located(path, "must be object"))?;
            for key in map.keys() {
                if !fields.iter().any(|(name, _, _)| name == key) {
                    let at = if path.is_empty() {
                        "at root".to_string()
                    } else {
                        format!("at {path}")
                    };
                    return Err(format!("{at}: unexpected property '{key}'"));
                }
            }
            for (name, required, _) in fields {
                if *required && !map.contains_key(*name) {
                    return Err(located(
                        path,
                        &format!("must have required property '{name}'"),
                    ));
                }
            }
            for (name, _, schema) in fields {
                if let Some(v) = map.get(*name) {
                    check(schema, v, &format!("{path}/{name}"))?;
                }
            }
            Ok(())
        }
    }
}

/// The gateway's closed list of client ids (`GATEWAY_CLIENT_IDS`).
pub const CLIENT_IDS: &[&str] = &[
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-browser-copilot",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-linux",
    "openclaw-ios",
    "openclaw-watchos",
    "openclaw-android",
    "node-host",
    "openclaw-worker",
    "test",
    "fingerprint",
    "openclaw-probe",
];

/// The gateway's closed list of client modes (`GATEWAY_CLIENT_MODES`).
pub const CLIENT_MODES: &[&str] = &[
    "webchat", "cli", "ui", "backend", "node", "worker", "probe", "test",
];

/// `RequestFrameSchema`.
pub fn request_frame() -> Schema {
    Object(vec![
        req("type", Enum(&["req"])),
        req("id", NonEmptyString),
        req("method", NonEmptyString),
        opt("params", Any),
        opt("traceparent", Str),
        opt("expectedProfileId", Any),
    ])
}

/// `ConnectParamsSchema` (protocol §1.4; `sessions-*.mjs`).
pub fn connect_params() -> Schema {
    Object(vec![
        req("minProtocol", int_min(1)),
        req("maxProtocol", int_min(1)),
        req(
            "client",
            Object(vec![
                req("id", Enum(CLIENT_IDS)),
                opt("displayName", NonEmptyString),
                req("version", NonEmptyString),
                opt("buildId", NonEmptyString),
                req("platform", NonEmptyString),
                opt("deviceFamily", NonEmptyString),
                opt("modelIdentifier", NonEmptyString),
                opt("timeZone", NonEmptyString),
                req("mode", Enum(CLIENT_MODES)),
                opt("instanceId", NonEmptyString),
            ]),
        ),
        opt("caps", Array(Box::new(NonEmptyString))),
        opt("commands", Array(Box::new(NonEmptyString))),
        opt("computerUse", Any),
        opt("workerRuns", Any),
        opt("permissions", Record(Box::new(Boolean))),
        opt("pathEnv", Str),
        opt("role", NonEmptyString),
        opt("scopes", Array(Box::new(NonEmptyString))),
        opt("modelCatalog", Any),
        opt(
            "device",
            Object(vec![
                req("id", NonEmptyString),
                req("publicKey", NonEmptyString),
                req("signature", NonEmptyString),
                req("signedAt", int_min(0)),
                req("nonce", NonEmptyString),
            ]),
        ),
        opt(
            "auth",
            Object(vec![
                opt("token", Str),
                opt("bootstrapToken", Str),
                opt("deviceToken", Str),
                opt("password", Str),
                opt("approvalRuntimeToken", Str),
                opt("agentRuntimeIdentityToken", Str),
            ]),
        ),
        opt("locale", Str),
        opt("userAgent", Str),
    ])
}

/// `NodeInvokeResultParamsSchema` (protocol §4.2).
pub fn invoke_result_params() -> Schema {
    Object(vec![
        req("id", NonEmptyString),
        req("nodeId", NonEmptyString),
        req("ok", Boolean),
        opt("payload", Any),
        opt("payloadJSON", Str),
        opt(
            "error",
            Object(vec![
                opt("code", NonEmptyString),
                opt("message", NonEmptyString),
            ]),
        ),
    ])
}

/// `NodeEventParamsSchema` (protocol §4.5).
pub fn node_event_params() -> Schema {
    Object(vec![
        req("event", NonEmptyString),
        opt("payload", Any),
        opt("payloadJSON", Str),
    ])
}

/// `NodeInvokeProgressParamsSchema` (protocol §4.4).
pub fn invoke_progress_params() -> Schema {
    Object(vec![
        req("invokeId", NonEmptyString),
        req("nodeId", NonEmptyString),
        req("seq", int_min(0)),
        req("chunk", Str),
    ])
}

/// `NodeHostStatsPayloadSchema` (protocol §8.2), without the cross-field refinement, which
/// [`check_host_stats`] adds.
pub fn host_stats_payload() -> Schema {
    let load = || Number {
        min: Some(0.0),
        max: Some(100000.0),
    };
    Object(vec![
        req(
            "cpuCount",
            Integer {
                min: Some(1),
                max: Some(4096),
            },
        ),
        opt("loadAverage", Tuple(vec![load(), load(), load()])),
        req("memoryTotalBytes", int_min(0)),
        req("memoryFreeBytes", int_min(0)),
        opt("diskTotalBytes", int_min(0)),
        opt("diskAvailableBytes", int_min(0)),
    ])
}

/// The whole `node.host.stats` check: schema plus "free ≤ total, disk values paired".
pub fn check_host_stats(payload: &Value) -> Result<(), String> {
    check(&host_stats_payload(), payload, "")?;
    let n = |k: &str| payload.get(k).and_then(Value::as_f64);
    let mem_ok = n("memoryFreeBytes") <= n("memoryTotalBytes");
    let disk_ok = match (n("diskTotalBytes"), n("diskAvailableBytes")) {
        (None, None) => true,
        (Some(total), Some(avail)) => avail <= total,
        _ => false,
    };
    if mem_ok && disk_ok {
        Ok(())
    } else {
        Err("free resources must not exceed totals and disk values must be paired".to_string())
    }
}

/// The gateway's normalisation of `node.invoke.result` params before validation (§4.2):
/// `payloadJSON:null` and `error:null` are dropped; a non-string `payloadJSON` moves to `payload`.
pub fn normalize_invoke_result(params: &Value) -> Value {
    let mut out = params.clone();
    if let Some(map) = out.as_object_mut() {
        match map.get("payloadJSON") {
            Some(Value::Null) => {
                map.remove("payloadJSON");
            }
            Some(v) if !v.is_string() => {
                let v = v.clone();
                map.remove("payloadJSON");
                if !map.contains_key("payload") {
                    map.insert("payload".to_string(), v);
                }
            }
            _ => {}
        }
        if map.get("error") == Some(&Value::Null) {
            map.remove("error");
        }
    }
    out
}
