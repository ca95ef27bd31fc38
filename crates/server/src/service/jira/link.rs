//! A person links their Jira account: [`Coffer::begin_jira_link`] (from the web UI, signed in)
//! stores a one-time pending row and sends the browser to Jira's consent page;
//! [`Coffer::finish_jira_link`] takes the row when Jira sends the browser back, redeems the code,
//! asks Jira who the account is, and stores the tokens sealed under the org key.
//!
//! The pending row is found by the SHA-256 of the OAuth `state` and is bound to the browser that
//! started it by a random value kept in a cookie there (`http::jira`): a callback from another
//! browser — an attacker pushing their own link flow onto a victim, to get the victim's Jira
//! account linked to the attacker's Coffer user — is refused, and the row is spent, so the
//! attacker cannot finish it with the victim's code either. Data Center also gets PKCE.
//!
//! [`Coffer::jira_token`] hands the gate a usable access token: opened from the catalog,
//! refreshed when within a minute of its expiry. Both Cloud and Data Center rotate refresh
//! tokens, so a refresh is stored with compare-and-set on the sealed value's id, one refresh per
//! person at a time on a node, and a refused refresh rereads the row first (another node may have
//! spent the token and stored the new one).

use super::api::{CallFail, Tokens};
use super::not_linked;
use crate::catalog::{CatalogError, JiraAccount, JiraKind, JiraPending, JiraSite};
use crate::domain::policy::{Action, Actor};
use crate::domain::{IdentityKind, OrgSlug, Timestamp, UserId};
use crate::service::sso::flow::random_text;
use crate::service::{Coffer, Error, Result, tokens};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a started consent waits for Jira.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// A started account link.
pub struct LinkStart {
    /// Where to send the browser.
    pub authorize_url: String,
    /// The value the browser keeps in a cookie until Jira sends it back.
    pub browser: Zeroizing<String>,
}

/// A person's access token, or why there is none.
pub(in crate::service) enum Held {
    /// The person has not linked an account in this org.
    NotLinked,
    /// The link no longer works (Jira refused the refresh); the sentence says so.
    Broken(String),
    /// Jira could not be reached to refresh the token.
    Unreachable(CallFail),
    /// A token good for at least a minute.
    Token(Zeroizing<String>),
}

fn failed(message: String) -> Error {
    Error::Rejected {
        code: "jira_link_failed",
        message,
    }
}

impl Coffer {
    /// Starts linking the caller's Jira account (people only).
    pub async fn begin_jira_link(&self, actor: &Actor, slug: &OrgSlug) -> Result<LinkStart> {
        let org = self.org_for(actor, slug, Action::LinkJiraAccount).await?;
        if actor.kind() != IdentityKind::Person {
            return Err(Error::Forbidden(
                "only a person links a Jira account".into(),
            ));
        }
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(slug))?;
        let state = random_text();
        let browser = random_text();
        let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
        let now = Timestamp::now();
        self.catalog
            .put_jira_pending(
                JiraPending {
                    hash: tokens::hash(&state),
                    org: org.id,
                    user: actor.user,
                    verifier: verifier.secret().clone(),
                    browser: tokens::hash(&browser),
                    expires_at: now.plus(PENDING_LIFETIME),
                },
                now,
            )
            .await
            .map_err(|e| Error::catalog(e, || "Jira consent".into()))?;
        let ep = self.jira.endpoints(&site);
        Ok(LinkStart {
            authorize_url: ep.authorize_url(
                &site.client_id,
                &self.jira.settings.redirect_uri(),
                &state,
                challenge.as_str(),
            ),
            browser,
        })
    }

    /// Finishes a link when Jira sends the browser back; answers the org's slug.
    pub async fn finish_jira_link(
        &self,
        state: &str,
        code: &str,
        browser: &str,
    ) -> Result<OrgSlug> {
        let now = Timestamp::now();
        let refused = || {
            Error::InvalidInput(
                "this Jira consent was not started in this browser, was used already, or \
                 expired; start again from the Jira page of the web UI"
                    .into(),
            )
        };
        // Taken (spent) before the browser is compared: a consent carried to another browser
        // is burnt, not left for its starter to finish with someone else's code.
        let pending = self
            .catalog
            .take_jira_pending(&tokens::hash(state), now)
            .await
            .map_err(|e| Error::catalog(e, || "Jira consent".into()))?
            .ok_or_else(refused)?;
        if pending.browser != tokens::hash(browser) {
            return Err(refused());
        }
        let org = self
            .catalog
            .org_by_id(pending.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(&org.slug))?;
        let secret = self
            .open_text_setting(org.id, &site.client_secret, "Jira client secret")
            .await?;
        let ep = self.jira.endpoints(&site);
        let got = self
            .jira
            .http
            .exchange_code(
                &ep,
                &site.client_id,
                &secret,
                code,
                &self.jira.settings.redirect_uri(),
                &pending.verifier,
            )
            .await
            .map_err(|e| failed(format!("Jira did not accept the consent: {e}")))?;
        if site.kind == JiraKind::Cloud {
            let sites = self
                .jira
                .http
                .accessible_sites(&ep, &got.access)
                .await
                .map_err(|e| failed(format!("asking Jira which sites the account reaches: {e}")))?;
            if !site.cloud_id.as_ref().is_some_and(|id| sites.contains(id)) {
                return Err(failed(format!(
                    "the Jira account you consented with cannot use {}; consent with an account of that site",
                    site.site_url
                )));
            }
        }
        let (account_id, display_name) = self
            .jira
            .http
            .myself(&ep, &got.access)
            .await
            .map_err(|e| failed(format!("asking Jira who the account is: {e}")))?;
        let tokens = self.seal_tokens(&org, &got).await?;
        let details = serde_json::json!({"account_id": account_id, "display_name": display_name});
        let user = self
            .catalog
            .user_by_id(pending.user)
            .await
            .map_err(|e| Error::catalog(e, || "person".into()))?;
        let audit = crate::audit::AuditDraft::new(
            org.id,
            Some(pending.user),
            user.name.to_string(),
            "jira.account_link",
            user.name.to_string(),
            details,
        );
        self.catalog
            .put_jira_account(
                JiraAccount {
                    org: org.id,
                    user: pending.user,
                    account_id: account_id.clone(),
                    display_name,
                    tokens,
                    linked_at: now,
                    refreshed_at: now,
                },
                Some(audit),
            )
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => Error::Conflict {
                    code: "jira_account_taken",
                    message: format!(
                        "the Jira account {account_id} is already linked to another member of org `{}`",
                        org.slug
                    ),
                },
                other => Error::catalog(other, || "Jira account".into()),
            })?;
        self.jira.cache.forget_user(org.id, pending.user);
        Ok(org.slug)
    }

    async fn seal_tokens(
        &self,
        org: &crate::catalog::OrgRecord,
        t: &Tokens,
    ) -> Result<crate::catalog::SealedValue> {
        self.seal_setting(org.id, org.key_version, &t.to_json(), "Jira tokens")
            .await
    }

    async fn open_tokens(&self, a: &JiraAccount) -> Result<Tokens> {
        let json = self.open_setting(a.org, &a.tokens, "Jira tokens").await?;
        Tokens::from_json(&json)
            .ok_or_else(|| Error::Integrity("the stored Jira tokens are not readable".into()))
    }

    /// A usable access token of `user`'s account link at `site`'s org.
    pub(in crate::service) async fn jira_token_held(
        &self,
        site: &JiraSite,
        user: UserId,
    ) -> Result<Held> {
        let Some(account) = self.jira_account_of(site, user).await? else {
            return Ok(Held::NotLinked);
        };
        let t = self.open_tokens(&account).await?;
        if !t.stale(Timestamp::now()) {
            return Ok(Held::Token(t.access));
        }
        self.refresh_jira(site, user, Some(account.tokens.id)).await
    }

    /// [`Coffer::jira_token_held`] for callers that only want a token or nothing.
    pub(in crate::service) async fn jira_token(
        &self,
        site: &JiraSite,
        user: UserId,
    ) -> Result<Option<Zeroizing<String>>> {
        match self.jira_token_held(site, user).await? {
            Held::Token(t) => Ok(Some(t)),
            Held::NotLinked => Ok(None),
            Held::Broken(m) => Err(Error::ProofRequired {
                code: "jira_account_required",
                message: m,
            }),
            Held::Unreachable(e) => Err(Error::Unavailable(format!(
                "Jira could not be reached to refresh your token: {e}; retry shortly"
            ))),
        }
    }

    async fn jira_account_of(&self, site: &JiraSite, user: UserId) -> Result<Option<JiraAccount>> {
        self.catalog
            .jira_account(site.org, user)
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))
    }

    /// Refreshes `user`'s tokens, unless they changed since `seen` (the sealed value's id the
    /// caller found stale or refused; `None`: refresh whatever is stored).
    pub(in crate::service) async fn refresh_jira(
        &self,
        site: &JiraSite,
        user: UserId,
        seen: Option<crate::domain::SecretId>,
    ) -> Result<Held> {
        let _one = self
            .write_locks
            .lock(("jira-refresh", site.org, user))
            .await;
        let Some(account) = self.jira_account_of(site, user).await? else {
            return Ok(Held::NotLinked);
        };
        let current = self.open_tokens(&account).await?;
        if seen.is_some_and(|s| s != account.tokens.id) && !current.stale(Timestamp::now()) {
            // Someone refreshed meanwhile.
            return Ok(Held::Token(current.access));
        }
        let broken = || {
            Held::Broken(
                "your Jira link no longer works (Jira refused its token); link your Jira account \
                 again from the Jira page of the web UI"
                    .into(),
            )
        };
        let Some(refresh) = current.refresh.as_ref() else {
            return Ok(broken());
        };
        let org = self
            .catalog
            .org_by_id(site.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        let secret = self
            .open_text_setting(org.id, &site.client_secret, "Jira client secret")
            .await?;
        let ep = self.jira.endpoints(site);
        match self
            .jira
            .http
            .refresh(&ep, &site.client_id, &secret, refresh)
            .await
        {
            Ok(mut fresh) => {
                if fresh.refresh.is_none() {
                    fresh.refresh = current.refresh.clone();
                }
                let sealed = self.seal_tokens(&org, &fresh).await?;
                let stored = self
                    .catalog
                    .refresh_jira_tokens(org.id, user, account.tokens.id, sealed, Timestamp::now())
                    .await
                    .map_err(|e| Error::catalog(e, || "Jira account".into()))?;
                if !stored {
                    tracing::info!(org = %org.slug, "another node refreshed the same Jira tokens first");
                }
                Ok(Held::Token(fresh.access))
            }
            Err(CallFail::Unauthorized) => {
                // Another node may have spent the refresh token and stored its successor.
                match self.jira_account_of(site, user).await? {
                    Some(a) if a.tokens.id != account.tokens.id => {
                        let t = self.open_tokens(&a).await?;
                        Ok(if t.stale(Timestamp::now()) {
                            broken()
                        } else {
                            Held::Token(t.access)
                        })
                    }
                    _ => Ok(broken()),
                }
            }
            Err(other) => Ok(Held::Unreachable(other)),
        }
    }
}
