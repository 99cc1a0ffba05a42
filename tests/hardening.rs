//! Faults and load: the node keeps working when the gateway misbehaves, and loses nothing.
//!
//! Decided behaviour, tested here:
//! - The gateway connection drops while a command runs: the command's process group is killed
//!   and no result is sent, on that connection or the next (the gateway has already failed the
//!   invoke; this is also what the TS host does). The node reconnects and serves again.
//! - SIGTERM while a command runs: the command is terminated, its result is sent while the
//!   socket is still up, then the node closes the connection and exits 0.
//! - A frame over the 25 MiB limit ends the connection; the node reconnects. Garbage and binary
//!   frames are ignored (spec §1.2), and a flood of them leaves resident memory where it was.
//! - A gateway that stops reading (its socket open, its ticks still coming): the node's outbound
//!   queue is bounded in bytes, so its memory stays bounded however much output piles up; a write
//!   that makes no progress for twice the tick interval ends the session, and the node reconnects.
//! - The gateway's password changes under a running node: its reconnect is refused with
//!   `AUTH_PASSWORD_MISMATCH`, and it exits 1 after that one attempt (spec: pause, then exit for
//!   the supervisor), never logging the password.
//! - Under load every invoke is answered exactly once (a result or "busy"); afterwards no zombie
//!   remains and the node's descriptors are back where they started.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::node_process::{NodeProcess, NodeSpawn, TempDir};
use support::{FakeGateway, GatewayConfig, Invoke, WAIT};

fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_openclaw-node"))
}

fn start(gw: &FakeGateway, dir: &TempDir, extra_env: &[(&str, &str)]) -> NodeProcess {
    // Dumpable, so that this test (the same user) may count the node's /proc/<pid>/fd.
    let mut spec = NodeSpawn::new(node_bin(), gw.port(), dir.path())
        .display_name("hardening")
        .env("OPENCLAW_NODE_DUMPABLE", "1");
    for (key, value) in extra_env {
        spec = spec.env(key, value);
    }
    let node = NodeProcess::spawn(&spec);
    gw.wait_for_hello(WAIT)
        .unwrap_or_else(|| panic!("no handshake\n{}", gw.describe(20)));
    node
}

fn run_params(argv: &[&str]) -> String {
    json!({ "command": argv }).to_string()
}

/// Waits until `path` holds a pid, and returns it.
fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no pid in {}", path.display());
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            !matches!(stat.rsplit(')').next().map(str::trim_start), Some(s) if s.starts_with('Z') || s.starts_with('X'))
        }
        Err(_) => false,
    }
}

fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Children of `pid` that are zombies.
fn zombie_children(pid: u32) -> Vec<i32> {
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let rest: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if rest.len() > 1 && rest[0] == "Z" && rest[1] == pid.to_string() {
            zombies.push(child);
        }
    }
    zombies
}

#[test]
fn gateway_drop_mid_run_kills_the_command_and_sends_no_result() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("drop-mid-run");
    let _node = start(&gw, &dir, &[]);
    let pid_file = dir.path().join("child.pid");
    let script = format!("echo $$ > {}; exec sleep 60", pid_file.display());
    let id =
        gw.send_invoke(Invoke::new("system.run").params_json(&run_params(&["sh", "-c", &script])));
    let pid = read_pid(&pid_file);
    assert!(alive(pid));

    let conn = gw.drop_connection();
    assert!(wait_gone(pid), "the command survived the connection");
    gw.wait_for_hello_after(conn, WAIT)
        .unwrap_or_else(|| panic!("no reconnect\n{}", gw.describe(20)));
    // Serving again, and the dropped invoke never answered.
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok, "{reply:?}");
    assert_eq!(
        gw.result_count(&id),
        0,
        "a result for the dropped invoke was sent"
    );
    gw.assert_no_violations();
}

#[test]
fn sigterm_terminates_running_commands_and_sends_their_results() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("sigterm-run");
    let mut node = start(&gw, &dir, &[]);
    let pid_file = dir.path().join("child.pid");
    let script = format!("echo $$ > {}; exec sleep 60", pid_file.display());
    let id =
        gw.send_invoke(Invoke::new("system.run").params_json(&run_params(&["sh", "-c", &script])));
    let pid = read_pid(&pid_file);

    node.terminate();
    let reply = gw
        .wait_result(&id, WAIT)
        .expect("the terminated run reported no result");
    let payload = reply.payload_value();
    assert_eq!(payload["success"], false, "{payload}");
    assert!(
        payload.get("exitCode").is_none(),
        "killed by a signal: no exit code ({payload})"
    );
    let status = node.wait_exit(WAIT).expect("the node did not exit");
    // 128 + SIGTERM, as the TS node host exits after a clean stop.
    assert_eq!(status.code(), Some(143));
    assert!(!alive(pid), "the command outlived the node");
}

#[test]
fn oversized_frame_ends_the_connection_and_the_node_reconnects() {
    let gw = FakeGateway::start(GatewayConfig::default());
    let dir = TempDir::new("oversized");
    let _node = start(&gw, &dir, &[]);
    let conn = gw.connections().last().map(|c| c.id).unwrap();
    // One byte over the client's 25 MiB maxPayload.
    let huge = format!(
        r#"{{"type":"event","event":"x","payload":"{}"}}"#,
        "a".repeat(26_214_400)
    );
    gw.send_raw(&huge);
    gw.wait_for_hello_after(conn, WAIT)
        .unwrap_or_else(|| panic!("no reconnect after an oversized frame\n{}", gw.describe(20)));
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok, "{reply:?}");
}

/// A `kB` line of the node's /proc status, in KiB.
fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} for {pid}"))
}

/// The node's peak resident memory (`VmHWM`) in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

/// The node's resident memory (`VmRSS`) in KiB.
fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

#[test]
fn a_gateway_that_stops_reading_is_left_with_bounded_memory() {
    // Ticks every 500 ms keep coming: only the blocked writer can tell this gateway is dead.
    let gw = FakeGateway::start(GatewayConfig::default().tick_interval_ms(500).quiet());
    let dir = TempDir::new("stall");
    let node = start(&gw, &dir, &[]);
    let _ = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    let baseline_kib = peak_rss_kib(node.pid());

    // Output of control characters, which JSON escapes as `\\u0001` twice over (in the payload,
    // then in the frame): each result is a 2.8 MB frame, and the 16 workers' first results
    // (45 MB) are far beyond the socket buffers and the node's 8 MiB queue.
    let loud = run_params(&[
        "sh",
        "-c",
        "head -c 200000 /dev/zero | tr '\\0' '\\1'; head -c 200000 /dev/zero | tr '\\0' '\\1' >&2",
    ]);
    for _ in 0..64 {
        gw.send_invoke(Invoke::new("system.run").params_json(&loud));
    }
    let stalled = gw.stall_connection();

    // Each run first sends its `exec.finished` event and waits up to 30 s for the gateway's
    // answer (protocol: events before results); only then do the results pile up.
    let closed = gw
        .wait_for_close(stalled, Duration::from_secs(120))
        .unwrap_or_else(|| {
            panic!(
                "the node never gave up on the stalled gateway\n{}",
                gw.describe(10)
            )
        });
    assert_eq!(closed.by, support::Closer::Abrupt, "{closed:?}");
    assert!(
        node.wait_for_output("has not read from the connection", WAIT),
        "the log does not say why:\n{}",
        node.all_output()
    );
    gw.wait_for_hello_after(stalled, WAIT)
        .unwrap_or_else(|| panic!("no reconnect\n{}", gw.describe(10)));
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok, "{reply:?}");

    let peak_kib = peak_rss_kib(node.pid());
    eprintln!("stalled gateway: RSS peak {peak_kib} KiB (baseline {baseline_kib} KiB)");
    // The queue's 8 MiB plus the frames of 16 workers waiting for room (2.8 MB each), on top
    // of the baseline. A queue bounded only in frames would take every result: 180 MB.
    assert!(
        peak_kib < baseline_kib + 60 * 1024,
        "memory grew to {peak_kib} KiB from {baseline_kib} KiB"
    );
    assert!(zombie_children(node.pid()).is_empty());
}

#[test]
fn load_every_invoke_is_answered_once_and_nothing_leaks() {
    let gw = FakeGateway::start(GatewayConfig::default().quiet());
    let dir = TempDir::new("load");
    let node = start(&gw, &dir, &[]);
    // Let start-up settle, then take the baseline (one run opens the audit log, which stays open).
    let _ = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(gw.invoke("system.run", Some(&run_params(&["true"]))).ok);
    // The worker closes the run's pipes just after the result is sent: count once they are gone.
    let fds_before = (0..25)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            fd_count(node.pid())
        })
        .min()
        .unwrap();
    let rss_before_kib = rss_kib(node.pid());

    let total = 1000;
    let in_flight = 64;
    let params = run_params(&["true"]);
    let mut pending = std::collections::VecDeque::new();
    let (mut ok, mut busy) = (0, 0);
    for _ in 0..total {
        if pending.len() == in_flight {
            let id: String = pending.pop_front().unwrap();
            let reply = gw
                .wait_result(&id, WAIT)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            if reply.ok {
                ok += 1;
            } else {
                assert_eq!(reply.error_code(), Some("UNAVAILABLE"), "{reply:?}");
                busy += 1;
            }
        }
        pending.push_back(gw.send_invoke(Invoke::new("system.run").params_json(&params)));
    }
    for id in pending {
        let reply = gw
            .wait_result(&id, WAIT)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        if reply.ok {
            ok += 1;
        } else {
            busy += 1;
        }
    }
    assert_eq!(ok + busy, total);
    eprintln!("load: {ok} ran, {busy} busy");

    // Exactly one result per invoke.
    let results = gw.requests("node.invoke.result");
    let mut ids: Vec<String> = results
        .iter()
        .filter_map(|(_, p)| p["id"].as_str().map(str::to_string))
        .collect();
    let answered = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answered, "some invoke was answered twice");

    let deadline = Instant::now() + WAIT;
    while fd_count(node.pid()) > fds_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // At most as many as before: the SQLite state store may since have closed the connection
    // (and TS's coordinator lock) it held at the baseline; a leak only ever adds descriptors.
    let fds_after = fd_count(node.pid());
    assert!(
        fds_after <= fds_before,
        "descriptors leaked: {fds_before} before, {fds_after} after"
    );
    assert!(
        zombie_children(node.pid()).is_empty(),
        "zombies: {:?}",
        zombie_children(node.pid())
    );
    // Back near idle: what stays is the 16 workers' malloc arenas and stacks, touched once.
    let rss_after_kib = rss_kib(node.pid());
    eprintln!("load: RSS {rss_before_kib} → {rss_after_kib} KiB, fds {fds_before}");
    assert!(
        rss_after_kib < rss_before_kib + 8 * 1024,
        "RSS {rss_before_kib} → {rss_after_kib} KiB"
    );
    gw.assert_no_violations();
}

#[test]
fn a_same_user_child_cannot_read_the_nodes_environment_or_memory() {
    let token = "sekrit-environ-token-4242";
    let gw = FakeGateway::start(GatewayConfig::default().token(token));
    let dir = TempDir::new("environ");
    // Not OPENCLAW_NODE_DUMPABLE: the production setting. A node running as root stays
    // dumpable (root reads everything anyway), so as root the node runs as `nobody`, and its
    // child, also `nobody`, is the same-user process the claim is about.
    let mut spec = NodeSpawn::new(node_bin(), gw.port(), dir.path())
        .display_name("environ")
        .token(token);
    let root = rustix::process::geteuid().is_root();
    if root {
        spec = spec.run_as(65534, 65534);
    }
    let mut node = NodeProcess::spawn(&spec);
    gw.wait_for_hello(WAIT).expect("no handshake");
    // The command's parent is the node: /proc/$PPID/environ still lists the token the node was
    // started with, and mem its memory, unless the node is non-dumpable.
    let reply = gw.invoke(
        "system.run",
        Some(&run_params(&[
            "sh",
            "-c",
            "test \"$(cat /proc/$PPID/cmdline | tr '\\0' ' ')\" != '' && echo parent-seen; \
             cat /proc/$PPID/environ; echo environ=$?; head -c1 /proc/$PPID/mem; echo mem=$?",
        ])),
    );
    assert!(reply.ok, "{reply:?}");
    let payload: serde_json::Value = reply
        .payload
        .clone()
        .or_else(|| {
            reply
                .payload_json
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
        })
        .unwrap_or_default();
    let stdout = payload["stdout"].as_str().unwrap_or_default();
    assert!(
        stdout.contains("parent-seen"),
        "the child did not find its parent: {payload}"
    );
    assert!(
        !stdout.contains(token),
        "a child read the token from the node's environ: {payload}"
    );
    assert!(
        stdout.contains("environ=1"),
        "reading environ must fail: {payload}"
    );
    assert!(stdout.contains("mem=1"), "reading mem must fail: {payload}");
    // And this test, the same user, cannot either (root can, as documented).
    if !root {
        assert!(std::fs::read(format!("/proc/{}/environ", node.pid())).is_err());
    }
    node.terminate();
    node.wait_exit(WAIT);
}

#[test]
fn secrets_never_reach_the_log_even_at_trace_level() {
    let token = "sekrit-gateway-token-4242";
    let gw = FakeGateway::start(GatewayConfig::default().token(token));
    let dir = TempDir::new("secret-log");
    let spec = NodeSpawn::new(node_bin(), gw.port(), dir.path())
        .display_name("secret-log")
        .token(token)
        .env("RUST_LOG", "trace");
    let mut node = NodeProcess::spawn(&spec);
    let hello = gw.wait_for_hello(WAIT).expect("no handshake");
    let reply = gw.invoke("system.run", Some(&run_params(&["sh", "-c", "echo done"])));
    assert!(reply.ok, "{reply:?}");
    node.terminate();
    node.wait_exit(WAIT);
    let output = node.all_output();
    let device_token = hello.device_token.clone().unwrap_or_default();
    for secret in [token.to_string(), device_token] {
        if secret.is_empty() {
            continue;
        }
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!output.contains(&secret), "a secret appears in the log");
        assert!(
            !output.contains(&hex),
            "a secret appears hex-encoded in the log"
        );
    }
    assert!(
        output.contains("TRACE") || output.contains("DEBUG"),
        "trace logging was not on"
    );
}

#[test]
fn a_changed_gateway_password_exits_1_for_the_supervisor() {
    let gw = FakeGateway::start(GatewayConfig::default().password("old-pass").quiet());
    let dir = TempDir::new("password");
    let mut node = start(&gw, &dir, &[("OPENCLAW_GATEWAY_PASSWORD", "old-pass")]);
    let first = gw.expect_hello();
    assert_eq!(first.auth_method, "password");

    // The operator changes the password and restarts the gateway.
    gw.update_config(|c| c.password = Some("new-pass".into()));
    let closed = gw.close_connection(1012, "service restart");

    let status = node
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("the node did not exit\n{}", node.stderr()));
    assert_eq!(status.code(), Some(1), "{}", node.stderr());
    let rejection = gw
        .wait_for_rejection_after(closed, WAIT)
        .unwrap_or_else(|| panic!("no rejected reconnect\n{}", gw.describe(10)));
    assert_eq!(rejection.detail_code(), Some("AUTH_PASSWORD_MISMATCH"));
    // Exactly one attempt with the old password: no retry loop against the gateway's rate limit.
    let attempts = gw
        .connections()
        .iter()
        .filter(|c| c.id > closed && c.connect_params.is_some())
        .count();
    assert_eq!(attempts, 1, "{}", gw.describe(10));
    assert!(!node.stderr().contains("old-pass"), "{}", node.stderr());
}

#[test]
fn a_flood_of_garbage_frames_is_ignored_without_memory_growth() {
    let gw = FakeGateway::start(GatewayConfig::default().quiet());
    let dir = TempDir::new("garbage-flood");
    let node = start(&gw, &dir, &[]);
    let conn = gw.expect_hello().conn;
    let _ = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    let before_kib = rss_kib(node.pid());

    // 170 MB in all: non-JSON, JSON of the wrong shape, deep nesting, responses nobody asked
    // for, up to 1 MiB a frame.
    let big_junk = "\u{1}not json ".repeat(100_000);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for round in 0..100 {
        gw.send_raw(&big_junk);
        gw.send_raw(&deep);
        gw.send_raw(&format!(
            r#"{{"type":"res","id":"{round}","ok":true,"payload":"{}"}}"#,
            "p".repeat(500_000)
        ));
        gw.send_raw(r#"{"type":"event","event":"tick","payload":{"ts":"not a number"}}"#);
        if round % 10 == 9 {
            // Keeps the flood in step with the node, and shows it still answers.
            assert!(gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#)).ok);
        }
    }
    let reply = gw.invoke("system.which", Some(r#"{"bins":["sh"]}"#));
    assert!(reply.ok, "{reply:?}");
    assert_eq!(reply.conn, conn, "the connection survived the flood");

    let after_kib = rss_kib(node.pid());
    let peak_kib = peak_rss_kib(node.pid());
    eprintln!("garbage flood: RSS {before_kib} → {after_kib} KiB, peak {peak_kib} KiB");
    // A frame's buffers come and go; nothing accumulates.
    assert!(
        after_kib < before_kib + 4 * 1024,
        "RSS grew from {before_kib} to {after_kib} KiB"
    );
    assert!(
        peak_kib < before_kib + 16 * 1024,
        "peak {peak_kib} KiB from {before_kib} KiB"
    );
    gw.assert_no_violations();
}
