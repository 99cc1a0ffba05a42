//! `system.run` and `system.run.prepare` (protocol §5.1, §5.2, §6).
//!
//! A run goes through three phases, as in the TS host:
//!
//! 1. **parse**: params, the `rawCommand` check, the approval fields and their plan, env
//!    overrides. Failures answer `INVALID_REQUEST` and send no event.
//! 2. **policy**: the node's own policy (approvals document + `tools.exec`), the allowlist
//!    analysis, the decision, and the bindings an approval or allowlist run depends on. A denial
//!    sends `exec.denied`, waits for the gateway's ack, then answers `SYSTEM_RUN_DENIED`.
//! 3. **execute**: re-check the bindings, persist allow-always and usage metadata, run, send
//!    `exec.finished` (acked) and answer the result.
//!
//! Every decision is appended to the audit log. A cancelled invocation sends nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::approvals::allow_always::{self, AllowAlwaysGrant, Commit, CommitError};
use crate::approvals::allowlist::{evaluate_segment, SegmentVerdict};
use crate::approvals::argv::{is_shell_wrapper_invocation, js_trim, split_shell_args};
use crate::approvals::audit::{self, AuditRecord};
use crate::approvals::binding::{
    self, bind_executables, capture_cwd, mutable_operand_snapshot, revalidate_cwd,
    revalidate_executables, revalidate_operand, BoundExecutable, CwdSnapshot, MSG_CWD_DRIFT,
    MSG_OPERAND_DRIFT, MSG_OPERAND_MISSING_BINDING, MSG_STABLE_EXECUTABLE,
};
use crate::approvals::command::{resolve_command_request, CommandRequest};
use crate::approvals::decision::{
    self, detect_inline_eval, requires_suppression_approval, Denial, DenyReason, PolicyInputs,
    MSG_APPROVAL_CHANGED, MSG_APPROVAL_REQUIRED, MSG_EXPLICIT_APPROVAL_REQUIRED, MSG_PLAN_MISS,
    MSG_POLICY_CHANGED, MSG_SCREEN_RECORDING, MSG_STATE_WRITE_FAILED,
};
use crate::approvals::env::{self as exec_env, Secrets};
use crate::approvals::pattern::durable_command_marker;
use crate::approvals::policy::{effective_policy, Ask, EffectivePolicy, PolicySnapshot, Security};
use crate::approvals::prepare::{
    bind_mode, build_plan, command_argv, non_empty_string, plan_coverage, segments_coverage,
    Coverage, RunPlan,
};
use crate::approvals::resolve::{
    analysable_payload_segments, flatten_nested_shells, resolve_command, trust_path,
    ResolveContext, Segment,
};
use crate::approvals::safe_bins::SafeBins;
use crate::approvals::StoreError;
use crate::exec::{self, ExecOutcome, ExecSpec};
use crate::invoke::{require_params, InvokeContext, InvokeError, InvokeResult};

/// Combined stdout+stderr bytes kept from a run.
pub const OUTPUT_CAP: usize = exec::DEFAULT_OUTPUT_CAP;
/// UTF-16 units of output kept in `exec.finished`.
pub const OUTPUT_EVENT_TAIL: usize = 20_000;

/// The result payload, keys in wire order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
}

/// `exec.finished`, keys in wire order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecFinished<'a> {
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
struct ExecDenied<'a> {
    session_key: &'a str,
    run_id: &'a str,
    host: &'static str,
    command: &'a str,
    reason: &'static str,
    suppress_notify_on_exit: bool,
}

/// The identity of a run, for events and the audit log.
struct Execution {
    session_key: String,
    run_id: String,
    command_text: String,
    suppress_notify_on_exit: bool,
    argv: Vec<String>,
    cwd: Option<String>,
    agent_id: Option<String>,
}

/// How a phase ends early.
enum Stop {
    Invalid(InvokeError),
    Denied(Denial),
    Cancelled,
}

impl From<InvokeError> for Stop {
    fn from(err: InvokeError) -> Stop {
        Stop::Invalid(err)
    }
}

fn deny(reason: DenyReason, message: impl Into<String>) -> Stop {
    Stop::Denied(Denial::new(reason, message))
}

fn invalid(message: impl Into<String>) -> Stop {
    Stop::Invalid(InvokeError::invalid(message))
}

/// A random UUID v4 for default run ids.
fn new_run_id() -> String {
    crate::identity::random_uuid_v4()
}

/// `normalizeOptionalString`: a trimmed non-empty string, else `None`.
fn opt_str(value: Option<&Value>) -> Option<String> {
    non_empty_string(value)
}

fn reject_node_skill_cwd(params: &Value) -> Result<(), InvokeError> {
    match params.get("cwd").and_then(Value::as_str) {
        Some(cwd) if cwd.trim_start().starts_with("node://") => Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: node skill cwd locator is unavailable (this node hosts no skills)",
        )),
        _ => Ok(()),
    }
}

fn object_params(params_json: Option<&str>) -> Result<Value, InvokeError> {
    let params = require_params(params_json)?;
    match params {
        Value::Null => Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: paramsJSON must be a JSON object",
        )),
        Value::Object(_) => Ok(params),
        // Other non-objects behave like an object without fields, as in the TS host.
        _ => Ok(Value::Object(Default::default())),
    }
}

/// What the parse phase produced.
struct Parsed {
    request: CommandRequest,
    plan: Option<RunPlan>,
    agent_id: Option<String>,
    execution: Execution,
    approval_decision: Option<&'static str>,
    approved: bool,
    approval_source: Option<&'static str>,
    delayed_snapshot: Option<PolicySnapshot>,
    overrides: Vec<(String, String)>,
    cwd: Option<String>,
    timeout: Option<Duration>,
    needs_screen_recording: bool,
}

fn argv_match(plan: &RunPlan, argv: &[String]) -> bool {
    plan.argv == argv
}

fn parse_phase(params: &Value) -> Result<Parsed, Stop> {
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

/// What the policy phase authorised.
struct Authorized {
    argv: Vec<String>,
    cwd: Option<String>,
    security: Security,
    ask: Ask,
    approval_decision: Option<&'static str>,
    segments: Vec<Segment>,
    verdicts: Vec<SegmentVerdict>,
    cwd_snapshot: Option<CwdSnapshot>,
    executables: Vec<BoundExecutable>,
    planned_argv: Option<Vec<String>>,
    expected_snapshot: PolicySnapshot,
    rule: String,
}

fn load_policy(
    ctx: &InvokeContext,
    agent_id: Option<&str>,
) -> Result<(crate::approvals::Snapshot, EffectivePolicy), Stop> {
    let snapshot = ctx.node.approvals.read().map_err(|err: StoreError| {
        log::error!("{err}");
        deny(
            DenyReason::SecurityDeny,
            format!("{}: {err}", decision::MSG_SECURITY_DENY),
        )
    })?;
    let effective =
        effective_policy(&snapshot.doc, ctx.node.config.as_ref(), agent_id).map_err(|err| {
            log::error!("exec policy: {err}");
            deny(
                DenyReason::SecurityDeny,
                format!(
                    "{}: {err}; fix the config (the node refuses every command until then)",
                    decision::MSG_SECURITY_DENY
                ),
            )
        })?;
    Ok((snapshot, effective))
}

fn analyse(parsed: &Parsed, ctx: &ResolveContext) -> (bool, Vec<Segment>) {
    match &parsed.request.shell_payload {
        Some(payload) => match analysable_payload_segments(&parsed.request.argv, payload, ctx) {
            Some(segments) if !segments.is_empty() => {
                (true, flatten_nested_shells(segments, ctx, 0))
            }
            _ => (false, Vec::new()),
        },
        None => match Segment::from_argv(&parsed.request.argv, ctx) {
            Some(segment) => (true, vec![segment]),
            None => (false, Vec::new()),
        },
    }
}

fn inline_eval_hit(segments: &[Segment]) -> Option<decision::InlineEvalHit> {
    for segment in segments {
        if let Some(hit) = detect_inline_eval(segment.effective_argv()) {
            return Some(hit);
        }
        if let Some(resolution) = &segment.resolution {
            if let Some(inner) = resolution
                .plan
                .shell_inline_command
                .as_deref()
                .and_then(split_shell_args)
            {
                if let Some(hit) = detect_inline_eval(&inner) {
                    return Some(hit);
                }
            }
        }
    }
    None
}

fn policy_phase(ctx: &InvokeContext, parsed: &Parsed) -> Result<Authorized, Stop> {
    let node = &ctx.node;
    let (snapshot, effective) = load_policy(ctx, parsed.agent_id.as_deref())?;
    let current_snapshot = PolicySnapshot::of(&snapshot.doc, parsed.agent_id.as_deref());
    if let Some(expected) = &parsed.delayed_snapshot {
        if !expected.is_current(&current_snapshot) {
            return Err(deny(DenyReason::ApprovalRequired, MSG_POLICY_CHANGED));
        }
    }
    let expected_snapshot = parsed
        .delayed_snapshot
        .clone()
        .unwrap_or_else(|| current_snapshot.clone());
    let fallback = parsed.approval_source == Some("ask-fallback");
    let security = if fallback {
        effective.security.min(effective.approvals.ask_fallback)
    } else {
        effective.security
    };
    let ask = if fallback { Ask::Off } else { effective.ask };

    let resolve_ctx = ResolveContext::new(parsed.cwd.as_deref(), &node.path_env);
    let (analysis_ok, segments) = analyse(parsed, &resolve_ctx);
    let safe_bins = SafeBins::new(
        effective.config.safe_bins.as_deref(),
        &effective.config.safe_bin_trusted_dirs,
    );
    let verdicts: Vec<SegmentVerdict> = segments
        .iter()
        .map(|segment| {
            evaluate_segment(
                segment,
                &effective.approvals.allowlist,
                &safe_bins,
                &resolve_ctx,
            )
        })
        .collect();
    let all_satisfied =
        analysis_ok && !verdicts.is_empty() && verdicts.iter().all(|v| v.satisfied_by.is_some());
    let allowlist_satisfied = security == Security::Allowlist && all_satisfied;

    let strict = effective.config.strict_inline_eval;
    let inline_hit = if strict {
        inline_eval_hit(&segments)
    } else {
        None
    };
    let command_text = js_trim(&parsed.request.command_text);
    let exact_marker = !command_text.is_empty()
        && effective
            .approvals
            .allowlist
            .iter()
            .any(|e| e.allow_always && e.pattern == durable_command_marker(command_text));
    let segment_durable = analysis_ok
        && !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|v| v.entry.as_ref().is_some_and(|e| e.allow_always));
    let durable = exact_marker || segment_durable;
    let inline_trusted = inline_hit.is_some()
        && verdicts
            .iter()
            .any(|v| v.entry.as_ref().is_some_and(|e| e.allow_always));
    let approved_by_ask = parsed.approval_decision.is_some() || parsed.approved;

    let inputs = PolicyInputs {
        security,
        ask,
        analysis_ok,
        allowlist_satisfied,
        durable_approval: durable || inline_trusted,
        approved_by_ask,
    };
    let mut verdict = decision::evaluate(&inputs);
    let segment_texts: Vec<(String, Vec<String>)> = segments
        .iter()
        .map(|s| (s.raw.clone(), s.argv.clone()))
        .collect();
    let suppression = requires_suppression_approval(&parsed.request.command_text, &segment_texts)
        && !(effective.security == Security::Full && effective.ask == Ask::Off && !fallback);
    if suppression && parsed.approval_source == Some("auto-review") {
        return Err(deny(
            DenyReason::ApprovalRequired,
            MSG_EXPLICIT_APPROVAL_REQUIRED,
        ));
    }
    if suppression && !approved_by_ask {
        verdict = Err(Denial::new(
            DenyReason::ApprovalRequired,
            MSG_APPROVAL_REQUIRED,
        ));
    }
    if let Some(hit) = &inline_hit {
        let security_denied = matches!(&verdict, Err(d) if d.reason == DenyReason::SecurityDeny);
        if !approved_by_ask && !security_denied {
            return Err(deny(
                DenyReason::ApprovalRequired,
                format!("SYSTEM_RUN_DENIED: approval required ({} requires explicit approval in strictInlineEval mode)", hit.describe()),
            ));
        }
    }
    let mut executables = Vec::new();
    if security != Security::Deny
        && (approved_by_ask || fallback || security == Security::Allowlist)
    {
        executables = bind_executables(
            &segments,
            &resolve_ctx,
            parsed.request.shell_payload.is_some(),
        )
        .map_err(|message| deny(DenyReason::ApprovalRequired, message))?;
    }
    if let Err(denial) = verdict {
        return Err(Stop::Denied(denial));
    }

    // Bind the approval to a canonical cwd and a pinned executable.
    let bound = approved_by_ask || fallback;
    let mut argv = parsed.request.argv.clone();
    let mut cwd = parsed.cwd.clone();
    let mut cwd_snapshot = None;
    if bound || security == Security::Allowlist {
        let base = cwd.clone().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let snapshot = capture_cwd(Path::new(&base))
            .map_err(|message| deny(DenyReason::ApprovalRequired, message))?;
        cwd = Some(snapshot.cwd.clone());
        cwd_snapshot = Some(snapshot);
    }
    if bound && parsed.request.shell_payload.is_none() {
        let hardened_ctx = ResolveContext::new(cwd.as_deref(), &node.path_env);
        let resolution = resolve_command(&argv, &hardened_ctx);
        if resolution
            .as_ref()
            .map_or(true, |r| r.plan.wrapper_chain.is_empty())
        {
            let pinned = resolution
                .and_then(|r| r.execution.resolved_real_path.or(r.execution.resolved_path));
            match pinned {
                Some(path) => argv[0] = path,
                None => return Err(deny(DenyReason::ApprovalRequired, MSG_STABLE_EXECUTABLE)),
            }
        }
    }
    let planned_argv = if security == Security::Allowlist
        && !approved_by_ask
        && parsed.request.shell_payload.is_none()
        && analysis_ok
        && allowlist_satisfied
        && segments.len() == 1
    {
        match segments[0].planned_argv() {
            Some(planned) => Some(planned),
            None => return Err(deny(DenyReason::ExecutionPlanMiss, MSG_PLAN_MISS)),
        }
    } else {
        None
    };
    let rule = describe_rule(security, parsed, &verdicts, durable, all_satisfied);
    Ok(Authorized {
        argv,
        cwd,
        security,
        ask,
        approval_decision: parsed.approval_decision,
        segments,
        verdicts,
        cwd_snapshot,
        executables,
        planned_argv,
        expected_snapshot,
        rule,
    })
}

fn describe_rule(
    security: Security,
    parsed: &Parsed,
    verdicts: &[SegmentVerdict],
    durable: bool,
    satisfied: bool,
) -> String {
    if let Some(decision) = parsed.approval_decision {
        return match parsed.approval_source {
            Some(source) => format!("approved:{source}"),
            None => format!("approved:{decision}"),
        };
    }
    if parsed.approved {
        return "approved".to_string();
    }
    if parsed.approval_source == Some("ask-fallback") {
        return format!("ask-fallback:security={}", security.as_str());
    }
    if security == Security::Full {
        return "security=full".to_string();
    }
    if satisfied {
        let parts: Vec<String> = verdicts
            .iter()
            .map(|v| match (&v.entry, v.satisfied_by) {
                (Some(entry), _) => format!(
                    "allowlist:{}{}",
                    entry.pattern,
                    entry
                        .arg_pattern
                        .as_deref()
                        .map(|a| format!(" [{a}]"))
                        .unwrap_or_default()
                ),
                (None, Some(by)) => by.as_str().to_string(),
                (None, None) => "?".to_string(),
            })
            .collect();
        return parts.join(", ");
    }
    if durable {
        return "allow-always".to_string();
    }
    "allowed".to_string()
}

fn execute_phase(
    ctx: &InvokeContext,
    parsed: &Parsed,
    auth: &Authorized,
) -> Result<RunResult, Stop> {
    let node = &ctx.node;
    let revalidate = |auth: &Authorized| -> Result<(), Stop> {
        if let Some(snapshot) = &auth.cwd_snapshot {
            if !revalidate_cwd(snapshot) {
                log::warn!(
                    "security: system.run approval cwd drift blocked (runId={})",
                    parsed.execution.run_id
                );
                return Err(deny(DenyReason::ApprovalRequired, MSG_CWD_DRIFT));
            }
        }
        let cwd = PathBuf::from(auth.cwd.clone().unwrap_or_else(|| "/".to_string()));
        if let Some(operand) = parsed
            .plan
            .as_ref()
            .and_then(|p| p.mutable_file_operand.as_ref())
        {
            if !revalidate_operand(operand, &auth.argv, &cwd) {
                log::warn!(
                    "security: system.run approval script drift blocked (runId={})",
                    parsed.execution.run_id
                );
                return Err(deny(DenyReason::ApprovalRequired, MSG_OPERAND_DRIFT));
            }
        }
        let exec_ctx = ResolveContext::new(auth.cwd.as_deref(), &node.path_env);
        if !revalidate_executables(&auth.executables, &exec_ctx) {
            log::warn!(
                "security: system.run approval executable drift blocked (runId={})",
                parsed.execution.run_id
            );
            return Err(deny(DenyReason::ApprovalRequired, MSG_OPERAND_DRIFT));
        }
        Ok(())
    };
    revalidate(auth)?;
    let approved_by_ask = auth.approval_decision.is_some() || parsed.approved;
    if parsed.plan.is_some()
        && (approved_by_ask
            || parsed.approval_source.is_some()
            || auth.security == Security::Allowlist)
    {
        let cwd = PathBuf::from(auth.cwd.clone().unwrap_or_else(|| "/".to_string()));
        let expected = mutable_operand_snapshot(
            &auth.argv,
            parsed.request.shell_payload.as_deref(),
            &cwd,
            binding::env_has_shell_startup(),
        )
        .map_err(|err| deny(DenyReason::ApprovalRequired, err.message))?;
        if expected.is_some()
            && parsed
                .plan
                .as_ref()
                .and_then(|p| p.mutable_file_operand.as_ref())
                .is_none()
        {
            log::warn!(
                "security: system.run approval script binding missing (runId={})",
                parsed.execution.run_id
            );
            return Err(deny(
                DenyReason::ApprovalRequired,
                MSG_OPERAND_MISSING_BINDING,
            ));
        }
    }
    let exec_argv = auth
        .planned_argv
        .clone()
        .unwrap_or_else(|| auth.argv.clone());
    if parsed.needs_screen_recording {
        return Err(deny(DenyReason::ScreenRecording, MSG_SCREEN_RECORDING));
    }

    // Persist allow-always and usage, after re-checking the policy is still the one decided on.
    let exec_ctx = ResolveContext::new(auth.cwd.as_deref(), &node.path_env);
    let grant = if auth.approval_decision == Some("allow-always") {
        allow_always_grant(parsed, auth, &exec_ctx)
    } else {
        None
    };
    let matches: Vec<_> = auth
        .verdicts
        .iter()
        .filter_map(|v| v.entry.clone())
        .collect();
    let resolved_path = auth
        .segments
        .first()
        .and_then(|s| s.resolution.as_ref())
        .and_then(|r| trust_path(&r.policy, &exec_ctx));
    let commit = Commit {
        agent_id: parsed.agent_id.clone(),
        matches,
        command_text: parsed.request.command_text.clone(),
        resolved_path,
        grant,
        expected: auth.expected_snapshot.clone(),
    };
    commit_authorization(ctx, &commit, parsed)?;
    revalidate(auth)?;
    if abandoned(ctx) {
        return Err(Stop::Cancelled);
    }

    let secrets = Secrets {
        names: &node.secret_env_names,
        values: &node.secret_values,
    };
    let env = exec_env::child_env(
        exec_env::process_env(),
        &parsed.overrides,
        &node.path_env,
        &secrets,
    );
    let spec = ExecSpec {
        argv: exec_argv,
        cwd: auth.cwd.as_ref().map(PathBuf::from),
        env,
        timeout: parsed.timeout,
        output_cap: OUTPUT_CAP,
    };
    let outcome = exec::run(&spec, &ctx.cancel);
    if abandoned(ctx) {
        return Err(Stop::Cancelled);
    }
    let mut result = run_result(&outcome, auth.cwd.as_deref());
    if outcome.cancelled {
        // Terminated by a node shutdown that still reports: say so instead of a bare kill.
        result.error = Some(if outcome.pid.is_some() {
            "Command terminated: the node host is shutting down".to_string()
        } else {
            "Command not started: the node host is shutting down".to_string()
        });
    }
    Ok(result)
}

fn allow_always_grant(
    parsed: &Parsed,
    auth: &Authorized,
    ctx: &ResolveContext,
) -> Option<AllowAlwaysGrant> {
    // A payload the shell expands at run time cannot become a reusable pattern.
    if let Some(payload) = &parsed.request.shell_payload {
        if payload.contains(['$', '`']) {
            return None;
        }
    }
    let coverage: Coverage = segments_coverage(&auth.segments, ctx, false);
    if coverage.patterns.is_empty() {
        return None;
    }
    let text = js_trim(&parsed.request.command_text).to_string();
    Some(AllowAlwaysGrant {
        command_text: (coverage.complete && !text.is_empty()).then_some(text),
        patterns: coverage.patterns,
    })
}

fn commit_authorization(ctx: &InvokeContext, commit: &Commit, parsed: &Parsed) -> Result<(), Stop> {
    let store = &ctx.node.approvals;
    if commit.grant.is_none() && commit.matches.is_empty() {
        // Nothing to write; still make sure the policy did not change under the decision.
        let current = store
            .read()
            .map_err(|_| deny(DenyReason::ApprovalRequired, MSG_APPROVAL_CHANGED))?;
        if !commit.expected.is_current(&PolicySnapshot::of(
            &current.doc,
            commit.agent_id.as_deref(),
        )) {
            return Err(deny(DenyReason::ApprovalRequired, MSG_APPROVAL_CHANGED));
        }
        return Ok(());
    }
    #[derive(Debug)]
    enum Failure {
        Commit(CommitError),
        Store(StoreError),
    }
    impl From<StoreError> for Failure {
        fn from(err: StoreError) -> Failure {
            Failure::Store(err)
        }
    }
    let result = store.update(None, |snapshot| {
        allow_always::apply(&snapshot.doc, commit).map_err(Failure::Commit)
    });
    match result {
        Ok(_) => Ok(()),
        Err(Failure::Commit(CommitError::Changed)) => {
            Err(deny(DenyReason::ApprovalRequired, MSG_APPROVAL_CHANGED))
        }
        Err(Failure::Commit(CommitError::Unpersistable(why))) => {
            log::warn!(
                "security: system.run approval state write failed (runId={}): {why}",
                parsed.execution.run_id
            );
            Err(deny(
                DenyReason::ApprovalStateWriteFailed,
                MSG_STATE_WRITE_FAILED,
            ))
        }
        Err(Failure::Store(err)) => {
            log::warn!(
                "security: system.run approval state write failed (runId={}): {err}",
                parsed.execution.run_id
            );
            Err(deny(
                DenyReason::ApprovalStateWriteFailed,
                MSG_STATE_WRITE_FAILED,
            ))
        }
    }
}

/// `clarifyNodeExecCwdSpawnError`.
fn launch_error_message(err: &std::io::Error, cwd: Option<&str>) -> String {
    let code = exec::launch_error_code(err);
    let message = format!("Command failed during launch or output capture ({code})");
    let Some(cwd) = cwd else { return message };
    if code != "ENOENT" && code != "ENOTDIR" && code != "UNKNOWN" {
        return message;
    }
    let reason = match std::fs::metadata(cwd) {
        Ok(meta) if meta.is_dir() => return message,
        Ok(_) => "is not a directory",
        Err(stat) => match stat
            .raw_os_error()
            .map(rustix::io::Errno::from_raw_os_error)
        {
            Some(e) if e == rustix::io::Errno::NOTDIR => "is not a directory",
            Some(e) if e == rustix::io::Errno::NOENT => {
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

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

fn send_denied(ctx: &InvokeContext, execution: &Execution, reason: DenyReason) {
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

fn send_finished(ctx: &InvokeContext, execution: &Execution, result: &RunResult) {
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

fn audit_record(execution: &Execution, decision: &'static str) -> AuditRecord {
    AuditRecord {
        time: audit::now_rfc3339(),
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

/// `system.run`.
pub fn handle_run(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    if abandoned(ctx) {
        return Err(cancelled());
    }
    let params = object_params(params_json)?;
    reject_node_skill_cwd(&params)?;
    if !params
        .get("command")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(InvokeError::invalid("command required"));
    }
    let parsed = match parse_phase(&params) {
        Ok(parsed) => parsed,
        Err(Stop::Invalid(err)) => return Err(err),
        Err(Stop::Denied(denial)) => {
            return Err(InvokeError::new("SYSTEM_RUN_DENIED", denial.message))
        }
        Err(Stop::Cancelled) => return Err(cancelled()),
    };
    let audit_path = ctx.node.paths.audit_log();
    let started = std::time::Instant::now();
    let outcome = policy_phase(ctx, &parsed).and_then(|auth| {
        if abandoned(ctx) {
            return Err(Stop::Cancelled);
        }
        execute_phase(ctx, &parsed, &auth).map(|result| (auth, result))
    });
    match outcome {
        Ok((auth, result)) => {
            if abandoned(ctx) {
                return Err(cancelled());
            }
            let mut record = audit_record(&parsed.execution, "allowed");
            record.rule = Some(auth.rule.clone());
            record.cwd = auth.cwd.clone().or(record.cwd);
            record.security = Some(auth.security.as_str());
            record.ask = Some(auth.ask.as_str());
            record.exit_code = result.exit_code;
            record.timed_out = Some(result.timed_out);
            record.duration_ms = Some(started.elapsed().as_millis() as u64);
            record.error = result.error.clone();
            audit::append(&audit_path, &record, &ctx.node.secret_values);
            send_finished(ctx, &parsed.execution, &result);
            Ok(to_json(&result))
        }
        Err(Stop::Denied(denial)) => {
            if abandoned(ctx) {
                return Err(cancelled());
            }
            let mut record = audit_record(&parsed.execution, "denied");
            record.reason = Some(denial.reason.as_str().to_string());
            record.message = Some(denial.message.clone());
            audit::append(&audit_path, &record, &ctx.node.secret_values);
            send_denied(ctx, &parsed.execution, denial.reason);
            Err(InvokeError::new("SYSTEM_RUN_DENIED", denial.message))
        }
        Err(Stop::Invalid(err)) => Err(err),
        Err(Stop::Cancelled) => Err(cancelled()),
    }
}

/// What `approvals check` reports: whether a `system.run` with these params would run now, and
/// by which rule. Nothing is executed, written or sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub command: String,
    /// What would be executed (argv[0] pinned in allowlist mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ask: Option<&'static str>,
}

/// Runs the parse and policy phases of `system.run` only. `Err` for invalid params.
pub fn check(ctx: &InvokeContext, params: &Value) -> Result<CheckReport, InvokeError> {
    reject_node_skill_cwd(params)?;
    let parsed = match parse_phase(params) {
        Ok(parsed) => parsed,
        Err(Stop::Invalid(err)) => return Err(err),
        Err(Stop::Denied(denial)) => {
            return Err(InvokeError::new("SYSTEM_RUN_DENIED", denial.message))
        }
        Err(Stop::Cancelled) => return Err(cancelled()),
    };
    let mut report = CheckReport {
        allowed: false,
        reason: None,
        message: None,
        rule: None,
        command: parsed.request.command_text.clone(),
        exec_argv: None,
        cwd: parsed.cwd.clone(),
        security: None,
        ask: None,
    };
    match policy_phase(ctx, &parsed) {
        Ok(auth) => {
            report.allowed = !parsed.needs_screen_recording;
            if parsed.needs_screen_recording {
                report.reason = Some(DenyReason::ScreenRecording.as_str());
                report.message = Some(MSG_SCREEN_RECORDING.to_string());
            }
            report.rule = Some(auth.rule.clone());
            report.exec_argv = Some(
                auth.planned_argv
                    .clone()
                    .unwrap_or_else(|| auth.argv.clone()),
            );
            report.cwd = auth.cwd.clone();
            report.security = Some(auth.security.as_str());
            report.ask = Some(auth.ask.as_str());
        }
        Err(Stop::Denied(denial)) => {
            report.reason = Some(denial.reason.as_str());
            report.message = Some(denial.message);
        }
        Err(Stop::Invalid(err)) => return Err(err),
        Err(Stop::Cancelled) => return Err(cancelled()),
    }
    Ok(report)
}

/// The invocation was cancelled and its result must not be sent (a gateway cancel, a duplicate
/// id, a lost connection). A shutdown's termination still reports.
fn abandoned(ctx: &InvokeContext) -> bool {
    !ctx.cancel.should_report()
}

fn cancelled() -> InvokeError {
    InvokeError::unavailable("invocation cancelled")
}

/// `system.run.prepare`.
pub fn handle_prepare(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = object_params(params_json)?;
    reject_node_skill_cwd(&params)?;
    let agent_id = opt_str(params.get("agentId"));
    // A broken document or config prepares as "deny": the run itself reports the details.
    let (doc, effective) = match ctx.node.approvals.read() {
        Ok(snapshot) => {
            let effective =
                effective_policy(&snapshot.doc, ctx.node.config.as_ref(), agent_id.as_deref());
            (snapshot.doc, effective.ok())
        }
        Err(err) => {
            log::error!("{err}");
            (fail_closed_doc(), None)
        }
    };
    let (security, ask, strict) = match &effective {
        Some(e) => (e.security, e.ask, e.config.strict_inline_eval),
        None => (Security::Deny, Ask::Off, false),
    };
    let bind = bind_mode(&params, security, ask, strict);
    let plan = build_plan(
        &params,
        bind,
        &ctx.node.path_env,
        binding::env_has_shell_startup(),
    )
    .map_err(|err| InvokeError::invalid(err.0))?;
    exec_env::validate_overrides(params.get("env")).map_err(InvokeError::invalid)?;
    let mut plan = plan;
    let doc_for_snapshot = if effective.is_some() {
        doc
    } else {
        fail_closed_doc()
    };
    plan.policy_snapshot = Some(PolicySnapshot::of(
        &doc_for_snapshot,
        plan.agent_id.as_deref(),
    ));
    let coverage = if bind {
        let ctx_plan = ResolveContext::new(plan.cwd.as_deref(), &ctx.node.path_env);
        plan_coverage(
            &plan.argv,
            params.get("rawCommand").and_then(Value::as_str),
            &ctx_plan,
            params.get("strictInlineEval") == Some(&Value::Bool(true)),
        )
    } else {
        Coverage::none()
    };
    let mut payload = serde_json::Map::new();
    payload.insert("plan".into(), plan.to_json());
    payload.insert(
        "execPolicy".into(),
        serde_json::json!({"security": security.as_str(), "ask": ask.as_str()}),
    );
    payload.insert("allowAlwaysCoverage".into(), coverage.to_json());
    Ok(Value::Object(payload).to_string())
}

fn fail_closed_doc() -> Value {
    crate::approvals::document::normalize_internal(&serde_json::json!({
        "version": 1,
        "defaults": {"security": "deny", "ask": "off", "askFallback": "deny", "autoAllowSkills": false},
        "agents": {}
    }))
}

#[cfg(test)]
pub(crate) mod tests;
