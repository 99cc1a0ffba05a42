//! `openclaw-node run`: connect to the gateway in the foreground and serve invocations.

use std::process::ExitCode;
use std::sync::Arc;

use argh::FromArgs;

use crate::browser::BrowserProxy;
use crate::commands::allowlist::SurfaceChoice;
use crate::commands::{CommandSurface, NodeRuntime};
use crate::config::NodeConfig;
use crate::endpoint::EndpointFlags;
use crate::gateway::connect::ClientDescription;
use crate::gateway::reconnect::{LoopExit, NodeLoop};
use crate::gateway::session::SessionControl;
use crate::gateway::transport::{self, GatewayUrl};
use crate::invoke::pool::Pool;
use crate::invoke::Dispatcher;
use crate::publish::Publisher;
use crate::settings::RunSettings;
use crate::setup_code::SetupCode;
use crate::state::run_lock::RunLock;
use crate::state::{self, DeviceAuthStore, GatewayEndpoint, NodeState};
use crate::status::StatusReporter;
use crate::CliError;

/// Run the node in the foreground: connect, pair, and serve the gateway's invocations.
#[derive(FromArgs, Debug, Clone, Default)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// gateway host (default: the saved one, else 127.0.0.1)
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
    /// SHA-256 fingerprint of the gateway's TLS certificate to pin (hex, colons optional)
    #[argh(option)]
    pub tls_fingerprint: Option<String>,
    /// override the node instance id (sent as client.instanceId; pairing is kept)
    #[argh(option)]
    pub node_id: Option<String>,
    /// the name the gateway shows for this node (saved for later runs)
    #[argh(option)]
    pub display_name: Option<String>,
    /// advertise only these exact command ids (comma-separated; repeatable; saved for later
    /// runs); turns off host stats and skills
    #[argh(option)]
    pub commands: Vec<String>,
    /// advertise every command this node implements and forget a saved --commands list
    #[argh(switch)]
    pub all_commands: bool,
    /// pair with a setup code or oc-pair:// URL: its gateway endpoint and single-use bootstrap
    /// token (explicit gateway flags win)
    #[argh(option)]
    pub pair: Option<String>,
    /// like --pair, but a stored device token is used once one exists (safe to repeat; also
    /// read from OPENCLAW_NODE_PAIR_CODE)
    #[argh(option)]
    pub pair_if_needed: Option<String>,
    /// exit when stdin closes (for a launcher that owns this process)
    #[argh(switch)]
    pub parent_stdin: bool,
    /// accepted for `openclaw node run` compatibility: macOS app sharing (no effect here)
    #[argh(switch)]
    pub share_installed_apps: bool,
    /// accepted for `openclaw node run` compatibility (no effect here)
    #[argh(switch)]
    pub no_share_installed_apps: bool,
    /// accepted for `openclaw node run` compatibility: no desktop.stream here (no effect)
    #[argh(switch)]
    pub desktop_sharing: bool,
    /// accepted for `openclaw node run` compatibility (no effect here)
    #[argh(switch)]
    pub no_desktop_sharing: bool,
    /// accepted for `openclaw node run` compatibility: credentials already come from
    /// OPENCLAW_GATEWAY_TOKEN/PASSWORD first
    #[argh(switch)]
    pub auth_from_env: bool,
    /// not supported: worker session hosting (refused)
    #[argh(switch)]
    pub session_host: bool,
    /// not supported: provider-managed worker nodes (refused)
    #[argh(switch)]
    pub ephemeral: bool,
}

/// The `openclaw node run` flags with no meaning here: refused when they would promise
/// something this node does not do, else accepted with a debug log.
fn check_compat_flags(args: &RunArgs) -> Result<(), CliError> {
    if args.session_host {
        return Err(CliError::new(
            "--session-host is not supported: openclaw-node hosts no worker sessions; run the TS \
             node host (`openclaw node run --session-host`) for that",
        ));
    }
    if args.ephemeral {
        return Err(CliError::new(
            "--ephemeral is not supported: openclaw-node is not a provider-managed worker node",
        ));
    }
    for (given, flag) in [
        (args.share_installed_apps, "--share-installed-apps"),
        (args.no_share_installed_apps, "--no-share-installed-apps"),
        (args.desktop_sharing, "--desktop-sharing"),
        (args.no_desktop_sharing, "--no-desktop-sharing"),
        (args.auth_from_env, "--auth-from-env"),
    ] {
        if given {
            log::debug!("{flag}: accepted for `openclaw node run` compatibility; no effect here");
        }
    }
    Ok(())
}

/// The variable a setup code can come in by, out of `ps` and shell history (used as
/// `--pair-if-needed`, so a restart never spends a used code). TS has none.
pub const PAIR_CODE_ENV: &str = "OPENCLAW_NODE_PAIR_CODE";

/// A setup code given to this run.
struct Pairing {
    code: SetupCode,
    /// `--pair`: the bootstrap token is sent even when a device token is stored.
    prefer_bootstrap: bool,
    /// `--pair-if-needed` with a code past its `expiresAtMs`: only its endpoint is used, and
    /// only if a device token is stored (TS refuses to start; a restart of a paired node in a
    /// unit or container must not depend on a 10-minute code).
    expired: bool,
}

/// The setup code of this run, from `--pair`, `--pair-if-needed` or [`PAIR_CODE_ENV`].
fn pairing_request(args: &RunArgs) -> Result<Option<Pairing>, CliError> {
    let from_env = std::env::var(PAIR_CODE_ENV)
        .ok()
        .filter(|code| !code.trim().is_empty());
    // Read once; no child may inherit it (run calls this before it starts any thread).
    std::env::remove_var(PAIR_CODE_ENV);
    let (input, prefer) = match (&args.pair, &args.pair_if_needed) {
        (Some(_), Some(_)) => {
            return Err(CliError::new(
                "option '--pair-if-needed <code-or-url>' cannot be used with option '--pair <code-or-url>'",
            ))
        }
        (Some(code), None) => (code.clone(), true),
        (None, Some(code)) => (code.clone(), false),
        (None, None) => match from_env {
            Some(code) => (code, false),
            None => return Ok(None),
        },
    };
    let (code, expired) = match SetupCode::decode(&input, crate::clock::now_ms()) {
        Ok(code) => (code, false),
        Err(err) if !prefer && err == crate::setup_code::EXPIRED => {
            (SetupCode::decode(&input, 0).map_err(CliError::new)?, true)
        }
        Err(err) if err == crate::setup_code::EXPIRED => {
            return Err(CliError::new(format!(
                "{err}: {}",
                crate::gateway::refusal::SETUP_CODE_ADVICE
            )))
        }
        Err(err) => return Err(CliError::new(err)),
    };
    Ok(Some(Pairing {
        code,
        prefer_bootstrap: prefer,
        expired,
    }))
}

/// Runs the node until SIGINT (exit 130) or SIGTERM (exit 143), as the TS node host exits
/// after a clean shutdown, or a terminal auth failure (exit 1).
pub fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    check_compat_flags(args)?;
    let surface_choice =
        SurfaceChoice::from_flags(&args.commands, args.all_commands).map_err(CliError::new)?;
    let pairing = pairing_request(args)?;
    let settings = RunSettings::from_process()?;
    protect_process(settings.dumpable);
    let paths = settings.paths.clone();
    let config = settings.config.clone();
    // Before anything else is read or written: a second run would share this node's identity.
    let _run_lock =
        RunLock::acquire(&paths.run_lock_file()).map_err(|err| CliError::new(err.to_string()))?;
    state::open_for_run(&paths, crate::approvals::document::check)?;
    let saved = NodeState::load(&paths)?;

    // A setup code's endpoint stands in for the saved one: flags still win over it.
    let explicit_endpoint = args.host.is_some()
        || args.port.is_some()
        || args.context_path.is_some()
        || args.tls
        || args.no_tls
        || args.tls_fingerprint.is_some();
    let code_endpoint = pairing
        .as_ref()
        .map(|pairing| reachable_candidate(&pairing.code, explicit_endpoint));
    let baseline = code_endpoint
        .as_ref()
        .or(saved.as_ref().map(|s| &s.gateway));
    let endpoint = endpoint_for_run(baseline, args, &config)?;
    let url = GatewayUrl::new(
        endpoint
            .host
            .as_deref()
            .unwrap_or(state::DEFAULT_GATEWAY_HOST),
        endpoint.port.unwrap_or(state::DEFAULT_GATEWAY_PORT),
        endpoint.tls.unwrap_or(false),
        endpoint.context_path.as_deref(),
    );
    if !url.tls {
        transport::check_plaintext_allowed(&url.host, settings.allow_insecure_private_ws)
            .map_err(|e| CliError::new(e.to_string()))?;
    }

    let identity = state::load_or_create_identity(&paths)?;
    let device_id = identity.device_id();
    if pairing.as_ref().is_some_and(|p| p.expired) {
        let stored = DeviceAuthStore::new(&paths)
            .token(&device_id, crate::gateway::connect::ROLE)
            .ok()
            .flatten();
        if stored.is_none() {
            return Err(CliError::new(format!(
                "{}: {}",
                crate::setup_code::EXPIRED,
                crate::gateway::refusal::SETUP_CODE_ADVICE
            )));
        }
        log::info!("the setup code has expired; connecting with the stored device token");
    }
    let public_key = identity.public_key_b64url();
    let saved = saved.map(|mut saved| {
        // The seed's `--node-id` "clears pairing token": the legacy per-node token that old
        // node.json files carry. The device pairing (device-auth.json) belongs to the key, not
        // to the instance id, and is kept, as 2026.7.x and 2026.9.6 keep it.
        let new_id = args
            .node_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        if new_id.is_some_and(|id| id != saved.node_id) && saved.legacy_token.take().is_some() {
            log::info!("--node-id changed the instance id; dropped the legacy node.json token");
        }
        saved
    });
    let node_state = state::apply_run_overrides(
        &paths,
        saved,
        args.node_id.as_deref(),
        args.display_name.as_deref(),
        &endpoint,
    )?;
    let allowlist = surface_choice.resolve(node_state.commands.as_deref());
    let node_state = state::apply_command_allowlist(&paths, node_state, allowlist)?;
    let display_name = node_state.display_name.clone();

    let path_env = settings.path_env.clone();
    // MCP servers start only for a surface that serves their calls: a node whose `--commands`
    // leave out mcp.tools.call.v1 has no MCP threads and no server processes.
    let mcp_chosen = node_state
        .commands
        .as_deref()
        .map_or(true, |ids| ids.iter().any(|id| id == "mcp.tools.call.v1"));
    let (mcp, mcp_catalog) = if mcp_chosen {
        let (mcp, catalog) = crate::mcp::start(&config, settings.secrets.clone())
            .map_err(|err| CliError::new(format!("cannot start the MCP catalog thread: {err}")))?;
        (Some(mcp), Some(catalog))
    } else {
        (None, None)
    };
    let runtime = Arc::new(NodeRuntime {
        paths: paths.clone(),
        config: config.clone(),
        path_env: path_env.clone(),
        approvals: crate::approvals::ApprovalsStore::new(&paths),
        browser: BrowserProxy::from_config(
            &config,
            &settings.browser_host,
            &paths,
            settings.secrets.clone(),
        ),
        secrets: settings.secrets.clone(),
        mcp: mcp.clone(),
    });
    let surface = CommandSurface::chosen(runtime.clone(), node_state.commands.as_deref())
        .map_err(CliError::new)?;
    let (caps, commands) = surface.advertised();
    // A chosen surface sends no pathEnv and publishes nothing on its own, as TS.
    let restricted = surface.restricted();

    let status = StatusReporter::new(&paths);
    status.started(
        &url.to_url(),
        &device_id,
        &node_state.node_id,
        display_name.as_deref().unwrap_or(""),
    );
    log::info!(
        "openclaw-node {} starting: gateway {url}, device {device_id}, state {}",
        env!("CARGO_PKG_VERSION"),
        paths.dir().display()
    );
    let policy = crate::approvals::startup_notice(&runtime.approvals, runtime.config.as_ref().into());
    log::log!(policy.level, "{}", policy.message);
    log::info!(
        "advertising {} commands: {}",
        commands.len(),
        commands.join(", ")
    );

    // What the node publishes on its own while connected (host stats, skills, the MCP catalog).
    let mut publishers: Vec<Arc<dyn Publisher>> = Vec::new();
    if !restricted {
        publishers.extend(full_surface_publications(&paths, &config).map_err(CliError::new)?);
        if let Some(catalog) = mcp_catalog {
            publishers.push(Arc::new(catalog));
        }
    }

    let control = Arc::new(SessionControl::default());
    let stopped_by = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let shutdown = install_signal_handlers(control.clone(), stopped_by.clone(), args.parent_stdin)?;
    let dispatcher = Dispatcher::new(Arc::new(surface), Pool::sized(settings.max_invokes));
    let node_loop = NodeLoop {
        url,
        pin: node_state.gateway.tls_fingerprint.clone(),
        client: ClientDescription {
            identity: &identity,
            device_id: &device_id,
            public_key: &public_key,
            display_name: display_name.as_deref(),
            instance_id: &node_state.node_id,
            caps: &caps,
            commands: &commands,
            path_env: (!restricted).then_some(path_env.as_str()),
        },
        // With a setup code the env and config credentials are not used (protocol §1.5).
        token: settings.token.clone().filter(|_| pairing.is_none()),
        password: settings.password.clone().filter(|_| pairing.is_none()),
        bootstrap: pairing
            .as_ref()
            .filter(|pairing| !pairing.expired)
            .map(|pairing| pairing.code.bootstrap_token.clone()),
        prefer_bootstrap: pairing.as_ref().is_some_and(|p| p.prefer_bootstrap),
        device_auth: DeviceAuthStore::new(&paths),
        dispatcher: &dispatcher,
        status: &status,
        control: &control,
        shutdown,
        handshake_timeout: settings.handshake_timeout,
        publishers: &publishers,
    };
    let exit = node_loop.run();
    if let Some(browser) = &runtime.browser {
        browser.shutdown();
    }
    if let Some(mcp) = &mcp {
        mcp.shutdown();
    }
    status.stopped();
    match exit {
        LoopExit::Shutdown => {
            log::info!("stopped");
            Ok(ExitCode::from(exit_status_after(
                stopped_by.load(std::sync::atomic::Ordering::SeqCst),
            )))
        }
        LoopExit::Fatal(message) => Err(CliError::new(message)),
    }
}

/// The code's first candidate that accepts a TCP connection, in order (TS tries the next one
/// when a connection fails before `connect`); the first when none does, or when explicit
/// endpoint flags make the list moot.
fn reachable_candidate(code: &SetupCode, explicit_endpoint: bool) -> GatewayEndpoint {
    let candidates = code.candidates();
    if explicit_endpoint || candidates.len() < 2 {
        return code.primary();
    }
    for candidate in &candidates {
        let (Some(host), Some(port)) = (candidate.host.as_deref(), candidate.port) else {
            continue;
        };
        let reachable = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .into_iter()
            .flatten()
            .any(|addr| {
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
                    .is_ok()
            });
        if reachable {
            log::info!("setup code: using {host}:{port}");
            return candidate.clone();
        }
        log::info!("setup code: {host}:{port} is not reachable; trying the next address");
    }
    code.primary()
}

/// What a node with its full surface publishes (a `--commands` surface publishes nothing).
fn full_surface_publications(
    paths: &crate::paths::StatePaths,
    config: &NodeConfig,
) -> Result<Vec<Arc<dyn Publisher>>, String> {
    use crate::node_publications as publications;
    let cannot = |e: std::io::Error| format!("cannot start a publication thread: {e}");
    let home = std::env::var_os("HOME").map_or_else(|| "/".into(), std::path::PathBuf::from);
    let mut list: Vec<Arc<dyn Publisher>> = vec![
        Arc::new(publications::host_stats(home).map_err(cannot)?),
        publications::runner_inventory().map_err(cannot)?,
    ];
    if config.get_bool(&["nodeHost", "skills", "enabled"]) != Some(false) {
        let dir = crate::skills::skills_dir(paths.dir());
        list.push(publications::skills(dir).map_err(cannot)?);
    }
    Ok(list)
}

/// Makes the node a child subreaper, so that a run's timeout finds descendants that left its
/// process group (`exec/reaper.rs`), and non-dumpable, so that a same-user child can read
/// neither its memory nor `/proc/<node>/environ` (which still shows the credentials the node
/// was started with). Root can read both whatever the flag says, so a node running as root is
/// left dumpable. Failures are logged, not fatal: the node works without either.
fn protect_process(dumpable: bool) {
    if let Err(err) = crate::exec::become_subreaper() {
        log::warn!("cannot become a child subreaper ({err}); a timed-out command's descendants that leave its process group and are orphaned may survive");
    }
    #[cfg(target_os = "linux")]
    if !dumpable && !rustix::process::geteuid().is_root() {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(err) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            log::warn!("cannot make the node non-dumpable ({err}); same-user processes can read its memory");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dumpable;
}

/// The endpoint for this run (flags over saved values, §1.1), with the pin normalised.
fn endpoint_for_run(
    saved: Option<&GatewayEndpoint>,
    args: &RunArgs,
    config: &NodeConfig,
) -> Result<GatewayEndpoint, CliError> {
    let flags = EndpointFlags {
        host: args.host.clone(),
        port: args.port,
        context_path: args.context_path.clone(),
        tls: args.tls,
        no_tls: args.no_tls,
        tls_fingerprint: args.tls_fingerprint.clone(),
    };
    // The checks and rules `install` uses too: `--tls --no-tls` and `--port 0` are refused.
    let mut endpoint = crate::endpoint::resolve(&flags, saved).map_err(CliError::new)?;
    if endpoint.tls.is_none() {
        endpoint.tls = config.get_bool(&["gateway", "tls", "enabled"]);
    }
    Ok(endpoint)
}

/// The exit status after a clean stop: 128 + the signal (130 for SIGINT, 143 for SIGTERM), as
/// TS's `finish(130|143)`; 0 when stdin closed (`--parent-stdin`).
fn exit_status_after(signal: i32) -> u8 {
    if signal <= 0 {
        0
    } else {
        u8::try_from(128 + signal).unwrap_or(1)
    }
}

/// SIGINT/SIGTERM (Windows: Ctrl-C as SIGINT; Ctrl-Break, console close, logoff and shutdown as
/// SIGTERM), and with `--parent-stdin` the end of stdin: close the active session cleanly and
/// end the loop. Records the signal in `stopped_by`. Returns the receiver the loop watches; it
/// disconnects when the node must stop.
fn install_signal_handlers(
    control: Arc<SessionControl>,
    stopped_by: Arc<std::sync::atomic::AtomicI32>,
    parent_stdin: bool,
) -> Result<crossbeam_channel::Receiver<()>, CliError> {
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    let stop = Arc::new(std::sync::Mutex::new(Some((tx, control))));
    let stop_now = {
        let stop = stop.clone();
        move |why: &str| {
            if let Some((tx, control)) = stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
                log::info!("{why}; closing the gateway connection");
                drop(tx);
                control.shut_down(1000, "node shutting down");
            }
        }
    };
    let on_signal = stop_now.clone();
    crate::platform::shutdown::on_shutdown(move |what, signal| {
        stopped_by.store(signal, std::sync::atomic::Ordering::SeqCst);
        on_signal(&format!("received {what}"));
    })
    .map_err(|e| CliError::new(format!("cannot install the shutdown handler: {e}")))?;
    if parent_stdin {
        std::thread::Builder::new()
            .name("parent-stdin".into())
            .spawn(move || {
                let mut sink = [0u8; 512];
                let mut stdin = std::io::stdin().lock();
                while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
                stop_now("stdin closed (--parent-stdin)");
            })
            .map_err(|e| CliError::new(format!("cannot start the stdin thread: {e}")))?;
    }
    Ok(rx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_clean_stop_exits_as_the_ts_node_host() {
        assert_eq!(super::exit_status_after(2), 130);
        assert_eq!(super::exit_status_after(15), 143);
        assert_eq!(super::exit_status_after(0), 0);
    }
}
