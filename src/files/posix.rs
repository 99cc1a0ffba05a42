//! Opening what the gateway authorised, race-free: every directory of a canonical path is
//! opened with `openat(O_NOFOLLOW)` from its parent's descriptor, starting at `/`, so a
//! component swapped for a symlink after `realpath` fails instead of redirecting. The final
//! entry is `lstat`ed through its parent's descriptor first, so FIFOs and devices are refused
//! without ever being opened, and then opened `O_NOFOLLOW | O_NONBLOCK`; its identity is taken
//! from the open descriptor.

use std::ffi::CStr;
use std::os::fd::OwnedFd;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::outcome::{Failure, Identity};
use super::paths::{basename, dirname, normalize};

/// The identity of what `stat` describes.
pub fn identity(stat: &Stat) -> Identity {
    #[allow(clippy::unnecessary_cast)]
    Identity::new(stat.st_dev as u64, stat.st_ino as u64)
}

pub fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// `mtimeMs` as Node computes it for `stat(..., {bigint:true})`: nanoseconds, then / 1e6.
pub fn mtime_ms_bigint(stat: &Stat) -> f64 {
    #[allow(clippy::unnecessary_cast)]
    let ns = i128::from(stat.st_mtime as i64) * 1_000_000_000 + i128::from(stat.st_mtime_nsec as i64);
    ns as f64 / 1e6
}

/// `mtimeMs` as Node computes it for a plain `lstat`: `sec * 1e3 + nsec / 1e6` in doubles.
pub fn mtime_ms(stat: &Stat) -> f64 {
    #[allow(clippy::unnecessary_cast)]
    let (sec, nsec) = (stat.st_mtime as i64, stat.st_mtime_nsec as i64);
    sec as f64 * 1e3 + nsec as f64 / 1e6
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const WALK_FLAGS: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const WALK_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens the directory `dir` (absolute, symlink-free) one component at a time from `/`,
/// refusing symlinks. The descriptor is for `openat` and `fstat`, not for reading.
pub fn walk_to_dir(dir: &str) -> Result<OwnedFd, Errno> {
    let mut fd = rfs::open("/", WALK_FLAGS, Mode::empty())?;
    for part in dir.split('/').filter(|part| !part.is_empty()) {
        fd = rfs::openat(&fd, part, WALK_FLAGS, Mode::empty())?;
    }
    Ok(fd)
}

/// An entry opened for reading through its parent's descriptor, and its `fstat`.
pub struct Opened {
    pub fd: OwnedFd,
    pub stat: Stat,
}

/// The parent directory's descriptor and the entry's name, for a canonical path. `/` is its
/// own parent, named ".".
pub fn parent_of(canonical: &str) -> Result<(OwnedFd, &str), Errno> {
    if canonical == "/" {
        return Ok((walk_to_dir("/")?, "."));
    }
    Ok((walk_to_dir(dirname(canonical))?, basename(canonical)))
}

/// `lstat` of `name` in `parent`: never follows, never opens.
pub fn lstat_at(parent: &OwnedFd, name: &str) -> Result<Stat, Errno> {
    rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
}

/// Opens `name` in `parent` for reading (`O_NOFOLLOW | O_NONBLOCK`, so a FIFO swapped in
/// cannot block) and checks that the descriptor is the entry `seen` described: a rename in
/// between gives `None`.
pub fn open_seen(parent: &OwnedFd, name: &str, seen: &Stat) -> Result<Option<Opened>, Errno> {
    let mut flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    if file_type(seen) == FileType::Directory {
        flags |= OFlags::DIRECTORY;
    }
    let fd = rfs::openat(parent, name, flags, Mode::empty())?;
    let stat = rfs::fstat(&fd)?;
    if identity(&stat) != identity(seen) {
        return Ok(None);
    }
    Ok(Some(Opened { fd, stat }))
}

/// Node's name and text for an errno (`ENOENT`, "no such file or directory"), for messages
/// that quote `String(err)` of a Node fs error.
pub fn errno_text(errno: Errno) -> (String, String) {
    let known = [
        (Errno::NOENT, "ENOENT", "no such file or directory"),
        (Errno::NOTDIR, "ENOTDIR", "not a directory"),
        (Errno::ACCESS, "EACCES", "permission denied"),
        (Errno::PERM, "EPERM", "operation not permitted"),
        (Errno::LOOP, "ELOOP", "too many symbolic links encountered"),
        (Errno::ISDIR, "EISDIR", "illegal operation on a directory"),
        (Errno::EXIST, "EEXIST", "file already exists"),
        (Errno::NAMETOOLONG, "ENAMETOOLONG", "name too long"),
        (Errno::NOSPC, "ENOSPC", "no space left on device"),
        (Errno::ROFS, "EROFS", "read-only file system"),
        (Errno::IO, "EIO", "i/o error"),
        (Errno::MFILE, "EMFILE", "too many open files"),
        (Errno::XDEV, "EXDEV", "cross-device link not permitted"),
        (Errno::BUSY, "EBUSY", "resource busy or locked"),
        (Errno::INVAL, "EINVAL", "invalid argument"),
    ];
    match known.iter().find(|(e, _, _)| *e == errno) {
        Some((_, name, text)) => (name.to_string(), text.to_string()),
        None => (
            format!("E{}", errno.raw_os_error()),
            std::io::Error::from(errno).to_string().to_lowercase(),
        ),
    }
}

/// `String(err)` of a Node fs error: `Error: ENOENT: no such file or directory, open '/x'`.
pub fn node_error(errno: Errno, syscall: &str, path: &str) -> String {
    let (name, text) = errno_text(errno);
    format!("Error: {name}: {text}, {syscall} '{path}'")
}

/// The read commands' errno classification (TS `classifyError` of `file.stat`, which the
/// others share for the codes they use).
pub fn classify(errno: Errno) -> &'static str {
    match errno {
        Errno::NOENT | Errno::NOTDIR => "NOT_FOUND",
        Errno::ACCESS | Errno::PERM => "PERMISSION_DENIED",
        _ => "READ_ERROR",
    }
}

/// `realpath` of a path, as text.
pub fn realpath(path: &str) -> Result<String, Errno> {
    let real = std::fs::canonicalize(path).map_err(|err| {
        err.raw_os_error()
            .map(Errno::from_raw_os_error)
            .unwrap_or(Errno::IO)
    })?;
    real.into_os_string().into_string().map_err(|_| Errno::ILSEQ)
}

/// How the read commands turn errnos of `realpath` into codes.
pub type Classifier = fn(Errno) -> &'static str;

/// TS `resolveCanonicalReadPath`: `realpath(normalize(path))`, and unless `follow`, a
/// canonical path that differs (a symlink anywhere, or a trailing `/`) is `SYMLINK_REDIRECT`.
pub fn resolve_read(
    requested: &str,
    follow: bool,
    classify: Classifier,
    not_found: &str,
) -> Result<String, Failure> {
    let normalized = normalize(requested);
    let canonical = match realpath(&normalized) {
        Ok(canonical) => canonical,
        Err(Errno::NOENT) => return Err(Failure::new("NOT_FOUND", not_found)),
        Err(errno) => {
            let code = classify(errno);
            let message = if code == "NOT_FOUND" {
                not_found.to_string()
            } else {
                format!("realpath failed: {}", node_error(errno, "realpath", &normalized))
            };
            return Err(Failure::new(code, message));
        }
    };
    if !follow && canonical != normalized {
        return Err(Failure::new("SYMLINK_REDIRECT", SYMLINK_REDIRECT_READ).at(&canonical));
    }
    Ok(canonical)
}

pub const SYMLINK_REDIRECT_READ: &str = "path traverses a symlink; refusing because followSymlinks=false (set plugins.entries.file-transfer.config.nodes.<node>.followSymlinks=true to allow, or update allowReadPaths to the canonical path)";
pub const SYMLINK_REDIRECT_WRITE: &str = "path traverses a symlink; refusing because followSymlinks=false (set plugins.entries.file-transfer.config.nodes.<node>.followSymlinks=true to allow, or update allowWritePaths to the canonical path)";

/// A directory's entries through its descriptor (never by path), without `.` and `..`.
pub fn read_dir_names(dir: &OwnedFd) -> Result<Vec<std::ffi::CString>, Errno> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Opens the directory `canonical` for reading and checks it against the `fstat` of what the
/// walk reached.
pub fn open_dir_for_reading(canonical: &str) -> Result<Opened, Errno> {
    let (parent, name) = parent_of(canonical)?;
    let fd = rfs::openat(
        &parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = rfs::fstat(&fd)?;
    Ok(Opened { fd, stat })
}
