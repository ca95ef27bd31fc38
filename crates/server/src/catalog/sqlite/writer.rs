//! Group commit for SQLite. One thread owns the only write connection. Requests queue up while
//! a commit's fsync is in flight; the thread then runs everything queued inside one
//! transaction — each request in its own SAVEPOINT, so one failing request rolls back alone —
//! commits once, and only then answers each request. N concurrent writers cost one fsync, not
//! N, and a request is never acknowledged before its commit is durable (`synchronous = FULL`).
//! Its work is counted in `coffer_catalog_group_commits_total`, `…_group_commit_writes_total`,
//! `…_writer_busy_seconds_total` and `…_commit_duration_seconds`: this thread is the serial
//! stage of every write, and its busy share is what bounds reveal throughput (docs/performance.md).

use crate::catalog::CatalogError;
use crate::metrics::Metrics;
use rusqlite::Connection;
use std::sync::{Arc, mpsc};
use std::time::Instant;
use tokio::sync::oneshot;

/// Called after the batch's COMMIT with its failure, if any.
type Completion = Box<dyn FnOnce(Option<&CatalogError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// Most requests folded into one transaction.
const MAX_BATCH: usize = 512;

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

fn sql_err(e: rusqlite::Error) -> CatalogError {
    super::map_err(e)
}

fn run_batch(conn: &Connection, batch: Vec<Job>, metrics: &Metrics) {
    let began = Instant::now();
    metrics.group_commits.inc();
    metrics.group_commit_writes.inc_by(batch.len() as u64);
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs drops their reply channels: each caller gets `Unavailable`.
        tracing::error!(error = %sql_err(e), "catalog: could not begin a write transaction");
        drop(batch);
        return;
    }
    let completions: Vec<Completion> = batch.into_iter().map(|job| job(conn)).collect();
    let committing = Instant::now();
    let failure = run_cached(conn, "COMMIT").err().map(|e| {
        let err = sql_err(e);
        tracing::error!(error = %err, "catalog: commit failed; the whole batch is rolled back");
        let _ = conn.execute_batch("ROLLBACK");
        err
    });
    metrics
        .commit_seconds
        .observe(committing.elapsed().as_secs_f64());
    for done in completions {
        done(failure.as_ref());
    }
    metrics
        .writer_busy_seconds
        .inc_by(began.elapsed().as_secs_f64());
}

impl Writer {
    /// Starts the writer thread on `conn`, counting its work in `metrics`.
    pub fn start(conn: Connection, metrics: Arc<Metrics>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("coffer-catalog-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&conn, batch, &metrics);
                }
            })
            .expect("spawning the catalog writer thread");
        Self { jobs }
    }

    /// Runs `f` inside the next group-committed transaction and returns its result once the
    /// transaction is durable. If `f` fails, only its own changes are rolled back.
    pub async fn write<T, F>(&self, f: F) -> Result<T, CatalogError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, CatalogError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |failure: Option<&CatalogError>| {
                let _ = reply.send(match failure {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| CatalogError::Unavailable("the catalog writer has stopped".into()))?;
        answer.await.map_err(|_| {
            CatalogError::Unavailable("the catalog write transaction could not start".into())
        })?
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, CatalogError>,
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
mod tests {
    use super::*;

    async fn insert(w: &Writer, v: i64) -> Result<usize, CatalogError> {
        w.write(move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(sql_err)
        })
        .await
    }

    /// Concurrent requests share transactions, yet a failing one rolls back alone and every
    /// request is answered with its own result.
    #[tokio::test]
    async fn a_group_commit_keeps_each_request_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let w = Arc::new(Writer::start(conn, metrics.clone()));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let w = w.clone();
                // The last request collides with a row another request inserts.
                let v = if i == 39 { 7 } else { i };
                tokio::spawn(async move { insert(&w, v).await })
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(1) => {}
                Err(CatalogError::AlreadyExists) => refused += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!(refused, 1);
        let rows = w
            .write(|c| {
                c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                    .map_err(sql_err)
            })
            .await
            .unwrap();
        assert_eq!(rows, 39, "rows 0..=38 and no trace of the refused request");
        let (commits, writes) = (
            metrics.group_commits.get(),
            metrics.group_commit_writes.get(),
        );
        assert_eq!(writes, 41, "40 inserts and the count");
        assert!((1..=41).contains(&commits), "{commits} commits");
    }
}
