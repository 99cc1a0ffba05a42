use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700. Existing directories keep their mode.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A new file at `path` (never an existing one, never through a link), mode 0600, for writing.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        // O_CREAT|O_EXCL never follows a link at `path`; O_NOFOLLOW says so a second time.
        .create_new(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(0o600)
        .open(path)
}

/// `path` opened for appending, created with mode 0600 when missing.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// `path` opened for reading and writing (not truncated), created with mode 0600 when missing.
pub fn open_private_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Gives `file` exactly mode 0600 (the umask may have cleared bits at creation).
pub fn restrict_to_owner(file: &File) -> io::Result<()> {
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

/// Moves `from` over `to` atomically.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)
}

/// Flushes a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Which file object `meta` (of `path`) is: device and inode.
pub fn file_identity(_path: &Path, meta: &fs::Metadata) -> Option<(u64, u64)> {
    Some((meta.dev(), meta.ino()))
}

/// Whether this process could change what is at `path`: write access, or ownership (an owner
/// can always chmod).
pub fn writable_by_me(path: &Path) -> bool {
    if rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok() {
        return true;
    }
    fs::metadata(path).is_ok_and(|m| m.uid() == rustix::process::getuid().as_raw())
}

/// A regular file with an execute bit that this process may execute.
pub fn is_executable_file(path: &Path) -> bool {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            meta.permissions().mode() & 0o111 != 0
                && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
        }
        _ => false,
    }
}

/// The file and each directory above it owned by uid 0 with no group or world write bit.
pub fn root_owned_chain(real: &Path) -> bool {
    let mut cursor = Some(real);
    while let Some(path) = cursor {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.uid() == 0 && meta.mode() & 0o022 == 0 => {}
            _ => return false,
        }
        cursor = path.parent();
    }
    true
}

/// Takes an exclusive lock on `dir` (waiting for it); held while the returned handle lives.
pub fn lock_dir(dir: &Path) -> io::Result<File> {
    let handle = File::open(dir)?;
    rustix::fs::flock(&handle, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(handle)
}

/// Takes an exclusive lock on `file` without waiting: `Ok(false)` when another process holds
/// it. Released when the handle is closed.
pub fn try_lock(file: &File) -> io::Result<bool> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Creates `dir` and its missing parents with `mode` (service directories: 0755).
pub fn create_dir_all_with_mode(dir: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

/// Gives `file` exactly `mode` (service definitions: 0644).
pub fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// A directory the node keeps its locks in must be this user's and private: owned by the
/// effective user (else an error for the user), and made 0700 when group or others have bits.
pub fn keep_dir_mine(dir: &Path, meta: &fs::Metadata) -> Result<(), String> {
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        return Err(format!(
            "this lock directory belongs to uid {}, not to this user (uid {uid}); remove it",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("setting mode 0700 failed: {e}"))?;
    }
    Ok(())
}
