//! The time and cancellation budget of one request, and a lock that respects it.
//!
//! Every blocking step of a browser request (a CDP call, a launch, a poll loop) takes a
//! [`Budget`] and never waits past its deadline, so a slow page turns into the spec's timeout
//! message instead of a stuck worker. An action may narrow the budget to its own timeout
//! ([`Budget::narrow`]); running out of that narrower time is reported as the action's failure
//! ([`Interrupt::ActionTimeout`]), running out of the request's time as the proxy timeout.
//!
//! Every wait here goes through the cancel token's one cancellable wait
//! ([`CancelToken::wait_until`], [`CancelToken::ready_until`]): a cancel wakes it at once, and
//! it sleeps until its event or its deadline, with no timer looking at a flag in between.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, Select, Sender, TryRecvError};

use crate::cancel::{CancelToken, Woken};

use super::cdp::{PendingCall, Reply};

/// Why a wait stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The request's `timeoutMs` ran out.
    RequestTimeout,
    /// A narrower, action-level timeout ran out.
    ActionTimeout,
    /// The gateway cancelled the invocation.
    Cancelled,
}

/// A deadline plus the invocation's cancel token.
#[derive(Clone)]
pub struct Budget {
    request_deadline: Instant,
    deadline: Instant,
    cancel: CancelToken,
}

impl Budget {
    pub fn new(timeout: Duration, cancel: CancelToken) -> Budget {
        let deadline = Instant::now() + timeout;
        Budget {
            request_deadline: deadline,
            deadline,
            cancel,
        }
    }

    /// The same request budget, but ending no later than `timeout` from now.
    pub fn narrow(&self, timeout: Duration) -> Budget {
        let deadline = (Instant::now() + timeout).min(self.deadline);
        Budget {
            deadline,
            ..self.clone()
        }
    }

    /// The invocation's cancel token, for a wait that is not a channel (a launch).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left (zero once expired).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// `Err` when cancelled or out of time.
    pub fn check(&self) -> Result<(), Interrupt> {
        if self.cancel.is_cancelled() {
            return Err(Interrupt::Cancelled);
        }
        let now = Instant::now();
        if now >= self.request_deadline {
            Err(Interrupt::RequestTimeout)
        } else if now >= self.deadline {
            Err(Interrupt::ActionTimeout)
        } else {
            Ok(())
        }
    }

    /// Sleeps `duration` (or less, when the budget ends first); a cancel ends it at once.
    pub fn sleep(&self, duration: Duration) -> Result<(), Interrupt> {
        self.check()?;
        let until = Instant::now() + duration;
        self.cancel.wait_until(until.min(self.deadline));
        self.check()
    }

    /// Waits until an operation of `select` is ready, the budget ends, or `until`:
    /// `Ok(Some(index))` when ready (a hint: `try_recv` then), `Ok(None)` when `until` came
    /// first, the interrupt when cancelled or out of time.
    pub fn ready(&self, select: Select<'_>, until: Instant) -> Result<Option<usize>, Interrupt> {
        match self.cancel.ready_until(select, until.min(self.deadline)) {
            Woken::Ready(index) => Ok(Some(index)),
            Woken::Cancelled => Err(Interrupt::Cancelled),
            Woken::TimedOut => self.check().map(|()| None),
        }
    }

    /// Waits for a message on `rx` within the budget; `Ok(Err(RecvError))` when the channel
    /// is disconnected.
    pub fn recv<T>(&self, rx: &Receiver<T>) -> Result<Result<T, RecvError>, Interrupt> {
        loop {
            match rx.try_recv() {
                Ok(message) => return Ok(Ok(message)),
                Err(TryRecvError::Disconnected) => return Ok(Err(RecvError)),
                Err(TryRecvError::Empty) => {}
            }
            let mut select = Select::new();
            select.recv(rx);
            self.ready(select, self.deadline)?;
        }
    }

    /// Waits for the answer to a CDP command within the budget and no later than `until`;
    /// `Ok(None)` when `until` came first (the call stays pending).
    pub fn reply(&self, pending: &PendingCall, until: Instant) -> Result<Option<Reply>, Interrupt> {
        loop {
            if let Some(reply) = pending.try_reply() {
                return Ok(Some(reply));
            }
            let mut select = Select::new();
            select.recv(pending.receiver());
            if self.ready(select, until)?.is_none() {
                return Ok(None);
            }
        }
    }
}

/// A mutual-exclusion gate whose `acquire` gives up when the budget ends (std's `Mutex` cannot
/// time out). Used for browser start/stop and for one action at a time per tab.
///
/// The gate is a channel holding one permit: acquiring takes it (a cancellable channel wait),
/// the guard puts it back.
pub struct Gate {
    permit_tx: Sender<()>,
    permit_rx: Receiver<()>,
}

impl Default for Gate {
    fn default() -> Gate {
        let (permit_tx, permit_rx) = crossbeam_channel::bounded(1);
        // The channel is empty and both ends are here: this cannot fail.
        let _ = permit_tx.try_send(());
        Gate {
            permit_tx,
            permit_rx,
        }
    }
}

/// Holding this means holding the gate.
pub struct GateGuard<'a> {
    gate: &'a Gate,
}

impl Gate {
    pub fn acquire(&self, budget: &Budget) -> Result<GateGuard<'_>, Interrupt> {
        // Both ends live in the gate, so the channel is never disconnected.
        let _ = budget.recv(&self.permit_rx)?;
        Ok(GateGuard { gate: self })
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        // The permit taken by `acquire` goes back; the channel has room for exactly it.
        let _ = self.gate.permit_tx.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowed_budget_reports_action_timeout_not_request_timeout() {
        let budget = Budget::new(Duration::from_secs(60), CancelToken::new());
        let narrow = budget.narrow(Duration::ZERO);
        assert_eq!(narrow.check(), Err(Interrupt::ActionTimeout));
        assert_eq!(budget.check(), Ok(()));
        let expired = Budget::new(Duration::ZERO, CancelToken::new());
        assert_eq!(
            expired.narrow(Duration::from_secs(5)).check(),
            Err(Interrupt::RequestTimeout)
        );
    }

    #[test]
    fn cancellation_wins_over_time() {
        let cancel = CancelToken::new();
        let budget = Budget::new(Duration::from_secs(60), cancel.clone());
        cancel.cancel();
        assert_eq!(
            budget.sleep(Duration::from_secs(30)),
            Err(Interrupt::Cancelled)
        );
    }

    #[test]
    fn gate_gives_up_when_the_budget_ends() {
        let gate = Gate::default();
        let budget = Budget::new(Duration::from_secs(60), CancelToken::new());
        let held = gate.acquire(&budget).unwrap();
        assert_eq!(
            gate.acquire(&budget.narrow(Duration::from_millis(20)))
                .err(),
            Some(Interrupt::ActionTimeout)
        );
        drop(held);
        assert!(gate.acquire(&budget).is_ok());
    }

    #[test]
    fn a_cancel_wakes_every_kind_of_wait_at_once() {
        let gate = Gate::default();
        let cancel = CancelToken::new();
        let budget = Budget::new(Duration::from_secs(60), cancel.clone());
        let _held = gate.acquire(&budget).unwrap();
        let (_tx, rx) = crossbeam_channel::bounded::<()>(1);
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            cancel.cancel();
        });
        let started = Instant::now();
        assert_eq!(gate.acquire(&budget).err(), Some(Interrupt::Cancelled));
        assert_eq!(budget.recv(&rx).err(), Some(Interrupt::Cancelled));
        assert_eq!(
            budget.sleep(Duration::from_secs(60)),
            Err(Interrupt::Cancelled)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        canceller.join().unwrap();
    }
}
