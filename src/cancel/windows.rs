//! The Windows wait: on the channel `cancel` disconnects (see the module note).

use std::time::Instant;

use crossbeam_channel::Select;

use super::{CancelToken, Woken};

impl CancelToken {
    /// Sleeps until the token is cancelled or `deadline` passes; true when cancelled.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_cancelled() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if self.ready_until(Select::new(), deadline) == Woken::Cancelled {
                return true;
            }
        }
    }
}
