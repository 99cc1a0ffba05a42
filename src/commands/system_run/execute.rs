//! The execute phase: re-check the bindings, persist allow-always and usage metadata, run.

use super::*;

pub(super) fn execute_phase(
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

    let env = exec_env::child_env(
        exec_env::process_env(),
        &parsed.overrides,
        &node.path_env,
        &node.secrets,
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

pub(super) fn allow_always_grant(
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

pub(super) fn commit_authorization(
    ctx: &InvokeContext,
    commit: &Commit,
    parsed: &Parsed,
) -> Result<(), Stop> {
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
