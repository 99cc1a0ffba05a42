//! `file.write`'s phases and error paths on real files (§8.7).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt as _, PermissionsExt as _};

use serde_json::{json, Value};

use super::tests::{failure, TempDir};
use super::write::{run, ContentParams};

fn write(params: Value) -> Value {
    let text = params.to_string();
    let parsed = ContentParams::parse(Some(&text)).unwrap();
    serde_json::from_str(&run(&parsed)).unwrap()
}

const HI: &str = "aGk=";
const HI_SHA: &str = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";

/// The gateway's two phases: preflight, then the same params with its binding.
fn two_phase(params: Value) -> (Value, Value) {
    let mut pre_params = params.clone();
    pre_params["preflightOnly"] = json!(true);
    let pre = write(pre_params);
    if pre["ok"] != true {
        return (pre.clone(), pre);
    }
    let mut bound = params;
    bound["expectedCanonicalPath"] = pre["path"].clone();
    bound["expectedBinding"] = pre["binding"].clone();
    (pre, write(bound))
}

#[test]
fn a_new_file_as_the_live_capture() {
    let tmp = TempDir::new("write-new");
    let path = tmp.at("x.txt");
    let params = json!({"path": path, "contentBase64": HI, "followSymlinks": false});
    let mut preflight = params.clone();
    preflight["preflightOnly"] = json!(true);
    write(preflight);
    assert!(!tmp.path().join("x.txt").exists(), "preflight creates nothing");
    let (pre, done) = two_phase(params);
    let keys: Vec<&str> = pre.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["ok", "path", "size", "sha256", "overwritten", "binding"]);
    assert_eq!(pre["sha256"], HI_SHA);
    assert_eq!(pre["binding"]["kind"], "write");
    assert_eq!(pre["binding"]["anchorPath"], tmp.path().to_str().unwrap());
    assert!(pre["binding"].get("targetInode").is_none());
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!((done["path"].clone(), done["overwritten"].clone()), (json!(path), json!(false)));
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(done["binding"]["inode"], meta.ino().to_string());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read(&path).unwrap(), b"hi");
    let again = write(json!({"path": path, "contentBase64": HI}));
    assert_eq!(
        failure(&again),
        ("EXISTS_NO_OVERWRITE", &*format!("file already exists and overwrite is false: {path}"))
    );
}

#[test]
fn a_bound_overwrite_keeps_the_inode_and_mode() {
    let tmp = TempDir::new("write-over");
    let path = tmp.at("f");
    fs::write(&path, "old content").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();
    let (pre, done) = two_phase(json!({"path": path, "contentBase64": HI, "overwrite": true}));
    assert_eq!(pre["overwritten"], true);
    assert_eq!(pre["binding"]["targetInode"], inode.to_string());
    assert_eq!(done["overwritten"], true, "{done}");
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.ino(), meta.permissions().mode() & 0o777), (inode, 0o640));
    assert_eq!(fs::read(&path).unwrap(), b"hi");
}

#[test]
fn a_target_replaced_after_preflight_is_refused() {
    let tmp = TempDir::new("write-race");
    let path = tmp.at("f");
    fs::write(&path, "old").unwrap();
    let pre = write(json!({"path": path, "contentBase64": HI, "overwrite": true, "preflightOnly": true}));
    // Renamed away, not removed: a removed inode's number may be reused at once.
    fs::rename(&path, tmp.at("old")).unwrap();
    fs::write(&path, "swapped").unwrap();
    let bound = write(json!({"path": path, "contentBase64": HI, "overwrite": true, "expectedBinding": pre["binding"]}));
    assert_eq!(
        failure(&bound),
        ("CANONICAL_PATH_CHANGED", "filesystem identity differs from the authorized target")
    );
    assert_eq!(fs::read(&path).unwrap(), b"swapped");
    // A new file that appears between the phases is not overwritten either.
    let new = tmp.at("new");
    let pre = write(json!({"path": new, "contentBase64": HI, "preflightOnly": true}));
    fs::write(&new, "appeared").unwrap();
    let bound = write(json!({"path": new, "contentBase64": HI, "overwrite": true, "expectedBinding": pre["binding"]}));
    assert_eq!(failure(&bound).0, "CANONICAL_PATH_CHANGED");
    assert_eq!(fs::read(&new).unwrap(), b"appeared");
    // A binding of another kind is refused.
    let wrong = write(json!({"path": tmp.at("z"), "contentBase64": HI, "expectedBinding": {"kind":"existing","device":"1","inode":"2"}}));
    assert_eq!(failure(&wrong).0, "CANONICAL_PATH_CHANGED");
}

#[test]
fn parents_symlinks_directories_and_hard_links() {
    let tmp = TempDir::new("write-paths");
    let deep = tmp.at("a/b/c.txt");
    assert_eq!(
        failure(&write(json!({"path": deep, "contentBase64": HI}))),
        ("PARENT_NOT_FOUND", &*format!("parent directory does not exist: {}", tmp.at("a/b")))
    );
    let (pre, done) = two_phase(json!({"path": deep, "contentBase64": HI, "createParents": true}));
    assert_eq!(pre["binding"]["anchorPath"], tmp.path().to_str().unwrap());
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(fs::read(&deep).unwrap(), b"hi");

    fs::create_dir(tmp.path().join("real")).unwrap();
    symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
    let answer = write(json!({"path": tmp.at("link/x"), "contentBase64": HI}));
    assert_eq!(failure(&answer).0, "SYMLINK_REDIRECT");
    assert!(failure(&answer).1.ends_with("or update allowWritePaths to the canonical path)"));
    assert_eq!(answer["canonicalPath"], tmp.at("real/x"));
    symlink(tmp.path().join("real/t"), tmp.path().join("final")).unwrap();
    fs::write(tmp.path().join("real/t"), "t").unwrap();
    let answer = write(json!({"path": tmp.at("final"), "contentBase64": HI, "followSymlinks": true, "overwrite": true}));
    assert_eq!(failure(&answer).0, "SYMLINK_TARGET_DENIED");
    let answer = write(json!({"path": tmp.at("real"), "contentBase64": HI, "overwrite": true}));
    assert_eq!(failure(&answer), ("IS_DIRECTORY", &*format!("path resolves to a directory: {}", tmp.at("real"))));

    let linked = tmp.at("h1");
    fs::write(&linked, "x").unwrap();
    fs::hard_link(&linked, tmp.path().join("h2")).unwrap();
    let pre = write(json!({"path": linked, "contentBase64": HI, "overwrite": true, "rejectHardlinks": true}));
    assert_eq!(failure(&pre), ("HARDLINK_TARGET_DENIED", "refusing to overwrite a file with hard links"));
    let unbound = write(json!({"path": linked, "contentBase64": HI, "overwrite": true}));
    assert_eq!(failure(&unbound), ("WRITE_ERROR", "path alias escape blocked"));
    assert_eq!(fs::read(tmp.path().join("h2")).unwrap(), b"x");
    let echoed = write(json!({"path": tmp.at("fresh"), "contentBase64": HI, "rejectHardlinks": true, "preflightOnly": true}));
    assert_eq!(echoed["rejectHardlinks"], true);
}

#[test]
fn an_unbound_overwrite_replaces_atomically_and_keeps_the_mode() {
    let tmp = TempDir::new("write-unbound");
    let path = tmp.at("run.sh");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();
    let done = write(json!({"path": path, "contentBase64": HI, "overwrite": true}));
    assert_eq!(done["overwritten"], true, "{done}");
    let meta = fs::metadata(&path).unwrap();
    assert_ne!(meta.ino(), inode);
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(done["binding"]["inode"], meta.ino().to_string());
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "no temp file left");
}

#[test]
fn content_rules() {
    let tmp = TempDir::new("write-content");
    let path = tmp.at("f");
    assert_eq!(
        failure(&write(json!({"path": path}))),
        ("INVALID_BASE64", "contentBase64 is required")
    );
    assert_eq!(
        failure(&write(json!({"path": path, "contentBase64": 5}))),
        ("INVALID_BASE64", "contentBase64 is required")
    );
    for bad in ["aGl=", "a", "aGk==", "aGk=x", "a b"] {
        assert_eq!(
            failure(&write(json!({"path": path, "contentBase64": bad}))),
            ("INVALID_BASE64", "contentBase64 is not valid base64"),
            "{bad}"
        );
    }
    let big = "A".repeat(22_369_628);
    assert_eq!(
        failure(&write(json!({"path": path, "contentBase64": big}))),
        ("FILE_TOO_LARGE", "decoded content is 16777221 bytes; maximum is 16777216 bytes (16 MB)")
    );
    let sha = write(json!({"path": path, "contentBase64": "aGk", "expectedSha256": "AB"}));
    assert_eq!(failure(&sha), ("INTEGRITY_FAILURE", &*format!("sha256 mismatch: expected ab, got {HI_SHA}")));
    let ok = write(json!({"path": path, "contentBase64": "aGk", "expectedSha256": HI_SHA.to_uppercase()}));
    assert_eq!(ok["size"], 2, "{ok}");
    let empty = write(json!({"path": tmp.at("empty"), "contentBase64": ""}));
    assert_eq!(empty["size"], 0);
    for (path, message) in [
        (json!(""), "path is required"),
        (json!("x"), "path must be absolute"),
        (json!("/a\u{0}"), "path must not contain NUL bytes"),
    ] {
        assert_eq!(failure(&write(json!({"path": path, "contentBase64": HI}))), ("INVALID_PATH", message));
    }
    assert!(ContentParams::parse(Some("{nope")).is_err());
}
