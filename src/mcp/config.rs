//! `nodeHost.mcp.servers` of the node's `openclaw.json` (node-surface §9.2), read once at start.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::catalog::{locale_compare, ToolFilter};
use crate::config::NodeConfig;

const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The tool-call timeout when `requestTimeoutMs` is absent.
pub const DEFAULT_TOOL_CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest timer JavaScript can set (2^31 - 1 ms); TS clamps configured timeouts to it.
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// The variables the MCP SDK passes a stdio server from the host's own environment.
const DEFAULT_INHERITED: &[&str] = &["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];

/// Names the TS host lets a server's `env` set although they look dangerous: credentials a
/// server is expected to need.
const EXPLICIT_CREDENTIALS: &[&str] = &[
    "AMQP_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECURITY_TOKEN",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "DATABASE_URL",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "MONGODB_URI",
    "NODE_AUTH_TOKEN",
    "NPM_TOKEN",
    "REDIS_URL",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Stdio {
        command: String,
        args: Vec<String>,
        /// The configured `env`, dangerous names already dropped.
        env: Vec<(String, String)>,
        cwd: Option<String>,
    },
    Http {
        url: String,
        streamable: bool,
        headers: Vec<(String, String)>,
        ssl_verify: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    pub filter: ToolFilter,
    pub connection_timeout: Duration,
    /// `tools/list` and other requests.
    pub request_timeout: Duration,
    /// `tools/call`: `requestTimeoutMs`, else 120 s.
    pub tool_call_timeout: Duration,
}

/// The enabled servers, in TS's order (`localeCompare` of the names). Servers that cannot be
/// used are logged and left out, with TS's messages.
pub fn servers(config: &NodeConfig) -> Vec<ServerConfig> {
    let Some(Value::Object(raw)) = config.get(&["nodeHost", "mcp", "servers"]) else {
        return Vec::new();
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let mut names: Vec<&String> = raw
        .iter()
        .filter(|(name, server)| {
            server.is_object()
                && !name.is_empty()
                && name.trim() == name.as_str()
                && server.get("enabled") != Some(&Value::Bool(false))
        })
        .map(|(name, _)| name)
        .collect();
    names.sort_by(|a, b| locale_compare(a, b));
    names
        .into_iter()
        .filter_map(|name| parse_server(name, &raw[name.as_str()], &lookup))
        .collect()
}

fn parse_server(
    name: &str,
    raw: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<ServerConfig> {
    if raw.get("auth").and_then(Value::as_str) == Some("oauth")
        || raw.get("oauth").is_some_and(Value::is_object)
    {
        log::warn!("node host MCP server \"{name}\" skipped: OAuth is not supported");
        return None;
    }
    let raw = substitute(raw, lookup);
    let transport = match transport(name, &raw) {
        Ok(transport) => transport,
        Err(reason) => {
            log::warn!("node host MCP server \"{name}\" skipped: {reason}");
            return None;
        }
    };
    let request_timeout = timeout(&raw, "requestTimeoutMs");
    Some(ServerConfig {
        name: name.to_string(),
        transport,
        filter: ToolFilter::from_config(raw.get("toolFilter")),
        connection_timeout: timeout(&raw, "connectionTimeoutMs")
            .unwrap_or(DEFAULT_CONNECTION_TIMEOUT),
        request_timeout: request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        tool_call_timeout: request_timeout.unwrap_or(DEFAULT_TOOL_CALL_TIMEOUT),
    })
}

/// A positive number of milliseconds, clamped to what a JavaScript timer can wait.
fn timeout(raw: &Value, key: &str) -> Option<Duration> {
    let ms = raw.get(key)?.as_f64().filter(|ms| ms.is_finite() && *ms > 0.0)?;
    Some(Duration::from_millis(ms.clamp(1.0, MAX_TIMER_MS) as u64))
}

fn transport(name: &str, raw: &Value) -> Result<Transport, String> {
    let text = |key: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(command) = raw.get("command").and_then(Value::as_str) {
        if !command.trim().is_empty() {
            let args = raw
                .get("args")
                .and_then(Value::as_array)
                .map(|args| {
                    args.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let cwd = [raw.get("cwd"), raw.get("workingDirectory")]
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|dir| !dir.trim().is_empty())
                .map(String::from);
            return Ok(Transport::Stdio {
                command: command.to_string(),
                args,
                env: server_env(name, raw.get("env")),
                cwd,
            });
        }
    }
    let requested = text("transport").map(str::to_lowercase).or_else(|| {
        match text("type").map(str::to_lowercase).as_deref() {
            Some("http") | Some("streamable-http") => Some("streamable-http".to_string()),
            Some("sse") => Some("sse".to_string()),
            _ => None,
        }
    });
    if let Some(other) = requested
        .as_deref()
        .filter(|t| *t != "sse" && *t != "streamable-http")
    {
        return Err(format!("transport \"{other}\" is not supported"));
    }
    let Some(url) = text("url") else {
        return Err("its command is missing and its url is missing".to_string());
    };
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_lowercase());
    if scheme.as_deref() != Some("http") && scheme.as_deref() != Some("https") {
        return Err(format!(
            "only http and https URLs are supported, got {}:",
            scheme.unwrap_or_default()
        ));
    }
    Ok(Transport::Http {
        url: url.to_string(),
        streamable: requested.as_deref() == Some("streamable-http"),
        headers: string_record(raw.get("headers"), |key| {
            log::warn!("node host MCP server \"{name}\": header \"{key}\" has an unsupported value type and was ignored.");
        }),
        ssl_verify: raw.get("sslVerify").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// String, number and boolean values as strings; others dropped (with `on_dropped`).
fn string_record(raw: Option<&Value>, on_dropped: impl Fn(&str)) -> Vec<(String, String)> {
    let Some(Value::Object(entries)) = raw else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(key, value)| match value {
            Value::String(text) => Some((key.clone(), text.clone())),
            Value::Number(n) => Some((key.clone(), n.to_string())),
            Value::Bool(b) => Some((key.clone(), b.to_string())),
            _ => {
                on_dropped(key);
                None
            }
        })
        .collect()
}

/// The configured `env` without the names TS drops for stdio start-up safety.
fn server_env(name: &str, raw: Option<&Value>) -> Vec<(String, String)> {
    string_record(raw, |_| {})
        .into_iter()
        .filter(|(key, _)| {
            let dangerous = is_dangerous_env_name(key);
            if dangerous {
                log::warn!("node host MCP server \"{name}\": env \"{key}\" is blocked for stdio startup safety and was ignored.");
            }
            !dangerous
        })
        .collect()
}

/// TS `isDangerousMcpStdioEnvVarName`: dangerous everywhere, or dangerous to inherit unless it
/// is one of the explicit credential names.
pub fn is_dangerous_env_name(raw: &str) -> bool {
    let key = raw.trim();
    if key.is_empty() {
        return false;
    }
    let upper = key.to_uppercase();
    if crate::approvals::env::is_dangerous_everywhere(&upper) {
        return true;
    }
    !EXPLICIT_CREDENTIALS.contains(&upper.as_str())
        && crate::approvals::env::is_blocked_inherited_key(key)
}

/// The environment of a stdio server: the SDK's default variables from the node's own
/// environment (never one that holds a shell function, nor one of the node's secrets), then
/// the configured `env`. Nothing else of the node's environment.
pub fn child_env(
    configured: &[(String, String)],
    secrets: &crate::secrets::Secrets,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for key in DEFAULT_INHERITED {
        if let Ok(value) = std::env::var(key) {
            if !value.starts_with("()") && !secrets.withholds(key, &value) {
                env.insert(key.to_string(), value);
            }
        }
    }
    for (key, value) in configured {
        env.insert(key.clone(), value.clone());
    }
    env
}

/// OpenClaw's `${VAR}` substitution in every string of the server's config: `${NAME}` (name
/// `[A-Z_][A-Z0-9_]*`) becomes the variable's value; `$${NAME}` stays `${NAME}`; an unset or
/// empty variable is an error in TS, here the reference becomes empty and is logged.
fn substitute(raw: &Value, lookup: &dyn Fn(&str) -> Option<String>) -> Value {
    match raw {
        Value::String(text) => Value::String(substitute_text(text, lookup)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, lookup)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn substitute_text(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(escaped) = tail.strip_prefix("$${") {
            if let Some((name, after)) = reference(escaped) {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
                rest = after;
                continue;
            }
        }
        if let Some((name, after)) = tail.strip_prefix("${").and_then(reference) {
            match lookup(name).filter(|value| !value.is_empty()) {
                Some(value) => out.push_str(&value),
                None => log::warn!(
                    "node host MCP config: environment variable {name} is not set; ${{{name}}} is left empty"
                ),
            }
            rest = after;
            continue;
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// `NAME}` at the start of `text`: the name and what follows the brace.
fn reference(text: &str) -> Option<(&str, &str)> {
    let end = text.find('}')?;
    let name = &text[..end];
    let valid = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    valid.then(|| (name, &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(raw: Value) -> Vec<ServerConfig> {
        servers(&NodeConfig::from_value(
            json!({"nodeHost":{"mcp":{"servers": raw}}}),
        ))
    }

    #[test]
    fn stdio_and_http_servers_in_locale_order() {
        let got = parse(json!({
            "localDocs": {"command": "npx", "args": ["-y", 3, "srv"], "env": {"FOO": 1, "LD_PRELOAD": "/x.so",
                "NODE_OPTIONS": "--require x", "GITHUB_TOKEN": "t", "BAD": {}}, "workingDirectory": "/srv",
                "toolFilter": {"include": ["read_*"]}, "requestTimeoutMs": 3000},
            "api": {"url": "https://mcp.example/mcp", "type": "http", "headers": {"X-N": 2}},
            "events": {"url": "http://127.0.0.1:9/sse"},
            "off": {"command": "x", "enabled": false},
            " padded": {"command": "x"},
            "oauth": {"url": "https://x", "auth": "oauth"},
            "ws": {"url": "ws://x", "transport": "websocket"},
            "notobject": 5,
        }));
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api", "events", "localDocs"]);
        assert_eq!(
            got[2].transport,
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "srv".into()],
                env: vec![("FOO".into(), "1".into()), ("GITHUB_TOKEN".into(), "t".into())],
                cwd: Some("/srv".into()),
            }
        );
        assert_eq!(got[2].tool_call_timeout, Duration::from_secs(3));
        assert_eq!(got[2].request_timeout, Duration::from_secs(3));
        assert_eq!(got[0].tool_call_timeout, DEFAULT_TOOL_CALL_TIMEOUT);
        assert_eq!(got[0].request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert!(matches!(&got[0].transport, Transport::Http { streamable: true, headers, .. }
            if headers == &[("X-N".to_string(), "2".to_string())]));
        assert!(matches!(&got[1].transport, Transport::Http { streamable: false, .. }));
    }

    #[test]
    fn variables_are_substituted_in_strings() {
        let lookup = |name: &str| (name == "TOKEN").then(|| "s3cret".to_string());
        assert_eq!(substitute_text("Bearer ${TOKEN}", &lookup), "Bearer s3cret");
        assert_eq!(substitute_text("$${TOKEN} $x ${lower}", &lookup), "${TOKEN} $x ${lower}");
        assert_eq!(substitute_text("a${MISSING}b", &lookup), "ab");
    }

    #[test]
    fn the_child_env_is_the_default_set_plus_the_configured_one() {
        let secrets = crate::secrets::Secrets::new(vec![], vec![]);
        let env = child_env(&[("BAR".into(), "1".into())], &secrets);
        assert_eq!(env.get("BAR").map(String::as_str), Some("1"));
        for key in env.keys() {
            assert!(key == "BAR" || DEFAULT_INHERITED.contains(&key.as_str()), "{key}");
        }
    }

    #[test]
    fn dangerous_names_follow_ts() {
        for name in ["LD_PRELOAD", "NODE_OPTIONS", "DYLD_X", "BASH_ENV", "PYTHONPATH"] {
            assert!(is_dangerous_env_name(name), "{name}");
        }
        for name in ["FOO", "GITHUB_TOKEN", "PATH_EXTRA", " "] {
            assert!(!is_dangerous_env_name(name), "{name}");
        }
    }
}
