//! Windows: a per-user Scheduled Task named as the TS host names it (`OpenClaw Node`), created
//! from XML with `schtasks /Create /XML`, driven with `schtasks /Run | /End | /Delete`.
//!
//! The task runs `%USERPROFILE%\.openclaw\node.vbs`, a hidden WScript launcher (no console window
//! at logon), which runs the readable `node.cmd` beside it: `cd`, the non-secret environment, then
//! `openclaw-node.exe run …`. The gateway credentials stay in the owner-only `service.env`; the
//! launcher only names it (`OPENCLAW_NODE_CREDENTIALS_FILE`) and the node reads it itself. The TS
//! host writes the token into `node.cmd`.
//!
//! Triggers: at logon of the installing user (TS's `LogonTrigger` + `InteractiveToken`), or with
//! `install --at-boot` at system start without a logged-on user (`BootTrigger` + `S4U`, which
//! needs an elevated prompt to register). When the task cannot be created (no permission, Task
//! Scheduler disabled), a Startup-folder entry does the logon start instead, as in TS.

use std::path::{Path, PathBuf};

use super::manager::{run_tool, ServiceManager, ServiceRuntime, TOOL_TIMEOUT};
use super::spec::ServiceSpec;

/// The task name (TS `NODE_WINDOWS_TASK_NAME`), so either install replaces the other.
pub const TASK_NAME: &str = "OpenClaw Node";

/// The first lines of every `node.cmd` this module writes (TS writes `rem OpenClaw Node Host`).
const MARKER: &str = "rem OpenClaw Node Host (written by `openclaw-node install`)";

/// The line that makes the task start at boot (read back by `activate`).
const AT_BOOT_LINE: &str = "rem trigger: boot";

/// The Windows Task Scheduler, driven through `schtasks.exe`.
pub struct ScheduledTask {
    /// `%SystemRoot%\System32\schtasks.exe`.
    pub schtasks: PathBuf,
    /// The state directory: `node.cmd` and `node.vbs` live there (TS: `%USERPROFILE%\.openclaw`).
    pub state_dir: PathBuf,
    /// The user the logon trigger and principal name (`DOMAIN\user`), when known.
    pub user: Option<String>,
    /// `%APPDATA%\Microsoft\Windows\Start Menu\Programs\Startup`, when known.
    pub startup_dir: Option<PathBuf>,
}

impl ScheduledTask {
    fn launcher_path(&self) -> PathBuf {
        self.state_dir.join("node.vbs")
    }

    fn startup_entry(&self) -> Option<PathBuf> {
        self.startup_dir.as_ref().map(|dir| dir.join(format!("{TASK_NAME}.vbs")))
    }

    fn schtasks(&self, args: &[&str]) -> Result<String, String> {
        run_tool(&self.schtasks, args, TOOL_TIMEOUT)
    }

    /// Registers the task from XML written (UTF-16LE with BOM, as schtasks wants it) to a
    /// temporary file that is removed afterwards.
    fn create_task(&self, at_boot: bool) -> Result<(), String> {
        let xml = render_task_xml(&self.launcher_path(), self.user.as_deref(), at_boot);
        let dir = std::env::temp_dir().join(format!("openclaw-task-xml-{}", std::process::id()));
        crate::platform::files::create_private_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = dir.join("task.xml");
        let written = crate::state::write_atomic(&file, &utf16le_with_bom(&xml))
            .map_err(|e| e.to_string())
            .and_then(|()| {
                let file = file.to_string_lossy();
                self.schtasks(&["/Create", "/F", "/TN", TASK_NAME, "/XML", &file])
                    .map(drop)
            });
        let _ = std::fs::remove_dir_all(&dir);
        written
    }
}

impl ServiceManager for ScheduledTask {
    fn kind(&self) -> &'static str {
        "schtasks"
    }
    fn label(&self) -> &'static str {
        TASK_NAME
    }
    fn noun(&self) -> &'static str {
        "Scheduled Task"
    }
    fn definition_path(&self) -> PathBuf {
        self.state_dir.join("node.cmd")
    }
    fn render(&self, spec: &ServiceSpec) -> String {
        render_cmd(spec)
    }
    fn parse_command(&self, definition: &str) -> Option<Vec<String>> {
        parse_cmd(definition)
    }
    fn activate(&self) -> Result<(), String> {
        let definition = std::fs::read_to_string(self.definition_path()).unwrap_or_default();
        let at_boot = definition.lines().any(|line| line.trim() == AT_BOOT_LINE);
        let launcher = render_launcher(&self.definition_path());
        crate::service::files::write_atomic(&self.launcher_path(), &launcher, 0o644, 0o755)
            .map_err(|e| format!("cannot write {}: {e}", self.launcher_path().display()))?;
        match self.create_task(at_boot) {
            Ok(()) => {}
            Err(err) if at_boot => {
                return Err(format!(
                    "{err}. A task that starts at boot without a logged-on user needs an \
                     elevated prompt: run `openclaw-node install --at-boot` from \"Run as \
                     administrator\""
                ))
            }
            Err(err) => {
                // TS's fallback: a Startup-folder entry starts the node at the next logon.
                let Some(entry) = self.startup_entry() else {
                    return Err(err);
                };
                log::warn!("schtasks /Create failed ({err}); using the Startup folder instead");
                crate::service::files::write_atomic(&entry, &launcher, 0o644, 0o755)
                    .map_err(|e| format!("{err}; and cannot write {}: {e}", entry.display()))?;
                return Ok(());
            }
        }
        self.start()
    }
    fn start(&self) -> Result<(), String> {
        self.schtasks(&["/Run", "/TN", TASK_NAME]).map(drop)
    }
    fn stop(&self) -> Result<(), String> {
        // /End stops the task's own process (the WScript launcher), not necessarily the node it
        // started; TS follows with `taskkill /T` on the node. Here the node's pid comes from its
        // live status file. Windows gives a console program no event for either, so the node's
        // socket closes as after a crash and the gateway sees it go.
        let ended = self.schtasks(&["/End", "/TN", TASK_NAME]).map(drop);
        let paths = crate::paths::StatePaths::at(&self.state_dir);
        if let Ok(Some(live)) = crate::status::read_status(&paths) {
            if live.running && crate::platform::host::terminate_pid(live.snapshot.pid) {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while crate::platform::host::pid_alive(live.snapshot.pid)
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        ended
    }
    fn restart(&self) -> Result<(), String> {
        let _ = self.stop();
        self.start()
    }
    fn deactivate(&self) -> Result<(), String> {
        self.stop()
    }
    fn forget(&self) -> Result<(), String> {
        let _ = std::fs::remove_file(self.launcher_path());
        if let Some(entry) = self.startup_entry() {
            let _ = std::fs::remove_file(entry);
        }
        self.schtasks(&["/Delete", "/F", "/TN", TASK_NAME]).map(drop)
    }
    fn runtime(&self) -> ServiceRuntime {
        match self.schtasks(&["/Query", "/TN", TASK_NAME, "/FO", "CSV", "/NH"]) {
            Ok(out) => parse_query(&out),
            Err(err) => ServiceRuntime {
                detail: Some(err),
                ..ServiceRuntime::default()
            },
        }
    }
    fn install_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    fn start_hint(&self) -> String {
        format!("schtasks /Run /TN \"{TASK_NAME}\"")
    }
}

/// `schtasks /Query /FO CSV /NH`: `"\OpenClaw Node","N/A","Running"`. Status `Running` is up;
/// `Ready` or `Disabled` is not.
pub fn parse_query(out: &str) -> ServiceRuntime {
    let line = out.lines().find(|l| l.contains(TASK_NAME)).unwrap_or("");
    let fields: Vec<&str> = line.split("\",\"").map(|f| f.trim_matches('"')).collect();
    let state = fields.get(2).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    ServiceRuntime {
        enabled: state.as_deref().map(|s| s != "Disabled"),
        running: state.as_deref().map(|s| s == "Running"),
        pid: None,
        detail: state
            .is_none()
            .then(|| "schtasks /Query did not report the task's state".to_string()),
        state,
    }
}

/// `node.cmd`: CRLF lines, `cd /d`, `set "K=V"` for the non-secret environment and the
/// credentials file's name, then the command with TS's cmd quoting, stdin from NUL.
pub fn render_cmd(spec: &ServiceSpec) -> String {
    let mut lines = vec!["@echo off".to_string(), MARKER.to_string()];
    if spec.at_boot {
        lines.push(AT_BOOT_LINE.to_string());
    }
    lines.push(format!(
        "cd /d {}",
        quote_cmd_script_arg(&spec.working_directory.to_string_lossy())
    ));
    let credentials = spec.env_file.to_string_lossy().into_owned();
    for (name, value) in spec
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([(super::envfile::CREDENTIALS_FILE_ENV, credentials.as_str())])
    {
        lines.push(format!("set \"{name}={}\"", escape_set_value(value)));
    }
    let words: Vec<String> = spec.program.iter().map(|w| quote_cmd_script_arg(w)).collect();
    lines.push(format!("{} < NUL", words.join(" ")));
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

/// The program and arguments of a `node.cmd` this module wrote (its last line).
pub fn parse_cmd(definition: &str) -> Option<Vec<String>> {
    if !definition.contains(MARKER) {
        return None;
    }
    let line = definition.lines().rev().find(|l| !l.trim().is_empty())?;
    let line = line.trim().strip_suffix("< NUL")?.trim_end();
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => quoted = false,
            '"' => {
                quoted = true;
                in_word = true;
            }
            '\\' if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '%' if chars.peek() == Some(&'%') => {
                current.push('%');
                chars.next();
            }
            '^' if chars.peek() == Some(&'!') => {
                current.push('!');
                chars.next();
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            other => {
                current.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    (!words.is_empty()).then_some(words)
}

/// TS `quoteCmdScriptArg`: `"`→`\"`, `%`→`%%`, `!`→`^!`, and quotes around an argument with any
/// of space, tab, `" & | < > ^ ( ) % !`; an empty argument is `""`.
pub fn quote_cmd_script_arg(arg: &str) -> String {
    if arg.is_empty() {
        return "\"\"".to_string();
    }
    let needs_quotes = arg.contains([' ', '\t', '"', '&', '|', '<', '>', '^', '(', ')', '%', '!']);
    let escaped = arg
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('!', "^!");
    if needs_quotes {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// TS `renderCmdSetAssignment`'s value escaping: `^`→`^^`, `!`→`^!`, `%`→`%%`, `"`→`^"`.
fn escape_set_value(value: &str) -> String {
    value
        .replace('^', "^^")
        .replace('!', "^!")
        .replace('%', "%%")
        .replace('"', "^\"")
}

/// The hidden launcher: WScript runs `node.cmd` with no window and waits for it, so the task's
/// state follows the node. ASCII when the path is (Wine's wscript cannot read UTF-16), else
/// UTF-16LE with BOM (as TS writes it always).
pub fn render_launcher(cmd: &Path) -> Vec<u8> {
    let path = cmd.to_string_lossy().replace('"', "\"\"");
    let text = format!(
        "' OpenClaw Node Host (written by `openclaw-node install`)\r\n\
         Set shell = CreateObject(\"WScript.Shell\")\r\n\
         WScript.Quit shell.Run(\"\"\"{path}\"\"\", 0, True)\r\n"
    );
    if text.is_ascii() {
        text.into_bytes()
    } else {
        utf16le_with_bom(&text)
    }
}

/// The task: TS's settings (IgnoreNew, no battery stop, no time limit, restart 3× a minute
/// apart); a logon trigger and interactive principal, or a boot trigger and an S4U principal.
pub fn render_task_xml(launcher: &Path, user: Option<&str>, at_boot: bool) -> String {
    let user_xml = user.map(xml_escape);
    let (trigger, principal) = match (&user_xml, at_boot) {
        (_, true) => (
            "<BootTrigger><Enabled>true</Enabled></BootTrigger>".to_string(),
            match &user_xml {
                Some(user) => format!(
                    "<UserId>{user}</UserId><LogonType>S4U</LogonType><RunLevel>LeastPrivilege</RunLevel>"
                ),
                None => "<UserId>S-1-5-19</UserId><RunLevel>LeastPrivilege</RunLevel>".to_string(),
            },
        ),
        (Some(user), false) => (
            format!("<LogonTrigger><Enabled>true</Enabled><UserId>{user}</UserId></LogonTrigger>"),
            format!(
                "<UserId>{user}</UserId><LogonType>InteractiveToken</LogonType><RunLevel>LeastPrivilege</RunLevel>"
            ),
        ),
        (None, false) => (
            "<LogonTrigger><Enabled>true</Enabled></LogonTrigger>".to_string(),
            "<GroupId>S-1-5-32-545</GroupId><RunLevel>LeastPrivilege</RunLevel>".to_string(),
        ),
    };
    let command = xml_escape(&launcher.to_string_lossy());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n\
         <Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n\
         <RegistrationInfo><Description>OpenClaw Node Host (openclaw-node)</Description></RegistrationInfo>\r\n\
         <Triggers>{trigger}</Triggers>\r\n\
         <Principals><Principal id=\"Author\">{principal}</Principal></Principals>\r\n\
         <Settings><MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\
         <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\
         <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\
         <AllowHardTerminate>true</AllowHardTerminate><StartWhenAvailable>false</StartWhenAvailable>\
         <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>\
         <IdleSettings><StopOnIdleEnd>false</StopOnIdleEnd><RestartOnIdle>false</RestartOnIdle></IdleSettings>\
         <AllowStartOnDemand>true</AllowStartOnDemand><Enabled>true</Enabled><Hidden>false</Hidden>\
         <RunOnlyIfIdle>false</RunOnlyIfIdle><WakeToRun>false</WakeToRun>\
         <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>\
         <RestartOnFailure><Interval>PT1M</Interval><Count>3</Count></RestartOnFailure>\
         <Priority>7</Priority></Settings>\r\n\
         <Actions Context=\"Author\"><Exec><Command>{command}</Command></Exec></Actions>\r\n\
         </Task>\r\n"
    )
}

/// The task's user as TS resolves it (`resolveTaskUser`): `USERNAME` (else `USER`, `LOGNAME`);
/// as is when it has a `\`; bare in a `WORKGROUP`; else `USERDOMAIN\name`.
pub fn task_user(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let name = ["USERNAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|key| env(key).filter(|v| !v.trim().is_empty()))?;
    if name.contains('\\') {
        return Some(name);
    }
    match env("USERDOMAIN").filter(|d| !d.trim().is_empty()) {
        Some(domain) if !domain.eq_ignore_ascii_case("WORKGROUP") => Some(format!("{domain}\\{name}")),
        _ => Some(name),
    }
}

fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(at_boot: bool) -> ServiceSpec {
        ServiceSpec {
            description: "d".into(),
            program: vec![
                r"C:\Program Files\openclaw\openclaw-node.exe".into(),
                "run".into(),
                "--host".into(),
                "gw.lan".into(),
                "--display-name".into(),
                "Build box (lab) 100%!".into(),
            ],
            environment: vec![("OPENCLAW_STATE_DIR".into(), r"C:\Users\Ada\.openclaw".into())],
            env_file: PathBuf::from(r"C:\Users\Ada\.openclaw\openclaw-node\service.env"),
            working_directory: PathBuf::from(r"C:\Users\Ada"),
            log_file: PathBuf::from(r"C:\Users\Ada\.openclaw\openclaw-node\service.log"),
            at_boot,
        }
    }

    #[test]
    fn the_launcher_script_names_the_credentials_file_and_holds_no_secret() {
        let cmd = render_cmd(&spec(false));
        assert!(cmd.ends_with("\r\n") && !cmd.contains("\n\n"));
        let lines: Vec<&str> = cmd.lines().collect();
        assert_eq!(lines[0], "@echo off");
        assert_eq!(lines[2], r"cd /d C:\Users\Ada");
        assert_eq!(lines[3], r#"set "OPENCLAW_STATE_DIR=C:\Users\Ada\.openclaw""#);
        assert_eq!(
            lines[4],
            r#"set "OPENCLAW_NODE_CREDENTIALS_FILE=C:\Users\Ada\.openclaw\openclaw-node\service.env""#
        );
        assert_eq!(
            lines[5],
            r#""C:\Program Files\openclaw\openclaw-node.exe" run --host gw.lan --display-name "Build box (lab) 100%%^!" < NUL"#
        );
        assert!(!cmd.contains("TOKEN="));
        assert_eq!(parse_cmd(&cmd).unwrap(), spec(false).program);
        assert!(!cmd.contains(AT_BOOT_LINE));
        assert!(render_cmd(&spec(true)).contains(AT_BOOT_LINE));
    }

    #[test]
    fn quoting_follows_ts() {
        assert_eq!(quote_cmd_script_arg(""), "\"\"");
        assert_eq!(quote_cmd_script_arg("plain"), "plain");
        assert_eq!(quote_cmd_script_arg(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote_cmd_script_arg("50%"), "\"50%%\"");
        assert_eq!(escape_set_value(r#"tok%en!x"^"#), r#"tok%%en^!x^"^^"#);
    }

    #[test]
    fn the_task_xml_has_ts_settings_and_the_chosen_trigger() {
        let launcher = Path::new(r"C:\Users\Ada\.openclaw\node.vbs");
        let xml = render_task_xml(launcher, Some(r"LAB\Ada"), false);
        assert!(xml.contains(r"<LogonTrigger><Enabled>true</Enabled><UserId>LAB\Ada</UserId></LogonTrigger>"));
        assert!(xml.contains("<LogonType>InteractiveToken</LogonType>"));
        assert!(xml.contains("<RestartOnFailure><Interval>PT1M</Interval><Count>3</Count></RestartOnFailure>"));
        assert!(xml.contains(r"<Command>C:\Users\Ada\.openclaw\node.vbs</Command>"));
        let boot = render_task_xml(launcher, Some(r"LAB\Ada"), true);
        assert!(boot.contains("<BootTrigger>") && boot.contains("<LogonType>S4U</LogonType>"));
        let nobody = render_task_xml(launcher, None, false);
        assert!(nobody.contains("<GroupId>S-1-5-32-545</GroupId>"));
        let bytes = utf16le_with_bom("<a/>");
        assert_eq!(&bytes[..4], &[0xFF, 0xFE, b'<', 0]);
    }

    #[test]
    fn the_task_user_is_resolved_as_ts_does() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
        };
        assert_eq!(task_user(env(&[("USERNAME", "Ada"), ("USERDOMAIN", "LAB")])).as_deref(), Some(r"LAB\Ada"));
        assert_eq!(task_user(env(&[("USERNAME", "Ada"), ("USERDOMAIN", "WORKGROUP")])).as_deref(), Some("Ada"));
        assert_eq!(task_user(env(&[("USERNAME", r"X\Ada"), ("USERDOMAIN", "LAB")])).as_deref(), Some(r"X\Ada"));
        assert_eq!(task_user(env(&[])), None);
    }

    #[test]
    fn query_output_gives_the_state() {
        let running = parse_query("\r\n\"\\OpenClaw Node\",\"N/A\",\"Running\"\r\n");
        assert_eq!(running.running, Some(true));
        assert_eq!(running.state.as_deref(), Some("Running"));
        let ready = parse_query("\"\\OpenClaw Node\",\"12/1/2026 9:00:00 AM\",\"Ready\"");
        assert_eq!(ready.running, Some(false));
        assert!(parse_query("").detail.is_some());
    }

    #[test]
    fn the_launcher_is_ascii_when_it_can_be() {
        let ascii = render_launcher(Path::new(r"C:\Users\Ada\.openclaw\node.cmd"));
        let text = String::from_utf8(ascii).unwrap();
        assert!(text.contains(r#"shell.Run("""C:\Users\Ada\.openclaw\node.cmd""", 0, True)"#));
        let wide = render_launcher(Path::new(r"C:\Users\Zoë\.openclaw\node.cmd"));
        assert_eq!(&wide[..2], &[0xFF, 0xFE]);
    }
}
