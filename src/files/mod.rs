//! The filesystem side of the file-transfer commands (`file.stat`, `file.fetch`, `dir.list`,
//! `dir.fetch`, `file.write`; node-surface §8): byte-compatible with the TS host, bound to the
//! exact entry the gateway authorised.
//!
//! Each command runs in two phases the gateway drives: a `preflightOnly` call returns the
//! canonical path and a binding (device and inode), and the real call must find the same. The
//! node enforces no path policy; the gateway does. Application errors are payloads
//! (`{ok:false, code, message}`), built by [`outcome`]. Everything that touches the
//! filesystem goes through descriptors ([`posix`]), so what was checked is what is read or
//! written. Unix only (the whole module); elsewhere the commands are not offered.

#![cfg(unix)]

// What the commands share: payloads and bindings, path text, descriptors, the listing order,
// MIME types, strict base64.
pub mod collate;
pub mod mime;
pub mod outcome;
pub mod paths;
pub mod posix;
pub mod strict_base64;

// One module per command.
pub mod archive; // dir.fetch
pub mod fetch; // file.fetch
pub mod list; // dir.list
pub mod picker; // fs.listDir
pub mod staging; // terminal.upload
pub mod stat; // file.stat
pub mod write; // file.write

/// `maxBytes` when the caller gives none (`file.fetch`, `dir.fetch`).
pub const DEFAULT_MAX_BYTES: u64 = 8 << 20;
/// The most `file.fetch`, `dir.fetch` and `file.write` move in one call.
pub const HARD_MAX_BYTES: u64 = 16 << 20;

#[cfg(test)]
pub mod tests;
#[cfg(test)]
mod write_tests;
#[cfg(test)]
mod archive_tests;
