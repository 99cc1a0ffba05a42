//! `system.run` and `system.run.prepare` (protocol §5.1, §5.2, §6).
//!
//! A run goes through three phases, as in the TS host:
//!
//! 1. **parse**: params, the `rawCommand` check, the approval fields and their plan, env
//!    overrides. Failures answer `INVALID_REQUEST` and send no event.
//! 2. **policy**: the node's own policy (approvals document + `tools.exec`), then the approvals
//!    stages (see [`crate::approvals`]): resolve, match, decide, and bind, which yields the
//!    bindings an approval or allowlist run depends on. A denial sends `exec.denied`, waits for
//!    the gateway's ack, then answers `SYSTEM_RUN_DENIED`. `approvals check` runs the same
//!    stages ([`check`]) and stops here.
//! 3. **execute**: re-check the bindings, persist allow-always and usage metadata, run, send
//!    `exec.finished` (acked) and answer the result.
//!
//! Every decision is appended to the audit log. A cancelled invocation sends nothing.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::approvals::allow_always::{self, AllowAlwaysGrant, Commit, CommitError};
use crate::approvals::allowlist::{match_segments, Matches, SegmentVerdict};
use crate::approvals::argv::{is_shell_wrapper_invocation, js_trim};
use crate::approvals::audit::{self, AuditRecord};
use crate::approvals::binding::{
    self, bind, mutable_operand_snapshot, revalidate_cwd, revalidate_executables,
    revalidate_operand, BoundExecutable, BoundPlan, CwdSnapshot, MSG_CWD_DRIFT, MSG_OPERAND_DRIFT,
    MSG_OPERAND_MISSING_BINDING,
};
use crate::approvals::command::{resolve_command_request, CommandRequest};
use crate::approvals::decision::{
    self, decide, Approval, Decision, Denial, DenyReason, MSG_APPROVAL_CHANGED, MSG_POLICY_CHANGED,
    MSG_SCREEN_RECORDING, MSG_STATE_WRITE_FAILED,
};
use crate::approvals::env as exec_env;
use crate::approvals::policy::{effective_policy, Ask, EffectivePolicy, PolicySnapshot, Security};
use crate::approvals::prepare::{
    bind_mode, build_plan, command_argv, non_empty_string, plan_coverage, segments_coverage,
    Coverage, RunPlan,
};
use crate::approvals::resolve::{
    resolve_request, trust_path, ResolveContext, ResolvedSegments, Segment,
};
use crate::approvals::safe_bins::SafeBins;
use crate::approvals::StoreError;
use crate::commands::InvokeContext;
use crate::exec::{self, ExecOutcome, ExecSpec};
use crate::invoke::{require_params, InvokeError, InvokeResult};

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

impl From<Denial> for Stop {
    fn from(denial: Denial) -> Stop {
        Stop::Denied(denial)
    }
}

fn deny(reason: DenyReason, message: impl Into<String>) -> Stop {
    Stop::Denied(Denial::new(reason, message))
}

fn invalid(message: impl Into<String>) -> Stop {
    Stop::Invalid(InvokeError::invalid(message))
}

/// A `node://<nodeId>/skills/<name>` working directory becomes the skill's folder (TS's
/// `resolveNodeSkillCwdParam`), before anything else reads `cwd`.
pub(super) fn resolve_node_skill_cwd(ctx: &InvokeContext, params: &mut Value) -> Result<(), InvokeError> {
    let Some(cwd) = params.get("cwd").and_then(Value::as_str) else {
        return Ok(());
    };
    if !cwd.starts_with("node://") {
        return Ok(());
    }
    // The gateway's id for this node is its device id.
    let Some(device_id) = crate::state::load_identity(&ctx.node.paths)
        .ok()
        .flatten()
        .map(|identity| identity.device_id())
    else {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: node skill cwd locator is unavailable",
        ));
    };
    let dir = crate::skills::skills_dir(ctx.node.paths.dir());
    match crate::skills::resolve_cwd(cwd, &device_id, &dir) {
        Ok(Some(path)) => {
            params["cwd"] = Value::from(path.to_string_lossy().into_owned());
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(message) => Err(InvokeError::invalid(message)),
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

/// `system.run`.
pub fn handle_run(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    if abandoned(ctx) {
        return Err(cancelled());
    }
    let mut params = object_params(params_json)?;
    resolve_node_skill_cwd(ctx, &mut params)?;
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
            audit::append(&audit_path, &record, &ctx.node.secrets.values);
            send_finished(ctx, &parsed.execution, &result);
            Ok(to_json(&result).into())
        }
        Err(Stop::Denied(denial)) => {
            if abandoned(ctx) {
                return Err(cancelled());
            }
            let mut record = audit_record(&parsed.execution, "denied");
            record.reason = Some(denial.reason.as_str().to_string());
            record.message = Some(denial.message.clone());
            audit::append(&audit_path, &record, &ctx.node.secrets.values);
            send_denied(ctx, &parsed.execution, denial.reason);
            Err(InvokeError::new("SYSTEM_RUN_DENIED", denial.message))
        }
        Err(Stop::Invalid(err)) => Err(err),
        Err(Stop::Cancelled) => Err(cancelled()),
    }
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
    let mut params = object_params(params_json)?;
    resolve_node_skill_cwd(ctx, &mut params)?;
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
    Ok(Value::Object(payload).to_string().into())
}

fn fail_closed_doc() -> Value {
    crate::approvals::document::normalize_internal(&serde_json::json!({
        "version": 1,
        "defaults": {"security": "deny", "ask": "off", "askFallback": "deny", "autoAllowSkills": false},
        "agents": {}
    }))
}

mod check;
mod events;
mod execute;
mod parse;
mod policy;

pub use check::{check, CheckReport};
use events::*;
use execute::*;
use parse::*;
use policy::*;

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
pub(crate) mod tests;

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod hostile_tests;

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod hostile_battery;
