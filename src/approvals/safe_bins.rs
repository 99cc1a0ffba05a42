//! Safe bins (protocol §6.5): stdin-only filters that run without an allowlist entry.
//!
//! Safe bins: `cut uniq head tail tr wc` by default (`tools.exec.safeBins` may choose among
//! `jq grep cut sort uniq head tail tr wc`; other names have no profile and are never safe),
//! resolving inside `/bin`, `/usr/bin` or `tools.exec.safeBinTrustedDirs`, with an argv that
//! passes the bin's profile: known flags only, no denied flags, no path-like, glob or `$`
//! tokens, and a bounded number of positional (stdin-only) operands.

use std::cell::OnceCell;
use std::path::Path;

use super::resolve::{physical_resolve, realpath, trust_path, ExecutableResolution, ResolveContext};

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
                    physical_resolve(Path::new("/"), dir)
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
pub(crate) fn is_safe_bin_usage(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::allowlist::evaluate_segment;
    use crate::approvals::allowlist::SatisfiedBy;
    use crate::approvals::resolve::Segment;
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

    #[cfg_attr(windows, ignore = "POSIX: root-owned POSIX trusted directories")]

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
}
