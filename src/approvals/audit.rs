//! The exec audit log: one JSON line per `system.run` decision in
//! `openclaw-node/audit.jsonl`, mode 0600, rotated to `audit.jsonl.1` past 1 MiB.
//!
//! A line records when, what was decided and why, the argv and cwd, who asked (agent, session,
//! run) and, for runs, the exit code and duration. It never records environment values, output,
//! or the node's secrets (a secret value inside an argument is replaced by `<redacted>`).
//! Failing to write the log is logged and does not block the run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::platform::files;

/// Size past which the log is rotated.
pub const MAX_AUDIT_BYTES: u64 = 1024 * 1024;

/// The log as last opened, kept between appends: creating the directory, checking the size and
/// opening the file for every run cost five system calls per `system.run`.
static OPEN_LOG: Mutex<Option<OpenLog>> = Mutex::new(None);

struct OpenLog {
    path: PathBuf,
    file: fs::File,
    /// Bytes in the file, counted as they are written.
    len: u64,
    /// Which file it is, to notice when someone removed or replaced it.
    id: Option<(u64, u64)>,
}

/// One decision.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub time: String,
    /// `allowed` or `denied`.
    pub decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How an allowed run was authorised (`security=full`, `allowlist`, `approved:allow-once`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub agent_id: Option<String>,
    pub session_key: String,
    pub run_id: String,
    pub security: Option<&'static str>,
    pub ask: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Replaces every occurrence of a secret value in `text`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "<redacted>");
        }
    }
    out
}

/// Appends `record` to the log at `path`, rotating first when it would grow past the limit.
pub fn append(path: &Path, record: &AuditRecord, secrets: &[String]) {
    let mut record = record.clone();
    record.argv = record.argv.iter().map(|a| redact(a, secrets)).collect();
    record.message = record.message.map(|m| redact(&m, secrets));
    let mut line = match serde_json::to_string(&record) {
        Ok(line) => line,
        Err(err) => {
            log::warn!("audit log: cannot encode a record: {err}");
            return;
        }
    };
    line.push('\n');
    let mut open_log = OPEN_LOG.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(err) = append_line(&mut open_log, path, &line) {
        // Opened afresh next time.
        *open_log = None;
        log::warn!("audit log {}: {err}", path.display());
    }
}

fn append_line(open_log: &mut Option<OpenLog>, path: &Path, line: &str) -> std::io::Result<()> {
    // Still the file at `path`? One stat instead of an open; a log someone removed or rotated is
    // reopened rather than written to a file no one can see.
    let current = fs::metadata(path)
        .ok()
        .and_then(|meta| files::file_identity(path, &meta));
    if !matches!(open_log, Some(log) if log.path == path && log.id.is_some() && log.id == current) {
        *open_log = Some(open(path)?);
    }
    let full = matches!(open_log, Some(log) if log.len > 0 && log.len + line.len() as u64 > MAX_AUDIT_BYTES);
    if full {
        // Closed first: Windows cannot move a file this process holds open.
        *open_log = None;
        files::replace(path, &rotated_path(path))?;
        *open_log = Some(open(path)?);
    }
    let Some(log) = open_log.as_mut() else {
        return Ok(());
    };
    log.file.write_all(line.as_bytes())?;
    log.len += line.len() as u64;
    Ok(())
}

fn open(path: &Path) -> std::io::Result<OpenLog> {
    if let Some(dir) = path.parent() {
        files::create_private_dir_all(dir)?;
    }
    let file = files::open_private_append(path)?;
    let meta = file.metadata()?;
    Ok(OpenLog {
        path: path.to_path_buf(),
        len: meta.len(),
        id: files::file_identity(path, &meta),
        file,
    })
}

/// `audit.jsonl.1`.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".1");
    path.with_file_name(name)
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn record(argv: &[&str]) -> AuditRecord {
        AuditRecord {
            time: crate::clock::iso_now(),
            decision: "denied",
            reason: Some("allowlist-miss".into()),
            rule: None,
            message: None,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: Some("/tmp".into()),
            agent_id: Some("main".into()),
            session_key: "node".into(),
            run_id: "r1".into(),
            security: Some("allowlist"),
            ask: Some("off"),
            exit_code: None,
            timed_out: None,
            duration_ms: None,
            error: None,
        }
    }

    #[test]
    fn formats_time() {
        assert_eq!(crate::clock::iso_8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            crate::clock::iso_8601_ms(1_795_496_144_747),
            "2026-11-24T04:55:44.747Z"
        );
        assert_eq!(crate::clock::iso_8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn appends_redacts_and_rotates() {
        let dir = std::env::temp_dir().join(format!("oc-audit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("audit.jsonl");
        let secrets = vec!["topsecret-token".to_string()];
        append(
            &path,
            &record(&["curl", "-H", "Bearer topsecret-token"]),
            &secrets,
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("topsecret-token"));
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["decision"], "denied");
        assert_eq!(line["argv"][2], "Bearer <redacted>");
        assert_eq!(line["runId"], "r1");
        let big = "x".repeat(600 * 1024);
        append(&path, &record(&[&big]), &[]);
        append(&path, &record(&[&big]), &[]);
        assert!(rotated_path(&path).exists());
        assert!(fs::metadata(&path).unwrap().len() <= MAX_AUDIT_BYTES);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_removed_or_replaced_log_is_reopened_not_written_blind() {
        let dir = std::env::temp_dir().join(format!("oc-audit-reopen-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("audit.jsonl");
        append(&path, &record(&["one"]), &[]);
        fs::remove_dir_all(&dir).unwrap();
        append(&path, &record(&["two"]), &[]);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("two") && !text.contains("one"), "{text}");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        // Replaced by another file (a user's own rotation): the new file gets the next line.
        fs::rename(&path, dir.join("old")).unwrap();
        fs::write(&path, "").unwrap();
        append(&path, &record(&["three"]), &[]);
        assert!(fs::read_to_string(&path).unwrap().contains("three"));
        assert!(!fs::read_to_string(dir.join("old"))
            .unwrap()
            .contains("three"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
