//! Which file a command word names: PATH search for bare names, cwd-relative paths, realpath.
//!
//! The policy matches allowlist globs against the *real path* of the executable, so resolution
//! must find the same file the kernel will execute. Differences from the TS host, all
//! fail-closed: relative or empty PATH entries are skipped (the TS host resolves them against the
//! cwd), and `~` expands only from the node's own `HOME`.
//!
//! The [`ResolveContext`] carries the [`Platform`] whose rules apply. On Windows: words with
//! `\` or `/` are paths, resolved as `path.win32.resolve` does; PATH splits on `;`; PATHEXT
//! extensions are tried (see [`crate::platform::executable_search`]); a file is executable when
//! its extension is `.exe .com .bat .cmd` or one of PATHEXT's; real paths lose their `\\?\`
//! prefix. A shell payload is analysed by [`super::windows_shell`] into one segment, which runs
//! without the shell, so no shell carries it.

use std::path::{Component, Path, PathBuf};

use super::argv::{
    normalize_executable_token, shell_wrapper_transport, wrapper_trust_plan, WrapperTrustPlan,
};
use super::command::CommandRequest;
use super::shell::{analyze_payload, ShellSegment};
use super::shells::{is_analysable_shell, ShellKind};
use super::windows_shell::analyze_windows_shell_command;
use crate::platform::executable_search::{self, has_executable_extension};
use crate::platform::windows_path::{self, split_pathext};
use crate::platform::Platform;

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

/// What resolution asks of the filesystem. The host's by default; a test of another platform's
/// rules passes its own (Windows paths on a Linux disk, say).
#[derive(Debug, Clone, Copy)]
pub struct Filesystem {
    /// A file the process may execute (Unix: mode and `access(X_OK)`; Windows: a regular file,
    /// whose extension the Windows rules check themselves).
    pub is_executable: fn(&str) -> bool,
    /// `realpath`, as a string; `None` when the path does not resolve.
    pub realpath: fn(&str) -> Option<String>,
}

impl Filesystem {
    pub const HOST: Filesystem = Filesystem {
        is_executable: host_is_executable,
        realpath: host_realpath,
    };
}

fn host_is_executable(path: &str) -> bool {
    is_executable_file(Path::new(path))
}

/// `realpath` on the host; on Windows without the `\\?\` prefix `canonicalize` adds.
fn host_realpath(path: &str) -> Option<String> {
    let real = realpath(Path::new(path))?;
    Some(match Platform::HOST {
        Platform::Windows => windows_path::strip_verbatim(&real),
        Platform::Unix => real,
    })
}

/// Where resolution looks: the cwd the command will run in and the PATH it will see, and the
/// platform whose rules apply.
#[derive(Debug, Clone)]
pub struct ResolveContext {
    pub cwd: PathBuf,
    pub path_env: String,
    pub home: Option<String>,
    pub platform: Platform,
    /// PATHEXT (Windows): the node's own; `None` for the default.
    pub path_ext: Option<String>,
    pub fs: Filesystem,
}

impl Default for ResolveContext {
    /// `/`, an empty PATH, no HOME, the host's platform and filesystem.
    fn default() -> ResolveContext {
        ResolveContext {
            cwd: PathBuf::from("/"),
            path_env: String::new(),
            home: None,
            platform: Platform::HOST,
            path_ext: None,
            fs: Filesystem::HOST,
        }
    }
}

impl ResolveContext {
    /// A context for `cwd` (or the process cwd) with the node's PATH, HOME (on Windows,
    /// `USERPROFILE` when HOME is unset) and PATHEXT, under the host's rules.
    pub fn new(cwd: Option<&str>, path_env: &str) -> ResolveContext {
        let cwd = match cwd.map(str::trim).filter(|c| !c.is_empty()) {
            Some(cwd) => PathBuf::from(cwd),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        let platform = Platform::HOST;
        let home = std::env::var("HOME")
            .ok()
            .or_else(|| platform.is_windows().then(|| std::env::var("USERPROFILE").ok())?);
        ResolveContext {
            cwd,
            path_env: path_env.to_string(),
            home,
            platform,
            path_ext: platform
                .is_windows()
                .then(|| std::env::var("PATHEXT").ok())
                .flatten(),
            fs: Filesystem::HOST,
        }
    }

    /// The same context under `platform`'s rules.
    pub fn on(mut self, platform: Platform) -> ResolveContext {
        self.platform = platform;
        self
    }

    /// How allowlist patterns read paths in this context.
    pub fn path_rules(&self) -> super::pattern::PathRules<'_> {
        super::pattern::PathRules {
            platform: self.platform,
            home: self.home.as_deref(),
            realpath: self.fs.realpath,
        }
    }

    /// `realpath` through this context's filesystem.
    pub fn realpath(&self, path: &str) -> Option<String> {
        (self.fs.realpath)(path)
    }

    /// True when `word` names a path rather than a command to search for.
    pub fn is_path_word(&self, word: &str) -> bool {
        match self.platform {
            Platform::Unix => word.contains('/'),
            Platform::Windows => windows_path::has_separator(word),
        }
    }

    /// A file this platform runs: executable (Unix), or a file with an executable extension
    /// (Windows).
    fn accepts(&self, candidate: &str) -> bool {
        (self.fs.is_executable)(candidate)
            && (self.platform == Platform::Unix
                || has_executable_extension(candidate, &split_pathext(self.path_ext.as_deref())))
    }
}

/// The absolute path the kernel opens for `p` in `base`: `.` and duplicate slashes folded,
/// and `..` taken physically, as the kernel does: `l/../x` where `l` is a symlink to
/// `/a/b` names `/a/x`, not `<base>/x`. (The TS host's `path.resolve` folds `..` lexically,
/// so `./l/../x` was checked as `<cwd>/x` and ran another file.) Where the directory before a
/// `..` does not exist, the `..` is kept: the kernel fails on that path, and so does every
/// lookup of the result.
pub fn physical_resolve(base: &Path, p: &str) -> PathBuf {
    let joined = if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        base.join(p)
    };
    let mut out = PathBuf::from("/");
    let mut unresolvable = false;
    for component in joined.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir if unresolvable => out.push(".."),
            Component::ParentDir => match std::fs::canonicalize(&out) {
                Ok(real) => {
                    out = real;
                    out.pop();
                }
                Err(_) => {
                    unresolvable = true;
                    out.push("..");
                }
            },
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
    crate::platform::files::is_executable_file(path)
}

/// `realpath`, as a UTF-8 string.
pub fn realpath(path: &Path) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
}

fn expand_home(raw: &str, ctx: &ResolveContext) -> Option<String> {
    let windows_home = ctx.platform.is_windows() && raw.starts_with("~\\");
    if raw == "~" || raw.starts_with("~/") || windows_home {
        let home = ctx.home.as_deref().filter(|h| !h.is_empty())?;
        return Some(format!("{home}{}", &raw[1..]));
    }
    Some(raw.to_string())
}

/// The candidate path for a word that contains a path separator (`./x`, `/usr/bin/x`, `~/x`).
pub fn path_candidate(raw: &str, ctx: &ResolveContext) -> Option<String> {
    let expanded = expand_home(raw, ctx)?;
    if !ctx.is_path_word(&expanded) {
        return None;
    }
    match ctx.platform {
        Platform::Unix => physical_resolve(&ctx.cwd, &expanded)
            .to_str()
            .map(str::to_string),
        Platform::Windows => Some(windows_path::lexical_resolve(
            &ctx.cwd.to_string_lossy(),
            &expanded,
        )),
    }
}

/// Resolves one executable word.
pub fn resolve_executable(raw: &str, ctx: &ResolveContext) -> ExecutableResolution {
    let path_ext = ctx.path_ext.as_deref();
    let accepts = |candidate: &str| ctx.accepts(candidate);
    let resolved_path = if raw.is_empty() {
        None
    } else if raw.starts_with('~') || ctx.is_path_word(raw) {
        // On Windows a path without a PATHEXT extension is tried with each (`.\build` runs
        // `build.exe`); on Unix the path is the candidate.
        path_candidate(raw, ctx).and_then(|candidate| {
            executable_search::search(&candidate, "", path_ext, ctx.platform, true, &accepts)
        })
    } else {
        executable_search::search(raw, &ctx.path_env, path_ext, ctx.platform, true, &accepts)
    };
    let resolved_real_path = resolved_path.as_deref().and_then(|p| ctx.realpath(p));
    let executable_name = match (&resolved_path, ctx.platform) {
        (Some(path), Platform::Unix) => Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(raw)
            .to_string(),
        (Some(path), Platform::Windows) => windows_path::file_name(path).to_string(),
        (None, _) => raw.to_string(),
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
    // Untrimmed: the kernel and the shell run the word as given, and ` ./x` or `\u{b}./x`
    // name other files than `./x`.
    let raw = effective_argv
        .first()
        .filter(|t| !t.trim().is_empty())
        .cloned()?;
    let execution = resolve_executable(&raw, ctx);
    let policy_raw = plan.policy_argv.first().cloned().unwrap_or_default();
    let policy = if !policy_raw.trim().is_empty() && policy_raw != raw {
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
        None => unresolved_path_candidate(resolution, ctx),
    }?;
    Some(ctx.realpath(&candidate).unwrap_or(candidate))
}

/// `resolveExecutableCandidatePathFromResolution`: the resolved path, else the candidate path of
/// a path-like word.
pub fn candidate_path(resolution: &ExecutableResolution, ctx: &ResolveContext) -> Option<String> {
    resolution
        .resolved_path
        .clone()
        .or_else(|| unresolved_path_candidate(resolution, ctx))
}

/// The lexical path of a path-like word that resolved to no executable file, which the TS host
/// still matches path patterns against. Not under Windows rules: there a word that names no
/// file with an executable extension (`notes.txt`, `git.exe.`) matches nothing.
fn unresolved_path_candidate(
    resolution: &ExecutableResolution,
    ctx: &ResolveContext,
) -> Option<String> {
    let raw = resolution.raw_executable.trim();
    if ctx.platform.is_windows() || !ctx.is_path_word(raw) {
        return None;
    }
    path_candidate(raw, ctx)
}

/// One command the policy must authorise.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The words as given (direct argv with blank entries removed, or a parsed shell segment).
    pub argv: Vec<String>,
    pub raw: String,
    /// False when the shell may expand an argument.
    pub exact_argv: bool,
    /// From a shell payload: safe builtins apply.
    pub in_shell: bool,
    /// A `cd` ran before it (see [`ShellSegment::after_cd`]).
    pub after_cd: bool,
    /// See [`ShellSegment::expandable`]; empty for a direct argv (no shell expands it).
    pub expandable: Vec<bool>,
    pub resolution: Option<CommandResolution>,
}

impl Segment {
    /// `analyzeArgvCommand`: a direct argv (blank entries dropped, as the TS host does).
    pub fn from_argv(argv: &[String], ctx: &ResolveContext) -> Option<Segment> {
        let argv: Vec<String> = argv
            .iter()
            .filter(|a| !a.trim().is_empty())
            .cloned()
            .collect();
        if argv.is_empty() {
            return None;
        }
        let resolution = resolve_command(&argv, ctx);
        Some(Segment {
            raw: argv.join(" "),
            argv,
            exact_argv: true,
            in_shell: false,
            after_cd: false,
            expandable: Vec::new(),
            resolution,
        })
    }

    /// A segment of an analysed shell payload.
    pub fn from_shell(segment: &ShellSegment, ctx: &ResolveContext) -> Segment {
        let resolution = resolve_command(&segment.argv, ctx);
        Segment {
            argv: segment.argv.clone(),
            raw: segment.raw.clone(),
            exact_argv: segment.exact_argv,
            in_shell: true,
            after_cd: segment.after_cd,
            expandable: segment.expandable.clone(),
            resolution,
        }
    }

    /// A word the policy interprets is one the shell may expand: a dispatch wrapper or carrier
    /// or one of its options, the command it runs, or, for a shell, any of its words (options,
    /// script operand). The policy resolved the literal text (`./*`, a file the attacker named
    /// `*`), the shell runs what it expands to (`nice ./*` runs the first file of the cwd).
    /// Arguments after the command word stay inexact as before (path-only entries only).
    pub fn interprets_an_expandable_word(&self) -> bool {
        if !self.expandable.iter().any(|e| *e) {
            return false;
        }
        let Some(resolution) = &self.resolution else {
            return true;
        };
        let effective = &resolution.effective_argv;
        if effective.is_empty() || !self.argv.ends_with(effective) {
            return true;
        }
        let command_index = self.argv.len() - effective.len();
        let interpreted = if resolution.plan.shell_wrapper_executable {
            self.expandable.len()
        } else {
            command_index + 1
        };
        self.expandable.iter().take(interpreted).any(|e| *e)
    }

    /// After a `cd`, a word that runs with a relative path (`./x`, `bin/x`), as the command or
    /// behind a dispatch wrapper (`nice ./x`, `timeout 5 ./x`, `./nice x`): it names a file in
    /// the directory the shell changed to, not the one it was resolved in. Never satisfiable.
    pub fn runs_relative_word_after_cd(&self) -> bool {
        if !self.after_cd {
            return false;
        }
        let relative = |word: &str| {
            let word = word.trim();
            word.contains('/') && !word.starts_with('/')
        };
        let Some(resolution) = &self.resolution else {
            return self.argv.first().is_some_and(|w| relative(w));
        };
        resolution
            .plan
            .wrapper_invocations
            .iter()
            .filter_map(|(_, argv)| argv.first())
            .chain(resolution.effective_argv.first())
            .chain(resolution.plan.policy_argv.first())
            .any(|w| relative(w))
    }

    /// The argv that runs (dispatch wrappers removed).
    pub fn effective_argv(&self) -> &[String] {
        match &self.resolution {
            Some(r) if !r.effective_argv.is_empty() => &r.effective_argv,
            _ => &self.argv,
        }
    }

    pub fn policy_blocked(&self) -> bool {
        self.resolution.as_ref().is_some_and(|r| r.policy_blocked())
    }

    /// `resolvePlannedSegmentArgv`: the effective argv with argv[0] pinned to the resolved real
    /// path; `None` when the segment is blocked.
    pub fn planned_argv(&self) -> Option<Vec<String>> {
        if self.policy_blocked() {
            return None;
        }
        let mut argv = self.effective_argv().to_vec();
        if argv.is_empty() {
            return None;
        }
        if let Some(resolution) = &self.resolution {
            let exec = &resolution.execution;
            if let Some(path) = exec
                .resolved_real_path
                .clone()
                .or_else(|| exec.resolved_path.clone())
            {
                argv[0] = path;
            }
        }
        Some(argv)
    }
}

/// Replaces each segment that runs an analysable shell with a bindable payload (`sh -c
/// 'uname'`, also behind transparent wrappers) by the segments of that payload, up to three
/// levels deep, as the TS host evaluates nested shell wrappers. A nested payload that cannot be
/// analysed keeps its wrapper segment, which then needs an argv-bound entry or `*`.
#[cfg(any(test, feature = "internals"))]
pub fn flatten_nested_shells(
    segments: Vec<Segment>,
    ctx: &ResolveContext,
    depth: usize,
) -> Vec<Segment> {
    flatten_nested_shells_into(segments, ctx, depth, &mut Vec::new())
}

/// [`flatten_nested_shells`], collecting the carriers of every nested shell it opened.
fn flatten_nested_shells_into(
    segments: Vec<Segment>,
    ctx: &ResolveContext,
    depth: usize,
    carriers: &mut Vec<Carrier>,
) -> Vec<Segment> {
    let mut out = Vec::new();
    for segment in segments {
        let nested = (depth < 3)
            .then_some(segment.resolution.as_ref())
            .flatten()
            .filter(|r| !r.policy_blocked() && r.plan.shell_wrapper_executable)
            .filter(|r| {
                let shell = normalize_executable_token(
                    r.effective_argv.first().map(String::as_str).unwrap_or(""),
                );
                is_analysable_shell(&shell)
            })
            .and_then(|r| r.plan.shell_inline_command.as_deref())
            .and_then(|payload| analyze_payload(payload).ok());
        match nested {
            Some(inner) if !inner.is_empty() => {
                // The nested payload runs in the state the outer one left: after an outer
                // `cd`, its relative words are misses too.
                let inner: Vec<Segment> = inner
                    .iter()
                    .map(|s| {
                        let mut segment_in = Segment::from_shell(s, ctx);
                        segment_in.after_cd |= segment.after_cd;
                        segment_in
                    })
                    .collect();
                if let Some(resolution) = &segment.resolution {
                    carriers.extend(carriers_of(
                        &resolution.plan,
                        ctx,
                        segment.in_shell,
                        segment.after_cd,
                        true,
                    ));
                }
                out.extend(flatten_nested_shells_into(
                    inner,
                    ctx,
                    depth + 1,
                    carriers,
                ));
            }
            _ => out.push(segment),
        }
    }
    out
}

/// A program that runs a payload instead of being matched as a segment: the shell of a
/// `sh -c` request or of a nested `sh -c` segment, and every dispatch wrapper or multiplexer
/// in front of it (`nice`, `timeout`, `env`, `busybox`). The match stage requires each to be a
/// trusted file ([`super::allowlist::is_trusted_carrier`]): the analysis of the payload says
/// nothing about a `/tmp/x/sh` or a `./nice` that the attacker wrote.
#[derive(Debug, Clone)]
pub struct Carrier {
    pub resolution: ExecutableResolution,
    /// Named by a relative path after a `cd`: never trusted.
    pub relative_after_cd: bool,
}

/// The carriers of a plan: each wrapper's executable word, then (`with_shell`) the shell's.
/// Inside a payload, leading `exec`/`command`/`builtin` are shell builtins, not files.
fn carriers_of(
    plan: &super::argv::WrapperTrustPlan,
    ctx: &ResolveContext,
    in_shell: bool,
    after_cd: bool,
    with_shell: bool,
) -> Vec<Carrier> {
    let mut words: Vec<&str> = Vec::new();
    let mut shell_position = in_shell;
    for (wrapper, argv) in &plan.wrapper_invocations {
        if shell_position && ["builtin", "command", "exec"].contains(&wrapper.as_str()) {
            continue;
        }
        shell_position = false;
        // Untrimmed: the shell runs ` ./nice` (in the directory ` .`), not `./nice`.
        if let Some(word) = argv.first() {
            words.push(word);
        }
    }
    if let Some(shell) = plan.argv.first().filter(|_| with_shell) {
        words.push(shell);
    }
    words
        .into_iter()
        .map(|word| Carrier {
            resolution: resolve_executable(word, ctx),
            relative_after_cd: after_cd && word.contains('/') && !word.starts_with('/'),
        })
        .collect()
}

/// The segments of a shell payload when the wrapper's shell is one this port analyses.
pub fn analysable_payload_segments(
    argv: &[String],
    payload: &str,
    ctx: &ResolveContext,
) -> Option<Vec<Segment>> {
    let (transport, _, kind) = shell_wrapper_transport(argv)?;
    let shell = normalize_executable_token(transport.first()?);
    if kind != ShellKind::Posix || !is_analysable_shell(&shell) {
        return None;
    }
    let parsed = analyze_payload(payload).ok()?;
    Some(parsed.iter().map(|s| Segment::from_shell(s, ctx)).collect())
}

/// The resolve stage's value: every simple command a request runs, resolved, or a failed
/// analysis (`analysis_ok == false`, no segments), which no allowlist can satisfy.
#[derive(Debug, Clone)]
pub struct ResolvedSegments {
    pub analysis_ok: bool,
    pub segments: Vec<Segment>,
    /// The shells and wrappers that run the payloads (empty for a direct argv).
    pub carriers: Vec<Carrier>,
    /// The rules the request was resolved under, which the decide and bind stages follow too.
    pub platform: Platform,
}

/// The resolve stage: a checked request's segments, each resolved against `ctx`. A shell
/// payload is split by the fail-closed analysis (and nested shells flattened); a direct argv is
/// one segment.
pub fn resolve_request(request: &CommandRequest, ctx: &ResolveContext) -> ResolvedSegments {
    if ctx.platform.is_windows() {
        return resolve_request_windows(request, ctx);
    }
    let mut carriers = Vec::new();
    let (analysis_ok, segments) = match &request.shell_payload {
        Some(payload) => match analysable_payload_segments(&request.argv, payload, ctx) {
            Some(segments) if !segments.is_empty() => {
                carriers.extend(carriers_of(
                    &wrapper_trust_plan(&request.argv),
                    ctx,
                    false,
                    false,
                    true,
                ));
                let segments = flatten_nested_shells_into(segments, ctx, 0, &mut carriers);
                // Inside a payload the shell runs a segment as written: `./nice echo hi` runs
                // `./nice`, though the policy matched `echo`. (A direct argv runs its planned
                // argv, wrappers removed, so only payload segments carry wrappers.)
                for segment in &segments {
                    if let Some(resolution) = &segment.resolution {
                        carriers.extend(carriers_of(
                            &resolution.plan,
                            ctx,
                            true,
                            segment.after_cd,
                            false,
                        ));
                    }
                }
                (true, segments)
            }
            _ => (false, Vec::new()),
        },
        None => match Segment::from_argv(&request.argv, ctx) {
            Some(segment) => (true, vec![segment]),
            None => (false, Vec::new()),
        },
    };
    ResolvedSegments {
        analysis_ok,
        segments,
        carriers,
        platform: ctx.platform,
    }
}

/// The resolve stage under Windows rules (`evaluateShellAllowlist` on win32). A shell payload
/// is [`analyze_windows_shell_command`]'s one segment, which runs as its planned argv without
/// the shell, so there are no carriers; no payload of a wrapper whose startup cannot be
/// reviewed ([`is_unreviewable_windows_wrapper`]) is analysed. A direct argv is one segment, as
/// on Unix.
fn resolve_request_windows(request: &CommandRequest, ctx: &ResolveContext) -> ResolvedSegments {
    let (analysis_ok, segments) = match &request.shell_payload {
        Some(_) if is_unreviewable_windows_wrapper(&request.argv) => (false, Vec::new()),
        Some(payload) => match analyze_windows_shell_command(payload) {
            Ok(argv) => {
                let resolution = resolve_command(&argv, ctx);
                let segment = Segment {
                    raw: payload.clone(),
                    argv,
                    exact_argv: true,
                    in_shell: false,
                    after_cd: false,
                    // What could expand (`%x%`, `$x`, backticks) was refused.
                    expandable: Vec::new(),
                    resolution,
                };
                (true, vec![segment])
            }
            Err(reason) => {
                log::debug!("windows shell payload not analysed: {reason}");
                (false, Vec::new())
            }
        },
        None => match Segment::from_argv(&request.argv, ctx) {
            Some(segment) => (true, vec![segment]),
            None => (false, Vec::new()),
        },
    };
    ResolvedSegments {
        analysis_ok,
        segments,
        carriers: Vec::new(),
        platform: Platform::Windows,
    }
}

/// A `cmd` or PowerShell wrapper whose startup cannot be reviewed, so its payload alone is not
/// what runs (`isBlockedShellWrapperCommand`): cmd without `/d` before `/c` (AutoRun), `/k`, an
/// unknown switch; PowerShell with `-EncodedCommand`, `-File`, `-Command -` (stdin), a
/// startup flag (`-NoExit`, `-Login`, `-ConfigurationName`, ...) or without `-NoProfile`.
/// Stricter than the TS host, which analyses such payloads anyway: on Windows they are never
/// allowlisted, and an approval of one is refused as unbindable.
pub fn is_unreviewable_windows_wrapper(argv: &[String]) -> bool {
    let Some((_, _, kind)) = shell_wrapper_transport(argv) else {
        return false;
    };
    matches!(kind, ShellKind::Cmd | ShellKind::PowerShell)
        && super::argv::is_blocked_shell_wrapper_command(argv, None)
}

/// The request runs a `cmd` shell wrapper under Windows rules: a payload was found and the
/// shell behind the dispatch wrappers is `cmd` ([`is_cmd_invocation`]).
pub fn is_windows_cmd_wrapper(platform: Platform, request: &CommandRequest) -> bool {
    platform.is_windows() && request.shell_payload.is_some() && is_cmd_invocation(&request.argv)
}

/// `isCmdExeInvocation` of the shell behind any dispatch wrappers: its basename is `cmd` or
/// `cmd.exe`, in any case.
pub fn is_cmd_invocation(argv: &[String]) -> bool {
    let transport = shell_wrapper_transport(argv).map(|(t, _, _)| t);
    let argv = transport.as_deref().unwrap_or(argv);
    let Some(token) = argv.first().map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return false;
    };
    let base = windows_path::match_form(windows_path::file_name(token));
    base == "cmd" || base == "cmd.exe"
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

    #[cfg_attr(windows, ignore = "POSIX: a POSIX PATH (':'-separated, /bin)")]

    #[test]
    fn an_expandable_word_the_policy_interprets_is_flagged() {
        let ctx = ResolveContext {
            cwd: PathBuf::from("/"),
            path_env: "/usr/bin:/bin".into(),
            home: None,
            ..Default::default()
        };
        let flagged = |payload: &str| {
            let segments = crate::approvals::shell::analyze_payload(payload).unwrap();
            Segment::from_shell(&segments[0], &ctx).interprets_an_expandable_word()
        };
        for payload in ["nice ./*", "timeout 5* ls", "exec ./?", "env -- ./x*", "sh ./*", "sh -c 'echo' *"] {
            assert!(flagged(payload), "{payload}");
        }
        for payload in ["ls *.txt", "nice ls *.txt", "timeout 5 ls ~/x", "echo {a,b}", "ls"] {
            assert!(!flagged(payload), "{payload}");
        }
    }

    #[cfg(unix)] // symlinks

    #[test]
    fn dot_dot_is_taken_physically_as_the_kernel_does() {
        let root = std::env::temp_dir().join(format!("oc-physical-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("cwd")).unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        std::os::unix::fs::symlink(root.join("a/b"), root.join("cwd/l")).unwrap();
        let cwd = root.join("cwd");
        assert_eq!(physical_resolve(&cwd, "./l/../x"), root.join("a/x"));
        assert_eq!(physical_resolve(&cwd, "l/./../x"), root.join("a/x"));
        assert_eq!(physical_resolve(&cwd, "./x"), cwd.join("x"));
        assert_eq!(physical_resolve(&cwd, "/usr/./bin//env"), PathBuf::from("/usr/bin/env"));
        assert_eq!(physical_resolve(&root.join("cwd/l"), "../x"), root.join("a/x"));
        // A missing directory before `..` keeps the `..`: no file is found through it.
        let kept = physical_resolve(&cwd, "missing/../x");
        assert_eq!(kept, cwd.join("missing/../x"));
        assert!(!kept.exists());
    }

    #[cfg_attr(windows, ignore = "POSIX: a ':'-separated PATH (/bin)")]

    #[test]
    fn resolves_bare_names_through_absolute_path_entries_only() {
        let ctx = ResolveContext {
            cwd: PathBuf::from("/"),
            path_env: "relative:/usr/bin:/bin".into(),
            home: None,
            ..Default::default()
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

    #[test]
    fn resolve_stage_yields_the_segments_a_request_runs() {
        use crate::approvals::command::resolve_command_request;
        let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ctx = ResolveContext {
            cwd: PathBuf::from("/tmp"),
            path_env: "/usr/bin:/bin".into(),
            home: None,
            ..Default::default()
        }
        .on(Platform::Unix); // POSIX shell payloads, whichever host runs the test
        let direct = resolve_command_request(v(&["uname", " ", "-s"]), None).unwrap();
        let resolved = resolve_request(&direct, &ctx);
        assert!(resolved.analysis_ok);
        assert_eq!(resolved.segments.len(), 1);
        assert_eq!(
            resolved.segments[0].argv,
            v(&["uname", "-s"]),
            "blank words dropped"
        );
        assert!(!resolved.segments[0].in_shell);
        let shell =
            resolve_command_request(v(&["sh", "-c", "uname -s; sh -c 'id'"]), None).unwrap();
        let resolved = resolve_request(&shell, &ctx);
        let argvs: Vec<_> = resolved.segments.iter().map(|s| s.argv.clone()).collect();
        assert_eq!(
            argvs,
            vec![v(&["uname", "-s"]), v(&["id"])],
            "nested shell flattened"
        );
        assert!(resolved.segments.iter().all(|s| s.in_shell));
        // fish payloads are never analysed here.
        let fish = resolve_command_request(v(&["fish", "-c", "uname"]), None).unwrap();
        let resolved = resolve_request(&fish, &ctx);
        assert!(!resolved.analysis_ok);
        assert!(resolved.segments.is_empty());
    }
}
