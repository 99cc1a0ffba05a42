//! Shell wrappers (`sh -c PAYLOAD`, `cmd /c`, `pwsh -Command`, `nu -c`): whether an argv runs a
//! shell, where its payload or script operand is, and whether startup behaviour (login,
//! interactive, rc files, profiles) means the payload alone is not what runs.
//!
//! Ported from the TS host's `shell-wrapper-resolution.ts` (openclaw 2026.9.6). Which names are
//! shells, and of which kind, is [`crate::approvals::shells`]'s one table.

use super::super::shells::{
    has_opaque_startup_files, is_posix_shell, shell_kind, takes_plus_options, ShellKind,
};
use super::tokens::{
    format_exec_command, js_trim, normalize_executable_token, split_inline_option,
};
use super::unwrap::unwrap_shell_multiplexer;
use super::unwrap_dispatch_wrappers;
use super::wrappers::{env_uses_modifiers, unwrap_dispatch_wrapper, DispatchUnwrap};

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

/// True when `token` names a shell the TS host treats as a wrapper (POSIX, cmd, PowerShell).
pub fn is_shell_wrapper_executable(token: &str) -> bool {
    shell_kind(&normalize_executable_token(token)).is_some()
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

/// A payload with the blanks around it removed that the shell itself skips (space, tab,
/// newline), and no others: a `\v` or NBSP that `trim()` would remove is part of the first
/// word for bash and dash, and the analysis must see it (and refuse it).
fn trim_shell_blanks(payload: &str) -> &str {
    payload.trim_matches([' ', '\t', '\n'])
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
                .map(|a| trim_shell_blanks(a).to_string())
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
                    .map(|a| trim_shell_blanks(a).to_string())
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
            if has_opaque_startup_files(base) {
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

/// A `rawCommand` trimmed as JavaScript trims; `None` when blank.
pub(crate) fn normalize_raw(raw: Option<&str>) -> Option<String> {
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
        if has_opaque_startup_files(&base) {
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
    let powershell = shell_kind(&wrapper) == Some(ShellKind::PowerShell);
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

// ---------------------------------------------------------------------------------------------
// Script operands (`sh ./x.sh`)
//
// Two scanners look for the script a POSIX shell runs, and they differ on purpose: they are
// ports of two different TS functions with different contracts, and merging them would change
// verdicts.
// * [`posix_script_operand_index`] (binding, `resolveMutableFileOperandIndex`) finds the argv
//   word to pin by content. It keeps scanning after `--` (skipping blank words), refuses `-`,
//   skips the values of `--rcfile`/`--init-file`/`--startup-script`/`-o`/`+o`, and does not
//   refuse `-i` or `-c` clusters (the binding refuses those shapes by its own checks first).
// * [`posix_script_operand`] (matching and allow-always patterns) takes the word right after
//   `--`, skips a lone `-` as an option, and gives up on short-option clusters with the letters
//   its caller names. The allowlist matcher (`resolveShellWrapperScriptCandidatePath`) and the
//   allow-always pattern builder used to carry one hand-written copy each; they differ only in
//   the [`ScriptOperandScan`] they pass.

/// What makes [`posix_script_operand`] answer "no script operand".
#[derive(Debug, Clone, Copy)]
pub struct ScriptOperandScan {
    /// Letters that, anywhere in a short-option cluster (`-xs`, `+c`), mean the shell does not
    /// run a script operand: `s` (stdin), `c` (a payload), `i` (interactive).
    pub refuse_letters: &'static [char],
    /// `--rcfile`, `--init-file` or `--startup-file` (alone or `=value`) also mean "none".
    pub refuse_startup_files: bool,
}

/// The script word (trimmed, non-empty) a POSIX shell argv runs after its options, or `None`
/// for `-s`, a refused option (see [`ScriptOperandScan`]), or no word after the options.
/// `argv[0]` is the shell; the caller decides which shells qualify.
pub fn posix_script_operand<'a>(argv: &'a [String], scan: &ScriptOperandScan) -> Option<&'a str> {
    let mut idx = 1;
    while idx < argv.len() {
        let token = argv[idx].trim();
        if token.is_empty() {
            idx += 1;
            continue;
        }
        if token == "--" {
            idx += 1;
            break;
        }
        if token.starts_with('-') || token.starts_with('+') {
            // `-` and `+` are one byte: the slice is on a char boundary.
            let letters = &token[1..];
            if token == "-s"
                || (!token.starts_with("--")
                    && scan.refuse_letters.iter().any(|c| letters.contains(*c)))
            {
                return None;
            }
            if scan.refuse_startup_files
                && ["--rcfile", "--init-file", "--startup-file"]
                    .iter()
                    .any(|o| token == *o || token.starts_with(&format!("{o}=")))
            {
                return None;
            }
            idx += advance_posix_option_scan(token);
            continue;
        }
        break;
    }
    // Untrimmed: the shell opens the word as given (` s.sh` is not `s.sh`).
    let script = argv.get(idx)?.as_str();
    (!script.trim().is_empty()).then_some(script)
}

/// The index of the script operand a POSIX shell argv runs, for pinning it by content; `None`
/// for a `-c` payload, stdin (`-`, `-s`) or no operand. `executable` is the normalised shell.
pub fn posix_script_operand_index(argv: &[String], executable: &str) -> Option<usize> {
    if posix_inline_match(argv).value_token_index.is_some() {
        return None;
    }
    let plus = takes_plus_options(executable);
    let mut after_dd = false;
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        if token == "-" || (!after_dd && token == "-s") {
            return None;
        }
        if !after_dd && token == "--" {
            after_dd = true;
            i += 1;
            continue;
        }
        if !after_dd && (token.starts_with('-') || (plus && token.starts_with('+'))) {
            let (flag, _) = split_inline_option(token);
            let flag = flag.to_lowercase();
            if ["--init-file", "--rcfile", "--startup-script", "-o", "+o"].contains(&flag.as_str())
            {
                i += if token.contains('=') { 1 } else { 2 };
                continue;
            }
            i += advance_posix_option_scan(token);
            continue;
        }
        return Some(i);
    }
    None
}

#[cfg(test)]
mod tests;
