//! Grouping on PostgreSQL: the reveals this node is asked to count at the same time share one
//! statement, the version writes share one transaction (group commit), and the hot reads every
//! request makes — its token, its org, its secret — share one statement per kind.
//!
//! Why: every reveal and every write appends to its org's audit chain, whose head is the org
//! row, so the org row's lock is held from the append to the end of the commit — WAL flush
//! included — and every writer of one org, on every node, queues behind it. One transaction per
//! request made that lock the bottleneck of the whole org (one flush and several round trips
//! per request, serialized). A grouper task per kind of job takes whatever has queued while
//! its previous group ran, runs it as one unit — a reveal group as one statement that commits
//! by itself ([`Runs::OneStatement`]), a write group as its jobs' statements, then one for all
//! their events, then COMMIT ([`Runs::InTransaction`]) — and only then answers every job. N
//! concurrent requests cost one lock hold and one flush instead of N.
//!
//! Reads group for the other cost PostgreSQL has: a statement's fixed price (bind, executor
//! start, a round trip, a wake-up on each side) dwarfs one index lookup, and every request made
//! two to four of them before its write. A read group is one statement over `unnest` of the
//! keys, outside any explicit transaction, started after every read in it was asked: each
//! answer is as fresh as a read of its own would have been.
//!
//! Every statement of a group reads its array parameters through a scalar sub-select,
//! `unnest((SELECT $1::uuid[]))`, never `unnest($1)` or `= ANY($1)`. PostgreSQL plans a
//! prepared statement whose array it can see anew on every execution (sized for the array at
//! hand, its custom plan always looks cheaper than the generic one), and that planning cost
//! more CPU than running the statement; behind a sub-select the array is unknown at planning
//! time, so after five executions the one generic plan is kept (`pg_prepared_statements`
//! counts both kinds: 0 generic plans before, all but five after).
//!
//! Contract of a [`Batch`]: [`Batch::run`] executes its jobs on the group's connection (inside
//! the open transaction, for [`Runs::InTransaction`]), in an order of its choosing (the order its
//! locks must be taken in), and returns one outcome per job, in the jobs' order; a job that is
//! refused (`Err` in its slot) has changed nothing by then, so the others commit without it. A
//! database error aborts the whole group: a transient one (serialization failure, deadlock) runs
//! the group again; any other runs each write job alone, so one bad request never fails the
//! others and every job's answer is the one it would have had alone. A read group's error is
//! every read's (a row one read cannot decode is that read's answer already). Nothing is run
//! again once its outcome is unknown: after COMMIT was sent, or after a self-committing
//! statement was (see [`super::tx`]).

use super::tx::{self, Fail, Q};
use crate::catalog::CatalogError;
use crate::metrics::Metrics;
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one group: bounds one transaction's statements and the lock time it holds.
const MAX_GROUP: usize = 256;

/// A kind of job a [`Grouper`] groups.
#[async_trait]
pub(super) trait Batch: Send + Sync + Sized + 'static {
    /// What a job answers.
    type Out: Send + 'static;
    /// How a group runs.
    const RUNS: Runs = Runs::InTransaction;
    /// Runs `jobs` inside the open transaction `c`: one outcome per job, in their order (see
    /// the module's contract).
    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>>;
}

/// How a [`Batch`] runs its group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Runs {
    /// Between BEGIN and COMMIT (writes of several statements).
    InTransaction,
    /// As one statement that commits by itself: a failure the server answered rolled it
    /// back; a lost connection ([`super::tx::Fail::Unknown`]) leaves it unknown.
    OneStatement,
    /// As plain reads, each statement its own snapshot.
    Reads,
}

struct Job<B: Batch> {
    input: B,
    reply: oneshot::Sender<Result<B::Out, CatalogError>>,
}

/// One grouper: a queue and the task that drains it. The task starts on the first job (on the
/// runtime of that caller) and again if its runtime went away.
pub(super) struct Grouper<B: Batch> {
    pool: PgPool,
    metrics: Arc<Metrics>,
    queue: Mutex<Option<mpsc::UnboundedSender<Job<B>>>>,
}

impl<B: Batch> Grouper<B> {
    pub(super) fn new(pool: PgPool, metrics: Arc<Metrics>) -> Self {
        Self {
            pool,
            metrics,
            queue: Mutex::new(None),
        }
    }

    /// Runs `input` in the next group and returns its outcome once that group committed.
    pub(super) async fn submit(&self, input: B) -> Result<B::Out, CatalogError> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Job { input, reply });
        answer.await.unwrap_or_else(|_| {
            Err(CatalogError::Unavailable(
                "the catalog's grouper stopped before answering; the outcome is unknown".into(),
            ))
        })
    }

    fn enqueue(&self, mut job: Job<B>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queue.as_ref() {
            match q.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => job = back,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drain(self.pool.clone(), self.metrics.clone(), rx));
        let _ = tx.send(job); // the receiver was just made: cannot fail
        *queue = Some(tx);
    }
}

/// The grouper task: a group is whatever queued while the previous one ran.
async fn drain<B: Batch>(
    pool: PgPool,
    metrics: Arc<Metrics>,
    mut rx: mpsc::UnboundedReceiver<Job<B>>,
) {
    let mut conn = Held::new(pool);
    let mut jobs: Vec<Job<B>> = Vec::new();
    while rx.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let inputs: Vec<B>;
        let replies: Vec<_>;
        (inputs, replies) = jobs.drain(..).map(|j| (j.input, j.reply)).unzip();
        let outcomes = match commit(&mut conn, &inputs).await {
            Ok(outcomes) => {
                count(&metrics, B::RUNS, inputs.len());
                outcomes
            }
            Err(Failed::RolledBack(_)) if inputs.len() > 1 && B::RUNS != Runs::Reads => {
                // Each job alone, so the failure stays with the job that caused it.
                let mut alone = Vec::with_capacity(inputs.len());
                for one in inputs.chunks(1) {
                    alone.push(match commit(&mut conn, one).await {
                        Ok(mut v) => {
                            count(&metrics, B::RUNS, 1);
                            v.remove(0)
                        }
                        Err(Failed::RolledBack(e) | Failed::Unknown(e)) => Err(e),
                    });
                }
                alone
            }
            Err(Failed::RolledBack(e) | Failed::Unknown(e)) => {
                inputs.iter().map(|_| Err(e.clone())).collect()
            }
        };
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome); // a caller that gave up no longer listens
        }
        if rx.is_empty() || conn.pool_exhausted() {
            conn.release();
        }
    }
}

/// The connection a grouper keeps while work keeps coming: sqlx pings every connection it
/// takes back into its pool (a round trip), which a busy grouper would otherwise pay after
/// every group. It goes back to the pool when the queue is empty or the pool is exhausted
/// (someone else may be waiting for a connection), and after any failure (the pool tests it,
/// and a broken one is replaced).
struct Held {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
}

impl Held {
    fn new(pool: PgPool) -> Self {
        Self { pool, conn: None }
    }

    async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("just acquired"))
    }

    /// Whether the pool has opened all the connections it may and none is idle: someone else
    /// may be waiting for one.
    fn pool_exhausted(&self) -> bool {
        self.pool.size() >= self.pool.options().get_max_connections() && self.pool.num_idle() == 0
    }

    fn release(&mut self) {
        self.conn = None;
    }
}

/// Counts a group that ran: a group commit, or a read group.
fn count(metrics: &Metrics, runs: Runs, jobs: usize) {
    let (groups, held) = if runs != Runs::Reads {
        (&metrics.group_commits, &metrics.group_commit_writes)
    } else {
        (&metrics.read_groups, &metrics.read_group_reads)
    };
    groups.inc();
    held.inc_by(jobs as u64);
}

/// Why a group did not commit.
enum Failed {
    /// Before COMMIT: the transaction rolled back, so its jobs may run again.
    RolledBack(CatalogError),
    /// COMMIT itself failed (say, the connection dropped): the outcome is unknown, so running
    /// any job again could apply it twice.
    Unknown(CatalogError),
}

/// One group as one transaction, run again whole on a transient failure before COMMIT; a
/// read group as its statements. Any failure gives the connection back to the pool.
async fn commit<B: Batch>(
    held: &mut Held,
    jobs: &[B],
) -> Result<Vec<Result<B::Out, CatalogError>>, Failed> {
    let ran = run_group(held, jobs).await;
    if ran.is_err() {
        held.release();
    }
    ran
}

async fn run_group<B: Batch>(
    held: &mut Held,
    jobs: &[B],
) -> Result<Vec<Result<B::Out, CatalogError>>, Failed> {
    if B::RUNS != Runs::InTransaction {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ran: Q<_> = async { B::run(held.get().await?, jobs).await }.await;
            return match ran {
                Err(Fail::Unknown(e)) => Err(Failed::Unknown(e)),
                ran => match tx::settle(ran, attempt).await {
                    None => continue,
                    Some(Err(e)) => Err(Failed::RolledBack(e)),
                    Some(Ok(outcomes)) => Ok(outcomes),
                },
            };
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let ran: Q<_> = async {
            let mut transaction = held.get().await?.begin().await?;
            let outcomes = B::run(&mut transaction, jobs).await?;
            Ok((transaction, outcomes))
        }
        .await;
        match tx::settle(ran, attempt).await {
            None => continue,
            Some(Err(e)) => return Err(Failed::RolledBack(e)),
            Some(Ok((transaction, outcomes))) => {
                debug_assert_eq!(outcomes.len(), jobs.len());
                return match transaction.commit().await {
                    Ok(()) => Ok(outcomes),
                    Err(e) => Err(Failed::Unknown(tx::map_err(e))),
                };
            }
        }
    }
}
