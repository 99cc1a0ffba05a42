//! What differs between operating systems, one small module per concern, each with a Unix and a
//! Windows implementation behind the same interface. The rest of the node is platform-free;
//! process spawning and supervision live in `exec` (`exec/unix`, `exec/windows`), the cancel
//! token's wake primitive in `cancel`.
//!
//! - [`files`]: owner-only state files and directories, atomic replace, file identity, locks;
//! - [`host`]: host name, pid liveness, superuser;
//! - [`os_error`]: OS errors by their POSIX names;
//! - [`search_path`]: the PATH bare command names resolve through;
//! - [`shutdown`]: signals (Unix) and console control events (Windows) that stop the node.

pub mod files;
pub mod host;
pub mod os_error;
pub mod search_path;
pub mod shutdown;
