//! The service's credentials file (`openclaw-node/service.env`, mode 0600).
//!
//! The gateway token and password never appear in a unit's arguments or a plist, where `ps`,
//! `systemctl show` or a backup would expose them. They go to this file, which systemd reads
//! with `EnvironmentFile=` and launchd (and the plain start script) through `/bin/sh`'s `.`.
//! One syntax serves both: `NAME="value"` with `\`, `"`, `$` and `` ` `` escaped by a backslash
//! means the same to systemd's parser and to a POSIX shell; line breaks, which the two read
//! differently, are refused.

use std::path::Path;

use super::context::Credentials;

const HEADER: &str = "\
# Gateway credentials for the openclaw-node service (OPENCLAW_GATEWAY_TOKEN,
# OPENCLAW_GATEWAY_PASSWORD). Keep this file mode 0600. The service reads it when it starts:
# edit it, then run `openclaw-node restart`.
";

/// The variable a launcher sets to name this file, where no service manager reads it for the
/// node (the Windows Scheduled Task); `run` then reads it itself (`settings::credentials_file`).
pub const CREDENTIALS_FILE_ENV: &str = "OPENCLAW_NODE_CREDENTIALS_FILE";

/// What [`write_credentials`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFileOutcome {
    /// The credentials from the install's environment were written.
    Written,
    /// The install's environment had none and the file already existed: kept as it was, so a
    /// reinstall that only changes the host does not silently drop the credentials.
    Kept,
    /// Neither: a file with only the explanatory header was written.
    Empty,
}

/// Writes `credentials` to `path` (mode 0600), or keeps an existing file when there are none.
pub fn write_credentials(path: &Path, credentials: &Credentials) -> Result<EnvFileOutcome, String> {
    if credentials.is_empty() && path.exists() {
        return Ok(EnvFileOutcome::Kept);
    }
    let content = render(credentials)?;
    // The error names the file (StateError), never the content.
    crate::state::write_atomic(path, content.as_bytes())
        .map_err(|err| format!("cannot write the credentials file {err}"))?;
    Ok(if credentials.is_empty() {
        EnvFileOutcome::Empty
    } else {
        EnvFileOutcome::Written
    })
}

/// The file's content. Errors name the variable, never its value.
pub fn render(credentials: &Credentials) -> Result<String, String> {
    let mut out = HEADER.to_string();
    for (name, value) in credentials.entries() {
        if value.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "{name} contains a line break or NUL, which a service environment file cannot hold"
            ));
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&quote(value));
        out.push('\n');
    }
    Ok(out)
}

/// Reads back what [`render`] writes: `NAME="value"` lines with `\` escapes; comments, blank
/// lines and anything else are skipped (the node reads the file itself where no service manager
/// does: the Windows Scheduled Task).
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((name, rest)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        let Some(quoted) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
            continue;
        };
        let mut value = String::with_capacity(quoted.len());
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            value.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
        }
        out.push((name.to_string(), value));
    }
    out
}

/// `"value"` with `\ " $ `` escaped: read alike by systemd's `EnvironmentFile=` and `sh`.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_shell_reads_back_exactly_the_value() {
        let tricky = r#"p@ss w0rd "quoted" $HOME `id` back\slash \n 'single' %h"#;
        let creds = Credentials {
            token: Some("tok-123".into()),
            password: Some(tricky.into()),
        };
        let dir = std::env::temp_dir().join(format!("ocn-envfile-{}", std::process::id()));
        let path = dir.join("service.env");
        assert_eq!(
            write_credentials(&path, &creds).unwrap(),
            EnvFileOutcome::Written
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"set -a; . "$0"; printf '%s\n%s' "$OPENCLAW_GATEWAY_TOKEN" "$OPENCLAW_GATEWAY_PASSWORD""#)
            .arg(&path)
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .env_remove("OPENCLAW_GATEWAY_PASSWORD")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("tok-123\n{tricky}")
        );

        // A reinstall without credentials keeps them.
        assert_eq!(
            write_credentials(&path, &Credentials::default()).unwrap(),
            EnvFileOutcome::Kept
        );
        assert!(std::fs::read_to_string(&path).unwrap().contains("tok-123"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn line_breaks_are_refused_without_showing_the_value() {
        let creds = Credentials {
            token: Some("abc\ndef-secret".into()),
            password: None,
        };
        let err = render(&creds).unwrap_err();
        assert!(err.contains("OPENCLAW_GATEWAY_TOKEN"));
        assert!(!err.contains("secret"));
    }

    #[test]
    fn no_credentials_gives_only_the_header() {
        let text = render(&Credentials::default()).unwrap();
        assert!(text.lines().all(|l| l.starts_with('#')));
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn what_render_writes_parse_reads_back() {
        let tricky = r#"p@ss w0rd "quoted" $HOME `id` back\slash %h"#;
        let creds = Credentials {
            token: Some("tok-123".into()),
            password: Some(tricky.into()),
        };
        let text = render(&creds).unwrap();
        assert_eq!(
            parse(&text),
            vec![
                ("OPENCLAW_GATEWAY_TOKEN".to_string(), "tok-123".to_string()),
                ("OPENCLAW_GATEWAY_PASSWORD".to_string(), tricky.to_string()),
            ]
        );
        assert_eq!(parse("# c\nX=unquoted\n=\"v\"\n"), vec![]);
    }
}
