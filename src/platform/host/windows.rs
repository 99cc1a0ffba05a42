#![allow(unsafe_code)] // Win32 calls through windows-sys; each block says what it relies on.

use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
use windows_sys::Win32::System::SystemInformation::{
    ComputerNameDnsHostname, GetComputerNameExW,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, TerminateProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_TERMINATE,
};

/// The DNS host name (`GetComputerNameExW(ComputerNameDnsHostname)`, what libuv's
/// `GetHostNameW` gives Node's `os.hostname()`); `COMPUTERNAME` if that fails.
pub fn host_name() -> String {
    let mut buffer = [0u16; 256];
    let mut len = buffer.len() as u32;
    // SAFETY: `buffer` holds `len` UTF-16 units; the call writes at most that many.
    let ok = unsafe { GetComputerNameExW(ComputerNameDnsHostname, buffer.as_mut_ptr(), &mut len) };
    if ok != 0 {
        return String::from_utf16_lossy(&buffer[..len as usize]);
    }
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// Whether `pid` is a live process: it can be opened and has no exit code yet.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: OpenProcess takes plain values; a null handle means failure.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        // Access denied means it exists (another user's process).
        return std::io::Error::last_os_error().raw_os_error() == Some(5);
    }
    let mut code = 0u32;
    // SAFETY: `handle` is open; `code` is a valid out pointer. It is closed once.
    unsafe {
        let ok = GetExitCodeProcess(handle, &mut code);
        CloseHandle(handle);
        ok != 0 && code == STILL_ACTIVE as u32
    }
}

/// Windows has no root; an elevated administrator is not treated specially.
pub fn is_superuser() -> bool {
    false
}

/// Windows has no uids; the service code only compares them with root's (0), so a value that
/// is never root's stands in.
pub fn user_ids() -> (u32, u32) {
    (u32::MAX, u32::MAX)
}

/// Ends `pid` (TerminateProcess, exit code 1 as libuv's kill gives). Windows has no polite stop
/// for a windowless console process. True when it was ended.
pub fn terminate_pid(pid: u32) -> bool {
    // SAFETY: plain values; a null handle means failure.
    let handle = unsafe { OpenProcess(PROCESS_TERMINATE, 0, pid) };
    if handle.is_null() {
        return false;
    }
    // SAFETY: `handle` is open; closed once.
    unsafe {
        let ok = TerminateProcess(handle, 1) != 0;
        CloseHandle(handle);
        ok
    }
}
