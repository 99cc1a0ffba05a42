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

/// The policy a run is decided under, and the snapshot the execute phase expects to find
/// unchanged. A delayed approval whose prepared snapshot is stale is denied here.
pub(super) fn load_policy(
    ctx: &InvokeContext,
    parsed: &Parsed,
) -> Result<(EffectivePolicy, PolicySnapshot), Stop> {
    let agent_id = parsed.agent_id.as_deref();
    let snapshot = ctx.node.approvals.read().map_err(|err: StoreError| {
        log::error!("{err}");
        deny(
            DenyReason::SecurityDeny,
            format!("{}: {err}", decision::MSG_SECURITY_DENY),
        )
    })?;
    let mut effective =
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
    // `approvals lock` (the config side is already in `effective`).
    effective.remote_readonly |= crate::approvals::lock::locked_by_file(&ctx.node.paths);
    let current = PolicySnapshot::of(&snapshot.doc, agent_id);
    match &parsed.delayed_snapshot {
        Some(expected) if !expected.is_current(&current) => {
            Err(deny(DenyReason::ApprovalRequired, MSG_POLICY_CHANGED))
        }
        Some(expected) => Ok((effective, expected.clone())),
        None => Ok((effective, current)),
    }
}

/// The request's approval fields, as the decide stage reads them.
pub(super) fn approval(parsed: &Parsed) -> Approval {
    Approval {
        approved_by_ask: parsed.approval_decision.is_some() || parsed.approved,
        fallback: parsed.approval_source == Some("ask-fallback"),
        auto_review: parsed.approval_source == Some("auto-review"),
    }
}

/// The stages up to the match, which `approvals check` also shows: the policy loaded, the
/// request resolved against its cwd and matched against the allowlist.
#[derive(Clone)]
pub(super) struct Analysis {
    pub(super) effective: EffectivePolicy,
    pub(super) expected_snapshot: PolicySnapshot,
    pub(super) resolve_ctx: ResolveContext,
    pub(super) resolved: ResolvedSegments,
    pub(super) matches: Matches,
}

/// Load, resolve, match.
pub(super) fn analyse(ctx: &InvokeContext, parsed: &Parsed) -> Result<Analysis, Stop> {
    let (effective, expected_snapshot) = load_policy(ctx, parsed)?;
    if effective.security == Security::Allowlist {
        if let Some(refusal) = exec_env::locale_override_refusal(&parsed.overrides) {
            return Err(deny(DenyReason::AllowlistMiss, refusal));
        }
    }
    let resolve_ctx = ResolveContext::new(parsed.cwd.as_deref(), &ctx.node.path_env);
    let resolved = resolve_request(&parsed.request, &resolve_ctx);
    let matches = match_stage(&effective, &resolved, &resolve_ctx);
    Ok(Analysis {
        effective,
        expected_snapshot,
        resolve_ctx,
        resolved,
        matches,
    })
}

/// The match stage under `effective`'s allowlist and safe bins.
pub(super) fn match_stage(
    effective: &EffectivePolicy,
    resolved: &ResolvedSegments,
    resolve_ctx: &ResolveContext,
) -> Matches {
    let safe_bins = SafeBins::new(
        effective.config.safe_bins.as_deref(),
        &effective.config.safe_bin_trusted_dirs,
    );
    match_segments(
        resolved,
        &effective.approvals.allowlist,
        &safe_bins,
        resolve_ctx,
    )
}

/// Decide, bind.
pub(super) fn authorize(
    ctx: &InvokeContext,
    parsed: &Parsed,
    analysis: &Analysis,
) -> Result<(Decision, BoundPlan), Denial> {
    let Analysis {
        effective,
        resolved,
        matches,
        ..
    } = analysis;
    let decision = decide(
        effective,
        approval(parsed),
        &parsed.request,
        resolved,
        matches,
    )?;
    let plan = bind(
        &decision,
        &parsed.request,
        resolved,
        parsed.cwd.as_deref(),
        &ctx.node.path_env,
    )?;
    Ok((decision, plan))
}

/// The policy phase: load, resolve, match, decide, bind.
pub(super) fn policy_phase(ctx: &InvokeContext, parsed: &Parsed) -> Result<Authorized, Stop> {
    let analysis = analyse(ctx, parsed)?;
    let (decision, plan) = authorize(ctx, parsed, &analysis)?;
    Ok(Authorized::new(parsed, analysis, decision, plan))
}

impl Authorized {
    pub(super) fn new(
        parsed: &Parsed,
        analysis: Analysis,
        decision: Decision,
        plan: BoundPlan,
    ) -> Authorized {
        let verdicts = analysis.matches.verdicts;
        // An approval the decide stage did not keep (ask=off, locked) is not a rule, and never
        // persists an allow-always grant.
        let honoured = decision.approval.approved_by_ask;
        let rule = describe_rule(
            decision.security,
            parsed,
            honoured,
            &verdicts,
            decision.durable,
            decision.all_satisfied,
        );
        Authorized {
            argv: plan.argv,
            cwd: plan.cwd,
            security: decision.security,
            ask: decision.ask,
            approval_decision: parsed.approval_decision.filter(|_| honoured),
            segments: analysis.resolved.segments,
            verdicts,
            cwd_snapshot: plan.cwd_snapshot,
            executables: plan.executables,
            planned_argv: plan.planned_argv,
            expected_snapshot: analysis.expected_snapshot,
            rule,
        }
    }
}

pub(super) fn describe_rule(
    security: Security,
    parsed: &Parsed,
    honoured: bool,
    verdicts: &[SegmentVerdict],
    durable: bool,
    satisfied: bool,
) -> String {
    if let Some(decision) = parsed.approval_decision.filter(|_| honoured) {
        return match parsed.approval_source {
            Some(source) => format!("approved:{source}"),
            None => format!("approved:{decision}"),
        };
    }
    if parsed.approved && honoured {
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
            .map(|v| verdict_rule(v).unwrap_or_else(|| "?".to_string()))
            .collect();
        return parts.join(", ");
    }
    if durable {
        return "allow-always".to_string();
    }
    "allowed".to_string()
}

/// The rule that satisfied one segment: `allowlist:<pattern> [<argPattern>]`, `safeBins` or
/// `safeBuiltins`; `None` for a miss.
pub(super) fn verdict_rule(verdict: &SegmentVerdict) -> Option<String> {
    match (&verdict.entry, verdict.satisfied_by) {
        (Some(entry), _) => Some(format!(
            "allowlist:{}{}",
            entry.pattern,
            entry
                .arg_pattern
                .as_deref()
                .map(|a| format!(" [{a}]"))
                .unwrap_or_default()
        )),
        (None, Some(by)) => Some(by.as_str().to_string()),
        (None, None) => None,
    }
}
