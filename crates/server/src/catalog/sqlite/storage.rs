//! [`StorageCatalog`] on SQLite (`storage_locations`, `orgs.storage_id`/`storage_migrating`,
//! `secret_versions.storage_id`, migration 3). Reads run on the read pool; the writes run on the
//! group-commit writer, whose single connection makes every check-and-set here race-free within
//! the database. NULL is the default store, compared with `IS` so NULL matches NULL.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, OrgRecord, StorageCatalog, StorageLocation, StorageProgress, StoredBlob,
    VersionRecord,
};
use crate::domain::{AwsRegion, BucketName, KeyPrefix, OrgId, SecretId, StorageId, Timestamp};
use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

type R<T> = Result<T, CatalogError>;

const LOCATION_COLS: &str = "id, org_id, bucket, region, endpoint, prefix, created_at, created_by";

fn location(row: &Row) -> rusqlite::Result<StorageLocation> {
    let text = |col: usize| row.get::<_, String>(col);
    let prefix: Option<String> = row.get(5)?;
    Ok(StorageLocation {
        id: StorageId::from_uuid(rows::uuid_at(row, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(row, 1)?),
        bucket: BucketName::parse(&text(2)?).map_err(|x| rows::bad(2, x.to_string()))?,
        region: AwsRegion::parse(&text(3)?).map_err(|x| rows::bad(3, x.to_string()))?,
        endpoint: row.get(4)?,
        prefix: match prefix {
            Some(p) => KeyPrefix::parse_optional(&p).map_err(|x| rows::bad(5, x.to_string()))?,
            None => None,
        },
        created_at: Timestamp::from_millis(row.get(6)?),
        created_by: row.get(7)?,
    })
}

fn id_bytes(s: Option<StorageId>) -> Option<[u8; 16]> {
    s.map(|s| s.to_bytes())
}

fn set_org_storage(
    conn: &Tx,
    org: OrgId,
    to: Option<&StorageLocation>,
    audit: &AuditDraft,
) -> R<OrgRecord> {
    if let Some(l) = to {
        if l.org != org {
            return Err(CatalogError::Refused(
                "a storage location belongs to the org that saved it".into(),
            ));
        }
        conn.execute(
            &format!("INSERT INTO storage_locations ({LOCATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING"),
            params![
                l.id.to_bytes(),
                l.org.to_bytes(),
                l.bucket.as_str(),
                l.region.as_str(),
                l.endpoint,
                l.prefix.as_ref().map(KeyPrefix::as_str),
                l.created_at.millis(),
                l.created_by
            ],
        )
        .map_err(e)?;
    }
    let n = conn
        .execute(
            "UPDATE orgs SET storage_id = ?2, storage_migrating = 1 WHERE id = ?1",
            params![org.to_bytes(), id_bytes(to.map(|l| l.id))],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    writes::append_audit(conn, audit)?;
    reads::org_by_id(conn, org)
}

fn storage_progress(conn: &Connection, org: OrgId) -> R<StorageProgress> {
    conn.query_row(
        "SELECT count(v.secret_id), \
         coalesce(sum(v.secret_id IS NOT NULL AND v.storage_id IS o.storage_id), 0), \
         o.storage_migrating \
         FROM orgs o LEFT JOIN secrets s ON s.org_id = o.id \
         LEFT JOIN secret_versions v ON v.secret_id = s.id WHERE o.id = ?1 GROUP BY o.id",
        [org.to_bytes()],
        |r| {
            Ok(StorageProgress {
                total: r.get::<_, i64>(0)? as u64,
                done: r.get::<_, i64>(1)? as u64,
                migrating: r.get(2)?,
            })
        },
    )
    .map_err(e)
}

fn versions_elsewhere(
    conn: &Connection,
    org: OrgId,
    target: Option<StorageId>,
    limit: u32,
) -> R<Vec<VersionRecord>> {
    let sql = format!(
        "SELECT {} FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE org_id = ?1) \
         AND storage_id IS NOT ?2 LIMIT ?3",
        rows::VERSION_COLS
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(e)?;
    let found = stmt
        .query_map(
            params![org.to_bytes(), id_bytes(target), limit],
            rows::version,
        )
        .map_err(e)?;
    found.collect::<rusqlite::Result<_>>().map_err(e)
}

fn finish_migration(
    conn: &Tx,
    org: OrgId,
    target: Option<StorageId>,
    audit: &AuditDraft,
) -> R<bool> {
    let n = conn
        .execute(
            "UPDATE orgs SET storage_migrating = 0 WHERE id = ?1 AND storage_id IS ?2 AND storage_migrating = 1 \
             AND NOT EXISTS (SELECT 1 FROM secret_versions WHERE storage_id IS NOT ?2 \
                 AND secret_id IN (SELECT id FROM secrets WHERE org_id = ?1))",
            params![org.to_bytes(), id_bytes(target)],
        )
        .map_err(e)?;
    if n == 1 {
        writes::append_audit(conn, audit)?;
    }
    Ok(n == 1)
}

#[async_trait]
impl StorageCatalog for SqliteCatalog {
    async fn storage_location(&self, id: StorageId) -> R<StorageLocation> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {LOCATION_COLS} FROM storage_locations WHERE id = ?1"),
                [id.to_bytes()],
                location,
            )
            .map_err(e)
        })
        .await
    }
    async fn storage_locations(&self) -> R<Vec<StorageLocation>> {
        self.read(|c| {
            let mut s = c
                .prepare(&format!(
                    "SELECT {LOCATION_COLS} FROM storage_locations ORDER BY created_at, id"
                ))
                .map_err(e)?;
            let all = s.query_map([], location).map_err(e)?;
            all.collect::<rusqlite::Result<_>>().map_err(e)
        })
        .await
    }
    async fn set_org_storage(
        &self,
        org: OrgId,
        to: Option<StorageLocation>,
        audit: AuditDraft,
    ) -> R<OrgRecord> {
        self.writer
            .write(move |c| set_org_storage(c, org, to.as_ref(), &audit))
            .await
    }
    async fn storage_progress(&self, org: OrgId) -> R<StorageProgress> {
        self.read(move |c| storage_progress(c, org)).await
    }
    async fn orgs_migrating(&self) -> R<Vec<OrgRecord>> {
        self.read(|c| {
            let mut s = c
                .prepare(&format!(
                    "SELECT {} FROM orgs WHERE storage_migrating = 1 ORDER BY slug",
                    rows::ORG_COLS
                ))
                .map_err(e)?;
            let all = s.query_map([], rows::org).map_err(e)?;
            all.collect::<rusqlite::Result<_>>().map_err(e)
        })
        .await
    }
    async fn versions_elsewhere(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        limit: u32,
    ) -> R<Vec<VersionRecord>> {
        self.read(move |c| versions_elsewhere(c, org, target, limit))
            .await
    }
    async fn move_version(
        &self,
        secret: SecretId,
        version: u32,
        from: &StoredBlob,
        to: &StoredBlob,
    ) -> R<bool> {
        let (from, to) = (from.clone(), to.clone());
        self.writer
            .write(move |c| {
                c.execute(
                    "UPDATE secret_versions SET storage_id = ?5, blob_key = ?6 \
                     WHERE secret_id = ?1 AND version = ?2 AND storage_id IS ?3 AND blob_key = ?4 \
                     AND EXISTS (SELECT 1 FROM secrets s JOIN orgs o ON o.id = s.org_id \
                                 WHERE s.id = ?1 AND o.storage_id IS ?5)",
                    params![
                        secret.to_bytes(),
                        version,
                        id_bytes(from.storage),
                        from.key.as_str(),
                        id_bytes(to.storage),
                        to.key.as_str()
                    ],
                )
                .map(|n| n == 1)
                .map_err(e)
            })
            .await
    }
    async fn finish_migration(
        &self,
        org: OrgId,
        target: Option<StorageId>,
        audit: AuditDraft,
    ) -> R<bool> {
        self.writer
            .write(move |c| finish_migration(c, org, target, &audit))
            .await
    }
}
