//! `openclaw-node run`: connect to the gateway in the foreground and serve invocations.

use std::process::ExitCode;

use argh::FromArgs;

use crate::CliError;

/// Run the node in the foreground: connect, pair, and serve the gateway's invocations.
#[derive(FromArgs, Debug, Clone, Default)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// gateway host (default: the saved one, else 127.0.0.1)
    #[argh(option)]
    pub host: Option<String>,
    /// gateway port (default: the saved one, else 18789)
    #[argh(option)]
    pub port: Option<u16>,
    /// path the gateway is served under, e.g. /openclaw-gw
    #[argh(option)]
    pub context_path: Option<String>,
    /// connect with TLS (wss://)
    #[argh(switch)]
    pub tls: bool,
    /// connect without TLS even if TLS was saved
    #[argh(switch)]
    pub no_tls: bool,
    /// SHA-256 fingerprint of the gateway's TLS certificate to pin (hex, colons optional)
    #[argh(option)]
    pub tls_fingerprint: Option<String>,
    /// replace the node (instance) id; clears the stored pairing token
    #[argh(option)]
    pub node_id: Option<String>,
    /// the name the gateway shows for this node (saved for later runs)
    #[argh(option)]
    pub display_name: Option<String>,
}

/// Runs the node until SIGINT/SIGTERM (exit 0) or a terminal auth failure (exit 1).
pub fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::new("`run` is not implemented yet"))
}
