//! What the installed service runs: the gateway endpoint `install` settles on, the `run` command
//! line, and the environment, independent of the service manager that will run it.

use std::path::{Path, PathBuf};

pub use crate::endpoint::EndpointFlags;
use crate::gateway::transport::GatewayUrl;
use crate::state::{GatewayEndpoint, DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT};

/// The endpoint the service will connect to. `tls: None` leaves TLS to `run`'s saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `Some(true)`: `--tls`; `Some(false)`: `--no-tls`; `None`: neither.
    pub tls: Option<bool>,
    /// SHA-256 pin of the gateway's certificate (implies TLS).
    pub tls_fingerprint: Option<String>,
    /// Path the gateway is served under.
    pub context_path: Option<String>,
}

impl Endpoint {
    /// The URL `run` builds for this endpoint (protocol §1.1).
    pub fn url(&self) -> String {
        let tls = self.tls == Some(true) || self.tls_fingerprint.is_some();
        GatewayUrl::new(&self.host, self.port, tls, self.context_path.as_deref()).to_url()
    }

    fn from_state(endpoint: GatewayEndpoint) -> Endpoint {
        Endpoint {
            host: endpoint
                .host
                .unwrap_or_else(|| DEFAULT_GATEWAY_HOST.to_string()),
            port: endpoint.port.unwrap_or(DEFAULT_GATEWAY_PORT),
            tls: endpoint.tls,
            tls_fingerprint: endpoint.tls_fingerprint,
            context_path: endpoint.context_path,
        }
    }
}

/// Settles the endpoint as `run` will ([`crate::endpoint::resolve`], the same checks and
/// rules), so flags `run` would refuse are refused before they become a service that fails at
/// every start.
pub fn resolve_endpoint(
    flags: &EndpointFlags,
    saved: Option<&GatewayEndpoint>,
) -> Result<Endpoint, String> {
    crate::endpoint::resolve(flags, saved).map(Endpoint::from_state)
}

/// The `run` command line for `exe` and the endpoint, then `extra` (`--commands ...`). A binary
/// installed under the name `openclaw` (the drop-in) takes `openclaw node run`, so `node` is put
/// first for it.
pub fn run_command(
    exe: &Path,
    endpoint: &Endpoint,
    node_id: Option<&str>,
    display_name: Option<&str>,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![exe.to_string_lossy().into_owned()];
    if exe.file_name().is_some_and(|name| name == "openclaw") {
        args.push("node".into());
    }
    args.extend([
        "run".into(),
        "--host".into(),
        endpoint.host.clone(),
        "--port".into(),
    ]);
    args.push(endpoint.port.to_string());
    if endpoint.tls == Some(false) && endpoint.tls_fingerprint.is_none() {
        args.push("--no-tls".into());
    } else if endpoint.tls == Some(true) || endpoint.tls_fingerprint.is_some() {
        args.push("--tls".into());
    }
    if let Some(fp) = &endpoint.tls_fingerprint {
        args.extend(["--tls-fingerprint".into(), fp.clone()]);
    }
    if let Some(path) = &endpoint.context_path {
        args.extend(["--context-path".into(), path.clone()]);
    }
    if let Some(id) = node_id.map(str::trim).filter(|s| !s.is_empty()) {
        args.extend(["--node-id".into(), id.to_string()]);
    }
    if let Some(name) = display_name.map(str::trim).filter(|s| !s.is_empty()) {
        args.extend(["--display-name".into(), name.to_string()]);
    }
    args.extend(extra.iter().cloned());
    args
}

/// Reads the endpoint back from a service's `run` command line (for `status`).
pub fn endpoint_from_command(args: &[String]) -> Option<Endpoint> {
    let run_at = args.iter().position(|a| a == "run")?;
    let mut endpoint = Endpoint {
        host: DEFAULT_GATEWAY_HOST.to_string(),
        port: DEFAULT_GATEWAY_PORT,
        tls: None,
        tls_fingerprint: None,
        context_path: None,
    };
    let mut rest = args[run_at + 1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--host" => endpoint.host = rest.next()?.clone(),
            "--port" => endpoint.port = rest.next()?.parse().ok()?,
            "--tls" => endpoint.tls = Some(true),
            "--no-tls" => endpoint.tls = Some(false),
            "--tls-fingerprint" => endpoint.tls_fingerprint = Some(rest.next()?.clone()),
            "--context-path" => endpoint.context_path = Some(rest.next()?.clone()),
            _ => {}
        }
    }
    Some(endpoint)
}

/// Everything a service definition needs, for any service manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// A one-line description (systemd `Description=`, launchd `Comment`).
    pub description: String,
    /// The absolute program path, then its arguments.
    pub program: Vec<String>,
    /// Non-secret environment, set in the definition itself.
    pub environment: Vec<(String, String)>,
    /// The credentials file (mode 0600), read at start; never inlined in the definition.
    pub env_file: PathBuf,
    /// The directory the node starts in (the user's home).
    pub working_directory: PathBuf,
    /// Where launchd and the start script send the node's output (systemd uses the journal).
    pub log_file: PathBuf,
    /// Start at boot without a logged-on user (`install --at-boot`; Windows' Scheduled Task).
    pub at_boot: bool,
}

impl ServiceSpec {
    /// Refuses values that no service definition format can carry: line breaks and NUL.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |s: &str| s.contains(['\n', '\r', '\0']);
        for arg in &self.program {
            if bad(arg) {
                return Err(format!(
                    "the service command argument {arg:?} contains a line break or NUL"
                ));
            }
        }
        for (name, value) in &self.environment {
            if bad(name) || bad(value) || name.contains('=') || name.is_empty() {
                return Err(format!(
                    "the environment variable {name:?} cannot be put in a service definition"
                ));
            }
        }
        for path in [&self.env_file, &self.working_directory, &self.log_file] {
            if bad(&path.to_string_lossy()) {
                return Err(format!("the path {path:?} contains a line break or NUL"));
            }
        }
        if !Path::new(&self.program[0]).is_absolute() {
            return Err(format!(
                "the service program {:?} is not an absolute path",
                self.program[0]
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> GatewayEndpoint {
        GatewayEndpoint {
            host: Some("gw.lan".into()),
            port: Some(443),
            tls: Some(true),
            tls_fingerprint: Some("ab".repeat(32)),
            context_path: Some("/openclaw-gw".into()),
        }
    }

    #[test]
    fn defaults_without_saved_state() {
        let ep = resolve_endpoint(&EndpointFlags::default(), None).unwrap();
        assert_eq!(ep.host, "127.0.0.1");
        assert_eq!(ep.port, 18789);
        assert_eq!(ep.tls, None);
        assert_eq!(ep.url(), "ws://127.0.0.1:18789/");
    }

    #[test]
    fn same_endpoint_inherits_tls_pin_and_path() {
        let flags = EndpointFlags {
            host: Some("gw.lan".into()),
            ..Default::default()
        };
        let ep = resolve_endpoint(&flags, Some(&saved())).unwrap();
        assert_eq!(ep.port, 443);
        assert_eq!(ep.tls, Some(true));
        assert_eq!(ep.tls_fingerprint, Some("ab".repeat(32)));
        assert_eq!(ep.url(), "wss://gw.lan:443/openclaw-gw");
    }

    #[test]
    fn a_new_host_drops_the_saved_tls_pin_and_path() {
        let flags = EndpointFlags {
            host: Some("other".into()),
            ..Default::default()
        };
        let ep = resolve_endpoint(&flags, Some(&saved())).unwrap();
        assert_eq!(
            (ep.port, ep.tls, ep.tls_fingerprint, ep.context_path),
            (443, None, None, None)
        );
    }

    #[test]
    fn contradictions_and_bad_pins_are_refused() {
        let both = EndpointFlags {
            tls: true,
            no_tls: true,
            ..Default::default()
        };
        assert!(resolve_endpoint(&both, None).is_err());
        let pin = EndpointFlags {
            no_tls: true,
            tls_fingerprint: Some("ab".repeat(32)),
            ..Default::default()
        };
        assert!(resolve_endpoint(&pin, None)
            .unwrap_err()
            .contains("--no-tls"));
        let bad = EndpointFlags {
            tls_fingerprint: Some("xyz".into()),
            ..Default::default()
        };
        assert!(resolve_endpoint(&bad, None)
            .unwrap_err()
            .contains("SHA-256"));
        let zero = EndpointFlags {
            port: Some(0),
            ..Default::default()
        };
        assert!(resolve_endpoint(&zero, None).is_err());
        let colons = EndpointFlags {
            tls_fingerprint: Some(vec!["AB"; 32].join(":")),
            ..Default::default()
        };
        assert_eq!(resolve_endpoint(&colons, None).unwrap().tls, Some(true));
    }

    #[test]
    fn run_command_round_trips_through_status() {
        let ep = Endpoint {
            host: "::1".into(),
            port: 19000,
            tls: Some(true),
            tls_fingerprint: Some("cd".repeat(32)),
            context_path: Some("gw".into()),
        };
        let cmd = run_command(
            Path::new("/usr/bin/openclaw-node"),
            &ep,
            Some("id-1"),
            Some("My Node"),
            &[],
        );
        assert_eq!(
            cmd,
            [
                "/usr/bin/openclaw-node",
                "run",
                "--host",
                "::1",
                "--port",
                "19000",
                "--tls",
                "--tls-fingerprint",
                &"cd".repeat(32),
                "--context-path",
                "gw",
                "--node-id",
                "id-1",
                "--display-name",
                "My Node",
            ]
        );
        assert_eq!(endpoint_from_command(&cmd), Some(ep.clone()));
        assert_eq!(ep.url(), "wss://[::1]:19000/gw");

        let plain = Endpoint {
            tls: Some(false),
            tls_fingerprint: None,
            context_path: None,
            ..ep
        };
        let cmd = run_command(Path::new("/opt/bin/openclaw"), &plain, None, None, &[]);
        assert_eq!(cmd[..3], ["/opt/bin/openclaw", "node", "run"]);
        assert!(cmd.contains(&"--no-tls".to_string()));
    }
}
