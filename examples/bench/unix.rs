#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde_json::json;
use support::node_process::{node_binary_beside_example, NodeProcess, NodeSpawn, TempDir};
use support::{Dir, FakeGateway, GatewayConfig, Hello, Invoke};

const TOKEN: &str = "bench-shared-token";
const WAIT: Duration = Duration::from_secs(60);
/// The real gateway's cadence (protocol §1.8): a tick every 30 s, a WebSocket ping every 25 s.
const TICK_MS: u64 = 30_000;
const PING_EVERY: Duration = Duration::from_secs(25);
/// `true` as an argv: no shell, so it compares with a bare spawn of `true`.
const RUN_TRUE: &str = r#"{"command":["true"]}"#;
const WHICH: &str = r#"{"bins":["sh","git","no-such-tool"]}"#;

/// What to measure, from the command line.
struct Options {
    node_bin: PathBuf,
    quick: bool,
    /// Only the file.fetch figures (`--files-only`).
    files_only: bool,
    /// Start-ups timed for the start → hello-ok median.
    starts: usize,
    /// Samples per round-trip figure.
    samples: usize,
    /// Runs per throughput figure.
    throughput_runs: usize,
    /// Runs of the leak check.
    leak_runs: usize,
    /// The idle window.
    idle: Duration,
}

pub fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::from(2);
        }
    };
    match bench(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nbench failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_options() -> Result<Options, String> {
    let mut node_bin = std::env::var_os("OPENCLAW_NODE_BIN").map(PathBuf::from);
    let mut quick = false;
    let mut files_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--files-only" => files_only = true,
            "--node-bin" => {
                node_bin = Some(PathBuf::from(args.next().ok_or("--node-bin needs a path")?))
            }
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--files-only] [--node-bin PATH]\n  \
                     --quick     fewer samples and a 10 s idle window (for development)\n  \
                     --files-only  only the file.fetch figures\n  \
                     --node-bin  the openclaw-node binary to measure \
                     (default: $OPENCLAW_NODE_BIN, else target/<profile>/openclaw-node)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let node_bin = match node_bin {
        Some(bin) => bin,
        None => default_node_binary()?,
    };
    if !node_bin.is_file() {
        return Err(format!("{} is not a file", node_bin.display()));
    }
    Ok(Options {
        node_bin,
        quick,
        files_only,
        starts: if quick { 8 } else { 25 },
        samples: if quick { 300 } else { 2000 },
        throughput_runs: if quick { 1000 } else { 4000 },
        leak_runs: 10_000,
        idle: Duration::from_secs(if quick { 10 } else { 60 }),
    })
}

/// One row of the result table.
struct Row {
    figure: String,
    value: String,
    goal: String,
    met: Option<bool>,
}

fn row(figure: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        figure: figure.into(),
        value: value.into(),
        goal: String::new(),
        met: None,
    }
}

impl Row {
    fn goal(mut self, goal: &str, met: bool) -> Row {
        self.goal = goal.to_string();
        self.met = Some(met);
        self
    }
}

fn bench(options: &Options) -> Result<(), String> {
    let bin = &options.node_bin;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    println!(
        "openclaw-node bench: {} ({:.2} MB), {cpus} CPUs, strict fake gateway on loopback{}",
        bin.display(),
        size as f64 / 1e6,
        if options.quick { ", --quick" } else { "" }
    );
    let mut rows = Vec::new();
    if options.files_only {
        rows.extend(file_fetch(options)?);
        print_table(&rows);
        return Ok(());
    }

    // The idle node runs beside everything else: its CPU time is its own, whatever else the
    // machine does. The gateway ticks and pings at the real gateway's cadence.
    progress("idle node: connecting (its window runs in the background)");
    let idle_gw = FakeGateway::start(GatewayConfig {
        ping_interval: Some(PING_EVERY),
        ..gateway_config().tick_interval_ms(TICK_MS)
    });
    let idle_dir = TempDir::new("bench-idle");
    let mut idle_node = NodeProcess::spawn(&spawn_spec(bin, &idle_gw, idle_dir.path()));
    expect_hello(&idle_gw, &idle_node, 0)?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_pid = idle_node.pid();
    let idle_rss = proc_status_kib(idle_pid, "VmRSS:");
    let idle_anon = proc_status_kib(idle_pid, "RssAnon:");
    let idle_start = (Instant::now(), cpu_of(idle_pid));

    rows.extend(startup(options)?);
    let (latency_rows, main_node_rss) = latency_throughput_leak(options)?;
    rows.extend(latency_rows);
    rows.push(big_output(options)?);
    rows.extend(file_fetch(options)?);
    rows.push(host_stats_cost()?);

    let left = options.idle.saturating_sub(idle_start.0.elapsed());
    if !left.is_zero() {
        progress(&format!(
            "idle node: waiting {:.0} s for the end of its window",
            left.as_secs_f64()
        ));
        std::thread::sleep(left);
    }
    let idle_end = (Instant::now(), cpu_of(idle_pid));
    let window = idle_end.0 - idle_start.0;
    let used = idle_end.1.since(&idle_start.1);
    let percent = 100.0 * used.run_ns as f64 / window.as_nanos() as f64;
    let idle_rss_end = proc_status_kib(idle_pid, "VmRSS:");
    let pings = idle_gw.pings().len();
    if !idle_node.is_running() {
        return Err(format!("the idle node exited\n{}", idle_node.stderr()));
    }
    idle_node.terminate();
    idle_node.wait_exit(WAIT);
    idle_gw.assert_no_violations();

    rows.insert(
        0,
        row(
            "RSS idle after connect (after the window)",
            format!(
                "{} ({}); anonymous {}, the rest file-backed",
                mib(idle_rss),
                mib(idle_rss_end),
                mib(idle_anon)
            ),
        )
        .goal("≤ 4 MiB", idle_rss.max(idle_rss_end) <= 4 * 1024),
    );
    rows.insert(1, main_node_rss);
    rows.push(
        row(
            format!(
                "CPU of an idle connected node over {:.0} s",
                window.as_secs_f64()
            ),
            format!(
                "{percent:.4} % ({:.2} ms; {} ticks utime+stime; {pings} pings)",
                used.run_ns as f64 / 1e6,
                used.ticks
            ),
        )
        .goal("≤ 0.1 %", percent <= 0.1),
    );
    let size_row = row(
        "binary size",
        format!("{:.2} MB ({size} bytes)", size as f64 / 1e6),
    );
    rows.push(if is_static(bin) {
        size_row.goal("≤ 4 MB (static)", size <= 4_000_000)
    } else {
        Row {
            goal: "≤ 4 MB is for the static musl build".to_string(),
            ..size_row
        }
    });

    print_table(&rows);
    Ok(())
}

fn gateway_config() -> GatewayConfig {
    GatewayConfig::default().token(TOKEN).quiet()
}

/// The node as a user runs it: `info` logs (the default of `run`), shared-token auth.
fn spawn_spec(bin: &Path, gw: &FakeGateway, dir: &Path) -> NodeSpawn {
    NodeSpawn {
        rust_log: "info".to_string(),
        ..NodeSpawn::new(bin, gw.port(), dir)
    }
    .display_name("bench-node")
    .token(TOKEN)
    // Dumpable, so that the bench (the same user) may count the node's /proc/<pid>/fd.
    .env("OPENCLAW_NODE_DUMPABLE", "1")
}

fn expect_hello(gw: &FakeGateway, node: &NodeProcess, after_conn: usize) -> Result<Hello, String> {
    gw.wait_for_hello_after(after_conn, WAIT).ok_or_else(|| {
        format!(
            "the node did not connect within {WAIT:?}\n--- node stderr ---\n{}",
            node.stderr()
        )
    })
}

fn progress(text: &str) {
    eprintln!("· {text}");
}

// ---- start → hello-ok ---------------------------------------------------------------------------

/// Start → hello-ok on both state backends: the 2026.9 database a fresh state directory gets
/// (its first start creates the whole schema) and the JSON files (`OPENCLAW_NODE_STATE_BACKEND=json`).
fn startup(options: &Options) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for backend in ["sqlite", "json"] {
        rows.push(startup_on(options, backend)?);
    }
    Ok(rows)
}

fn startup_on(options: &Options, backend: &str) -> Result<Row, String> {
    progress(&format!(
        "start → hello-ok ({backend}): {} starts (the first creates the identity{})",
        options.starts + 1,
        if backend == "sqlite" {
            " and the database"
        } else {
            ""
        }
    ));
    let gw = FakeGateway::start(gateway_config());
    let dir = TempDir::new("bench-start");
    let spec =
        spawn_spec(&options.node_bin, &gw, dir.path()).env("OPENCLAW_NODE_STATE_BACKEND", backend);
    let mut first = None;
    let mut warm = Vec::new();
    let mut last_conn = 0;
    for i in 0..=options.starts {
        let started = Instant::now();
        let mut node = NodeProcess::spawn(&spec);
        let hello = expect_hello(&gw, &node, last_conn)?;
        let took = hello.at.saturating_duration_since(started);
        last_conn = hello.conn;
        node.terminate();
        if node.wait_exit(WAIT).is_none() {
            return Err("the node did not exit after SIGTERM".into());
        }
        gw.wait_for_close(hello.conn, WAIT);
        if i == 0 {
            first = Some(took);
        } else {
            warm.push(took);
        }
    }
    gw.assert_no_violations();
    let stored = if backend == "sqlite" {
        "state/openclaw.sqlite"
    } else {
        "identity/device.json"
    };
    if !spec.state_dir.join(stored).exists() {
        return Err(format!("the {backend} start left no {stored}"));
    }
    let (median, p99) = median_p99(&mut warm);
    let first = first.unwrap_or_default();
    Ok(row(
        format!(
            "start → hello-ok ({backend}), median / max of {} (first start {})",
            warm.len(),
            ms(first)
        ),
        format!("{} / {}", ms(median), ms(p99)),
    )
    .goal("≤ 20 ms", median <= Duration::from_millis(20)))
}

// ---- round trips, throughput, leak check ----------------------------------------------------------

fn latency_throughput_leak(options: &Options) -> Result<(Vec<Row>, Row), String> {
    let gw = FakeGateway::start(gateway_config());
    let dir = TempDir::new("bench-main");
    let node = NodeProcess::spawn(&spawn_spec(&options.node_bin, &gw, dir.path()));
    expect_hello(&gw, &node, 0)?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = node.pid();
    let rss_connected = proc_status_kib(pid, "VmRSS:");
    let mut rows = Vec::new();

    progress(&format!(
        "round trips: {} samples each of system.which, system.run true and a bare spawn",
        options.samples
    ));
    for _ in 0..50 {
        invoke_ok(&gw, "system.which", WHICH)?;
        invoke_ok(&gw, "system.run", RUN_TRUE)?;
        bare_true()?;
    }
    let mut bare = Vec::new();
    let mut which_api = Vec::new();
    let mut run_api = Vec::new();
    let mut which_ids = Vec::new();
    let mut run_ids = Vec::new();
    // Interleaved, so that drift on a shared machine hits all three alike.
    for _ in 0..options.samples {
        bare.push(time(bare_true)?);
        let (took, id) = timed_invoke(&gw, "system.which", WHICH)?;
        which_api.push(took);
        which_ids.push(id);
        let (took, id) = timed_invoke(&gw, "system.run", RUN_TRUE)?;
        run_api.push(took);
        run_ids.push(id);
    }
    let wire = wire_times(&gw);
    let pick = |ids: &[String], part: fn(&(Duration, Duration)) -> Duration| -> Vec<Duration> {
        ids.iter().filter_map(|id| wire.get(id)).map(part).collect()
    };
    let mut which_wire = pick(&which_ids, |t| t.0);
    let mut run_wire = pick(&run_ids, |t| t.0);
    let mut run_node = pick(&run_ids, |t| t.0.saturating_sub(t.1));
    let mut run_acks = pick(&run_ids, |t| t.1);
    let (bare_median, bare_p99) = median_p99(&mut bare);
    let (run_median, run_p99) = median_p99(&mut run_wire);
    let (which_median, which_p99) = median_p99(&mut which_wire);
    let (run_api_median, run_api_p99) = median_p99(&mut run_api);
    let (which_api_median, which_api_p99) = median_p99(&mut which_api);
    rows.push(row(
        "system.which round trip at the gateway socket, median / p99",
        format!("{} / {}", ms(which_median), ms(which_p99)),
    ));
    rows.push(row(
        "system.run true round trip at the gateway socket, median / p99",
        format!("{} / {}", ms(run_median), ms(run_p99)),
    ));
    let (node_median, node_p99) = median_p99(&mut run_node);
    let (acks_median, _) = median_p99(&mut run_acks);
    rows.push(row(
        "  without the gateway answering exec.finished, median / p99",
        format!(
            "{} / {} (the gateway's answer: {} median)",
            ms(node_median),
            ms(node_p99),
            ms(acks_median)
        ),
    ));
    rows.push(row(
        "bare spawn of true (Command::status), same run, median / p99",
        format!("{} / {}", ms(bare_median), ms(bare_p99)),
    ));
    let ratio = node_median.as_secs_f64() / bare_median.as_secs_f64();
    rows.push(
        row(
            "node's system.run true ÷ bare spawn, median (at the socket)",
            format!(
                "{ratio:.2}× ({:.2}×)",
                run_median.as_secs_f64() / bare_median.as_secs_f64()
            ),
        )
        .goal("≤ 1.5×", ratio <= 1.5),
    );
    rows.push(row(
        "  as the test API sees them: which / run, median (p99)",
        format!(
            "{} ({}) / {} ({})",
            ms(which_api_median),
            ms(which_api_p99),
            ms(run_api_median),
            ms(run_api_p99)
        ),
    ));

    for depth in [1, 4, 16] {
        progress(&format!(
            "throughput: {} runs of system.run true, {depth} in flight",
            options.throughput_runs
        ));
        let (rate, split) = throughput(&gw, pid, depth, options.throughput_runs)?;
        let mut r = row(
            format!("throughput of system.run true, {depth:>2} in flight"),
            format!("{rate:.0} runs/s"),
        );
        if depth == 16 {
            r = r.goal("≥ 2 000 runs/s", rate >= 2000.0);
        }
        rows.push(r);
        rows.push(row(format!("  CPU per run, {depth:>2} in flight"), split));
    }

    progress("the floor: bare spawns of true from 16 threads");
    let (rate, split) = bare_throughput(16, options.throughput_runs)?;
    rows.push(row(
        "bare spawns of true from 16 threads (the floor)",
        format!("{rate:.0} spawns/s"),
    ));
    rows.push(row("  CPU per spawn", split));

    progress(&format!(
        "leak check: {} more runs, one at a time",
        options.leak_runs
    ));
    let rss_before_leak = proc_status_kib(pid, "VmRSS:");
    let fds_before = fd_count(pid);
    throughput(&gw, pid, 1, options.leak_runs)?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = proc_status_kib(pid, "VmRSS:");
    let fds_after = fd_count(pid);
    let hwm = proc_status_kib(pid, "VmHWM:");
    gw.assert_no_violations();
    let leak_row = row(
        format!(
            "RSS after connect → before → after {} sequential runs (peak); fds",
            options.leak_runs
        ),
        format!(
            "{} → {} → {} ({}); {fds_before} → {fds_after}",
            mib(rss_connected),
            mib(rss_before_leak),
            mib(rss_after),
            mib(hwm)
        ),
    )
    // A leak of 100 bytes a run shows as 1 MiB here; allocator arenas settling do not.
    .goal(
        "≤ +1 MiB, no fd (no leak)",
        rss_after <= rss_before_leak + 1024 && fds_after <= fds_before,
    );
    Ok((rows, leak_row))
}

/// Sends one invoke and waits for its result; `Err` unless the node answered `ok`.
fn invoke_ok(gw: &FakeGateway, command: &str, params: &str) -> Result<String, String> {
    let id = gw.send_invoke(Invoke::new(command).params_json(params));
    let reply = gw.wait_result(&id, WAIT)?;
    if !reply.ok {
        let (code, message) = reply.error_pair();
        return Err(format!("{command} failed: {code}: {message}"));
    }
    Ok(id)
}

fn timed_invoke(
    gw: &FakeGateway,
    command: &str,
    params: &str,
) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let id = invoke_ok(gw, command, params)?;
    Ok((started.elapsed(), id))
}

/// Per invoke, from the fake gateway's frame log: the time from the request frame leaving the
/// gateway to the result frame arriving, and how much of it the gateway itself spent answering
/// the node's `node.event` requests in between (the node waits for that answer before it sends
/// the result, §4.5). Only meaningful while one invoke at a time is in flight.
fn wire_times(gw: &FakeGateway) -> HashMap<String, (Duration, Duration)> {
    let mut sent = HashMap::new();
    let mut events = HashMap::new();
    let mut acks = Duration::ZERO;
    let mut times = HashMap::new();
    for frame in gw.frames() {
        let Some(json) = &frame.json else { continue };
        match frame.dir {
            Dir::ToNode if frame.event() == Some("node.invoke.request") => {
                if let Some(id) = json["payload"]["id"].as_str() {
                    sent.insert(id.to_string(), frame.at);
                    acks = Duration::ZERO;
                }
            }
            Dir::ToNode if json["type"] == "res" => {
                if let Some(at) = json["id"].as_str().and_then(|id| events.remove(id)) {
                    acks += frame.at.saturating_duration_since(at);
                }
            }
            Dir::FromNode if frame.method() == Some("node.event") => {
                if let Some(id) = json["id"].as_str() {
                    events.insert(id.to_string(), frame.at);
                }
            }
            Dir::FromNode if frame.method() == Some("node.invoke.result") => {
                if let Some(id) = json["params"]["id"].as_str() {
                    if let Some(at) = sent.get(id) {
                        times.insert(
                            id.to_string(),
                            (frame.at.saturating_duration_since(*at), acks),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    times
}

fn bare_true() -> Result<(), String> {
    let status = Command::new("true")
        .status()
        .map_err(|e| format!("cannot spawn true: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("true failed: {status}"))
}

fn time(f: impl FnOnce() -> Result<(), String>) -> Result<Duration, String> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed())
}

/// Keeps `depth` runs in flight until `total` have finished; returns runs per second and the
/// CPU time per run of the node, of its children, and of this process (the fake gateway and
/// the driver).
fn throughput(
    gw: &FakeGateway,
    pid: u32,
    depth: usize,
    total: usize,
) -> Result<(f64, String), String> {
    let node_before = cpu_of(pid);
    let children_before = children_cpu_ticks(pid);
    let self_before = cpu_of(std::process::id());
    let started = Instant::now();
    let mut in_flight = VecDeque::new();
    let mut sent = 0;
    let mut done = 0;
    while done < total {
        while in_flight.len() < depth && sent < total {
            in_flight.push_back(gw.send_invoke(Invoke::new("system.run").params_json(RUN_TRUE)));
            sent += 1;
        }
        let Some(id) = in_flight.pop_front() else {
            break;
        };
        let reply = gw.wait_result(&id, WAIT)?;
        if !reply.ok {
            let (code, message) = reply.error_pair();
            return Err(format!("system.run failed: {code}: {message}"));
        }
        done += 1;
    }
    let elapsed = started.elapsed();
    let node = cpu_of(pid).since(&node_before);
    let children = children_cpu_ticks(pid).saturating_sub(children_before);
    let this = cpu_of(std::process::id()).since(&self_before);
    let per_run = |ns: f64| ns / total as f64 / 1000.0;
    let node_us = per_run(node.run_ns as f64);
    let children_us = per_run(children as f64 * TICK_NS);
    // Ticks, not schedstat: threads of this process come and go (the gateway's, the spawners').
    let this_us = per_run(this.ticks as f64 * TICK_NS);
    let [reader_us, writer_us, workers_us] = node.roles_ns.map(|ns| per_run(ns as f64));
    let split = format!(
        "node {node_us:.0} µs (reader {reader_us:.0}, writer {writer_us:.0}, workers \
         {workers_us:.0}), its children {children_us:.0} µs, fake gateway + driver {this_us:.0} µs \
         (wall {:.0} µs)",
        per_run(elapsed.as_nanos() as f64)
    );
    Ok((total as f64 / elapsed.as_secs_f64(), split))
}

/// `total` bare spawns of `true` spread over `threads` threads: spawns per second, and the CPU
/// per spawn of the children and of this process.
fn bare_throughput(threads: usize, total: usize) -> Result<(f64, String), String> {
    let me = std::process::id();
    let (self_before, children_before) = (cpu_of(me), children_cpu_ticks(me));
    let started = Instant::now();
    let per_thread = total / threads;
    let workers: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || (0..per_thread).try_for_each(|_| bare_true())))
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| "a spawning thread panicked".to_string())??;
    }
    let elapsed = started.elapsed();
    let n = (per_thread * threads) as f64;
    let this = cpu_of(me).since(&self_before);
    let children = children_cpu_ticks(me).saturating_sub(children_before);
    Ok((
        n / elapsed.as_secs_f64(),
        format!(
            "the children {:.0} µs, the spawning process {:.0} µs (wall {:.0} µs)",
            children as f64 * TICK_NS / n / 1000.0,
            this.ticks as f64 * TICK_NS / n / 1000.0,
            elapsed.as_nanos() as f64 / n / 1000.0
        ),
    ))
}

// ---- 1 GB of output -------------------------------------------------------------------------------

fn big_output(options: &Options) -> Result<Row, String> {
    progress("peak RSS: a fresh node runs `head -c 1000000000 /dev/zero`");
    let gw = FakeGateway::start(gateway_config());
    let dir = TempDir::new("bench-big");
    let node = NodeProcess::spawn(&spawn_spec(&options.node_bin, &gw, dir.path()));
    expect_hello(&gw, &node, 0)?;
    let pid = node.pid();
    let before = proc_status_kib(pid, "VmHWM:");
    let started = Instant::now();
    let reply = gw.try_invoke(
        Invoke::new("system.run").params(
            json!({"command": ["head", "-c", "1000000000", "/dev/zero"], "timeoutMs": 120000}),
        ),
        Duration::from_secs(180),
    )?;
    let took = started.elapsed();
    let peak = proc_status_kib(pid, "VmHWM:");
    if !reply.ok {
        let (code, message) = reply.error_pair();
        return Err(format!("the 1 GB run failed: {code}: {message}"));
    }
    let payload = reply.payload_value();
    let kept = payload["stdout"].as_str().map_or(0, str::len);
    gw.assert_no_violations();
    Ok(row(
        "peak RSS (VmHWM) while a command prints 1 GB",
        format!(
            "{} (before: {}; {:.1} s, {:.0} MB/s, {} bytes kept)",
            mib(peak),
            mib(before),
            took.as_secs_f64(),
            1000.0 / took.as_secs_f64(),
            kept
        ),
    )
    .goal("≤ 16 MiB", peak <= 16 * 1024))
}

// ---- file.fetch ----------------------------------------------------------------------------------

/// A fresh node serves `file.fetch` of 1 MiB and 16 MiB (the cap): time per fetch and the
/// node's peak RSS above its idle figure (goal: the 16 MiB fetch at most 48 MiB above idle;
/// the TS host peaks at about 740 MiB).
fn file_fetch(options: &Options) -> Result<Vec<Row>, String> {
    progress("file.fetch: a fresh node serves 1 MiB and 16 MiB files");
    let gw = FakeGateway::start(gateway_config());
    let dir = TempDir::new("bench-fetch");
    let files = std::fs::canonicalize(dir.path()).map_err(|e| e.to_string())?;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    };
    let cases = [("1 MiB", 1usize << 20), ("16 MiB", 16usize << 20)];
    for (name, len) in cases {
        std::fs::write(files.join(name.replace(' ', "")), noise(len)).map_err(|e| e.to_string())?;
    }
    let node = NodeProcess::spawn(&spawn_spec(&options.node_bin, &gw, dir.path()));
    expect_hello(&gw, &node, 0)?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = node.pid();
    let idle = proc_status_kib(pid, "VmRSS:");
    let mut rows = Vec::new();
    for (name, len) in cases {
        let path = files.join(name.replace(' ', ""));
        let expected =
            openclaw_node::digest::sha256_hex(&std::fs::read(&path).map_err(|e| e.to_string())?);
        let started = Instant::now();
        let reply = gw.try_invoke(
            Invoke::new("file.fetch").params(json!({"path": path, "maxBytes": 16 << 20})),
            WAIT,
        )?;
        let took = started.elapsed();
        let peak = proc_status_kib(pid, "VmHWM:");
        let value = reply.payload_value();
        if value["sha256"] != expected.as_str() || value["size"] != len {
            let text = value.to_string();
            return Err(format!(
                "file.fetch {name}: wrong answer {}",
                &text[..text.len().min(300)]
            ));
        }
        let payload_len = value["base64"].as_str().map_or(0, str::len);
        let above = peak.saturating_sub(idle);
        let figure = row(
            format!("file.fetch {name}: time, peak RSS (VmHWM) above idle"),
            format!(
                "{:.0} ms, {} above {} idle (peak {}; base64 {:.1} MB)",
                took.as_secs_f64() * 1000.0,
                mib(above),
                mib(idle),
                mib(peak),
                payload_len as f64 / 1e6
            ),
        );
        rows.push(if len == 16 << 20 {
            figure.goal("≤ 48 MiB above idle (TS: ~740 MiB)", above <= 48 * 1024)
        } else {
            figure
        });
    }
    gw.assert_no_violations();
    Ok(rows)
}

/// Whether the binary is statically linked: it names no program interpreter (`ld-linux…`,
/// `ld-musl…`), which sits in the first page of a dynamic executable.
/// The CPU one host-stats publication costs the node beyond the writer's framing: reading
/// `/proc/stat`, `/proc/meminfo`, `/proc/loadavg`, `statfs` of the home volume, and the
/// `node.event` params, measured in this process on this thread (schedstat run time) over many
/// samples. The node sends one a minute.
fn host_stats_cost() -> Result<Row, String> {
    use openclaw_node::host_stats::HostStats;
    progress("host stats: sampling");
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let thread_ns = || {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    const SAMPLES: u32 = 2_000;
    let mut bytes = 0;
    let before = thread_ns();
    for _ in 0..SAMPLES {
        let stats = HostStats::sample(&home).ok_or("no /proc to sample")?;
        bytes = stats.event_params().len();
    }
    let per_sample_us = (thread_ns() - before) as f64 / f64::from(SAMPLES) / 1e3;
    Ok(row(
        "CPU of one host-stats sample + node.event params",
        format!("{per_sample_us:.1} µs ({bytes} bytes of params; one a minute)"),
    )
    .goal("< 1 ms", per_sample_us < 1_000.0))
}

fn is_static(bin: &Path) -> bool {
    let Ok(bytes) = std::fs::read(bin) else {
        return false;
    };
    let head = &bytes[..bytes.len().min(4096)];
    ![&b"/ld-linux"[..], b"/ld-musl"]
        .iter()
        .any(|needle| head.windows(needle.len()).any(|w| w == *needle))
}

// ---- /proc ----------------------------------------------------------------------------------------

/// `USER_HZ`: the unit of the times in /proc/<pid>/stat on Linux.
const TICK_NS: f64 = 1e9 / 100.0;

/// CPU time of a process: all its threads' run time in ns (schedstat) and utime+stime ticks.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    run_ns: u64,
    ticks: u64,
    /// `run_ns` of the node's reader (its main thread), writer and invoke workers.
    roles_ns: [u64; 3],
}

impl Cpu {
    fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            run_ns: self.run_ns.saturating_sub(earlier.run_ns),
            ticks: self.ticks.saturating_sub(earlier.ticks),
            roles_ns: std::array::from_fn(|i| self.roles_ns[i].saturating_sub(earlier.roles_ns[i])),
        }
    }
}

fn cpu_of(pid: u32) -> Cpu {
    let ticks = stat_fields(pid).map_or(0, |f| field(&f, 14) + field(&f, 15));
    // schedstat's first field is ns on the CPU, per thread; a thread that already exited is in
    // neither, but the node's threads live as long as it does.
    let mut run_ns = 0;
    let mut roles_ns = [0; 3];
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            let ns = text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            run_ns += ns;
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let role = if task.file_name().to_str() == Some(&pid.to_string()) {
                Some(0)
            } else if name.trim() == "gateway-writer" {
                Some(1)
            } else if name.starts_with("invoke-") {
                Some(2)
            } else {
                None
            };
            if let Some(role) = role {
                roles_ns[role] += ns;
            }
        }
    }
    Cpu {
        run_ns,
        ticks,
        roles_ns,
    }
}

/// Open descriptors of `pid`.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// cutime + cstime: CPU of the children the process has waited for.
fn children_cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid).map_or(0, |f| field(&f, 16) + field(&f, 17))
}

/// /proc/<pid>/stat split after the command name, so that field n (1-based, as in proc(5)) is
/// at index n - 3.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn field(fields: &[String], n: usize) -> u64 {
    fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(0)
}

/// A `kB` line of /proc/<pid>/status (0 when unknown).
fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ---- formatting -----------------------------------------------------------------------------------

fn median_p99(samples: &mut [Duration]) -> (Duration, Duration) {
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.2} MiB", kib as f64 / 1024.0)
}

fn print_table(rows: &[Row]) {
    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let w_figure = width(|r| r.figure.chars().count());
    let w_value = width(|r| r.value.chars().count());
    let w_goal = width(|r| r.goal.chars().count()).max(4);
    println!();
    println!(
        "{:<w_figure$}  {:<w_value$}  {:<w_goal$}  ",
        "figure", "value", "goal"
    );
    println!(
        "{}  {}  {}  ------",
        "-".repeat(w_figure),
        "-".repeat(w_value),
        "-".repeat(w_goal),
    );
    for r in rows {
        let verdict = match r.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<w_figure$}  {:<w_value$}  {:<w_goal$}  {verdict}",
            r.figure, r.value, r.goal
        );
    }
}

// ---- the node binary ------------------------------------------------------------------------------

/// `target/<profile>/openclaw-node` next to this example, built first when cargo started it.
fn default_node_binary() -> Result<PathBuf, String> {
    let (bin, profile) = node_binary_beside_example()?;
    if profile != "release" {
        eprintln!(
            "warning: measuring a {} build; the goals are for `cargo run --release --example bench`",
            if profile.is_empty() { "non-release" } else { &profile }
        );
    }
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found. Build it with `cargo build --release`, or pass --node-bin.",
            bin.display()
        ))
    }
}
