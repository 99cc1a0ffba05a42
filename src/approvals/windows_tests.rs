//! The Windows approval rules, end to end through the resolve, match, decide and bind-plan
//! stages, run on any build by passing [`Platform::Windows`] with a fake Windows disk. Each case
//! is the TS host's behaviour on win32 (windows.md §1c) or, where noted, this port's stricter
//! or fixed rule.

use serde_json::{json, Value};

use super::allowlist::match_segments;
use super::binding::{planned_argv, unbindable_wrapper};
use super::command::resolve_command_request;
use super::decision::{
    decide, Approval, Denial, MSG_ALLOWLIST_MISS, MSG_WINDOWS_SHELL_WRAPPER_MISS,
};
use super::document::normalize_internal;
use super::env::{child_env_on, validate_assignment_keys_on, validate_overrides_on};
use super::pattern::{durable_command_marker, glob_matches_windows};
use super::policy::{effective_policy, EffectivePolicy, ExecConfig};
use super::prepare::build_plan_on;
use super::resolve::{resolve_request, Filesystem, ResolveContext};
use super::safe_bins::SafeBins;
use crate::platform::windows_path::match_form;
use crate::platform::Platform;
use crate::secrets::Secrets;

/// The fake disk: these files exist, with this (real) spelling.
const FILES: &[&str] = &[
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\PowerShell\\7\\pwsh.exe",
    "C:\\Program Files\\Git\\cmd\\git.exe",
    "C:\\Tools\\build.cmd",
    "C:\\Tools\\notes.txt",
    "C:\\work\\bin\\local.exe",
];

const PATH: &str = "C:\\Windows\\System32;C:\\Windows\\System32\\WindowsPowerShell\\v1.0;\
                    C:\\Program Files\\PowerShell\\7;\"C:\\Program Files\\Git\\cmd\";C:\\Tools";

const GIT: &str = "C:\\Program Files\\Git\\cmd\\git.exe";

/// The real path of a fake file: any case, either slash, `\\?\`, trailing dots, and the 8.3
/// name `PROGRA~1` all name the same file, as on Windows.
fn fake_realpath(p: &str) -> Option<String> {
    let wanted = match_form(p).replace("progra~1", "program files");
    FILES
        .iter()
        .find(|f| match_form(f) == wanted)
        .map(|f| f.to_string())
}

fn fake_is_file(p: &str) -> bool {
    fake_realpath(p).is_some()
}

const FAKE_DISK: Filesystem = Filesystem {
    is_executable: fake_is_file,
    realpath: fake_realpath,
};

fn ctx() -> ResolveContext {
    ResolveContext {
        cwd: "C:\\work".into(),
        path_env: PATH.into(),
        home: Some("C:\\Users\\me".into()),
        platform: Platform::Windows,
        path_ext: None,
        fs: FAKE_DISK,
    }
}

fn policy(security: &str, ask: &str, patterns: &[Value]) -> EffectivePolicy {
    let doc = normalize_internal(&json!({
        "version": 1,
        "defaults": {"security": security, "ask": ask, "askFallback": "deny"},
        "agents": {"*": {"allowlist": patterns}}
    }));
    effective_policy(&doc, ExecConfig::default(), None).unwrap()
}

fn allow(patterns: &[&str]) -> Vec<Value> {
    patterns.iter().map(|p| json!({"pattern": p})).collect()
}

/// What a run comes to: `Ok(planned argv)` when allowed (`None`: the request's argv runs), or
/// the denial's message.
fn outcome(
    argv: &[&str],
    policy: &EffectivePolicy,
    approval: Approval,
    ctx: &ResolveContext,
) -> Result<Option<Vec<String>>, String> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let request = resolve_command_request(argv, None)?;
    let resolved = resolve_request(&request, ctx);
    let matches = match_segments(
        &resolved,
        &policy.approvals.allowlist,
        &SafeBins::new(None, &[]),
        ctx,
    );
    let decision = decide(policy, approval, &request, &resolved, &matches).map_err(msg)?;
    if let Some(refusal) = unbindable_wrapper(&decision, &request, &resolved) {
        return Err(refusal.message);
    }
    decision.verdict.clone().map_err(msg)?;
    planned_argv(&decision, &request, &resolved).map_err(msg)
}

fn msg(denial: Denial) -> String {
    denial.message
}

fn allowlist_run(argv: &[&str], patterns: &[&str]) -> Result<Option<Vec<String>>, String> {
    outcome(
        argv,
        &policy("allowlist", "off", &allow(patterns)),
        Approval::default(),
        &ctx(),
    )
}

fn planned(words: &[&str]) -> Result<Option<Vec<String>>, String> {
    Ok(Some(words.iter().map(|s| s.to_string()).collect()))
}

const APPROVED: Approval = Approval {
    approved_by_ask: true,
    fallback: false,
    auto_review: false,
};

const UNSUPPORTED_SHAPE: &str =
    "SYSTEM_RUN_DENIED: approval cannot safely bind this interpreter/runtime command";

#[test]
fn paths_match_case_insensitively_with_either_slash_prefixes_and_short_names() {
    let git_status = planned(&[GIT, "status"]);
    for pattern in [
        GIT,
        "c:/program files/git/cmd/GIT.EXE",
        "\\\\?\\C:\\Program Files\\Git\\cmd\\git.exe",
        "//?/c:/Program Files/Git/cmd/git.exe",
        "C:\\PROGRA~1\\Git\\cmd\\git.exe",
        "C:\\Program Files\\Git\\cmd\\git.exe.",
        "C:\\Program Files\\Git\\cmd\\git",
        "C:\\Program Files\\Git\\cmd\\*",
        "C:\\Program Files\\**",
        "c:\\program files\\git\\cmd\\g?t.exe",
        "git",
        "GIT.exe",
        "g*",
    ] {
        assert_eq!(allowlist_run(&["git", "status"], &[pattern]), git_status, "{pattern}");
    }
    for pattern in [
        "C:\\Program Files\\*",
        "C:\\Program Files\\Git\\cmd\\git.cmd",
        "C:\\Program Files\\Git\\cmd\\gi",
        "D:\\Program Files\\Git\\cmd\\git.exe",
        "git.cmd",
    ] {
        assert_eq!(
            allowlist_run(&["git", "status"], &[pattern]),
            Err(MSG_ALLOWLIST_MISS.into()),
            "{pattern}"
        );
    }
}

#[test]
fn words_resolve_through_path_and_pathext() {
    let git_status = planned(&[GIT, "status"]);
    for word in [
        "git",
        "GIT.EXE",
        "git.exe",
        "C:/Program Files/Git/cmd/git",
        "c:\\program files\\git\\cmd\\git.EXE",
        "\\Program Files\\Git\\cmd\\git.exe",
        "..\\Program Files\\Git\\cmd\\git",
        // The 8.3 name and the verbatim prefix run the same file, pinned by its real path.
        "C:\\PROGRA~1\\Git\\cmd\\git.exe",
        "\\\\?\\C:\\Program Files\\Git\\cmd\\git.exe",
        "C:\\Program Files\\Git\\cmd\\.\\git",
    ] {
        assert_eq!(allowlist_run(&[word, "status"], &[GIT]), git_status, "{word}");
    }
    // PATHEXT order (.EXE;.CMD;.BAT;.COM) finds build.cmd; a relative path resolves in the cwd.
    assert_eq!(
        allowlist_run(&["build", "x"], &["C:\\Tools\\build.cmd"]),
        planned(&["C:\\Tools\\build.cmd", "x"])
    );
    assert_eq!(
        allowlist_run(&[".\\bin\\local"], &["C:\\work\\bin\\local.exe"]),
        planned(&["C:\\work\\bin\\local.exe"])
    );
    // No executable extension, a trailing dot Windows would strip, a lexical escape from an
    // allowed directory: unresolved or elsewhere, so a miss.
    for (word, pattern) in [
        ("C:\\Tools\\notes.txt", "C:\\Tools\\*"),
        ("notes.txt", "C:\\Tools\\*"),
        ("git.exe.", "*git*"),
        ("C:\\Tools\\..\\Program Files\\Git\\cmd\\git.exe", "C:\\Tools\\*"),
        ("./bin/../../Tools/../work/bin/local.exe", "C:\\Tools\\*"),
    ] {
        assert_eq!(
            allowlist_run(&[word], &[pattern]),
            Err(MSG_ALLOWLIST_MISS.into()),
            "{word}"
        );
    }
}

#[test]
fn cmd_wrappers_are_a_miss_unless_approved_exactly() {
    let gateway_form = ["cmd.exe", "/d", "/s", "/c", "git status"];
    for patterns in [&[GIT][..], &["*"], &[GIT, "C:\\Windows\\System32\\cmd.exe"]] {
        assert_eq!(
            allowlist_run(&gateway_form, patterns),
            Err(MSG_WINDOWS_SHELL_WRAPPER_MISS.into()),
            "{patterns:?}"
        );
    }
    for argv in [
        &["CMD", "/c", "git status"][..],
        &["C:\\WINDOWS\\system32\\CMD.EXE", "/d", "/s", "/c", "git", "status"],
        &["c:/windows/system32/cmd", "/D", "/C", "git status"],
        &["env", "cmd", "/d", "/c", "git status"],
        &["nice", "cmd.exe", "/d", "/s", "/c", "git status"],
        &["cmd.exe", "/d", "/s", "/k", "git status"],
    ] {
        assert_eq!(
            allowlist_run(argv, &[GIT, "*"]),
            Err(MSG_WINDOWS_SHELL_WRAPPER_MISS.into()),
            "{argv:?}"
        );
    }
    // An operator's approval, or an allow-always grant of exactly this command, lets it run
    // as it is (through cmd, no planned argv).
    let on_miss = policy("allowlist", "on-miss", &allow(&[GIT]));
    assert_eq!(outcome(&gateway_form, &on_miss, APPROVED, &ctx()), Ok(None));
    let marker = durable_command_marker("cmd.exe /d /s /c \"git status\"");
    let granted = policy(
        "allowlist",
        "off",
        &[json!({"pattern": marker, "source": "allow-always"})],
    );
    assert_eq!(outcome(&gateway_form, &granted, Approval::default(), &ctx()), Ok(None));
    // security=full does not analyse at all.
    let full = policy("full", "off", &[]);
    assert_eq!(outcome(&gateway_form, &full, Approval::default(), &ctx()), Ok(None));
    // The same request under Unix rules: cmd payloads are not analysed there, a plain miss.
    let unix = ctx().on(Platform::Unix);
    let allowlist = policy("allowlist", "off", &allow(&["*"]));
    assert_eq!(
        outcome(&gateway_form, &allowlist, Approval::default(), &unix),
        Err(MSG_ALLOWLIST_MISS.into())
    );
}

#[test]
fn powershell_command_payloads_run_as_their_one_planned_segment() {
    let git_status = planned(&[GIT, "status"]);
    for argv in [
        &["powershell", "-NoProfile", "-Command", "git status"][..],
        &["pwsh.exe", "-NoProfile", "-NonInteractive", "-c", "git status"],
        &["PowerShell.EXE", "-nop", "-Command", "& 'C:\\Program Files\\Git\\cmd\\git.exe' status"],
        &["pwsh", "-NoProfile", "-c", "pwsh -NoProfile -c \"git status\""],
        &["powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-Command", "git status"],
        &["pwsh", "-NoProfile", "-Command", "git", "status"],
        &[
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "-NoProfile",
            "-Command",
            "git status",
        ],
        &["env", "pwsh", "-NoProfile", "-c", "git status"],
    ] {
        assert_eq!(allowlist_run(argv, &[GIT]), git_status, "{argv:?}");
    }
    // What the conservative analysis refuses, and a payload that is itself a shell wrapper.
    for payload in [
        "git status; calc",
        "git status | Out-File x",
        "git $(calc)",
        "git log --format=%H",
        "git `calc`",
        "git status\ncalc",
        "cmd /c git status",
        "cmd.exe /d /s /c git status",
    ] {
        let argv = ["powershell", "-NoProfile", "-Command", payload];
        assert_eq!(
            allowlist_run(&argv, &[GIT, "C:\\Windows\\System32\\cmd.exe"]),
            Err(MSG_ALLOWLIST_MISS.into()),
            "{payload:?}"
        );
    }
}

#[test]
fn unreviewable_powershell_and_cmd_forms_are_refused() {
    let forms: &[&[&str]] = &[
        &["powershell", "-Command", "git status"],
        &["powershell", "-NoProfile", "-EncodedCommand", "ZwBpAHQA"],
        &["powershell", "-NoProfile", "-enc", "ZwBpAHQA"],
        &["pwsh", "-nop", "-e", "ZwBpAHQA"],
        &["pwsh", "-NoProfile", "-File", "C:\\Tools\\x.ps1"],
        &["pwsh", "-NoProfile", "-f", "x.ps1"],
        &["pwsh", "-NoProfile", "-NoExit", "-c", "git status"],
        &["pwsh", "-NoProfile", "-Command", "-"],
        &["pwsh", "-NoProfile", "-ConfigurationName", "x", "-c", "git status"],
        &["env", "powershell", "-EncodedCommand", "ZwBpAHQA"],
    ];
    let on_miss = policy("allowlist", "on-miss", &allow(&[GIT, "*"]));
    for argv in forms {
        // Never allowlisted, whatever the entries (`*` included) ...
        assert_eq!(
            allowlist_run(argv, &[GIT, "*"]),
            Err(MSG_ALLOWLIST_MISS.into()),
            "{argv:?}"
        );
        // ... and an approval of one cannot be bound.
        assert_eq!(
            outcome(argv, &on_miss, APPROVED, &ctx()),
            Err(UNSUPPORTED_SHAPE.into()),
            "{argv:?}"
        );
    }
    // `system.run.prepare` refuses them before any approval is asked for; the TS host prepares
    // a plan for each. Unix rules keep the TS host's behaviour.
    for argv in forms.iter().chain([&["cmd", "/c", "git status"][..]].iter()) {
        let params = json!({"command": argv, "cwd": "/tmp"});
        let err = build_plan_on(Platform::Windows, &params, true, PATH, false).unwrap_err();
        assert!(err.0.starts_with(UNSUPPORTED_SHAPE), "{argv:?}: {}", err.0);
    }
    let encoded = json!({"command": ["pwsh", "-NoProfile", "-enc", "ZQ"], "cwd": "/tmp"});
    assert!(build_plan_on(Platform::Unix, &encoded, true, PATH, false).is_ok());
    // cmd without /d (AutoRun) is refused as unbindable too.
    assert_eq!(
        outcome(&["cmd", "/c", "git status"], &on_miss, APPROVED, &ctx()),
        Err(UNSUPPORTED_SHAPE.into())
    );
    assert_eq!(
        outcome(&["cmd", "/d", "/c", "git status"], &on_miss, APPROVED, &ctx()),
        Ok(None)
    );
}

#[test]
fn a_literal_pattern_is_compared_by_real_path() {
    // 8.3 names and `\\?\` on the pattern side only matter through the realpath.
    assert!(glob_matches_windows("C:\\PROGRA~1\\Git\\cmd\\git.exe", GIT, None, fake_realpath));
    assert!(!glob_matches_windows("C:\\PROGRA~1\\Git\\cmd\\git.exe", GIT, None, |_| None));
    assert!(glob_matches_windows("C:\\PROGRA~1\\*\\cmd\\git.exe", "C:\\PROGRA~1\\Git\\cmd\\git.exe", None, |_| None));
    assert!(glob_matches_windows("~\\bin\\*", "C:\\Users\\me\\bin\\x.exe", Some("C:\\Users\\me"), |_| None));
    assert!(!glob_matches_windows("~\\bin\\*", "C:\\Users\\me\\bin\\x.exe", None, |_| None));
    assert!(
        !glob_matches_windows("C:\\Tools\\*", "C:\\Tools\\..\\Windows\\cmd.exe", None, |_| None),
        "dot segments are folded before a wildcard match"
    );
    assert!(glob_matches_windows("C:\\*\\cmd.exe", "C:\\Tools\\..\\Windows\\cmd.exe", None, |_| None));
}

#[test]
fn environment_keys_are_case_insensitive_and_five_overrides_are_refused() {
    for key in ["Path", "PATH", "path", "PathExt", "PATHEXT", "ComSpec", "SystemRoot", "windir"] {
        let env = json!({ key: "x" });
        let err = validate_overrides_on(Platform::Windows, Some(&env)).unwrap_err();
        assert!(
            err.starts_with("SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: "),
            "{key}: {err}"
        );
        assert!(err.contains(&key.to_uppercase()), "{key}: {err}");
    }
    let env = json!({"PATHEXT": ".X", "ComSpec": "C:\\evil.exe", "FOO": "1"});
    assert_eq!(
        validate_overrides_on(Platform::Unix, Some(&env)).unwrap().len(),
        3,
        "Unix leaves the Windows-only names alone"
    );
    assert!(validate_assignment_keys_on(Platform::Windows, &["pathext".into()]).is_err());
    assert!(validate_assignment_keys_on(Platform::Unix, &["pathext".into()]).is_ok());

    let base = vec![
        ("Path".to_string(), "C:\\evil".to_string()),
        ("SystemRoot".to_string(), "C:\\Windows".to_string()),
    ];
    let secrets = Secrets::default();
    let child = child_env_on(Platform::Windows, base.clone(), &[], "C:\\a;rel;\"C:\\b\"", &secrets);
    let paths: Vec<_> = child.iter().filter(|(k, _)| k.eq_ignore_ascii_case("path")).collect();
    assert_eq!(paths, [&("PATH".to_string(), "C:\\a;C:\\b".to_string())]);
    assert!(child.iter().any(|(k, _)| k == "SystemRoot"));
    let unix = child_env_on(Platform::Unix, base, &[], "/usr/bin", &secrets);
    assert!(unix.iter().any(|(k, v)| k == "Path" && v == "C:\\evil"), "Unix keys are exact");
}
