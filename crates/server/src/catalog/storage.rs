//! The catalog's storage part: the buckets orgs have saved, which one each org writes to, where
//! every secret version's envelope is, and the bookkeeping of moving envelopes between them.
//!
//! Like [`ByokCatalog`](super::ByokCatalog) it is a supertrait of the catalog so each backend
//! implements it in a file of its own and one suite (`conformance::storage`) holds both to it.
//! The migration is shaped for many nodes and crashes: a version moves by a check-and-set on its
//! store (`move_version`), so two nodes copying the same envelope agree on one winner, and the
//! org's "still migrating" flag is cleared only in a transaction that sees no version left
//! outside the org's storage — a write that raced the switch sets it again.
//!

use super::{OrgRecord, Result, StoredBlob, VersionRecord};
use crate::audit::AuditDraft;
use crate::domain::{AwsRegion, BucketName, KeyPrefix, OrgId, SecretId, StorageId, Timestamp};
use async_trait::async_trait;

/// One saved bucket configuration of one org. Immutable: a change saves a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageLocation {
    /// Id (what versions and the org point at).
    pub id: StorageId,
    /// The org that saved it.
    pub org: OrgId,
    /// Bucket.
    pub bucket: BucketName,
    /// The bucket's region (validated against the bucket when saved).
    pub region: AwsRegion,
    /// Endpoint of an S3-compatible store, if not AWS's.
    pub endpoint: Option<String>,
    /// Key prefix inside the bucket.
    pub prefix: Option<KeyPrefix>,
    /// When it was saved.
    pub created_at: Timestamp,
    /// Who saved it.
    pub created_by: String,
}

/// How many of an org's versions are where its storage says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageProgress {
    /// Versions of the org (live secrets).
    pub total: u64,
    /// Of those, in the org's current storage.
    pub done: u64,
    /// The org is flagged as migrating.
    pub migrating: bool,
}

/// Per-org storage. See the module docs.
#[async_trait]
pub trait StorageCatalog: Send + Sync {
    /// A saved location, by id.
    async fn storage_location(&self, id: StorageId) -> Result<StorageLocation>;
    /// Every saved location, oldest first (the sweeper visits each).
    async fn storage_locations(&self) -> Result<Vec<StorageLocation>>;
    /// Points the org's new envelopes at `to` (saved here first unless a location with its id
    /// exists already — switching back to an earlier bucket reuses its row; `None`: the default
    /// store), flags the org as migrating, and appends the event, atomically. Returns the org.
    async fn set_org_storage(
        &self,
        org: OrgId,
        to: Option<StorageLocation>,
        audit: AuditDraft,
    ) -> Result<OrgRecord>;
    /// Where the org's versions are relative to its current storage.
    async fn storage_progress(&self, org: OrgId) -> Result<StorageProgress>;
    /// Orgs flagged as migrating.
    async fn orgs_migrating(&self) -> Result<Vec<OrgRecord>>;
    /// Up to `limit` versions of `org` whose envelope is not in `target`.
    async fn versions_elsewhere(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        limit: u32,
    ) -> Result<Vec<VersionRecord>>;
    /// Records that a version's envelope is now `to` (a copy under a fresh key), only if the
    /// row still says `from` and `to` is in the org's current storage (check-and-set). False
    /// otherwise: moved by another node, destroyed, or the org switched storage again. Fresh
    /// keys mean no two copies ever share a place, so deleting `from` afterwards can never
    /// remove a copy another mover relies on.
    async fn move_version(
        &self,
        secret: SecretId,
        version: u32,
        from: &StoredBlob,
        to: &StoredBlob,
    ) -> Result<bool>;
    /// Clears the org's migrating flag and appends `audit`, only if its storage is still
    /// `target` and no version is elsewhere. False (nothing changed) otherwise.
    async fn finish_migration(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        audit: AuditDraft,
    ) -> Result<bool>;
}
