//! Descendants that left a run's process group: finding them on a timeout or a cancel, killing
//! them, and reaping the orphans the node adopts as a child subreaper.
//!
//! Killing the process group is not enough: `setsid cmd &` or `setpgid` takes a descendant out
//! of it, and a background child holding the output pipe may be one of those. On Linux the node
//! makes itself a child subreaper ([`become_subreaper`], `PR_SET_CHILD_SUBREAPER`) in `run`, so
//! a descendant whose parent dies is re-parented to the node instead of to init, and can still
//! be found.
//!
//! **The rule.** When a run times out or is cancelled, the node SIGKILLs, besides the group
//! (whose members keep the TERM-then-KILL sequence), those of the following not in it:
//!
//! 1. every live descendant of the run's direct child (the parent chain in `/proc/<pid>/stat`
//!    leads to it), while that child is unreaped (its pid cannot be anyone else's then);
//! 2. every *adopted orphan*: a process whose parent is the node, that the node did not spawn
//!    itself (it is not in the registry of direct children kept below), that started at or
//!    after the run's direct child, and that is not in the process group or session of one of
//!    the node's own direct children (Chromium, an MCP server), together with its descendants.
//!
//! This is done twice: when the run's group is sent SIGTERM (rule 1 still sees the whole tree)
//! and when the run is over (everything orphaned since then has been adopted). Each victim is
//! opened as a pidfd and its start time checked again before the signal, so a reused pid is
//! never signalled. Escaped descendants get SIGKILL at once, not the group's TERM grace.
//!
//! Rule 2 cannot tell whose orphan a process is: when runs overlap, a run's timeout also kills
//! an orphan (a double-forked job that left its session) that an overlapping run started after
//! this run's child did. A normal exit kills nothing: `nohup job &` is how agents start long
//! work, and it outlives the run as it does under the TS host. A non-zero exit still takes only
//! the process group along.
//!
//! **Reaping.** Adopted orphans become the node's zombies when they exit. std's `Child::wait`
//! and the pidfd waits in [`super::ProcessGroup`] wait for *specific* pids, so a `waitpid(-1)`
//! reaper would steal their statuses. Instead every child the node spawns is entered in a
//! registry (under a lock held across the spawn, so no reaper sees it before it is entered),
//! and [`reap_orphans`] reaps, one `waitpid(pid, WNOHANG)` each, only zombies whose parent is
//! the node and that are not in the registry. It runs when a run ends; the common case is one
//! `waitid(WNOWAIT)` that finds nothing waitable. An orphan that exits while the node is idle
//! stays a zombie (no memory, one pid) until the next run ends; nothing polls.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal};

/// The node's unreaped direct children (every [`super::ProcessGroup`] leader).
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Set once this process is a child subreaper: only then are orphans ours to find and reap.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// Held shared by every spawn until its child is listed, alone by the reaper while it decides.
static SPAWN_GATE: RwLock<()> = RwLock::new(());

/// When [`reap_orphans`] last looked (epoch ms), and how often it may.
static LAST_REAP_MS: AtomicU64 = AtomicU64::new(0);
const REAP_INTERVAL_MS: u64 = 200;

/// How long the final sweep waits for the processes it killed to die, so that they can be
/// reaped before the run returns.
const KILLED_EXIT_WAIT: Duration = Duration::from_secs(2);

fn children() -> MutexGuard<'static, Vec<i32>> {
    // A panic while holding the lock leaves a plain list of pids; it is still right.
    CHILDREN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes this process a child subreaper (Linux): descendants whose parent dies are re-parented
/// to it, so that a run's timeout finds them. `run` calls it at start; elsewhere it fails with
/// `Unsupported`.
pub fn become_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
        SUBREAPER.store(true, Ordering::SeqCst);
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Spawns `command`, entering the child in the registry of direct children before any reaper
/// can look.
pub(super) fn spawn_registered(command: &mut Command) -> io::Result<Child> {
    // Spawns share the gate, so they run side by side; the reaper takes it alone, for the
    // moment it decides that a zombie is nobody's, so no child is ever seen unlisted.
    let _spawning = SPAWN_GATE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    let child = command.spawn()?;
    children().push(child.id() as i32);
    Ok(child)
}

/// Takes a reaped direct child out of the registry.
pub(super) fn forget(pid: Pid) {
    let raw = pid.as_raw_nonzero().get();
    children().retain(|&known| known != raw);
}

/// The fields of `/proc/<pid>/stat` the rule needs.
#[derive(Debug, Clone, Copy)]
struct Stat {
    state: u8,
    ppid: i32,
    pgrp: i32,
    session: i32,
    /// Clock ticks since boot (field 22).
    start: u64,
}

fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses; split at the last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(Stat {
        state: *fields.first()?.as_bytes().first()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn all_processes() -> Vec<(i32, Stat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// One run's direct child, as the rule needs it.
pub(super) struct RunTree {
    leader: Pid,
    leader_start: u64,
}

impl RunTree {
    /// Called while the child is unreaped, so its pid is its own. `None` without `/proc`.
    pub fn new(leader: Pid) -> Option<RunTree> {
        let stat = read_stat(leader.as_raw_nonzero().get())?;
        Some(RunTree {
            leader,
            leader_start: stat.start,
        })
    }

    /// SIGKILLs the run's escaped descendants (the rule above); `leader_alive` says whether the
    /// direct child is still unreaped (rule 1 applies). Returns pidfds of the processes killed.
    pub fn kill_escaped(&self, leader_alive: bool) -> Vec<OwnedFd> {
        // Alone at the spawn gate while deciding: a child another run spawns meanwhile would
        // otherwise be a direct child missing from the list, and taken for an orphan.
        let _alone = SPAWN_GATE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let leader = self.leader.as_raw_nonzero().get();
        let registry: HashSet<i32> = children().iter().copied().collect();
        let processes = all_processes();
        let mut by_parent: HashMap<i32, Vec<i32>> = HashMap::new();
        for (pid, stat) in &processes {
            by_parent.entry(stat.ppid).or_default().push(*pid);
        }
        // Groups and sessions led by the node's own children (Chromium, MCP servers).
        let owned_groups: HashSet<i32> = registry.iter().copied().filter(|&p| p != leader).collect();
        let mut roots: Vec<i32> = Vec::new();
        if leader_alive {
            roots.push(leader);
        }
        if SUBREAPER.load(Ordering::SeqCst) {
            roots.extend(processes.iter().filter_map(|(pid, stat)| {
                let adopted = stat.ppid == me
                    && *pid != leader
                    && !registry.contains(pid)
                    && stat.start >= self.leader_start
                    && !owned_groups.contains(&stat.pgrp)
                    && !owned_groups.contains(&stat.session);
                adopted.then_some(*pid)
            }));
        }
        let mut victims: HashSet<i32> = HashSet::new();
        let mut stack = roots;
        while let Some(pid) = stack.pop() {
            if pid != leader && pid != me && !victims.insert(pid) {
                continue;
            }
            if let Some(kids) = by_parent.get(&pid) {
                stack.extend(kids.iter().copied().filter(|kid| !victims.contains(kid)));
            }
        }
        // Members still in the run's group get the group's TERM, then KILL: a trapping shell
        // keeps its orderly end. Only what left the group is killed here.
        let escaped: HashMap<i32, u64> = processes
            .iter()
            .filter(|(_, stat)| stat.pgrp != leader)
            .map(|(pid, stat)| (*pid, stat.start))
            .collect();
        victims
            .into_iter()
            .filter(|pid| *pid != leader && *pid != me && !registry.contains(pid))
            .filter_map(|pid| kill_if_same(pid, *escaped.get(&pid)?))
            .collect()
    }
}

/// SIGKILLs `pid` if it is still the process that started at `start`: opened as a pidfd first,
/// so the check and the signal are about the same process.
fn kill_if_same(pid: i32, start: u64) -> Option<OwnedFd> {
    if start == 0 {
        return None;
    }
    let pid = Pid::from_raw(pid)?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
    let same = read_stat(pid.as_raw_nonzero().get()).is_some_and(|stat| stat.start == start);
    if !same {
        return None;
    }
    log::debug!(
        "exec: killing process {} that left the run's process group",
        pid.as_raw_nonzero()
    );
    rustix::process::pidfd_send_signal(&fd, Signal::KILL).ok()?;
    Some(fd)
}

/// Waits (bounded) until the killed processes have died, so that [`reap_orphans`] finds them.
pub(super) fn wait_for_deaths(killed: &[OwnedFd]) {
    let deadline = Instant::now() + KILLED_EXIT_WAIT;
    for fd in killed {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        while let Err(rustix::io::Errno::INTR) = crate::cancel::poll_until(&mut fds, Some(deadline))
        {
        }
    }
}

/// Reaps the node's zombie children that it did not spawn itself (adopted orphans). Does
/// nothing unless this process is a child subreaper.
pub(super) fn reap_orphans() {
    if !SUBREAPER.load(Ordering::SeqCst) {
        return;
    }
    // At most one look every REAP_INTERVAL: with runs in flight a run ends every few hundred
    // microseconds, and an orphan's zombie can wait for the next run to end after that. This is
    // not a timer: nothing wakes up for it, so an idle node stays idle.
    let now = crate::clock::now_ms();
    let last = LAST_REAP_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < REAP_INTERVAL_MS
        || LAST_REAP_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    use rustix::process::{waitid, waitpid, WaitId, WaitIdOptions, WaitOptions};
    // Peek: is any child waitable at all? (WNOWAIT leaves it waitable for its owner.) With
    // runs in flight this is often another run's child its supervisor has not reaped yet, so
    // what follows must stay cheap and must not hold up spawns.
    let peek = waitid(
        WaitId::All,
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
    );
    if !matches!(peek, Ok(Some(_))) {
        return;
    }
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let zombies: Vec<i32> = node_children()
        .into_iter()
        .filter(|pid| {
            read_stat(*pid).is_some_and(|stat| stat.ppid == me && stat.state == b'Z')
        })
        .collect();
    for pid in zombies {
        // Checked with the spawn gate held alone: a child spawned while the children were read
        // is listed by now, so it is never taken for an orphan.
        let _alone = SPAWN_GATE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if children().contains(&pid) {
            continue;
        }
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = waitpid(Some(pid), WaitOptions::NOHANG);
        }
    }
}

/// The node's own children: `/proc/self/task/*/children` (one file per thread, the children
/// that thread created or adopted), else every process (kernels without those files).
fn node_children() -> Vec<i32> {
    let mut pids = Vec::new();
    let mut found_any_file = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                found_any_file = true;
                pids.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    if !found_any_file {
        pids = all_processes().into_iter().map(|(pid, _)| pid).collect();
    }
    pids
}
