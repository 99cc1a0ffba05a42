//! The Windows side: owner-only DACLs, `MoveFileExW`, `LockFileEx`, file ids by handle.
#![allow(unsafe_code)] // Win32 calls through windows-sys; each block says what it relies on.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::fs::OpenOptionsExt as _;
use std::os::windows::io::AsRawHandle as _;
use std::path::Path;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    LocalFree, ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    SetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    GetSecurityDescriptorDacl, GetTokenInformation, TokenUser, ACL, DACL_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, LockFileEx, MoveFileExW, BY_HANDLE_FILE_INFORMATION,
    FILE_FLAG_BACKUP_SEMANTICS, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
    MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// How often, and how far apart, a replacement is retried while another handle (an indexer, a
/// virus scanner, a reader of the old file) holds the target: about two seconds in all.
const REPLACE_ATTEMPTS: u32 = 10;
const REPLACE_BACKOFF: Duration = Duration::from_millis(20);

fn wide(path: &Path) -> Vec<u16> {
    OsStr::new(path).encode_wide().chain(Some(0)).collect()
}

/// Creates `dir` and its missing parents; each directory this call creates gets the owner-only
/// DACL. Existing directories keep theirs.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor {
        if path.as_os_str().is_empty() || path.exists() {
            break;
        }
        missing.push(path);
        cursor = path.parent();
    }
    fs::create_dir_all(dir)?;
    for path in missing.iter().rev() {
        set_owner_only(path, true)?;
    }
    Ok(())
}

/// A new file at `path` (never an existing one), owner-only before anything is written to it.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    set_owner_only(path, false)?;
    Ok(file)
}

/// `path` opened for appending; a file this call creates is made owner-only.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let existed = path.exists();
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    if !existed {
        set_owner_only(path, false)?;
    }
    Ok(file)
}

/// `path` opened for reading and writing (not truncated); made owner-only when created.
pub fn open_private_rw(path: &Path) -> io::Result<File> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if !existed {
        set_owner_only(path, false)?;
    }
    Ok(file)
}

/// Nothing to do on an open handle: [`create_new_private`] set the DACL already.
pub fn restrict_to_owner(_file: &File) -> io::Result<()> {
    Ok(())
}

/// `MoveFileExW(from, to, REPLACE_EXISTING | WRITE_THROUGH)`: atomic on NTFS, and durable when it
/// returns (there is no directory fsync on Windows). While another handle holds `to` (a reader, an
/// indexer, a virus scanner), MoveFileExW is refused; then std's rename is tried, which uses
/// POSIX rename semantics where Windows 10 (1809+) has them and so replaces a file that is open
/// with share-delete; and both are retried for about two seconds.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    let (from_w, to_w) = (wide(from), wide(to));
    let mut attempt = 0;
    loop {
        // SAFETY: both arguments are NUL-terminated UTF-16 strings that outlive the call.
        let ok = unsafe {
            MoveFileExW(
                from_w.as_ptr(),
                to_w.as_ptr(),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if is_busy(&err) && fs::rename(from, to).is_ok() {
            return Ok(());
        }
        attempt += 1;
        if !is_busy(&err) || attempt >= REPLACE_ATTEMPTS {
            return Err(err);
        }
        std::thread::sleep(REPLACE_BACKOFF * attempt);
    }
}

/// Another handle holds the file (or a scanner briefly does).
fn is_busy(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error().map(|code| code as u32),
        Some(ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION)
    )
}

/// Windows has no directory fsync; `MOVEFILE_WRITE_THROUGH` makes the rename durable instead.
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Which file object `path` is: volume serial number and file index, read through a handle
/// (std's own accessors for these are unstable). `None` when it cannot be opened.
pub fn file_identity(path: &Path, _meta: &fs::Metadata) -> Option<(u64, u64)> {
    let file = OpenOptions::new()
        .access_mode(0)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)
        .ok()?;
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is valid (plain integers).
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for the duration of the call; `info` is a valid out pointer.
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) };
    (ok != 0).then(|| {
        (
            u64::from(info.dwVolumeSerialNumber),
            (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        )
    })
}

/// Whether this process could change what is at `path`. Windows decides that by ACL, which
/// this does not evaluate: anything that exists and is not read-only counts as changeable, so
/// the approvals' "mutable path" checks fail closed.
pub fn writable_by_me(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
}

/// What Windows runs as a program (TS `isExecutableFile` on win32): a regular file named
/// `.exe`, `.com`, `.bat` or `.cmd`.
pub fn is_executable_file(path: &Path) -> bool {
    let runnable = path
        .extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| ["exe", "com", "bat", "cmd"].iter().any(|e| ext.eq_ignore_ascii_case(e)));
    runnable && fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Windows has no root-owned, mode-checked chain: never true, so nothing is trusted for it.
pub fn root_owned_chain(_real: &Path) -> bool {
    false
}

/// Takes an exclusive lock for `dir` (waiting for it): a directory cannot be opened as a file on
/// Windows, so the lock is on `dir\.lock`. Held while the returned handle lives.
pub fn lock_dir(dir: &Path) -> io::Result<File> {
    let file = open_private_rw(&dir.join(".lock"))?;
    lock(&file, LOCKFILE_EXCLUSIVE_LOCK)?;
    Ok(file)
}

/// Takes an exclusive lock on `file` without waiting: `Ok(false)` when another process holds
/// it. Released when the handle is closed (Wine's UnlockFileEx is unreliable, so nothing here
/// unlocks explicitly).
pub fn try_lock(file: &File) -> io::Result<bool> {
    match lock(file, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY) {
        Ok(()) => Ok(true),
        Err(err) if err.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Windows locks are mandatory: a locked range cannot be read through another handle. The lock
/// is therefore one byte far past the end of the file, so the pid a run lock holds stays
/// readable for the "already running (pid N)" message.
const LOCK_OFFSET_HIGH: u32 = 0x7FFF_FFFF;

fn lock(file: &File, flags: u32) -> io::Result<()> {
    // SAFETY: an all-zero OVERLAPPED is the documented "offset 0, no event".
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.OffsetHigh = LOCK_OFFSET_HIGH;
    // SAFETY: the handle is open; one byte at the offset above is locked; `overlapped`
    // outlives the (synchronous) call.
    let ok = unsafe { LockFileEx(file.as_raw_handle() as HANDLE, flags, 0, 1, 0, &mut overlapped) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The SID of the user this process runs as, in string form (`S-1-5-21-…`).
fn current_user_sid() -> io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess is a pseudo-handle; `token` is a valid out pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = OwnedHandle(token);
    let mut buffer = vec![0u64; 128]; // 1 KiB, 8-aligned: TOKEN_USER plus its SID
    let mut needed = 0u32;
    // SAFETY: the buffer is writable for its whole length, which is what we pass.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            (buffer.len() * 8) as u32,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into the buffer.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid while `buffer` lives; `text` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is NUL-terminated; it is freed once copied.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        sid
    };
    Ok(sid)
}

/// Replaces the DACL of `path` with a protected one (nothing inherited) that grants full
/// control to this user, SYSTEM and the Administrators only: the SDDL the TS gateway uses for
/// its private directories, `O:<me>D:P(A;OICI;FA;;;<me>)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)`.
fn set_owner_only(path: &Path, directory: bool) -> io::Result<()> {
    let me = current_user_sid()?;
    let inherit = if directory { "OICI" } else { "" };
    let sddl = format!("D:P(A;{inherit};FA;;;{me})(A;{inherit};FA;;;SY)(A;{inherit};FA;;;BA)");
    let sddl_w: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `sddl_w` is NUL-terminated; `descriptor` receives a LocalAlloc'd descriptor.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl_w.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut present = 0;
    let mut defaulted = 0;
    let mut dacl: *mut ACL = std::ptr::null_mut();
    // SAFETY: `descriptor` is valid until freed below; the out pointers are valid.
    let ok = unsafe { GetSecurityDescriptorDacl(descriptor, &mut present, &mut dacl, &mut defaulted) };
    let result = if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        let path_w = wide(path);
        // SAFETY: `path_w` is NUL-terminated; `dacl` points into `descriptor`, still alive.
        let status = unsafe {
            SetNamedSecurityInfoW(
                path_w.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            )
        };
        if status == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(status as i32))
        }
    };
    // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
    unsafe { LocalFree(descriptor) };
    result
}

/// Creates `dir` and its missing parents; Windows has no modes, they inherit their ACL.
pub fn create_dir_all_with_mode(dir: &Path, _mode: u32) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Windows has no modes: a public file (a service definition) keeps its inherited ACL.
pub fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// A directory the node keeps its locks in must be this user's and private; the node created it
/// with the owner-only DACL ([`create_private_dir_all`]), and ownership by SID is not checked
/// yet on Windows.
pub fn keep_dir_mine(_dir: &Path, _meta: &fs::Metadata) -> Result<(), String> {
    Ok(())
}

struct OwnedHandle(HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by us and is closed once.
        unsafe { windows_sys::Win32::Foundation::CloseHandle(self.0) };
    }
}
