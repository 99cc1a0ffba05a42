//! Real processes as the exec tests see them: scratch directories, `/proc` states, pid files,
//! bounded waits. Included by path from the tests that need only this, not the fake gateway.

// Each test file uses its own part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A fresh directory for one test, named after the test file (`label`).
pub fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "openclaw-{label}-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The state letter and parent of a process from /proc, `None` when it does not exist.
pub fn process_state(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

pub fn is_running(pid: u32) -> bool {
    matches!(process_state(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Waits at most `within` for a process to stop running: a signalled process needs a moment
/// to die.
pub fn wait_until_gone(pid: u32, within: Duration) -> bool {
    let step = Duration::from_millis(10);
    for _ in 0..(within.as_millis() / step.as_millis()).max(1) {
        if !is_running(pid) {
            return true;
        }
        thread::sleep(step);
    }
    false
}

/// The pid a script wrote into `path`, waiting (bounded) for it to appear.
pub fn read_pid(path: &Path) -> u32 {
    for _ in 0..1000 {
        if let Ok(text) = fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("no pid in {}", path.display());
}

pub fn kill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}
