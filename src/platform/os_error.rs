//! OS errors by their POSIX names ("ENOENT", "EACCES", …), as Node.js puts them in
//! `error.code`: the one vocabulary the rest of the node uses for launch errors and advice, so
//! that no module outside `platform` matches on errno values or Win32 codes.
//!
//! Unix: the errno itself. Windows: libuv's table (`src/win/error.c`, `uv_translate_sys_error`)
//! for the codes the node meets; anything else is "UNKNOWN", as libuv names it.

use std::io;

/// The POSIX name of `err`'s OS error; `None` for an error that carries no OS error (a NUL byte
/// in an argument). OS errors without a name here are "UNKNOWN".
pub fn errno_name(err: &io::Error) -> Option<&'static str> {
    let code = err.raw_os_error()?;
    Some(
        NAMES
            .iter()
            .find(|(known, _)| *known == code)
            .map_or("UNKNOWN", |(_, name)| name),
    )
}

#[cfg(unix)]
const NAMES: &[(i32, &str)] = {
    use rustix::io::Errno;
    &[
        (Errno::NOENT.raw_os_error(), "ENOENT"),
        (Errno::NOTDIR.raw_os_error(), "ENOTDIR"),
        (Errno::ACCESS.raw_os_error(), "EACCES"),
        (Errno::PERM.raw_os_error(), "EPERM"),
        (Errno::NOEXEC.raw_os_error(), "ENOEXEC"),
        (Errno::ISDIR.raw_os_error(), "EISDIR"),
        (Errno::LOOP.raw_os_error(), "ELOOP"),
        (Errno::NAMETOOLONG.raw_os_error(), "ENAMETOOLONG"),
        (Errno::TOOBIG.raw_os_error(), "E2BIG"),
        (Errno::TXTBSY.raw_os_error(), "ETXTBSY"),
        (Errno::NOMEM.raw_os_error(), "ENOMEM"),
        (Errno::AGAIN.raw_os_error(), "EAGAIN"),
        (Errno::MFILE.raw_os_error(), "EMFILE"),
        (Errno::NFILE.raw_os_error(), "ENFILE"),
        (Errno::INVAL.raw_os_error(), "EINVAL"),
        (Errno::IO.raw_os_error(), "EIO"),
        (Errno::FAULT.raw_os_error(), "EFAULT"),
        (Errno::NOSPC.raw_os_error(), "ENOSPC"),
        (Errno::DQUOT.raw_os_error(), "EDQUOT"),
        (Errno::ROFS.raw_os_error(), "EROFS"),
        (Errno::FBIG.raw_os_error(), "EFBIG"),
    ]
};

/// Win32 error codes (winerror.h) as libuv translates them.
#[cfg(windows)]
const NAMES: &[(i32, &str)] = &[
    (2, "ENOENT"),    // ERROR_FILE_NOT_FOUND
    (3, "ENOENT"),    // ERROR_PATH_NOT_FOUND
    (267, "ENOENT"),  // ERROR_DIRECTORY: libuv reports a bad cwd as ENOENT
    (123, "ENOENT"),  // ERROR_INVALID_NAME
    (161, "ENOENT"),  // ERROR_BAD_PATHNAME
    (5, "EACCES"),    // ERROR_ACCESS_DENIED
    (740, "EACCES"),  // ERROR_ELEVATION_REQUIRED
    (8, "ENOMEM"),    // ERROR_NOT_ENOUGH_MEMORY
    (14, "ENOMEM"),   // ERROR_OUTOFMEMORY
    (206, "ENAMETOOLONG"), // ERROR_FILENAME_EXCED_RANGE
    (193, "ENOEXEC"), // ERROR_BAD_EXE_FORMAT
    (32, "EBUSY"),    // ERROR_SHARING_VIOLATION
    (87, "EINVAL"),   // ERROR_INVALID_PARAMETER
    (112, "ENOSPC"),  // ERROR_DISK_FULL
    (39, "ENOSPC"),   // ERROR_HANDLE_DISK_FULL
    (19, "EROFS"),    // ERROR_WRITE_PROTECT
    (4, "EMFILE"),    // ERROR_TOO_MANY_OPEN_FILES
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_get_posix_names() {
        #[cfg(unix)]
        let (missing, denied) = (2, 13);
        #[cfg(windows)]
        let (missing, denied) = (2, 5);
        assert_eq!(errno_name(&io::Error::from_raw_os_error(missing)), Some("ENOENT"));
        assert_eq!(errno_name(&io::Error::from_raw_os_error(denied)), Some("EACCES"));
        assert_eq!(errno_name(&io::Error::from_raw_os_error(100_000)), Some("UNKNOWN"));
        assert_eq!(errno_name(&io::Error::new(io::ErrorKind::InvalidInput, "nul")), None);
    }
}
