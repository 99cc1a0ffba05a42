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

use super::argv::{normalize_executable_token, split_inline_option};
use super::policy::{Ask, Security};

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

/// `evaluateSystemRunPolicy` (Linux: no cmd.exe special case).
pub fn evaluate(inputs: &PolicyInputs) -> Result<(), Denial> {
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
        return Err(Denial::new(DenyReason::AllowlistMiss, MSG_ALLOWLIST_MISS));
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
}
