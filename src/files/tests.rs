//! The error paths of §8 on real files: each command's payload for the spec's examples.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{fetch, list, stat};

/// A unique, canonical directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-files-{name}-{}-{}",
            std::process::id(),
            crate::random::token_b64url(6)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(fs::canonicalize(&dir).unwrap())
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// `name` inside, as the text a gateway sends.
    pub fn at(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn call(command: fn(&Value) -> String, params: Value) -> Value {
    serde_json::from_str(&command(&params)).unwrap()
}

pub fn failure(payload: &Value) -> (&str, &str) {
    assert_eq!(payload["ok"], false, "{payload}");
    (
        payload["code"].as_str().unwrap(),
        payload["message"].as_str().unwrap(),
    )
}

pub fn mkfifo(path: &str) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

const REDIRECT: &str = "path traverses a symlink; refusing because followSymlinks=false (set plugins.entries.file-transfer.config.nodes.<node>.followSymlinks=true to allow, or update allowReadPaths to the canonical path)";

#[test]
fn stat_two_phases_and_its_keys() {
    let tmp = TempDir::new("stat");
    fs::write(tmp.path().join("a.txt"), "hello\n").unwrap();
    let path = tmp.at("a.txt");
    let pre = call(stat::run, json!({"path": path, "followSymlinks": false, "preflightOnly": true}));
    let keys: Vec<&str> = pre.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["ok", "path", "type", "size", "mtimeMs", "binding", "preflightOnly"]);
    assert_eq!((pre["type"].clone(), pre["size"].clone()), (json!("file"), json!(6)));
    let bound = call(
        stat::run,
        json!({"path": path, "followSymlinks": false, "expectedCanonicalPath": path, "expectedBinding": pre["binding"]}),
    );
    assert_eq!(bound["binding"], pre["binding"]);
    assert!(bound.get("preflightOnly").is_none());
    let dir = call(stat::run, json!({"path": tmp.at("")}));
    // The trailing slash of `at("")` is the SYMLINK_REDIRECT quirk.
    assert_eq!(failure(&dir).0, "SYMLINK_REDIRECT");
    assert_eq!(dir["canonicalPath"], tmp.path().to_str().unwrap());
    let dir = call(stat::run, json!({"path": tmp.path()}));
    assert_eq!(dir["type"], "directory");
}

#[test]
fn stat_refuses_fifos_and_missing_paths() {
    let tmp = TempDir::new("stat-fifo");
    mkfifo(&tmp.at("pipe"));
    let answer = call(stat::run, json!({"path": tmp.at("pipe")}));
    assert_eq!(
        failure(&answer),
        ("UNSUPPORTED_FILE_TYPE", "only regular files and directories are supported")
    );
    let answer = call(stat::run, json!({"path": tmp.at("nope")}));
    assert_eq!(failure(&answer), ("NOT_FOUND", "path not found"));
    for (path, message) in [
        (json!(""), "path required"),
        (json!("rel"), "path must be absolute"),
        (json!("/a\u{0}"), "path contains NUL byte"),
    ] {
        assert_eq!(failure(&call(stat::run, json!({"path": path}))), ("INVALID_PATH", message));
    }
    assert_eq!(failure(&call(stat::run, json!({}))).1, "path required");
}

#[test]
fn a_symlink_in_an_ancestor_is_a_redirect_unless_followed() {
    let tmp = TempDir::new("ancestor");
    fs::create_dir(tmp.path().join("real")).unwrap();
    fs::write(tmp.path().join("real/f.txt"), "x").unwrap();
    symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
    let through = tmp.at("link/f.txt");
    for command in [stat::run as fn(&Value) -> String, fetch::run] {
        let answer = call(command, json!({"path": through, "followSymlinks": false}));
        assert_eq!(failure(&answer), ("SYMLINK_REDIRECT", REDIRECT));
        assert_eq!(answer["canonicalPath"], tmp.at("real/f.txt"));
        let followed = call(command, json!({"path": through, "followSymlinks": true}));
        assert_eq!(followed["path"], tmp.at("real/f.txt"), "{followed}");
    }
    let answer = call(list::run, json!({"path": tmp.at("link")}));
    assert_eq!(failure(&answer).0, "SYMLINK_REDIRECT");
    // `..` is collapsed lexically first, as Node's path.normalize does.
    let dotted = call(stat::run, json!({"path": tmp.at("real/../real/f.txt")}));
    assert_eq!(dotted["path"], tmp.at("real/f.txt"));
}

#[test]
fn a_binding_mismatch_after_a_rename_is_refused() {
    let tmp = TempDir::new("rename");
    fs::write(tmp.path().join("a.txt"), "first").unwrap();
    fs::write(tmp.path().join("b.txt"), "other").unwrap();
    let path = tmp.at("a.txt");
    for command in [stat::run as fn(&Value) -> String, fetch::run] {
        let pre = call(command, json!({"path": path, "preflightOnly": true}));
        assert_eq!(pre["ok"], true, "{pre}");
        fs::rename(tmp.path().join("a.txt"), tmp.path().join("c.txt")).unwrap();
        fs::copy(tmp.path().join("b.txt"), tmp.path().join("a.txt")).unwrap();
        let bound = call(
            command,
            json!({"path": path, "expectedCanonicalPath": path, "expectedBinding": pre["binding"]}),
        );
        assert_eq!(
            failure(&bound),
            ("CANONICAL_PATH_CHANGED", "filesystem identity differs from the authorized target")
        );
        assert_eq!(bound["canonicalPath"], path);
        let moved = call(
            command,
            json!({"path": path, "expectedCanonicalPath": tmp.at("c.txt")}),
        );
        assert_eq!(
            failure(&moved),
            ("CANONICAL_PATH_CHANGED", "canonical path differs from the authorized target")
        );
        // A binding of the wrong kind, or null, is no binding of this file.
        for wrong in [json!(null), json!({"kind":"write","anchorPath":"/","anchorDevice":"1","anchorInode":"2"})] {
            let answer = call(command, json!({"path": path, "expectedBinding": wrong}));
            assert_eq!(failure(&answer).0, "CANONICAL_PATH_CHANGED");
        }
        fs::remove_file(tmp.path().join("c.txt")).unwrap();
    }
}

#[test]
fn fetch_answers_as_the_live_capture() {
    let tmp = TempDir::new("fetch");
    fs::write(tmp.path().join("a.txt"), "hello\n").unwrap();
    let path = tmp.at("a.txt");
    let pre = call(fetch::run, json!({"path": path, "maxBytes": 100, "preflightOnly": true}));
    let keys: Vec<&str> = pre.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["ok", "path", "size", "mimeType", "base64", "sha256", "preflightOnly", "binding"]
    );
    assert_eq!((pre["mimeType"].clone(), pre["base64"].clone()), (json!(""), json!("")));
    let text = fetch::run(&json!({"path": path, "maxBytes": 100, "expectedBinding": pre["binding"]}));
    let binding = pre["binding"].to_string();
    assert_eq!(
        text,
        format!(
            r#"{{"ok":true,"path":"{path}","size":6,"mimeType":"text/plain","base64":"aGVsbG8K","sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","binding":{binding}}}"#
        )
    );
    fs::write(tmp.path().join("empty"), "").unwrap();
    let empty = call(fetch::run, json!({"path": tmp.at("empty")}));
    assert_eq!(empty["base64"], "");
    assert_eq!(
        empty["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    fs::write(tmp.path().join("bin"), [0u8, 1, 2, 3, 4]).unwrap();
    assert_eq!(call(fetch::run, json!({"path": tmp.at("bin")}))["mimeType"], "application/octet-stream");
}

#[test]
fn fetch_refuses_hard_links_fifos_directories_and_large_files() {
    let tmp = TempDir::new("fetch-refuse");
    fs::write(tmp.path().join("a"), "abcdef").unwrap();
    fs::hard_link(tmp.path().join("a"), tmp.path().join("b")).unwrap();
    let answer = call(fetch::run, json!({"path": tmp.at("a")}));
    assert_eq!(
        failure(&answer),
        ("READ_ERROR", "open failed: FsSafeError: hardlinked path not allowed")
    );
    fs::remove_file(tmp.path().join("b")).unwrap();
    // A FIFO is refused without being opened: opening it would block.
    mkfifo(&tmp.at("pipe"));
    assert_eq!(
        failure(&call(fetch::run, json!({"path": tmp.at("pipe")}))),
        ("IS_DIRECTORY", "path is a directory")
    );
    assert_eq!(failure(&call(fetch::run, json!({"path": tmp.path()}))).0, "IS_DIRECTORY");
    let big = call(fetch::run, json!({"path": tmp.at("a"), "maxBytes": 5}));
    assert_eq!(failure(&big), ("FILE_TOO_LARGE", "file size 6 exceeds limit 5"));
    assert_eq!(big["canonicalPath"], tmp.at("a"));
    // Floored, as TS: 6.9 allows 6 bytes.
    assert_eq!(call(fetch::run, json!({"path": tmp.at("a"), "maxBytes": 6.9}))["size"], 6);
    assert_eq!(
        failure(&call(fetch::run, json!({"path": tmp.at("nope")}))),
        ("NOT_FOUND", "file not found")
    );
}

#[test]
fn fetch_transport_and_limits() {
    assert_eq!(fetch::clamp_max_bytes(None), 8 << 20);
    assert_eq!(fetch::clamp_max_bytes(Some(&json!(99999999))), 16 << 20);
    assert_eq!(fetch::clamp_max_bytes(Some(&json!(-1))), 8 << 20);
    assert_eq!(fetch::clamp_max_bytes(Some(&json!("5"))), 8 << 20);
    let tmp = TempDir::new("fetch-transport");
    fs::write(tmp.path().join("a"), "x").unwrap();
    let answer = call(fetch::run, json!({"path": tmp.at("a"), "transport": "stream"}));
    assert_eq!(
        failure(&answer),
        ("INVALID_PARAMS", "Error: file.fetch transport must be \"binary\" when supplied")
    );
    let answer = call(fetch::run, json!({"path": tmp.at("a"), "transport": "binary", "maxBytes": 1.5}));
    assert_eq!(
        failure(&answer),
        ("INVALID_PARAMS", "Error: binary file.fetch maxBytes must be a positive safe integer")
    );
    let answer = call(fetch::run, json!({"path": tmp.at("a"), "transport": "binary", "maxBytes": 10}));
    assert_eq!(
        failure(&answer),
        ("INVALID_PARAMS", "binary file.fetch requires duplex IO and an authorized filesystem binding")
    );
}

/// A reader that yields more than the file's size said: the file grew during the read.
#[test]
fn a_file_growing_during_the_read() {
    let id = super::outcome::Identity::new(1, 2);
    let grown = vec![b'a'; 300_000];
    let answer = fetch::encode_payload(&grown[..], "/g", 10, 200_000, &id).unwrap_err();
    assert_eq!(answer.code, "FILE_TOO_LARGE");
    assert!(answer.message.starts_with("read failed: FsSafeError: file exceeds limit of 200000 bytes"), "{}", answer.message);
    // Within the limit, the payload reports what was read, not what stat said.
    let text = fetch::encode_payload(&grown[..1000], "/g", 10, 200_000, &id).unwrap();
    let payload: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(payload["size"], 1000);
    assert_eq!(payload["base64"].as_str().unwrap().len(), 1336);
    let shrunk = fetch::encode_payload(&b"abc"[..], "/g", 10, 200_000, &id).unwrap();
    assert!(shrunk.contains(r#""size":3,"#) && shrunk.contains(r#""base64":"YWJj""#), "{shrunk}");
}

#[test]
fn a_large_fetch_round_trips() {
    let tmp = TempDir::new("fetch-large");
    let bytes: Vec<u8> = (0..1_000_003u32).map(|i| (i % 253) as u8).collect();
    fs::write(tmp.path().join("big.bin"), &bytes).unwrap();
    let answer = call(fetch::run, json!({"path": tmp.at("big.bin"), "maxBytes": 2_000_000}));
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(answer["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, bytes);
    assert_eq!(answer["sha256"], crate::digest::sha256_hex(&bytes));
}

#[test]
fn list_pages_at_a_boundary() {
    let tmp = TempDir::new("list");
    for name in ["b", "a", "C", ".h", "e"] {
        fs::write(tmp.path().join(name), name).unwrap();
    }
    fs::create_dir(tmp.path().join("d")).unwrap();
    symlink(tmp.path().join("d"), tmp.path().join("dl")).unwrap();
    let path = tmp.path().to_str().unwrap();
    let pre = call(list::run, json!({"path": path, "maxEntries": 2, "preflightOnly": true}));
    assert_eq!(
        pre.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ok", "path", "entries", "truncated", "preflight", "binding"]
    );
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = json!({"path": path, "maxEntries": 2, "expectedBinding": pre["binding"]});
        if let Some(token) = &token {
            params["pageToken"] = json!(token);
        }
        let page = call(list::run, params);
        pages += 1;
        for entry in page["entries"].as_array().unwrap() {
            names.push(entry["name"].as_str().unwrap().to_string());
        }
        match page.get("nextPageToken") {
            Some(next) => {
                assert_eq!(page["truncated"], true);
                assert_eq!(next, &json!((pages * 2).to_string()));
                token = Some(next.as_str().unwrap().to_string());
            }
            None => {
                assert_eq!(page["truncated"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names, [".h", "a", "b", "C", "d", "dl", "e"]);
    let page = call(list::run, json!({"path": path, "pageToken": "5"}));
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries[0]["name"], "dl");
    // A symlink is not followed: not a directory, its size is the link's.
    assert_eq!(entries[0]["isDir"], false);
    assert_eq!(entries[0]["mimeType"], "application/octet-stream");
    let keys: Vec<&str> = entries[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "path", "size", "mimeType", "isDir", "mtime"]);
    let dir = &call(list::run, json!({"path": path, "pageToken": "4", "maxEntries": 1}))["entries"][0];
    assert_eq!((dir["isDir"].clone(), dir["size"].clone(), dir["mimeType"].clone()), (json!(true), json!(0), json!("inode/directory")));
    // Tokens that are not decimal offsets start at 0.
    for token in ["x", "-1", "1.5", ""] {
        let page = call(list::run, json!({"path": path, "pageToken": token, "maxEntries": 1}));
        assert_eq!(page["entries"][0]["name"], ".h", "{token}");
    }
    let file = call(list::run, json!({"path": tmp.at("a")}));
    assert_eq!(failure(&file), ("IS_FILE", "path is not a directory"));
    assert_eq!(failure(&call(list::run, json!({"path": tmp.at("nope")}))), ("NOT_FOUND", "path not found"));
}
