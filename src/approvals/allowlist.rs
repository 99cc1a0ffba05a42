//! Allowlist matching (protocol §6.4) and safe bins (§6.5), per analysed segment.
//!
//! An entry matches a segment when:
//! * its pattern is `*` (without argPattern, not `allow-always`) and the segment names any
//!   executable;
//! * its pattern holds `/`, `\` or `~` and globs the executable's **real path**;
//! * its pattern is a bare name and globs the executable's name, **only** when the command word
//!   had no path separator (`./rg` never matches `rg`).
//!
//! An entry with an `argPattern` must also match the arguments: a `sha256:cwd-argv:v1:` hash the
//! exact argv in the exact cwd, a hand-written regex the arguments joined by spaces (see
//! [`super::pattern`]). `allow-always` entries only ever match through their hash. A path-only
//! match is used when no argument-bound entry matched.
//!
//! Stricter than the TS host, all fail-closed:
//! * Executables that carry another command in their arguments — shells (`sh x.sh`, `bash -c`),
//!   package-manager runners (`npm`, `npx`, `pnpm`, `yarn`, `bunx`, `corepack`), `xargs`, and
//!   `find` with `-exec`/`-execdir`/`-ok`/`-okdir` — are not satisfied by a path-only entry; they
//!   need an argument-bound entry or `*`. (The TS host unwraps package managers and matches the
//!   inner command instead; this port does not model them.) `sh script.sh` is matched through
//!   the script's path, as in the TS host.
//! * A segment whose arguments the shell may expand (see [`super::shell`]) is only satisfied by
//!   path-only entries or `*`, never by argument-bound entries or safe bins.
//! * `autoAllowSkills` grants nothing: this node does not fetch the gateway's skill bins.
//!
//! Safe bins: `cut uniq head tail tr wc` by default (`tools.exec.safeBins` may choose among
//! `jq grep cut sort uniq head tail tr wc`; other names have no profile and are never safe),
//! resolving inside `/bin`, `/usr/bin` or `tools.exec.safeBinTrustedDirs`, with an argv that
//! passes the bin's profile: known flags only, no denied flags, no path-like, glob or `$`
//! tokens, and a bounded number of positional (stdin-only) operands.

use std::cell::OnceCell;
use std::path::Path;

use super::argv::{
    is_shell_wrapper_executable, normalize_executable_token, posix_inline_match,
    posix_script_operand, ScriptOperandScan,
};
use super::pattern::{
    arg_pattern_matches, cwd_bound_hash_pattern, glob_matches, is_cwd_bound_hash_pattern,
    LEGACY_HASH_PREFIX,
};
use super::policy::AllowlistEntry;
use super::resolve::{
    candidate_path, lexical_resolve, realpath, trust_path, CommandResolution, ExecutableResolution,
    ResolveContext,
};
use super::shell::{is_safe_builtin_segment, ShellSegment};

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
        let resolution = super::resolve::resolve_command(&argv, ctx);
        Some(Segment {
            raw: argv.join(" "),
            argv,
            exact_argv: true,
            in_shell: false,
            resolution,
        })
    }

    /// A segment of an analysed shell payload.
    pub fn from_shell(segment: &ShellSegment, ctx: &ResolveContext) -> Segment {
        let resolution = super::resolve::resolve_command(&segment.argv, ctx);
        Segment {
            argv: segment.argv.clone(),
            raw: segment.raw.clone(),
            exact_argv: segment.exact_argv,
            in_shell: true,
            resolution,
        }
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
pub fn flatten_nested_shells(
    segments: Vec<Segment>,
    ctx: &ResolveContext,
    depth: usize,
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
                super::shells::is_analysable_shell(&shell)
            })
            .and_then(|r| r.plan.shell_inline_command.as_deref())
            .and_then(|payload| super::shell::analyze_payload(payload).ok());
        match nested {
            Some(inner) if !inner.is_empty() => {
                let inner: Vec<Segment> =
                    inner.iter().map(|s| Segment::from_shell(s, ctx)).collect();
                out.extend(flatten_nested_shells(inner, ctx, depth + 1));
            }
            _ => out.push(segment),
        }
    }
    out
}

/// How a segment was authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SatisfiedBy {
    Allowlist,
    SafeBins,
    SafeBuiltins,
}

impl SatisfiedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SatisfiedBy::Allowlist => "allowlist",
            SatisfiedBy::SafeBins => "safeBins",
            SatisfiedBy::SafeBuiltins => "safeBuiltins",
        }
    }
}

/// The verdict for one segment.
#[derive(Debug, Clone)]
pub struct SegmentVerdict {
    pub entry: Option<AllowlistEntry>,
    pub satisfied_by: Option<SatisfiedBy>,
}

/// Safe-bin settings from the node config.
#[derive(Debug, Clone)]
pub struct SafeBins {
    pub bins: Vec<String>,
    /// `/bin`, `/usr/bin` and the configured `safeBinTrustedDirs`, as given.
    dirs: Vec<String>,
    /// The trusted dirs with the real directories of their bins added, resolved on first use:
    /// only a command named like a safe bin needs them, and resolving them costs a `realpath`
    /// per bin and dir, a dozen filesystem walks that every `system.run` paid before.
    trusted: OnceCell<Vec<String>>,
}

impl SafeBins {
    pub fn new(configured: Option<&[String]>, extra_trusted_dirs: &[String]) -> SafeBins {
        let bins = match configured {
            Some(list) => list
                .iter()
                .map(|b| b.trim().to_lowercase())
                .filter(|b| !b.is_empty())
                .collect(),
            None => DEFAULT_SAFE_BINS.iter().map(|s| s.to_string()).collect(),
        };
        let mut dirs: Vec<String> = ["/bin", "/usr/bin"].iter().map(|s| s.to_string()).collect();
        dirs.extend(
            extra_trusted_dirs
                .iter()
                .map(|d| d.trim().to_string())
                .filter(|d| d.starts_with('/')),
        );
        SafeBins {
            bins,
            dirs,
            trusted: OnceCell::new(),
        }
    }

    /// The directories a safe bin must resolve into.
    pub fn trusted_dirs(&self) -> &[String] {
        self.trusted.get_or_init(|| {
            // A trusted dir's bins may be symlinks (merged /usr): trust their real directories too.
            let mut trusted: Vec<String> = Vec::new();
            for dir in &self.dirs {
                trusted.push(
                    lexical_resolve(Path::new("/"), dir)
                        .to_string_lossy()
                        .into_owned(),
                );
                for bin in &self.bins {
                    let candidate = Path::new(dir).join(bin);
                    if let Some(real) = realpath(&candidate) {
                        if let Some(parent) = Path::new(&real).parent() {
                            trusted.push(parent.to_string_lossy().into_owned());
                        }
                    }
                }
            }
            trusted.sort();
            trusted.dedup();
            trusted
        })
    }
}

/// The default safe bins.
pub const DEFAULT_SAFE_BINS: &[&str] = &["cut", "uniq", "head", "tail", "tr", "wc"];

struct Profile {
    min_positional: usize,
    max_positional: Option<usize>,
    value_flags: &'static [&'static str],
    boolean_flags: &'static [&'static str],
    denied_flags: &'static [&'static str],
}

fn profile(name: &str) -> Option<Profile> {
    Some(match name {
        "grep" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[
                "--regexp",
                "--max-count",
                "--after-context",
                "--before-context",
                "--context",
                "--devices",
                "--binary-files",
                "--exclude",
                "--include",
                "--label",
                "-e",
                "-m",
                "-A",
                "-B",
                "-C",
                "-D",
            ],
            boolean_flags: &[],
            denied_flags: &[
                "--file",
                "--exclude-from",
                "--dereference-recursive",
                "--directories",
                "--recursive",
                "-f",
                "-d",
                "-r",
                "-R",
            ],
        },
        "cut" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[
                "--bytes",
                "--characters",
                "--fields",
                "--delimiter",
                "--output-delimiter",
                "-b",
                "-c",
                "-f",
                "-d",
            ],
            boolean_flags: &[
                "--complement",
                "--only-delimited",
                "--zero-terminated",
                "-n",
                "-s",
                "-z",
            ],
            denied_flags: &[],
        },
        "sort" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[
                "--key",
                "--field-separator",
                "--buffer-size",
                "--parallel",
                "--batch-size",
                "-k",
                "-t",
                "-S",
            ],
            boolean_flags: &[],
            denied_flags: &[
                "--compress-program",
                "--files0-from",
                "--output",
                "--random-source",
                "--temporary-directory",
                "-T",
                "-o",
            ],
        },
        "uniq" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[
                "--skip-fields",
                "--skip-chars",
                "--check-chars",
                "--group",
                "-f",
                "-s",
                "-w",
            ],
            boolean_flags: &[
                "--count",
                "--repeated",
                "--unique",
                "--ignore-case",
                "--zero-terminated",
                "-c",
                "-d",
                "-u",
                "-i",
                "-z",
            ],
            denied_flags: &[],
        },
        "head" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &["--lines", "--bytes", "-n", "-c"],
            boolean_flags: &[
                "--quiet",
                "--silent",
                "--verbose",
                "--zero-terminated",
                "-q",
                "-v",
                "-z",
            ],
            denied_flags: &[],
        },
        "tail" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[
                "--lines",
                "--bytes",
                "--sleep-interval",
                "--max-unchanged-stats",
                "--pid",
                "-n",
                "-c",
            ],
            boolean_flags: &[
                "--quiet",
                "--silent",
                "--verbose",
                "--zero-terminated",
                "-q",
                "-v",
                "-z",
            ],
            denied_flags: &["--follow", "--retry", "-F", "-f"],
        },
        "tr" => Profile {
            min_positional: 1,
            max_positional: Some(2),
            value_flags: &[],
            boolean_flags: &[
                "--complement",
                "--delete",
                "--squeeze-repeats",
                "--truncate-set1",
                "-C",
                "-c",
                "-d",
                "-s",
                "-t",
            ],
            denied_flags: &[],
        },
        "wc" => Profile {
            min_positional: 0,
            max_positional: Some(0),
            value_flags: &[],
            boolean_flags: &[
                "--bytes",
                "--chars",
                "--lines",
                "--max-line-length",
                "--words",
                "-L",
                "-c",
                "-l",
                "-m",
                "-w",
            ],
            denied_flags: &["--files0-from"],
        },
        _ => return None,
    })
}

fn is_safe_literal(value: &str) -> bool {
    if value.is_empty() || value == "-" {
        return true;
    }
    let trimmed = value.trim();
    let path_like = trimmed.starts_with("./")
        || trimmed.starts_with("../")
        || trimmed.starts_with('~')
        || trimmed.starts_with('/')
        || (trimmed.len() >= 3
            && trimmed.as_bytes()[0].is_ascii_alphabetic()
            && trimmed.as_bytes()[1] == b':'
            && (trimmed.as_bytes()[2] == b'/' || trimmed.as_bytes()[2] == b'\\'));
    let glob = value.contains(['*', '?', '[', ']']);
    let expansion = value.contains('$');
    !path_like && !glob && !expansion
}

fn canonical_long_flag<'a>(flag: &str, known: &[&'a str]) -> Option<&'a str> {
    if let Some(exact) = known.iter().find(|k| **k == flag) {
        return Some(exact);
    }
    if flag.len() < 3 {
        return None;
    }
    let candidates: Vec<&&str> = known.iter().filter(|k| k.starts_with(flag)).collect();
    (candidates.len() == 1).then(|| *candidates[0])
}

/// `validateSafeBinArgv` for the arguments after the executable.
fn safe_bin_argv_ok(args: &[String], profile: &Profile) -> bool {
    let known_long: Vec<&str> = profile
        .value_flags
        .iter()
        .chain(profile.boolean_flags)
        .chain(profile.denied_flags)
        .copied()
        .filter(|f| f.starts_with("--"))
        .collect();
    let mut positional = 0usize;
    let mut i = 0;
    while i < args.len() {
        let token = args[i].as_str();
        if token.is_empty() || token == "-" {
            i += 1;
            continue;
        }
        if token == "--" {
            for rest in &args[i + 1..] {
                if rest.is_empty() || rest == "-" {
                    continue;
                }
                if !is_safe_literal(rest) {
                    return false;
                }
                positional += 1;
            }
            break;
        }
        if !token.starts_with('-') {
            if !is_safe_literal(token) {
                return false;
            }
            positional += 1;
            i += 1;
            continue;
        }
        if token.starts_with("--") {
            let (flag, inline) = match token.find('=') {
                Some(eq) if eq > 0 => (&token[..eq], Some(&token[eq + 1..])),
                _ => (token, None),
            };
            let Some(canonical) = canonical_long_flag(flag, &known_long) else {
                return false;
            };
            if profile.denied_flags.contains(&canonical) {
                return false;
            }
            let expects_value = profile.value_flags.contains(&canonical);
            match inline {
                Some(value) => {
                    if !expects_value || !is_safe_literal(value) {
                        return false;
                    }
                    i += 1;
                }
                None if !expects_value => i += 1,
                None => {
                    match args.get(i + 1) {
                        Some(next) if !next.is_empty() && is_safe_literal(next) => {}
                        _ => return false,
                    }
                    i += 2;
                }
            }
            continue;
        }
        // A short-option cluster.
        let cluster: Vec<char> = token[1..].chars().collect();
        let mut next_index = i + 1;
        for (j, c) in cluster.iter().enumerate() {
            let flag = format!("-{c}");
            if profile.denied_flags.contains(&flag.as_str()) {
                return false;
            }
            if profile.value_flags.contains(&flag.as_str()) {
                let inline: String = cluster[j + 1..].iter().collect();
                if !inline.is_empty() {
                    if !is_safe_literal(&inline) {
                        return false;
                    }
                } else {
                    match args.get(i + 1) {
                        Some(next) if !next.is_empty() && is_safe_literal(next) => {
                            next_index = i + 2
                        }
                        _ => return false,
                    }
                }
                break;
            }
            if !profile.boolean_flags.contains(&flag.as_str()) {
                return false;
            }
        }
        i = next_index;
    }
    positional >= profile.min_positional
        && profile.max_positional.map_or(true, |max| positional <= max)
}

/// `isSafeBinUsage`.
fn is_safe_bin_usage(
    argv: &[String],
    execution: &ExecutableResolution,
    safe_bins: &SafeBins,
    ctx: &ResolveContext,
) -> bool {
    let name = execution.executable_name.trim().to_lowercase();
    if name.is_empty() || !safe_bins.bins.contains(&name) {
        return false;
    }
    // jq, awk and sed can run code: never safe, whatever the config says.
    if ["jq", "awk", "gawk", "mawk", "nawk", "sed", "gsed"].contains(&name.as_str()) {
        return false;
    }
    let Some(trust) = trust_path(execution, ctx) else {
        return false;
    };
    let Some(dir) = Path::new(&trust)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
    else {
        return false;
    };
    if !safe_bins.trusted_dirs().contains(&dir) {
        return false;
    }
    match profile(&name) {
        Some(profile) => safe_bin_argv_ok(argv.get(1..).unwrap_or(&[]), &profile),
        None => false,
    }
}

fn has_path_selector(value: &str) -> bool {
    value.contains(['/', '\\', '~'])
}

/// `matchAllowlist`. `argv` is `None` when the segment's arguments are inexact.
pub fn match_allowlist<'a>(
    entries: &'a [AllowlistEntry],
    resolution: Option<&ExecutableResolution>,
    argv: Option<&[String]>,
    cwd: &str,
    home: Option<&str>,
) -> Option<&'a AllowlistEntry> {
    if entries.is_empty() {
        return None;
    }
    let resolution = resolution?;
    if let Some(wild) = entries
        .iter()
        .find(|e| e.pattern.trim() == "*" && e.arg_pattern.is_none() && !e.allow_always)
    {
        return Some(wild);
    }
    let resolved_path = resolution.resolved_path.as_deref()?;
    let trust = resolution
        .resolved_real_path
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(resolved_path);
    let mut path_only = None;
    let mut cwd_hash: Option<String> = None;
    for entry in entries {
        let pattern = entry.pattern.trim();
        if pattern.is_empty() {
            continue;
        }
        let path_matches = if has_path_selector(pattern) {
            glob_matches(pattern, trust, home)
        } else if pattern != "*" && !resolution.raw_executable.contains(['/', '\\', '~']) {
            let basename = Path::new(resolved_path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            glob_matches(pattern, &resolution.executable_name, home)
                || glob_matches(pattern, basename, home)
        } else {
            false
        };
        if !path_matches {
            continue;
        }
        let Some(arg_pattern) = entry.arg_pattern.as_deref() else {
            if !entry.allow_always && path_only.is_none() {
                path_only = Some(entry);
            }
            continue;
        };
        let Some(argv) = argv else { continue };
        if is_cwd_bound_hash_pattern(Some(arg_pattern)) {
            let hash = cwd_hash.get_or_insert_with(|| cwd_bound_hash_pattern(argv, cwd));
            if arg_pattern == hash {
                return Some(entry);
            }
        } else if !entry.allow_always
            && !arg_pattern.starts_with(LEGACY_HASH_PREFIX)
            && arg_pattern_matches(arg_pattern, argv)
        {
            return Some(entry);
        }
    }
    path_only
}

const ARGV_CARRYING_RUNNERS: &[&str] = &[
    "npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg", "bunx", "corepack", "xargs",
];

fn carries_command_in_args(argv: &[String]) -> bool {
    let Some(first) = argv.first() else {
        return false;
    };
    let name = normalize_executable_token(first);
    if is_shell_wrapper_executable(first) {
        return argv.len() > 1;
    }
    if ARGV_CARRYING_RUNNERS.contains(&name.as_str()) {
        return true;
    }
    name == "find"
        && argv
            .iter()
            .skip(1)
            .any(|a| ["-exec", "-execdir", "-ok", "-okdir"].contains(&a.trim()))
}

/// The matcher gives up on stdin (`s`), payload (`c`) and interactive (`i`) clusters, and on
/// startup-file options.
const MATCH_SCRIPT_SCAN: ScriptOperandScan = ScriptOperandScan {
    refuse_letters: &['s', 'c', 'i'],
    refuse_startup_files: true,
};

/// `resolveShellWrapperScriptCandidatePath`: the script a POSIX shell runs (`sh ./x.sh`), or
/// `None` for `-c`, `-s`, startup-file options and shells this port does not parse.
fn shell_script_path(argv: &[String], ctx: &ResolveContext) -> Option<String> {
    let wrapper = normalize_executable_token(argv.first()?);
    if !super::shells::is_parseable_posix_shell(&wrapper) || wrapper == "fish" || argv.len() < 2 {
        return None;
    }
    if posix_inline_match(argv).value_token_index.is_some() {
        return None;
    }
    let script = posix_script_operand(argv, &MATCH_SCRIPT_SCAN)?;
    let expanded = match script.strip_prefix("~/") {
        Some(rest) => format!("{}/{rest}", ctx.home.as_deref()?),
        None => script.to_string(),
    };
    Some(
        lexical_resolve(&ctx.cwd, &expanded)
            .to_string_lossy()
            .into_owned(),
    )
}

/// Evaluates one segment against the allowlist and safe bins.
pub fn evaluate_segment(
    segment: &Segment,
    entries: &[AllowlistEntry],
    safe_bins: &SafeBins,
    ctx: &ResolveContext,
) -> SegmentVerdict {
    let unsatisfied = SegmentVerdict {
        entry: None,
        satisfied_by: None,
    };
    if segment.policy_blocked() {
        return unsatisfied;
    }
    let cwd = ctx.cwd.to_string_lossy().into_owned();
    let home = ctx.home.as_deref();
    let effective = segment.effective_argv().to_vec();
    let exact_argv = segment.exact_argv.then_some(effective.as_slice());
    let mut entry = None;
    if let Some(resolution) = &segment.resolution {
        // Behind busybox the policy target differs from what runs; match the policy target.
        let policy = &resolution.policy;
        let candidate = candidate_path(policy, ctx);
        let trust = trust_path(policy, ctx);
        let candidate_resolution = ExecutableResolution {
            raw_executable: policy.raw_executable.clone(),
            resolved_path: candidate.clone(),
            resolved_real_path: trust,
            executable_name: policy.executable_name.clone(),
        };
        let matched = match_allowlist(entries, Some(&candidate_resolution), exact_argv, &cwd, home);
        let argv_bound = matched.is_some_and(|m| {
            m.arg_pattern
                .as_deref()
                .is_some_and(|a| !a.trim().is_empty())
        });
        let bare_wild = matched.is_some_and(|m| m.pattern.trim() == "*" && m.arg_pattern.is_none());
        entry = match matched {
            Some(_) if carries_command_in_args(&effective) && !argv_bound && !bare_wild => None,
            other => other.cloned(),
        };
        if entry.is_none() && carries_command_in_args(&effective) {
            if let Some(script) = shell_script_path(&effective, ctx) {
                let script_resolution = ExecutableResolution {
                    raw_executable: script.clone(),
                    resolved_path: Some(script.clone()),
                    resolved_real_path: realpath(Path::new(&script)),
                    executable_name: Path::new(&script)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("")
                        .to_string(),
                };
                // The script's own argv: the script path and what follows it.
                let script_argv: Option<Vec<String>> = exact_argv.map(|argv| {
                    let index = argv
                        .iter()
                        .position(|a| lexical_resolve(&ctx.cwd, a).to_string_lossy() == script)
                        .unwrap_or(argv.len());
                    let mut out = vec![script.clone()];
                    out.extend(argv.iter().skip(index + 1).cloned());
                    out
                });
                entry = match_allowlist(
                    entries,
                    Some(&script_resolution),
                    script_argv.as_deref(),
                    &cwd,
                    home,
                )
                .cloned();
            }
        }
    }
    if entry.is_some() {
        return SegmentVerdict {
            entry,
            satisfied_by: Some(SatisfiedBy::Allowlist),
        };
    }
    if let (Some(resolution), true) = (&segment.resolution, segment.exact_argv) {
        if is_safe_bin_usage(&effective, &resolution.execution, safe_bins, ctx) {
            return SegmentVerdict {
                entry: None,
                satisfied_by: Some(SatisfiedBy::SafeBins),
            };
        }
    }
    if segment.in_shell {
        let shell_segment = ShellSegment {
            argv: segment.argv.clone(),
            exact_argv: segment.exact_argv,
            raw: segment.raw.clone(),
        };
        if is_safe_builtin_segment(&shell_segment) {
            return SegmentVerdict {
                entry: None,
                satisfied_by: Some(SatisfiedBy::SafeBuiltins),
            };
        }
    }
    unsatisfied
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn ctx() -> ResolveContext {
        ResolveContext {
            cwd: PathBuf::from("/tmp"),
            path_env: "/usr/bin:/bin".into(),
            home: Some("/home/u".into()),
        }
    }

    fn entry(pattern: &str, arg: Option<&str>, always: bool) -> AllowlistEntry {
        AllowlistEntry {
            pattern: pattern.into(),
            arg_pattern: arg.map(Into::into),
            allow_always: always,
            id: None,
        }
    }

    fn satisfied(argv: &[&str], entries: &[AllowlistEntry]) -> Option<SatisfiedBy> {
        let ctx = ctx();
        let segment = Segment::from_argv(&v(argv), &ctx).unwrap();
        evaluate_segment(&segment, entries, &SafeBins::new(None, &[]), &ctx).satisfied_by
    }

    fn real(name: &str) -> String {
        let resolution = super::super::resolve::resolve_executable(name, &ctx());
        resolution
            .resolved_real_path
            .expect("test needs the binary")
    }

    #[test]
    fn path_and_bare_patterns() {
        let uname = real("uname");
        assert_eq!(
            satisfied(&["uname", "-a"], &[entry(&uname, None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["uname", "-a"], &[entry("uname", None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        // A bare pattern never matches a command typed with a path.
        assert_eq!(
            satisfied(&[&uname, "-a"], &[entry("uname", None, false)]),
            None
        );
        assert_eq!(
            satisfied(&["uname"], &[entry("/nonexistent/*", None, false)]),
            None
        );
        assert_eq!(
            satisfied(&["uname"], &[entry("*", None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["definitely-missing-xyz"], &[entry("*", None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(
                &["definitely-missing-xyz"],
                &[entry("definitely-missing-xyz", None, false)]
            ),
            None
        );
        // allow-always entries without argPattern are ignored.
        assert_eq!(satisfied(&["uname"], &[entry(&uname, None, true)]), None);
    }

    #[test]
    fn arg_patterns_and_hashes() {
        let uname = real("uname");
        let hash = cwd_bound_hash_pattern(&v(&["uname", "-s"]), "/tmp");
        assert_eq!(
            satisfied(&["uname", "-s"], &[entry(&uname, Some(&hash), true)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["uname", "-a"], &[entry(&uname, Some(&hash), true)]),
            None
        );
        assert_eq!(
            satisfied(&["uname", "-s"], &[entry(&uname, Some("^-s$"), false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["uname", "-a"], &[entry(&uname, Some("^-s$"), false)]),
            None
        );
        assert_eq!(
            satisfied(&["uname", "-s"], &[entry(&uname, Some("^-s$"), true)]),
            None,
            "allow-always: hash only"
        );
        assert_eq!(
            satisfied(&["uname", "-s"], &[entry(&uname, Some("(?=-s)"), false)]),
            None
        );
    }

    #[test]
    fn wrappers() {
        let uname = real("uname");
        assert_eq!(
            satisfied(&["nice", "uname"], &[entry(&uname, None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["sudo", "uname"], &[entry(&uname, None, false)]),
            None
        );
        assert_eq!(
            satisfied(&["sudo", "uname"], &[entry("*", None, false)]),
            None,
            "blocked wrappers never satisfy"
        );
        let sh = real("sh");
        assert_eq!(
            satisfied(&["sh", "-c", "id"], &[entry(&sh, None, false)]),
            None,
            "a shell needs an argv-bound entry"
        );
        assert_eq!(
            satisfied(&["sh", "-c", "id"], &[entry("*", None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
    }

    #[test]
    fn shell_script_matches_through_the_script_path() {
        let dir = std::env::temp_dir().join(format!("oc-allowlist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s.sh");
        std::fs::write(&script, "echo hi\n").unwrap();
        let script = script.to_string_lossy().into_owned();
        let real_script = realpath(Path::new(&script)).unwrap();
        assert_eq!(
            satisfied(&["sh", &script], &[entry(&real_script, None, false)]),
            Some(SatisfiedBy::Allowlist)
        );
        assert_eq!(
            satisfied(&["sh", "-c", &script], &[entry(&real_script, None, false)]),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nested_shells_are_analysed() {
        let ctx = ctx();
        let parsed =
            super::super::shell::analyze_payload("sh -c 'nice bash -c \"uname -s\"' && true")
                .unwrap();
        let segments: Vec<Segment> = parsed
            .iter()
            .map(|s| Segment::from_shell(s, &ctx))
            .collect();
        let flat = flatten_nested_shells(segments, &ctx, 0);
        let argvs: Vec<Vec<String>> = flat.iter().map(|s| s.argv.clone()).collect();
        assert_eq!(argvs, vec![v(&["uname", "-s"]), v(&["true"])]);
        // A login shell's payload is not bindable: the wrapper segment stays.
        let parsed = super::super::shell::analyze_payload("bash -lc uname").unwrap();
        let segments: Vec<Segment> = parsed
            .iter()
            .map(|s| Segment::from_shell(s, &ctx))
            .collect();
        assert_eq!(
            flatten_nested_shells(segments, &ctx, 0)[0].argv,
            v(&["bash", "-lc", "uname"])
        );
        // A hostile nested payload stays wrapped (and unsatisfied).
        let parsed = super::super::shell::analyze_payload("sh -c 'uname $(id)'").unwrap();
        let segments: Vec<Segment> = parsed
            .iter()
            .map(|s| Segment::from_shell(s, &ctx))
            .collect();
        let flat = flatten_nested_shells(segments, &ctx, 0);
        assert_eq!(flat[0].argv[0], "sh");
        let uname = real("uname");
        assert!(evaluate_segment(
            &flat[0],
            &[entry(&uname, None, false)],
            &SafeBins::new(None, &[]),
            &ctx
        )
        .satisfied_by
        .is_none());
    }

    #[test]
    fn safe_bins() {
        assert_eq!(
            satisfied(&["head", "-n", "5"], &[]),
            Some(SatisfiedBy::SafeBins)
        );
        assert_eq!(
            satisfied(&["head", "-n5"], &[]),
            Some(SatisfiedBy::SafeBins)
        );
        assert_eq!(satisfied(&["wc", "-l"], &[]), Some(SatisfiedBy::SafeBins));
        assert_eq!(
            satisfied(&["tr", "a-z", "A-Z"], &[]),
            Some(SatisfiedBy::SafeBins)
        );
        assert_eq!(satisfied(&["tr"], &[]), None, "tr needs a set");
        assert_eq!(
            satisfied(&["head", "/etc/passwd"], &[]),
            None,
            "no file operands"
        );
        assert_eq!(satisfied(&["tail", "-f"], &[]), None, "denied flag");
        assert_eq!(satisfied(&["wc", "--files0-from=x"], &[]), None);
        assert_eq!(
            satisfied(&["cut", "-d", "/", "-f1"], &[]),
            None,
            "path-like value"
        );
        assert_eq!(
            satisfied(&["head", "--li", "3"], &[]),
            Some(SatisfiedBy::SafeBins),
            "unique long prefix"
        );
        assert_eq!(satisfied(&["sort"], &[]), None, "not a default safe bin");
        assert_eq!(satisfied(&["head", "-x"], &[]), None, "unknown flag");
    }

    #[test]
    fn trusted_dirs_are_resolved_only_for_a_safe_bin_name() {
        let ctx = ctx();
        let bins = SafeBins::new(None, &[]);
        let uname = Segment::from_argv(&v(&["uname", "-s"]), &ctx).unwrap();
        assert_eq!(
            evaluate_segment(&uname, &[], &bins, &ctx).satisfied_by,
            None
        );
        assert!(bins.trusted.get().is_none(), "no realpaths for uname");
        let head = Segment::from_argv(&v(&["head", "-n", "1"]), &ctx).unwrap();
        assert_eq!(
            evaluate_segment(&head, &[], &bins, &ctx).satisfied_by,
            Some(SatisfiedBy::SafeBins)
        );
        assert!(bins.trusted_dirs().iter().any(|d| d == "/usr/bin"));
    }

    #[test]
    fn inexact_shell_segments_only_match_path_only_entries() {
        let ctx = ctx();
        let parsed = super::super::shell::analyze_payload("uname *").unwrap();
        let segment = Segment::from_shell(&parsed[0], &ctx);
        let uname = real("uname");
        let hash = cwd_bound_hash_pattern(&v(&["uname", "*"]), "/tmp");
        let bins = SafeBins::new(None, &[]);
        assert!(
            evaluate_segment(&segment, &[entry(&uname, Some(&hash), true)], &bins, &ctx)
                .satisfied_by
                .is_none()
        );
        assert!(
            evaluate_segment(&segment, &[entry(&uname, Some(".*"), false)], &bins, &ctx)
                .satisfied_by
                .is_none()
        );
        assert!(
            evaluate_segment(&segment, &[entry(&uname, None, false)], &bins, &ctx)
                .satisfied_by
                .is_some()
        );
        let parsed = super::super::shell::analyze_payload("head -n *").unwrap();
        let segment = Segment::from_shell(&parsed[0], &ctx);
        assert!(evaluate_segment(&segment, &[], &bins, &ctx)
            .satisfied_by
            .is_none());
        let parsed = super::super::shell::analyze_payload("true").unwrap();
        let segment = Segment::from_shell(&parsed[0], &ctx);
        assert!(evaluate_segment(&segment, &[], &bins, &ctx)
            .satisfied_by
            .is_some());
    }
}
