//! The Windows process runner against real Windows processes (under Wine in CI:
//! scripts/wine-test.sh): `cmd.exe` as the gateway wraps commands, exit codes, stderr, the
//! timeout and cancel through the run's Job object, the output cap, environment keys and
//! launch errors.
//!
//! No assertion depends on timing except "well before the command would have finished".
#![cfg(windows)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use openclaw_node::cancel::CancelToken;
use openclaw_node::exec::{self, ExecSpec};

/// The node's own environment, as `system.run` passes a sanitized copy of it.
fn node_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

fn cmd(line: &str) -> Vec<String> {
    ["cmd.exe", "/d", "/s", "/c", line].map(String::from).into()
}

fn run(argv: Vec<String>, timeout: Option<Duration>) -> exec::ExecOutcome {
    let spec = ExecSpec {
        argv,
        env: node_env(),
        timeout,
        ..ExecSpec::default()
    };
    exec::run(&spec, &CancelToken::new())
}

/// Wine passes the Unix environment through, WINEPREFIX and WINELOADER among it (scripts/wine-env.sh
/// sets the first); a real Windows has neither.
fn under_wine() -> bool {
    std::env::var_os("WINEPREFIX").is_some() || std::env::var_os("WINELOADER").is_some()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocn-win-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_gateways_cmd_wrapping_runs_and_captures_stdout() {
    let outcome = run(cmd("echo hi"), Some(Duration::from_secs(60)));
    assert!(outcome.launch_error.is_none(), "{:?}", outcome.launch_error);
    assert_eq!(outcome.stdout, "hi\r\n");
    assert_eq!(outcome.exit_code, Some(0));
    assert!(!outcome.timed_out);
}

#[test]
fn exit_codes_and_stderr_come_back() {
    let outcome = run(
        cmd("echo oops 1>&2 & exit 7"),
        Some(Duration::from_secs(60)),
    );
    assert_eq!(outcome.exit_code, Some(7));
    assert_eq!(exec::reported_exit_code(&outcome), Some(7));
    assert_eq!(outcome.stderr.trim_end(), "oops");
}

#[test]
fn a_timeout_kills_the_whole_tree_and_reports_124() {
    let dir = scratch("timeout");
    let marker = dir.join("late.txt");
    // An inner cmd.exe (a grandchild of the node) that would write the marker after ~3 s.
    let script = dir.join("late.cmd");
    std::fs::write(
        &script,
        format!(
            "@ping -n 4 127.0.0.1 >nul\r\n@echo late> \"{}\"\r\n",
            marker.display()
        ),
    )
    .unwrap();
    // The control: left alone, the grandchild does write it.
    let line = format!("cmd.exe /d /c {}", script.display());
    let control = run(cmd(&line), Some(Duration::from_secs(60)));
    assert_eq!(control.exit_code, Some(0), "{control:?}");
    assert!(marker.exists(), "the script did not write its marker");
    std::fs::remove_file(&marker).unwrap();
    let started = Instant::now();
    let outcome = run(
        // No quotes: libuv escapes them as \" inside the line, which cmd.exe does not read.
        cmd(&format!("cmd.exe /d /c {}", script.display())),
        Some(Duration::from_millis(500)),
    );
    assert!(outcome.timed_out);
    assert_eq!(exec::reported_exit_code(&outcome), Some(124));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Had the grandchild survived, it would have written the marker by now.
    std::thread::sleep(Duration::from_secs(5));
    assert!(!marker.exists(), "a process of the timed-out run survived");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cancel_ends_the_run_at_once() {
    let token = CancelToken::new();
    let canceller = token.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        canceller.cancel();
    });
    let spec = ExecSpec {
        argv: cmd("ping -n 30 127.0.0.1 >nul"),
        env: node_env(),
        timeout: Some(Duration::from_secs(120)),
        ..ExecSpec::default()
    };
    let started = Instant::now();
    let outcome = exec::run(&spec, &token);
    thread.join().unwrap();
    assert!(outcome.cancelled);
    assert!(!outcome.timed_out);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn output_past_the_cap_is_dropped_and_marked() {
    let dir = scratch("cap");
    let big = dir.join("big.txt");
    std::fs::write(&big, "0123456789\r\n".repeat(30_000)).unwrap();
    let outcome = run(
        cmd(&format!("type {}", big.display())),
        Some(Duration::from_secs(120)),
    );
    assert!(outcome.truncated);
    assert_eq!(outcome.exit_code, Some(0));
    assert!(outcome.stdout.ends_with(exec::TRUNCATION_MARKER));
    assert_eq!(
        outcome.stdout.len(),
        exec::DEFAULT_OUTPUT_CAP + exec::TRUNCATION_MARKER.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn environment_keys_are_case_insensitive_the_last_one_winning() {
    let mut env: Vec<(String, String)> = node_env()
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("FOO"))
        .collect();
    env.push(("FOO".into(), "first".into()));
    env.push(("foo".into(), "second".into()));
    let spec = ExecSpec {
        argv: cmd("echo %FOO%"),
        env,
        timeout: Some(Duration::from_secs(60)),
        ..ExecSpec::default()
    };
    let outcome = exec::run(&spec, &CancelToken::new());
    assert_eq!(outcome.stdout.trim_end(), "second");
}

#[test]
fn a_missing_program_is_enoent_and_a_bad_cwd_fails_to_launch() {
    let outcome = run(vec!["no-such-program-here".into()], None);
    let err = outcome.launch_error.expect("launch error");
    assert_eq!(exec::launch_error_code(&err), "ENOENT");
    let spec = ExecSpec {
        argv: cmd("echo hi"),
        env: node_env(),
        cwd: Some(Path::new(r"C:\no\such\dir").to_path_buf()),
        ..ExecSpec::default()
    };
    let outcome = exec::run(&spec, &CancelToken::new());
    assert!(outcome.launch_error.is_some());
}

#[test]
fn a_batch_file_runs_through_cmd_with_quoted_arguments() {
    let dir = scratch("batch");
    std::fs::write(dir.join("show.cmd"), "@echo [%~1]\r\n").unwrap();
    let mut env = node_env();
    env.push(("PATH".into(), dir.display().to_string()));
    let spec = ExecSpec {
        argv: vec!["show".into(), "a b".into()],
        env,
        timeout: Some(Duration::from_secs(60)),
        ..ExecSpec::default()
    };
    let outcome = exec::run(&spec, &CancelToken::new());
    assert!(outcome.launch_error.is_none(), "{:?}", outcome.launch_error);
    assert_eq!(outcome.stdout.trim_end(), "[a b]");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn system_which_tries_pathext_and_a_name_that_has_its_extension() {
    use openclaw_node::commands::system_which::which;
    let system = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\windows".into());
    let path = format!(r"C:\no\such;{system}\system32");
    let found = which("cmd", &path).expect("cmd found");
    assert!(
        found.to_ascii_lowercase().ends_with(r"\system32\cmd.exe"),
        "{found}"
    );
    let found = which("cmd.exe", &path).expect("cmd.exe found");
    assert!(
        found.to_ascii_lowercase().ends_with(r"\system32\cmd.exe"),
        "{found}"
    );
    assert_eq!(which("no-such-tool", &path), None);
}

#[test]
fn state_files_are_written_owner_only_replaced_atomically_and_read_back() {
    use openclaw_node::state::trusted::read_trusted;
    use openclaw_node::state::write_atomic;
    let dir = scratch("state");
    let path = dir.join("openclaw-node").join("status.json");
    write_atomic(&path, b"one").unwrap();
    write_atomic(&path, b"two").unwrap();
    assert_eq!(read_trusted(&path, 64).unwrap().unwrap(), b"two");
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("status.json")],
        "no temporary file is left"
    );
    assert!(read_trusted(&path, 2).is_err(), "the size cap holds");
    assert_eq!(read_trusted(&dir.join("missing.json"), 64).unwrap(), None);
    assert!(
        read_trusted(&dir, 64).is_err(),
        "a directory is not a state file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_state_file_is_replaced_while_a_reader_holds_it_open() {
    use openclaw_node::state::write_atomic;
    let dir = scratch("held");
    let path = dir.join("node.json");
    write_atomic(&path, b"old").unwrap();
    // std opens with FILE_SHARE_READ | WRITE | DELETE, as most readers do.
    let reader = std::fs::File::open(&path).unwrap();
    let replaced = write_atomic(&path, b"new");
    drop(reader);
    if under_wine() {
        // Wine refuses any rename over a file that is open (real Windows 10 replaces it with
        // POSIX rename semantics): then the write must fail after its retries and lose nothing.
        let err = replaced.expect_err("Wine refuses the replacement");
        assert!(err.message.contains("replacing the file"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"old",
            "the old file is intact"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file is left"
        );
    } else {
        replaced.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_run_per_state_directory() {
    use openclaw_node::state::run_lock::{LockError, RunLock};
    let dir = scratch("runlock");
    let path = dir.join("openclaw-node").join("run.lock");
    let first = RunLock::acquire(&path).unwrap();
    match RunLock::acquire(&path) {
        Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("a second lock was not refused: {other:?}"),
    }
    drop(first);
    RunLock::acquire(&path).expect("free again once the first is dropped");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Under Wine only: on a real Windows this would replace the user's own "OpenClaw Node" task
/// (scripts/windows-manual-test.ps1 covers the service there).
#[test]
fn install_registers_the_scheduled_task_and_uninstall_removes_it() {
    if !under_wine() {
        eprintln!("skipped: registers the real \"OpenClaw Node\" task outside Wine");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_openclaw-node");
    let dir = scratch("service");
    let state = dir.join(".openclaw");
    let node = |args: &[&str]| {
        std::process::Command::new(exe)
            .args(args)
            .env("OPENCLAW_STATE_DIR", &state)
            .env("OPENCLAW_GATEWAY_TOKEN", "tok-secret-1234")
            .output()
            .unwrap()
    };
    let schtasks = |args: &[&str]| {
        std::process::Command::new("schtasks.exe")
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    };
    let _ = schtasks(&["/Delete", "/F", "/TN", "OpenClaw Node"]);
    let out = node(&["install", "--host", "127.0.0.1", "--port", "1", "--json"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("\"ok\": true") || report.contains("\"ok\":true"),
        "{report}"
    );
    let cmd = std::fs::read_to_string(state.join("node.cmd")).unwrap();
    assert!(cmd.contains("OPENCLAW_NODE_CREDENTIALS_FILE="), "{cmd}");
    assert!(
        !cmd.contains("tok-secret-1234"),
        "the token is never in the launcher"
    );
    assert!(std::fs::read(state.join("node.vbs"))
        .unwrap()
        .starts_with(b"' OpenClaw"));
    let env_file =
        std::fs::read_to_string(state.join("openclaw-node").join("service.env")).unwrap();
    assert!(env_file.contains("OPENCLAW_GATEWAY_TOKEN=\"tok-secret-1234\""));
    // Registered: Wine's /Delete is real (its /Query is a stub), so deleting it succeeds once.
    assert!(
        schtasks(&["/Delete", "/F", "/TN", "OpenClaw Node"]),
        "install registered the task"
    );
    // A second install without --force is refused; with it the task is registered again.
    let again = node(&["install", "--host", "127.0.0.1", "--port", "1"]);
    assert!(!again.status.success());
    let out = node(&["install", "--force", "--host", "127.0.0.1", "--port", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `stop` ends the node the task started (Wine's /End is a stub: this is the status-file path).
    let mut running = std::process::Command::new(exe)
        .args(["run", "--host", "127.0.0.1", "--port", "1"])
        .env("OPENCLAW_STATE_DIR", &state)
        .env("OPENCLAW_GATEWAY_TOKEN", "tok-secret-1234")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_file = state.join("openclaw-node").join("status.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !status_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(status_file.exists(), "the node wrote no status file");
    let out = node(&["stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = running.try_wait().unwrap();
    if ended.is_none() {
        let _ = running.kill();
    }
    assert!(ended.is_some(), "stop left the node running");

    let out = node(&["uninstall", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!state.join("node.cmd").exists() && !state.join("node.vbs").exists());
    assert!(
        !schtasks(&["/Delete", "/F", "/TN", "OpenClaw Node"]),
        "uninstall removed the task"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
