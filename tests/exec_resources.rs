//! The process runner leaks nothing: no descriptor, no thread, no zombie, on any path.
//!
//! One test alone in its own binary, so that no other test opens descriptors, starts threads or
//! spawns children while it counts them.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::fs;
use std::thread;
use std::time::Duration;

use openclaw_node::cancel::CancelToken;
use openclaw_node::exec::{run, ExecSpec};

fn sh(script: &str, timeout_ms: u64) -> ExecSpec {
    ExecSpec {
        argv: vec!["sh".to_string(), "-c".to_string(), script.to_string()],
        env: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
        timeout: Some(Duration::from_millis(timeout_ms)),
        ..ExecSpec::default()
    }
}

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    fs::read_dir("/proc/self/task").unwrap().count()
}

/// Children of this process that exited and were never reaped.
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut zombies = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 2..].split(' ');
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            zombies.push(pid);
        }
    }
    zombies
}

#[test]
fn runs_leak_no_descriptor_thread_or_zombie() {
    // Warm up lazily created process-wide state (std's spawn machinery, the log facade).
    run(&sh("true", 60_000), &CancelToken::new());
    let fds_before = open_fds();
    let threads_before = threads();

    let grandchildren =
        std::env::temp_dir().join(format!("openclaw-exec-leak-{}", std::process::id()));
    for _ in 0..3 {
        for spec in [
            sh("echo out; echo err >&2", 60_000),
            sh("exit 3", 60_000),
            sh("kill -9 $$", 60_000),
            sh("head -c 1000000 /dev/zero", 60_000),
            sh(
                &format!("sleep 100 & echo $! >> '{}'", grandchildren.display()),
                60_000,
            ),
            sh("sleep 100 & exit 1", 60_000),
            sh("sleep 100", 50),
            sh("trap '' TERM; sleep 100", 50),
        ] {
            run(&spec, &CancelToken::new());
        }
        let mut missing = sh("true", 60_000);
        missing.cwd = Some("/nonexistent-dir".into());
        assert!(run(&missing, &CancelToken::new()).launch_error.is_some());

        let cancel = CancelToken::new();
        let canceller = {
            let cancel = cancel.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                cancel.cancel();
            })
        };
        run(&sh("sleep 100", 60_000), &cancel);
        canceller.join().unwrap();
    }

    // The grandchildren of successful commands are left running by design; end them.
    for pid in fs::read_to_string(&grandchildren)
        .unwrap_or_default()
        .lines()
    {
        if let Some(pid) = pid
            .trim()
            .parse()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    let _ = fs::remove_file(&grandchildren);

    assert_eq!(open_fds(), fds_before, "descriptors leaked");
    assert_eq!(threads(), threads_before, "threads leaked");
    assert_eq!(
        zombie_children(),
        Vec::<u32>::new(),
        "children left unreaped"
    );
}
