//! The one way the operating system asks the node to stop. Unix: SIGINT and SIGTERM. Windows:
//! the console control events Ctrl-C, Ctrl-Break, console close, logoff and shutdown (a Scheduled
//! Task's stop and `taskkill` without `/F` arrive as these too).
//!
//! [`on_shutdown`] runs its handler once, on a thread of its own, with a word for the log and
//! the Unix signal number it stands for (Windows: Ctrl-C is SIGINT, 2; the other events SIGTERM,
//! 15), from which `run` takes its exit status (128 + signal, as TS).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// Calls `handler` (once, on its own thread) when the OS asks the node to stop.
pub fn on_shutdown(handler: impl FnOnce(&str, i32) + Send + 'static) -> std::io::Result<()> {
    imp::on_shutdown(Box::new(handler))
}

type Handler = Box<dyn FnOnce(&str, i32) + Send>;
