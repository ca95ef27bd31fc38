//! Prometheus metrics, one registry per running app (no process-global recorder), so several
//! apps in one test process each report their own numbers and tests can assert on them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// Route template, e.g. `/api/v1/orgs/{org}/secrets/{scope}/{name}`.
    pub route: String,
    /// HTTP method.
    pub method: std::borrow::Cow<'static, str>,
    /// Status code.
    pub status: u16,
}

/// Labels of an HTTP latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route template.
    pub route: String,
}

/// Labels of a key-cache lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit` or `miss`.
    pub result: &'static str,
}

/// Labels of a key-provider call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyCallLabels {
    /// Org id.
    pub org: String,
    /// Provider name.
    pub provider: &'static str,
    /// `wrap` or `unwrap`.
    pub operation: &'static str,
    /// `ok` or an error class.
    pub outcome: &'static str,
}

/// Labels of one KMS call (BYOK orgs' keys): `coffer_kms_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KmsLabels {
    /// Org id.
    pub org: String,
    /// AWS region of the key.
    pub region: String,
    /// `encrypt`, `decrypt`, `describe_key`, `probe_encrypt`, `probe_decrypt`.
    pub operation: &'static str,
    /// `ok`, `denied`, `integrity`, `unavailable`.
    pub outcome: &'static str,
}

/// Labels of an org status change made by its keys' health.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// `suspend` or `restore`.
    pub transition: &'static str,
}

/// Labels of a key health check of one org.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    /// `healthy`, `revoked` or `inconclusive`.
    pub verdict: &'static str,
}

/// Labels of an org's own bucket (`coffer_storage_degraded`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageOrgLabels {
    /// Org slug.
    pub org: String,
}

/// Labels of a failed bucket drift check (`coffer_storage_probe_failures_total`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// The failing step (`endpoint`, `bucket_exists`, `region`, `put`, `get`, `compare`,
    /// `delete`, `confirm_gone`).
    pub step: &'static str,
}

/// Labels of a webhook delivery attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `delivered`, `retried` or `failed` (the last attempt: dead-lettered).
    pub outcome: &'static str,
}

/// Labels of a failed authentication.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `missing_token`, `malformed_token`, `unknown_token`, `revoked`, `expired`,
    /// `not_a_member`, `sign_in_failed`.
    pub reason: &'static str,
}

/// Labels of a blob-store call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BlobLabels {
    /// Backend name.
    pub backend: &'static str,
    /// `put`, `get`, `delete`, `list`.
    pub operation: &'static str,
    /// `ok` or an error class.
    pub outcome: &'static str,
}

/// Every metric Coffer exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request latency by route.
    pub http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Org-key cache lookups.
    pub key_cache: Family<CacheLabels, Counter>,
    /// Envelope cache lookups.
    pub envelope_cache: Family<CacheLabels, Counter>,
    /// SQLite catalog read-cache lookups (token principals and reveal targets).
    pub catalog_cache: Family<CacheLabels, Counter>,
    /// Key-provider (root key) calls.
    pub key_provider_calls: Family<KeyCallLabels, Counter>,
    /// Blob-store calls.
    pub blob_calls: Family<BlobLabels, Counter>,
    /// KMS calls for BYOK orgs, by org, region, operation and outcome.
    pub kms_calls: Family<KmsLabels, Counter>,
    /// Suspensions and restores caused by org keys.
    pub org_key_transitions: Family<TransitionLabels, Counter>,
    /// BYOK key health checks by verdict.
    pub key_probes: Family<ProbeLabels, Counter>,
    /// Per org with its own bucket: 1 while the drift checks record it `degraded`, else 0.
    pub storage_degraded: Family<StorageOrgLabels, Gauge>,
    /// Bucket drift checks made by this node that failed, by failing step.
    pub storage_probe_failures: Family<StepLabels, Counter>,
    /// The catalog's group commits: transactions of the SQLite writer thread, or of the
    /// PostgreSQL catalog's committers (reveals, version writes).
    pub group_commits: Counter,
    /// Write requests those group commits held (divided by `group_commits`: the group size).
    pub group_commit_writes: Counter,
    /// The PostgreSQL catalog's read groups: one statement answering the token, org, secret
    /// or reveal lookups that queued together.
    pub read_groups: Counter,
    /// Reads those groups answered (divided by `read_groups`: the group size).
    pub read_group_reads: Counter,
    /// Time the SQLite writer thread spent in transactions rather than waiting for work (its
    /// rate is how busy the one serial stage of every write is).
    pub writer_busy_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    /// Duration of each group's COMMIT (the WAL write, and its fsync unless only reveals
    /// share the group).
    pub commit_seconds: Histogram,
    /// Background fsyncs of the SQLite write-ahead log (for reveal-only groups).
    pub wal_syncs: Counter,
    /// Duration of each checkpoint the SQLite writer runs itself to restart the write-ahead log
    /// (the one pause of the writer that waits for the database file's fsync).
    pub writer_checkpoint_seconds: Histogram,
    /// Failed authentications by reason (the audit chain gets one summary per interval).
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// Failed authentications counted here but left out of the audit summaries because the
    /// interval had too many distinct (org, reason) keys.
    pub auth_failures_unrecorded: Counter,
    /// Webhook delivery attempts made by this node, by outcome.
    pub webhook_attempts: Family<WebhookLabels, Counter>,
    /// Events not enqueued for a webhook because it had the most pending deliveries it may have.
    pub webhook_events_dropped: Counter,
    /// Jira "may browse" answers by outcome (allowed, denied, no_account, unreachable), asked of
    /// Jira by this node (cached yeses are not counted).
    pub jira_checks: Family<OutcomeLabels, Counter>,
    /// Jira webhooks received, by event and what Coffer did (applied, ignored, refused).
    pub jira_webhooks: Family<JiraWebhookLabels, Counter>,
    /// Remote-link updates on Jira issues that failed (the next change on the issue retries).
    pub jira_remote_link_failures: Counter,
}

/// Labels of an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened.
    pub outcome: &'static str,
}

/// Labels of a Jira webhook.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JiraWebhookLabels {
    /// The event kind Coffer recognised (`issue_deleted`, `issue_updated`, `project_deleted`,
    /// `permissions`, `unknown`, `unsigned`).
    pub event: &'static str,
    /// `applied`, `ignored` or `refused`.
    pub outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("coffer");
        let http_requests = Family::default();
        let http_latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let key_cache = Family::default();
        let key_provider_calls = Family::default();
        let blob_calls = Family::default();
        let envelope_cache = Family::default();
        let catalog_cache = Family::default();
        registry.register(
            "catalog_cache_lookups",
            "SQLite catalog read-cache lookups by result (token and reveal-target reads served from memory)",
            catalog_cache.clone(),
        );
        registry.register(
            "envelope_cache_lookups",
            "Envelope cache lookups by result (reveals served without a blob-store read)",
            envelope_cache.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_latency.clone(),
        );
        registry.register(
            "key_cache_lookups",
            "Org-key cache lookups by result",
            key_cache.clone(),
        );
        registry.register(
            "key_provider_requests",
            "Key-provider (root key) calls by org, operation and outcome",
            key_provider_calls.clone(),
        );
        registry.register(
            "blob_requests",
            "Blob-store calls by backend, operation and outcome",
            blob_calls.clone(),
        );
        let kms_calls = Family::default();
        let org_key_transitions = Family::default();
        let key_probes = Family::default();
        registry.register(
            "kms_requests",
            "KMS calls for BYOK orgs by org, region, operation and outcome",
            kms_calls.clone(),
        );
        registry.register(
            "org_key_transitions",
            "Org suspensions and restores caused by the health of their keys",
            org_key_transitions.clone(),
        );
        registry.register(
            "key_probes",
            "BYOK key health checks by verdict",
            key_probes.clone(),
        );
        let storage_degraded = Family::default();
        let storage_probe_failures = Family::default();
        registry.register(
            "storage_degraded",
            "Orgs' own buckets: 1 while the drift checks record the bucket degraded, else 0",
            storage_degraded.clone(),
        );
        registry.register(
            "storage_probe_failures",
            "Bucket drift checks made by this node that failed, by failing step",
            storage_probe_failures.clone(),
        );
        let group_commits = Counter::default();
        let group_commit_writes = Counter::default();
        let read_groups = Counter::default();
        let read_group_reads = Counter::default();
        let writer_busy_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let commit_seconds = latency_histogram();
        let wal_syncs = Counter::default();
        let writer_checkpoint_seconds = latency_histogram();
        registry.register(
            "catalog_group_commits",
            "Group commits of the catalog (the SQLite writer; PostgreSQL's reveal and version-write committers)",
            group_commits.clone(),
        );
        registry.register(
            "catalog_group_commit_writes",
            "Write requests held by the catalog's group commits",
            group_commit_writes.clone(),
        );
        registry.register(
            "catalog_read_groups",
            "Read groups of the PostgreSQL catalog: one statement for the lookups that queued together",
            read_groups.clone(),
        );
        registry.register(
            "catalog_read_group_reads",
            "Lookups answered by the PostgreSQL catalog's read groups",
            read_group_reads.clone(),
        );
        registry.register(
            "catalog_writer_busy_seconds",
            "Time the SQLite catalog's writer spent in transactions",
            writer_busy_seconds.clone(),
        );
        registry.register(
            "catalog_commit_duration_seconds",
            "Duration of the SQLite catalog's COMMITs (WAL write, and fsync unless only reveals share the group)",
            commit_seconds.clone(),
        );
        registry.register(
            "catalog_wal_syncs",
            "Background fsyncs of the SQLite catalog's write-ahead log",
            wal_syncs.clone(),
        );
        registry.register(
            "catalog_writer_checkpoint_duration_seconds",
            "Duration of the checkpoints the SQLite catalog's writer runs to restart its write-ahead log",
            writer_checkpoint_seconds.clone(),
        );
        let auth_failures = Family::default();
        let auth_failures_unrecorded = Counter::default();
        registry.register(
            "auth_failures",
            "Failed authentications by reason",
            auth_failures.clone(),
        );
        registry.register(
            "auth_failures_unrecorded",
            "Failed authentications not written to an audit summary (too many distinct keys in one interval)",
            auth_failures_unrecorded.clone(),
        );
        let webhook_attempts = Family::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retried, failed: dead-lettered)",
            webhook_attempts.clone(),
        );
        let webhook_events_dropped = Counter::default();
        registry.register(
            "webhook_events_dropped",
            "Events not enqueued for a webhook that had the most pending deliveries it may have",
            webhook_events_dropped.clone(),
        );
        let jira_checks = Family::default();
        registry.register(
            "jira_checks",
            "Jira permission answers asked by this node, by outcome",
            jira_checks.clone(),
        );
        let jira_webhooks = Family::default();
        registry.register(
            "jira_webhooks",
            "Jira webhooks received, by event and outcome (applied, ignored, refused)",
            jira_webhooks.clone(),
        );
        let jira_remote_link_failures = Counter::default();
        registry.register(
            "jira_remote_link_failures",
            "Remote-link updates on Jira issues that failed",
            jira_remote_link_failures.clone(),
        );
        Self {
            registry,
            http_requests,
            http_latency,
            key_cache,
            envelope_cache,
            catalog_cache,
            key_provider_calls,
            blob_calls,
            kms_calls,
            org_key_transitions,
            key_probes,
            storage_degraded,
            storage_probe_failures,
            group_commits,
            group_commit_writes,
            read_groups,
            read_group_reads,
            writer_busy_seconds,
            commit_seconds,
            wal_syncs,
            writer_checkpoint_seconds,
            auth_failures,
            auth_failures_unrecorded,
            webhook_attempts,
            webhook_events_dropped,
            jira_checks,
            jira_webhooks,
            jira_remote_link_failures,
        }
    }
}

impl Metrics {
    /// Counts one Jira permission answer.
    pub fn jira_check(&self, outcome: &'static str) {
        self.jira_checks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one Jira webhook.
    pub fn jira_webhook(&self, event: &'static str, outcome: &'static str) {
        self.jira_webhooks
            .get_or_create(&JiraWebhookLabels { event, outcome })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
