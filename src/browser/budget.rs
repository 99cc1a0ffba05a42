//! The time and cancellation budget of one request, and a lock that respects it.
//!
//! Every blocking step of a browser request (a CDP call, a launch, a poll loop) takes a
//! [`Budget`] and never waits past its deadline, so a slow page turns into the spec's timeout
//! message instead of a stuck worker. An action may narrow the budget to its own timeout
//! ([`Budget::narrow`]); running out of that narrower time is reported as the action's failure
//! ([`Interrupt::ActionTimeout`]), running out of the request's time as the proxy timeout.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;

use super::cdp::lock;

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

/// How often long waits look at the cancel token.
const SLICE: Duration = Duration::from_millis(50);

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

    /// Sleeps `duration` (or less, when the budget ends first), waking to check cancellation.
    pub fn sleep(&self, duration: Duration) -> Result<(), Interrupt> {
        let until = Instant::now() + duration;
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep(
                (until - now)
                    .min(SLICE)
                    .min(self.remaining().max(Duration::from_millis(1))),
            );
        }
    }
}

/// A mutual-exclusion gate whose `acquire` gives up when the budget ends (std's `Mutex` cannot
/// time out). Used for browser start/stop and for one action at a time per tab.
#[derive(Default)]
pub struct Gate {
    busy: Mutex<bool>,
    freed: Condvar,
}

/// Holding this means holding the gate.
pub struct GateGuard<'a> {
    gate: &'a Gate,
}

impl Gate {
    pub fn acquire(&self, budget: &Budget) -> Result<GateGuard<'_>, Interrupt> {
        let mut busy = lock(&self.busy);
        while *busy {
            budget.check()?;
            let wait = budget.remaining().min(SLICE);
            busy = self
                .freed
                .wait_timeout(busy, wait)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        *busy = true;
        Ok(GateGuard { gate: self })
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.gate.busy) = false;
        self.gate.freed.notify_one();
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
}
