//! The output capture: the head of stdout and stderr under one combined byte cap, and the
//! text `system.run` reports from it.
//!
//! Bytes are kept in arrival order until the cap is reached, whichever stream they come from;
//! later bytes are only counted. Finishing follows the TS host (`appendCapturedOutput` in head
//! mode, `trimTruncatedUtf8Boundary`, `applyOutputTruncation`).

use super::TRUNCATION_MARKER;

/// Which pipe a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    Stdout = 0,
    Stderr = 1,
}

/// Kept bytes and dropped-byte counts of both streams.
#[derive(Debug)]
pub(super) struct Capture {
    /// Bytes that may still be kept, across both streams.
    room: usize,
    kept: [Vec<u8>; 2],
    dropped: [u64; 2],
}

/// The finished capture.
#[derive(Debug)]
pub(super) struct Captured {
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

impl Capture {
    /// An empty capture keeping at most `cap` bytes in total.
    pub fn new(cap: usize) -> Capture {
        Capture {
            room: cap,
            kept: [Vec::new(), Vec::new()],
            dropped: [0, 0],
        }
    }

    /// Takes one chunk read from `stream`: keeps what fits, counts the rest.
    pub fn push(&mut self, stream: Stream, chunk: &[u8]) {
        let keep = chunk.len().min(self.room);
        self.kept[stream as usize].extend_from_slice(&chunk[..keep]);
        self.room -= keep;
        self.dropped[stream as usize] += (chunk.len() - keep) as u64;
    }

    /// Decodes both streams. A stream that lost bytes first loses an incomplete UTF-8 sequence
    /// at its cut; when anything was lost the marker goes to stderr if it has non-blank text,
    /// else to stdout.
    pub fn finish(self) -> Captured {
        let [mut stdout, mut stderr] = self.kept;
        let truncated = self.dropped.iter().any(|&n| n > 0);
        if self.dropped[Stream::Stdout as usize] > 0 {
            trim_cut_utf8(&mut stdout);
        }
        if self.dropped[Stream::Stderr as usize] > 0 {
            trim_cut_utf8(&mut stderr);
        }
        // The platform's decoding: UTF-8 on Unix; on Windows a BOM or the console code page too.
        let mut stdout = super::imp::decode_output(stdout);
        let mut stderr = super::imp::decode_output(stderr);
        if truncated {
            if is_blank(&stderr) {
                stdout.push_str(TRUNCATION_MARKER);
            } else {
                stderr.push_str(TRUNCATION_MARKER);
            }
        }
        Captured {
            stdout,
            stderr,
            truncated,
        }
    }
}

/// Drops the smallest number (at most 3) of trailing bytes that leaves `bytes` valid UTF-8, and
/// leaves it alone when no such number exists (binary output), as the TS host does.
fn trim_cut_utf8(bytes: &mut Vec<u8>) {
    if let Err(err) = std::str::from_utf8(bytes) {
        // `valid_up_to` ends on a character boundary, so cutting there is valid, and no shorter
        // cut is: anything longer contains the invalid byte.
        if bytes.len() - err.valid_up_to() <= 3 {
            bytes.truncate(err.valid_up_to());
        }
    }
}

/// Blank as JavaScript's `String.prototype.trim` sees it: its whitespace set is Unicode's
/// White_Space minus U+0085, plus U+FEFF.
fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_cap() {
        let mut capture = Capture::new(10);
        capture.push(Stream::Stdout, b"abc");
        capture.push(Stream::Stderr, b"de");
        let out = capture.finish();
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str(), out.truncated),
            ("abc", "de", false)
        );
    }

    #[test]
    fn exactly_the_cap_is_not_truncated() {
        let mut capture = Capture::new(4);
        capture.push(Stream::Stdout, b"ab");
        capture.push(Stream::Stderr, b"cd");
        let out = capture.finish();
        assert!(!out.truncated);
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("ab", "cd"));
    }

    #[test]
    fn the_cap_is_shared_in_arrival_order() {
        let mut capture = Capture::new(5);
        capture.push(Stream::Stdout, b"abc");
        capture.push(Stream::Stderr, b"defg");
        capture.push(Stream::Stdout, b"hij");
        let out = capture.finish();
        assert!(out.truncated);
        assert_eq!(out.stdout, "abc");
        assert_eq!(out.stderr, format!("de{TRUNCATION_MARKER}"));
    }

    #[test]
    fn marker_goes_to_stdout_when_stderr_is_blank() {
        let mut capture = Capture::new(3);
        capture.push(Stream::Stderr, b" \n\t");
        capture.push(Stream::Stdout, b"abc");
        let out = capture.finish();
        assert_eq!(out.stdout, TRUNCATION_MARKER);
        assert_eq!(out.stderr, " \n\t");
    }

    #[test]
    fn js_blankness() {
        assert!(is_blank(""));
        assert!(is_blank("\u{feff} \u{3000}\r\n"));
        assert!(!is_blank("\u{85}"));
        assert!(!is_blank(" x "));
    }

    #[test]
    fn a_character_cut_at_the_cap_is_dropped() {
        // "é" is 2 bytes, "€" 3: the cap falls inside the euro sign.
        let mut capture = Capture::new(4);
        capture.push(Stream::Stdout, "é€".as_bytes());
        let out = capture.finish();
        assert_eq!(out.stdout, format!("é{TRUNCATION_MARKER}"));
    }

    #[test]
    fn only_a_cut_stream_is_trimmed() {
        // stderr ends in an incomplete sequence but lost nothing: it decodes lossily instead.
        let mut capture = Capture::new(2);
        capture.push(Stream::Stderr, &[0xe2, 0x82]);
        capture.push(Stream::Stdout, b"x");
        let out = capture.finish();
        assert_eq!(out.stderr, format!("\u{fffd}{TRUNCATION_MARKER}"));
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn trim_follows_the_ts_rule() {
        let trimmed = |bytes: &[u8]| {
            let mut bytes = bytes.to_vec();
            trim_cut_utf8(&mut bytes);
            bytes
        };
        assert_eq!(trimmed(b"ab\xf0\x9f\x98"), b"ab");
        assert_eq!(trimmed(b"ab\xff"), b"ab");
        assert_eq!(trimmed(b"\xffabcd"), b"\xffabcd");
        assert_eq!(trimmed(b"a\xffbcd"), b"a\xffbcd");
        assert_eq!(trimmed(b"ab\xffcd"), b"ab");
        assert_eq!(trimmed(b""), b"");
    }

    #[test]
    fn binary_output_decodes_lossily() {
        let mut capture = Capture::new(10);
        capture.push(Stream::Stdout, b"a\xffb");
        assert_eq!(capture.finish().stdout, "a\u{fffd}b");
    }
}
