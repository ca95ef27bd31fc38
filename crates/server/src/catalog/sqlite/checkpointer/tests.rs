//! The checkpointer's tests: background copies, the writer's restarts, and a failed fsync.

use super::*;

/// A writer's connection to `c.db` in `dir`: WAL on, SQLite's automatic checkpoints off, a
/// table `t (v BLOB)` filled by `fill`.
fn writer_without_checkpoints(
    dir: &tempfile::TempDir,
    fill: &str,
) -> (std::path::PathBuf, Connection) {
    let db = dir.path().join("c.db");
    let writer = super::super::open_connection(&db, Default::default()).unwrap();
    writer
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v BLOB); {fill}"
        ))
        .unwrap();
    (db, writer)
}

/// Pages committed to the WAL reach the database file while the writer's connection stays
/// open and checkpoints nothing itself.
#[test]
fn committed_pages_are_copied_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _writer) = writer_without_checkpoints(
        &dir,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
         INSERT INTO t SELECT randomblob(1024) FROM n;",
    );
    let size = || std::fs::metadata(&db).unwrap().len();
    assert!(
        size() < 100_000,
        "nothing checkpointed yet: {} bytes",
        size()
    );
    let _checkpoints = Checkpointer::start(Some(&db), Default::default()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() < 1_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "still {} bytes",
            size()
        );
        std::thread::sleep(INTERVAL);
    }
}

fn autocheckpoint(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap()
}

/// With SQLite's automatic checkpoints off, a writer that calls `restart_if_due` between
/// transactions keeps restarting the WAL: after five restart lengths of writes, it holds
/// less than three. Without the writer's checkpoints it would hold all five.
#[test]
fn the_writer_restarts_a_long_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let conn = super::super::open_connection(&db, Default::default()).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (v BLOB)",
    )
    .unwrap();
    let metrics = Metrics::default();
    let checkpoints = Checkpoints::start(&conn, Some(&db));
    assert_eq!(autocheckpoint(&conn), 0, "the writer checkpoints itself");
    let page = 4096 + 24; // a WAL frame: a page and its header
    let mut frames = 0;
    while frames < 5 * RESTART_FRAMES {
        // Four overflow pages, a leaf and the commit's header page.
        conn.execute("INSERT INTO t VALUES (randomblob(16000))", [])
            .unwrap();
        frames += 5;
        checkpoints.restart_if_due(&conn, &metrics);
        if frames % 500 == 0 {
            std::thread::sleep(INTERVAL / 5); // let the background thread keep up
        }
    }
    let wal = std::fs::metadata(dir.path().join("c.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < 3 * u64::from(RESTART_FRAMES) * page,
        "the WAL grew to {wal} bytes"
    );
    let encoded = metrics.render();
    assert!(
        !encoded.contains("catalog_writer_checkpoint_duration_seconds_count 0"),
        "the writer ran its own checkpoints:\n{encoded}"
    );
}

/// Without a database file there is nothing to checkpoint in the background, and SQLite's
/// automatic checkpoints stay on.
#[test]
fn without_a_file_sqlite_keeps_checkpointing() {
    let conn = Connection::open_in_memory().unwrap();
    let checkpoints = Checkpoints::start(&conn, None);
    assert!(checkpoints.length.is_none());
    assert_eq!(autocheckpoint(&conn), 1000);
    checkpoints.restart_if_due(&conn, &Metrics::default());
}

/// A failed fsync of the database file after a checkpoint is not retried like a failed
/// checkpoint: the thread stops and the writer is told to refuse every later write.
#[test]
fn a_failed_database_fsync_stops_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) =
        writer_without_checkpoints(&dir, "INSERT INTO t VALUES (randomblob(10000));");
    let background = super::super::open_connection(&db, Default::default()).unwrap();
    // A pipe cannot be synced (EINVAL): it stands in for a disk that fails an fsync.
    let (_read, write) = std::io::pipe().unwrap();
    let unsyncable = File::from(std::os::fd::OwnedFd::from(write));
    let failed = checkpoint(&background, &unsyncable, 0);
    assert!(matches!(failed, Err(Failure::DbSync(_))), "{failed:?}");

    writer
        .execute("INSERT INTO t VALUES (randomblob(10000))", [])
        .unwrap();
    let wal = WalLength::default();
    let (_stop, stopped) = mpsc::channel();
    run(&background, &unsyncable, &wal, &stopped); // returns at the failure
    assert!(wal.failed(), "the writer must refuse further writes");
}
