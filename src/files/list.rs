//! `dir.list` (§8.5): one page of a directory, read through the bound descriptor.

use rustix::fs::FileType;
use rustix::io::Errno;
use serde_json::{Map, Value};

use super::collate;
use super::mime;
use super::outcome::{check_existing, check_path, success, Failure, Identity};
use super::paths::{join, read_absolute};
use super::posix::{
    file_type, identity, mtime_ms, node_error, open_dir_for_reading, read_dir_names, resolve_read,
};
use super::outcome::js_number;

pub const DEFAULT_MAX_ENTRIES: u64 = 200;
pub const HARD_MAX_ENTRIES: u64 = 5000;

pub fn classify(errno: Errno) -> &'static str {
    match errno {
        Errno::NOENT => "NOT_FOUND",
        Errno::ACCESS | Errno::PERM => "PERMISSION_DENIED",
        _ => "READ_ERROR",
    }
}

fn clamp_max_entries(value: Option<&Value>) -> u64 {
    match value.and_then(Value::as_f64) {
        Some(n) if n.is_finite() && n > 0.0 => (n.floor() as u64).min(HARD_MAX_ENTRIES),
        _ => DEFAULT_MAX_ENTRIES,
    }
}

/// A page token: a strict decimal offset (`+`/`-` signs and surrounding spaces as TS's
/// `parseStrictNonNegativeInteger` takes them), anything else is 0.
pub fn page_offset(value: Option<&Value>) -> u64 {
    let Some(text) = value.and_then(Value::as_str) else {
        return 0;
    };
    let text = text.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= 9_007_199_254_740_991 => n,
        _ => 0,
    }
}

/// A directory the gateway may have bound: canonical path and identity (TS
/// `resolveBoundReadDirectory`, shared with `dir.fetch`).
pub fn bound_directory(
    params: &Value,
    classify: fn(Errno) -> &'static str,
    not_found: &str,
) -> Result<(String, Identity), Failure> {
    let requested = read_absolute(params.get("path"))?;
    let follow = params.get("followSymlinks") == Some(&Value::Bool(true));
    let canonical = resolve_read(&requested, follow, classify, not_found)?;
    check_path(params.get("expectedCanonicalPath"), &canonical)?;
    let id = required_directory(&canonical, classify)?;
    check_existing(params.get("expectedBinding"), &id, &canonical)?;
    Ok((canonical, id))
}

/// TS `statRequiredDirectory`.
pub fn required_directory(
    canonical: &str,
    classify: fn(Errno) -> &'static str,
) -> Result<Identity, Failure> {
    let stat = rustix::fs::stat(canonical).map_err(|errno| {
        Failure::new(
            classify(errno),
            format!("stat failed: {}", node_error(errno, "stat", canonical)),
        )
        .at(canonical)
    })?;
    if file_type(&stat) != FileType::Directory {
        return Err(Failure::new("IS_FILE", "path is not a directory").at(canonical));
    }
    Ok(identity(&stat))
}

pub fn run(params: &Value) -> String {
    list(params).unwrap_or_else(|failure| failure.to_json())
}

fn list(params: &Value) -> Result<String, Failure> {
    let max_entries = clamp_max_entries(params.get("maxEntries"));
    let offset = page_offset(params.get("pageToken"));
    let (canonical, id) = bound_directory(params, classify, "path not found")?;
    if params.get("preflightOnly") == Some(&Value::Bool(true)) {
        return Ok(success(vec![
            ("path", Value::from(canonical.as_str())),
            ("entries", Value::Array(Vec::new())),
            ("truncated", Value::Bool(false)),
            ("preflight", Value::Bool(true)),
            ("binding", id.existing_binding()),
        ]));
    }
    let page = match read_page(&canonical, &id, offset, max_entries) {
        Ok(page) => page,
        Err(Listing::Changed) => return Err(Failure::path_changed(&canonical)),
        Err(Listing::Failed) => {
            required_directory(&canonical, classify)?;
            return Err(Failure::new("READ_ERROR", "list failed").at(&canonical));
        }
    };
    let truncated = offset + max_entries < page.total;
    let mut fields = vec![
        ("path", Value::from(canonical.as_str())),
        ("entries", Value::Array(page.entries)),
    ];
    if truncated {
        fields.push(("nextPageToken", Value::from((offset + max_entries).to_string())));
    }
    fields.push(("truncated", Value::Bool(truncated)));
    fields.push(("binding", id.existing_binding()));
    Ok(success(fields))
}

enum Listing {
    /// The directory is not the one bound (TS: the worker's exit 78).
    Changed,
    Failed,
}

struct Page {
    entries: Vec<Value>,
    total: u64,
}

/// All names, sorted, then `lstat` of the page's entries, all through the directory's own
/// descriptor.
fn read_page(canonical: &str, id: &Identity, offset: u64, max: u64) -> Result<Page, Listing> {
    let dir = open_dir_for_reading(canonical).map_err(|_| Listing::Failed)?;
    if identity(&dir.stat) != *id {
        return Err(Listing::Changed);
    }
    let names = read_dir_names(&dir.fd).map_err(|_| Listing::Failed)?;
    let mut named: Vec<(String, std::ffi::CString)> = names
        .into_iter()
        .map(|raw| (String::from_utf8_lossy(raw.to_bytes()).into_owned(), raw))
        .collect();
    named.sort_by(|a, b| collate::compare(&a.0, &b.0));
    let total = named.len() as u64;
    let start = offset.min(total) as usize;
    let end = offset.saturating_add(max).min(total) as usize;
    let mut entries = Vec::with_capacity(end - start);
    for (name, raw) in &named[start..end] {
        let stat = rustix::fs::statat(&dir.fd, raw.as_c_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|_| Listing::Failed)?;
        let is_dir = file_type(&stat) == FileType::Directory;
        let mut entry = Map::new();
        entry.insert("name".into(), Value::from(name.as_str()));
        entry.insert("path".into(), Value::from(join(canonical, name)));
        entry.insert("size".into(), Value::from(if is_dir { 0 } else { stat.st_size }));
        entry.insert(
            "mimeType".into(),
            Value::from(if is_dir { "inode/directory" } else { mime::for_listing(name) }),
        );
        entry.insert("isDir".into(), Value::Bool(is_dir));
        entry.insert("mtime".into(), js_number(mtime_ms(&stat)));
        entries.push(Value::Object(entry));
    }
    Ok(Page { entries, total })
}
