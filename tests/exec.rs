//! The process runner against real processes: output, exit codes, signals, timeouts, cancel,
//! the output cap, launch errors, the environment, and reaping.
//!
//! No assertion depends on timing. Runs that could hang on a bug carry a generous timeout and
//! assert it did not fire.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

#[path = "support/processes.rs"]
mod processes;
use processes::{is_running, kill, process_state, read_pid};

use openclaw_node::cancel::CancelToken;
use openclaw_node::exec::{
    launch_error_code, reported_exit_code, run, ExecOutcome, ExecSpec, TRUNCATION_MARKER,
};

/// Long enough never to fire on a working runner; fires instead of hanging on a broken one.
const GUARD: Duration = Duration::from_secs(60);

fn spec(argv: &[&str]) -> ExecSpec {
    ExecSpec {
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        env: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
        timeout: Some(GUARD),
        ..ExecSpec::default()
    }
}

fn sh(script: &str) -> ExecSpec {
    spec(&["sh", "-c", script])
}

fn run_spec(spec: &ExecSpec) -> ExecOutcome {
    let outcome = run(spec, &CancelToken::new());
    assert!(
        outcome.launch_error.is_none(),
        "launch failed: {:?}",
        outcome.launch_error
    );
    outcome
}

/// True when a child of this process with that pid is a zombie (exited, never reaped).
fn is_our_zombie(pid: u32) -> bool {
    matches!(process_state(pid), Some(('Z', ppid)) if ppid == std::process::id())
}

#[test]
fn echo_prints_and_exits_zero() {
    let outcome = run_spec(&spec(&["echo", "hello", "world"]));
    assert_eq!(outcome.stdout, "hello world\n");
    assert_eq!(outcome.stderr, "");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.signal, None);
    assert!(!outcome.timed_out && !outcome.cancelled && !outcome.truncated);
    assert_eq!(reported_exit_code(&outcome), Some(0));
}

#[test]
fn absolute_program_and_arguments_pass_verbatim() {
    let outcome = run_spec(&spec(&[
        "/bin/sh",
        "-c",
        "printf '%s|' \"$0\" \"$@\"",
        "zero",
        "a b",
        "",
        "$HOME",
    ]));
    assert_eq!(outcome.stdout, "zero|a b||$HOME|");
}

#[test]
fn stderr_is_kept_apart() {
    let outcome = run_spec(&sh("echo out; echo err >&2; echo out2"));
    assert_eq!(outcome.stdout, "out\nout2\n");
    assert_eq!(outcome.stderr, "err\n");
}

#[test]
fn exit_code_is_reported() {
    let outcome = run_spec(&sh("echo bye; exit 3"));
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.signal, None);
    assert_eq!(reported_exit_code(&outcome), Some(3));
    assert_eq!(outcome.stdout, "bye\n");
}

#[test]
fn death_by_signal_has_no_exit_code() {
    let outcome = run_spec(&sh("kill -9 $$"));
    assert_eq!(outcome.signal, Some(9));
    assert_eq!(outcome.exit_code, None);
    assert!(!outcome.timed_out);
    assert_eq!(reported_exit_code(&outcome), None);
}

#[test]
fn stdin_is_empty() {
    let outcome = run_spec(&spec(&["cat"]));
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.stdout, "");
}

#[test]
fn timeout_kills_the_whole_tree() {
    let dir = processes::scratch_dir("exec");
    let pidfile = dir.join("grandchild");
    let mut spec = sh("sleep 100 & echo $! > \"$1\"; wait");
    spec.argv
        .extend(["sh".to_string(), pidfile.display().to_string()]);
    spec.timeout = Some(Duration::from_millis(300));
    let outcome = run_spec(&spec);
    assert!(outcome.timed_out);
    assert_eq!(outcome.signal, Some(15));
    assert_eq!(reported_exit_code(&outcome), Some(124));
    let grandchild = read_pid(&pidfile);
    let gone = processes::wait_until_gone(grandchild, Duration::from_secs(10));
    if !gone {
        kill(grandchild);
    }
    assert!(gone, "grandchild {grandchild} survived the timeout");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_child_ignoring_sigterm_is_killed() {
    // The ignored disposition is inherited by `sleep`, so only SIGKILL ends the group.
    let mut spec = sh("trap '' TERM; sleep 100");
    spec.timeout = Some(Duration::from_millis(200));
    let outcome = run_spec(&spec);
    assert!(outcome.timed_out);
    assert_eq!(outcome.signal, Some(9));
    assert_eq!(reported_exit_code(&outcome), Some(124));
}

#[test]
fn a_child_trapping_sigterm_keeps_its_exit_code() {
    let mut spec = sh("trap 'exit 7' TERM; sleep 100 & wait");
    spec.timeout = Some(Duration::from_millis(200));
    let outcome = run_spec(&spec);
    assert!(outcome.timed_out);
    assert_eq!(outcome.exit_code, Some(7));
    assert_eq!(reported_exit_code(&outcome), Some(7));
}

#[test]
fn a_child_exiting_zero_after_sigterm_reports_124() {
    let mut spec = sh("trap 'exit 0' TERM; sleep 100 & wait");
    spec.timeout = Some(Duration::from_millis(200));
    let outcome = run_spec(&spec);
    assert!(outcome.timed_out);
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(reported_exit_code(&outcome), Some(124));
}

#[test]
fn cancel_from_another_thread_terminates_the_run() {
    let dir = processes::scratch_dir("exec");
    let started = dir.join("started");
    let mut spec = sh("touch \"$1\"; exec sleep 100");
    spec.argv
        .extend(["sh".to_string(), started.display().to_string()]);
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        let started = started.clone();
        thread::spawn(move || {
            while !started.exists() {
                thread::sleep(Duration::from_millis(5));
            }
            cancel.cancel();
        })
    };
    let outcome = run(&spec, &cancel);
    canceller.join().unwrap();
    assert!(outcome.cancelled);
    assert!(!outcome.timed_out);
    assert_eq!(outcome.signal, Some(15));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_token_cancelled_before_the_run_launches_nothing() {
    let cancel = CancelToken::new();
    cancel.cancel();
    let outcome = run(&sh("echo never"), &cancel);
    assert!(outcome.cancelled);
    assert_eq!(outcome.pid, None);
    assert_eq!(outcome.stdout, "");
}

#[test]
fn output_past_the_cap_is_cut_and_marked() {
    let outcome = run_spec(&sh("head -c 300000 /dev/zero | tr '\\0' a"));
    assert_eq!(outcome.exit_code, Some(0));
    assert!(outcome.truncated);
    assert_eq!(outcome.stdout.len(), 200_016);
    assert!(outcome.stdout[..200_000].bytes().all(|b| b == b'a'));
    assert!(outcome.stdout.ends_with(TRUNCATION_MARKER));
    assert_eq!(outcome.stderr, "");
}

#[test]
fn output_exactly_at_the_cap_is_whole() {
    let outcome = run_spec(&sh("head -c 200000 /dev/zero | tr '\\0' a"));
    assert!(!outcome.truncated);
    assert_eq!(outcome.stdout.len(), 200_000);
}

#[test]
fn a_character_cut_by_the_cap_is_dropped() {
    // 199 999 bytes of 'a', then the 3-byte euro sign: the cap falls after its first byte.
    let outcome = run_spec(&sh(
        "head -c 199999 /dev/zero | tr '\\0' a; printf '\\342\\202\\254tail'",
    ));
    assert!(outcome.truncated);
    assert_eq!(outcome.stdout.len(), 199_999 + TRUNCATION_MARKER.len());
    assert!(!outcome.stdout.contains('\u{fffd}'));
    assert!(outcome.stdout.ends_with(&format!("a{TRUNCATION_MARKER}")));
}

#[test]
fn the_cap_is_shared_by_both_streams() {
    let outcome = run_spec(&sh(
        "head -c 150000 /dev/zero | tr '\\0' o; head -c 150000 /dev/zero | tr '\\0' e >&2",
    ));
    assert!(outcome.truncated);
    assert_eq!(outcome.stdout.len(), 150_000);
    assert!(outcome.stdout.bytes().all(|b| b == b'o'));
    assert_eq!(outcome.stderr.len(), 50_000 + TRUNCATION_MARKER.len());
    assert!(outcome.stderr.starts_with('e'));
    assert!(outcome.stderr.ends_with(&format!("e{TRUNCATION_MARKER}")));
}

#[test]
fn huge_output_is_drained_not_kept() {
    let outcome = run_spec(&sh("head -c 50000000 /dev/zero; echo done >&2"));
    assert_eq!(
        outcome.exit_code,
        Some(0),
        "the command must not be killed for printing"
    );
    assert!(outcome.truncated);
    // stdout took the whole cap; stderr's "done" was dropped, so stderr is blank and the marker
    // goes to stdout.
    assert_eq!(outcome.stdout.len(), 200_000 + TRUNCATION_MARKER.len());
    assert!(outcome.stdout.ends_with(TRUNCATION_MARKER));
    assert_eq!(outcome.stderr, "");
}

#[test]
fn a_missing_binary_is_enoent() {
    for argv in [["/nonexistent/binary"], ["no-such-command-openclaw"]] {
        let outcome = run(&spec(&argv), &CancelToken::new());
        let err = outcome.launch_error.as_ref().expect("launch must fail");
        assert_eq!(launch_error_code(err), "ENOENT");
        assert_eq!(outcome.exit_code, None);
        assert_eq!(reported_exit_code(&outcome), None);
        assert_eq!(outcome.pid, None);
    }
}

#[test]
fn a_missing_cwd_is_enoent_and_a_file_cwd_is_enotdir() {
    let mut missing = spec(&["pwd"]);
    missing.cwd = Some(PathBuf::from("/nonexistent-dir"));
    let err = run(&missing, &CancelToken::new())
        .launch_error
        .expect("launch must fail");
    assert_eq!(launch_error_code(&err), "ENOENT");

    let mut file = spec(&["pwd"]);
    file.cwd = Some(PathBuf::from("/etc/passwd"));
    let err = run(&file, &CancelToken::new())
        .launch_error
        .expect("launch must fail");
    assert_eq!(launch_error_code(&err), "ENOTDIR");
}

#[test]
fn cwd_is_used() {
    let mut spec = spec(&["pwd"]);
    spec.cwd = Some(PathBuf::from("/usr"));
    assert_eq!(run_spec(&spec).stdout, "/usr\n");
}

#[test]
fn a_relative_program_path_is_taken_from_cwd() {
    let mut spec = spec(&["./sh", "-c", "echo relative"]);
    spec.cwd = Some(PathBuf::from("/bin"));
    assert_eq!(run_spec(&spec).stdout, "relative\n");
}

#[test]
fn a_file_without_exec_permission_is_eacces() {
    let dir = processes::scratch_dir("exec");
    let script = dir.join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let outcome = run(&spec(&[script.to_str().unwrap()]), &CancelToken::new());
    let err = outcome.launch_error.expect("launch must fail");
    assert_eq!(launch_error_code(&err), "EACCES");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_script_without_a_shebang_runs_under_sh() {
    use std::os::unix::fs::PermissionsExt;
    let dir = processes::scratch_dir("exec");
    let script = dir.join("no-shebang");
    fs::write(&script, "echo \"from script: $1\"\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    // By path, and by name through PATH.
    let mut by_name = spec(&["no-shebang", "x y"]);
    by_name.env = vec![(
        "PATH".to_string(),
        format!("{}:/usr/bin:/bin", dir.display()),
    )];
    for spec in [spec(&[script.to_str().unwrap(), "x y"]), by_name] {
        let outcome = run_spec(&spec);
        assert_eq!(outcome.exit_code, Some(0));
        assert_eq!(outcome.stdout, "from script: x y\n");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_empty_argv_is_a_launch_error() {
    let outcome = run(&ExecSpec::default(), &CancelToken::new());
    assert_eq!(
        launch_error_code(&outcome.launch_error.expect("launch must fail")),
        "EINVAL"
    );
}

#[test]
fn a_background_grandchild_holding_the_pipes_does_not_hold_the_result() {
    let dir = processes::scratch_dir("exec");
    let pidfile = dir.join("grandchild");
    let mut spec = sh("sleep 100 & echo $! > \"$1\"; echo parent done");
    spec.argv
        .extend(["sh".to_string(), pidfile.display().to_string()]);
    let outcome = run_spec(&spec);
    let grandchild = read_pid(&pidfile);
    // Like the TS host, a grandchild of a successful command is left alone.
    let survived = is_running(grandchild);
    kill(grandchild);
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.stdout, "parent done\n");
    assert!(survived);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failed_command_takes_its_group_along() {
    let dir = processes::scratch_dir("exec");
    let pidfile = dir.join("grandchild");
    let mut spec = sh("sleep 100 & echo $! > \"$1\"; exit 1");
    spec.argv
        .extend(["sh".to_string(), pidfile.display().to_string()]);
    let outcome = run_spec(&spec);
    assert_eq!(outcome.exit_code, Some(1));
    assert!(!outcome.timed_out);
    let grandchild = read_pid(&pidfile);
    let gone = processes::wait_until_gone(grandchild, Duration::from_secs(10));
    if !gone {
        kill(grandchild);
    }
    assert!(gone, "grandchild {grandchild} outlived its failed parent");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_environment_is_exactly_the_spec() {
    let mut spec = spec(&["/usr/bin/env"]);
    spec.env = vec![
        ("ZED".to_string(), "last".to_string()),
        ("FOO".to_string(), "b a r".to_string()),
    ];
    let outcome = run_spec(&spec);
    let mut lines: Vec<&str> = outcome.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["FOO=b a r", "ZED=last"]);
}

#[test]
fn an_empty_environment_is_empty() {
    let mut spec = spec(&["/usr/bin/env"]);
    spec.env.clear();
    assert_eq!(run_spec(&spec).stdout, "");
}

#[test]
fn no_child_is_left_a_zombie() {
    let quick = |script: &str| {
        let mut spec = sh(script);
        spec.timeout = Some(Duration::from_millis(100));
        spec
    };
    let mut pids = Vec::new();
    for spec in [
        sh("true"),
        sh("exit 3"),
        sh("kill -9 $$"),
        sh("sleep 1 & exit 0"),
        quick("sleep 100"),
        quick("trap '' TERM; sleep 100"),
        quick("head -c 10000000 /dev/zero; sleep 100"),
    ] {
        pids.push(run_spec(&spec).pid.expect("launched"));
    }
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            cancel.cancel();
        })
    };
    if let Some(pid) = run(&sh("sleep 100"), &cancel).pid {
        pids.push(pid);
    }
    canceller.join().unwrap();
    for pid in pids {
        assert!(!is_our_zombie(pid), "process {pid} was left a zombie");
    }
}
