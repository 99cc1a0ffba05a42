//! `ollama.models` and `ollama.chat` (cap `local-inference`, node-surface §10): the local
//! Ollama at `http://127.0.0.1:11434` (fixed, as in TS), with TS's exact requests, filtering,
//! ordering, validation, deadline and error texts. Plugin envelope: results as `payloadJSON`,
//! every failure `INVALID_REQUEST` with JavaScript's `String(err)`.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::InvokeContext;
use crate::config::NodeConfig;
use crate::invoke::{InvokeError, InvokeResult};
use crate::mcp::catalog::{locale_compare, utf16_len};

pub const BASE_URL: &str = "http://127.0.0.1:11434";
const TAGS_TIMEOUT: Duration = Duration::from_secs(5);
const SHOW_TIMEOUT: Duration = Duration::from_secs(3);
const SHOW_CONCURRENCY: usize = 8;
const MAX_PROBES: usize = 800;
const MAX_MODELS: usize = 200;
const MAX_ERROR_BODY_BYTES: usize = 500;
/// Ollama answers are JSON documents; larger is not an answer.
const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Whether the commands are declared: unless `plugins.entries.ollama` or its
/// `config.nodeInference` is turned off.
pub fn enabled(config: &NodeConfig) -> bool {
    config.get_bool(&["plugins", "entries", "ollama", "enabled"]) != Some(false)
        && config.get_bool(&[
            "plugins",
            "entries",
            "ollama",
            "config",
            "nodeInference",
            "enabled",
        ]) != Some(false)
}

/// A thrown JavaScript error, as `String(err)` shows it.
fn error(message: impl std::fmt::Display) -> InvokeError {
    InvokeError::invalid(format!("Error: {message}"))
}

fn input_error(message: impl std::fmt::Display) -> InvokeError {
    InvokeError::invalid(format!("ToolInputError: {message}"))
}

enum Fetch {
    /// Status and body.
    Answer(u16, Vec<u8>),
    /// Not reachable (connection refused, timed out, …), with the reason.
    Failed(String),
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn fetch(path: &str, body: Option<&Value>, timeout: Duration) -> Fetch {
    let url = format!("{BASE_URL}{path}");
    let agent = agent();
    let answer = match body {
        None => agent
            .get(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call(),
        Some(body) => agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes()),
    };
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            match response
                .into_body()
                .into_with_config()
                .limit(MAX_BODY_BYTES)
                .read_to_vec()
            {
                Ok(bytes) => Fetch::Answer(status, bytes),
                Err(err) => Fetch::Failed(describe(&err)),
            }
        }
        Err(err) => Fetch::Failed(describe(&err)),
    }
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "The operation was aborted due to timeout".to_string(),
        ureq::Error::Io(io) => format!("fetch failed: {io}"),
        other => format!("fetch failed: {other}"),
    }
}

/// `GET /api/tags` or `/api/ps`: `None` when Ollama cannot be reached (or answers something
/// that is not JSON); a non-2xx answer is reachable with no models.
fn model_rows(endpoint: &str, timeout: Duration) -> Option<Vec<Value>> {
    match fetch(&format!("/api/{endpoint}"), None, timeout.min(TAGS_TIMEOUT)) {
        Fetch::Answer(status, _) if !(200..300).contains(&status) => Some(Vec::new()),
        Fetch::Answer(_, body) => {
            let data: Value = serde_json::from_slice(&body).ok()?;
            Some(
                data.get("models")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            )
        }
        Fetch::Failed(_) => None,
    }
}

/// The models of `/api/tags` that have a name.
fn tags(timeout: Duration) -> Option<Vec<Value>> {
    model_rows("tags", timeout).map(|models| {
        models
            .into_iter()
            .filter(|m| m.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
            .collect()
    })
}

fn name_of(model: &Value) -> &str {
    model.get("name").and_then(Value::as_str).unwrap_or("")
}

/// `remote_host`/`remote_model`, or a cloud reference (`x:cloud`, `x-cloud`).
fn is_remote(model: &Value) -> bool {
    let set = |key: &str| {
        model
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    set("remote_host") || set("remote_model") || is_cloud_ref(name_of(model))
}

fn is_cloud_ref(name: &str) -> bool {
    let normalized = name.trim().to_lowercase();
    if normalized.is_empty() {
        return false;
    }
    match source_suffix(&normalized) {
        Some((base, "cloud")) => source_suffix(base).is_none(),
        _ => false,
    }
}

fn source_suffix(model: &str) -> Option<(&str, &str)> {
    let at = model.rfind(':')?;
    let source = &model[at + 1..];
    if source == "cloud" || source == "local" {
        return Some((&model[..at], source));
    }
    if !source.contains('/') && source.ends_with("-cloud") {
        return Some((&model[..model.len() - 6], "cloud"));
    }
    None
}

/// What `/api/show` says of a model: its context window and capabilities; `None` when the
/// probe failed.
struct ShowInfo {
    context_window: Option<u64>,
    capabilities: Option<Vec<String>>,
}

fn show(name: &str, timeout: Duration) -> Option<ShowInfo> {
    let Fetch::Answer(status, body) = fetch("/api/show", Some(&json!({"model": name})), timeout.min(SHOW_TIMEOUT)) else {
        return None;
    };
    if !(200..300).contains(&status) {
        return None;
    }
    let data: Value = serde_json::from_slice(&body).ok()?;
    let mut context_window = data
        .get("model_info")
        .and_then(Value::as_object)
        .and_then(|info| {
            info.iter()
                .filter(|(key, _)| key.ends_with(".context_length"))
                .filter_map(|(_, value)| value.as_f64())
                .map(f64::floor)
                .find(|ctx| ctx.is_finite() && *ctx > 0.0)
        })
        .map(|ctx| ctx as u64);
    if let Some(num_ctx) = data.get("parameters").and_then(Value::as_str).and_then(num_ctx) {
        if context_window.map_or(true, |ctx| num_ctx > ctx) {
            context_window = Some(num_ctx);
        }
    }
    let capabilities = data.get("capabilities").and_then(Value::as_array).map(|caps| {
        caps.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    });
    Some(ShowInfo {
        context_window,
        capabilities,
    })
}

/// The last positive `num_ctx N` line of a Modelfile's parameters.
fn num_ctx(parameters: &str) -> Option<u64> {
    parameters
        .lines()
        .rev()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("num_ctx")?;
            if !rest.starts_with(char::is_whitespace) {
                return None;
            }
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            digits.parse::<i64>().ok().filter(|n| *n > 0).map(|n| n as u64)
        })
}

/// A model with what `/api/show` added (TS `mergeOllamaModelShowInfo` for local models).
struct Enriched {
    model: Value,
    context_window: Option<u64>,
    capabilities: Option<Vec<String>>,
}

fn enrich(models: &[Value], timeout: Duration) -> Vec<Enriched> {
    let infos: Vec<Option<ShowInfo>> = std::thread::scope(|scope| {
        let probes: Vec<_> = models
            .iter()
            .map(|model| scope.spawn(move || show(name_of(model), timeout)))
            .collect();
        probes.into_iter().map(|p| p.join().ok().flatten()).collect()
    });
    models
        .iter()
        .zip(infos)
        .map(|(model, info)| {
            let listed_caps = model.get("capabilities").and_then(Value::as_array).map(|caps| {
                caps.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            });
            let listed_ctx = model
                .get("contextWindow")
                .or_else(|| model.pointer("/details/context_length"))
                .and_then(Value::as_u64);
            let (context_window, capabilities) = match info {
                Some(info) => (
                    info.context_window.or(listed_ctx),
                    info.capabilities.or(listed_caps),
                ),
                None => (listed_ctx, listed_caps),
            };
            Enriched {
                model: model.clone(),
                context_window,
                capabilities,
            }
        })
        .collect()
}

fn can_complete(model: &Enriched) -> bool {
    model
        .capabilities
        .as_ref()
        .is_some_and(|caps| caps.iter().any(|c| c == "completion"))
}

pub fn handle_models(_ctx: &InvokeContext, _params_json: Option<&str>) -> InvokeResult {
    let Some(models) = tags(TAGS_TIMEOUT) else {
        return Err(error(format!("Ollama is not running at {BASE_URL}")));
    };
    let local: Vec<Value> = models.into_iter().filter(|m| !is_remote(m)).collect();
    let loaded: Vec<String> = model_rows("ps", TAGS_TIMEOUT)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            m.get("name")
                .and_then(Value::as_str)
                .or_else(|| m.get("model").and_then(Value::as_str))
                .map(|n| n.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .collect();
    let is_loaded = |name: &str| loaded.iter().any(|l| l == name);
    let mut prioritized = local;
    prioritized.sort_by_key(|m| !is_loaded(name_of(m)));
    let mut kept: Vec<Enriched> = Vec::new();
    let probes = prioritized.len().min(MAX_PROBES);
    let mut index = 0;
    while index < probes && kept.len() < MAX_MODELS {
        let batch = &prioritized[index..(index + SHOW_CONCURRENCY).min(probes)];
        for model in enrich(batch, SHOW_TIMEOUT) {
            if can_complete(&model) {
                kept.push(model);
                if kept.len() == MAX_MODELS {
                    break;
                }
            }
        }
        index += SHOW_CONCURRENCY;
    }
    let mut rows: Vec<(bool, Option<u64>, String, Value)> = kept
        .into_iter()
        .map(|entry| {
            let name = name_of(&entry.model).to_string();
            let mut row = Map::new();
            row.insert("name".into(), json!(name));
            row.insert("loaded".into(), json!(is_loaded(&name)));
            let size = entry.model.get("size").filter(|s| s.is_number()).cloned();
            if let Some(size) = &size {
                row.insert("size".into(), size.clone());
            }
            if let Some(modified) = entry.model.get("modified_at").filter(|v| v.is_string()) {
                row.insert("modifiedAt".into(), modified.clone());
            }
            let details = entry.model.get("details");
            for (from, to) in [
                ("family", "family"),
                ("parameter_size", "parameterSize"),
                ("quantization_level", "quantization"),
            ] {
                if let Some(value) = details.and_then(|d| d.get(from)).filter(|v| truthy(v)) {
                    row.insert(to.into(), value.clone());
                }
            }
            if let Some(ctx) = entry.context_window {
                row.insert("contextWindow".into(), json!(ctx));
            }
            if let Some(caps) = &entry.capabilities {
                row.insert("capabilities".into(), json!(caps));
            }
            (is_loaded(&name), size.and_then(|s| s.as_u64()), name, Value::Object(row))
        })
        .collect();
    rows.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.unwrap_or(u64::MAX).cmp(&b.1.unwrap_or(u64::MAX)))
            .then_with(|| locale_compare(&a.2, &b.2))
    });
    let models: Vec<Value> = rows.into_iter().map(|(_, _, _, row)| row).collect();
    Ok(json!({"provider": "ollama", "models": models}).to_string().into())
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => true,
    }
}

/// `params[key]`, or its snake_case spelling (`maxTokens` → `max_tokens`), as TS reads tool
/// params.
fn param<'a>(params: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    params.get(key).or_else(|| {
        let mut snake = String::new();
        for c in key.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        params.get(&snake)
    })
}

/// TS `readNumberParam(strict)`: a finite number, or a string holding one.
fn number_param(params: &Map<String, Value>, key: &str) -> Option<f64> {
    match param(params, key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => {
            let text = text.trim();
            let valid = !text.is_empty()
                && text
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
            if valid {
                text.parse::<f64>().ok().filter(|n| n.is_finite())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn present(params: &Map<String, Value>, key: &str) -> bool {
    match param(params, key) {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.trim().is_empty(),
        Some(_) => true,
    }
}

fn positive_integer(
    params: &Map<String, Value>,
    key: &str,
    max: f64,
    message: &str,
) -> Result<Option<u64>, InvokeError> {
    match number_param(params, key) {
        Some(n) if n.fract() == 0.0 && n > 0.0 && n <= 9_007_199_254_740_991.0 => {
            if n > max {
                Err(input_error(message))
            } else {
                Ok(Some(n as u64))
            }
        }
        _ if present(params, key) => Err(input_error(message)),
        _ => Ok(None),
    }
}

fn string_param(params: &Map<String, Value>, key: &str, trim: bool) -> Option<String> {
    let raw = param(params, key)?.as_str()?;
    let value = if trim { raw.trim() } else { raw };
    (!value.is_empty()).then(|| value.to_string())
}

pub fn handle_chat(_ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = match params_json {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(error("node inference params must be a JSON object")),
            Err(err) => {
                return Err(InvokeError::invalid(format!(
                    "SyntaxError: {err} in JSON"
                )))
            }
        },
    };
    let model = string_param(&params, "model", true).ok_or_else(|| input_error("model required"))?;
    let prompt =
        string_param(&params, "prompt", false).ok_or_else(|| input_error("prompt required"))?;
    let system = string_param(&params, "system", false);
    let max_tokens = positive_integer(
        &params,
        "maxTokens",
        8192.0,
        "maxTokens must be an integer between 1 and 8192",
    )?
    .unwrap_or(512);
    let timeout_ms = positive_integer(
        &params,
        "timeoutMs",
        600_000.0,
        "timeoutMs must be an integer between 1 and 600000",
    )?
    .unwrap_or(120_000);
    let temperature = match number_param(&params, "temperature") {
        Some(t) if (0.0..=2.0).contains(&t) => Some(t),
        Some(_) => return Err(input_error("temperature must be between 0 and 2")),
        None if present(&params, "temperature") => {
            return Err(input_error("temperature must be between 0 and 2"))
        }
        None => None,
    };
    if utf16_len(&prompt) > 128_000 {
        return Err(error("prompt exceeds 128000 characters"));
    }
    if system.as_ref().is_some_and(|s| utf16_len(s) > 32_000) {
        return Err(error("system exceeds 32000 characters"));
    }
    chat(&model, &prompt, system.as_deref(), max_tokens, timeout_ms, temperature)
}

fn chat(
    model: &str,
    prompt: &str,
    system: Option<&str>,
    max_tokens: u64,
    timeout_ms: u64,
    temperature: Option<f64>,
) -> InvokeResult {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let remaining = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(error(format!(
                "Ollama node inference timed out after {timeout_ms}ms"
            )))
        } else {
            Ok(left)
        }
    };
    let discovered = tags(remaining()?);
    let local = discovered
        .as_ref()
        .and_then(|models| models.iter().find(|m| name_of(m) == model && !is_remote(m)));
    let chat_model = match local {
        Some(local) => enrich(std::slice::from_ref(local), remaining()?)
            .into_iter()
            .next(),
        None => None,
    };
    if discovered.is_none() || !chat_model.as_ref().is_some_and(can_complete) {
        remaining()?;
        return Err(error(format!(
            "Ollama model {} is not a local chat model; discover models first",
            Value::from(model)
        )));
    }
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let mut options = Map::new();
    options.insert("num_predict".into(), json!(max_tokens));
    if let Some(t) = temperature {
        options.insert("temperature".into(), json!(t));
    }
    let body = json!({"model": model, "messages": messages, "stream": false, "think": false,
        "options": options});
    let data = match fetch("/api/chat", Some(&body), remaining()?) {
        Fetch::Failed(why) => {
            return Err(error(format!("Ollama is unavailable at {BASE_URL}: {why}")))
        }
        Fetch::Answer(status, body) if !(200..300).contains(&status) => {
            let end = body.len().min(MAX_ERROR_BODY_BYTES);
            let text = String::from_utf8_lossy(&body[..end]).trim().to_string();
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(String::from))
                .unwrap_or(text);
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            return Err(error(format!(
                "Ollama /api/chat failed (HTTP {status}){detail}"
            )));
        }
        Fetch::Answer(_, body) => serde_json::from_slice::<Value>(&body).map_err(|_| {
            error("ollama-node-inference/api/chat: malformed JSON response")
        })?,
    };
    let Some(response) = data.pointer("/message/content").and_then(Value::as_str) else {
        return Err(error(
            "Ollama /api/chat response did not contain message.content",
        ));
    };
    if data.get("done_reason").and_then(Value::as_str) == Some("length") {
        return Err(error(format!(
            "Ollama stopped after reaching maxTokens ({max_tokens}); retry with a larger maxTokens value"
        )));
    }
    let mut result = Map::new();
    result.insert("provider".into(), json!("ollama"));
    let reported = data
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(model);
    result.insert("model".into(), json!(reported));
    result.insert("response".into(), json!(response));
    let finite = |key: &str| data.get(key).and_then(Value::as_f64).filter(|n| n.is_finite());
    let mut usage = Map::new();
    if let Some(n) = finite("prompt_eval_count") {
        usage.insert("promptTokens".into(), number(n));
    }
    if let Some(n) = finite("eval_count") {
        usage.insert("completionTokens".into(), number(n));
    }
    if !usage.is_empty() {
        result.insert("usage".into(), Value::Object(usage));
    }
    let mut timings = Map::new();
    for (from, to) in [("load_duration", "loadMs"), ("total_duration", "totalMs")] {
        if let Some(ns) = finite(from).filter(|ns| *ns >= 0.0) {
            timings.insert(to.into(), number((ns / 1e6 * 100.0).round() / 100.0));
        }
    }
    if !timings.is_empty() {
        result.insert("timings".into(), Value::Object(timings));
    }
    Ok(Value::Object(result).to_string().into())
}

/// A number as JavaScript writes it: integers without a fraction.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_and_remote_models_are_recognised() {
        assert!(is_cloud_ref("kimi-k3:cloud"));
        assert!(is_cloud_ref("gpt-oss:120b-cloud"));
        assert!(!is_cloud_ref("llama3.2:1b"));
        assert!(!is_cloud_ref("x:local"));
        assert!(is_remote(&json!({"name": "a", "remote_host": "https://ollama.com"})));
        assert!(!is_remote(&json!({"name": "a", "remote_host": " "})));
    }

    #[test]
    fn num_ctx_is_the_last_positive_one() {
        assert_eq!(num_ctx("stop x\nnum_ctx 4096\nnum_ctx   8192\n"), Some(8192));
        assert_eq!(num_ctx("num_ctx -1\nnum_ctxx 5"), None);
    }

    #[test]
    fn config_turns_the_commands_off() {
        assert!(enabled(&NodeConfig::default()));
        let off = NodeConfig::from_value(
            json!({"plugins":{"entries":{"ollama":{"config":{"nodeInference":{"enabled":false}}}}}}),
        );
        assert!(!enabled(&off));
    }
}
