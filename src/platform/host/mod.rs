//! Facts about the machine and its processes that each OS answers its own way: the host name,
//! whether a pid is alive, whether the node runs as the superuser.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use imp::{host_name, is_superuser, pid_alive, terminate_pid, user_ids};

