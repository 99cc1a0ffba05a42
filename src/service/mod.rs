//! Running the node as a service: install, status, start, stop, restart, uninstall; identity.
//!
//! STUB: being written. `main.rs` calls these entry points.

use std::process::ExitCode;

use argh::FromArgs;

use crate::CliError;

/// Install the node as a user service (systemd user unit, or launchd LaunchAgent) and start it.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "install")]
pub struct InstallArgs {
    /// gateway host (default 127.0.0.1)
    #[argh(option)]
    pub host: Option<String>,
    /// gateway port (default 18789)
    #[argh(option)]
    pub port: Option<u16>,
    /// path the gateway is served under, e.g. /openclaw-gw
    #[argh(option)]
    pub context_path: Option<String>,
    /// connect with TLS (wss://)
    #[argh(switch)]
    pub tls: bool,
    /// SHA-256 fingerprint of the gateway's TLS certificate to pin
    #[argh(option)]
    pub tls_fingerprint: Option<String>,
    /// replace the node (instance) id
    #[argh(option)]
    pub node_id: Option<String>,
    /// the name the gateway shows for this node
    #[argh(option)]
    pub display_name: Option<String>,
    /// accepted for compatibility with `openclaw node install`; no effect
    #[argh(option)]
    pub runtime: Option<String>,
    /// replace an existing install
    #[argh(switch)]
    pub force: bool,
    /// print the unit file instead of installing it
    #[argh(switch)]
    pub print: bool,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Show whether the service is installed and running, and the live connection state.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "status")]
pub struct StatusArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Start the installed service.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "start")]
pub struct StartArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Stop the installed service (a no-op when none is installed).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "stop")]
pub struct StopArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Restart the installed service.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "restart")]
pub struct RestartArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Stop and remove the installed service.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "uninstall")]
pub struct UninstallArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Print this node's device identity (never creates one).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "identity")]
pub struct IdentityArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

fn not_yet(what: &str) -> Result<ExitCode, CliError> {
    Err(CliError::new(format!("`{what}` is not implemented yet")))
}

pub fn install(args: &InstallArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("install")
}
pub fn status(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("status")
}
pub fn start(args: &StartArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("start")
}
pub fn stop(args: &StopArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("stop")
}
pub fn restart(args: &RestartArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("restart")
}
pub fn uninstall(args: &UninstallArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("uninstall")
}
pub fn identity(args: &IdentityArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    not_yet("identity")
}
