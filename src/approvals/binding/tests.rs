//! Binding tests: cwd snapshots, script operands, binary headers.

use super::operand::{is_known_binary_header, is_likely_script, mutable_operand_index};
use super::*;
use crate::approvals::pattern::sha256_hex;

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
