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
//! Safe bins are [`super::safe_bins`]; the segments come from the resolve stage
//! ([`super::resolve::resolve_request`]).

use std::path::Path;

use super::argv::{
    is_shell_wrapper_executable, normalize_executable_token, posix_inline_match,
    posix_script_operand, ScriptOperandScan,
};
use super::pattern::{
    arg_pattern_matches, cwd_bound_hash_pattern, is_cwd_bound_hash_pattern, PathRules,
    LEGACY_HASH_PREFIX,
};
use super::policy::AllowlistEntry;
use super::resolve::{
    candidate_path, physical_resolve, realpath, trust_path, Carrier, ExecutableResolution,
    ResolveContext, ResolvedSegments, Segment,
};
use crate::platform::{windows_path, Platform};
use super::safe_bins::{is_safe_bin_usage, SafeBins};
use super::shell::{is_safe_builtin_segment, ShellSegment};

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

fn has_path_selector(value: &str) -> bool {
    value.contains(['/', '\\', '~'])
}

/// `matchAllowlist`. `argv` is `None` when the segment's arguments are inexact; `rules` say how
/// patterns read paths (see [`super::pattern`]).
pub fn match_allowlist<'a>(
    entries: &'a [AllowlistEntry],
    resolution: Option<&ExecutableResolution>,
    argv: Option<&[String]>,
    cwd: &str,
    rules: PathRules<'_>,
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
            rules.glob_matches(pattern, trust)
        } else if pattern != "*" && !resolution.raw_executable.contains(['/', '\\', '~']) {
            let basename = match rules.platform {
                Platform::Unix => Path::new(resolved_path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(""),
                Platform::Windows => windows_path::file_name(resolved_path),
            };
            rules.glob_matches(pattern, &resolution.executable_name)
                || rules.glob_matches(pattern, basename)
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
    name == "find" && !find_is_read_only(&argv[1..])
}

/// `find` primaries and options that only read, with how many words follow each. Anything
/// else (`-delete`, `-exec`, `-fprint`, `-fls`, `-fprintf`, an option this port does not know)
/// may write or run, so a path-only entry does not cover it (an argPattern can).
const FIND_READ_ONLY: &[(&str, usize)] = &[
    ("-name", 1),
    ("-iname", 1),
    ("-path", 1),
    ("-ipath", 1),
    ("-wholename", 1),
    ("-iwholename", 1),
    ("-regex", 1),
    ("-iregex", 1),
    ("-regextype", 1),
    ("-lname", 1),
    ("-ilname", 1),
    ("-type", 1),
    ("-xtype", 1),
    ("-size", 1),
    ("-perm", 1),
    ("-user", 1),
    ("-group", 1),
    ("-uid", 1),
    ("-gid", 1),
    ("-links", 1),
    ("-inum", 1),
    ("-samefile", 1),
    ("-newer", 1),
    ("-anewer", 1),
    ("-cnewer", 1),
    ("-mtime", 1),
    ("-mmin", 1),
    ("-atime", 1),
    ("-amin", 1),
    ("-ctime", 1),
    ("-cmin", 1),
    ("-used", 1),
    ("-fstype", 1),
    ("-context", 1),
    ("-maxdepth", 1),
    ("-mindepth", 1),
    ("-printf", 1),
    ("-nouser", 0),
    ("-nogroup", 0),
    ("-empty", 0),
    ("-executable", 0),
    ("-readable", 0),
    ("-writable", 0),
    ("-true", 0),
    ("-false", 0),
    ("-print", 0),
    ("-print0", 0),
    ("-ls", 0),
    ("-prune", 0),
    ("-quit", 0),
    ("-depth", 0),
    ("-d", 0),
    ("-mount", 0),
    ("-xdev", 0),
    ("-noleaf", 0),
    ("-follow", 0),
    ("-daystart", 0),
    ("-ignore_readdir_race", 0),
    ("-noignore_readdir_race", 0),
    ("-a", 0),
    ("-o", 0),
    ("-and", 0),
    ("-or", 0),
    ("-not", 0),
    ("-H", 0),
    ("-L", 0),
    ("-P", 0),
];

/// True when every word of a `find` argv (after `find`) is a path, an operator, or a
/// read-only primary with its operands.
fn find_is_read_only(args: &[String]) -> bool {
    let mut index = 0;
    while let Some(word) = args.get(index) {
        let word = word.trim();
        index += 1;
        if !word.starts_with('-') || matches!(word, "(" | ")" | "!" | ",") {
            continue;
        }
        // `-newerXY REF`.
        if word.starts_with("-newer") && word.len() == 8 {
            index += 1;
            continue;
        }
        match FIND_READ_ONLY.iter().find(|(name, _)| *name == word) {
            Some((_, operands)) => index += operands,
            None => return false,
        }
    }
    true
}

/// The match stage's trust rule for a [`Carrier`] (a shell or a wrapper that runs a payload):
/// its real path is allowlisted (a path-only entry, or `*`), or it is a system file: the file
/// and every directory above it owned by root and writable by nobody else (no group or world
/// write bit), as OpenSSH's StrictModes reads `authorized_keys`. A carrier that does not
/// resolve, or is named by a relative path after a `cd`, is never trusted.
pub fn is_trusted_carrier(
    carrier: &Carrier,
    entries: &[AllowlistEntry],
    ctx: &ResolveContext,
) -> bool {
    !carrier.relative_after_cd && is_trusted_file(&carrier.resolution, entries, ctx)
}

/// [`is_trusted_carrier`]'s rule for one resolved file.
fn is_trusted_file(
    resolution: &ExecutableResolution,
    entries: &[AllowlistEntry],
    ctx: &ResolveContext,
) -> bool {
    let Some(real) = resolution.resolved_real_path.as_deref() else {
        return false;
    };
    let cwd = ctx.cwd.to_string_lossy();
    if match_allowlist(entries, Some(resolution), None, &cwd, ctx.path_rules()).is_some() {
        return true;
    }
    // Windows has no root-owned chain to trust; there only an entry trusts a file.
    ctx.platform == Platform::Unix && is_root_owned_chain(Path::new(real))
}

/// The file and each directory above it (by real path) owned by uid 0 with no group or world
/// write bit.
pub fn is_root_owned_chain(real: &Path) -> bool {
    crate::platform::files::root_owned_chain(real)
}

/// The matcher gives up on stdin (`s`), payload (`c`) and interactive (`i`) clusters, and on
/// startup-file options.
const MATCH_SCRIPT_SCAN: ScriptOperandScan = ScriptOperandScan {
    refuse_letters: &['s', 'c', 'i'],
    refuse_startup_files: true,
};

/// A shell reading a script file (`sh ./x.sh a b`): the script's path, and the script's own
/// argv (that path, then the words after the operand), which a cwd-bound hash entry binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInvocation {
    pub path: String,
    pub argv: Vec<String>,
}

/// `resolveShellWrapperScriptCandidatePath`: the script a POSIX shell runs (`sh ./x.sh`), or
/// `None` for `-c`, `-s`, `-i`, startup-file options, `fish` and shells this port does not
/// parse. The one reading of a script invocation: the matcher compares it, and allow-always
/// ([`super::prepare`]) records it, so a grant names exactly what the matcher accepts.
///
/// A leading `~/` names HOME only in a shell payload, where the shell expanded it (a quoted
/// `'~/x'` is refused by the analysis); in a direct argv no shell expands it and the shell
/// opens `<cwd>/~/x`.
pub fn shell_script_invocation(
    argv: &[String],
    ctx: &ResolveContext,
    in_shell: bool,
) -> Option<ScriptInvocation> {
    let wrapper = normalize_executable_token(argv.first()?);
    if !super::shells::is_parseable_posix_shell(&wrapper) || wrapper == "fish" || argv.len() < 2 {
        return None;
    }
    if posix_inline_match(argv).value_token_index.is_some() {
        return None;
    }
    let script = posix_script_operand(argv, &MATCH_SCRIPT_SCAN)?;
    // The operand is a slice of its own argv word: its position, not a search by path,
    // says which words follow it.
    let index = argv.iter().position(|a| std::ptr::eq(a.as_str(), script))?;
    let expanded = match script.strip_prefix("~/").filter(|_| in_shell) {
        Some(rest) => format!("{}/{rest}", ctx.home.as_deref()?),
        None => script.to_string(),
    };
    let path = physical_resolve(&ctx.cwd, &expanded)
        .to_string_lossy()
        .into_owned();
    let mut script_argv = vec![path.clone()];
    script_argv.extend(argv[index + 1..].iter().cloned());
    Some(ScriptInvocation {
        path,
        argv: script_argv,
    })
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
    if segment.policy_blocked()
        || segment.runs_relative_word_after_cd()
        || segment.interprets_an_expandable_word()
    {
        return unsatisfied;
    }
    let cwd = ctx.cwd.to_string_lossy().into_owned();
    let rules = ctx.path_rules();
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
        // A cwd-bound allow-always hash names the cwd it was granted in; after a `cd` in the
        // payload the segment runs elsewhere, so such entries are left out.
        let unbound: Vec<AllowlistEntry>;
        let entries = if segment.after_cd {
            unbound = entries
                .iter()
                .filter(|e| !is_cwd_bound_hash_pattern(e.arg_pattern.as_deref()))
                .cloned()
                .collect();
            &unbound[..]
        } else {
            entries
        };
        let matched =
            match_allowlist(entries, Some(&candidate_resolution), exact_argv, &cwd, rules);
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
        // After a `cd` the script operand was resolved against the wrong directory
        // (`cd /x && sh ./s.sh` reads /x/s.sh): no match through it.
        // POSIX scripts only: the Windows rules match no script operand.
        if entry.is_none()
            && carries_command_in_args(&effective)
            && !segment.after_cd
            && ctx.platform == Platform::Unix
        {
            if let Some(script) = shell_script_invocation(&effective, ctx, segment.in_shell) {
                let script_resolution = ExecutableResolution {
                    raw_executable: script.path.clone(),
                    resolved_path: Some(script.path.clone()),
                    resolved_real_path: realpath(Path::new(&script.path)),
                    executable_name: Path::new(&script.path)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("")
                        .to_string(),
                };
                let script_argv = exact_argv.map(|_| script.argv.as_slice());
                // The script is what the entry names; the shell that reads it must be a
                // trusted file too (`./sh allowed.sh` would run the attacker's `./sh`).
                let shell_trusted = is_trusted_file(&resolution.execution, entries, ctx);
                entry = match_allowlist(
                    entries,
                    Some(&script_resolution),
                    script_argv,
                    &cwd,
                    rules,
                )
                .filter(|_| shell_trusted)
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
    // The TS host has no safe bins or safe builtins on Windows (`isSafeBinUsage`,
    // `isSafeBuiltinSegment` return false on win32).
    if ctx.platform == Platform::Windows {
        return unsatisfied;
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
            after_cd: segment.after_cd,
            expandable: segment.expandable.clone(),
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

/// The match stage's value: one verdict per resolved segment, and whether all are satisfied.
#[derive(Debug, Clone)]
pub struct Matches {
    pub verdicts: Vec<SegmentVerdict>,
    /// The analysis succeeded, found at least one segment, and every segment is satisfied.
    pub all_satisfied: bool,
}

/// The match stage: each resolved segment against the allowlist entries and safe bins.
pub fn match_segments(
    resolved: &ResolvedSegments,
    entries: &[AllowlistEntry],
    safe_bins: &SafeBins,
    ctx: &ResolveContext,
) -> Matches {
    let verdicts: Vec<SegmentVerdict> = resolved
        .segments
        .iter()
        .map(|segment| evaluate_segment(segment, entries, safe_bins, ctx))
        .collect();
    let all_satisfied = resolved.analysis_ok
        && !verdicts.is_empty()
        && verdicts.iter().all(|v| v.satisfied_by.is_some())
        && resolved
            .carriers
            .iter()
            .all(|c| is_trusted_carrier(c, entries, ctx));
    Matches {
        verdicts,
        all_satisfied,
    }
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::approvals::command::resolve_command_request;
    use crate::approvals::resolve::{flatten_nested_shells, resolve_request};
    use std::path::PathBuf;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn ctx() -> ResolveContext {
        ResolveContext {
            cwd: PathBuf::from("/tmp"),
            path_env: "/usr/bin:/bin".into(),
            home: Some("/home/u".into()),
            ..Default::default()
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

    #[test]
    fn match_stage_needs_every_segment() {
        let ctx = ctx();
        let bins = SafeBins::new(None, &[]);
        let request = resolve_command_request(v(&["sh", "-c", "uname -s && id"]), None).unwrap();
        let resolved = resolve_request(&request, &ctx);
        assert!(resolved.analysis_ok);
        let uname = entry(&real("uname"), None, false);
        let matches = match_segments(&resolved, std::slice::from_ref(&uname), &bins, &ctx);
        assert_eq!(matches.verdicts.len(), 2);
        assert!(!matches.all_satisfied, "id is not allowed");
        let both = [uname, entry(&real("id"), None, false)];
        assert!(match_segments(&resolved, &both, &bins, &ctx).all_satisfied);
        // A failed analysis is never satisfied, not even by `*`.
        let request = resolve_command_request(v(&["sh", "-c", "uname $(id)"]), None).unwrap();
        let resolved = resolve_request(&request, &ctx);
        let matches = match_segments(&resolved, &[entry("*", None, false)], &bins, &ctx);
        assert!(matches.verdicts.is_empty());
        assert!(!matches.all_satisfied);
    }

    /// A fresh directory the attacker controls, with executable files `names` in it.
    fn attacker_dir(tag: &str, names: &[&str]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("oc-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in names {
            let file = dir.join(name);
            std::fs::write(&file, "#!/bin/sh\necho pwned\n").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    /// Whether a whole request passes the match stage in `cwd` under `entries`.
    fn request_passes(argv: &[&str], cwd: &Path, entries: &[AllowlistEntry]) -> bool {
        let ctx = ResolveContext {
            cwd: cwd.to_path_buf(),
            path_env: "/usr/bin:/bin".into(),
            home: Some("/home/u".into()),
            ..Default::default()
        };
        let request = resolve_command_request(v(argv), None).unwrap();
        let resolved = resolve_request(&request, &ctx);
        match_segments(&resolved, entries, &SafeBins::new(None, &[]), &ctx).all_satisfied
    }

    fn echo_ls() -> Vec<AllowlistEntry> {
        vec![entry(&real("echo"), None, false), entry(&real("ls"), None, false)]
    }

    #[test]
    fn the_shell_and_its_wrappers_must_be_trusted_files() {
        let dir = attacker_dir("carriers", &["sh", "bash", "nice", "busybox", "timeout", "env"]);
        let d = dir.to_string_lossy().into_owned();
        let entries = echo_ls();
        // The legitimate shapes pass: system shells and wrappers.
        for argv in [
            vec!["sh", "-c", "echo hi"],
            vec!["/bin/sh", "-c", "echo hi"],
            vec!["nice", "sh", "-c", "echo hi"],
            vec!["timeout", "5", "sh", "-c", "echo hi && ls"],
            vec!["sh", "-c", "nice sh -c 'echo hi'"],
        ] {
            assert!(request_passes(&argv, Path::new("/tmp"), &entries), "{argv:?}");
        }
        let sh = format!("{d}/sh");
        let nice = format!("{d}/nice");
        let busybox = format!("{d}/busybox");
        for argv in [
            vec![sh.as_str(), "-c", "echo hi"],
            vec!["./sh", "-c", "echo hi"],
            vec!["./bash", "-c", "echo hi"],
            vec!["./nice", "sh", "-c", "echo hi"],
            vec![nice.as_str(), "sh", "-c", "echo hi"],
            vec!["nice", "./sh", "-c", "echo hi"],
            vec!["./timeout", "5", "sh", "-c", "echo hi"],
            vec![busybox.as_str(), "sh", "-c", "echo hi"],
            vec!["./busybox", "sh", "-c", "echo hi"],
            vec!["sh", "-c", "./sh -c 'echo hi'"],
            vec!["sh", "-c", "nice ./bash -c 'echo hi'"],
            vec!["sh", "-c", "./nice sh -c 'echo hi'"],
            vec!["bash", "-c", "exec ./sh -c 'echo hi'"],
            // A wrapper in front of an allowlisted segment runs as written in a payload.
            vec!["sh", "-c", "./nice echo hi"],
            vec!["sh", "-c", "ls && ./timeout 5 echo hi"],
            vec!["sh", "-c", "nice ./nice echo hi"],
            vec!["sh", "-c", "./env echo hi"],
            vec!["sh", "-c", "./busybox echo hi"],
        ] {
            assert!(!request_passes(&argv, &dir, &entries), "{argv:?}");
        }
        // Explicitly allowlisting the file makes it trusted.
        // A script allowlisted by path is read by a trusted shell only.
        let script = dir.join("s.sh");
        std::fs::write(&script, "echo hi\n").unwrap();
        let script = script.to_string_lossy().into_owned();
        let with_script = [entry(&realpath(Path::new(&script)).unwrap(), None, false)];
        assert!(request_passes(&["sh", &script], &dir, &with_script));
        assert!(!request_passes(&["./sh", &script], &dir, &with_script));
        assert!(!request_passes(&["./bash", &script], &dir, &with_script));
        assert!(!request_passes(&["sh", "-c", &format!("./sh {script}")], &dir, &with_script));
        assert!(request_passes(&["sh", "-c", "sh ./s.sh"], &dir, &with_script));
        assert!(!request_passes(&["sh", "-c", "cd / && sh ./s.sh"], &dir, &with_script));
        assert!(!request_passes(&["sh", "-c", "cd /tmp; bash s.sh"], &dir, &with_script));
        let mut trusting = entries.clone();
        trusting.push(entry(&realpath(Path::new(&sh)).unwrap(), None, false));
        assert!(request_passes(&[&sh, "-c", "echo hi"], &dir, &trusting));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn relative_words_after_cd_are_misses_behind_wrappers_and_nested_shells() {
        let dir = attacker_dir("cd", &["x", "echo"]);
        let d = dir.to_string_lossy().into_owned();
        // Allow the attacker's x by its real path, as an allowlist for ./x in the cwd would.
        let mut entries = echo_ls();
        entries.push(entry(&realpath(&dir.join("x")).unwrap(), None, false));
        assert!(request_passes(&["sh", "-c", "./x"], &dir, &entries));
        for payload in [
            format!("cd {d} && nice ./x"),
            format!("cd {d} && timeout 5 ./x"),
            format!("cd {d} && env ./x"),
            format!("cd {d} && nice -n 5 timeout 5 ./x"),
            format!("cd {d} && sh -c ./x"),
            format!("cd {d} && bash -c 'nice ./x'"),
            format!("cd {d} && sh -c 'sh -c ./x'"),
            format!("cd {d} && ./echo hi"),
            format!("cd {d} && exec ./x"),
        ] {
            assert!(!request_passes(&["sh", "-c", &payload], Path::new("/"), &entries), "{payload}");
        }
        assert!(request_passes(
            &["sh", "-c", &format!("cd {d} && ls && /usr/bin/echo hi")],
            Path::new("/"),
            &entries
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn find_by_path_alone_allows_only_read_only_predicates() {
        let find = real("find");
        let entries = [entry(&find, None, false)];
        for argv in [
            vec!["find", "/tmp", "-name", "*.txt"],
            vec!["find", ".", "-maxdepth", "1", "-type", "f", "-print0"],
            vec!["find", "/tmp", "(", "-name", "a", "-o", "-newermt", "x", ")", "-ls"],
        ] {
            assert_eq!(satisfied(&argv, &entries), Some(SatisfiedBy::Allowlist), "{argv:?}");
        }
        for argv in [
            vec!["find", "/tmp", "-delete"],
            vec!["find", "/tmp", "-name", "x", "-delete"],
            vec!["find", "/tmp", "-fprint", "/tmp/out"],
            vec!["find", "/tmp", "-fprint0", "/tmp/out"],
            vec!["find", "/tmp", "-fprintf", "/tmp/out", "%p"],
            vec!["find", "/tmp", "-fls", "/tmp/out"],
            vec!["find", "/tmp", "-exec", "id", ";"],
            vec!["find", "/tmp", "-execdir", "id", "+"],
            vec!["find", "/tmp", "-okdir", "id", ";"],
            vec!["find", "-D", "exec", "/tmp"],
            vec!["nice", "find", "/tmp", "-delete"],
        ] {
            assert_eq!(satisfied(&argv, &entries), None, "{argv:?}");
        }
        // The same through a shell payload.
        assert!(!request_passes(&["sh", "-c", "find /tmp -delete"], Path::new("/tmp"), &entries));
        // An argPattern can say more.
        let bound = [entry(&find, Some("^/tmp -delete$"), false)];
        assert_eq!(
            satisfied(&["find", "/tmp", "-delete"], &bound),
            Some(SatisfiedBy::Allowlist)
        );
    }

    #[test]
    fn a_cwd_bound_grant_does_not_follow_a_cd() {
        let ls = real("ls");
        let hash = cwd_bound_hash_pattern(&v(&["ls", "-a"]), "/tmp");
        let entries = [entry(&ls, Some(&hash), true)];
        assert!(request_passes(&["sh", "-c", "ls -a"], Path::new("/tmp"), &entries));
        for payload in ["cd / && ls -a", "cd /etc; ls -a", "cd / && sh -c 'ls -a'", "command cd / && ls -a"] {
            assert!(!request_passes(&["sh", "-c", payload], Path::new("/tmp"), &entries), "{payload}");
        }
    }
}
