//! The allow/deny decision for one run (protocol §6.3), and the checks around it.
//!
//! ```text
//! approvedByAsk = approvalDecision ∈ {allow-once, allow-always} || approved
//! requiresAsk   = security != deny && (ask == always
//!                   || (!durable && ask == on-miss && security == allowlist && !(analysisOk && satisfied)))
//! security == deny                     → deny "security=deny"
//! requiresAsk && !approvedByAsk        → deny "approval-required"
//! allowlist && !(analysisOk && satisfied) && !approvedByAsk && !durable → deny "allowlist-miss"
//! else allow
//! ```
//!
//! The node never prompts: `approval-required` is a denial, and the gateway asks the operator.
//!
//! Under Windows rules, a `cmd` wrapper (how the gateway sends every shell command to Windows)
//! is unanalysed and unsatisfied in allowlist mode: only an approval or an exact allow-always
//! grant runs it ([`MSG_WINDOWS_SHELL_WRAPPER_MISS`]).
//!
//! [`decide`] is the decide stage of a `system.run` (after resolve and match, before bind). Which
//! denial a user sees depends on the order the checks are reported in, so the stage splits them:
//!
//! 1. *early denials*, returned as `Err` at once: a command touching the security-audit
//!    suppressions sent by auto-review, then a `strictInlineEval` hit;
//! 2. the *verdict* of the matrix above (or `approval-required` for suppressions), carried in the
//!    [`Decision`] and reported by the bind stage only after the executables could be bound, so a
//!    binding error wins over a denied verdict.

use super::allowlist::Matches;
use super::argv::{js_trim, normalize_executable_token, split_inline_option, split_shell_args};
use super::command::CommandRequest;
use super::pattern::durable_command_marker;
use super::policy::{Ask, EffectivePolicy, Security};
use super::resolve::{is_windows_cmd_wrapper, ResolvedSegments, Segment};

/// Why a run was denied (`exec.denied.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    SecurityDeny,
    ApprovalRequired,
    AllowlistMiss,
    ExecutionPlanMiss,
    ScreenRecording,
    ApprovalStateWriteFailed,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::SecurityDeny => "security=deny",
            DenyReason::ApprovalRequired => "approval-required",
            DenyReason::AllowlistMiss => "allowlist-miss",
            DenyReason::ExecutionPlanMiss => "execution-plan-miss",
            DenyReason::ScreenRecording => "permission:screenRecording",
            DenyReason::ApprovalStateWriteFailed => "approval-state-write-failed",
        }
    }
}

/// A denial: the event reason and the invoke error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub message: String,
}

impl Denial {
    pub fn new(reason: DenyReason, message: impl Into<String>) -> Denial {
        Denial {
            reason,
            message: message.into(),
        }
    }
}

/// The exact messages.
pub const MSG_SECURITY_DENY: &str = "SYSTEM_RUN_DISABLED: security=deny";
pub const MSG_APPROVAL_REQUIRED: &str = "SYSTEM_RUN_DENIED: approval required";
pub const MSG_ALLOWLIST_MISS: &str = "SYSTEM_RUN_DENIED: allowlist miss";
/// `formatSystemRunAllowlistMissMessage({windowsShellWrapperBlocked: true})`.
pub const MSG_WINDOWS_SHELL_WRAPPER_MISS: &str = "SYSTEM_RUN_DENIED: allowlist miss (Windows shell wrappers like cmd.exe /c require approval; approve once/always or run with --ask on-miss|always)";
pub const MSG_PLAN_MISS: &str = "SYSTEM_RUN_DENIED: execution plan mismatch";
pub const MSG_SCREEN_RECORDING: &str = "PERMISSION_MISSING: screenRecording";
pub const MSG_STATE_WRITE_FAILED: &str = "SYSTEM_RUN_DENIED: approval state could not be persisted";
pub const MSG_POLICY_CHANGED: &str =
    "SYSTEM_RUN_DENIED: exec approval policy changed; request approval again";
pub const MSG_APPROVAL_CHANGED: &str = "SYSTEM_RUN_DENIED: exec approval changed before execution";
pub const MSG_EXPLICIT_APPROVAL_REQUIRED: &str = "SYSTEM_RUN_DENIED: explicit approval required";

/// Inputs of [`evaluate`].
#[derive(Debug, Clone, Copy)]
pub struct PolicyInputs {
    pub security: Security,
    pub ask: Ask,
    pub analysis_ok: bool,
    pub allowlist_satisfied: bool,
    pub durable_approval: bool,
    pub approved_by_ask: bool,
    /// A `cmd` shell wrapper under Windows rules ([`is_windows_cmd_wrapper`]).
    pub windows_cmd_wrapper: bool,
}

/// `windowsShellWrapperBlocked`.
pub fn windows_shell_wrapper_blocked(inputs: &PolicyInputs) -> bool {
    inputs.security == Security::Allowlist && inputs.windows_cmd_wrapper
}

/// `requiresExecApproval`.
pub fn requires_ask(inputs: &PolicyInputs) -> bool {
    if inputs.security == Security::Deny {
        return false;
    }
    if inputs.ask == Ask::Always {
        return true;
    }
    if inputs.durable_approval {
        return false;
    }
    inputs.ask == Ask::OnMiss
        && inputs.security == Security::Allowlist
        && !(inputs.analysis_ok && inputs.allowlist_satisfied)
}

/// `evaluateSystemRunPolicy`. A blocked Windows shell wrapper is unanalysed and unsatisfied.
pub fn evaluate(inputs: &PolicyInputs) -> Result<(), Denial> {
    let blocked = windows_shell_wrapper_blocked(inputs);
    let inputs = &PolicyInputs {
        analysis_ok: inputs.analysis_ok && !blocked,
        allowlist_satisfied: inputs.allowlist_satisfied && !blocked,
        ..*inputs
    };
    if inputs.security == Security::Deny {
        return Err(Denial::new(DenyReason::SecurityDeny, MSG_SECURITY_DENY));
    }
    if requires_ask(inputs) && !inputs.approved_by_ask {
        return Err(Denial::new(
            DenyReason::ApprovalRequired,
            MSG_APPROVAL_REQUIRED,
        ));
    }
    let satisfied = inputs.analysis_ok && inputs.allowlist_satisfied;
    let excused = inputs.approved_by_ask || inputs.durable_approval;
    if inputs.security == Security::Allowlist && !satisfied && !excused {
        let miss = if blocked {
            MSG_WINDOWS_SHELL_WRAPPER_MISS
        } else {
            MSG_ALLOWLIST_MISS
        };
        return Err(Denial::new(DenyReason::AllowlistMiss, miss));
    }
    Ok(())
}

/// `textMentionsSecurityAuditSuppressions`: commands that touch the gateway's security-audit
/// suppressions always need a human, unless the policy is full/off.
pub fn mentions_security_audit_suppressions(text: &str) -> bool {
    let lower = text.to_lowercase();
    if lower.contains("security.audit.suppressions") {
        return true;
    }
    // /["']?security["']?[\s\S]{0,200}["']?audit["']?[\s\S]{0,200}["']?suppressions["']?/
    // reduces to: "security", then "audit" within 200+ chars, then "suppressions" within 200+.
    let chars: Vec<char> = lower.chars().collect();
    let find_all = |needle: &str| -> Vec<usize> {
        let n: Vec<char> = needle.chars().collect();
        (0..chars.len().saturating_sub(n.len() - 1))
            .filter(|&i| chars[i..].starts_with(&n))
            .collect()
    };
    let security = find_all("security");
    let audit = find_all("audit");
    let suppressions = find_all("suppressions");
    // The optional quotes around each word can add up to 2 chars to each gap.
    for &s in &security {
        for &a in &audit {
            let gap = a as isize - (s as isize + 8);
            if !(0..=202).contains(&gap) {
                continue;
            }
            for &p in &suppressions {
                let gap2 = p as isize - (a as isize + 5);
                if (0..=202).contains(&gap2) {
                    return true;
                }
            }
        }
    }
    false
}

/// `isReadOnlySecurityAuditSuppressionInspection`: `openclaw config get|schema|validate`.
pub fn is_read_only_suppression_inspection(argv: &[String]) -> bool {
    let name = |i: usize| {
        argv.get(i)
            .map(|a| normalize_executable_token(a))
            .unwrap_or_default()
    };
    let mut offset = if name(0) == "pnpm" && argv.get(1).map(String::as_str) == Some("openclaw") {
        1
    } else {
        0
    };
    if name(offset) != "openclaw" {
        return false;
    }
    offset += 1;
    while let Some(arg) = argv.get(offset) {
        if arg == "--dev" || arg == "--no-color" {
            offset += 1;
        } else if ["--profile", "--container", "--log-level"].contains(&arg.as_str()) {
            offset += 2;
        } else if ["--profile=", "--container=", "--log-level="]
            .iter()
            .any(|p| arg.starts_with(p))
        {
            offset += 1;
        } else {
            break;
        }
    }
    argv.get(offset).map(String::as_str) == Some("config")
        && argv
            .get(offset + 1)
            .is_some_and(|a| ["get", "schema", "validate"].contains(&a.as_str()))
}

/// `commandRequiresSecurityAuditSuppressionApproval`.
pub fn requires_suppression_approval(
    command_text: &str,
    segments: &[(String, Vec<String>)],
) -> bool {
    let mut saw_segment_mention = false;
    for (raw, argv) in segments {
        if !mentions_security_audit_suppressions(&format!("{raw} {}", argv.join(" "))) {
            continue;
        }
        saw_segment_mention = true;
        if !is_read_only_suppression_inspection(argv) {
            return true;
        }
    }
    if saw_segment_mention {
        let mut remaining = command_text.to_string();
        for (raw, argv) in segments {
            let text = if raw.trim().is_empty() {
                argv.join(" ")
            } else {
                raw.trim().to_string()
            };
            if !text.is_empty() {
                remaining = remaining.replacen(&text, " ", 1);
            }
        }
        return mentions_security_audit_suppressions(&remaining);
    }
    mentions_security_audit_suppressions(command_text)
}

fn strip_version(name: &str) -> String {
    // VERSION_SUFFIX_PATTERN = /-?\d+(?:\.\d+)*$/
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let trimmed = trimmed.strip_suffix('-').unwrap_or(trimmed);
    if trimmed.len() >= 2 && trimmed != name && !name[trimmed.len()..].starts_with('.') {
        trimmed.to_string()
    } else {
        name.to_string()
    }
}

/// What `strictInlineEval` found (`describeInterpreterInlineEval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineEvalHit {
    pub executable: String,
    pub flag: String,
}

impl InlineEvalHit {
    pub fn describe(&self) -> String {
        match self.flag.as_str() {
            "<command>" => format!("{} inline command", self.executable),
            "<program>" => format!("{} inline program", self.executable),
            flag => format!("{} {flag}", self.executable),
        }
    }
}

const FLAG_INTERPRETERS: &[(&[&str], &[&str])] = &[
    (&["python", "python2", "python3", "pypy", "pypy3"], &["-c"]),
    (
        &["node", "nodejs", "bun", "deno"],
        &["-e", "--eval", "-p", "--print"],
    ),
    (&["ruby"], &["-e"]),
    (&["perl"], &["-e", "-E"]),
    (&["php"], &["-r", "-B", "-E", "-R"]),
    (&["r", "rscript"], &["-e"]),
    (&["julia"], &["-e", "--eval", "--print", "-E"]),
    (&["elixir", "iex"], &["-e", "--eval", "--rpc-eval"]),
    (&["guile"], &["-c", "-e"]),
    (&["groovy"], &["-e"]),
    (&["clojure", "clj"], &["-e", "--eval"]),
    (&["raku", "perl6"], &["-e"]),
    (&["ghc", "ghci"], &["-e"]),
    (&["erl", "werl"], &["-eval", "-run", "-s"]),
    (
        &["gdb"],
        &["-ex", "-iex", "-eiex", "-eval-command", "--eval-command"],
    ),
    (&["expect"], &["-c"]),
    (&["lua"], &["-e"]),
    (&["osascript"], &["-e"]),
    (&["find"], &["-exec", "-execdir", "-ok", "-okdir"]),
    (
        &["make", "gmake"],
        &["-f", "--file", "--makefile", "--eval", "-E"],
    ),
    (&["scala", "scala-cli"], &["-e"]),
];

/// `detectInterpreterInlineEvalArgv`, simplified and stricter: a known eval flag anywhere
/// (exact, `--flag=value`, `-cCODE`, or a short cluster ending in the flag letter) is a hit, and
/// `awk`, `sed`, `xargs` always count as inline programs unless they read a program file.
pub fn detect_inline_eval(argv: &[String]) -> Option<InlineEvalHit> {
    let first = argv.first()?;
    let name = normalize_executable_token(first);
    let variants = [name.clone(), strip_version(&name)];
    let hit = |flag: &str| {
        Some(InlineEvalHit {
            executable: name.clone(),
            flag: flag.to_string(),
        })
    };
    for (names, flags) in FLAG_INTERPRETERS {
        if !variants.iter().any(|v| names.contains(&v.as_str())) {
            continue;
        }
        for token in argv.iter().skip(1) {
            let token = token.trim();
            if token == "--" && !names.contains(&"find") {
                break;
            }
            let (flag_part, _) = split_inline_option(token);
            for flag in *flags {
                let short = flag.len() == 2 && flag.starts_with('-');
                let cluster = short
                    && token.starts_with('-')
                    && !token.starts_with("--")
                    && token[1..].chars().all(|c| c.is_ascii_alphanumeric())
                    && token[1..].contains(&flag[1..]);
                if token == *flag
                    || flag_part == *flag
                    || (short && token.starts_with(flag))
                    || cluster
                {
                    return hit(flag);
                }
            }
        }
        return None;
    }
    if variants
        .iter()
        .any(|v| ["awk", "gawk", "mawk", "nawk", "sed", "gsed"].contains(&v.as_str()))
    {
        let reads_file = argv.iter().skip(1).any(|a| {
            a == "-f" || a.starts_with("--file") || (a.starts_with("-f") && !a.starts_with("--"))
        });
        return if reads_file { None } else { hit("<program>") };
    }
    if variants.iter().any(|v| v == "xargs") {
        return hit("<command>");
    }
    None
}

/// What a request says about approval: the parse phase's approval fields, as the policy reads
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Approval {
    /// `approved: true` or an `approvalDecision` (an auto-review counts as allow-once).
    pub approved_by_ask: bool,
    /// `approvalSource: "ask-fallback"`: the operator did not answer and the gateway falls back
    /// to `askFallback`.
    pub fallback: bool,
    /// `approvalSource: "auto-review"`: approved by a reviewer, not by a human.
    pub auto_review: bool,
}

impl Approval {
    /// The run rests on an approval (or its fallback), so it is bound to its cwd and executable.
    pub fn bound(&self) -> bool {
        self.approved_by_ask || self.fallback
    }
}

/// The decide stage's value: the policy the run is decided under and the verdict, which the
/// bind stage reports after its own errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// After `askFallback` for an ask-fallback run.
    pub security: Security,
    /// `off` for an ask-fallback run.
    pub ask: Ask,
    pub approval: Approval,
    pub analysis_ok: bool,
    /// The match stage's `all_satisfied`, whatever the security.
    pub all_satisfied: bool,
    /// `security == allowlist` and every segment satisfied.
    pub allowlist_satisfied: bool,
    /// An allow-always grant covers the run (the exact command marker, or every segment).
    pub durable: bool,
    /// `Err` when the run is denied; reported by [`super::binding::bind`].
    pub verdict: Result<(), Denial>,
}

/// What the node believes of a request's approval fields. The gateway's `approved`,
/// `approvalDecision` and auto-review are claims: on a node whose approvals are locked against
/// the gateway ([`super::lock`]) none is honoured.
///
/// With `ask=off` the node never asks, so no operator can have approved a *miss*: [`decide`]
/// lets the approval answer only the explicit-approval checks the gateway asks for whatever
/// `ask` says (`strictInlineEval`, security-audit suppressions). It excuses no miss, binds
/// nothing, and persists no allow-always grant: the [`Decision`]'s approval is cleared.
///
/// `ask-fallback` is kept: it only ever narrows the policy (`askFallback` is applied with
/// `min`).
pub fn honoured_approval(approval: Approval, policy: &EffectivePolicy) -> Approval {
    if policy.remote_readonly {
        Approval {
            approved_by_ask: false,
            auto_review: false,
            fallback: approval.fallback,
        }
    } else {
        approval
    }
}

/// The first inline-eval hit among the segments, including a shell wrapper's inline command.
pub fn inline_eval_hit(segments: &[Segment]) -> Option<InlineEvalHit> {
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

/// The decide stage: the verdict for a resolved and matched request under `policy`. `Err` for
/// the early denials (see the module doc), in this order: security-audit suppressions under
/// auto-review, then `strictInlineEval` (unless approved, or denied by `security=deny`).
pub fn decide(
    policy: &EffectivePolicy,
    approval: Approval,
    request: &CommandRequest,
    resolved: &ResolvedSegments,
    matches: &Matches,
) -> Result<Decision, Denial> {
    let approval = honoured_approval(approval, policy);
    let fallback = approval.fallback;
    let approved_by_ask = approval.approved_by_ask;
    let grant_allowed = approved_by_ask && policy.ask != Ask::Off;
    let security = if fallback {
        policy.security.min(policy.approvals.ask_fallback)
    } else {
        policy.security
    };
    let ask = if fallback { Ask::Off } else { policy.ask };
    let allowlist_satisfied = security == Security::Allowlist && matches.all_satisfied;
    let verdicts = &matches.verdicts;

    let inline_hit = if policy.config.strict_inline_eval {
        inline_eval_hit(&resolved.segments)
    } else {
        None
    };
    let command_text = js_trim(&request.command_text);
    let exact_marker = !command_text.is_empty()
        && policy
            .approvals
            .allowlist
            .iter()
            .any(|e| e.allow_always && e.pattern == durable_command_marker(command_text));
    let segment_durable = resolved.analysis_ok
        && !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|v| v.entry.as_ref().is_some_and(|e| e.allow_always));
    let durable = exact_marker || segment_durable;
    let inline_trusted = inline_hit.is_some()
        && verdicts
            .iter()
            .any(|v| v.entry.as_ref().is_some_and(|e| e.allow_always));

    let inputs = PolicyInputs {
        security,
        ask,
        analysis_ok: resolved.analysis_ok,
        allowlist_satisfied,
        durable_approval: durable || inline_trusted,
        approved_by_ask: grant_allowed,
        windows_cmd_wrapper: is_windows_cmd_wrapper(resolved.platform, request),
    };
    let blocked = windows_shell_wrapper_blocked(&inputs);
    let mut verdict = evaluate(&inputs);
    let segment_texts: Vec<(String, Vec<String>)> = resolved
        .segments
        .iter()
        .map(|s| (s.raw.clone(), s.argv.clone()))
        .collect();
    // Only full/off as configured (not reached through a fallback) skips the suppression check.
    let suppression = requires_suppression_approval(&request.command_text, &segment_texts)
        && !(policy.security == Security::Full && policy.ask == Ask::Off && !fallback);
    if suppression && approval.auto_review {
        return Err(Denial::new(
            DenyReason::ApprovalRequired,
            MSG_EXPLICIT_APPROVAL_REQUIRED,
        ));
    }
    if suppression && !approved_by_ask {
        // Replaces any other verdict, `security=deny` included.
        verdict = Err(Denial::new(
            DenyReason::ApprovalRequired,
            MSG_APPROVAL_REQUIRED,
        ));
    }
    if let Some(hit) = &inline_hit {
        let security_denied = matches!(&verdict, Err(d) if d.reason == DenyReason::SecurityDeny);
        if !approved_by_ask && !security_denied {
            return Err(Denial::new(
                DenyReason::ApprovalRequired,
                format!("SYSTEM_RUN_DENIED: approval required ({} requires explicit approval in strictInlineEval mode)", hit.describe()),
            ));
        }
    }
    Ok(Decision {
        security,
        ask,
        approval: Approval {
            approved_by_ask: grant_allowed,
            auto_review: approval.auto_review && grant_allowed,
            fallback,
        },
        analysis_ok: resolved.analysis_ok && !blocked,
        all_satisfied: matches.all_satisfied && !blocked,
        allowlist_satisfied: allowlist_satisfied && !blocked,
        durable,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(
        security: Security,
        ask: Ask,
        satisfied: bool,
        durable: bool,
        approved: bool,
    ) -> PolicyInputs {
        PolicyInputs {
            security,
            ask,
            analysis_ok: true,
            allowlist_satisfied: satisfied,
            durable_approval: durable,
            approved_by_ask: approved,
            windows_cmd_wrapper: false,
        }
    }

    fn reason(i: PolicyInputs) -> Option<&'static str> {
        evaluate(&i).err().map(|d| d.reason.as_str())
    }

    #[test]
    fn decision_matrix() {
        use Ask::*;
        use Security::*;
        for ask in [Off, OnMiss, Always] {
            for approved in [false, true] {
                assert_eq!(
                    reason(inputs(Deny, ask, true, true, approved)),
                    Some("security=deny")
                );
            }
        }
        assert_eq!(reason(inputs(Full, Off, false, false, false)), None);
        assert_eq!(
            reason(inputs(Full, OnMiss, false, false, false)),
            None,
            "full ignores the allowlist"
        );
        assert_eq!(
            reason(inputs(Full, Always, true, true, false)),
            Some("approval-required")
        );
        assert_eq!(reason(inputs(Full, Always, false, false, true)), None);
        assert_eq!(reason(inputs(Allowlist, Off, true, false, false)), None);
        assert_eq!(
            reason(inputs(Allowlist, Off, false, false, false)),
            Some("allowlist-miss")
        );
        assert_eq!(
            reason(inputs(Allowlist, Off, false, true, false)),
            None,
            "durable approval"
        );
        assert_eq!(
            reason(inputs(Allowlist, Off, false, false, true)),
            None,
            "approved"
        );
        assert_eq!(
            reason(inputs(Allowlist, OnMiss, false, false, false)),
            Some("approval-required")
        );
        assert_eq!(reason(inputs(Allowlist, OnMiss, true, false, false)), None);
        assert_eq!(reason(inputs(Allowlist, OnMiss, false, true, false)), None);
        assert_eq!(
            reason(inputs(Allowlist, Always, true, true, false)),
            Some("approval-required")
        );
        assert_eq!(reason(inputs(Allowlist, Always, true, true, true)), None);
        let mut unanalysable = inputs(Allowlist, Off, true, false, false);
        unanalysable.analysis_ok = false;
        assert_eq!(reason(unanalysable), Some("allowlist-miss"));
    }

    #[test]
    fn messages() {
        assert_eq!(
            evaluate(&inputs(Security::Deny, Ask::Off, true, false, false))
                .unwrap_err()
                .message,
            "SYSTEM_RUN_DISABLED: security=deny"
        );
        assert_eq!(
            evaluate(&inputs(Security::Allowlist, Ask::Off, false, false, false))
                .unwrap_err()
                .message,
            "SYSTEM_RUN_DENIED: allowlist miss"
        );
        assert_eq!(
            evaluate(&inputs(Security::Full, Ask::Always, false, false, false))
                .unwrap_err()
                .message,
            "SYSTEM_RUN_DENIED: approval required"
        );
    }

    #[test]
    fn suppression_mentions() {
        assert!(mentions_security_audit_suppressions(
            "openclaw config set security.audit.suppressions []"
        ));
        assert!(mentions_security_audit_suppressions(
            "jq '.Security[\"audit\"].Suppressions'"
        ));
        assert!(!mentions_security_audit_suppressions("echo security audit"));
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let get = v(&["openclaw", "config", "get", "security.audit.suppressions"]);
        assert!(!requires_suppression_approval(
            "openclaw config get security.audit.suppressions",
            &[(get.join(" "), get.clone())]
        ));
        let set = v(&[
            "openclaw",
            "config",
            "set",
            "security.audit.suppressions",
            "[]",
        ]);
        assert!(requires_suppression_approval(
            &set.join(" "),
            &[(set.join(" "), set.clone())]
        ));
    }

    #[test]
    fn inline_eval() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            detect_inline_eval(&v(&["python3", "-c", "print(1)"]))
                .unwrap()
                .describe(),
            "python3 -c"
        );
        assert_eq!(
            detect_inline_eval(&v(&["/usr/bin/python3.12", "-Ic", "x"]))
                .unwrap()
                .flag,
            "-c"
        );
        assert_eq!(
            detect_inline_eval(&v(&["node", "--eval=1"])).unwrap().flag,
            "--eval"
        );
        assert!(detect_inline_eval(&v(&["python3", "script.py"])).is_none());
        assert_eq!(
            detect_inline_eval(&v(&["awk", "{print}"]))
                .unwrap()
                .describe(),
            "awk inline program"
        );
        assert!(detect_inline_eval(&v(&["awk", "-f", "prog.awk"])).is_none());
        assert_eq!(
            detect_inline_eval(&v(&["xargs", "rm"])).unwrap().describe(),
            "xargs inline command"
        );
        assert!(detect_inline_eval(&v(&["uname"])).is_none());
    }

    /// The decide stage over real resolve and match stages.
    mod stage {
        use super::super::*;
        use crate::approvals::allowlist::match_segments;
        use crate::approvals::command::resolve_command_request;
        use crate::approvals::document::normalize_internal;
        use crate::approvals::policy::{effective_policy, ExecConfig};
        use crate::approvals::resolve::{resolve_request, ResolveContext};
        use crate::approvals::safe_bins::SafeBins;
        use serde_json::{json, Value};

        const SUPPRESSIONS: &str = "openclaw config set security.audit.suppressions []";

        fn policy(defaults: Value, strict: bool, allowlist: Value) -> EffectivePolicy {
            let doc = normalize_internal(&json!({
                "version": 1, "defaults": defaults, "agents": {"*": {"allowlist": allowlist}}
            }));
            let exec = json!({"strictInlineEval": strict});
            let config = ExecConfig {
                file: None,
                tools_exec: Some(&exec),
                agents_list: None,
                ..ExecConfig::default()
            };
            effective_policy(&doc, config, None).unwrap()
        }

        fn allowlist_off() -> Value {
            json!({"security": "allowlist", "ask": "off", "askFallback": "deny"})
        }

        /// A policy under which an operator's approval can exist (with `ask=off` none can).
        fn allowlist_on_miss() -> Value {
            json!({"security": "allowlist", "ask": "on-miss", "askFallback": "deny"})
        }

        fn run(
            argv: &[&str],
            policy: &EffectivePolicy,
            approval: Approval,
        ) -> Result<Decision, Denial> {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            let request = resolve_command_request(argv, None).unwrap();
            let ctx = ResolveContext::new(Some("/tmp"), "/usr/bin:/bin");
            let resolved = resolve_request(&request, &ctx);
            let matches = match_segments(
                &resolved,
                &policy.approvals.allowlist,
                &SafeBins::new(None, &[]),
                &ctx,
            );
            decide(policy, approval, &request, &resolved, &matches)
        }

        fn early(result: Result<Decision, Denial>) -> String {
            result.expect_err("an early denial").message
        }

        fn carried(result: Result<Decision, Denial>) -> Option<String> {
            result
                .expect("no early denial")
                .verdict
                .err()
                .map(|d| d.message)
        }

        const APPROVED: Approval = Approval {
            approved_by_ask: true,
            fallback: false,
            auto_review: false,
        };
        const AUTO_REVIEW: Approval = Approval {
            approved_by_ask: true,
            fallback: false,
            auto_review: true,
        };

        #[test]
        fn a_forged_approval_under_ask_off_or_a_lock_is_a_miss() {
            let echo_only = json!([{"pattern": "/usr/bin/echo"}]);
            let off = policy(allowlist_off(), false, echo_only.clone());
            for approval in [APPROVED, AUTO_REVIEW] {
                let decision = run(&["id"], &off, approval).unwrap();
                assert_eq!(
                    decision.verdict.unwrap_err().message,
                    MSG_ALLOWLIST_MISS,
                    "ask=off: no approval can exist"
                );
                assert!(!decision.approval.approved_by_ask);
            }
            let mut locked = policy(allowlist_on_miss(), false, echo_only.clone());
            locked.remote_readonly = true;
            let decision = run(&["id"], &locked, APPROVED).unwrap();
            assert_eq!(decision.verdict.unwrap_err().message, MSG_APPROVAL_REQUIRED);
            let mut full = policy(json!({"security": "full", "ask": "always"}), false, json!([]));
            full.remote_readonly = true;
            let decision = run(&["id"], &full, APPROVED).unwrap();
            assert_eq!(
                decision.verdict.unwrap_err().message,
                MSG_APPROVAL_REQUIRED,
                "locked: ask=always can never be satisfied by the gateway"
            );
            // Unlocked, on-miss: the operator's approval is honoured, as in the TS host.
            let asking = policy(allowlist_on_miss(), false, echo_only);
            let decision = run(&["id"], &asking, APPROVED).unwrap();
            assert_eq!(decision.verdict, Ok(()));
            assert!(decision.approval.approved_by_ask);
            // Full/off: an allowed run, but no grant to persist.
            let full_off = policy(json!({"security": "full", "ask": "off"}), false, json!([]));
            let decision = run(&["id"], &full_off, APPROVED).unwrap();
            assert_eq!(decision.verdict, Ok(()));
            assert!(!decision.approval.approved_by_ask);
        }

        #[cfg_attr(windows, ignore = "POSIX: resolves /bin and /usr/bin executables")]

        #[test]
        fn the_verdict_is_carried_not_returned() {
            let p = policy(allowlist_off(), false, json!([{"pattern": "uname"}]));
            let miss = run(&["ls", "/"], &p, Approval::default()).unwrap();
            assert_eq!(
                miss.verdict.unwrap_err().reason,
                DenyReason::AllowlistMiss,
                "a miss is for the bind stage to report"
            );
            assert!(!miss.all_satisfied && !miss.allowlist_satisfied);
            let hit = run(&["uname", "-s"], &p, Approval::default()).unwrap();
            assert_eq!(hit.verdict, Ok(()));
            assert!(hit.analysis_ok && hit.allowlist_satisfied && !hit.durable);
            let deny = policy(json!({"security": "deny"}), false, json!([]));
            assert_eq!(
                carried(run(&["uname"], &deny, APPROVED)).as_deref(),
                Some(MSG_SECURITY_DENY)
            );
        }

        #[test]
        fn ask_fallback_decides_under_ask_fallback_without_asking() {
            let p = policy(
                json!({"security": "full", "ask": "always", "askFallback": "allowlist"}),
                false,
                json!([]),
            );
            let fallback = Approval {
                fallback: true,
                ..Approval::default()
            };
            let decision = run(&["uname"], &p, fallback).unwrap();
            assert_eq!(
                (decision.security, decision.ask),
                (Security::Allowlist, Ask::Off)
            );
            assert_eq!(
                decision.verdict.unwrap_err().reason,
                DenyReason::AllowlistMiss
            );
            assert!(decision.approval.bound());
        }

        #[test]
        fn an_allow_always_marker_is_durable() {
            let marker = durable_command_marker("ls /");
            let p = policy(
                allowlist_off(),
                false,
                json!([{"pattern": marker, "source": "allow-always"}]),
            );
            let decision = run(&["ls", "/"], &p, Approval::default()).unwrap();
            assert!(decision.durable);
            assert_eq!(decision.verdict, Ok(()));
        }

        #[test]
        fn suppressions_under_auto_review_are_denied_first() {
            // Before the strict inline-eval check, and whatever the security.
            let words = ["python3", "-c", "print('security.audit.suppressions')"];
            for defaults in [allowlist_off(), json!({"security": "deny"})] {
                let p = policy(defaults, true, json!([]));
                assert_eq!(
                    early(run(&words, &p, AUTO_REVIEW)),
                    MSG_EXPLICIT_APPROVAL_REQUIRED
                );
            }
            // Full/off as configured skips the suppression check.
            let full = policy(json!({"security": "full", "ask": "off"}), false, json!([]));
            let argv: Vec<&str> = SUPPRESSIONS.split(' ').collect();
            assert_eq!(carried(run(&argv, &full, AUTO_REVIEW)), None);
        }

        #[test]
        fn suppressions_without_approval_replace_the_verdict() {
            let argv: Vec<&str> = SUPPRESSIONS.split(' ').collect();
            for defaults in [
                allowlist_off(),
                json!({"security": "deny"}),
                json!({"security": "full", "ask": "off"}),
            ] {
                let fallback = defaults["security"] == "full";
                let approval = Approval {
                    fallback,
                    ..Approval::default()
                };
                let p = policy(defaults, false, json!([]));
                assert_eq!(
                    carried(run(&argv, &p, approval)).as_deref(),
                    Some(MSG_APPROVAL_REQUIRED),
                    "carried, not early, and over security=deny too"
                );
            }
            let p = policy(allowlist_on_miss(), false, json!([]));
            assert_eq!(
                carried(run(&argv, &p, APPROVED)),
                None,
                "an operator's approval is the explicit approval suppressions need"
            );
            let off = policy(allowlist_off(), false, json!([]));
            assert_eq!(
                carried(run(&argv, &off, APPROVED)).as_deref(),
                Some(MSG_ALLOWLIST_MISS),
                "with ask=off the approval answers the suppression check, not the miss"
            );
        }

        #[test]
        fn strict_inline_eval_is_denied_before_the_verdict() {
            let message = "SYSTEM_RUN_DENIED: approval required (python3 -c requires explicit approval in strictInlineEval mode)";
            let p = policy(allowlist_off(), true, json!([]));
            assert_eq!(
                early(run(&["python3", "-c", "1"], &p, Approval::default())),
                message,
                "over the allowlist miss"
            );
            let wrapped = "SYSTEM_RUN_DENIED: approval required (node --eval requires explicit approval in strictInlineEval mode)";
            assert_eq!(
                early(run(&["sh", "-c", "node --eval 1"], &p, Approval::default())),
                wrapped,
                "inside a shell payload too"
            );
            assert!(
                run(&["python3", "-c", "1"], &p, APPROVED).is_ok(),
                "approved"
            );
            assert_eq!(
                carried(run(&["python3", "-c", "1"], &p, APPROVED)).as_deref(),
                Some(MSG_ALLOWLIST_MISS),
                "with ask=off the approval answers strictInlineEval, not the miss"
            );
            let off = policy(allowlist_off(), false, json!([]));
            assert_eq!(
                carried(run(&["python3", "-c", "1"], &off, Approval::default())).as_deref(),
                Some(MSG_ALLOWLIST_MISS),
                "strictInlineEval off"
            );
        }

        #[test]
        fn strict_inline_eval_yields_to_security_deny_but_not_to_suppressions() {
            let deny = policy(json!({"security": "deny"}), true, json!([]));
            assert_eq!(
                carried(run(&["python3", "-c", "1"], &deny, Approval::default())).as_deref(),
                Some(MSG_SECURITY_DENY)
            );
            // A suppression verdict replaced security=deny, so the inline check is early again.
            let words = ["python3", "-c", "print('security.audit.suppressions')"];
            assert_eq!(
                early(run(&words, &deny, Approval::default())),
                "SYSTEM_RUN_DENIED: approval required (python3 -c requires explicit approval in strictInlineEval mode)"
            );
        }
    }
}
