//! BYOK: an org's own KMS keys. This module holds the use cases around an org's key settings —
//! the status view (org admins), the list of every BYOK org (operator), a probe on demand, and
//! choosing the provider, where `aws-kms` enables BYOK ([`enable`]) and `local` is refused once
//! BYOK is on, because the org's keys then exist only under the customer's KMS keys — and
//! resolves an org's location to its AWS regions (from `[locations]`), which BYOK requires.
//! Beside it: the setup documents ([`setup`]), the health probe that suspends and restores orgs
//! ([`health`]), and the router that tells the keyring which provider holds an org's root key
//! ([`routing`]).

mod enable;
mod health;
pub mod routing;
mod setup;

use crate::catalog::{KeyProviderKind, OrgKeySettings, OrgRecord};
use crate::domain::policy::{Action, Actor, Decision, Resource, authorize};
use crate::domain::{AwsRegion, Locations, OrgSlug, default_locations};
use crate::service::byok::routing::OrgKeyProviders;
use crate::service::{Coffer, Error, Result, forbidden};
use std::sync::Arc;

pub use health::ProbeSummary;

/// What the BYOK use cases need beyond the seams (see [`Coffer::with_byok`]).
pub struct ByokParts {
    /// The keyring's router, also used directly for KMS health and validation.
    pub providers: Arc<OrgKeyProviders>,
    /// Locations and their regions.
    pub locations: Locations,
    /// Coffer's AWS principal (for trust policies); BYOK is offered only when set.
    pub principal_arn: Option<String>,
}

/// A request to choose the org's key provider.
pub struct SetKeys {
    /// `aws-kms` (enable BYOK) or `local` (refused once BYOK is on).
    pub provider: KeyProviderKind,
    /// The role to assume (BYOK).
    pub role_arn: Option<String>,
    /// (region, key ARN) as given, unparsed (BYOK).
    pub keys: Vec<(String, String)>,
}

/// An org's key settings and health.
pub struct KeysView {
    /// The org (status, location, key version).
    pub org: OrgRecord,
    /// Its key settings and last probes.
    pub settings: OrgKeySettings,
    /// KMS calls this node made for it: (operation, outcome, count).
    pub kms_calls: Vec<(&'static str, &'static str, u64)>,
}

fn not_configured() -> Error {
    Error::Conflict {
        code: "byok_not_configured",
        message:
            "BYOK is not offered by this deployment: the operator must set byok.principal_arn \
                  (Coffer's AWS principal) and its AWS access (see docs/byok.md)"
                .into(),
    }
}

impl Coffer {
    /// The configured locations (the defaults when BYOK is not wired in).
    pub(in crate::service) fn locations(&self) -> std::borrow::Cow<'_, Locations> {
        match &self.byok {
            Some(b) => std::borrow::Cow::Borrowed(&b.locations),
            None => std::borrow::Cow::Owned(default_locations()),
        }
    }

    /// The BYOK parts, if BYOK is offered.
    pub(in crate::service) fn byok_parts(&self) -> Result<&ByokParts> {
        match &self.byok {
            Some(b) if b.principal_arn.is_some() && b.providers.byok_configured() => Ok(b),
            _ => Err(not_configured()),
        }
    }

    /// The AWS regions of the org's location, in failover order; BYOK needs some.
    pub(in crate::service) fn location_regions(&self, org: &OrgRecord) -> Result<Vec<AwsRegion>> {
        match self.locations().get(&org.location) {
            Some(regions) => Ok(regions.clone()),
            None => Err(Error::Conflict {
                code: "byok_needs_location",
                message: format!(
                    "org `{}` has location `{}`, which has no AWS regions; BYOK pins the org's \
                     keys to the regions of its location, and a location cannot change after \
                     creation: create an org with a location such as `eu` or `us` \
                     (`coffer org create SLUG --location eu`) and keep these secrets there",
                    org.slug, org.location
                ),
            }),
        }
    }

    async fn settings_of(&self, org: &OrgRecord) -> Result<OrgKeySettings> {
        self.catalog
            .key_settings(org.id)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{}`", org.slug)))
    }

    /// The view of `org` from the catalog's current state.
    pub(in crate::service) async fn keys_view(&self, org: OrgRecord) -> Result<KeysView> {
        let settings = self.settings_of(&org).await?;
        let kms_calls = self
            .byok
            .as_ref()
            .map(|b| b.providers.kms_calls(org.id))
            .unwrap_or_default();
        Ok(KeysView {
            org,
            settings,
            kms_calls,
        })
    }

    /// An org's key settings and health (org admins).
    pub async fn org_keys(&self, actor: &Actor, slug: &OrgSlug) -> Result<KeysView> {
        let org = self.org_for(actor, slug, Action::ReadKeySettings).await?;
        self.keys_view(org).await
    }

    /// What to create in AWS before enabling BYOK (org admins).
    pub async fn key_setup(&self, actor: &Actor, slug: &OrgSlug) -> Result<coffer_api::KeySetup> {
        let org = self.org_for(actor, slug, Action::ReadKeySettings).await?;
        let principal = self.byok_parts()?.principal_arn.clone().unwrap_or_default();
        let regions = self.location_regions(&org)?;
        let settings = self.settings_of(&org).await?;
        Ok(setup::documents(
            &org,
            &regions,
            &settings.external_id,
            &principal,
        ))
    }

    /// Chooses the org's key provider: `aws-kms` enables BYOK (owners), `local` is refused once
    /// BYOK is on (and changes nothing on an org that is already local).
    pub async fn set_org_keys(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: SetKeys,
    ) -> Result<KeysView> {
        match req.provider {
            KeyProviderKind::AwsKms => self.enable_byok(actor, slug, req).await,
            KeyProviderKind::Local => self.keep_local(actor, slug).await,
        }
    }

    /// Turning BYOK off: refused with the reason once BYOK is on; a no-op for a local org.
    pub async fn keep_local(&self, actor: &Actor, slug: &OrgSlug) -> Result<KeysView> {
        let org = self.org_for(actor, slug, Action::ManageKeys).await?;
        let view = self.keys_view(org).await?;
        if view.settings.provider == KeyProviderKind::AwsKms {
            return Err(Error::Conflict {
                code: "byok_irreversible",
                message: format!(
                    "BYOK cannot be turned off for org `{slug}`: its org keys now exist only \
                     wrapped under your own KMS keys (Coffer destroyed its copies when BYOK was \
                     enabled), and it cannot be handed back to Coffer-managed keys. You may \
                     replace the keys with others in the same regions (`coffer org keys byok`); \
                     to leave BYOK, move the secrets to another org"
                ),
            });
        }
        Ok(view)
    }

    /// Probes the org's keys now (DescribeKey + decrypt of the stored probe in each region),
    /// records the result and suspends or restores the org as the probe says.
    pub async fn check_org_keys(&self, actor: &Actor, slug: &OrgSlug) -> Result<KeysView> {
        let org = self.org_for(actor, slug, Action::ReadKeySettings).await?;
        let settings = self.settings_of(&org).await?;
        if settings.provider == KeyProviderKind::AwsKms {
            self.byok_parts()?;
            self.probe_org(&org, &settings).await?;
        }
        let org = self
            .catalog
            .org_by_id(org.id)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{slug}`")))?;
        self.keys_view(org).await
    }

    /// Every BYOK org's settings and health (operator only).
    pub async fn byok_orgs(&self, actor: &Actor) -> Result<Vec<KeysView>> {
        if authorize(actor, Action::ListAllOrgs, Resource::Deployment) != Decision::Allow {
            return Err(forbidden(actor, Action::ListAllOrgs, ""));
        }
        let fail = |e| Error::catalog(e, || "orgs".into());
        let byok = self.catalog.list_byok().await.map_err(fail)?;
        let mut orgs = self.catalog.list_orgs().await.map_err(fail)?;
        orgs.retain(|o| byok.iter().any(|s| s.org == o.id));
        let mut out = Vec::with_capacity(orgs.len());
        for org in orgs {
            let settings = byok.iter().find(|s| s.org == org.id).cloned();
            let kms_calls = self.byok.as_ref().map(|b| b.providers.kms_calls(org.id));
            out.push(KeysView {
                settings: settings.expect("filtered above"),
                kms_calls: kms_calls.unwrap_or_default(),
                org,
            });
        }
        Ok(out)
    }
}
