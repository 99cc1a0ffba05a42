//! Shell-payload analysis for allowlist mode: splits `sh -c PAYLOAD` into the simple commands it
//! runs, or refuses.
//!
//! The TS host parses payloads with a full shell grammar. This port does not: it accepts a small,
//! exactly-understood subset and **fails closed** on everything else. A failed analysis is an
//! allowlist miss (the gateway then asks for approval), never an allow. The rules:
//!
//! * Only `sh ash dash bash ksh mksh yash zsh` payloads are analysed. `fish` (which the TS host
//!   parses) and every other shell are opaque: analysis fails.
//! * Segments are separated by `;`, `&&`, `||` and `|`. Every segment must be satisfied. A
//!   trailing `;` is allowed; any other empty segment fails.
//! * Words: unquoted text, `'single'` quotes (literal), `"double"` quotes and backslash escapes.
//!   Inside double quotes `\"`, `\\`, `` \` `` and `\$` are escapes and any other backslash is
//!   literal, as in POSIX.
//! * These fail the analysis wherever they appear unquoted: `$` (variables, `$(...)`, `$'...'`),
//!   backticks (also inside double quotes, like `$`), `<` `>` (redirections, here-docs,
//!   process substitution), `&` other than `&&` (background, `&>`), `|&`, `;;`, `(` `)`
//!   (subshells, functions), a lone `{` or `}` word (groups), `^`, newlines and carriage
//!   returns, line continuations, NUL, unterminated quotes.
//! * A `#` starting a word begins a comment that runs to the end of the payload (a payload with
//!   a newline after it fails, like any newline).
//! * Globs and tildes: an unquoted `*`, `?`, `[...]`, `~`, `{`/`}` inside a word (brace
//!   expansion), or a word starting with `=` (zsh `=cmd`), fails the analysis in the command word. In an argument it marks the segment's
//!   argv as *inexact*: the shell may expand it, so only entries that ignore arguments (path-only
//!   patterns) can satisfy that segment; argPatterns, hash-bound entries and safe bins cannot.
//! * The command word must not be an assignment (`FOO=1 cmd`), a reserved word (`if`, `for`,
//!   `!`, `[[`, `function`, ...), or a builtin that evaluates code or changes how later words are
//!   read (`.`, `source`, `eval`, `alias`, `trap`, `set`, `export`, `builtin`, ...). `exec` and
//!   `command` are carriers: the word they run must pass the same check, and the policy resolves
//!   through them (`command -v`/`-p` are then not satisfiable).
//! * Nested shells (`sh -c 'uname'` inside a payload) are analysed recursively by the caller
//!   ([`crate::approvals::allowlist::flatten_nested_shells`]).
//! * `cd` is a safe builtin (as in the TS host). After a `cd`, a later command word that is a
//!   relative path (`./x`, `bin/x`) fails the analysis, because it was resolved against the
//!   original cwd.

/// One simple command of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellSegment {
    /// The words as the shell will pass them (for an exact segment).
    pub argv: Vec<String>,
    /// False when an argument may be expanded by the shell (glob, tilde): only argument-agnostic
    /// allowlist entries can satisfy the segment.
    pub exact_argv: bool,
    /// The segment's source text, trimmed.
    pub raw: String,
}

/// Why a payload is not analysable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellAnalysisError(pub String);

impl std::fmt::Display for ShellAnalysisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(reason: impl Into<String>) -> Result<T, ShellAnalysisError> {
    Err(ShellAnalysisError(reason.into()))
}

const RESERVED_WORDS: &[&str] = &[
    "!",
    "[[",
    "]]",
    "case",
    "coproc",
    "do",
    "done",
    "elif",
    "else",
    "esac",
    "fi",
    "for",
    "function",
    "if",
    "in",
    "repeat",
    "select",
    "then",
    "time",
    "until",
    "while",
    "{",
    "}",
    "foreach",
    "end",
    "nocorrect",
    "noglob",
];

const UNSAFE_BUILTINS: &[&str] = &[
    ".",
    "source",
    "eval",
    "builtin",
    "alias",
    "unalias",
    "trap",
    "set",
    "shopt",
    "enable",
    "export",
    "unset",
    "readonly",
    "declare",
    "typeset",
    "local",
    "let",
    "hash",
    "setopt",
    "unsetopt",
    "emulate",
    "functions",
    "autoload",
    "zmodload",
    "read",
    "mapfile",
    "readarray",
    "getopts",
    "shift",
    "ulimit",
    "umask",
    "bind",
    "complete",
    "compgen",
    "fc",
    "history",
    "pushd",
    "popd",
    "disown",
    "jobs",
    "fg",
    "bg",
    "wait",
    "suspend",
    "logout",
    "exit",
    "return",
    "break",
    "continue",
    "caller",
    "integer",
    "float",
    "vared",
    "zle",
    "sched",
    "rehash",
    "unhash",
    "disable",
    "zstyle",
    "bindkey",
    "compdef",
];

/// `exec` and `command` run the command after their options; the policy resolves through them.
const CARRIERS: &[&str] = &["exec", "command"];

/// The word an `exec`/`command` carrier runs (after its options), if the head is one.
fn carried_word(words: &[(Word, String)]) -> Option<&str> {
    let head = words.first()?.0.text.as_str();
    if !CARRIERS.contains(&head) {
        return None;
    }
    let mut index = 1;
    while let Some((word, _)) = words.get(index) {
        let text = word.text.as_str();
        if text == "--" {
            return words.get(index + 1).map(|(w, _)| w.text.as_str());
        }
        if !text.starts_with('-') {
            return Some(text);
        }
        // `exec -a NAME`: the next word is the name, not the command.
        index += if head == "exec" && text == "-a" { 2 } else { 1 };
    }
    None
}

/// Builtins that run nothing and change nothing the policy depends on (TS `DEFAULT_SAFE_BUILTINS`).
const SAFE_BUILTINS: &[&str] = &[":", "cd", "false", "pwd", "test", "true"];

/// True when a segment is one of the safe builtin forms (`[ ... ]` must be closed).
pub fn is_safe_builtin_segment(segment: &ShellSegment) -> bool {
    let Some(head) = segment.argv.first() else {
        return false;
    };
    let head = head.trim().to_lowercase();
    if head == "[" {
        return segment.argv.last().map(String::as_str) == Some("]");
    }
    SAFE_BUILTINS.contains(&head.as_str())
}

struct Word {
    text: String,
    /// Contained an unquoted glob character, tilde, or a leading unquoted `=`.
    expandable: bool,
    /// Contained any quoting or escaping.
    quoted: bool,
}

enum Token {
    Word(Word),
    Operator(&'static str),
}

fn tokenize(payload: &str) -> Result<Vec<(Token, usize, usize)>, ShellAnalysisError> {
    let chars: Vec<char> = payload.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                i += 1;
            }
            '\0' => return fail("NUL in payload"),
            '\n' | '\r' => return fail("newline in payload"),
            ';' => {
                if chars.get(i + 1) == Some(&';') || chars.get(i + 1) == Some(&'&') {
                    return fail("case terminator");
                }
                tokens.push((Token::Operator(";"), i, i + 1));
                i += 1;
            }
            '&' => {
                if chars.get(i + 1) == Some(&'&') {
                    tokens.push((Token::Operator("&&"), i, i + 2));
                    i += 2;
                } else {
                    return fail("background job or &> redirection");
                }
            }
            '|' => match chars.get(i + 1) {
                Some('|') => {
                    tokens.push((Token::Operator("||"), i, i + 2));
                    i += 2;
                }
                Some('&') => return fail("|& pipe"),
                _ => {
                    tokens.push((Token::Operator("|"), i, i + 1));
                    i += 1;
                }
            },
            '#' => {
                // A comment runs to the end of the line; a later line would be another command.
                if chars[i..].iter().any(|c| *c == '\n' || *c == '\r') {
                    return fail("newline in payload");
                }
                break;
            }
            _ => {
                let start = i;
                let word = read_word(&chars, &mut i)?;
                tokens.push((Token::Word(word), start, i));
            }
        }
    }
    Ok(tokens)
}

fn is_word_end(c: char) -> bool {
    matches!(c, ' ' | '\t' | ';' | '&' | '|' | '\n' | '\r')
}

fn read_word(chars: &[char], i: &mut usize) -> Result<Word, ShellAnalysisError> {
    let mut text = String::new();
    let mut expandable = false;
    let mut quoted = false;
    let word_start = *i;
    while *i < chars.len() && !is_word_end(chars[*i]) {
        let c = chars[*i];
        match c {
            '\'' => {
                quoted = true;
                *i += 1;
                loop {
                    match chars.get(*i) {
                        None => return fail("unterminated single quote"),
                        Some('\'') => {
                            *i += 1;
                            break;
                        }
                        Some('\0') => return fail("NUL in payload"),
                        Some(ch) => {
                            text.push(*ch);
                            *i += 1;
                        }
                    }
                }
            }
            '"' => {
                quoted = true;
                *i += 1;
                loop {
                    match chars.get(*i) {
                        None => return fail("unterminated double quote"),
                        Some('"') => {
                            *i += 1;
                            break;
                        }
                        Some('$') => return fail("expansion inside double quotes"),
                        Some('`') => return fail("command substitution"),
                        Some('\0') => return fail("NUL in payload"),
                        Some('\\') => match chars.get(*i + 1) {
                            Some(next @ ('"' | '\\' | '$' | '`')) => {
                                text.push(*next);
                                *i += 2;
                            }
                            Some('\n') | Some('\r') => return fail("line continuation"),
                            Some(_) => {
                                text.push('\\');
                                *i += 1;
                            }
                            None => return fail("unterminated double quote"),
                        },
                        Some(ch) => {
                            text.push(*ch);
                            *i += 1;
                        }
                    }
                }
            }
            '\\' => {
                quoted = true;
                match chars.get(*i + 1) {
                    None => return fail("trailing backslash"),
                    Some('\n') | Some('\r') => return fail("line continuation"),
                    Some('\0') => return fail("NUL in payload"),
                    Some(next) => {
                        text.push(*next);
                        *i += 2;
                    }
                }
            }
            '\0' => return fail("NUL in payload"),
            '$' => return fail("variable or command substitution"),
            '`' => return fail("command substitution"),
            '<' | '>' => return fail("redirection"),
            '(' | ')' => return fail("subshell or function definition"),
            '{' | '}' => {
                // A lone `{`/`}` word is a group; inside a word it may be a brace expansion.
                if *i == word_start && chars.get(*i + 1).map_or(true, |c| is_word_end(*c)) {
                    return fail("command group");
                }
                expandable = true;
                text.push(c);
                *i += 1;
            }
            '^' => return fail("^ (pipe in old shells, glob in zsh)"),
            '#' if *i == word_start => return fail("comment"),
            '[' => {
                // A bracket expression only when a `]` closes it within the word.
                let closes = chars[*i + 1..]
                    .iter()
                    .take_while(|c| !is_word_end(**c))
                    .any(|c| *c == ']');
                expandable |= closes;
                text.push(c);
                *i += 1;
            }
            '*' | '?' | '~' => {
                expandable = true;
                text.push(c);
                *i += 1;
            }
            '=' if *i == word_start => {
                expandable = true;
                text.push(c);
                *i += 1;
            }
            _ => {
                text.push(c);
                *i += 1;
            }
        }
    }
    Ok(Word {
        text,
        expandable,
        quoted,
    })
}

fn is_assignment_word(word: &Word, source: &str) -> bool {
    // Only an unquoted NAME= prefix makes an assignment; check the source text.
    let Some(eq) = source.find('=') else {
        return false;
    };
    let name = &source[..eq];
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !word.text.is_empty()
}

/// Splits a payload into simple commands, or explains why it will not.
pub fn analyze_payload(payload: &str) -> Result<Vec<ShellSegment>, ShellAnalysisError> {
    let tokens = tokenize(payload)?;
    let chars: Vec<char> = payload.chars().collect();
    let mut segments: Vec<ShellSegment> = Vec::new();
    let mut current: Vec<(Word, String)> = Vec::new();
    let mut seg_start: Option<usize> = None;
    let mut seg_end = 0;
    let mut last_operator: Option<&'static str> = None;
    let mut saw_cd = false;

    let mut finish = |current: &mut Vec<(Word, String)>,
                      seg_start: Option<usize>,
                      seg_end: usize,
                      saw_cd: &mut bool|
     -> Result<(), ShellAnalysisError> {
        let words = std::mem::take(current);
        let Some((head, head_source)) = words.first() else {
            return fail("empty command");
        };
        if head.expandable {
            return fail("glob, tilde or = expansion in the command word");
        }
        if head.text.is_empty() {
            return fail("empty command word");
        }
        if !head.quoted && is_assignment_word(head, head_source) {
            return fail("environment assignment before the command");
        }
        if !head.quoted && RESERVED_WORDS.contains(&head.text.as_str()) {
            return fail(format!("shell keyword `{}`", head.text));
        }
        if let Some(carried) = carried_word(&words) {
            if UNSAFE_BUILTINS.contains(&carried)
                || RESERVED_WORDS.contains(&carried)
                || CARRIERS.contains(&carried)
            {
                return fail(format!("shell builtin `{carried}` behind `{}`", head.text));
            }
        }
        if UNSAFE_BUILTINS.contains(&head.text.as_str()) {
            return fail(format!("shell builtin `{}`", head.text));
        }
        if *saw_cd && head.text.contains('/') && !head.text.starts_with('/') {
            return fail("relative command path after cd");
        }
        if head.text == "cd" {
            *saw_cd = true;
        }
        let exact_argv = !words.iter().skip(1).any(|(w, _)| w.expandable);
        let raw: String = match seg_start {
            Some(start) => chars[start..seg_end].iter().collect(),
            None => String::new(),
        };
        segments.push(ShellSegment {
            argv: words.into_iter().map(|(w, _)| w.text).collect(),
            exact_argv,
            raw: raw.trim().to_string(),
        });
        Ok(())
    };

    for (token, start, end) in tokens {
        match token {
            Token::Word(word) => {
                let source: String = chars[start..end].iter().collect();
                if seg_start.is_none() {
                    seg_start = Some(start);
                }
                seg_end = end;
                current.push((word, source));
            }
            Token::Operator(op) => {
                if current.is_empty() {
                    return fail(format!("`{op}` without a command before it"));
                }
                finish(&mut current, seg_start, seg_end, &mut saw_cd)?;
                seg_start = None;
                last_operator = Some(op);
            }
        }
    }
    if current.is_empty() {
        match last_operator {
            None => return fail("empty payload"),
            Some(";") => {}
            Some(op) => return fail(format!("`{op}` at the end of the payload")),
        }
    } else {
        finish(&mut current, seg_start, seg_end, &mut saw_cd)?;
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argvs(payload: &str) -> Vec<Vec<String>> {
        analyze_payload(payload)
            .unwrap()
            .into_iter()
            .map(|s| s.argv)
            .collect()
    }

    fn rejects(payload: &str) {
        assert!(analyze_payload(payload).is_err(), "must reject {payload:?}");
    }

    #[test]
    fn splits_on_control_operators() {
        assert_eq!(
            argvs("echo a && uname"),
            vec![vec!["echo", "a"], vec!["uname"]]
        );
        assert_eq!(
            argvs("a; b || c | d"),
            vec![vec!["a"], vec!["b"], vec!["c"], vec!["d"]]
        );
        assert_eq!(argvs("uname -s;"), vec![vec!["uname", "-s"]]);
        let segments = analyze_payload("echo a && uname -s").unwrap();
        assert_eq!(segments[0].raw, "echo a");
        assert_eq!(segments[1].raw, "uname -s");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            argvs("echo 'a b' \"c d\" e\\ f"),
            vec![vec!["echo", "a b", "c d", "e f"]]
        );
        assert_eq!(
            argvs("echo \"a\\\"b\\\\c\\nd\""),
            vec![vec!["echo", "a\"b\\c\\nd"]]
        );
        assert_eq!(
            argvs("echo '$HOME' \"a;b\" 'x|y'"),
            vec![vec!["echo", "$HOME", "a;b", "x|y"]]
        );
        assert_eq!(argvs("echo ''"), vec![vec!["echo", ""]]);
    }

    #[test]
    fn hostile_payloads_fail_closed() {
        for payload in [
            "echo $HOME",
            "echo $(id)",
            "echo `id`",
            "echo \"$(id)\"",
            "echo \"`id`\"",
            "echo ${X}",
            "echo $'\\x41'",
            "cat < /etc/passwd",
            "echo hi > /tmp/x",
            "echo hi 2>&1",
            "cat <<EOF",
            "diff <(ls) <(ls)",
            "sleep 1 &",
            "ls &> /dev/null",
            "ls |& cat",
            "(id)",
            "{ id; }",
            "exec eval id",
            "command . ./x",
            "exec -a x builtin eval",
            "echo a # comment\nid",
            "{a,b} x",
            "id }",
            "f() { id; }; f",
            "echo a\nid",
            "echo a\\\nid",
            "FOO=1 id",
            "if true; then id; fi",
            "! id",
            "eval id",
            ". ./script",
            "source x",
            "builtin echo",
            "alias ls=id",
            "export PATH=/tmp",
            "trap id EXIT",
            "set -x",
            "'unterminated",
            "\"unterminated",
            "echo x\\",
            "",
            "   ",
            "&& id",
            "id &&",
            "id ;; id",
            "a || ",
            "*/id",
            "~/bin/x",
            "=ls",
            "ec$()ho",
            "echo a\0b",
            "cd /tmp && ./evil",
            "echo ^ id",
        ] {
            rejects(payload);
        }
    }

    #[test]
    fn comments_carriers_and_braces() {
        assert_eq!(argvs("echo a # comment; rm -rf /"), vec![vec!["echo", "a"]]);
        assert_eq!(argvs("echo a#b"), vec![vec!["echo", "a#b"]]);
        assert_eq!(argvs("exec uname -s"), vec![vec!["exec", "uname", "-s"]]);
        assert_eq!(
            argvs("command -v uname"),
            vec![vec!["command", "-v", "uname"]]
        );
        let braces = analyze_payload("echo {a,b}").unwrap();
        assert!(
            !braces[0].exact_argv,
            "brace expansion makes the argv inexact"
        );
    }

    #[test]
    fn globs_in_arguments_make_the_argv_inexact() {
        let segments = analyze_payload("ls *.txt ~/x").unwrap();
        assert!(!segments[0].exact_argv);
        let quoted = analyze_payload("ls '*.txt' \"~/x\"").unwrap();
        assert!(quoted[0].exact_argv);
        assert_eq!(quoted[0].argv, vec!["ls", "*.txt", "~/x"]);
    }

    #[test]
    fn safe_builtins() {
        let segments = analyze_payload("cd /tmp && pwd && [ -f x ] && true").unwrap();
        assert!(segments.iter().all(is_safe_builtin_segment));
        let unclosed = analyze_payload("[ -f x").unwrap();
        assert!(!is_safe_builtin_segment(&unclosed[0]));
        // A quoted keyword is an ordinary command word.
        assert_eq!(argvs("'if' x"), vec![vec!["if", "x"]]);
        // An assignment-looking word after the command is an argument.
        assert_eq!(argvs("env A=1"), vec![vec!["env", "A=1"]]);
        // After cd, an absolute command path is still fine.
        assert!(analyze_payload("cd /tmp && /usr/bin/ls").is_ok());
    }
}
