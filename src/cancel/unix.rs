//! The Unix wake primitive: a pipe whose read end becomes readable on cancel, and the one
//! `poll(2)` wait on it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

use super::CancelToken;

/// Without a wake descriptor (the process is out of file descriptors) a wait looks at the
/// cancel flag this often: the only periodic wake-up left, and only in that corner.
const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// The longest single `poll`; callers loop and recompute it anyway.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(3600);

/// The pipe, created on first use.
#[derive(Default)]
pub(super) struct Wake(OnceLock<Option<(OwnedFd, OwnedFd)>>);

impl Wake {
    pub(super) fn wake(&self) {
        if let Some(Some((_, write_end))) = self.0.get() {
            // One byte is enough: readers only test readability. A full pipe means a byte is
            // already there, so the error is harmless.
            let _ = rustix::io::write(write_end, &[1]);
        }
    }
}

impl CancelToken {
    /// A descriptor that becomes readable once the token is cancelled. `None` only when the
    /// process is out of file descriptors; callers then fall back to checking the flag.
    ///
    /// The pipe is created on first use so that invocations that never block (system.which,
    /// approvals) cost no descriptors. Check [`CancelToken::is_cancelled`] *after* taking the
    /// fd: a cancel that raced with its creation set the flag before looking for the pipe.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        let pair = self.0.wake.0.get_or_init(|| {
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
}
