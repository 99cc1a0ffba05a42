//! File helpers for the service definitions: atomic replacement with an exact mode.
//!
//! `crate::state::write_atomic` covers the node's private files (always 0600: the status file,
//! the credentials file). A systemd unit or a LaunchAgent plist lives outside the state directory
//! and is written 0644 like any unit, so this module keeps a helper that takes the mode.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};

use crate::platform::files as platform_files;
use std::path::Path;

/// Replaces `path` with `bytes`: written to a temporary file beside it, fsynced, given `mode`,
/// then renamed over the target (and the directory fsynced), so a reader sees the old file or
/// the new one, never a torn one. Missing parent directories are created with `dir_mode`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32, dir_mode: u32) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    platform_files::create_dir_all_with_mode(parent, dir_mode)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The pid keeps two processes writing the same file (two `run`s sharing a state directory)
    // from sharing a temporary file.
    let tmp = parent.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        // The umask may have cleared bits of `mode`; and a leftover temporary file keeps its old
        // mode. Either way the final file gets exactly `mode`.
        platform_files::set_mode(&file, mode)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        platform_files::replace(&tmp, path)?;
        // Make the rename itself durable. Some filesystems refuse to fsync a directory; the data
        // is already safe then, so that error is not worth failing for.
        let _ = platform_files::sync_dir(parent);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `path`; `Ok(false)` when it did not exist.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_with_exact_mode_and_replaces() {
        let dir = std::env::temp_dir().join(format!("ocn-files-{}", std::process::id()));
        let path = dir.join("a/b/file.txt");
        write_atomic(&path, b"one", 0o600, 0o700).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(dir.join("a")).unwrap().permissions().mode() & 0o777,
            0o700
        );
        write_atomic(&path, b"two", 0o644, 0o700).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.join("a/b")).unwrap().count(), 1);
        assert!(remove_if_exists(&path).unwrap());
        assert!(!remove_if_exists(&path).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}
