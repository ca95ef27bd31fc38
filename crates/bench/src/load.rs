//! The load generator: N keep-alive connections, one request in flight on each, latencies in
//! HDR histograms (µs, 3 significant digits) merged at the end.
//!
//! Two drivers share [`Conn`] and the bookkeeping so every scenario is measured the same way:
//! - [`closed_loop`]: each connection sends its next request as soon as the previous answer is
//!   read, for a duration or until a shared request budget is spent. This finds the maximum rate.
//! - [`open_loop`]: a pacer thread releases requests on a fixed schedule (`rate` per second,
//!   evenly spaced) into a queue that idle connections take from. Latency is measured from each
//!   request's *scheduled* time, so a server stall is charged to every request that should have
//!   been sent during it (no coordinated omission). The pacer uses `thread::sleep`, not tokio's
//!   1 ms timer wheel, and its own lateness is reported so it can be told apart from the server's.

use crate::http::{Conn, Req};
use anyhow::Result;
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

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

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static bounds are valid")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// Per-connection tally, merged into an [`Outcome`].
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            ok: 0,
            errors: 0,
            first_error: None,
            latency: histogram(),
        }
    }

    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    /// Sends `req` on `conn` and records it, latency counted from `since`. Reconnects after a
    /// transport error; returns false if that fails too.
    async fn exchange(
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

async fn connect_all(addr: SocketAddr, connections: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    Ok(conns)
}

async fn merge(
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

/// Releases ticket `k` at `start + k / rate` for `duration`; returns how late each release was.
fn pace(
    tickets: mpsc::UnboundedSender<(u64, Instant)>,
    start: Instant,
    duration: Duration,
    rate: f64,
) -> Histogram<u64> {
    let mut lateness = histogram();
    let total = (duration.as_secs_f64() * rate).round() as u64;
    for k in 0..total {
        let at = start + Duration::from_secs_f64(k as f64 / rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        lateness.saturating_record(micros(at.elapsed()));
        if tickets.send((k, at)).is_err() {
            break;
        }
    }
    lateness
}

/// Open loop: `rate` requests per second in total for `duration`, over `connections`.
pub async fn open_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    rate: f64,
    make: MakeRequest,
) -> Result<Outcome> {
    let conns = connect_all(addr, connections).await?;
    let (tx, rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let cpu = crate::cpu::snapshot();
    let start = Instant::now() + Duration::from_millis(20);
    // Tickets still queued this long after the schedule ends are counted as errors, unsent.
    let give_up = start + duration + duration.max(Duration::from_secs(5));
    let pacer = tokio::task::spawn_blocking(move || pace(tx, start, duration, rate));
    let tasks = conns
        .into_iter()
        .map(|mut conn| {
            let (make, rx) = (make.clone(), rx.clone());
            tokio::spawn(async move {
                let mut tally = Tally::new();
                loop {
                    let ticket = rx.lock().await.recv().await;
                    let Some((k, at)) = ticket else { break };
                    if Instant::now() > give_up {
                        tally.error("the server fell behind the schedule; ticket dropped".into());
                        continue;
                    }
                    if !tally.exchange(&mut conn, addr, make(0, k), at).await {
                        break;
                    }
                }
                tally
            })
        })
        .collect();
    let lateness = pacer.await?;
    let mut out = merge(tasks, start, cpu).await?;
    out.elapsed = out.elapsed.max(duration);
    out.pacer_lateness = Some(lateness);
    Ok(out)
}
