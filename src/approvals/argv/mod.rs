//! Reading an argv the way the exec policy does: its words, the dispatch wrappers in front of it
//! (`env`, `nice`, `timeout`, ...), the carriers and multiplexers (`command`, `busybox`), and the
//! shell wrapper (`sh -c PAYLOAD`) it may be.
//!
//! This is a port of the TS host's `system-run-command.ts`, `shell-wrapper-resolution.ts` and
//! `exec-wrapper-trust-plan.ts` (openclaw 2026.9.6), reduced to what a Linux node needs; the
//! wrapper tables are copied from the bundle. One file per concern:
//! - `tokens`: words: JavaScript trimming, display text, executable names, `splitShellArgs`,
//!   and quoting a word for a shell.
//! - `wrappers`: dispatch wrappers (`env`, `nice`, `timeout`, `flock`, ...) and `env`'s prelude.
//! - `unwrap`: the whole wrapper chain, carriers and multiplexers: [`WrapperTrustPlan`].
//! - `shell_payload`: a shell wrapper's payload, script operand and startup behaviour.
//!
//! Which names are shells is [`super::shells`]; the `rawCommand` check is [`super::command`].

mod shell_payload;
mod tokens;
mod unwrap;
mod wrappers;

pub(crate) use shell_payload::normalize_raw;
pub use shell_payload::{
    extract_shell_wrapper_command, has_env_manipulation_before_shell_wrapper,
    has_trailing_positional_argv_after_inline_command, is_blocked_shell_wrapper_command,
    is_shell_wrapper_executable, is_shell_wrapper_invocation, posix_inline_match,
    posix_script_operand, posix_script_operand_index, shell_wrapper_transport, ScriptOperandScan,
};
pub use tokens::{
    format_exec_command, is_js_whitespace, js_trim, normalize_executable_token, split_inline_option,
    split_shell_args,
};
/// What only the fuzz targets call from outside: each analysis step on its own.
#[cfg(feature = "internals")]
pub use {
    shell_payload::{
        advance_posix_option_scan, bindable_shell_wrapper_inline_command, InlineMatch,
        ShellWrapperCommand,
    },
    wrappers::{dispatch_trust_plan, parse_env_prelude, DispatchPlan, EnvPrelude},
};
pub use unwrap::{unwrap_shell_multiplexer, wrapper_trust_plan, WrapperTrustPlan};
pub use wrappers::{
    env_assignment_keys_from_dispatch_wrappers, has_dispatch_cwd_option, unwrap_dispatch_wrapper,
    unwrap_dispatch_wrappers, DispatchUnwrap,
};
