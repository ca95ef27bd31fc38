//! What durability costs on the data directory's disk, measured the two ways Coffer pays it:
//! - `overwrite`: a 4 KiB `pwrite` at offset 0 of one file, then `fdatasync` — close to what a
//!   SQLite WAL commit with `synchronous = FULL` costs;
//! - `new_file`: create a file, write 1.2 KiB (an envelope of a 1 KiB secret), `fsync` it, then
//!   `fsync` its directory — the fsyncs of one filesystem blob-store write.
//!
//! A write that is acknowledged only once durable cannot be faster than these, and a node's
//! durable write rate is bounded by how many of them the disk completes at once.

use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

/// Both probes.
#[derive(Serialize)]
pub struct Fsync {
    /// Overwrite + fdatasync.
    pub overwrite: Probe,
    /// New file + fsync + directory fsync.
    pub new_file: Probe,
}

/// One probe's latency.
#[derive(Serialize)]
pub struct Probe {
    /// What was timed.
    pub method: String,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
}

fn probe(method: String, mut samples: Vec<u64>) -> Probe {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Probe {
        method,
        p50_us: at(0.5),
        p99_us: at(0.99),
    }
}

fn overwrite(dir: &Path, rounds: usize) -> std::io::Result<Probe> {
    let path = dir.join("fsync-probe");
    let mut file = File::create(&path)?;
    file.write_all(&[0u8; 4096])?;
    file.sync_all()?;
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        file.write_at(&[i as u8; 4096], 0)?;
        file.sync_data()?;
        samples.push(started.elapsed().as_micros() as u64);
    }
    std::fs::remove_file(&path)?;
    Ok(probe(
        format!("{rounds} x 4 KiB pwrite + fdatasync"),
        samples,
    ))
}

fn new_file(dir: &Path, rounds: usize) -> std::io::Result<Probe> {
    let root = dir.join("fsync-probe-files");
    std::fs::create_dir(&root)?;
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        let mut file = File::create(root.join(format!("{i}.cfr")))?;
        file.write_all(&[i as u8; 1190])?;
        file.sync_all()?;
        File::open(&root)?.sync_all()?;
        samples.push(started.elapsed().as_micros() as u64);
    }
    std::fs::remove_dir_all(&root)?;
    Ok(probe(
        format!("{rounds} x (create + 1.2 KiB write + fsync + directory fsync)"),
        samples,
    ))
}

/// Runs both probes `rounds` times in `dir`.
pub fn measure(dir: &Path, rounds: usize) -> std::io::Result<Fsync> {
    Ok(Fsync {
        overwrite: overwrite(dir, rounds)?,
        new_file: new_file(dir, rounds)?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn probes_run() {
        let dir = tempfile::tempdir().unwrap();
        let f = super::measure(dir.path(), 3).unwrap();
        assert!(f.overwrite.p99_us >= f.overwrite.p50_us && f.new_file.p99_us >= f.new_file.p50_us);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "probes clean up"
        );
    }
}
