//! Where the run happened — CPU count and model, kernel, date — with what fsync costs there
//! (`fsync`) and who else used the CPUs (`cpu`), and the process's resident memory. Every
//! figure in the report depends on these, so the report carries them.

use serde::Serialize;

/// The machine and its disk.
#[derive(Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub nproc: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// /proc/sys/kernel/osrelease.
    pub kernel: String,
    /// When the run started (UTC, RFC 3339).
    pub date: String,
    /// Cost of fsync on the data directory's filesystem.
    pub fsync: crate::fsync::Fsync,
    /// Who used the CPUs while the benchmark ran.
    pub cpu: crate::cpu::RunUse,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Now, UTC, RFC 3339.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// Describes this machine: the run started at `date`, `fsync` was measured on the data
/// directory's filesystem, `cpu` covers the run.
pub fn describe(date: String, fsync: crate::fsync::Fsync, cpu: crate::cpu::RunUse) -> Machine {
    Machine {
        nproc: cpus(),
        cpu_model: cpu_model(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        date,
        fsync,
        cpu,
    }
}

/// CPUs available to this process.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Restarts the peak-RSS counter (`VmHWM`) from the current RSS, so a later `VmHWM` is the
/// peak of one measurement. False if the kernel refused (the peak then covers more).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `Vm*` line of /proc/self/status in MB (`VmRSS`: now; `VmHWM`: the peak). Covers the
/// whole process: the servers, the load generator and the harness.
pub fn memory_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_its_own_memory() {
        assert!(super::memory_mb("VmRSS") > 0.0);
        assert!(super::memory_mb("VmHWM") >= super::memory_mb("VmRSS") - 1.0);
        if super::reset_peak_rss() {
            assert!(super::memory_mb("VmHWM") <= super::memory_mb("VmRSS") + 1.0);
        }
    }
}
