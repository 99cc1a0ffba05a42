//! Reading an argv the way the exec policy does: its display text, the dispatch wrappers in
//! front of it (`env`, `nice`, `timeout`, ...), and the shell wrapper (`sh -c PAYLOAD`) it may be.
//!
//! This is a port of the TS host's `system-run-command.ts`, `shell-wrapper-resolution.ts` and
//! `exec-wrapper-trust-plan.ts` (openclaw 2026.9.6), reduced to what a Linux node needs. The
//! display text (`commandText`) and the `rawCommand` consistency check must match the gateway
//! byte for byte, so those parts are exact; the wrapper tables are copied from the bundle.

use std::collections::BTreeSet;

/// JavaScript's `String.prototype.trim` set: WhiteSpace and LineTerminator code points. Rust's
/// `char::is_whitespace` differs (it includes U+0085 and excludes U+FEFF).
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

/// `formatExecCommand(argv)`: each arg verbatim unless it is empty (`""`) or holds whitespace or
/// `"` (then double-quoted with inner `"` escaped), joined by single spaces.
pub fn format_exec_command(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            if arg.is_empty() {
                "\"\"".to_string()
            } else if !arg.chars().any(|c| is_js_whitespace(c) || c == '"') {
                arg.clone()
            } else {
                format!("\"{}\"", arg.replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `normalizeExecutableToken`: the lowercase basename (after the last `/` or `\`), without a
/// Windows executable suffix.
pub fn normalize_executable_token(token: &str) -> String {
    let trimmed = token.trim_end_matches(['/', '\\']);
    let base = match trimmed.rfind(['/', '\\']) {
        Some(index) => &trimmed[index + 1..],
        None => trimmed,
    };
    let lower = base.to_lowercase();
    for suffix in [".exe", ".cmd", ".bat", ".com"] {
        if let Some(stripped) = lower.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    lower
}

/// `parseInlineOptionToken`: `--flag=value` → (`--flag`, `Some("value")`).
pub fn split_inline_option(token: &str) -> (&str, Option<&str>) {
    match token.find('=') {
        Some(index) => (&token[..index], Some(&token[index + 1..])),
        None => (token, None),
    }
}

/// `splitShellArgs`: a shell-like split honouring quotes and backslashes; `None` for unterminated
/// quotes or a trailing backslash. Used where the TS host uses it (env -S payloads, prepare
/// heuristics); the allowlist analysis uses the stricter [`crate::approvals::shell`] parser.
pub fn split_shell_args(raw: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = raw.chars().collect();
    let mut tokens = Vec::new();
    let mut buf = String::new();
    let (mut in_single, mut in_double, mut escaped) = (false, false, false);
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if escaped {
            buf.push(ch);
            escaped = false;
        } else if !in_single && !in_double && ch == '\\' {
            escaped = true;
        } else if in_single {
            if ch == '\'' {
                in_single = false;
            } else {
                buf.push(ch);
            }
        } else if in_double {
            let next = chars.get(i + 1).copied();
            if ch == '\\' && matches!(next, Some('\\' | '"' | '$' | '`' | '\n' | '\r')) {
                if let Some(next) = next {
                    buf.push(next);
                }
                i += 1;
            } else if ch == '"' {
                in_double = false;
            } else {
                buf.push(ch);
            }
        } else if ch == '\'' {
            in_single = true;
        } else if ch == '"' {
            in_double = true;
        } else if ch == '#' && buf.is_empty() {
            break;
        } else if is_js_whitespace(ch) {
            if !buf.is_empty() {
                tokens.push(std::mem::take(&mut buf));
            }
        } else {
            buf.push(ch);
        }
        i += 1;
    }
    if escaped || in_single || in_double {
        return None;
    }
    if !buf.is_empty() {
        tokens.push(buf);
    }
    Some(tokens)
}

fn is_env_assignment_token(token: &str) -> bool {
    let Some(eq) = token.find('=') else {
        return false;
    };
    let name = &token[..eq];
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------------------------
// Carrier option parsing (env, sudo, command, exec)

struct ParsedOption {
    name: String,
    has_inline_value: bool,
    inline_value: Option<String>,
}

/// `parseCarrierOptionToken`: a long option or a cluster of short options, each of which must be
/// known; `None` for anything else.
fn parse_carrier_option(
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
fn carrier_option_consumes_next(
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

fn env_uses_modifiers(argv: &[String]) -> bool {
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
/// Wrappers with an unwrapper. `arch`, `xcrun` and `script` only unwrap on macOS/BSD, so on Linux
/// they are blocked.
const UNWRAPPABLE_DISPATCH_WRAPPERS: &[&str] = &[
    "arch",
    "caffeinate",
    "env",
    "flock",
    "nice",
    "nohup",
    "sandbox-exec",
    "script",
    "stdbuf",
    "time",
    "timeout",
    "xcrun",
];

/// True when `token` names any known dispatch wrapper.
pub fn is_dispatch_wrapper_executable(token: &str) -> bool {
    let name = normalize_executable_token(token);
    BLOCKED_DISPATCH_WRAPPERS.contains(&name.as_str())
        || UNWRAPPABLE_DISPATCH_WRAPPERS.contains(&name.as_str())
}

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

// ---------------------------------------------------------------------------------------------
// Shell multiplexers and command carriers

/// `unwrapKnownShellMultiplexerInvocation`: `busybox sh -c ...` → `sh -c ...`; any other applet
/// is blocked.
pub fn unwrap_shell_multiplexer(argv: &[String]) -> DispatchUnwrap {
    let Some(token0) = argv.first().map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return DispatchUnwrap::NotWrapper;
    };
    let wrapper = normalize_executable_token(token0);
    if wrapper != "busybox" && wrapper != "toybox" {
        return DispatchUnwrap::NotWrapper;
    }
    let mut applet_index = 1;
    if argv.get(applet_index).map(|t| t.trim()) == Some("--") {
        applet_index += 1;
    }
    match argv.get(applet_index).map(|t| t.trim()) {
        Some(applet) if !applet.is_empty() && is_shell_wrapper_executable(applet) => {
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: argv[applet_index..].to_vec(),
            }
        }
        _ => DispatchUnwrap::Blocked(wrapper),
    }
}

/// `command`/`builtin`/`exec` in front of a command (`resolveCarrierCommandArgv`).
fn unwrap_shell_argv_carrier(argv: &[String]) -> DispatchUnwrap {
    let Some(token0) = argv.first().map(|t| t.trim()) else {
        return DispatchUnwrap::NotWrapper;
    };
    if !["builtin", "command", "exec"].contains(&token0) {
        return DispatchUnwrap::NotWrapper;
    }
    let wrapper = token0.to_string();
    if token0 == "command" {
        // `command -p` searches a default PATH the policy does not model.
        for token in argv.iter().skip(1) {
            let token = token.trim();
            if token == "--" || !token.starts_with('-') {
                break;
            }
            if token.starts_with('-') && !token.starts_with("--") && token.contains('p') {
                return DispatchUnwrap::Blocked(wrapper);
            }
        }
    }
    let carried = if token0 == "exec" {
        let mut result = None;
        let mut index = 1;
        while index < argv.len() {
            let token = &argv[index];
            if token == "--" {
                result = Some(argv[index + 1..].to_vec());
                break;
            }
            if !token.starts_with('-') {
                result = Some(argv[index..].to_vec());
                break;
            }
            let Some(options) = parse_carrier_option(token, &["-c", "-l"], &["-a"], &[]) else {
                break;
            };
            if carrier_option_consumes_next(&options, &["-a"], &[]) == Some(true) {
                index += 1;
            }
            index += 1;
        }
        result
    } else {
        let mut result = None;
        for (index, token) in argv.iter().enumerate().skip(1) {
            if token == "--" {
                result = Some(argv[index + 1..].to_vec());
                break;
            }
            if !token.starts_with('-') {
                result = Some(argv[index..].to_vec());
                break;
            }
            let (name, _) = split_inline_option(token);
            if name != "-p" {
                break;
            }
        }
        result
    };
    match carried {
        Some(argv) if !argv.is_empty() => DispatchUnwrap::Unwrapped { wrapper, argv },
        _ => DispatchUnwrap::Blocked(wrapper),
    }
}

/// `resolveExecWrapperTrustPlan`: the executable the policy inspects behind every transparent
/// wrapper, carrier and multiplexer.
#[derive(Debug, Clone)]
pub struct WrapperTrustPlan {
    /// The command that actually runs (wrappers removed).
    pub argv: Vec<String>,
    /// The command the policy matches (differs from `argv` behind busybox/toybox).
    pub policy_argv: Vec<String>,
    pub wrapper_chain: Vec<String>,
    pub wrapper_invocations: Vec<(String, Vec<String>)>,
    pub policy_blocked: bool,
    pub blocked_wrapper: Option<String>,
    pub shell_wrapper_executable: bool,
    pub shell_inline_command: Option<String>,
}

pub fn wrapper_trust_plan(argv: &[String]) -> WrapperTrustPlan {
    const MAX_DEPTH: usize = 4;
    let mut current = argv.to_vec();
    let mut policy_argv = argv.to_vec();
    let mut saw_multiplexer = false;
    let mut chain: Vec<String> = Vec::new();
    let mut invocations: Vec<(String, Vec<String>)> = Vec::new();
    let blocked = |argv: Vec<String>,
                   policy_argv: Vec<String>,
                   chain: Vec<String>,
                   invocations,
                   wrapper: String| {
        WrapperTrustPlan {
            argv,
            policy_argv,
            wrapper_chain: chain,
            wrapper_invocations: invocations,
            policy_blocked: true,
            blocked_wrapper: Some(wrapper),
            shell_wrapper_executable: false,
            shell_inline_command: None,
        }
    };
    for _ in 0..MAX_DEPTH {
        let dispatch = dispatch_trust_plan(&current, MAX_DEPTH - chain.len());
        invocations.extend(dispatch.invocations.iter().cloned());
        if dispatch.policy_blocked {
            let wrapper = dispatch
                .blocked_wrapper
                .clone()
                .unwrap_or_else(|| "unknown".to_string());
            return blocked(
                dispatch.argv.clone(),
                dispatch.argv,
                chain,
                invocations,
                wrapper,
            );
        }
        if !dispatch.wrappers.is_empty() {
            chain.extend(dispatch.wrappers);
            current = dispatch.argv;
            if !saw_multiplexer {
                policy_argv = current.clone();
            }
            if chain.len() >= MAX_DEPTH {
                break;
            }
            continue;
        }
        match unwrap_shell_argv_carrier(&current) {
            DispatchUnwrap::Blocked(wrapper) => {
                return blocked(current, policy_argv, chain, invocations, wrapper)
            }
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: inner,
            } => {
                chain.push(wrapper.clone());
                invocations.push((wrapper, current.clone()));
                current = inner;
                if !saw_multiplexer {
                    policy_argv = current.clone();
                }
                if chain.len() >= MAX_DEPTH {
                    break;
                }
                continue;
            }
            DispatchUnwrap::NotWrapper => {}
        }
        match unwrap_shell_multiplexer(&current) {
            DispatchUnwrap::Blocked(wrapper) => {
                return blocked(current, policy_argv, chain, invocations, wrapper)
            }
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: inner,
            } => {
                chain.push(wrapper.clone());
                invocations.push((wrapper, current.clone()));
                if !saw_multiplexer {
                    policy_argv = current.clone();
                    saw_multiplexer = true;
                }
                current = inner;
                if chain.len() >= MAX_DEPTH {
                    break;
                }
                continue;
            }
            DispatchUnwrap::NotWrapper => {}
        }
        break;
    }
    if chain.len() >= MAX_DEPTH {
        for overflow in [
            unwrap_dispatch_wrapper(&current),
            unwrap_shell_argv_carrier(&current),
            unwrap_shell_multiplexer(&current),
        ] {
            if let DispatchUnwrap::Blocked(wrapper) | DispatchUnwrap::Unwrapped { wrapper, .. } =
                overflow
            {
                return blocked(current, policy_argv, chain, invocations, wrapper);
            }
        }
    }
    let raw_executable = current.first().map(|t| t.trim()).unwrap_or("");
    let shell_wrapper_executable =
        !raw_executable.is_empty() && is_shell_wrapper_executable(raw_executable);
    let shell_inline_command = if shell_wrapper_executable {
        bindable_shell_wrapper_inline_command(&current, None)
    } else {
        None
    };
    WrapperTrustPlan {
        argv: current,
        policy_argv,
        wrapper_chain: chain,
        wrapper_invocations: invocations,
        policy_blocked: false,
        blocked_wrapper: None,
        shell_wrapper_executable,
        shell_inline_command,
    }
}

// ---------------------------------------------------------------------------------------------
// Shell wrappers

/// POSIX-family shells the TS host recognises as wrappers.
pub const POSIX_SHELL_WRAPPERS: &[&str] = &[
    "ash", "bash", "csh", "dash", "elvish", "fish", "ksh", "mksh", "nu", "osh", "sh", "tcsh",
    "xonsh", "yash", "zsh",
];
/// Shells whose payload the TS host parses. This port's own analysis accepts fewer (see
/// [`crate::approvals::shell`]).
pub const POSIX_PARSEABLE_SHELL_WRAPPERS: &[&str] = &[
    "ash", "bash", "dash", "fish", "ksh", "mksh", "sh", "yash", "zsh",
];
const OPAQUE_STARTUP_FILE_SHELLS: &[&str] = &["csh", "osh", "tcsh"];
const POSIX_INLINE_COMMAND_FLAGS: &[&str] = &["-lc", "-c", "--command", "--commands", "--cmdline"];
const NUSHELL_INLINE_COMMAND_FLAGS: &[&str] = &[
    "-lc",
    "-c",
    "--command",
    "--commands",
    "--cmdline",
    "-e",
    "--execute",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    Posix,
    Cmd,
    PowerShell,
}

fn shell_kind(base: &str) -> Option<ShellKind> {
    if POSIX_SHELL_WRAPPERS.contains(&base) {
        Some(ShellKind::Posix)
    } else if base == "cmd" {
        Some(ShellKind::Cmd)
    } else if base == "powershell" || base == "pwsh" {
        Some(ShellKind::PowerShell)
    } else {
        None
    }
}

/// True when `token` names a shell the TS host treats as a wrapper (POSIX, cmd, PowerShell).
pub fn is_shell_wrapper_executable(token: &str) -> bool {
    shell_kind(&normalize_executable_token(token)).is_some()
}

/// True for a POSIX-family shell name (`sh`, `bash`, ..., `nu`).
pub fn is_posix_shell(name: &str) -> bool {
    POSIX_SHELL_WRAPPERS.contains(&name)
}

/// True for a POSIX shell whose payload the TS host parses.
pub fn is_parseable_posix_shell(name: &str) -> bool {
    POSIX_PARSEABLE_SHELL_WRAPPERS.contains(&name)
}

fn count_separate_value_option_chars(token: &str) -> usize {
    token
        .chars()
        .skip(1)
        .filter(|c| *c == 'o' || *c == 'O')
        .count()
}

/// `parseCombinedCommandFlag`: `-xc` clusters. `Some(Some(cmd))` for an attached command.
fn parse_combined_command_flag(token: &str) -> Option<(Option<String>, usize)> {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 2 || chars[0] != '-' || chars[1] == '-' {
        return None;
    }
    let option_chars: String = chars[1..].iter().collect();
    let c_index = option_chars.find('c')?;
    if option_chars.contains('-') {
        return None;
    }
    let suffix = &option_chars[c_index + 1..];
    if !suffix.is_empty() && !suffix.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some((Some(suffix.to_string()), 0));
    }
    Some((None, count_separate_value_option_chars(token)))
}

fn combined_separate_value_option_count(token: &str) -> usize {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 2
        || (chars[0] != '-' && chars[0] != '+')
        || chars[1] == '-'
        || chars[1..].contains(&'-')
    {
        return 0;
    }
    count_separate_value_option_chars(token)
}

/// `advancePosixInlineOptionScan`.
pub fn advance_posix_option_scan(token: &str) -> usize {
    let combined = combined_separate_value_option_count(token);
    if combined > 0 {
        return 1 + combined;
    }
    if ["--init-file", "--rcfile", "-O", "-o", "+O", "+o"].contains(&token) {
        return 2;
    }
    1
}

/// Where a shell wrapper's inline command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineMatch {
    pub command: Option<String>,
    pub value_token_index: Option<usize>,
}

struct InlineOptions<'a> {
    allow_combined_c: bool,
    rest_value_flags: &'a [String],
    value_options: &'a [String],
    stop_at_first_non_option: bool,
    is_option_token: Option<&'a dyn Fn(&str) -> bool>,
}

/// `resolveInlineCommandMatch`.
fn resolve_inline_match(
    argv: &[String],
    flags: &[String],
    options: &InlineOptions<'_>,
) -> InlineMatch {
    let none = InlineMatch {
        command: None,
        value_token_index: None,
    };
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        let lower = token.to_lowercase();
        if lower == "--" {
            break;
        }
        let comparable = if options.allow_combined_c {
            token.to_string()
        } else {
            lower.clone()
        };
        if flags.contains(&comparable) {
            let value_token_index = (i + 1 < argv.len()).then_some(i + 1);
            if options.rest_value_flags.contains(&comparable) {
                let command = argv[i + 1..]
                    .iter()
                    .map(|a| a.trim())
                    .collect::<Vec<_>>()
                    .join(" ");
                let command = command.trim().to_string();
                return InlineMatch {
                    command: (!command.is_empty()).then_some(command),
                    value_token_index,
                };
            }
            let command = argv
                .get(i + 1)
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty());
            return InlineMatch {
                command,
                value_token_index,
            };
        }
        if options.allow_combined_c {
            if let Some((attached, separate)) = parse_combined_command_flag(token) {
                if let Some(attached) = attached {
                    let attached = attached.trim().to_string();
                    return InlineMatch {
                        command: (!attached.is_empty()).then_some(attached),
                        value_token_index: Some(i),
                    };
                }
                let value_index = i + 1 + separate;
                let command = argv
                    .get(value_index)
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty());
                return InlineMatch {
                    command,
                    value_token_index: Some(value_index),
                };
            }
        }
        if options.value_options.contains(&lower) {
            i += 2;
            continue;
        }
        let is_option = match options.is_option_token {
            Some(f) => f(token),
            None => token.starts_with('-') || token.starts_with('+'),
        };
        if options.stop_at_first_non_option && !is_option {
            break;
        }
        if options.allow_combined_c && !token.starts_with('-') && !token.starts_with('+') {
            break;
        }
        i += if options.allow_combined_c {
            advance_posix_option_scan(token)
        } else {
            1
        };
    }
    none
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The POSIX `-c` payload match (with combined flag clusters).
pub fn posix_inline_match(argv: &[String]) -> InlineMatch {
    resolve_inline_match(
        argv,
        &owned(POSIX_INLINE_COMMAND_FLAGS),
        &InlineOptions {
            allow_combined_c: true,
            rest_value_flags: &[],
            value_options: &[],
            stop_at_first_non_option: false,
            is_option_token: None,
        },
    )
}

fn nushell_inline_match(argv: &[String]) -> InlineMatch {
    resolve_inline_match(
        argv,
        &owned(NUSHELL_INLINE_COMMAND_FLAGS),
        &InlineOptions {
            allow_combined_c: true,
            rest_value_flags: &[],
            value_options: &[],
            stop_at_first_non_option: false,
            is_option_token: None,
        },
    )
}

fn powershell_prefix_forms(full: &str, smallest: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for length in smallest.len()..=full.len() {
        let prefix = &full[..length];
        forms.push(format!("-{prefix}"));
        forms.push(format!("--{prefix}"));
        forms.push(format!("/{prefix}"));
    }
    forms
}

fn powershell_forms(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| [format!("-{n}"), format!("--{n}"), format!("/{n}")])
        .collect()
}

struct PowerShellFlags {
    command: Vec<String>,
    file: Vec<String>,
    encoded: Vec<String>,
    no_profile: Vec<String>,
    unreviewed_startup: Vec<String>,
    separate_values: Vec<String>,
}

fn powershell_flags() -> PowerShellFlags {
    let mut command = powershell_prefix_forms("command", "c");
    command.extend(powershell_prefix_forms("commandwithargs", "cwa"));
    command.extend(powershell_forms(&["cwa"]));
    let file = powershell_prefix_forms("file", "f");
    let mut encoded = powershell_prefix_forms("encodedcommand", "e");
    encoded.extend(powershell_prefix_forms("ec", "e"));
    let no_profile = powershell_prefix_forms("noprofile", "nop");
    let mut unreviewed_startup = Vec::new();
    for (full, min) in [
        ("configurationfile", "conf"),
        ("configurationname", "config"),
        ("custompipename", "cus"),
        ("encodedarguments", "encodeda"),
        ("interactive", "i"),
        ("login", "l"),
        ("namedpipeservermode", "nam"),
        ("noexit", "noe"),
        ("psconsolefile", "pscf"),
        ("servermode", "s"),
        ("settingsfile", "settings"),
        ("socketservermode", "so"),
        ("sshservermode", "ssh"),
        ("v2socketservermode", "v2so"),
    ] {
        unreviewed_startup.extend(powershell_prefix_forms(full, min));
    }
    unreviewed_startup.extend(powershell_forms(&["ea", "pscf"]));
    let mut separate_values = Vec::new();
    for (full, min) in [
        ("configurationfile", "conf"),
        ("configurationname", "config"),
        ("custompipename", "cus"),
        ("encodedarguments", "encodeda"),
        ("executionpolicy", "ex"),
        ("inputformat", "inp"),
        ("outputformat", "o"),
        ("psconsolefile", "pscf"),
        ("settingsfile", "settings"),
        ("token", "to"),
        ("utctimestamp", "utc"),
        ("version", "v"),
        ("windowstyle", "w"),
        ("workingdirectory", "w"),
    ] {
        separate_values.extend(powershell_prefix_forms(full, min));
    }
    separate_values.extend(powershell_forms(&["ea", "ep", "if", "of", "pscf", "wd"]));
    PowerShellFlags {
        command,
        file,
        encoded,
        no_profile,
        unreviewed_startup,
        separate_values,
    }
}

fn is_powershell_option_token(token: &str) -> bool {
    if token.starts_with('-') {
        return true;
    }
    let mut chars = token.chars();
    chars.next() == Some('/')
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

fn powershell_inline_match(argv: &[String], flags: &PowerShellFlags) -> InlineMatch {
    let mut all = flags.command.clone();
    all.extend(flags.file.iter().cloned());
    all.extend(flags.encoded.iter().cloned());
    resolve_inline_match(
        argv,
        &all,
        &InlineOptions {
            allow_combined_c: false,
            rest_value_flags: &flags.command,
            value_options: &flags.separate_values,
            stop_at_first_non_option: true,
            is_option_token: Some(&is_powershell_option_token),
        },
    )
}

fn powershell_profile_startup(
    argv: &[String],
    value_token_index: Option<usize>,
    flags: &PowerShellFlags,
) -> bool {
    let mut profiles_disabled = false;
    let end = match value_token_index {
        Some(index) => index.saturating_sub(1),
        None => argv.len(),
    };
    let mut index = 1;
    while index < end {
        let raw = &argv[index];
        if raw == "--" || raw == "-" || !is_powershell_option_token(raw) {
            return true;
        }
        let token = raw.to_lowercase();
        if flags.unreviewed_startup.contains(&token) {
            return true;
        }
        if flags.no_profile.contains(&token) {
            profiles_disabled = true;
        }
        index += if flags.separate_values.contains(&token) {
            2
        } else {
            1
        };
    }
    value_token_index.is_none() || !profiles_disabled
}

fn has_nushell_startup_option_before_inline(argv: &[String]) -> bool {
    for token in argv.iter().skip(1) {
        let token = token.to_lowercase();
        if token.is_empty() || token == "--" {
            return false;
        }
        if is_nushell_inline_boundary(&token) {
            return false;
        }
        for option in ["--config", "--env-config", "--plugin-config", "--plugins"] {
            if token == option || token.starts_with(&format!("{option}=")) {
                return true;
            }
        }
    }
    false
}

fn is_nushell_inline_boundary(arg: &str) -> bool {
    let normalized = arg.to_lowercase();
    if NUSHELL_INLINE_COMMAND_FLAGS.contains(&normalized.as_str()) {
        return true;
    }
    match normalized.find('=') {
        Some(eq) => {
            let flag = &normalized[..eq];
            flag.starts_with("--") && NUSHELL_INLINE_COMMAND_FLAGS.contains(&flag)
        }
        None => false,
    }
}

fn nushell_attached_inline(argv: &[String]) -> Option<String> {
    for arg in argv.iter().skip(1) {
        let arg = arg.trim();
        if arg.is_empty() || arg == "--" {
            return None;
        }
        let Some(eq) = arg.find('=') else { continue };
        let flag = arg[..eq].to_lowercase();
        if flag.starts_with("--") && NUSHELL_INLINE_COMMAND_FLAGS.contains(&flag.as_str()) {
            return Some(arg[eq + 1..].to_string());
        }
    }
    None
}

fn cmd_inline(argv: &[String]) -> Option<String> {
    let index = argv.iter().position(|item| {
        let token = item.to_lowercase();
        token == "/c" || token == "/k" || token == "-c" || token == "-k"
    })?;
    let tail = &argv[index + 1..];
    let command = tail.join(" ");
    let command = command.trim();
    (!command.is_empty()).then(|| command.to_string())
}

fn cmd_unreviewed_startup(argv: &[String]) -> bool {
    let mut autorun_disabled = false;
    for (index, token) in argv.iter().enumerate().skip(1) {
        let token = token.to_lowercase();
        if token.is_empty() {
            continue;
        }
        match token.as_str() {
            "/d" => autorun_disabled = true,
            "/k" => return true,
            "/c" => {
                return !autorun_disabled || !argv[index + 1..].iter().any(|v| !v.trim().is_empty())
            }
            "/s" | "/q" | "/a" | "/u" | "/e:on" | "/e:off" | "/f:on" | "/f:off" | "/v:on"
            | "/v:off" => {}
            t if t.starts_with("/t:")
                && (4..=5).contains(&t.len())
                && t[3..].chars().all(|c| c.is_ascii_hexdigit()) => {}
            _ => return true,
        }
    }
    true
}

/// The payload of a shell wrapper argv (already unwrapped to the shell), by wrapper kind.
fn shell_payload(argv: &[String], kind: ShellKind, base: &str) -> Option<String> {
    match kind {
        ShellKind::Posix => {
            if OPAQUE_STARTUP_FILE_SHELLS.contains(&base) {
                return None;
            }
            if base == "nu" {
                if has_nushell_startup_option_before_inline(argv) {
                    return None;
                }
                if let Some(attached) = nushell_attached_inline(argv) {
                    let trimmed = attached.trim().to_string();
                    return (!trimmed.is_empty()).then_some(trimmed);
                }
                return nushell_inline_match(argv).command;
            }
            posix_inline_match(argv).command
        }
        ShellKind::Cmd => cmd_inline(argv),
        ShellKind::PowerShell => powershell_inline_match(argv, &powershell_flags()).command,
    }
}

/// `resolveShellWrapperCandidate`: the shell behind dispatch wrappers and multiplexers, and
/// whether an `env` before it changes the environment.
fn shell_wrapper_candidate(
    argv: &[String],
    depth: usize,
    env_manipulation: bool,
) -> Option<(Vec<String>, bool)> {
    if depth > 4 {
        return None;
    }
    let token0 = argv.first().map(|t| t.trim()).filter(|t| !t.is_empty())?;
    let _ = token0;
    match unwrap_dispatch_wrapper(argv) {
        DispatchUnwrap::Blocked(_) => return None,
        DispatchUnwrap::Unwrapped {
            wrapper,
            argv: inner,
        } => {
            let manipulated = env_manipulation || (wrapper == "env" && env_uses_modifiers(argv));
            return shell_wrapper_candidate(&inner, depth + 1, manipulated);
        }
        DispatchUnwrap::NotWrapper => {}
    }
    match unwrap_shell_multiplexer(argv) {
        DispatchUnwrap::Blocked(_) => None,
        DispatchUnwrap::Unwrapped { argv: inner, .. } => {
            shell_wrapper_candidate(&inner, depth + 1, env_manipulation)
        }
        DispatchUnwrap::NotWrapper => Some((argv.to_vec(), env_manipulation)),
    }
}

fn is_posix_short_option(token: &str, option: char) -> bool {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 2 || chars[0] != '-' || chars[1] == '-' {
        return false;
    }
    let mut has = false;
    for c in &chars[1..] {
        if *c == '-' {
            return false;
        }
        if *c == option {
            has = true;
        }
    }
    has
}

fn is_combined_command_flag(token: &str) -> bool {
    parse_combined_command_flag(token).is_some()
}

/// `hasPosixLoginStartupBeforeInlineCommand` / `hasPosixInteractiveStartupBeforeInlineCommand`.
fn has_posix_startup_before_inline(argv: &[String], login: bool) -> bool {
    let mut saw = false;
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        if token == "--" {
            return false;
        }
        let startup = if login {
            token == "--login" || is_posix_short_option(token, 'l')
        } else {
            token == "--interactive" || is_posix_short_option(token, 'i')
        };
        if startup {
            saw = true;
        }
        if POSIX_INLINE_COMMAND_FLAGS.contains(&token) || is_combined_command_flag(token) {
            return saw;
        }
        if !token.starts_with('-') && !token.starts_with('+') {
            return false;
        }
        i += advance_posix_option_scan(token);
    }
    false
}

/// True when a POSIX shell in argv starts as a login or interactive shell before its `-c`.
pub fn has_posix_startup_before_inline_command(argv: &[String]) -> bool {
    let Some((candidate, _)) = shell_wrapper_candidate(argv, 0, false) else {
        return false;
    };
    let Some(token0) = candidate.first() else {
        return false;
    };
    is_posix_shell(&normalize_executable_token(token0))
        && (has_posix_startup_before_inline(&candidate, true)
            || has_posix_startup_before_inline(&candidate, false))
}

fn fish_init_command_option(argv: &[String]) -> bool {
    for token in argv.iter().skip(1) {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        if token == "--" {
            return false;
        }
        if token == "-C"
            || token == "--init-command"
            || token.starts_with("-C")
            || token.starts_with("--init-command=")
        {
            return true;
        }
        if !token.starts_with('-') && !token.starts_with('+') {
            return false;
        }
    }
    false
}

fn fish_attached_command_option(argv: &[String]) -> bool {
    for token in argv.iter().skip(1) {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        if token == "--" {
            return false;
        }
        if token.starts_with("-c") && token != "-c" {
            return true;
        }
        if !token.starts_with('-') && !token.starts_with('+') {
            return false;
        }
    }
    false
}

fn nushell_startup_mode(argv: &[String], login: bool) -> bool {
    let mut saw = false;
    for arg in argv.iter().skip(1) {
        let arg = arg.trim();
        if arg.is_empty() || arg == "--" {
            return false;
        }
        let normalized = arg.to_lowercase();
        let short = |c: char| {
            normalized.len() >= 2
                && normalized.starts_with('-')
                && !normalized.starts_with("--")
                && normalized[1..].contains(c)
        };
        let startup = if login {
            normalized == "--login" || short('l')
        } else {
            normalized == "--interactive" || short('i')
        };
        if startup {
            saw = true;
        }
        if is_nushell_inline_boundary(arg) {
            return saw;
        }
        if !arg.starts_with('-') && !arg.starts_with('+') {
            return false;
        }
    }
    false
}

/// `startupWrapperRequiresFullArgv`: login/interactive startup means the payload alone is not
/// what runs, so it cannot stand for the command.
fn startup_requires_full_argv(
    argv: &[String],
    kind: ShellKind,
    base: &str,
    include_legacy_login: bool,
) -> bool {
    if kind != ShellKind::Posix {
        return false;
    }
    if base == "fish" && fish_init_command_option(argv) {
        return true;
    }
    if base == "nu" {
        return nushell_startup_mode(argv, true) || nushell_startup_mode(argv, false);
    }
    if is_posix_shell(base) && has_posix_startup_before_inline(argv, true) {
        return include_legacy_login || !is_legacy_sh_login(argv, base);
    }
    has_posix_startup_before_inline(argv, false)
}

fn is_legacy_sh_login(argv: &[String], base: &str) -> bool {
    base == "sh" && argv.get(1).map(|t| t.trim()) == Some("-lc")
}

/// `extractShellWrapperCommand`: whether argv is a shell wrapper, and the command text that may
/// stand for it (`None` when startup files make the payload alone not what runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellWrapperCommand {
    pub is_wrapper: bool,
    pub command: Option<String>,
}

fn normalize_raw(raw: Option<&str>) -> Option<String> {
    raw.map(|r| js_trim(r).to_string())
        .filter(|r| !r.is_empty())
}

pub fn extract_shell_wrapper_command(argv: &[String], raw: Option<&str>) -> ShellWrapperCommand {
    let raw = normalize_raw(raw);
    let not_wrapper = ShellWrapperCommand {
        is_wrapper: false,
        command: None,
    };
    let Some((candidate, _)) = shell_wrapper_candidate(argv, 0, false) else {
        return not_wrapper;
    };
    let Some(token0) = candidate.first().map(|t| t.trim().to_string()) else {
        return not_wrapper;
    };
    let base = normalize_executable_token(&token0);
    let Some(kind) = shell_kind(&base) else {
        return not_wrapper;
    };
    let Some(payload) = shell_payload(&candidate, kind, &base) else {
        return not_wrapper;
    };
    if kind == ShellKind::Posix && base == "fish" && fish_attached_command_option(&candidate) {
        return ShellWrapperCommand {
            is_wrapper: true,
            command: None,
        };
    }
    let raw_matches_payload = raw.as_deref() == Some(payload.as_str());
    let raw_matches_canonical = raw.as_deref() == Some(format_exec_command(&candidate).as_str());
    let allow_legacy =
        is_legacy_sh_login(&candidate, &base) && (raw_matches_payload || raw_matches_canonical);
    if startup_requires_full_argv(&candidate, kind, &base, !allow_legacy) {
        return ShellWrapperCommand {
            is_wrapper: true,
            command: None,
        };
    }
    let command = if raw_matches_canonical {
        payload
    } else {
        raw.unwrap_or(payload)
    };
    ShellWrapperCommand {
        is_wrapper: true,
        command: Some(command),
    }
}

/// `extractBindableShellWrapperInlineCommand`.
pub fn bindable_shell_wrapper_inline_command(argv: &[String], raw: Option<&str>) -> Option<String> {
    extract_shell_wrapper_command(argv, raw).command
}

/// `resolveShellWrapperSpecAndArgvInternal`: the shell's own argv and its raw payload.
pub fn shell_wrapper_transport(argv: &[String]) -> Option<(Vec<String>, String, ShellKind)> {
    let (candidate, _) = shell_wrapper_candidate(argv, 0, false)?;
    let base = normalize_executable_token(candidate.first()?.trim());
    let kind = shell_kind(&base)?;
    let payload = shell_payload(&candidate, kind, &base)?;
    Some((candidate, payload, kind))
}

/// `extractShellWrapperInlineCommand`: the raw payload, without the startup-file checks.
pub fn shell_wrapper_inline_command(argv: &[String]) -> Option<String> {
    shell_wrapper_transport(argv).map(|(_, payload, _)| payload)
}

/// `isShellWrapperInvocation`: argv runs a shell (behind transparent wrappers).
pub fn is_shell_wrapper_invocation(argv: &[String]) -> bool {
    match shell_wrapper_candidate(argv, 0, false) {
        Some((candidate, _)) => candidate
            .first()
            .map(|t| is_shell_wrapper_executable(t.trim()))
            .unwrap_or(false),
        None => false,
    }
}

/// `hasEnvManipulationBeforeShellWrapper`.
pub fn has_env_manipulation_before_shell_wrapper(argv: &[String]) -> bool {
    let Some((candidate, manipulated)) = shell_wrapper_candidate(argv, 0, false) else {
        return false;
    };
    let Some(token0) = candidate.first() else {
        return false;
    };
    let base = normalize_executable_token(token0.trim());
    let Some(kind) = shell_kind(&base) else {
        return false;
    };
    shell_payload(&candidate, kind, &base).is_some() && manipulated
}

/// `isBlockedShellWrapperCommand`: a shell wrapper whose startup behaviour means its payload
/// cannot be bound to an approval.
pub fn is_blocked_shell_wrapper_command(argv: &[String], raw: Option<&str>) -> bool {
    let Some((candidate, _)) = shell_wrapper_candidate(argv, 0, false) else {
        return false;
    };
    let Some(token0) = candidate.first() else {
        return false;
    };
    let base = normalize_executable_token(token0.trim());
    let Some(kind) = shell_kind(&base) else {
        return false;
    };
    if kind == ShellKind::Cmd && cmd_unreviewed_startup(&candidate) {
        return true;
    }
    if kind == ShellKind::PowerShell {
        let flags = powershell_flags();
        let matched = powershell_inline_match(&candidate, &flags);
        if powershell_profile_startup(&candidate, matched.value_token_index, &flags) {
            return true;
        }
        if let Some(index) = matched.value_token_index {
            let previous = candidate
                .get(index.wrapping_sub(1))
                .map(|t| t.to_lowercase())
                .unwrap_or_default();
            if matched.command.as_deref() == Some("-")
                || flags.encoded.contains(&previous)
                || flags.file.contains(&previous)
            {
                return true;
            }
        }
    }
    if kind == ShellKind::Posix {
        if (base == "fish" && fish_init_command_option(&candidate))
            || (base == "nu" && has_nushell_startup_option_before_inline(&candidate))
        {
            return true;
        }
        if OPAQUE_STARTUP_FILE_SHELLS.contains(&base.as_str()) {
            return true;
        }
    }
    let extracted = extract_shell_wrapper_command(argv, raw);
    extracted.is_wrapper && extracted.command.is_none()
}

/// `hasTrailingPositionalArgvAfterInlineCommand`: `sh -c 'cmd' arg0 arg1`.
pub fn has_trailing_positional_argv_after_inline_command(argv: &[String]) -> bool {
    let dispatch_unwrapped = unwrap_dispatch_wrappers(argv);
    let wrapper_argv = match unwrap_shell_multiplexer(&dispatch_unwrapped) {
        DispatchUnwrap::Unwrapped { argv, .. } => argv,
        _ => dispatch_unwrapped,
    };
    let Some(token0) = wrapper_argv
        .first()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    else {
        return false;
    };
    let wrapper = normalize_executable_token(token0);
    let powershell = wrapper == "powershell" || wrapper == "pwsh";
    if !is_posix_shell(&wrapper) && !powershell {
        return false;
    }
    let flags = powershell_flags();
    let index = if powershell {
        powershell_inline_match(&wrapper_argv, &flags).value_token_index
    } else if wrapper == "nu" {
        nushell_value_token_index(&wrapper_argv)
    } else {
        posix_inline_match(&wrapper_argv).value_token_index
    };
    let Some(index) = index else { return false };
    if powershell {
        let previous = wrapper_argv
            .get(index.wrapping_sub(1))
            .map(|t| t.to_lowercase())
            .unwrap_or_default();
        if flags.command.contains(&previous) {
            return false;
        }
    }
    wrapper_argv
        .iter()
        .skip(index + 1)
        .any(|entry| !entry.trim().is_empty())
}

fn nushell_value_token_index(argv: &[String]) -> Option<usize> {
    for (i, arg) in argv.iter().enumerate().skip(1) {
        let arg = arg.trim();
        if arg.is_empty() || arg == "--" {
            return None;
        }
        let Some(eq) = arg.find('=') else { continue };
        let flag = arg[..eq].to_lowercase();
        if flag.starts_with("--") && NUSHELL_INLINE_COMMAND_FLAGS.contains(&flag.as_str()) {
            return Some(i);
        }
    }
    nushell_inline_match(argv).value_token_index
}

/// A `system.run` command after the `rawCommand` check (`resolveSystemRunCommandRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub argv: Vec<String>,
    /// `formatExecCommand(argv)`: what events and plans call the command.
    pub command_text: String,
    /// The shell wrapper's payload, when argv is a shell wrapper with a bindable payload.
    pub shell_payload: Option<String>,
    /// The trimmed payload, when it may stand for the command in displays.
    pub preview_text: Option<String>,
}

/// The exact `rawCommand` mismatch message.
pub const RAW_COMMAND_MISMATCH: &str = "INVALID_REQUEST: rawCommand does not match command";

/// Checks `rawCommand` against argv. `Err` carries the protocol message.
pub fn resolve_command_request(
    argv: Vec<String>,
    raw_command: Option<&str>,
) -> Result<CommandRequest, String> {
    let raw = normalize_raw(raw_command);
    if argv.is_empty() {
        if raw.is_some() {
            return Err("rawCommand requires params.command".to_string());
        }
        return Ok(CommandRequest {
            argv,
            command_text: String::new(),
            shell_payload: None,
            preview_text: None,
        });
    }
    let rawless = extract_shell_wrapper_command(&argv, None);
    let resolution = if rawless.command.is_none() && raw.is_some() {
        extract_shell_wrapper_command(&argv, raw.as_deref())
    } else {
        rawless
    };
    let shell_payload = resolution.command;
    let positional = has_trailing_positional_argv_after_inline_command(&argv);
    let env_manipulation =
        resolution.is_wrapper && has_env_manipulation_before_shell_wrapper(&argv);
    let command_text = format_exec_command(&argv);
    let preview_text = match &shell_payload {
        Some(payload) if !env_manipulation && !positional => Some(js_trim(payload).to_string()),
        _ => None,
    };
    if let Some(raw) = &raw {
        let matches_canonical = *raw == command_text;
        let matches_preview = preview_text.as_deref() == Some(raw.as_str());
        if !matches_canonical && !matches_preview {
            return Err(RAW_COMMAND_MISMATCH.to_string());
        }
    }
    Ok(CommandRequest {
        argv,
        command_text,
        shell_payload,
        preview_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_exec_command_quotes_like_ts() {
        assert_eq!(
            format_exec_command(&v(&["sh", "-c", "echo a && uname"])),
            "sh -c \"echo a && uname\""
        );
        assert_eq!(format_exec_command(&v(&["echo", ""])), "echo \"\"");
        assert_eq!(
            format_exec_command(&v(&["echo", "say \"hi\""])),
            "echo \"say \\\"hi\\\"\""
        );
        assert_eq!(format_exec_command(&v(&["a\"b"])), "\"a\\\"b\"");
        assert_eq!(format_exec_command(&v(&["tab\there"])), "\"tab\there\"");
        // U+00A0 is JS whitespace, so it is quoted.
        assert_eq!(format_exec_command(&v(&["a\u{a0}b"])), "\"a\u{a0}b\"");
        assert_eq!(
            format_exec_command(&v(&["/usr/bin/echo", "hi there"])),
            "/usr/bin/echo \"hi there\""
        );
        assert_eq!(
            format_exec_command(&v(&["sh", "-c", "echo hello; echo err 1>&2; exit 3"])),
            "sh -c \"echo hello; echo err 1>&2; exit 3\""
        );
    }

    #[test]
    fn normalize_executable_token_takes_lowercase_basename() {
        assert_eq!(normalize_executable_token("/usr/bin/Env"), "env");
        assert_eq!(normalize_executable_token("C:\\Windows\\cmd.exe"), "cmd");
        assert_eq!(normalize_executable_token("bash"), "bash");
    }

    #[test]
    fn raw_command_check_accepts_canonical_and_shell_payload() {
        let ok = resolve_command_request(v(&["echo", "hi"]), Some("echo hi")).unwrap();
        assert_eq!(ok.command_text, "echo hi");
        assert!(ok.shell_payload.is_none());
        assert_eq!(
            resolve_command_request(v(&["echo", "hi"]), Some("echo ho")).unwrap_err(),
            RAW_COMMAND_MISMATCH
        );
        // Whitespace-only raw is ignored.
        assert!(resolve_command_request(v(&["echo", "hi"]), Some("  ")).is_ok());

        let shell = resolve_command_request(
            v(&["sh", "-c", "echo hi && uname"]),
            Some("echo hi && uname"),
        )
        .unwrap();
        assert_eq!(shell.shell_payload.as_deref(), Some("echo hi && uname"));
        assert_eq!(shell.preview_text.as_deref(), Some("echo hi && uname"));
        assert_eq!(shell.command_text, "sh -c \"echo hi && uname\"");
    }

    #[test]
    fn legacy_sh_login_payload_needs_raw_command() {
        let argv = v(&["/bin/sh", "-lc", "echo via-shell"]);
        let rawless = resolve_command_request(argv.clone(), None).unwrap();
        assert_eq!(rawless.shell_payload, None);
        let with_raw = resolve_command_request(argv.clone(), Some("echo via-shell")).unwrap();
        assert_eq!(with_raw.shell_payload.as_deref(), Some("echo via-shell"));
        assert_eq!(with_raw.command_text, "/bin/sh -lc \"echo via-shell\"");
        assert!(is_blocked_shell_wrapper_command(&argv, None));
        assert!(!is_blocked_shell_wrapper_command(
            &argv,
            Some("echo via-shell")
        ));
        // bash -lc always needs its full argv.
        let bash = v(&["bash", "-lc", "ls"]);
        assert_eq!(
            resolve_command_request(bash.clone(), Some("ls")).unwrap_err(),
            RAW_COMMAND_MISMATCH
        );
        assert!(is_blocked_shell_wrapper_command(&bash, Some("ls")));
    }

    #[test]
    fn env_prefix_hides_preview() {
        let argv = v(&["env", "FOO=1", "sh", "-c", "echo hi"]);
        let req = resolve_command_request(argv, None).unwrap();
        assert_eq!(req.shell_payload.as_deref(), Some("echo hi"));
        assert_eq!(req.preview_text, None);
        let positional = resolve_command_request(v(&["sh", "-c", "echo $0", "x"]), None).unwrap();
        assert_eq!(positional.preview_text, None);
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

    #[test]
    fn trust_plan_sees_through_carriers_and_busybox() {
        let plan = wrapper_trust_plan(&v(&["command", "ls", "-l"]));
        assert_eq!(plan.argv, v(&["ls", "-l"]));
        assert!(!plan.policy_blocked);
        let plan = wrapper_trust_plan(&v(&["command", "-p", "ls"]));
        assert!(plan.policy_blocked);
        let plan = wrapper_trust_plan(&v(&["busybox", "sh", "-c", "id"]));
        assert_eq!(plan.argv, v(&["sh", "-c", "id"]));
        assert_eq!(plan.policy_argv, v(&["busybox", "sh", "-c", "id"]));
        assert!(plan.shell_wrapper_executable);
        assert_eq!(plan.shell_inline_command.as_deref(), Some("id"));
        assert!(wrapper_trust_plan(&v(&["busybox", "rm", "-rf", "/"])).policy_blocked);
        let deep = wrapper_trust_plan(&v(&["nice", "nice", "nice", "nice", "nice", "ls"]));
        assert!(deep.policy_blocked);
    }

    #[test]
    fn shell_wrapper_detection() {
        assert!(is_shell_wrapper_invocation(&v(&["/bin/bash", "-c", "x"])));
        assert!(is_shell_wrapper_invocation(&v(&[
            "nice",
            "sh",
            "script.sh"
        ])));
        assert!(!is_shell_wrapper_invocation(&v(&["uname"])));
        assert_eq!(
            shell_wrapper_inline_command(&v(&["sh", "-xc", "id"])).as_deref(),
            Some("id")
        );
        assert_eq!(
            shell_wrapper_inline_command(&v(&["bash", "-o", "pipefail", "-c", "id"])).as_deref(),
            Some("id")
        );
        assert_eq!(shell_wrapper_inline_command(&v(&["sh", "script.sh"])), None);
        assert_eq!(
            shell_wrapper_inline_command(&v(&["tcsh", "-c", "id"])),
            None
        );
        assert_eq!(
            shell_wrapper_inline_command(&v(&["cmd.exe", "/d", "/s", "/c", "dir x"])).as_deref(),
            Some("dir x")
        );
        assert_eq!(
            shell_wrapper_inline_command(&v(&["pwsh", "-NoProfile", "-Command", "Get-Date", "-x"]))
                .as_deref(),
            Some("Get-Date -x")
        );
    }

    #[test]
    fn split_shell_args_matches_ts() {
        assert_eq!(
            split_shell_args("a 'b c' \"d\\\"e\" f\\ g"),
            Some(v(&["a", "b c", "d\"e", "f g"]))
        );
        assert_eq!(split_shell_args("a 'b"), None);
        assert_eq!(split_shell_args("a # comment"), Some(v(&["a"])));
        assert_eq!(split_shell_args("a \"\" b"), Some(v(&["a", "b"])));
    }
}
