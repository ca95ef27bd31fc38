//! The report: what one run measured, as plain serializable types. `--json` prints them with
//! serde (for scripts and the test); `table` renders them for people. Figures are rounded here,
//! once, so both forms agree.

use crate::load::Outcome;
use serde::Serialize;

/// Everything one run measured.
#[derive(Serialize)]
pub struct Report {
    /// How the run was configured.
    pub settings: Settings,
    /// The baseline's closed-loop requests per second.
    pub baseline_rps: f64,
    /// One entry per HTTP scenario, baseline first.
    pub scenarios: Vec<Scenario>,
    /// Key-provider calls counted over a fixed number of reveals and writes.
    pub key_provider_calls: KeyCalls,
    /// Reveal and list latency and process memory at two catalog sizes.
    pub memory: Memory,
    /// Where it ran.
    pub machine: crate::machine::Machine,
}

/// How the run was configured.
#[derive(Serialize)]
pub struct Settings {
    /// `sqlite`, or `postgres (URL without password)`.
    pub catalog: String,
    /// `fs`, or `s3 (endpoint, bucket)`.
    pub blobs: String,
    /// `full` or `quick`.
    pub mode: &'static str,
    /// Keep-alive connections.
    pub connections: usize,
    /// Measuring time per scenario, ms.
    pub duration_ms: u64,
    /// `release` or `debug` (debug figures are meaningless).
    pub build: &'static str,
}

/// One scenario's figures.
#[derive(Serialize)]
pub struct Scenario {
    /// `baseline`, `reveal`, `reveal_at_50pct`, `baseline_paced`, `reveal_at_25pct`, `list`,
    /// `write`.
    pub name: String,
    /// Successful requests per second.
    pub rps: f64,
    /// `rps` divided by the baseline's.
    pub ratio_to_baseline: f64,
    /// Latency percentiles, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest latency, µs.
    pub max_us: u64,
    /// Successful requests.
    pub requests: u64,
    /// Failed requests (non-2xx, transport, dropped).
    pub errors: u64,
    /// Who used the CPUs during the measurement.
    pub cpu: crate::cpu::Use,
    /// CPU time per successful request outside the load generator (servers, harness), µs.
    pub server_cpu_us_per_request: f64,
    /// Of which the SQLite catalog writer thread's, µs (0 on PostgreSQL).
    pub writer_cpu_us_per_request: f64,
    /// Open loop: the scheduled rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rps: Option<f64>,
    /// Open loop: 99th percentile of the pacer's own lateness, µs (included in the latencies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacer_p99_us: Option<u64>,
    /// The first error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// What the SQLite catalog's writer thread did meanwhile (Coffer on SQLite only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_writer: Option<crate::writer::WriterUse>,
}

/// `seconds` spread over `requests`, µs to one decimal.
fn per_request(seconds: f64, requests: u64) -> f64 {
    round(seconds * 1e6 / requests.max(1) as f64, 1)
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl Scenario {
    /// Figures of `out`, compared with `baseline_rps`.
    pub fn new(name: &str, out: &Outcome, baseline_rps: f64) -> Self {
        let h = &out.latency;
        let pct = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Scenario {
            name: name.to_owned(),
            rps: round(out.rps(), 1),
            ratio_to_baseline: if baseline_rps > 0.0 {
                round(out.rps() / baseline_rps, 4)
            } else {
                0.0
            },
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            max_us: h.max(),
            requests: out.ok,
            errors: out.errors,
            cpu: out.cpu,
            server_cpu_us_per_request: per_request(out.cpu.server_cpu_s, out.ok),
            writer_cpu_us_per_request: per_request(out.cpu.writer_cpu_s, out.ok),
            target_rps: None,
            pacer_p99_us: out
                .pacer_lateness
                .as_ref()
                .map(|l| l.value_at_quantile(0.99)),
            first_error: out.first_error.clone(),
            catalog_writer: None,
        }
    }

    /// The same, with what the catalog writer did during the measurement.
    pub fn with_writer(mut self, used: Option<crate::writer::WriterUse>) -> Self {
        self.catalog_writer = used;
        self
    }
}

/// Key-provider calls (`coffer_key_provider_requests_total`, every label set) during a fixed
/// number of reveals, then of writes.
#[derive(Serialize)]
pub struct KeyCalls {
    /// Reveals counted (100,000 in a full run).
    pub reveals: u64,
    /// Calls during them, by operation.
    pub reveal_calls: Calls,
    /// How long the reveals took, s.
    pub reveal_seconds: f64,
    /// Writes counted (10,000 in a full run).
    pub writes: u64,
    /// Calls during them, by operation.
    pub write_calls: Calls,
    /// How long the writes took, s.
    pub write_seconds: f64,
    /// `keys.key_cache_ttl`, s.
    pub key_cache_ttl_s: f64,
    /// Orgs involved (each may need one unwrap per TTL).
    pub orgs: u64,
    /// True when fewer than 100k reveals / 10k writes were counted (`--quick`).
    pub scaled_down: bool,
}

/// Provider calls by operation.
#[derive(Serialize)]
pub struct Calls {
    /// Every call.
    pub total: u64,
    /// Org-key unwraps (cache misses).
    pub unwrap: u64,
    /// Org-key wraps (key creation or rotation).
    pub wrap: u64,
    /// At most this many are allowed by "≤ 1 per org per TTL per node" over the window.
    pub allowed_by_ttl: u64,
}

/// Reveal/list latency and memory at two catalog sizes.
#[derive(Serialize)]
pub struct Memory {
    /// What the RSS covers.
    pub note: String,
    /// Smaller catalog first.
    pub sizes: Vec<CatalogSize>,
    /// Time to bulk-insert the filler rows, s.
    pub seed_seconds: f64,
    /// Audit events `GET …/audit/verify` checked after the bulk insert (the chain was intact).
    pub audit_events_verified: u64,
    /// Peak RSS during the main scenarios (before this catalog-size run), MB.
    pub peak_rss_before_mb: f64,
    /// Peak RSS during the bulk insert (the harness's own SQLite connection does it), MB.
    pub peak_rss_seed_mb: f64,
    /// Peak RSS of the whole process over the run (VmHWM), MB.
    pub peak_rss_mb: f64,
}

/// Figures at one catalog size.
#[derive(Serialize)]
pub struct CatalogSize {
    /// `1k`, `100k`, `1M`.
    pub label: String,
    /// Secrets in the catalog.
    pub secrets: u64,
    /// Reveal, closed loop at full load.
    pub reveal: Scenario,
    /// List of a 20-secret issue, closed loop at full load.
    pub list: Scenario,
    /// Whole-process resident memory after the reveal measurement, MB.
    pub rss_after_reveal_mb: f64,
    /// Peak RSS during the reveal measurement, MB.
    pub peak_rss_reveal_mb: f64,
    /// The same after the list measurement (list queries at load open extra SQLite readers), MB.
    pub rss_after_list_mb: f64,
    /// Peak RSS during the list measurement, MB.
    pub peak_rss_list_mb: f64,
}
