//! State-file protection and atomic replacement: what "owner-only" and "replace atomically" mean
//! on this operating system. Unix: modes 0700/0600, `O_NOFOLLOW`, `rename(2)` and a directory
//! fsync. Windows: a protected DACL for the owner (plus SYSTEM and Administrators, as the TS
//! gateway's own private directories have), `MoveFileExW` with replace and write-through,
//! retried while another handle holds the file.
//!
//! Also the file facts the approvals check with: identity (device and inode; volume serial and
//! file index), "could this process change it", "may this process execute it", and the one
//! exclusive lock of a directory.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use imp::{
    create_dir_all_with_mode, create_new_private, create_private_dir_all, keep_dir_mine, file_identity, is_executable_file, lock_dir,
    open_private_append, open_private_rw, replace, restrict_to_owner,
    root_owned_chain, set_mode, sync_dir, try_lock, writable_by_me,
};
