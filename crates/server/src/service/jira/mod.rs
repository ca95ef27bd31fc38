//! Coffer inside Jira (docs/jira.md): an org links a Jira site (Cloud through an OAuth 2.0 3LO
//! app, Data Center through its OAuth 2.0 provider), each person links their Jira account, and
//! from then on a person sees an issue's secrets only if Jira says they may browse the issue.
//!
//! - this module: the org's link — connect, show, check, disconnect — and a person's account
//!   link status;
//! - [`api`]: the calls to Jira;
//! - [`link`]: a person's OAuth consent and their tokens (refreshed with compare-and-set, so two
//!   nodes never both spend a rotating refresh token);
//! - [`gate`]: Jira's "may browse" in every secret use case, with a short cache of yeses;
//! - [`lifecycle`]: Jira's webhooks (issue deleted, moved, project deleted, permission changes),
//!   the destruction of what they deleted once the retention has passed, the remote link on each
//!   issue, and the orphan check.
//!
//! Every credential (client secret, webhook secret, tokens) is sealed under the org key
//! (`service::sealed`); none is ever returned, logged or put in an error, except the webhook
//! secret, shown once to the owner who connects (they paste it into Jira).

pub mod api;
mod gate;
pub mod lifecycle;
mod link;

pub use gate::JiraCache;
pub(in crate::service) use gate::{Use, usage_of};
pub use lifecycle::{Orphan, WebhookOutcome};
pub use link::LinkStart;

use crate::catalog::{JiraAccount, JiraKind, JiraSite};
use crate::domain::policy::{Action, Actor};
use crate::domain::{OrgSlug, Timestamp};
use crate::service::sso::provider::check_tenant_url;
use crate::service::{Coffer, Error, Result, event};
use api::{CallFail, Endpoints, JiraHttp};
use std::time::Duration;
use zeroize::Zeroizing;

/// Days a secret Jira deleted stays restorable, unless the org says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The deployment's Jira settings and state (one per node).
pub struct JiraParts {
    http: JiraHttp,
    pub(in crate::service) settings: JiraSettings,
    cache: JiraCache,
}

/// What the deployment's configuration says about Jira.
#[derive(Clone, Debug)]
pub struct JiraSettings {
    /// Atlassian's Cloud authorization server.
    pub cloud_auth_url: String,
    /// Atlassian's Cloud API gateway.
    pub cloud_api_url: String,
    /// Admit sites on this machine (tests, local development).
    pub allow_loopback: bool,
    /// How long a yes is reused.
    pub allow_ttl: Duration,
    /// The most checks one request runs at once.
    pub concurrency: usize,
    /// Coffer's public origin (callback, webhook and issue-page URLs).
    pub origin: String,
}

impl JiraSettings {
    /// From `[jira]` and the public origin.
    pub fn from_config(c: &crate::config::JiraConfig, origin: &str) -> Self {
        Self {
            cloud_auth_url: c.cloud_auth_url.clone(),
            cloud_api_url: c.cloud_api_url.clone(),
            allow_loopback: c.allow_loopback_sites,
            allow_ttl: c.allow_ttl,
            concurrency: c.check_concurrency,
            origin: origin.trim_end_matches('/').to_owned(),
        }
    }

    /// Where Jira sends a person back after consent.
    pub fn redirect_uri(&self) -> String {
        format!("{}/integrations/jira/callback", self.origin)
    }

    /// Where Jira posts the org's webhooks.
    pub fn webhook_url(&self, slug: &OrgSlug) -> String {
        format!("{}/integrations/jira/{slug}/webhook", self.origin)
    }
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self::from_config(
            &crate::config::JiraConfig::default(),
            "http://127.0.0.1:8420",
        )
    }
}

impl JiraParts {
    /// The parts for `settings`.
    pub fn new(settings: JiraSettings) -> Self {
        Self {
            http: JiraHttp::new(),
            cache: JiraCache::new(settings.allow_ttl),
            settings,
        }
    }

    fn endpoints(&self, site: &JiraSite) -> Endpoints {
        Endpoints::of(
            site,
            &self.settings.cloud_auth_url,
            &self.settings.cloud_api_url,
        )
    }
}

/// What an owner asks for when linking the org to a site.
pub struct ConnectJira {
    /// Cloud or Data Center.
    pub kind: JiraKind,
    /// The site's base URL.
    pub site: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret (required when the site, kind or client id changes).
    pub client_secret: Option<Zeroizing<String>>,
    /// Whether remote links may name the secrets (`None`: as now; off for a new link).
    pub expose_names: Option<bool>,
    /// Days a secret Jira deleted stays restorable (`None`: as now; 30 for a new link).
    pub retention_days: Option<u32>,
    /// Make a new webhook secret (the old one stops working at once).
    pub rotate_webhook_secret: bool,
}

/// The org's link as anyone in the org may see it (never a secret).
#[derive(Clone, Debug)]
pub struct JiraView {
    /// The stored link.
    pub site: JiraSite,
    /// Where Jira must post webhooks.
    pub webhook_url: String,
    /// The redirect URL to register in the OAuth app / incoming link.
    pub redirect_uri: String,
    /// How many people linked their account.
    pub linked_accounts: u64,
    /// The caller's own account link.
    pub me: Option<JiraAccount>,
}

/// The answer to a connect: the view, and the webhook secret when it is new (shown once).
pub struct Connected {
    /// The link.
    pub view: JiraView,
    /// The new webhook secret, if one was made.
    pub webhook_secret: Option<Zeroizing<String>>,
}

/// One step of `coffer org jira check`.
#[derive(Clone, Debug)]
pub struct CheckStep {
    /// What was checked.
    pub step: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or what to do.
    pub detail: String,
}

/// A site URL as stored: checked against the SSRF rules, no trailing slash, no query.
fn site_url(raw: &str, allow_loopback: bool) -> Result<String> {
    let url = check_tenant_url(
        raw.trim(),
        allow_loopback,
        "a Jira site there is only for tests and local development (jira.allow_loopback_sites)",
    )
    .map_err(|m| Error::InvalidInput(format!("site: {m}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidInput(format!(
            "site: {raw:?} must be the site's base URL, without a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn check_text(field: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{field} must be 1 to {max} characters without control characters"
        )));
    }
    Ok(())
}

pub(in crate::service) fn not_linked(slug: &OrgSlug) -> Error {
    Error::NotFound(format!(
        "org `{slug}` is not linked to a Jira site; an owner links it with `coffer org jira connect`"
    ))
}

impl Coffer {
    /// The org's Jira site, if linked.
    pub(in crate::service) async fn jira_site_of(
        &self,
        org: crate::domain::OrgId,
    ) -> Result<Option<JiraSite>> {
        self.catalog
            .jira_site(org)
            .await
            .map_err(|e| Error::catalog(e, || "Jira link".into()))
    }

    /// The org's Jira link (anyone in the org).
    pub async fn jira_settings(&self, actor: &Actor, slug: &OrgSlug) -> Result<JiraView> {
        let org = self.org_for(actor, slug, Action::ReadJira).await?;
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(slug))?;
        self.jira_view(actor, slug, site).await
    }

    async fn jira_view(&self, actor: &Actor, slug: &OrgSlug, site: JiraSite) -> Result<JiraView> {
        let linked_accounts = self
            .catalog
            .count_jira_accounts(site.org)
            .await
            .map_err(|e| Error::catalog(e, || "Jira accounts".into()))?;
        let me = self
            .catalog
            .jira_account(site.org, actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))?;
        Ok(JiraView {
            webhook_url: self.jira.settings.webhook_url(slug),
            redirect_uri: self.jira.settings.redirect_uri(),
            linked_accounts,
            me,
            site,
        })
    }

    /// Links the org to a Jira site or changes the link (owners). The site is checked first
    /// (Cloud: its cloud id; DC: its version), and nothing is stored if it cannot be reached.
    pub async fn connect_jira(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: ConnectJira,
    ) -> Result<Connected> {
        let org = self.org_for(actor, slug, Action::ManageJira).await?;
        let site_url = site_url(&req.site, self.jira.settings.allow_loopback)?;
        check_text("client_id", &req.client_id, 255)?;
        if req.retention_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            return Err(Error::InvalidInput(
                "retention_days must be between 1 and 3650".into(),
            ));
        }
        let unusable = |step: &str, e: CallFail| Error::Rejected {
            code: "jira_site_unusable",
            message: format!(
                "{step} failed: {e}; check the site URL{}",
                if req.kind == JiraKind::Cloud {
                    " (a Jira Cloud site looks like https://acme.atlassian.net)"
                } else {
                    " (the Data Center base URL, as in Jira's System → General configuration)"
                }
            ),
        };
        let cloud_id = match req.kind {
            JiraKind::Cloud => {
                let id = self
                    .jira
                    .http
                    .tenant_info(&site_url)
                    .await
                    .map_err(|e| unusable("asking the site for its cloud id", e))?;
                // It goes into API paths: an id, nothing else.
                let shaped = (1..=64).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !shaped {
                    return Err(unusable(
                        "reading the site's cloud id",
                        CallFail::Unreachable(format!("{id:?} is not a cloud id")),
                    ));
                }
                Some(id)
            }
            JiraKind::DataCenter => {
                self.jira
                    .http
                    .server_info(&site_url)
                    .await
                    .map_err(|e| unusable("asking the site for its version", e))?;
                None
            }
        };
        let old = self.jira_site_of(org.id).await?;
        let expose_names = req
            .expose_names
            .or(old.as_ref().map(|o| o.expose_names))
            .unwrap_or(false);
        let retention_days = req
            .retention_days
            .or(old.as_ref().map(|o| o.retention_days))
            .unwrap_or(DEFAULT_RETENTION_DAYS);
        let same_client = old.as_ref().is_some_and(|o| {
            o.site_url == site_url && o.kind == req.kind && o.client_id == req.client_id
        });
        let client_secret = match (&req.client_secret, &old) {
            (Some(s), _) => {
                check_text("client_secret", s, 1000)?;
                self.seal_setting(org.id, org.key_version, s.as_bytes(), "Jira client secret")
                    .await?
            }
            // The stored secret goes only to the client and site it was given for.
            (None, Some(o)) if same_client => o.client_secret.clone(),
            (None, _) => {
                return Err(Error::InvalidInput(
                    "client_secret is required when linking a site or changing its URL, kind or client id".into(),
                ));
            }
        };
        let new_hook = old.is_none() || req.rotate_webhook_secret;
        let (webhook_secret, shown) = match &old {
            Some(o) if !new_hook => (o.webhook_secret.clone(), None),
            _ => {
                let secret = crate::service::tokens::generate_with("cjw_");
                let sealed = self
                    .seal_setting(
                        org.id,
                        org.key_version,
                        secret.as_bytes(),
                        "Jira webhook secret",
                    )
                    .await?;
                (sealed, Some(secret))
            }
        };
        let forgets = old
            .as_ref()
            .is_some_and(|o| o.site_url != site_url || o.kind != req.kind);
        let site = JiraSite {
            org: org.id,
            kind: req.kind,
            site_url: site_url.clone(),
            cloud_id,
            client_id: req.client_id.clone(),
            client_secret,
            webhook_secret,
            expose_names,
            retention_days,
            generation: 0,
            updated_at: Timestamp::now(),
            updated_by: actor.audit_name(),
        };
        let details = serde_json::json!({
            "kind": req.kind.as_str(),
            "site": site_url,
            "client_id": req.client_id,
            "client_secret_changed": req.client_secret.is_some(),
            "webhook_secret_new": shown.is_some(),
            "expose_names": expose_names,
            "retention_days": retention_days,
            "accounts_forgotten": forgets,
        });
        self.catalog
            .put_jira_site(site, event(actor, org.id, "jira.connect", "jira", details))
            .await
            .map_err(|e| Error::catalog(e, || "Jira link".into()))?;
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| Error::Internal("the Jira link vanished after it was stored".into()))?;
        Ok(Connected {
            view: self.jira_view(actor, slug, site).await?,
            webhook_secret: shown,
        })
    }

    /// Unlinks the org from Jira (owners): account links go with it, and Coffer's own access
    /// decides alone again.
    pub async fn disconnect_jira(&self, actor: &Actor, slug: &OrgSlug) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ManageJira).await?;
        let removed = self
            .catalog
            .delete_jira_site(
                org.id,
                event(
                    actor,
                    org.id,
                    "jira.disconnect",
                    "jira",
                    serde_json::json!({}),
                ),
            )
            .await
            .map_err(|e| Error::catalog(e, || "Jira link".into()))?;
        self.jira.cache.forget_org(org.id);
        if removed {
            Ok(())
        } else {
            Err(not_linked(slug))
        }
    }

    /// Checks the link step by step (admins): the site answers, and the caller's own account
    /// link works.
    pub async fn check_jira(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<CheckStep>> {
        let org = self.org_for(actor, slug, Action::ReconcileJira).await?;
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(slug))?;
        let mut steps = Vec::new();
        let reach = match site.kind {
            JiraKind::Cloud => self.jira.http.tenant_info(&site.site_url).await.map(|id| {
                if Some(&id) == site.cloud_id.as_ref() {
                    (
                        true,
                        format!("{} answers with cloud id {id}", site.site_url),
                    )
                } else {
                    (
                        false,
                        format!(
                            "{} now answers with cloud id {id}, not the linked {}; connect again",
                            site.site_url,
                            site.cloud_id.as_deref().unwrap_or("?")
                        ),
                    )
                }
            }),
            JiraKind::DataCenter => self
                .jira
                .http
                .server_info(&site.site_url)
                .await
                .map(|v| (true, format!("{} answers (Jira {v})", site.site_url))),
        };
        steps.push(match reach {
            Ok((ok, detail)) => CheckStep {
                step: "site",
                ok,
                detail,
            },
            Err(e) => CheckStep {
                step: "site",
                ok: false,
                detail: e.to_string(),
            },
        });
        let account = match self.jira_token(&site, actor.user).await {
            Ok(Some(token)) => {
                let ep = self.jira.endpoints(&site);
                match self.jira.http.myself(&ep, &token).await {
                    Ok((id, name)) => CheckStep {
                        step: "your account",
                        ok: true,
                        detail: format!("linked to {name} ({id})"),
                    },
                    Err(e) => CheckStep {
                        step: "your account",
                        ok: false,
                        detail: format!("{e}; link your Jira account again"),
                    },
                }
            }
            Ok(None) => CheckStep {
                step: "your account",
                ok: false,
                detail:
                    "you have not linked your Jira account; link it from the web UI (Jira page)"
                        .into(),
            },
            Err(e) => CheckStep {
                step: "your account",
                ok: false,
                detail: e.to_string(),
            },
        };
        steps.push(account);
        Ok(steps)
    }

    /// The caller's own Jira account link in the org.
    pub async fn my_jira_account(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
    ) -> Result<Option<JiraAccount>> {
        let org = self.org_for(actor, slug, Action::ReadJira).await?;
        self.jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(slug))?;
        self.catalog
            .jira_account(org.id, actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))
    }

    /// Forgets the caller's own Jira account link (and its tokens).
    pub async fn unlink_jira_account(&self, actor: &Actor, slug: &OrgSlug) -> Result<()> {
        let org = self.org_for(actor, slug, Action::LinkJiraAccount).await?;
        let removed = self
            .catalog
            .delete_jira_account(
                org.id,
                actor.user,
                event(
                    actor,
                    org.id,
                    "jira.account_unlink",
                    actor.audit_name(),
                    serde_json::json!({}),
                ),
            )
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))?;
        self.jira.cache.forget_user(org.id, actor.user);
        if removed {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "you have not linked a Jira account in org `{slug}`"
            )))
        }
    }
}
