//! The invocation pipeline: from a decoded `node.invoke.request` to exactly one result.
//!
//! The session's reader hands each request to [`Invocations::start`] and never waits: the
//! request is registered for cancellation, offered to the worker pool, and answered "busy" at
//! once when the pool is full. A worker runs the command under one panic guard and sends one
//! result through the session's [`ResultSink`], unless the invocation was cancelled.
//!
//! What runs is not known here: a [`CommandSet`] (the command table bound to the node's
//! runtime) is handed in by whoever builds the dispatcher. That keeps this layer, and the
//! gateway above it, free of any command.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::pool::Pool;
use super::{EventSink, InvokeError, InvokeRequest, InvokeResult};
use crate::cancel::CancelToken;

/// One invocation as a command sees it, apart from the node's own state.
#[derive(Clone)]
pub struct Call {
    pub cancel: CancelToken,
    pub events: Arc<dyn EventSink>,
}

/// The commands a node serves: looks a command up and runs it.
pub trait CommandSet: Send + Sync {
    /// Runs `command`; a command this set does not hold answers `command not supported`.
    fn run(&self, call: Call, command: &str, params_json: Option<&str>) -> InvokeResult;
}

/// Where an invocation's one result goes. In a live session this is the gateway link.
pub trait ResultSink: Send + Sync {
    fn send_result(&self, invoke_id: &str, node_id: &str, result: InvokeResult);
}

/// The node-wide half of the pipeline: the commands and the workers, kept across sessions.
pub struct Dispatcher {
    commands: Arc<dyn CommandSet>,
    pool: Pool,
}

impl Dispatcher {
    pub fn new(commands: Arc<dyn CommandSet>, pool: Pool) -> Dispatcher {
        Dispatcher { commands, pool }
    }

    /// Starts serving one session: results go to `results`, a command's `node.event`s to
    /// `events`.
    pub fn session(
        &self,
        results: Arc<dyn ResultSink>,
        events: Arc<dyn EventSink>,
    ) -> Arc<Invocations> {
        Arc::new(Invocations {
            commands: self.commands.clone(),
            pool: self.pool.clone(),
            results,
            events,
            running: Mutex::new(HashMap::new()),
            emptied: Condvar::new(),
        })
    }
}

/// The invocations of one session, by invoke id, for cancellation and shutdown.
pub struct Invocations {
    commands: Arc<dyn CommandSet>,
    pool: Pool,
    results: Arc<dyn ResultSink>,
    events: Arc<dyn EventSink>,
    running: Mutex<HashMap<String, CancelToken>>,
    emptied: Condvar,
}

impl Invocations {
    /// Registers `request` and offers it to the pool; answers "busy" when the pool is full.
    pub fn start(self: &Arc<Self>, request: InvokeRequest) {
        let cancel = self.register(&request.id);
        let call = Call {
            cancel: cancel.clone(),
            events: self.events.clone(),
        };
        log::debug!(
            "invoke {} {} (gateway deadline {})",
            request.id,
            request.command,
            request
                .timeout_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "none".into())
        );
        let (id, node_id, command) = (
            request.id.clone(),
            request.node_id.clone(),
            request.command.clone(),
        );
        let job = {
            let this = self.clone();
            Box::new(move || this.run(call, request))
        };
        if self.pool.try_submit(job).is_err() {
            self.finish(&id, &cancel);
            log::warn!(
                "invoke {id} {command} refused: all {} workers busy",
                self.pool.workers()
            );
            let busy = InvokeError::unavailable(format!(
                "node is busy: {} invocations are running and {} are queued; retry shortly",
                self.pool.workers(),
                self.pool.queue_capacity()
            ));
            self.results.send_result(&id, &node_id, Err(busy));
        }
    }

    /// A worker's whole job for one invocation: run the command, send one result unless
    /// cancelled.
    fn run(&self, call: Call, request: InvokeRequest) {
        let started = Instant::now();
        let cancel = call.cancel.clone();
        // A command bug must cost one invocation, not the node, and the gateway still gets
        // its answer. (The pool's own guard only catches what escapes this one.)
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.commands
                .run(call, &request.command, request.params_json.as_deref())
        }))
        .unwrap_or_else(|_| Err(InvokeError::unavailable("node invocation failed")));
        if !cancel.should_report() {
            self.finish(&request.id, &cancel);
            log::debug!(
                "invoke {} {} cancelled; no result sent",
                request.id,
                request.command
            );
            return;
        }
        log::debug!(
            "invoke {} {} → {} in {:?}",
            request.id,
            request.command,
            if result.is_ok() { "ok" } else { "error" },
            started.elapsed()
        );
        self.results
            .send_result(&request.id, &request.node_id, result);
        // Finished only once the result is queued, so a shutdown that waits for in-flight work
        // closes the socket after it.
        self.finish(&request.id, &cancel);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, CancelToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an invocation. A duplicate id still running is cancelled first (§4.3).
    fn register(&self, id: &str) -> CancelToken {
        let token = CancelToken::new();
        if let Some(previous) = self.lock().insert(id.to_string(), token.clone()) {
            log::info!("invoke {id} sent again while running; the earlier one is cancelled");
            previous.cancel();
        }
        token
    }

    fn finish(&self, id: &str, token: &CancelToken) {
        let mut running = self.lock();
        if running
            .get(id)
            .map(|current| current.same_as(token))
            .unwrap_or(false)
        {
            running.remove(id);
        }
        if running.is_empty() {
            self.emptied.notify_all();
        }
    }

    /// `node.invoke.cancel`: stops the invocation; it sends no result. Returns whether it ran.
    pub fn cancel(&self, id: &str) -> bool {
        match self.lock().get(id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// The session ended: every invocation stops and sends nothing (the gateway has already
    /// failed them, as the TS host assumes).
    pub fn cancel_all(&self) {
        for (_, token) in self.lock().drain() {
            token.cancel();
        }
    }

    /// The node shuts down: every invocation stops but still reports its result.
    pub fn terminate_all(&self) {
        for token in self.lock().values() {
            token.terminate();
        }
    }

    /// Waits until nothing runs, at most `limit`. Returns whether that happened.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let running = self.lock();
        let (running, _) = self
            .emptied
            .wait_timeout_while(running, limit, |running| !running.is_empty())
            .unwrap_or_else(|p| p.into_inner());
        running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::NoEvents;
    use crossbeam_channel::{bounded, Receiver, Sender};

    /// Commands for the tests: `echo` answers its params, `block` waits for its cancel token
    /// or a release, `panic` panics.
    struct TestCommands {
        release: Receiver<()>,
        started: Sender<()>,
    }

    impl CommandSet for TestCommands {
        fn run(&self, call: Call, command: &str, params_json: Option<&str>) -> InvokeResult {
            match command {
                "echo" => Ok(params_json.unwrap_or("null").into()),
                "block" => {
                    let _ = self.started.send(());
                    while !call.cancel.is_cancelled() {
                        if self.release.recv_timeout(Duration::from_millis(10)).is_ok() {
                            break;
                        }
                    }
                    Ok("released".into())
                }
                "panic" => panic!("command bug"),
                _ => Err(InvokeError::unavailable("command not supported")),
            }
        }
    }

    struct Recorder(Sender<(String, InvokeResult)>);
    impl ResultSink for Recorder {
        fn send_result(&self, invoke_id: &str, _node_id: &str, result: InvokeResult) {
            let _ = self.0.send((invoke_id.to_string(), result));
        }
    }

    struct Setup {
        session: Arc<Invocations>,
        results: Receiver<(String, InvokeResult)>,
        release: Sender<()>,
        started: Receiver<()>,
    }

    fn setup(workers: usize, queue: usize) -> Setup {
        let (release, release_rx) = bounded(16);
        let (started_tx, started) = bounded(16);
        let dispatcher = Dispatcher::new(
            Arc::new(TestCommands {
                release: release_rx,
                started: started_tx,
            }),
            Pool::new(workers, queue),
        );
        let (tx, results) = bounded(16);
        let session = dispatcher.session(Arc::new(Recorder(tx)), Arc::new(NoEvents));
        Setup {
            session,
            results,
            release,
            started,
        }
    }

    fn request(id: &str, command: &str) -> InvokeRequest {
        InvokeRequest {
            id: id.into(),
            node_id: "n".into(),
            command: command.into(),
            params_json: Some("{\"x\":1}".into()),
            timeout_ms: None,
        }
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn one_result_per_invocation() {
        let t = setup(2, 2);
        t.session.start(request("a", "echo"));
        let (id, result) = t.results.recv_timeout(WAIT).unwrap();
        assert_eq!((id.as_str(), result), ("a", Ok("{\"x\":1}".into())));
        assert!(t.session.wait_idle(WAIT));
        assert!(t.results.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn a_panicking_command_answers_and_the_worker_survives() {
        let t = setup(1, 2);
        t.session.start(request("p", "panic"));
        let (_, result) = t.results.recv_timeout(WAIT).unwrap();
        assert_eq!(result.unwrap_err().message, "node invocation failed");
        t.session.start(request("e", "echo"));
        assert!(t.results.recv_timeout(WAIT).unwrap().1.is_ok());
    }

    #[test]
    fn a_full_pool_answers_busy_at_once() {
        let t = setup(1, 1);
        t.session.start(request("running", "block"));
        t.started.recv_timeout(WAIT).unwrap();
        t.session.start(request("queued", "block"));
        t.session.start(request("refused", "block"));
        let (id, result) = t.results.recv_timeout(WAIT).unwrap();
        assert_eq!(id, "refused");
        assert!(result.unwrap_err().message.starts_with("node is busy"));
        t.release.send(()).unwrap();
        t.release.send(()).unwrap();
        let mut done: Vec<String> = (0..2)
            .map(|_| t.results.recv_timeout(WAIT).unwrap().0)
            .collect();
        done.sort();
        assert_eq!(done, ["queued", "running"]);
    }

    #[test]
    fn a_cancelled_invocation_sends_nothing() {
        let t = setup(1, 1);
        t.session.start(request("c", "block"));
        t.started.recv_timeout(WAIT).unwrap();
        assert!(t.session.cancel("c"));
        assert!(t.session.wait_idle(WAIT));
        assert!(t.results.recv_timeout(Duration::from_millis(50)).is_err());
        assert!(!t.session.cancel("c"), "a finished invocation is gone");
    }

    #[test]
    fn a_terminated_invocation_still_reports() {
        let t = setup(1, 1);
        t.session.start(request("t", "block"));
        t.started.recv_timeout(WAIT).unwrap();
        t.session.terminate_all();
        let (id, result) = t.results.recv_timeout(WAIT).unwrap();
        assert_eq!((id.as_str(), result), ("t", Ok("released".into())));
        assert!(t.session.wait_idle(WAIT));
    }

    #[test]
    fn a_closed_session_cancels_everything() {
        let t = setup(2, 2);
        t.session.start(request("a", "block"));
        t.session.start(request("b", "block"));
        for _ in 0..2 {
            t.started.recv_timeout(WAIT).unwrap();
        }
        t.session.cancel_all();
        assert!(t.session.wait_idle(WAIT));
        assert!(t.results.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn duplicate_invoke_cancels_the_earlier_one() {
        let t = setup(1, 1);
        let first = t.session.register("x");
        let second = t.session.register("x");
        assert!(first.is_cancelled() && !second.is_cancelled());
        t.session.finish("x", &first);
        assert!(t.session.cancel("x"));
        assert!(second.is_cancelled());
    }
}
