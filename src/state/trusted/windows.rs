//! The Windows checks: a regular file, not a reparse point (symbolic link, junction), opened
//! without following one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

use super::super::StateError;

/// `FILE_FLAG_OPEN_REPARSE_POINT`: open the link itself, never its target.
const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
/// `FILE_ATTRIBUTE_REPARSE_POINT`.
const REPARSE_POINT: u32 = 0x400;

pub(super) fn open_trusted(path: &Path) -> Result<Option<File>, StateError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_REPARSE_POINT)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(StateError::io(path, "opening", &err)),
    };
    let meta = file
        .metadata()
        .map_err(|e| StateError::io(path, "opening", &e))?;
    if meta.file_attributes() & REPARSE_POINT != 0 {
        return Err(StateError::new(
            path,
            "is a symbolic link or junction; the node does not follow links for its state \
             files: replace it with the file itself",
        ));
    }
    if !meta.is_file() {
        return Err(StateError::unusable(
            path,
            "is not a regular file; the node reads its state only from regular files",
        ));
    }
    Ok(Some(file))
}
