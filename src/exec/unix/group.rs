//! The one owner of a spawned process group: spawn, signal, wait, TERM then KILL, reap.
//!
//! Every child the node starts goes through [`ProcessGroup`]: the commands `system.run` runs
//! (their supervisor adds the pipes, the deadline and the cancel on top), the service
//! manager's tools (through [`crate::exec::run`]), and Chromium. The type guarantees that the
//! leader is reaped: dropping a group whose leader has not been reaped kills the whole group
//! and waits for the leader.
//!
//! Waiting sleeps in `poll(2)` on a pidfd (Linux 5.3+), so a wait costs no wake-ups; where
//! there is no pidfd it checks the leader's exit at bounded intervals (1 ms doubling to
//! 50 ms) instead.
//!
//! On signalling a group whose leader was reaped: see the note in `supervise.rs` (Linux does
//! not hand out a pid again while any process is still in a group of that id).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{
    getpgid, kill_process, kill_process_group, test_kill_process, test_kill_process_group, Pid,
    Signal,
};

/// Without a pidfd the leader's exit is checked this often at most.
const MAX_EXIT_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// A process group led by a child of the node.
pub struct ProcessGroup {
    child: Child,
    pid: Pid,
    /// Readable once the leader exits; `None` without pidfds, and once the leader is reaped.
    exit_watch: Option<OwnedFd>,
    /// Set once the leader has been reaped: its status, or `None` when someone else reaped it
    /// (the process ignores SIGCHLD) and the status is lost.
    reaped: Option<Option<ExitStatus>>,
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("pid", &self.id())
            .field("reaped", &self.reaped)
            .finish()
    }
}

impl ProcessGroup {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> io::Result<ProcessGroup> {
        // A new group led by the child, so that signals reach everything it starts.
        command.process_group(0);
        let child = super::reaper::spawn_registered(command)?;
        Ok(ProcessGroup::adopt(child))
    }

    fn adopt(child: Child) -> ProcessGroup {
        let pid = Pid::from_child(&child);
        ProcessGroup {
            exit_watch: watch_exit(pid),
            child,
            pid,
            reaped: None,
        }
    }

    /// The leader's pid, which is also the group id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The leader's stdout pipe, when it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The leader's stderr pipe, when it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// The leader's stdin pipe, when it was piped and not taken yet (a peer the node talks
    /// to over stdio: an MCP server).
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// Closes the leader's stdin pipe, when it was piped.
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// A descriptor that becomes readable when the leader exits, for callers that poll it with
    /// descriptors of their own. `None` without pidfds (then call [`ProcessGroup::try_wait`] at
    /// intervals) and once the leader is reaped.
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.exit_watch.as_ref().map(|fd| fd.as_fd())
    }

    /// The leader's exit status once reaped (`None` inside when it was lost).
    pub fn exit_status(&self) -> Option<Option<ExitStatus>> {
        self.reaped
    }

    /// Reaps the leader if it has exited. `Ok(None)`: still running. An error means its status
    /// is lost (someone else reaped it); the leader then counts as reaped.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(reaped) = self.reaped {
            return Ok(reaped);
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.on_reaped(Some(status));
                Ok(Some(status))
            }
            Ok(None) => Ok(None),
            Err(err) => {
                self.on_reaped(None);
                Err(err)
            }
        }
    }

    fn on_reaped(&mut self, status: Option<ExitStatus>) {
        super::reaper::forget(self.pid);
        self.reaped = Some(status);
        self.exit_watch = None;
    }

    /// Waits until the leader exits (and reaps it) or `deadline` passes; true when it was
    /// reaped.
    pub fn wait_until(&mut self, deadline: Instant) -> bool {
        let mut interval = Duration::from_millis(1);
        loop {
            if self.try_wait().map_or(true, |status| status.is_some()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match &self.exit_watch {
                Some(fd) => {
                    let mut fds = [PollFd::new(fd, PollFlags::IN)];
                    match crate::cancel::poll_until(&mut fds, Some(deadline)) {
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(err) => {
                            log::debug!(
                                "exec: poll on a pidfd failed ({err}); checking by interval"
                            );
                            self.exit_watch = None;
                        }
                    }
                }
                None => {
                    std::thread::sleep(interval.min(deadline - now));
                    interval = (interval * 2).min(MAX_EXIT_CHECK_INTERVAL);
                }
            }
        }
    }

    /// [`ProcessGroup::wait_until`] `timeout` from now.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        self.wait_until(Instant::now() + timeout)
    }

    /// Signals the process group, and the leader too if it moved to another group. Returns
    /// whether any process may have received it.
    pub fn signal(&self, signal: Signal) -> bool {
        let to_group = kill_process_group(self.pid, signal);
        if let Err(err) = to_group {
            if err != Errno::SRCH {
                log::debug!(
                    "exec: signalling process group {} failed ({err})",
                    self.pid.as_raw_nonzero()
                );
            }
        }
        // Only while it is unreaped: then the pid cannot belong to anyone else. Signalling it
        // when it is still in the group would deliver the signal twice to a trapping child.
        let left_group =
            self.reaped.is_none() && getpgid(Some(self.pid)).is_ok_and(|group| group != self.pid);
        let to_child = left_group && kill_process(self.pid, signal).is_ok();
        to_group.is_ok() || to_child
    }

    /// Whether any process is still in the group (a member that just died stays visible until
    /// it is reaped).
    pub fn has_members(&self) -> bool {
        test_kill_process_group(self.pid).is_ok()
    }

    /// SIGTERM to the group; waits up to `grace` for the leader; SIGKILL to the group (helpers
    /// may outlive the leader briefly, and a leader that ignored the TERM gets it too); reaps
    /// the leader. Returns once the leader is reaped.
    pub fn terminate(&mut self, grace: Duration) {
        self.signal(Signal::TERM);
        self.wait_timeout(grace);
        self.kill();
    }

    /// SIGKILL to the group and reaps the leader.
    pub fn kill(&mut self) {
        self.signal(Signal::KILL);
        if self.reaped.is_none() {
            let status = self.child.wait().ok();
            self.on_reaped(status);
        }
    }
}

impl Drop for ProcessGroup {
    /// A group whose leader is still unreaped is killed, so no path leaves a zombie or a
    /// stray group behind. A reaped leader's group is left alone: `system.run` lets a
    /// background grandchild of a successful command live on, as the TS host does.
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.kill();
        }
    }
}

/// Kills a process group the node did not start, led by `pid` (a browser an earlier run of
/// the node left behind: its leader is not our child, so no [`ProcessGroup`] owns it), and
/// waits until the leader has exited or `deadline` passes; true when it exited.
///
/// A pidfd works for any process, not only our children: the wait sleeps in `poll` until the
/// leader exits. Without one, the leader is looked at every 20 ms (until its parent reaps it).
pub fn kill_foreign_group(pid: Pid, deadline: Instant) -> bool {
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = kill_process(pid, Signal::KILL);
    if let Some(fd) = watch_exit(pid) {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        loop {
            match crate::cancel::poll_until(&mut fds, Some(deadline)) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(Errno::INTR) => {}
                Err(_) => break,
            }
        }
    }
    while test_kill_process(pid).is_ok() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A pidfd that becomes readable when the child exits (Linux 5.3+). `None` elsewhere, or when
/// the kernel refuses, selects the interval check.
#[cfg(target_os = "linux")]
fn watch_exit(pid: Pid) -> Option<OwnedFd> {
    // The child is not reaped yet, so `pid` cannot name another process.
    match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => Some(fd),
        Err(err) => {
            log::debug!("exec: pidfd_open failed ({err}); checking the child's exit by interval");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn watch_exit(_pid: Pid) -> Option<OwnedFd> {
    None
}

#[cfg(test)]
impl ProcessGroup {
    /// Forgets the pidfd, to exercise the interval check of systems without one.
    pub(crate) fn without_pidfd(mut self) -> ProcessGroup {
        self.exit_watch = None;
        self
    }

    fn pid(&self) -> Pid {
        self.pid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> ProcessGroup {
        ProcessGroup::spawn(Command::new("/bin/sh").args(["-c", script])).expect("spawn sh")
    }

    #[test]
    fn terminate_reaches_the_whole_group_and_reaps() {
        // The grandchild ignores TERM: only the KILL after the grace ends it.
        let mut group = sh("trap '' TERM; sleep 100 & wait");
        let started = Instant::now();
        group.terminate(Duration::from_millis(100));
        assert!(group.exit_status().is_some());
        assert!(started.elapsed() < Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(5);
        while group.has_members() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!group.has_members(), "a member of the group survived");
    }

    #[test]
    fn waits_end_at_the_exit_or_the_deadline() {
        for pidfd in [true, false] {
            let mut group = sh("sleep 0.1; exit 3");
            if !pidfd {
                group = group.without_pidfd();
            }
            assert!(!group.wait_timeout(Duration::from_millis(10)));
            assert!(group.wait_timeout(Duration::from_secs(10)));
            let status = group.exit_status().flatten().expect("a status");
            assert_eq!(status.code(), Some(3));
        }
    }

    #[test]
    fn dropping_an_unreaped_group_kills_it() {
        // `exec`: the leader is the group's only member, so nothing is left for init to reap.
        let group = sh("exec sleep 100");
        let pid = group.pid();
        drop(group);
        assert!(test_kill_process_group(pid).is_err());
    }

    #[test]
    fn a_foreign_group_is_killed_and_waited_for() {
        // Our child here, but killed and waited for as if it were not: the pidfd wait.
        let mut group = sh("exec sleep 100");
        assert!(kill_foreign_group(
            group.pid(),
            Instant::now() + Duration::from_secs(5)
        ));
        assert!(group.wait_timeout(Duration::from_secs(5)));
    }
}
