//! `dir.fetch` on real trees: member order, the filter, hard links, the caps (§8.6).

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::symlink;

use base64::Engine as _;
use serde_json::{json, Value};

use super::archive::run;
use super::tests::{call, failure, mkfifo, TempDir};

/// The members of a `.tar.gz` payload: (name, kind, content).
fn members(payload: &Value) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload["tarBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(payload["tarBytes"], bytes.len());
    assert_eq!(payload["sha256"], crate::digest::sha256_hex(&bytes));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let kind = entry.header().entry_type();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            (name, kind, body)
        })
        .collect()
}

fn tree(name: &str) -> TempDir {
    let tmp = TempDir::new(name);
    fs::write(tmp.path().join(".hidden"), "h\n").unwrap();
    fs::create_dir(tmp.path().join("sub")).unwrap();
    fs::write(tmp.path().join("sub/x.txt"), "x\n").unwrap();
    tmp
}

#[test]
fn both_phases_as_the_live_capture() {
    let tmp = tree("tree");
    let path = tmp.path().to_str().unwrap();
    let pre = call(run, json!({"path": path, "followSymlinks": false, "maxBytes": 8388608, "preflightOnly": true}));
    let keys: Vec<&str> = pre.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["ok", "path", "tarBase64", "tarBytes", "sha256", "fileCount", "entries", "preflightOnly", "binding"]
    );
    assert_eq!(pre["entries"], json!([".hidden", "sub", "sub/x.txt"]));
    assert_eq!((pre["fileCount"].clone(), pre["tarBytes"].clone()), (json!(3), json!(0)));
    let bound = call(
        run,
        json!({"path": path, "maxBytes": 8388608, "expectedCanonicalPath": path, "expectedBinding": pre["binding"]}),
    );
    let keys: Vec<&str> = bound.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["ok", "path", "tarBase64", "tarBytes", "sha256", "fileCount", "entries", "binding"]
    );
    assert_eq!(bound["entries"], pre["entries"]);
    let found = members(&bound);
    let names: Vec<&str> = found.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(names, ["./", "./.hidden", "./sub/", "./sub/x.txt"]);
    assert_eq!(found[3].1, tar::EntryType::Regular);
    assert_eq!(found[3].2, b"x\n");
}

#[test]
fn symlinks_and_fifos_fail_the_archive_hard_links_are_full_files() {
    let tmp = tree("tree-filter");
    let path = tmp.path().to_str().unwrap();
    symlink("sub/x.txt", tmp.path().join("l.txt")).unwrap();
    // TS's preflight does not inspect the archive: it succeeds, the bound call refuses.
    let pre = call(run, json!({"path": path, "preflightOnly": true}));
    assert_eq!(pre["entries"], json!([".hidden", "l.txt", "sub", "sub/x.txt"]));
    let bound = call(run, json!({"path": path, "expectedBinding": pre["binding"]}));
    assert_eq!(
        failure(&bound),
        ("READ_ERROR", "archive inspection failed: archive entry rejected by filter: l.txt")
    );
    fs::remove_file(tmp.path().join("l.txt")).unwrap();
    mkfifo(&tmp.at("sub/pipe"));
    let bound = call(run, json!({"path": path}));
    assert_eq!(failure(&bound).1, "archive inspection failed: archive entry rejected by filter: sub/pipe");
    fs::remove_file(tmp.path().join("sub/pipe")).unwrap();
    fs::hard_link(tmp.path().join("sub/x.txt"), tmp.path().join("y.txt")).unwrap();
    let bound = call(run, json!({"path": path}));
    let found = members(&bound);
    let linked: Vec<_> = found.iter().filter(|m| m.2 == b"x\n").collect();
    assert_eq!(linked.len(), 2, "{found:?}");
    assert!(linked.iter().all(|m| m.1 == tar::EntryType::Regular));
}

#[test]
fn the_caps() {
    let tmp = TempDir::new("tree-caps");
    let path = tmp.path().to_str().unwrap();
    // Incompressible bytes: the archive is larger than the caps below; its disk use (12 KiB) passes the estimate of 5000.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..6000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    fs::write(tmp.path().join("noise"), &noise).unwrap();
    assert_eq!(
        failure(&call(run, json!({"path": path, "maxBytes": 2000, "preflightOnly": true}))),
        ("TREE_TOO_LARGE", "tarball exceeded 2000 byte limit during preflight")
    );
    assert_eq!(
        failure(&call(run, json!({"path": path, "maxBytes": 5000}))),
        ("TREE_TOO_LARGE", "tarball exceeded 5000 byte limit mid-stream")
    );
    assert_eq!(
        failure(&call(run, json!({"path": path, "maxBytes": 100}))),
        ("TREE_TOO_LARGE", "directory tree exceeds estimated size limit (100 bytes raw)")
    );
    assert_eq!(call(run, json!({"path": path, "maxBytes": 9000}))["ok"], true);
    for i in 0..5000 {
        fs::write(tmp.path().join(format!("f{i}")), "").unwrap();
    }
    assert_eq!(
        failure(&call(run, json!({"path": path, "preflightOnly": true}))),
        ("TREE_TOO_LARGE", "directory tree exceeds 5000 entries during preflight")
    );
    assert_eq!(
        failure(&call(run, json!({"path": tmp.at("noise")}))),
        ("IS_FILE", "path is not a directory")
    );
    assert_eq!(
        failure(&call(run, json!({"path": tmp.at("nope")}))),
        ("NOT_FOUND", "directory not found")
    );
}
