//! `[jira]`: how this deployment talks to the Jira sites orgs link (docs/jira.md) — how long a
//! "may browse" answer from Jira is reused, where Atlassian's Cloud authorization server and API
//! gateway are, how many permission checks one request may run at once, and whether sites on
//! this machine are admitted (tests and local development).
//!
//! Each org's site, OAuth client and webhook secret are the org's own settings, not these.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[jira]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// How long Jira's "yes, this person may browse this issue" is reused before Jira is asked
    /// again. "No" is never reused: the next request asks again. A lifecycle webhook drops every
    /// reused answer of its org at once.
    #[serde(default = "default_allow_ttl", with = "humantime_serde")]
    pub allow_ttl: Duration,
    /// Atlassian's OAuth 2.0 (3LO) authorization server for Jira Cloud sites.
    #[serde(default = "default_cloud_auth_url")]
    pub cloud_auth_url: String,
    /// Atlassian's API gateway for Jira Cloud sites (`…/ex/jira/{cloudId}/rest/api/3/…`).
    #[serde(default = "default_cloud_api_url")]
    pub cloud_api_url: String,
    /// The most permission checks one request runs at once against a Data Center site (or a
    /// Cloud site whose issue ids Coffer does not know yet).
    #[serde(default = "default_check_concurrency")]
    pub check_concurrency: usize,
    /// Admit sites on this machine over plain http (`http://127.0.0.1:…`, `localhost`): tests
    /// and local development only.
    #[serde(default)]
    pub allow_loopback_sites: bool,
    /// The Forge app's calls (docs/jira-forge.md).
    #[serde(default)]
    pub forge: ForgeConfig,
}

/// `[jira.forge]`: how Forge Invocation Tokens are verified.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeConfig {
    /// Where Forge's signing keys are (a JWKS).
    #[serde(default = "default_jwks_url")]
    pub jwks_url: String,
    /// Clock skew allowed on a token's `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Origins of the Forge app's pages that may call Coffer directly (`requestRemote`), for
    /// CORS; `*` in a host matches one label or more.
    #[serde(default = "default_ui_origins")]
    pub ui_origins: Vec<String>,
}

fn default_jwks_url() -> String {
    "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json".into()
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_ui_origins() -> Vec<String> {
    vec!["https://*.cdn.prod.atlassian-dev.net".into()]
}

impl Default for ForgeConfig {
    fn default() -> Self {
        Self {
            jwks_url: default_jwks_url(),
            leeway: default_leeway(),
            ui_origins: default_ui_origins(),
        }
    }
}

fn default_allow_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_cloud_auth_url() -> String {
    "https://auth.atlassian.com".into()
}
fn default_cloud_api_url() -> String {
    "https://api.atlassian.com".into()
}
fn default_check_concurrency() -> usize {
    8
}

impl Default for JiraConfig {
    fn default() -> Self {
        Self {
            allow_ttl: default_allow_ttl(),
            cloud_auth_url: default_cloud_auth_url(),
            cloud_api_url: default_cloud_api_url(),
            check_concurrency: default_check_concurrency(),
            allow_loopback_sites: false,
            forge: ForgeConfig::default(),
        }
    }
}

impl JiraConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.allow_ttl > Duration::from_secs(600) {
            return Err("jira.allow_ttl must be at most 10m (0s: ask Jira every time)".into());
        }
        if !(1..=64).contains(&self.check_concurrency) {
            return Err("jira.check_concurrency must be between 1 and 64".into());
        }
        if self.forge.leeway > Duration::from_secs(300) {
            return Err("jira.forge.leeway must be at most 5m".into());
        }
        if url::Url::parse(&self.forge.jwks_url).is_err() {
            return Err("jira.forge.jwks_url must be a URL".into());
        }
        for (name, url) in [
            ("jira.cloud_auth_url", &self.cloud_auth_url),
            ("jira.cloud_api_url", &self.cloud_api_url),
        ] {
            if url::Url::parse(url).is_err() || url.ends_with('/') {
                return Err(format!(
                    "{name} must be a URL without a trailing slash, like https://auth.atlassian.com"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_and_bad_values_are_named() {
        assert_eq!(JiraConfig::default().check(), Ok(()));
        let with = |f: fn(&mut JiraConfig)| {
            let mut c = JiraConfig::default();
            f(&mut c);
            c.check().unwrap_err()
        };
        assert!(with(|c| c.allow_ttl = Duration::from_secs(3600)).contains("jira.allow_ttl"));
        assert!(with(|c| c.check_concurrency = 0).contains("jira.check_concurrency"));
        assert!(with(|c| c.cloud_api_url = "nope".into()).contains("jira.cloud_api_url"));
    }
}
