//! A self-contained demo: a fake OpenClaw gateway and the real `openclaw-node` binary, end to end.
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! It starts the strict fake gateway the integration tests use (on a free loopback port), starts
//! `openclaw-node run` against it with a throw-away state directory, waits for the handshake,
//! sends one `system.which` and one `system.run`, prints every frame of each exchange, and shuts
//! the node down with SIGTERM.
//!
//! The node binary is taken from `OPENCLAW_NODE_BIN`, else from next to this example
//! (`target/<profile>/openclaw-node`). When the demo was started by cargo, it first runs
//! `cargo build --bin openclaw-node` for the same profile so the binary is current (cargo does
//! not build binaries for examples by itself).
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
    eprintln!("the demo example drives the POSIX fake gateway; it runs on Unix only");
    std::process::ExitCode::from(2)
}
