//! Words of an argv as the TS host reads them: JavaScript trimming, the display text, the
//! executable's normalised name, `--flag=value` options and the `splitShellArgs` split.

/// JavaScript's `String.prototype.trim` set: WhiteSpace and LineTerminator code points. Rust's
/// `char::is_whitespace` differs (it includes U+0085 and excludes U+FEFF).
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

/// `formatExecCommand(argv)`: each arg verbatim unless it is empty (`""`) or holds whitespace or
/// `"` (then double-quoted with inner `"` escaped), joined by single spaces.
pub fn format_exec_command(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            if arg.is_empty() {
                "\"\"".to_string()
            } else if !arg.chars().any(|c| is_js_whitespace(c) || c == '"') {
                arg.clone()
            } else {
                format!("\"{}\"", arg.replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `normalizeExecutableToken`: the lowercase basename (after the last `/` or `\`), without a
/// Windows executable suffix.
pub fn normalize_executable_token(token: &str) -> String {
    let trimmed = token.trim_end_matches(['/', '\\']);
    let base = match trimmed.rfind(['/', '\\']) {
        Some(index) => &trimmed[index + 1..],
        None => trimmed,
    };
    let lower = base.to_lowercase();
    for suffix in [".exe", ".cmd", ".bat", ".com"] {
        if let Some(stripped) = lower.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    lower
}

/// `parseInlineOptionToken`: `--flag=value` → (`--flag`, `Some("value")`).
pub fn split_inline_option(token: &str) -> (&str, Option<&str>) {
    match token.find('=') {
        Some(index) => (&token[..index], Some(&token[index + 1..])),
        None => (token, None),
    }
}

/// `splitShellArgs`: a shell-like split honouring quotes and backslashes; `None` for unterminated
/// quotes or a trailing backslash. Used where the TS host uses it (env -S payloads, prepare
/// heuristics); the allowlist analysis uses the stricter [`crate::approvals::shell`] parser.
pub fn split_shell_args(raw: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = raw.chars().collect();
    let mut tokens = Vec::new();
    let mut buf = String::new();
    let (mut in_single, mut in_double, mut escaped) = (false, false, false);
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if escaped {
            buf.push(ch);
            escaped = false;
        } else if !in_single && !in_double && ch == '\\' {
            escaped = true;
        } else if in_single {
            if ch == '\'' {
                in_single = false;
            } else {
                buf.push(ch);
            }
        } else if in_double {
            let next = chars.get(i + 1).copied();
            if ch == '\\' && matches!(next, Some('\\' | '"' | '$' | '`' | '\n' | '\r')) {
                if let Some(next) = next {
                    buf.push(next);
                }
                i += 1;
            } else if ch == '"' {
                in_double = false;
            } else {
                buf.push(ch);
            }
        } else if ch == '\'' {
            in_single = true;
        } else if ch == '"' {
            in_double = true;
        } else if ch == '#' && buf.is_empty() {
            break;
        } else if is_js_whitespace(ch) {
            if !buf.is_empty() {
                tokens.push(std::mem::take(&mut buf));
            }
        } else {
            buf.push(ch);
        }
        i += 1;
    }
    if escaped || in_single || in_double {
        return None;
    }
    if !buf.is_empty() {
        tokens.push(buf);
    }
    Some(tokens)
}

/// `NAME=value` with a shell variable name.
pub(super) fn is_env_assignment_token(token: &str) -> bool {
    let Some(eq) = token.find('=') else {
        return false;
    };
    let name = &token[..eq];
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_exec_command_quotes_like_ts() {
        assert_eq!(
            format_exec_command(&v(&["sh", "-c", "echo a && uname"])),
            "sh -c \"echo a && uname\""
        );
        assert_eq!(format_exec_command(&v(&["echo", ""])), "echo \"\"");
        assert_eq!(
            format_exec_command(&v(&["echo", "say \"hi\""])),
            "echo \"say \\\"hi\\\"\""
        );
        assert_eq!(format_exec_command(&v(&["a\"b"])), "\"a\\\"b\"");
        assert_eq!(format_exec_command(&v(&["tab\there"])), "\"tab\there\"");
        // U+00A0 is JS whitespace, so it is quoted.
        assert_eq!(format_exec_command(&v(&["a\u{a0}b"])), "\"a\u{a0}b\"");
        assert_eq!(
            format_exec_command(&v(&["/usr/bin/echo", "hi there"])),
            "/usr/bin/echo \"hi there\""
        );
        assert_eq!(
            format_exec_command(&v(&["sh", "-c", "echo hello; echo err 1>&2; exit 3"])),
            "sh -c \"echo hello; echo err 1>&2; exit 3\""
        );
    }

    #[test]
    fn normalize_executable_token_takes_lowercase_basename() {
        assert_eq!(normalize_executable_token("/usr/bin/Env"), "env");
        assert_eq!(normalize_executable_token("C:\\Windows\\cmd.exe"), "cmd");
        assert_eq!(normalize_executable_token("bash"), "bash");
    }

    #[test]
    fn split_shell_args_matches_ts() {
        assert_eq!(
            split_shell_args("a 'b c' \"d\\\"e\" f\\ g"),
            Some(v(&["a", "b c", "d\"e", "f g"]))
        );
        assert_eq!(split_shell_args("a 'b"), None);
        assert_eq!(split_shell_args("a # comment"), Some(v(&["a"])));
        assert_eq!(split_shell_args("a \"\" b"), Some(v(&["a", "b"])));
    }
}
