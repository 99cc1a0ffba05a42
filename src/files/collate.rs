//! The order in which `dir.list` and `dir.fetch` list names. TS sorts with
//! `a.localeCompare(b)`: ICU collation in the process locale (root/en under `C.UTF-8`). A full
//! UCA table would add a large crate for one sort; this is the root collation's shape for the
//! names people use: three levels (base character, then accents, then case with lower first),
//! spaces and punctuation before digits before letters, digits one by one (`10` < `9`).
//! It gives TS's order on every example of the spec (`_x, .h, ~t, 10, 9, a, A, a b, a-b, ab, b,
//! e, é, f, Z`). It differs for scripts other than Latin (compared by code point after Latin)
//! and for locales that tailor the order (Swedish `ö` after `z`). Paging only needs a stable
//! order, which this is.

use std::cmp::Ordering;

/// Punctuation and symbols in the root collation's order; all sort before digits.
const PUNCTUATION: &str = "\t\n\u{b}\u{c}\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// The base letter and whether it had an accent, for the Latin-1 letters.
fn fold_latin(c: char) -> (char, bool) {
    const FROM: &str = "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝ";
    const TO: &str = "aaaaaaceeeeiiiinoooooouuuuyyAAAAAACEEEEIIIINOOOOOOUUUUY";
    match FROM.chars().position(|f| f == c) {
        Some(i) => (TO.chars().nth(i).unwrap_or(c), true),
        None => (c, false),
    }
}

/// One character's weights: (primary, secondary, tertiary).
fn weights(c: char) -> (u32, u8, u8) {
    if let Some(i) = PUNCTUATION.chars().position(|p| p == c) {
        return (1 + i as u32, 0, 0);
    }
    if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
        return (100 + d, 0, 0);
    }
    let (base, accented) = fold_latin(c);
    if base.is_ascii_alphabetic() {
        let lower = base.to_ascii_lowercase();
        return (
            200 + u32::from(lower) - u32::from('a'),
            u8::from(accented),
            u8::from(base.is_ascii_uppercase()),
        );
    }
    // Everything else after the Latin letters, by code point.
    (1000 + u32::from(c), 0, 0)
}

/// Compares two names as [`crate::files`] lists them.
pub fn compare(a: &str, b: &str) -> Ordering {
    let wa: Vec<(u32, u8, u8)> = a.chars().map(weights).collect();
    let wb: Vec<(u32, u8, u8)> = b.chars().map(weights).collect();
    let level = |pick: fn(&(u32, u8, u8)) -> u32| {
        wa.iter().map(pick).cmp(wb.iter().map(pick))
    };
    level(|w| w.0)
        .then_with(|| level(|w| u32::from(w.1)))
        .then_with(|| level(|w| u32::from(w.2)))
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_order() {
        let expected = [
            "_x", ".h", "~t", "10", "9", "a", "A", "a b", "a-b", "ab", "b", "e", "é", "f", "Z",
        ];
        let mut names = expected.to_vec();
        names.reverse();
        names.sort_by(|a, b| compare(a, b));
        assert_eq!(names, expected);
    }

    #[test]
    fn the_live_listing_order() {
        let mut names = vec!["sub", ".hidden", "inner", "x.txt"];
        names.sort_by(|a, b| compare(a, b));
        assert_eq!(names, [".hidden", "inner", "sub", "x.txt"]);
    }
}
