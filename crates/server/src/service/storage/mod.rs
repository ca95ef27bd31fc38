//! Per-org storage: where an org's envelopes go. This module holds the use cases — show it, point
//! the org at a validated bucket (or back to the default store), report the migration's
//! progress — and saving never changes anything unless every validation step passed. Beside it:
//! the stores each org's envelopes are read from and written to ([`stores`]), the validation of
//! a candidate bucket ([`probe`]), the bucket setup documents ([`setup`]), the background
//! copy of envelopes to a new bucket ([`migration`]) and the background drift checks that
//! keep each saved bucket's health ([`drift`]).

mod drift;
mod migration;
mod probe;
mod setup;
mod stores;

use crate::catalog::{OrgRecord, StorageHealth, StorageLocation, StorageProgress};
use crate::domain::policy::{Action, Actor};
use crate::domain::{AwsRegion, BucketName, KeyPrefix, OrgSlug, StorageId, Timestamp};
use crate::service::storage::probe::{Candidate, validate};
use crate::service::{Coffer, Error, Result, event};
use coffer_api::{StorageCheck, StorageSetup};

pub use drift::DriftSummary;
pub use stores::{StorageSettings, Stores};

/// A request to store the org's envelopes in a bucket.
pub struct SetStorage {
    /// Bucket.
    pub bucket: BucketName,
    /// Its region.
    pub region: AwsRegion,
    /// S3-compatible endpoint, if not AWS.
    pub endpoint: Option<String>,
    /// Key prefix.
    pub prefix: Option<KeyPrefix>,
}

/// An org's storage as the API shows it.
pub struct StorageState {
    /// The org.
    pub org: OrgRecord,
    /// Its bucket (`None`: the default store).
    pub location: Option<StorageLocation>,
    /// Regions it may use (empty: any).
    pub allowed: Vec<AwsRegion>,
    /// Where its versions are.
    pub progress: StorageProgress,
    /// The last migration failure seen on this node.
    pub last_error: Option<String>,
    /// What the drift checks last recorded of its bucket (`None`: the default store, or not
    /// checked yet).
    pub health: Option<StorageHealth>,
}

/// Same bucket, prefix and endpoint: the same objects.
fn same_place(a: &StorageLocation, s: &SetStorage) -> bool {
    a.bucket == s.bucket && a.region == s.region && a.endpoint == s.endpoint && a.prefix == s.prefix
}

impl Coffer {
    fn allowed_regions(&self, org: &OrgRecord) -> Vec<AwsRegion> {
        if org.location.is_local() {
            return Vec::new();
        }
        let locations = &self.stores.settings().locations;
        locations.get(&org.location).cloned().unwrap_or_default()
    }

    fn principal_text(&self) -> String {
        self.stores
            .settings()
            .principal_arn
            .clone()
            .unwrap_or_else(|| "Coffer's AWS principal".into())
    }

    async fn storage_state(&self, org: OrgRecord) -> Result<StorageState> {
        let location = match org.storage {
            Some(id) => Some(
                self.catalog
                    .storage_location(id)
                    .await
                    .map_err(|e| Error::catalog(e, || format!("storage location {id}")))?,
            ),
            None => None,
        };
        let progress = self
            .catalog
            .storage_progress(org.id)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{}`", org.slug)))?;
        let health = match &location {
            Some(l) => self
                .catalog
                .storage_health(l.id)
                .await
                .map_err(|e| Error::catalog(e, || format!("storage location {}", l.id)))?,
            None => None,
        };
        let last_error = self
            .stores
            .migration_errors
            .lock()
            .expect("migration error map poisoned")
            .get(&org.id)
            .cloned();
        Ok(StorageState {
            allowed: self.allowed_regions(&org),
            org,
            location,
            progress,
            last_error,
            health,
        })
    }

    /// Where the org's envelopes go, and the migration's progress.
    pub async fn storage(&self, actor: &Actor, slug: &OrgSlug) -> Result<StorageState> {
        let org = self.org_for(actor, slug, Action::ReadStorage).await?;
        self.storage_state(org).await
    }

    /// Validates `req` against the bucket itself and, only if every step passes, points the org
    /// at it. Existing envelopes move in the background.
    pub async fn set_storage(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: SetStorage,
    ) -> Result<(Vec<StorageCheck>, StorageState)> {
        let org = self.org_for(actor, slug, Action::ManageStorage).await?;
        let allowed = self.allowed_regions(&org);
        let principal = self.principal_text();
        let candidate = Candidate {
            bucket: &req.bucket,
            region: &req.region,
            endpoint: req.endpoint.as_deref(),
            prefix: req.prefix.as_ref(),
            allowed: &allowed,
            location: &org.location,
            public_origin: &self.stores.settings().public_origin,
            principal: &principal,
        };
        let checks = validate(&self.stores, &candidate).await?;
        // Back to a bucket the org used before: reuse its row, so versions still recorded there
        // are already in place and nothing is copied onto itself.
        let known = self
            .catalog
            .storage_locations()
            .await
            .map_err(|e| Error::catalog(e, || "storage locations".into()))?
            .into_iter()
            .find(|l| l.org == org.id && same_place(l, &req));
        let location = known.unwrap_or_else(|| StorageLocation {
            id: StorageId::new(),
            org: org.id,
            bucket: req.bucket.clone(),
            region: req.region.clone(),
            endpoint: req.endpoint.clone(),
            prefix: req.prefix.clone(),
            created_at: Timestamp::now(),
            created_by: actor.name.to_string(),
        });
        let details = serde_json::json!({
            "bucket": location.bucket.as_str(),
            "region": location.region.as_str(),
            "endpoint": location.endpoint,
            "prefix": location.prefix.as_ref().map(KeyPrefix::as_str),
            "storage_id": location.id.to_string(),
        });
        let target = format!("s3://{}", location.bucket);
        let audit = event(actor, org.id, "storage.set", target, details);
        let org = self
            .catalog
            .set_org_storage(org.id, Some(location), audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{slug}`")))?;
        Ok((checks, self.storage_state(org).await?))
    }

    /// Points the org back at the deployment's default store.
    pub async fn reset_storage(&self, actor: &Actor, slug: &OrgSlug) -> Result<StorageState> {
        let org = self.org_for(actor, slug, Action::ManageStorage).await?;
        let audit = event(
            actor,
            org.id,
            "storage.reset",
            "default",
            serde_json::json!({}),
        );
        let org = self
            .catalog
            .set_org_storage(org.id, None, audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{slug}`")))?;
        self.storage_state(org).await
    }

    /// The bucket policy, CORS configuration and commands that prepare `bucket` for this org.
    pub async fn storage_setup(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        bucket: &BucketName,
        region: Option<&AwsRegion>,
    ) -> Result<StorageSetup> {
        let org = self.org_for(actor, slug, Action::ReadStorage).await?;
        let allowed = self.allowed_regions(&org);
        if let Some(r) = region.filter(|r| !allowed.is_empty() && !allowed.contains(r)) {
            return Err(Error::InvalidInput(format!(
                "region {r} is outside the org's location `{}`; use one of: {}",
                org.location,
                allowed
                    .iter()
                    .map(AwsRegion::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let Some(principal) = self.stores.settings().principal_arn.clone() else {
            return Err(Error::Conflict {
                code: "principal_not_configured",
                message:
                    "the bucket policy must name Coffer's AWS principal, and the operator has \
                          not set it (byok.principal_arn in coffer.toml)"
                        .into(),
            });
        };
        let Some(region) = region.or(allowed.first()).map(|r| r.as_str().to_owned()) else {
            return Err(Error::InvalidInput(format!(
                "give the bucket's region (`--region`, or `?region=` in the API): org `{}` is \
                 `local`, so any region works",
                org.slug
            )));
        };
        let origin = self.stores.settings().public_origin.clone();
        Ok(setup::documents(
            &org, bucket, &region, &principal, &origin, &allowed,
        ))
    }
}
