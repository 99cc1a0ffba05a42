//! The filesystem side of the file-transfer commands (`file.stat`, `file.fetch`, `dir.list`,
//! `dir.fetch`, `file.write`; node-surface §8): byte-compatible with the TS host, bound to the
//! exact entry the gateway authorised.
//!
//! Each command runs in two phases the gateway drives: a `preflightOnly` call returns the
//! canonical path and a binding (device and inode), and the real call must find the same. The
//! node enforces no path policy; the gateway does. Application errors are payloads
//! (`{ok:false, code, message}`), built by [`outcome`]. Everything that touches the
//! filesystem goes through descriptors ([`posix`]), so what was checked is what is read or
//! written. Unix only; elsewhere the commands are not offered.

#[cfg(unix)]
pub mod archive;
pub mod collate;
pub mod mime;
pub mod outcome;
pub mod paths;
pub mod strict_base64;

#[cfg(unix)]
pub mod fetch;
#[cfg(unix)]
pub mod list;
#[cfg(unix)]
pub mod picker;
#[cfg(unix)]
pub mod posix;
#[cfg(unix)]
pub mod staging;
#[cfg(unix)]
pub mod stat;
#[cfg(unix)]
pub mod write;

/// `maxBytes` when the caller gives none (`file.fetch`, `dir.fetch`).
pub const DEFAULT_MAX_BYTES: u64 = 8 << 20;
/// The most `file.fetch`, `dir.fetch` and `file.write` move in one call.
pub const HARD_MAX_BYTES: u64 = 16 << 20;

#[cfg(all(test, unix))]
pub mod tests;
#[cfg(all(test, unix))]
mod write_tests;
#[cfg(all(test, unix))]
mod archive_tests;
