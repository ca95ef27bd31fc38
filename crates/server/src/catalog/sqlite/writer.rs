//! Group commit for SQLite. One thread owns the only write connection. Requests queue up while
//! a commit is in flight; the thread then runs everything queued inside one transaction — each
//! request in its own SAVEPOINT, so one failing request rolls back alone (a group of one needs
//! none: its transaction is rolled back instead; nor does a request that can only fail before
//! it changes anything, see [`Undo`]) — commits once, and only then answers each request. N
//! concurrent writers cost one commit, not N.
//!
//! Each request says how durable it must be before it is answered ([`Durability`]). A group
//! holding any [`Durability::Synced`] request commits with `synchronous = FULL`: SQLite fsyncs the
//! WAL before readers can see the commit, so a write is never acknowledged — nor read by anyone —
//! before it would survive power loss. A group of [`Durability::Committed`] requests only (the
//! reveals: a view count and its audit event) commits with `synchronous = NORMAL`, is answered as
//! soon as COMMIT has written it to the WAL (safe from `kill -9`), and reaches the disk through
//! [`WalSync`] within one 2 ms interval plus up to two fsyncs. Without that split every reveal
//! waited for an fsync, which kept this thread >90% busy at any load and put the disk's fsync
//! tail into every reveal's latency (docs/performance.md). After a failed
//! fsync of the WAL — in the background (see [`WalSync`] for why) or inside a COMMIT — or of the
//! database file (see [`Checkpoints`]) the thread refuses every write. The WAL is checkpointed in the background and restarted by this
//! thread between groups, after answering the last one ([`Checkpoints`]), never inside a
//! request's COMMIT.
//!
//! After the COMMIT of a group that may change what the read cache holds (any request but a
//! reveal or a lone audit event, see [`Changes`]) and before answering it, the thread moves the
//! cache's generation on (see [`ReadCache`]), so an answered write is never hidden by a cached
//! read.
//!
//! Its work is counted in `coffer_catalog_group_commits_total`, `…_group_commit_writes_total`,
//! `…_writer_busy_seconds_total`, `…_commit_duration_seconds` and `…_wal_syncs_total`: this
//! thread is the serial stage of every write.

use super::checkpointer::Checkpoints;
use super::read_cache::ReadCache;
use super::tx::{Heads, Tx};
use super::wal_sync::WalSync;
use crate::catalog::CatalogError;
use crate::metrics::Metrics;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;
use tokio::sync::oneshot;

/// How durable a write must be before its caller is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the answer. A group holding such a request is invisible to readers until
    /// then; a [`Durability::Committed`] request whose result turns out to need `Synced` (a
    /// view-limited reveal) is visible right after COMMIT and answered only after the sync.
    Synced,
    /// Committed before the answer (visible, survives a crash of this process); on disk within
    /// [`super::wal_sync::SYNC_INTERVAL`] plus up to two fsyncs.
    Committed,
}

/// What a request may change, which decides whether its group invalidates the read cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Only a secret's view count and audit events (a reveal, or an event on its own): nothing
    /// a cached read is trusted for (see [`ReadCache`]).
    ViewsAndAudit,
    /// Anything.
    Anything,
}

/// How a request that fails inside a group is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undo {
    /// In a SAVEPOINT of its own: it may fail after changing rows, and only its changes go.
    Savepoint,
    /// It fails, if it fails, before it changes anything (a reveal: its one conditional
    /// `UPDATE` decides, and what follows fails only if the file does). It runs without a
    /// SAVEPOINT, which copies every page the group already dirtied into a sub-journal and was
    /// ~6% of the writer's time at full reveal load (docs/performance.md). If it
    /// fails after changing rows anyway, the whole group is rolled back and every request in it
    /// is refused: nothing half-done is ever committed.
    FailsBeforeChanging,
}

/// Called after the batch's COMMIT (and any fsync it needed) with its failure, if any.
type Completion = Box<dyn FnOnce(Option<&CatalogError>) + Send>;
/// Runs a request; the flag says whether it shares its transaction with others (a request
/// alone needs no SAVEPOINT: its failure rolls the transaction back).
type Run = Box<dyn FnOnce(&Tx, bool) -> Ran + Send>;

/// A request that has run, waiting for its group's COMMIT.
struct Ran {
    complete: Completion,
    /// What its result turned out to need.
    needs: Durability,
    /// It failed (and was rolled back to its SAVEPOINT, if it had one).
    failed: bool,
    /// It failed after changing rows, without a SAVEPOINT to undo them: the group is lost.
    broke_group: bool,
}

struct Job {
    /// What the caller asked for; decides the group's `synchronous` setting before it starts.
    requested: Durability,
    /// Whether its group must invalidate the read cache.
    changes: Changes,
    run: Run,
}

/// Most requests folded into one transaction.
const MAX_BATCH: usize = 512;

/// Handle to the writer thread. Dropping it lets the thread finish what is queued, sync the WAL
/// and close its connection before the drop returns, so a clean stop leaves every answered
/// reveal on disk too.
pub struct Writer {
    /// `None` only while dropping: closing the channel is what stops the thread.
    jobs: Option<mpsc::Sender<Job>>,
    /// Set by the thread once it refuses every write (a failed fsync), so callers are told
    /// why, not just that their write was dropped.
    halted: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An I/O error from SQLite (`SQLITE_IOERR_*`: a failed write or fsync of the database or WAL).
fn is_io_error(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::SystemIoFailure)
}

fn sql_err(e: rusqlite::Error) -> CatalogError {
    super::map_err(e)
}

/// The writer thread's own state besides its connection.
struct WriterState {
    metrics: Arc<Metrics>,
    wal: WalSync,
    cache: Arc<ReadCache>,
    /// The connection's current `synchronous` setting: true for FULL.
    full: Option<bool>,
    /// Background checkpoints, and when the writer restarts the WAL itself.
    checkpoints: Checkpoints,
    /// The audit chain heads this thread wrote (see [`Tx`]).
    heads: Heads,
    /// [`Writer::halted`].
    halted: Arc<AtomicBool>,
}

fn run_batch(conn: &Connection, batch: Vec<Job>, w: &mut WriterState) {
    if w.wal.failed() || w.checkpoints.failed() {
        w.halted.store(true, Ordering::SeqCst);
        // Dropping the jobs drops their reply channels: each caller gets `Unavailable`.
        drop(batch);
        return;
    }
    let began = Instant::now();
    w.metrics.group_commits.inc();
    w.metrics.group_commit_writes.inc_by(batch.len() as u64);
    let full = batch.iter().any(|j| j.requested == Durability::Synced);
    let invalidates = batch.iter().any(|j| j.changes == Changes::Anything);
    let started =
        set_synchronous(conn, full, &mut w.full).and_then(|()| run_cached(conn, "BEGIN IMMEDIATE"));
    if let Err(e) = started {
        // Dropping the jobs drops their reply channels: each caller gets `Unavailable`.
        tracing::error!(error = %sql_err(e), "catalog: could not begin a write transaction");
        drop(batch);
        return;
    }
    // A group of one needs no SAVEPOINT: if its request fails, the whole transaction is
    // rolled back instead (the sub-journal copies and two statements a SAVEPOINT costs were
    // ~7% of the writer's time, and below full load most groups hold one request).
    let alone = batch.len() == 1;
    let tx = Tx::new(conn, &w.heads);
    let mut done: Vec<Ran> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        let ran = (job.run)(&tx, !alone);
        if ran.failed {
            // Its SAVEPOINT (or, alone, the transaction) is rolled back: so may be any audit
            // event it appended.
            tx.forget_heads();
        }
        let broke = ran.broke_group;
        done.push(ran);
        if broke {
            break;
        }
    }
    // Requests after one that broke the group are never run: dropping them refuses them.
    drop(jobs);
    let committing = Instant::now();
    let rolled_back = alone && done[0].failed;
    let failure = if rolled_back {
        // An error may already have ended the transaction (SQLite rolls back on some).
        if !conn.is_autocommit() {
            let _ = run_cached(conn, "ROLLBACK");
        }
        None
    } else if done.iter().any(|r| r.broke_group) {
        tracing::error!(
            "catalog: a request failed after changing rows it promised not to; the whole batch is rolled back"
        );
        if !conn.is_autocommit() {
            let _ = run_cached(conn, "ROLLBACK");
        }
        Some(CatalogError::Unavailable(
            "the catalog rolled back a group of writes after one failed partway; retry".into(),
        ))
    } else {
        run_cached(conn, "COMMIT").err().map(|e| {
            if is_io_error(&e) {
                w.wal.commit_sync_failed();
            }
            let err = sql_err(e);
            tracing::error!(error = %err, "catalog: commit failed; the whole batch is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            tx.forget_heads();
            err
        })
    };
    if invalidates {
        w.cache.invalidate();
    }
    let mut sync_failure = None;
    if failure.is_none() && !rolled_back {
        if full {
            w.wal.synced_by_commit();
        } else if done.iter().any(|r| r.needs == Durability::Synced) {
            // A result that must be on disk before its answer, in a group committed without
            // an fsync (a reveal of a view-limited secret): sync before anyone is answered.
            sync_failure = w.wal.sync_now().err().map(|e| {
                CatalogError::Unavailable(format!("syncing the catalog's write-ahead log: {e}"))
            });
        } else {
            w.wal.committed_unsynced();
        }
    }
    w.metrics
        .commit_seconds
        .observe(committing.elapsed().as_secs_f64());
    for ran in done {
        let unsynced = sync_failure
            .as_ref()
            .filter(|_| ran.needs == Durability::Synced);
        (ran.complete)(failure.as_ref().or(unsynced));
    }
    w.metrics
        .writer_busy_seconds
        .inc_by(began.elapsed().as_secs_f64());
}

/// Switches the connection between `synchronous = FULL` and `NORMAL` (only between
/// transactions: SQLite refuses it inside one).
fn set_synchronous(
    conn: &Connection,
    full: bool,
    current: &mut Option<bool>,
) -> rusqlite::Result<()> {
    if *current != Some(full) {
        *current = None; // unknown until the switch succeeds
        let sql = if full {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        };
        conn.execute_batch(sql)?;
        *current = Some(full);
    }
    Ok(())
}

impl Writer {
    /// Starts the writer thread on `conn`, counting its work in `metrics` and invalidating
    /// `cache` after every commit that may change what it holds.
    pub fn start(conn: Connection, metrics: Arc<Metrics>, cache: Arc<ReadCache>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let halted = Arc::new(AtomicBool::new(false));
        let flag = halted.clone();
        let thread = std::thread::Builder::new()
            .name("coffer-catalog-writer".into())
            .spawn(move || {
                let db = conn.path().filter(|p| !p.is_empty()).map(Path::new);
                let wal = WalSync::start(db, metrics.clone());
                // Stopped (on the way out of this closure) before `conn` closes.
                let checkpoints = Checkpoints::start(&conn, db);
                let mut state = WriterState {
                    metrics,
                    wal,
                    cache,
                    full: None,
                    checkpoints,
                    heads: Heads::default(),
                    halted: flag,
                };
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&conn, batch, &mut state);
                    if !state.wal.failed() && !state.checkpoints.failed() {
                        state.checkpoints.restart_if_due(&conn, &state.metrics);
                    }
                }
            })
            .expect("spawning the catalog writer thread");
        Self {
            jobs: Some(jobs),
            halted,
            thread: Some(thread),
        }
    }

    /// Runs `f` inside the next group-committed transaction and returns its result once the
    /// transaction is on disk. If `f` fails, only its own changes are rolled back.
    pub async fn write<T, F>(&self, f: F) -> Result<T, CatalogError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> Result<T, CatalogError> + Send + 'static,
    {
        self.write_with(
            Durability::Synced,
            Changes::Anything,
            Undo::Savepoint,
            move |c| f(c).map(|v| (v, Durability::Synced)),
        )
        .await
    }

    /// Like [`Self::write`], answered as soon as the transaction is as durable as `requested`,
    /// or as the durability `f` returns with its result if that is stricter; `changes` says what
    /// `f` may change, `undo` how its failure is undone in a group.
    pub async fn write_with<T, F>(
        &self,
        requested: Durability,
        changes: Changes,
        undo: Undo,
        f: F,
    ) -> Result<T, CatalogError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> Result<(T, Durability), CatalogError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let run = Box::new(move |conn: &Tx, grouped: bool| {
            let savepoint = grouped && undo == Undo::Savepoint;
            let changes_before = conn.total_changes();
            let outcome = if savepoint {
                in_savepoint(conn, f)
            } else {
                f(conn)
            };
            let (result, needs) = match outcome {
                Ok((v, needs)) => (Ok(v), needs),
                Err(e) => (Err(e), requested),
            };
            let failed = result.is_err();
            let broke_group =
                failed && grouped && !savepoint && conn.total_changes() != changes_before;
            let complete: Completion = Box::new(move |failure: Option<&CatalogError>| {
                let _ = reply.send(match failure {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            });
            Ran {
                complete,
                needs,
                failed,
                broke_group,
            }
        });
        let sent = self.jobs.as_ref().map(|jobs| {
            jobs.send(Job {
                requested,
                changes,
                run,
            })
        });
        if !matches!(sent, Some(Ok(()))) {
            return Err(CatalogError::Unavailable(
                "the catalog writer has stopped".into(),
            ));
        }
        answer.await.map_err(|_| {
            if self.halted.load(Ordering::SeqCst) {
                CatalogError::Halted
            } else {
                CatalogError::Unavailable(
                    "the catalog could not run the write; the server log says why".into(),
                )
            }
        })?
    }
}

fn in_savepoint<T>(
    conn: &Tx,
    f: impl FnOnce(&Tx) -> Result<T, CatalogError>,
) -> Result<T, CatalogError> {
    run_cached(conn, "SAVEPOINT job").map_err(sql_err)?;
    match f(conn) {
        Ok(v) => {
            run_cached(conn, "RELEASE job").map_err(sql_err)?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// Runs a fixed statement from the connection's statement cache (no re-parse per request).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests;
