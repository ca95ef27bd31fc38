//! [`AuditCopyCatalog`] on PostgreSQL (`audit_copies`, migration 16). The upsert keeps the
//! larger number with `GREATEST`, so nodes recording side by side never move it back.

use super::PostgresCatalog;
use super::tx::{self, in_tx};
use crate::catalog::rules::saturating_i64;
use crate::catalog::{AuditCopyCatalog, Result};
use crate::domain::{OrgId, StorageId, Timestamp};
use async_trait::async_trait;

#[async_trait]
impl AuditCopyCatalog for PostgresCatalog {
    async fn audit_copied(&self, org: OrgId, storage: StorageId) -> Result<u64> {
        self.read(async |c| {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT copied_n FROM audit_copies WHERE org_id = $1 AND storage_id = $2",
            )
            .bind(org.as_uuid())
            .bind(storage.as_uuid())
            .fetch_optional(c)
            .await?;
            Ok(n.unwrap_or(0).max(0) as u64)
        })
        .await
    }

    async fn record_audit_copied(&self, org: OrgId, storage: StorageId, n: u64) -> Result<()> {
        in_tx!(self, |c| {
            sqlx::query(
                "INSERT INTO audit_copies (org_id, storage_id, copied_n, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (org_id, storage_id) DO UPDATE SET \
                   copied_n = GREATEST(audit_copies.copied_n, EXCLUDED.copied_n), \
                   updated_at = EXCLUDED.updated_at",
            )
            .bind(org.as_uuid())
            .bind(storage.as_uuid())
            .bind(saturating_i64(n))
            .bind(Timestamp::now().millis())
            .execute(c)
            .await
            .map(|_| ())
        })
    }
}
