//! Everything the service commands take from the machine, resolved once: home and config
//! directories, this binary's path, the user, the service manager, the install's credentials.
//!
//! Tests build a [`ServiceContext`] by hand (a temporary HOME, a fake `systemctl`), so no test
//! touches the real service manager or the process environment.

use std::path::{Path, PathBuf};

use crate::paths::StatePaths;

/// Points the service commands at another `systemctl` (a test double, or one outside PATH), and
/// skips the check that systemd is running. `none` means: behave as if there were no systemd.
pub const SYSTEMCTL_ENV: &str = "OPENCLAW_NODE_SYSTEMCTL";
/// Points the service commands at another `launchctl` and selects launchd on any OS (tests of
/// the LaunchAgent flow). `none` means: no launchd.
pub const LAUNCHCTL_ENV: &str = "OPENCLAW_NODE_LAUNCHCTL";

/// The gateway credentials `install` puts in the service's environment file.
pub const TOKEN_ENV: &str = "OPENCLAW_GATEWAY_TOKEN";
/// See [`TOKEN_ENV`].
pub const PASSWORD_ENV: &str = "OPENCLAW_GATEWAY_PASSWORD";

/// Non-secret variables from the install's environment that the service keeps: where the state
/// lives, what PATH commands are resolved with, and the plaintext private-network opt-in the
/// gateway connection honours.
const KEPT_ENV: &[&str] = &["PATH", "OPENCLAW_ALLOW_INSECURE_PRIVATE_WS"];

/// The service manager the commands drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerChoice {
    /// systemd, driven through this `systemctl`.
    Systemd {
        /// The `systemctl` to run.
        systemctl: PathBuf,
    },
    /// launchd, driven through this `launchctl`.
    Launchd {
        /// The `launchctl` to run.
        launchctl: PathBuf,
    },
    /// Windows' Task Scheduler, driven through this `schtasks.exe`.
    ScheduledTask {
        /// The `schtasks.exe` to run.
        schtasks: PathBuf,
    },
    /// None usable; `reason` says why, in a sentence for the user.
    Unavailable {
        /// Why, in a sentence for the user.
        reason: String,
    },
}

/// Gateway credentials read from the install's environment. `Debug` never shows the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `OPENCLAW_GATEWAY_TOKEN`.
    pub token: Option<String>,
    /// `OPENCLAW_GATEWAY_PASSWORD`.
    pub password: Option<String>,
}

impl Credentials {
    /// `OPENCLAW_GATEWAY_TOKEN` / `OPENCLAW_GATEWAY_PASSWORD`, trimmed; blank counts as unset.
    pub fn from_env() -> Credentials {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Credentials {
            token: read(TOKEN_ENV),
            password: read(PASSWORD_ENV),
        }
    }

    /// Neither a token nor a password.
    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.password.is_none()
    }

    /// The (variable, value) pairs to write, token first.
    pub fn entries(&self) -> Vec<(&'static str, &str)> {
        let mut entries = Vec::new();
        if let Some(token) = &self.token {
            entries.push((TOKEN_ENV, token.as_str()));
        }
        if let Some(password) = &self.password {
            entries.push((PASSWORD_ENV, password.as_str()));
        }
        entries
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The machine as the service commands see it.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    /// The state directory the service will use.
    pub paths: StatePaths,
    /// `$HOME`: the service's working directory, and where LaunchAgents live.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` when set to an absolute path, else `~/.config`.
    pub config_home: PathBuf,
    /// The absolute path of this binary, which the service runs.
    pub exe: PathBuf,
    /// The real uid (launchd's `gui/<uid>` domain).
    pub uid: u32,
    /// The effective uid: 0 makes `install` refuse.
    pub euid: u32,
    /// The login name, for the `loginctl enable-linger` advice.
    pub user: Option<String>,
    /// The service manager to drive, or why there is none.
    pub manager: ManagerChoice,
    /// systemd's lingering markers (`/var/lib/systemd/linger/<user>`).
    pub linger_dir: PathBuf,
    /// The gateway credentials `install` writes to the service's environment file.
    pub credentials: Credentials,
    /// Non-secret variables the service is given (PATH, the state directory, …).
    pub service_env: Vec<(String, String)>,
}

impl ServiceContext {
    /// Resolves the context from the process environment.
    pub fn from_env() -> Result<ServiceContext, String> {
        let paths = StatePaths::from_env()?;
        // The OS's idea of home (systemd and launchd use HOME; Windows USERPROFILE), not
        // OPENCLAW_HOME, which only moves the state directory.
        let home = ["HOME", "USERPROFILE"]
            .iter()
            .find_map(|name| std::env::var_os(name).filter(|v| !v.is_empty()))
            .map(PathBuf::from)
            .ok_or(
                "HOME (on Windows USERPROFILE) is not set; the service commands need it to find \
                 the user's service directory",
            )?;
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        let exe = std::env::current_exe()
            .map_err(|err| format!("cannot find this program's own path ({err})"))?;
        let (uid, euid) = crate::platform::host::user_ids();
        let user = std::env::var("USER")
            .ok()
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|u| !u.is_empty())
            .or_else(|| user_name_from_passwd(Path::new("/etc/passwd"), uid));
        let manager = detect_manager(
            std::env::var_os(SYSTEMCTL_ENV).map(PathBuf::from),
            std::env::var_os(LAUNCHCTL_ENV).map(PathBuf::from),
            std::env::var_os("PATH").as_deref(),
            Path::new("/run/systemd/system"),
        );
        // The state directory is always spelled out: a service starts with a bare environment,
        // and `OPENCLAW_STATE_DIR` set for this install must hold for the service too.
        let mut service_env = vec![(
            "OPENCLAW_STATE_DIR".to_string(),
            paths.dir().to_string_lossy().into_owned(),
        )];
        for name in KEPT_ENV {
            if let Ok(value) = std::env::var(name) {
                if !value.trim().is_empty() {
                    service_env.push((name.to_string(), value));
                }
            }
        }
        Ok(ServiceContext {
            paths,
            home,
            config_home,
            exe,
            uid,
            euid,
            user,
            manager,
            linger_dir: PathBuf::from("/var/lib/systemd/linger"),
            credentials: Credentials::from_env(),
            service_env,
        })
    }
}

/// Chooses the service manager. An explicit `systemctl`/`launchctl` override wins (`none`
/// disables it); otherwise launchd on macOS, and on Linux systemd when `systemctl` is on PATH
/// and `booted_marker` (`/run/systemd/system`, what `sd_booted()` checks) exists.
pub fn detect_manager(
    systemctl_override: Option<PathBuf>,
    launchctl_override: Option<PathBuf>,
    path_env: Option<&std::ffi::OsStr>,
    booted_marker: &Path,
) -> ManagerChoice {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
        return ManagerChoice::ScheduledTask {
            schtasks: PathBuf::from(root).join("System32").join("schtasks.exe"),
        };
    }
    let is_none = |p: &Path| p.as_os_str().is_empty() || p == Path::new("none");
    if let Some(systemctl) = systemctl_override {
        if is_none(&systemctl) {
            return ManagerChoice::Unavailable {
                reason: format!("systemd is not available ({SYSTEMCTL_ENV}=none)"),
            };
        }
        return ManagerChoice::Systemd { systemctl };
    }
    if let Some(launchctl) = launchctl_override {
        if is_none(&launchctl) {
            return ManagerChoice::Unavailable {
                reason: format!("launchd is not available ({LAUNCHCTL_ENV}=none)"),
            };
        }
        return ManagerChoice::Launchd { launchctl };
    }
    if cfg!(target_os = "macos") {
        return ManagerChoice::Launchd {
            launchctl: PathBuf::from("/bin/launchctl"),
        };
    }
    if !cfg!(target_os = "linux") {
        return ManagerChoice::Unavailable {
            reason: format!(
                "no supported service manager on {} (openclaw-node knows systemd and launchd)",
                std::env::consts::OS
            ),
        };
    }
    let Some(systemctl) = find_in_path("systemctl", path_env) else {
        return ManagerChoice::Unavailable {
            reason: "systemd is not available on this machine (no `systemctl` on PATH)".to_string(),
        };
    };
    if !booted_marker.is_dir() {
        return ManagerChoice::Unavailable {
            reason: format!(
                "systemd is not running on this machine: {} does not exist (a container, or a \
                 system with another init)",
                booted_marker.display()
            ),
        };
    }
    ManagerChoice::Systemd { systemctl }
}

/// The first executable file called `name` in the PATH list.
fn find_in_path(name: &str, path_env: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_env?)
        .map(|dir| dir.join(name))
        .find(|candidate| crate::platform::files::is_executable_file(candidate))
}

/// The login name of `uid` from a passwd(5) file, for when neither USER nor LOGNAME is set.
fn user_name_from_passwd(passwd: &Path, uid: u32) -> Option<String> {
    let text = std::fs::read_to_string(passwd).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let line_uid: u32 = fields.next()?.parse().ok()?;
        (line_uid == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ocn-ctx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg_attr(windows, ignore = "POSIX: systemd/launchd overrides; Windows always uses the Scheduled Task")]
    #[test]
    fn overrides_win_and_none_disables() {
        let marker = Path::new("/nonexistent/run/systemd/system");
        assert_eq!(
            detect_manager(Some("/x/systemctl".into()), None, None, marker),
            ManagerChoice::Systemd {
                systemctl: "/x/systemctl".into()
            }
        );
        assert!(matches!(
            detect_manager(
                Some("none".into()),
                Some("/x/launchctl".into()),
                None,
                marker
            ),
            ManagerChoice::Unavailable { .. }
        ));
        assert_eq!(
            detect_manager(None, Some("/x/launchctl".into()), None, marker),
            ManagerChoice::Launchd {
                launchctl: "/x/launchctl".into()
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_needs_systemctl_and_a_running_systemd() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("detect");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let marker = dir.join("run-systemd-system");

        // No systemctl on PATH.
        let choice = detect_manager(None, None, Some(bin.as_os_str()), &marker);
        let ManagerChoice::Unavailable { reason } = choice else {
            panic!("{choice:?}")
        };
        assert!(reason.contains("no `systemctl` on PATH"), "{reason}");

        // systemctl present, systemd not running (this build machine, a container).
        let systemctl = bin.join("systemctl");
        std::fs::write(&systemctl, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let choice = detect_manager(None, None, Some(bin.as_os_str()), &marker);
        let ManagerChoice::Unavailable { reason } = choice else {
            panic!("{choice:?}")
        };
        assert!(reason.contains("systemd is not running"), "{reason}");

        // Both.
        std::fs::create_dir_all(&marker).unwrap();
        assert_eq!(
            detect_manager(None, None, Some(bin.as_os_str()), &marker),
            ManagerChoice::Systemd { systemctl }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn user_name_comes_from_passwd() {
        let dir = temp_dir("passwd");
        let passwd = dir.join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(
            user_name_from_passwd(&passwd, 1000).as_deref(),
            Some("alice")
        );
        assert_eq!(user_name_from_passwd(&passwd, 1001), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = Credentials {
            token: Some("s3cret".into()),
            password: None,
        };
        let shown = format!("{creds:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
