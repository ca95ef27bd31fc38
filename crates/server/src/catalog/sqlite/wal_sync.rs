//! Background fsync of SQLite's write-ahead log, for commits answered before they reached disk.
//!
//! The writer commits groups that hold only reveals with `synchronous = NORMAL`: such a commit
//! is in the WAL — visible to readers, and safe from a crash or `kill -9` of this process, since
//! the kernel already holds its pages — but not yet on the disk. This thread `fdatasync`s the WAL
//! behind it, at most once per [`SYNC_INTERVAL`], so a commit reaches the disk within one interval
//! plus up to two fsyncs (the one in flight when it committed, then its own): ~2–3 ms on a quiet
//! disk, longer while the disk is slow. Syncing the file makes every earlier commit durable: frames are
//! appended in order and checksummed cumulatively, and recovery stops at the first frame that
//! does not check out, so no later commit can survive without the earlier ones.
//!
//! A `synchronous = FULL` commit (every other write) syncs the WAL from inside SQLite before
//! readers can see it; the writer reports it with [`WalSync::synced_by_commit`] so this thread
//! does not repeat the work. If an fsync ever fails, [`WalSync::failed`] turns true for good and
//! the writer refuses every later write: after a failed fsync Linux may mark the lost pages clean,
//! so a later fsync can succeed over a hole in the WAL, and recovery would drop every commit after
//! it. Like PostgreSQL, Coffer stops writing rather than acknowledge writes it may lose; a restart
//! (after checking the disk) recovers from what is on disk.
//!
//! Checkpoints are not this thread's: see [`super::checkpointer`].

use crate::metrics::Metrics;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Least time between two background fsyncs: with the fsyncs themselves, the bound on how long a
/// reveal's audit event can sit committed but not yet on disk.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(2);

/// Handle to the syncer thread. Dropping it syncs what is left and stops the thread.
pub struct WalSync {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The writer thread's own handle on the WAL, for [`WalSync::sync_now`].
    inline: Mutex<Option<File>>,
}

struct Shared {
    /// The database's `-wal` file; `None` for a database without one (in memory).
    wal: Option<PathBuf>,
    state: Mutex<State>,
    wake: Condvar,
    metrics: Arc<Metrics>,
}

/// Commits are numbered in the order they were made; `synced` is the highest known on disk.
#[derive(Default)]
struct State {
    committed: u64,
    synced: u64,
    failed: bool,
    stop: bool,
    /// The syncer is waiting on the condvar (not syncing or sleeping out its interval). Only
    /// then does a commit wake it: a wake-up is a system call, and at moderate load almost
    /// every commit lands while the syncer sleeps, to find the commit when it next looks.
    idle: bool,
}

impl WalSync {
    /// Starts the syncer for the database at `db` (its WAL is `db` + `-wal`).
    pub fn start(db: Option<&Path>, metrics: Arc<Metrics>) -> Self {
        let wal = db.map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push("-wal");
            PathBuf::from(s)
        });
        let shared = Arc::new(Shared {
            wal,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            metrics,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("coffer-wal-sync".into())
            .spawn(move || worker.run())
            .expect("spawning the WAL sync thread");
        Self {
            shared,
            thread: Some(thread),
            inline: Mutex::new(None),
        }
    }

    /// A commit was made with `synchronous = NORMAL`: sync it in the background.
    pub fn committed_unsynced(&self) {
        let mut st = self.shared.lock();
        st.committed += 1;
        if st.idle {
            self.shared.wake.notify_one();
        }
    }

    /// A commit was made with `synchronous = FULL`: it and everything before it are on disk.
    pub fn synced_by_commit(&self) {
        let mut st = self.shared.lock();
        st.committed += 1;
        st.synced = st.committed;
    }

    /// Syncs every commit made so far, on the calling thread, before returning.
    pub fn sync_now(&self) -> std::io::Result<()> {
        let target = self.shared.lock().committed;
        let mut file = self.inline.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.shared.sync(&mut file);
        self.shared.record(target, &result);
        if result.is_err() {
            *file = None;
        }
        result
    }

    /// SQLite's own fsync of the WAL, inside a `synchronous = FULL` COMMIT, failed: as after a
    /// failed background sync, the WAL's pages can no longer be trusted, so every further write
    /// is refused for the rest of this process's life.
    pub fn commit_sync_failed(&self) {
        self.shared.lock().failed = true;
        tracing::error!(
            "catalog: an fsync of the write-ahead log failed during a commit; refusing every further write until coffer is restarted (check the disk first)"
        );
    }

    /// True once an fsync of the WAL has failed (for the rest of this process's life).
    pub fn failed(&self) -> bool {
        self.shared.lock().failed
    }

    /// How many commits were made and how many of them are known to be on disk.
    #[cfg(test)]
    pub fn progress(&self) -> (u64, u64) {
        let st = self.shared.lock();
        (st.committed, st.synced)
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is counters only; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self) {
        let mut file = None;
        loop {
            let (target, stopping) = {
                let mut st = self.lock();
                // After a failure there is nothing left worth syncing (see the module doc).
                while (st.synced >= st.committed || st.failed) && !st.stop {
                    st.idle = true;
                    st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                    st.idle = false;
                }
                if st.synced >= st.committed || st.failed {
                    return; // stopping, and nothing is left to sync
                }
                (st.committed, st.stop)
            };
            let began = Instant::now();
            let result = self.sync(&mut file);
            if result.is_ok() {
                self.metrics.wal_syncs.inc();
            }
            self.record(target, &result);
            if stopping {
                return; // the last try; a failure is logged
            }
            std::thread::sleep(SYNC_INTERVAL.saturating_sub(began.elapsed()));
        }
    }

    /// `fdatasync`s the WAL through `file`, opening it first if needed. Opening also fsyncs the
    /// directory, as SQLite does on its first sync of a WAL: after a clean restart deleted the
    /// old WAL, only this thread may ever sync the new file, and its name must be on disk too.
    fn sync(&self, file: &mut Option<File>) -> std::io::Result<()> {
        let Some(path) = &self.wal else {
            return Ok(());
        };
        if file.is_none() {
            let opened = File::open(path)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            *file = Some(opened);
        }
        file.as_ref().expect("opened above").sync_data()
    }

    fn record(&self, target: u64, result: &std::io::Result<()>) {
        let mut st = self.lock();
        match result {
            Ok(()) => st.synced = st.synced.max(target),
            Err(e) => {
                if !st.failed {
                    tracing::error!(error = %e, "catalog: fsync of the write-ahead log failed; refusing every further write until coffer is restarted (check the disk first)");
                }
                st.failed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Unsynced commits are synced behind; a FULL commit or an inline sync covers everything
    /// before it; a missing WAL file is an error that turns `failed` on, not a panic.
    #[test]
    fn commits_are_synced_behind_and_a_failed_fsync_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER)")
            .unwrap();
        let sync = WalSync::start(Some(&db), Arc::new(Metrics::default()));
        sync.committed_unsynced();
        sync.committed_unsynced();
        wait_until("two commits synced", || sync.progress() == (2, 2));
        sync.synced_by_commit();
        assert_eq!(sync.progress(), (3, 3));
        sync.sync_now().unwrap();
        assert!(!sync.failed());

        let gone = WalSync::start(Some(&dir.path().join("missing.db")), Default::default());
        assert!(gone.sync_now().is_err(), "there is no WAL to sync");
        assert!(gone.failed(), "the writer must refuse further writes");
        assert_eq!(gone.progress(), (0, 0));
    }
}
