//! The writer's own tests: group atomicity, durability per group, failed commits, a clean stop
//! and read-cache invalidation.

use super::*;

/// A writer on `conn` with an (empty, disabled) read cache.
fn start(conn: Connection, metrics: &Arc<Metrics>) -> Writer {
    let cache = Arc::new(ReadCache::new(0, metrics));
    Writer::start(conn, metrics.clone(), cache)
}

/// A fresh `w.db` in `dir` with the WAL on and an empty table `t (v INTEGER PRIMARY KEY)`.
fn db_with_t(dir: &tempfile::TempDir) -> Connection {
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY)")
        .unwrap();
    conn
}

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
    let conn = db_with_t(&dir);
    let metrics = Arc::new(Metrics::default());
    let w = Arc::new(start(conn, &metrics));
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
    let rows = count_rows(&w).await;
    assert_eq!(rows, 39, "rows 0..=38 and no trace of the refused request");
    let (commits, writes) = (
        metrics.group_commits.get(),
        metrics.group_commit_writes.get(),
    );
    assert_eq!(writes, 41, "40 inserts and the count");
    assert!((1..=41).contains(&commits), "{commits} commits");
}

/// The connection's `synchronous` setting: 1 for NORMAL, 2 for FULL.
fn synchronous(c: &Connection) -> Result<i64, CatalogError> {
    c.query_row("PRAGMA synchronous", [], |r| r.get(0))
        .map_err(sql_err)
}

/// Reveal-style writes commit without an fsync (`NORMAL` = 1) and are synced behind by the
/// WAL sync thread; every other write commits with `FULL` (2), in its own group if need be.
#[tokio::test]
async fn only_committed_durability_skips_the_fsync_and_is_synced_behind() {
    let dir = tempfile::tempdir().unwrap();
    let conn = db_with_t(&dir);
    let metrics = Arc::new(Metrics::default());
    let w = start(conn, &metrics);
    let committed = insert_reporting(&w, 1, Durability::Committed)
        .await
        .unwrap();
    assert_eq!(
        committed, 1,
        "a reveal-only group commits with synchronous = NORMAL"
    );
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while metrics.wal_syncs.get() == 0 {
        assert!(
            Instant::now() < deadline,
            "the WAL was never synced behind the commit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // A result that turns out to need the disk is still answered (after an inline sync).
    let stricter = insert_reporting(&w, 2, Durability::Synced).await.unwrap();
    assert_eq!(stricter, 1);
    let synced = w.write(|c| synchronous(c)).await.unwrap();
    assert_eq!(synced, 2, "any other write commits with synchronous = FULL");
    let rows = count_rows(&w).await;
    assert_eq!(rows, 2);
}

/// As a reveal would: inserts `v` asking for `Committed`, says its result needs `needs`, and
/// returns the `synchronous` setting it ran under.
async fn insert_reporting(w: &Writer, v: i64, needs: Durability) -> Result<i64, CatalogError> {
    w.write_with(
        Durability::Committed,
        Changes::ViewsAndAudit,
        Undo::Savepoint,
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(sql_err)?;
            Ok((synchronous(c)?, needs))
        },
    )
    .await
}

/// A reveal-style request is answered only after the COMMIT it rode in succeeded: when the
/// group's COMMIT fails (a deferred foreign key another request broke), it gets the error too.
#[tokio::test]
async fn a_failed_commit_fails_every_request_in_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
         CREATE TABLE t (v INTEGER PRIMARY KEY);
         CREATE TABLE p (id INTEGER PRIMARY KEY);
         CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
    )
    .unwrap();
    let w = Arc::new(start(conn, &Default::default()));
    // Hold the writer so that the next two requests queue up and share one group.
    let busy = hold_the_writer(&w);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let orphan = {
        let w = w.clone();
        tokio::spawn(async move {
            w.write(|c| {
                c.execute("INSERT INTO c (p) VALUES (42)", [])
                    .map_err(sql_err)
            })
            .await
        })
    };
    let reveal = {
        let w = w.clone();
        tokio::spawn(async move { insert_reporting(&w, 1, Durability::Committed).await })
    };
    busy.await.unwrap().unwrap();
    assert!(
        orphan.await.unwrap().is_err(),
        "the deferred key fails at COMMIT"
    );
    let answered = reveal.await.unwrap();
    assert!(
        answered.is_err(),
        "answered {answered:?} from a rolled-back group"
    );
    let rows = count_rows(&w).await;
    assert_eq!(rows, 0, "nothing of the failed group is left");
}

/// Dropping the writer waits for its thread: the last reveal-style commit is synced and the
/// connection closed (SQLite then checkpoints and removes the WAL) before the drop returns.
#[tokio::test]
async fn dropping_the_writer_leaves_everything_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let conn = db_with_t(&dir);
    let w = start(conn, &Default::default());
    insert_reporting(&w, 1, Durability::Committed)
        .await
        .unwrap();
    drop(w);
    assert!(
        !dir.path().join("w.db-wal").exists(),
        "the writer's connection was closed (WAL checkpointed and removed)"
    );
    let fresh = Connection::open(&db).unwrap();
    let rows: i64 = fresh
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

/// A reveal-only group leaves the read cache's generation alone; any other write moves it on
/// before its caller is answered, even when the write itself fails.
#[tokio::test]
async fn only_reveal_groups_keep_the_read_cache() {
    let dir = tempfile::tempdir().unwrap();
    let conn = db_with_t(&dir);
    let metrics = Arc::<Metrics>::default();
    let cache = Arc::new(ReadCache::new(10, &metrics));
    let w = Writer::start(conn, metrics, cache.clone());
    let before = cache.generation();
    insert_reporting(&w, 1, Durability::Committed)
        .await
        .unwrap();
    assert_eq!(cache.generation(), before, "a reveal invalidates nothing");
    insert(&w, 2).await.unwrap();
    let after_write = cache.generation();
    assert!(after_write > before, "an answered write has invalidated");
    assert_eq!(insert(&w, 2).await, Err(CatalogError::AlreadyExists));
    assert!(cache.generation() > after_write, "a failed write too");
}

/// Rows in `t`, read through the writer (so after every earlier request).
async fn count_rows(w: &Writer) -> i64 {
    w.write(|c| {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .map_err(sql_err)
    })
    .await
    .unwrap()
}

/// A request alone in its group runs without a SAVEPOINT; when it fails after writing, its
/// transaction is rolled back whole, and the next request starts clean.
#[tokio::test]
async fn a_failing_request_alone_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let conn = db_with_t(&dir);
    let metrics = Arc::new(Metrics::default());
    let w = start(conn, &metrics);
    let failed = w
        .write(|c| {
            c.execute("INSERT INTO t (v) VALUES (1)", [])
                .map_err(sql_err)?;
            Err::<(), _>(CatalogError::Conflict { current: 7 })
        })
        .await;
    assert_eq!(failed, Err(CatalogError::Conflict { current: 7 }));
    let failed = insert_reporting(&w, 1, Durability::Committed).await;
    assert_eq!(failed, Ok(1), "the row of the failed request is gone");
    assert_eq!(count_rows(&w).await, 1);
    let groups = (
        metrics.group_commits.get(),
        metrics.group_commit_writes.get(),
    );
    assert_eq!(groups, (3, 3), "each request ran alone");
}

/// Holds the writer for 300 ms, so that requests sent meanwhile queue up and share one group.
fn hold_the_writer(w: &Arc<Writer>) -> tokio::task::JoinHandle<Result<(), CatalogError>> {
    let w = w.clone();
    tokio::spawn(async move {
        w.write(|_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        })
        .await
    })
}

/// Without a SAVEPOINT, as a reveal runs: inserts `v`, refusing before it if `v` is negative
/// (as promised) or, if `v` is over 1000, breaking the promise by failing after it.
async fn insert_unguarded(w: &Writer, v: i64) -> Result<(), CatalogError> {
    w.write_with(
        Durability::Committed,
        Changes::ViewsAndAudit,
        Undo::FailsBeforeChanging,
        move |c| {
            if v < 0 {
                return Err(CatalogError::ViewLimitReached);
            }
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(sql_err)?;
            if v > 1000 {
                return Err(CatalogError::Conflict { current: 0 });
            }
            Ok(((), Durability::Committed))
        },
    )
    .await
}

/// Sends `insert_unguarded` for each of `values` while the writer is held, so that they share
/// one group, and returns their answers in order.
async fn unguarded_group(w: &Arc<Writer>, values: &[i64]) -> Vec<Result<(), CatalogError>> {
    let busy = hold_the_writer(w);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let tasks: Vec<_> = values
        .iter()
        .map(|&v| {
            let w = w.clone();
            tokio::spawn(async move { insert_unguarded(&w, v).await })
        })
        .collect();
    busy.await.unwrap().unwrap();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect()
}

/// Requests that promise to fail before changing anything share a group without SAVEPOINTs:
/// one that keeps the promise fails alone, and the rest of its group commits.
#[tokio::test]
async fn a_request_failing_before_it_changes_anything_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(start(db_with_t(&dir), &Default::default()));
    let answers = unguarded_group(&w, &[1, -1, 2, 3]).await;
    assert!(matches!(answers[1], Err(CatalogError::ViewLimitReached)));
    assert_eq!(
        answers.iter().filter(|a| a.is_ok()).count(),
        3,
        "{answers:?}"
    );
    assert_eq!(count_rows(&w).await, 3);
}

/// One that breaks the promise (fails after changing a row) loses its whole group: every
/// request in it is refused and nothing of it is committed, its own row included.
#[tokio::test]
async fn a_request_failing_after_a_change_it_promised_not_to_make_loses_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(start(db_with_t(&dir), &Default::default()));
    for answer in unguarded_group(&w, &[1, 1001, 2]).await {
        assert!(
            matches!(answer, Err(CatalogError::Unavailable(_))),
            "{answer:?}"
        );
    }
    assert_eq!(count_rows(&w).await, 0, "nothing of the lost group is left");
    insert_unguarded(&w, 4).await.unwrap();
    assert_eq!(count_rows(&w).await, 1, "the next group commits as usual");
}
