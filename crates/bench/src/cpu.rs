//! CPU accounting from /proc: how much of the machine this process, its load-generator threads
//! and every other process used over an interval. The benchmark shares 2 CPUs between Coffer
//! and its own load generator, and on a shared machine with whatever else runs, so every
//! scenario reports all three; a high "other" share means its figures are pessimistic.

use serde::Serialize;

/// Name of the load generator runtime's threads.
pub const LOAD_THREADS: &str = "load";
/// The SQLite catalog's writer thread (`coffer-catalog-writer`, as the kernel's 15-character
/// `comm` shows it).
const WRITER_THREAD: &str = "coffer-catalog-";
/// Clock ticks per second in /proc (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_S: f64 = 100.0;

/// Clock ticks so far.
#[derive(Clone, Debug)]
pub struct Snapshot {
    busy: u64,
    total: u64,
    own: u64,
    generator: u64,
    writer: u64,
    loadavg: String,
}

/// Shares of the machine's CPU time (all CPUs together) over an interval, %.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Use {
    /// This process: servers, load generator and harness.
    pub this_process_pct: f64,
    /// Of which the load generator's threads.
    pub generator_pct: f64,
    /// Every other process on the machine.
    pub other_processes_pct: f64,
    /// CPU time of this process outside the load generator (servers and harness), seconds.
    /// Unlike wall-clock shares it does not grow when a thread waits for a CPU.
    pub server_cpu_s: f64,
    /// Of which the SQLite catalog's writer thread (0 on PostgreSQL), seconds.
    pub writer_cpu_s: f64,
}

/// [`Use`] over the whole run, with the load averages around it.
#[derive(Serialize)]
pub struct RunUse {
    /// The shares.
    #[serde(flatten)]
    pub shares: Use,
    /// /proc/loadavg when the run started.
    pub loadavg_start: String,
    /// /proc/loadavg when it ended.
    pub loadavg_end: String,
}

fn task_ticks(stat: &str) -> u64 {
    // Fields after the command name start at 3 (state); utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn read(path: impl AsRef<std::path::Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Ticks of this process's live threads whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten();
    tasks
        .filter(|t| read(t.path().join("comm")).starts_with(prefix))
        .map(|t| task_ticks(&read(t.path().join("stat"))))
        .sum()
}

/// Reads /proc/stat, /proc/self/stat and the generator threads' stats.
pub fn snapshot() -> Snapshot {
    let stat = read("/proc/stat");
    let cpu_line = stat.lines().next().unwrap_or_default();
    let ticks: Vec<u64> = cpu_line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already counted in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let loadavg = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    Snapshot {
        busy: total.saturating_sub(idle),
        total,
        own: task_ticks(&read("/proc/self/stat")),
        generator: thread_ticks(LOAD_THREADS),
        writer: thread_ticks(WRITER_THREAD),
        loadavg,
    }
}

/// Shares between `start` and `end`.
fn shares(start: &Snapshot, end: &Snapshot) -> Use {
    let total = end.total.saturating_sub(start.total).max(1) as f64;
    let pct = |ticks: u64| (ticks as f64 / total * 1000.0).round() / 10.0;
    let own = end.own.saturating_sub(start.own);
    let generator = end.generator.saturating_sub(start.generator);
    let seconds = |ticks: u64| ticks as f64 / TICKS_PER_S;
    Use {
        this_process_pct: pct(own),
        generator_pct: pct(generator),
        other_processes_pct: pct(end.busy.saturating_sub(start.busy).saturating_sub(own)),
        server_cpu_s: seconds(own.saturating_sub(generator)),
        writer_cpu_s: seconds(end.writer.saturating_sub(start.writer)),
    }
}

/// Shares since `start`.
pub fn since(start: &Snapshot) -> Use {
    shares(start, &snapshot())
}

/// Shares since `start`, with the load averages.
pub fn over_run(start: &Snapshot) -> RunUse {
    let end = snapshot();
    RunUse {
        shares: shares(start, &end),
        loadavg_start: start.loadavg.clone(),
        loadavg_end: end.loadavg,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_this_process_and_its_generator_threads() {
        let start = super::snapshot();
        let spin = || {
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_millis(60) {
                std::hint::black_box(t.elapsed());
            }
        };
        let worker = std::thread::Builder::new()
            .name(super::LOAD_THREADS.into())
            .spawn(move || {
                spin();
                std::thread::sleep(std::time::Duration::from_millis(200)); // stay alive to be counted
            });
        spin();
        let end = super::snapshot();
        assert!(
            end.total > start.total && end.own > start.own,
            "{start:?} → {end:?}"
        );
        assert!(end.generator > start.generator, "{start:?} → {end:?}");
        let u = super::shares(&start, &end);
        assert!(
            u.this_process_pct >= u.generator_pct && u.other_processes_pct >= 0.0,
            "{u:?}"
        );
        worker.unwrap().join().unwrap();
    }
}
