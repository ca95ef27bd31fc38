//! The human-readable form of a [`Report`]: aligned columns, thousands separators, and a line
//! per section saying what its figures cover. The JSON form is the report's serde derive.

use crate::report::{Report, Scenario};

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(s: &Scenario) -> String {
    format!(
        "{:<18} {:>10} {:>9.3} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6.1} {:>6.1} {:>6.1} {:>7.1}",
        s.name,
        thousands(s.rps),
        s.ratio_to_baseline,
        s.p50_us,
        s.p99_us,
        s.p999_us,
        s.max_us,
        s.errors,
        s.cpu.this_process_pct,
        s.cpu.generator_pct,
        s.cpu.other_processes_pct,
        s.server_cpu_us_per_request
    )
}

impl Report {
    /// The human-readable form.
    pub fn table(&self) -> String {
        let m = &self.machine;
        let st = &self.settings;
        let mut out = format!(
            "coffer-bench ({} run, {} build) {} | {} CPUs: {} | kernel {}\n\
             catalog {}, blobs {}\n\
             {} keep-alive connections, {} ms per scenario; load generator and server share the CPUs\n\n",
            st.mode,
            st.build,
            m.date,
            m.nproc,
            m.cpu_model,
            m.kernel,
            st.catalog,
            st.blobs,
            st.connections,
            st.duration_ms
        );
        out += &format!(
            "{:<18} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>6} {:>6} {:>7}\n",
            "scenario",
            "req/s",
            "×base",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "errors",
            "CPU%",
            "gen%",
            "other%",
            "cpu µs"
        );
        for s in &self.scenarios {
            out += &row(s);
            if let Some(t) = s.target_rps {
                out += &format!(
                    "  (scheduled {} req/s; pacer p99 lateness {} µs)",
                    thousands(t),
                    s.pacer_p99_us.unwrap_or(0)
                );
            }
            out.push('\n');
        }
        for s in self
            .scenarios
            .iter()
            .filter_map(|s| s.first_error.as_ref().map(|e| (&s.name, e)))
        {
            out += &format!("  first error in {}: {}\n", s.0, s.1);
        }
        out += &writer_table(&self.scenarios);
        let k = &self.key_provider_calls;
        out += &format!(
            "\nkey-provider calls{} (key_cache_ttl {} s, {} org):\n  {} reveals in {:.1} s: {} calls (unwrap {}, wrap {}; the TTL allows ≤ {})\n  {} writes in {:.1} s: {} calls (unwrap {}, wrap {}; the TTL allows ≤ {})\n",
            if k.scaled_down {
                " [scaled down from 100k reveals / 10k writes]"
            } else {
                ""
            },
            k.key_cache_ttl_s,
            k.orgs,
            thousands(k.reveals as f64),
            k.reveal_seconds,
            k.reveal_calls.total,
            k.reveal_calls.unwrap,
            k.reveal_calls.wrap,
            k.reveal_calls.allowed_by_ttl,
            thousands(k.writes as f64),
            k.write_seconds,
            k.write_calls.total,
            k.write_calls.unwrap,
            k.write_calls.wrap,
            k.write_calls.allowed_by_ttl,
        );
        out += &format!(
            "\ncatalog size ({}; filler seeded in {:.1} s, audit chain of {} events verified after it):\n\
             {:<6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13} {:>13} {:>6}\n",
            self.memory.note,
            self.memory.seed_seconds,
            thousands(self.memory.audit_events_verified as f64),
            "size",
            "secrets",
            "reveal/s",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "list p50",
            "list p99",
            "RSS¹ (peak)",
            "RSS² (peak)",
            "other%"
        );
        for c in &self.memory.sizes {
            let rss = |now: f64, peak: f64| format!("{now:.0} ({peak:.0})");
            out += &format!(
                "{:<6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13} {:>13} {:>6.1}\n",
                c.label,
                thousands(c.secrets as f64),
                thousands(c.reveal.rps),
                c.reveal.p50_us,
                c.reveal.p99_us,
                c.reveal.p999_us,
                c.list.p50_us,
                c.list.p99_us,
                rss(c.rss_after_reveal_mb, c.peak_rss_reveal_mb),
                rss(c.rss_after_list_mb, c.peak_rss_list_mb),
                c.reveal
                    .cpu
                    .other_processes_pct
                    .max(c.list.cpu.other_processes_pct)
            );
        }
        out += &format!(
            "RSS¹ in MB after the reveal measurement (peak during it), RSS² after the list one; other% =\n\
             other processes' CPU, the higher of the two. Peak RSS: {:.0} MB in the main scenarios,\n\
             {:.0} MB while bulk-inserting, {:.0} MB over the whole run\n",
            self.memory.peak_rss_before_mb, self.memory.peak_rss_seed_mb, self.memory.peak_rss_mb
        );
        out += &format!(
            "\nfsync here: {}: p50 {} µs, p99 {} µs\n            {}: p50 {} µs, p99 {} µs\n",
            m.fsync.overwrite.method,
            m.fsync.overwrite.p50_us,
            m.fsync.overwrite.p99_us,
            m.fsync.new_file.method,
            m.fsync.new_file.p50_us,
            m.fsync.new_file.p99_us
        );
        out += &format!(
            "CPU time over the run: this process {}%, other processes {}% of {} CPUs (load average {} at start, {} at end)\n",
            m.cpu.shares.this_process_pct,
            m.cpu.shares.other_processes_pct,
            m.nproc,
            m.cpu.loadavg_start,
            m.cpu.loadavg_end
        );
        out
    }
}

/// The catalog's group commits in each Coffer scenario (empty when none committed).
fn writer_table(scenarios: &[Scenario]) -> String {
    let used: Vec<_> = scenarios
        .iter()
        .filter_map(|s| Some((s, s.catalog_writer?)))
        .collect();
    if used.is_empty() {
        return String::new();
    }
    let slow_header = format!("commits >{}ms", crate::writer::SLOW_COMMIT.1);
    let mut out = format!(
        "\ncatalog group commits (SQLite: the one writer thread every write, reveals included, passes through, the WAL fsyncs behind its reveal-only commits and its own checkpoints, which restart the WAL; PostgreSQL: the reveal and version-write committers and the read groups, without the SQLite-only columns):\n{:<18} {:>10} {:>16} {:>8} {:>11} {:>14} {:>14} {:>10} {:>14} {:>14} {:>12}\n",
        "scenario",
        "commits/s",
        "writes/commit",
        "busy%",
        "cpu µs/req",
        "wal fsyncs/s",
        "checkpoints/s",
        "ms each",
        slow_header,
        "read groups/s",
        "reads/group"
    );
    for (s, w) in used {
        out += &format!(
            "{:<18} {:>10} {:>16.1} {:>8.1} {:>11.1} {:>14} {:>14.1} {:>10} {:>14} {:>14} {:>12}\n",
            s.name,
            thousands(w.commits_per_s),
            w.writes_per_commit,
            w.busy_pct,
            s.writer_cpu_us_per_request,
            thousands(w.wal_syncs_per_s),
            w.checkpoints_per_s,
            w.checkpoint_ms.map_or("-".into(), |ms| format!("{ms:.2}")),
            w.slow_commits,
            thousands(w.read_groups_per_s),
            w.reads_per_group.map_or("-".into(), |n| format!("{n:.1}"))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(1234567.4), "1,234,567");
        assert_eq!(super::thousands(999.0), "999");
        assert_eq!(super::thousands(0.0), "0");
    }
}
