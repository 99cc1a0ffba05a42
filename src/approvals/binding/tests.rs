//! Binding tests: cwd snapshots, script operands, binary headers.

use super::operand::{is_known_binary_header, is_likely_script, mutable_operand_index};
use super::*;
use crate::digest::sha256_hex;

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oc-binding-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::canonicalize(&dir).unwrap()
}

#[test]
fn cwd_snapshots() {
    let dir = temp_dir("cwd");
    let snapshot = capture_cwd(&dir).unwrap();
    assert_eq!(snapshot.cwd, dir.to_string_lossy());
    assert!(revalidate_cwd(&snapshot));
    assert_eq!(
        capture_cwd(&dir.join("missing")).unwrap_err(),
        MSG_CWD_MISSING
    );
    fs::write(dir.join("file"), "x").unwrap();
    assert_eq!(capture_cwd(&dir.join("file")).unwrap_err(), MSG_CWD_NOT_DIR);
    std::os::unix::fs::symlink(&dir, dir.join("link")).unwrap();
    assert_eq!(capture_cwd(&dir.join("link")).unwrap_err(), MSG_CWD_SYMLINK);
    // Replacing the directory breaks the snapshot.
    let sub = dir.join("sub");
    fs::create_dir(&sub).unwrap();
    let snap = capture_cwd(&sub).unwrap();
    fs::remove_dir(&sub).unwrap();
    fs::create_dir(&sub).unwrap();
    let _ = revalidate_cwd(&snap); // inode reuse is possible; only check it does not panic
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn split_string_env_operand_is_refused_not_an_overflow() {
    let dir = temp_dir("split-env");
    let script = dir.join("s.py");
    fs::write(&script, "print(1)\n").unwrap();
    let script_s = script.to_string_lossy().into_owned();
    // `env -S` split one word into three: the unwrapped argv is longer than the original
    // (the fuzzer's input panicked on `base_index` underflowing).
    for argv in [
        v(&["env", &format!("-Spython3 {script_s} x")]),
        v(&["\tenv", "-sxeh.eeru-----END PUBLIC KEY-----"]),
    ] {
        let _ = mutable_operand_index(&argv, &dir);
    }
    // The script is inside the split word: no argv word can be pinned.
    assert_eq!(
        mutable_operand_target(
            &v(&["env", &format!("-Spython3 {script_s} x")]),
            None,
            &dir,
            false
        )
        .unwrap_err()
        .message,
        "SYSTEM_RUN_DENIED: approval requires a stable script operand"
    );
    // The script is a word of its own after the split string: it is pinned.
    assert_eq!(
        mutable_operand_target(
            &v(&["env", "-S", "python3 -u", &script_s]),
            None,
            &dir,
            false
        )
        .unwrap(),
        Some(3)
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn operand_targets_from_the_spec_table() {
    let dir = temp_dir("operands");
    let script = dir.join("s.sh");
    fs::write(&script, "echo hi\n").unwrap();
    let script_s = script.to_string_lossy().into_owned();
    assert_eq!(
        mutable_operand_target(&v(&["/usr/bin/dash", &script_s]), None, &dir, false).unwrap(),
        Some(1)
    );
    assert_eq!(
        mutable_operand_target(&v(&["/usr/bin/env", "FOO=1", "uname"]), None, &dir, false).unwrap(),
        None
    );
    assert_eq!(
        mutable_operand_target(
            &v(&["/bin/sh", "-lc", "uname -s"]),
            Some("uname -s"),
            &dir,
            false
        )
        .unwrap(),
        None
    );
    for shape in [
        (v(&["python3", "-c", "print(1)"]), None),
        (
            v(&["/bin/sh", "-lc", "uname -s | cat"]),
            Some("uname -s | cat"),
        ),
        (
            v(&["/bin/sh", "-lc", "cd /tmp && ls"]),
            Some("cd /tmp && ls"),
        ),
        (
            v(&["sh", "-c", "echo hi && uname"]),
            Some("echo hi && uname"),
        ),
        (v(&["npx", "cowsay"]), None),
        (v(&["busybox", "sh", "-c", "id"]), Some("id")),
    ] {
        let err = mutable_operand_target(&shape.0, shape.1, &dir, false).unwrap_err();
        assert!(err.unsupported_shape, "{:?}", shape.0);
    }
    assert_eq!(
        mutable_operand_target(&v(&["env", "-C", "/tmp", "ls"]), None, &dir, false)
            .unwrap_err()
            .message,
        "SYSTEM_RUN_DENIED: approval cannot safely bind dispatch cwd options"
    );
    assert_eq!(
        mutable_operand_target(
            &v(&["bash", "--rcfile", "x", "-c", "id"]),
            Some("id"),
            &dir,
            false
        )
        .unwrap_err()
        .message,
        "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup files"
    );
    assert_eq!(
        mutable_operand_target(&v(&["sh", "-c", "id"]), Some("id"), &dir, true)
            .unwrap_err()
            .message,
        "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup environment"
    );
    assert_eq!(
        mutable_operand_target(&v(&["python3", &script_s]), None, &dir, false).unwrap(),
        Some(1)
    );
    let snapshot = mutable_operand_snapshot(&v(&["python3", &script_s]), None, &dir, false)
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.sha256, sha256_hex(b"echo hi\n"));
    assert!(revalidate_operand(
        &snapshot,
        &v(&["python3", &script_s]),
        &dir
    ));
    fs::write(&script, "rm -rf /\n").unwrap();
    assert!(!revalidate_operand(
        &snapshot,
        &v(&["python3", &script_s]),
        &dir
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_headers() {
    assert!(is_known_binary_header(b"\x7fELF\x02\x01\x01"));
    assert!(!is_known_binary_header(b"#!/bin/sh\n"));
    assert!(is_likely_script(Path::new("/nonexistent")));
    assert!(is_interpreter_like("python3.12"));
    assert!(is_interpreter_like("node22"));
    assert!(!is_interpreter_like("uname"));
}

/// The bind stage, from a decision built by hand.
mod stage {
    use super::*;
    use crate::approvals::command::resolve_command_request;
    use crate::approvals::decision::{Approval, Decision, MSG_ALLOWLIST_MISS, MSG_SECURITY_DENY};
    use crate::approvals::policy::Ask;
    use crate::approvals::resolve::resolve_request;
    use std::os::unix::fs::PermissionsExt;

    const PATH: &str = "/usr/bin:/bin";

    fn decision(security: Security, approval: Approval, verdict: Option<Denial>) -> Decision {
        Decision {
            security,
            ask: Ask::Off,
            approval,
            analysis_ok: true,
            all_satisfied: verdict.is_none(),
            allowlist_satisfied: security == Security::Allowlist && verdict.is_none(),
            durable: false,
            verdict: verdict.map_or(Ok(()), Err),
        }
    }

    fn miss() -> Option<Denial> {
        Some(Denial::new(DenyReason::AllowlistMiss, MSG_ALLOWLIST_MISS))
    }

    const APPROVED: Approval = Approval {
        approved_by_ask: true,
        fallback: false,
        auto_review: false,
    };

    fn bind_argv(
        decision: &Decision,
        argv: &[&str],
        cwd: Option<&str>,
        path_env: &str,
    ) -> Result<BoundPlan, Denial> {
        let request = resolve_command_request(v(argv), None).unwrap();
        let resolved = resolve_request(&request, &ResolveContext::new(cwd, PATH));
        bind(decision, &request, &resolved, cwd, path_env)
    }

    fn real(name: &str) -> String {
        resolve_executable(name, &ResolveContext::new(Some("/"), PATH))
            .resolved_real_path
            .expect("binary needed by the test")
    }

    #[test]
    fn an_unbindable_executable_is_reported_before_a_denied_verdict() {
        // `nice` cannot be found on this PATH, so the wrapper cannot be bound.
        let denied = decision(Security::Allowlist, Approval::default(), miss());
        let err = bind_argv(&denied, &["nice", "uname"], Some("/tmp"), "/nonexistent").unwrap_err();
        assert_eq!(err.message, MSG_RESOLVED_EXECUTABLE);
        assert_eq!(err.reason, DenyReason::ApprovalRequired);
        // Bindable: the verdict is reported, before the cwd is looked at.
        let err =
            bind_argv(&denied, &["nice", "uname"], Some("/nonexistent-cwd"), PATH).unwrap_err();
        assert_eq!(err.message, MSG_ALLOWLIST_MISS);
    }

    #[test]
    fn security_deny_binds_nothing_and_reports_the_verdict() {
        let denied = decision(
            Security::Deny,
            APPROVED,
            Some(Denial::new(DenyReason::SecurityDeny, MSG_SECURITY_DENY)),
        );
        let err = bind_argv(&denied, &["nice", "uname"], Some("/tmp"), "/nonexistent").unwrap_err();
        assert_eq!(err.message, MSG_SECURITY_DENY);
    }

    #[test]
    fn full_without_approval_binds_nothing() {
        let full = decision(Security::Full, Approval::default(), None);
        let plan = bind_argv(&full, &["uname", "-s"], None, PATH).unwrap();
        assert_eq!(plan.argv, v(&["uname", "-s"]));
        assert_eq!(plan.cwd, None);
        assert!(plan.cwd_snapshot.is_none() && plan.executables.is_empty());
        assert_eq!(plan.planned_argv, None);
    }

    #[test]
    fn an_approved_argv_is_pinned_in_the_canonical_cwd() {
        let dir = temp_dir("bind-approved");
        let cwd = dir.to_string_lossy().into_owned();
        let approved = decision(Security::Full, APPROVED, None);
        let plan = bind_argv(&approved, &["uname", "-s"], Some(&cwd), PATH).unwrap();
        assert_eq!(plan.argv, v(&[&real("uname"), "-s"]));
        assert_eq!(plan.cwd.as_deref(), Some(cwd.as_str()));
        assert!(plan.cwd_snapshot.is_some());
        assert_eq!(plan.executables.len(), 1);
        assert_eq!(plan.planned_argv, None, "approved runs keep their argv");
        // A relative word is pinned to the file it names in the cwd.
        let tool = dir.join("tool");
        fs::write(&tool, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let plan = bind_argv(&approved, &["./tool"], Some(&cwd), PATH).unwrap();
        assert_eq!(plan.argv, v(&[&tool.to_string_lossy()]));
        assert!(
            plan.executables[0].sha256.is_some(),
            "a file we can modify is pinned by content"
        );
        // Nothing to pin, a cwd that does not exist.
        let err = bind_argv(&approved, &["definitely-missing-xyz"], Some(&cwd), PATH).unwrap_err();
        assert_eq!(err.message, MSG_STABLE_EXECUTABLE);
        let err = bind_argv(&approved, &["uname"], Some("/nonexistent-cwd"), PATH).unwrap_err();
        assert_eq!(err.message, MSG_CWD_MISSING);
        // A shell payload is not pinned: the shell resolves its own words.
        let plan = bind_argv(&approved, &["sh", "-c", "uname"], Some(&cwd), PATH).unwrap();
        assert_eq!(plan.argv[0], "sh");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_allowlist_run_gets_its_planned_argv() {
        let dir = temp_dir("bind-allowlist");
        let cwd = dir.to_string_lossy().into_owned();
        let allowed = decision(Security::Allowlist, Approval::default(), None);
        let plan = bind_argv(&allowed, &["nice", "uname", "-s"], Some(&cwd), PATH).unwrap();
        assert_eq!(plan.argv, v(&["nice", "uname", "-s"]), "argv is not pinned");
        assert_eq!(plan.planned_argv, Some(v(&[&real("uname"), "-s"])));
        assert_eq!(plan.cwd.as_deref(), Some(cwd.as_str()));
        assert_eq!(plan.executables.len(), 2, "the wrapper and the command");
        let plan = bind_argv(&allowed, &["sh", "-c", "uname"], Some(&cwd), PATH).unwrap();
        assert_eq!(plan.planned_argv, None, "a shell payload runs as given");
        // A blocked wrapper has no plan.
        let err = bind_argv(&allowed, &["sudo", "uname"], Some(&cwd), PATH).unwrap_err();
        assert_eq!(err.reason, DenyReason::ExecutionPlanMiss);
        fs::remove_dir_all(&dir).unwrap();
    }
}
