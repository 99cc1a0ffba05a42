//! launchd: a LaunchAgent `~/Library/LaunchAgents/ai.openclaw.node.plist`, driven with
//! `launchctl` in the user's GUI domain (`gui/<uid>`).
//!
//! launchd has no environment-file setting, so the job runs `/bin/sh`, which sources the 0600
//! credentials file and then `exec`s the node: the plist holds the file's path, never the
//! secrets. The plist is rendered and tested on every platform; `launchctl` runs only on macOS
//! (or wherever a test points [`super::context::LAUNCHCTL_ENV`]).

use std::path::{Path, PathBuf};

use super::manager::{run_tool, ServiceManager, ServiceRuntime, TOOL_TIMEOUT};
use super::spec::ServiceSpec;

/// The job label; the same as `openclaw node install` uses, so either replaces the other.
pub const LABEL: &str = "ai.openclaw.node";

/// Marks a plist this module wrote.
const MARKER: &str = "Written by `openclaw-node install`";

/// Sources the credentials file named by `$0` (when readable), then runs the rest.
const ENV_WRAPPER: &str = r#"if [ -r "$0" ]; then set -a; . "$0"; set +a; fi; exec "$@""#;

/// The launchd LaunchAgent manager.
pub struct Launchd {
    /// The `launchctl` to run.
    pub launchctl: PathBuf,
    /// `~/Library/LaunchAgents`.
    pub agents_dir: PathBuf,
    /// The user whose GUI domain (`gui/<uid>`) holds the job.
    pub uid: u32,
}

impl Launchd {
    fn domain(&self) -> String {
        format!("gui/{}", self.uid)
    }
    fn target(&self) -> String {
        format!("gui/{}/{LABEL}", self.uid)
    }
    fn launchctl(&self, args: &[&str]) -> Result<String, String> {
        run_tool(&self.launchctl, args, TOOL_TIMEOUT)
    }
    fn loaded(&self) -> bool {
        self.launchctl(&["print", &self.target()]).is_ok()
    }
    fn bootstrap(&self) -> Result<(), String> {
        let plist = self.definition_path();
        let plist = plist.to_string_lossy();
        // A job disabled earlier (`launchctl disable`) refuses to bootstrap.
        let _ = self.launchctl(&["enable", &self.target()]);
        self.launchctl(&["bootstrap", &self.domain(), &plist])
            .map(drop)
    }
}

impl ServiceManager for Launchd {
    fn kind(&self) -> &'static str {
        "launchd"
    }
    fn label(&self) -> &'static str {
        LABEL
    }
    fn noun(&self) -> &'static str {
        "launchd LaunchAgent"
    }
    fn definition_path(&self) -> PathBuf {
        self.agents_dir.join(format!("{LABEL}.plist"))
    }
    fn render(&self, spec: &ServiceSpec) -> String {
        render_plist(spec)
    }
    fn parse_command(&self, definition: &str) -> Option<Vec<String>> {
        parse_program_arguments(definition)
    }
    fn activate(&self) -> Result<(), String> {
        // A loaded job keeps its old definition until it is booted out.
        if self.loaded() {
            self.launchctl(&["bootout", &self.target()])?;
        }
        self.bootstrap()
    }
    fn start(&self) -> Result<(), String> {
        if self.loaded() {
            self.launchctl(&["kickstart", &self.target()]).map(drop)
        } else {
            self.bootstrap()
        }
    }
    fn stop(&self) -> Result<(), String> {
        // KeepAlive would restart a job that is merely killed; booting it out stops it until
        // the next `start` or login.
        if self.loaded() {
            self.launchctl(&["bootout", &self.target()]).map(drop)
        } else {
            Ok(())
        }
    }
    fn restart(&self) -> Result<(), String> {
        if self.loaded() {
            self.launchctl(&["kickstart", "-k", &self.target()])
                .map(drop)
        } else {
            self.bootstrap()
        }
    }
    fn deactivate(&self) -> Result<(), String> {
        self.stop()
    }
    fn forget(&self) -> Result<(), String> {
        Ok(())
    }
    fn runtime(&self) -> ServiceRuntime {
        match self.launchctl(&["print", &self.target()]) {
            Ok(text) => parse_print(&text),
            // `print` fails for a job that is not loaded.
            Err(_) => ServiceRuntime {
                enabled: Some(false),
                running: Some(false),
                pid: None,
                state: Some("not loaded".into()),
                detail: None,
            },
        }
    }
    fn install_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    fn start_hint(&self) -> String {
        format!("launchctl bootstrap gui/$UID ~/Library/LaunchAgents/{LABEL}.plist")
    }
}

/// Reads `launchctl print gui/<uid>/<label>` output: `state = running`, `pid = 123`.
fn parse_print(text: &str) -> ServiceRuntime {
    let get = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.trim().split_once(" = ")?;
            (k == key).then(|| v.trim().to_string())
        })
    };
    let state = get("state");
    ServiceRuntime {
        enabled: Some(true),
        running: state.as_deref().map(|s| s == "running"),
        pid: get("pid").and_then(|p| p.parse().ok()),
        state,
        detail: None,
    }
}

/// The LaunchAgent plist for `spec`.
pub fn render_plist(spec: &ServiceSpec) -> String {
    let mut args = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        ENV_WRAPPER.to_string(),
        spec.env_file.to_string_lossy().into_owned(),
    ];
    args.extend(spec.program.iter().cloned());
    let mut out = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" ",
        "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
        "<plist version=\"1.0\">\n<dict>\n",
    ));
    let key =
        |out: &mut String, k: &str| out.push_str(&format!("  <key>{}</key>\n", xml_escape(k)));
    let string = |out: &mut String, indent: &str, v: &str| {
        out.push_str(&format!("{indent}<string>{}</string>\n", xml_escape(v)))
    };
    key(&mut out, "Label");
    string(&mut out, "  ", LABEL);
    // An XML comment may not contain `--`, so the marker goes in the job's Comment.
    key(&mut out, "Comment");
    string(
        &mut out,
        "  ",
        &format!(
            "{}. {MARKER}; replace it with: openclaw-node install --force",
            spec.description
        ),
    );
    key(&mut out, "ProgramArguments");
    out.push_str("  <array>\n");
    for arg in &args {
        string(&mut out, "    ", arg);
    }
    out.push_str("  </array>\n");
    key(&mut out, "EnvironmentVariables");
    out.push_str("  <dict>\n");
    for (name, value) in &spec.environment {
        out.push_str(&format!("    <key>{}</key>\n", xml_escape(name)));
        string(&mut out, "    ", value);
    }
    out.push_str("  </dict>\n");
    key(&mut out, "WorkingDirectory");
    string(&mut out, "  ", &spec.working_directory.to_string_lossy());
    key(&mut out, "RunAtLoad");
    out.push_str("  <true/>\n");
    // Restart after a failure only: a clean exit (SIGTERM from `stop`) stays stopped.
    key(&mut out, "KeepAlive");
    out.push_str("  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
    key(&mut out, "ThrottleInterval");
    out.push_str("  <integer>10</integer>\n");
    key(&mut out, "ProcessType");
    string(&mut out, "  ", "Background");
    key(&mut out, "StandardInPath");
    string(&mut out, "  ", "/dev/null");
    key(&mut out, "StandardOutPath");
    string(&mut out, "  ", &spec.log_file.to_string_lossy());
    key(&mut out, "StandardErrorPath");
    string(&mut out, "  ", &spec.log_file.to_string_lossy());
    out.push_str("</dict>\n</plist>\n");
    out
}

fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_unescape(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The node's command line from a plist written by [`render_plist`] (the `/bin/sh` wrapper and
/// the credentials path removed).
pub fn parse_program_arguments(plist: &str) -> Option<Vec<String>> {
    let start = plist.find("<key>ProgramArguments</key>")?;
    let rest = &plist[start..];
    let array = &rest[rest.find("<array>")? + "<array>".len()..rest.find("</array>")?];
    let args: Vec<String> = array
        .split("<string>")
        .skip(1)
        .filter_map(|piece| piece.split_once("</string>").map(|(v, _)| xml_unescape(v)))
        .collect();
    match args.first().map(String::as_str) {
        Some("/bin/sh") if args.len() > 4 => Some(args[4..].to_vec()),
        Some(_) => Some(args),
        None => None,
    }
}

/// Whether a plist was written by this module (and not, say, by `openclaw node install`).
pub fn written_by_us(definition: &str) -> bool {
    definition.contains(MARKER)
}

/// `~/Library/LaunchAgents` under `home`.
pub fn agents_dir(home: &Path) -> PathBuf {
    home.join("Library").join("LaunchAgents")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_output_is_understood() {
        let rt = parse_print(
            "gui/501/ai.openclaw.node = {\n\tactive count = 1\n\tstate = running\n\tpid = 777\n}\n",
        );
        assert_eq!((rt.running, rt.pid), (Some(true), Some(777)));
        assert_eq!(rt.state.as_deref(), Some("running"));
    }

    #[test]
    fn escaping_round_trips() {
        let v = "a<b>&\"c' d";
        assert_eq!(xml_unescape(&xml_escape(v)), v);
    }
}
