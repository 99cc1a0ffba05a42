//! The URL patterns `wait --url` matches, as TS's `matchBrowserUrlPattern`.

/// TS `matchBrowserUrlPattern`: exact, `*`, glob (`*` within a segment, `**` across), or
/// substring.
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    if pattern == url || pattern == "*" {
        return true;
    }
    if !pattern.contains('*') {
        return url.contains(pattern);
    }
    glob_match(pattern.as_bytes(), url.as_bytes())
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') if pattern.get(1) == Some(&b'*') => {
            (0..=text.len()).any(|i| glob_match(&pattern[2..], &text[i..]))
        }
        Some(b'*') => {
            let limit = text.iter().position(|c| *c == b'/').unwrap_or(text.len());
            (0..=limit).any(|i| glob_match(&pattern[1..], &text[i..]))
        }
        Some(c) => text.first() == Some(c) && glob_match(&pattern[1..], &text[1..]),
    }
}
