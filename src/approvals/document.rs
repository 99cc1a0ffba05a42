//! The exec-approvals document: validation, normalisation, serialisation and hashing.
//!
//! Format (protocol §6.1), JSON with unknown keys tolerated inside agents:
//!
//! ```json5
//! { version: 1,
//!   socket?: { path?, token? },
//!   defaults?: { security?, ask?, askFallback?, autoAllowSkills? },
//!   agents?: { "<agentId>"|"*": { security?, ask?, askFallback?, autoAllowSkills?,
//!       allowlist?: [ string | { pattern, id?, source?, argPattern?, lastUsedAt?,
//!                                lastUsedCommand?, lastResolvedPath? } ], mcpTools?: [...] } } }
//! ```
//!
//! The stored text is `JSON.stringify(doc, null, 2) + "\n"` of the normalised document and its
//! hash is the SHA-256 of exactly that text (`missing:` + sha256("") when there is no file).
//! Normalisation follows the TS host's `normalizeExecApprovalsInternal`: string allowlist
//! entries become objects, missing ids are generated, the legacy `commandText` is stripped,
//! `agents.default` is merged into `agents.main`, invalid policy values are dropped, and the
//! top level keeps only `version`, `socket`, `defaults` and `agents`.

use serde_json::{Map, Value};

use crate::digest::sha256_hex;

/// The agent `agents.default` is folded into.
pub const DEFAULT_AGENT_ID: &str = "main";

/// `hashExecApprovalsRaw`.
pub fn hash_raw(raw: Option<&str>) -> String {
    match raw {
        Some(raw) => sha256_hex(raw.as_bytes()),
        None => format!("missing:{}", sha256_hex(b"")),
    }
}

/// `serializeExecApprovals`: two-space JSON plus a trailing newline.
pub fn serialize(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// 24 random bytes, base64url without padding (the socket token format).
pub fn generate_token() -> String {
    crate::random::token_b64url(24)
}

/// A random UUID v4 (allowlist entry ids).
pub fn random_uuid() -> String {
    crate::random::uuid_v4()
}

const SECURITY_VALUES: &[&str] = &["deny", "allowlist", "full"];
const ASK_VALUES: &[&str] = &["off", "on-miss", "always"];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expect_optional_string(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    allow_null: bool,
) -> Result<(), String> {
    match obj.get(key) {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Null) if allow_null => Ok(()),
        Some(other) => Err(format!(
            "{at}.{key}: expected a string, got {}",
            type_name(other)
        )),
    }
}

fn check_policy(obj: &Map<String, Value>, at: &str) -> Result<(), String> {
    for (key, allowed) in [
        ("security", SECURITY_VALUES),
        ("ask", ASK_VALUES),
        ("askFallback", SECURITY_VALUES),
    ] {
        match obj.get(key) {
            None => {}
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
            Some(other) => {
                return Err(format!(
                    "{at}.{key}: expected one of {}, got {other}",
                    allowed.join(", ")
                ));
            }
        }
    }
    match obj.get("autoAllowSkills") {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(format!(
            "{at}.autoAllowSkills: expected a boolean, got {}",
            type_name(other)
        )),
    }
}

/// Checks a parsed document against the schema. The message names the field, like
/// `agents.main.allowlist[2].pattern: expected a non-empty string`.
pub fn validate(doc: &Value) -> Result<(), String> {
    let Value::Object(root) = doc else {
        return Err(format!(
            "document: expected an object, got {}",
            type_name(doc)
        ));
    };
    match root.get("version") {
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => {}
        Some(other) => return Err(format!("version: expected 1, got {other}")),
        None => return Err("version: missing (expected 1)".to_string()),
    }
    match root.get("socket") {
        None => {}
        Some(Value::Object(socket)) => {
            expect_optional_string(socket, "path", "socket", false)?;
            expect_optional_string(socket, "token", "socket", false)?;
        }
        Some(other) => {
            return Err(format!(
                "socket: expected an object, got {}",
                type_name(other)
            ))
        }
    }
    match root.get("defaults") {
        None => {}
        Some(Value::Object(defaults)) => check_policy(defaults, "defaults")?,
        Some(other) => {
            return Err(format!(
                "defaults: expected an object, got {}",
                type_name(other)
            ))
        }
    }
    let agents = match root.get("agents") {
        None => return Ok(()),
        Some(Value::Object(agents)) => agents,
        Some(other) => {
            return Err(format!(
                "agents: expected an object, got {}",
                type_name(other)
            ))
        }
    };
    for (agent_id, agent) in agents {
        let at = format!("agents.{agent_id}");
        if agent_id == "__proto__" {
            return Err(format!("{at}: reserved agent id"));
        }
        let Value::Object(agent) = agent else {
            return Err(format!(
                "{at}: expected an object, got {}",
                type_name(agent)
            ));
        };
        check_policy(agent, &at)?;
        match agent.get("allowlist") {
            None => {}
            Some(Value::Array(entries)) => {
                for (index, entry) in entries.iter().enumerate() {
                    let at = format!("{at}.allowlist[{index}]");
                    match entry {
                        Value::String(s) if !s.trim().is_empty() => {}
                        Value::String(_) => return Err(format!("{at}: expected a non-empty string")),
                        Value::Object(obj) => {
                            match obj.get("pattern") {
                                Some(Value::String(p)) if !p.trim().is_empty() => {}
                                _ => return Err(format!("{at}.pattern: expected a non-empty string")),
                            }
                            for key in ["id", "source", "argPattern", "commandText"] {
                                expect_optional_string(obj, key, &at, false)?;
                            }
                            for key in ["lastUsedCommand", "lastResolvedPath"] {
                                expect_optional_string(obj, key, &at, true)?;
                            }
                            match obj.get("lastUsedAt") {
                                None | Some(Value::Null) => {}
                                Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {}
                                Some(other) => {
                                    return Err(format!("{at}.lastUsedAt: expected a finite number, got {other}"))
                                }
                            }
                        }
                        other => {
                            return Err(format!(
                                "{at}: expected a non-empty string or an object with a non-empty pattern, got {}",
                                type_name(other)
                            ))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "{at}.allowlist: expected an array, got {}",
                    type_name(other)
                ))
            }
        }
        match agent.get("mcpTools") {
            None => {}
            Some(Value::Array(tools)) => {
                for (index, tool) in tools.iter().enumerate() {
                    let at = format!("{at}.mcpTools[{index}]");
                    let Value::Object(tool) = tool else {
                        return Err(format!("{at}: expected an object"));
                    };
                    for key in ["server", "tool"] {
                        match tool.get(key) {
                            Some(Value::String(s)) if !s.trim().is_empty() => {}
                            _ => return Err(format!("{at}.{key}: expected a non-empty string")),
                        }
                    }
                    if tool.get("source").and_then(Value::as_str) != Some("allow-always") {
                        return Err(format!("{at}.source: expected \"allow-always\""));
                    }
                    match tool.get("addedAt").and_then(Value::as_f64) {
                        Some(n) if n.is_finite() && n >= 0.0 => {}
                        _ => return Err(format!("{at}.addedAt: expected a non-negative number")),
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "{at}.mcpTools: expected an array, got {}",
                    type_name(other)
                ))
            }
        }
    }
    Ok(())
}

/// Whether `raw` is a valid document (what [`parse`] accepts).
pub fn check(raw: &str) -> Result<(), String> {
    parse(raw).map(drop)
}

/// Parses stored text: JSON, schema, normalisation. `Err` explains what is wrong.
pub fn parse(raw: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(raw).map_err(|err| format!("invalid JSON: {err}"))?;
    validate(&value)?;
    Ok(normalize_internal(&value))
}

/// `normalizeExecApprovals` (the `set` path): like [`parse`] without the text step.
pub fn normalize(file: &Value) -> Result<Value, String> {
    validate(file)?;
    Ok(normalize_internal(file))
}

fn trimmed_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Sets `key` in place (keeping its position), appends it when new, or removes it (keeping the
/// order of the rest) when `value` is `None`.
pub fn set_key(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(value) => {
            map.insert(key.to_string(), value);
        }
        None => {
            map.shift_remove(key);
        }
    }
}

fn sanitized_policy(obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Option<Value> {
    let value = obj.get(key)?.as_str()?.trim();
    allowed
        .contains(&value)
        .then(|| Value::String(value.to_string()))
}

fn normalize_allowlist(value: Option<&Value>) -> Option<Value> {
    let entries = match value {
        Some(Value::Array(entries)) => entries,
        _ => return None,
    };
    let mut out = Vec::new();
    for entry in entries {
        let mut obj = match entry {
            Value::String(s) if !s.trim().is_empty() => {
                let mut obj = Map::new();
                obj.insert("pattern".to_string(), Value::String(s.trim().to_string()));
                obj
            }
            Value::Object(obj)
                if obj
                    .get("pattern")
                    .and_then(Value::as_str)
                    .is_some_and(|p| !p.trim().is_empty()) =>
            {
                obj.clone()
            }
            _ => continue,
        };
        if obj.get("source").is_some()
            && obj.get("source").and_then(Value::as_str) != Some("allow-always")
        {
            obj.shift_remove("source");
        }
        if !obj
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| !id.is_empty())
        {
            set_key(&mut obj, "id", Some(Value::String(random_uuid())));
        }
        obj.shift_remove("commandText");
        out.push(Value::Object(obj));
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

fn allowlist_dedupe_key(entry: &Value) -> Option<String> {
    let pattern = entry.get("pattern")?.as_str()?.trim().to_lowercase();
    if pattern.is_empty() {
        return None;
    }
    let arg = entry
        .get("argPattern")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    Some(format!("{pattern}\0{arg}"))
}

/// `mergeLegacyAgent`: `agents.default` folded into `agents.main`.
fn merge_legacy_agent(
    current: &Map<String, Value>,
    legacy: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = legacy.clone();
    for (key, value) in current {
        merged.insert(key.clone(), value.clone());
    }
    for key in ["security", "ask", "askFallback", "autoAllowSkills"] {
        let value = current.get(key).or_else(|| legacy.get(key)).cloned();
        set_key(&mut merged, key, value);
    }
    let mut seen = std::collections::HashSet::new();
    let mut allowlist = Vec::new();
    for source in [current, legacy] {
        if let Some(Value::Array(entries)) = source.get("allowlist") {
            for entry in entries {
                let entry = match entry {
                    Value::String(s) => serde_json::json!({ "pattern": s }),
                    other => other.clone(),
                };
                if let Some(key) = allowlist_dedupe_key(&entry) {
                    if seen.insert(key) {
                        allowlist.push(entry);
                    }
                }
            }
        }
    }
    set_key(
        &mut merged,
        "allowlist",
        (!allowlist.is_empty()).then_some(Value::Array(allowlist)),
    );
    let mcp = match (current.get("mcpTools"), legacy.get("mcpTools")) {
        (None, None) => None,
        (current_tools, legacy_tools) => {
            let mut tools: Vec<Value> = current_tools
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for grant in legacy_tools
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let duplicate = tools.iter().any(|t| {
                    t.get("server") == grant.get("server") && t.get("tool") == grant.get("tool")
                });
                if !duplicate {
                    tools.push(grant);
                }
            }
            Some(Value::Array(tools))
        }
    };
    set_key(&mut merged, "mcpTools", mcp);
    merged
}

/// `normalizeExecApprovalsInternal` on a validated document.
pub fn normalize_internal(file: &Value) -> Value {
    let empty = Map::new();
    let root = file.as_object().unwrap_or(&empty);
    let socket = root
        .get("socket")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut socket_out = Map::new();
    if let Some(path) = trimmed_string(socket.get("path")) {
        socket_out.insert("path".to_string(), Value::String(path));
    }
    if let Some(token) = trimmed_string(socket.get("token")) {
        socket_out.insert("token".to_string(), Value::String(token));
    }

    let mut agents: Map<String, Value> = root
        .get("agents")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(legacy)) = agents.get("default").cloned() {
        let merged = match agents.get(DEFAULT_AGENT_ID).and_then(Value::as_object) {
            Some(main) => merge_legacy_agent(main, &legacy),
            None => legacy,
        };
        agents.insert(DEFAULT_AGENT_ID.to_string(), Value::Object(merged));
        agents.shift_remove("default");
    }
    for (_, agent) in agents.iter_mut() {
        let Value::Object(agent) = agent else {
            continue;
        };
        let allowlist = normalize_allowlist(agent.get("allowlist"));
        let security = sanitized_policy(agent, "security", SECURITY_VALUES);
        let ask = sanitized_policy(agent, "ask", ASK_VALUES);
        let ask_fallback = sanitized_policy(agent, "askFallback", SECURITY_VALUES);
        set_key(agent, "allowlist", allowlist);
        set_key(agent, "security", security);
        set_key(agent, "ask", ask);
        set_key(agent, "askFallback", ask_fallback);
        if agent
            .get("autoAllowSkills")
            .is_some_and(|v| !v.is_boolean())
        {
            agent.shift_remove("autoAllowSkills");
        }
    }

    let defaults_in = root
        .get("defaults")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut defaults = Map::new();
    for (key, allowed) in [
        ("security", SECURITY_VALUES),
        ("ask", ASK_VALUES),
        ("askFallback", SECURITY_VALUES),
    ] {
        if let Some(value) = sanitized_policy(defaults_in, key, allowed) {
            defaults.insert(key.to_string(), value);
        }
    }
    if let Some(Value::Bool(b)) = defaults_in.get("autoAllowSkills") {
        defaults.insert("autoAllowSkills".to_string(), Value::Bool(*b));
    }

    let mut out = Map::new();
    out.insert("version".to_string(), Value::from(1));
    out.insert("socket".to_string(), Value::Object(socket_out));
    out.insert("defaults".to_string(), Value::Object(defaults));
    out.insert("agents".to_string(), Value::Object(agents));
    Value::Object(out)
}

/// The socket path and token of a normalised document.
pub fn socket_fields(doc: &Value) -> (Option<String>, Option<String>) {
    let socket = doc.get("socket");
    (
        trimmed_string(socket.and_then(|s| s.get("path"))),
        trimmed_string(socket.and_then(|s| s.get("token"))),
    )
}

/// Fills a missing socket path and token (`ensureExecApprovalsSocket`,
/// `mergeExecApprovalsSocketDefaults`): `new`'s own values win, then `current`'s, then defaults.
pub fn with_socket(new: &Value, current: Option<&Value>, default_path: &str) -> Value {
    let (new_path, new_token) = socket_fields(new);
    let (current_path, current_token) = current.map(socket_fields).unwrap_or((None, None));
    let path = new_path
        .or(current_path)
        .unwrap_or_else(|| default_path.to_string());
    let token = new_token.or(current_token).unwrap_or_else(generate_token);
    let mut doc = new.clone();
    if let Value::Object(root) = &mut doc {
        let mut socket = Map::new();
        socket.insert("path".to_string(), Value::String(path));
        socket.insert("token".to_string(), Value::String(token));
        root.insert("socket".to_string(), Value::Object(socket));
    }
    doc
}

/// `redactExecApprovals`: the document as sent to the gateway, `socket` reduced to `{path}`
/// (removed when there is no path). The token never leaves the node.
pub fn redact(doc: &Value) -> Value {
    let mut out = doc.clone();
    if let Value::Object(root) = &mut out {
        let (path, _) = socket_fields(doc);
        match path {
            Some(path) => {
                let mut socket = Map::new();
                socket.insert("path".to_string(), Value::String(path));
                root.insert("socket".to_string(), Value::Object(socket));
            }
            None => {
                root.shift_remove("socket");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hashes() {
        assert_eq!(
            hash_raw(None),
            "missing:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hash_raw(Some("x")), sha256_hex(b"x"));
    }

    #[test]
    fn serialization_is_two_space_json_with_newline() {
        let doc = json!({"version": 1, "socket": {}, "defaults": {}, "agents": {}});
        assert_eq!(
            serialize(&doc),
            "{\n  \"version\": 1,\n  \"socket\": {},\n  \"defaults\": {},\n  \"agents\": {}\n}\n"
        );
    }

    #[test]
    fn normalisation_matches_ts_shape() {
        let input = json!({
            "version": 1,
            "extra": true,
            "socket": {"path": "  /s.sock ", "token": " "},
            "defaults": {"security": "allowlist", "ask": "bogus", "autoAllowSkills": false},
            "agents": {
                "default": {"allowlist": ["uname", {"pattern": "/usr/bin/echo", "id": "keep"}], "ask": "on-miss"},
                "main": {"allowlist": [{"pattern": "UNAME"}], "security": "full", "note": 1},
                "ops": {"allowlist": [{"pattern": "/bin/ls", "commandText": "ls", "source": "manual"}], "security": "nope"}
            }
        });
        let out = normalize(&input).unwrap_err();
        assert!(out.contains("defaults.ask"), "{out}");
        let mut input = input;
        input["defaults"]["ask"] = json!("on-miss");
        input["agents"]["ops"]["security"] = json!("deny");
        let out = normalize(&input).unwrap();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["version", "socket", "defaults", "agents"]);
        assert_eq!(out["socket"], json!({"path": "/s.sock"}));
        assert_eq!(
            out["defaults"],
            json!({"security": "allowlist", "ask": "on-miss", "autoAllowSkills": false})
        );
        assert!(out["agents"].get("default").is_none());
        let main = &out["agents"]["main"];
        assert_eq!(main["security"], "full");
        assert_eq!(main["ask"], "on-miss");
        assert_eq!(main["note"], 1);
        let patterns: Vec<&str> = main["allowlist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pattern"].as_str().unwrap())
            .collect();
        assert_eq!(
            patterns,
            ["UNAME", "/usr/bin/echo"],
            "uname deduplicated case-insensitively"
        );
        assert_eq!(main["allowlist"][1]["id"], "keep");
        assert_eq!(main["allowlist"][0]["id"].as_str().unwrap().len(), 36);
        let ops_entry = &out["agents"]["ops"]["allowlist"][0];
        assert!(ops_entry.get("commandText").is_none());
        assert!(ops_entry.get("source").is_none());
        let entry_keys: Vec<&String> = ops_entry.as_object().unwrap().keys().collect();
        assert_eq!(
            entry_keys,
            ["pattern", "id"],
            "id is appended after existing keys"
        );
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            validate(&json!({"version": 2})).unwrap_err(),
            "version: expected 1, got 2"
        );
        let err =
            validate(&json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": " "}]}}}))
                .unwrap_err();
        assert_eq!(
            err,
            "agents.main.allowlist[0].pattern: expected a non-empty string"
        );
        assert!(parse("{").unwrap_err().starts_with("invalid JSON"));
        assert!(validate(&json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": "x", "lastUsedAt": null}]}}})).is_ok());
    }

    #[test]
    fn socket_and_redaction() {
        let doc = normalize(&json!({"version": 1})).unwrap();
        let ensured = with_socket(&doc, None, "/state/exec-approvals.sock");
        let (path, token) = socket_fields(&ensured);
        assert_eq!(path.as_deref(), Some("/state/exec-approvals.sock"));
        assert_eq!(token.as_ref().map(String::len), Some(32));
        let redacted = redact(&ensured);
        assert_eq!(
            redacted["socket"],
            json!({"path": "/state/exec-approvals.sock"})
        );
        let kept = with_socket(&doc, Some(&ensured), "/other");
        assert_eq!(socket_fields(&kept), socket_fields(&ensured));
        assert!(redact(&doc).get("socket").is_none());
        let uuid = random_uuid();
        assert_eq!(&uuid[14..15], "4");
    }
}
