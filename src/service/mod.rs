//! Running the node as a service: `install`, `status`, `start`, `stop`, `restart`, `uninstall`;
//! and `identity`, which the gateway's SSH-verified pairing runs on the node host.
//!
//! - [`context`]: what the commands take from the machine (home, user, service manager).
//! - [`spec`]: what the service runs (endpoint, `run` command line, environment).
//! - [`systemd`], [`launchd`], [`schtasks`] (Windows), [`script`]: one service definition format
//!   each; [`manager`] is the interface the first three implement.
//! - [`envfile`]: the 0600 credentials file the service reads.
//! - [`actions`]: install/start/stop/restart/uninstall; [`report`]: `status`.
//!
//! Every command takes `--json`; the documents are [`actions::ActionReport`] and
//! [`report::StatusReport`] (schemas in README.md, "Service").

pub mod actions;
pub mod context;
pub mod envfile;
pub(crate) mod files;
pub mod launchd;
pub mod manager;
pub mod report;
pub mod schtasks;
pub mod script;
pub mod spec;
pub mod systemd;

use std::process::ExitCode;

use argh::FromArgs;
use serde::Serialize;

use crate::paths::StatePaths;
use crate::CliError;
use actions::ActionReport;
use context::ServiceContext;

/// Install the node as a user service (systemd user unit, or launchd LaunchAgent) and start it.
#[derive(FromArgs, Debug, Clone, Default)]
#[argh(subcommand, name = "install")]
pub struct InstallArgs {
    /// gateway host (default: the one the last run saved, else 127.0.0.1)
    #[argh(option)]
    pub host: Option<String>,
    /// gateway port (default: the saved one, else 18789)
    #[argh(option)]
    pub port: Option<u16>,
    /// path the gateway is served under, e.g. /openclaw-gw
    #[argh(option)]
    pub context_path: Option<String>,
    /// connect with TLS (wss://)
    #[argh(switch)]
    pub tls: bool,
    /// connect without TLS even if TLS was saved
    #[argh(switch)]
    pub no_tls: bool,
    /// SHA-256 fingerprint of the gateway's TLS certificate to pin
    #[argh(option)]
    pub tls_fingerprint: Option<String>,
    /// replace the node (instance) id
    #[argh(option)]
    pub node_id: Option<String>,
    /// the name the gateway shows for this node
    #[argh(option)]
    pub display_name: Option<String>,
    /// advertise only these command ids (comma-separated; repeatable); saved by the service's
    /// first run
    #[argh(option)]
    pub commands: Vec<String>,
    /// advertise every command this node implements and forget a saved --commands list
    #[argh(switch)]
    pub all_commands: bool,
    /// accepted for compatibility with `openclaw node install`; no effect
    #[argh(option)]
    pub runtime: Option<String>,
    /// accepted for compatibility with `openclaw node install` (the Node/Bun runtime path);
    /// no effect
    #[argh(option)]
    pub runtime_path: Option<String>,
    /// accepted for compatibility with `openclaw node install` (macOS app sharing); no effect
    #[argh(switch)]
    pub share_installed_apps: bool,
    /// accepted for compatibility with `openclaw node install`; no effect
    #[argh(switch)]
    pub no_share_installed_apps: bool,
    /// replace an existing install
    #[argh(switch)]
    pub force: bool,
    /// print the service definition (or, without a service manager, a start script) instead
    /// of installing it
    #[argh(switch)]
    pub print: bool,
    /// with --print: what to print, whatever this machine has (systemd, launchd or script),
    /// e.g. a systemd unit for another machine from inside a container
    #[argh(option)]
    pub manager: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
    /// on Windows, a Scheduled Task that starts at boot without a logged-on user (S4U), for build
    /// servers; needs an elevated prompt
    #[argh(switch)]
    pub at_boot: bool,
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

/// `install`: write a user service that runs `openclaw-node run` with the given connection
/// flags, put the gateway credentials from the environment in its 0600 environment file, enable
/// it and start it. `--print` writes the definition to stdout instead.
pub fn install(args: &InstallArgs) -> Result<ExitCode, CliError> {
    let ctx = context_or_fail("install", args.json)?;
    let report = actions::install(&ctx, args);
    if let (Some(printed), true, false) = (&report.printed, report.ok, args.json) {
        // The definition alone goes to stdout, so it can be redirected into a file.
        print!("{}", printed.content);
        eprintln!("{}", report.message);
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    emit(&report, args.json)
}

/// `status`: the service as the service manager sees it, the node's identity and pairing, and
/// the live connection state from the running node's status file (service or foreground).
pub fn status(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let ctx = ServiceContext::from_env().map_err(CliError::new)?;
    let report = report::collect(&ctx);
    if args.json {
        print_json(&report)?;
    } else {
        print!("{}", report::render_text(&report, crate::clock::now_ms()));
    }
    Ok(ExitCode::SUCCESS)
}

/// `start`: start the installed service; fails with the install hint when there is none.
pub fn start(args: &StartArgs) -> Result<ExitCode, CliError> {
    let ctx = context_or_fail("start", args.json)?;
    emit(&actions::start(&ctx), args.json)
}

/// `stop`: stop the installed service; succeeds without doing anything when there is none.
pub fn stop(args: &StopArgs) -> Result<ExitCode, CliError> {
    let ctx = context_or_fail("stop", args.json)?;
    emit(&actions::stop(&ctx), args.json)
}

/// `restart`: restart the installed service; fails with the install hint when there is none.
pub fn restart(args: &RestartArgs) -> Result<ExitCode, CliError> {
    let ctx = context_or_fail("restart", args.json)?;
    emit(&actions::restart(&ctx), args.json)
}

/// `uninstall`: stop and remove the service and its credentials file; succeeds without doing
/// anything when there is none.
pub fn uninstall(args: &UninstallArgs) -> Result<ExitCode, CliError> {
    let ctx = context_or_fail("uninstall", args.json)?;
    emit(&actions::uninstall(&ctx), args.json)
}

/// `identity`: print the device id and public key exactly as `openclaw node identity` does
/// (`{"deviceId":…,"publicKey":…}` on one line with `--json`). Read-only: the gateway's
/// SSH-verified pairing runs it on hosts that may never have run a node, and it must not mint an
/// identity there.
pub fn identity(args: &IdentityArgs) -> Result<ExitCode, CliError> {
    let paths = StatePaths::from_env().map_err(CliError::new)?;
    let Some(identity) = crate::state::load_identity(&paths)? else {
        return Err(CliError::new(
            "no node device identity found (start the node host once with `openclaw-node run` \
             or `openclaw-node install`)",
        ));
    };
    let shown = IdentityJson {
        device_id: identity.device_id(),
        public_key: identity.public_key_b64url(),
    };
    if args.json {
        println!("{}", identity_json(&shown));
    } else {
        println!("deviceId:  {}", shown.device_id);
        println!("publicKey: {}", shown.public_key);
    }
    Ok(ExitCode::SUCCESS)
}

/// The `identity --json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityJson {
    /// Hex SHA-256 of the raw public key.
    pub device_id: String,
    /// The raw Ed25519 public key, base64url without padding.
    pub public_key: String,
}

/// One line of compact JSON, as `JSON.stringify` writes it: the gateway's probe parses the
/// first stdout line that starts with `{`.
pub fn identity_json(identity: &IdentityJson) -> String {
    // Serializing two strings cannot fail.
    serde_json::to_string(identity).unwrap_or_default()
}

/// The context, or (with `--json`) a failure document before the error.
fn context_or_fail(action: &'static str, json: bool) -> Result<ServiceContext, CliError> {
    ServiceContext::from_env().map_err(|err| {
        if json {
            let doc = serde_json::json!({"action": action, "ok": false, "error": err});
            println!("{doc}");
        }
        CliError::new(err)
    })
}

/// Prints an action's outcome: the JSON document, or the message (stdout), warnings and hints
/// (stderr). A failed action exits 1 with its error on stderr.
fn emit(report: &ActionReport, json: bool) -> Result<ExitCode, CliError> {
    if json {
        print_json(report)?;
    } else if report.ok {
        println!("{}", report.message);
    }
    if !json {
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if report.ok {
        if !json {
            for hint in &report.hints {
                println!("Next: {hint}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut message = report
        .error
        .clone()
        .unwrap_or_else(|| report.message.clone());
    for hint in &report.hints {
        message.push_str(&format!("\n  try: {hint}"));
    }
    Err(CliError::new(message))
}

fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| CliError::new(format!("cannot encode the JSON output: {err}")))?;
    println!("{text}");
    Ok(())
}
