//! `openclaw-node approvals ...`: the local admin's view of the exec approvals document.
//!
//! STUB: being written.

use std::process::ExitCode;

use argh::FromArgs;

use crate::CliError;

/// Show or edit the local exec approvals (show, allow, remove, check).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "approvals")]
pub struct ApprovalsArgs {
    #[argh(subcommand)]
    pub action: ApprovalsAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum ApprovalsAction {
    Show(ShowArgs),
}

/// Print the effective exec policy and where it comes from.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
pub struct ShowArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

pub fn main(args: &ApprovalsArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::new("`approvals` is not implemented yet"))
}
