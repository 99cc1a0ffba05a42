//! `file.write` (§8.7): decode strictly, resolve the target, and write it bound to what the
//! preflight saw.
//!
//! Bound writes (the gateway's normal path) follow TS: a target that existed at preflight is
//! overwritten in place through a descriptor whose dev/ino match the binding, keeping its inode
//! and mode; a new target is created `O_EXCL` (0600) under the anchor directory, opened by
//! descriptor and checked against the binding. Unbound overwrites (a direct invoke) replace the
//! file atomically: a temp file in the same directory, fsync, rename, the old mode kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt as _;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::outcome::{check_path, Binding, Failure, Identity};
use super::paths::{basename, dirname, normalize};
use super::posix::{file_type, identity, lstat_at, realpath, walk_to_dir, SYMLINK_REDIRECT_WRITE};
use super::{strict_base64, HARD_MAX_BYTES};

/// The params of a command that carries `contentBase64` (`file.write`, `terminal.upload`): the
/// content borrowed from the request text (a 16 MiB upload is 22 MB of base64: it is decoded
/// from where it lies, never copied), the rest as values.
pub struct ContentParams<'a> {
    content: Option<Cow<'a, str>>,
    fields: Map<String, Value>,
}

impl<'a> ContentParams<'a> {
    /// Reads `paramsJSON`; `None` (absent) reads as `{}`. `Err` is for text that is not a
    /// JSON object (an invoke error, as TS's `JSON.parse` throwing).
    pub fn parse(text: Option<&'a str>) -> Result<ContentParams<'a>, serde_json::Error> {
        let mut params = ContentParams {
            content: None,
            fields: Map::new(),
        };
        let Some(text) = text else {
            return Ok(params);
        };
        let raw: HashMap<Cow<'a, str>, &'a RawValue> = serde_json::from_str(text)?;
        for (key, value) in raw {
            if key == "contentBase64" {
                params.content = serde_json::from_str::<Cow<'a, str>>(value.get()).ok();
            } else {
                params
                    .fields
                    .insert(key.into_owned(), serde_json::from_str(value.get())?);
            }
        }
        Ok(params)
    }

    fn flag(&self, key: &str) -> bool {
        self.fields.get(key) == Some(&Value::Bool(true))
    }

    /// `contentBase64`, when it is a string.
    pub fn content(&self) -> Option<&str> {
        self.content.as_deref()
    }

    /// Any other param.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }
}

pub fn run(params: &ContentParams) -> String {
    write(params).unwrap_or_else(|failure| failure.to_json())
}

fn error(code: &'static str, message: impl Into<String>) -> Failure {
    Failure::new(code, message)
}

fn write(params: &ContentParams) -> Result<String, Failure> {
    let raw_path = params.fields.get("path").and_then(Value::as_str).unwrap_or("");
    let overwrite = params.flag("overwrite");
    let create_parents = params.flag("createParents");
    let expected_sha = params.fields.get("expectedSha256").and_then(Value::as_str);
    let follow = params.flag("followSymlinks");
    let preflight = params.flag("preflightOnly");
    let reject_hardlinks = params.flag("rejectHardlinks");
    if raw_path.is_empty() {
        return Err(error("INVALID_PATH", "path is required"));
    }
    if raw_path.contains('\0') {
        return Err(error("INVALID_PATH", "path must not contain NUL bytes"));
    }
    if !raw_path.starts_with('/') {
        return Err(error("INVALID_PATH", "path must be absolute"));
    }
    let Some(content) = params.content.as_deref() else {
        return Err(error("INVALID_BASE64", "contentBase64 is required"));
    };
    let invalid = || error("INVALID_BASE64", "contentBase64 is not valid base64");
    let size = strict_base64::inspect(content).ok_or_else(invalid)?;
    if size as u64 > HARD_MAX_BYTES {
        return Err(error(
            "FILE_TOO_LARGE",
            format!("decoded content is {size} bytes; maximum is {HARD_MAX_BYTES} bytes (16 MB)"),
        ));
    }
    let bytes = strict_base64::decode(content).ok_or_else(invalid)?;

    let target = without_trailing_slash(&normalize(raw_path));
    let parent_dir = dirname(&target).to_string();
    let parent_exists = rfs::stat(parent_dir.as_str()).is_ok();
    if !follow {
        reject_symlinks(&normalize(raw_path), &target)?;
    }
    let canonical = canonical_from_existing_ancestor(&target);
    check_path(params.fields.get("expectedCanonicalPath"), &canonical)?;
    let binding = match params.fields.get("expectedBinding") {
        None => None,
        Some(value) => match Binding::parse(value) {
            Some(binding @ Binding::Write { .. }) => Some(binding),
            _ => return Err(Failure::identity_changed(&canonical)),
        },
    };
    let sha256 = crate::digest::sha256_hex(&bytes);
    let integrity = || -> Result<(), Failure> {
        match expected_sha {
            Some(expected) if expected.to_lowercase() != sha256 => Err(error(
                "INTEGRITY_FAILURE",
                format!("sha256 mismatch: expected {}, got {sha256}", expected.to_lowercase()),
            )
            .at(&target)),
            _ => Ok(()),
        }
    };
    let preflight_answer = |overwritten: bool, existing: Option<Identity>| -> Result<String, Failure> {
        let mut fields = vec![
            ("path", Value::from(canonical.as_str())),
            ("size", Value::from(bytes.len())),
            ("sha256", Value::from(sha256.as_str())),
            ("overwritten", Value::Bool(overwritten)),
            ("binding", write_binding(&canonical, existing.as_ref())?),
        ];
        if reject_hardlinks {
            fields.push(("rejectHardlinks", Value::Bool(true)));
        }
        Ok(super::outcome::success(fields))
    };
    if !parent_exists {
        if !create_parents {
            return Err(error(
                "PARENT_NOT_FOUND",
                format!("parent directory does not exist: {parent_dir}"),
            ));
        }
        if preflight {
            integrity()?;
            return preflight_answer(false, None);
        }
        if binding.is_none() {
            std::fs::create_dir_all(&parent_dir).map_err(|err| {
                error("WRITE_ERROR", format!("failed to create parent directories: {err}"))
            })?;
        }
    }
    let mut existing: Option<(Identity, u32, u64)> = None;
    match rfs::lstat(target.as_str()) {
        Ok(stat) => {
            match file_type(&stat) {
                FileType::Symlink => {
                    return Err(error(
                        "SYMLINK_TARGET_DENIED",
                        format!("path is a symlink; refusing to write through it: {target}"),
                    ))
                }
                FileType::Directory => {
                    return Err(error(
                        "IS_DIRECTORY",
                        format!("path resolves to a directory: {target}"),
                    ))
                }
                _ => {}
            }
            if !overwrite {
                return Err(error(
                    "EXISTS_NO_OVERWRITE",
                    format!("file already exists and overwrite is false: {target}"),
                ));
            }
            #[allow(clippy::unnecessary_cast)]
            let nlink = stat.st_nlink as u64;
            if reject_hardlinks && nlink > 1 {
                return Err(hardlink_denied());
            }
            existing = Some((identity(&stat), stat.st_mode, nlink));
        }
        Err(Errno::NOENT) => {}
        Err(Errno::ACCESS) | Err(Errno::PERM) => {
            return Err(error("PERMISSION_DENIED", format!("permission denied: {target}")))
        }
        Err(errno) => {
            return Err(error(
                "WRITE_ERROR",
                format!("unexpected stat error: {}", std::io::Error::from(errno)),
            ))
        }
    }
    integrity()?;
    if preflight {
        return preflight_answer(existing.is_some(), existing.map(|e| e.0));
    }
    let written = match binding {
        Some(Binding::Write {
            target: Some(expected),
            ..
        }) => overwrite_bound(&canonical, &expected, reject_hardlinks, &bytes)?,
        Some(Binding::Write {
            anchor_path,
            anchor,
            target: None,
        }) => create_bound(&canonical, &anchor_path, &anchor, &bytes)?,
        _ => write_unbound(&target, existing.as_ref(), &bytes)?,
    };
    Ok(super::outcome::success(vec![
        ("path", Value::from(written.path.as_str())),
        ("size", Value::from(bytes.len())),
        ("sha256", Value::from(sha256.as_str())),
        ("overwritten", Value::Bool(written.overwritten)),
        ("binding", written.identity.existing_binding()),
    ]))
}

struct Written {
    path: String,
    overwritten: bool,
    identity: Identity,
}

fn hardlink_denied() -> Failure {
    error("HARDLINK_TARGET_DENIED", "refusing to overwrite a file with hard links")
}

fn without_trailing_slash(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    }
}

/// With `followSymlinks` false: a symlink anywhere in the existing part of the path, the last
/// component included, or a path whose canonical form differs (a trailing `/`), is
/// `SYMLINK_REDIRECT`, naming where it really leads.
fn reject_symlinks(normalized: &str, target: &str) -> Result<(), Failure> {
    let redirect = || {
        let canonical = realpath(target).unwrap_or_else(|_| canonical_from_existing_ancestor(target));
        error("SYMLINK_REDIRECT", SYMLINK_REDIRECT_WRITE).at(&canonical)
    };
    let mut prefix = String::new();
    for part in target.split('/').filter(|part| !part.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        match rfs::lstat(prefix.as_str()) {
            Ok(stat) if file_type(&stat) == FileType::Symlink => return Err(redirect()),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if canonical_from_existing_ancestor(normalized) != normalized {
        return Err(redirect());
    }
    Ok(())
}

/// fs-safe `canonicalPathFromExistingAncestor`: the realpath of the nearest existing ancestor
/// (the path itself if it exists), with the missing rest appended.
pub fn canonical_from_existing_ancestor(path: &str) -> String {
    let trimmed = without_trailing_slash(path);
    let mut ancestor = trimmed.as_str();
    loop {
        if rfs::lstat(ancestor).is_ok() {
            break;
        }
        if ancestor == "/" {
            return trimmed;
        }
        ancestor = dirname(ancestor);
    }
    let real = realpath(ancestor).unwrap_or_else(|_| ancestor.to_string());
    let rest = trimmed[ancestor.len()..].trim_start_matches('/');
    if rest.is_empty() {
        real
    } else {
        super::paths::join(&real, rest)
    }
}

/// The preflight's `{kind:"write", anchorPath, anchorDevice, anchorInode, targetDevice?,
/// targetInode?}`: the nearest existing directory above the target.
fn write_binding(canonical: &str, target: Option<&Identity>) -> Result<Value, Failure> {
    let mut anchor = dirname(canonical).to_string();
    let stat = loop {
        match rfs::stat(anchor.as_str()) {
            Ok(stat) if file_type(&stat) == FileType::Directory => break stat,
            Ok(_) => {
                return Err(error(
                    "WRITE_ERROR",
                    format!("write anchor is not a directory: {anchor}"),
                ))
            }
            Err(Errno::NOENT) if anchor != "/" => anchor = dirname(&anchor).to_string(),
            Err(errno) => {
                return Err(error(
                    "WRITE_ERROR",
                    format!("could not bind the write target: {}", std::io::Error::from(errno)),
                ))
            }
        }
    };
    let id = identity(&stat);
    let mut out = Map::new();
    out.insert("kind".into(), Value::from("write"));
    out.insert("anchorPath".into(), Value::from(anchor));
    out.insert("anchorDevice".into(), Value::from(id.device));
    out.insert("anchorInode".into(), Value::from(id.inode));
    if let Some(target) = target {
        out.insert("targetDevice".into(), Value::from(target.device.as_str()));
        out.insert("targetInode".into(), Value::from(target.inode.as_str()));
    }
    Ok(Value::Object(out))
}

/// The bound overwrite: the target the preflight saw, opened by descriptor and written in
/// place (same inode, same mode), then fsync'ed.
fn overwrite_bound(
    canonical: &str,
    expected: &Identity,
    reject_hardlinks: bool,
    bytes: &[u8],
) -> Result<Written, Failure> {
    let changed = || Failure::identity_changed(canonical);
    let parent = walk_to_dir(dirname(canonical)).map_err(|_| changed())?;
    let name = basename(canonical);
    let seen = lstat_at(&parent, name).map_err(|_| changed())?;
    if file_type(&seen) != FileType::RegularFile || identity(&seen) != *expected {
        return Err(changed());
    }
    let fd = rfs::openat(
        &parent,
        name,
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| changed())?;
    let stat = rfs::fstat(&fd).map_err(|_| changed())?;
    if file_type(&stat) != FileType::RegularFile || identity(&stat) != *expected {
        return Err(changed());
    }
    if reject_hardlinks && stat.st_nlink > 1 {
        return Err(hardlink_denied());
    }
    let file = std::fs::File::from(fd);
    let failed = |err: std::io::Error| error("WRITE_ERROR", format!("failed to write file: {err}"));
    file.write_all_at(bytes, 0).map_err(failed)?;
    file.set_len(bytes.len() as u64).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(Written {
        path: canonical.to_string(),
        overwritten: true,
        identity: identity(&stat),
    })
}

/// The bound create: from the anchor directory the preflight bound (checked by dev/ino on its
/// descriptor), missing directories are made and entered without following symlinks, and the
/// file is created exclusively, mode 0600.
fn create_bound(
    canonical: &str,
    anchor_path: &str,
    anchor: &Identity,
    bytes: &[u8],
) -> Result<Written, Failure> {
    let changed = || Failure::identity_changed(canonical);
    let mut dir = walk_to_dir(anchor_path).map_err(|_| changed())?;
    let stat = rfs::fstat(&dir).map_err(|_| changed())?;
    if identity(&stat) != *anchor {
        return Err(changed());
    }
    let relative = canonical
        .strip_prefix(anchor_path)
        .filter(|rest| anchor_path == "/" || rest.starts_with('/'))
        .map(|rest| rest.trim_start_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.split('/').any(|part| part == ".." || part == "."));
    let Some(relative) = relative else {
        return Err(error("WRITE_ERROR", "write target is outside the authorized anchor"));
    };
    let parts: Vec<&str> = relative.split('/').collect();
    let (name, dirs) = parts.split_last().expect("a relative path has a last part");
    let failed = |errno: Errno| {
        error(
            "WRITE_ERROR",
            format!("failed to write file: {}", std::io::Error::from(errno)),
        )
    };
    for part in dirs {
        match rfs::mkdirat(&dir, *part, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(failed(errno)),
        }
        dir = rfs::openat(
            &dir,
            *part,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|_| changed())?;
    }
    let fd = match rfs::openat(
        &dir,
        *name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => fd,
        Err(Errno::EXIST) => return Err(changed()),
        Err(errno) => return Err(failed(errno)),
    };
    let identity = fill(fd, bytes).map_err(|err| error("WRITE_ERROR", format!("failed to write file: {err}")))?;
    let _ = rfs::fsync(&dir);
    Ok(Written {
        path: canonical.to_string(),
        overwritten: false,
        identity,
    })
}

/// Writes and fsyncs a freshly created file; its identity.
fn fill(fd: OwnedFd, bytes: &[u8]) -> std::io::Result<Identity> {
    let stat = rfs::fstat(&fd)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(identity(&stat))
}

/// A write without a binding (a direct invoke): a new file is created exclusively (0600); an
/// existing one is replaced atomically, keeping its mode, unless it has other hard links.
fn write_unbound(
    target: &str,
    existing: Option<&(Identity, u32, u64)>,
    bytes: &[u8],
) -> Result<Written, Failure> {
    let parent_dir = dirname(target);
    let name = basename(target);
    let failed = |err: std::io::Error| error("WRITE_ERROR", format!("failed to write file: {err}"));
    let denied = || error("PERMISSION_DENIED", format!("permission denied writing to: {parent_dir}"));
    let to_failure = |errno: Errno| match errno {
        Errno::ACCESS | Errno::PERM => denied(),
        other => failed(other.into()),
    };
    let parent = walk_to_dir(parent_dir).map_err(to_failure)?;
    let (identity, overwritten) = match existing {
        None => {
            let fd = rfs::openat(
                &parent,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|errno| match errno {
                Errno::EXIST => error(
                    "EXISTS_NO_OVERWRITE",
                    format!("file already exists and overwrite is false: {target}"),
                ),
                other => to_failure(other),
            })?;
            (fill(fd, bytes).map_err(failed)?, false)
        }
        Some((_, mode, nlink)) => {
            if *nlink > 1 {
                return Err(error("WRITE_ERROR", "path alias escape blocked").at(target));
            }
            (replace(&parent, name, *mode & 0o7777, bytes).map_err(to_failure)?, true)
        }
    };
    let _ = rfs::fsync(&parent);
    Ok(Written {
        path: realpath(target).unwrap_or_else(|_| target.to_string()),
        overwritten,
        identity,
    })
}

/// Temp file beside `name`, fsync, rename over it: readers see the old or the new content.
fn replace(parent: &OwnedFd, name: &str, mode: u32, bytes: &[u8]) -> Result<Identity, Errno> {
    let temp = format!(".{name}.{}.tmp", crate::random::token_b64url(6));
    let fd = rfs::openat(
        parent,
        temp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let outcome = rfs::fchmod(&fd, Mode::from_raw_mode(mode))
        .and_then(|()| fill(fd, bytes).map_err(|err| err.raw_os_error().map(Errno::from_raw_os_error).unwrap_or(Errno::IO)))
        .and_then(|identity| rfs::renameat(parent, temp.as_str(), parent, name).map(|()| identity));
    if outcome.is_err() {
        let _ = rfs::unlinkat(parent, temp.as_str(), AtFlags::empty());
    }
    outcome
}
