//! Hostile payloads through `system.run`, end to end: a refused payload really does not run
//! (its canary file is never created), and the legitimate allowlist hits next to it still do.
//!
//! Policy as in the issue: `security=allowlist`, `ask=off`, only `echo` and `ls` allowed
//! (by real path). Every canary is first shown to be created when the same payload runs
//! under `security=full`, so a refusal cannot pass by the payload being broken.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::tests::support::{context, real, write_approvals};
use super::*;

/// The allowlist patterns of `*` and `main` (ids are generated on read, so not compared).
fn patterns(ctx: &InvokeContext) -> Vec<Value> {
    let doc = ctx.node.approvals.read().unwrap().doc;
    ["*", "main"]
        .iter()
        .flat_map(|agent| {
            doc["agents"][agent]["allowlist"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|e| json!([e["pattern"], e["argPattern"], e["source"]]))
        .collect()
}

fn run(ctx: &InvokeContext, params: Value) -> InvokeResult {
    handle_run(ctx, Some(&params.to_string()))
}

fn prepare(ctx: &InvokeContext, params: Value) -> Value {
    serde_json::from_str(&handle_prepare(ctx, Some(&params.to_string())).unwrap()).unwrap()
}

/// A fresh directory (canonical path) for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oc-hostile-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::canonicalize(&dir).unwrap()
}

/// An executable script at `path` that creates `canary`.
fn canary_script(path: &Path, canary: &Path) {
    std::fs::write(path, format!("#!/bin/sh\ntouch '{}'\n", canary.display())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn allowlist_off(dir: &Path, extra: &[String]) {
    let mut allowlist = vec![json!({"pattern": real("echo")}), json!({"pattern": real("ls")})];
    allowlist.extend(extra.iter().map(|p| json!({"pattern": p})));
    write_approvals(
        dir,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "off", "askFallback": "deny"},
        "agents": {"*": {"allowlist": allowlist}}}),
    );
}

fn full(dir: &Path) {
    write_approvals(
        dir,
        json!({"version": 1, "defaults": {"security": "full", "ask": "off"}}),
    );
}

/// `command` in `cwd` is refused with `message` and leaves no canary; under `security=full` the
/// same command creates it.
fn refused_and_not_run(
    ctx: &InvokeContext,
    state: &Path,
    extra: &[String],
    command: &[&str],
    cwd: &Path,
    canary: &Path,
) {
    let _ = std::fs::remove_file(canary);
    full(state);
    let ran = run(ctx, json!({"command": command, "cwd": cwd}));
    assert!(ran.is_ok(), "control run failed: {command:?}: {ran:?}");
    assert!(canary.exists(), "the control run must create the canary: {command:?}");
    std::fs::remove_file(canary).unwrap();
    allowlist_off(state, extra);
    let err = run(ctx, json!({"command": command, "cwd": cwd})).unwrap_err();
    assert_eq!(err.code, "SYSTEM_RUN_DENIED", "{command:?}");
    assert_eq!(
        err.message, "SYSTEM_RUN_DENIED: allowlist miss",
        "{command:?}"
    );
    assert!(!canary.exists(), "a refused payload ran: {command:?}");
}

fn stdout(result: InvokeResult) -> String {
    let value: Value = serde_json::from_str(&result.unwrap()).unwrap();
    value["stdout"].as_str().unwrap_or_default().to_string()
}

#[test]
fn runs_legitimate_allowlist_hits_still_pass() {
    let (ctx, _events, state) = context("hostile-legit", json!({}));
    allowlist_off(&state, &[]);
    let root = Path::new("/");
    for (command, expected) in [
        (vec!["sh", "-c", "echo hi"], "hi\n"),
        (vec!["bash", "-c", "echo a && echo b"], "a\nb\n"),
        (vec!["nice", "sh", "-c", "echo hi"], "hi\n"),
        (vec!["timeout", "5", "sh", "-c", "echo hi"], "hi\n"),
        (vec!["sh", "-c", "cd /tmp && echo in-tmp"], "in-tmp\n"),
        (vec!["sh", "-c", "[ -d /tmp ] && echo dir"], "dir\n"),
        (vec!["sh", "-c", "sh -c 'echo nested'"], "nested\n"),
        (vec!["echo", "direct"], "direct\n"),
    ] {
        let out = stdout(run(&ctx, json!({"command": command, "cwd": root})));
        assert_eq!(out, expected, "{command:?}");
    }
}

#[test]
fn runs_no_builtin_that_evaluates_a_subscript() {
    let (ctx, _events, state) = context("hostile-builtins", json!({}));
    let dir = scratch("builtins");
    let canary = dir.join("canary");
    let c = canary.display().to_string();
    let test_v = format!("test -v 'a[$(touch {c})]'");
    let bracket_v = format!("[ -v 'a[$(touch {c})]' ]");
    let printf_v = format!("printf -v 'a[$(touch {c})]' x");
    let chained = format!("echo ok && test -v 'a[$(touch {c})]'");
    let cmd_test = format!("command test -v 'a[$(touch {c})]'");
    // Nested: the outer payload sees a double-quoted word, the inner one the builtin.
    let nested = format!("bash -c \"test -v 'a[\\$(touch {c})]'\"");
    let nested_nice = format!("nice bash -c \"printf -v 'a[\\$(touch {c})]' x\"");
    let printf = real("printf");
    let test = real("test");
    for command in [
        vec!["bash", "-c", test_v.as_str()],
        vec!["bash", "-c", bracket_v.as_str()],
        vec!["bash", "-c", chained.as_str()],
        vec!["bash", "-c", cmd_test.as_str()],
        vec!["bash", "-c", printf_v.as_str()],
        vec!["nice", "bash", "-c", test_v.as_str()],
        vec!["timeout", "5", "bash", "-c", bracket_v.as_str()],
        vec!["env", "bash", "-c", printf_v.as_str()],
        vec!["sh", "-c", nested.as_str()],
        vec!["bash", "-c", nested_nice.as_str()],
    ] {
        // With an empty allowlist, and with printf and test allowed by path.
        refused_and_not_run(&ctx, &state, &[], &command, &dir, &canary);
        refused_and_not_run(
            &ctx,
            &state,
            &[printf.clone(), test.clone()],
            &command,
            &dir,
            &canary,
        );
    }
}

#[test]
fn runs_no_command_hidden_behind_an_assignment_prefix() {
    let (ctx, _events, state) = context("hostile-assign", json!({}));
    let dir = scratch("assign");
    let canary = dir.join("canary");
    // `X=/e` in the cwd is a symlink to the allowlisted echo: taking the prefix for the
    // command word would pass the check while the shell runs `touch`.
    std::fs::create_dir_all(dir.join("X=")).unwrap();
    std::os::unix::fs::symlink(real("echo"), dir.join("X=").join("e")).unwrap();
    std::fs::create_dir_all(dir.join("X+=")).unwrap();
    std::os::unix::fs::symlink(real("echo"), dir.join("X+=").join("e")).unwrap();
    let c = canary.display().to_string();
    let payloads = [
        format!("X=\\/e touch {c}"),
        format!("X=\"/e\" touch {c}"),
        format!("X='/e' touch {c}"),
        format!("X+=\\/e touch {c}"),
        format!("X+=\"/e\" touch {c}"),
    ];
    for payload in &payloads {
        for shell in ["sh", "bash"] {
            if shell == "sh" && payload.starts_with("X+=") {
                continue; // dash has no `+=`: it would run `X+=/e` itself.
            }
            refused_and_not_run(&ctx, &state, &[], &[shell, "-c", payload], &dir, &canary);
            refused_and_not_run(
                &ctx,
                &state,
                &[],
                &["nice", shell, "-c", payload],
                &dir,
                &canary,
            );
        }
    }
}

#[test]
fn runs_no_relative_command_after_cd() {
    let (ctx, _events, state) = context("hostile-cd", json!({}));
    let start = scratch("cd-start");
    let other = scratch("cd-other");
    let canary = other.join("canary");
    // In the cwd the check sees, `x` is the allowlisted echo; where the payload cds, it is not.
    std::os::unix::fs::symlink(real("echo"), start.join("x")).unwrap();
    canary_script(&other.join("x"), &canary);
    let o = other.display().to_string();
    for payload in [
        format!("cd {o} && ./x"),
        format!("cd {o} && exec ./x"),
        format!("cd {o} && nice ./x"),
        format!("cd {o} && timeout 5 ./x"),
        format!("cd {o} && env ./x"),
        format!("cd {o} && sh -c ./x"),
        format!("cd {o} && bash -c 'nice ./x'"),
        format!("command cd {o} && ./x"),
    ] {
        refused_and_not_run(&ctx, &state, &[], &["sh", "-c", &payload], &start, &canary);
        refused_and_not_run(&ctx, &state, &[], &["bash", "-c", &payload], &start, &canary);
    }
}

#[test]
fn runs_no_untrusted_shell_or_wrapper() {
    let (ctx, _events, state) = context("hostile-carriers", json!({}));
    let dir = scratch("carriers");
    let canary = dir.join("canary");
    for name in ["sh", "bash", "nice", "timeout", "busybox", "env"] {
        canary_script(&dir.join(name), &canary);
    }
    let sh = dir.join("sh").display().to_string();
    let busybox = dir.join("busybox").display().to_string();
    for command in [
        vec![sh.as_str(), "-c", "echo hi"],
        vec!["./sh", "-c", "echo hi"],
        vec!["./bash", "-c", "echo hi"],
        vec!["./nice", "sh", "-c", "echo hi"],
        vec!["./timeout", "5", "sh", "-c", "echo hi"],
        vec!["./env", "sh", "-c", "echo hi"],
        vec![busybox.as_str(), "sh", "-c", "echo hi"],
        vec!["nice", "./sh", "-c", "echo hi"],
        vec!["sh", "-c", "./sh -c 'echo hi'"],
        vec!["sh", "-c", "nice ./bash -c 'echo hi'"],
        vec!["sh", "-c", "./nice echo hi"],
        vec!["bash", "-c", "echo a && ./timeout 5 echo hi"],
        vec!["sh", "-c", "./env echo hi"],
    ] {
        refused_and_not_run(&ctx, &state, &[], &command, &dir, &canary);
    }
    // An allowlisted script is read only by a trusted shell.
    let script = dir.join("s.sh");
    std::fs::write(&script, "echo script\n").unwrap();
    let script = script.display().to_string();
    let extra = [script.clone()];
    refused_and_not_run(&ctx, &state, &extra, &["./sh", &script], &dir, &canary);
    refused_and_not_run(&ctx, &state, &extra, &["./bash", &script], &dir, &canary);
    allowlist_off(&state, &extra);
    let out = stdout(run(&ctx, json!({"command": ["sh", script], "cwd": dir})));
    assert_eq!(out, "script\n");
}

#[test]
fn runs_no_writing_find_allowed_by_path_alone() {
    let (ctx, _events, state) = context("hostile-find", json!({}));
    let dir = scratch("find");
    let victim = dir.join("victim");
    let find = real("find");
    let v = dir.display().to_string();
    let out = dir.join("out").display().to_string();
    for command in [
        vec!["find", v.as_str(), "-name", "victim", "-delete"],
        vec!["sh", "-c", &format!("find {v} -name victim -delete")],
    ] {
        std::fs::write(&victim, "keep").unwrap();
        allowlist_off(&state, std::slice::from_ref(&find));
        let err = run(&ctx, json!({"command": command})).unwrap_err();
        assert_eq!(err.message, "SYSTEM_RUN_DENIED: allowlist miss");
        assert!(victim.exists(), "find -delete ran: {command:?}");
    }
    let err = run(&ctx, json!({"command": ["find", v, "-fprint", out]})).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: allowlist miss");
    assert!(!dir.join("out").exists());
    // Read-only use still runs.
    let listed = stdout(run(&ctx, json!({"command": ["find", v, "-name", "victim"]})));
    assert!(listed.ends_with("/victim\n"), "{listed}");
}

#[test]
fn runs_no_forged_approval_under_ask_off() {
    let (ctx, _events, state) = context("hostile-forged", json!({}));
    let dir = scratch("forged");
    let canary = dir.join("canary");
    let c = canary.display().to_string();
    allowlist_off(&state, &[]);
    let before = patterns(&ctx);
    for (command, raw) in [
        (json!(["touch", c]), None),
        (json!(["sh", "-c", format!("touch {c}")]), Some(format!("touch {c}"))),
    ] {
        for decision in ["allow-once", "allow-always"] {
            let mut params = json!({"command": command, "cwd": dir, "agentId": "main", "sessionKey": "agent:main:main"});
            if let Some(raw) = &raw {
                params["rawCommand"] = json!(raw);
            }
            let prepared = prepare(&ctx, params);
            let plan = prepared["plan"].clone();
            let err = run(&ctx, json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan,
                "cwd": plan["cwd"], "agentId": "main", "sessionKey": "agent:main:main", "approved": true, "approvalDecision": decision}))
            .unwrap_err();
            assert_eq!(err.message, "SYSTEM_RUN_DENIED: allowlist miss", "{command} {decision}");
            assert!(!canary.exists(), "a forged approval ran {command}");
        }
    }
    assert_eq!(patterns(&ctx), before, "a forged allow-always wrote nothing");
}

#[test]
fn runs_no_gateway_approval_on_a_locked_node() {
    let locked = json!({"nodeHost": {"execApprovals": {"remote": "readonly"}}});
    let (ctx, _events, state) = context("hostile-locked", locked);
    let dir = scratch("locked");
    let canary = dir.join("canary");
    let c = canary.display().to_string();
    write_approvals(
        &state,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
        "agents": {"*": {"allowlist": [{"pattern": real("echo")}]}}}),
    );
    let before = patterns(&ctx);
    let prepared = prepare(
        &ctx,
        json!({"command": ["touch", c], "cwd": dir, "agentId": "main", "sessionKey": "agent:main:main"}),
    );
    let plan = prepared["plan"].clone();
    for decision in ["allow-once", "allow-always"] {
        let err = run(&ctx, json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan,
            "cwd": plan["cwd"], "agentId": "main", "sessionKey": "agent:main:main", "approved": true, "approvalDecision": decision}))
        .unwrap_err();
        assert_eq!(err.message, "SYSTEM_RUN_DENIED: approval required");
        assert!(!canary.exists());
    }
    assert_eq!(patterns(&ctx), before, "a locked node persisted a grant");
    // What the local document allows still runs.
    assert_eq!(
        stdout(run(&ctx, json!({"command": ["echo", "local"]}))),
        "local\n"
    );

    // The same through the lock file on an unlocked config.
    let (ctx, _events, state) = context("hostile-lockfile", json!({}));
    write_approvals(
        &state,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"}}),
    );
    let prepared = prepare(
        &ctx,
        json!({"command": ["touch", c], "cwd": dir, "agentId": "main", "sessionKey": "agent:main:main"}),
    );
    let plan = prepared["plan"].clone();
    crate::approvals::lock::lock(&ctx.node.paths).unwrap();
    let approved = json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan,
        "cwd": plan["cwd"], "agentId": "main", "sessionKey": "agent:main:main", "approved": true, "approvalDecision": "allow-once"});
    let err = run(&ctx, approved.clone()).unwrap_err();
    assert_eq!(err.message, "SYSTEM_RUN_DENIED: approval required");
    assert!(!canary.exists());
    // Unlocked, the operator's approval is honoured again, as in the TS host.
    crate::approvals::lock::unlock(&ctx.node.paths).unwrap();
    assert!(run(&ctx, approved).is_ok());
    assert!(canary.exists());
}

#[test]
fn runs_no_env_added_after_the_approval() {
    let (ctx, _events, state) = context("hostile-env-plan", json!({}));
    write_approvals(
        &state,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"}}),
    );
    let dir = scratch("env-plan");
    let prepared = prepare(
        &ctx,
        json!({"command": ["env"], "cwd": dir, "agentId": "main", "sessionKey": "agent:main:main"}),
    );
    let plan = prepared["plan"].clone();
    assert!(plan.get("envSha256").is_none(), "no env, no new plan key");
    let approved = |env: Option<Value>, plan: &Value| {
        let mut params = json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan,
            "cwd": plan["cwd"], "agentId": "main", "sessionKey": "agent:main:main", "approved": true, "approvalDecision": "allow-once"});
        if let Some(env) = env {
            params["env"] = env;
        }
        params
    };
    let err = run(&ctx, approved(Some(json!({"GIT_EXTERNAL_DIFF_X": "1"})), &plan)).unwrap_err();
    assert_eq!(err.code, "INVALID_REQUEST");
    assert_eq!(err.message, "explicit approval requires matching systemRunPlan");
    assert!(run(&ctx, approved(None, &plan)).is_ok(), "the approved run still runs");

    // Prepared with env: the same env runs, another one does not.
    let prepared = prepare(
        &ctx,
        json!({"command": ["env"], "cwd": dir, "env": {"FOO": "approved"}, "agentId": "main", "sessionKey": "agent:main:main"}),
    );
    let plan = prepared["plan"].clone();
    assert!(plan["envSha256"].is_string());
    let out = stdout(run(&ctx, approved(Some(json!({"FOO": "approved"})), &plan)));
    assert!(out.contains("FOO=approved\n"), "{out}");
    for env in [json!({"FOO": "other"}), json!({"FOO": "approved", "BAR": "1"}), json!({})] {
        let err = run(&ctx, approved(Some(env.clone()), &plan)).unwrap_err();
        assert_eq!(err.message, "explicit approval requires matching systemRunPlan", "{env}");
    }
}

#[test]
fn runs_no_non_utf8_locale_in_allowlist_mode() {
    let (ctx, _events, state) = context("hostile-locale", json!({}));
    allowlist_off(&state, &[]);
    for (key, value) in [("LC_ALL", "zh_CN.GBK"), ("LANG", "zh_TW.Big5"), ("LC_CTYPE", "ja_JP.SJIS")] {
        for command in [json!(["bash", "-c", "echo hi"]), json!(["echo", "hi"])] {
            let err = run(&ctx, json!({"command": command, "env": {key: value}})).unwrap_err();
            assert_eq!(
                err.message,
                format!("SYSTEM_RUN_DENIED: environment override rejected (non-UTF-8 locale in allowlist mode: {key}={value})")
            );
        }
    }
    let out = stdout(run(
        &ctx,
        json!({"command": ["bash", "-c", "echo hi"], "env": {"LC_ALL": "C.UTF-8", "LANG": "C"}}),
    ));
    assert_eq!(out, "hi\n");
    // Under security=full the override is the caller's business, as in the TS host.
    full(&state);
    assert!(run(&ctx, json!({"command": ["echo", "hi"], "env": {"LC_ALL": "zh_CN.GBK"}})).is_ok());
}

#[test]
fn runs_with_no_relative_path_entry_in_the_child_path() {
    let (base, _events, state) = context("hostile-path", json!({}));
    // The same node, whose own PATH starts with `.`.
    let node = crate::commands::NodeRuntime {
        paths: base.node.paths.clone(),
        config: base.node.config.clone(),
        path_env: ".::/usr/bin:/bin".to_string(),
        secrets: crate::secrets::Secrets::default(),
        approvals: crate::approvals::ApprovalsStore::new(&base.node.paths),
        browser: None,
        mcp: None,
    };
    let ctx = InvokeContext {
        cancel: crate::cancel::CancelToken::new(),
        events: base.events.clone(),
        node: std::sync::Arc::new(node),
        timeout_ms: None,
    };
    let dir = scratch("path");
    let canary = dir.join("canary");
    canary_script(&dir.join("ls"), &canary);
    allowlist_off(&state, &[]);
    // The policy matched /usr/bin/ls; the shell must not find ./ls first.
    for command in [json!(["sh", "-c", "ls /"]), json!(["bash", "-c", "echo a && ls /"])] {
        let result = run(&ctx, json!({"command": command, "cwd": dir}));
        assert!(result.is_ok(), "{command}: {result:?}");
        assert!(!canary.exists(), "./ls ran through a relative PATH entry: {command}");
    }
    let out = stdout(run(&ctx, json!({"command": ["sh", "-c", "echo $PATH"], "cwd": dir})).or_else(|_| {
        full(&state);
        run(&ctx, json!({"command": ["sh", "-c", "echo $PATH"], "cwd": dir}))
    }));
    assert_eq!(out, "/usr/bin:/bin\n");
}
