//! Who may read what wid keeps on disk (issue 13, finding 5): the data directory is its
//! owner's alone, and so is every file in it that holds something private, the SQLite
//! database with its WAL and shared-memory files included.

use super::{temp_dir, Wid, T0};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use wid_core::clock::ManualClock;

/// Files that hold nothing private: where wid listens, its pid, public certificates. They
/// stay 0644, so copies of them (the CA bundle handed to clients) are readable as expected;
/// the directory's 0700 keeps others from them in place anyway.
const PUBLIC: &[&str] = &["server.json", "ca.pem", "tls.pem"];

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file in `dir` with its mode, after checking the directory's own.
fn assert_private(dir: &Path) {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let expected = if PUBLIC.contains(&name.as_str()) {
            0o644
        } else {
            0o600
        };
        assert_eq!(
            mode(&entry.path()),
            expected,
            "{name}: {:o}",
            mode(&entry.path())
        );
        seen.push(name);
    }
    for name in [
        "wid.db",
        "wid.db-wal",
        "wid.db-shm",
        "kek",
        "credentials.json",
    ] {
        assert!(
            seen.iter().any(|s| s == name),
            "{name} missing from {seen:?}"
        );
    }
}

#[tokio::test]
async fn the_data_directory_and_the_database_files_are_private_after_a_write() {
    let wid = Wid::start().await;
    // A write, so that SQLite has made its WAL.
    wid.group("written").await;
    assert_private(&wid.dir);
}

/// An installation an earlier wid left readable by others is restricted when wid starts.
#[tokio::test]
async fn files_left_readable_by_others_are_restricted_on_start() {
    let wid = Wid::start().await;
    wid.group("written").await;
    let (dir, clock) = wid.stop().await;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["wid.db", "wid.db-wal", "wid.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let wid = Wid::start_in(dir, clock).await;
    wid.group("again").await;
    assert_private(&wid.dir);
}

/// A directory that does not exist yet is created 0700, under parents that may be missing.
#[tokio::test]
async fn a_new_data_directory_is_created_private() {
    let dir = temp_dir().join("nested").join("wid");
    let wid = Wid::start_in(dir, ManualClock::new(T0)).await;
    wid.group("written").await;
    assert_private(&wid.dir);
}
