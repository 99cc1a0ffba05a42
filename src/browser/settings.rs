//! The node's browser settings, read once from `openclaw.json` (`browser.*`,
//! `nodeHost.browserProxy.*`; spec §8.1). Like the TS node, changes need a node restart.

use serde_json::Value;

use crate::config::NodeConfig;

use super::launcher::{self, DetectedBrowser};
use super::navguard::NavigationPolicy;

/// The managed profile every node has.
pub const DEFAULT_PROFILE: &str = "openclaw";
/// Profile colour reported by status and `/profiles` (TS default).
pub const DEFAULT_COLOR: &str = "#FF4500";
/// TS's default CDP port for attach-only profiles without a port: gateway port 18789 + 11.
const DEFAULT_ATTACH_PORT: u16 = 18800;

/// What the browser proxy takes from the machine rather than from openclaw.json, resolved once
/// by `run` (see `crate::settings`).
#[derive(Debug, Clone, Default)]
pub struct BrowserHost {
    /// The PATH a browser executable is looked for on.
    pub path_env: String,
    /// `OPENCLAW_BROWSER_HEADLESS`, when set to a boolean: it wins over the config.
    pub headless_override: Option<bool>,
    /// Whether `DISPLAY` or `WAYLAND_DISPLAY` is set, so a headed browser can start.
    pub has_display: bool,
}

/// Everything the proxy needs from config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `nodeHost.browserProxy.allowProfiles`, trimmed, empty entries dropped.
    pub allow_profiles: Vec<String>,
    /// `browser.defaultProfile`, default `openclaw`.
    pub default_profile: String,
    /// The profiles this node can drive, default first.
    pub profiles: Vec<ProfileSettings>,
    /// `browser.evaluateEnabled`, default true.
    pub evaluate_enabled: bool,
    pub navigation: NavigationPolicy,
    /// `browser.executablePath` as configured (status reports it verbatim).
    pub configured_executable: Option<String>,
}

/// How one profile reaches its browser.
#[derive(Debug, Clone)]
pub struct ProfileSettings {
    pub name: String,
    /// A fixed CDP port for a launched browser; `None` lets Chromium pick one.
    pub cdp_port: Option<u16>,
    /// Attach to this endpoint (`http://host:port` or `ws://…`) instead of launching.
    pub cdp_url: Option<String>,
    pub attach_only: bool,
    pub headless: bool,
    pub headless_source: &'static str,
    pub no_sandbox: bool,
    pub extra_args: Vec<String>,
    pub executable: Option<DetectedBrowser>,
    pub color: String,
    /// Whether the machine has a display for a headed browser ([`BrowserHost::has_display`]).
    pub has_display: bool,
}

impl ProfileSettings {
    /// True when the node never launches a browser for this profile.
    pub fn attaches(&self) -> bool {
        self.cdp_url.is_some() || self.attach_only
    }

    /// The endpoint an attaching profile connects to.
    pub fn attach_url(&self) -> String {
        match &self.cdp_url {
            Some(url) => url.clone(),
            None => format!(
                "http://127.0.0.1:{}",
                self.cdp_port.unwrap_or(DEFAULT_ATTACH_PORT)
            ),
        }
    }

    /// Not on this machine (an attach URL whose host is not loopback).
    pub fn is_remote(&self) -> bool {
        self.cdp_url
            .as_deref()
            .map(|url| !is_loopback_url(url))
            .unwrap_or(false)
    }
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1") || host.starts_with("127.")
}

impl Settings {
    /// `None` when the browser proxy is switched off (`browser.enabled:false` or
    /// `nodeHost.browserProxy.enabled:false`) or nothing could drive a browser: no executable
    /// found and no CDP endpoint configured.
    pub fn from_config(config: &NodeConfig, host: &BrowserHost) -> Option<Settings> {
        if config.get_bool(&["browser", "enabled"]) == Some(false)
            || config.get_bool(&["nodeHost", "browserProxy", "enabled"]) == Some(false)
        {
            return None;
        }
        let settings = Settings::read(config, host);
        let usable = settings
            .profiles
            .iter()
            .any(|p| p.attaches() || p.executable.is_some());
        usable.then_some(settings)
    }

    fn read(config: &NodeConfig, host: &BrowserHost) -> Settings {
        let configured_executable = config
            .get_str(&["browser", "executablePath"])
            .map(str::to_string);
        let detected = launcher::detect(configured_executable.as_deref(), &host.path_env);
        let default_profile = config
            .get_str(&["browser", "defaultProfile"])
            .unwrap_or(DEFAULT_PROFILE)
            .to_string();
        let global_headless = config.get_bool(&["browser", "headless"]);
        let env_headless = host.headless_override;
        // Chromium refuses to run as root without --no-sandbox.
        let no_sandbox = config
            .get_bool(&["browser", "noSandbox"])
            .unwrap_or_else(crate::platform::host::is_superuser);
        let extra_args: Vec<String> = string_list(config.get(&["browser", "extraArgs"]));
        let global_attach_only = config.get_bool(&["browser", "attachOnly"]).unwrap_or(false);
        let global_cdp_url = config.get_str(&["browser", "cdpUrl"]).map(str::to_string);

        let mut names = vec![DEFAULT_PROFILE.to_string()];
        let configured = config
            .get(&["browser", "profiles"])
            .and_then(Value::as_object);
        if let Some(profiles) = configured {
            for (name, entry) in profiles {
                let has_endpoint = entry.get("cdpPort").is_some() || entry.get("cdpUrl").is_some();
                if has_endpoint && !names.contains(name) && !name.trim().is_empty() {
                    names.push(name.clone());
                }
            }
        }
        let mut profiles: Vec<ProfileSettings> = names
            .into_iter()
            .map(|name| {
                let entry = configured.and_then(|p| p.get(&name));
                let field = |key: &str| entry.and_then(|e| e.get(key));
                let (headless, headless_source) = match (
                    env_headless,
                    field("headless").and_then(Value::as_bool),
                    global_headless,
                ) {
                    (Some(v), _, _) => (v, "env"),
                    (None, Some(v), _) => (v, "profile"),
                    (None, None, Some(v)) => (v, "config"),
                    // A node host is headless unless told otherwise.
                    (None, None, None) => (true, "default"),
                };
                let executable = match field("executablePath").and_then(Value::as_str) {
                    Some(path) => launcher::detect(Some(path), &host.path_env),
                    None => detected.clone(),
                };
                let mut cdp_url = field("cdpUrl")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                if cdp_url.is_none() && name == DEFAULT_PROFILE {
                    cdp_url = global_cdp_url.clone();
                }
                ProfileSettings {
                    cdp_port: field("cdpPort")
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p != 0),
                    cdp_url,
                    attach_only: field("attachOnly")
                        .and_then(Value::as_bool)
                        .unwrap_or(global_attach_only),
                    headless,
                    headless_source,
                    no_sandbox,
                    extra_args: extra_args.clone(),
                    executable,
                    color: field("color")
                        .and_then(Value::as_str)
                        .unwrap_or(DEFAULT_COLOR)
                        .to_string(),
                    has_display: host.has_display,
                    name,
                }
            })
            .collect();
        if let Some(index) = profiles.iter().position(|p| p.name == default_profile) {
            let default = profiles.remove(index);
            profiles.insert(0, default);
        }
        Settings {
            allow_profiles: string_list(config.get(&["nodeHost", "browserProxy", "allowProfiles"])),
            default_profile,
            profiles,
            evaluate_enabled: config.get_bool(&["browser", "evaluateEnabled"]) != Some(false),
            navigation: NavigationPolicy::from_config(config.get(&["browser", "ssrfPolicy"])),
            configured_executable,
        }
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `true|1|yes` / `false|0|no`, case-insensitive (TS `toBoolean`).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(config: Value) -> Option<Settings> {
        let host = BrowserHost {
            path_env: "/nonexistent".into(),
            ..BrowserHost::default()
        };
        Settings::from_config(&NodeConfig::from_value(config), &host)
    }

    #[test]
    fn switched_off_by_either_flag() {
        assert!(settings(
            json!({"browser": {"enabled": false, "cdpUrl": "http://127.0.0.1:9222"}})
        )
        .is_none());
        assert!(settings(json!({"browser": {"cdpUrl": "http://127.0.0.1:9222"}, "nodeHost": {"browserProxy": {"enabled": false}}})).is_none());
    }

    #[test]
    fn needs_a_browser_or_an_endpoint() {
        assert!(
            settings(json!({})).is_none(),
            "no executable on PATH and no endpoint"
        );
        let s = settings(json!({"browser": {"cdpUrl": "http://127.0.0.1:9222"}})).unwrap();
        assert!(s.profiles[0].attaches());
        assert!(!s.profiles[0].is_remote());
        let s = settings(json!({"browser": {"attachOnly": true}})).unwrap();
        assert_eq!(s.profiles[0].attach_url(), "http://127.0.0.1:18800");
    }

    #[test]
    fn reads_profiles_allowlist_and_policy() {
        let s = settings(json!({
            "browser": {"attachOnly": true, "headless": false, "defaultProfile": "work", "evaluateEnabled": false,
                        "profiles": {"work": {"cdpUrl": "http://10.0.0.5:9222", "color": "#00FF00"}, "nothing": {}},
                        "ssrfPolicy": {"dangerouslyAllowPrivateNetwork": true}},
            "nodeHost": {"browserProxy": {"allowProfiles": [" work ", ""]}}
        }))
        .unwrap();
        assert_eq!(s.default_profile, "work");
        assert_eq!(
            s.profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            vec!["work", "openclaw"]
        );
        assert!(s.profiles[0].is_remote());
        assert_eq!(s.profiles[0].color, "#00FF00");
        assert_eq!(s.allow_profiles, vec!["work"]);
        assert!(!s.evaluate_enabled);
        assert!(s.navigation.current_url_allowed(
            "http://127.0.0.1/",
            &crate::browser::budget::Budget::new(
                std::time::Duration::from_secs(1),
                crate::cancel::CancelToken::new()
            )
        ));
        assert_eq!(
            (s.profiles[1].headless, s.profiles[1].headless_source),
            (false, "config")
        );
    }

    #[test]
    fn booleans_accept_the_route_spellings() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
