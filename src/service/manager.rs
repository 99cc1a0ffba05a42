//! The interface each service manager (systemd, launchd) implements, and running its tool.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::spec::ServiceSpec;

/// What the service manager says about the installed service. `None` = it could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRuntime {
    /// Starts on its own (systemd: enabled; launchd: loaded).
    pub enabled: Option<bool>,
    /// The service's process is up.
    pub running: Option<bool>,
    /// Its main process.
    pub pid: Option<u32>,
    /// The manager's own words, e.g. `active (running)`, `failed (exit-code)`.
    pub state: Option<String>,
    /// Why the manager could not be asked, when it could not.
    pub detail: Option<String>,
}

/// A service manager that can run the node. The definition file is written and removed by the
/// caller; these methods tell the manager about it and drive the service.
pub trait ServiceManager {
    /// `systemd` or `launchd`.
    fn kind(&self) -> &'static str;
    /// The unit or job name: `openclaw-node.service`, `ai.openclaw.node`.
    fn label(&self) -> &'static str;
    /// A phrase for messages: "systemd user unit", "launchd LaunchAgent".
    fn noun(&self) -> &'static str;
    /// Where the definition (unit file, plist) lives.
    fn definition_path(&self) -> PathBuf;
    /// The definition for `spec`.
    fn render(&self, spec: &ServiceSpec) -> String;
    /// The program and arguments recorded in a definition this module wrote.
    fn parse_command(&self, definition: &str) -> Option<Vec<String>>;
    /// After the definition was written: load it, enable it, and (re)start the service.
    fn activate(&self) -> Result<(), String>;
    /// Starts the installed service.
    fn start(&self) -> Result<(), String>;
    /// Stops it until the next `start` (or login/boot, if enabled).
    fn stop(&self) -> Result<(), String>;
    /// Restarts it, or starts it when it is not running.
    fn restart(&self) -> Result<(), String>;
    /// Before the definition is removed: stop and disable. Errors are reported, not fatal.
    fn deactivate(&self) -> Result<(), String>;
    /// After the definition was removed: let the manager forget it.
    fn forget(&self) -> Result<(), String>;
    /// The service's state as the manager sees it.
    fn runtime(&self) -> ServiceRuntime;
    /// Warnings worth printing after an install (systemd: lingering is off).
    fn install_warnings(&self) -> Vec<String>;
    /// The manager's own command to start the service, for hints.
    fn start_hint(&self) -> String;
}

/// Runs a service manager's tool and returns its stdout. A failure carries the command line and
/// what the tool printed, which is usually the most precise explanation there is.
pub fn run_tool(program: &Path, args: &[&str]) -> Result<String, String> {
    let shown = || format!("{} {}", program.display(), args.join(" "));
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run `{}`: {err}", shown()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = [stderr.trim(), stdout.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    let status = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    Err(format!("`{}` failed ({status}){said}", shown()))
}
