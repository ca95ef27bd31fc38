//! Grants: a principal's level on every secret of the org, of a project or of an issue. Owners
//! and admins grant anything; a holder of `manage` over a scope grants on it up to `manage`
//! (`policy::may_grant`), and revoking a grant takes what granting it would.

use crate::catalog::{CatalogError, GrantRecord, OrgRecord};
use crate::domain::policy::{Action, Actor, Decision, may_grant};
use crate::domain::{AccessLevel, GrantId, GrantScope, OrgSlug, PrincipalName, Timestamp};
use crate::service::{Coffer, Error, Result, event};

impl Coffer {
    /// Checks the actor may grant (or revoke) `level` on `scope`.
    async fn check_grant(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &GrantScope,
        level: AccessLevel,
    ) -> Result<()> {
        let access = self.access_for(actor, org, true).await?;
        match may_grant(actor, scope, level, &access) {
            Decision::Allow => Ok(()),
            _ => Err(Error::Forbidden(format!(
                "you cannot grant `{level}` on `{scope}`: that takes an owner, an admin, or a \
                 grant of `manage` over all of `{scope}` (and nobody grants above their own access)"
            ))),
        }
    }

    /// Every grant of the org (owners and admins).
    pub async fn list_grants(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
    ) -> Result<(OrgRecord, Vec<GrantRecord>)> {
        let org = self.org_for(actor, slug, Action::ListGrants).await?;
        let grants = self
            .catalog
            .grants(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "grants".into()))?;
        Ok((org, grants))
    }

    /// Grants `to` the `level` on `scope` (or changes the level of its grant there).
    pub async fn create_grant(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: GrantScope,
        to: &PrincipalName,
        level: AccessLevel,
    ) -> Result<(OrgRecord, GrantRecord)> {
        let org = self.org_for(actor, slug, Action::ReadOrg).await?;
        self.check_grant(actor, &org, &scope, level).await?;
        let principal = self.resolve_principal(&org, to).await?;
        let grant = GrantRecord {
            id: GrantId::new(),
            org: org.id,
            scope: scope.clone(),
            principal,
            level,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
        };
        let details = serde_json::json!({"to": to.to_string(), "level": level});
        let audit = event(actor, org.id, "grant.create", scope.to_string(), details);
        let stored = self
            .catalog
            .put_grant(grant, audit)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => {
                    Error::NotFound(format!("`{to}` is not in org `{slug}`"))
                }
                other => Error::catalog(other, || format!("grant on `{scope}`")),
            })?;
        Ok((org, stored))
    }

    /// Revokes the org's grant `id`.
    pub async fn delete_grant(&self, actor: &Actor, slug: &OrgSlug, id: GrantId) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ReadOrg).await?;
        let not_found = || Error::NotFound(format!("org `{slug}` has no grant {id}"));
        let grant = self
            .catalog
            .grants(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "grants".into()))?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(not_found)?;
        self.check_grant(actor, &org, &grant.scope, grant.level)
            .await?;
        let names = self.principal_names(&org).await?;
        let details = serde_json::json!({"to": names(grant.principal), "level": grant.level});
        let audit = event(
            actor,
            org.id,
            "grant.delete",
            grant.scope.to_string(),
            details,
        );
        self.catalog
            .delete_grant(org.id, id, audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => not_found(),
                other => Error::catalog(other, || format!("grant {id}")),
            })?;
        Ok(())
    }
}
