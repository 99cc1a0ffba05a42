//! Dispatch wrappers: commands that run the rest of their argv (`env`, `nice`, `timeout`,
//! `flock`, ...), which the policy sees through when they are transparent and refuses when they
//! change who, where or with what a command runs (`sudo`, `chroot`, `env FOO=1`, `time -o`).
//!
//! The tables are copied from the TS host's `exec-wrapper-trust-plan.ts` (openclaw 2026.9.6);
//! `arch`, `xcrun` and `script` only unwrap on macOS/BSD, so on Linux they are blocked.

use std::collections::BTreeSet;

use super::tokens::{
    is_env_assignment_token, normalize_executable_token, split_inline_option, split_shell_args,
};

// ---------------------------------------------------------------------------------------------
// Carrier option parsing (env, sudo, command, exec)

pub(super) struct ParsedOption {
    name: String,
    has_inline_value: bool,
    inline_value: Option<String>,
}

/// `parseCarrierOptionToken`: a long option or a cluster of short options, each of which must be
/// known; `None` for anything else.
pub(super) fn parse_carrier_option(
    token: &str,
    standalone: &[&str],
    with_value: &[&str],
    non_exec: &[&str],
) -> Option<Vec<ParsedOption>> {
    let known = |name: &str| {
        standalone.contains(&name) || with_value.contains(&name) || non_exec.contains(&name)
    };
    if token.starts_with("--") {
        let (name, value) = split_inline_option(token);
        if known(name) {
            return Some(vec![ParsedOption {
                name: name.to_string(),
                has_inline_value: value.is_some(),
                inline_value: value.map(str::to_string),
            }]);
        }
        return None;
    }
    let mut chars = token.chars();
    if chars.next() != Some('-')
        || !matches!(chars.clone().next(), Some(c) if c.is_ascii_alphanumeric())
    {
        return None;
    }
    let rest: Vec<char> = chars.collect();
    let mut options = Vec::new();
    for (index, c) in rest.iter().enumerate() {
        let name = format!("-{c}");
        if with_value.contains(&name.as_str()) {
            let tail: String = rest[index + 1..].iter().collect();
            options.push(ParsedOption {
                name,
                has_inline_value: !tail.is_empty(),
                inline_value: (!tail.is_empty()).then_some(tail),
            });
            return Some(options);
        }
        if standalone.contains(&name.as_str()) || non_exec.contains(&name.as_str()) {
            options.push(ParsedOption {
                name,
                has_inline_value: false,
                inline_value: None,
            });
            continue;
        }
        return None;
    }
    (!options.is_empty()).then_some(options)
}

/// `knownCarrierOptionConsumesNextValue`: `None` when an option does not execute anything.
pub(super) fn carrier_option_consumes_next(
    options: &[ParsedOption],
    with_value: &[&str],
    non_exec: &[&str],
) -> Option<bool> {
    let mut consumes = false;
    for option in options {
        if non_exec.contains(&option.name.as_str()) {
            return None;
        }
        if with_value.contains(&option.name.as_str()) {
            consumes = !option.has_inline_value;
        }
    }
    Some(consumes)
}

const ENV_OPTIONS_WITH_VALUE: &[&str] = &[
    "-C",
    "-P",
    "-S",
    "-s",
    "-u",
    "--argv0",
    "--block-signal",
    "--chdir",
    "--default-signal",
    "--ignore-signal",
    "--split-string",
    "--unset",
];
const ENV_SPLIT_STRING_OPTIONS: &[&str] = &["-S", "-s", "--split-string"];
const ENV_STANDALONE_OPTIONS: &[&str] = &["-0", "-i", "--ignore-environment", "--null"];
const MAX_ENV_SPLIT_PAYLOAD_DEPTH: usize = 32;

/// What `env [options] [NAME=value...] command...` carries.
pub struct EnvPrelude {
    pub assignment_keys: Vec<String>,
    pub command_index: usize,
    pub split_argv: Option<Vec<String>>,
    pub uses_modifiers: bool,
}

/// `parseEnvInvocationPrelude`.
pub fn parse_env_prelude(argv: &[String], depth: usize) -> Option<EnvPrelude> {
    if depth > MAX_ENV_SPLIT_PAYLOAD_DEPTH || normalize_executable_token(argv.first()?) != "env" {
        return None;
    }
    let mut uses_modifiers = false;
    let mut assignment_keys = Vec::new();
    let mut index = 1;
    while index < argv.len() {
        let token = &argv[index];
        if token.is_empty() {
            return None;
        }
        if is_env_assignment_token(token) {
            uses_modifiers = true;
            if let Some(eq) = token.find('=') {
                if eq > 0 {
                    assignment_keys.push(token[..eq].to_string());
                }
            }
            index += 1;
            continue;
        }
        if token == "--" || token == "-" {
            return (index + 1 < argv.len()).then(|| EnvPrelude {
                assignment_keys,
                command_index: index + 1,
                split_argv: None,
                uses_modifiers,
            });
        }
        if token.starts_with('-') {
            let options =
                parse_carrier_option(token, ENV_STANDALONE_OPTIONS, ENV_OPTIONS_WITH_VALUE, &[])?;
            uses_modifiers = true;
            if let Some(split) = options
                .iter()
                .find(|o| ENV_SPLIT_STRING_OPTIONS.contains(&o.name.as_str()))
            {
                let payload_index = if split.inline_value.is_none() {
                    index + 1
                } else {
                    index
                };
                let payload = split
                    .inline_value
                    .clone()
                    .or_else(|| argv.get(payload_index).cloned());
                let trailing_index = payload_index + 1;
                let split_argv = payload.and_then(|payload| {
                    let inner = split_shell_args(&payload)?;
                    if inner.is_empty() {
                        return None;
                    }
                    let mut carried = inner;
                    carried.extend(argv.iter().skip(trailing_index).cloned());
                    let mut nested = vec!["env".to_string()];
                    nested.extend(carried.iter().cloned());
                    Some(resolve_env_carried_argv(&nested, depth + 1).unwrap_or(carried))
                })?;
                return Some(EnvPrelude {
                    assignment_keys,
                    command_index: trailing_index,
                    split_argv: Some(split_argv),
                    uses_modifiers,
                });
            }
            if carrier_option_consumes_next(&options, ENV_OPTIONS_WITH_VALUE, &[]) == Some(true) {
                index += 1;
            }
            index += 1;
            continue;
        }
        return Some(EnvPrelude {
            assignment_keys,
            command_index: index,
            split_argv: None,
            uses_modifiers,
        });
    }
    None
}

fn resolve_env_carried_argv(argv: &[String], depth: usize) -> Option<Vec<String>> {
    let parsed = parse_env_prelude(argv, depth)?;
    Some(
        parsed
            .split_argv
            .unwrap_or_else(|| argv[parsed.command_index..].to_vec()),
    )
}

pub(super) fn env_uses_modifiers(argv: &[String]) -> bool {
    match parse_env_prelude(argv, 0) {
        Some(prelude) => prelude.uses_modifiers,
        None => argv
            .first()
            .map(|t| normalize_executable_token(t) == "env")
            .unwrap_or(false),
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch wrappers

/// The result of looking at argv[0] as a dispatch wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchUnwrap {
    NotWrapper,
    /// A wrapper the policy will not see through (`sudo`, `chroot`, ... or an option it does not
    /// understand).
    Blocked(String),
    Unwrapped {
        wrapper: String,
        argv: Vec<String>,
    },
}

/// Wrappers that change who or where a command runs: never transparent.
const BLOCKED_DISPATCH_WRAPPERS: &[&str] = &[
    "bwrap",
    "catchsegv",
    "chrt",
    "chroot",
    "cpulimit",
    "doas",
    "eatmydata",
    "firejail",
    "gosu",
    "ionice",
    "linux32",
    "linux64",
    "nsenter",
    "numactl",
    "pkexec",
    "proot",
    "proxychains",
    "proxychains4",
    "runuser",
    "setarch",
    "setsid",
    "setpriv",
    "su",
    "sudo",
    "systemd-run",
    "taskset",
    "torify",
    "torsocks",
    "unbuffer",
    "unshare",
    "watch",
    "xvfb-run",
];
/// Moves the wrapped command's index past wrapper-specific operands (`timeout DURATION`).
type AdjustIndex = dyn Fn(usize, &[String]) -> Option<usize>;

enum Directive {
    Continue,
    ConsumeNext,
    Stop,
    Invalid,
}

/// `scanWrapperInvocation`.
fn scan_wrapper(
    argv: &[String],
    separators: &[&str],
    mut on_token: impl FnMut(&str, &str) -> Directive,
    adjust: Option<&AdjustIndex>,
) -> Option<Vec<String>> {
    let mut idx = 1;
    let mut expects_value = false;
    while idx < argv.len() {
        let token = argv[idx].trim();
        if token.is_empty() {
            idx += 1;
            continue;
        }
        if expects_value {
            expects_value = false;
            idx += 1;
            continue;
        }
        if separators.contains(&token) {
            idx += 1;
            break;
        }
        match on_token(token, &token.to_lowercase()) {
            Directive::Stop => break,
            Directive::Invalid => return None,
            Directive::ConsumeNext => expects_value = true,
            Directive::Continue => {}
        }
        idx += 1;
    }
    if expects_value {
        return None;
    }
    let command_index = match adjust {
        Some(adjust) => adjust(idx, argv)?,
        None => idx,
    };
    (command_index < argv.len()).then(|| argv[command_index..].to_vec())
}

fn unwrap_dash_options(
    argv: &[String],
    on_flag: impl Fn(&str, &str) -> Directive,
    adjust: Option<&AdjustIndex>,
) -> Option<Vec<String>> {
    scan_wrapper(
        argv,
        &["--"],
        |token, lower| {
            if !token.starts_with('-') || token == "-" {
                return Directive::Stop;
            }
            let (flag, _) = split_inline_option(lower);
            on_flag(flag, lower)
        },
        adjust,
    )
}

fn value_directive(lower: &str, flag: &str, inline_counts: bool) -> Directive {
    if lower.contains('=') || (inline_counts && lower != flag) {
        Directive::Continue
    } else {
        Directive::ConsumeNext
    }
}

fn unwrap_nice(argv: &[String]) -> Option<Vec<String>> {
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if lower.len() > 1 && lower[1..].chars().all(|c| c.is_ascii_digit()) {
                return Directive::Continue;
            }
            if ["-n", "--adjustment", "--priority"].contains(&flag) {
                return value_directive(lower, flag, true);
            }
            if lower.starts_with("-n") && lower.len() > 2 {
                return Directive::Continue;
            }
            Directive::Invalid
        },
        None,
    )
}

fn unwrap_caffeinate(argv: &[String]) -> Option<Vec<String>> {
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if ["-d", "-i", "-m", "-s", "-u"].contains(&flag) {
                return Directive::Continue;
            }
            if ["-t", "-w"].contains(&flag) {
                return value_directive(lower, flag, true);
            }
            Directive::Invalid
        },
        None,
    )
}

fn unwrap_nohup(argv: &[String]) -> Option<Vec<String>> {
    scan_wrapper(
        argv,
        &["--"],
        |token, lower| {
            if !token.starts_with('-') || token == "-" {
                Directive::Stop
            } else if lower == "--help" || lower == "--version" {
                Directive::Continue
            } else {
                Directive::Invalid
            }
        },
        None,
    )
}

fn unwrap_sandbox_exec(argv: &[String]) -> Option<Vec<String>> {
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if ["-f", "-p", "-d"].contains(&flag) {
                value_directive(lower, flag, true)
            } else {
                Directive::Invalid
            }
        },
        None,
    )
}

fn unwrap_stdbuf(argv: &[String]) -> Option<Vec<String>> {
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if !["-i", "--input", "-o", "--output", "-e", "--error"].contains(&flag) {
                Directive::Invalid
            } else if lower.contains('=') {
                Directive::Continue
            } else {
                Directive::ConsumeNext
            }
        },
        None,
    )
}

const TIME_FLAG_OPTIONS: &[&str] = &[
    "-a",
    "--append",
    "-h",
    "--help",
    "-l",
    "-p",
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "-V",
    "--version",
];
const TIME_OPTIONS_WITH_VALUE: &[&str] = &["-f", "--format", "-o", "--output"];

fn unwrap_time(argv: &[String]) -> Option<Vec<String>> {
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if TIME_FLAG_OPTIONS.contains(&flag) {
                Directive::Continue
            } else if TIME_OPTIONS_WITH_VALUE.contains(&flag) {
                if lower.contains('=') {
                    Directive::Continue
                } else {
                    Directive::ConsumeNext
                }
            } else {
                Directive::Invalid
            }
        },
        None,
    )
}

fn time_writes_output_file(argv: &[String]) -> bool {
    let mut expects_value = false;
    for token in argv.iter().skip(1) {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        if expects_value {
            expects_value = false;
            continue;
        }
        if token == "--" || !token.starts_with('-') || token == "-" {
            return false;
        }
        let lower = token.to_lowercase();
        let (flag, _) = split_inline_option(&lower);
        if flag == "-o" || flag == "--output" {
            return true;
        }
        if TIME_OPTIONS_WITH_VALUE.contains(&flag) && !lower.contains('=') {
            expects_value = true;
        }
    }
    false
}

fn unwrap_timeout(argv: &[String]) -> Option<Vec<String>> {
    let adjust = |index: usize, argv: &[String]| (index + 1 < argv.len()).then_some(index + 1);
    unwrap_dash_options(
        argv,
        |flag, lower| {
            if ["--foreground", "--preserve-status", "-v", "--verbose"].contains(&flag) {
                Directive::Continue
            } else if ["-k", "--kill-after", "-s", "--signal"].contains(&flag) {
                if lower.contains('=') {
                    Directive::Continue
                } else {
                    Directive::ConsumeNext
                }
            } else {
                Directive::Invalid
            }
        },
        Some(&adjust),
    )
}

fn unwrap_flock(argv: &[String]) -> Option<Vec<String>> {
    let adjust = |index: usize, argv: &[String]| {
        let wrapped = index + 1;
        let command = argv.get(wrapped).map(|s| s.trim()).unwrap_or("");
        (!command.is_empty() && (!command.starts_with('-') || command == "-")).then_some(wrapped)
    };
    scan_wrapper(
        argv,
        &["--"],
        |token, lower| {
            if !token.starts_with('-') || token == "-" {
                return Directive::Stop;
            }
            let (name, value) = split_inline_option(token);
            let (lower_flag, _) = split_inline_option(lower);
            if [
                "--close",
                "--exclusive",
                "--nb",
                "--no-fork",
                "--nonblock",
                "--shared",
                "--verbose",
            ]
            .contains(&lower_flag)
            {
                return Directive::Continue;
            }
            if ["--conflict-exit-code", "--timeout", "--wait"].contains(&lower_flag) {
                return if value.is_some() {
                    Directive::Continue
                } else {
                    Directive::ConsumeNext
                };
            }
            if token.len() > 1 && token[1..].chars().all(|c| "eFnsxo".contains(c)) {
                return Directive::Continue;
            }
            if ["-e", "-F", "-n", "-o", "-s", "-x"].contains(&name) {
                return Directive::Continue;
            }
            if ["-E", "-w"].contains(&name) {
                return if value.is_some() || token != name {
                    Directive::Continue
                } else {
                    Directive::ConsumeNext
                };
            }
            Directive::Invalid
        },
        Some(&adjust),
    )
}

fn unwrap_env(argv: &[String]) -> Option<Vec<String>> {
    resolve_env_carried_argv(argv, 0)
}

/// `unwrapKnownDispatchWrapperInvocation` on Linux.
pub fn unwrap_dispatch_wrapper(argv: &[String]) -> DispatchUnwrap {
    let Some(token0) = argv.first().map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return DispatchUnwrap::NotWrapper;
    };
    let wrapper = normalize_executable_token(token0);
    let unwrapped = match wrapper.as_str() {
        "caffeinate" => unwrap_caffeinate(argv),
        "env" => unwrap_env(argv),
        "flock" => unwrap_flock(argv),
        "nice" => unwrap_nice(argv),
        "nohup" => unwrap_nohup(argv),
        "sandbox-exec" => unwrap_sandbox_exec(argv),
        "stdbuf" => unwrap_stdbuf(argv),
        "time" => unwrap_time(argv),
        "timeout" => unwrap_timeout(argv),
        // macOS/BSD only: blocked here.
        "arch" | "xcrun" | "script" => None,
        name if BLOCKED_DISPATCH_WRAPPERS.contains(&name) => None,
        _ => return DispatchUnwrap::NotWrapper,
    };
    match unwrapped {
        Some(argv) => DispatchUnwrap::Unwrapped { wrapper, argv },
        None => DispatchUnwrap::Blocked(wrapper),
    }
}

/// `isSemanticDispatchWrapperUsage`: a wrapper that changes what the command sees (`env FOO=1`,
/// `time -o file`) is not transparent.
fn is_semantic_dispatch_usage(wrapper: &str, argv: &[String]) -> bool {
    match wrapper {
        "env" => env_uses_modifiers(argv),
        "time" => time_writes_output_file(argv),
        "caffeinate" | "flock" | "nice" | "nohup" | "sandbox-exec" | "stdbuf" | "timeout" => false,
        _ => true,
    }
}

/// `resolveDispatchWrapperTrustPlan`.
#[derive(Debug, Clone)]
pub struct DispatchPlan {
    pub argv: Vec<String>,
    pub wrappers: Vec<String>,
    pub invocations: Vec<(String, Vec<String>)>,
    pub policy_blocked: bool,
    pub blocked_wrapper: Option<String>,
}

pub fn dispatch_trust_plan(argv: &[String], max_depth: usize) -> DispatchPlan {
    let mut current = argv.to_vec();
    let mut plan = DispatchPlan {
        argv: Vec::new(),
        wrappers: Vec::new(),
        invocations: Vec::new(),
        policy_blocked: false,
        blocked_wrapper: None,
    };
    for _ in 0..max_depth {
        match unwrap_dispatch_wrapper(&current) {
            DispatchUnwrap::Blocked(wrapper) => {
                plan.argv = current;
                plan.policy_blocked = true;
                plan.blocked_wrapper = Some(wrapper);
                return plan;
            }
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: inner,
            } if !inner.is_empty() => {
                plan.wrappers.push(wrapper.clone());
                plan.invocations.push((wrapper.clone(), current.clone()));
                if is_semantic_dispatch_usage(&wrapper, &current) {
                    plan.argv = current;
                    plan.policy_blocked = true;
                    plan.blocked_wrapper = Some(wrapper);
                    return plan;
                }
                current = inner;
            }
            _ => break,
        }
    }
    if plan.wrappers.len() >= max_depth {
        match unwrap_dispatch_wrapper(&current) {
            DispatchUnwrap::Blocked(wrapper) | DispatchUnwrap::Unwrapped { wrapper, .. } => {
                plan.argv = current;
                plan.policy_blocked = true;
                plan.blocked_wrapper = Some(wrapper);
                return plan;
            }
            DispatchUnwrap::NotWrapper => {}
        }
    }
    plan.argv = current;
    plan
}

/// `unwrapDispatchWrappersForResolution`.
pub fn unwrap_dispatch_wrappers(argv: &[String]) -> Vec<String> {
    dispatch_trust_plan(argv, 4).argv
}

/// `extractEnvAssignmentKeysFromDispatchWrappers`: the `NAME` of every `NAME=value` given to an
/// `env` in the dispatch chain, sorted and unique.
pub fn env_assignment_keys_from_dispatch_wrappers(argv: &[String]) -> Vec<String> {
    let mut current = argv.to_vec();
    let mut keys = BTreeSet::new();
    for _ in 0..4 {
        let DispatchUnwrap::Unwrapped {
            wrapper,
            argv: inner,
        } = unwrap_dispatch_wrapper(&current)
        else {
            break;
        };
        if inner.is_empty() {
            break;
        }
        if wrapper == "env" {
            if let Some(prelude) = parse_env_prelude(&current, 0) {
                keys.extend(prelude.assignment_keys);
            }
        }
        current = inner;
    }
    keys.into_iter().collect()
}

/// `env -C`/`--chdir` in front of the command.
pub fn has_dispatch_cwd_option(argv: &[String]) -> bool {
    if argv.first().map(|t| normalize_executable_token(t)) != Some("env".to_string()) {
        return false;
    }
    for token in argv.iter().skip(1) {
        let normalized = token.trim().to_lowercase();
        if normalized == "-c"
            || normalized.starts_with("-c=")
            || normalized == "--chdir"
            || normalized.starts_with("--chdir=")
        {
            return true;
        }
        if !normalized.starts_with('-') && !normalized.contains('=') {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dispatch_wrappers_unwrap_or_block() {
        assert_eq!(
            unwrap_dispatch_wrapper(&v(&["nice", "-n", "5", "uname"])),
            DispatchUnwrap::Unwrapped {
                wrapper: "nice".into(),
                argv: v(&["uname"])
            }
        );
        assert_eq!(
            unwrap_dispatch_wrapper(&v(&["timeout", "-s", "KILL", "5", "sleep", "1"])),
            DispatchUnwrap::Unwrapped {
                wrapper: "timeout".into(),
                argv: v(&["sleep", "1"])
            }
        );
        assert_eq!(
            unwrap_dispatch_wrapper(&v(&["sudo", "ls"])),
            DispatchUnwrap::Blocked("sudo".into())
        );
        assert_eq!(
            unwrap_dispatch_wrapper(&v(&["nice", "--bogus", "ls"])),
            DispatchUnwrap::Blocked("nice".into())
        );
        assert_eq!(
            unwrap_dispatch_wrapper(&v(&["ls"])),
            DispatchUnwrap::NotWrapper
        );
        let plan = dispatch_trust_plan(&v(&["env", "FOO=1", "uname"]), 4);
        assert!(plan.policy_blocked);
        let plan = dispatch_trust_plan(&v(&["env", "uname", "-a"]), 4);
        assert!(!plan.policy_blocked);
        assert_eq!(plan.argv, v(&["uname", "-a"]));
        assert_eq!(
            env_assignment_keys_from_dispatch_wrappers(&v(&["env", "B=1", "A=2", "ls"])),
            v(&["A", "B"])
        );
        let split = dispatch_trust_plan(&v(&["env", "-S", "uname -a"]), 4);
        assert!(
            split.policy_blocked,
            "env -S modifies, so it is not transparent"
        );
        assert_eq!(
            unwrap_dispatch_wrappers(&v(&["env", "-S", "uname -a"])),
            v(&["env", "-S", "uname -a"])
        );
    }
}
