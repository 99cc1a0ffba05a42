//! Cancellation of one invocation: `node.invoke.cancel`, a duplicate invoke id, or the
//! connection going away.
//!
//! A token is a flag plus, on demand, a pipe whose read end becomes readable when the token is
//! cancelled. Code that blocks in `poll(2)` (the process runner) adds that fd to its poll set, so
//! a cancel wakes it at once instead of being noticed at the next timer tick.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Set by [`CancelToken::terminate`]: the work stops, but its result is still reported.
    report: AtomicBool,
    wake: OnceLock<Option<(OwnedFd, OwnedFd)>>,
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
}
