//! The last approvals row read from each SQLite state database, reused while the database's
//! files are provably unchanged.
//!
//! A `system.run` reads the approvals twice, and with 16 runs in flight each read would open
//! its own connection (the connection cache keeps one): a schema parse, TS's `state-handles`
//! coordinator and a read transaction each, which made 1 000 runs five times slower than on the
//! JSON backend and left 12 MiB of SQLite caches in the workers' malloc arenas.
//!
//! The fingerprint is the identity, size and modification time of the database file and of its
//! `-wal` file. Any commit, by this process or another (the TS CLI, the gateway, doctor),
//! writes one of them: in WAL mode the `-wal` file, which also grows with every commit until a
//! checkpoint, otherwise the database itself. A value is kept when a later write must show up
//! as a different fingerprint: on filesystems with sub-second timestamps (ext4, xfs, btrfs,
//! tmpfs: the times carry nanoseconds) at once, on others only once the times are older than
//! their granularity ([`SETTLED`]); until then every read goes to the database, as before.
//! Failing closed here means reading again, never trusting a value that might be stale.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// How old the newest of the files' modification times must be when the row is read for the
/// value to be kept: more than any common filesystem's timestamp granularity (FAT's 2 s).
const SETTLED: Duration = Duration::from_secs(3);

/// One file's identity, size and modification time; `None` when it does not exist.
type FileState = Option<(u64, u64, u64, SystemTime)>;

/// What the database's files looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    database: FileState,
    wal: FileState,
}

impl Fingerprint {
    /// The files of the database at `path` now.
    pub fn of(path: &Path) -> Fingerprint {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Fingerprint {
            database: file_state(path),
            wal: file_state(Path::new(&wal)),
        }
    }

    /// Whether a later write must change it: every time in it has a sub-second part (the
    /// filesystem keeps fine timestamps; a whole second is then a one-in-a-billion chance,
    /// which only costs a re-read), or is at least [`SETTLED`] before `now`.
    fn settled(&self, now: SystemTime) -> bool {
        [&self.database, &self.wal]
            .into_iter()
            .flatten()
            .all(|(_, _, _, modified)| {
                let fine = modified
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .is_ok_and(|since| since.subsec_nanos() != 0);
                fine || now.duration_since(*modified).is_ok_and(|age| age >= SETTLED)
            })
    }
}

fn file_state(path: &Path) -> FileState {
    let metadata = std::fs::metadata(path).ok()?;
    let (device, inode) = super::connection::file_id(path)?;
    Some((device, inode, metadata.len(), metadata.modified().ok()?))
}

type Entries = HashMap<PathBuf, (Fingerprint, Option<String>)>;

fn entries() -> std::sync::MutexGuard<'static, Entries> {
    static ENTRIES: OnceLock<Mutex<Entries>> = OnceLock::new();
    ENTRIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The row read earlier for `path`, if the files still look exactly as they did then.
pub fn lookup(path: &Path, now: &Fingerprint) -> Option<Option<String>> {
    let entries = entries();
    let (seen, raw) = entries.get(path)?;
    (seen == now).then(|| raw.clone())
}

/// Keeps `raw`, read after the files looked like `before`. A write between the two shows as a
/// different fingerprint on the next lookup, which then reads again.
pub fn store(path: &Path, before: Fingerprint, raw: &Option<String>) {
    let mut entries = entries();
    if before.settled(SystemTime::now()) {
        entries.insert(path.to_path_buf(), (before, raw.clone()));
    } else {
        entries.remove(path);
    }
}

/// Forgets what was read for `path` (after this process wrote it).
pub fn forget(path: &Path) {
    entries().remove(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_write_is_never_kept_and_a_changed_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("oc-approvals-cache-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let db = dir.join("openclaw.sqlite");
        std::fs::write(&db, b"one").unwrap();
        // Just written, with a time in whole seconds (a coarse filesystem): not trusted.
        let whole_second = SystemTime::UNIX_EPOCH
            + Duration::from_secs(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            );
        std::fs::File::options()
            .write(true)
            .open(&db)
            .unwrap()
            .set_modified(whole_second)
            .unwrap();
        let before = Fingerprint::of(&db);
        store(&db, before.clone(), &Some("a".into()));
        assert_eq!(lookup(&db, &before), None);

        // An old file is kept, and found while it is unchanged.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&db)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let settled = Fingerprint::of(&db);
        store(&db, settled.clone(), &Some("a".into()));
        assert_eq!(lookup(&db, &Fingerprint::of(&db)), Some(Some("a".into())));

        // A WAL file appearing, or the database changing, is a miss.
        let wal = dir.join("openclaw.sqlite-wal");
        std::fs::write(&wal, b"frame").unwrap();
        assert_eq!(lookup(&db, &Fingerprint::of(&db)), None);
        std::fs::remove_file(&wal).unwrap();
        assert_eq!(lookup(&db, &Fingerprint::of(&db)), Some(Some("a".into())));
        std::fs::write(&db, b"two").unwrap();
        assert_eq!(lookup(&db, &Fingerprint::of(&db)), None);

        forget(&db);
        assert_eq!(lookup(&db, &settled), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
