//! `status`: what the service manager, the node's state files and its live status file say,
//! gathered into one [`StatusReport`] (the `--json` document) and rendered for a person.

use std::fmt::Write as _;

use serde::Serialize;

use super::actions::manager_for;
use super::context::ServiceContext;
use super::spec::{self, Endpoint};
use crate::state::{self, DeviceAuthStore, NodeState};
use crate::status::{self, LiveStatus};

/// The `status --json` document. Every key is always present; unknown values are `null`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub service: ServiceStatus,
    pub gateway: Option<GatewayStatus>,
    pub node: NodeStatus,
    pub connection: Option<ConnectionStatus>,
    /// State files that could not be read, and anything else that made the report incomplete.
    pub problems: Vec<String>,
}

/// The installed service, as its definition file and the service manager describe it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// `systemd`, `launchd`, or `null` when none is available.
    pub manager: Option<&'static str>,
    pub available: bool,
    pub unavailable_reason: Option<String>,
    pub label: Option<&'static str>,
    pub definition_path: Option<String>,
    pub installed: bool,
    pub enabled: Option<bool>,
    pub running: Option<bool>,
    pub pid: Option<u32>,
    /// The manager's words, e.g. `active (running)`.
    pub state: Option<String>,
    /// Why the manager could not be asked, when it could not.
    pub detail: Option<String>,
    /// The command line the service runs.
    pub command: Option<Vec<String>>,
    /// systemd: whether the user's services outlive their logins (`null`: unknown / launchd).
    pub linger: Option<bool>,
    pub env_file: String,
    pub env_file_present: bool,
    /// TS's `service.loaded`: the service is installed and enabled (systemd) / loaded (launchd).
    pub loaded: bool,
    /// TS's words for `loaded` and for its absence (`enabled`/`disabled`, `loaded`/`not loaded`).
    pub loaded_text: Option<&'static str>,
    pub not_loaded_text: Option<&'static str>,
    /// TS's `service.runtime`: `{status: running | stopped | unknown, state, pid, detail}`.
    pub runtime: Option<RuntimeJson>,
}

/// `service.runtime` in TS's shape.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeJson {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The gateway the service (or, without one, the last `run`) connects to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub tls: Option<bool>,
    pub tls_fingerprint: Option<String>,
    pub context_path: Option<String>,
    /// `service` (the installed command line) or `state` (the saved endpoint).
    pub source: &'static str,
}

/// Who the node is, from its state files.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The client instance id (`node.json` `nodeId`).
    pub node_id: Option<String>,
    pub display_name: Option<String>,
    pub device_id: Option<String>,
    /// A device token for role `node` is stored (`null`: could not tell).
    pub paired: Option<bool>,
}

/// The live connection state from the running node's status file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// The process that wrote the file is alive (and did not mark itself stopped).
    pub running: bool,
    /// The file claims a live state, but its process is gone.
    pub stale: bool,
    pub pid: u32,
    /// `starting`, `connecting`, `connected`, `pairing_pending`, `disconnected`, `stopped`.
    pub state: &'static str,
    pub since_ms: u64,
    pub started_at_ms: u64,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<u64>,
    pub pairing_request_id: Option<String>,
    pub gateway_url: Option<String>,
    pub device_id: Option<String>,
    pub instance_id: Option<String>,
    pub display_name: Option<String>,
    pub updated_at_ms: u64,
}

impl ConnectionStatus {
    fn from_live(live: LiveStatus) -> ConnectionStatus {
        let s = live.snapshot;
        ConnectionStatus {
            running: live.running,
            stale: live.stale,
            pid: s.pid,
            state: s.state.as_str(),
            since_ms: s.since_ms,
            started_at_ms: s.started_at_ms,
            last_error: s.last_error,
            last_error_at_ms: s.last_error_at_ms,
            pairing_request_id: s.pairing_request_id,
            gateway_url: s.gateway_url,
            device_id: s.device_id,
            instance_id: s.instance_id,
            display_name: s.display_name,
            updated_at_ms: s.updated_at_ms,
        }
    }
}

/// Gathers the status. Never fails: what cannot be read is `null` and listed in `problems`.
pub fn collect(ctx: &ServiceContext) -> StatusReport {
    let mut problems = Vec::new();
    let env_file = ctx.paths.service_env_file();
    let mut service = ServiceStatus {
        manager: None,
        available: false,
        unavailable_reason: None,
        label: None,
        definition_path: None,
        installed: false,
        enabled: None,
        running: None,
        pid: None,
        state: None,
        detail: None,
        command: None,
        linger: None,
        env_file: env_file.to_string_lossy().into_owned(),
        env_file_present: env_file.exists(),
        loaded: false,
        loaded_text: None,
        not_loaded_text: None,
        runtime: None,
    };
    match manager_for(ctx) {
        Ok(manager) => {
            let path = manager.definition_path();
            service.manager = Some(manager.kind());
            service.available = true;
            service.label = Some(manager.label());
            service.definition_path = Some(path.to_string_lossy().into_owned());
            if let Ok(definition) = std::fs::read_to_string(&path) {
                service.installed = true;
                service.command = manager.parse_command(&definition);
                let runtime = manager.runtime();
                service.enabled = runtime.enabled;
                service.running = runtime.running;
                service.pid = runtime.pid;
                service.state = runtime.state;
                service.detail = runtime.detail;
                service.loaded = service.enabled == Some(true);
                service.runtime = Some(RuntimeJson {
                    status: match service.running {
                        Some(true) => "running",
                        Some(false) => "stopped",
                        None => "unknown",
                    },
                    state: service.state.clone(),
                    pid: service.pid,
                    detail: service.detail.clone(),
                });
            }
            (service.loaded_text, service.not_loaded_text) = match manager.kind() {
                "systemd" => (Some("enabled"), Some("disabled")),
                _ => (Some("loaded"), Some("not loaded")),
            };
            if manager.kind() == "systemd" {
                service.linger = ctx
                    .user
                    .as_deref()
                    .map(|user| ctx.linger_dir.join(user).exists());
            }
        }
        Err(reason) => service.unavailable_reason = Some(reason),
    }

    let saved = NodeState::load(&ctx.paths).unwrap_or_else(|err| {
        problems.push(err.to_string());
        None
    });
    let gateway = match service
        .command
        .as_deref()
        .and_then(spec::endpoint_from_command)
    {
        Some(endpoint) => Some(gateway_status(endpoint, "service")),
        None => saved.as_ref().and_then(|s| {
            let g = &s.gateway;
            let host = g.host.clone()?;
            Some(gateway_status(
                Endpoint {
                    host,
                    port: g.port.unwrap_or(crate::state::DEFAULT_GATEWAY_PORT),
                    tls: g.tls,
                    tls_fingerprint: g.tls_fingerprint.clone(),
                    context_path: g.context_path.clone(),
                },
                "state",
            ))
        }),
    };

    let mut node = NodeStatus {
        node_id: saved
            .as_ref()
            .map(|s| s.node_id.clone())
            .filter(|id| !id.is_empty()),
        display_name: saved.as_ref().and_then(|s| s.display_name.clone()),
        device_id: None,
        paired: None,
    };
    match state::load_identity(&ctx.paths) {
        Ok(Some(identity)) => {
            let device_id = identity.device_id();
            match DeviceAuthStore::new(&ctx.paths).token(&device_id, "node") {
                Ok(token) => node.paired = Some(token.is_some()),
                Err(err) => problems.push(err.to_string()),
            }
            node.device_id = Some(device_id);
        }
        // No identity: the node never ran here, so it cannot be paired.
        Ok(None) => node.paired = Some(false),
        Err(err) => problems.push(err.to_string()),
    }

    let connection = match status::read_status(&ctx.paths) {
        Ok(live) => live.map(ConnectionStatus::from_live),
        Err(err) => {
            problems.push(err);
            None
        }
    };
    StatusReport {
        service,
        gateway,
        node,
        connection,
        problems,
    }
}

fn gateway_status(endpoint: Endpoint, source: &'static str) -> GatewayStatus {
    GatewayStatus {
        url: endpoint.url(),
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.tls,
        tls_fingerprint: endpoint.tls_fingerprint,
        context_path: endpoint.context_path,
        source,
    }
}

/// The status for a person. `now_ms` is passed in so the text is testable.
pub fn render_text(report: &StatusReport, now_ms: u64) -> String {
    let mut out = String::new();
    let s = &report.service;
    let yes_no = |b: Option<bool>, yes: &str, no: &str| match b {
        Some(true) => yes.to_string(),
        Some(false) => no.to_string(),
        None => "unknown".to_string(),
    };
    match (s.available, s.label, s.manager) {
        (false, _, _) => {
            let reason = s
                .unavailable_reason
                .as_deref()
                .unwrap_or("no service manager");
            let _ = writeln!(out, "Service:     none ({reason})");
        }
        (true, Some(label), Some(kind)) if s.installed => {
            let _ = writeln!(out, "Service:     {label} ({kind}), installed");
            if let Some(path) = &s.definition_path {
                let _ = writeln!(out, "  File:      {path}");
            }
            let mut line = format!(
                "{}, {}",
                yes_no(s.enabled, "enabled", "not enabled"),
                yes_no(s.running, "running", "not running")
            );
            if let Some(pid) = s.pid {
                let _ = write!(line, " (pid {pid})");
            }
            if let Some(state) = &s.state {
                let _ = write!(line, "; {state}");
            }
            let _ = writeln!(out, "  State:     {line}");
            if let Some(detail) = &s.detail {
                let _ = writeln!(
                    out,
                    "  Note:      {}",
                    detail.replace('\n', "\n             ")
                );
            }
            if let Some(command) = &s.command {
                let _ = writeln!(out, "  Command:   {}", command.join(" "));
            }
            if s.linger == Some(false) {
                let _ = writeln!(out, "  Linger:    off (the service stops at logout)");
            }
        }
        (true, Some(label), Some(kind)) => {
            let _ = writeln!(out, "Service:     {label} ({kind}), not installed");
        }
        _ => {}
    }
    match &report.gateway {
        Some(g) => {
            let from = if g.source == "service" {
                ""
            } else {
                " (saved by the last run)"
            };
            let _ = writeln!(out, "Gateway:     {}{from}", g.url);
        }
        None => {
            let _ = writeln!(out, "Gateway:     not configured");
        }
    }
    let n = &report.node;
    // The gateway addresses a node by its device id or its display name (`--node`); the
    // instance id is only the connect frame's client.instanceId, and `--node` rejects it.
    if let Some(name) = &n.display_name {
        let _ = writeln!(out, "Name:        {name}");
    }
    let _ = writeln!(
        out,
        "Device id:   {}",
        n.device_id.as_deref().unwrap_or("(no identity yet)")
    );
    if let Some(node_ref) = n.display_name.as_deref().or(n.device_id.as_deref()) {
        let _ = writeln!(
            out,
            "Gateway ref: --node {} for `openclaw nodes ...`; node.invoke's nodeId takes the device id",
            crate::shell_quote::if_needed(node_ref)
        );
    }
    let _ = writeln!(
        out,
        "Instance id: {} (client.instanceId; not a --node value)",
        n.node_id.as_deref().unwrap_or("(none yet)")
    );
    let _ = writeln!(out, "Paired:      {}", yes_no(n.paired, "yes", "no"));
    match &report.connection {
        None => {
            let _ = writeln!(out, "Connection:  no node has run here yet");
        }
        Some(c) => {
            let since = when(c.since_ms, now_ms);
            let line = if c.stale {
                format!(
                    "not running (pid {} is gone; it last reported {} {since})",
                    c.pid,
                    c.state.replace('_', " ")
                )
            } else if !c.running {
                format!("not running (stopped {since})")
            } else {
                match c.state {
                    "connected" => format!("connected since {since} (pid {})", c.pid),
                    "pairing_pending" => format!(
                        "waiting for pairing approval since {since}{} (pid {})",
                        c.pairing_request_id
                            .as_deref()
                            .map(|id| format!(", request {id}: openclaw devices approve {id}"))
                            .unwrap_or_default(),
                        c.pid
                    ),
                    state => format!("{} since {since} (pid {})", state.replace('_', " "), c.pid),
                }
            };
            let _ = writeln!(out, "Connection:  {line}");
            if let Some(err) = &c.last_error {
                let at = c
                    .last_error_at_ms
                    .map(|t| format!(" ({})", when(t, now_ms)))
                    .unwrap_or_default();
                let _ = writeln!(out, "Last error:  {err}{at}");
            }
        }
    }
    for problem in &report.problems {
        let _ = writeln!(out, "Problem:     {problem}");
    }
    out
}

/// `2026-09-06 12:00:00 UTC, 5m ago`.
fn when(ms: u64, now_ms: u64) -> String {
    let ago = now_ms.saturating_sub(ms) / 1000;
    let ago = match ago {
        0..=59 => format!("{ago}s ago"),
        60..=3599 => format!("{}m ago", ago / 60),
        3600..=86_399 => format!("{}h {}m ago", ago / 3600, ago % 3600 / 60),
        _ => format!("{}d ago", ago / 86_400),
    };
    format!("{}, {ago}", format_utc(ms))
}

/// `YYYY-MM-DD HH:MM:SS UTC` for milliseconds since the epoch.
pub fn format_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::clock::civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        // 2024-02-29 23:59:59 UTC, a leap day.
        assert_eq!(format_utc(1_709_251_199_000), "2024-02-29 23:59:59 UTC");
        assert_eq!(format_utc(1_788_000_000_000), "2026-08-29 10:40:00 UTC");
    }

    #[test]
    fn ages_read_naturally() {
        assert!(when(1_000, 6_000).ends_with("5s ago"));
        assert!(when(0, 7_380_000).ends_with("2h 3m ago"));
    }
}
