//! The command line's subcommand families: each turns its flags into settings and calls the
//! library. `main.rs` only parses and dispatches.

pub mod approvals;
pub mod state;
