//! The load generator: N keep-alive connections, one request in flight on each, latencies in
//! HDR histograms (µs, 3 significant digits) merged at the end.
//!
//! Two drivers share [`Conn`] and the bookkeeping so every scenario is measured the same way:
//! - [`closed_loop`]: each connection sends its next request as soon as the previous answer is
//!   read, for a duration or until a shared request budget is spent. This finds the maximum rate.
//! - [`crate::paced::open_loop`]: requests released on a fixed schedule, latency measured from
//!   each request's scheduled time (its own module: it runs on a thread of its own).

use crate::http::{Conn, Req};
use anyhow::Result;
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Builds request number `n` of connection `conn` (closed loop), or ticket `n` (open loop).
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Req + Send + Sync>;

/// When a closed-loop run ends.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this long (requests in flight then still complete and count).
    After(Duration),
    /// After this many requests in total.
    Count(u64),
}

/// What a run measured.
pub struct Outcome {
    /// 2xx responses.
    pub ok: u64,
    /// Non-2xx responses, transport errors and (open loop) tickets never sent.
    pub errors: u64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of the 2xx responses, µs.
    pub latency: Histogram<u64>,
    /// Open loop only: how late the pacer released requests, µs.
    pub pacer_lateness: Option<Histogram<u64>>,
    /// Who used the CPUs during the run.
    pub cpu: crate::cpu::Use,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static bounds are valid")
}

pub(crate) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// Per-connection tally, merged into an [`Outcome`].
pub(crate) struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self {
            ok: 0,
            errors: 0,
            first_error: None,
            latency: histogram(),
        }
    }

    pub(crate) fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    /// Sends `req` on `conn` and records it, latency counted from `since`. Reconnects after a
    /// transport error; returns false if that fails too.
    pub(crate) async fn exchange(
        &mut self,
        conn: &mut Conn,
        addr: SocketAddr,
        req: Req,
        since: Instant,
    ) -> bool {
        match conn.send(req).await {
            Ok((status, _)) if status.is_success() => {
                self.ok += 1;
                self.latency.saturating_record(micros(since.elapsed()));
            }
            Ok((status, body)) => self.error(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )),
            Err(e) => {
                self.error(format!("transport: {e:#}"));
                match Conn::open(addr).await {
                    Ok(c) => *conn = c,
                    Err(_) => return false,
                }
            }
        }
        true
    }
}

pub(crate) async fn connect_all(addr: SocketAddr, connections: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    Ok(conns)
}

pub(crate) async fn merge(
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    started: Instant,
    cpu: crate::cpu::Snapshot,
) -> Result<Outcome> {
    let mut out = Outcome {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: histogram(),
        pacer_lateness: None,
        cpu: crate::cpu::Use::default(),
    };
    for task in tasks {
        let t = task.await?;
        out.ok += t.ok;
        out.errors += t.errors;
        out.first_error = out.first_error.or(t.first_error);
        out.latency.add(&t.latency)?;
    }
    out.elapsed = started.elapsed();
    out.cpu = crate::cpu::since(&cpu);
    Ok(out)
}

/// Closed loop over `connections` keep-alive connections until `stop`.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    stop: Stop,
    make: MakeRequest,
) -> Result<Outcome> {
    let conns = connect_all(addr, connections).await?;
    let issued = Arc::new(AtomicU64::new(0));
    let (started, cpu) = (Instant::now(), crate::cpu::snapshot());
    let tasks = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let (make, issued) = (make.clone(), issued.clone());
            tokio::spawn(async move {
                let mut tally = Tally::new();
                for n in 0.. {
                    let more = match stop {
                        Stop::After(d) => started.elapsed() < d,
                        Stop::Count(total) => issued.fetch_add(1, Ordering::Relaxed) < total,
                    };
                    if !more {
                        break;
                    }
                    let req = make(i, n);
                    if !tally.exchange(&mut conn, addr, req, Instant::now()).await {
                        break;
                    }
                }
                tally
            })
        })
        .collect();
    merge(tasks, started, cpu).await
}
