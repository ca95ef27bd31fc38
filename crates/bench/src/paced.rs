//! The open-loop driver: `rate` requests per second, evenly spaced, over N keep-alive
//! connections, with latency measured from each request's *scheduled* time, so a server stall is
//! charged to every request that should have been sent during it (no coordinated omission).
//!
//! It is shaped to add as little as it can to the latency it measures, because on this machine
//! it shares two CPUs with the server:
//! - **One thread.** The pacer, the ticket queue and every connection run on one current-thread
//!   tokio runtime on a thread of their own (named like the generator's, so `gen%` counts it).
//!   A release is a task wake on that thread, never a wake of another thread.
//! - **A periodic `timerfd`** (`CLOCK_MONOTONIC`, period = 1/rate in ns) is the clock: it fires
//!   with nanosecond precision, no timer slack and no 1 ms timer wheel, and one read says how
//!   many periods have passed, so a late wake releases every ticket that came due.
//! - **A multi-consumer queue** (flume): a ticket wakes the one idle connection that takes it.
//!
//! A separate pacer thread sleeping between releases, with the connections sharing a receiver
//! behind a mutex on the multi-threaded generator runtime, makes each ticket cross threads and
//! wake two tasks; the generator then spends more CPU per request at a paced rate than at full
//! load (docs/performance.md, "Tried and dropped"). The pacer's own lateness is reported.

use crate::http::Conn;
use crate::load::{MakeRequest, Outcome, Tally, connect_all, histogram, merge, micros};
use anyhow::{Context, Result};
use rustix::fd::OwnedFd;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

/// Open loop: `rate` requests per second in total for `duration`, over `connections`. Runs on a
/// thread of its own (see the module doc) and returns once every released request is answered.
pub async fn open_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    rate: f64,
    make: MakeRequest,
) -> Result<Outcome> {
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("{}-paced", crate::cpu::LOAD_THREADS))
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("the open loop's runtime")
                .and_then(|rt| rt.block_on(drive(addr, connections, duration, rate, make)));
            let _ = done.send(result);
        })
        .context("starting the open loop's thread")?;
    outcome.await.context("the open loop's thread died")?
}

async fn drive(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    rate: f64,
    make: MakeRequest,
) -> Result<Outcome> {
    let conns = connect_all(addr, connections).await?;
    let (tx, rx) = flume::unbounded::<(u64, Instant)>();
    let cpu = crate::cpu::snapshot();
    let period_ns = (1e9 / rate).round().max(1.0) as u64;
    let period = Duration::from_nanos(period_ns);
    let total = (duration.as_secs_f64() * rate).round() as u64;
    let clock = Clock::start(Duration::from_millis(20), period)?;
    let start = clock.start;
    // Tickets still queued this long after the schedule ends are counted as errors, unsent.
    let give_up = start + duration + duration.max(Duration::from_secs(5));
    let pacer = tokio::spawn(async move {
        let mut lateness = histogram();
        let mut k = 0;
        while k < total {
            let due = clock.periods().await?;
            for _ in 0..due.min(total - k) {
                let at = start + Duration::from_nanos(period_ns * k);
                lateness.saturating_record(micros(at.elapsed()));
                if tx.send((k, at)).is_err() {
                    return Ok(lateness);
                }
                k += 1;
            }
        }
        anyhow::Ok(lateness)
    });
    let tasks = conns
        .into_iter()
        .map(|conn| tokio::spawn(connection(conn, addr, rx.clone(), make.clone(), give_up)))
        .collect();
    drop(rx);
    let lateness = pacer.await??;
    let mut out = merge(tasks, start, cpu).await?;
    out.elapsed = out.elapsed.max(duration);
    out.pacer_lateness = Some(lateness);
    Ok(out)
}

/// One connection: takes tickets while there are any and sends each one's request.
async fn connection(
    mut conn: Conn,
    addr: SocketAddr,
    tickets: flume::Receiver<(u64, Instant)>,
    make: MakeRequest,
    give_up: Instant,
) -> Tally {
    let mut tally = Tally::new();
    while let Ok((k, at)) = tickets.recv_async().await {
        if Instant::now() > give_up {
            tally.error("the server fell behind the schedule; ticket dropped".into());
            continue;
        }
        if !tally.exchange(&mut conn, addr, make(0, k), at).await {
            break;
        }
    }
    tally
}

/// A periodic `timerfd` registered with the runtime: period `n` ends at `start + n × period`.
struct Clock {
    fd: AsyncFd<OwnedFd>,
    start: Instant,
}

impl Clock {
    /// First expiry `delay` from now, then every `period`.
    fn start(delay: Duration, period: Duration) -> Result<Self> {
        let fd = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .context("timerfd_create")?;
        let spec = |d: Duration| Timespec {
            tv_sec: d.as_secs() as _,
            tv_nsec: d.subsec_nanos() as _,
        };
        let start = Instant::now() + delay;
        rustix::time::timerfd_settime(
            &fd,
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: spec(period),
                it_value: spec(delay),
            },
        )
        .context("timerfd_settime")?;
        // `AsyncFd::new` is deprecated for fds the wrapper does not own; this one owns its
        // `OwnedFd` and closes it on drop, which is the contract `AsyncFd::register` (unsafe, and
        // this crate forbids unsafe code) asks its caller to promise.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd).context("registering the timerfd")?;
        Ok(Self { fd, start })
    }

    /// Waits for the next expiry; returns how many periods ended since the last call (≥ 1).
    async fn periods(&self) -> Result<u64> {
        loop {
            let mut ready = self.fd.readable().await?;
            let read = ready.try_io(|fd| {
                let mut count = [0u8; 8];
                rustix::io::read(fd.get_ref(), &mut count)?;
                Ok(u64::from_ne_bytes(count))
            });
            if let Ok(result) = read {
                return Ok(result?);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_clock_counts_every_period_that_ended() {
        let period = Duration::from_millis(2);
        let clock = Clock::start(Duration::from_millis(1), period).unwrap();
        assert!(clock.periods().await.unwrap() >= 1);
        std::thread::sleep(period * 5); // the runtime is blocked: the periods pile up
        let piled = clock.periods().await.unwrap();
        assert!(piled >= 4, "{piled} periods after sleeping through 5");
        assert!(clock.start.elapsed() >= period * 5);
    }
}
