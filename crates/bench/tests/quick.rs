//! Runs the real `coffer-bench` binary end to end with the shortest settings it accepts and
//! checks the shape of its `--json` report: every scenario is there and the output parses. No
//! timing is asserted — figures from a debug build on a shared CI machine mean nothing; this test
//! only guards against the harness itself breaking.

use std::process::Command;

#[test]
fn quick_json_run_reports_every_scenario() {
    let output = Command::new(env!("CARGO_BIN_EXE_coffer-bench"))
        .args([
            "--quick",
            "--json",
            "--duration",
            "300ms",
            "--connections",
            "4",
        ])
        .args([
            "--reveal-count",
            "200",
            "--write-count",
            "50",
            "--catalog-sizes",
            "100,600",
        ])
        .env_remove("COFFER_LISTEN")
        .env_remove("COFFER_DATA_DIR")
        .output()
        .expect("the benchmark binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for name in [
        "baseline",
        "reveal",
        "reveal_at_50pct",
        "baseline_paced",
        "reveal_at_25pct",
        "list",
        "write",
    ] {
        assert!(
            names.contains(&name),
            "scenario {name} missing from {names:?}"
        );
    }
    for s in report["scenarios"].as_array().unwrap() {
        for field in [
            "rps",
            "ratio_to_baseline",
            "p50_us",
            "p99_us",
            "p999_us",
            "server_cpu_us_per_request",
            "writer_cpu_us_per_request",
        ] {
            assert!(s[field].is_number(), "{field} missing in {s}");
        }
        if s["name"] == "reveal" {
            // A reveal costs the server CPU: the per-thread accounting found the threads.
            assert!(
                s["server_cpu_us_per_request"].as_f64().unwrap() > 0.0,
                "{s}"
            );
        }
        assert_eq!(s["errors"], 0, "errors in {s}");
        // Durable scenarios on SQLite report the catalog writer's share; reads and the
        // baseline commit nothing.
        let writes = matches!(
            s["name"].as_str(),
            Some("reveal" | "reveal_at_50pct" | "reveal_at_25pct" | "write")
        );
        let w = &s["catalog_writer"];
        assert_eq!(w.is_object(), writes, "catalog_writer of {s}");
        if writes {
            assert!(w["writes_per_commit"].as_f64().unwrap() >= 1.0, "{s}");
            assert!(w["busy_pct"].as_f64().unwrap() > 0.0, "{s}");
            assert!(w["wal_syncs_per_s"].is_number(), "{s}");
        }
    }
    assert!(report["baseline_rps"].is_number());
    assert_eq!(report["key_provider_calls"]["reveals"], 200);
    assert_eq!(report["key_provider_calls"]["writes"], 50);
    assert_eq!(report["key_provider_calls"]["scaled_down"], true);
    let sizes = report["memory"]["sizes"].as_array().expect("memory sizes");
    assert_eq!(
        sizes
            .iter()
            .map(|s| s["secrets"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [100, 600]
    );
    assert!(
        report["memory"]["audit_events_verified"].as_u64().unwrap() > 500,
        "filler events are chained"
    );
    assert!(report["machine"]["nproc"].as_u64().unwrap() >= 1);
    assert!(report["machine"]["fsync"]["new_file"]["p50_us"].is_number());
    assert_eq!(report["settings"]["mode"], "quick");
}
