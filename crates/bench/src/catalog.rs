//! The catalog-size run: reveal latency, list latency and process memory with a small catalog
//! (1,000 secrets; `--quick` the same) and a large one (1,000,000; `--quick` 100,000), on an app
//! of its own. The small catalog is written through the API (real envelopes and blobs); the app
//! is then stopped, filler rows are bulk-inserted into its SQLite file (`seed`), the app is
//! restarted on the same data directory, and the same real secrets are revealed again. With
//! `--catalog postgres://…` the app has its own database and the filler goes there (`pg`).

use crate::app::{self, App};
use crate::machine::{memory_mb, reset_peak_rss};
use crate::report::{CatalogSize, Memory, Scenario};
use crate::run::{
    LIST_SECRETS, Plan, list_issue, measure, progress, reveal_round_robin, seconds_since,
};
use crate::s3::Bucket;
use anyhow::{Result, ensure};
use std::path::Path;
use std::time::Instant;
use tokio::runtime::Handle;

fn label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

async fn measure_size(
    plan: &Plan,
    app: &App,
    revealable: u64,
    secrets: u64,
    baseline_rps: f64,
) -> Result<CatalogSize> {
    let api = app.api()?;
    progress(&format!("catalog of {secrets} secrets: reveal, list"));
    reset_peak_rss();
    let reveal = reveal_round_robin(&api, "BENCH-4", "m", revealable, plan.connections);
    let reveal = Scenario::new(
        "reveal",
        &measure(plan, app.addr, reveal.clone(), reveal).await?,
        baseline_rps,
    );
    let (rss_after_reveal_mb, peak_rss_reveal_mb) = (memory_mb("VmRSS"), memory_mb("VmHWM"));
    reset_peak_rss();
    let list = list_issue(&api, "BENCH-5");
    let list = Scenario::new(
        "list",
        &measure(plan, app.addr, list.clone(), list).await?,
        baseline_rps,
    );
    ensure!(
        reveal.errors + list.errors == 0,
        "errors at {secrets} secrets: {:?}",
        reveal.first_error.or(list.first_error)
    );
    Ok(CatalogSize {
        label: label(secrets),
        secrets,
        reveal,
        list,
        rss_after_reveal_mb,
        peak_rss_reveal_mb,
        rss_after_list_mb: memory_mb("VmRSS"),
        peak_rss_list_mb: memory_mb("VmHWM"),
    })
}

/// Checks that the filler left the audit chain intact; returns how many events it verified.
async fn verify_audit(app: &App) -> Result<u64> {
    progress("verifying the audit chain after the bulk insert");
    let body = crate::http::Conn::open(app.addr)
        .await?
        .expect_ok(app.api()?.audit_verify())
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    ensure!(
        v["ok"] == true,
        "the bulk insert broke the audit chain: {v}"
    );
    Ok(v["events"].as_u64().unwrap_or(0))
}

/// Measures at `plan.catalog_sizes` under `root/catalog-size`.
pub async fn run(
    plan: &Plan,
    server: &Handle,
    root: &Path,
    bucket: Option<&Bucket>,
    baseline_rps: f64,
) -> Result<Memory> {
    let (small, large) = plan.catalog_sizes;
    let peak_rss_before_mb = memory_mb("VmHWM");
    let mut config = app::config(root.join("catalog-size"))?;
    let stores = (plan.backends)
        .stores(&mut config, bucket, "catalog-size")
        .await?;
    let app = App::start(server, &config, None).await?;
    let api = app.api()?;
    let revealable = small - LIST_SECRETS;
    progress(&format!("writing {small} real secrets through the API"));
    let names = |prefix: &str, n: u64| (0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
    app::write_secrets(
        app.addr,
        &api,
        "BENCH-4",
        names("m", revealable),
        plan.connections,
    )
    .await?;
    app::write_secrets(
        app.addr,
        &api,
        "BENCH-5",
        names("l", LIST_SECRETS),
        plan.connections,
    )
    .await?;
    let first = measure_size(
        plan,
        &app,
        revealable,
        stores.count_secrets().await?,
        baseline_rps,
    )
    .await?;
    let token = app.token.clone();
    app.stop().await?;

    progress(&format!(
        "bulk-inserting {} filler secrets into the catalog",
        large - small
    ));
    let started = Instant::now();
    reset_peak_rss();
    stores.fill(large - small).await?;
    let seed_seconds = seconds_since(started);
    let peak_rss_seed_mb = memory_mb("VmHWM");

    let app = App::start(server, &config, Some(token)).await?;
    let audit_events_verified = verify_audit(&app).await?;
    let second = measure_size(
        plan,
        &app,
        revealable,
        stores.count_secrets().await?,
        baseline_rps,
    )
    .await?;
    app.stop().await?;
    drop(stores);
    let peaks = [
        first.peak_rss_reveal_mb,
        first.peak_rss_list_mb,
        second.peak_rss_reveal_mb,
    ];
    let peak_rss_mb = peaks.into_iter().chain([
        second.peak_rss_list_mb,
        peak_rss_seed_mb,
        peak_rss_before_mb,
    ]);
    Ok(Memory {
        note: "RSS of the whole benchmark process: server, load generator and harness".into(),
        sizes: vec![first, second],
        seed_seconds,
        audit_events_verified,
        peak_rss_before_mb,
        peak_rss_seed_mb,
        peak_rss_mb: peak_rss_mb.fold(memory_mb("VmHWM"), f64::max),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels() {
        assert_eq!(super::label(1_000), "1k");
        assert_eq!(super::label(100_000), "100k");
        assert_eq!(super::label(1_000_000), "1M");
        assert_eq!(super::label(2_000), "2k");
        assert_eq!(super::label(150), "150");
    }
}
