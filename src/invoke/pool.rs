//! The worker pool: a fixed set of threads fed by a bounded queue.
//!
//! The reader thread must never block on a slow command, and memory must not grow with the
//! number of requests a gateway sends. So the reader only *offers* work: when every worker is
//! busy and the queue is full, [`Pool::try_submit`] hands the job back at once and the caller
//! answers "busy". Workers outlive connections; a job carries the link of the session it came
//! from.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

/// A unit of work: one invocation, start to result.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads that run [`Job`]s, with a bounded queue in front of them. Clones share the threads;
/// the workers end once every clone is dropped.
#[derive(Clone)]
pub struct Pool {
    queue: Sender<Job>,
    workers: usize,
    capacity: usize,
}

/// How many invocations may run at once, and how many may wait, unless
/// `OPENCLAW_NODE_MAX_INVOKES` says otherwise (the queue is then four times the workers).
pub const DEFAULT_WORKERS: usize = 16;
pub const DEFAULT_QUEUE: usize = 64;
/// Stack size of an invoke worker.
const WORKER_STACK: usize = 2 * 1024 * 1024;

impl Pool {
    /// Starts `workers` threads behind a queue of `queue` waiting jobs.
    pub fn new(workers: usize, queue: usize) -> Pool {
        let workers = workers.max(1);
        let (tx, rx) = bounded::<Job>(queue);
        for index in 0..workers {
            let rx: Receiver<Job> = rx.clone();
            let spawned = thread::Builder::new()
                .name(format!("invoke-{index}"))
                // Handlers keep their buffers on the heap, but parsing and rewriting params and
                // documents recurses once per JSON level (up to serde_json's 128): 256 KiB
                // overflowed on a gateway's deeply nested paramsJSON, which aborts the node.
                // Only the pages a worker touches count towards RSS.
                .stack_size(WORKER_STACK)
                .spawn(move || worker_loop(rx));
            if let Err(err) = spawned {
                log::error!("could not start invoke worker {index}: {err}");
            }
        }
        Pool {
            queue: tx,
            workers,
            capacity: queue,
        }
    }

    /// `workers` threads behind a queue four times as long, or the defaults.
    pub fn sized(workers: Option<usize>) -> Pool {
        match workers {
            Some(workers) if workers > 0 => Pool::new(workers, workers * 4),
            _ => Pool::new(DEFAULT_WORKERS, DEFAULT_QUEUE),
        }
    }

    /// Queues `job`, or gives it back when the pool and its queue are full.
    pub fn try_submit(&self, job: Job) -> Result<(), Job> {
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => Err(job),
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }
    pub fn queue_capacity(&self) -> usize {
        self.capacity
    }
}

fn worker_loop(rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        // A handler bug must cost one invocation, not the node. The job itself answers the
        // gateway in that case (see `dispatch::Invocations::run`), so here it is only logged.
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            log::error!("an invocation handler panicked; the worker carries on");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn full_pool_hands_the_job_back() {
        let pool = Pool::new(1, 1);
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started_rx) = mpsc::channel();
        let blocker = release_rx.clone();
        pool.try_submit(Box::new(move || {
            started_tx.send(()).unwrap();
            let _ = blocker.recv();
        }))
        .ok()
        .unwrap();
        started_rx.recv().unwrap();
        // One waits in the queue, the next is refused.
        assert!(pool.try_submit(Box::new(|| {})).is_ok());
        assert!(pool.try_submit(Box::new(|| {})).is_err());
        drop(release_tx);
    }

    #[test]
    fn a_panicking_job_does_not_kill_the_worker() {
        let pool = Pool::new(1, 4);
        pool.try_submit(Box::new(|| panic!("handler bug")))
            .ok()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.try_submit(Box::new(move || tx.send(42).unwrap()))
            .ok()
            .unwrap();
        assert_eq!(rx.recv().unwrap(), 42);
    }
}
