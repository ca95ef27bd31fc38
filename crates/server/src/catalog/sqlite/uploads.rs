//! [`UploadCatalog`] on SQLite (`uploads`, migration 5). Creating a grant runs on the
//! group-commit writer together with its audit event and the purge of expired grants; reads run
//! on the read pool. Every lookup is scoped by org, so another org's upload id is not found.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, rows, writes};
use crate::audit::AuditDraft;
use crate::blob::BlobKey;
use crate::catalog::{CatalogError, PendingUpload, UploadCatalog};
use crate::domain::{OrgId, Scope, SecretId, SecretName, StorageId, Timestamp, UploadId};
use async_trait::async_trait;
use rusqlite::{Row, params};

type R<T> = Result<T, CatalogError>;

const COLS: &str = "id, org_id, secret_id, project, issue, name, kind, version, key_version, \
     wrapped_key, blob_key, storage_id, size, expires_at, created_at, created_by, \
     secret_expires_at, view_limit, restricted";

fn upload(row: &Row) -> rusqlite::Result<PendingUpload> {
    let project: String = row.get(3)?;
    let issue: u32 = row.get(4)?;
    Ok(PendingUpload {
        id: UploadId::from_uuid(rows::uuid_at(row, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(row, 1)?),
        secret: SecretId::from_uuid(rows::uuid_at(row, 2)?),
        scope: Scope::from_parts(&project, issue).map_err(|x| rows::bad(3, x.to_string()))?,
        name: rows::parse_at(row, 5, |s| SecretName::parse(s).ok())?,
        kind: rows::parse_at(row, 6, |s| s.parse().ok())?,
        version: row.get(7)?,
        key_version: row.get(8)?,
        wrapped_key: row.get(9)?,
        blob_key: rows::parse_at(row, 10, BlobKey::parse)?,
        storage: rows::opt_uuid_at(row, 11)?.map(StorageId::from_uuid),
        size: row.get::<_, i64>(12)? as u64,
        expires_at: Timestamp::from_millis(row.get(13)?),
        created_at: Timestamp::from_millis(row.get(14)?),
        created_by: row.get(15)?,
        secret_expires_at: rows::opt_ts(row, 16)?,
        view_limit: row.get(17)?,
        restricted: row.get(18)?,
    })
}

fn create(c: &Tx, u: &PendingUpload, audit: &AuditDraft) -> R<()> {
    c.execute(
        "DELETE FROM uploads WHERE expires_at < ?1",
        [u.created_at.millis()],
    )
    .map_err(e)?;
    c.execute(
        &format!(
            "INSERT INTO uploads ({COLS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ),
        params![
            u.id.to_bytes(),
            u.org.to_bytes(),
            u.secret.to_bytes(),
            u.scope.project().as_str(),
            u.scope.issue_number(),
            u.name.as_str(),
            u.kind.as_str(),
            u.version,
            u.key_version,
            u.wrapped_key,
            u.blob_key.as_str(),
            u.storage.map(|s| s.to_bytes()),
            u.size as i64,
            u.expires_at.millis(),
            u.created_at.millis(),
            u.created_by,
            u.secret_expires_at.map(Timestamp::millis),
            u.view_limit,
            u.restricted,
        ],
    )
    .map_err(e)?;
    writes::append_audit(c, audit)
}

#[async_trait]
impl UploadCatalog for SqliteCatalog {
    async fn create_upload(&self, upload: PendingUpload, audit: AuditDraft) -> R<()> {
        self.writer.write(move |c| create(c, &upload, &audit)).await
    }
    async fn upload(&self, org: OrgId, id: UploadId) -> R<PendingUpload> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {COLS} FROM uploads WHERE id = ?1 AND org_id = ?2"),
                [id.to_bytes(), org.to_bytes()],
                upload,
            )
            .map_err(e)
        })
        .await
    }
    async fn delete_upload(&self, org: OrgId, id: UploadId) -> R<bool> {
        self.writer
            .write(move |c| {
                c.execute(
                    "DELETE FROM uploads WHERE id = ?1 AND org_id = ?2",
                    [id.to_bytes(), org.to_bytes()],
                )
                .map(|n| n == 1)
                .map_err(e)
            })
            .await
    }
}
