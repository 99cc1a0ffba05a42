//! The parse phase: params, the `rawCommand` check, the approval fields and their plan, env
//! overrides. Failures answer `INVALID_REQUEST` and send no event.

use super::*;

/// A random UUID v4 for default run ids.
pub(super) fn new_run_id() -> String {
    crate::random::uuid_v4()
}

/// `normalizeOptionalString`: a trimmed non-empty string, else `None`.
pub(super) fn opt_str(value: Option<&Value>) -> Option<String> {
    non_empty_string(value)
}

/// What the parse phase produced.
pub(super) struct Parsed {
    pub(super) request: CommandRequest,
    pub(super) plan: Option<RunPlan>,
    pub(super) agent_id: Option<String>,
    pub(super) execution: Execution,
    pub(super) approval_decision: Option<&'static str>,
    pub(super) approved: bool,
    pub(super) approval_source: Option<&'static str>,
    pub(super) delayed_snapshot: Option<PolicySnapshot>,
    pub(super) overrides: Vec<(String, String)>,
    pub(super) cwd: Option<String>,
    pub(super) timeout: Option<Duration>,
    pub(super) needs_screen_recording: bool,
}

pub(super) fn argv_match(plan: &RunPlan, argv: &[String]) -> bool {
    plan.argv == argv
}

pub(super) fn parse_phase(params: &Value) -> Result<Parsed, Stop> {
    let argv = command_argv(params.get("command")).unwrap_or_default();
    let request = resolve_command_request(argv, params.get("rawCommand").and_then(Value::as_str))
        .map_err(invalid)?;
    if request.argv.is_empty() {
        return Err(invalid("command required"));
    }
    let plan = match params.get("systemRunPlan") {
        None => None,
        Some(value) => {
            Some(RunPlan::from_json(value).ok_or_else(|| invalid("systemRunPlan invalid"))?)
        }
    };
    let agent_id = opt_str(params.get("agentId"));
    let requested_session_key = opt_str(params.get("sessionKey"));
    let session_key = requested_session_key
        .clone()
        .unwrap_or_else(|| "node".to_string());
    let run_id = opt_str(params.get("runId")).unwrap_or_else(new_run_id);
    let cwd = opt_str(params.get("cwd"));
    let suppress_notify_on_exit = params.get("suppressNotifyOnExit") == Some(&Value::Bool(true));
    let approval_source = match params.get("approvalSource") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "ask-fallback" => Some("ask-fallback"),
        Some(Value::String(s)) if s == "auto-review" => Some("auto-review"),
        Some(_) => return Err(invalid("approvalSource invalid")),
    };
    let approval_decision = match params.get("approvalDecision").and_then(Value::as_str) {
        Some("allow-once") => Some("allow-once"),
        Some("allow-always") => Some("allow-always"),
        _ => None,
    };
    let approved = params.get("approved") == Some(&Value::Bool(true));
    if approval_source.is_some()
        && (params.get("approved").is_some() || params.get("approvalDecision").is_some())
    {
        return Err(invalid(
            "approvalSource cannot be combined with explicit approval",
        ));
    }
    let explicit = approved || approval_decision.is_some();
    let delayed = approval_source == Some("auto-review") || explicit;
    if approval_source.is_some() || explicit {
        let matches = plan.as_ref().is_some_and(|plan| {
            argv_match(plan, &request.argv)
                && plan.command_text == request.command_text
                && plan.cwd == cwd
                && plan.agent_id == agent_id
                && plan.session_key == requested_session_key
        });
        if !matches {
            return Err(invalid(if approval_source.is_some() {
                "approvalSource requires matching systemRunPlan"
            } else {
                "explicit approval requires matching systemRunPlan"
            }));
        }
    }
    let delayed_snapshot = if delayed {
        plan.as_ref().and_then(|p| p.policy_snapshot.clone())
    } else {
        None
    };
    if delayed && delayed_snapshot.is_none() {
        return Err(invalid(
            "delayed approval requires a prepared policy snapshot",
        ));
    }
    let assignment_keys =
        crate::approvals::argv::env_assignment_keys_from_dispatch_wrappers(&request.argv);
    exec_env::validate_assignment_keys(&assignment_keys).map_err(invalid)?;
    let mut overrides = exec_env::validate_overrides(params.get("env")).map_err(invalid)?;
    // The approved plan covers its env: overrides added (or changed) after the approval are
    // not what the operator approved.
    if (approval_source.is_some() || explicit)
        && plan.as_ref().and_then(|p| p.env_sha256.clone())
            != exec_env::overrides_digest(&overrides)
    {
        return Err(invalid(if approval_source.is_some() {
            "approvalSource requires matching systemRunPlan"
        } else {
            "explicit approval requires matching systemRunPlan"
        }));
    }
    if is_shell_wrapper_invocation(&request.argv) {
        overrides = exec_env::reduce_for_shell_wrapper(overrides);
    }
    let timeout = params
        .get("timeoutMs")
        .and_then(Value::as_f64)
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .map(|ms| Duration::from_millis(ms.min(1e12) as u64).max(Duration::from_millis(1)));
    let execution = Execution {
        session_key,
        run_id,
        command_text: request.command_text.clone(),
        suppress_notify_on_exit,
        argv: request.argv.clone(),
        cwd: cwd.clone(),
        agent_id: agent_id.clone(),
    };
    Ok(Parsed {
        request,
        plan,
        agent_id,
        execution,
        approval_decision: if approval_source == Some("auto-review") {
            Some("allow-once")
        } else {
            approval_decision
        },
        approved,
        approval_source,
        delayed_snapshot,
        overrides,
        cwd,
        timeout,
        needs_screen_recording: params.get("needsScreenRecording") == Some(&Value::Bool(true)),
    })
}
