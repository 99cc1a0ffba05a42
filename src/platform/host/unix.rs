/// The kernel's node name (`uname -n`).
pub fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// Whether `pid` is a live process (EPERM: it exists but belongs to another user).
pub fn pid_alive(pid: u32) -> bool {
    let Some(raw) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    matches!(
        rustix::process::test_kill_process(raw),
        Ok(()) | Err(rustix::io::Errno::PERM)
    )
}

/// The effective user is root.
pub fn is_superuser() -> bool {
    rustix::process::geteuid().is_root()
}

/// The real and effective user ids.
pub fn user_ids() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::geteuid().as_raw(),
    )
}

/// Asks `pid` to stop (SIGTERM). True when the signal was sent.
#[allow(dead_code)] // the Windows service backend's need; kept so both sides have one interface
pub fn terminate_pid(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok())
}
