//! The command line's subcommand families: each turns its flags into settings and calls the
//! library. `main.rs` only parses and dispatches.

pub mod approvals;
pub mod state;

pub use crate::connect::{connect, ConnectArgs};
pub use crate::run::{run, RunArgs};
pub use crate::service::{
    identity, install, restart, start, status, stop, uninstall, IdentityArgs, InstallArgs,
    RestartArgs, StartArgs, StatusArgs, StopArgs, UninstallArgs,
};
