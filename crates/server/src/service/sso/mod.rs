//! Single sign-on (docs/sso.md): an org's OpenID provider (here: see, set, remove it), the
//! sign-in flow through it ([`flow`]: browser sign-in, linking one's own account, `coffer
//! login`), and talking to the provider safely ([`provider`]).
//!
//! The provider is per org, chosen by the org's owners, so what it asserts counts in that org
//! only: a provider subject is *linked* to a person per org, a link is made by the person
//! themselves (signed in to the org, they confirm at the provider) or by a first sign-in that
//! creates a new person (when the org allows it), and never by matching a name or an email the
//! provider sends to someone who already exists. That keeps the tenancy invariant — an org's
//! admins can never act as, or take over, someone who also belongs elsewhere.
//!
//! The client secret is sealed under the org key (envelope format v1, bound to its own id) and
//! opened only to redeem an authorization code; it is never returned, logged or shown.

pub mod flow;
pub mod provider;

use crate::audit::AuditDraft;
use crate::catalog::SsoRecord;
use crate::domain::policy::{Action, Actor};
use crate::domain::{OrgId, OrgSlug, Timestamp};
use crate::service::{Coffer, Error, Result, event};
use provider::Providers;
use zeroize::Zeroizing;

pub use flow::{Begin, Begun, CliToken, Finished};

/// Where single sign-on sends people back to, and how it reaches providers.
pub struct SsoParts {
    /// `<public origin>/sso/callback`: the one redirect URI every org registers at its provider.
    pub redirect_uri: String,
    /// The provider client and discovery cache.
    pub providers: Providers,
}

impl SsoParts {
    /// For a server whose browsers load it from `public_origin`.
    pub fn new(public_origin: &str, allow_loopback_issuers: bool) -> Self {
        Self {
            redirect_uri: format!("{}/sso/callback", public_origin.trim_end_matches('/')),
            providers: Providers::new(allow_loopback_issuers),
        }
    }
}

/// What an owner sets.
pub struct SetSso {
    /// The issuer URL.
    pub issuer: String,
    /// Coffer's client id at the provider.
    pub client_id: String,
    /// `None` keeps the stored secret; `Some("")` makes Coffer a public client (PKCE only).
    pub client_secret: Option<Zeroizing<String>>,
    /// The groups claim (`None`: groups are not synced).
    pub groups_claim: Option<String>,
    /// Whether a first sign-in may create a person.
    pub create_people: bool,
    /// Whether passwords are refused for the org's people.
    pub require_sso: bool,
}

/// The settings as shown (never the secret).
pub struct SsoView {
    /// The stored settings (the sealed secret is in it; callers show only whether it is set).
    pub record: SsoRecord,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
}

fn check_text(what: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{what} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

fn check_claim(v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 100
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "groups_claim must be a claim name: 1 to 100 of A-Z a-z 0-9 _ - . : /".into(),
        ))
    }
}

impl Coffer {
    fn sso_not_set(slug: &OrgSlug) -> Error {
        Error::NotFound(format!(
            "single sign-on is not set up for org `{slug}`; an owner sets it with `coffer org sso set` or on the Single sign-on admin page"
        ))
    }

    /// The org's single sign-on settings (admins and owners).
    pub async fn sso_settings(&self, actor: &Actor, slug: &OrgSlug) -> Result<SsoView> {
        let org = self.org_for(actor, slug, Action::ReadSso).await?;
        let record = self
            .catalog
            .sso(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .ok_or_else(|| Self::sso_not_set(slug))?;
        Ok(SsoView {
            record,
            redirect_uri: self.sso.redirect_uri.clone(),
        })
    }

    /// Sets up or changes the org's provider (owners). The issuer is checked first: its
    /// discovery document must be reachable, name the issuer exactly, and offer the
    /// authorization-code flow; nothing is stored otherwise.
    pub async fn set_sso(&self, actor: &Actor, slug: &OrgSlug, req: SetSso) -> Result<SsoView> {
        let org = self.org_for(actor, slug, Action::ManageSso).await?;
        // Exactly as given: the discovery document must name this very string (`iss`).
        let issuer = req.issuer.clone();
        check_text("issuer", &issuer, 500)?;
        check_text("client_id", &req.client_id, 255)?;
        if let Some(c) = &req.groups_claim {
            check_claim(c)?;
        }
        let meta = self
            .sso
            .providers
            .metadata(&issuer)
            .await
            .map_err(|m| Error::Rejected {
                code: "sso_provider_unusable",
                message: m,
            })?;
        if meta.token_endpoint().is_none() {
            return Err(Error::Rejected {
                code: "sso_provider_unusable",
                message: format!(
                    "the OpenID provider {issuer} names no token endpoint, so Coffer cannot redeem sign-ins there"
                ),
            });
        }
        let old = self
            .catalog
            .sso(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
        let same_client = old
            .as_ref()
            .is_some_and(|o| o.issuer == issuer && o.client_id == req.client_id);
        let client_secret = match req.client_secret {
            // The stored secret goes only to the provider and client it was given for: a new
            // issuer could otherwise collect it at its token endpoint.
            None if !same_client && old.as_ref().is_some_and(|o| o.client_secret.is_some()) => {
                return Err(Error::InvalidInput(
                    "the issuer or client id changed: give the client secret again (or make Coffer a public client with an empty client_secret)".into(),
                ));
            }
            None => old.as_ref().and_then(|o| o.client_secret.clone()),
            Some(s) if s.is_empty() => None,
            Some(s) => {
                check_text("client_secret", &s, 1000)?;
                Some(
                    self.seal_setting(org.id, org.key_version, s.as_bytes(), "client secret")
                        .await?,
                )
            }
        };
        let record = SsoRecord {
            org: org.id,
            issuer: issuer.clone(),
            client_id: req.client_id,
            client_secret,
            groups_claim: req.groups_claim,
            create_people: req.create_people,
            require_sso: req.require_sso,
            updated_at: Timestamp::now(),
            updated_by: actor.audit_name(),
        };
        let links_forgotten = old.as_ref().is_some_and(|o| o.issuer != issuer);
        let details = serde_json::json!({
            "issuer": record.issuer,
            "client_id": record.client_id,
            "client_secret": record.client_secret.is_some(),
            "groups_claim": record.groups_claim,
            "create_people": record.create_people,
            "require_sso": record.require_sso,
            "links_forgotten": links_forgotten,
        });
        let audit = event(actor, org.id, "sso.set", "sso", details);
        self.catalog
            .put_sso(record.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
        Ok(SsoView {
            record,
            redirect_uri: self.sso.redirect_uri.clone(),
        })
    }

    /// Removes the org's provider and every link to it (owners; and the operator, as the
    /// break-glass when the provider is down and passwords are refused).
    pub async fn delete_sso(&self, actor: &Actor, slug: &OrgSlug) -> Result<()> {
        let org = self.org_for(actor, slug, Action::DisableSso).await?;
        let audit = AuditDraft::new(
            org.id,
            Some(actor.user),
            actor.audit_name(),
            "sso.delete",
            "sso",
            serde_json::json!({"by_operator": actor.is_operator()}),
        );
        let removed = self
            .catalog
            .delete_sso(org.id, audit)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
        if actor.is_operator() && removed {
            tracing::warn!(org = %slug, "the operator removed the org's single sign-on");
        }
        if removed {
            Ok(())
        } else {
            Err(Self::sso_not_set(slug))
        }
    }

    /// Whether `org` refuses passwords for its people.
    pub(in crate::service) async fn sso_required(&self, org: OrgId) -> Result<bool> {
        Ok(self
            .catalog
            .sso(org)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .is_some_and(|s| s.require_sso))
    }

    /// Opens the stored client secret.
    async fn sso_client_secret(&self, sso: &SsoRecord) -> Result<Option<Zeroizing<String>>> {
        let Some(sealed) = &sso.client_secret else {
            return Ok(None);
        };
        self.open_text_setting(sso.org, sealed, "client secret")
            .await
            .map(Some)
    }
}
