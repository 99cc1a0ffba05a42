//! Footprint of a node hosting MCP servers (issue 13), against the strict fake gateway.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example mcp_bench              # 60 s idle window, 500 calls
//! cargo run --release --example mcp_bench -- --quick   # 10 s, 100 calls
//! ```
//!
//! The node runs with two stdio MCP servers (`tests/fixtures/mcp_server.py`, twice) in its
//! `openclaw.json`, ticks every 30 s and pings every 25 s as the real gateway sends them. It
//! prints: the node's RSS and thread count once the catalog is published; its CPU time over the
//! idle window (utime+stime and the threads' schedstat run time; the servers' own CPU is theirs,
//! not the node's); and the `mcp.tools.call.v1` round trip (an `echo` call), median and p99, at
//! the gateway's socket (request frame written → result frame read).

// The harness is the POSIX fake gateway (`tests/support`): Unix only; on Windows the example
// says so and exits 2.
#[cfg(unix)]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("mcp_bench drives the POSIX fake gateway; it runs on Unix only");
    std::process::ExitCode::from(2)
}

#[cfg(unix)]
use unix_bench::main;

#[cfg(unix)]
mod unix_bench {
    use super::support;

    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use support::node_process::{node_binary_beside_example, NodeProcess, NodeSpawn, TempDir};
    use support::{Dir, FakeGateway, GatewayConfig, Invoke};

    const TOKEN: &str = "bench-shared-token";
    const WAIT: Duration = Duration::from_secs(60);

    pub fn main() -> ExitCode {
        match run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("mcp_bench: {err}");
                ExitCode::FAILURE
            }
        }
    }

    fn run() -> Result<(), String> {
        let quick = std::env::args().any(|a| a == "--quick");
        let (idle, calls) = if quick {
            (Duration::from_secs(10), 100)
        } else {
            (Duration::from_secs(60), 500)
        };
        let bin = match std::env::var_os("OPENCLAW_NODE_BIN") {
            Some(path) => PathBuf::from(path),
            None => node_binary_beside_example()?.0,
        };
        let gw = FakeGateway::start(GatewayConfig {
            ping_interval: Some(Duration::from_secs(25)),
            ..GatewayConfig::default()
                .token(TOKEN)
                .quiet()
                .tick_interval_ms(30_000)
        });
        let dir = TempDir::new("mcp-bench");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
        let fixture =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp_server.py");
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let server = serde_json::json!({"command": python, "args": [fixture]});
        std::fs::write(
            state.join("openclaw.json"),
            serde_json::json!({"nodeHost":{"mcp":{"servers":{"one": server, "two": server}}}})
                .to_string(),
        )
        .map_err(|e| e.to_string())?;
        let spec = NodeSpawn {
            rust_log: "info".to_string(),
            ..NodeSpawn::new(&bin, gw.port(), dir.path())
        }
        .display_name("mcp-bench")
        .token(TOKEN)
        .env("OPENCLAW_NODE_DUMPABLE", "1");
        let mut node = NodeProcess::spawn(&spec);
        gw.wait_for_hello(WAIT)
            .ok_or_else(|| format!("no hello\n{}", node.stderr()))?;
        let deadline = Instant::now() + WAIT;
        while !gw
            .requests("node.pluginTools.update")
            .last()
            .is_some_and(|(_, p)| p["tools"].as_array().map_or(0, Vec::len) >= 20)
        {
            if Instant::now() > deadline {
                return Err(format!("no catalog of both servers\n{}", node.stderr()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_secs(1));
        let pid = node.pid();
        let rss = status_kib(pid, "VmRSS:");
        let threads = status_kib(pid, "Threads:");
        let (t0, cpu0) = (Instant::now(), cpu_ns(pid));
        std::thread::sleep(idle);
        let (window, used) = (t0.elapsed(), cpu_ns(pid).saturating_sub(cpu0));
        let rss_after = status_kib(pid, "VmRSS:");

        let mut ids = Vec::new();
        for _ in 0..calls {
            let mut invoke = Invoke::new("mcp.tools.call.v1");
            invoke.params_json =
                Some(r#"{"server":"one","tool":"echo","arguments":{"text":"x"}}"#.into());
            invoke.timeout_ms = Some(125_000);
            let reply = gw.try_invoke(invoke, WAIT)?;
            if !reply.ok {
                return Err(format!("call failed: {}", reply.params));
            }
            ids.push(reply.id);
        }
        let mut sent = std::collections::HashMap::new();
        let mut samples = Vec::new();
        for frame in gw.frames() {
            let Some(json) = &frame.json else { continue };
            if frame.dir == Dir::ToNode && frame.event() == Some("node.invoke.request") {
                if let Some(id) = json["payload"]["id"].as_str() {
                    sent.insert(id.to_string(), frame.at);
                }
            } else if frame.dir == Dir::FromNode && frame.method() == Some("node.invoke.result") {
                if let Some(at) = json["params"]["id"].as_str().and_then(|id| sent.remove(id)) {
                    samples.push(frame.at.saturating_duration_since(at));
                }
            }
        }
        samples.sort();
        let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        node.terminate();
        node.wait_exit(WAIT);
        gw.assert_no_violations();
        println!(
            "openclaw-node with two stdio MCP servers ({})",
            bin.display()
        );
        println!(
        "RSS idle, catalog published: {:.2} MiB (after the window {:.2} MiB); {threads} threads",
        rss as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
        println!(
            "CPU over {:.0} s idle: {:.4} % ({:.2} ms)",
            window.as_secs_f64(),
            100.0 * used as f64 / window.as_nanos() as f64,
            used as f64 / 1e6
        );
        println!(
            "mcp.tools.call.v1 round trip at the socket ({} calls): median {:.0} µs, p99 {:.0} µs",
            samples.len(),
            pick(0.5).as_secs_f64() * 1e6,
            pick(0.99).as_secs_f64() * 1e6
        );
        Ok(())
    }

    /// utime+stime of every thread, from schedstat (ns on the CPU).
    fn cpu_ns(pid: u32) -> u64 {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    }

    fn status_kib(pid: u32, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}
