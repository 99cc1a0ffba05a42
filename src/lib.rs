//! # openclaw-node
//!
//! A headless OpenClaw node host in one small static binary. It connects to an OpenClaw Gateway
//! over WebSocket, pairs with it, and runs commands for the Gateway's agents (`system.run`,
//! `system.which`, exec approvals, `browser.proxy`) under local exec approvals.
//!
//! Goals:
//! - **Small and static**: a musl binary with no runtime to install; a few MiB of memory.
//! - **Synchronous**: threads and channels, no async runtime. Idle means idle: nothing wakes up
//!   but what the protocol itself asks for.
//! - **Safe**: no `unsafe` in this crate; approvals fail closed; state files are written
//!   atomically with mode 0600; the node's secrets never reach logs or child processes.
//! - **Wire-compatible** with the real Gateway (`openclaw@2026.9.6`, and older ones).
//!
//! ```text
//!  socket ──► reader thread ──► invoke pool (workers) ──► writer thread ──► socket
//!                 │                    │ exec, approvals, browser              ▲
//!                 └── res frames ──────┴── node.event / node.invoke.result ────┘
//! ```
//!
//! Module map:
//! - [`gateway`]: transport (TCP, TLS, pinning), frames, handshake, the session's reader and
//!   writer threads, liveness and reconnection.
//! - [`invoke`]: invocation types, cancellation, the worker pool.
//! - [`commands`]: one module per command family, and the dispatch table.
//! - [`exec`]: spawning a command, capping its output, timeouts and process-group kills.
//! - [`approvals`]: the exec-approvals document, policy and decisions.
//! - [`identity`], [`state`], [`config`], [`paths`]: who the node is and what it keeps on disk.
//! - [`service`], [`status`]: running as a systemd/launchd service and reporting on it.
//! - [`browser`]: the `browser.proxy` command over the Chrome DevTools Protocol.

#![forbid(unsafe_code)]

pub mod approvals;
pub mod browser;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exec;
pub mod gateway;
pub mod identity;
pub mod invoke;
pub mod paths;
pub mod platform;
pub mod run;
pub mod service;
pub mod shell_quote;
pub mod state;
pub mod status;

/// An error that ends a CLI command: a message for the user (what went wrong and what to do
/// next) and the process exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit_code: u8,
}

impl CliError {
    /// An error that exits with status 1.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<state::StateError> for CliError {
    fn from(err: state::StateError) -> CliError {
        CliError::new(err.to_string())
    }
}

impl From<config::ConfigError> for CliError {
    fn from(err: config::ConfigError) -> CliError {
        CliError::new(err.to_string())
    }
}
