//! systemd: a user unit `~/.config/systemd/user/openclaw-node.service` driven with
//! `systemctl --user`; or, printed for root, a system unit to place by hand.
//!
//! The unit runs this binary with `run` and the connection flags, restarts it when it fails, and
//! reads the gateway credentials from the 0600 environment file, never from its arguments.

use std::path::{Path, PathBuf};

use super::manager::{run_tool, ServiceManager, ServiceRuntime, TOOL_TIMEOUT};
use super::spec::ServiceSpec;

/// The unit name; the same as `openclaw node install` uses, so either replaces the other.
pub const UNIT_NAME: &str = "openclaw-node.service";

/// The first line of every unit this module writes.
const MARKER: &str = "# Written by `openclaw-node install`";

/// Where the unit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A user unit under the user's systemd instance (`systemctl --user`).
    User,
    /// A system unit, for an administrator who wants the node to run as root (printed only).
    System,
}

/// The systemd user service manager.
pub struct Systemd {
    /// The `systemctl` to run.
    pub systemctl: PathBuf,
    /// `$XDG_CONFIG_HOME/systemd/user`.
    pub unit_dir: PathBuf,
    /// `/var/lib/systemd/linger`: a file per user with lingering on.
    pub linger_dir: PathBuf,
    /// The login name, for the lingering check and advice.
    pub user: Option<String>,
}

impl Systemd {
    fn systemctl(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["--user"];
        full.extend_from_slice(args);
        run_tool(&self.systemctl, &full, TOOL_TIMEOUT).map_err(explain_bus_error)
    }

    /// `Some(true)` when the user's systemd instance outlives their sessions.
    pub fn linger(&self) -> Option<bool> {
        let user = self.user.as_deref()?;
        Some(self.linger_dir.join(user).exists())
    }
}

impl ServiceManager for Systemd {
    fn kind(&self) -> &'static str {
        "systemd"
    }
    fn label(&self) -> &'static str {
        UNIT_NAME
    }
    fn noun(&self) -> &'static str {
        "systemd user unit"
    }
    fn definition_path(&self) -> PathBuf {
        self.unit_dir.join(UNIT_NAME)
    }
    fn render(&self, spec: &ServiceSpec) -> String {
        render_unit(spec, Scope::User)
    }
    fn parse_command(&self, definition: &str) -> Option<Vec<String>> {
        parse_exec_start(definition)
    }
    fn activate(&self) -> Result<(), String> {
        self.systemctl(&["daemon-reload"])?;
        self.systemctl(&["enable", UNIT_NAME])?;
        // `restart` starts a stopped unit and makes a running one (a `--force` reinstall) pick
        // up the new definition.
        self.systemctl(&["restart", UNIT_NAME])?;
        Ok(())
    }
    fn start(&self) -> Result<(), String> {
        self.systemctl(&["start", UNIT_NAME]).map(drop)
    }
    fn stop(&self) -> Result<(), String> {
        self.systemctl(&["stop", UNIT_NAME]).map(drop)
    }
    fn restart(&self) -> Result<(), String> {
        self.systemctl(&["restart", UNIT_NAME]).map(drop)
    }
    fn deactivate(&self) -> Result<(), String> {
        self.systemctl(&["disable", "--now", UNIT_NAME]).map(drop)
    }
    fn forget(&self) -> Result<(), String> {
        // `disable` removes this link; when it could not run (no user bus), a dangling link
        // would make systemd complain at every login.
        let wants = self.unit_dir.join("default.target.wants").join(UNIT_NAME);
        if wants.symlink_metadata().is_ok() {
            let _ = std::fs::remove_file(&wants);
        }
        self.systemctl(&["daemon-reload"])?;
        // A unit that failed before it was removed stays listed as failed until this.
        let _ = self.systemctl(&["reset-failed", UNIT_NAME]);
        Ok(())
    }
    fn runtime(&self) -> ServiceRuntime {
        match self.systemctl(&[
            "show",
            UNIT_NAME,
            "--no-pager",
            "--property=LoadState,ActiveState,SubState,MainPID,UnitFileState,Result",
        ]) {
            Ok(text) => parse_show(&text),
            Err(err) => ServiceRuntime {
                detail: Some(err),
                ..ServiceRuntime::default()
            },
        }
    }
    fn install_warnings(&self) -> Vec<String> {
        match (self.linger(), self.user.as_deref()) {
            (Some(false), Some(user)) => vec![format!(
                "lingering is off for {user}: the node service stops when {user} logs out and \
                 starts again only at the next login. To keep it running, run: \
                 sudo loginctl enable-linger {user}"
            )],
            _ => Vec::new(),
        }
    }
    fn start_hint(&self) -> String {
        format!("systemctl --user start {UNIT_NAME}")
    }
}

/// Adds what to do when `systemctl --user` cannot reach the user's systemd instance, the usual
/// case after `su` or `sudo -u`, which give no login session.
fn explain_bus_error(err: String) -> String {
    let no_bus = [
        "Failed to connect to bus",
        "XDG_RUNTIME_DIR",
        "No medium found",
        "$DBUS_SESSION_BUS_ADDRESS",
    ];
    if no_bus.iter().any(|needle| err.contains(needle)) {
        format!(
            "{err}\nsystemctl --user cannot reach this user's systemd instance. Log in as this \
             user directly (ssh, or `machinectl shell <user>@`) rather than through su/sudo, or \
             set XDG_RUNTIME_DIR=/run/user/$(id -u) if that user's manager is running."
        )
    } else {
        err
    }
}

/// Reads `systemctl show --property=…` output.
fn parse_show(text: &str) -> ServiceRuntime {
    let get = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    let load = get("LoadState");
    if load == Some("not-found") {
        return ServiceRuntime {
            enabled: Some(false),
            running: Some(false),
            pid: None,
            state: Some("not loaded".into()),
            detail: Some(
                "systemd has not loaded the unit (run `systemctl --user daemon-reload`)".into(),
            ),
        };
    }
    let active = get("ActiveState");
    let sub = get("SubState");
    let pid = get("MainPID")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p != 0);
    let enabled = get("UnitFileState")
        .filter(|s| !s.is_empty())
        .map(|s| s.starts_with("enabled") || s == "linked");
    let running =
        active.map(|a| matches!(a, "active" | "reloading" | "activating" | "deactivating"));
    let state = match (active, sub, get("Result")) {
        (Some("failed"), _, Some(result)) if result != "success" => {
            Some(format!("failed ({result})"))
        }
        (Some(a), Some(s), _) if !s.is_empty() => Some(format!("{a} ({s})")),
        (Some(a), _, _) => Some(a.to_string()),
        _ => None,
    };
    ServiceRuntime {
        enabled,
        running,
        pid,
        state,
        detail: None,
    }
}

/// The unit file for `spec`.
pub fn render_unit(spec: &ServiceSpec, scope: Scope) -> String {
    let mut out = String::new();
    out.push_str(MARKER);
    out.push_str(". Replace it with `openclaw-node install --force`.\n");
    if scope == Scope::System {
        out.push_str(
            "# A system unit: the node runs as root. Save as \
             /etc/systemd/system/openclaw-node.service,\n# then: systemctl daemon-reload && \
             systemctl enable --now openclaw-node\n",
        );
    }
    out.push_str("[Unit]\n");
    out.push_str(&format!(
        "Description={}\n",
        escape_specifiers(&spec.description)
    ));
    out.push_str("Documentation=https://docs.openclaw.ai/cli/node\n");
    if scope == Scope::System {
        out.push_str("After=network-online.target\nWants=network-online.target\n");
    }
    // The node retries the gateway itself; it exits only for reasons a fresh start may cure
    // (a revoked token is cleared on the way out), so systemd never gives up on it.
    out.push_str("StartLimitIntervalSec=0\n");
    out.push_str("\n[Service]\n");
    let exec: Vec<String> = spec.program.iter().map(|a| quote_exec_word(a)).collect();
    out.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    out.push_str("Restart=on-failure\n");
    out.push_str("RestartSec=10\n");
    // EX_CONFIG: a configuration no restart can fix; stop instead of looping.
    out.push_str("RestartPreventExitStatus=78\n");
    // The node exits 143 after SIGTERM and 130 after SIGINT, as the TS node host does: a stop.
    out.push_str("SuccessExitStatus=130 143\n");
    // SIGTERM to the node alone, which stops its commands' process groups itself; whatever is
    // left after the timeout is killed.
    out.push_str("KillMode=mixed\n");
    out.push_str("TimeoutStopSec=15\n");
    out.push_str(&format!(
        "WorkingDirectory={}\n",
        escape_specifiers(&spec.working_directory.to_string_lossy())
    ));
    for (name, value) in &spec.environment {
        out.push_str(&format!(
            "Environment={}\n",
            quote_word(&format!("{name}={value}"), false)
        ));
    }
    // `-`: a missing file is not an error (a paired node needs no shared credentials).
    out.push_str(&format!(
        "EnvironmentFile=-{}\n",
        escape_specifiers(&spec.env_file.to_string_lossy())
    ));
    out.push_str("\n[Install]\n");
    out.push_str(match scope {
        Scope::User => "WantedBy=default.target\n",
        Scope::System => "WantedBy=multi-user.target\n",
    });
    out
}

/// `%` starts a specifier in nearly every unit setting.
fn escape_specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

/// One word of `ExecStart=`: `$` would expand a variable and `;` alone would end the command.
fn quote_exec_word(word: &str) -> String {
    quote_word(word, true)
}

/// A word for a setting that splits on whitespace and unquotes (`ExecStart=`, `Environment=`):
/// plain when it can be, else double-quoted with C-style backslash escapes.
fn quote_word(word: &str, exec: bool) -> String {
    let special = |c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '%' | ';') || (exec && c == '$')
    };
    if !word.is_empty() && !word.chars().any(special) {
        return word.to_string();
    }
    let mut out = String::from('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `ExecStart=` words of a unit written by [`render_unit`].
pub fn parse_exec_start(unit: &str) -> Option<Vec<String>> {
    let line = unit
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("ExecStart="))?;
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word.replace("%%", "%").replace("$$", "$"));
    }
    (!words.is_empty()).then_some(words)
}

/// Whether `path` holds a unit written by this module (and not, say, by `openclaw node install`).
pub fn written_by_us(definition: &str) -> bool {
    definition.starts_with(MARKER)
}

/// The user unit directory under `config_home`.
pub fn user_unit_dir(config_home: &Path) -> PathBuf {
    config_home.join("systemd").join("user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for word in [
            "plain",
            "two words",
            "q\"uote",
            "back\\slash",
            "50%",
            "$HOME",
            ";",
            "",
            "tab\there",
        ] {
            let quoted = quote_exec_word(word);
            let unit = format!("ExecStart=/bin/x {quoted} end\n");
            assert_eq!(
                parse_exec_start(&unit).unwrap(),
                ["/bin/x", word, "end"],
                "{quoted}"
            );
        }
    }

    #[test]
    fn show_output_is_understood() {
        let rt = parse_show(
            "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\nResult=success\n",
        );
        assert_eq!(rt.enabled, Some(true));
        assert_eq!(rt.running, Some(true));
        assert_eq!(rt.pid, Some(4242));
        assert_eq!(rt.state.as_deref(), Some("active (running)"));

        let rt = parse_show(
            "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nUnitFileState=disabled\nResult=exit-code\n",
        );
        assert_eq!(
            (rt.enabled, rt.running, rt.pid),
            (Some(false), Some(false), None)
        );
        assert_eq!(rt.state.as_deref(), Some("failed (exit-code)"));
    }

    #[test]
    fn bus_errors_get_advice() {
        let err = explain_bus_error(
            "`systemctl --user show` failed: Failed to connect to bus: No medium found".into(),
        );
        assert!(err.contains("machinectl shell"));
        assert_eq!(explain_bus_error("other".into()), "other");
    }
}
