//! The tick watchdog (protocol §1.8): the gateway ticks every `tickIntervalMs`, and a gateway
//! silent for twice that is gone. The session's reader feeds it every inbound frame; the
//! writer sleeps until [`Watchdog::time_left`] runs out and then closes `4000 "tick timeout"`.
//! The same window bounds one write: a gateway that has taken none of the node's bytes for as
//! long is as dead as one that has sent none.
//!
//! Shared between the two threads with atomics: the reader's per-frame cost is one store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};

/// The tick watchdog's state, shared by reader (who feeds it) and writer (who checks it).
pub(crate) struct Watchdog {
    /// Milliseconds since `EPOCH` of the last inbound frame; 0 before the first.
    last_inbound: AtomicU64,
    /// `tickIntervalMs` once armed by `hello-ok`; 0 means not armed.
    tick_ms: AtomicU64,
    fired: Mutex<Option<String>>,
    /// Wakes the writer when the watchdog is armed: it may be asleep with no deadline.
    rearm: (crossbeam_channel::Sender<()>, Receiver<()>),
}

impl Default for Watchdog {
    fn default() -> Watchdog {
        Watchdog {
            last_inbound: AtomicU64::new(0),
            tick_ms: AtomicU64::new(0),
            fired: Mutex::new(None),
            rearm: bounded(1),
        }
    }
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn monotonic_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Watchdog {
    /// `hello-ok` set the tick interval: the silence window starts now.
    pub(crate) fn arm(&self, tick_ms: u64) {
        self.saw_inbound();
        self.tick_ms.store(tick_ms.max(1), Ordering::Release);
        // A full channel means a wake-up is already pending.
        let _ = self.rearm.0.try_send(());
    }
    /// A frame came from the gateway.
    pub(crate) fn saw_inbound(&self) {
        self.last_inbound.store(monotonic_ms(), Ordering::Release);
    }
    /// `2 × tickIntervalMs`: how long the gateway may stay silent, or leave the node's bytes
    /// unread. `None` before `hello-ok`.
    pub(crate) fn window(&self) -> Option<Duration> {
        match self.tick_ms.load(Ordering::Acquire) {
            0 => None,
            tick => Some(Duration::from_millis(2 * tick)),
        }
    }
    /// How long until the watchdog must look again; `None` when not armed.
    pub(crate) fn time_left(&self) -> Option<Duration> {
        let deadline =
            Duration::from_millis(self.last_inbound.load(Ordering::Acquire)) + self.window()?;
        Some(deadline.saturating_sub(Duration::from_millis(monotonic_ms())))
    }
    /// Records why the session is being ended (the first reason the reader will report).
    pub(crate) fn fire(&self, reason: &str) {
        *self.fired.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
    }
    /// Wakes the writer when the watchdog is armed, so it computes its first deadline.
    pub(crate) fn rearmed(&self) -> &Receiver<()> {
        &self.rearm.1
    }
    /// Why the watchdog ended the session, if it did.
    pub(crate) fn close_reason(&self) -> Option<String> {
        self.fired.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unarmed_until_hello_ok() {
        let watchdog = Watchdog::default();
        watchdog.saw_inbound();
        assert_eq!((watchdog.window(), watchdog.time_left()), (None, None));
        assert!(watchdog.rearmed().try_recv().is_err());
    }

    #[test]
    fn armed_the_window_is_twice_the_tick() {
        let watchdog = Watchdog::default();
        watchdog.arm(50);
        assert_eq!(watchdog.window(), Some(Duration::from_millis(100)));
        let left = watchdog.time_left().expect("armed");
        assert!(left <= Duration::from_millis(100), "{left:?}");
        // Arming again does not block on the pending wake-up; one wake-up is enough.
        watchdog.arm(50);
        assert!(watchdog.rearmed().try_recv().is_ok());
        assert!(watchdog.rearmed().try_recv().is_err());
        // A zero interval still arms (1 ms), rather than meaning "not armed".
        watchdog.arm(0);
        assert_eq!(watchdog.window(), Some(Duration::from_millis(2)));
    }

    #[test]
    fn the_reason_is_kept_for_the_reader() {
        let watchdog = Watchdog::default();
        assert_eq!(watchdog.close_reason(), None);
        watchdog.fire("tick timeout");
        assert_eq!(watchdog.close_reason().as_deref(), Some("tick timeout"));
    }
}
