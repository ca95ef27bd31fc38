//! [`ByokCatalog`] on PostgreSQL: per-org key settings (`org_key_settings`, `org_kms_keys`,
//! migration 2). The two writes lock the org row first (`FOR NO KEY UPDATE`, as `add_org_key`
//! does) and then touch only rows that BYOK paths write, so several nodes enabling or probing the
//! same org queue on that lock: the health check-and-set reads the status after acquiring it and
//! therefore sees every earlier transition, which is what makes concurrent probes produce
//! exactly one suspension (or restore) and one audit event.

use super::rows::{self, get};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    AWS_KMS, ByokCatalog, CatalogError, EnableByok, KeyHealthReport, KeyProviderKind, KeyVerdict,
    OrgKeySettings, ProbeResult, RegionKey, Result, Transition, check_regions, check_rewrapped,
    transition_for,
};
use crate::domain::{AwsRegion, ExternalId, KmsKeyArn, OrgId, OrgStatus, RoleArn, Timestamp};
use crate::keys::OrgKeyWrap;
use async_trait::async_trait;
use sqlx::PgConnection;

fn corrupt(err: impl std::fmt::Display) -> CatalogError {
    CatalogError::Corrupt(err.to_string())
}

fn provider_kind(s: &str) -> Result<KeyProviderKind> {
    match s {
        "local" => Ok(KeyProviderKind::Local),
        AWS_KMS => Ok(KeyProviderKind::AwsKms),
        other => Err(corrupt(format_args!("unknown key provider {other:?}"))),
    }
}

async fn key_settings(c: &mut PgConnection, org: OrgId) -> Q<OrgKeySettings> {
    let head = sqlx::query(
        "SELECT provider, external_id, role_arn, byok_since, suspended_by_keys \
         FROM org_key_settings WHERE org_id = $1",
    )
    .bind(org.as_uuid())
    .fetch_one(&mut *c)
    .await?;
    let key_rows = sqlx::query(
        "SELECT region, key_arn, probe_ciphertext, probe_at, probe_state, probe_ok, probe_problem \
         FROM org_kms_keys WHERE org_id = $1 ORDER BY position",
    )
    .bind(org.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let mut keys = Vec::with_capacity(key_rows.len());
    for r in &key_rows {
        let at: Option<i64> = get(r, 3)?;
        let state: Option<String> = get(r, 4)?;
        let ok: Option<bool> = get(r, 5)?;
        let last_probe = match (at, state, ok) {
            (Some(at), Some(state), Some(ok)) => Some(ProbeResult {
                at: Timestamp::from_millis(at),
                state,
                ok,
                problem: get(r, 6)?,
            }),
            _ => None,
        };
        keys.push(RegionKey {
            region: AwsRegion::parse(&get::<String>(r, 0)?).map_err(corrupt)?,
            key_arn: KmsKeyArn::parse(&get::<String>(r, 1)?).map_err(corrupt)?,
            probe_ciphertext: get(r, 2)?,
            last_probe,
        });
    }
    let role: Option<String> = get(&head, 2)?;
    Ok(OrgKeySettings {
        org,
        provider: provider_kind(&get::<String>(&head, 0)?)?,
        external_id: ExternalId::parse(&get::<String>(&head, 1)?).map_err(corrupt)?,
        role_arn: role
            .as_deref()
            .map(RoleArn::parse)
            .transpose()
            .map_err(corrupt)?,
        byok_since: get::<Option<i64>>(&head, 3)?.map(Timestamp::from_millis),
        keys,
        suspended_by_keys: get(&head, 4)?,
    })
}

async fn all_org_key_wraps(c: &mut PgConnection, org: OrgId) -> Q<Vec<(u32, Vec<OrgKeyWrap>)>> {
    let list = sqlx::query(
        "SELECT version, provider, key_ref, wrapped FROM org_key_wraps \
         WHERE org_id = $1 ORDER BY version, slot",
    )
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    let mut out: Vec<(u32, Vec<OrgKeyWrap>)> = Vec::new();
    for r in &list {
        let version = rows::u32_at(r, 0)?;
        let wrap = OrgKeyWrap {
            provider: get(r, 1)?,
            key_ref: get(r, 2)?,
            bytes: get(r, 3)?,
        };
        match out.last_mut() {
            Some((v, ws)) if *v == version => ws.push(wrap),
            _ => out.push((version, vec![wrap])),
        }
    }
    Ok(out)
}

/// `add_org_key`'s guard: the new version's wraps must come from the org's current provider.
pub(super) async fn check_wraps_provider(
    c: &mut PgConnection,
    org: OrgId,
    wraps: &[OrgKeyWrap],
) -> Q<()> {
    let provider: Option<String> =
        sqlx::query_scalar("SELECT provider FROM org_key_settings WHERE org_id = $1")
            .bind(org.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
    let provider = provider.unwrap_or_else(|| "local".into());
    match wraps.iter().find(|w| w.provider != provider) {
        Some(w) => Err(CatalogError::Refused(format!(
            "the org's keys are now held by `{provider}`, not `{}`: wrap the new key version again",
            w.provider
        ))
        .into()),
        None => Ok(()),
    }
}

/// Locks the org row (queueing BYOK writers of one org) and returns its key version and status.
async fn lock_org(c: &mut PgConnection, org: OrgId) -> Q<(u32, String)> {
    let row = sqlx::query("SELECT key_version, status FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    Ok((rows::u32_at(&row, 0)?, get(&row, 1)?))
}

async fn enable_byok(
    c: &mut PgConnection,
    ch: &EnableByok,
    audit: &AuditDraft,
) -> Q<OrgKeySettings> {
    let org = ch.org.as_uuid();
    let (current, _) = lock_org(c, ch.org).await?;
    match check_rewrapped(&ch.rewrapped, current) {
        Ok(()) => {}
        Err(Some(current)) => return Err(CatalogError::Conflict { current }.into()),
        Err(None) => {
            let why = "every re-wrapped org key must be an aws-kms wrap";
            return Err(CatalogError::Refused(why.into()).into());
        }
    }
    let before = key_settings(c, ch.org).await?;
    check_regions(&before, &ch.keys).map_err(CatalogError::Refused)?;
    sqlx::query("DELETE FROM org_key_wraps WHERE org_id = $1")
        .bind(org)
        .execute(&mut *c)
        .await?;
    for (version, wraps) in &ch.rewrapped {
        for (slot, w) in wraps.iter().enumerate() {
            sqlx::query("INSERT INTO org_key_wraps (org_id, version, slot, provider, key_ref, wrapped) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(org)
                .bind(i64::from(*version))
                .bind(slot as i64)
                .bind(&w.provider)
                .bind(&w.key_ref)
                .bind(&w.bytes)
                .execute(&mut *c)
                .await?;
        }
    }
    sqlx::query("DELETE FROM org_kms_keys WHERE org_id = $1")
        .bind(org)
        .execute(&mut *c)
        .await?;
    for (position, k) in ch.keys.iter().enumerate() {
        sqlx::query("INSERT INTO org_kms_keys (org_id, position, region, key_arn, probe_ciphertext) VALUES ($1, $2, $3, $4, $5)")
            .bind(org)
            .bind(position as i64)
            .bind(k.region.as_str())
            .bind(k.key_arn.as_str())
            .bind(&k.probe_ciphertext)
            .execute(&mut *c)
            .await?;
    }
    sqlx::query(
        "UPDATE org_key_settings SET provider = 'aws-kms', role_arn = $2, \
         byok_since = COALESCE(byok_since, $3) WHERE org_id = $1",
    )
    .bind(org)
    .bind(ch.role_arn.as_str())
    .bind(ch.at.millis())
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await?;
    key_settings(c, ch.org).await
}

async fn record_key_health(
    c: &mut PgConnection,
    report: &KeyHealthReport,
    audit: &AuditDraft,
) -> Q<Option<Transition>> {
    let org = report.org.as_uuid();
    let (_, status) = lock_org(c, report.org).await?;
    let row =
        sqlx::query("SELECT provider, suspended_by_keys FROM org_key_settings WHERE org_id = $1")
            .bind(org)
            .fetch_one(&mut *c)
            .await?;
    if get::<String>(&row, 0)? != AWS_KMS {
        return Ok(None);
    }
    for (region, p) in &report.regions {
        sqlx::query(
            "UPDATE org_kms_keys SET probe_at = $3, probe_state = $4, probe_ok = $5, probe_problem = $6 \
             WHERE org_id = $1 AND region = $2",
        )
        .bind(org)
        .bind(region.as_str())
        .bind(p.at.millis())
        .bind(&p.state)
        .bind(p.ok)
        .bind(&p.problem)
        .execute(&mut *c)
        .await?;
    }
    let status = if status == OrgStatus::Suspended.as_str() {
        OrgStatus::Suspended
    } else {
        OrgStatus::Active
    };
    let transition = transition_for(&report.verdict, status, get(&row, 1)?);
    let (new_status, reason, flag) = match (transition, &report.verdict) {
        (Some(Transition::Suspended), KeyVerdict::Revoked { reason }) => {
            (OrgStatus::Suspended, Some(reason.as_str()), true)
        }
        (Some(Transition::Restored), _) => (OrgStatus::Active, None, false),
        _ => return Ok(None),
    };
    sqlx::query("UPDATE orgs SET status = $2, suspended_reason = $3 WHERE id = $1")
        .bind(org)
        .bind(new_status.as_str())
        .bind(reason)
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE org_key_settings SET suspended_by_keys = $2 WHERE org_id = $1")
        .bind(org)
        .bind(flag)
        .execute(&mut *c)
        .await?;
    writes::append_audit(c, audit).await?;
    Ok(transition)
}

async fn list_byok(c: &mut PgConnection) -> Q<Vec<OrgKeySettings>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT org_id FROM org_key_settings WHERE provider = 'aws-kms' ORDER BY org_id",
    )
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(key_settings(c, OrgId::from_uuid(id)).await?);
    }
    Ok(out)
}

#[async_trait]
impl ByokCatalog for PostgresCatalog {
    async fn key_settings(&self, org: OrgId) -> Result<OrgKeySettings> {
        self.read(async |c| key_settings(c, org).await).await
    }
    async fn all_org_key_wraps(&self, org: OrgId) -> Result<Vec<(u32, Vec<OrgKeyWrap>)>> {
        self.read(async |c| all_org_key_wraps(c, org).await).await
    }
    async fn enable_byok(&self, change: EnableByok, audit: AuditDraft) -> Result<OrgKeySettings> {
        in_tx!(self, |c| enable_byok(c, &change, &audit).await)
    }
    async fn record_key_health(
        &self,
        report: KeyHealthReport,
        audit: AuditDraft,
    ) -> Result<Option<Transition>> {
        in_tx!(self, |c| record_key_health(c, &report, &audit).await)
    }
    async fn list_byok(&self) -> Result<Vec<OrgKeySettings>> {
        self.read(async |c| list_byok(c).await).await
    }
}
