//! Which argv word an approval must pin by content (`mutableFileOperand`), and the shapes that
//! cannot be bound at all: `resolveMutableFileOperandIndex` and
//! `requiresStableInterpreterApprovalBindingWithShellCommand` in the TS host.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::super::argv::{
    has_dispatch_cwd_option, normalize_executable_token, posix_script_operand_index,
    split_inline_option, split_shell_args, unwrap_dispatch_wrapper, unwrap_shell_multiplexer,
    DispatchUnwrap,
};
use super::super::resolve::physical_resolve;
use super::super::shells::{is_parseable_posix_shell, is_posix_shell};
use super::{path_looks_mutable, snapshot_file, BindError, FileOperand};

struct Unwrapped {
    argv: Vec<String>,
    /// Words dropped by the wrappers (`baseIndex`). Negative when `env -S` split one word into
    /// more words than the wrapper took.
    base_index: isize,
    opaque_multiplexer: bool,
}

impl Unwrapped {
    /// The index in the original `argv` of word `i` of the unwrapped argv: `baseIndex + i` as in
    /// the TS client, but only when that word is the same text. After `env -S` the words need
    /// not line up, and then the operand has no argv word of its own: the result is
    /// `argv.len()` (no word), which `mutable_operand_target` refuses as unstable.
    fn outer_index(&self, argv: &[String], i: usize) -> usize {
        let index = isize::try_from(i)
            .ok()
            .and_then(|i| self.base_index.checked_add(i))
            .and_then(|index| usize::try_from(index).ok());
        match (index, self.argv.get(i)) {
            (Some(index), Some(word)) if argv.get(index) == Some(word) => index,
            _ => argv.len(),
        }
    }
}

/// `unwrapArgvForMutableOperand` (without package-manager unwrapping).
fn unwrap_for_operand(argv: &[String]) -> Unwrapped {
    // Word counts fit in isize: a Vec never holds more than isize::MAX elements.
    let dropped = |outer: &[String], inner: &[String]| outer.len() as isize - inner.len() as isize;
    let mut current = argv.to_vec();
    let mut base_index: isize = 0;
    let mut opaque = false;
    for _ in 0..16 {
        if let DispatchUnwrap::Unwrapped { argv: inner, .. } = unwrap_dispatch_wrapper(&current) {
            base_index = base_index.saturating_add(dropped(&current, &inner));
            current = inner;
            continue;
        }
        if let DispatchUnwrap::Unwrapped { argv: inner, .. } = unwrap_shell_multiplexer(&current) {
            opaque = true;
            base_index = base_index.saturating_add(dropped(&current, &inner));
            current = inner;
            continue;
        }
        break;
    }
    Unwrapped {
        argv: current,
        base_index,
        opaque_multiplexer: opaque,
    }
}

const GENERIC_SCRIPT_RUNNERS: &[&str] =
    &["esno", "jiti", "ts-node", "ts-node-esm", "tsx", "vite-node"];
const INTERPRETER_LIKE: &[&str] = &[
    "ash",
    "awk",
    "bash",
    "busybox",
    "bun",
    "cmd",
    "cmd.exe",
    "cscript",
    "dash",
    "deno",
    "fish",
    "gawk",
    "gsed",
    "ksh",
    "lua",
    "mawk",
    "nawk",
    "node",
    "nodejs",
    "perl",
    "php",
    "powershell",
    "powershell.exe",
    "pypy",
    "pwsh",
    "pwsh.exe",
    "python",
    "python2",
    "python3",
    "ruby",
    "sed",
    "sh",
    "toybox",
    "wscript",
    "zsh",
];
const PACKAGE_MANAGERS: &[&str] = &[
    "npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg", "bunx", "corepack",
];

fn is_versioned(name: &str, base: &str) -> bool {
    // /^<base>\d+(?:\.\d+)?$/
    name.strip_prefix(base).is_some_and(|rest| {
        let mut parts = rest.splitn(2, '.');
        let major = parts.next().unwrap_or("");
        let minor = parts.next();
        !major.is_empty()
            && major.chars().all(|c| c.is_ascii_digit())
            && minor.map_or(true, |m| {
                !m.is_empty() && m.chars().all(|c| c.is_ascii_digit())
            })
    })
}

/// `isInterpreterLikeSafeBin`.
pub fn is_interpreter_like(name: &str) -> bool {
    INTERPRETER_LIKE.contains(&name)
        || ["python", "ruby", "perl", "php", "node"]
            .iter()
            .any(|b| is_versioned(name, b))
}

fn is_mutable_script_runner(name: &str) -> bool {
    GENERIC_SCRIPT_RUNNERS.contains(&name)
        || name == "busybox"
        || name == "toybox"
        || is_interpreter_like(name)
}

fn is_argv1_interpreter(name: &str) -> bool {
    // /^(?:node|nodejs)$/, /^perl$/, /^php$/, /^python(?:\d+(?:\.\d+)*)?$/, /^ruby$/
    if ["node", "nodejs", "perl", "php", "ruby", "python"].contains(&name) {
        return true;
    }
    name.strip_prefix("python").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
    })
}

fn looks_like_explicit_path(token: &str) -> bool {
    token.starts_with('.')
        || token.starts_with('/')
        || token.starts_with('\\')
        || token.contains('/')
        || token.contains('\\')
}

fn resolves_to_existing_file(operand: &str, cwd: &Path) -> bool {
    !operand.is_empty() && fs::metadata(physical_resolve(cwd, operand)).is_ok_and(|m| m.is_file())
}

fn has_shell_code_loading_option(argv: &[String], executable: &str) -> bool {
    if !is_posix_shell(executable) {
        return false;
    }
    for token in argv.iter().skip(1) {
        if token == "--" {
            return false;
        }
        let (flag, _) = split_inline_option(token);
        if ["--init-file", "--rcfile", "--startup-script"].contains(&flag.to_lowercase().as_str()) {
            return true;
        }
        if token == "-s" || token == "--stdin" || token == "--interactive" {
            return true;
        }
        if token.starts_with('-')
            && !token.starts_with("--")
            && token[1..].contains('i')
            && !token.contains('=')
        {
            return true;
        }
    }
    false
}

fn has_shell_startup_environment(argv: &[String], executable: &str, env_has_startup: bool) -> bool {
    if !is_posix_shell(executable) {
        return false;
    }
    env_has_startup
        || argv.iter().any(|t| {
            let t = t.trim();
            t.starts_with("BASH_ENV=") || t.starts_with("ENV=")
        })
}

fn has_php_unbindable_option(argv: &[String]) -> bool {
    argv.iter().skip(1).any(|token| {
        let n = token.trim().to_lowercase();
        n == "-c"
            || n.starts_with("-c=")
            || n == "--php-ini"
            || n.starts_with("--php-ini=")
            || n.starts_with("-d")
    })
}

fn has_unsafe_flag(argv: &[String], exact: &[&str], prefixes: &[&str]) -> bool {
    for token in argv.iter().skip(1) {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        if token == "--" {
            return false;
        }
        if exact.contains(&token) || prefixes.iter().any(|p| token.starts_with(p)) {
            return true;
        }
    }
    false
}

fn ruby_unsafe(argv: &[String]) -> bool {
    has_unsafe_flag(
        argv,
        &["-C", "-I", "-r", "-S", "--chdir"],
        &["-C", "-I", "-r", "--chdir=", "--require="],
    )
}

fn perl_unsafe(argv: &[String]) -> bool {
    has_unsafe_flag(argv, &["-I", "-M", "-m", "-S"], &["-I", "-M", "-m"])
}

const NODE_FILE_OPTIONS: &[&str] = &[
    "--env-file",
    "--env-file-if-exists",
    "-r",
    "--experimental-loader",
    "--import",
    "--loader",
    "--require",
];

fn generic_interpreter_operand(argv: &[String], cwd: &Path, node_like: bool) -> Option<usize> {
    let mut after_dd = false;
    let mut hits = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let token = argv[i].trim();
        if token.is_empty() {
            i += 1;
            continue;
        }
        if after_dd {
            if resolves_to_existing_file(token, cwd) {
                hits.push(i);
            }
            i += 1;
            continue;
        }
        if token == "--" {
            after_dd = true;
            i += 1;
            continue;
        }
        if token == "-" {
            return None;
        }
        if token.starts_with('-') {
            let (flag, inline) = split_inline_option(token);
            if node_like && NODE_FILE_OPTIONS.contains(&flag.to_lowercase().as_str()) {
                // A file loaded through an option: more than one operand to bind.
                if inline.is_some_and(|v| resolves_to_existing_file(v, cwd))
                    || (inline.is_none()
                        && argv
                            .get(i + 1)
                            .is_some_and(|n| resolves_to_existing_file(n.trim(), cwd)))
                {
                    return None;
                }
            }
            i += 1;
            continue;
        }
        if resolves_to_existing_file(token, cwd) {
            hits.push(i);
        }
        i += 1;
    }
    (hits.len() == 1).then(|| hits[0])
}

/// `resolveMutableFileOperandIndex`.
pub(super) fn mutable_operand_index(argv: &[String], cwd: &Path) -> Option<usize> {
    let unwrapped = unwrap_for_operand(argv);
    let executable = normalize_executable_token(unwrapped.argv.first()?);
    if executable.is_empty()
        || unwrapped.opaque_multiplexer
        || executable == "busybox"
        || executable == "toybox"
    {
        return None;
    }
    if is_posix_shell(&executable) {
        if !is_parseable_posix_shell(&executable) {
            return None;
        }
        return posix_script_operand_index(&unwrapped.argv, &executable)
            .map(|i| unwrapped.outer_index(argv, i));
    }
    if is_argv1_interpreter(&executable) {
        let operand = unwrapped.argv.get(1).map(|a| a.trim()).unwrap_or("");
        if !operand.is_empty() && operand != "-" && !operand.starts_with('-') {
            return Some(unwrapped.outer_index(argv, 1));
        }
    }
    if executable == "ruby" && ruby_unsafe(&unwrapped.argv)
        || executable == "perl" && perl_unsafe(&unwrapped.argv)
    {
        return None;
    }
    if !is_mutable_script_runner(&executable) {
        // A direct script executable (`./deploy.sh`) that this process could change.
        let raw = unwrapped.argv.first()?.trim();
        if PACKAGE_MANAGERS.contains(&executable.as_str())
            || !looks_like_explicit_path(raw)
            || !resolves_to_existing_file(raw, cwd)
        {
            return None;
        }
        return path_looks_mutable(&physical_resolve(cwd, raw))
            .then(|| unwrapped.outer_index(argv, 0));
    }
    if executable == "bun" || executable == "deno" {
        return None;
    }
    generic_interpreter_operand(
        &unwrapped.argv,
        cwd,
        executable == "node" || executable == "nodejs",
    )
    .map(|i| unwrapped.outer_index(argv, i))
}

pub(super) fn is_known_binary_header(header: &[u8]) -> bool {
    const MAGICS: [u32; 9] = [
        0x7F454C46, 0xFEEDFACE, 0xCEFAEDFE, 0xFEEDFACF, 0xCFFAEDFE, 0xCAFEBABE, 0xBEBAFECA,
        0xCAFEBABF, 0xBFBAFECA,
    ];
    if header.len() >= 4
        && MAGICS.contains(&u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]))
    {
        return true;
    }
    if header.len() < 64 || &header[0..2] != b"MZ" {
        return false;
    }
    let pe = u32::from_le_bytes([header[60], header[61], header[62], header[63]]) as usize;
    pe + 4 <= header.len() && &header[pe..pe + 4] == b"PE\0\0"
}

pub(super) fn is_likely_script(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return true;
    };
    if !meta.is_file() {
        return true;
    }
    let mut header = Vec::with_capacity(1024);
    match fs::File::open(path).and_then(|f| f.take(1024).read_to_end(&mut header)) {
        Ok(_) => {}
        Err(_) => return true,
    }
    header.is_empty() || header.starts_with(b"#!") || !is_known_binary_header(&header)
}

fn shell_payload_needs_stable_binding(payload: &str, cwd: &Path, env_has_startup: bool) -> bool {
    if payload.contains([';', '&', '|', '<', '>']) {
        return true;
    }
    let Some(argv) = split_shell_args(payload) else {
        return false;
    };
    if argv.is_empty() {
        return false;
    }
    if mutable_operand_index(&argv, cwd).is_some()
        || requires_stable_binding(&argv, None, cwd, env_has_startup)
    {
        return true;
    }
    let first = argv[0].trim();
    if first == "." || first == "source" {
        return true;
    }
    if !resolves_to_existing_file(first, cwd) {
        return false;
    }
    if !first.starts_with('/') {
        return true;
    }
    let resolved = physical_resolve(cwd, first);
    path_looks_mutable(&resolved) || is_likely_script(&resolved)
}

/// `requiresStableInterpreterApprovalBindingWithShellCommand`.
fn requires_stable_binding(
    argv: &[String],
    shell_command: Option<&str>,
    cwd: &Path,
    env_has_startup: bool,
) -> bool {
    let unwrapped = unwrap_for_operand(argv);
    if unwrapped.opaque_multiplexer {
        return true;
    }
    if let Some(payload) = shell_command {
        return shell_payload_needs_stable_binding(payload, cwd, env_has_startup);
    }
    let Some(first) = unwrapped.argv.first() else {
        return false;
    };
    let executable = normalize_executable_token(first);
    if PACKAGE_MANAGERS.contains(&executable.as_str()) {
        return true;
    }
    let direct = first.trim();
    if looks_like_explicit_path(direct) && !resolves_to_existing_file(direct, cwd) {
        return true;
    }
    !executable.is_empty() && !is_posix_shell(&executable) && is_mutable_script_runner(&executable)
}

/// `resolveSystemRunMutableFileOperandTarget`: which argv index (if any) must be pinned by
/// content. `env_has_startup` is whether the node's own environment sets `BASH_ENV`/`ENV`.
pub fn mutable_operand_target(
    argv: &[String],
    shell_command: Option<&str>,
    cwd: &Path,
    env_has_startup: bool,
) -> Result<Option<usize>, BindError> {
    if has_dispatch_cwd_option(argv) {
        return Err(BindError::plain(
            "SYSTEM_RUN_DENIED: approval cannot safely bind dispatch cwd options",
        ));
    }
    let unwrapped = unwrap_for_operand(argv);
    let executable = unwrapped
        .argv
        .first()
        .map(|t| normalize_executable_token(t))
        .unwrap_or_default();
    if has_shell_code_loading_option(&unwrapped.argv, &executable) {
        return Err(BindError::plain(
            "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup files",
        ));
    }
    if has_shell_startup_environment(argv, &executable, env_has_startup) {
        return Err(BindError::plain(
            "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup environment",
        ));
    }
    if executable == "php" && has_php_unbindable_option(&unwrapped.argv) {
        return Err(BindError::plain(
            "SYSTEM_RUN_DENIED: approval cannot safely bind runtime code-loading or cwd options",
        ));
    }
    match mutable_operand_index(argv, cwd) {
        None => {
            if requires_stable_binding(argv, shell_command, cwd, env_has_startup) {
                Err(BindError::shape())
            } else {
                Ok(None)
            }
        }
        Some(index) if argv.get(index).map_or(true, |a| a.trim().is_empty()) => Err(
            BindError::plain("SYSTEM_RUN_DENIED: approval requires a stable script operand"),
        ),
        Some(index) => Ok(Some(index)),
    }
}

/// `resolveMutableFileOperandSnapshotSync`.
pub fn mutable_operand_snapshot(
    argv: &[String],
    shell_command: Option<&str>,
    cwd: &Path,
    env_has_startup: bool,
) -> Result<Option<FileOperand>, BindError> {
    let Some(index) = mutable_operand_target(argv, shell_command, cwd, env_has_startup)? else {
        return Ok(None);
    };
    let operand = argv[index].trim();
    snapshot_file(index, &physical_resolve(cwd, operand))
        .map(Some)
        .map_err(|message| BindError {
            message,
            unsupported_shape: false,
        })
}
