//! Benchmark of the process runner (`openclaw_node::exec::run`).
//!
//! Prints the latency of `run(["true"])` against a bare `Command::new("true").status()`
//! (median, p99, ratio), throughput with 1, 4 and 16 threads, and the peak RSS of this process
//! (VmHWM) around a command that prints 1 GB.
//!
//! ```text
//! cargo run --release --example exec_bench [RUNS]
//! ```

use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use openclaw_node::cancel::CancelToken;
use openclaw_node::exec::{run, ExecSpec};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(2000);
    // The node hands children its own (filtered) environment; use ours for the same size.
    let spec = ExecSpec {
        argv: vec!["true".to_string()],
        env: std::env::vars().collect(),
        ..ExecSpec::default()
    };

    println!(
        "exec_bench: {runs} runs per measurement, {} CPUs",
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    let hwm_before = vm_hwm_kib();
    let big = ExecSpec {
        argv: ["head", "-c", "1000000000", "/dev/zero"]
            .map(String::from)
            .to_vec(),
        ..spec.clone()
    };
    let started = Instant::now();
    let outcome = run(&big, &CancelToken::new());
    let elapsed = started.elapsed();
    assert_eq!(outcome.exit_code, Some(0), "head failed: {outcome:?}");
    let hwm_after = vm_hwm_kib();
    println!(
        "1 GB of output: {:.2} s ({:.0} MB/s), kept {} bytes, truncated={}; VmHWM {} KiB before, {} KiB after (+{} KiB)",
        elapsed.as_secs_f64(),
        1000.0 / elapsed.as_secs_f64(),
        outcome.stdout.len(),
        outcome.truncated,
        hwm_before,
        hwm_after,
        hwm_after.saturating_sub(hwm_before),
    );

    // Warm up both paths (page cache, allocator, lazy statics).
    for _ in 0..50 {
        bare_true();
        run_true(&spec);
    }
    let mut bare = Vec::with_capacity(runs);
    let mut ours = Vec::with_capacity(runs);
    // Interleaved, so that drift on a shared machine hits both alike.
    for _ in 0..runs {
        bare.push(time(bare_true));
        ours.push(time(|| run_true(&spec)));
    }
    let (bare_median, bare_p99) = median_p99(&mut bare);
    let (ours_median, ours_p99) = median_p99(&mut ours);
    println!(
        "bare Command::status(): median {:>7.1} µs  p99 {:>7.1} µs",
        micros(bare_median),
        micros(bare_p99)
    );
    println!(
        "exec::run(true):        median {:>7.1} µs  p99 {:>7.1} µs",
        micros(ours_median),
        micros(ours_p99)
    );
    println!(
        "ratio run/bare: median {:.2}x  p99 {:.2}x",
        ours_median.as_secs_f64() / bare_median.as_secs_f64(),
        ours_p99.as_secs_f64() / bare_p99.as_secs_f64()
    );

    let spec = Arc::new(spec);
    for threads in [1, 4, 16] {
        let ours = throughput(threads, runs * 2, {
            let spec = Arc::clone(&spec);
            move || run_true(&spec)
        });
        let bare = throughput(threads, runs * 2, bare_true);
        println!("{threads:>2} threads: exec::run {ours:>6.0} runs/s   (bare Command::status {bare:>6.0} runs/s)");
    }
}

fn bare_true() {
    let status = Command::new("true").status().expect("spawn true");
    assert!(status.success());
}

fn run_true(spec: &ExecSpec) {
    let outcome = run(spec, &CancelToken::new());
    assert_eq!(outcome.exit_code, Some(0), "true failed: {outcome:?}");
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn median_p99(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `total` calls of `f` spread over `threads` threads; returns calls per second.
fn throughput(threads: usize, total: usize, f: impl Fn() + Send + Sync + Clone + 'static) -> f64 {
    let per_thread = total / threads;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let f = f.clone();
            thread::spawn(move || (0..per_thread).for_each(|_| f()))
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    (per_thread * threads) as f64 / started.elapsed().as_secs_f64()
}

/// Peak resident set size of this process so far, from /proc/self/status (0 when unknown).
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
