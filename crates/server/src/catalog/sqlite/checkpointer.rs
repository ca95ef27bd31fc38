//! Background checkpoints of the SQLite write-ahead log, and the signal that tells the writer
//! when to restart the log.
//!
//! A checkpoint copies committed pages from the WAL into the database file; the WAL starts over
//! from its beginning only when a write transaction begins after a checkpoint caught up with the
//! last commit and synced the database file. Left to SQLite, the writer checkpoints inside the
//! COMMIT that takes the WAL past ~1,000 pages, so every request queued behind it waits for the
//! copy and two fsyncs; at reveal load that happened dozens of times a second, and slow fsyncs
//! reached reveals through it (docs/performance.md).
//!
//! So the work is split. This thread runs a `PASSIVE` checkpoint on its own connection every
//! [`INTERVAL`] — it copies what has been committed without blocking the writer or any reader —
//! then `fdatasync`s the database file, so the pages it copied reach the disk off the writer's
//! path, and publishes the WAL's length in [`WalLength`]. The writer turns SQLite's automatic
//! checkpoints off and, once the WAL is [`RESTART_FRAMES`] long, checkpoints it itself *after*
//! answering a group: only the last few pages are left to copy and sync, and only requests that
//! arrive meanwhile wait. The writer's checkpoint cannot be dropped: one running beside a busy
//! writer never catches up, so the WAL would grow without bound (docs/performance.md, "Tried and
//! dropped").
//!
//! If the background connection cannot be opened, or its checkpoints fail, the writer falls back
//! on checkpointing itself (SQLite's automatic checkpoints, or [`WalLength`] reading as due), so
//! the WAL never grows without bound. If an fsync of the database file fails, the writer refuses
//! every later write ([`Checkpoints::failed`]), as after a failed fsync of the WAL
//! (`super::wal_sync`): the pages this thread copied may be lost while SQLite already counts
//! them as checkpointed, and a later checkpoint that succeeds would restart the WAL over them.

use crate::metrics::Metrics;
use rusqlite::Connection;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two background checkpoints.
pub const INTERVAL: Duration = Duration::from_millis(25);

/// WAL length, in pages, at which the writer checkpoints so that the log restarts: ~16 MiB of
/// 4 KiB pages, a few seconds of writes at full load.
pub const RESTART_FRAMES: u32 = 4_000;

/// What the checkpointer tells the writer: the WAL's length in pages as last seen by a
/// checkpoint (to decide when to restart the log), and whether a database-file fsync failed.
#[derive(Debug, Default)]
struct WalLength(AtomicU32, AtomicBool);

impl WalLength {
    /// True when the writer should checkpoint so that the log restarts.
    fn restart_due(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= RESTART_FRAMES
    }

    /// True once an fsync of the database file has failed (for the rest of this process's life).
    fn failed(&self) -> bool {
        self.1.load(Ordering::Relaxed)
    }

    /// The writer is about to checkpoint: not due again until a background checkpoint has seen
    /// the log grow (at most one [`INTERVAL`] later), so a checkpoint that could not catch up is
    /// retried at that pace, not after every group.
    fn checkpointing(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    fn seen(&self, pages: u32) {
        self.0.store(pages, Ordering::Relaxed);
    }

    fn sync_failed(&self) {
        self.1.store(true, Ordering::Relaxed);
    }
}

/// The writer's side of checkpointing: the background thread, and when to restart the WAL.
pub struct Checkpoints {
    /// The WAL's length as the background thread last saw it; `None` when there is no such
    /// thread and SQLite checkpoints automatically.
    length: Option<Arc<WalLength>>,
    /// Dropped (stopping the thread) before the writer's connection closes.
    _background: Option<Checkpointer>,
}

impl Checkpoints {
    /// Starts background checkpoints of the database at `db` and, if they run, turns SQLite's
    /// automatic checkpoints off on the writer's connection `conn`.
    pub fn start(conn: &Connection, db: Option<&Path>) -> Self {
        let length = Arc::new(WalLength::default());
        let background = Checkpointer::start(db, length.clone()).filter(|_| {
            conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
                .inspect_err(|e| tracing::warn!(error = %e, "catalog: the writer keeps SQLite's automatic checkpoints"))
                .is_ok()
        });
        Self {
            length: background.as_ref().map(|_| length),
            _background: background,
        }
    }

    /// True once the background thread failed to fsync the database file: the writer must
    /// refuse every later write (see the module doc).
    pub fn failed(&self) -> bool {
        self.length.as_ref().is_some_and(|l| l.failed())
    }

    /// Once the WAL is [`RESTART_FRAMES`] long, checkpoints it on the writer's connection `conn`
    /// so that the next transaction starts the log over. Called between groups, after the last
    /// one was answered; the background thread has copied and synced nearly everything, so
    /// little is left to do.
    pub fn restart_if_due(&self, conn: &Connection, metrics: &Metrics) {
        let Some(length) = self.length.as_ref().filter(|l| l.restart_due()) else {
            return;
        };
        length.checkpointing();
        let began = Instant::now();
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        metrics
            .writer_checkpoint_seconds
            .observe(began.elapsed().as_secs_f64());
        if let Err(e) = done {
            tracing::warn!(error = %e, "catalog: checkpoint failed; the write-ahead log keeps growing until one succeeds");
        }
    }
}

/// Handle to the checkpointer thread; dropping it stops the thread and waits for it.
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `db`, publishing the WAL's length in `wal`. `None`
    /// when there is nothing to checkpoint (an in-memory database) or the database cannot be
    /// opened a second time: the writer then leaves checkpoints to SQLite.
    fn start(db: Option<&Path>, wal: Arc<WalLength>) -> Option<Self> {
        let db = db?;
        let opened = super::open_connection(db, rusqlite::OpenFlags::default())
            // Never wait for a lock: a checkpoint that is busy now is simply tried again later.
            .and_then(|c| c.busy_timeout(Duration::ZERO).map(|()| c))
            .map_err(|e| e.to_string())
            .and_then(|c| Ok((c, File::open(db).map_err(|e| e.to_string())?)));
        let (conn, file) = opened
            .inspect_err(|e| tracing::warn!(error = %e, "catalog: no background checkpoints (the writer checkpoints alone)"))
            .ok()?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("coffer-checkpoint".into())
            .spawn(move || run(&conn, &file, &wal, &stopped))
            .expect("spawning the catalog checkpoint thread");
        Some(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
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

fn run(conn: &Connection, db_file: &File, wal: &WalLength, stopped: &mpsc::Receiver<()>) {
    // Logged once per run of failures, not every interval.
    let mut failing = false;
    // Pages the last checkpoint had copied, to tell whether this one copied any.
    let mut copied = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match checkpoint(conn, db_file, copied) {
            // Another checkpoint (the writer's) was running: nothing was learnt.
            Ok(None) => {}
            Ok(Some((length, done))) => {
                wal.seen(length);
                copied = done;
                failing = false;
            }
            Err(Failure::Checkpoint(e)) => {
                if !failing {
                    tracing::warn!(error = %e, "catalog: background checkpoint failed; retrying (the writer checkpoints meanwhile)");
                }
                failing = true;
                wal.seen(u32::MAX); // unknown: let the writer restart the log itself
            }
            Err(Failure::DbSync(e)) => {
                tracing::error!(error = %e, "catalog: fsync of the database file failed; refusing every further write until coffer is restarted (check the disk first)");
                wal.sync_failed();
                return;
            }
        }
    }
}

/// Why a background checkpoint failed.
#[derive(Debug)]
enum Failure {
    /// SQLite's checkpoint itself (retried at the next interval).
    Checkpoint(rusqlite::Error),
    /// The fsync of the database file after it (fatal for writes, see the module doc).
    DbSync(std::io::Error),
}

/// One background checkpoint: returns the WAL's length and how many of its pages are in the
/// database file, or `None` if another checkpoint held the lock. Syncs the database file when
/// this checkpoint copied pages (`copied`: how many were copied as of the last one).
fn checkpoint(
    conn: &Connection,
    db_file: &File,
    copied: u32,
) -> Result<Option<(u32, u32)>, Failure> {
    let (busy, length, done): (bool, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(Failure::Checkpoint)?;
    let (Ok(length), Ok(done)) = (u32::try_from(length), u32::try_from(done)) else {
        return Ok(None); // -1: the checkpoint did not run
    };
    if busy {
        return Ok(None);
    }
    if done > 0 && done != copied {
        db_file.sync_data().map_err(Failure::DbSync)?;
    }
    Ok(Some((length, done)))
}

#[cfg(test)]
mod tests;
