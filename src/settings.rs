//! Everything `run` takes from its environment, resolved once at start-up and passed down, as
//! `service::context` does for the service commands. Below `run`, nothing reads the process
//! environment for its configuration: the values arrive as arguments, so each module can be
//! tested with the values it gets, and what a node runs with is decided in one place.

use std::sync::Arc;
use std::time::Duration;

use crate::browser::{self, BrowserHost};
use crate::config::NodeConfig;
use crate::paths::StatePaths;
use crate::platform::search_path;
use crate::secrets::Secrets;
use crate::service::envfile::CREDENTIALS_FILE_ENV;

/// The gateway credentials a node reads from its environment. They are the node's own
/// secrets: removed from every child's environment, by name and by value.
pub const SECRET_ENV_NAMES: [&str; 2] = ["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"];

/// How long the challenge and the connect answer may take when nothing says otherwise (§1.3).
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// `run`'s settings.
pub struct RunSettings {
    pub paths: StatePaths,
    pub config: Arc<NodeConfig>,
    /// `OPENCLAW_GATEWAY_TOKEN`, else `gateway.auth.token` (or `gateway.remote.token`).
    pub token: Option<String>,
    /// `OPENCLAW_GATEWAY_PASSWORD`, else the config's password.
    pub password: Option<String>,
    /// What children never see: the credential variables, and the credentials' values.
    pub secrets: Secrets,
    /// The PATH bare command names resolve with, also sent as `connect.pathEnv`.
    pub path_env: String,
    /// `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1`: plain `ws://` to a private address is allowed.
    pub allow_insecure_private_ws: bool,
    /// `OPENCLAW_CONNECT_CHALLENGE_TIMEOUT_MS`, else `OPENCLAW_HANDSHAKE_TIMEOUT_MS`, else 15 s.
    pub handshake_timeout: Duration,
    /// `OPENCLAW_NODE_MAX_INVOKES`: how many invocations run at once (else the pool's default).
    pub max_invokes: Option<usize>,
    /// What the browser proxy takes from the machine.
    pub browser_host: BrowserHost,
    /// `OPENCLAW_NODE_DUMPABLE=1`: leave the node dumpable (`PR_SET_DUMPABLE`), so that
    /// same-user tools can read its `/proc/<pid>/fd`. For the tests and the bench only.
    pub dumpable: bool,
}

/// `OPENCLAW_NODE_CREDENTIALS_FILE`: the service's credentials file (`openclaw-node/service.env`),
/// read through the trusted reader. The Windows Scheduled Task's launcher names it, so that the
/// token is in the owner-only file and never in the launcher or the task (systemd and launchd
/// read the file themselves). Variables of the environment win over the file.
fn credentials_file() -> Result<Vec<(String, String)>, crate::CliError> {
    let Some(path) = std::env::var_os(CREDENTIALS_FILE_ENV).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let path = std::path::PathBuf::from(path);
    let bytes = crate::state::read_state_file(&path, 64 * 1024)
        .map_err(|err| crate::CliError::new(format!("the credentials file {err}")))?
        .ok_or_else(|| {
            crate::CliError::new(format!(
                "the credentials file {} ({CREDENTIALS_FILE_ENV}) does not exist; run \
                 `openclaw-node install` again with OPENCLAW_GATEWAY_TOKEN set",
                path.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(crate::service::envfile::parse(&text)
        .into_iter()
        .filter(|(key, _)| SECRET_ENV_NAMES.contains(&key.as_str()))
        .collect())
}

impl RunSettings {
    /// The settings from this process's environment and the state directory's openclaw.json.
    pub fn from_process() -> Result<RunSettings, crate::CliError> {
        let paths = StatePaths::from_env().map_err(crate::CliError::new)?;
        let config = NodeConfig::load(&paths.config_file())?;
        let from_file = credentials_file()?;
        let settings = RunSettings::resolve(
            paths,
            config,
            |name| {
                std::env::var(name).ok().filter(|v| !v.trim().is_empty()).or_else(|| {
                    let found = from_file.iter().find(|(key, _)| key == name);
                    found.map(|(_, value)| value.clone())
                })
            },
            search_path::effective_path_env(),
        );
        // The credentials are read; nothing else in the node may find them in its environment.
        // `run` calls this first, before it starts any thread (the signal thread, the pool, the
        // gateway link come later), so changing the environment races no reader. This does not
        // scrub `/proc/<pid>/environ`, which shows the environment the process was started
        // with: `run` makes the node non-dumpable for that.
        for name in SECRET_ENV_NAMES {
            std::env::remove_var(name);
        }
        Ok(settings)
    }

    /// The settings from `env` (a variable's value, when set) and an already loaded config.
    pub fn resolve(
        paths: StatePaths,
        config: NodeConfig,
        env: impl Fn(&str) -> Option<String>,
        path_env: String,
    ) -> RunSettings {
        let non_empty = |name: &str| {
            env(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let token = non_empty("OPENCLAW_GATEWAY_TOKEN")
            .or_else(|| config.gateway_token().map(str::to_string));
        let password = non_empty("OPENCLAW_GATEWAY_PASSWORD")
            .or_else(|| config.gateway_password().map(str::to_string));
        let secrets = Secrets::new(
            SECRET_ENV_NAMES.iter().map(|name| name.to_string()).collect(),
            [token.clone(), password.clone()]
                .into_iter()
                .flatten()
                .collect(),
        );
        let handshake_timeout = [
            "OPENCLAW_CONNECT_CHALLENGE_TIMEOUT_MS",
            "OPENCLAW_HANDSHAKE_TIMEOUT_MS",
        ]
        .iter()
        .find_map(|name| non_empty(name)?.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
        let browser_host = BrowserHost {
            path_env: path_env.clone(),
            headless_override: non_empty("OPENCLAW_BROWSER_HEADLESS")
                .and_then(|value| browser::parse_bool(&value)),
            has_display: non_empty("DISPLAY").is_some() || non_empty("WAYLAND_DISPLAY").is_some(),
        };
        RunSettings {
            paths,
            config: Arc::new(config),
            token,
            password,
            secrets,
            path_env,
            allow_insecure_private_ws: non_empty("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS").as_deref()
                == Some("1"),
            handshake_timeout,
            max_invokes: non_empty("OPENCLAW_NODE_MAX_INVOKES")
                .and_then(|value| value.parse::<usize>().ok())
                .filter(|workers| *workers > 0),
            browser_host,
            dumpable: non_empty("OPENCLAW_NODE_DUMPABLE").as_deref() == Some("1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], config: serde_json::Value) -> RunSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunSettings::resolve(
            StatePaths::at("/nonexistent"),
            NodeConfig::from_value(config),
            |name| vars.get(name).cloned(),
            "/usr/bin:/bin".into(),
        )
    }

    #[test]
    fn the_environment_wins_over_the_config_and_blank_is_unset() {
        let config = json!({"gateway": {"auth": {"token": "from-config"}}});
        assert_eq!(
            settings(&[], config.clone()).token.as_deref(),
            Some("from-config")
        );
        assert_eq!(
            settings(&[("OPENCLAW_GATEWAY_TOKEN", " from-env ")], config.clone())
                .token
                .as_deref(),
            Some("from-env")
        );
        assert_eq!(
            settings(&[("OPENCLAW_GATEWAY_TOKEN", "  ")], config)
                .token
                .as_deref(),
            Some("from-config")
        );
    }

    #[test]
    fn credentials_are_secrets_by_name_and_value() {
        let s = settings(
            &[
                ("OPENCLAW_GATEWAY_TOKEN", "tok-123456789"),
                ("OPENCLAW_GATEWAY_PASSWORD", "pw-123456789"),
            ],
            json!({}),
        );
        assert!(s.secrets.withholds("OPENCLAW_GATEWAY_TOKEN", "anything"));
        assert!(s.secrets.withholds("AUTH", "Bearer tok-123456789"));
        assert!(s.secrets.withholds("X", "pw-123456789"));
        assert!(!s.secrets.withholds("HOME", "/root"));
    }

    #[test]
    fn timeouts_workers_and_flags() {
        let s = settings(&[], json!({}));
        assert_eq!(s.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(s.max_invokes, None);
        assert!(!s.allow_insecure_private_ws);
        assert!(!s.browser_host.has_display);
        let s = settings(
            &[
                ("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "2500"),
                ("OPENCLAW_NODE_MAX_INVOKES", "4"),
                ("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS", "1"),
                ("OPENCLAW_BROWSER_HEADLESS", "no"),
                ("WAYLAND_DISPLAY", "wayland-0"),
            ],
            json!({}),
        );
        assert_eq!(s.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(s.max_invokes, Some(4));
        assert!(s.allow_insecure_private_ws);
        assert_eq!(s.browser_host.headless_override, Some(false));
        assert!(s.browser_host.has_display);
        // The challenge timeout wins; zero and garbage mean the default.
        let s = settings(
            &[
                ("OPENCLAW_CONNECT_CHALLENGE_TIMEOUT_MS", "700"),
                ("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "2500"),
            ],
            json!({}),
        );
        assert_eq!(s.handshake_timeout, Duration::from_millis(700));
        let s = settings(
            &[
                ("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "0"),
                ("OPENCLAW_NODE_MAX_INVOKES", "many"),
            ],
            json!({}),
        );
        assert_eq!(s.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(s.max_invokes, None);
    }

    #[test]
    fn the_credentials_leave_the_process_environment_once_read() {
        // The only test that sets these; nothing else in the crate reads them.
        std::env::set_var("OPENCLAW_GATEWAY_TOKEN", "tok-from-env-123");
        std::env::set_var("OPENCLAW_GATEWAY_PASSWORD", "pw-from-env-123");
        let Ok(settings) = RunSettings::from_process() else {
            // No HOME and no state dir: nothing to resolve here.
            return;
        };
        assert_eq!(settings.token.as_deref(), Some("tok-from-env-123"));
        assert_eq!(settings.password.as_deref(), Some("pw-from-env-123"));
        assert!(std::env::var_os("OPENCLAW_GATEWAY_TOKEN").is_none());
        assert!(std::env::var_os("OPENCLAW_GATEWAY_PASSWORD").is_none());
        assert!(!settings.dumpable);
    }
}
