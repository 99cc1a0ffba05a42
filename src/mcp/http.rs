//! The HTTP transports: `streamable-http` (MCP 2025-03-26 and later) and the legacy `sse`
//! (2024-11-05), over ureq (blocking HTTP/1.1, rustls with the webpki roots).
//!
//! Streamable HTTP: every message is a POST to the server's URL; a request's answer comes
//! back as a JSON body or as an SSE stream on that POST. The `mcp-session-id` of the
//! `initialize` answer goes on every later request; after `notifications/initialized` a GET
//! stream carries the server's own messages (`tools/list_changed`) when the server offers one
//! (405 otherwise). A 404 for a request of an established session means the session expired:
//! the connection ends and the server thread reconnects.
//!
//! SSE: a GET stream whose first `endpoint` event names the URL (same origin) messages are
//! POSTed to; everything the server says comes on the stream. The stream ending ends the
//! connection.
//!
//! Each POST runs on a short thread of its own, so a slow server never blocks the server's
//! thread; each open stream has a reader thread. A stream reader blocked on a server that
//! neither sends nor closes lingers until the server does (ureq cannot interrupt a read); it
//! holds no lock and forwards nothing once its connection is closed.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use serde_json::{json, Value};

use super::client::{Incoming, Transport};
use super::config::{ServerConfig, Transport as TransportConfig};

/// One SSE event or JSON body may be this long.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// How long closing a streamable session (DELETE) may take.
const SESSION_TERMINATION_TIMEOUT: Duration = Duration::from_secs(5);

struct Shared {
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
    incoming: Sender<Incoming>,
    closed: AtomicBool,
    session_id: Mutex<Option<String>>,
    protocol_version: Mutex<Option<String>>,
    server: String,
}

impl Shared {
    fn forward(&self, incoming: Incoming) -> bool {
        !self.closed.load(Ordering::SeqCst) && self.incoming.send(incoming).is_ok()
    }

    fn with_headers<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        for (key, value) in &self.headers {
            request = request.header(key.as_str(), value.as_str());
        }
        if let Some(id) = &*self.session_id.lock().unwrap_or_else(|p| p.into_inner()) {
            request = request.header("mcp-session-id", id.as_str());
        }
        if let Some(version) = &*self.protocol_version.lock().unwrap_or_else(|p| p.into_inner()) {
            request = request.header("mcp-protocol-version", version.as_str());
        }
        request
    }
}

pub struct HttpTransport {
    shared: Arc<Shared>,
    /// Streamable: the server's URL; SSE: the endpoint the stream named.
    post_url: String,
    streamable: bool,
}

fn agent(config: &ServerConfig, ssl_verify: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(!ssl_verify)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(config.connection_timeout))
        .max_redirects(0)
        .build()
        .into()
}

impl HttpTransport {
    /// Connects: nothing to do for streamable HTTP; for SSE, opens the stream and waits for its
    /// `endpoint` event (within the connection timeout).
    pub fn open(config: &ServerConfig, incoming: Sender<Incoming>) -> Result<HttpTransport, String> {
        let TransportConfig::Http {
            url,
            streamable,
            headers,
            ssl_verify,
        } = &config.transport
        else {
            return Err("not an HTTP server".into());
        };
        let shared = Arc::new(Shared {
            agent: agent(config, *ssl_verify),
            headers: headers.clone(),
            incoming,
            closed: AtomicBool::new(false),
            session_id: Mutex::new(None),
            protocol_version: Mutex::new(None),
            server: config.name.clone(),
        });
        if *streamable {
            return Ok(HttpTransport {
                shared,
                post_url: url.clone(),
                streamable: true,
            });
        }
        let response = shared
            .with_headers(shared.agent.get(url.as_str()))
            .header("accept", "text/event-stream")
            .call()
            .map_err(|err| format!("SSE error: {err}"))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!("SSE error: Non-200 status code ({status})"));
        }
        let (endpoint_tx, endpoint_rx) = crossbeam_channel::bounded(1);
        let reader_shared = shared.clone();
        let base = url.clone();
        std::thread::Builder::new()
            .name(format!("mcp-{}-sse", config.name))
            .spawn(move || {
                let mut endpoint_tx = Some(endpoint_tx);
                let end = read_events(response.into_body().into_reader(), |event, data| {
                    if event == "endpoint" {
                        if let Some(tx) = endpoint_tx.take() {
                            let _ = tx.send(resolve_endpoint(&base, data));
                        }
                        return true;
                    }
                    forward_data(&reader_shared, data)
                });
                reader_shared.forward(Incoming::Closed(format!("the SSE stream ended: {end}")));
            })
            .map_err(|err| format!("cannot start a reader thread: {err}"))?;
        let endpoint = endpoint_rx
            .recv_timeout(config.connection_timeout)
            .map_err(|_| "SSE error: no endpoint event from the server".to_string())??;
        Ok(HttpTransport {
            shared,
            post_url: endpoint,
            streamable: false,
        })
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, message: &Value) -> Result<(), String> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err("closed".into());
        }
        let body = serde_json::to_vec(message).map_err(|err| err.to_string())?;
        let shared = self.shared.clone();
        let url = self.post_url.clone();
        let streamable = self.streamable;
        let message = message.clone();
        std::thread::Builder::new()
            .name(format!("mcp-{}-post", self.shared.server))
            .spawn(move || post(&shared, &url, streamable, &message, &body))
            .map(|_| ())
            .map_err(|err| format!("cannot start a request thread: {err}"))
    }

    fn close(&mut self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let session = self.shared.session_id.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let (true, Some(_)) = (self.streamable, session) {
            let shared = self.shared.clone();
            let url = self.post_url.clone();
            let _ = std::thread::Builder::new()
                .name(format!("mcp-{}-close", self.shared.server))
                .spawn(move || {
                    let _ = shared
                        .with_headers(shared.agent.delete(url.as_str()))
                        .config()
                        .timeout_global(Some(SESSION_TERMINATION_TIMEOUT))
                        .build()
                        .call();
                });
        }
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.close();
    }
}

/// One POST and what comes back of it.
fn post(shared: &Shared, url: &str, streamable: bool, message: &Value, body: &[u8]) {
    let id = message.get("id").cloned().filter(|_| message.get("method").is_some());
    let is_initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
    let is_initialized =
        message.get("method").and_then(Value::as_str) == Some("notifications/initialized");
    let had_session = shared.session_id.lock().unwrap_or_else(|p| p.into_inner()).is_some();
    let request = shared
        .with_headers(shared.agent.post(url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    let fail = |text: String| {
        match &id {
            Some(id) => {
                shared.forward(Incoming::Message(json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32000, "message": text}})));
            }
            None => log::debug!("mcp {}: {text}", shared.server),
        }
    };
    let response = match request.send(body) {
        Ok(response) => response,
        Err(err) => return fail(format!("Error POSTing to endpoint: {err}")),
    };
    let status = response.status().as_u16();
    if streamable && is_initialize {
        if let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *shared.session_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.to_string());
        }
    }
    if status == 202 {
        if streamable && is_initialized {
            open_stream(shared, url);
        }
        return;
    }
    if !(200..300).contains(&status) {
        fail(format!("Streamable HTTP error: Error POSTing to endpoint (HTTP {status})"));
        if streamable && status == 404 && had_session {
            shared.forward(Incoming::Closed("the HTTP session expired".into()));
        }
        return;
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let reader = response.into_body().into_reader();
    if content_type == "text/event-stream" {
        read_events(reader, |_, data| {
            remember_version(shared, is_initialize, data);
            forward_data(shared, data)
        });
    } else if content_type == "application/json" {
        let mut text = Vec::new();
        match reader.take(MAX_MESSAGE_BYTES as u64 + 1).read_to_end(&mut text) {
            Ok(_) if text.len() <= MAX_MESSAGE_BYTES => {
                let text = String::from_utf8_lossy(&text);
                remember_version(shared, is_initialize, &text);
                // A body may hold one message or a batch.
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(batch)) => {
                        for message in batch {
                            shared.forward(Incoming::Message(message));
                        }
                    }
                    Ok(message) => {
                        shared.forward(Incoming::Message(message));
                    }
                    Err(err) => fail(format!("the server answered invalid JSON: {err}")),
                }
            }
            Ok(_) => fail(format!("MCP response exceeds {MAX_MESSAGE_BYTES} bytes")),
            Err(err) => fail(format!("reading the response failed: {err}")),
        }
    } else if id.is_some() {
        fail(format!("Unexpected content type: {content_type}"));
    }
}

/// After `initialize`: the protocol version goes on later requests as `mcp-protocol-version`.
fn remember_version(shared: &Shared, is_initialize: bool, data: &str) {
    if !is_initialize {
        return;
    }
    if let Some(version) = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.pointer("/result/protocolVersion").and_then(Value::as_str).map(String::from))
    {
        *shared.protocol_version.lock().unwrap_or_else(|p| p.into_inner()) = Some(version);
    }
}

/// The streamable transport's GET stream for the server's own messages, if it offers one.
fn open_stream(shared: &Shared, url: &str) {
    let response = match shared
        .with_headers(shared.agent.get(url))
        .header("accept", "text/event-stream")
        .call()
    {
        Ok(response) => response,
        Err(err) => return log::debug!("mcp {}: no GET stream: {err}", shared.server),
    };
    let status = response.status().as_u16();
    if status != 200 {
        // 405: the server offers no stream; list changes then go unnoticed, as with TS.
        return log::debug!("mcp {}: no GET stream (HTTP {status})", shared.server);
    }
    let end = read_events(response.into_body().into_reader(), |_, data| forward_data(shared, data));
    log::debug!("mcp {}: the GET stream ended: {end}", shared.server);
}

fn forward_data(shared: &Shared, data: &str) -> bool {
    if data.trim().is_empty() {
        return true;
    }
    match serde_json::from_str::<Value>(data) {
        Ok(message) => shared.forward(Incoming::Message(message)),
        Err(err) => {
            log::debug!("mcp {}: ignored an SSE event that is not JSON: {err}", shared.server);
            true
        }
    }
}

/// Reads `text/event-stream` events, calling `on_event(event, data)` for each (`message`
/// when the event has no name) until it returns false or the stream ends; why it ended.
fn read_events(reader: impl Read, mut on_event: impl FnMut(&str, &str) -> bool) -> String {
    let mut reader = BufReader::new(reader);
    let mut event = String::new();
    let mut data = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return "end of stream".into(),
            Ok(_) if line.len() > MAX_MESSAGE_BYTES => {
                return format!("an event exceeded {MAX_MESSAGE_BYTES} bytes")
            }
            Ok(_) => {}
            Err(err) => return err.to_string(),
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            if !data.is_empty() || !event.is_empty() {
                let name = if event.is_empty() { "message" } else { &event };
                let payload = data.strip_suffix('\n').unwrap_or(&data);
                if !on_event(name, payload) {
                    return "closed".into();
                }
            }
            event.clear();
            data.clear();
            continue;
        }
        if text.starts_with(':') {
            continue;
        }
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text, ""),
        };
        match field {
            "event" => event = value.to_string(),
            "data" => {
                if data.len() + value.len() > MAX_MESSAGE_BYTES {
                    return format!("an event exceeded {MAX_MESSAGE_BYTES} bytes");
                }
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    }
}

/// The POST URL an `endpoint` event names, resolved against the stream's URL; it must have
/// the same origin.
fn resolve_endpoint(base: &str, data: &str) -> Result<String, String> {
    let data = data.trim();
    let base_origin = origin(base).ok_or("invalid server URL")?;
    let resolved = if data.starts_with("http://") || data.starts_with("https://") {
        data.to_string()
    } else if data.starts_with('/') {
        format!("{base_origin}{data}")
    } else {
        let path = &base[base_origin.len()..];
        let path = path.split(['?', '#']).next().unwrap_or("");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{base_origin}{dir}{data}")
    };
    if origin(&resolved).as_deref() != Some(base_origin.as_str()) {
        return Err(format!(
            "Endpoint origin does not match connection origin: {}",
            origin(&resolved).unwrap_or_default()
        ));
    }
    Ok(resolved)
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_against_the_stream_url_on_the_same_origin() {
        let base = "http://127.0.0.1:9/mcp/sse?x=1";
        assert_eq!(resolve_endpoint(base, "/messages?sessionId=a").unwrap(), "http://127.0.0.1:9/messages?sessionId=a");
        assert_eq!(resolve_endpoint(base, "messages").unwrap(), "http://127.0.0.1:9/mcp/messages");
        assert_eq!(resolve_endpoint(base, "http://127.0.0.1:9/m").unwrap(), "http://127.0.0.1:9/m");
        assert!(resolve_endpoint(base, "http://evil.example/m").is_err());
    }

    #[test]
    fn sse_events_are_split_and_joined_as_the_spec_says() {
        let stream = b": comment\nevent: endpoint\ndata: /m\n\ndata: {\"a\":\ndata: 1}\r\n\r\nid: 3\ndata:x\n\n";
        let mut seen = Vec::new();
        let end = read_events(&stream[..], |event, data| {
            seen.push((event.to_string(), data.to_string()));
            true
        });
        assert_eq!(end, "end of stream");
        assert_eq!(
            seen,
            [
                ("endpoint".to_string(), "/m".to_string()),
                ("message".to_string(), "{\"a\":\n1}".to_string()),
                ("message".to_string(), "x".to_string()),
            ]
        );
    }
}
