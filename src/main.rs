//! The `openclaw-node` command line. `main` parses arguments and dispatches; each subcommand is
//! one function in the library.

use std::process::ExitCode;

use argh::FromArgs;
use openclaw_node::{cli, run, service, CliError};

/// openclaw-node: a small, static OpenClaw headless node host.
#[derive(FromArgs, Debug)]
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Run(run::RunArgs),
    Install(service::InstallArgs),
    Status(service::StatusArgs),
    Start(service::StartArgs),
    Stop(service::StopArgs),
    Restart(service::RestartArgs),
    Uninstall(service::UninstallArgs),
    Identity(service::IdentityArgs),
    Approvals(cli::approvals::ApprovalsArgs),
}

fn main() -> ExitCode {
    let cli = parse_args();
    init_logging(&cli);
    match try_main(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("openclaw-node: {err}");
            ExitCode::from(err.exit_code)
        }
    }
}

fn try_main(cli: Cli) -> Result<ExitCode, CliError> {
    match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Install(args) => service::install(args),
        Command::Status(args) => service::status(args),
        Command::Start(args) => service::start(args),
        Command::Stop(args) => service::stop(args),
        Command::Restart(args) => service::restart(args),
        Command::Uninstall(args) => service::uninstall(args),
        Command::Identity(args) => service::identity(args),
        Command::Approvals(args) => cli::approvals::main(args),
    }
}

/// Logs go to stderr through `env_logger`; `RUST_LOG` overrides the default, which is `info`
/// for the long-running `run` and `warn` for one-shot commands whose stdout may be parsed.
fn init_logging(cli: &Cli) {
    let default = match cli.command {
        Command::Run(_) => "info",
        _ => "warn",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        // tungstenite's trace output dumps whole frames: the connect frame carries the gateway
        // token, hello-ok the device token. Whatever RUST_LOG asks, it stops at debug.
        .filter_module("tungstenite", log::LevelFilter::Debug)
        .format_target(false)
        .init();
}

/// Parses the command line. Invoked as `openclaw` (a symlink, for drop-in use where the Gateway
/// runs `openclaw node identity --json` over SSH), the binary takes `openclaw node <subcommand>`.
fn parse_args() -> Cli {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .map(|arg0| arg0.rsplit('/').next().unwrap_or(arg0).to_string())
        .unwrap_or_else(|| "openclaw-node".to_string());
    let mut rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let mut command_name = invoked_as.clone();
    if invoked_as == "openclaw" {
        if rest.first() == Some(&"node") {
            rest.remove(0);
            command_name = "openclaw node".to_string();
        } else {
            eprintln!(
                "openclaw (openclaw-node drop-in) only provides `openclaw node <subcommand>`; \
                 try `openclaw node --help`"
            );
            std::process::exit(2);
        }
    }
    match Cli::from_args(&[&command_name], &rest) {
        Ok(cli) => cli,
        Err(early_exit) => {
            match early_exit.status {
                Ok(()) => println!("{}", early_exit.output),
                Err(()) => eprintln!("{}", early_exit.output),
            }
            std::process::exit(if early_exit.status.is_ok() { 0 } else { 2 })
        }
    }
}
