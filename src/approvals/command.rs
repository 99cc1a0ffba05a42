//! A `system.run` command as the gateway sees it: its display text (`commandText`) and the
//! `rawCommand` consistency check (`resolveSystemRunCommandRequest`).
//!
//! Ported from the TS host's `system-run-command.ts` (openclaw 2026.9.6). The display text and
//! the check must match the gateway byte for byte, so they are exact. How the policy reads the
//! argv behind them (wrappers, shell payloads) is [`super::argv`].

/// The display text lives with the other word helpers in [`super::argv`]; `approvals cli`
/// reaches it here, as the command's display text.
pub use super::argv::format_exec_command;
use super::argv::{
    extract_shell_wrapper_command, has_env_manipulation_before_shell_wrapper,
    has_trailing_positional_argv_after_inline_command, js_trim, normalize_raw,
};

/// A `system.run` command after the `rawCommand` check (`resolveSystemRunCommandRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub argv: Vec<String>,
    /// `formatExecCommand(argv)`: what events and plans call the command.
    pub command_text: String,
    /// The shell wrapper's payload, when argv is a shell wrapper with a bindable payload.
    pub shell_payload: Option<String>,
    /// The trimmed payload, when it may stand for the command in displays.
    pub preview_text: Option<String>,
}

/// The exact `rawCommand` mismatch message.
pub const RAW_COMMAND_MISMATCH: &str = "INVALID_REQUEST: rawCommand does not match command";

/// Checks `rawCommand` against argv. `Err` carries the protocol message.
pub fn resolve_command_request(
    argv: Vec<String>,
    raw_command: Option<&str>,
) -> Result<CommandRequest, String> {
    let raw = normalize_raw(raw_command);
    if argv.is_empty() {
        if raw.is_some() {
            return Err("rawCommand requires params.command".to_string());
        }
        return Ok(CommandRequest {
            argv,
            command_text: String::new(),
            shell_payload: None,
            preview_text: None,
        });
    }
    let rawless = extract_shell_wrapper_command(&argv, None);
    let resolution = if rawless.command.is_none() && raw.is_some() {
        extract_shell_wrapper_command(&argv, raw.as_deref())
    } else {
        rawless
    };
    let shell_payload = resolution.command;
    let positional = has_trailing_positional_argv_after_inline_command(&argv);
    let env_manipulation =
        resolution.is_wrapper && has_env_manipulation_before_shell_wrapper(&argv);
    let command_text = format_exec_command(&argv);
    let preview_text = match &shell_payload {
        Some(payload) if !env_manipulation && !positional => Some(js_trim(payload).to_string()),
        _ => None,
    };
    if let Some(raw) = &raw {
        let matches_canonical = *raw == command_text;
        let matches_preview = preview_text.as_deref() == Some(raw.as_str());
        if !matches_canonical && !matches_preview {
            return Err(RAW_COMMAND_MISMATCH.to_string());
        }
    }
    Ok(CommandRequest {
        argv,
        command_text,
        shell_payload,
        preview_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::argv::is_blocked_shell_wrapper_command;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn raw_command_check_accepts_canonical_and_shell_payload() {
        let ok = resolve_command_request(v(&["echo", "hi"]), Some("echo hi")).unwrap();
        assert_eq!(ok.command_text, "echo hi");
        assert!(ok.shell_payload.is_none());
        assert_eq!(
            resolve_command_request(v(&["echo", "hi"]), Some("echo ho")).unwrap_err(),
            RAW_COMMAND_MISMATCH
        );
        // Whitespace-only raw is ignored.
        assert!(resolve_command_request(v(&["echo", "hi"]), Some("  ")).is_ok());

        let shell = resolve_command_request(
            v(&["sh", "-c", "echo hi && uname"]),
            Some("echo hi && uname"),
        )
        .unwrap();
        assert_eq!(shell.shell_payload.as_deref(), Some("echo hi && uname"));
        assert_eq!(shell.preview_text.as_deref(), Some("echo hi && uname"));
        assert_eq!(shell.command_text, "sh -c \"echo hi && uname\"");
    }

    #[test]
    fn legacy_sh_login_payload_needs_raw_command() {
        let argv = v(&["/bin/sh", "-lc", "echo via-shell"]);
        let rawless = resolve_command_request(argv.clone(), None).unwrap();
        assert_eq!(rawless.shell_payload, None);
        let with_raw = resolve_command_request(argv.clone(), Some("echo via-shell")).unwrap();
        assert_eq!(with_raw.shell_payload.as_deref(), Some("echo via-shell"));
        assert_eq!(with_raw.command_text, "/bin/sh -lc \"echo via-shell\"");
        assert!(is_blocked_shell_wrapper_command(&argv, None));
        assert!(!is_blocked_shell_wrapper_command(
            &argv,
            Some("echo via-shell")
        ));
        // bash -lc always needs its full argv.
        let bash = v(&["bash", "-lc", "ls"]);
        assert_eq!(
            resolve_command_request(bash.clone(), Some("ls")).unwrap_err(),
            RAW_COMMAND_MISMATCH
        );
        assert!(is_blocked_shell_wrapper_command(&bash, Some("ls")));
    }

    #[test]
    fn env_prefix_hides_preview() {
        let argv = v(&["env", "FOO=1", "sh", "-c", "echo hi"]);
        let req = resolve_command_request(argv, None).unwrap();
        assert_eq!(req.shell_payload.as_deref(), Some("echo hi"));
        assert_eq!(req.preview_text, None);
        let positional = resolve_command_request(v(&["sh", "-c", "echo $0", "x"]), None).unwrap();
        assert_eq!(positional.preview_text, None);
    }
}
