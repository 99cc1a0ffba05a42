//! Spawning a run and watching it: pipe readers and an exit watcher on their own threads feed
//! channels; the caller's thread waits on those and the cancel token, with the timeout and the
//! drain deadlines, and terminates the Job when one of them says so.

use std::io::Read;
use std::os::windows::process::CommandExt as _;
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, TryRecvError};

use super::capture::{Capture, Stream};
use super::command_line::{child_environment, resolve};
use super::{ExecSpec, ProcessGroup, EXIT_DRAIN_MAX, EXIT_QUIET};
use crate::cancel::{CancelToken, Woken};

/// One read per chunk; a pipe's default buffer.
const READ_CHUNK: usize = 64 * 1024;

/// Chunks in flight between a reader and the loop, per run (both readers share the channel).
const CHUNKS_IN_FLIGHT: usize = 16;

/// What the supervision learnt; the caller turns it into an `ExecOutcome`.
pub(in crate::exec) struct Ended {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub capture: Capture,
}

/// Starts `spec` in a Job of its own, stdin an empty pipe, stdout and stderr piped.
pub(in crate::exec) fn spawn(spec: &ExecSpec) -> std::io::Result<ProcessGroup> {
    let env = child_environment(&spec.env, |key| std::env::var(key).ok());
    let launch = resolve(&spec.argv, &env, spec.cwd.as_deref())?;
    let mut command = Command::new(&launch.program);
    if !launch.raw_args.is_empty() {
        command.raw_arg(&launch.raw_args);
    }
    command
        .env_clear()
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut group = ProcessGroup::spawn(&mut command)?;
    group.close_stdin();
    Ok(group)
}

/// Runs until the child has exited and its pipes are drained (quiet for [`EXIT_QUIET`], at
/// most [`EXIT_DRAIN_MAX`]), or it timed out or was cancelled and its Job was terminated. The
/// Job is closed on return, which ends anything of the run still alive.
pub(in crate::exec) fn supervise(
    mut group: ProcessGroup,
    spec: &ExecSpec,
    cancel: &CancelToken,
) -> Ended {
    let started = Instant::now();
    let (chunk_tx, chunks) = crossbeam_channel::bounded::<(Stream, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let mut helpers = Vec::with_capacity(3);
    for (stream, pipe) in [
        (Stream::Stdout, group.take_stdout().map(|p| Box::new(p) as Box<dyn Read + Send>)),
        (Stream::Stderr, group.take_stderr().map(|p| Box::new(p) as Box<dyn Read + Send>)),
    ] {
        let Some(mut pipe) = pipe else { continue };
        let tx = chunk_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("exec-pipe".into())
            .spawn(move || {
                let mut buf = vec![0u8; READ_CHUNK];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    if tx.send((stream, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(handle) => helpers.push(handle),
            Err(err) => {
                log::warn!("exec: cannot start a pipe reader ({err}); that stream is not captured")
            }
        }
    }
    drop(chunk_tx);
    let job = group.job();
    let (child, _job_ref) = group.into_parts();
    let (exit, watcher) = watch_exit(child);
    helpers.extend(watcher);

    let timeout_at = spec
        .timeout
        .filter(|t| !t.is_zero())
        .map(|t| started + t);
    let mut capture = Capture::new(spec.output_cap);
    let mut status: Option<ExitStatus> = None;
    let mut exit_lost = false;
    let mut timed_out = false;
    let mut cancelled = false;
    let mut pipes_open = true;
    let mut exited_at: Option<Instant> = None;
    let mut last_output = Instant::now();
    loop {
        let now = Instant::now();
        let running = status.is_none() && !exit_lost;
        if running && !timed_out && !cancelled {
            if cancel.is_cancelled() {
                cancelled = true;
                job.terminate();
            } else if timeout_at.is_some_and(|at| now >= at) {
                timed_out = true;
                job.terminate();
            }
        }
        if !running {
            let exited = *exited_at.get_or_insert(now);
            let quiet = now.duration_since(last_output.max(exited)) >= EXIT_QUIET;
            if !pipes_open || quiet || now.duration_since(exited) >= EXIT_DRAIN_MAX {
                break;
            }
        }
        let mut deadline = now + std::time::Duration::from_secs(3600);
        if running && !timed_out && !cancelled {
            if let Some(at) = timeout_at {
                deadline = deadline.min(at);
            }
        }
        if let Some(exited) = exited_at {
            deadline = deadline
                .min(last_output.max(exited) + EXIT_QUIET)
                .min(exited + EXIT_DRAIN_MAX);
        }
        let mut select = Select::new();
        let chunk_index = pipes_open.then(|| select.recv(&chunks));
        let exit_index = running.then(|| select.recv(&exit));
        let woken = if cancelled || timed_out {
            // Already terminating: the cancel channel would only wake us again at once.
            match select.ready_deadline(deadline) {
                Ok(index) => Woken::Ready(index),
                Err(_) => Woken::TimedOut,
            }
        } else {
            cancel.ready_until(select, deadline)
        };
        let Woken::Ready(index) = woken else { continue };
        if Some(index) == chunk_index {
            match chunks.try_recv() {
                Ok((stream, chunk)) => {
                    capture.push(stream, &chunk);
                    last_output = Instant::now();
                }
                Err(TryRecvError::Disconnected) => pipes_open = false,
                Err(TryRecvError::Empty) => {}
            }
        } else if Some(index) == exit_index {
            match exit.try_recv() {
                Ok(Some(done)) => status = Some(done),
                Ok(None) | Err(TryRecvError::Disconnected) => exit_lost = true,
                Err(TryRecvError::Empty) => {}
            }
        }
    }
    // The run is over: whatever it left running goes with its Job. Then the helpers end (the
    // pipes' writers are gone, the child has exited): joined, so no thread of this run outlives
    // it, and a node that exits right after (shutdown) has nothing of it in flight.
    if job.active_processes() > 0 {
        job.terminate();
    }
    drop(chunks);
    for helper in helpers {
        let _ = helper.join();
    }
    // A child the Job's termination ended has no exit code of its own, as one a signal ended on
    // Unix: `exec::reported_exit_code` then reports 124 for a timeout, nothing for a cancel.
    let terminated = (timed_out || cancelled)
        && status.and_then(|s| s.code()) == Some(super::super::TIMEOUT_EXIT_CODE);
    Ended {
        exit_code: status.and_then(|s| s.code()).filter(|_| !terminated),
        signal: None,
        timed_out,
        cancelled,
        capture,
    }
}

/// Waits for the child on a thread of its own; the status arrives on the channel (`None` when
/// waiting failed).
fn watch_exit(
    mut child: std::process::Child,
) -> (Receiver<Option<ExitStatus>>, Option<JoinHandle<()>>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("exec-wait".into())
        .spawn(move || {
            let _ = tx.send(child.wait().ok());
        });
    match spawned {
        Ok(handle) => (rx, Some(handle)),
        Err(err) => {
            log::warn!("exec: cannot start the exit watcher ({err})");
            (rx, None)
        }
    }
}
