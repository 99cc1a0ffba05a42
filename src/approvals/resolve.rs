//! Which file a command word names: PATH search for bare names, cwd-relative paths, realpath.
//!
//! The policy matches allowlist globs against the *real path* of the executable, so resolution
//! must find the same file the kernel will execute. Differences from the TS host, all
//! fail-closed: relative or empty PATH entries are skipped (the TS host resolves them against the
//! cwd), and `~` expands only from the node's own `HOME`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::argv::{wrapper_trust_plan, WrapperTrustPlan};

/// How one executable word resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutableResolution {
    /// The word as written (`uname`, `./x`, `/usr/bin/env`).
    pub raw_executable: String,
    /// The executable file found (PATH hit or cwd-resolved path), if any.
    pub resolved_path: Option<String>,
    /// `realpath(resolved_path)`.
    pub resolved_real_path: Option<String>,
    /// Basename of the resolved path, else the raw word.
    pub executable_name: String,
}

/// The resolution of a whole argv: what runs (`execution`), what the policy matches (`policy`,
/// which differs behind busybox/toybox), and the wrapper trust plan.
#[derive(Debug, Clone)]
pub struct CommandResolution {
    pub execution: ExecutableResolution,
    pub policy: ExecutableResolution,
    pub effective_argv: Vec<String>,
    pub plan: WrapperTrustPlan,
}

impl CommandResolution {
    pub fn policy_blocked(&self) -> bool {
        self.plan.policy_blocked
    }
}

/// Where resolution looks: the cwd the command will run in and the PATH it will see.
#[derive(Debug, Clone)]
pub struct ResolveContext {
    pub cwd: PathBuf,
    pub path_env: String,
    pub home: Option<String>,
}

impl ResolveContext {
    /// A context for `cwd` (or the process cwd) with the node's PATH and HOME.
    pub fn new(cwd: Option<&str>, path_env: &str) -> ResolveContext {
        let cwd = match cwd.map(str::trim).filter(|c| !c.is_empty()) {
            Some(cwd) => PathBuf::from(cwd),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        ResolveContext {
            cwd,
            path_env: path_env.to_string(),
            home: std::env::var("HOME").ok(),
        }
    }
}

/// `path.resolve(base, p)` without touching the disk: absolute, `.`/`..` folded lexically.
pub fn lexical_resolve(base: &Path, p: &str) -> PathBuf {
    let joined = if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        base.join(p)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
        }
    }
    out
}

/// `path.posix.normalize` as used for cwd-bound hashes: folds `.`/`..` and duplicate slashes,
/// keeps a trailing slash.
pub fn posix_normalize(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let absolute = p.starts_with('/');
    let trailing = p.ends_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let mut out = parts.join("/");
    if absolute {
        out.insert(0, '/');
    }
    if out.is_empty() {
        out = if absolute {
            "/".to_string()
        } else {
            ".".to_string()
        };
    }
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// A regular file the process may execute.
pub fn is_executable_file(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            meta.permissions().mode() & 0o111 != 0
                && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
        }
        _ => false,
    }
}

/// `realpath`, as a UTF-8 string.
pub fn realpath(path: &Path) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
}

fn expand_home(raw: &str, ctx: &ResolveContext) -> Option<String> {
    if raw == "~" || raw.starts_with("~/") {
        let home = ctx.home.as_deref().filter(|h| !h.is_empty())?;
        return Some(format!("{home}{}", &raw[1..]));
    }
    Some(raw.to_string())
}

/// The candidate path for a word that contains a path separator (`./x`, `/usr/bin/x`, `~/x`).
pub fn path_candidate(raw: &str, ctx: &ResolveContext) -> Option<String> {
    let expanded = expand_home(raw, ctx)?;
    if !expanded.contains('/') {
        return None;
    }
    lexical_resolve(&ctx.cwd, &expanded)
        .to_str()
        .map(str::to_string)
}

/// Resolves one executable word.
pub fn resolve_executable(raw: &str, ctx: &ResolveContext) -> ExecutableResolution {
    let resolved_path = if raw.is_empty() {
        None
    } else if raw.starts_with('~') || raw.contains('/') {
        path_candidate(raw, ctx).filter(|candidate| is_executable_file(Path::new(candidate)))
    } else {
        ctx.path_env
            .split(':')
            .filter(|dir| dir.starts_with('/'))
            .map(|dir| Path::new(dir).join(raw))
            .find(|candidate| is_executable_file(candidate))
            .and_then(|candidate| candidate.to_str().map(str::to_string))
    };
    let resolved_real_path = resolved_path
        .as_deref()
        .and_then(|p| realpath(Path::new(p)));
    let executable_name = match &resolved_path {
        Some(path) => Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(raw)
            .to_string(),
        None => raw.to_string(),
    };
    ExecutableResolution {
        raw_executable: raw.to_string(),
        resolved_path,
        resolved_real_path,
        executable_name,
    }
}

/// `resolveCommandResolutionFromArgv`: `None` when the effective argv has no executable word.
pub fn resolve_command(argv: &[String], ctx: &ResolveContext) -> Option<CommandResolution> {
    let plan = wrapper_trust_plan(argv);
    let effective_argv = plan.argv.clone();
    let raw = effective_argv
        .first()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())?;
    let execution = resolve_executable(&raw, ctx);
    let policy_raw = plan
        .policy_argv
        .first()
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let policy = if !policy_raw.is_empty() && policy_raw != raw {
        resolve_executable(&policy_raw, ctx)
    } else {
        execution.clone()
    };
    Some(CommandResolution {
        execution,
        policy,
        effective_argv,
        plan,
    })
}

/// `resolveExecutableTrustPath`: the real path, else (for a path-like word) the candidate's real
/// path or the candidate itself.
pub fn trust_path(resolution: &ExecutableResolution, ctx: &ResolveContext) -> Option<String> {
    if let Some(real) = resolution
        .resolved_real_path
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        return Some(real.to_string());
    }
    let candidate = match &resolution.resolved_path {
        Some(path) => Some(path.clone()),
        None => {
            let raw = resolution.raw_executable.trim();
            if raw.contains('/') {
                path_candidate(raw, ctx)
            } else {
                None
            }
        }
    }?;
    Some(realpath(Path::new(&candidate)).unwrap_or(candidate))
}

/// `resolveExecutableCandidatePathFromResolution`: the resolved path, else the candidate path of
/// a path-like word.
pub fn candidate_path(resolution: &ExecutableResolution, ctx: &ResolveContext) -> Option<String> {
    if let Some(path) = &resolution.resolved_path {
        return Some(path.clone());
    }
    let raw = resolution.raw_executable.trim();
    if raw.contains('/') {
        path_candidate(raw, ctx)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_normalize_folds_dots() {
        assert_eq!(posix_normalize("/tmp"), "/tmp");
        assert_eq!(posix_normalize("/tmp/./a/../b//"), "/tmp/b/");
        assert_eq!(posix_normalize("/.."), "/");
        assert_eq!(posix_normalize("a/../.."), "..");
    }

    #[test]
    fn resolves_bare_names_through_absolute_path_entries_only() {
        let ctx = ResolveContext {
            cwd: PathBuf::from("/"),
            path_env: "relative:/usr/bin:/bin".into(),
            home: None,
        };
        let sh = resolve_executable("sh", &ctx);
        assert!(sh.resolved_path.is_some(), "sh is on every Linux box");
        assert!(sh.resolved_real_path.is_some());
        let missing = resolve_executable("definitely-not-a-binary-xyz", &ctx);
        assert_eq!(missing.resolved_path, None);
        assert_eq!(missing.executable_name, "definitely-not-a-binary-xyz");
        let dir = resolve_executable("/usr/bin", &ctx);
        assert_eq!(dir.resolved_path, None, "a directory is not an executable");
    }
}
