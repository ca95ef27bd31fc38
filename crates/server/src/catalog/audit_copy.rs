//! The catalog's audit-copy part: how far each org's audit copy has got in each bucket it has
//! saved (`service::audit_log::copy` writes the copies; docs/formats.md "Audit copy").
//!
//! One number per (org, storage location): the highest checkpoint whose copy object is known to
//! be in that bucket. It only grows — two nodes copying side by side both record what they saw,
//! and the larger wins — so the copy job resumes without listing the bucket, and a node that
//! records a smaller number late never makes the job write an object again (it would be refused
//! anyway: copies are written with `If-None-Match: *`).

use super::Result;
use crate::domain::{OrgId, StorageId};
use async_trait::async_trait;

/// How far audit copies have got. See the module docs.
#[async_trait]
pub trait AuditCopyCatalog: Send + Sync {
    /// The highest checkpoint number copied to `storage` for `org` (0: none yet).
    async fn audit_copied(&self, org: OrgId, storage: StorageId) -> Result<u64>;
    /// Records that checkpoints up to `n` are in `storage`'s bucket: the stored number becomes
    /// the larger of it and `n`. `NotFound` if the org or the location does not exist.
    async fn record_audit_copied(&self, org: OrgId, storage: StorageId, n: u64) -> Result<()>;
}
