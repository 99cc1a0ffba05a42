//! Descendants that leave a run's process group (`setsid`), with the test process a child
//! subreaper as the node is: killed on a timeout or a cancel, left alone after a normal exit,
//! and reaped when they die.
//!
//! The tests run one at a time: a run's timeout kills orphans adopted since it started
//! (`src/exec/reaper.rs`), which would include another test's detached job.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

#[path = "support/processes.rs"]
mod processes;
use processes::{is_running, kill, process_state, read_pid};

use openclaw_node::cancel::CancelToken;
use openclaw_node::exec::{become_subreaper, run, ExecOutcome, ExecSpec};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    become_subreaper().expect("PR_SET_CHILD_SUBREAPER");
    guard
}

/// `sh -c SCRIPT sh PIDFILE` with a timeout.
fn sh(script: &str, pidfile: &Path, timeout: Duration) -> ExecSpec {
    ExecSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            pidfile.display().to_string(),
        ],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        timeout: Some(timeout),
        ..ExecSpec::default()
    }
}

fn assert_gone(pid: u32, what: &str) {
    let gone = processes::wait_until_gone(pid, Duration::from_secs(5));
    if !gone {
        kill(pid);
    }
    assert!(gone, "{what} {pid} survived");
}

fn run_it(spec: &ExecSpec) -> ExecOutcome {
    let outcome = run(spec, &CancelToken::new());
    assert!(outcome.launch_error.is_none(), "{:?}", outcome.launch_error);
    outcome
}

#[test]
fn a_setsid_grandchild_is_killed_at_the_timeout() {
    let _serial = serial();
    let dir = processes::scratch_dir("reaper");
    let pidfile = dir.join("pid");
    let spec = sh(
        "setsid sleep 1000 >/dev/null 2>&1 & echo $! > \"$1\"; wait",
        &pidfile,
        Duration::from_millis(300),
    );
    let outcome = run_it(&spec);
    assert!(outcome.timed_out);
    assert_gone(read_pid(&pidfile), "setsid grandchild");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_orphaned_setsid_grandchild_is_killed_at_the_timeout() {
    // The subshell exits at once: the sleep is orphaned and adopted by the subreaper.
    let _serial = serial();
    let dir = processes::scratch_dir("reaper");
    let pidfile = dir.join("pid");
    let spec = sh(
        "(setsid sleep 1000 >/dev/null 2>&1 & echo $! > \"$1\"); sleep 100",
        &pidfile,
        Duration::from_millis(300),
    );
    let outcome = run_it(&spec);
    assert!(outcome.timed_out);
    let pid = read_pid(&pidfile);
    assert_gone(pid, "orphaned setsid grandchild");
    // Killed and reaped by the run, not left a zombie of this process.
    assert!(
        process_state(pid).is_none(),
        "{pid} left as {:?}",
        process_state(pid)
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_setsid_grandchild_is_killed_on_cancel() {
    let _serial = serial();
    let dir = processes::scratch_dir("reaper");
    let pidfile = dir.join("pid");
    let spec = sh(
        "(setsid sleep 1000 >/dev/null 2>&1 & echo $! > \"$1\"); sleep 100",
        &pidfile,
        Duration::from_secs(60),
    );
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        let pidfile = pidfile.clone();
        thread::spawn(move || {
            read_pid(&pidfile);
            cancel.cancel();
        })
    };
    let outcome = run(&spec, &cancel);
    canceller.join().unwrap();
    assert!(outcome.cancelled);
    assert_gone(read_pid(&pidfile), "setsid grandchild of a cancelled run");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_background_child_holding_the_pipe_is_killed_at_the_timeout() {
    // In its own session, so the group's signals miss it; it keeps stdout and stderr open.
    let _serial = serial();
    let dir = processes::scratch_dir("reaper");
    let pidfile = dir.join("pid");
    let spec = sh(
        "setsid sh -c 'echo held; exec sleep 1000' & echo $! > \"$1\"; sleep 100",
        &pidfile,
        Duration::from_millis(300),
    );
    let started = std::time::Instant::now();
    let outcome = run_it(&spec);
    assert!(outcome.timed_out);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(outcome.stdout, "held\n");
    assert_gone(read_pid(&pidfile), "pipe holder");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_detached_job_survives_a_normal_exit_and_is_reaped_when_it_dies() {
    let _serial = serial();
    let dir = processes::scratch_dir("reaper");
    let pidfile = dir.join("pid");
    let spec = sh(
        "(setsid nohup sleep 1000 >/dev/null 2>&1 & echo $! > \"$1\"); echo started",
        &pidfile,
        Duration::from_secs(60),
    );
    let outcome = run_it(&spec);
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.stdout, "started\n");
    let job = read_pid(&pidfile);
    let survived = is_running(job);
    let adopted = process_state(job).map(|(_, ppid)| ppid) == Some(std::process::id());
    kill(job);
    assert!(survived, "the detached job {job} did not survive the run");
    assert!(
        adopted,
        "the detached job {job} was not adopted by the subreaper"
    );
    // Dead, it is this process's zombie until a run ends and reaps it: the first run to end
    // once the reaper's 200 ms interval since its last look has passed.
    assert!(processes::wait_until_gone(job, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(250));
    run_it(&sh("true", &pidfile, Duration::from_secs(60)));
    assert!(
        process_state(job).is_none(),
        "the dead job {job} was left {:?}",
        process_state(job)
    );
    fs::remove_dir_all(dir).unwrap();
}
