//! Installing, driving and removing the service in a temporary HOME/XDG tree, against a fake
//! `systemctl` / `launchctl` that records its arguments, and with no service manager at all.
//! Nothing here touches the machine's real service manager.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use openclaw_node::paths::StatePaths;
use openclaw_node::service::actions::{self, ActionReport};
use openclaw_node::service::context::{Credentials, ManagerChoice, ServiceContext};
use openclaw_node::service::report;
use openclaw_node::service::systemd::{self, Scope};
use openclaw_node::service::InstallArgs;

/// A temporary tree standing in for a user's home, with fake service-manager tools.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!("ocn-svc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("home")).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("linger")).unwrap();
        Sandbox { root }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }
    fn xdg(&self) -> PathBuf {
        self.root.join("xdg-config")
    }
    fn state_dir(&self) -> PathBuf {
        self.home().join(".openclaw")
    }
    fn linger(&self) -> PathBuf {
        self.root.join("linger")
    }
    fn log(&self) -> PathBuf {
        self.root.join("tool.log")
    }
    /// What the fake tool prints for `show` / `print`.
    fn set_query_output(&self, text: &str) {
        std::fs::write(self.root.join("query.txt"), text).unwrap();
    }
    /// Makes the fake tool fail every call with `message` on stderr.
    fn set_failure(&self, message: &str) {
        std::fs::write(self.root.join("fail.txt"), message).unwrap();
    }

    /// A fake tool: appends its arguments to the log, answers queries from `query.txt`.
    fn fake_tool(&self, name: &str) -> PathBuf {
        let path = self.root.join("bin").join(name);
        let script = format!(
            "#!/bin/sh\n\
             echo \"$*\" >> '{log}'\n\
             if [ -f '{fail}' ]; then cat '{fail}' >&2; exit 1; fi\n\
             case \"$*\" in\n\
               *' show '*|print\\ *) if [ -f '{query}' ]; then cat '{query}'; else exit 113; fi ;;\n\
             esac\n\
             exit 0\n",
            log = self.log().display(),
            fail = self.root.join("fail.txt").display(),
            query = self.root.join("query.txt").display(),
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
    fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.log());
    }

    fn context(&self, manager: ManagerChoice) -> ServiceContext {
        ServiceContext {
            paths: StatePaths::at(self.state_dir()),
            home: self.home(),
            config_home: self.xdg(),
            exe: PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node")),
            uid: 1000,
            euid: 1000,
            user: Some("alice".into()),
            manager,
            linger_dir: self.linger(),
            credentials: Credentials::default(),
            service_env: vec![
                (
                    "OPENCLAW_STATE_DIR".into(),
                    self.state_dir().to_string_lossy().into_owned(),
                ),
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ],
        }
    }

    fn systemd_context(&self) -> ServiceContext {
        let systemctl = self.fake_tool("systemctl");
        self.context(ManagerChoice::Systemd { systemctl })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn install_args(host: &str) -> InstallArgs {
    InstallArgs {
        host: Some(host.into()),
        port: Some(18790),
        ..InstallArgs::default()
    }
}

fn assert_ok(report: &ActionReport) {
    assert!(
        report.ok,
        "{} failed: {:?} hints {:?}",
        report.action, report.error, report.hints
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn systemd_install_status_drive_and_uninstall() {
    let sb = Sandbox::new("systemd");
    let mut ctx = sb.systemd_context();
    ctx.credentials = Credentials {
        token: Some("tok-SECRET-1".into()),
        password: Some("pw $ecret".into()),
    };

    let mut args = install_args("gw.example");
    args.display_name = Some("Build box".into());
    args.runtime = Some("bun".into());
    args.runtime_path = Some("/usr/bin/node".into());
    args.commands = vec!["system.which, system.run".into()];
    let report = actions::install(&ctx, &args);
    assert_ok(&report);
    assert_eq!(report.result, Some("installed"));

    // The unit lives under XDG_CONFIG_HOME, runs this binary with `run` and the flags.
    let unit_path = sb.xdg().join("systemd/user/openclaw-node.service");
    assert_eq!(
        report.service.definition_path.as_deref(),
        Some(unit_path.to_str().unwrap())
    );
    assert!(report.service.installed);
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exe = env!("CARGO_BIN_EXE_openclaw-node");
    assert!(
        unit.contains(&format!(
            "ExecStart={exe} run --host gw.example --port 18790 --display-name \"Build box\" --commands system.run,system.which\n"
        )),
        "{unit}"
    );
    assert!(unit.contains("Restart=on-failure\n"));
    // A stop (SIGTERM: 143, SIGINT: 130, as the node exits then) is no failure.
    assert!(unit.contains("SuccessExitStatus=130 143\n"));
    assert!(unit.contains("WantedBy=default.target\n"));
    let env_file = sb.state_dir().join("openclaw-node/service.env");
    assert!(unit.contains(&format!("EnvironmentFile=-{}\n", env_file.display())));
    // The credentials are in the 0600 file, never in the unit.
    assert!(
        !unit.contains("SECRET") && !unit.contains("ecret"),
        "{unit}"
    );
    assert_eq!(mode(&env_file), 0o600);
    let env_text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        env_text.contains("OPENCLAW_GATEWAY_TOKEN=\"tok-SECRET-1\"\n"),
        "{env_text}"
    );
    assert!(
        env_text.contains("OPENCLAW_GATEWAY_PASSWORD=\"pw \\$ecret\"\n"),
        "{env_text}"
    );
    assert!(!report.message.contains("SECRET"));

    // Enabled and started through systemctl --user.
    assert_eq!(
        sb.calls(),
        [
            "--user daemon-reload",
            "--user enable openclaw-node.service",
            "--user restart openclaw-node.service"
        ]
    );
    // Lingering is off for alice: the exact command to turn it on.
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("sudo loginctl enable-linger alice")),
        "{:?}",
        report.warnings
    );
    // --runtime is accepted and said to do nothing.
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("--runtime bun has no effect")));

    // Installing over it is refused with a hint; nothing is called.
    sb.clear_calls();
    let again = actions::install(&ctx, &install_args("other.example"));
    assert!(!again.ok);
    assert!(again
        .error
        .as_deref()
        .unwrap()
        .contains("already installed"));
    assert!(again.hints.iter().any(|h| h.contains("--force")));
    assert!(sb.calls().is_empty());
    assert!(std::fs::read_to_string(&unit_path)
        .unwrap()
        .contains("gw.example"));

    // --force replaces it; with no credentials in the environment the file is kept.
    std::fs::write(sb.linger().join("alice"), "").unwrap();
    ctx.credentials = Credentials::default();
    let mut forced = install_args("other.example");
    forced.force = true;
    let report = actions::install(&ctx, &forced);
    assert_ok(&report);
    assert_eq!(report.result, Some("replaced"));
    assert!(
        report.warnings.is_empty(),
        "linger is on now: {:?}",
        report.warnings
    );
    assert!(std::fs::read_to_string(&unit_path)
        .unwrap()
        .contains("--host other.example"));
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("tok-SECRET-1"));

    // status: what systemctl show reports, and the command line from the unit.
    sb.set_query_output(
        "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4321\nUnitFileState=enabled\nResult=success\n",
    );
    let status = report::collect(&ctx);
    assert_eq!(status.service.manager, Some("systemd"));
    assert!(status.service.installed);
    assert_eq!(status.service.enabled, Some(true));
    assert_eq!(status.service.running, Some(true));
    assert_eq!(status.service.pid, Some(4321));
    assert_eq!(status.service.linger, Some(true));
    assert!(status.service.env_file_present);
    // TS's fields beside ours (`openclaw node status --json`).
    let json = serde_json::to_value(&status.service).unwrap();
    assert_eq!(json["loaded"], true);
    assert_eq!(
        (json["loadedText"].as_str(), json["notLoadedText"].as_str()),
        (Some("enabled"), Some("disabled"))
    );
    assert_eq!(json["runtime"]["status"], "running");
    assert_eq!(json["runtime"]["pid"], 4321);
    let gateway = status.gateway.as_ref().unwrap();
    assert_eq!(
        (gateway.host.as_str(), gateway.port, gateway.source),
        ("other.example", 18790, "service")
    );
    assert_eq!(gateway.url, "ws://other.example:18790/");
    assert!(status.connection.is_none());
    let text = report::render_text(&status, 0);
    assert!(text.contains("enabled, running (pid 4321)"), "{text}");
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["service"]["pid"], 4321);
    assert_eq!(json["gateway"]["url"], "ws://other.example:18790/");

    // start / stop / restart.
    sb.clear_calls();
    assert_ok(&actions::stop(&ctx));
    assert_ok(&actions::start(&ctx));
    assert_ok(&actions::restart(&ctx));
    assert_eq!(
        sb.calls(),
        [
            "--user stop openclaw-node.service",
            "--user start openclaw-node.service",
            "--user restart openclaw-node.service"
        ]
    );

    // A systemctl failure is reported with what systemctl said.
    sb.set_failure("Failed to connect to bus: No medium found");
    let failed = actions::start(&ctx);
    assert!(!failed.ok);
    let error = failed.error.unwrap();
    assert!(
        error.contains("No medium found") && error.contains("su/sudo"),
        "{error}"
    );
    std::fs::remove_file(sb.root.join("fail.txt")).unwrap();

    // uninstall: disabled, removed, forgotten; the credentials file goes too.
    sb.clear_calls();
    let wants = sb.xdg().join("systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(&unit_path, wants.join("openclaw-node.service")).unwrap();
    let report = actions::uninstall(&ctx);
    assert_ok(&report);
    assert_eq!(report.result, Some("uninstalled"));
    assert!(!report.service.installed);
    assert!(!unit_path.exists());
    assert!(!env_file.exists());
    assert!(wants
        .join("openclaw-node.service")
        .symlink_metadata()
        .is_err());
    assert_eq!(
        sb.calls(),
        [
            "--user disable --now openclaw-node.service",
            "--user daemon-reload",
            "--user reset-failed openclaw-node.service"
        ]
    );

    // Absent service: stop and uninstall are no-ops, start and restart fail with the hint.
    sb.clear_calls();
    let stop = actions::stop(&ctx);
    assert_ok(&stop);
    assert_eq!(stop.result, Some("not-installed"));
    assert_eq!(actions::uninstall(&ctx).result, Some("not-installed"));
    for report in [actions::start(&ctx), actions::restart(&ctx)] {
        assert!(!report.ok);
        assert!(report.error.as_deref().unwrap().contains("not installed"));
        assert!(
            report
                .hints
                .iter()
                .any(|h| h.starts_with("openclaw-node install")),
            "{:?}",
            report.hints
        );
    }
    assert!(sb.calls().is_empty(), "{:?}", sb.calls());
}

#[test]
fn no_service_manager_says_so_and_prints_a_script() {
    let sb = Sandbox::new("none");
    let mut ctx = sb.context(ManagerChoice::Unavailable {
        reason: "systemd is not running on this machine: /run/systemd/system does not exist (a \
                 container, or a system with another init)"
            .into(),
    });

    let report = actions::install(&ctx, &install_args("gw.example"));
    assert!(!report.ok);
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("systemd is not running"), "{error}");
    assert!(
        report.hints.iter().any(|h| h.contains("install --print")),
        "{:?}",
        report.hints
    );
    assert_eq!(report.service.manager, None);

    // stop/uninstall: nothing to do; start/restart: an error that says why.
    assert_ok(&actions::stop(&ctx));
    assert_ok(&actions::uninstall(&ctx));
    let start = actions::start(&ctx);
    assert!(!start.ok);
    assert!(start
        .error
        .as_deref()
        .unwrap()
        .contains("systemd is not running"));

    // status still works and says why there is no service.
    let status = report::collect(&ctx);
    assert!(!status.service.available);
    assert!(status
        .service
        .unavailable_reason
        .as_deref()
        .unwrap()
        .contains("systemd is not running"));
    assert!(report::render_text(&status, 0).contains("Service:     none (systemd is not running"));

    // --print: a start script; the credentials go to their 0600 file, not into the script.
    ctx.credentials = Credentials {
        token: Some("tok-SECRET-2".into()),
        password: None,
    };
    let mut args = install_args("gw.example");
    args.print = true;
    let report = actions::install(&ctx, &args);
    assert_ok(&report);
    assert_eq!(report.result, Some("printed"));
    let printed = report.printed.unwrap();
    assert_eq!(printed.format, "sh-script");
    assert!(printed.content.starts_with("#!/bin/sh\n"));
    assert!(
        printed
            .content
            .contains("'run' '--host' 'gw.example' '--port' '18790'"),
        "{}",
        printed.content
    );
    assert!(!printed.content.contains("SECRET"));
    let env_file = sb.state_dir().join("openclaw-node/service.env");
    assert_eq!(mode(&env_file), 0o600);
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("tok-SECRET-2"));
    // The script is valid sh.
    let script = sb.root.join("start.sh");
    std::fs::write(&script, &printed.content).unwrap();
    let check = Command::new("/bin/sh")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(check.success());
}

#[test]
fn root_is_refused_and_pointed_at_a_system_unit() {
    let sb = Sandbox::new("root");
    let mut ctx = sb.systemd_context();
    ctx.euid = 0;
    ctx.uid = 0;
    let report = actions::install(&ctx, &install_args("gw.example"));
    assert!(!report.ok);
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("refusing to install as root"), "{error}");
    assert!(
        error.contains("/etc/systemd/system/openclaw-node.service"),
        "{error}"
    );
    assert!(sb.calls().is_empty());
    assert!(!sb.xdg().join("systemd/user/openclaw-node.service").exists());

    let mut args = install_args("gw.example");
    args.print = true;
    let report = actions::install(&ctx, &args);
    assert_ok(&report);
    let printed = report.printed.unwrap();
    assert_eq!(printed.format, "systemd-system-unit");
    assert!(printed.content.contains("WantedBy=multi-user.target\n"));
    assert!(printed.content.contains("After=network-online.target\n"));
}

#[test]
fn launchd_install_status_and_uninstall_with_a_fake_launchctl() {
    let sb = Sandbox::new("launchd");
    let launchctl = sb.fake_tool("launchctl");
    let mut ctx = sb.context(ManagerChoice::Launchd { launchctl });
    ctx.uid = 501;
    ctx.credentials = Credentials {
        token: Some("tok-SECRET-3".into()),
        password: None,
    };

    let report = actions::install(&ctx, &install_args("gw.example"));
    assert_ok(&report);
    let plist_path = sb
        .home()
        .join("Library/LaunchAgents/ai.openclaw.node.plist");
    let plist = std::fs::read_to_string(&plist_path).unwrap();
    assert!(!plist.contains("SECRET"));
    assert!(plist.contains("<string>gw.example</string>"));
    // Not loaded before (print fails), so: enable + bootstrap.
    assert_eq!(
        sb.calls(),
        [
            "print gui/501/ai.openclaw.node",
            "enable gui/501/ai.openclaw.node",
            &format!("bootstrap gui/501 {}", plist_path.display())
        ]
    );

    sb.set_query_output("gui/501/ai.openclaw.node = {\n\tstate = running\n\tpid = 999\n}\n");
    let status = report::collect(&ctx);
    assert_eq!(status.service.manager, Some("launchd"));
    assert_eq!(
        (status.service.running, status.service.pid),
        (Some(true), Some(999))
    );
    let command = status.service.command.unwrap();
    assert_eq!(command[0], env!("CARGO_BIN_EXE_openclaw-node"));
    assert_eq!(command[1..5], ["run", "--host", "gw.example", "--port"]);

    sb.clear_calls();
    assert_ok(&actions::stop(&ctx));
    assert_eq!(
        sb.calls(),
        [
            "print gui/501/ai.openclaw.node",
            "bootout gui/501/ai.openclaw.node"
        ]
    );

    let report = actions::uninstall(&ctx);
    assert_ok(&report);
    assert!(!plist_path.exists());
    assert!(!sb.state_dir().join("openclaw-node/service.env").exists());
}

/// The plist is well-formed: Python's plistlib (the format's reference reader outside macOS)
/// parses it, and the credentials wrapper runs the node's command.
#[test]
fn launchd_plist_parses_with_plistlib() {
    if Command::new("python3")
        .arg("-c")
        .arg("import plistlib")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("SKIPPED: python3 with plistlib is not available to check the plist");
        return;
    }
    let sb = Sandbox::new("plist");
    let mut ctx = sb.context(ManagerChoice::Launchd {
        launchctl: sb.fake_tool("launchctl"),
    });
    ctx.service_env
        .push(("ODD".into(), "a<b & 'c' \"d\"".into()));
    let mut args = install_args("gw.example");
    args.display_name = Some("Tom & Jerry's <node>".into());
    args.print = true;
    let report = actions::install(&ctx, &args);
    assert_ok(&report);
    let printed = report.printed.unwrap();
    assert_eq!(printed.format, "launchd-plist");
    let plist_file = sb.root.join("node.plist");
    std::fs::write(&plist_file, &printed.content).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, plistlib, sys\n\
             with open(sys.argv[1], 'rb') as f: p = plistlib.load(f)\n\
             print(json.dumps(p))",
        )
        .arg(&plist_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plistlib rejected the plist: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["Label"], "ai.openclaw.node");
    assert_eq!(parsed["RunAtLoad"], true);
    assert_eq!(parsed["KeepAlive"]["SuccessfulExit"], false);
    assert_eq!(parsed["EnvironmentVariables"]["ODD"], "a<b & 'c' \"d\"");
    let program: Vec<String> = serde_json::from_value(parsed["ProgramArguments"].clone()).unwrap();
    assert_eq!(program[0], "/bin/sh");
    assert_eq!(program.last().unwrap(), "Tom & Jerry's <node>");
    let env_file = sb.state_dir().join("openclaw-node/service.env");
    assert_eq!(program[3], env_file.to_string_lossy());

    // Run the wrapper exactly as launchd would, with a stand-in for the node.
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::write(&env_file, "OPENCLAW_GATEWAY_TOKEN=\"tok\\$x\"\n").unwrap();
    let mut argv = program.clone();
    argv[4] = "/bin/sh".into();
    argv.insert(5, "-c".into());
    argv.insert(
        6,
        "printf '%s %s' \"$OPENCLAW_GATEWAY_TOKEN\" \"$0\"".into(),
    );
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok$x run");
}

/// `systemd-analyze verify` accepts the generated units. Needs the `systemd` package (Debian);
/// it works without a running systemd.
#[test]
fn systemd_analyze_verifies_the_units() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian/Ubuntu package `systemd`); the unit was not verified");
        return;
    };
    let sb = Sandbox::new("verify");
    let ctx = sb.systemd_context();
    let mut args = install_args("gw.example");
    args.tls = true;
    args.context_path = Some("/openclaw gw".into());
    args.display_name = Some("50% \"quoted\" $HOME; back\\slash".into());
    args.node_id = Some("node;1".into());
    let spec = actions::build_spec(&ctx, &args).unwrap();

    for (scope, dir) in [(Scope::User, "user"), (Scope::System, "system")] {
        let unit_dir = sb.root.join(dir);
        std::fs::create_dir_all(&unit_dir).unwrap();
        let unit_path = unit_dir.join("openclaw-node.service");
        let unit = systemd::render_unit(&spec, scope);
        std::fs::write(&unit_path, &unit).unwrap();
        // Both units are checked by a `--user` verify: its parser is the same, and a system
        // verify run as root would leave a marker in the host's /run/systemd. `--user` wants a
        // runtime directory even to verify; a private one will do.
        let runtime_dir = sb.root.join("runtime");
        std::fs::create_dir_all(&runtime_dir).unwrap();
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut cmd = Command::new(&analyze);
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime_dir);
        // --man=no: do not look up the Documentation= man pages; SYSTEMD_LOG_LEVEL keeps the
        // warnings that make the verdict.
        let out = cmd
            .arg("verify")
            .arg("--man=no")
            .arg(&unit_path)
            .env("SYSTEMD_LOG_LEVEL", "warning")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ours: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("openclaw-node.service"))
            .collect();
        assert!(
            out.status.success() && ours.is_empty(),
            "{dir} unit rejected:\n{stderr}\n---\n{unit}"
        );

        // The words systemd will pass are exactly the command line.
        assert_eq!(systemd::parse_exec_start(&unit).unwrap(), spec.program);
    }
}

/// The real thing: install, status, stop, start, restart and uninstall against a running
/// `systemd --user`, with a stand-in for the node that records its arguments and environment.
/// It checks what no fake can: that systemd loads the unit, and reads the credentials file the
/// way `envfile` writes it.
///
/// Opt-in (`--ignored`) with OPENCLAW_NODE_TEST_REAL_SYSTEMD=1, XDG_RUNTIME_DIR and
/// XDG_CONFIG_HOME those of the running user manager. `tests/real-systemd.sh` sets this up, also
/// on a machine without a running systemd (it starts a user manager in a private mount
/// namespace; needs root).
#[test]
#[ignore = "needs a running systemd --user; run tests/real-systemd.sh"]
fn real_systemd_user_manager() {
    if std::env::var("OPENCLAW_NODE_TEST_REAL_SYSTEMD").as_deref() != Ok("1") {
        eprintln!("SKIPPED: needs a running systemd --user and OPENCLAW_NODE_TEST_REAL_SYSTEMD=1; run tests/real-systemd.sh");
        return;
    }
    let config_home = PathBuf::from(std::env::var("XDG_CONFIG_HOME").expect("XDG_CONFIG_HOME"));
    let sb = Sandbox::new("real-systemd");

    // The stand-in node: records its pid, arguments and credentials, then stays up.
    let out = sb.root.join("node.out");
    let fake_node = sb.root.join("bin/fake-node");
    std::fs::write(
        &fake_node,
        format!(
            "#!/bin/sh\n{{ echo \"pid=$$\"; printf 'arg=%s\\n' \"$@\"; \
             echo \"token=$OPENCLAW_GATEWAY_TOKEN\"; echo \"password=$OPENCLAW_GATEWAY_PASSWORD\"; \
             echo \"state=$OPENCLAW_STATE_DIR\"; echo \"cwd=$(pwd)\"; }} > '{out}.tmp'\n\
             mv '{out}.tmp' '{out}'\nexec sleep 600\n",
            out = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake_node, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut ctx = sb.context(ManagerChoice::Systemd {
        systemctl: PathBuf::from("systemctl"),
    });
    ctx.config_home = config_home.clone();
    ctx.exe = fake_node;
    let password = r#"p@ss "q" $HOME `id` back\slash 'single' 50%"#;
    ctx.credentials = Credentials {
        token: Some("tok-1".into()),
        password: Some(password.into()),
    };

    let mut args = install_args("gw.example");
    args.display_name = Some("Build box".into());
    args.force = true;
    let report = actions::install(&ctx, &args);
    assert_ok(&report);

    let read_out = |previous_pid: Option<&str>| -> String {
        // The service starts asynchronously; wait (generously) for the stand-in's record.
        for _ in 0..200 {
            if let Ok(text) = std::fs::read_to_string(&out) {
                if previous_pid.is_none_or(|pid| !text.starts_with(&format!("pid={pid}\n"))) {
                    return text;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the service did not start the node");
    };
    let record = read_out(None);
    let expected_tail = format!(
        "arg=run\narg=--host\narg=gw.example\narg=--port\narg=18790\narg=--display-name\n\
         arg=Build box\ntoken=tok-1\npassword={password}\nstate={}\ncwd={}\n",
        sb.state_dir().display(),
        sb.home().display()
    );
    assert!(
        record.ends_with(&expected_tail),
        "{record}\n---\n{expected_tail}"
    );
    let pid: u32 = record
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pid=")
        .parse()
        .unwrap();

    let status = report::collect(&ctx);
    assert_eq!(status.service.enabled, Some(true), "{:?}", status.service);
    assert_eq!(status.service.running, Some(true));
    assert_eq!(status.service.pid, Some(pid));
    assert_eq!(status.service.state.as_deref(), Some("active (running)"));

    assert_ok(&actions::stop(&ctx));
    let status = report::collect(&ctx);
    assert_eq!(
        (status.service.running, status.service.pid),
        (Some(false), None)
    );

    assert_ok(&actions::start(&ctx));
    let record = read_out(Some(&pid.to_string()));
    let pid2 = record.lines().next().unwrap().to_string();
    assert_ok(&actions::restart(&ctx));
    read_out(Some(pid2.trim_start_matches("pid=")));

    let report = actions::uninstall(&ctx);
    assert_ok(&report);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(!config_home
        .join("systemd/user/openclaw-node.service")
        .exists());
    assert!(!config_home
        .join("systemd/user/default.target.wants/openclaw-node.service")
        .exists());
    let shown = Command::new("systemctl")
        .args([
            "--user",
            "show",
            "openclaw-node.service",
            "--property=LoadState,ActiveState",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        "LoadState=not-found\nActiveState=inactive\n"
    );
}
