//! Footprint and speed of the `openclaw-node` binary, measured against the project's strict fake
//! gateway on loopback.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example bench              # the full run (about two minutes)
//! cargo run --release --example bench -- --quick   # shorter: fewer samples, 10 s idle window
//! cargo run --release --example bench -- --node-bin dist/openclaw-node-x86_64-linux-musl
//! ```
//!
//! It prints one table: time from process start to `hello-ok`; `system.which` and
//! `system.run true` round trips beside a bare `std::process::Command` spawn of `true` in the same
//! run (the physical floor); `system.run true` throughput with 1, 4 and 16 in flight; resident
//! memory idle, after 10 000 runs, and at its peak while a command prints 1 GB; CPU time of an
//! idle connected node; the binary's size. Each figure is shown beside its goal.
//!
//! Round trips are given twice: at the gateway's socket (request frame written → result frame
//! read, from the fake gateway's frame log: the node's own figure), and as the test API sees
//! them (queueing and bookkeeping of the fake gateway included). For throughput the CPU time
//! of every party is split per run, so it is visible where the time goes when the two cores are
//! the limit.
//!
//! The node binary: `--node-bin`, else `OPENCLAW_NODE_BIN`, else `target/<profile>/openclaw-node`
//! next to this example (built first when cargo started the bench, as the demo does).
//!
//! The harness is the POSIX fake gateway (`tests/support`), so the example is Unix only; on
//! Windows it says so and exits 2.

#[cfg(unix)]
mod unix;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    unix::main()
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("the bench example drives the POSIX fake gateway; it runs on Unix only");
    std::process::ExitCode::from(2)
}
