//! [`UploadCatalog`] on PostgreSQL (`uploads`, migration 5). Creating a grant is one
//! transaction with its audit event and the purge of expired grants. Every lookup is scoped by
//! org, so another org's upload id is not found.

use super::rows::{self, get};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::blob::BlobKey;
use crate::catalog::{PendingUpload, Result, UploadCatalog};
use crate::domain::{OrgId, Scope, SecretId, SecretName, StorageId, Timestamp, UploadId};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

macro_rules! cols {
    () => {
        "id, org_id, secret_id, project, issue, name, kind, version, key_version, \
         wrapped_key, blob_key, storage_id, size, expires_at, created_at, created_by, \
         secret_expires_at, view_limit, restricted"
    };
}

fn upload(row: &PgRow) -> Result<PendingUpload> {
    let project: String = get(row, 3)?;
    let issue = rows::u32_at(row, 4)?;
    Ok(PendingUpload {
        id: UploadId::from_uuid(get(row, 0)?),
        org: OrgId::from_uuid(get(row, 1)?),
        secret: SecretId::from_uuid(get(row, 2)?),
        scope: Scope::from_parts(&project, issue).map_err(|x| rows::corrupt(3, x))?,
        name: rows::parse(row, 5, |s| SecretName::parse(s).ok())?,
        kind: rows::parse(row, 6, |s| s.parse().ok())?,
        version: rows::u32_at(row, 7)?,
        key_version: rows::u32_at(row, 8)?,
        wrapped_key: get(row, 9)?,
        blob_key: rows::parse(row, 10, BlobKey::parse)?,
        storage: get::<Option<uuid::Uuid>>(row, 11)?.map(StorageId::from_uuid),
        size: rows::u64_at(row, 12)?,
        expires_at: rows::ts(row, 13)?,
        created_at: rows::ts(row, 14)?,
        created_by: get(row, 15)?,
        secret_expires_at: rows::opt_ts(row, 16)?,
        view_limit: rows::opt_u32_at(row, 17)?,
        restricted: get(row, 18)?,
    })
}

async fn create(c: &mut PgConnection, u: &PendingUpload, audit: &AuditDraft) -> Q<()> {
    sqlx::query("DELETE FROM uploads WHERE expires_at < $1")
        .bind(u.created_at.millis())
        .execute(&mut *c)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO uploads (",
        cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    ))
    .bind(u.id.as_uuid())
    .bind(u.org.as_uuid())
    .bind(u.secret.as_uuid())
    .bind(u.scope.project().as_str())
    .bind(i64::from(u.scope.issue_number()))
    .bind(u.name.as_str())
    .bind(u.kind.as_str())
    .bind(i64::from(u.version))
    .bind(i64::from(u.key_version))
    .bind(&u.wrapped_key)
    .bind(u.blob_key.as_str())
    .bind(u.storage.map(|s| s.as_uuid()))
    .bind(i64::try_from(u.size).unwrap_or(i64::MAX))
    .bind(u.expires_at.millis())
    .bind(u.created_at.millis())
    .bind(&u.created_by)
    .bind(u.secret_expires_at.map(Timestamp::millis))
    .bind(u.view_limit.map(i64::from))
    .bind(u.restricted)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await
}

#[async_trait]
impl UploadCatalog for PostgresCatalog {
    async fn create_upload(&self, upload: PendingUpload, audit: AuditDraft) -> Result<()> {
        in_tx!(self, |c| create(c, &upload, &audit).await)
    }
    async fn upload(&self, org: OrgId, id: UploadId) -> Result<PendingUpload> {
        self.read(async |c| {
            let row = sqlx::query(concat!(
                "SELECT ",
                cols!(),
                " FROM uploads WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.as_uuid())
            .bind(org.as_uuid())
            .fetch_one(c)
            .await?;
            Ok(upload(&row)?)
        })
        .await
    }
    async fn delete_upload(&self, org: OrgId, id: UploadId) -> Result<bool> {
        in_tx!(self, |c| {
            let q: Q<bool> = async {
                let n = sqlx::query("DELETE FROM uploads WHERE id = $1 AND org_id = $2")
                    .bind(id.as_uuid())
                    .bind(org.as_uuid())
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }
            .await;
            q
        })
    }
}
