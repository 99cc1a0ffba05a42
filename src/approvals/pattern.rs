//! Allowlist pattern primitives: path globs, `argPattern`s, and the generated hash patterns.
//!
//! * Globs (`pattern`): `~` at the start expands to `HOME`; `**` matches anything (except line
//!   terminators, as JS `.*`), `*` anything but `/`, `?` one character but `/`; everything else is
//!   literal; anchored at both ends; case-sensitive. A target with `.`/`..` segments is
//!   normalised first when the pattern has a wildcard.
//! * On Windows ([`glob_matches_windows`], the TS host's win32 branch and more): both sides are
//!   compared in [`windows_path::match_form`] (case-insensitive, `\` = `/`, no `\\?\`, no
//!   trailing dots or spaces); a pattern without a wildcard is compared by real path (so an 8.3
//!   name like `C:\PROGRA~1` matches the long one); a pattern whose last component has no
//!   extension also matches that name with `.exe`, `.com`, `.bat` or `.cmd`, as Windows runs
//!   `C:\Tools\git` as `C:\Tools\git.exe`.
//! * `argPattern`: `sha256:cwd-argv:v1:<hex>` matches only the exact argv in the exact cwd;
//!   `sha256:argv:` (legacy) never matches; anything else is a hand-written ECMAScript regex
//!   tested against the arguments joined by spaces (or NUL-joined when the pattern holds a NUL),
//!   evaluated by [`super::regex`], which fails closed on syntax it cannot reproduce.

use crate::digest::sha256_hex;

use super::regex::Regex;
use super::resolve::posix_normalize;
use crate::platform::windows_path;
use crate::platform::Platform;

/// Prefix of the cwd- and argv-bound patterns `allow-always` writes.
pub const CWD_BOUND_HASH_PREFIX: &str = "sha256:cwd-argv:v1:";
/// Prefix of the retired argv-only hash patterns; they never match.
pub const LEGACY_HASH_PREFIX: &str = "sha256:argv:";

/// True for either generated hash form.
pub fn is_generated_hash_pattern(arg_pattern: Option<&str>) -> bool {
    arg_pattern
        .is_some_and(|p| p.starts_with(CWD_BOUND_HASH_PREFIX) || p.starts_with(LEGACY_HASH_PREFIX))
}

/// True for the cwd-bound hash form.
pub fn is_cwd_bound_hash_pattern(arg_pattern: Option<&str>) -> bool {
    arg_pattern.is_some_and(|p| p.starts_with(CWD_BOUND_HASH_PREFIX))
}

/// `buildCwdBoundHashedArgPattern`: `sha256:cwd-argv:v1:` + hex(sha256(subject)) with
/// `subject = len(cwd) NUL cwd NUL argc NUL (len(arg) NUL arg NUL)*` over argv[1..], lengths in
/// UTF-8 bytes and `cwd` posix-normalised.
pub fn cwd_bound_hash_pattern(argv: &[String], cwd: &str) -> String {
    let cwd = posix_normalize(&cwd.replace('\\', "/"));
    let args = argv.get(1..).unwrap_or(&[]);
    let mut subject = format!("{}\0{}\0{}\0", cwd.len(), cwd, args.len());
    for arg in args {
        subject.push_str(&format!("{}\0{}\0", arg.len(), arg));
    }
    format!("{CWD_BOUND_HASH_PREFIX}{}", sha256_hex(subject.as_bytes()))
}

/// `=node-command:` + the first 16 hex digits of sha256(commandText): the exact-command marker
/// the gateway checks before prompting again.
pub fn node_command_marker(command_text: &str) -> String {
    format!(
        "=node-command:{}",
        &sha256_hex(command_text.as_bytes())[..16]
    )
}

/// `=command:` + 16 hex digits: the exact-command durable approval (host exec form).
pub fn durable_command_marker(command_text: &str) -> String {
    format!("=command:{}", &sha256_hex(command_text.as_bytes())[..16])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobToken {
    Literal(char),
    Star,
    DoubleStar,
    Question,
}

fn glob_tokens(pattern: &str) -> Vec<GlobToken> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                tokens.push(GlobToken::DoubleStar);
                i += 2;
            }
            '*' => {
                tokens.push(GlobToken::Star);
                i += 1;
            }
            '?' => {
                tokens.push(GlobToken::Question);
                i += 1;
            }
            c => {
                tokens.push(GlobToken::Literal(c));
                i += 1;
            }
        }
    }
    tokens
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// Anchored glob match (dynamic programming over pattern × target).
fn glob_match(tokens: &[GlobToken], target: &[char]) -> bool {
    let n = target.len();
    // reachable[j]: the pattern prefix processed so far can consume exactly target[..j].
    let mut reachable = vec![false; n + 1];
    reachable[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        match token {
            GlobToken::Literal(c) => {
                for j in 0..n {
                    if reachable[j] && target[j] == *c {
                        next[j + 1] = true;
                    }
                }
            }
            GlobToken::Question => {
                for j in 0..n {
                    if reachable[j] && target[j] != '/' {
                        next[j + 1] = true;
                    }
                }
            }
            GlobToken::Star | GlobToken::DoubleStar => {
                let allowed = |c: char| match token {
                    GlobToken::Star => c != '/',
                    _ => !is_line_terminator(c),
                };
                for j in 0..=n {
                    if reachable[j] || (j > 0 && next[j - 1] && allowed(target[j - 1])) {
                        next[j] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[n]
}

fn normalize_match_target(value: &str) -> String {
    value.replace("\\\\", "/")
}

fn has_dot_path_segment(value: &str) -> bool {
    value
        .replace('\\', "/")
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

/// `matchesExecAllowlistPattern`: glob `pattern` against `target`.
pub fn glob_matches(pattern: &str, target: &str, home: Option<&str>) -> bool {
    let trimmed = pattern.trim();
    if trimmed.is_empty() {
        return false;
    }
    let expanded = if trimmed == "~" || trimmed.starts_with("~/") {
        match home.filter(|h| !h.is_empty()) {
            Some(home) => format!("{home}{}", &trimmed[1..]),
            // Without HOME the pattern cannot name anything: fail closed.
            None => return false,
        }
    } else {
        trimmed.to_string()
    };
    let has_wildcard = expanded.contains(['*', '?']);
    let pattern = normalize_match_target(&expanded);
    let mut target = normalize_match_target(target);
    if has_wildcard && has_dot_path_segment(&target) {
        target = posix_normalize(&target);
    }
    let chars: Vec<char> = target.chars().collect();
    glob_match(&glob_tokens(&pattern), &chars)
}

/// How globs read paths: the platform's rules, HOME for `~`, and the `realpath` a Windows
/// literal pattern is compared through.
#[derive(Clone, Copy)]
pub struct PathRules<'a> {
    pub platform: Platform,
    pub home: Option<&'a str>,
    pub realpath: fn(&str) -> Option<String>,
}

impl PathRules<'_> {
    /// `pattern` against `target` under these rules.
    pub fn glob_matches(&self, pattern: &str, target: &str) -> bool {
        match self.platform {
            Platform::Unix => glob_matches(pattern, target, self.home),
            Platform::Windows => glob_matches_windows(pattern, target, self.home, self.realpath),
        }
    }
}

/// `matchesExecAllowlistPattern` on win32 (see the module doc).
pub fn glob_matches_windows(
    pattern: &str,
    target: &str,
    home: Option<&str>,
    realpath: fn(&str) -> Option<String>,
) -> bool {
    let trimmed = pattern.trim();
    if trimmed.is_empty() {
        return false;
    }
    let expanded = if trimmed == "~" || trimmed.starts_with("~/") || trimmed.starts_with("~\\") {
        match home.filter(|h| !h.is_empty()) {
            Some(home) => format!("{home}{}", &trimmed[1..]),
            None => return false,
        }
    } else {
        trimmed.to_string()
    };
    let has_wildcard = expanded.contains(['*', '?']);
    let (pattern, target) = if has_wildcard {
        (expanded, target.to_string())
    } else {
        (
            realpath(&expanded).unwrap_or(expanded),
            realpath(target).unwrap_or_else(|| target.to_string()),
        )
    };
    let pattern = windows_path::match_form(&pattern);
    let mut target = windows_path::match_form(&target);
    if has_wildcard && has_dot_path_segment(&target) {
        target = fold_dot_segments(&target);
    }
    let tokens = glob_tokens(&pattern);
    let matches = |t: &str| glob_match(&tokens, &t.chars().collect::<Vec<_>>());
    if matches(&target) {
        return true;
    }
    let last = pattern.rsplit('/').next().unwrap_or("");
    windows_path::extension(last).is_empty() && {
        let bare = windows_path::strip_native_extension(&target);
        bare.len() != target.len() && matches(bare)
    }
}

/// `.` and `..` folded in a `/`-separated match form (`path.win32.normalize`); `..` never
/// climbs above the root or a drive.
fn fold_dot_segments(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut pieces = p.split('/').peekable();
    let mut prefix = String::new();
    if p.starts_with("//") {
        prefix.push_str("//");
        pieces.next();
        pieces.next();
    } else if p.starts_with('/') {
        prefix.push('/');
        pieces.next();
    }
    let floor = usize::from(pieces.peek().is_some_and(|first| first.ends_with(':')));
    for piece in pieces {
        match piece {
            "" | "." => {}
            ".." => {
                if parts.len() > floor {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    format!("{prefix}{}", parts.join("/"))
}

/// `matchArgPattern` for a hand-written (non-hash) pattern.
pub fn arg_pattern_matches(arg_pattern: &str, argv: &[String]) -> bool {
    if arg_pattern.starts_with(LEGACY_HASH_PREFIX) {
        return false;
    }
    let args = argv.get(1..).unwrap_or(&[]);
    let subject = if arg_pattern.contains('\0') {
        if args.is_empty() {
            "\0\0".to_string()
        } else {
            format!("{}\0", args.join("\0"))
        }
    } else {
        args.join(" ")
    };
    match Regex::new(arg_pattern) {
        Ok(regex) => regex.test(&subject),
        Err(unsupported) => {
            log::debug!(
                "argPattern {arg_pattern:?} is not evaluated ({}); it never matches",
                unsupported.0
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_test_vectors() {
        assert_eq!(
            cwd_bound_hash_pattern(&v(&["/usr/bin/uname", "-s"]), "/tmp"),
            "sha256:cwd-argv:v1:f51b9bb536bd638ffab79981a615f5cc5d1a8ffe6f7f1e54dc8b3af6070c419e"
        );
        assert_eq!(
            node_command_marker("/usr/bin/uname -s"),
            "=node-command:09cb476c277ff1b4"
        );
        // Captured live: echo "hi there" in /tmp.
        assert_eq!(
            cwd_bound_hash_pattern(&v(&["/usr/bin/echo", "hi there"]), "/tmp"),
            "sha256:cwd-argv:v1:3c51fca309e3db2b1b2f77f7e5e67ba799198bf03488d8e2d42c997b5de1a1dd"
        );
        // The executable itself is not part of the subject, and the cwd is normalised.
        assert_eq!(
            cwd_bound_hash_pattern(&v(&["uname", "-s"]), "/tmp/./"),
            cwd_bound_hash_pattern(&v(&["/bin/uname", "-s"]), "/tmp/")
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_matches("/usr/bin/echo", "/usr/bin/echo", None));
        assert!(!glob_matches("/usr/bin/echo", "/usr/bin/echox", None));
        assert!(glob_matches("/usr/bin/*", "/usr/bin/ls", None));
        assert!(!glob_matches("/usr/*", "/usr/bin/ls", None));
        assert!(glob_matches("/usr/**", "/usr/bin/ls", None));
        assert!(glob_matches("/usr/bin/l?", "/usr/bin/ls", None));
        assert!(!glob_matches("/usr/bin/l?", "/usr/bin/l/", None));
        assert!(glob_matches("~/bin/*", "/home/u/bin/x", Some("/home/u")));
        assert!(!glob_matches("~/bin/*", "/home/u/bin/x", None));
        assert!(glob_matches("/opt/*/tool", "/opt/a/../b/tool", None));
        assert!(!glob_matches("/usr/bin/*", "/usr/bin/../../tmp/x", None));
        assert!(glob_matches("rg", "rg", None));
        assert!(!glob_matches("RG", "rg", None), "case-sensitive on POSIX");
        assert!(glob_matches("a.b", "a.b", None));
        assert!(!glob_matches("a.b", "axb", None), "dots are literal");
        assert!(!glob_matches("  ", "x", None));
    }

    #[test]
    fn hand_written_arg_patterns() {
        assert!(arg_pattern_matches("^status$", &v(&["git", "status"])));
        assert!(!arg_pattern_matches(
            "^status$",
            &v(&["git", "status", "-s"])
        ));
        assert!(
            arg_pattern_matches("status", &v(&["git", "log", "status"])),
            "unanchored"
        );
        assert!(arg_pattern_matches("^a\0b\0$", &v(&["x", "a", "b"])));
        assert!(arg_pattern_matches("^\0\0$", &v(&["x"])));
        assert!(
            !arg_pattern_matches("(?=x)", &v(&["x", "x"])),
            "unsupported syntax never matches"
        );
        assert!(!arg_pattern_matches("sha256:argv:abc", &v(&["x"])));
    }
}
