//! `system.run.prepare` (protocol §5.2): the execution plan an approval will be bound to, the
//! node's policy, and the allow-always patterns that would cover the command (§6.7).
//!
//! Bind mode applies unless both the request and the node resolve to full/off:
//!
//! ```text
//! bind = security or ask missing from the request
//!     || min(node.security, sec(request.security)) != full
//!     || max(node.ask, ask(request.ask)) != off
//!     || request.strictInlineEval || node tools.exec.strictInlineEval
//! ```
//!
//! In bind mode the cwd is canonicalised, a direct command's argv[0] is pinned to its real path,
//! a mutable script operand is pinned by content, and shapes that cannot be bound are refused
//! (see [`super::binding`] for where this port is stricter than the TS host).

use std::path::Path;

use serde_json::{Map, Value};

use super::argv::{
    extract_shell_wrapper_command, format_exec_command, is_blocked_shell_wrapper_command,
    is_shell_wrapper_invocation, js_trim, normalize_executable_token,
};
use super::allowlist::{is_root_owned_chain, shell_script_invocation};
use super::binding::{
    capture_cwd, mutable_operand_snapshot, BindError, FileOperand, MSG_STABLE_EXECUTABLE,
};
use super::command::resolve_command_request;
use super::decision::detect_inline_eval;
use super::pattern::cwd_bound_hash_pattern;
use super::policy::{Ask, PolicySnapshot, Security};
use super::resolve::{
    analysable_payload_segments, is_unreviewable_windows_wrapper, realpath, resolve_command,
    trust_path, ResolveContext, Segment,
};
use crate::js::string as js_string;
use crate::platform::Platform;

/// The long explanation the gateway shows for an unsupported shape.
pub const UNSUPPORTED_SHAPE_SUFFIX: &str = "\nNo approval request was created for this attempt; this is not a user denial. Retry a supported single executable with an absolute path through the normal approval flow. This node approval path cannot bind script/interpreter payloads nested in its shell wrapper.";

/// A prepared execution plan (`systemRunPlan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub command_text: String,
    pub command_preview: Option<String>,
    pub agent_id: Option<String>,
    pub session_key: Option<String>,
    pub mutable_file_operand: Option<FileOperand>,
    pub policy_snapshot: Option<PolicySnapshot>,
    /// Beyond the TS host: [`super::env::overrides_digest`] of the prepared `env`, present
    /// only when there was one (so a plan without env is the TS host's, byte for byte).
    pub env_sha256: Option<String>,
}

fn opt_string(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map(|s| Value::String(s.clone()))
        .unwrap_or(Value::Null)
}

/// `normalizeNonEmptyString`.
pub fn non_empty_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(js_trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl RunPlan {
    pub fn to_json(&self) -> Value {
        let mut plan = Map::new();
        plan.insert(
            "argv".into(),
            Value::Array(self.argv.iter().cloned().map(Value::String).collect()),
        );
        plan.insert("cwd".into(), opt_string(&self.cwd));
        plan.insert(
            "commandText".into(),
            Value::String(self.command_text.clone()),
        );
        plan.insert("commandPreview".into(), opt_string(&self.command_preview));
        plan.insert("agentId".into(), opt_string(&self.agent_id));
        plan.insert("sessionKey".into(), opt_string(&self.session_key));
        if let Some(operand) = &self.mutable_file_operand {
            plan.insert("mutableFileOperand".into(), operand.to_json());
        }
        if let Some(snapshot) = &self.policy_snapshot {
            plan.insert("policySnapshot".into(), snapshot.to_json());
        }
        if let Some(digest) = &self.env_sha256 {
            plan.insert("envSha256".into(), Value::String(digest.clone()));
        }
        Value::Object(plan)
    }

    /// `normalizeSystemRunApprovalPlan`: `None` for anything malformed.
    pub fn from_json(value: &Value) -> Option<RunPlan> {
        let obj = value.as_object()?;
        // `mapAllowFromEntries`: `String()` of each element, nothing trimmed or dropped.
        let argv: Vec<String> = obj.get("argv")?.as_array()?.iter().map(js_string).collect();
        if argv.is_empty() {
            return None;
        }
        let mutable_file_operand = match obj.get("mutableFileOperand") {
            None => None,
            Some(value) => Some(FileOperand::from_json(value)?),
        };
        let policy_snapshot = match obj.get("policySnapshot") {
            None => None,
            Some(value) => Some(PolicySnapshot::from_json(value)?),
        };
        let command_text = non_empty_string(obj.get("commandText"))
            .or_else(|| non_empty_string(obj.get("rawCommand")))?;
        Some(RunPlan {
            argv,
            cwd: non_empty_string(obj.get("cwd")),
            command_text,
            command_preview: non_empty_string(obj.get("commandPreview")),
            agent_id: non_empty_string(obj.get("agentId")),
            session_key: non_empty_string(obj.get("sessionKey")),
            mutable_file_operand,
            policy_snapshot,
            env_sha256: non_empty_string(obj.get("envSha256")),
        })
    }
}

/// `resolveExecSecurity`/`resolveExecAsk` for a request's own values: invalid → full/off.
pub fn request_security(value: Option<&Value>) -> Security {
    value
        .and_then(Value::as_str)
        .and_then(Security::parse)
        .unwrap_or(Security::Full)
}
pub fn request_ask(value: Option<&Value>) -> Ask {
    value
        .and_then(Value::as_str)
        .and_then(Ask::parse)
        .unwrap_or(Ask::Off)
}

/// The bind-mode formula.
pub fn bind_mode(
    params: &Value,
    node_security: Security,
    node_ask: Ask,
    node_strict_inline_eval: bool,
) -> bool {
    let security = params.get("security");
    let ask = params.get("ask");
    security.is_none()
        || ask.is_none()
        || node_security.min(request_security(security)) != Security::Full
        || node_ask.max(request_ask(ask)) != Ask::Off
        || params.get("strictInlineEval") == Some(&Value::Bool(true))
        || node_strict_inline_eval
}

/// A prepare failure: an `INVALID_REQUEST` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareError(pub String);

impl From<BindError> for PrepareError {
    fn from(err: BindError) -> PrepareError {
        if err.unsupported_shape {
            PrepareError(format!("{}{}", err.message, UNSUPPORTED_SHAPE_SUFFIX))
        } else {
            PrepareError(err.message)
        }
    }
}

/// `params.command` as strings (`String()` of each element); `None` when not an array.
pub fn command_argv(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()
        .map(|items| items.iter().map(js_string).collect())
}

/// [`build_plan_on`] under the host's rules.
pub fn build_plan(
    params: &Value,
    bind: bool,
    path_env: &str,
    env_has_startup: bool,
) -> Result<RunPlan, PrepareError> {
    build_plan_on(Platform::HOST, params, bind, path_env, env_has_startup)
}

/// `buildSystemRunApprovalPlan` (without the policy snapshot). Under Windows rules a wrapper
/// whose startup cannot be reviewed is refused even with a payload (`powershell
/// -EncodedCommand X`, `-File`, no `-NoProfile`, cmd without `/d`; see
/// [`is_unreviewable_windows_wrapper`]), where the TS host prepares a plan for it.
pub fn build_plan_on(
    platform: Platform,
    params: &Value,
    bind: bool,
    path_env: &str,
    env_has_startup: bool,
) -> Result<RunPlan, PrepareError> {
    let raw_command = params.get("rawCommand").and_then(Value::as_str);
    let argv = command_argv(params.get("command")).unwrap_or_default();
    let request = resolve_command_request(argv, raw_command).map_err(PrepareError)?;
    if request.argv.is_empty() {
        return Err(PrepareError("command required".to_string()));
    }
    let unbindable_wrapper = (request.shell_payload.is_none()
        && is_blocked_shell_wrapper_command(&request.argv, None))
        || (platform.is_windows() && is_unreviewable_windows_wrapper(&request.argv));
    if bind && unbindable_wrapper {
        return Err(BindError {
            message: super::binding::MSG_UNSUPPORTED_SHAPE.to_string(),
            unsupported_shape: true,
        }
        .into());
    }
    let requested_cwd = non_empty_string(params.get("cwd"));
    let mut argv = request.argv.clone();
    let cwd = if !bind {
        let base = requested_cwd.clone().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let real = realpath(Path::new(&base)).ok_or_else(|| {
            PrepareError(
                "SYSTEM_RUN_DENIED: working directory does not exist or is inaccessible"
                    .to_string(),
            )
        })?;
        Some(real)
    } else {
        let base = requested_cwd.clone().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let snapshot = capture_cwd(Path::new(&base)).map_err(|m| PrepareError(m.to_string()))?;
        let ctx = ResolveContext::new(Some(&snapshot.cwd), path_env);
        let resolution = resolve_command(&argv, &ctx);
        let pin = request.shell_payload.is_none()
            && resolution
                .as_ref()
                .map_or(true, |r| r.plan.wrapper_chain.is_empty());
        if pin {
            let pinned = resolution.as_ref().and_then(|r| {
                r.execution
                    .resolved_real_path
                    .clone()
                    .or_else(|| r.execution.resolved_path.clone())
            });
            let Some(pinned) = pinned else {
                return Err(PrepareError(MSG_STABLE_EXECUTABLE.to_string()));
            };
            argv[0] = pinned;
        }
        Some(snapshot.cwd)
    };
    let command_text = format_exec_command(&argv);
    let command_preview = request
        .preview_text
        .as_deref()
        .map(js_trim)
        .filter(|p| !p.is_empty() && *p != command_text)
        .map(str::to_string);
    let mutable_file_operand = if bind {
        let cwd_path = cwd.clone().unwrap_or_else(|| "/".to_string());
        mutable_operand_snapshot(
            &argv,
            request.shell_payload.as_deref(),
            Path::new(&cwd_path),
            env_has_startup,
        )?
    } else {
        None
    };
    Ok(RunPlan {
        argv,
        cwd,
        command_text,
        command_preview,
        agent_id: non_empty_string(params.get("agentId")),
        session_key: non_empty_string(params.get("sessionKey")),
        mutable_file_operand,
        policy_snapshot: None,
        env_sha256: super::env::validate_overrides(params.get("env"))
            .ok()
            .and_then(|overrides| super::env::overrides_digest(&overrides)),
    })
}

const INTERPRETER_ALLOWLIST_NAMES: &[&str] = &[
    "python",
    "python2",
    "python3",
    "pypy",
    "pypy3",
    "node",
    "nodejs",
    "bun",
    "deno",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "ruby",
    "perl",
    "php",
    "r",
    "rscript",
    "julia",
    "elixir",
    "iex",
    "guile",
    "groovy",
    "scala",
    "scala-cli",
    "clojure",
    "clj",
    "raku",
    "perl6",
    "ghc",
    "ghci",
    "erl",
    "werl",
    "gdb",
    "expect",
    "lua",
    "osascript",
    "find",
    "make",
    "gmake",
    "sed",
    "gsed",
    "xargs",
];

/// `isInterpreterLikeAllowlistPattern`: interpreters never get reusable allow-always patterns.
pub fn is_interpreter_pattern(path: &str) -> bool {
    let name = normalize_executable_token(path);
    let stripped = {
        let t = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        t.strip_suffix('-').unwrap_or(t).to_string()
    };
    INTERPRETER_ALLOWLIST_NAMES.contains(&name.as_str())
        || (stripped.len() >= 2 && INTERPRETER_ALLOWLIST_NAMES.contains(&stripped.as_str()))
}

/// An allow-always pattern: `(pattern, argPattern)`.
pub type AllowAlwaysPattern = (String, String);

/// `collectAllowAlwaysPatterns` for one segment.
fn collect_patterns(
    segment: &Segment,
    ctx: &ResolveContext,
    strict_inline_eval: bool,
    out: &mut Vec<AllowAlwaysPattern>,
) {
    let Some(resolution) = &segment.resolution else {
        return;
    };
    // What the matcher never accepts through a cwd-bound hash is not recorded either: a
    // segment after a `cd` (it ran elsewhere than the cwd the hash names) or one whose
    // arguments the shell may expand (no exact argv to hash).
    if resolution.policy_blocked() || segment.after_cd || !segment.exact_argv {
        return;
    }
    let plan_argv = &resolution.effective_argv;
    if plan_argv.first().is_some_and(|a| {
        [
            "npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg", "bunx", "corepack",
        ]
        .contains(&normalize_executable_token(a).as_str())
    }) {
        return;
    }
    let Some(candidate) = trust_path(&resolution.execution, ctx) else {
        return;
    };
    if is_interpreter_pattern(&candidate)
        && (!strict_inline_eval || detect_inline_eval(plan_argv).is_none())
    {
        return;
    }
    let cwd = ctx.cwd.to_string_lossy().into_owned();
    let mut add = |pattern: String, arg: String| {
        if !out.iter().any(|(p, a)| *p == pattern && *a == arg) {
            out.push((pattern, arg));
        }
    };
    if !resolution.plan.shell_wrapper_executable {
        add(candidate, cwd_bound_hash_pattern(plan_argv, &cwd));
        return;
    }
    if resolution.plan.shell_inline_command.is_some() {
        return;
    }
    // `sh script.sh args`: the script is what gets trusted, read as the matcher reads it
    // (`~`, `-i`, startup options, `fish`), and only when the shell reading it is a system
    // file: the matcher accepts a script only through a trusted shell.
    let Some(script) = shell_script_invocation(plan_argv, ctx, segment.in_shell) else {
        return;
    };
    let shell_is_system_file = resolution
        .execution
        .resolved_real_path
        .as_deref()
        .is_some_and(|real| is_root_owned_chain(Path::new(real)));
    if shell_is_system_file {
        let trust = realpath(Path::new(&script.path)).unwrap_or_else(|| script.path.clone());
        add(trust, cwd_bound_hash_pattern(&script.argv, &cwd));
    }
}

/// `resolveAllowAlwaysPatternCoverage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub complete: bool,
    pub patterns: Vec<AllowAlwaysPattern>,
}

impl Coverage {
    pub fn none() -> Coverage {
        Coverage {
            complete: false,
            patterns: Vec::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "complete": self.complete,
            "patterns": self.patterns.iter().map(|(p, a)| serde_json::json!({"pattern": p, "argPattern": a})).collect::<Vec<_>>(),
        })
    }
}

/// Coverage over already analysed segments.
pub fn segments_coverage(
    segments: &[Segment],
    ctx: &ResolveContext,
    strict_inline_eval: bool,
) -> Coverage {
    let mut patterns = Vec::new();
    let mut represented = 0;
    for segment in segments {
        let mut own = Vec::new();
        collect_patterns(segment, ctx, strict_inline_eval, &mut own);
        let counts = !is_shell_wrapper_invocation(&segment.argv) && !own.is_empty();
        for pattern in own {
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        if counts {
            represented += 1;
        }
    }
    Coverage {
        complete: !segments.is_empty() && represented == segments.len(),
        patterns,
    }
}

/// `buildSystemRunAllowAlwaysCoverage` for a plan.
pub fn plan_coverage(
    argv: &[String],
    raw_command: Option<&str>,
    ctx: &ResolveContext,
    strict_inline_eval: bool,
) -> Coverage {
    let wrapper = extract_shell_wrapper_command(argv, raw_command);
    if wrapper.is_wrapper {
        let Some(payload) = wrapper.command else {
            return Coverage::none();
        };
        let Some(segments) = analysable_payload_segments(argv, &payload, ctx) else {
            return Coverage::none();
        };
        return segments_coverage(&segments, ctx, strict_inline_eval);
    }
    match Segment::from_argv(argv, ctx) {
        Some(segment) => segments_coverage(&[segment], ctx, strict_inline_eval),
        None => Coverage::none(),
    }
}

// POSIX tests (sh, /usr/bin); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod grant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

    #[test]
    fn bind_mode_formula() {
        let full = json!({"security": "full", "ask": "off"});
        assert!(!bind_mode(&full, Security::Full, Ask::Off, false));
        assert!(bind_mode(
            &json!({"security": "full"}),
            Security::Full,
            Ask::Off,
            false
        ));
        assert!(bind_mode(&full, Security::Allowlist, Ask::Off, false));
        assert!(bind_mode(&full, Security::Full, Ask::OnMiss, false));
        assert!(bind_mode(
            &json!({"security": "full", "ask": "off", "strictInlineEval": true}),
            Security::Full,
            Ask::Off,
            false
        ));
        assert!(bind_mode(&full, Security::Full, Ask::Off, true));
        // Invalid request values count as full/off.
        assert!(!bind_mode(
            &json!({"security": "bogus", "ask": 7}),
            Security::Full,
            Ask::Off,
            false
        ));
    }

    #[cfg_attr(windows, ignore = "POSIX: plans POSIX commands (/bin/sh, /usr/bin)")]

    #[test]
    fn plans_from_the_spec_table() {
        let uname = super::super::resolve::resolve_executable(
            "uname",
            &ResolveContext::new(Some("/"), PATH),
        );
        let uname_real = uname.resolved_real_path.unwrap();
        let plan = build_plan(&json!({"command": ["uname", "-s"], "cwd": "/tmp", "agentId": "main", "sessionKey": "agent:main:main", "rawCommand": "uname -s"}), true, PATH, false).unwrap();
        assert_eq!(plan.argv, vec![uname_real.clone(), "-s".to_string()]);
        assert_eq!(
            plan.cwd.as_deref(),
            Some(std::fs::canonicalize("/tmp").unwrap().to_str().unwrap())
        );
        assert_eq!(plan.command_text, format!("{uname_real} -s"));
        assert_eq!(plan.command_preview, None);
        let json = plan.to_json();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            &keys[..6],
            [
                "argv",
                "cwd",
                "commandText",
                "commandPreview",
                "agentId",
                "sessionKey"
            ]
        );

        let shell = build_plan(&json!({"command": ["/bin/sh", "-lc", "uname -s"], "rawCommand": "uname -s", "cwd": "/tmp"}), true, PATH, false).unwrap();
        assert_eq!(shell.argv, v(&["/bin/sh", "-lc", "uname -s"]));
        assert_eq!(shell.command_preview.as_deref(), Some("uname -s"));
        assert_eq!(shell.mutable_file_operand, None);

        let env = build_plan(
            &json!({"command": ["env", "FOO=1", "uname"], "cwd": "/tmp"}),
            true,
            PATH,
            false,
        )
        .unwrap();
        assert!(env.argv[0].ends_with("/env"));
        assert_eq!(env.mutable_file_operand, None);

        for unsupported in [
            json!({"command": ["python3", "-c", "print(1)"], "cwd": "/tmp"}),
            json!({"command": ["/bin/sh", "-lc", "uname -s | cat"], "rawCommand": "uname -s | cat", "cwd": "/tmp"}),
            json!({"command": ["/bin/sh", "-lc", "cd /tmp && ls"], "rawCommand": "cd /tmp && ls", "cwd": "/tmp"}),
            json!({"command": ["sh", "-c", "echo hi && uname"], "cwd": "/tmp"}),
            json!({"command": ["/bin/sh", "-lc", "uname -s"], "cwd": "/tmp"}),
        ] {
            let err = build_plan(&unsupported, true, PATH, false).unwrap_err();
            assert_eq!(
                err.0,
                format!("SYSTEM_RUN_DENIED: approval cannot safely bind this interpreter/runtime command{UNSUPPORTED_SHAPE_SUFFIX}"),
                "{unsupported}"
            );
        }
        let err = build_plan(
            &json!({"command": ["definitely-missing-xyz", "ls"], "cwd": "/tmp"}),
            true,
            PATH,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "SYSTEM_RUN_DENIED: approval requires a stable executable path"
        );
        // Not bind mode: argv unchanged, cwd realpath'ed, and a missing cwd is refused.
        let full = build_plan(&json!({"command": ["sh", "-c", "echo hi && uname"], "rawCommand": "echo hi && uname", "cwd": "/tmp"}), false, PATH, false).unwrap();
        assert_eq!(full.argv, v(&["sh", "-c", "echo hi && uname"]));
        assert_eq!(full.command_preview.as_deref(), Some("echo hi && uname"));
        let err = build_plan(
            &json!({"command": ["ls"], "cwd": "/nonexistent-dir"}),
            false,
            PATH,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "SYSTEM_RUN_DENIED: working directory does not exist or is inaccessible"
        );
        assert_eq!(
            build_plan(&json!({"command": []}), true, PATH, false)
                .unwrap_err()
                .0,
            "command required"
        );
        assert_eq!(
            build_plan(&json!({"command": "x"}), true, PATH, false)
                .unwrap_err()
                .0,
            "command required"
        );
        assert_eq!(
            build_plan(
                &json!({"command": ["ls"], "rawCommand": "dir"}),
                true,
                PATH,
                false
            )
            .unwrap_err()
            .0,
            "INVALID_REQUEST: rawCommand does not match command"
        );
    }

    #[cfg_attr(windows, ignore = "POSIX: plans POSIX commands (/bin/sh, /usr/bin)")]

    #[test]
    fn coverage_shapes() {
        let ctx = ResolveContext {
            cwd: std::path::PathBuf::from("/tmp"),
            path_env: PATH.into(),
            home: None,
            ..Default::default()
        };
        let uname = super::super::resolve::resolve_executable("uname", &ctx)
            .resolved_real_path
            .unwrap();
        let direct = plan_coverage(&[uname.clone(), "-s".to_string()], None, &ctx, false);
        assert!(direct.complete);
        assert_eq!(
            direct.patterns,
            vec![(
                uname.clone(),
                cwd_bound_hash_pattern(&v(&["x", "-s"]), "/tmp")
            )]
        );
        let shell = plan_coverage(
            &v(&["/bin/sh", "-lc", "uname -s"]),
            Some("uname -s"),
            &ctx,
            false,
        );
        assert!(shell.complete);
        assert_eq!(shell.patterns.len(), 1);
        assert_eq!(shell.patterns[0].0, uname);
        let env = plan_coverage(&v(&["/usr/bin/env", "FOO=1", "uname"]), None, &ctx, false);
        assert_eq!(env, Coverage::none());
        let python = plan_coverage(&v(&["python3", "x.py"]), None, &ctx, false);
        assert!(
            python.patterns.is_empty(),
            "interpreters get no reusable pattern"
        );
        let json = direct.to_json();
        assert_eq!(
            json["patterns"][0]["argPattern"],
            "sha256:cwd-argv:v1:f51b9bb536bd638ffab79981a615f5cc5d1a8ffe6f7f1e54dc8b3af6070c419e"
        );
    }

    #[test]
    fn plan_json_round_trip() {
        let plan = RunPlan {
            argv: v(&["/usr/bin/uname", "-s"]),
            cwd: Some("/tmp".into()),
            command_text: "/usr/bin/uname -s".into(),
            command_preview: None,
            agent_id: Some("main".into()),
            session_key: None,
            mutable_file_operand: Some(FileOperand {
                argv_index: 0,
                path: "/usr/bin/uname".into(),
                sha256: "ab".into(),
            }),
            policy_snapshot: Some(PolicySnapshot {
                security: Security::Allowlist,
                ask: Ask::OnMiss,
                ask_fallback: Security::Deny,
                auto_allow_skills: false,
                rules: vec![],
            }),
            env_sha256: None,
        };
        assert_eq!(RunPlan::from_json(&plan.to_json()), Some(plan.clone()));
        assert!(
            plan.to_json().get("envSha256").is_none(),
            "a plan without env is the TS host's"
        );
        let with_env = RunPlan {
            env_sha256: crate::approvals::env::overrides_digest(&[("FOO".into(), "1".into())]),
            ..plan.clone()
        };
        assert_eq!(RunPlan::from_json(&with_env.to_json()), Some(with_env));
        assert!(RunPlan::from_json(&json!({"argv": [], "commandText": "x"})).is_none());
        assert!(RunPlan::from_json(&json!({"argv": ["x"]})).is_none());
        assert!(RunPlan::from_json(
            &json!({"argv": ["x"], "commandText": "x", "mutableFileOperand": {"argvIndex": -1}})
        )
        .is_none());
        assert!(RunPlan::from_json(
            &json!({"argv": ["x"], "commandText": "x", "policySnapshot": {}})
        )
        .is_none());
        let legacy = RunPlan::from_json(&json!({"argv": ["x"], "rawCommand": "x"})).unwrap();
        assert_eq!(legacy.command_text, "x");
    }
}
