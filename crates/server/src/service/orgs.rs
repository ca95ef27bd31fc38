//! Org use cases: bootstrap of an empty deployment, create, list, show, and org-key rotation.

use crate::audit::AuditDraft;
use crate::catalog::{CatalogError, NewOrg, OrgRecord, TokenRecord, UserRecord};
use crate::domain::policy::{Action, Actor, Decision, Resource, authorize};
use crate::domain::{Location, OrgId, OrgSlug, Timestamp, TokenId, UserName};
use crate::keys::{KeyContext, KeyError, KeyringError};
use crate::service::{Coffer, Error, Result, event, forbidden, tokens};
use zeroize::Zeroizing;

/// The credentials a start created (each shown once).
#[derive(Default)]
pub struct Bootstrapped {
    /// The token of `admin`, the first owner of org `default`, if this start created the org.
    pub owner_token: Option<Zeroizing<String>>,
    /// The operator's token, if this start seated the operator (a new deployment, or a catalog
    /// migrated from the model where the first user was both operator and owner).
    pub operator_token: Option<Zeroizing<String>>,
}

/// Names the operator is seated under, in order: the first one no person has.
const OPERATOR_NAMES: [&str; 2] = ["operator", "coffer-operator"];

impl Coffer {
    /// On an empty catalog: creates org `default` (location `local`) with its first owner, the
    /// person `admin`, and a token of theirs. Then, on any catalog without an operator (or whose
    /// operator never had a token), seats the operator with a deployment-wide token. Safe when
    /// several nodes start at once: exactly one creates each.
    pub async fn bootstrap(&self) -> Result<Bootstrapped> {
        let owner_token = self.bootstrap_default_org().await?;
        let operator_token = self.seat_operator().await?;
        Ok(Bootstrapped {
            owner_token,
            operator_token,
        })
    }

    async fn bootstrap_default_org(&self) -> Result<Option<Zeroizing<String>>> {
        if !self
            .catalog
            .list_orgs()
            .await
            .map_err(|e| Error::catalog(e, || "orgs".into()))?
            .is_empty()
        {
            return Ok(None);
        }
        let org_id = OrgId::new();
        let wraps = self.new_org_key(org_id, 1).await?;
        let now = Timestamp::now();
        let owner = UserRecord::person(UserName::parse("admin")?, now);
        let token = tokens::generate();
        let record = TokenRecord {
            id: TokenId::new(),
            hash: tokens::hash(&token),
            user: owner.id,
            user_name: owner.name.clone(),
            org: Some(org_id),
            name: "bootstrap".into(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
        };
        let by = |action, target: &str| {
            AuditDraft::new(
                org_id,
                Some(owner.id),
                "admin",
                action,
                target,
                serde_json::json!({}),
            )
        };
        let audit = vec![
            by("org.create", "default"),
            by("member.add", "admin"),
            by("token.create", "admin/bootstrap"),
        ];
        let org = NewOrg {
            id: org_id,
            slug: OrgSlug::parse("default")?,
            name: "Default".into(),
            location: Location::local(),
            created_at: now,
            key_wraps: wraps,
        };
        let created = self
            .catalog
            .bootstrap(org, owner, record, audit)
            .await
            .map_err(|e| Error::catalog(e, || "bootstrap".into()))?;
        Ok(created.then_some(token))
    }

    async fn seat_operator(&self) -> Result<Option<Zeroizing<String>>> {
        for name in OPERATOR_NAMES {
            let user = UserRecord::operator(UserName::parse(name)?, Timestamp::now());
            let token = tokens::generate();
            let record = TokenRecord {
                id: TokenId::new(),
                hash: tokens::hash(&token),
                user: user.id,
                user_name: user.name.clone(),
                org: None,
                name: "bootstrap".into(),
                created_at: user.created_at,
                expires_at: None,
                revoked_at: None,
            };
            match self.catalog.seat_operator(user, record).await {
                Ok(true) => {
                    tracing::info!(name, "seated the deployment's operator");
                    return Ok(Some(token));
                }
                Ok(false) => return Ok(None),
                // A person already has the name: try the next one.
                Err(CatalogError::AlreadyExists) => continue,
                Err(e) => return Err(Error::catalog(e, || "operator".into())),
            }
        }
        Err(Error::Internal(format!(
            "every operator name ({}) is taken by a person",
            OPERATOR_NAMES.join(", ")
        )))
    }

    async fn new_org_key(&self, org: OrgId, version: u32) -> Result<Vec<crate::keys::OrgKeyWrap>> {
        self.keyring
            .create(KeyContext {
                org,
                key_version: version,
            })
            .await
            .map_err(|e| match e {
                KeyringError::Key(KeyError::Unavailable(m)) => {
                    tracing::warn!(%org, error = %m, "key provider unavailable");
                    Error::Unavailable("the key provider is unavailable; retry shortly".into())
                }
                KeyringError::Key(KeyError::Denied { key_ref, reason }) => Error::Suspended(format!(
                    "the org's key {key_ref} refused access ({reason}); a new org key cannot be wrapped"
                )),
                other => Error::Internal(format!("wrapping a new org key: {other}")),
            })
    }

    /// Creates an org (operator only).
    pub async fn create_org(
        &self,
        actor: &Actor,
        slug: OrgSlug,
        name: Option<String>,
        location: Location,
    ) -> Result<OrgRecord> {
        if authorize(actor, Action::CreateOrg, Resource::Deployment) != Decision::Allow {
            return Err(forbidden(actor, Action::CreateOrg, ""));
        }
        if !location.is_local() && !self.locations().contains_key(&location) {
            let known: Vec<String> = self.locations().keys().map(|l| l.to_string()).collect();
            return Err(Error::InvalidInput(format!(
                "unknown location `{location}`; this deployment offers: local, {}",
                known.join(", ")
            )));
        }
        let name = name.unwrap_or_else(|| slug.to_string());
        if name.trim().is_empty() || name.len() > 200 {
            return Err(Error::InvalidInput(
                "org name must be 1 to 200 characters".into(),
            ));
        }
        let id = OrgId::new();
        let wraps = self.new_org_key(id, 1).await?;
        let details = serde_json::json!({"location": location, "name": name});
        let audit = event(actor, id, "org.create", slug.as_str(), details);
        let org = NewOrg {
            id,
            slug: slug.clone(),
            name,
            location,
            created_at: Timestamp::now(),
            key_wraps: wraps,
        };
        self.catalog
            .create_org(org, audit)
            .await
            .map_err(|e| match e {
                CatalogError::AlreadyExists => Error::AlreadyExists(format!(
                    "an org with slug `{slug}` already exists; pick another slug"
                )),
                other => Error::catalog(other, || format!("org `{slug}`")),
            })
    }

    /// Orgs the actor may see: all for the operator, else the credential's org.
    pub async fn list_orgs(&self, actor: &Actor) -> Result<Vec<OrgRecord>> {
        if authorize(actor, Action::ListAllOrgs, Resource::Deployment) == Decision::Allow {
            return self
                .catalog
                .list_orgs()
                .await
                .map_err(|e| Error::catalog(e, || "orgs".into()));
        }
        Ok(vec![self.actor_org(actor).await?])
    }

    /// One org.
    pub async fn org(&self, actor: &Actor, slug: &OrgSlug) -> Result<OrgRecord> {
        self.org_for(actor, slug, Action::ReadOrg).await
    }

    /// Rotates the org key: new writes use the new version; old versions still decrypt.
    /// Returns (new, previous).
    pub async fn rotate_org_key(&self, actor: &Actor, slug: &OrgSlug) -> Result<(u32, u32)> {
        let org = self
            .active_org_for(actor, slug, Action::RotateOrgKey)
            .await?;
        self.rotate(actor, &org, "requested").await
    }

    /// Rotation forced by the encryption counter (NIST SP 800-38D's 2^32 bound on random nonces).
    pub(in crate::service) async fn rotate_exhausted_key(
        &self,
        actor: &Actor,
        org: &OrgRecord,
    ) -> Result<()> {
        tracing::info!(org = %org.slug, version = org.key_version, "org key reached its encryption limit; rotating");
        self.rotate(actor, org, "encryption limit reached")
            .await
            .map(drop)
    }

    async fn rotate(&self, actor: &Actor, org: &OrgRecord, reason: &str) -> Result<(u32, u32)> {
        let (previous, next) = (org.key_version, org.key_version + 1);
        let wraps = self.new_org_key(org.id, next).await?;
        let details = serde_json::json!({"from": previous, "to": next, "reason": reason});
        match self
            .catalog
            .add_org_key(
                org.id,
                next,
                wraps,
                event(actor, org.id, "org.rotate_key", org.slug.as_str(), details),
            )
            .await
        {
            Ok(()) => Ok((next, previous)),
            // Someone rotated first: their version is current, which is what we wanted.
            Err(CatalogError::Conflict { current }) => Ok((current, previous)),
            Err(e) => Err(Error::catalog(e, || format!("org `{}`", org.slug))),
        }
    }
}
