//! The policy phase: the node's own policy, then the approvals stages (resolve, match,
//! decide, bind). A denial here sends `exec.denied`.

use super::*;

/// What the policy phase authorised.
pub(super) struct Authorized {
    pub(super) argv: Vec<String>,
    pub(super) cwd: Option<String>,
    pub(super) security: Security,
    pub(super) ask: Ask,
    pub(super) approval_decision: Option<&'static str>,
    pub(super) segments: Vec<Segment>,
    pub(super) verdicts: Vec<SegmentVerdict>,
    pub(super) cwd_snapshot: Option<CwdSnapshot>,
    pub(super) executables: Vec<BoundExecutable>,
    pub(super) planned_argv: Option<Vec<String>>,
    pub(super) expected_snapshot: PolicySnapshot,
    pub(super) rule: String,
}

pub(super) fn load_policy(
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

pub(super) fn inline_eval_hit(segments: &[Segment]) -> Option<decision::InlineEvalHit> {
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

pub(super) fn policy_phase(ctx: &InvokeContext, parsed: &Parsed) -> Result<Authorized, Stop> {
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
    let resolved = resolve_request(&parsed.request, &resolve_ctx);
    let safe_bins = SafeBins::new(
        effective.config.safe_bins.as_deref(),
        &effective.config.safe_bin_trusted_dirs,
    );
    let matches = match_segments(
        &resolved,
        &effective.approvals.allowlist,
        &safe_bins,
        &resolve_ctx,
    );
    let ResolvedSegments {
        analysis_ok,
        segments,
    } = resolved;
    let Matches {
        verdicts,
        all_satisfied,
    } = matches;
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

pub(super) fn describe_rule(
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
