//! Tests for `state::trusted`, the StrictModes reader of every state and policy file, and for the
//! files that go through it.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::trusted::{check_trusted, read_capped, read_trusted};
use super::*;

/// A unique directory under the system temp dir (0755 under a sticky /tmp), removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-trusted-{name}-{}-{}",
            std::process::id(),
            crate::random::token_b64url(6)
        ));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(dir)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The JSON files (what these tests are about), even while the directory is fresh.
    fn paths(&self) -> StatePaths {
        StatePaths::at(self.0.clone()).with_new_state(crate::paths::NewStateBackend::Json)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs `f` in a thread and fails the test if it has not returned within 10 s (a FIFO read that
/// blocks would otherwise hang the whole test run).
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the reader blocked (did it open a FIFO without O_NONBLOCK?)")
}

const PERMISSIVE: &str =
    r#"{"version":1,"defaults":{"security":"full","ask":"off"},"agents":{}}"#;

#[test]
fn trusted_reader_reads_a_private_file_and_reports_a_missing_one() {
    let tmp = TempDir::new("ok");
    let path = tmp.join("node.json");
    fs::write(&path, "{}").unwrap();
    chmod(&path, 0o644);
    assert_eq!(read_trusted(&path, 64).unwrap().unwrap(), b"{}");
    assert!(read_trusted(&tmp.join("absent.json"), 64).unwrap().is_none());
    assert!(!check_trusted(&tmp.join("absent.json")).unwrap());
}

#[test]
fn trusted_reader_reads_at_most_cap_plus_one_bytes_of_an_endless_source() {
    // io::repeat never ends: returning at all proves the read is bounded.
    let err = read_capped(std::io::repeat(b'x'), 1024 * 1024, Path::new("/x")).unwrap_err();
    assert!(err.message.contains("larger than 1 MiB"), "{err}");
    let exact = read_capped(&[b'x'; 16][..], 16, Path::new("/x")).unwrap();
    assert_eq!(exact.len(), 16);
}

#[test]
fn approvals_file_of_2_mib_is_refused_and_denies() {
    let tmp = TempDir::new("big");
    let path = tmp.paths().exec_approvals_file();
    let pad = "x".repeat(2 * 1024 * 1024);
    fs::write(&path, format!(r#"{{"version":1,"pad":"{pad}"}}"#)).unwrap();
    let store = crate::approvals::ApprovalsStore::new(&tmp.paths());
    let err = store.read().unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, crate::approvals::store::StoreError::Malformed { .. }),
        "{text}"
    );
    assert!(text.contains("exec-approvals.json"), "{text}");
    assert!(text.contains("larger than 1 MiB"), "{text}");
}

#[test]
fn trusted_reader_refuses_a_fifo_without_hanging() {
    let tmp = TempDir::new("fifo");
    let path = tmp.join("exec-approvals.json");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let probe = path.clone();
    let err = within_10s(move || read_trusted(&probe, APPROVALS_MAX_BYTES)).unwrap_err();
    assert_eq!(err.path, path);
    assert!(err.message.contains("not a regular file (a FIFO)"), "{err}");
    let probe = path.clone();
    assert!(within_10s(move || check_trusted(&probe)).is_err());
}

#[test]
fn trusted_reader_refuses_dev_zero() {
    let err = within_10s(|| read_trusted(Path::new("/dev/zero"), APPROVALS_MAX_BYTES)).unwrap_err();
    assert!(
        err.message
            .contains("not a regular file (a character device)"),
        "{err}"
    );
}

#[test]
fn symlinked_approvals_file_is_refused_even_to_a_permissive_policy() {
    let tmp = TempDir::new("link");
    let target = tmp.join("elsewhere.json");
    fs::write(&target, PERMISSIVE).unwrap();
    let path = tmp.paths().exec_approvals_file();
    symlink(&target, &path).unwrap();
    let err = crate::approvals::ApprovalsStore::new(&tmp.paths())
        .read()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, crate::approvals::store::StoreError::Malformed { .. }),
        "{text}"
    );
    assert!(text.contains("is a symbolic link"), "{text}");
    assert!(text.contains("replace it with the file itself"), "{text}");
    // A link to /dev/zero is refused as a link, before anything is read.
    let zero = tmp.join("zero.json");
    symlink("/dev/zero", &zero).unwrap();
    let err = read_trusted(&zero, 1024).unwrap_err();
    assert!(err.message.contains("symbolic link"), "{err}");
}

#[test]
fn world_writable_file_is_refused_with_the_chmod_hint() {
    let tmp = TempDir::new("mode");
    let path = tmp.paths().exec_approvals_file();
    fs::write(&path, PERMISSIVE).unwrap();
    chmod(&path, 0o666);
    let err = read_trusted(&path, APPROVALS_MAX_BYTES).unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.message
            .contains("writable by group or others (mode 0666)"),
        "{err}"
    );
    assert!(
        err.message
            .contains(&format!("chmod go-w '{}'", path.display())),
        "{err}"
    );
    chmod(&path, 0o620);
    assert!(read_trusted(&path, APPROVALS_MAX_BYTES).is_err());
    chmod(&path, 0o600);
    assert!(read_trusted(&path, APPROVALS_MAX_BYTES).unwrap().is_some());
}

#[test]
fn group_writable_directory_is_refused_with_the_chmod_hint() {
    let tmp = TempDir::new("dir");
    let identity = tmp.paths().identity_dir();
    fs::create_dir_all(&identity).unwrap();
    let path = tmp.paths().device_auth_file();
    fs::write(&path, "{}").unwrap();
    chmod(&identity, 0o775);
    let err = read_trusted(&path, 1024).unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.message.contains(&format!(
            "its directory {} is writable by group or others (mode 0775)",
            identity.display()
        )),
        "{err}"
    );
    assert!(
        err.message
            .contains(&format!("chmod go-w '{}'", identity.display())),
        "{err}"
    );
    // The state dir above it, too.
    chmod(&identity, 0o700);
    chmod(&tmp.0, 0o777);
    assert!(read_trusted(&path, 1024).is_err());
    // A sticky world-writable directory (as /tmp) is accepted: others cannot replace our entries.
    chmod(&tmp.0, 0o1777);
    assert!(read_trusted(&path, 1024).unwrap().is_some());
}

#[test]
fn files_and_directories_owned_by_another_user_are_refused() {
    if !running_as_root() {
        eprintln!("skipped: making a file owned by another user needs root");
        return;
    }
    let tmp = TempDir::new("owner");
    let path = tmp.join("node.json");
    fs::write(&path, "{}").unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let err = read_trusted(&path, 1024).unwrap_err();
    assert!(err.message.contains("owned by uid 65534"), "{err}");
    assert!(err.message.contains("chown 0 '"), "{err}");
    std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
    assert!(read_trusted(&path, 1024).is_ok());
    std::os::unix::fs::chown(&tmp.0, Some(65534), Some(65534)).unwrap();
    let err = read_trusted(&path, 1024).unwrap_err();
    assert!(err.message.contains("its directory"), "{err}");
    assert!(err.message.contains("owned by uid 65534"), "{err}");
    std::os::unix::fs::chown(&tmp.0, Some(0), Some(0)).unwrap();
}

#[test]
fn directory_reached_through_a_link_is_checked_where_it_is() {
    let tmp = TempDir::new("dirlink");
    let real = tmp.join("real");
    fs::create_dir(&real).unwrap();
    fs::write(real.join("node.json"), "{}").unwrap();
    symlink(&real, tmp.join("state")).unwrap();
    let via_link = tmp.join("state").join("node.json");
    assert!(read_trusted(&via_link, 1024).unwrap().is_some());
    chmod(&real, 0o777);
    let err = read_trusted(&via_link, 1024).unwrap_err();
    assert!(err.message.contains("writable by group or others"), "{err}");
}

#[test]
fn write_atomic_replaces_a_planted_symlink_instead_of_following_it() {
    let tmp = TempDir::new("plant");
    let victim = tmp.join("victim");
    fs::write(&victim, "untouched").unwrap();
    let path = tmp.paths().exec_approvals_file();
    symlink(&victim, &path).unwrap();
    write_atomic(&path, b"{}").unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read_to_string(&path).unwrap(), "{}");
}

#[test]
fn refused_identity_stops_and_is_never_replaced() {
    let tmp = TempDir::new("identity");
    let paths = tmp.paths();
    let first = load_or_create_identity(&paths).unwrap();
    let file = paths.device_identity_file();
    let before = fs::read(&file).unwrap();
    chmod(&file, 0o666);
    let err = load_or_create_identity(&paths).unwrap_err();
    assert_eq!(err.path, file);
    assert!(err.message.contains("chmod go-w"), "{err}");
    assert_eq!(fs::read(&file).unwrap(), before);
    chmod(&file, 0o600);
    assert_eq!(
        load_or_create_identity(&paths).unwrap().device_id(),
        first.device_id()
    );
}

#[test]
fn node_json_config_and_status_use_the_trusted_reader() {
    let tmp = TempDir::new("others");
    let paths = tmp.paths();
    for path in [paths.node_file(), paths.config_file()] {
        fs::write(&path, "{}").unwrap();
        chmod(&path, 0o666);
    }
    let err = NodeState::load(&paths).unwrap_err();
    assert!(err.message.contains("chmod go-w"), "{err}");
    let err = crate::config::NodeConfig::load(&paths.config_file()).unwrap_err();
    assert!(err.to_string().contains("openclaw.json"), "{err}");
    assert!(err.to_string().contains("chmod go-w"), "{err}");
    let status = paths.status_file();
    fs::create_dir_all(paths.node_dir()).unwrap();
    symlink("/dev/zero", &status).unwrap();
    let err = crate::status::read_status_file(&status).unwrap_err();
    assert!(err.contains("status.json"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn sqlite_database_with_a_loose_mode_or_as_a_link_is_refused() {
    let tmp = TempDir::new("db");
    let paths = tmp.paths();
    let db = SqliteState::create(paths.state_db_file()).unwrap();
    assert!(db.schema().is_ok());
    chmod(&paths.state_db_file(), 0o666);
    let err = db.schema().unwrap_err();
    assert!(err.message.contains("chmod go-w"), "{err}");
    assert!(SqliteState::create(paths.state_db_file()).is_err());
    chmod(&paths.state_db_file(), 0o600);
    let moved = tmp.join("real.sqlite");
    fs::rename(paths.state_db_file(), &moved).unwrap();
    symlink(&moved, paths.state_db_file()).unwrap();
    let err = db.schema().unwrap_err();
    assert!(err.message.contains("symbolic link"), "{err}");
}

#[test]
fn untrusted_marker_fails_closed() {
    let tmp = TempDir::new("marker");
    let paths = tmp.paths();
    fs::create_dir_all(paths.node_dir()).unwrap();
    let elsewhere = tmp.join("elsewhere");
    fs::write(&elsewhere, "{}").unwrap();
    symlink(&elsewhere, paths.approvals_marker_file()).unwrap();
    // No document, and a marker that cannot be trusted: denied, not the defaults.
    let err = crate::approvals::ApprovalsStore::new(&paths)
        .read()
        .unwrap_err();
    assert!(
        matches!(err, crate::approvals::store::StoreError::Gone { .. }),
        "{err}"
    );
}
