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
//! Data flows one way. The session's reader decodes a frame; an invocation goes to the
//! dispatcher, which registers it (for cancel) and offers it to a worker; the worker runs it
//! through the command table and hands its one result to the writer, the only code that writes
//! the socket. Nothing runs a command on the reader; the gateway layer knows frames, not
//! commands; the leaves (`cancel`, `exec`, `approvals`, `browser`) know nothing of the
//! application.
//!
//! ```text
//!                  gateway::session                     invoke                  commands
//!  socket ──► reader ── node.invoke.request ──► Dispatcher ──► pool worker ──► COMMANDS[name]
//!    ▲          │  └── node.invoke.cancel ──► Invocations (cancel tokens)        │ exec, approvals,
//!    │          └── res frames ──► link (waiting requests)                       │ browser
//!    └──── writer ◄── link (bounded in bytes) ◄── node.invoke.result / node.event ┘
//! ```
//!
//! Module map, application first, leaves last:
//! - [`cli`]: the subcommands' entry points (`approvals` here; `run` and the service commands
//!   re-exported); [`run`]: `openclaw-node run`; [`connect`]: `connect <join URL or code>`;
//!   [`settings`]: what `run` takes from its environment, resolved once.
//! - [`gateway`]: transport (TCP, TLS, pinning), frames, the handshake, the session over any
//!   socket halves (reader, writer, tick watchdog), the link, and reconnection with the refusal
//!   matrix as a pure function.
//! - [`invoke`]: the request and result types and the dispatcher: in-flight registry, busy
//!   answer, one panic guard, one result unless cancelled; the worker pool.
//! - [`publish`]: what the node sends on its own while a session is up (host stats, skills, the
//!   MCP catalog): the `Publisher` seam the session calls, and `Publication`, one thread each;
//!   [`node_publications`]: host stats, runner inventory (the re-approval notice) and skills;
//!   [`host_stats`]: the host-stats sample from `/proc` and `statfs`; [`skills`]: the node's
//!   `SKILL.md` folders (scan, inotify watch, the `node://` working directory).
//! - [`commands`]: the one command table (`COMMANDS`: name, cap, handler, availability) and one
//!   module per command family; the node's runtime that handlers read.
//! - [`mcp`]: the MCP servers of `nodeHost.mcp.servers`, one thread each, their tool catalog
//!   and `mcp.tools.call.v1`'s calls.
//! - [`approvals`]: the exec-approvals document and store, the policy, and the analysis as
//!   stages (parse, resolve, match, decide, bind); `argv/` and `shells` for command words.
//!   - `approvals::windows_shell`: the Windows payload analysis (`cmd /c`, `powershell -c`).
//! - [`browser`]: `browser.proxy` over the Chrome DevTools Protocol.
//! - [`files`]: the file-transfer commands' filesystem work (stat, fetch, list, archive,
//!   write), bound by descriptor to what the gateway authorised; Unix only.
//! - [`exec`]: spawning a command, capping its output, timeouts; `ProcessGroup`, the one owner
//!   of a spawned process group (commands, the service manager's tools and Chromium alike); on
//!   Windows a Job object per run (`exec/unix`, `exec/windows`).
//! - [`service`], [`status`]: running as a systemd/launchd service or a Windows Scheduled Task,
//!   and reporting on it.
//! - [`identity`], [`state`], [`config`], [`paths`]: who the node is and what it keeps on disk;
//!   [`endpoint`]: the gateway endpoint from `run`'s and `install`'s flags; [`setup_code`]:
//!   pairing setup codes (`--pair`), decoded as TS decodes them.
//! - [`platform`]: what differs between operating systems, one module per concern with a Unix
//!   and a Windows side (state-file protection and replace, host facts, OS error names,
//!   shutdown signals and console control, the search PATH); `exec` and `cancel` keep their
//!   own `unix`/`windows` halves. [`platform::Platform`] says whose rules apply (chosen once by
//!   `Platform::HOST`); `platform::windows_path` (Windows path text: case, `\` and `/`,
//!   `\\?\`, trailing dots) and `platform::executable_search` (PATH and PATHEXT search over a
//!   caller's file probe) are pure code for both.
//! - Leaves with one concern each: [`cancel`] (the cancel token and the one cancellable wait),
//!   [`secrets`] (the node's secrets and the one rule that keeps them from children), [`clock`]
//!   (epoch milliseconds, ISO-8601), [`random`] (OS randomness, UUIDs, tokens), [`digest`]
//!   (SHA-256, hex), [`js`] (JavaScript's `String()` of JSON values), [`shell_quote`] (POSIX
//!   quoting for scripts and printed hints).

// No `unsafe` on Unix. On Windows the Win32 calls (Job objects, ACLs, console control) need it,
// and only the `windows.rs` modules of the platform seams may use it, each saying so.
#![cfg_attr(not(windows), forbid(unsafe_code))]
#![cfg_attr(windows, deny(unsafe_code))]

/// The command line's entry points: the one public way in for `main.rs`.
pub mod cli;

/// Declares the crate's modules. In the shipped build they are crate-private, so the compiler
/// reports dead code; the `internals` feature makes them public for the integration tests (a
/// dev-dependency of this crate on itself turns it on for `cargo test`), the examples and the
/// fuzz targets, which exercise the internals directly.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}

internal_modules!(
    approvals,
    browser,
    cancel,
    clock,
    commands,
    config,
    connect,
    digest,
    endpoint,
    exec,
    files,
    gateway,
    host_stats,
    identity,
    invoke,
    js,
    mcp,
    node_publications,
    paths,
    platform,
    publish,
    random,
    run,
    secrets,
    service,
    settings,
    setup_code,
    shell_quote,
    skills,
    state,
    status,
);

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
