//! Quoting for POSIX shells: the wrapper scripts the service writes, and the commands the node
//! prints as hints for the user to paste.

/// `value` single-quoted: `'` becomes `'\''`. Safe for any string.
pub fn always(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `value` as one shell word, quoted only when it needs to be, so a printed hint stays readable
/// and still pastes safely (`--agent '*'`, not a glob the shell expands).
pub fn if_needed(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        value.to_string()
    } else {
        always(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_the_shell_would_change() {
        assert_eq!(if_needed("/usr/bin/git"), "/usr/bin/git");
        assert_eq!(if_needed("*"), "'*'");
        assert_eq!(if_needed(""), "''");
        assert_eq!(if_needed("it's"), r"'it'\''s'");
        assert_eq!(if_needed("/opt/my tools/x"), "'/opt/my tools/x'");
        assert_eq!(always("a b"), "'a b'");
    }
}
