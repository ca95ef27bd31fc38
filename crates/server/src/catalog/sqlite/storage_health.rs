//! [`StorageHealthCatalog`] on SQLite (`storage_health`, migration 15). The read runs on the read
//! pool; the record runs on the group-commit writer, whose single connection makes the
//! check-and-set race-free within the database: read the row, apply
//! [`next_health`](crate::catalog::storage_health::next_health), write it and (on a transition)
//! the audit event, in one savepoint.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::storage_health::{next_health, parse_warnings, warnings_json};
use crate::catalog::{
    CatalogError, HealthFinding, StorageHealth, StorageHealthCatalog, StorageHealthReport,
    StorageStatus, StorageTransition,
};
use crate::domain::{StorageId, Timestamp};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

fn health(row: &Row) -> rusqlite::Result<StorageHealth> {
    let status: String = row.get(1)?;
    let step: Option<String> = row.get(2)?;
    let detail: Option<String> = row.get(3)?;
    let warnings: String = row.get(6)?;
    Ok(StorageHealth {
        storage: StorageId::from_uuid(rows::uuid_at(row, 0)?),
        status: StorageStatus::parse(&status)
            .ok_or_else(|| rows::bad(1, format!("unknown storage status {status:?}")))?,
        failure: step.map(|step| HealthFinding {
            step,
            detail: detail.unwrap_or_default(),
        }),
        since: Timestamp::from_millis(row.get(4)?),
        checked_at: Timestamp::from_millis(row.get(5)?),
        warnings: parse_warnings(&warnings).map_err(|m| rows::bad(6, m))?,
    })
}

fn read(conn: &Connection, storage: StorageId) -> R<Option<StorageHealth>> {
    conn.query_row(
        "SELECT storage_id, status, failing_step, detail, since, checked_at, warnings \
         FROM storage_health WHERE storage_id = ?1",
        [storage.to_bytes()],
        health,
    )
    .optional()
    .map_err(e)
}

fn record(
    conn: &Tx,
    report: &StorageHealthReport,
    audit: &AuditDraft,
) -> R<Option<StorageTransition>> {
    let current: Option<Vec<u8>> = conn
        .query_row(
            "SELECT storage_id FROM orgs WHERE id = ?1",
            [report.org.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    if current.as_deref() != Some(&report.storage.to_bytes()[..]) {
        return Ok(None);
    }
    let before = read(conn, report.storage)?;
    let Some((row, transition)) = next_health(before.as_ref(), report) else {
        return Ok(None);
    };
    conn.execute(
        "INSERT INTO storage_health (storage_id, status, failing_step, detail, since, checked_at, warnings) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (storage_id) DO UPDATE SET \
         status = excluded.status, failing_step = excluded.failing_step, detail = excluded.detail, \
         since = excluded.since, checked_at = excluded.checked_at, warnings = excluded.warnings",
        params![
            row.storage.to_bytes(),
            row.status.as_str(),
            row.failure.as_ref().map(|f| f.step.as_str()),
            row.failure.as_ref().map(|f| f.detail.as_str()),
            row.since.millis(),
            row.checked_at.millis(),
            warnings_json(&row.warnings),
        ],
    )
    .map_err(e)?;
    if transition.is_some() {
        writes::append_audit(conn, audit)?;
    }
    Ok(transition)
}

#[async_trait]
impl StorageHealthCatalog for SqliteCatalog {
    async fn storage_health(&self, storage: StorageId) -> R<Option<StorageHealth>> {
        self.read(move |c| read(c, storage)).await
    }
    async fn record_storage_health(
        &self,
        report: StorageHealthReport,
        audit: AuditDraft,
    ) -> R<Option<StorageTransition>> {
        self.writer.write(move |c| record(c, &report, &audit)).await
    }
}
