//! The `openclaw-node` command line. `main` parses arguments and dispatches; each subcommand is
//! one function in the library.

use std::process::ExitCode;

use argh::FromArgs;
use openclaw_node::{cli, CliError};

/// openclaw-node: a small, static OpenClaw headless node host.
#[derive(FromArgs, Debug)]
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Run(cli::RunArgs),
    Connect(cli::ConnectArgs),
    Install(cli::InstallArgs),
    Status(cli::StatusArgs),
    Start(cli::StartArgs),
    Stop(cli::StopArgs),
    Restart(cli::RestartArgs),
    Uninstall(cli::UninstallArgs),
    Identity(cli::IdentityArgs),
    Approvals(cli::approvals::ApprovalsArgs),
    State(cli::state::StateArgs),
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
        Command::Run(args) => cli::run(args),
        Command::Connect(args) => cli::connect(args),
        Command::Install(args) => cli::install(args),
        Command::Status(args) => cli::status(args),
        Command::Start(args) => cli::start(args),
        Command::Stop(args) => cli::stop(args),
        Command::Restart(args) => cli::restart(args),
        Command::Uninstall(args) => cli::uninstall(args),
        Command::Identity(args) => cli::identity(args),
        Command::Approvals(args) => cli::approvals::main(args),
        Command::State(args) => cli::state::main(args),
    }
}

/// Logs go to stderr through `env_logger`. Without `RUST_LOG`, this crate logs at `info` for the
/// long-running `run` and at `warn` for one-shot commands whose stdout may be parsed; the
/// dependencies log at `warn` either way, so their chatter (`Client handshake done.`) stays out.
fn init_logging(cli: &Cli) {
    let default = match cli.command {
        Command::Run(_) | Command::Connect(_) => "warn,openclaw_node=info",
        _ => "warn",
    };
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|spec| !spec.trim().is_empty())
        .unwrap_or_else(|| default.to_string());
    let logger = env_logger::Builder::new()
        .parse_filters(&spec)
        .format_target(false)
        .build();
    let max_level = logger.filter();
    if log::set_boxed_logger(Box::new(SecretSafeLogger(logger))).is_ok() {
        log::set_max_level(max_level);
    }
}

/// The node's logger: `env_logger`, except that tungstenite stops at debug whatever `RUST_LOG`
/// asks. Its trace output dumps whole frames, and the connect frame carries the gateway token,
/// hello-ok the device token.
struct SecretSafeLogger(env_logger::Logger);

impl SecretSafeLogger {
    fn dumps_frames(metadata: &log::Metadata<'_>) -> bool {
        metadata.level() == log::Level::Trace && metadata.target().starts_with("tungstenite")
    }
}

impl log::Log for SecretSafeLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !Self::dumps_frames(metadata) && self.0.enabled(metadata)
    }
    fn log(&self, record: &log::Record<'_>) {
        if !Self::dumps_frames(record.metadata()) {
            self.0.log(record);
        }
    }
    fn flush(&self) {
        self.0.flush();
    }
}

/// What `--version` prints: the version and the commit it was built from.
fn version_line() -> String {
    format!(
        "openclaw-node {} ({})",
        env!("CARGO_PKG_VERSION"),
        option_env!("OPENCLAW_NODE_COMMIT").unwrap_or("commit unknown")
    )
}

/// Parses the command line. Invoked as `openclaw` (a symlink, for drop-in use where the Gateway
/// runs `openclaw node identity --json` over SSH), the binary takes `openclaw node <subcommand>`.
fn parse_args() -> Cli {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .map(|arg0| arg0.rsplit('/').next().unwrap_or(arg0).to_string())
        .unwrap_or_else(|| "openclaw-node".to_string());
    let mut rest: Vec<String> = args.iter().skip(1).cloned().collect();
    let mut command_name = invoked_as.clone();
    if invoked_as == "openclaw" {
        if rest.first().map(String::as_str) == Some("node") {
            rest.remove(0);
            command_name = "openclaw node".to_string();
        } else if rest.first().map(String::as_str) == Some("connect") {
            // `openclaw connect <target>`, TS's one-paste onboarding.
            command_name = "openclaw".to_string();
        } else {
            eprintln!(
                "openclaw (openclaw-node drop-in) only provides `openclaw node <subcommand>` and \
                 `openclaw connect`; try `openclaw node --help`"
            );
            std::process::exit(2);
        }
    }
    if matches!(
        rest.first().map(String::as_str),
        Some("--version" | "-V" | "version")
    ) {
        println!("{}", version_line());
        std::process::exit(0);
    }
    let rest = conventional_args(rest);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
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

/// The conventions argh lacks, applied before it sees the arguments: `-h` is `--help`, and
/// `--flag=value` is `--flag value`. Nothing after a `--` is touched: that is the argv of
/// `approvals check -- <command>`, passed on verbatim.
fn conventional_args(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut verbatim = false;
    for arg in args {
        if verbatim {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            verbatim = true;
            out.push(arg);
        } else if arg == "-h" {
            out.push("--help".to_string());
        } else if let Some((flag, value)) = arg
            .strip_prefix("--")
            .and_then(|body| body.split_once('='))
            .filter(|(flag, _)| !flag.is_empty())
        {
            out.push(format!("--{flag}"));
            out.push(value.to_string());
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::conventional_args;

    fn conv(args: &[&str]) -> Vec<String> {
        conventional_args(args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn equals_flags_are_split_and_h_is_help() {
        assert_eq!(
            conv(&["run", "--port=18790", "--host=gw.lan", "-h"]),
            ["run", "--port", "18790", "--host", "gw.lan", "--help"]
        );
        // An empty value stays a value; `--=x` is no flag.
        assert_eq!(conv(&["--display-name="]), ["--display-name", ""]);
        assert_eq!(conv(&["--=x"]), ["--=x"]);
        // A value may itself hold `=`.
        assert_eq!(conv(&["--arg-pattern=^a=b$"]), ["--arg-pattern", "^a=b$"]);
    }

    #[test]
    fn nothing_after_the_double_dash_is_rewritten() {
        assert_eq!(
            conv(&["approvals", "check", "--", "env", "--x=y", "-h"]),
            ["approvals", "check", "--", "env", "--x=y", "-h"]
        );
    }
}
