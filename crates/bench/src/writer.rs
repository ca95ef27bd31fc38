//! The SQLite catalog writer's share of a scenario, from the server's own counters
//! (`coffer_catalog_group_commits_total`, `…_group_commit_writes_total`,
//! `…_writer_busy_seconds_total`, `…_wal_syncs_total`, `…_writer_checkpoint_duration_seconds`,
//! `…_commit_duration_seconds`), read just before and just after the measured part. Every
//! write — a reveal's view count and audit event included — passes through that one thread, so
//! how busy it was and how many requests shared each commit is what it adds to reveal
//! throughput and latency; the background WAL fsyncs are what reveal-only commits cost the disk
//! instead of an fsync each, and the writer's own checkpoints (which restart the WAL) are the
//! one pause in which it waits for the database file's fsync; COMMITs slower than
//! [`SLOW_COMMIT`] say whether a stall in a scenario happened inside the writer's COMMIT (the
//! disk) or elsewhere (docs/performance.md). On PostgreSQL only the group commits are counted
//! (the reveal and version-write committers), and so are its read groups (`…_read_groups_total`,
//! `…_read_group_reads_total`: the token, org, secret and reveal lookups that one statement
//! answered together); the other counters stay at zero there.

use crate::http::{self, Api, Conn};
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

/// A COMMIT slower than this is counted as slow: the upper bound of one of the server's
/// histogram buckets (`coffer_catalog_commit_duration_seconds`), as text and in ms.
pub const SLOW_COMMIT: (&str, f64) = ("0.0128", 12.8);

/// Counter readings at one moment.
pub struct Reading {
    at: Instant,
    commits: f64,
    writes: f64,
    busy_s: f64,
    syncs: f64,
    checkpoints: f64,
    checkpoint_s: f64,
    /// COMMITs timed, and those that took at most [`SLOW_COMMIT`].
    timed: f64,
    quick: f64,
    read_groups: f64,
    group_reads: f64,
}

/// What the writer did between two readings.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WriterUse {
    /// Group commits per second.
    pub commits_per_s: f64,
    /// Write requests per commit (the group size).
    pub writes_per_commit: f64,
    /// Share of the wall time the writer thread spent in transactions, %.
    pub busy_pct: f64,
    /// Background fsyncs of the write-ahead log per second (behind reveal-only commits).
    pub wal_syncs_per_s: f64,
    /// Checkpoints the writer ran itself (to restart the WAL) per second.
    pub checkpoints_per_s: f64,
    /// Their mean duration, ms (`None` without any).
    pub checkpoint_ms: Option<f64>,
    /// COMMITs that took longer than [`SLOW_COMMIT`].
    pub slow_commits: u64,
    /// PostgreSQL's read groups per second (0 on SQLite).
    pub read_groups_per_s: f64,
    /// Lookups per read group (`None` without any).
    pub reads_per_group: Option<f64>,
}

/// Reads the counters now.
pub async fn read(conn: &mut Conn, api: &Api) -> Result<Reading> {
    let body = conn.expect_ok(api.metrics()).await?;
    let text = String::from_utf8_lossy(&body);
    let c = |name| http::counter_sum(&text, name, &[]);
    Ok(Reading {
        at: Instant::now(),
        commits: c("coffer_catalog_group_commits_total"),
        writes: c("coffer_catalog_group_commit_writes_total"),
        busy_s: c("coffer_catalog_writer_busy_seconds_total"),
        syncs: c("coffer_catalog_wal_syncs_total"),
        checkpoints: c("coffer_catalog_writer_checkpoint_duration_seconds_count"),
        checkpoint_s: c("coffer_catalog_writer_checkpoint_duration_seconds_sum"),
        timed: c("coffer_catalog_commit_duration_seconds_count"),
        quick: http::counter_sum(
            &text,
            "coffer_catalog_commit_duration_seconds_bucket",
            &[("le", SLOW_COMMIT.0)],
        ),
        read_groups: c("coffer_catalog_read_groups_total"),
        group_reads: c("coffer_catalog_read_group_reads_total"),
    })
}

/// The writer's use between `before` and `after`; `None` without commits.
pub fn between(before: &Reading, after: &Reading) -> Option<WriterUse> {
    let commits = after.commits - before.commits;
    let checkpoints = after.checkpoints - before.checkpoints;
    let wall = after.at.duration_since(before.at).as_secs_f64();
    (commits > 0.0 && wall > 0.0).then(|| {
        let round1 = |x: f64| (x * 10.0).round() / 10.0;
        WriterUse {
            commits_per_s: round1(commits / wall),
            writes_per_commit: round1((after.writes - before.writes) / commits),
            busy_pct: round1(100.0 * (after.busy_s - before.busy_s) / wall),
            wal_syncs_per_s: round1((after.syncs - before.syncs) / wall),
            checkpoints_per_s: round1(checkpoints / wall),
            checkpoint_ms: (checkpoints > 0.0).then(|| {
                let ms = 1000.0 * (after.checkpoint_s - before.checkpoint_s) / checkpoints;
                (ms * 100.0).round() / 100.0
            }),
            slow_commits: ((after.timed - before.timed) - (after.quick - before.quick)).max(0.0)
                as u64,
            read_groups_per_s: round1((after.read_groups - before.read_groups) / wall),
            reads_per_group: (after.read_groups > before.read_groups).then(|| {
                round1(
                    (after.group_reads - before.group_reads)
                        / (after.read_groups - before.read_groups),
                )
            }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn group_size_and_busy_share_come_from_counter_deltas() {
        let t = Instant::now();
        let before = Reading {
            at: t,
            commits: 10.0,
            writes: 30.0,
            busy_s: 1.0,
            syncs: 4.0,
            checkpoints: 1.0,
            checkpoint_s: 0.5,
            timed: 10.0,
            quick: 10.0,
            read_groups: 0.0,
            group_reads: 0.0,
        };
        let after = Reading {
            at: t + Duration::from_secs(2),
            commits: 1010.0,
            writes: 6030.0,
            busy_s: 2.5,
            syncs: 804.0,
            checkpoints: 5.0,
            checkpoint_s: 0.51,
            timed: 1010.0,
            quick: 1007.0,
            read_groups: 400.0,
            group_reads: 2000.0,
        };
        let w = between(&before, &after).unwrap();
        assert_eq!(
            (
                w.commits_per_s,
                w.writes_per_commit,
                w.busy_pct,
                w.wal_syncs_per_s,
                w.checkpoints_per_s,
                w.checkpoint_ms,
                w.slow_commits,
                w.read_groups_per_s,
                w.reads_per_group
            ),
            (500.0, 6.0, 75.0, 400.0, 2.0, Some(2.5), 3, 200.0, Some(5.0))
        );
        assert!(
            between(&before, &before).is_none(),
            "no commits: nothing to report"
        );
    }
}
