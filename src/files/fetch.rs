//! `file.fetch` (§8.4, unary): the bytes of one regular file as base64 inside the payload.
//!
//! Memory: the file is never held whole. It is read in chunks and each chunk is base64-encoded
//! straight onto the payload text, which is allocated once at its final size (with room for
//! the result frame around it, see `gateway::link`). A 16 MiB file costs its 22.4 MB of
//! base64, once.

use std::io::Read;

use base64::Engine as _;
use rustix::fs::FileType;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::mime;
use super::outcome::{check_existing, check_path, success, Failure, Identity};
use super::paths::read_absolute;
use super::posix::{file_type, identity, lstat_at, node_error, open_seen, parent_of, resolve_read};
use super::{DEFAULT_MAX_BYTES, HARD_MAX_BYTES};
use rustix::io::Errno;

/// Room left in the payload's allocation for the result frame that will wrap it.
pub const FRAME_HEADROOM: usize = 1024;

fn classify(errno: Errno) -> &'static str {
    match errno {
        Errno::NOENT => "NOT_FOUND",
        Errno::ACCESS | Errno::PERM => "PERMISSION_DENIED",
        Errno::ISDIR => "IS_DIRECTORY",
        _ => "READ_ERROR",
    }
}

/// TS `clampMaxBytes`: a positive number, floored, at most 16 MiB; else 8 MiB.
pub fn clamp_max_bytes(value: Option<&Value>) -> u64 {
    match value.and_then(Value::as_f64) {
        Some(n) if n.is_finite() && n > 0.0 => (n.floor() as u64).min(HARD_MAX_BYTES),
        _ => DEFAULT_MAX_BYTES,
    }
}

pub fn run(params: &Value) -> String {
    fetch(params).unwrap_or_else(|failure| failure.to_json())
}

fn fetch(params: &Value) -> Result<String, Failure> {
    let requested = read_absolute(params.get("path"))?;
    let binary = match params.get("transport") {
        None => false,
        Some(Value::String(t)) if t == "binary" => {
            let positive = params
                .get("maxBytes")
                .and_then(Value::as_f64)
                .is_some_and(|n| n.fract() == 0.0 && n > 0.0 && n <= 9_007_199_254_740_991.0);
            if !positive {
                return Err(Failure::new(
                    "INVALID_PARAMS",
                    "Error: binary file.fetch maxBytes must be a positive safe integer",
                ));
            }
            true
        }
        Some(_) => {
            return Err(Failure::new(
                "INVALID_PARAMS",
                "Error: file.fetch transport must be \"binary\" when supplied",
            ))
        }
    };
    if params.get("rootPath").is_some() {
        // Only the workspace adapter sends rootPath, and only with the duplex transport.
        read_absolute(params.get("rootPath"))?;
        return Err(Failure::new(
            "INVALID_PARAMS",
            "rootPath requires the duplex transport, which this node does not offer",
        ));
    }
    let max_bytes = clamp_max_bytes(params.get("maxBytes"));
    let follow = params.get("followSymlinks") == Some(&Value::Bool(true));
    let canonical = resolve_read(&requested, follow, classify, "file not found")?;
    let open_error = |errno: Errno| {
        let code = classify(errno);
        let message = if code == "IS_DIRECTORY" {
            "path is a directory".to_string()
        } else {
            format!("open failed: {}", node_error(errno, "open", &canonical))
        };
        Failure::new(code, message).at(&canonical)
    };
    let (parent, name) = parent_of(&canonical).map_err(open_error)?;
    let seen = lstat_at(&parent, name).map_err(open_error)?;
    match file_type(&seen) {
        FileType::RegularFile => {}
        FileType::Symlink => return Err(Failure::identity_changed(&canonical)),
        // Directories, FIFOs, sockets, devices: refused before any open (a FIFO would block).
        _ => return Err(Failure::new("IS_DIRECTORY", "path is a directory").at(&canonical)),
    }
    if seen.st_nlink > 1 {
        return Err(Failure::new(
            "READ_ERROR",
            "open failed: FsSafeError: hardlinked path not allowed",
        )
        .at(&canonical));
    }
    let opened = open_seen(&parent, name, &seen)
        .map_err(open_error)?
        .ok_or_else(|| Failure::identity_changed(&canonical))?;
    check_path(params.get("expectedCanonicalPath"), &canonical)?;
    let id = identity(&opened.stat);
    check_existing(params.get("expectedBinding"), &id, &canonical)?;
    let size = u64::try_from(opened.stat.st_size).unwrap_or(0);
    if size > max_bytes {
        return Err(Failure::new(
            "FILE_TOO_LARGE",
            format!("file size {size} exceeds limit {max_bytes}"),
        )
        .at(&canonical));
    }
    if params.get("preflightOnly") == Some(&Value::Bool(true)) {
        return Ok(success(vec![
            ("path", Value::from(canonical.as_str())),
            ("size", Value::from(size)),
            ("mimeType", Value::from("")),
            ("base64", Value::from("")),
            ("sha256", Value::from("")),
            ("preflightOnly", Value::Bool(true)),
            ("binding", id.existing_binding()),
        ]));
    }
    if binary {
        return Err(Failure::new(
            "INVALID_PARAMS",
            "binary file.fetch requires duplex IO and an authorized filesystem binding",
        ));
    }
    let file = std::fs::File::from(opened.fd);
    encode_payload(file, &canonical, size, max_bytes, &id).map_err(|failure| failure.at(&canonical))
}

/// Reads `file` (expected to hold `size` bytes, at most `max_bytes`) and builds the payload
/// `{"ok":true,"path","size","mimeType","base64","sha256","binding"}` in one allocation.
pub fn encode_payload(
    mut file: impl Read,
    canonical: &str,
    size: u64,
    max_bytes: u64,
    id: &Identity,
) -> Result<String, Failure> {
    let read_error = |err: std::io::Error| {
        let errno = err
            .raw_os_error()
            .map(Errno::from_raw_os_error)
            .unwrap_or(Errno::IO);
        Failure::new(
            classify(errno),
            format!("read failed: {}", node_error(errno, "read", canonical)),
        )
    };
    let too_large = |seen: u64| {
        Failure::new(
            "FILE_TOO_LARGE",
            format!(
                "read failed: FsSafeError: file exceeds limit of {max_bytes} bytes (got at least {seen})"
            ),
        )
    };
    // The first bytes decide the type; TS sniffs before it encodes, so does this.
    let mut head = Vec::with_capacity(mime::SNIFF_BYTES);
    (&mut file)
        .take(mime::SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    let mime_type = mime::for_fetch(canonical, &head);
    let prefix = |size: u64| {
        format!(
            r#"{{"ok":true,"path":{},"size":{size},"mimeType":"{mime_type}","base64":""#,
            Value::from(canonical)
        )
    };
    let start = prefix(size);
    let encoded_len = size.div_ceil(3) as usize * 4;
    let mut out = String::with_capacity(start.len() + encoded_len + 256 + 2 * canonical.len() + FRAME_HEADROOM);
    out.push_str(&start);
    let mut hash = Sha256::new();
    let mut total = head.len() as u64;
    hash.update(&head);
    // Chunks of a multiple of 3 bytes encode without padding in between.
    let mut chunk = vec![0u8; 3 * 64 * 1024];
    let mut pending = head;
    loop {
        let keep = pending.len() - pending.len() % 3;
        base64::engine::general_purpose::STANDARD.encode_string(&pending[..keep], &mut out);
        pending.drain(..keep);
        if total > max_bytes {
            return Err(too_large(total));
        }
        let room = (max_bytes + 1 - total).min(chunk.len() as u64) as usize;
        let n = loop {
            match file.read(&mut chunk[..room]) {
                Ok(n) => break n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(read_error(err)),
            }
        };
        if n == 0 {
            break;
        }
        total += n as u64;
        hash.update(&chunk[..n]);
        pending.extend_from_slice(&chunk[..n]);
    }
    base64::engine::general_purpose::STANDARD.encode_string(&pending, &mut out);
    if total != size {
        // The file changed size while it was read: report what was read, as TS does.
        out.replace_range(..start.len(), &prefix(total));
    }
    let digest = crate::digest::lower_hex(&hash.finalize());
    out.push_str(&format!(
        r#"","sha256":"{digest}","binding":{}}}"#,
        id.existing_binding()
    ));
    Ok(out)
}
