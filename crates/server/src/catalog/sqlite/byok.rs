//! [`ByokCatalog`] on SQLite: per-org key settings (`org_key_settings`, `org_kms_keys`, migration
//! 2). Reads run on the read pool; `enable_byok` and `record_key_health` run on the group-commit
//! writer like every other write, so each is one savepoint that commits with its audit event, and
//! the single writer makes the health check-and-set trivially race-free within this database.

use super::byok_reads::{all_org_key_wraps, key_settings, list_byok};
use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    AWS_KMS, ByokCatalog, CatalogError, EnableByok, KeyHealthReport, KeyVerdict, OrgKeySettings,
    Transition, check_regions, check_rewrapped, transition_for,
};
use crate::domain::{OrgId, OrgStatus};
use crate::keys::OrgKeyWrap;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

type R<T> = Result<T, CatalogError>;

/// `add_org_key`'s guard: the new version's wraps must come from the org's current provider.
pub(super) fn check_wraps_provider(conn: &Connection, org: OrgId, wraps: &[OrgKeyWrap]) -> R<()> {
    let provider: Option<String> = conn
        .query_row(
            "SELECT provider FROM org_key_settings WHERE org_id = ?1",
            [org.to_bytes()],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?;
    let provider = provider.unwrap_or_else(|| "local".into());
    match wraps.iter().find(|w| w.provider != provider) {
        Some(w) => Err(CatalogError::Refused(format!(
            "the org's keys are now held by `{provider}`, not `{}`: wrap the new key version again",
            w.provider
        ))),
        None => Ok(()),
    }
}

fn enable_byok(conn: &Tx, c: &EnableByok, audit: &AuditDraft) -> R<OrgKeySettings> {
    let org = c.org.to_bytes();
    let current: u32 = conn
        .query_row("SELECT key_version FROM orgs WHERE id = ?1", [org], |r| {
            r.get(0)
        })
        .map_err(e)?;
    match check_rewrapped(&c.rewrapped, current) {
        Ok(()) => {}
        Err(Some(current)) => return Err(CatalogError::Conflict { current }),
        Err(None) => {
            return Err(CatalogError::Refused(
                "every re-wrapped org key must be an aws-kms wrap".into(),
            ));
        }
    }
    let before = key_settings(conn, c.org)?;
    check_regions(&before, &c.keys).map_err(CatalogError::Refused)?;
    conn.execute("DELETE FROM org_key_wraps WHERE org_id = ?1", [org])
        .map_err(e)?;
    for (version, wraps) in &c.rewrapped {
        for (slot, w) in wraps.iter().enumerate() {
            conn.execute(
                "INSERT INTO org_key_wraps (org_id, version, slot, provider, key_ref, wrapped) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![org, version, slot as i64, w.provider, w.key_ref, w.bytes],
            )
            .map_err(e)?;
        }
    }
    conn.execute("DELETE FROM org_kms_keys WHERE org_id = ?1", [org])
        .map_err(e)?;
    for (position, k) in c.keys.iter().enumerate() {
        conn.execute(
            "INSERT INTO org_kms_keys (org_id, position, region, key_arn, probe_ciphertext) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org, position as i64, k.region.as_str(), k.key_arn.as_str(), k.probe_ciphertext],
        )
        .map_err(e)?;
    }
    conn.execute(
        "UPDATE org_key_settings SET provider = 'aws-kms', role_arn = ?2, byok_since = COALESCE(byok_since, ?3) WHERE org_id = ?1",
        params![org, c.role_arn.as_str(), c.at.millis()],
    )
    .map_err(e)?;
    writes::append_audit(conn, audit)?;
    key_settings(conn, c.org)
}

fn record_key_health(
    conn: &Tx,
    report: &KeyHealthReport,
    audit: &AuditDraft,
) -> R<Option<Transition>> {
    let org = report.org.to_bytes();
    let (status, provider, by_keys): (String, String, bool) = conn
        .query_row(
            "SELECT o.status, s.provider, s.suspended_by_keys FROM orgs o \
             JOIN org_key_settings s ON s.org_id = o.id WHERE o.id = ?1",
            [org],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(e)?;
    if provider != AWS_KMS {
        return Ok(None);
    }
    for (region, p) in &report.regions {
        conn.execute(
            "UPDATE org_kms_keys SET probe_at = ?3, probe_state = ?4, probe_ok = ?5, probe_problem = ?6 \
             WHERE org_id = ?1 AND region = ?2",
            params![org, region.as_str(), p.at.millis(), p.state, p.ok, p.problem],
        )
        .map_err(e)?;
    }
    let status = if status == OrgStatus::Suspended.as_str() {
        OrgStatus::Suspended
    } else {
        OrgStatus::Active
    };
    let transition = transition_for(&report.verdict, status, by_keys);
    let (new_status, reason, flag) = match (transition, &report.verdict) {
        (Some(Transition::Suspended), KeyVerdict::Revoked { reason }) => {
            (OrgStatus::Suspended, Some(reason.as_str()), true)
        }
        (Some(Transition::Restored), _) => (OrgStatus::Active, None, false),
        _ => return Ok(None),
    };
    conn.execute(
        "UPDATE orgs SET status = ?2, suspended_reason = ?3 WHERE id = ?1",
        params![org, new_status.as_str(), reason],
    )
    .map_err(e)?;
    conn.execute(
        "UPDATE org_key_settings SET suspended_by_keys = ?2 WHERE org_id = ?1",
        params![org, flag],
    )
    .map_err(e)?;
    writes::append_audit(conn, audit)?;
    Ok(transition)
}

#[async_trait]
impl ByokCatalog for SqliteCatalog {
    async fn key_settings(&self, org: OrgId) -> R<OrgKeySettings> {
        self.read(move |c| key_settings(c, org)).await
    }
    async fn all_org_key_wraps(&self, org: OrgId) -> R<Vec<(u32, Vec<OrgKeyWrap>)>> {
        self.read(move |c| all_org_key_wraps(c, org)).await
    }
    async fn enable_byok(&self, change: EnableByok, audit: AuditDraft) -> R<OrgKeySettings> {
        self.writer
            .write(move |c| enable_byok(c, &change, &audit))
            .await
    }
    async fn record_key_health(
        &self,
        report: KeyHealthReport,
        audit: AuditDraft,
    ) -> R<Option<Transition>> {
        self.writer
            .write(move |c| record_key_health(c, &report, &audit))
            .await
    }
    async fn list_byok(&self) -> R<Vec<OrgKeySettings>> {
        self.read(list_byok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::KeyProviderKind;

    /// Orgs created before migration 2 get key settings, each with its own external id.
    #[tokio::test]
    async fn migration_2_gives_existing_orgs_settings_and_distinct_external_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT;
             INSERT INTO schema_migrations VALUES (1, 0);",
        )
        .unwrap();
        let ids = [OrgId::new(), OrgId::new()];
        for (i, id) in ids.iter().enumerate() {
            conn.execute(
                "INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES (?1, ?2, 'n', 'local', 'active', 1, 0)",
                params![id.to_bytes(), format!("old-{i}")],
            )
            .unwrap();
        }
        drop(conn);
        let catalog = SqliteCatalog::open(&path, 1).await.unwrap();
        let a = catalog.key_settings(ids[0]).await.unwrap();
        let b = catalog.key_settings(ids[1]).await.unwrap();
        assert_eq!(
            (a.provider, b.provider),
            (KeyProviderKind::Local, KeyProviderKind::Local)
        );
        assert!(
            a.external_id.as_str().starts_with("coffer-") && a.external_id.as_str().len() == 39
        );
        assert_ne!(a.external_id, b.external_id);
    }
}
