//! `file.stat` (§8.3): what a path is, bound to the entry the descriptor reached.

use rustix::fs::FileType;
use serde_json::Value;

use super::outcome::{check_existing, check_path, js_number, success, Failure};
use super::paths::read_absolute;
use super::posix::{
    classify, file_type, identity, lstat_at, mtime_ms_bigint, open_seen, parent_of, resolve_read,
};

pub fn run(params: &Value) -> String {
    stat(params).unwrap_or_else(|failure| failure.to_json())
}

fn stat(params: &Value) -> Result<String, Failure> {
    let requested = read_absolute(params.get("path"))?;
    let follow = params.get("followSymlinks") == Some(&Value::Bool(true));
    let canonical = resolve_read(&requested, follow, classify, "path not found")?;
    check_path(params.get("expectedCanonicalPath"), &canonical)?;
    let metadata_error =
        |errno| Failure::new(classify(errno), "could not read file metadata").at(&canonical);
    let (parent, name) = parent_of(&canonical).map_err(metadata_error)?;
    let seen = lstat_at(&parent, name).map_err(metadata_error)?;
    let kind = file_type(&seen);
    if kind != FileType::RegularFile && kind != FileType::Directory {
        return Err(Failure::new(
            "UNSUPPORTED_FILE_TYPE",
            "only regular files and directories are supported",
        )
        .at(&canonical));
    }
    let opened = open_seen(&parent, name, &seen)
        .map_err(|errno| {
            Failure::new(classify(errno), "could not open the metadata target").at(&canonical)
        })?
        .ok_or_else(|| Failure::identity_changed(&canonical))?;
    let id = identity(&opened.stat);
    check_existing(params.get("expectedBinding"), &id, &canonical)?;
    let is_dir = file_type(&opened.stat) == FileType::Directory;
    let mut fields = vec![
        ("path", Value::from(canonical.as_str())),
        ("type", Value::from(if is_dir { "directory" } else { "file" })),
        ("size", Value::from(opened.stat.st_size)),
        ("mtimeMs", js_number(mtime_ms_bigint(&opened.stat))),
        ("binding", id.existing_binding()),
    ];
    if params.get("preflightOnly") == Some(&Value::Bool(true)) {
        fields.push(("preflightOnly", Value::Bool(true)));
    }
    Ok(success(fields))
}
