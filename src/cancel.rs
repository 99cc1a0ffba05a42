//! Cancellation of one invocation: `node.invoke.cancel`, a duplicate invoke id, or the
//! connection going away.
//!
//! A token is a flag plus, on demand, a pipe whose read end becomes readable when the token is
//! cancelled. This module is also the one cancellable wait: [`CancelToken::poll`] sleeps in
//! `poll(2)` on the caller's descriptors plus that pipe until one is ready, the token is
//! cancelled or a deadline passes ([`CancelToken::wait_until`] is the same with no descriptors
//! of the caller's). The process runner and the browser both wait through it, so a cancel wakes
//! them at once and a wait with nothing to do sleeps in the kernel, with no timer ticking.
//!
//! Waits on a channel (a CDP reply, a DNS answer) cannot put a channel in a `poll` set, so
//! [`CancelToken::ready_until`] selects on the caller's channels plus a channel that `cancel`
//! disconnects at the same moment it writes the pipe: the same token, the same instant, no
//! polling either.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

/// Without a wake descriptor (the process is out of file descriptors) a wait looks at the
/// cancel flag this often: the only periodic wake-up left, and only in that corner.
const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// The longest single `poll`; callers loop and recompute it anyway.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Set by [`CancelToken::terminate`]: the work stops, but its result is still reported.
    report: AtomicBool,
    wake: OnceLock<Option<(OwnedFd, OwnedFd)>>,
    /// For channel waits: the sender is dropped on cancel, which makes the receiver ready.
    closed: OnceLock<Closer>,
}

/// A channel that disconnects when its sender is dropped; the sender is taken on cancel.
type Closer = (Mutex<Option<Sender<()>>>, Receiver<()>);

/// How a wait through [`CancelToken::ready_until`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The operation of this index in the caller's `Select` is ready (a message, or a
    /// disconnected channel).
    Ready(usize),
    /// The token was cancelled.
    Cancelled,
    /// The deadline passed.
    TimedOut,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Marks the token cancelled and wakes whoever waits on [`CancelToken::wake_fd`].
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        if let Some(Some((_, write_end))) = self.0.wake.get() {
            // One byte is enough: readers only test readability. A full pipe means a byte is
            // already there, so the error is harmless.
            let _ = rustix::io::write(write_end, &[1]);
        }
        if let Some((sender, _)) = self.0.closed.get() {
            drop(sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        }
    }

    /// Stops the work like [`CancelToken::cancel`], but asks for its result to be sent anyway
    /// (the node is shutting down while the gateway still waits for the answer).
    pub fn terminate(&self) {
        self.0.report.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// Whether a result must still be sent: not cancelled, or terminated by a shutdown.
    pub fn should_report(&self) -> bool {
        !self.is_cancelled() || self.0.report.load(Ordering::SeqCst)
    }

    /// Whether `other` is this very token (not merely another one in the same state).
    pub fn same_as(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// A descriptor that becomes readable once the token is cancelled. `None` only when the
    /// process is out of file descriptors; callers then fall back to checking the flag.
    ///
    /// The pipe is created on first use so that invocations that never block (system.which,
    /// approvals) cost no descriptors. Check [`CancelToken::is_cancelled`] *after* taking the
    /// fd: a cancel that raced with its creation set the flag before looking for the pipe.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        let pair = self.0.wake.get_or_init(|| {
            rustix::pipe::pipe_with(
                rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
            )
            .ok()
        });
        pair.as_ref().map(|(read_end, _)| read_end.as_fd())
    }

    /// The one cancellable wait: sleeps until one of `fds` is ready, the token is cancelled, or
    /// `deadline` passes (`None`: no deadline). The wake descriptor is pushed after the caller's
    /// entries, so their indices and `revents` are as the caller put them; look at
    /// [`CancelToken::is_cancelled`] afterwards. Returns at once when already cancelled: do not
    /// call it again then (the descriptor stays readable), use [`poll_until`] for what remains.
    pub fn poll<'a>(
        &'a self,
        fds: &mut Vec<PollFd<'a>>,
        deadline: Option<Instant>,
    ) -> rustix::io::Result<()> {
        let deadline = match self.wake_fd() {
            Some(fd) => {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
                deadline
            }
            None => {
                let check_at = Instant::now() + CANCEL_CHECK_INTERVAL;
                Some(deadline.map_or(check_at, |at| at.min(check_at)))
            }
        };
        // A cancel that raced with the descriptor's creation wrote no byte to it.
        if self.is_cancelled() {
            return Ok(());
        }
        poll_until(fds, deadline).map(drop)
    }

    /// Sleeps until the token is cancelled or `deadline` passes; true when cancelled.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_cancelled() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.poll(&mut Vec::new(), Some(deadline)) {
                Ok(()) | Err(Errno::INTR) => {}
                Err(err) => {
                    // Only ENOMEM gets here; sleeping in slices keeps the wait bounded and
                    // cancellable without spinning.
                    log::debug!("cancel: poll failed ({err}); waiting in slices");
                    std::thread::sleep((deadline - now).min(CANCEL_CHECK_INTERVAL));
                }
            }
        }
    }

    /// The channel counterpart of [`CancelToken::poll`]: waits until one operation of
    /// `select` (the caller's receivers) is ready, the token is cancelled, or `deadline`.
    /// Readiness is a hint, as for [`Select::ready`]: the caller then `try_recv`s.
    pub fn ready_until<'a>(&'a self, mut select: Select<'a>, deadline: Instant) -> Woken {
        let (_, closed) = self.0.closed.get_or_init(|| {
            let (sender, receiver) = crossbeam_channel::bounded(0);
            (Mutex::new(Some(sender)), receiver)
        });
        // The same race as with the descriptor: a cancel before the channel existed.
        if self.is_cancelled() {
            return Woken::Cancelled;
        }
        let cancel_index = select.recv(closed);
        match select.ready_deadline(deadline) {
            Ok(index) if index == cancel_index => Woken::Cancelled,
            Ok(index) => Woken::Ready(index),
            Err(_) if self.is_cancelled() => Woken::Cancelled,
            Err(_) => Woken::TimedOut,
        }
    }
}

/// `poll(2)` on `fds` until one is ready or `deadline` passes (`None`: no deadline), with the
/// timeout rounded up to whole milliseconds; returns the number of ready descriptors. Errors
/// are `poll`'s (`EINTR` included: callers loop).
pub fn poll_until(fds: &mut [PollFd<'_>], deadline: Option<Instant>) -> rustix::io::Result<usize> {
    let timeout = deadline.map(|at| poll_timeout(at.saturating_duration_since(Instant::now())));
    rustix::event::poll(fds, timeout.as_ref())
}

/// `remaining` rounded up to whole milliseconds, so that a platform whose `poll` counts in
/// milliseconds never wakes just before the deadline and spins; capped, because such platforms
/// reject timeouts past `c_int::MAX` ms and the loop recomputes it anyway.
fn poll_timeout(remaining: Duration) -> Timespec {
    let millis = remaining
        .as_nanos()
        .div_ceil(1_000_000)
        .min(MAX_POLL_TIMEOUT.as_millis());
    let rounded = Duration::from_millis(millis as u64);
    Timespec::try_from(rounded).unwrap_or(Timespec {
        tv_sec: 3600,
        tv_nsec: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up_to_milliseconds() {
        let ts = poll_timeout(Duration::from_micros(1));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (0, 1_000_000));
        let ts = poll_timeout(Duration::from_millis(1500));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (1, 500_000_000));
        assert_eq!(poll_timeout(Duration::from_secs(1 << 40)).tv_sec, 3600);
    }

    #[test]
    fn a_wait_ends_at_its_deadline_or_at_once_on_cancel() {
        let token = CancelToken::new();
        let started = Instant::now();
        assert!(!token.wait_until(started + Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
        let canceller = token.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            canceller.cancel();
        });
        let started = Instant::now();
        assert!(token.wait_until(started + Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
        assert!(token.wait_until(Instant::now() + Duration::from_secs(30)));
    }

    #[test]
    fn a_channel_wait_wakes_on_a_message_or_a_cancel() {
        let token = CancelToken::new();
        let (tx, rx) = crossbeam_channel::bounded::<u8>(1);
        let far = Instant::now() + Duration::from_secs(30);
        tx.send(7).unwrap();
        let mut select = Select::new();
        select.recv(&rx);
        assert_eq!(token.ready_until(select, far), Woken::Ready(0));
        assert_eq!(rx.try_recv(), Ok(7));
        let mut select = Select::new();
        select.recv(&rx);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(token.ready_until(select, soon), Woken::TimedOut);
        let canceller = token.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            canceller.cancel();
        });
        let mut select = Select::new();
        select.recv(&rx);
        assert_eq!(token.ready_until(select, far), Woken::Cancelled);
        thread.join().unwrap();
    }
}
