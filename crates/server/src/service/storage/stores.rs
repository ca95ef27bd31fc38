//! Which blob store holds what. Every secret version records the storage its envelope is in
//! (`None`: the deployment's default store, else one of its org's saved buckets); [`Stores`]
//! turns that into a [`BlobStore`], building each org bucket's S3 client once and caching it.
//!
//! Tenant buckets are reached with the deployment's `[storage.aws]` credentials and timeouts, in
//! each bucket's own region, at AWS's endpoint (or `[storage.aws].endpoint`, which stands in for
//! AWS in tests) unless the org saved an S3-compatible endpoint — which passes the SSRF guard
//! again here, so a location saved under a laxer configuration cannot be used under a stricter one.

use crate::aws::AwsSettings;
use crate::blob::{BlobError, BlobStore, MeteredBlobStore, S3BlobStore};
use crate::catalog::{Catalog, StorageLocation};
use crate::domain::StorageId;
use crate::metrics::Metrics;
use crate::service::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

/// How Coffer reaches and uses tenant buckets (from `[storage]`).
#[derive(Clone, Debug, Default)]
pub struct StorageSettings {
    /// Base SDK settings for tenant buckets.
    pub aws: AwsSettings,
    /// Tenant endpoints other than AWS's S3 endpoints are allowed.
    pub allow_custom_endpoints: bool,
    /// The origin browsers load Coffer from (CORS).
    pub public_origin: String,
    /// Lifetime of presigned URLs.
    pub presign_ttl: Duration,
    /// Coffer's AWS principal (what bucket policies grant), if configured.
    pub principal_arn: Option<String>,
    /// Data-residency locations and their regions (a bucket must be in its org's).
    pub locations: crate::domain::Locations,
    /// How long audit copies stay locked in buckets with Object Lock (`audit.bucket_retention`;
    /// anything under a day counts as a day).
    pub audit_retention: Duration,
}

/// The default store plus a cache of opened tenant buckets.
pub struct Stores {
    default: Arc<dyn BlobStore>,
    /// The last failure of each org's migration on this node (cleared by a clean pass).
    pub(in crate::service) migration_errors:
        std::sync::Mutex<std::collections::HashMap<crate::domain::OrgId, String>>,
    buckets: moka::future::Cache<StorageId, Arc<S3BlobStore>>,
    settings: StorageSettings,
    metrics: Arc<Metrics>,
}

impl Stores {
    /// Stores over `default`.
    pub fn new(
        default: Arc<dyn BlobStore>,
        settings: StorageSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            default,
            migration_errors: Default::default(),
            buckets: moka::future::Cache::builder().max_capacity(10_000).build(),
            settings,
            metrics,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &StorageSettings {
        &self.settings
    }

    /// The deployment's default store.
    pub fn default_store(&self) -> &Arc<dyn BlobStore> {
        &self.default
    }

    /// The SDK settings for one bucket: the base settings in the bucket's region, at its
    /// endpoint if it has one (path-style then, as S3-compatible stores expect).
    pub fn aws_for(&self, region: &str, endpoint: Option<&str>) -> AwsSettings {
        let mut aws = self.settings.aws.clone();
        aws.region = Some(region.to_owned());
        if let Some(e) = endpoint {
            aws.endpoint = Some(e.to_owned());
        }
        aws.force_path_style = aws.endpoint.is_some();
        aws
    }

    /// Opens a bucket (not cached; validation probes use it before anything is saved).
    pub async fn open_bucket(
        &self,
        bucket: &str,
        region: &str,
        endpoint: Option<&str>,
        prefix: Option<&str>,
    ) -> std::result::Result<S3BlobStore, BlobError> {
        if let Some(e) = endpoint {
            crate::aws::check_endpoint(e, self.settings.allow_custom_endpoints)
                .map_err(BlobError::Refused)?;
        }
        S3BlobStore::open(&self.aws_for(region, endpoint), bucket, prefix).await
    }

    /// A saved location's bucket, opened once and cached.
    pub async fn bucket(&self, catalog: &dyn Catalog, id: StorageId) -> Result<Arc<S3BlobStore>> {
        self.buckets
            .try_get_with(id, async {
                let loc: StorageLocation = catalog.storage_location(id).await.map_err(|e| {
                    Error::Internal(format!("storage location {id} is unreadable: {e}"))
                })?;
                let store = self
                    .open_bucket(
                        loc.bucket.as_str(),
                        loc.region.as_str(),
                        loc.endpoint.as_deref(),
                        loc.prefix.as_ref().map(|p| p.as_str()),
                    )
                    .await
                    .map_err(|e| {
                        Error::Unavailable(format!("the org's bucket cannot be used: {e}"))
                    })?;
                Ok::<_, Error>(Arc::new(store))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    /// The store holding envelopes recorded under `storage`.
    pub async fn get(
        &self,
        catalog: &dyn Catalog,
        storage: Option<StorageId>,
    ) -> Result<Arc<dyn BlobStore>> {
        match storage {
            None => Ok(self.default.clone()),
            Some(id) => {
                // Boxed: opening a bucket (the SDK's client, moka's loader) is a ~29 KB future,
                // which would otherwise be part of every caller's, the default store's reveals
                // included, and be copied with it each time one is created.
                let bucket: Arc<dyn BlobStore> = Box::pin(self.bucket(catalog, id)).await?;
                Ok(Arc::new(MeteredBlobStore::new(
                    bucket,
                    self.metrics.clone(),
                )))
            }
        }
    }
}
