//! Background copying of the SQLite write-ahead log into the database file, so the writer's own
//! checkpoints are short.
//!
//! SQLite checkpoints inside the COMMIT that takes the WAL past ~1,000 pages: that COMMIT copies
//! every page written since the last checkpoint into the database file and syncs both files
//! before the writer can run the next group, so every request queued meanwhile waits for it. At
//! reveal load that happened dozens of times a second and put milliseconds into the p99
//! (docs/performance.md, session 5). This thread runs a `PASSIVE` checkpoint on its own
//! connection every [`INTERVAL`]: it copies what has been committed without blocking the writer
//! or any reader, so when the writer's automatic checkpoint comes due, almost everything is
//! already in the database file and only the last few pages are left to copy.
//!
//! The writer's checkpoint still has to run: SQLite restarts the WAL from its beginning only
//! when a write transaction begins after a checkpoint caught up with the last commit, which one
//! running beside a busy writer never does. Checkpoints on this thread alone (session 4) let the
//! WAL grow without bound; here they only take work off the writer. A checkpoint that finds the
//! other one running is skipped (`SQLITE_BUSY`) and tried again at the next opportunity.

use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Time between two background checkpoints.
pub const INTERVAL: Duration = Duration::from_millis(25);

/// Handle to the checkpointer thread; dropping it stops the thread and waits for it.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `db` (none: an in-memory database, nothing to do).
    pub fn start(db: Option<&Path>) -> Self {
        let Some(db) = db.map(Path::to_path_buf) else {
            return Self {
                stop: None,
                thread: None,
            };
        };
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("coffer-checkpoint".into())
            .spawn(move || run(&db, &stopped))
            .expect("spawning the catalog checkpoint thread");
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(db: &Path, stopped: &mpsc::Receiver<()>) {
    let conn = match Connection::open(db) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "catalog: no background checkpoints (the writer still checkpoints)");
            return;
        }
    };
    // Never wait for a lock: a checkpoint that is busy now is simply tried again later.
    let _ = conn.busy_timeout(Duration::ZERO);
    // Logged once per run of failures, not every interval.
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        match done {
            Err(e) if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) => {
                if !failing {
                    tracing::warn!(error = %e, "catalog: background checkpoint failed; retrying (the writer still checkpoints)");
                }
                failing = true;
            }
            _ => failing = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages committed to the WAL reach the database file while the writer's connection stays
    /// open and checkpoints nothing itself.
    #[test]
    fn committed_pages_are_copied_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (v BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
                 INSERT INTO t SELECT randomblob(1024) FROM n;",
            )
            .unwrap();
        let size = || std::fs::metadata(&db).unwrap().len();
        assert!(
            size() < 100_000,
            "nothing checkpointed yet: {} bytes",
            size()
        );
        let _checkpoints = Checkpointer::start(Some(&db));
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
}
