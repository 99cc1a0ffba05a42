//! A differential check of the shell-payload analysis against bash itself: bash runs a payload
//! the analysis accepted with `xtrace` on (inherited by nested `bash -c` through `SHELLOPTS`),
//! and every simple command in the trace must be one the analysis named. A command bash ran
//! that the analysis did not name is a disagreement: the policy matched something else than
//! what ran.
//!
//! Test and fuzz code only (`cfg(test)` or feature `internals`): the unit tests run it over a
//! fixed corpus (hand-written shapes and a seeded generator), and the `shell_trace` fuzz target
//! over libFuzzer's inputs. Only payloads the analysis accepts are run, and the generator's
//! words are harmless commands (`echo`, `ls`, `true`, a `./x` that exits 0), run with an empty
//! environment in a scratch directory.

use std::path::Path;
use std::process::{Command, Stdio};

use super::resolve::{ResolveContext, Segment};
use super::shell::analyze_payload;
use super::shells::is_analysable_shell;

/// A simple command as the analysis names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub argv: Vec<String>,
    /// False when the shell may expand an argument: only the command word is compared.
    pub exact: bool,
}

/// What bash ran that the analysis did not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub payload: String,
    /// A command word the policy resolved as another word than the shell runs.
    pub misresolved: Option<String>,
    pub unnamed: Vec<Vec<String>>,
    pub named: Vec<Named>,
}

/// The nesting the policy flattens (as [`super::resolve::flatten_nested_shells`]).
const MAX_DEPTH: usize = 3;

/// Every simple command the analysis says `bash -c payload` runs, nested `bash -c` payloads
/// (also behind `nice`, `timeout`, `env`) included; `None` when the analysis refuses the
/// payload or one nested in it, i.e. when the policy claims nothing about what runs.
///
/// `Some(Err(..))` when the analysis accepted a segment whose command word the policy resolved
/// differently from how the shell runs it: a disagreement without running anything.
pub fn named_commands(payload: &str, ctx: &ResolveContext) -> Option<Result<Vec<Named>, String>> {
    let mut out = Vec::new();
    match collect_named(payload, ctx, 0, &mut out)? {
        Ok(()) => Some(Ok(out)),
        Err(why) => Some(Err(why)),
    }
}

fn collect_named(
    payload: &str,
    ctx: &ResolveContext,
    depth: usize,
    out: &mut Vec<Named>,
) -> Option<Result<(), String>> {
    if depth > MAX_DEPTH {
        return None;
    }
    for shell_segment in analyze_payload(payload).ok()? {
        out.push(Named {
            argv: shell_segment.argv.clone(),
            exact: shell_segment.exact_argv,
        });
        let segment = Segment::from_shell(&shell_segment, ctx);
        let Some(resolution) = &segment.resolution else {
            continue;
        };
        // The policy resolves the word the shell runs: dispatch wrappers only drop leading
        // words, and the command word is taken as written (a trimmed ` ./x` is another file).
        let effective = &resolution.effective_argv;
        let runs_as_written = shell_segment.argv.ends_with(effective)
            && effective.first() == Some(&resolution.execution.raw_executable);
        if !runs_as_written {
            return Some(Err(format!(
                "{:?} resolved as {:?}",
                shell_segment.argv, resolution.execution.raw_executable
            )));
        }
        if !resolution.plan.shell_wrapper_executable {
            continue;
        }
        let shell = super::argv::normalize_executable_token(
            resolution.effective_argv.first().map_or("", String::as_str),
        );
        match resolution.plan.shell_inline_command.as_deref() {
            Some(inner) if is_analysable_shell(&shell) => {
                if let Err(why) = collect_named(inner, ctx, depth + 1, out)? {
                    return Some(Err(why));
                }
            }
            // A shell whose payload the policy does not read (or a script, stdin): the
            // policy claims nothing about what runs inside.
            _ => return None,
        }
    }
    Some(Ok(()))
}

/// Runs `bash -c payload` in `dir` with xtrace on and returns every traced simple command.
///
/// The trace goes to its own file on fd 3 (`BASH_XTRACEFD`), not to stderr: bash writes the
/// trace to stderr unbuffered, word by word, so the records of a pipeline's members, which
/// run at once, interleave there; on another fd it buffers and writes each record whole. A
/// first bash opens the fd and `exec`s the bash that runs the payload (std cannot pass an
/// extra fd to a child without `unsafe`).
pub fn traced_commands(payload: &str, dir: &Path) -> std::io::Result<Vec<Vec<String>>> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let trace = std::env::temp_dir().join(format!("oc-trace-{}-{run}", std::process::id()));
    let _ = std::fs::remove_file(&trace);
    let status = Command::new("/bin/bash")
        .arg("-c")
        .arg(
            "exec 3>>\"$OC_TRACE\" && exec env -u OC_TRACE -u OC_PAYLOAD SHELLOPTS=xtrace \
             BASH_XTRACEFD=3 'PS4=+ ' /bin/bash -c \"$OC_PAYLOAD\"",
        )
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("OC_TRACE", &trace)
        .env("OC_PAYLOAD", payload)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let _ = status;
    // Lossy: a payload's bytes are UTF-8, but a failing command may print anything.
    let bytes = std::fs::read(&trace).unwrap_or_default();
    let _ = std::fs::remove_file(&trace);
    Ok(parse_xtrace(&String::from_utf8_lossy(&bytes)))
}

/// Every traced simple command in bash's stderr. A trace record starts a line with `+`s and a
/// space and ends at the first newline outside quotes (a word holding a newline is printed
/// single-quoted across lines); other lines (the commands' own errors) are skipped.
pub fn parse_xtrace(stderr: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = stderr.chars().collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let line_start = i;
        while i < chars.len() && chars[i] == '+' {
            i += 1;
        }
        if i > line_start && chars.get(i) == Some(&' ') {
            i += 1;
            let words = parse_record(&chars, &mut i);
            if !words.is_empty() {
                records.push(words);
            }
        }
        while i < chars.len() && chars[i] != '\n' {
            i += 1;
        }
        i += 1;
    }
    records
}

/// The words of one xtrace line (`+ echo 'a b' $'\v'`), or `None` for a line that is not one.
pub fn parse_xtrace_line(line: &str) -> Option<Vec<String>> {
    let mut records = parse_xtrace(line);
    (records.len() == 1).then(|| records.remove(0))
}

/// The words of a trace record from `i` to its end (an unquoted newline, left unread). bash
/// prints each word plain, single-quoted (`'\''` for a quote) or ANSI-C quoted (`$'..'`,
/// where a non-ASCII byte is an octal escape in the C locale); words are decoded as UTF-8.
fn parse_record(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut in_word = false;
    let push = |word: &mut Vec<u8>, c: char| {
        let mut buf = [0; 4];
        word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while *i < chars.len() && chars[*i] != '\n' {
        match chars[*i] {
            ' ' => {
                if in_word {
                    words.push(String::from_utf8_lossy(&std::mem::take(&mut word)).into_owned());
                    in_word = false;
                }
                *i += 1;
            }
            '\'' => {
                in_word = true;
                *i += 1;
                while *i < chars.len() && chars[*i] != '\'' {
                    push(&mut word, chars[*i]);
                    *i += 1;
                }
                *i += 1;
            }
            '\\' if *i + 1 < chars.len() => {
                in_word = true;
                push(&mut word, chars[*i + 1]);
                *i += 2;
            }
            '$' if chars.get(*i + 1) == Some(&'\'') => {
                in_word = true;
                *i += 2;
                while *i < chars.len() && chars[*i] != '\'' {
                    if chars[*i] == '\\' && *i + 1 < chars.len() {
                        *i += 1;
                        *i += ansi_c_escape(&chars[*i..], &mut word);
                    } else {
                        push(&mut word, chars[*i]);
                        *i += 1;
                    }
                }
                *i += 1;
            }
            c => {
                in_word = true;
                push(&mut word, c);
                *i += 1;
            }
        }
    }
    if in_word {
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    words
}

/// One ANSI-C escape after its backslash, appended to `word`; returns how many chars it used.
/// `\NNN` and `\xHH` are bytes, `\u`/`\U` characters.
fn ansi_c_escape(chars: &[char], word: &mut Vec<u8>) -> usize {
    let simple = match chars[0] {
        'a' => Some(7u8),
        'b' => Some(8),
        'e' | 'E' => Some(0x1b),
        'f' => Some(0xc),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(0xb),
        '\\' => Some(b'\\'),
        '\'' => Some(b'\''),
        '"' => Some(b'"'),
        _ => None,
    };
    if let Some(byte) = simple {
        word.push(byte);
        return 1;
    }
    let (radix, start, max, is_byte) = match chars[0] {
        'x' => (16, 1, 2, true),
        'u' => (16, 1, 4, false),
        'U' => (16, 1, 8, false),
        '0'..='7' => (8, 0, 3, true),
        other => {
            let mut buf = [0; 4];
            word.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            return 1;
        }
    };
    let digits: String = chars[start..]
        .iter()
        .take(max)
        .take_while(|c| c.is_digit(radix))
        .collect();
    let value = u32::from_str_radix(&digits, radix).unwrap_or(0xfffd);
    if is_byte {
        word.push(value as u8);
    } else {
        let c = char::from_u32(value).unwrap_or('\u{fffd}');
        let mut buf = [0; 4];
        word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    start + digits.len().max(1)
}

/// `Ok` when bash ran nothing the analysis did not name (or the analysis refused the payload).
pub fn check(payload: &str, dir: &Path) -> Result<(), Disagreement> {
    let ctx = ResolveContext {
        cwd: dir.to_path_buf(),
        path_env: "/usr/bin:/bin".into(),
        home: Some(dir.display().to_string()),
        ..Default::default()
    };
    let named = match named_commands(payload, &ctx) {
        None => return Ok(()),
        Some(Ok(named)) => named,
        Some(Err(why)) => {
            return Err(Disagreement {
                payload: payload.to_string(),
                misresolved: Some(why),
                unnamed: Vec::new(),
                named: Vec::new(),
            })
        }
    };
    let traced = traced_commands(payload, dir).unwrap_or_default();
    let is_named = |argv: &Vec<String>| {
        named.iter().any(|n| {
            if n.exact {
                n.argv == *argv
            } else {
                n.argv.first() == argv.first()
            }
        })
    };
    let unnamed: Vec<Vec<String>> = traced.into_iter().filter(|t| !is_named(t)).collect();
    if unnamed.is_empty() {
        Ok(())
    } else {
        Err(Disagreement {
            payload: payload.to_string(),
            misresolved: None,
            unnamed,
            named,
        })
    }
}

/// A scratch directory for [`check`]: `x` (exits 0), `a`, `b c` and `d/`.
pub fn scratch_dir(name: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("oc-trace-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("d"))?;
    std::fs::write(dir.join("x"), "#!/bin/sh\nexit 0\n")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("x"), std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(dir.join("a"), "")?;
    std::fs::write(dir.join("b c"), "")?;
    std::fs::canonicalize(&dir)
}

/// A deterministic generator of payloads over harmless commands and hostile word shapes.
pub struct Generator {
    state: u64,
}

const HEADS: &[&str] = &[
    "echo", "ls", "true", "false", ":", "test", "[", "printf", "pwd", "cd", "nice", "timeout 5",
    "env", "./x", "x", "command", "exec", "'echo'", "e\\cho", "\"ls\"", "bash -c", "nice bash -c",
    "env bash -c", "if", "!", "time", "{", "X=1", "X+=1", "a[1]=2", "[[", "((", "let", "eval",
    "declare", "read", "mapfile", "source", ".", "builtin", "alias", "set", "d/../x", "./d/../x", "' ./x'", "\\ ./x",
];

const ARGS: &[&str] = &[
    "a", "b", "-n", "-v", "-e", "-f", "-d", "--", "1", "-eq", "%s", "%d", "'a b'", "\"a b\"",
    "a\\ b", "\\'", "\"\\\"\"", "$'\\x41'", "$(echo pwned)", "`echo pwned`", "'$(echo pwned)'",
    "'a[$(echo pwned)]'", "\"a[\\$(echo pwned)]\"", "a\\[\\$\\(echo\\ pwned\\)\\]", "*", "?", "~",
    "~/a", "{a,b}", "a=b", "#", "\\;", "\\&", "\\|", "'#'", "x", "./x", "'b c'", "d", "/tmp",
    "$HOME", "${X}", "\\$HOME", "'~'", "\\~", "\u{b}", "\u{a0}", "é", "'é'", "]", "!", "-o",
    "'-v'", "-vX", "a\\\\b", "\"a'b\"", "'a\"b'", "echo", "ls",
];

const OPERATORS: &[&str] = &[" && ", " || ", "; ", " | ", " ; ", "&&", ";", " & ", " |& "];

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            state: seed.max(1),
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// One payload, with nested `bash -c` payloads up to `depth` levels.
    pub fn payload(&mut self, depth: usize) -> String {
        let segments = 1 + self.next() % 3;
        let mut out = String::new();
        for index in 0..segments {
            if index > 0 {
                out.push_str(self.pick(OPERATORS));
            }
            let head = self.pick(HEADS);
            out.push_str(head);
            if head.ends_with("bash -c") {
                let inner = if depth > 0 {
                    self.payload(depth - 1)
                } else {
                    "echo nested".to_string()
                };
                out.push_str(" '");
                out.push_str(&inner.replace('\'', "'\\''"));
                out.push('\'');
                continue;
            }
            for _ in 0..self.next() % 4 {
                out.push(' ');
                out.push_str(self.pick(ARGS));
            }
            if head == "[" && self.next() % 2 == 0 {
                out.push_str(" ]");
            }
        }
        out
    }
}

/// Hand-written shapes: each accepted form of the analysis, and hostile neighbours.
pub const CORPUS: &[&str] = &[
    "echo a b",
    "echo 'a b' \"c d\" e\\ f",
    "echo a && ls d",
    "echo a; echo b || echo c | ls",
    "cd d && pwd",
    "[ -f a ] && echo file",
    "test -d d || echo no",
    "printf '%s\\n' hi",
    "printf '%d' 42",
    "nice echo hi",
    "timeout 5 ls",
    "env echo hi",
    "bash -c 'echo nested && ls'",
    "nice bash -c 'echo a; bash -c \"echo b\"'",
    "command echo hi",
    "exec echo hi",
    "./x && ./d/../x",
    "echo ~ ~/a *",
    "echo {a,b} a{b,c}",
    "echo '$(echo pwned)' \"\\$(echo pwned)\"",
    "test -v 'a[$(echo pwned)]'",
    "[ -v 'a[$(echo pwned)]' ]",
    "printf -v 'a[$(echo pwned)]' x",
    "X=1 echo pwned",
    "X+=1 echo pwned",
    "echo a # ; echo pwned",
    "echo a#b",
    "'echo' a",
    "e\\cho a",
    "echo \u{b}a",
    "\u{a0}echo a",
    "echo 'é' é",
    "' ./x' a",
    "nice ' ./x'",
    "\\ ./x",
    "' ./d/../x'",
    "echo \"a\n\nb\" 'c\nd'",
    // Found by the fuzz target: a pipeline whose members' trace records interleaved.
    "env esh -trc 'unamez-c esh| sh -?c\"cre\n\n\nrea|edAtMs\" sh -trc 'unamnvez-cwwws| sh -?c\"createdAtMs\"  0sh ' -S-'''\t''\t''' -c'sandbox-exenox-execueam[ cueam[ -' 'atedAtMs\" n-'vx-7 'c -?c 0ev|\"'nvx-?c -?c 0ev|\"'h",
    // Found by the fuzz target: bash reads `A9A[/tp- - -ne ]v9nv` as one command word.
    "env e19=env e1nvv9Z= en=e9vv n}--9sh elock -ev= v\"id\"|A9A[/tp- - -ne ]v9nv | lflopph",
    "X[/e ] a",
    // Found by the fuzz target: one word with quoted newlines, traced across lines.
    "jobs90\"q\n\n\n\n\n\n\"type\"taspby\"h -le\"x\nms\"1h -V*A\"com\nms\"1hsh -90\"q\n\n\n\n\n\n\"type\"\"typbash -le\"x\nms\"1h -V*A\"com\nms\"1h ype\"\n\n\n\n\n\"typ  ype\"\n\n\n\n\n\"typ -l",
];

// POSIX tests (they trace /bin/sh); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn xtrace_lines_read_back_as_words() {
        let words = |line: &str| parse_xtrace_line(line).unwrap();
        assert_eq!(words("+ echo 'a b' c"), vec!["echo", "a b", "c"]);
        assert_eq!(words("++ echo 'it'\\''s'"), vec!["echo", "it's"]);
        assert_eq!(words("+ echo $'\\v' $'a\\nb'"), vec!["echo", "\u{b}", "a\nb"]);
        assert_eq!(words("+ '[' -d . ']'"), vec!["[", "-d", ".", "]"]);
        assert_eq!(words("+ echo ''"), vec!["echo", ""]);
        assert_eq!(words("+ echo $'\\303\\251'"), vec!["echo", "é"]);
        assert_eq!(parse_xtrace_line("ls: cannot access"), None);
        // A word holding newlines is printed single-quoted across lines.
        assert_eq!(
            parse_xtrace("ls: x\n+ echo 'a\nb' c\nerr 'x\n+ true\n"),
            vec![vec!["echo", "a\nb", "c"], vec!["true"]]
        );
    }

    #[test]
    fn a_command_the_analysis_did_not_name_is_a_disagreement() {
        let dir = scratch_dir("self").unwrap();
        // `check` only runs what the analysis accepts; compare by hand what it would say.
        let traced = traced_commands("echo a && bash -c 'ls d'", &dir).unwrap();
        assert_eq!(traced, vec![vec!["echo", "a"], vec!["bash", "-c", "ls d"], vec!["ls", "d"]]);
        let ctx = ResolveContext {
            cwd: dir.clone(),
            path_env: "/usr/bin:/bin".into(),
            home: None,
            ..Default::default()
        };
        let named = named_commands("echo a && bash -c 'ls d'", &ctx).unwrap().unwrap();
        assert_eq!(named.len(), 3);
        // What bash runs for a subscript the analysis would have missed.
        let evaluated = traced_commands("test -v 'a[$(echo pwned)]'", &dir).unwrap();
        assert!(evaluated.iter().any(|argv| argv == &["echo", "pwned"]), "{evaluated:?}");
        assert_eq!(named_commands("test -v 'a[$(echo pwned)]'", &ctx), None);
    }

    #[test]
    fn bash_runs_only_what_the_analysis_named_over_the_corpus() {
        let dir = scratch_dir("corpus").unwrap();
        let cases: usize = std::env::var("OPENCLAW_TRACE_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1500);
        let mut generator = Generator::new(0x5eed_0011);
        let generated: Vec<String> = (0..cases).map(|_| generator.payload(2)).collect();
        let mut accepted = 0;
        let mut failures = Vec::new();
        let ctx = ResolveContext {
            cwd: dir.clone(),
            path_env: "/usr/bin:/bin".into(),
            home: Some(dir.display().to_string()),
            ..Default::default()
        };
        for payload in CORPUS.iter().copied().chain(generated.iter().map(String::as_str)) {
            if named_commands(payload, &ctx).is_some() {
                accepted += 1;
            }
            if let Err(disagreement) = check(payload, &dir) {
                failures.push(format!("{disagreement:?}"));
            }
        }
        assert!(failures.is_empty(), "bash ran commands the analysis did not name:\n{}", failures.join("\n"));
        // The generator must keep producing payloads the analysis accepts, or this proves
        // nothing.
        assert!(accepted * 10 > cases, "only {accepted} payloads were accepted");
    }
}
