//! The service actions — install, start, stop, restart, uninstall — as functions of a
//! [`ServiceContext`] that return an [`ActionReport`]; `mod.rs` prints it as text or JSON.

use std::path::PathBuf;

use serde::Serialize;

use super::context::{ManagerChoice, ServiceContext};
use super::envfile::{self, EnvFileOutcome};
use super::launchd::{self, Launchd};
use super::manager::ServiceManager;
use super::schtasks::{self, ScheduledTask};
use super::script;
use super::spec::{self, EndpointFlags, ServiceSpec};
use super::systemd::{self, Scope, Systemd};
use super::{files, InstallArgs};
use crate::commands::allowlist::SurfaceChoice;
use crate::state::NodeState;

/// The outcome of one service action: the `--json` document, and what the text output says.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// `install`, `start`, `stop`, `restart` or `uninstall`.
    pub action: &'static str,
    pub ok: bool,
    /// What happened, when `ok`: `installed`, `replaced`, `printed`, `started`, `stopped`,
    /// `restarted`, `uninstalled`, `not-installed`.
    pub result: Option<&'static str>,
    /// One or two sentences for a person.
    pub message: String,
    /// Why the action failed, when it did.
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// Commands worth running next.
    pub hints: Vec<String>,
    pub service: ServiceSummary,
    /// `install --print`: the definition that was printed.
    pub printed: Option<Printed>,
}

/// Which service the action was about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    /// `systemd`, `launchd`, `schtasks`, or `null` when no service manager is available.
    pub manager: Option<&'static str>,
    pub label: Option<&'static str>,
    pub definition_path: Option<String>,
    /// Whether the definition file exists after the action.
    pub installed: bool,
    /// The credentials file the service reads.
    pub env_file: String,
}

/// The definition `install --print` wrote to stdout.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Printed {
    /// `systemd-user-unit`, `systemd-system-unit`, `launchd-plist`, `windows-cmd` or `sh-script`.
    pub format: &'static str,
    pub content: String,
}

impl ActionReport {
    fn new(
        action: &'static str,
        ctx: &ServiceContext,
        manager: Option<&dyn ServiceManager>,
    ) -> ActionReport {
        let definition = manager.map(|m| m.definition_path());
        ActionReport {
            action,
            ok: false,
            result: None,
            message: String::new(),
            error: None,
            warnings: Vec::new(),
            hints: Vec::new(),
            service: ServiceSummary {
                manager: manager.map(|m| m.kind()),
                label: manager.map(|m| m.label()),
                installed: definition.as_ref().is_some_and(|p| p.exists()),
                definition_path: definition.map(|p| p.to_string_lossy().into_owned()),
                env_file: ctx.paths.service_env_file().to_string_lossy().into_owned(),
            },
            printed: None,
        }
    }

    fn succeed(mut self, result: &'static str, message: impl Into<String>) -> ActionReport {
        self.ok = true;
        self.result = Some(result);
        self.message = message.into();
        self
    }

    fn fail(mut self, error: impl Into<String>, hints: Vec<String>) -> ActionReport {
        let error = error.into();
        self.ok = false;
        self.result = None;
        self.message = error.clone();
        self.error = Some(error);
        self.hints.extend(hints);
        self
    }

    fn refresh_installed(&mut self) {
        self.service.installed = self
            .service
            .definition_path
            .as_deref()
            .is_some_and(|p| std::path::Path::new(p).exists());
    }
}

/// The service manager for `ctx`, or why there is none.
pub fn manager_for(ctx: &ServiceContext) -> Result<Box<dyn ServiceManager>, String> {
    match &ctx.manager {
        ManagerChoice::Systemd { systemctl } => Ok(Box::new(Systemd {
            systemctl: systemctl.clone(),
            unit_dir: systemd::user_unit_dir(&ctx.config_home),
            linger_dir: ctx.linger_dir.clone(),
            user: ctx.user.clone(),
        })),
        ManagerChoice::Launchd { launchctl } => Ok(Box::new(Launchd {
            launchctl: launchctl.clone(),
            agents_dir: launchd::agents_dir(&ctx.home),
            uid: ctx.uid,
        })),
        ManagerChoice::ScheduledTask { schtasks } => Ok(Box::new(ScheduledTask {
            schtasks: schtasks.clone(),
            state_dir: ctx.paths.dir().to_path_buf(),
            user: schtasks::task_user(|key| std::env::var(key).ok()),
            startup_dir: std::env::var_os("APPDATA").map(|appdata| {
                PathBuf::from(appdata).join(r"Microsoft\Windows\Start Menu\Programs\Startup")
            }),
        })),
        ManagerChoice::Unavailable { reason } => Err(reason.clone()),
    }
}

/// Hints for a machine without a usable service manager.
fn own_supervisor_hints() -> Vec<String> {
    vec![
        "openclaw-node install --print --host <gateway-host> > openclaw-node.sh   (a start script for your own supervisor)".into(),
        "openclaw-node run --host <gateway-host>   (run in the foreground)".into(),
    ]
}

fn install_hint() -> String {
    "openclaw-node install --host <gateway-host> --port <port>".into()
}

/// `install`: write the definition and the credentials file, enable and start the service.
pub fn install(ctx: &ServiceContext, args: &InstallArgs) -> ActionReport {
    let manager = manager_for(ctx);
    let mut report = ActionReport::new("install", ctx, manager.as_deref().ok());

    if let Some(runtime) = args.runtime.as_deref() {
        if !matches!(runtime, "node" | "bun") {
            return report.fail(
                format!("invalid --runtime {runtime:?} (use \"node\" or \"bun\")"),
                vec![],
            );
        }
        report.warnings.push(format!(
            "--runtime {runtime} has no effect: openclaw-node is a native program and needs no \
             JavaScript runtime (the option is accepted for compatibility with `openclaw node install`)"
        ));
    }
    for (given, flag) in [
        (args.runtime_path.is_some(), "--runtime-path"),
        (args.share_installed_apps, "--share-installed-apps"),
        (args.no_share_installed_apps, "--no-share-installed-apps"),
    ] {
        if given {
            log::debug!("{flag}: accepted for `openclaw node install` compatibility; no effect here");
        }
    }
    let format = match (args.manager.as_deref(), args.print) {
        (None, _) => None,
        (Some(_), false) => {
            return report.fail(
                "--manager chooses what --print prints; `install` itself uses this machine's \
                 service manager"
                    .to_string(),
                vec!["openclaw-node install --print --manager systemd > openclaw-node.service".into()],
            )
        }
        (Some(name), true) => match PrintFormat::parse(name, ctx) {
            Some(format) => Some(format),
            None => {
                return report.fail(
                    format!("--manager {name:?} is not one this node can print: use systemd, launchd or script (or schtasks, the Windows Scheduled Task's node.cmd)"),
                    vec![],
                )
            }
        },
    };
    let spec = match build_spec(ctx, args) {
        Ok(spec) => spec,
        Err(err) => return report.fail(err, vec![]),
    };
    if args.print {
        let format = format.unwrap_or_else(|| PrintFormat::for_machine(ctx, manager.as_deref().ok()));
        return print(ctx, format, &spec, report);
    }
    let manager = match manager {
        Ok(manager) => manager,
        Err(reason) => {
            return report.fail(
                format!(
                    "{reason}. `install` needs systemd (Linux) or launchd (macOS); run the node \
                     under your own supervisor instead, or in the foreground:"
                ),
                own_supervisor_hints(),
            )
        }
    };
    if ctx.euid == 0 {
        return report.fail(root_refusal(manager.kind()), vec![]);
    }
    if args.at_boot && manager.kind() != "schtasks" {
        return report.fail(
            "--at-boot is for Windows' Scheduled Task; with systemd, `sudo loginctl enable-linger \
             $USER` keeps the user service running without a login"
                .to_string(),
            vec![],
        );
    }
    let path = manager.definition_path();
    let previous = std::fs::read_to_string(&path).ok();
    if previous.is_some() && !args.force {
        return report.fail(
            format!(
                "the node service is already installed ({}: {})",
                manager.noun(),
                path.display()
            ),
            vec![
                "openclaw-node install --force ...   (replace it, with the options you give now)"
                    .into(),
                "openclaw-node status".into(),
            ],
        );
    }

    let env_file = ctx.paths.service_env_file();
    let env_note = match envfile::write_credentials(&env_file, &ctx.credentials) {
        Ok(EnvFileOutcome::Written) => format!(
            "Gateway credentials from the environment were written to {} (mode 0600).",
            env_file.display()
        ),
        Ok(EnvFileOutcome::Kept) => format!(
            "No OPENCLAW_GATEWAY_TOKEN/OPENCLAW_GATEWAY_PASSWORD in the environment: kept the \
             credentials file {} as it was.",
            env_file.display()
        ),
        Ok(EnvFileOutcome::Empty) => String::new(),
        Err(err) => return report.fail(err, vec![]),
    };
    // launchd opens the log file itself and does not create its directory.
    if let Some(dir) = spec.log_file.parent() {
        let _ = std::fs::DirBuilder::new().recursive(true).create(dir);
    }
    let content = manager.render(&spec);
    if let Err(err) = files::write_atomic(&path, content.as_bytes(), 0o644, 0o755) {
        return report.fail(format!("cannot write {}: {err}", path.display()), vec![]);
    }
    report.refresh_installed();
    if let Err(err) = manager.activate() {
        return report.fail(
            format!(
                "wrote {} but could not start the service: {err}",
                path.display()
            ),
            vec![
                "openclaw-node install --force ...   (try again once the cause is fixed)".into(),
                "openclaw-node uninstall   (remove it again)".into(),
            ],
        );
    }
    report.warnings.extend(manager.install_warnings());
    let replaced_foreign = previous
        .as_deref()
        .is_some_and(|p| !written_by_us(manager.kind(), p));
    let (result, verb) = match (&previous, replaced_foreign) {
        (None, _) => ("installed", "Installed"),
        (Some(_), false) => ("replaced", "Reinstalled"),
        (Some(_), true) => (
            "replaced",
            "Replaced the existing (not openclaw-node's) definition and installed",
        ),
    };
    let mut message = format!(
        "{verb} the node service ({} {}, {}) and started it; it connects to {}.",
        manager.noun(),
        manager.label(),
        path.display(),
        spec::endpoint_from_command(&spec.program)
            .map(|e| e.url())
            .unwrap_or_default(),
    );
    if !env_note.is_empty() {
        message.push(' ');
        message.push_str(&env_note);
    }
    report.hints.push("openclaw-node status".into());
    report.succeed(result, message)
}

fn written_by_us(kind: &str, definition: &str) -> bool {
    match kind {
        "systemd" => systemd::written_by_us(definition),
        _ => launchd::written_by_us(definition),
    }
}

/// Why `install` refuses to run as root, and what to do instead.
fn root_refusal(kind: &str) -> String {
    let how = if kind == "systemd" {
        "To run it as root anyway, write a system unit: `openclaw-node install --print <options> > \
         /etc/systemd/system/openclaw-node.service`, then `systemctl daemon-reload && systemctl \
         enable --now openclaw-node`."
    } else {
        "A LaunchAgent belongs to a logged-in user."
    };
    format!(
        "refusing to install as root: `install` sets up a per-user service, and a node running \
         as root runs every command the gateway's agents are allowed as root. Run `install` as \
         the user the node should run as (on Linux, then `sudo loginctl enable-linger <user>`). {how}"
    )
}

/// `install --print`: the definition on stdout instead of installed. The credentials, if the
/// environment has any, still go to their 0600 file, since the definition only names it.
/// What `install --print` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrintFormat {
    SystemdUser,
    SystemdSystem,
    LaunchdPlist,
    /// Windows: the Scheduled Task's `node.cmd`.
    WindowsCmd,
    Script,
}

impl PrintFormat {
    /// `--manager NAME`. A systemd unit is a user unit unless the node runs as root, as on this
    /// machine's own install.
    fn parse(name: &str, ctx: &ServiceContext) -> Option<PrintFormat> {
        match name.trim() {
            "systemd" if ctx.euid == 0 => Some(PrintFormat::SystemdSystem),
            "systemd" => Some(PrintFormat::SystemdUser),
            "launchd" => Some(PrintFormat::LaunchdPlist),
            "schtasks" => Some(PrintFormat::WindowsCmd),
            "script" | "sh" => Some(PrintFormat::Script),
            _ => None,
        }
    }

    /// What this machine's own service manager would use.
    fn for_machine(ctx: &ServiceContext, manager: Option<&dyn ServiceManager>) -> PrintFormat {
        match manager.map(|m| m.kind()) {
            Some("systemd") if ctx.euid == 0 => PrintFormat::SystemdSystem,
            Some("systemd") => PrintFormat::SystemdUser,
            Some("schtasks") => PrintFormat::WindowsCmd,
            Some(_) => PrintFormat::LaunchdPlist,
            None => PrintFormat::Script,
        }
    }
}

fn print(
    ctx: &ServiceContext,
    format: PrintFormat,
    spec: &ServiceSpec,
    mut report: ActionReport,
) -> ActionReport {
    let (format, content) = match format {
        PrintFormat::SystemdSystem => (
            "systemd-system-unit",
            systemd::render_unit(spec, Scope::System),
        ),
        PrintFormat::SystemdUser => ("systemd-user-unit", systemd::render_unit(spec, Scope::User)),
        PrintFormat::LaunchdPlist => ("launchd-plist", launchd::render_plist(spec)),
        PrintFormat::WindowsCmd => ("windows-cmd", schtasks::render_cmd(spec)),
        PrintFormat::Script => ("sh-script", script::render_script(spec)),
    };
    let mut message = match format {
        "sh-script" => "Printed a start script for your own supervisor.".to_string(),
        "systemd-system-unit" => {
            "Printed a systemd system unit (the node runs as root).".to_string()
        }
        other => format!("Printed the {other} definition; nothing was installed."),
    };
    if !ctx.credentials.is_empty() {
        let env_file = ctx.paths.service_env_file();
        match envfile::write_credentials(&env_file, &ctx.credentials) {
            Ok(_) => message.push_str(&format!(
                " Gateway credentials from the environment were written to {} (mode 0600), which it reads.",
                env_file.display()
            )),
            Err(err) => return report.fail(err, vec![]),
        }
    }
    report.printed = Some(Printed { format, content });
    report.succeed("printed", message)
}

/// The service definition for `args` on this machine.
pub fn build_spec(ctx: &ServiceContext, args: &InstallArgs) -> Result<ServiceSpec, String> {
    let saved = NodeState::load(&ctx.paths).map_err(|e| e.to_string())?;
    let flags = EndpointFlags {
        host: args.host.clone(),
        port: args.port,
        context_path: args.context_path.clone(),
        tls: args.tls,
        no_tls: args.no_tls,
        tls_fingerprint: args.tls_fingerprint.clone(),
    };
    let endpoint = spec::resolve_endpoint(&flags, saved.as_ref().map(|s| &s.gateway))?;
    let surface = SurfaceChoice::from_flags(&args.commands, args.all_commands)?;
    let spec = ServiceSpec {
        description: "OpenClaw node host (openclaw-node)".into(),
        program: spec::run_command(
            &ctx.exe,
            &endpoint,
            args.node_id.as_deref(),
            args.display_name.as_deref(),
            &surface.to_args(),
        ),
        environment: ctx.service_env.clone(),
        env_file: ctx.paths.service_env_file(),
        working_directory: ctx.home.clone(),
        log_file: ctx.paths.node_dir().join("service.log"),
        at_boot: args.at_boot,
    };
    spec.validate()?;
    Ok(spec)
}

/// `start`: start the installed service; without one, fail with the install hint.
pub fn start(ctx: &ServiceContext) -> ActionReport {
    drive(ctx, "start", "started", "Started", |m| m.start())
}

/// `restart`: restart the installed service; without one, fail with the install hint.
pub fn restart(ctx: &ServiceContext) -> ActionReport {
    drive(ctx, "restart", "restarted", "Restarted", |m| m.restart())
}

fn drive(
    ctx: &ServiceContext,
    action: &'static str,
    result: &'static str,
    verb: &str,
    op: impl FnOnce(&dyn ServiceManager) -> Result<(), String>,
) -> ActionReport {
    let manager = match manager_for(ctx) {
        Ok(manager) => manager,
        Err(reason) => {
            return ActionReport::new(action, ctx, None).fail(
                format!("{reason}, so there is no node service to {action}"),
                own_supervisor_hints(),
            )
        }
    };
    let report = ActionReport::new(action, ctx, Some(manager.as_ref()));
    if !report.service.installed {
        return report.fail(
            "the node service is not installed",
            vec![
                install_hint(),
                "openclaw-node run --host <gateway-host>   (run in the foreground)".into(),
            ],
        );
    }
    match op(manager.as_ref()) {
        Ok(()) => {
            let message = format!("{verb} the node service ({}).", manager.label());
            let mut report = report.succeed(result, message);
            report.hints.push("openclaw-node status".into());
            report
        }
        Err(err) => report.fail(err, vec![manager.start_hint()]),
    }
}

/// `stop`: stop the installed service; a missing one is a successful no-op.
pub fn stop(ctx: &ServiceContext) -> ActionReport {
    let manager = match manager_for(ctx) {
        Ok(manager) => manager,
        Err(reason) => {
            return ActionReport::new("stop", ctx, None).succeed(
                "not-installed",
                format!("{reason}; no node service to stop."),
            )
        }
    };
    let report = ActionReport::new("stop", ctx, Some(manager.as_ref()));
    if !report.service.installed {
        return report.succeed(
            "not-installed",
            "The node service is not installed; nothing to stop.",
        );
    }
    match manager.stop() {
        Ok(()) => report.succeed(
            "stopped",
            format!("Stopped the node service ({}).", manager.label()),
        ),
        Err(err) => report.fail(err, vec![]),
    }
}

/// `uninstall`: stop, disable and remove the service and its credentials file; a missing
/// service is a successful no-op.
pub fn uninstall(ctx: &ServiceContext) -> ActionReport {
    let manager = match manager_for(ctx) {
        Ok(manager) => manager,
        Err(reason) => {
            return ActionReport::new("uninstall", ctx, None).succeed(
                "not-installed",
                format!("{reason}; no node service to uninstall."),
            )
        }
    };
    let mut report = ActionReport::new("uninstall", ctx, Some(manager.as_ref()));
    if !report.service.installed {
        return report.succeed(
            "not-installed",
            "The node service is not installed; nothing to uninstall.",
        );
    }
    if let Err(err) = manager.deactivate() {
        report.warnings.push(format!(
            "could not stop and disable the service first: {err}"
        ));
    }
    let path = manager.definition_path();
    if let Err(err) = files::remove_if_exists(&path) {
        return report.fail(format!("cannot remove {}: {err}", path.display()), vec![]);
    }
    report.refresh_installed();
    if let Err(err) = manager.forget() {
        report.warnings.push(err);
    }
    let env_file = ctx.paths.service_env_file();
    let mut message = format!(
        "Removed the node service ({}, {}).",
        manager.label(),
        path.display()
    );
    match files::remove_if_exists(&env_file) {
        Ok(true) => message.push_str(&format!(
            " Removed its credentials file {}.",
            env_file.display()
        )),
        Ok(false) => {}
        Err(err) => report
            .warnings
            .push(format!("cannot remove {}: {err}", env_file.display())),
    }
    report.succeed("uninstalled", message)
}
