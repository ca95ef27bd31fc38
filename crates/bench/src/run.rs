//! One benchmark run, in order: fsync probe → baseline → Coffer's `reveal`, `reveal_at_50pct`
//! (then the baseline paced at the same rate, `baseline_paced`: the harness's latency floor),
//! `reveal_at_25pct` (how the tail falls with the load), `list` and `write` scenarios →
//! key-provider calls over a fixed number of reveals and writes → the catalog-size run
//! (`catalog`). Every HTTP scenario gets a short warm-up that is thrown
//! away, then is measured by the same load generator as the baseline.

use crate::app::{self, App};
use crate::http::{self, Api, Conn};
use crate::load::{self, MakeRequest, Outcome, Stop};
use crate::report::{Calls, KeyCalls, Report, Scenario, Settings};
use crate::writer::{self, WriterUse};
use crate::{baseline, catalog, machine};
use anyhow::{Result, bail};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// What to run, resolved from the command line.
pub struct Plan {
    /// Catalog and blob backends.
    pub backends: crate::backend::Backends,
    /// Keep-alive connections.
    pub connections: usize,
    /// Measuring time per scenario.
    pub duration: Duration,
    /// `--quick`.
    pub quick: bool,
    /// Reveals counted for key-provider calls.
    pub reveal_count: u64,
    /// Writes counted for key-provider calls.
    pub write_count: u64,
    /// Catalog sizes compared (small, large).
    pub catalog_sizes: (u64, u64),
}

/// Secrets revealed round-robin by `reveal` (issue BENCH-1).
const REVEAL_SECRETS: u64 = 100;
/// Secrets in the listed issue.
pub const LIST_SECRETS: u64 = 20;
const KEY_METRIC: &str = "coffer_key_provider_requests_total";

/// Progress goes to stderr so `--json` output stays parseable.
pub fn progress(what: &str) {
    eprintln!("coffer-bench: {what}");
}

fn warmup(plan: &Plan) -> Duration {
    (plan.duration / 5).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// Reveals at a fixed `rate` (open loop, so latency is not hidden by back-pressure), with the
/// writer's share.
async fn reveal_paced(
    plan: &Plan,
    app: &App,
    api: &Api,
    name: &str,
    rate: f64,
    baseline_rps: f64,
) -> Result<Scenario> {
    progress(&format!("{name} ({rate:.0} req/s, open loop)"));
    let open = {
        let api = api.clone();
        Arc::new(move |_, k| api.reveal("BENCH-1", &format!("s{}", k % REVEAL_SECRETS)))
            as MakeRequest
    };
    let mut conn = Conn::open(app.addr).await?;
    let before = writer::read(&mut conn, api).await?;
    let out =
        crate::paced::open_loop(app.addr, plan.connections, plan.duration, rate, open).await?;
    let used = writer::between(&before, &writer::read(&mut conn, api).await?);
    let mut paced = Scenario::new(name, &out, baseline_rps).with_writer(used);
    paced.target_rps = Some((rate * 10.0).round() / 10.0);
    Ok(paced)
}

/// A thrown-away warm-up with `warm`, then a closed-loop measurement with `make`.
pub async fn measure(
    plan: &Plan,
    addr: SocketAddr,
    warm: MakeRequest,
    make: MakeRequest,
) -> Result<Outcome> {
    load::closed_loop(addr, plan.connections, Stop::After(warmup(plan)), warm).await?;
    load::closed_loop(addr, plan.connections, Stop::After(plan.duration), make).await
}

/// [`measure`] against Coffer: also what its catalog writer did during the measured part.
pub async fn measure_app(
    plan: &Plan,
    app: &App,
    api: &Api,
    warm: MakeRequest,
    make: MakeRequest,
) -> Result<(Outcome, Option<WriterUse>)> {
    load::closed_loop(app.addr, plan.connections, Stop::After(warmup(plan)), warm).await?;
    let mut conn = Conn::open(app.addr).await?;
    let before = writer::read(&mut conn, api).await?;
    let out =
        load::closed_loop(app.addr, plan.connections, Stop::After(plan.duration), make).await?;
    let after = writer::read(&mut conn, api).await?;
    Ok((out, writer::between(&before, &after)))
}

/// Reveals `{scope}/{prefix}{i}` for i in 0..count, spread evenly over connections and time.
pub fn reveal_round_robin(
    api: &Api,
    scope: &str,
    prefix: &str,
    count: u64,
    connections: usize,
) -> MakeRequest {
    let (api, scope, prefix) = (api.clone(), scope.to_owned(), prefix.to_owned());
    Arc::new(move |conn, n| {
        api.reveal(
            &scope,
            &format!("{prefix}{}", (conn as u64 + n * connections as u64) % count),
        )
    })
}

/// Lists `issue`.
pub fn list_issue(api: &Api, issue: &str) -> MakeRequest {
    let (api, issue) = (api.clone(), issue.to_owned());
    Arc::new(move |_, _| api.list(&issue))
}

/// Writes new secrets `BENCH-2/{prefix}{conn}-{n}`.
fn write_new(api: &Api, prefix: &'static str) -> MakeRequest {
    let api = api.clone();
    Arc::new(move |conn, n| api.put("BENCH-2", &format!("{prefix}{conn}-{n}")))
}

fn names(prefix: &str, count: u64) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

/// Runs everything and returns the report.
pub async fn run(plan: &Plan, server: Handle) -> Result<Report> {
    let (date, cpu_start) = (machine::now(), crate::cpu::snapshot());
    let root = tempfile::Builder::new().prefix("coffer-bench-").tempdir()?;
    progress(&format!("data under {}", root.path().display()));
    let probe_dir = root.path().to_owned();
    let rounds = if plan.quick { 50 } else { 500 };
    let fsync =
        tokio::task::spawn_blocking(move || crate::fsync::measure(&probe_dir, rounds)).await??;

    let bucket = plan.backends.bucket().await?;
    let backends = plan.backends.describe(bucket.as_ref());
    progress(&format!(
        "catalog {}, blobs {}",
        backends.catalog, backends.blobs
    ));

    progress("baseline (trivial hyper handler)");
    let base = server.spawn(baseline::start()).await??;
    let plain: MakeRequest = Arc::new(|_, _| http::plain_get());
    let base_out = measure(plan, base.addr, plain.clone(), plain.clone()).await?;
    drop(base);
    let baseline_rps = base_out.rps();
    let mut scenarios = vec![Scenario::new("baseline", &base_out, baseline_rps)];

    let mut config = app::config(root.path().join("main"))?;
    let stores = (plan.backends)
        .stores(&mut config, bucket.as_ref(), "main")
        .await?;
    let app = App::start(&server, &config, None).await?;
    let api = app.api()?;
    progress(&format!(
        "seeding {REVEAL_SECRETS} + {LIST_SECRETS} secrets of 1 KiB"
    ));
    app::write_secrets(
        app.addr,
        &api,
        "BENCH-1",
        names("s", REVEAL_SECRETS),
        plan.connections,
    )
    .await?;
    app::write_secrets(
        app.addr,
        &api,
        "BENCH-3",
        names("l", LIST_SECRETS),
        plan.connections,
    )
    .await?;

    progress("reveal");
    let reveal = reveal_round_robin(&api, "BENCH-1", "s", REVEAL_SECRETS, plan.connections);
    let (reveal_out, used) = measure_app(plan, &app, &api, reveal.clone(), reveal).await?;
    scenarios.push(Scenario::new("reveal", &reveal_out, baseline_rps).with_writer(used));

    let rate = reveal_out.rps() * 0.5;
    if rate < 1.0 {
        bail!(
            "reveal measured {:.1} req/s; too little to schedule half of it",
            reveal_out.rps()
        );
    }
    scenarios.push(reveal_paced(plan, &app, &api, "reveal_at_50pct", rate, baseline_rps).await?);

    // The harness's own latency floor at that rate: the trivial handler, paced the same way.
    progress(&format!("baseline_paced ({rate:.0} req/s, open loop)"));
    let base = server.spawn(baseline::start()).await??;
    let floor =
        crate::paced::open_loop(base.addr, plan.connections, plan.duration, rate, plain).await?;
    drop(base);
    let mut floor = Scenario::new("baseline_paced", &floor, baseline_rps);
    floor.target_rps = Some((rate * 10.0).round() / 10.0);
    scenarios.push(floor);

    // Half that rate again: how the tail falls with the load (docs/performance.md, Targets).
    let quarter = rate / 2.0;
    scenarios.push(reveal_paced(plan, &app, &api, "reveal_at_25pct", quarter, baseline_rps).await?);

    progress("list");
    let list = list_issue(&api, "BENCH-3");
    let (list_out, used) = measure_app(plan, &app, &api, list.clone(), list).await?;
    scenarios.push(Scenario::new("list", &list_out, baseline_rps).with_writer(used));

    progress("write (new 1 KiB secrets, durable)");
    let (write_out, used) = measure_app(
        plan,
        &app,
        &api,
        write_new(&api, "warm"),
        write_new(&api, "w"),
    )
    .await?;
    scenarios.push(Scenario::new("write", &write_out, baseline_rps).with_writer(used));

    let key_provider_calls = key_calls(plan, &app, &api, config.keys.key_cache_ttl).await?;
    app.stop().await?;
    drop(stores);

    let memory = catalog::run(plan, &server, root.path(), bucket.as_ref(), baseline_rps).await?;
    let machine = machine::describe(date, fsync, crate::cpu::over_run(&cpu_start));
    let settings = Settings {
        catalog: backends.catalog,
        blobs: backends.blobs,
        mode: if plan.quick { "quick" } else { "full" },
        connections: plan.connections,
        duration_ms: plan.duration.as_millis() as u64,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    };
    Ok(Report {
        settings,
        baseline_rps: (baseline_rps * 10.0).round() / 10.0,
        scenarios,
        key_provider_calls,
        memory,
        machine,
    })
}

/// Provider calls so far: (unwrap, wrap, all).
async fn provider_calls(conn: &mut Conn, api: &Api) -> Result<(u64, u64, u64)> {
    let body = conn.expect_ok(api.metrics()).await?;
    let text = String::from_utf8_lossy(&body);
    let sum = |labels: &[(&str, &str)]| http::counter_sum(&text, KEY_METRIC, labels) as u64;
    Ok((
        sum(&[("operation", "unwrap")]),
        sum(&[("operation", "wrap")]),
        sum(&[]),
    ))
}

fn calls(
    before: (u64, u64, u64),
    after: (u64, u64, u64),
    window: Duration,
    ttl: Duration,
    orgs: u64,
) -> Calls {
    let per_org = (window.as_secs_f64() / ttl.as_secs_f64().max(1e-3)).floor() as u64 + 1;
    Calls {
        unwrap: after.0 - before.0,
        wrap: after.1 - before.1,
        total: after.2 - before.2,
        allowed_by_ttl: orgs * per_org,
    }
}

/// Counts provider calls over `plan.reveal_count` reveals, then `plan.write_count` new writes.
async fn key_calls(plan: &Plan, app: &App, api: &Api, ttl: Duration) -> Result<KeyCalls> {
    progress(&format!(
        "key-provider calls over {} reveals and {} writes",
        plan.reveal_count, plan.write_count
    ));
    let mut conn = Conn::open(app.addr).await?;
    let before = provider_calls(&mut conn, api).await?;
    let reveal = reveal_round_robin(api, "BENCH-1", "s", REVEAL_SECRETS, plan.connections);
    let r = load::closed_loop(
        app.addr,
        plan.connections,
        Stop::Count(plan.reveal_count),
        reveal,
    )
    .await?;
    let mid = provider_calls(&mut conn, api).await?;
    let w = load::closed_loop(
        app.addr,
        plan.connections,
        Stop::Count(plan.write_count),
        write_new(api, "k"),
    )
    .await?;
    let after = provider_calls(&mut conn, api).await?;
    if r.errors + w.errors > 0 {
        bail!(
            "errors while counting key-provider calls: {}",
            r.first_error.or(w.first_error).unwrap_or_default()
        );
    }
    Ok(KeyCalls {
        reveals: r.ok,
        reveal_calls: calls(before, mid, r.elapsed, ttl, 1),
        reveal_seconds: (r.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        writes: w.ok,
        write_calls: calls(mid, after, w.elapsed, ttl, 1),
        write_seconds: (w.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        key_cache_ttl_s: ttl.as_secs_f64(),
        orgs: 1,
        scaled_down: plan.reveal_count < 100_000 || plan.write_count < 10_000,
    })
}

/// How long ago `t` was, in seconds, to one decimal.
pub fn seconds_since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 10.0).round() / 10.0
}
