//! What an approval is bound to, and the checks that it has not changed before launch: the
//! canonical cwd, the executables, and a mutable script operand (protocol §5.1 binding
//! messages, §5.2 `mutableFileOperand`).
//!
//! Ported from the TS host's `system-run-cwd-binding.ts` and `system-run-approval-binding.ts`.
//! Stricter where the TS host models more than this port: package-manager runners (`npm`,
//! `npx`, `pnpm`, `yarn`, `bunx`, `corepack`), `bun` and `deno` are "cannot safely bind"
//! (unsupported shape) instead of being unwrapped.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::argv::{
    has_dispatch_cwd_option, normalize_executable_token, posix_script_operand_index,
    split_inline_option, split_shell_args, unwrap_dispatch_wrapper, unwrap_shell_multiplexer,
    DispatchUnwrap,
};
use super::pattern::sha256_hex;
use super::resolve::{lexical_resolve, realpath, resolve_executable, ResolveContext};
use super::shells::{is_parseable_posix_shell, is_posix_shell};

pub const MSG_CWD_DRIFT: &str = "SYSTEM_RUN_DENIED: approval cwd changed before execution";
pub const MSG_CWD_MISSING: &str = "SYSTEM_RUN_DENIED: approval requires an existing canonical cwd";
pub const MSG_CWD_NOT_DIR: &str = "SYSTEM_RUN_DENIED: approval requires cwd to be a directory";
pub const MSG_CWD_SYMLINK: &str =
    "SYSTEM_RUN_DENIED: approval requires canonical cwd (no symlink path components)";
pub const MSG_CWD_IDENTITY: &str = "SYSTEM_RUN_DENIED: approval cwd identity mismatch";
pub const MSG_STABLE_EXECUTABLE: &str =
    "SYSTEM_RUN_DENIED: approval requires a stable executable path";
pub const MSG_RESOLVED_EXECUTABLE: &str =
    "SYSTEM_RUN_DENIED: approval requires a resolved executable";
pub const MSG_OPERAND_DRIFT: &str =
    "SYSTEM_RUN_DENIED: approval script operand changed before execution";
pub const MSG_OPERAND_MISSING_BINDING: &str =
    "SYSTEM_RUN_DENIED: approval missing script operand binding";
pub const MSG_UNSUPPORTED_SHAPE: &str =
    "SYSTEM_RUN_DENIED: approval cannot safely bind this interpreter/runtime command";

fn identity(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn is_mutable_by_current_process(path: &Path) -> bool {
    if rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok() {
        return true;
    }
    fs::metadata(path)
        .map(|m| m.uid() == rustix::process::getuid().as_raw())
        .unwrap_or(false)
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `hasMutableSymlinkPathComponentSync`: a symlink on the path whose directory this process could
/// re-point.
pub fn has_mutable_symlink_component(target: &Path) -> bool {
    let mut components = Vec::new();
    let mut cursor = lexical_resolve(Path::new("/"), &target.to_string_lossy());
    loop {
        components.push(cursor.clone());
        match cursor.parent() {
            Some(parent) if parent != cursor => cursor = parent.to_path_buf(),
            _ => break,
        }
    }
    for component in components.iter().rev() {
        match fs::symlink_metadata(component) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if is_mutable_by_current_process(&parent_of(component)) {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// `pathLooksMutableForShellPayloadSync`.
pub fn path_looks_mutable(target: &Path) -> bool {
    if is_mutable_by_current_process(target)
        || is_mutable_by_current_process(&parent_of(target))
        || has_mutable_symlink_component(target)
    {
        return true;
    }
    let Ok(real) = fs::canonicalize(target) else {
        return true;
    };
    is_mutable_by_current_process(&real)
        || is_mutable_by_current_process(&parent_of(&real))
        || has_mutable_symlink_component(&real)
}

/// The directory a run was approved for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwdSnapshot {
    pub cwd: String,
    identity: (u64, u64),
}

/// `captureApprovedCwdSnapshotSync`.
pub fn capture_cwd(cwd: &Path) -> Result<CwdSnapshot, &'static str> {
    let process_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let requested = lexical_resolve(&process_cwd, &cwd.to_string_lossy());
    let lstat = fs::symlink_metadata(&requested).map_err(|_| MSG_CWD_MISSING)?;
    let stat = fs::metadata(&requested).map_err(|_| MSG_CWD_MISSING)?;
    let real = fs::canonicalize(&requested).map_err(|_| MSG_CWD_MISSING)?;
    let real_stat = fs::metadata(&real).map_err(|_| MSG_CWD_MISSING)?;
    if !stat.is_dir() {
        return Err(MSG_CWD_NOT_DIR);
    }
    if has_mutable_symlink_component(&requested) || lstat.file_type().is_symlink() {
        return Err(MSG_CWD_SYMLINK);
    }
    if identity(&stat) != identity(&lstat) || identity(&stat) != identity(&real_stat) {
        return Err(MSG_CWD_IDENTITY);
    }
    let cwd = real.to_str().ok_or(MSG_CWD_MISSING)?.to_string();
    Ok(CwdSnapshot {
        cwd,
        identity: identity(&stat),
    })
}

/// `revalidateApprovedCwdSnapshot`: still the same directory object.
pub fn revalidate_cwd(snapshot: &CwdSnapshot) -> bool {
    capture_cwd(Path::new(&snapshot.cwd)).is_ok_and(|current| current.identity == snapshot.identity)
}

/// A script operand pinned by content (`mutableFileOperand`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOperand {
    pub argv_index: usize,
    pub path: String,
    pub sha256: String,
}

impl FileOperand {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"argvIndex": self.argv_index, "path": self.path, "sha256": self.sha256})
    }

    /// `normalizeSystemRunApprovalFileOperand`: `Err` for a malformed value.
    pub fn from_json(value: &serde_json::Value) -> Option<FileOperand> {
        let obj = value.as_object()?;
        let argv_index = obj.get("argvIndex").and_then(serde_json::Value::as_u64)? as usize;
        let path = obj
            .get("path")
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())?;
        let sha256 = obj
            .get("sha256")
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())?;
        Some(FileOperand {
            argv_index,
            path: path.to_string(),
            sha256: sha256.to_string(),
        })
    }
}

fn hash_file(path: &Path) -> Option<String> {
    fs::read(path).ok().map(|bytes| sha256_hex(&bytes))
}

/// `snapshotFileOperandAtPath`.
pub fn snapshot_file(argv_index: usize, path: &Path) -> Result<FileOperand, String> {
    let real = fs::canonicalize(path).map_err(|_| {
        "SYSTEM_RUN_DENIED: approval requires an existing script operand".to_string()
    })?;
    let meta = fs::metadata(&real).map_err(|_| {
        "SYSTEM_RUN_DENIED: approval requires an existing script operand".to_string()
    })?;
    if !meta.is_file() {
        return Err("SYSTEM_RUN_DENIED: approval requires a file script operand".to_string());
    }
    let sha256 = hash_file(&real).ok_or_else(|| {
        "SYSTEM_RUN_DENIED: approval requires a readable script operand".to_string()
    })?;
    let path = real
        .to_str()
        .ok_or_else(|| {
            "SYSTEM_RUN_DENIED: approval requires an existing script operand".to_string()
        })?
        .to_string();
    Ok(FileOperand {
        argv_index,
        path,
        sha256,
    })
}

/// `revalidateApprovedMutableFileOperand`.
pub fn revalidate_operand(snapshot: &FileOperand, argv: &[String], cwd: &Path) -> bool {
    let Some(operand) = argv
        .get(snapshot.argv_index)
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    else {
        return false;
    };
    let Ok(real) = fs::canonicalize(lexical_resolve(cwd, operand)) else {
        return false;
    };
    real.to_str() == Some(snapshot.path.as_str())
        && hash_file(&real).as_deref() == Some(snapshot.sha256.as_str())
}

/// Why an argv cannot be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    pub message: String,
    /// The "cannot safely bind this interpreter/runtime command" shape, which prepare reports with
    /// the long explanation.
    pub unsupported_shape: bool,
}

impl BindError {
    fn plain(message: &str) -> BindError {
        BindError {
            message: message.to_string(),
            unsupported_shape: false,
        }
    }
    fn shape() -> BindError {
        BindError {
            message: MSG_UNSUPPORTED_SHAPE.to_string(),
            unsupported_shape: true,
        }
    }
}

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
    !operand.is_empty() && fs::metadata(lexical_resolve(cwd, operand)).is_ok_and(|m| m.is_file())
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
fn mutable_operand_index(argv: &[String], cwd: &Path) -> Option<usize> {
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
        return path_looks_mutable(&lexical_resolve(cwd, raw))
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

fn is_known_binary_header(header: &[u8]) -> bool {
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

fn is_likely_script(path: &Path) -> bool {
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
    let resolved = lexical_resolve(cwd, first);
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
    snapshot_file(index, &lexical_resolve(cwd, operand))
        .map(Some)
        .map_err(|message| BindError {
            message,
            unsupported_shape: false,
        })
}

/// True when the node's own environment sets a shell startup file.
pub fn env_has_shell_startup() -> bool {
    ["BASH_ENV", "ENV"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
}

/// One executable a run depends on (a wrapper or the command itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundExecutable {
    pub raw: String,
    pub invocation_path: String,
    pub real_path: String,
    /// Set when this process could modify the file: its content is pinned too.
    pub sha256: Option<String>,
}

/// `prepareSystemRunExecutableIdentityBinding`: the files behind every wrapper and segment.
pub fn bind_executables(
    segments: &[super::resolve::Segment],
    ctx: &ResolveContext,
    shell_command: bool,
) -> Result<Vec<BoundExecutable>, &'static str> {
    let mut bound = Vec::new();
    for segment in segments {
        let mut raws: Vec<String> = Vec::new();
        if let Some(resolution) = &segment.resolution {
            let mut shell_position = shell_command;
            for (wrapper, source_argv) in &resolution.plan.wrapper_invocations {
                if shell_position && ["builtin", "command", "exec"].contains(&wrapper.as_str()) {
                    if wrapper == "exec" {
                        shell_position = false;
                    }
                    continue;
                }
                shell_position = false;
                let raw = source_argv
                    .first()
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default();
                let resolved = resolve_executable(&raw, ctx);
                if resolved.resolved_path.is_none() {
                    return Err(MSG_RESOLVED_EXECUTABLE);
                }
                raws.push(raw);
            }
            if resolution.execution.resolved_path.is_some() {
                raws.push(resolution.execution.raw_executable.clone());
            }
        }
        for raw in raws {
            let resolved = resolve_executable(&raw, ctx);
            let Some(path) = resolved.resolved_path.clone() else {
                continue;
            };
            let Some(real) = realpath(Path::new(&path)) else {
                return Err(MSG_OPERAND_DRIFT);
            };
            let invocation_path = lexical_resolve(&ctx.cwd, &path)
                .to_string_lossy()
                .into_owned();
            let sha256 = if path_looks_mutable(Path::new(&path)) {
                Some(hash_file(Path::new(&real)).ok_or(MSG_OPERAND_DRIFT)?)
            } else {
                None
            };
            bound.push(BoundExecutable {
                raw,
                invocation_path,
                real_path: real,
                sha256,
            });
        }
    }
    Ok(bound)
}

/// `revalidateSystemRunMutableFileBinding` for executables: each still resolves to the same file
/// with the same content.
pub fn revalidate_executables(bound: &[BoundExecutable], ctx: &ResolveContext) -> bool {
    bound.iter().all(|item| {
        let resolved = resolve_executable(&item.raw, ctx);
        let Some(path) = resolved.resolved_path else {
            return false;
        };
        let Some(real) = realpath(Path::new(&path)) else {
            return false;
        };
        real == item.real_path
            && lexical_resolve(&ctx.cwd, &path).to_string_lossy() == item.invocation_path
            && item.sha256.as_ref().map_or(true, |sha| {
                hash_file(Path::new(&real)).as_ref() == Some(sha)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("oc-binding-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::canonicalize(&dir).unwrap()
    }

    #[test]
    fn cwd_snapshots() {
        let dir = temp_dir("cwd");
        let snapshot = capture_cwd(&dir).unwrap();
        assert_eq!(snapshot.cwd, dir.to_string_lossy());
        assert!(revalidate_cwd(&snapshot));
        assert_eq!(
            capture_cwd(&dir.join("missing")).unwrap_err(),
            MSG_CWD_MISSING
        );
        fs::write(dir.join("file"), "x").unwrap();
        assert_eq!(capture_cwd(&dir.join("file")).unwrap_err(), MSG_CWD_NOT_DIR);
        std::os::unix::fs::symlink(&dir, dir.join("link")).unwrap();
        assert_eq!(capture_cwd(&dir.join("link")).unwrap_err(), MSG_CWD_SYMLINK);
        // Replacing the directory breaks the snapshot.
        let sub = dir.join("sub");
        fs::create_dir(&sub).unwrap();
        let snap = capture_cwd(&sub).unwrap();
        fs::remove_dir(&sub).unwrap();
        fs::create_dir(&sub).unwrap();
        let _ = revalidate_cwd(&snap); // inode reuse is possible; only check it does not panic
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn split_string_env_operand_is_refused_not_an_overflow() {
        let dir = temp_dir("split-env");
        let script = dir.join("s.py");
        fs::write(&script, "print(1)\n").unwrap();
        let script_s = script.to_string_lossy().into_owned();
        // `env -S` split one word into three: the unwrapped argv is longer than the original
        // (the fuzzer's input panicked on `base_index` underflowing).
        for argv in [
            v(&["env", &format!("-Spython3 {script_s} x")]),
            v(&["\tenv", "-sxeh.eeru-----END PUBLIC KEY-----"]),
        ] {
            let _ = mutable_operand_index(&argv, &dir);
        }
        // The script is inside the split word: no argv word can be pinned.
        assert_eq!(
            mutable_operand_target(
                &v(&["env", &format!("-Spython3 {script_s} x")]),
                None,
                &dir,
                false
            )
            .unwrap_err()
            .message,
            "SYSTEM_RUN_DENIED: approval requires a stable script operand"
        );
        // The script is a word of its own after the split string: it is pinned.
        assert_eq!(
            mutable_operand_target(
                &v(&["env", "-S", "python3 -u", &script_s]),
                None,
                &dir,
                false
            )
            .unwrap(),
            Some(3)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn operand_targets_from_the_spec_table() {
        let dir = temp_dir("operands");
        let script = dir.join("s.sh");
        fs::write(&script, "echo hi\n").unwrap();
        let script_s = script.to_string_lossy().into_owned();
        assert_eq!(
            mutable_operand_target(&v(&["/usr/bin/dash", &script_s]), None, &dir, false).unwrap(),
            Some(1)
        );
        assert_eq!(
            mutable_operand_target(&v(&["/usr/bin/env", "FOO=1", "uname"]), None, &dir, false)
                .unwrap(),
            None
        );
        assert_eq!(
            mutable_operand_target(
                &v(&["/bin/sh", "-lc", "uname -s"]),
                Some("uname -s"),
                &dir,
                false
            )
            .unwrap(),
            None
        );
        for shape in [
            (v(&["python3", "-c", "print(1)"]), None),
            (
                v(&["/bin/sh", "-lc", "uname -s | cat"]),
                Some("uname -s | cat"),
            ),
            (
                v(&["/bin/sh", "-lc", "cd /tmp && ls"]),
                Some("cd /tmp && ls"),
            ),
            (
                v(&["sh", "-c", "echo hi && uname"]),
                Some("echo hi && uname"),
            ),
            (v(&["npx", "cowsay"]), None),
            (v(&["busybox", "sh", "-c", "id"]), Some("id")),
        ] {
            let err = mutable_operand_target(&shape.0, shape.1, &dir, false).unwrap_err();
            assert!(err.unsupported_shape, "{:?}", shape.0);
        }
        assert_eq!(
            mutable_operand_target(&v(&["env", "-C", "/tmp", "ls"]), None, &dir, false)
                .unwrap_err()
                .message,
            "SYSTEM_RUN_DENIED: approval cannot safely bind dispatch cwd options"
        );
        assert_eq!(
            mutable_operand_target(
                &v(&["bash", "--rcfile", "x", "-c", "id"]),
                Some("id"),
                &dir,
                false
            )
            .unwrap_err()
            .message,
            "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup files"
        );
        assert_eq!(
            mutable_operand_target(&v(&["sh", "-c", "id"]), Some("id"), &dir, true)
                .unwrap_err()
                .message,
            "SYSTEM_RUN_DENIED: approval cannot safely bind shell startup environment"
        );
        assert_eq!(
            mutable_operand_target(&v(&["python3", &script_s]), None, &dir, false).unwrap(),
            Some(1)
        );
        let snapshot = mutable_operand_snapshot(&v(&["python3", &script_s]), None, &dir, false)
            .unwrap()
            .unwrap();
        assert_eq!(snapshot.sha256, sha256_hex(b"echo hi\n"));
        assert!(revalidate_operand(
            &snapshot,
            &v(&["python3", &script_s]),
            &dir
        ));
        fs::write(&script, "rm -rf /\n").unwrap();
        assert!(!revalidate_operand(
            &snapshot,
            &v(&["python3", &script_s]),
            &dir
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn binary_headers() {
        assert!(is_known_binary_header(b"\x7fELF\x02\x01\x01"));
        assert!(!is_known_binary_header(b"#!/bin/sh\n"));
        assert!(is_likely_script(Path::new("/nonexistent")));
        assert!(is_interpreter_like("python3.12"));
        assert!(is_interpreter_like("node22"));
        assert!(!is_interpreter_like("uname"));
    }
}
