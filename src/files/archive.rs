//! `dir.fetch` (§8.6): a directory tree as a `.tar.gz`, written with the `tar` and `flate2`
//! crates instead of the `tar` binary.
//!
//! The tree is walked from the bound directory's descriptor, each directory opened
//! `O_NOFOLLOW` from its parent's, names in the listing's collation, depth first; that is the
//! member order (`./`, then `./a`, `./sub/`, `./sub/x`...) and the preflight's `entries`.
//! Members are regular files and directories only; a symlink, FIFO or device fails the whole
//! archive, as the gateway's own inspection would. A hard-linked file is stored as a full file
//! (TS's GNU tar emits a hard-link member, which the gateway refuses). The compressed stream
//! is base64-encoded onto the payload as it is produced, and the byte cap is enforced while
//! writing, so memory stays at one payload however large the tree.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::collate;
use super::fetch::{clamp_max_bytes, FRAME_HEADROOM};
use super::list::{bound_directory, required_directory};
use super::outcome::{success, Failure, Identity};
use super::posix::{file_type, identity, open_dir_for_reading, read_dir_names};

/// Entries a tree may have (TS `DIR_FETCH_MAX_ENTRIES`).
pub const MAX_ENTRIES: usize = 5000;
/// Members an archive may have, the root included.
const MAX_MEMBERS: usize = MAX_ENTRIES + 1;
const MAX_EXTRACTED_BYTES: u64 = 64 << 20;
const MAX_MEMBER_BYTES: u64 = 16 << 20;
/// TS's wall-clock limit for the `tar` child.
const DEADLINE: Duration = Duration::from_secs(60);

fn classify(errno: Errno) -> &'static str {
    match errno {
        Errno::NOENT => "NOT_FOUND",
        _ => "READ_ERROR",
    }
}

pub fn run(params: &Value) -> String {
    fetch_tree(params).unwrap_or_else(|failure| failure.to_json())
}

fn fetch_tree(params: &Value) -> Result<String, Failure> {
    let max_bytes = clamp_max_bytes(params.get("maxBytes"));
    let (canonical, id) = bound_directory(params, classify, "directory not found")?;
    let preflight = params.get("preflightOnly") == Some(&Value::Bool(true));
    let root = open_dir_for_reading(&canonical).map_err(|errno| {
        Failure::new(classify(errno), "tar command failed").at(&canonical)
    })?;
    if identity(&root.stat) != id {
        return Err(Failure::path_changed(&canonical));
    }
    let tree = match walk(&root.fd) {
        Ok(tree) => tree,
        Err(Walk::TooMany) if preflight => {
            return Err(Failure::new(
                "TREE_TOO_LARGE",
                format!("directory tree exceeds {MAX_ENTRIES} entries during preflight"),
            )
            .at(&canonical))
        }
        Err(Walk::TooMany) => {
            return Err(Failure::new(
                "TREE_TOO_LARGE",
                "archive inspection failed: archive entry count exceeds limit",
            )
            .at(&canonical))
        }
        Err(Walk::Failed(errno)) => {
            return Err(Failure::new(
                classify(errno),
                format!(
                    "preflight readdir failed: {}",
                    super::posix::node_error(errno, "scandir", &canonical)
                ),
            )
            .at(&canonical))
        }
    };
    if !preflight && tree.disk_kib > (max_bytes * 4).div_ceil(1024) {
        return Err(Failure::new(
            "TREE_TOO_LARGE",
            format!("directory tree exceeds estimated size limit ({max_bytes} bytes raw)"),
        )
        .at(&canonical));
    }
    let prefix = format!(
        r#"{{"ok":true,"path":{},"tarBase64":""#,
        Value::from(canonical.as_str())
    );
    let mut sink = Base64Sink::new(max_bytes, preflight, prefix);
    let started = Instant::now();
    let outcome = write_archive(&root.fd, &tree, preflight, &mut sink, started);
    let phase = if preflight { "during preflight" } else { "mid-stream" };
    match outcome {
        Ok(()) => {}
        Err(Archive::TooLarge) => {
            return Err(Failure::new(
                "TREE_TOO_LARGE",
                format!("tarball exceeded {max_bytes} byte limit {phase}"),
            )
            .at(&canonical))
        }
        Err(Archive::Rejected(name)) => {
            return Err(Failure::new(
                "READ_ERROR",
                format!("archive inspection failed: archive entry rejected by filter: {name}"),
            )
            .at(&canonical))
        }
        Err(Archive::Limit(message)) => {
            return Err(Failure::new(
                "TREE_TOO_LARGE",
                format!("archive inspection failed: {message}"),
            )
            .at(&canonical))
        }
        Err(Archive::Changed) => return Err(Failure::path_changed(&canonical)),
        Err(Archive::TimedOut) => {
            return Err(Failure::new(
                "READ_ERROR",
                "tar command exceeded 60s wall-clock timeout (slow filesystem or symlink loop?)",
            )
            .at(&canonical))
        }
        Err(Archive::Failed) => {
            required_directory(&canonical, classify)?;
            return Err(Failure::new("READ_ERROR", "tar command failed").at(&canonical));
        }
    }
    let entries: Vec<&str> = tree.entries.iter().map(|e| e.rel.as_str()).collect();
    if preflight {
        return Ok(success(vec![
            ("path", Value::from(canonical.as_str())),
            ("tarBase64", Value::from("")),
            ("tarBytes", Value::from(0)),
            ("sha256", Value::from("")),
            ("fileCount", Value::from(entries.len())),
            ("entries", Value::from(entries)),
            ("preflightOnly", Value::Bool(true)),
            ("binding", id.existing_binding()),
        ]));
    }
    let mut sorted = entries;
    sorted.sort_by(|a, b| collate::compare(a, b));
    Ok(sink.finish(&sorted, &id))
}

/// One entry of the tree, in walk order.
struct Entry {
    /// POSIX relative path, no `./` prefix (what `entries` lists).
    rel: String,
    /// The components from the root, for opening by descriptor.
    parts: Vec<CString>,
    stat: Stat,
}

struct Tree {
    entries: Vec<Entry>,
    /// Disk usage as `du -sk` counts it (hard links once).
    disk_kib: u64,
}

enum Walk {
    TooMany,
    Failed(Errno),
}

/// Every entry under `root`, never following a symlink, at most [`MAX_ENTRIES`].
fn walk(root: &OwnedFd) -> Result<Tree, Walk> {
    let mut tree = Tree {
        entries: Vec::new(),
        disk_kib: 0,
    };
    let mut seen_inodes = std::collections::HashSet::new();
    let root_stat = rfs::fstat(root).map_err(Walk::Failed)?;
    #[allow(clippy::unnecessary_cast)]
    let mut blocks = root_stat.st_blocks as u64;
    visit(root, "", &[], &mut tree, &mut seen_inodes, &mut blocks)?;
    tree.disk_kib = (blocks * 512).div_ceil(1024);
    Ok(tree)
}

fn visit(
    dir: &OwnedFd,
    prefix: &str,
    parts: &[CString],
    tree: &mut Tree,
    seen_inodes: &mut std::collections::HashSet<(u64, u64)>,
    blocks: &mut u64,
) -> Result<(), Walk> {
    let mut names: Vec<(String, CString)> = read_dir_names(dir)
        .map_err(Walk::Failed)?
        .into_iter()
        .map(|raw| (String::from_utf8_lossy(raw.to_bytes()).into_owned(), raw))
        .collect();
    names.sort_by(|a, b| collate::compare(&a.0, &b.0));
    for (name, raw) in names {
        let stat = rfs::statat(dir, raw.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(Walk::Failed)?;
        #[allow(clippy::unnecessary_cast)]
        if seen_inodes.insert((stat.st_dev as u64, stat.st_ino as u64)) {
            *blocks += stat.st_blocks as u64;
        }
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let mut entry_parts = parts.to_vec();
        entry_parts.push(raw.clone());
        let is_dir = file_type(&stat) == FileType::Directory;
        tree.entries.push(Entry {
            rel: rel.clone(),
            parts: entry_parts.clone(),
            stat,
        });
        if tree.entries.len() > MAX_ENTRIES {
            return Err(Walk::TooMany);
        }
        if is_dir {
            let child = rfs::openat(
                dir,
                raw.as_c_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(Walk::Failed)?;
            visit(&child, &rel, &entry_parts, tree, seen_inodes, blocks)?;
        }
    }
    Ok(())
}

enum Archive {
    TooLarge,
    Rejected(String),
    Limit(&'static str),
    Changed,
    TimedOut,
    Failed,
}

/// Writes `./` and every entry as GNU tar members through gzip into `sink`. In the preflight
/// (which only measures, as TS runs tar once to learn the size) entries that the real call
/// refuses are skipped rather than failing, as TS's preflight does not inspect the archive.
fn write_archive(
    root: &OwnedFd,
    tree: &Tree,
    preflight: bool,
    sink: &mut Base64Sink,
    started: Instant,
) -> Result<(), Archive> {
    let gzip = flate2::write::GzEncoder::new(sink, flate2::Compression::default());
    let mut builder = tar::Builder::new(gzip);
    let io_error = |err: io::Error| {
        if err.get_ref().is_some_and(|inner| inner.is::<CapReached>()) {
            Archive::TooLarge
        } else {
            Archive::Failed
        }
    };
    let root_stat = rfs::fstat(root).map_err(|_| Archive::Failed)?;
    append_dir(&mut builder, "./", &root_stat).map_err(io_error)?;
    let mut members = 1usize;
    let mut extracted = 0u64;
    for entry in &tree.entries {
        if started.elapsed() > DEADLINE {
            return Err(Archive::TimedOut);
        }
        match file_type(&entry.stat) {
            FileType::Directory => {
                append_dir(&mut builder, &format!("./{}/", entry.rel), &entry.stat).map_err(io_error)?
            }
            FileType::RegularFile => {
                let size = u64::try_from(entry.stat.st_size).unwrap_or(0);
                if !preflight {
                    if size > MAX_MEMBER_BYTES {
                        return Err(Archive::Limit("archive entry extracted size exceeds limit"));
                    }
                    extracted += size;
                    if extracted > MAX_EXTRACTED_BYTES {
                        return Err(Archive::Limit("archive extracted size exceeds limit"));
                    }
                }
                let file = open_entry(root, entry)?;
                let mut header = header_for(&entry.stat, tar::EntryType::Regular);
                header.set_size(size);
                // Exactly the size the header announced, even if the file changes meanwhile.
                let mut body = file.take(size).chain(io::repeat(0)).take(size);
                append(&mut builder, &mut header, &format!("./{}", entry.rel), &mut body)
                    .map_err(io_error)?;
            }
            // GNU tar skips sockets with a warning.
            FileType::Socket => continue,
            _ if preflight => continue,
            _ => return Err(Archive::Rejected(entry.rel.clone())),
        }
        members += 1;
        if !preflight && members > MAX_MEMBERS {
            return Err(Archive::Limit("archive entry count exceeds limit"));
        }
    }
    let gzip = builder.into_inner().map_err(io_error)?;
    gzip.finish().map_err(io_error)?;
    Ok(())
}

/// Opens a regular file of the tree by descriptor, component by component from the root,
/// and checks that it is still the entry the walk saw.
fn open_entry(root: &OwnedFd, entry: &Entry) -> Result<std::fs::File, Archive> {
    let (name, dirs) = entry.parts.split_last().ok_or(Archive::Failed)?;
    let mut dir: Option<OwnedFd> = None;
    for part in dirs {
        let parent = dir.as_ref().unwrap_or(root);
        let next = rfs::openat(
            parent,
            part.as_c_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|_| Archive::Changed)?;
        dir = Some(next);
    }
    let parent = dir.as_ref().unwrap_or(root);
    let fd = rfs::openat(
        parent,
        name.as_c_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| Archive::Changed)?;
    let stat = rfs::fstat(&fd).map_err(|_| Archive::Failed)?;
    if identity(&stat) != identity(&entry.stat) || file_type(&stat) != FileType::RegularFile {
        return Err(Archive::Changed);
    }
    Ok(std::fs::File::from(fd))
}

fn header_for(stat: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(stat.st_mode & 0o7777);
    #[allow(clippy::unnecessary_cast)]
    {
        header.set_uid(stat.st_uid as u64);
        header.set_gid(stat.st_gid as u64);
        header.set_mtime(u64::try_from(stat.st_mtime as i64).unwrap_or(0));
    }
    header
}

fn append_dir<W: Write>(builder: &mut tar::Builder<W>, name: &str, stat: &Stat) -> io::Result<()> {
    let mut header = header_for(stat, tar::EntryType::Directory);
    header.set_size(0);
    append(builder, &mut header, name, io::empty())
}

/// One member named as GNU tar names it (`./sub/x`): the name goes into the header as is
/// when it fits; a longer one takes the crate's GNU long-name record (which drops the `./`).
fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &str,
    data: impl Read,
) -> io::Result<()> {
    let bytes = name.as_bytes();
    match header.as_gnu_mut() {
        Some(gnu) if bytes.len() < gnu.name.len() => {
            gnu.name = [0; 100];
            gnu.name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(header, data)
        }
        _ => builder.append_data(header, name, data),
    }
}

/// The error a [`Base64Sink`] returns once the archive passes its cap.
#[derive(Debug)]
struct CapReached;
impl std::fmt::Display for CapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("archive over its byte cap")
    }
}
impl std::error::Error for CapReached {}

/// Where the compressed archive goes: counted against the cap, hashed, and base64-encoded
/// onto the payload text as it arrives (nothing kept in a preflight, which only measures).
struct Base64Sink {
    cap: u64,
    written: u64,
    measure_only: bool,
    hash: Sha256,
    pending: Vec<u8>,
    payload: String,
}

impl Base64Sink {
    /// A sink whose payload starts with `prefix`.
    fn new(cap: u64, measure_only: bool, prefix: String) -> Base64Sink {
        let room = if measure_only {
            0
        } else {
            // Reserved, not touched: pages count once base64 lands in them.
            prefix.len() + (cap as usize).div_ceil(3) * 4 + FRAME_HEADROOM
        };
        let mut payload = String::with_capacity(room);
        payload.push_str(&prefix);
        Base64Sink {
            cap,
            written: 0,
            measure_only,
            hash: Sha256::new(),
            pending: Vec::with_capacity(3),
            payload,
        }
    }

    /// The payload: the prefix, the archive's base64, and the fields that follow it.
    fn finish(mut self, entries: &[&str], id: &Identity) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode_string(&self.pending, &mut self.payload);
        let digest = crate::digest::lower_hex(&self.hash.finalize());
        self.payload.push_str(&format!(
            r#"","tarBytes":{},"sha256":"{digest}","fileCount":{},"entries":{},"binding":{}}}"#,
            self.written,
            entries.len(),
            Value::from(entries.to_vec()),
            id.existing_binding()
        ));
        self.payload
    }
}

impl Write for Base64Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.written + data.len() as u64 > self.cap {
            return Err(io::Error::other(CapReached));
        }
        self.written += data.len() as u64;
        if self.measure_only {
            return Ok(data.len());
        }
        use base64::Engine as _;
        self.hash.update(data);
        self.pending.extend_from_slice(data);
        let keep = self.pending.len() - self.pending.len() % 3;
        base64::engine::general_purpose::STANDARD
            .encode_string(&self.pending[..keep], &mut self.payload);
        self.pending.drain(..keep);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
