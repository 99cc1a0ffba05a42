//! The Windows shell-payload analysis for allowlist mode: the TS host's deliberately crude
//! `analyzeWindowsShellCommand` (`src/infra/windows-shell-command.ts`, openclaw 2026.9.6).
//!
//! A payload (of `cmd /c` or `powershell -Command`) is first stripped of up to five nested
//! wrappers (`& CMD`, `powershell|pwsh[.exe] [-Opt [value]]... -Command|-c|--command PAYLOAD`,
//! with `""`/`''` un-doubled in a quoted payload). What is left is refused outright when it holds
//! any character cmd.exe or PowerShell would read as syntax (`& | < > ; ^ ( ) % !` and the
//! backtick outside double quotes; `%`, the backtick and newlines anywhere; `$` before a name,
//! `{`, `(`, `?` or `$`), and otherwise split on whitespace with `"…"` and `'…'` quoting into
//! **one** segment. There is no operator parsing: anything that could chain, redirect or
//! expand was refused already. The segment runs as its planned argv, without the shell, so the
//! words matched are the words that run.

/// Why a payload cannot be analysed: `unsupported windows shell token: X` or
/// `unable to parse windows command`, the TS host's reasons.
pub type Refusal = String;

/// `analyzeWindowsShellCommand`: the one segment's words, or why there are none.
pub fn analyze_windows_shell_command(command: &str) -> Result<Vec<String>, Refusal> {
    // `hasShellLineContinuation`; a newline is refused below anyway.
    let effective = strip_windows_shell_wrapper(command.trim());
    if let Some(token) = find_unsupported_token(&effective) {
        return Err(format!("unsupported windows shell token: {token}"));
    }
    match tokenize_segment(&effective) {
        Some(argv) if !argv.is_empty() => Ok(argv),
        _ => Err("unable to parse windows command".to_string()),
    }
}

/// `findWindowsUnsupportedToken`.
pub fn find_unsupported_token(command: &str) -> Option<&'static str> {
    let chars: Vec<char> = command.chars().collect();
    let mut in_double = false;
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '"' {
            in_double = !in_double;
            continue;
        }
        if ch == '$' {
            if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '_' | '{' | '(' | '?' | '$'))
            {
                return Some("$");
            }
            continue;
        }
        let token = match ch {
            '&' => "&",
            '|' => "|",
            '<' => "<",
            '>' => ">",
            ';' => ";",
            '^' => "^",
            '(' => "(",
            ')' => ")",
            '!' => "!",
            '%' => return Some("%"),
            '`' => return Some("`"),
            '\n' | '\r' => return Some("newline"),
            _ => continue,
        };
        if !in_double {
            return Some(token);
        }
    }
    None
}

/// `tokenizeWindowsSegment`: whitespace-separated words with `"…"` and `'…'` quoting (`''` in
/// single quotes is a quote); `None` for an unterminated quote or no words.
pub fn tokenize_segment(segment: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = segment.chars().collect();
    let mut tokens = Vec::new();
    let mut buf = String::new();
    let (mut in_double, mut in_single, mut was_quoted) = (false, false, false);
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '"' && !in_single {
            was_quoted |= !in_double;
            in_double = !in_double;
            continue;
        }
        if ch == '\'' && !in_double {
            if in_single && chars.get(i) == Some(&'\'') {
                buf.push('\'');
                i += 1;
                continue;
            }
            was_quoted |= !in_single;
            in_single = !in_single;
            continue;
        }
        if !in_double && !in_single && is_js_space(ch) {
            if !buf.is_empty() || was_quoted {
                tokens.push(std::mem::take(&mut buf));
            }
            was_quoted = false;
            continue;
        }
        buf.push(ch);
    }
    if in_double || in_single {
        return None;
    }
    if !buf.is_empty() || was_quoted {
        tokens.push(buf);
    }
    (!tokens.is_empty()).then_some(tokens)
}

/// JavaScript's `\s`.
fn is_js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `stripWindowsShellWrapper`: up to five wrapper layers.
pub fn strip_windows_shell_wrapper(command: &str) -> String {
    let mut result = command.to_string();
    for _ in 0..5 {
        let next = strip_once(result.trim());
        if next == result {
            break;
        }
        result = next;
    }
    result
}

/// `stripWindowsShellWrapperOnce`.
fn strip_once(command: &str) -> String {
    let chars: Vec<char> = command.chars().collect();
    // /^&\s+(.+)$/s
    if chars.first() == Some(&'&') {
        let start = space_end(&chars, 1);
        if start > 1 && start < chars.len() {
            return chars[start..].iter().collect();
        }
    }
    for quote in [Some('"'), Some('\''), None] {
        if let Some(payload) = powershell_payload(&chars, quote) {
            return match quote {
                Some('"') => payload.replace("\"\"", "\""),
                Some(_) => payload.replace("''", "'"),
                None => payload,
            };
        }
    }
    command.to_string()
}

fn space_end(s: &[char], mut pos: usize) -> usize {
    while pos < s.len() && is_js_space(s[pos]) {
        pos += 1;
    }
    pos
}

fn starts_with_ci(s: &[char], pos: usize, word: &str) -> bool {
    let n = word.chars().count();
    pos + n <= s.len()
        && s[pos..pos + n]
            .iter()
            .zip(word.chars())
            .all(|(a, b)| a.to_ascii_lowercase() == b)
}

/// The match of `POWERSHELL_{DOUBLE,SINGLE}_QUOTED` / `POWERSHELL_UNQUOTED` (flags `is`):
/// `^(?:powershell|pwsh)(?:\.exe)?\s+(?:-(?!c(?:ommand)?\b|-command\b)\w+(?:\s+(?!-)VALUE)?\s+)*
/// (?:-command|-c|--command)\s+` then `"(.+)"$`, `'(.+)'$` or `(.+)$`, searched in the regex's
/// backtracking order. A search over its step budget is no match (the payload is then analysed
/// as it is, wrapper and all, and misses).
fn powershell_payload(s: &[char], quote: Option<char>) -> Option<String> {
    let mut pos = None;
    for name in ["powershell", "pwsh"] {
        if starts_with_ci(s, 0, name) {
            pos = Some(name.len());
        }
    }
    let mut pos = pos?;
    if s.get(pos) == Some(&'.') && starts_with_ci(s, pos + 1, "exe") {
        // `(?:\.exe)?` is greedy, and `\s+` must follow either way.
        if space_end(s, pos + 4) > pos + 4 {
            pos += 4;
        }
    }
    let after = space_end(s, pos);
    if after == pos {
        return None;
    }
    let mut budget = 10_000usize;
    let mut finish = |at: usize| command_flag_payload(s, at, quote);
    options(s, after, &mut budget, &mut finish)
}

/// The `(?:-OPT(?:\s+VALUE)?\s+)*` loop, greedy, then `finish`.
fn options(
    s: &[char],
    pos: usize,
    budget: &mut usize,
    finish: &mut dyn FnMut(usize) -> Option<String>,
) -> Option<String> {
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    if let Some(word_end) = option_word(s, pos) {
        let value_start = space_end(s, word_end);
        if value_start > word_end {
            if value_start < s.len() && s[value_start] != '-' {
                for value_end in value_ends(s, value_start) {
                    let next = space_end(s, value_end);
                    if next > value_end {
                        if let Some(found) = options(s, next, budget, finish) {
                            return Some(found);
                        }
                    }
                }
            }
            if let Some(found) = options(s, value_start, budget, finish) {
                return Some(found);
            }
        }
    }
    if *budget == 0 {
        return None;
    }
    finish(pos)
}

/// `-\w+` at `pos` that is not `-c` or `-command` (the lookahead): where the word ends.
fn option_word(s: &[char], pos: usize) -> Option<usize> {
    if s.get(pos) != Some(&'-') {
        return None;
    }
    let mut end = pos + 1;
    while end < s.len() && is_word(s[end]) {
        end += 1;
    }
    let word: String = s[pos + 1..end].iter().collect::<String>().to_ascii_lowercase();
    (end > pos + 1 && word != "c" && word != "command").then_some(end)
}

/// Where an option's value may end, in the regex's order: a `"…"` (with `""` inside) or
/// `'…'` (with `''`) value, longest first, then `\S+`.
fn value_ends(s: &[char], start: usize) -> Vec<usize> {
    let mut ends = Vec::new();
    let open = s[start];
    if open == '"' || open == '\'' {
        quoted_ends(s, start + 1, open, &mut ends);
    }
    let mut end = start;
    while end < s.len() && !is_js_space(s[end]) {
        end += 1;
    }
    ends.push(end);
    ends
}

/// `[^q]*(?:qq[^q]*)*q` from `pos`: every end, the `(?:qq…)*` loop's longer ones first.
fn quoted_ends(s: &[char], mut pos: usize, q: char, ends: &mut Vec<usize>) {
    while pos < s.len() && s[pos] != q {
        pos += 1;
    }
    if pos >= s.len() {
        return;
    }
    if s.get(pos + 1) == Some(&q) {
        quoted_ends(s, pos + 2, q, ends);
    }
    ends.push(pos + 1);
}

/// `(?:-command|-c|--command)\s+` at `pos`, then the payload group to the end.
fn command_flag_payload(s: &[char], pos: usize, quote: Option<char>) -> Option<String> {
    for flag in ["-command", "-c", "--command"] {
        if !starts_with_ci(s, pos, flag) {
            continue;
        }
        let flag_end = pos + flag.len();
        let start = space_end(s, flag_end);
        if start == flag_end {
            continue;
        }
        let rest = &s[start..];
        let payload = match quote {
            Some(q) => (rest.len() >= 3 && rest[0] == q && rest[rest.len() - 1] == q)
                .then(|| rest[1..rest.len() - 1].iter().collect()),
            None => (!rest.is_empty()).then(|| rest.iter().collect()),
        };
        if payload.is_some() {
            return payload;
        }
    }
    None
}

#[cfg(test)]
mod tests;
