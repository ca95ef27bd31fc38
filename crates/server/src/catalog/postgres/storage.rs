//! [`StorageCatalog`] on PostgreSQL (`storage_locations`, `orgs.storage_id`/`storage_migrating`,
//! `secret_versions.storage_id`, migration 3). NULL is the default store, compared with
//! `IS [NOT] DISTINCT FROM`. `finish_migration` locks the org row first: a version write that
//! raced the storage switch either committed before (and is seen by the NOT EXISTS check, which
//! runs after the lock with a fresh snapshot) or runs its "flag the org again" update after this
//! transaction (it needs the same row lock) — either way the flag ends up set while a version is
//! outside the org's storage.

use super::rows::{self, get, org_cols, version_cols};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, reads, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, OrgRecord, Result, StorageCatalog, StorageLocation, StorageProgress, StoredBlob,
    VersionRecord,
};
use crate::domain::{AwsRegion, BucketName, KeyPrefix, OrgId, SecretId, StorageId, Timestamp};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

macro_rules! location_cols {
    () => {
        "id, org_id, bucket, region, endpoint, prefix, created_at, created_by"
    };
}

fn corrupt(err: impl std::fmt::Display) -> CatalogError {
    CatalogError::Corrupt(err.to_string())
}

fn location(row: &PgRow) -> Result<StorageLocation> {
    let prefix: Option<String> = get(row, 5)?;
    Ok(StorageLocation {
        id: StorageId::from_uuid(get(row, 0)?),
        org: OrgId::from_uuid(get(row, 1)?),
        bucket: BucketName::parse(&get::<String>(row, 2)?).map_err(corrupt)?,
        region: AwsRegion::parse(&get::<String>(row, 3)?).map_err(corrupt)?,
        endpoint: get(row, 4)?,
        prefix: match prefix {
            Some(p) => KeyPrefix::parse_optional(&p).map_err(corrupt)?,
            None => None,
        },
        created_at: Timestamp::from_millis(get(row, 6)?),
        created_by: get(row, 7)?,
    })
}

fn uuid(s: Option<StorageId>) -> Option<Uuid> {
    s.map(|s| s.as_uuid())
}

async fn set_org_storage(
    c: &mut PgConnection,
    org: OrgId,
    to: Option<&StorageLocation>,
    audit: &AuditDraft,
) -> Q<OrgRecord> {
    if let Some(l) = to {
        if l.org != org {
            let why = "a storage location belongs to the org that saved it";
            return Err(CatalogError::Refused(why.into()).into());
        }
        sqlx::query(concat!(
            "INSERT INTO storage_locations (",
            location_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
        ))
        .bind(l.id.as_uuid())
        .bind(l.org.as_uuid())
        .bind(l.bucket.as_str())
        .bind(l.region.as_str())
        .bind(&l.endpoint)
        .bind(l.prefix.as_ref().map(KeyPrefix::as_str))
        .bind(l.created_at.millis())
        .bind(&l.created_by)
        .execute(&mut *c)
        .await?;
    }
    let n = sqlx::query("UPDATE orgs SET storage_id = $2, storage_migrating = true WHERE id = $1")
        .bind(org.as_uuid())
        .bind(uuid(to.map(|l| l.id)))
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    writes::append_audit(c, audit).await?;
    reads::org_by_id(c, org).await
}

async fn storage_progress(c: &mut PgConnection, org: OrgId) -> Q<StorageProgress> {
    let row = sqlx::query(
        "SELECT count(v.secret_id), \
                count(v.secret_id) FILTER (WHERE v.storage_id IS NOT DISTINCT FROM o.storage_id), \
                o.storage_migrating \
         FROM orgs o LEFT JOIN secrets s ON s.org_id = o.id \
         LEFT JOIN secret_versions v ON v.secret_id = s.id WHERE o.id = $1 GROUP BY o.id",
    )
    .bind(org.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(StorageProgress {
        total: rows::u64_at(&row, 0)?,
        done: rows::u64_at(&row, 1)?,
        migrating: get(&row, 2)?,
    })
}

async fn finish_migration(
    c: &mut PgConnection,
    org: OrgId,
    target: Option<StorageId>,
    audit: &AuditDraft,
) -> Q<bool> {
    let row =
        sqlx::query("SELECT storage_id, storage_migrating FROM orgs WHERE id = $1 FOR UPDATE")
            .bind(org.as_uuid())
            .fetch_one(&mut *c)
            .await?;
    let (current, migrating): (Option<Uuid>, bool) = (get(&row, 0)?, get(&row, 1)?);
    if current != uuid(target) || !migrating {
        return Ok(false);
    }
    let left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM secret_versions WHERE storage_id IS DISTINCT FROM $2 \
         AND secret_id IN (SELECT id FROM secrets WHERE org_id = $1))",
    )
    .bind(org.as_uuid())
    .bind(uuid(target))
    .fetch_one(&mut *c)
    .await?;
    if left {
        return Ok(false);
    }
    sqlx::query("UPDATE orgs SET storage_migrating = false WHERE id = $1")
        .bind(org.as_uuid())
        .execute(&mut *c)
        .await?;
    writes::append_audit(c, audit).await?;
    Ok(true)
}

#[async_trait]
impl StorageCatalog for PostgresCatalog {
    async fn storage_location(&self, id: StorageId) -> Result<StorageLocation> {
        self.read(async |c| {
            let row = sqlx::query(concat!(
                "SELECT ",
                location_cols!(),
                " FROM storage_locations WHERE id = $1"
            ))
            .bind(id.as_uuid())
            .fetch_one(c)
            .await?;
            Ok(location(&row)?)
        })
        .await
    }
    async fn storage_locations(&self) -> Result<Vec<StorageLocation>> {
        self.read(async |c| {
            let all = sqlx::query(concat!(
                "SELECT ",
                location_cols!(),
                " FROM storage_locations ORDER BY created_at, id"
            ))
            .fetch_all(c)
            .await?;
            Ok(all.iter().map(location).collect::<Result<_>>()?)
        })
        .await
    }
    async fn set_org_storage(
        &self,
        org: OrgId,
        to: Option<StorageLocation>,
        audit: AuditDraft,
    ) -> Result<OrgRecord> {
        in_tx!(self, |c| set_org_storage(c, org, to.as_ref(), &audit).await)
    }
    async fn storage_progress(&self, org: OrgId) -> Result<StorageProgress> {
        self.read(async |c| storage_progress(c, org).await).await
    }
    async fn orgs_migrating(&self) -> Result<Vec<OrgRecord>> {
        self.read(async |c| {
            let all = sqlx::query(concat!(
                "SELECT ",
                org_cols!(),
                " FROM orgs WHERE storage_migrating ORDER BY slug"
            ))
            .fetch_all(c)
            .await?;
            Ok(rows::all(&all, rows::org)?)
        })
        .await
    }
    async fn versions_elsewhere(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        limit: u32,
    ) -> Result<Vec<VersionRecord>> {
        self.read(async |c| {
            let found = sqlx::query(concat!(
                "SELECT ",
                version_cols!(),
                " FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE org_id = $1) \
                 AND storage_id IS DISTINCT FROM $2 LIMIT $3"
            ))
            .bind(org.as_uuid())
            .bind(uuid(target))
            .bind(i64::from(limit))
            .fetch_all(c)
            .await?;
            Ok(rows::all(&found, rows::version)?)
        })
        .await
    }
    async fn move_version(
        &self,
        secret: SecretId,
        version: u32,
        from: &StoredBlob,
        to: &StoredBlob,
    ) -> Result<bool> {
        in_tx!(self, |c| {
            let q: Q<bool> = async {
                let n = sqlx::query(
                    "UPDATE secret_versions SET storage_id = $5, blob_key = $6 \
                     WHERE secret_id = $1 AND version = $2 \
                     AND storage_id IS NOT DISTINCT FROM $3 AND blob_key = $4 \
                     AND EXISTS (SELECT 1 FROM secrets s JOIN orgs o ON o.id = s.org_id \
                                 WHERE s.id = $1 AND o.storage_id IS NOT DISTINCT FROM $5)",
                )
                .bind(secret.as_uuid())
                .bind(i64::from(version))
                .bind(uuid(from.storage))
                .bind(from.key.as_str())
                .bind(uuid(to.storage))
                .bind(to.key.as_str())
                .execute(&mut *c)
                .await?
                .rows_affected();
                Ok(n == 1)
            }
            .await;
            q
        })
    }
    async fn finish_migration(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        audit: AuditDraft,
    ) -> Result<bool> {
        in_tx!(self, |c| finish_migration(c, org, target, &audit).await)
    }
}
