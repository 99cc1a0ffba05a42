//! `approvals check`: the parse and policy phases of a `system.run`, with the stage values a
//! user needs to fix a denial: each segment's resolved executable, which segments missed the
//! allowlist, and the `approvals allow` lines that would let the command run. Nothing is
//! executed, written or sent.

use super::*;
use crate::approvals::policy::AllowlistEntry;

/// What `approvals check` reports: whether a `system.run` with these params would run now, and
/// by which rule, or why not and how to allow it.
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
    /// What would be executed (`argv[0]` pinned in allowlist mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ask: Option<&'static str>,
    /// False when a shell payload could not be analysed: there are no segments, and no
    /// allowlist entry can let the command run. `None` when the policy could not be loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_ok: Option<bool>,
    /// The simple commands the request runs, as the match stage saw them.
    pub segments: Vec<CheckSegment>,
    /// `openclaw-node approvals allow` lines that, run together, make this check pass; checked
    /// by deciding again with the entries added. Empty when allowing paths would not help.
    pub suggest: Vec<String>,
}

/// One segment of the request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CheckSegment {
    /// The segment as written (`wc -l`).
    pub command: String,
    /// The executable word the allowlist is matched for (behind dispatch wrappers like `nice`).
    pub argv0: String,
    /// The real path allowlist patterns are matched against; `None` when no file was found.
    pub resolved_path: Option<String>,
    pub matched: bool,
    /// What satisfied it: `allowlist:<pattern>`, `safeBins` or `safeBuiltins`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Runs the parse and policy phases of `system.run` only. `Err` for invalid params.
pub fn check(ctx: &InvokeContext, params: &Value) -> Result<CheckReport, InvokeError> {
    let mut params = params.clone();
    resolve_node_skill_cwd(ctx, &mut params)?;
    let params = &params;
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
        analysis_ok: None,
        segments: Vec::new(),
        suggest: Vec::new(),
    };
    // The policy phase (`policy_phase`), stage by stage, so a denial can be explained.
    let analysis = match analyse(ctx, &parsed) {
        Ok(analysis) => analysis,
        Err(Stop::Denied(denial)) => {
            report.reason = Some(denial.reason.as_str());
            report.message = Some(denial.message);
            return Ok(report);
        }
        Err(Stop::Invalid(err)) => return Err(err),
        Err(Stop::Cancelled) => return Err(cancelled()),
    };
    report.analysis_ok = Some(analysis.resolved.analysis_ok);
    report.segments = check_segments(&analysis);
    match authorize(ctx, &parsed, &analysis) {
        Ok((decision, plan)) => {
            let auth = Authorized::new(&parsed, analysis, decision, plan);
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
        Err(denial) => {
            report.reason = Some(denial.reason.as_str());
            report.message = Some(denial.message);
            report.suggest = allow_lines(ctx, &parsed, &analysis, &report.segments);
        }
    }
    Ok(report)
}

fn check_segments(analysis: &Analysis) -> Vec<CheckSegment> {
    analysis
        .resolved
        .segments
        .iter()
        .zip(&analysis.matches.verdicts)
        .map(|(segment, verdict)| {
            // What the match stage matched: the policy target behind busybox-like
            // multiplexers, and its trust path (the real path, as the globs see it).
            let policy = segment.resolution.as_ref().map(|r| &r.policy);
            CheckSegment {
                command: segment.raw.clone(),
                argv0: policy.map_or_else(
                    || segment.argv.first().cloned().unwrap_or_default(),
                    |p| p.raw_executable.clone(),
                ),
                resolved_path: policy.and_then(|p| trust_path(p, &analysis.resolve_ctx)),
                matched: verdict.satisfied_by.is_some(),
                rule: verdict_rule(verdict),
            }
        })
        .collect()
}

/// The `approvals allow` lines for the resolved paths of the segments that missed, when
/// deciding again with those entries in the allowlist lets the request through. A miss that
/// an entry cannot fix (a shell needs an argument-bound entry, a payload that cannot be
/// analysed, `ask=always`, `security=deny`) gets no line.
fn allow_lines(
    ctx: &InvokeContext,
    parsed: &Parsed,
    analysis: &Analysis,
    segments: &[CheckSegment],
) -> Vec<String> {
    let mut paths: Vec<&str> = Vec::new();
    for segment in segments.iter().filter(|s| !s.matched) {
        match segment.resolved_path.as_deref() {
            // `approvals allow` trims its pattern; a path it would change is not suggested.
            Some(path) if path.trim() != path => return Vec::new(),
            Some(path) if !paths.contains(&path) => paths.push(path),
            Some(_) => {}
            // Nothing on disk to allow: no entry makes this segment pass.
            None => return Vec::new(),
        }
    }
    if paths.is_empty() || parsed.needs_screen_recording {
        return Vec::new();
    }
    // What `approvals allow PATH [--agent ID]` adds, in memory: a path-only entry, in the
    // agent's list (or `*`'s), both of which the effective allowlist already merges.
    let mut trial = analysis.clone();
    trial
        .effective
        .approvals
        .allowlist
        .extend(paths.iter().map(|path| AllowlistEntry {
            pattern: path.to_string(),
            arg_pattern: None,
            allow_always: false,
            id: None,
        }));
    trial.matches = match_stage(&trial.effective, &trial.resolved, &trial.resolve_ctx);
    if authorize(ctx, parsed, &trial).is_err() {
        return Vec::new();
    }
    let agent = parsed
        .agent_id
        .as_deref()
        .map(|agent| format!(" --agent {}", crate::shell_quote::if_needed(agent)))
        .unwrap_or_default();
    paths
        .iter()
        .map(|path| format!("openclaw-node approvals allow {}{agent}", crate::shell_quote::if_needed(path)))
        .collect()
}
