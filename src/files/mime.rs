//! `mimeType` as the TS host gives it: a content sniff (TS uses the `file-type` library; here
//! the magic numbers of the formats agents meet), the media-core extension table, and for
//! `file.fetch` a plain-text test, so the answer is never empty.

/// Extension → MIME, as TS's `MIME_BY_EXT` (media-core `mime.ts`, 2026.9.6): the first type
/// listed for each extension in `EXT_BY_MIME`, then its overrides.
const BY_EXTENSION: &[(&str, &str)] = &[
    ("avif", "image/avif"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("bmp", "image/bmp"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("aiff", "audio/aiff"),
    ("aif", "audio/aiff"),
    ("aifc", "audio/aiff"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("mp3", "audio/mpeg"),
    ("m2a", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("aac", "audio/aac"),
    ("amr", "audio/amr"),
    ("opus", "audio/opus"),
    ("webm", "video/webm"),
    ("m4a", "audio/x-m4a"),
    ("m4b", "audio/mp4"),
    ("caf", "audio/x-caf"),
    ("avi", "video/x-msvideo"),
    ("m4v", "video/x-m4v"),
    ("mp4", "video/mp4"),
    ("mkv", "video/x-matroska"),
    ("flv", "video/x-flv"),
    ("wmv", "video/x-ms-wmv"),
    ("mov", "video/quicktime"),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("7z", "application/x-7z-compressed"),
    ("rar", "application/vnd.rar"),
    ("doc", "application/msword"),
    ("xls", "application/vnd.ms-excel"),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("csv", "text/csv"),
    ("txt", "text/plain"),
    ("md", "text/markdown"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("xml", "text/xml"),
    ("css", "text/css"),
    ("cfg", "text/plain"),
    ("conf", "text/plain"),
    ("env", "text/plain"),
    ("ini", "text/plain"),
    ("js", "text/javascript"),
    ("log", "text/plain"),
    ("tsv", "text/tab-separated-values"),
];

/// The extension of a file name as Node's `path.extname` sees it (`.bashrc` has none,
/// `a.tar.gz` has `gz`), lowercased.
fn extension(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let base = base.rsplit('\\').next().unwrap_or(base);
    let dot = base.rfind('.')?;
    if dot == 0 || dot + 1 == base.len() {
        return None;
    }
    Some(base[dot + 1..].to_ascii_lowercase())
}

/// The table's type for `name`'s extension.
pub fn from_extension(name: &str) -> Option<&'static str> {
    let ext = extension(name)?;
    BY_EXTENSION
        .iter()
        .find(|(known, _)| *known == ext)
        .map(|(_, mime)| *mime)
}

/// `dir.list`'s rule: by extension, else `application/octet-stream`.
pub fn for_listing(name: &str) -> &'static str {
    from_extension(name).unwrap_or("application/octet-stream")
}

/// Bytes [`sniff`] and [`looks_like_text`] need from the start of a file.
pub const SNIFF_BYTES: usize = 8192;

/// The type a file's first bytes announce, for the formats with a fixed signature.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    Some(match () {
        _ if starts(b"\x89PNG\r\n\x1a\n") => "image/png",
        _ if starts(b"\xff\xd8\xff") => "image/jpeg",
        _ if starts(b"GIF87a") || starts(b"GIF89a") => "image/gif",
        _ if starts(b"RIFF") && at(8, b"WEBP") => "image/webp",
        _ if starts(b"RIFF") && at(8, b"WAVE") => "audio/wav",
        _ if starts(b"RIFF") && at(8, b"AVI ") => "video/x-msvideo",
        _ if starts(b"BM") && head.len() >= 14 && at(6, b"\0\0\0\0") => "image/bmp",
        _ if starts(b"%PDF-") => "application/pdf",
        _ if starts(b"PK\x03\x04") => "application/zip",
        _ if starts(b"\x1f\x8b") => "application/gzip",
        _ if starts(b"BZh") => "application/x-bzip2",
        _ if starts(b"\xfd7zXZ\0") => "application/x-xz",
        _ if starts(b"\x28\xb5\x2f\xfd") => "application/zstd",
        _ if starts(b"7z\xbc\xaf\x27\x1c") => "application/x-7z-compressed",
        _ if starts(b"Rar!\x1a\x07") => "application/vnd.rar",
        _ if at(257, b"ustar") => "application/x-tar",
        _ if starts(b"\x7fELF") => "application/x-elf",
        _ if starts(b"SQLite format 3\0") => "application/x-sqlite3",
        _ if starts(b"\0asm") => "application/wasm",
        _ if starts(b"OggS") => "audio/ogg",
        _ if starts(b"fLaC") => "audio/flac",
        _ if starts(b"ID3") => "audio/mpeg",
        _ if starts(b"\x1a\x45\xdf\xa3") => "video/webm",
        _ if at(4, b"ftyp") => match head.get(8..12) {
            Some(b"avif") => "image/avif",
            Some(b"heic") | Some(b"heix") => "image/heic",
            Some(b"qt  ") => "video/quicktime",
            Some(b"M4A ") => "audio/x-m4a",
            _ => "video/mp4",
        },
        _ if starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") => "application/x-cfb",
        _ => return None,
    })
}

/// TS `isLikelyPlainText`: the first 8 KiB are UTF-8 (a character cut at the sample's end
/// counts as invalid, as in TS) with no NUL and under 1 % control bytes.
pub fn looks_like_text(head: &[u8]) -> bool {
    let sample = &head[..head.len().min(SNIFF_BYTES)];
    if sample.is_empty() {
        return true;
    }
    if sample.contains(&0) || std::str::from_utf8(sample).is_err() {
        return false;
    }
    let control = sample
        .iter()
        .filter(|&&b| b < 32 && !matches!(b, 9 | 10 | 13))
        .count();
    (control as f64) / (sample.len() as f64) < 0.01
}

/// Types whose zip container the extension names better than the sniff (TS
/// `isZipContainerMime`, the entries this table knows).
fn is_zip_container(mime: &str) -> bool {
    mime.ends_with("+zip") || mime.starts_with("application/vnd.openxmlformats-officedocument.")
}

/// `file.fetch`'s `mimeType` (TS `detectFetchedFileMime`): the sniff, with an extension
/// naming a zip container winning over a bare zip; else the extension; else text or octet.
pub fn for_fetch(name: &str, head: &[u8]) -> &'static str {
    let by_extension = from_extension(name);
    match sniff(head) {
        Some("application/zip") => by_extension
            .filter(|mime| is_zip_container(mime))
            .unwrap_or("application/zip"),
        Some(sniffed) => sniffed,
        None => by_extension.unwrap_or(if looks_like_text(head) {
            "text/plain"
        } else {
            "application/octet-stream"
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_examples() {
        assert_eq!(for_fetch("/t/a.txt", b"hello\n"), "text/plain");
        assert_eq!(for_fetch("/t/p.png", b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(for_fetch("/t/picture", b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(for_fetch("/t/x.json", b"{\"a\":1}"), "application/json");
        assert_eq!(for_fetch("/t/bin", b"\x00\x01\x02\x03\x04"), "application/octet-stream");
        assert_eq!(for_fetch("/t/empty", b""), "text/plain");
        assert_eq!(for_fetch("/t/README", "héllo".as_bytes()), "text/plain");
        assert_eq!(
            for_fetch("/t/d.docx", b"PK\x03\x04rest"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(for_fetch("/t/d.zip", b"PK\x03\x04rest"), "application/zip");
    }

    #[test]
    fn listing_types_come_from_the_extension() {
        assert_eq!(for_listing(".hidden"), "application/octet-stream");
        assert_eq!(for_listing("x.TXT"), "text/plain");
        assert_eq!(for_listing("a.tar.gz"), "application/gzip");
        assert_eq!(for_listing("y.yml"), "application/yaml");
        assert_eq!(for_listing("trailing."), "application/octet-stream");
    }

    #[test]
    fn control_bytes_make_binary() {
        let mut text = vec![b'a'; 99];
        text.push(1);
        assert!(!looks_like_text(&text));
        assert!(looks_like_text(&[b'a'; 100][..]));
        assert!(!looks_like_text(&[0xff, 0xfe]));
    }
}
