//! Watching one running child from the caller's thread: read its pipes, notice its exit, its
//! deadline and a cancel, and terminate its process group, all from one `poll(2)` loop.
//!
//! Each turn of the loop first acts on the clock and the cancel flag (signals, closing the
//! pipes), then decides whether the run is over, then sleeps in `poll` until the next event or
//! the nearest deadline. Nothing is done on a timer that an event could tell us instead.
//!
//! A note on signalling the group after the direct child has been reaped: the group id is the
//! child's pid, and Linux does not hand out a pid again while any process is still in a group
//! of that id. Only when the group is already empty could a signal reach a stranger, and only
//! if the pid space wrapped around and the new owner also made itself a group leader within
//! the ≤ 1.3 s this module still signals; the TS host (Node's `process.kill(-pid)`) has the
//! same window. Reaping first is what lets an ordinary non-zero exit learn from `ESRCH` that
//! there is nothing left to terminate, instead of waiting out the kill grace every time.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::Signal;

use super::capture::{Capture, Stream};
use super::reaper::{self, RunTree};
use super::{ExecSpec, ProcessGroup, EXIT_DRAIN_MAX, EXIT_QUIET, KILL_GRACE};
use crate::cancel::{self, CancelToken};

/// One read per readiness; a pipe's default capacity, so a full pipe empties in one read.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The read buffer of the thread's runs, kept from one run to the next. Allocated afresh,
    /// 64 KiB is past musl's mmap threshold: every run of the static binary paid an mmap, a
    /// page fault and a munmap (a TLB shoot-down across the node's threads).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Without a pidfd the exit is checked this often at most (the interval starts at 1 ms and
/// doubles): a bounded cost for systems that cannot tell us.
const MAX_EXIT_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// The first re-check of a terminated group whose members we cannot watch (doubling after).
const FIRST_GROUP_RECHECK: Duration = Duration::from_millis(5);

/// What the supervision learnt; the caller turns it into an `ExecOutcome`.
pub(in crate::exec) struct Ended {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub capture: Capture,
}

/// Runs until the group's leader has been reaped and its pipes closed (and, if its group was
/// being terminated, until the group is gone or has been sent SIGKILL). A group without a
/// pidfd ([`ProcessGroup::exit_fd`] is `None`) is watched by the interval check.
pub(in crate::exec) fn supervise(mut group: ProcessGroup, spec: &ExecSpec, cancel: &CancelToken) -> Ended {
    let pipes = [
        group.take_stdout().map(OwnedFd::from),
        group.take_stderr().map(OwnedFd::from),
    ];
    let started = Instant::now();
    let tree = rustix::process::Pid::from_raw(group.id() as i32).and_then(RunTree::new);
    let mut supervisor = Supervisor {
        tree,
        killed: Vec::new(),
        group,
        pipes,
        capture: Capture::new(spec.output_cap),
        cancel,
        deadline: spec
            .timeout
            .filter(|t| !t.is_zero())
            .and_then(|t| started.checked_add(t)),
        exit: None,
        drain: None,
        termination: None,
        timed_out: false,
        cancelled: false,
        exit_check_interval: Duration::from_millis(1),
    };
    supervisor.run();
    if supervisor.timed_out || supervisor.cancelled {
        // What left the group and was orphaned since the SIGTERM has been adopted by now.
        if let Some(tree) = &supervisor.tree {
            let killed = tree.kill_escaped(false);
            supervisor.killed.extend(killed);
        }
        reaper::wait_for_deaths(&supervisor.killed);
    }
    reaper::reap_orphans();
    let (exit_code, signal) = match supervisor.exit {
        Some(Exit::Status(status)) => (status.code(), status.signal()),
        _ => (None, None),
    };
    Ended {
        exit_code,
        signal,
        timed_out: supervisor.timed_out,
        cancelled: supervisor.cancelled,
        capture: supervisor.capture,
    }
}

/// How the direct child ended.
enum Exit {
    Status(ExitStatus),
    /// Reaped by someone else (the process ignores SIGCHLD): the status is lost.
    Unknown,
}

impl Exit {
    fn is_success(&self) -> bool {
        matches!(self, Exit::Status(status) if status.success())
    }
}

/// The pipes are being drained after the direct child exited.
struct Drain {
    /// When the pipes are closed whatever happens.
    until: Instant,
    /// Last output, or the exit: the pipes are closed `EXIT_QUIET` after it.
    last_activity: Instant,
}

/// The process group has been sent SIGTERM.
struct Termination {
    kill_at: Instant,
    /// SIGKILL was sent, or there was nobody left to send it to.
    done: bool,
    /// Once the child is reaped and the pipes are closed, nothing signals that the rest of the
    /// group has gone (a member that just died stays visible until init reaps it), so the
    /// group is looked at again at this moment, backing off, until `kill_at`.
    recheck_at: Option<Instant>,
    recheck_interval: Duration,
}

struct Supervisor<'a> {
    /// The run's direct child for finding descendants that left its group (`reaper.rs`).
    tree: Option<RunTree>,
    /// Pidfds of escaped descendants killed so far, waited for before the run returns.
    killed: Vec<OwnedFd>,
    group: ProcessGroup,
    /// stdout, stderr; `None` once at EOF or closed by us.
    pipes: [Option<OwnedFd>; 2],
    capture: Capture,
    cancel: &'a CancelToken,
    deadline: Option<Instant>,
    exit: Option<Exit>,
    drain: Option<Drain>,
    termination: Option<Termination>,
    timed_out: bool,
    cancelled: bool,
    exit_check_interval: Duration,
}

/// What one `poll` reported.
#[derive(Default)]
struct Ready {
    pipes: [bool; 2],
    exit: bool,
}

impl Supervisor<'_> {
    fn run(&mut self) {
        // Taken, not borrowed: a run inside a run (none today) would get a buffer of its own.
        let mut buf = READ_BUFFER.with(|cell| cell.take());
        buf.clear();
        buf.reserve(READ_CHUNK);
        self.supervise(&mut buf);
        READ_BUFFER.with(|cell| *cell.borrow_mut() = buf);
    }

    fn supervise(&mut self, buf: &mut Vec<u8>) {
        // Reads go through the buffer's spare capacity, so it is never zeroed.
        loop {
            let now = Instant::now();
            self.act_on_cancel(now);
            self.act_on_clock(now);
            if self.is_over(now) {
                return;
            }
            match self.wait(now) {
                Ok(ready) => self.handle(ready, buf),
                Err(Errno::INTR) => {}
                Err(err) => {
                    // Only a bug (or ENOMEM) gets here; spinning on it would burn a core.
                    log::error!(
                        "exec: poll failed ({err}); killing process group {}",
                        self.group.id()
                    );
                    self.abandon();
                    return;
                }
            }
        }
    }

    fn act_on_cancel(&mut self, now: Instant) {
        if self.cancelled || !self.cancel.is_cancelled() {
            return;
        }
        self.cancelled = true;
        if self.termination.is_none() {
            log::debug!(
                "exec: cancelled; terminating process group {}",
                self.group.id()
            );
            self.terminate(now);
        }
        // The output of a cancelled run is never sent: stop draining at once.
        if self.exit.is_some() {
            self.pipes = [None, None];
        }
    }

    fn act_on_clock(&mut self, now: Instant) {
        let running = self.exit.is_none();
        if running && self.termination.is_none() && self.deadline.is_some_and(|d| now >= d) {
            log::debug!(
                "exec: timed out; terminating process group {}",
                self.group.id()
            );
            self.timed_out = true;
            self.terminate(now);
        }
        if let Some(termination) = &self.termination {
            if !termination.done && now >= termination.kill_at {
                self.kill();
            }
        }
        if let Some(drain) = &self.drain {
            if now >= drain.until || now >= drain.last_activity + EXIT_QUIET {
                self.pipes = [None, None];
            }
        }
    }

    fn is_over(&mut self, now: Instant) -> bool {
        if self.exit.is_none() || self.pipes.iter().any(Option::is_some) {
            return false;
        }
        let Some(termination) = &mut self.termination else {
            return true;
        };
        if termination.done || termination.recheck_at.is_some_and(|at| now < at) {
            return termination.done;
        }
        if !self.group.has_members() {
            // Everyone in the group is gone: no SIGKILL to wait for.
            termination.done = true;
        } else {
            termination.recheck_at = Some(now + termination.recheck_interval);
            termination.recheck_interval *= 2;
        }
        termination.done
    }

    /// Sleeps until an fd is ready or the nearest deadline.
    fn wait(&self, now: Instant) -> rustix::io::Result<Ready> {
        let running = self.exit.is_none();
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
        let mut pipe_slots = [None; 2];
        for (index, pipe) in self.pipes.iter().enumerate() {
            if let Some(fd) = pipe {
                pipe_slots[index] = Some(fds.len());
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
        }
        let mut exit_slot = None;
        if let (true, Some(fd)) = (running, self.group.exit_fd()) {
            exit_slot = Some(fds.len());
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
        }
        let wake_at = self.next_deadline(now);
        if self.cancelled {
            cancel::poll_until(&mut fds, wake_at)?;
        } else {
            // Wakes on a cancel too; the flag is re-read at the top of the loop.
            self.cancel.poll(&mut fds, wake_at)?;
        }
        let mut ready = Ready::default();
        for (index, slot) in pipe_slots.iter().enumerate() {
            ready.pipes[index] = slot.is_some_and(|slot| !fds[slot].revents().is_empty());
        }
        ready.exit = exit_slot.is_some_and(|slot| !fds[slot].revents().is_empty());
        Ok(ready)
    }

    /// The nearest moment at which `act_on_clock` has something to do.
    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let running = self.exit.is_none();
        let mut next: Option<Instant> = None;
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        if running && self.termination.is_none() {
            self.deadline.map(&mut consider);
        }
        if let Some(termination) = self.termination.as_ref().filter(|t| !t.done) {
            consider(termination.kill_at);
            termination.recheck_at.map(&mut consider);
        }
        if let Some(drain) = self
            .drain
            .as_ref()
            .filter(|_| self.pipes.iter().any(Option::is_some))
        {
            consider(drain.until.min(drain.last_activity + EXIT_QUIET));
        }
        if running && self.group.exit_fd().is_none() {
            consider(now + self.exit_check_interval);
        }
        next
    }

    fn handle(&mut self, ready: Ready, buf: &mut Vec<u8>) {
        let had_pipes = self.pipes.iter().any(Option::is_some);
        for (index, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            if ready.pipes[index] {
                self.read_pipe(index, stream, buf);
            }
        }
        // A child closes its pipes as it exits, just before it becomes reapable: looking now
        // usually saves a wake-up for the pidfd.
        let pipes_just_closed = had_pipes && self.pipes.iter().all(Option::is_none);
        if self.exit.is_none()
            && (ready.exit || pipes_just_closed || self.group.exit_fd().is_none())
        {
            self.check_exit();
        }
    }

    fn read_pipe(&mut self, index: usize, stream: Stream, buf: &mut Vec<u8>) {
        let Some(fd) = &self.pipes[index] else {
            return;
        };
        match rustix::io::read(fd, buf.spare_capacity_mut()) {
            Ok(([], _)) => self.pipes[index] = None,
            Ok((chunk, _)) => {
                self.capture.push(stream, chunk);
                if let Some(drain) = &mut self.drain {
                    drain.last_activity = Instant::now();
                }
            }
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(err) => {
                log::debug!("exec: reading the child's {stream:?} failed ({err}); closing it");
                self.pipes[index] = None;
            }
        }
    }

    /// Reaps the child if it has exited.
    fn check_exit(&mut self) {
        let exit = match self.group.try_wait() {
            Ok(Some(status)) => Exit::Status(status),
            Ok(None) => {
                if self.group.exit_fd().is_none() {
                    self.exit_check_interval =
                        (self.exit_check_interval * 2).min(MAX_EXIT_CHECK_INTERVAL);
                }
                return;
            }
            Err(err) => {
                log::warn!(
                    "exec: waiting for process {} failed ({err}); its exit status is lost",
                    self.group.id()
                );
                Exit::Unknown
            }
        };
        self.on_exit(exit);
    }

    fn on_exit(&mut self, exit: Exit) {
        let now = Instant::now();
        let success = exit.is_success();
        self.exit = Some(exit);
        self.drain = Some(Drain {
            until: now + EXIT_DRAIN_MAX,
            last_activity: now,
        });
        if self.cancelled {
            self.pipes = [None, None];
        }
        if !success && self.termination.is_none() {
            // Like the TS host: a failed command takes the rest of its group with it.
            self.terminate(now);
        }
    }

    /// SIGTERM to the group; SIGKILL follows after `KILL_GRACE` unless the group is gone.
    fn terminate(&mut self, now: Instant) {
        let reached = self.group.signal(Signal::TERM);
        // A timeout or a cancel also ends what left the group (`setsid`), while the direct
        // child's tree can still be walked; a failed command takes only its group along.
        if self.timed_out || self.cancelled {
            if let Some(tree) = &self.tree {
                let killed = tree.kill_escaped(self.exit.is_none());
                self.killed.extend(killed);
            }
        }
        self.termination = Some(Termination {
            kill_at: now + KILL_GRACE,
            done: !reached,
            recheck_at: None,
            recheck_interval: FIRST_GROUP_RECHECK,
        });
    }

    fn kill(&mut self) {
        self.group.signal(Signal::KILL);
        if let Some(termination) = &mut self.termination {
            termination.done = true;
        }
    }

    /// Gives up on an orderly end: SIGKILL to everyone, close the pipes, reap.
    fn abandon(&mut self) {
        self.group.kill();
        self.pipes = [None, None];
        if self.exit.is_none() {
            self.exit = Some(match self.group.exit_status().flatten() {
                Some(status) => Exit::Status(status),
                None => Exit::Unknown,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! The interval check that stands in for a pidfd on other systems, exercised on this one.

    use super::*;
    use crate::exec::unix::spawn::spawn;

    fn run_without_pidfd(script: &str, timeout: Option<Duration>) -> Ended {
        let spec = ExecSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            timeout,
            ..ExecSpec::default()
        };
        let group = spawn(&spec).expect("spawn sh").without_pidfd();
        supervise(group, &spec, &CancelToken::new())
    }

    #[test]
    fn exit_and_output_without_a_pidfd() {
        let ended = run_without_pidfd("echo hi; echo oops >&2; exit 4", None);
        assert_eq!(ended.exit_code, Some(4));
        let captured = ended.capture.finish();
        assert_eq!(
            (captured.stdout.as_str(), captured.stderr.as_str()),
            ("hi\n", "oops\n")
        );
    }

    #[test]
    fn a_child_that_closed_its_pipes_is_still_waited_for() {
        let ended = run_without_pidfd("exec >&- 2>&-; sleep 0.2; exit 5", None);
        assert_eq!(ended.exit_code, Some(5));
    }

    #[test]
    fn timeout_without_a_pidfd() {
        let ended = run_without_pidfd("trap '' TERM; sleep 100", Some(Duration::from_millis(100)));
        assert!(ended.timed_out);
        assert_eq!(ended.signal, Some(9));
    }
}
