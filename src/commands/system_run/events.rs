//! What a run reports: the result payload, `exec.finished`/`exec.denied` and the audit record.

use super::*;

/// `exec.finished`, keys in wire order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecFinished<'a> {
    session_key: &'a str,
    run_id: &'a str,
    host: &'static str,
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    timed_out: bool,
    success: bool,
    output: String,
    suppress_notify_on_exit: bool,
}

/// `exec.denied`, keys in wire order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecDenied<'a> {
    session_key: &'a str,
    run_id: &'a str,
    host: &'static str,
    command: &'a str,
    reason: &'static str,
    suppress_notify_on_exit: bool,
}

/// `clarifyNodeExecCwdSpawnError`.
pub(super) fn launch_error_message(err: &std::io::Error, cwd: Option<&str>) -> String {
    let code = exec::launch_error_code(err);
    let message = format!("Command failed during launch or output capture ({code})");
    let Some(cwd) = cwd else { return message };
    if code != "ENOENT" && code != "ENOTDIR" && code != "UNKNOWN" {
        return message;
    }
    let reason = match std::fs::metadata(cwd) {
        Ok(meta) if meta.is_dir() => return message,
        Ok(_) => "is not a directory",
        Err(stat) => match crate::platform::os_error::errno_name(&stat) {
            Some("ENOTDIR") => "is not a directory",
            Some("ENOENT") => {
                if code == "ENOTDIR" {
                    "is not a directory"
                } else {
                    "does not exist"
                }
            }
            _ => return message,
        },
    };
    format!("node exec working directory {reason} on the node host: {cwd} (os reported: {message})")
}

/// The result payload for an outcome.
pub fn run_result(outcome: &ExecOutcome, cwd: Option<&str>) -> RunResult {
    if let Some(err) = &outcome.launch_error {
        return RunResult {
            exit_code: None,
            timed_out: false,
            success: false,
            stdout: String::new(),
            stderr: String::new(),
            error: Some(launch_error_message(err, cwd)),
        };
    }
    // The runner already appended the truncation marker to the stream that carries it.
    let exit_code = exec::reported_exit_code(outcome);
    let stdout = outcome.stdout.clone();
    let stderr = outcome.stderr.clone();
    RunResult {
        exit_code,
        timed_out: outcome.timed_out,
        success: exit_code == Some(0) && !outcome.timed_out,
        stdout,
        stderr,
        error: None,
    }
}

/// `buildExecEventPayload`'s output rule: stdout, stderr and error joined by newlines, trimmed,
/// and cut to its last 20 000 UTF-16 units behind `... (truncated) `. Blank output is sent
/// untrimmed.
pub fn event_output(result: &RunResult) -> String {
    let parts: Vec<&str> = [
        Some(result.stdout.as_str()),
        Some(result.stderr.as_str()),
        result.error.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect();
    let combined = parts.join("\n");
    let trimmed = js_trim(&combined);
    if trimmed.is_empty() {
        return combined;
    }
    let units: Vec<u16> = trimmed.encode_utf16().collect();
    if units.len() <= OUTPUT_EVENT_TAIL {
        return trimmed.to_string();
    }
    let mut start = units.len() - OUTPUT_EVENT_TAIL;
    if (0xDC00..=0xDFFF).contains(&units[start])
        && start > 0
        && (0xD800..=0xDBFF).contains(&units[start - 1])
    {
        start += 1;
    }
    format!(
        "... (truncated) {}",
        String::from_utf16_lossy(&units[start..])
    )
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

pub(super) fn send_denied(ctx: &InvokeContext, execution: &Execution, reason: DenyReason) {
    let payload = ExecDenied {
        session_key: &execution.session_key,
        run_id: &execution.run_id,
        host: "node",
        command: &execution.command_text,
        reason: reason.as_str(),
        suppress_notify_on_exit: execution.suppress_notify_on_exit,
    };
    ctx.events.node_event("exec.denied", to_json(&payload));
}

pub(super) fn send_finished(ctx: &InvokeContext, execution: &Execution, result: &RunResult) {
    let payload = ExecFinished {
        session_key: &execution.session_key,
        run_id: &execution.run_id,
        host: "node",
        command: &execution.command_text,
        exit_code: result.exit_code,
        timed_out: result.timed_out,
        success: result.success,
        output: event_output(result),
        suppress_notify_on_exit: execution.suppress_notify_on_exit,
    };
    ctx.events.node_event("exec.finished", to_json(&payload));
}

pub(super) fn audit_record(execution: &Execution, decision: &'static str) -> AuditRecord {
    AuditRecord {
        time: crate::clock::iso_now(),
        decision,
        reason: None,
        rule: None,
        message: None,
        argv: execution.argv.clone(),
        cwd: execution.cwd.clone(),
        agent_id: execution.agent_id.clone(),
        session_key: execution.session_key.clone(),
        run_id: execution.run_id.clone(),
        security: None,
        ask: None,
        exit_code: None,
        timed_out: None,
        duration_ms: None,
        error: None,
    }
}
