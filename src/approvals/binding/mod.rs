//! What an approval is bound to, and the checks that it has not changed before launch: the
//! canonical cwd, the executables, and a mutable script operand (protocol §5.1 binding
//! messages, §5.2 `mutableFileOperand`).
//!
//! Ported from the TS host's `system-run-cwd-binding.ts` and `system-run-approval-binding.ts`.
//! Stricter where the TS host models more than this port: package-manager runners (`npm`,
//! `npx`, `pnpm`, `yarn`, `bunx`, `corepack`), `bun` and `deno` are "cannot safely bind"
//! (unsupported shape) instead of being unwrapped.
//!
//! [`bind`] is the last stage of a `system.run`'s analysis (after [`super::decision::decide`]):
//! it binds the executables, reports the decision's carried verdict, then binds the cwd and
//! pins `argv[0]`, and yields the [`BoundPlan`] the execute phase runs and re-checks.

use std::fs;
use std::path::{Path, PathBuf};

use super::command::CommandRequest;
use super::decision::{Decision, Denial, DenyReason, MSG_PLAN_MISS};
use crate::digest::sha256_hex;
use super::policy::Security;
use super::resolve::{
    is_unreviewable_windows_wrapper, physical_resolve, realpath, resolve_command,
    resolve_executable, ResolveContext, ResolvedSegments,
};

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

fn is_mutable_by_current_process(path: &Path) -> bool {
    crate::platform::files::writable_by_me(path)
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
    let mut cursor = physical_resolve(Path::new("/"), &target.to_string_lossy());
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
    let requested = physical_resolve(&process_cwd, &cwd.to_string_lossy());
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
    let identity = crate::platform::files::file_identity;
    let this = identity(&requested, &stat).ok_or(MSG_CWD_IDENTITY)?;
    if Some(this) != identity(&requested, &lstat) || Some(this) != identity(&real, &real_stat) {
        return Err(MSG_CWD_IDENTITY);
    }
    let cwd = real.to_str().ok_or(MSG_CWD_MISSING)?.to_string();
    Ok(CwdSnapshot {
        cwd,
        identity: this,
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

pub(super) fn hash_file(path: &Path) -> Option<String> {
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
    let Ok(real) = fs::canonicalize(physical_resolve(cwd, operand)) else {
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
    pub(super) fn plain(message: &str) -> BindError {
        BindError {
            message: message.to_string(),
            unsupported_shape: false,
        }
    }
    pub(super) fn shape() -> BindError {
        BindError {
            message: MSG_UNSUPPORTED_SHAPE.to_string(),
            unsupported_shape: true,
        }
    }
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
            let invocation_path = physical_resolve(&ctx.cwd, &path)
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
            && physical_resolve(&ctx.cwd, &path).to_string_lossy() == item.invocation_path
            && item.sha256.as_ref().map_or(true, |sha| {
                hash_file(Path::new(&real)).as_ref() == Some(sha)
            })
    })
}

/// The bind stage's value: what an authorised run executes, where, and the bindings the execute
/// phase re-checks before launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPlan {
    /// The request's argv; `argv[0]` pinned to the resolved file for an approved direct argv.
    pub argv: Vec<String>,
    /// The canonical cwd when it was bound, else the cwd as requested.
    pub cwd: Option<String>,
    pub cwd_snapshot: Option<CwdSnapshot>,
    pub executables: Vec<BoundExecutable>,
    /// Allowlist mode, one satisfied direct segment (or, under Windows rules, shell payload), no
    /// approval: the argv as analysed, `argv[0]` pinned to its real path ([`planned_argv`]).
    pub planned_argv: Option<Vec<String>>,
}

/// The bind stage: binds a decided run to its executables, cwd and `argv[0]`. The denials come in
/// this order, which decides the message a user sees: an executable that cannot be bound, then
/// the decision's denied verdict, then a cwd that cannot be bound, an executable that cannot be
/// pinned, and an allowlist run without a plan. `cwd` is the cwd as requested.
pub fn bind(
    decision: &Decision,
    request: &CommandRequest,
    resolved: &ResolvedSegments,
    cwd: Option<&str>,
    path_env: &str,
) -> Result<BoundPlan, Denial> {
    let security = decision.security;
    let bound = decision.approval.bound();
    let shell_command = request.shell_payload.is_some();
    let platform = resolved.platform;
    let unbindable = |message: &str| Denial::new(DenyReason::ApprovalRequired, message);

    let mut executables = Vec::new();
    if security != Security::Deny && (bound || security == Security::Allowlist) {
        if let Some(refusal) = unbindable_wrapper(decision, request, resolved) {
            return Err(refusal);
        }
        let ctx = ResolveContext::new(cwd, path_env).on(platform);
        executables =
            bind_executables(&resolved.segments, &ctx, shell_command).map_err(unbindable)?;
    }
    decision.verdict.clone()?;

    let mut argv = request.argv.clone();
    let mut cwd = cwd.map(str::to_string);
    let mut cwd_snapshot = None;
    if bound || security == Security::Allowlist {
        let base = cwd.clone().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let snapshot = capture_cwd(Path::new(&base)).map_err(unbindable)?;
        cwd = Some(snapshot.cwd.clone());
        cwd_snapshot = Some(snapshot);
    }
    if bound && !shell_command {
        // Resolved again, not taken from the resolve stage: that stage resolved argv[0] against
        // the cwd as requested, folding `..` lexically, before the cwd was canonicalised. The
        // run happens in the canonical cwd, and behind a symlink the cwd check accepts (one this
        // process cannot re-point, like a merged-/usr `/lib`) a relative word such as
        // `../../bin/tool` names another file there. The pin must be the file the command runs
        // from the directory it runs in: the one the cwd snapshot holds and the execute phase
        // re-checks the executables against.
        let canonical_ctx = ResolveContext::new(cwd.as_deref(), path_env).on(platform);
        let resolution = resolve_command(&argv, &canonical_ctx);
        if resolution
            .as_ref()
            .map_or(true, |r| r.plan.wrapper_chain.is_empty())
        {
            let pinned = resolution
                .and_then(|r| r.execution.resolved_real_path.or(r.execution.resolved_path));
            match (pinned, argv.first_mut()) {
                (Some(path), Some(first)) => *first = path,
                _ => return Err(unbindable(MSG_STABLE_EXECUTABLE)),
            }
        }
    }
    let planned_argv = planned_argv(decision, request, resolved)?;
    Ok(BoundPlan {
        argv,
        cwd,
        cwd_snapshot,
        executables,
        planned_argv,
    })
}

/// Windows rules: an approval of a wrapper whose startup cannot be reviewed
/// (`-EncodedCommand`, `-File`, profiles, cmd AutoRun; see
/// [`is_unreviewable_windows_wrapper`]) cannot be bound to what runs, and is refused.
pub fn unbindable_wrapper(
    decision: &Decision,
    request: &CommandRequest,
    resolved: &ResolvedSegments,
) -> Option<Denial> {
    (resolved.platform.is_windows()
        && decision.approval.bound()
        && is_unreviewable_windows_wrapper(&request.argv))
    .then(|| Denial::new(DenyReason::ApprovalRequired, MSG_UNSUPPORTED_SHAPE))
}

/// The argv an allowlist run executes instead of the request's: allowlist mode, no operator
/// approval, one satisfied segment, whose effective argv runs with `argv[0]` pinned to its real
/// path (dispatch wrappers removed). For a direct argv only, except under Windows rules, where
/// a satisfied shell payload runs as its planned segment without the shell
/// (`resolveSystemRunExecArgv` on win32), so what runs is the words the allowlist matched. A
/// segment without a plan is [`MSG_PLAN_MISS`].
pub fn planned_argv(
    decision: &Decision,
    request: &CommandRequest,
    resolved: &ResolvedSegments,
) -> Result<Option<Vec<String>>, Denial> {
    let shell_command = request.shell_payload.is_some();
    match resolved.segments.as_slice() {
        [segment]
            if decision.security == Security::Allowlist
                && !decision.approval.approved_by_ask
                && (!shell_command || resolved.platform.is_windows())
                && decision.analysis_ok
                && decision.allowlist_satisfied =>
        {
            match segment.planned_argv() {
                Some(planned) => Ok(Some(planned)),
                None => Err(Denial::new(DenyReason::ExecutionPlanMiss, MSG_PLAN_MISS)),
            }
        }
        _ => Ok(None),
    }
}

mod operand;

pub use operand::mutable_operand_snapshot;
#[cfg(all(test, unix))]
use operand::{is_interpreter_like, mutable_operand_target};

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests;
