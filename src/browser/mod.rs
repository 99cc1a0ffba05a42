//! `browser.proxy`: drive a local Chromium over the Chrome DevTools Protocol (spec
//! `browser-proxy.md`).
//!
//! The gateway sends HTTP-shaped requests `{method, path, query, body}` meant for the OpenClaw
//! browser control server; this module answers them the way the TS node host's in-process
//! dispatcher does, but talks raw CDP to Chromium instead of going through Playwright. The
//! browser runs headless with its own profile under the node's state directory, starts on the
//! first request that needs it, and stops with the node.
//!
//! ```text
//!  handle() ── checks (§3.2) ── routes::run ── Profile ── Instance ── CdpConnection ══ Chromium
//!     │                                          │            └─ Page (one per tab: dialogs,
//!     └── envelope: {result, files?, route?}     └─ tab aliases      refs, navigation state)
//! ```
//!
//! Modules: [`cdp`] (the WebSocket client), [`launcher`] (finding/starting/stopping Chromium),
//! `instance`/`page`/`profile` (browser, tab and profile state), `routes`, `snapshot`, `act`,
//! `keys`, `navguard` (the navigation policy), `request_guard` (every request a page makes, vetted
//! with that policy through CDP `Fetch`), `envelope` (reply shape and limits), `settings`,
//! `budget` (deadlines and cancellation).

mod act;
mod budget;
mod cdp;
mod envelope;
mod error;
mod instance;
mod keys;
mod launcher;
mod navguard;
mod request_guard;
mod page;
mod profile;
mod routes;
mod settings;
mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::cancel::CancelToken;
use crate::config::NodeConfig;
use crate::invoke::{InvokeError, InvokeResult};
use crate::js::string as js_string;
use crate::paths::StatePaths;
use crate::secrets::Secrets;

use budget::{Budget, Interrupt};
use error::RouteError;
use profile::{LaunchOptions, Profile};
pub use settings::{parse_bool, BrowserHost};
use settings::Settings;

/// The default whole-request budget (`timeoutMs`).
const DEFAULT_TIMEOUT_MS: u64 = 20_000;
/// Largest accepted `timeoutMs` (the JS timer range TS clamps to).
const MAX_TIMEOUT_MS: u64 = 2_147_000_000;
/// Budget of the status read that enriches the timeout message.
const STATUS_TIMEOUT: Duration = Duration::from_millis(750);
const CLOSE_OWNED_PATH: &str = "/__openclaw/session-tab/close-owned";

/// The node's browser proxy. Thread-safe: invocations run concurrently on the worker pool.
/// Dropping it stops every browser it started.
pub struct BrowserProxy {
    settings: Settings,
    profiles: Vec<Arc<Profile>>,
    media_dir: PathBuf,
    /// The node's secrets, kept out of Chromium's environment by name and by value.
    secrets: Secrets,
}

impl BrowserProxy {
    /// The proxy, when enabled by config (`browser.enabled`, `nodeHost.browserProxy.enabled`)
    /// and a browser executable or a CDP endpoint is available.
    pub fn from_config(
        config: &NodeConfig,
        host: &BrowserHost,
        paths: &StatePaths,
        secrets: Secrets,
    ) -> Option<BrowserProxy> {
        // Windows: Chrome/Edge discovery and a Job object for the browser are not in this build
        // yet, so the command is not offered there (README, "Windows").
        if cfg!(windows) {
            log::info!("browser.proxy is not available on Windows in this build");
            return None;
        }
        let base_dir = paths.browser_dir();
        let settings = Settings::from_config(config, host)?;
        let profiles = settings
            .profiles
            .iter()
            .map(|p| Arc::new(Profile::new(p.clone(), &base_dir, settings.navigation.clone())))
            .collect();
        Some(BrowserProxy {
            settings,
            profiles,
            media_dir: base_dir.join("media"),
            secrets,
        })
    }

    /// Serves one `browser.proxy` invocation: the processing order of spec §3.2, then the
    /// reply `{result, files?, route?}`.
    pub fn handle(&self, cancel: &CancelToken, params: Value) -> InvokeResult {
        let fail = |message: String| Err(InvokeError::invalid(format!("Error: {message}")));
        let empty = Map::new();
        let params_map = params.as_object().unwrap_or(&empty);
        if params_map.contains_key("upload") {
            return fail("INVALID_REQUEST: browser.proxy does not accept upload envelopes".into());
        }
        let raw_path = params_map
            .get("path")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if raw_path.is_empty() {
            return fail("INVALID_REQUEST: path required".into());
        }
        let method = params_map
            .get("method")
            .and_then(Value::as_str)
            .map(|m| m.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "GET".into());
        let path = normalize_path(raw_path);
        if !matches!(method.as_str(), "GET" | "POST" | "DELETE") {
            return fail("INVALID_REQUEST: method must be GET, POST, or DELETE".into());
        }
        if path == CLOSE_OWNED_PATH && method != "POST" {
            return fail("INVALID_REQUEST: owned tab close requires POST".into());
        }
        let body = params_map.get("body").cloned().unwrap_or(Value::Null);
        let query_in = params_map
            .get("query")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let profile_field = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let requested = profile_field(query_in.get("profile"))
            .or_else(|| profile_field(body.get("profile")))
            .or_else(|| profile_field(params_map.get("profile")))
            .unwrap_or_default();
        let effective = if path == "/profiles" {
            String::new()
        } else if requested.is_empty() {
            self.settings.default_profile.clone()
        } else {
            requested.clone()
        };
        let profile = self
            .profiles
            .iter()
            .find(|p| !effective.is_empty() && p.name() == effective);
        let route = match profile {
            Some(_) => json!({ "status": "resolved", "profile": effective, "driver": "openclaw" }),
            None => json!({ "status": "unavailable" }),
        };
        let include_route =
            params_map.get("errorEnvelope").and_then(Value::as_str) == Some("browser-v1");
        if is_profile_mutation(&method, &path) {
            return fail(
                "INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles".into(),
            );
        }
        if is_host_local(&method, &path) {
            return fail(
                "INVALID_REQUEST: browser.proxy cannot run host-local browser routes".into(),
            );
        }
        let selected = if effective.is_empty() {
            requested.clone()
        } else {
            effective.clone()
        };
        let allow = &self.settings.allow_profiles;
        if (path != "/profiles" || !selected.is_empty())
            && !allow.is_empty()
            && !allow.contains(&selected)
        {
            return fail("INVALID_REQUEST: browser profile not allowed".into());
        }
        let timeout_ms = request_timeout_ms(params_map.get("timeoutMs"));
        let budget = Budget::new(Duration::from_millis(timeout_ms), cancel.clone());
        let mut query = Map::new();
        for (key, value) in query_in {
            match value {
                Value::Null => {}
                Value::String(s) => {
                    query.insert(key, Value::String(s));
                }
                other => {
                    query.insert(key, Value::String(js_string(&other)));
                }
            }
        }
        if !selected.is_empty() {
            query.insert("profile".into(), Value::String(selected.clone()));
        }
        let wrap = |result: Value| -> Value {
            let mut payload = Map::new();
            payload.insert("result".into(), result);
            if include_route {
                payload.insert("route".into(), route.clone());
            }
            Value::Object(payload)
        };
        if path == CLOSE_OWNED_PATH {
            if !valid_ownership(&body) {
                return fail("INVALID_REQUEST: valid durable tab ownership required".into());
            }
            // This node never hands out durable ownership (tabs/open omits it), so whatever
            // is presented was not issued here; the gateway then closes by raw targetId.
            return Ok(wrap(json!({ "status": "ownership-mismatch" })).to_string().into());
        }

        let request = routes::Request { query, body };
        let launch = self.launch_options();
        let outcome = match routes::match_route(&method, &path) {
            None => Err(RouteError::new(404, "Not Found")),
            Some(Err(err)) => Err(err),
            Some(Ok(route_kind)) => {
                if route_kind != routes::Route::Profiles && profile.is_none() {
                    let names: Vec<&str> = self.profiles.iter().map(|p| p.name()).collect();
                    Err(RouteError::new(
                        404,
                        format!(
                            "Profile \"{effective}\" not found. Available profiles: {}",
                            names.join(", ")
                        ),
                    ))
                } else {
                    let env = routes::Env {
                        settings: &self.settings,
                        profiles: &self.profiles,
                        profile: profile.map(|p| p.as_ref()),
                        budget: &budget,
                        launch: &launch,
                        media_dir: &self.media_dir,
                    };
                    routes::run(&env, route_kind, &request)
                }
            }
        };
        let output = match outcome {
            Ok(output) => output,
            Err(RouteError::Interrupted(Interrupt::Cancelled)) => {
                return Err(InvokeError::unavailable("cancelled"))
            }
            Err(RouteError::Interrupted(_)) => {
                let status_profile = if path == "/profiles" { None } else { profile };
                return fail(self.timeout_message(
                    &method,
                    &path,
                    timeout_ms,
                    &requested,
                    status_profile,
                    cancel,
                ));
            }
            Err(RouteError::Http { status, body }) => {
                log::debug!(
                    "browser.proxy {method} {path}: {status} {}",
                    body.get("error").and_then(Value::as_str).unwrap_or("")
                );
                if include_route {
                    return Ok(envelope::error_envelope(status, &body, &route).to_string().into());
                }
                return fail(envelope::plain_error(status, &body));
            }
            Err(RouteError::BlockedByDialog) => {
                let body = match RouteError::new(409, "A JavaScript dialog is open on this tab; answer it with POST /hooks/dialog and retry.") {
                    RouteError::Http { body, .. } => body,
                    _ => Map::new(),
                };
                if include_route {
                    return Ok(envelope::error_envelope(409, &body, &route).to_string().into());
                }
                return fail(envelope::plain_error(409, &body));
            }
        };

        let mut result = output.body;
        if path == "/profiles" && !allow.is_empty() {
            if let Some(list) = result.get_mut("profiles").and_then(Value::as_array_mut) {
                list.retain(|entry| {
                    entry
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| allow.iter().any(|a| a == n))
                });
            }
        }
        let paths = envelope::referenced_paths(&result);
        let files = if paths.is_empty() {
            None
        } else {
            match envelope::collect_files(&paths, &output.artifacts) {
                Ok(files) => Some(files),
                Err(message) => return fail(message),
            }
        };
        let mut payload = Map::new();
        payload.insert("result".into(), result);
        if let Some(files) = files {
            payload.insert("files".into(), Value::Array(files));
        }
        if include_route {
            payload.insert("route".into(), route);
        }
        let serialized = Value::Object(payload).to_string();
        if envelope::encoded_payload_bytes(&serialized) > envelope::MAX_ENCODED_PAYLOAD_BYTES {
            return fail("browser proxy payload exceeds 24 MiB encoded limit".into());
        }
        Ok(serialized.into())
    }

    /// Stops every browser the node started (and drops connections to attached ones).
    pub fn shutdown(&self) {
        for profile in &self.profiles {
            profile.shutdown();
        }
    }

    /// The node's secrets stay out of Chromium's environment (inherited from the node's), by
    /// the same rule as a command's: by name, and wherever a secret value appears in a value.
    fn launch_options(&self) -> LaunchOptions {
        launch_options(&self.secrets, std::env::vars_os())
    }

    fn timeout_message(
        &self,
        method: &str,
        path: &str,
        timeout_ms: u64,
        requested: &str,
        profile: Option<&Arc<Profile>>,
        cancel: &CancelToken,
    ) -> String {
        let mut parts = vec![
            format!("browser proxy timed out for {method} {path} after {timeout_ms}ms"),
            if is_ws_backed(path) {
                "ws-backed browser action"
            } else {
                "browser action"
            }
            .to_string(),
        ];
        if path != "/profiles" {
            let name = if requested.is_empty() {
                self.settings.default_profile.as_str()
            } else {
                requested
            };
            parts.push(format!("profile={name}"));
        }
        if let Some(profile) = profile {
            let budget = Budget::new(STATUS_TIMEOUT, cancel.clone());
            let launch = LaunchOptions::default();
            let env = routes::Env {
                settings: &self.settings,
                profiles: &self.profiles,
                profile: Some(profile),
                budget: &budget,
                launch: &launch,
                media_dir: &self.media_dir,
            };
            let request = routes::Request {
                query: Map::new(),
                body: Value::Null,
            };
            if let Ok(status) = routes::run(&env, routes::Route::Status, &request) {
                let s = &status.body;
                let mut fields = vec![
                    format!("running={}", s["running"]),
                    format!("cdpHttp={}", s["cdpHttp"]),
                    format!("cdpReady={}", s["cdpReady"]),
                    "transport=cdp".to_string(),
                ];
                if let Some(url) = s["cdpUrl"].as_str() {
                    fields.push(format!("cdpUrl={url}"));
                }
                parts.push(format!("status({})", fields.join(", ")));
            }
        }
        parts.join("; ")
    }
}

impl Drop for BrowserProxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A leading `/`, no trailing `/`s.
fn normalize_path(raw: &str) -> String {
    let with_slash = if raw.starts_with('/') {
        raw.to_string()
    } else {
        format!("/{raw}")
    };
    if with_slash.len() <= 1 {
        return with_slash;
    }
    let trimmed = with_slash.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

fn is_profile_mutation(method: &str, path: &str) -> bool {
    (method == "POST"
        && matches!(
            path,
            "/profiles/create" | "/profiles/import" | "/reset-profile"
        ))
        || (method == "DELETE"
            && path
                .strip_prefix("/profiles/")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')))
}

fn is_host_local(method: &str, path: &str) -> bool {
    (method == "GET" && matches!(path, "/system-profiles" | "/system-profile-import/status"))
        || (method == "POST" && path == "/system-profile-import/dismiss")
}

fn is_ws_backed(path: &str) -> bool {
    matches!(
        path,
        "/act"
            | "/download"
            | "/navigate"
            | "/pdf"
            | "/screenshot"
            | "/snapshot"
            | "/wait/download"
    )
}

/// `timeoutMs`: default 20000, clamped to the timer range.
fn request_timeout_ms(value: Option<&Value>) -> u64 {
    match value.and_then(Value::as_f64) {
        Some(ms) if ms.is_finite() && ms >= 1.0 => (ms.floor() as u64).min(MAX_TIMEOUT_MS),
        _ => DEFAULT_TIMEOUT_MS,
    }
}

fn valid_ownership(body: &Value) -> bool {
    let Some(ownership) = body.get("ownership") else {
        return false;
    };
    let field = |key: &str| {
        ownership
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    ownership.get("status").and_then(Value::as_str) == Some("durable")
        && field("nativeTargetId")
        && field("profileFingerprint")
        && field("browserInstanceFingerprint")
}

/// The options a launch inherits from the node: the variables of `env` (the node's
/// environment) that Chromium must not see, by [`Secrets::withheld_names`].
fn launch_options(
    secrets: &Secrets,
    env: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> LaunchOptions {
    LaunchOptions {
        remove_env: secrets.withheld_names(env),
        headless: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_loses_variables_that_contain_a_secret() {
        // Before Secrets owned the rule, only values *equal* to a secret were removed, so
        // AUTH="Bearer <token>" reached the browser while system.run withheld it.
        let token = "gw-token-0123456789";
        let secrets = Secrets::new(vec!["OPENCLAW_GATEWAY_TOKEN".into()], vec![token.into()]);
        let env = [
            ("AUTH", format!("Bearer {token}")),
            ("SAME", token.to_string()),
            ("HOME", "/home/u".to_string()),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let removed = launch_options(&secrets, env).remove_env;
        for name in ["AUTH", "SAME", "OPENCLAW_GATEWAY_TOKEN"] {
            assert!(
                removed.iter().any(|n| n == name),
                "{name} kept: {removed:?}"
            );
        }
        assert!(!removed.iter().any(|n| n == "HOME"));
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("snapshot"), "/snapshot");
        assert_eq!(normalize_path("/tabs/"), "/tabs");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//"), "/");
    }

    #[test]
    fn mutations_and_host_local_routes() {
        assert!(is_profile_mutation("POST", "/profiles/create"));
        assert!(is_profile_mutation("DELETE", "/profiles/work"));
        assert!(!is_profile_mutation("DELETE", "/tabs/x"));
        assert!(is_host_local("GET", "/system-profiles"));
        assert!(!is_host_local("POST", "/system-profiles"));
    }

    #[test]
    fn timeouts_and_query_values() {
        assert_eq!(request_timeout_ms(None), 20_000);
        assert_eq!(request_timeout_ms(Some(&json!(1000))), 1000);
        assert_eq!(request_timeout_ms(Some(&json!(-5))), 20_000);
        assert_eq!(request_timeout_ms(Some(&json!(1e12))), MAX_TIMEOUT_MS);
        assert_eq!(js_string(&json!(20000)), "20000");
        assert_eq!(js_string(&json!(true)), "true");
        assert_eq!(js_string(&json!(1.5)), "1.5");
    }
}
