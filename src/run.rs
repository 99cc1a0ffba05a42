//! `openclaw-node run`: connect to the gateway in the foreground and serve invocations.

use std::process::ExitCode;
use std::sync::Arc;

use argh::FromArgs;

use crate::browser::BrowserProxy;
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
}

/// Runs the node until SIGINT/SIGTERM (exit 0) or a terminal auth failure (exit 1).
pub fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    let settings = RunSettings::from_process()?;
    protect_process(settings.dumpable);
    let paths = settings.paths.clone();
    let config = settings.config.clone();
    // Before anything else is read or written: a second run would share this node's identity.
    let _run_lock =
        RunLock::acquire(&paths.run_lock_file()).map_err(|err| CliError::new(err.to_string()))?;
    state::open_for_run(&paths, crate::approvals::document::check)?;
    let saved = NodeState::load(&paths)?;

    let endpoint = endpoint_for_run(saved.as_ref().map(|s| &s.gateway), args, &config)?;
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
    let display_name = node_state.display_name.clone();

    let path_env = settings.path_env.clone();
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
    });
    let surface = CommandSurface::new(runtime.clone());
    let (caps, commands) = surface.advertised();

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
    let publishers: Vec<Arc<dyn Publisher>> = Vec::new();

    let control = Arc::new(SessionControl::default());
    let shutdown = install_signal_handlers(control.clone())?;
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
            path_env: &path_env,
        },
        token: settings.token.clone(),
        password: settings.password.clone(),
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
    status.stopped();
    match exit {
        LoopExit::Shutdown => {
            log::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        LoopExit::Fatal(message) => Err(CliError::new(message)),
    }
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

/// SIGINT/SIGTERM (Windows: Ctrl-C, Ctrl-Break, console close, logoff, shutdown): close the
/// active session cleanly and end the loop. Returns the receiver the
/// loop watches; it disconnects when a signal arrives.
fn install_signal_handlers(
    control: Arc<SessionControl>,
) -> Result<crossbeam_channel::Receiver<()>, CliError> {
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    crate::platform::shutdown::on_shutdown(move |what| {
        log::info!("received {what}; closing the gateway connection");
        drop(tx);
        control.shut_down(1000, "node shutting down");
    })
    .map_err(|e| CliError::new(format!("cannot install the shutdown handler: {e}")))?;
    Ok(rx)
}
