//! `terminal.upload` (§7): stage one dropped file in a private, expiring directory under the
//! temp directory and answer its path.
//!
//! As TS: canonical padded base64 of at most 16 MiB; the name made portable; a fresh
//! `openclaw-terminal-upload-XXXXXX` directory (0700) per file, the file created `O_EXCL`
//! (0600); at most 64 staged directories and 256 MiB, counted on disk (the node's own
//! directories only); 24 hours of retention. Admission is serial: a process-wide lock, and an
//! `flock` on `.openclaw-terminal-staging-<uid>/terminal-upload-lock/admission` for other
//! processes. Expired directories are removed on each upload and by one sweeper thread that
//! sleeps until the next expiry (no periodic wake-ups).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags};
use serde_json::{Map, Value};

pub const MAX_UPLOAD_BYTES: usize = 16 << 20;
const MAX_BASE64_LEN: usize = MAX_UPLOAD_BYTES.div_ceil(3) * 4;
const MAX_RETAINED_BYTES: u64 = 256 << 20;
const MAX_RETAINED_DIRECTORIES: usize = 64;
const RETENTION: Duration = Duration::from_secs(24 * 3600);
const PREFIX: &str = "openclaw-terminal-upload-";
const MAX_NAME_BYTES: usize = 180;

fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn decoded_size(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let padding = if text.ends_with("==") {
        2
    } else {
        usize::from(text.ends_with('='))
    };
    (text.len() / 4 * 3).saturating_sub(padding)
}

/// TS `validateTerminalUpload`: the decoded size, or its error text.
pub fn validate(content: &str) -> Result<usize, String> {
    if content.len() > MAX_BASE64_LEN || decoded_size(content) > MAX_UPLOAD_BYTES {
        return Err(format!("terminal upload exceeds {MAX_UPLOAD_BYTES} bytes"));
    }
    let invalid = || "invalid terminal upload encoding".to_string();
    let bytes = content.as_bytes();
    if bytes.len() % 4 != 0 {
        return Err(invalid());
    }
    let padding = if content.ends_with("==") {
        2
    } else {
        usize::from(content.ends_with('='))
    };
    let data_end = bytes.len() - padding;
    if bytes[..data_end].iter().any(|&b| base64_value(b).is_none()) {
        return Err(invalid());
    }
    if padding > 0 {
        let last = base64_value(bytes[data_end - 1]).ok_or_else(invalid)?;
        if last & (if padding == 2 { 15 } else { 3 }) != 0 {
            return Err(invalid());
        }
    }
    Ok(decoded_size(content))
}

fn is_windows_reserved(name: &str) -> bool {
    let lower = name.to_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    let reserved = ["con", "prn", "aux", "nul"].contains(&stem)
        || ["com", "lpt"].iter().any(|prefix| {
            stem.strip_prefix(prefix).is_some_and(|rest| {
                let mut chars = rest.chars();
                matches!(
                    (chars.next(), chars.next()),
                    (Some('1'..='9' | '¹' | '²' | '³'), None)
                )
            })
        });
    reserved
}

fn trim_trailing_dots_and_spaces(name: &str) -> &str {
    name.trim_end_matches(['.', ' '])
}

/// TS `sanitizeTerminalUploadName`.
pub fn sanitize_name(name: &str) -> String {
    let slashed = name.replace('\\', "/");
    let base = slashed.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if (c as u32) < 0x20 || c == '\u{7f}' || "<>:\"/\\|?*%!".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = trim_trailing_dots_and_spaces(cleaned.trim()).to_string();
    let portable = if is_windows_reserved(&cleaned) {
        format!("_{cleaned}")
    } else {
        cleaned
    };
    let chosen = if portable.is_empty() || portable == "." || portable == ".." {
        "upload".to_string()
    } else {
        portable
    };
    let mut truncated = String::new();
    for c in chosen.chars() {
        if truncated.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        truncated.push(c);
    }
    let truncated = trim_trailing_dots_and_spaces(&truncated).to_string();
    let result = if is_windows_reserved(&truncated) {
        format!("_{truncated}")
    } else {
        truncated
    };
    if result.is_empty() {
        "upload".into()
    } else {
        result
    }
}

/// Serialises admissions within this process.
static ADMISSION: Mutex<()> = Mutex::new(());

/// Stages `content` as `name` under `root` (the temp directory); the result payload or TS's
/// error text.
pub fn stage(name: &str, content: &str, root: &Path) -> Result<String, String> {
    let size = validate(content)?;
    let root = std::fs::canonicalize(root).map_err(|err| format!("Error: {err}"))?;
    let _serial = ADMISSION.lock().unwrap_or_else(|p| p.into_inner());
    let _lock = admission_lock(&root)?;
    let (directories, bytes) = scan(&root, size as u64);
    if directories >= MAX_RETAINED_DIRECTORIES || bytes + size as u64 > MAX_RETAINED_BYTES {
        return Err("terminal upload staging limit reached (256 MiB or 64 files). Move or remove staged files, then retry, or wait for the 24-hour cleanup.".into());
    }
    let directory = make_temp_dir(&root).map_err(|err| format!("Error: {err}"))?;
    let target = directory.join(sanitize_name(name));
    let written = (|| -> std::io::Result<()> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(std::io::Error::other)?;
        let fd = rfs::open(
            &target,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&bytes)?;
        file.sync_all()
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_dir_all(&directory);
        return Err(format!("Error: {err}"));
    }
    sweeper().schedule(directory, SystemTime::now() + RETENTION);
    let mut out = Map::new();
    out.insert("path".into(), Value::from(target.to_string_lossy().into_owned()));
    out.insert("size".into(), Value::from(size));
    Ok(Value::Object(out).to_string())
}

/// The cross-process admission lock (held while it lives).
fn admission_lock(root: &Path) -> Result<std::fs::File, String> {
    let uid = rustix::process::getuid().as_raw();
    let directory = root
        .join(format!(".openclaw-terminal-staging-{uid}"))
        .join("terminal-upload-lock");
    fn busy<E>(_: E) -> String {
        "terminal upload staging is busy; retry after current uploads finish".to_string()
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&directory)
        .map_err(busy)?;
    let fd = rfs::open(
        directory.join("admission"),
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(busy)?;
    // Waits for another process's upload, as TS's lock retries do.
    rfs::flock(&fd, FlockOperation::LockExclusive).map_err(busy)?;
    Ok(std::fs::File::from(fd))
}

use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};

/// The node's staged directories under `root`: expired ones removed (and empty ones), the
/// rest counted. (directories, bytes).
fn scan(root: &Path, incoming: u64) -> (usize, u64) {
    let uid = rustix::process::getuid().as_raw();
    let now = SystemTime::now();
    let (mut directories, mut bytes) = (0usize, 0u64);
    let Ok(entries) = std::fs::read_dir(root) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let expired = meta
            .modified()
            .map(|mtime| mtime.min(now) + RETENTION <= now)
            .unwrap_or(false);
        if expired {
            let _ = std::fs::remove_dir_all(&path);
            continue;
        }
        if bytes + incoming <= MAX_RETAINED_BYTES {
            let (used, empty) = usage(&path);
            if empty && std::fs::remove_dir(&path).is_ok() {
                continue;
            }
            bytes += used;
        }
        directories += 1;
    }
    (directories, bytes)
}

/// Bytes of the regular files under `dir` (not following symlinks), and whether it is empty.
fn usage(dir: &Path) -> (u64, bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, false);
    };
    let (mut bytes, mut empty) = (0, true);
    for entry in entries.flatten() {
        empty = false;
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.is_file() {
            bytes += meta.len();
        } else if meta.is_dir() {
            bytes += usage(&entry.path()).0;
        }
    }
    (bytes, empty)
}

/// `mkdtemp(<root>/openclaw-terminal-upload-XXXXXX)`, mode 0700.
fn make_temp_dir(root: &Path) -> std::io::Result<PathBuf> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let mut random = [0u8; 6];
        crate::random::fill(&mut random);
        let suffix: String = random
            .iter()
            .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
            .collect();
        let path = root.join(format!("{PREFIX}{suffix}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

/// One thread that removes staged directories when they expire. It sleeps until the next
/// deadline (or a new one), so an idle node with nothing staged never wakes for it.
struct Sweeper {
    tx: crossbeam_channel::Sender<(PathBuf, SystemTime)>,
}

fn sweeper() -> &'static Sweeper {
    static SWEEPER: OnceLock<Sweeper> = OnceLock::new();
    SWEEPER.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded::<(PathBuf, SystemTime)>(MAX_RETAINED_DIRECTORIES);
        let spawned = std::thread::Builder::new()
            .name("upload-sweeper".into())
            .spawn(move || {
                let mut due: BTreeMap<SystemTime, Vec<PathBuf>> = BTreeMap::new();
                loop {
                    let next = due.keys().next().copied();
                    let wait = next.map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
                    let received = match wait {
                        Some(wait) => rx.recv_timeout(wait).map_err(|e| e.is_disconnected()),
                        None => rx.recv().map_err(|_| true),
                    };
                    match received {
                        Ok((path, at)) => due.entry(at).or_default().push(path),
                        Err(true) => return,
                        Err(false) => {}
                    }
                    let now = SystemTime::now();
                    while let Some(entry) = due.first_entry() {
                        if *entry.key() > now {
                            break;
                        }
                        for path in entry.remove() {
                            let _ = std::fs::remove_dir_all(&path);
                        }
                    }
                }
            });
        if let Err(err) = spawned {
            log::warn!("terminal uploads: no cleanup thread ({err}); expired uploads are removed on the next upload");
        }
        Sweeper { tx }
    })
}

impl Sweeper {
    fn schedule(&self, path: PathBuf, at: SystemTime) {
        // A full queue only delays removal to the next upload's scan.
        let _ = self.tx.try_send((path, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::TempDir;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn names_as_ts_sanitises_them() {
        assert_eq!(sanitize_name("../evil name?.txt"), "evil name_.txt");
        assert_eq!(sanitize_name("CON.txt"), "_CON.txt");
        assert_eq!(sanitize_name("com¹"), "_com¹");
        assert_eq!(sanitize_name("..."), "upload");
        assert_eq!(sanitize_name("a\\b\\c.txt"), "c.txt");
        assert_eq!(sanitize_name("x<y>:z|*%!"), "x_y__z____");
        assert_eq!(sanitize_name("trail. . "), "trail");
        assert_eq!(sanitize_name(""), "upload");
        let long = "é".repeat(100);
        assert_eq!(sanitize_name(&long).len(), 180);
    }

    #[test]
    fn canonical_padded_base64_only() {
        assert_eq!(validate("aGk="), Ok(2));
        assert_eq!(validate(""), Ok(0));
        for bad in ["aGk", "aGl=", "aG==x", "-_8=", "a===", "aG k"] {
            assert_eq!(validate(bad), Err("invalid terminal upload encoding".into()), "{bad}");
        }
        assert_eq!(
            validate(&"A".repeat(MAX_BASE64_LEN + 4)),
            Err("terminal upload exceeds 16777216 bytes".into())
        );
    }

    #[test]
    fn staged_in_a_private_directory() {
        let tmp = TempDir::new("staging");
        let answer: Value = serde_json::from_str(&stage("a b.txt", "aGk=", tmp.path()).unwrap()).unwrap();
        assert_eq!(answer["size"], 2);
        let path = PathBuf::from(answer["path"].as_str().unwrap());
        assert_eq!(path.file_name().unwrap(), "a b.txt");
        let dir = path.parent().unwrap();
        assert!(dir.file_name().unwrap().to_str().unwrap().starts_with(PREFIX));
        assert_eq!(std::fs::read(&path).unwrap(), b"hi");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(dir), mode(&path)), (0o700, 0o600));
        // The 64-directory cap.
        for _ in 1..MAX_RETAINED_DIRECTORIES {
            stage("f", "aGk=", tmp.path()).unwrap();
        }
        assert!(stage("f", "aGk=", tmp.path()).unwrap_err().starts_with("terminal upload staging limit reached"));
    }
}
