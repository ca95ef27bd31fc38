//! `[server]`: how the HTTP server treats connections and the requests on them — which proxies'
//! `X-Forwarded-For` to believe, the `/metrics` token, the timeouts that cut slow or idle clients
//! (slowloris), the certificate when it serves HTTPS itself (`[server.tls]`) — and `[audit]`: how often the audit chains get signed checkpoints and summaries
//! of failed authentications.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One trusted proxy: an address (`10.0.0.5`) or a CIDR range (`10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyRange(ipnet::IpNet);

impl ProxyRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl TryFrom<String> for ProxyRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map(ProxyRange)
            .map_err(|_| {
                format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/8)")
            })
    }
}

impl From<ProxyRange> for String {
    fn from(p: ProxyRange) -> String {
        p.0.to_string()
    }
}

/// A bearer token `/metrics` requires. Redacted in `Debug`; compared in constant time.
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// Whether `presented` is this token.
    pub fn matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), presented.as_bytes())
            .is_ok()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([REDACTED])")
    }
}

/// The `[server]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client. Empty by
    /// default: then the TCP peer is the client, whatever a request's headers say.
    #[serde(default)]
    pub trusted_proxies: Vec<ProxyRange>,
    /// If set, `/metrics` answers only requests with `Authorization: Bearer <this>`.
    /// Prefer `COFFER_SERVER__METRICS_TOKEN` to writing it into the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<MetricsToken>,
    /// How long a connection may wait for a request's headers to arrive whole — on a new
    /// connection, and between requests on a kept-alive one — before it is closed (a slowloris
    /// or an idle connection).
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long one request may take, body included, before it is answered 408.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// HTTPS served by Coffer itself; neither file set: plain HTTP (behind a proxy that does TLS).
    #[serde(default)]
    pub tls: TlsConfig,
}

/// `[server.tls]`: the certificate Coffer serves HTTPS with (both files, or neither).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate then its chain (PEM); relative paths resolve against the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM); relative paths resolve against the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether HTTPS is configured.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    fn check(&self) -> Result<(), String> {
        let missing = match (&self.cert_file, &self.key_file) {
            (Some(_), None) => "server.tls.key_file",
            (None, Some(_)) => "server.tls.cert_file",
            _ => return Ok(()),
        };
        Err(format!(
            "{missing} is not set: HTTPS needs both server.tls.cert_file and server.tls.key_file (or neither, for plain HTTP behind a proxy)"
        ))
    }
}

/// The `[audit]` section: how often the background jobs write to the audit chains.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How often each org whose chain grew gets a signed checkpoint of its head (0s: only when
    /// verified). Events after the newest checkpoint are what a catalog-only attacker could
    /// truncate unnoticed, so this bounds that window.
    #[serde(default = "default_checkpoint_interval", with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// How often failed authentications are written to each org's chain, as one summary event
    /// per org and reason.
    #[serde(default = "default_failure_flush", with = "humantime_serde")]
    pub failure_summary_interval: Duration,
    /// How often signed checkpoints not yet copied to their org's own bucket are copied there
    /// (orgs with custom storage; 0s: never). docs/operations.md "Audit copy".
    #[serde(default = "default_bucket_copy_interval", with = "humantime_serde")]
    pub bucket_copy_interval: Duration,
    /// How long each audit copy object stays locked (S3 Object Lock, COMPLIANCE mode) in a
    /// bucket that has Object Lock on: nobody, the bucket's owner included, can delete or
    /// shorten it before then. Between 1 day and 100 years.
    #[serde(default = "default_bucket_retention", with = "humantime_serde")]
    pub bucket_retention: Duration,
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_bucket_copy_interval() -> Duration {
    Duration::from_secs(60)
}

/// 400 days: a yearly audit period (SOC 2 type II, ISO 27001 surveillance) plus a month's slack.
fn default_bucket_retention() -> Duration {
    Duration::from_secs(400 * 86_400)
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval: default_checkpoint_interval(),
            failure_summary_interval: default_failure_flush(),
            bucket_copy_interval: default_bucket_copy_interval(),
            bucket_retention: default_bucket_retention(),
        }
    }
}

impl AuditConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        let secs = |d: Duration| d.as_secs_f64();
        if !(0.1..=3600.0).contains(&secs(self.failure_summary_interval)) {
            return Err("audit.failure_summary_interval must be between 100ms and 1h".into());
        }
        if secs(self.checkpoint_interval) > 86_400.0 {
            return Err("audit.checkpoint_interval must be at most 1 day".into());
        }
        if secs(self.bucket_copy_interval) > 86_400.0 {
            return Err("audit.bucket_copy_interval must be at most 1 day".into());
        }
        if !(86_400.0..=36_500.0 * 86_400.0).contains(&secs(self.bucket_retention)) {
            return Err(
                "audit.bucket_retention must be between 1 day and 100 years (e.g. \"400d\")".into(),
            );
        }
        Ok(())
    }
}

fn default_header_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_failure_flush() -> Duration {
    Duration::from_secs(10)
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            metrics_token: None,
            header_read_timeout: default_header_read_timeout(),
            request_timeout: default_request_timeout(),
            tls: TlsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|p| p.contains(ip))
    }

    pub(super) fn check(&self) -> Result<(), String> {
        let secs = |d: Duration| d.as_secs_f64();
        if !(1.0..=300.0).contains(&secs(self.header_read_timeout)) {
            return Err("server.header_read_timeout must be between 1s and 5m".into());
        }
        if !(1.0..=3600.0).contains(&secs(self.request_timeout)) {
            return Err("server.request_timeout must be between 1s and 1h".into());
        }
        if let Some(t) = &self.metrics_token
            && t.0.len() < 16
        {
            return Err("server.metrics_token must be at least 16 characters".into());
        }
        self.tls.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_addresses_or_ranges() {
        let r = ProxyRange::try_from("10.0.0.0/8".to_owned()).unwrap();
        assert!(r.contains("10.1.2.3".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        let one = ProxyRange::try_from("::1".to_owned()).unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(ProxyRange::try_from("proxy.internal".to_owned()).is_err());
        assert!(ServerConfig::default().trusted_proxies.is_empty());
    }

    #[test]
    fn the_metrics_token_is_never_printed() {
        let t = MetricsToken("a-very-secret-token".into());
        assert!(!format!("{t:?}").contains("secret"));
        assert!(t.matches("a-very-secret-token") && !t.matches("a-very-secret-tokeN"));
    }

    #[test]
    fn the_audit_copy_is_locked_for_400_days_unless_configured_within_bounds() {
        let d = AuditConfig::default();
        assert_eq!(d.bucket_retention, Duration::from_secs(400 * 86_400));
        assert_eq!(d.bucket_copy_interval, Duration::from_secs(60));
        assert_eq!(d.check(), Ok(()));
        for bad in [
            Duration::from_secs(3_600),
            Duration::from_secs(36_501 * 86_400),
        ] {
            let c = AuditConfig {
                bucket_retention: bad,
                ..AuditConfig::default()
            };
            assert!(c.check().unwrap_err().contains("audit.bucket_retention"));
        }
        let parsed: AuditConfig = serde_json::from_value(serde_json::json!({
            "bucket_retention": "7days", "bucket_copy_interval": "0s"
        }))
        .unwrap();
        assert_eq!(parsed.bucket_retention, Duration::from_secs(7 * 86_400));
        assert_eq!(parsed.check(), Ok(()));
    }
}
