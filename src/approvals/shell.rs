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
//!   ([`crate::approvals::resolve::resolve_request`]).
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
    /// A `cd` ran before this segment (in this payload or, for a nested payload, in one
    /// around it): the cwd the policy resolved against is not the one the shell runs it in.
    pub after_cd: bool,
    /// For each word of `argv`: the shell may expand it (glob, brace, tilde), so `argv` holds
    /// its literal text, not what runs. Empty when no word is expandable.
    pub expandable: Vec<bool>,
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
/// `test` and `[` are safe only in the argument forms [`builtin_evaluates_code`] accepts.
const SAFE_BUILTINS: &[&str] = &[":", "cd", "false", "pwd", "test", "true"];

/// True when a word is a plain decimal integer literal (`-3`, `42`): the only operand an
/// arithmetic context can read without looking a name up.
fn is_integer_literal(word: &str) -> bool {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Characters that let a builtin's argument reach an array subscript or arithmetic that
/// evaluates code: `a[$(id)]`, `x[`id`]`.
fn has_subscript_chars(word: &str) -> bool {
    word.contains(['[', ']', '$', '`', '(', ')'])
}

/// Why a builtin invocation (as the shell runs it, not as the allowlisted file would) can
/// evaluate code, or `None` when none of its argument forms can in bash, dash, zsh, ksh or
/// busybox ash.
///
/// In a payload, `test`, `[`, `printf`, `kill`, `print` and `echo` are builtins: the shell runs
/// its own code, whatever file an allowlist entry names. Several of their forms read a
/// variable *name* or an arithmetic expression, and the shell evaluates an array subscript in
/// either, `$(...)` included, even when the analyser saw it inside single quotes:
/// * bash `test -v 'a[$(id)]'` / `[ -v ... ]`, and `-R NAME`;
/// * bash and zsh `printf -v 'a[$(id)]' x`, zsh/ksh `print -v`;
/// * ksh and zsh evaluate `test`'s `-eq`..`-ge` operands and `printf`'s numeric conversions
///   as arithmetic, where a bare name is looked up and its value (which `params.env` may set)
///   evaluated in turn;
/// * ksh and zsh `kill` read a signal or job as an expression.
///
/// So: `-v`/`-R` are refused, numeric operands must be integer literals, and no argument may
/// carry subscript or substitution characters.
pub fn builtin_evaluates_code(argv: &[String]) -> Option<&'static str> {
    let head = argv.first()?.as_str();
    let args = &argv[1..];
    match head {
        "test" | "[" => {
            let operands = if head == "[" {
                args.split_last().map_or(args, |(_, rest)| rest)
            } else {
                args
            };
            for (index, word) in operands.iter().enumerate() {
                if word == "-v" || word == "-R" {
                    return Some("`test -v`/`-R` evaluate a variable name");
                }
                if has_subscript_chars(word) {
                    return Some("a `test` operand with subscript or substitution characters");
                }
                if ["-eq", "-ne", "-lt", "-le", "-gt", "-ge"].contains(&word.as_str()) {
                    let before = index.checked_sub(1).and_then(|i| operands.get(i));
                    let after = operands.get(index + 1);
                    if !before.is_some_and(|w| is_integer_literal(w))
                        || !after.is_some_and(|w| is_integer_literal(w))
                    {
                        return Some("`test` arithmetic on a non-literal operand");
                    }
                }
            }
            None
        }
        "printf" => {
            // Options: `-v NAME` (bash, zsh) assigns through a name; `--` ends them.
            let rest = match args.split_first() {
                Some((first, tail)) if first == "--" => tail,
                Some((first, _)) if first.starts_with('-') && first.len() > 1 => {
                    return Some("`printf` options (`-v`) assign through a variable name");
                }
                _ => args,
            };
            let (format, values) = rest.split_first()?;
            if values.iter().any(|v| has_subscript_chars(v)) {
                return Some("a `printf` argument with subscript or substitution characters");
            }
            if printf_has_numeric_conversion(format)
                && !values.iter().all(|v| is_integer_literal(v))
            {
                return Some("`printf` numeric conversion of a non-literal argument");
            }
            None
        }
        "print" => {
            if args.iter().any(|a| a.starts_with('-') || has_subscript_chars(a)) {
                return Some("`print` options (`-v`, `-f`) assign or format through names");
            }
            None
        }
        "kill" => {
            let plain = |a: &String| {
                is_integer_literal(a)
                    || ["-s", "-l", "-L", "--"].contains(&a.as_str())
                    || (a.len() > 1
                        && a.trim_start_matches('-')
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            };
            if args.iter().all(plain) {
                None
            } else {
                Some("a `kill` argument the shell may evaluate as an expression")
            }
        }
        _ => None,
    }
}

/// True when a printf format has a conversion other than `%s`, `%b`, `%c`, `%q` or `%%`: one
/// whose argument zsh and ksh evaluate as arithmetic.
fn printf_has_numeric_conversion(format: &str) -> bool {
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Flags, width, precision; then the conversion letter. A `*` width or precision
        // reads an argument as a number.
        let mut conversion = None;
        for next in chars.by_ref() {
            if next == '*' {
                return true;
            }
            if next.is_ascii_alphabetic() || next == '%' || next == '(' {
                conversion = Some(next);
                break;
            }
        }
        match conversion {
            Some('s' | 'b' | 'c' | 'q' | '%') => {}
            _ => return true,
        }
    }
    false
}

/// True when a segment is one of the safe builtin forms (`[ ... ]` must be closed). The name
/// is compared exactly, as the shell does: `TRUE`, `Cd` or `' true'` are not builtins but
/// programs looked up in PATH, which may hold the attacker's (the TS host lower-cases and
/// trims, as for Windows).
pub fn is_safe_builtin_segment(segment: &ShellSegment) -> bool {
    let Some(head) = segment.argv.first() else {
        return false;
    };
    if builtin_evaluates_code(&segment.argv).is_some() {
        return false;
    }
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
    // A quoted or escaped leading `~` is literal for the shell (`'~/x'` names `<cwd>/~/x`),
    // but the resolver expands every leading `~` from HOME: a disagreement, so a miss.
    if text.starts_with('~') && chars[word_start] != '~' {
        return fail("a quoted ~ at the start of a word");
    }
    Ok(Word {
        text,
        expandable,
        quoted,
    })
}

/// Whitespace and control characters a shell does not split on, which the analysis must not
/// trim either: every `trim()` of the resolution (Rust's or JavaScript's) removes `\v`,
/// `\f`, NBSP, U+3000, ..., while bash and dash keep them as part of the word, so
/// `\v./x` would be checked as `./x` and run `<cwd>/\v./x`.
fn is_unusual_blank(c: char) -> bool {
    !matches!(c, ' ' | '\t' | '\n' | '\r')
        && (c.is_whitespace() || c.is_control() || super::argv::is_js_whitespace(c))
}

/// True when a word is an assignment prefix as a shell reads it: an unquoted `NAME`, then `=`
/// or bash/zsh/ksh's append `+=`, in any quoting of the value (`X="a b"`, `X=\/e`, `X+=1`);
/// also `NAME[...]=` (array element). Only the source text up to the `=` decides, because the
/// shell decides on that: a quoted or escaped name (`'X'=1`, `X\=1`) is an ordinary word.
fn is_assignment_word(source: &str) -> bool {
    let Some(eq) = source.find('=') else {
        return false;
    };
    let mut name = &source[..eq];
    name = name.strip_suffix('+').unwrap_or(name);
    if let Some(open) = name.find('[') {
        if !name.ends_with(']') {
            return false;
        }
        name = &name[..open];
    }
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True when a word starts with a name and `[` (`X[/e ]`): where an assignment may stand,
/// bash reads the subscript up to its `]` as part of the word, blanks included, so
/// `X[/e ]` is one command word for bash (the file `e ]` in the directory `X[`) and two for a
/// reader that splits on blanks.
fn starts_like_a_subscript(source: &str) -> bool {
    let name_len = source
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit()))
        .count();
    name_len > 0 && source[name_len..].starts_with('[')
}

/// Splits a payload into simple commands, or explains why it will not.
pub fn analyze_payload(payload: &str) -> Result<Vec<ShellSegment>, ShellAnalysisError> {
    if let Some(c) = payload.chars().find(|c| is_unusual_blank(*c)) {
        return fail(format!("unusual whitespace or control character U+{:04X}", c as u32));
    }
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
        if is_assignment_word(head_source) {
            return fail("environment assignment before the command");
        }
        if starts_like_a_subscript(head_source) {
            return fail("a NAME[ command word (bash reads a subscript, blanks included)");
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
        let argv: Vec<String> = words.iter().map(|(w, _)| w.text.clone()).collect();
        if let Some(why) = builtin_evaluates_code(&argv) {
            return fail(why);
        }
        let carried = carried_word(&words);
        if let Some(index) = carried.and_then(|c| argv.iter().skip(1).position(|a| a == c)) {
            if let Some(why) = builtin_evaluates_code(&argv[index + 1..]) {
                return fail(why);
            }
        }
        // The resolve stage also refuses a relative word behind dispatch wrappers (`nice ./x`)
        // after a cd, through `after_cd`.
        let relative = |word: &str| word.contains('/') && !word.starts_with('/');
        if *saw_cd && (relative(&head.text) || carried.is_some_and(relative)) {
            return fail("relative command path after cd");
        }
        let after_cd = *saw_cd;
        if head.text == "cd" || carried == Some("cd") {
            *saw_cd = true;
        }
        let exact_argv = !words.iter().skip(1).any(|(w, _)| w.expandable);
        let expandable = if exact_argv {
            Vec::new()
        } else {
            words.iter().map(|(w, _)| w.expandable).collect()
        };
        let raw: String = match seg_start {
            Some(start) => chars[start..seg_end].iter().collect(),
            None => String::new(),
        };
        segments.push(ShellSegment {
            argv,
            exact_argv,
            raw: raw.trim().to_string(),
            after_cd,
            expandable,
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
        let quoted = analyze_payload("ls '*.txt' \"a~/x\"").unwrap();
        assert!(quoted[0].exact_argv);
        assert_eq!(quoted[0].argv, vec!["ls", "*.txt", "a~/x"]);
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

    #[test]
    fn builtins_that_evaluate_a_subscript_are_refused() {
        for payload in [
            "test -v 'a[$(touch /tmp/x)]'",
            "[ -v 'a[$(id)]' ]",
            "[ -v a ]",
            "test -R 'a[`id`]'",
            "true && test -v \"x[\\$(id)]\"",
            "command test -v 'a[$(id)]'",
            "exec -a x test -v 'a[1]'",
            "printf -v 'a[$(id)]' x",
            "printf -vx 'a[$(id)]'",
            "printf -- '%d' 'a[$(id)]'",
            "printf '%d' X",
            "printf '%*s' W x",
            "printf '%s' 'a[$(id)]'",
            "command printf -v 'a[$(id)]' %s x",
            "print -v 'a[$(id)]' x",
            "kill -n 'a[$(id)]' 1",
            "kill 'a[$(id)]'",
            "[ X -eq 1 ]",
            "test 1 -lt 'a[$(id)]'",
            "echo a; [ -v 'a[$(id)]' ]",
            "echo a || test -v 'a[$(id)]'",
        ] {
            rejects(payload);
        }
        // Forms that only compare, test files or print strings still pass.
        for payload in [
            "[ -f /etc/passwd ]",
            "test -d /tmp && echo ok",
            "[ 1 -eq 1 ]",
            "test a = b",
            "printf '%s\\n' hello",
            "printf '%d' 42",
            "printf hi",
            "kill -s TERM 1",
        ] {
            assert!(analyze_payload(payload).is_ok(), "must accept {payload:?}");
        }
        let segments = analyze_payload("[ -f x ] && test -n y").unwrap();
        assert!(segments.iter().all(is_safe_builtin_segment));
        // Names are exact: these are programs found in PATH, not builtins.
        for payload in ["TRUE", "Cd /tmp", "PWD", "Test -f x", "' true'", "'true '"] {
            let segments = analyze_payload(payload).unwrap();
            assert!(!is_safe_builtin_segment(&segments[0]), "{payload}");
        }
        let forged = ShellSegment {
            argv: vec!["test".into(), "-v".into(), "a[$(id)]".into()],
            exact_argv: true,
            raw: String::new(),
            after_cd: false,
            expandable: Vec::new(),
        };
        assert!(!is_safe_builtin_segment(&forged));
    }

    #[test]
    fn blanks_the_shell_keeps_and_quoted_tildes_are_refused() {
        for payload in [
            "\u{b}./x",
            "echo a && \u{c}./x",
            "'\u{a0}./x'",
            "echo '\u{3000}'",
            "\u{feff}ls",
            "ls\u{85}",
            "echo \u{1b}[0m",
            "'~/x'",
            "\\~/x",
            "\"~\"/x",
            "nice '~/bin/x'",
        ] {
            rejects(payload);
        }
        // A quoted word keeps its spaces; a tilde the shell expands is still read as before.
        assert_eq!(argvs("' ./x' a"), vec![vec![" ./x", "a"]]);
        assert_eq!(argvs("echo a~b"), vec![vec!["echo", "a~b"]]);
        assert!(!analyze_payload("ls ~/x").unwrap()[0].exact_argv);
    }

    #[test]
    fn every_assignment_prefix_form_is_refused() {
        for payload in [
            "X=\"a b\" ls",
            "X='/e' ls",
            "X=\\/e ls",
            "X=\"\" ls",
            "X+=1 ls",
            "X+=\"a\" ls",
            "_x1=\\/e ls",
            "a[1]=x ls",
            "echo a && X=\"y\" ls",
            "X[/e ]",
            "X[/e",
            "echo a; _a9[x",
        ] {
            rejects(payload);
        }
        // After `exec`, `X=1` is the command's name, not an assignment.
        assert_eq!(argvs("exec X=1"), vec![vec!["exec", "X=1"]]);
        // A quoted or escaped name is an ordinary word, as in the shell.
        assert_eq!(argvs("'X=1' a"), vec![vec!["X=1", "a"]]);
        assert_eq!(argvs("X\\=1 a"), vec![vec!["X=1", "a"]]);
    }

    #[test]
    fn relative_command_words_after_cd_are_refused() {
        for payload in [
            "cd /tmp && ./x",
            "cd /tmp && exec ./x",
            "cd /tmp && command ./x",
            "cd /tmp; bin/x",
            "command cd /tmp && ./x",
            "cd /tmp || exec -a y ./x",
        ] {
            rejects(payload);
        }
        // Behind dispatch wrappers the resolve stage refuses (`after_cd` is set).
        let segments = analyze_payload("cd /tmp && nice ./x && timeout 5 ./y").unwrap();
        assert!(!segments[0].after_cd);
        assert!(segments[1].after_cd && segments[2].after_cd);
        let segments = analyze_payload("command cd /tmp && sh -c ./x").unwrap();
        assert!(segments[1].after_cd);
    }
}
