//! [`StorageHealthCatalog`] on PostgreSQL (`storage_health`, migration 15). The record locks the
//! storage location's row first (`FOR NO KEY UPDATE`, which secret-version writes referencing it
//! do not wait for), so concurrent recorders of the same bucket take turns; each then reads the
//! health row with a fresh snapshot (READ COMMITTED), applies
//! [`next_health`](crate::catalog::storage_health::next_health) and writes the row and, on a
//! transition, the audit event — one transition and one event however many nodes probe.

use super::rows::{corrupt, get, ts};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::storage_health::{next_health, parse_warnings, warnings_json};
use crate::catalog::{
    CatalogError, HealthFinding, Result, StorageHealth, StorageHealthCatalog, StorageHealthReport,
    StorageStatus, StorageTransition,
};
use crate::domain::StorageId;
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

fn health(row: &PgRow) -> Result<StorageHealth> {
    let status: String = get(row, 1)?;
    let step: Option<String> = get(row, 2)?;
    let detail: Option<String> = get(row, 3)?;
    let warnings: String = get(row, 6)?;
    Ok(StorageHealth {
        storage: StorageId::from_uuid(get(row, 0)?),
        status: StorageStatus::parse(&status)
            .ok_or_else(|| corrupt(1, format_args!("unknown storage status {status:?}")))?,
        failure: step.map(|step| HealthFinding {
            step,
            detail: detail.unwrap_or_default(),
        }),
        since: ts(row, 4)?,
        checked_at: ts(row, 5)?,
        warnings: parse_warnings(&warnings).map_err(|m| corrupt(6, m))?,
    })
}

async fn read(c: &mut PgConnection, storage: StorageId) -> Q<Option<StorageHealth>> {
    let row = sqlx::query(
        "SELECT storage_id, status, failing_step, detail, since, checked_at, warnings \
         FROM storage_health WHERE storage_id = $1",
    )
    .bind(storage.as_uuid())
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(health).transpose()?)
}

async fn record(
    c: &mut PgConnection,
    report: &StorageHealthReport,
    audit: &AuditDraft,
) -> Q<Option<StorageTransition>> {
    let current: Option<Uuid> = sqlx::query_scalar("SELECT storage_id FROM orgs WHERE id = $1")
        .bind(report.org.as_uuid())
        .fetch_optional(&mut *c)
        .await?
        .ok_or(CatalogError::NotFound)?;
    if current != Some(report.storage.as_uuid()) {
        return Ok(None);
    }
    sqlx::query("SELECT 1 FROM storage_locations WHERE id = $1 FOR NO KEY UPDATE")
        .bind(report.storage.as_uuid())
        .execute(&mut *c)
        .await?;
    let before = read(c, report.storage).await?;
    let Some((row, transition)) = next_health(before.as_ref(), report) else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO storage_health (storage_id, status, failing_step, detail, since, checked_at, warnings) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (storage_id) DO UPDATE SET \
         status = excluded.status, failing_step = excluded.failing_step, detail = excluded.detail, \
         since = excluded.since, checked_at = excluded.checked_at, warnings = excluded.warnings",
    )
    .bind(row.storage.as_uuid())
    .bind(row.status.as_str())
    .bind(row.failure.as_ref().map(|f| f.step.as_str()))
    .bind(row.failure.as_ref().map(|f| f.detail.as_str()))
    .bind(row.since.millis())
    .bind(row.checked_at.millis())
    .bind(warnings_json(&row.warnings))
    .execute(&mut *c)
    .await?;
    if transition.is_some() {
        writes::append_audit(c, audit).await?;
    }
    Ok(transition)
}

#[async_trait]
impl StorageHealthCatalog for PostgresCatalog {
    async fn storage_health(&self, storage: StorageId) -> Result<Option<StorageHealth>> {
        self.read(async |c| read(c, storage).await).await
    }
    async fn record_storage_health(
        &self,
        report: StorageHealthReport,
        audit: AuditDraft,
    ) -> Result<Option<StorageTransition>> {
        in_tx!(self, |c| record(c, &report, &audit).await)
    }
}
