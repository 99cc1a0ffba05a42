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
//!
//! The wake primitive is the platform seam: a pipe on Unix (`cancel/unix.rs`: `poll`,
//! `wait_until` in `poll(2)`). On Windows every wait of the node is a channel wait (the process
//! runner's pipe readers and exit watcher feed channels), so the disconnecting channel is the
//! wake primitive there too and `cancel/windows.rs` only has `wait_until` on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, Sender};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::poll_until;
#[cfg(windows)]
mod windows;

#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Set by [`CancelToken::terminate`]: the work stops, but its result is still reported.
    report: AtomicBool,
    #[cfg(unix)]
    wake: unix::Wake,
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
        #[cfg(unix)]
        self.0.wake.wake();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
