//! [`AuditCopyCatalog`] on SQLite (`audit_copies`, migration 16). The read runs on the read
//! pool; the upsert is one write of the group-commit writer, keeping the larger number.

use super::{SqliteCatalog, map_err as e};
use crate::catalog::rules::saturating_i64;
use crate::catalog::{AuditCopyCatalog, CatalogError};
use crate::domain::{OrgId, StorageId, Timestamp};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl AuditCopyCatalog for SqliteCatalog {
    async fn audit_copied(&self, org: OrgId, storage: StorageId) -> Result<u64, CatalogError> {
        self.read(move |c| {
            c.query_row(
                "SELECT copied_n FROM audit_copies WHERE org_id = ?1 AND storage_id = ?2",
                params![org.to_bytes(), storage.to_bytes()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|n| n.unwrap_or(0).max(0) as u64)
            .map_err(e)
        })
        .await
    }

    async fn record_audit_copied(
        &self,
        org: OrgId,
        storage: StorageId,
        n: u64,
    ) -> Result<(), CatalogError> {
        self.writer
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO audit_copies (org_id, storage_id, copied_n, updated_at) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (org_id, storage_id) DO UPDATE SET \
                       copied_n = max(copied_n, excluded.copied_n), updated_at = excluded.updated_at",
                    params![
                        org.to_bytes(),
                        storage.to_bytes(),
                        saturating_i64(n),
                        Timestamp::now().millis()
                    ],
                )
                .map_err(e)?;
                Ok(())
            })
            .await
    }
}
