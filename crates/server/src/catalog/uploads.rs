//! The catalog's client-side upload part: grants to write one secret version whose envelope a
//! client seals itself (see `service/secrets/uploads.rs`).
//!
//! A pending upload remembers everything the grant promised — the binding (org, secret,
//! version, key version), the wrapped data key, where the envelope goes and the metadata of the
//! version it will become — so the commit can check the uploaded envelope against it and then
//! append the version with the ordinary [`Catalog::put_version`](super::Catalog::put_version)
//! (its check-and-set and audit event). The data key itself is never stored. Like
//! [`StorageCatalog`](super::StorageCatalog) this is a supertrait of the catalog, implemented per
//! backend in a file of its own and held to one suite (`conformance::uploads`).
//!

use super::Result;
use crate::audit::AuditDraft;
use crate::blob::BlobKey;
use crate::domain::{
    OrgId, Scope, SecretId, SecretKind, SecretName, StorageId, Timestamp, UploadId,
};
use async_trait::async_trait;

/// A grant to upload the envelope of one secret version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    /// Id (the client commits with it).
    pub id: UploadId,
    /// Org.
    pub org: OrgId,
    /// Secret id (fresh when `version == 1`).
    pub secret: SecretId,
    /// Scope.
    pub scope: Scope,
    /// Name.
    pub name: SecretName,
    /// Kind of the new version.
    pub kind: SecretKind,
    /// The version the upload will become.
    pub version: u32,
    /// Org-key version that wrapped the data key.
    pub key_version: u32,
    /// The wrapped data key the envelope must carry.
    pub wrapped_key: Vec<u8>,
    /// Where the client uploads the envelope.
    pub blob_key: BlobKey,
    /// The store it uploads to (`None`: the deployment's default store).
    pub storage: Option<StorageId>,
    /// Declared plaintext size.
    pub size: u64,
    /// When the grant expires.
    pub expires_at: Timestamp,
    /// When it was granted.
    pub created_at: Timestamp,
    /// Who asked for it.
    pub created_by: String,
    /// Expiry of the new version, if given.
    pub secret_expires_at: Option<Timestamp>,
    /// View limit of the new version, if given.
    pub view_limit: Option<u32>,
    /// Whether the secret, if this upload creates it, is restricted to its shares.
    pub restricted: bool,
}

/// Pending client-side uploads. See the module docs.
#[async_trait]
pub trait UploadCatalog: Send + Sync {
    /// Records a grant and appends `audit`, atomically; in the same transaction forgets grants
    /// that expired before `upload.created_at` (their objects are orphans the sweeper removes).
    /// `AlreadyExists` if the id is taken.
    async fn create_upload(&self, upload: PendingUpload, audit: AuditDraft) -> Result<()>;
    /// A grant of `org` (`NotFound` if there is none, or it belongs to another org).
    async fn upload(&self, org: OrgId, id: UploadId) -> Result<PendingUpload>;
    /// Forgets a grant of `org`; true if it was there.
    async fn delete_upload(&self, org: OrgId, id: UploadId) -> Result<bool>;
}
