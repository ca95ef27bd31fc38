//! Jira (docs/jira.md): an org's link to a Jira site, a person's link to their Jira account, the
//! link check, the orphan check, and what Jira answers about one issue for the caller.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `GET|PUT /api/v1/orgs/{org}/jira`: the org's Jira link (no secret is ever shown here).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraSettings {
    /// `cloud` or `data-center`.
    pub kind: String,
    /// The site's base URL.
    pub site: String,
    /// Cloud: the site's cloud id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// Whether remote links on issues name the issue's secrets.
    pub expose_names: bool,
    /// Days a secret that Jira deleted stays restorable before it is destroyed.
    pub retention_days: u32,
    /// Where Jira must post the org's webhooks (with the webhook secret).
    pub webhook_url: String,
    /// The redirect URL to register in the OAuth app (Cloud) or incoming link (Data Center).
    pub redirect_uri: String,
    /// How many people of the org linked their Jira account.
    pub linked_accounts: u64,
    /// The caller's own account link, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub me: Option<JiraAccountLink>,
    /// Who changed the link last.
    pub updated_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The webhook secret, only in the answer to the connect that made it (shown once: paste it
    /// into Jira's webhook settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// `PUT /api/v1/orgs/{org}/jira`: link the org to a Jira site or change the link (owners). The
/// site is asked for its cloud id (Cloud) or version (Data Center) before anything is stored.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectJiraRequest {
    /// `cloud` or `data-center`.
    #[schema(pattern = "^(cloud|data-center)$")]
    pub kind: String,
    /// The site's base URL (`https://acme.atlassian.net`, `https://jira.acme.internal`).
    pub site: String,
    /// The OAuth client id (Cloud: the 3LO app's; Data Center: the incoming link's).
    pub client_id: String,
    /// The OAuth client secret: required when linking or changing the site, kind or client id;
    /// absent keeps the stored one. Never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Let remote links on issues name the issue's secrets (off: only their number); absent keeps
    /// the current choice (off for a new link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_names: Option<bool>,
    /// Days a secret Jira deleted stays restorable (1–3650); absent keeps the current value (30
    /// for a new link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Make a new webhook secret (the old one stops working at once).
    #[serde(default)]
    pub rotate_webhook_secret: bool,
}

impl std::fmt::Debug for ConnectJiraRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectJiraRequest")
            .field("kind", &self.kind)
            .field("site", &self.site)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("expose_names", &self.expose_names)
            .field("retention_days", &self.retention_days)
            .field("rotate_webhook_secret", &self.rotate_webhook_secret)
            .finish()
    }
}

/// A person's link to their Jira account (`GET /api/v1/orgs/{org}/jira/account`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraAccountLink {
    /// Jira's id of the account (Cloud accountId, Data Center user name).
    pub account_id: String,
    /// Jira's display name of the account.
    pub display_name: String,
    /// When it was linked.
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

/// One step of `POST /api/v1/orgs/{org}/jira/check`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraCheckStep {
    /// What was checked (`site`, `your account`).
    pub step: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or what to do.
    pub detail: String,
}

/// `POST /api/v1/orgs/{org}/jira/check`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraCheck {
    /// Whether every step passed.
    pub ok: bool,
    /// The steps, in order.
    pub steps: Vec<JiraCheckStep>,
}

/// An issue that holds secrets but that Jira no longer shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraOrphan {
    /// The issue key.
    pub issue: String,
    /// Its live secrets' names.
    pub secrets: Vec<String>,
}

/// `GET /api/v1/orgs/{org}/jira/orphans`: one page of the orphan check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraOrphans {
    /// How many issues hold secrets in all.
    pub total: usize,
    /// How many this page checked.
    pub checked: usize,
    /// The orphans among them.
    pub orphans: Vec<JiraOrphan>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET /api/v1/orgs/{org}/jira/access/{scope}`: what Jira says about the caller and one issue
/// or project, and the sentence the web UI shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraAccess {
    /// The issue or project key.
    pub scope: String,
    /// `not_linked` (the org follows Coffer's access alone), `service_account`, `allowed`,
    /// `denied`, `no_account` or `unreachable`.
    pub jira: String,
    /// Whether the caller may use the scope's secrets as far as Jira is concerned.
    pub admitted: bool,
    /// The sentence: why.
    pub message: String,
}

/// `POST /integrations/jira/{org}/webhook`: what Coffer did with a webhook.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JiraWebhookResult {
    /// `applied` or `ignored`.
    pub outcome: String,
    /// What changed, or why nothing did.
    pub detail: String,
}

/// `PUT /api/v1/orgs/{org}/jira/forge`: trust the Forge app's installation on the org's Jira Cloud
/// site (owners). Forge Invocation Tokens of another installation or app are refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgeLinkRequest {
    /// The app's id, `ari:cloud:ecosystem::app/<uuid>` (`forge register` / the developer console).
    pub app_id: String,
    /// The installation's id on the site (`forge install list`).
    pub installation_id: String,
}

/// `GET|PUT /api/v1/orgs/{org}/jira/forge`: the installation the org trusts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForgeLink {
    /// The app's id.
    pub app_id: String,
    /// The installation's id.
    pub installation_id: String,
    /// Who linked it.
    pub linked_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}
