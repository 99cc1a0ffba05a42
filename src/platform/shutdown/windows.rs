#![allow(unsafe_code)] // SetConsoleCtrlHandler through windows-sys.

use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::Sender;
use windows_sys::core::BOOL;
use windows_sys::Win32::System::Console::{
    SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT, CTRL_LOGOFF_EVENT,
    CTRL_SHUTDOWN_EVENT,
};

/// After a close, logoff or shutdown event Windows ends the process once the handler returns
/// (and at the latest about 5 s later), so the handler holds on this long for the node to close
/// its session; the node's own exit ends the wait sooner.
const CLOSE_GRACE: Duration = Duration::from_millis(4500);

static EVENTS: OnceLock<Sender<u32>> = OnceLock::new();

pub(super) fn on_shutdown(handler: super::Handler) -> std::io::Result<()> {
    let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
    if EVENTS.set(tx).is_err() {
        return Err(std::io::Error::other("a shutdown handler is installed already"));
    }
    std::thread::Builder::new()
        .name("console-control".into())
        .spawn(move || {
            if let Ok(event) = rx.recv() {
                // Node.js maps Ctrl-C to SIGINT; the rest end the node as SIGTERM would.
                let signal = if event == CTRL_C_EVENT { 2 } else { 15 };
                handler(event_name(event), signal);
            }
        })?;
    // SAFETY: `console_event` is a valid handler for the process's lifetime.
    if unsafe { SetConsoleCtrlHandler(Some(console_event), 1) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn event_name(event: u32) -> &'static str {
    match event {
        CTRL_C_EVENT => "Ctrl-C",
        CTRL_BREAK_EVENT => "Ctrl-Break",
        CTRL_CLOSE_EVENT => "console close",
        CTRL_LOGOFF_EVENT => "logoff",
        CTRL_SHUTDOWN_EVENT => "system shutdown",
        _ => "console control event",
    }
}

/// Runs on a thread Windows creates. Hands the event to the shutdown thread (later events are
/// dropped: one shutdown is under way) and reports it handled.
unsafe extern "system" fn console_event(event: u32) -> BOOL {
    if let Some(events) = EVENTS.get() {
        let _ = events.try_send(event);
    }
    if matches!(event, CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT) {
        std::thread::sleep(CLOSE_GRACE);
    }
    1
}
