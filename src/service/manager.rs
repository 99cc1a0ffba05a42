//! The interface each service manager (systemd, launchd) implements, and running its tool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::spec::ServiceSpec;
use crate::cancel::CancelToken;
use crate::exec::ExecSpec;

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

/// How long a service manager's tool may run. `systemctl --user stop|restart` waits for the
/// job: our unit's `TimeoutStopSec=15` bounds the stop, and the start that follows is quick, so
/// 30 s is twice the worst honest case. `launchctl bootout` waits for the job to exit, which
/// launchd bounds by its `ExitTimeOut` (20 s by default). A tool still running then is stuck
/// (a hung user bus, a wedged launchd): the caller gets an error instead of a hung command.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a service manager's tool and returns its stdout. A failure carries the command line and
/// what the tool printed, which is usually the most precise explanation there is.
///
/// The tool runs through [`crate::exec::run`], like any command the node runs: in its own
/// process group, killed (TERM, then KILL) and reaped if it outlives `timeout`.
pub fn run_tool(program: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
    let shown = || format!("{} {}", program.display(), args.join(" "));
    let Some(program_text) = program.to_str() else {
        return Err(format!(
            "cannot run `{}`: its path is not UTF-8; put the tool on a UTF-8 path",
            shown()
        ));
    };
    let spec = ExecSpec {
        argv: std::iter::once(program_text)
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect(),
        // The tool needs the user's environment (`systemctl --user` finds the user's bus
        // through XDG_RUNTIME_DIR / DBUS_SESSION_BUS_ADDRESS). A variable that is not UTF-8
        // cannot be passed on and is left out.
        env: std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect(),
        timeout: Some(timeout),
        ..ExecSpec::default()
    };
    let outcome = crate::exec::run(&spec, &CancelToken::new());
    if let Some(err) = &outcome.launch_error {
        return Err(format!("cannot run `{}`: {err}", shown()));
    }
    if outcome.timed_out {
        return Err(format!(
            "`{}` did not finish within {} s and was stopped; check that the service manager answers (e.g. `{} --version`) and retry",
            shown(),
            timeout.as_secs(),
            program.display()
        ));
    }
    if outcome.exit_code == Some(0) {
        return Ok(outcome.stdout);
    }
    let said = [outcome.stderr.trim(), outcome.stdout.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    let status = match outcome.exit_code {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    Err(format!("`{}` failed ({status}){said}", shown()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(windows, ignore = "POSIX: runs /bin/sh")]

    #[test]
    fn a_tool_that_hangs_is_stopped_at_its_timeout() {
        let started = std::time::Instant::now();
        let err = run_tool(
            Path::new("/bin/sh"),
            &["-c", "sleep 30"],
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("did not finish within"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[cfg_attr(windows, ignore = "POSIX: runs /bin/sh")]

    #[test]
    fn a_tool_failure_carries_what_it_said() {
        let err = run_tool(
            Path::new("/bin/sh"),
            &["-c", "echo nope >&2; exit 3"],
            TOOL_TIMEOUT,
        )
        .unwrap_err();
        assert!(
            err.contains("exit status 3") && err.ends_with(": nope"),
            "{err}"
        );
        let out = run_tool(Path::new("/bin/sh"), &["-c", "echo yes"], TOOL_TIMEOUT);
        assert_eq!(out.as_deref(), Ok("yes\n"));
    }
}
