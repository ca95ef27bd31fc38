//! The secret write paths — versions, reveals, soft deletion, destruction — split from
//! [`super::writes`] for size; the same rules apply (one transaction each, READ COMMITTED plus
//! row locks, the org row locked last by the audit append).
//!
//! The two races the conformance suite fires at them: concurrent `put_version`s of the same
//! next version lock the live secret row (`FOR UPDATE`), so the first commits and the rest, once
//! they get the lock, see its version and report `Conflict`; a first version racing on a new
//! name loses at the partial unique index (`ON CONFLICT … DO NOTHING` waits for the winner) and
//! reports the winner's version. Concurrent reveals of a view-limited secret are one conditional
//! `UPDATE`, re-evaluated on the newest row after each lock wait, so the limit never overshoots.

use super::rows::{self, secret_cols};
use super::writes::append_audit;
use super::{Q, reads};
use crate::audit::AuditDraft;
use crate::blob::BlobKey;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{CatalogError, NewVersion, SecretRecord, StoredBlob, Views, rules};
use crate::domain::{SecretId, StorageId, Timestamp};
use sqlx::PgConnection;

pub(super) async fn put_version(
    c: &mut PgConnection,
    v: &NewVersion,
    audit: &AuditDraft,
) -> Q<SecretRecord> {
    let live = reads::secret_at(c, v.org, &v.scope, &v.name, true).await?;
    let updated = match rules::version_step(live.as_ref(), v.secret, v.version)? {
        rules::VersionStep::Create => match insert_secret(c, v).await? {
            Some(s) => s,
            // A concurrent writer created the name first (we waited for its commit).
            None => {
                let current = reads::secret_at(c, v.org, &v.scope, &v.name, false)
                    .await?
                    .map_or(0, |s| s.version);
                return Err(CatalogError::Conflict { current }.into());
            }
        },
        rules::VersionStep::Append => {
            let row = sqlx::query(concat!(
                "UPDATE secrets SET version = $2, kind = $3, updated_at = $4, updated_by = $5, \
                 expires_at = COALESCE($6, expires_at), view_limit = COALESCE($7, view_limit) WHERE id = $1 RETURNING ",
                secret_cols!()
            ))
            .bind(v.secret.as_uuid())
            .bind(i64::from(v.version))
            .bind(v.kind.as_str())
            .bind(v.at.millis())
            .bind(&v.by)
            .bind(v.expires_at.map(|t| t.millis()))
            .bind(v.view_limit.map(i64::from))
            .fetch_one(&mut *c)
            .await?;
            rows::secret(&row)?
        }
    };
    let counted = sqlx::query("UPDATE org_keys SET encryptions = encryptions + $4 WHERE org_id = $1 AND version = $2 AND encryptions <= $3")
        .bind(v.org.as_uuid())
        .bind(i64::from(v.key_version))
        .bind(rules::last_count_allowing_a_version(v.max_encryptions))
        .bind(rules::WRAPS_PER_VERSION)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if counted == 0 {
        return Err(CatalogError::KeyExhausted.into()); // rolls back the secret change too
    }
    sqlx::query(
        "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by, storage_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(v.secret.as_uuid())
    .bind(i64::from(v.version))
    .bind(i64::from(v.key_version))
    .bind(v.blob_key.as_str())
    .bind(&v.wrapped_key)
    .bind(saturating_i64(v.size))
    .bind(v.at.millis())
    .bind(&v.by)
    .bind(v.storage.map(|s| s.as_uuid()))
    .execute(&mut *c)
    .await?;
    // A write that raced a storage change landed outside the org's storage: the migration
    // must pick it up, so it may not be finished yet.
    sqlx::query(
        "UPDATE orgs SET storage_migrating = true WHERE id = $1 AND storage_id IS DISTINCT FROM $2",
    )
    .bind(v.org.as_uuid())
    .bind(v.storage.map(|s| s.as_uuid()))
    .execute(&mut *c)
    .await?;
    append_audit(c, audit).await?;
    Ok(updated)
}

/// Inserts version 1; `None` if a live secret already has the name.
async fn insert_secret(c: &mut PgConnection, v: &NewVersion) -> Q<Option<SecretRecord>> {
    let row = sqlx::query(concat!(
        "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by, expires_at, view_limit, restricted) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $7, $8, $9, $10, $11) \
         ON CONFLICT (org_id, project, issue, name) WHERE NOT destroyed DO NOTHING RETURNING ",
        secret_cols!()
    ))
    .bind(v.secret.as_uuid())
    .bind(v.org.as_uuid())
    .bind(v.scope.project().as_str())
    .bind(i64::from(v.scope.issue_number()))
    .bind(v.name.as_str())
    .bind(v.kind.as_str())
    .bind(v.at.millis())
    .bind(&v.by)
    .bind(v.expires_at.map(|t| t.millis()))
    .bind(v.view_limit.map(i64::from))
    .bind(v.restricted_to.is_some())
    .fetch_optional(&mut *c)
    .await?;
    if let (Some(creator), Some(_)) = (v.restricted_to, &row) {
        sqlx::query(
            "INSERT INTO shares (secret_id, user_id, level, created_at, created_by) VALUES ($1, $2, 'manage', $3, $4)",
        )
        .bind(v.secret.as_uuid())
        .bind(creator.as_uuid())
        .bind(v.at.millis())
        .bind(&v.by)
        .execute(&mut *c)
        .await?;
    }
    Ok(row.as_ref().map(rows::secret).transpose()?)
}

pub(super) async fn record_view(
    c: &mut PgConnection,
    secret: SecretId,
    audit: &AuditDraft,
) -> Q<Views> {
    // Waiting racers re-check the WHERE on the row the previous reveal committed: no overshoot.
    let row = sqlx::query(
        "UPDATE secrets SET views = views + 1 WHERE id = $1 AND NOT destroyed \
         AND (view_limit IS NULL OR views < view_limit) RETURNING views, view_limit",
    )
    .bind(secret.as_uuid())
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else {
        reads::secret_by_id(c, secret).await?; // NotFound if it is gone
        return Err(CatalogError::ViewLimitReached.into());
    };
    let views = Views {
        count: rows::u32_at(&row, 0)?,
        limit: rows::opt_u32_at(&row, 1)?,
    };
    append_audit(c, audit).await?;
    Ok(views)
}

pub(super) async fn set_deleted(
    c: &mut PgConnection,
    secret: SecretId,
    at: Option<Timestamp>,
    audit: &AuditDraft,
) -> Q<SecretRecord> {
    let row = sqlx::query(concat!(
        "UPDATE secrets SET deleted_at = $2 WHERE id = $1 AND NOT destroyed RETURNING ",
        secret_cols!()
    ))
    .bind(secret.as_uuid())
    .bind(at.map(|t| t.millis()))
    .fetch_one(&mut *c)
    .await?;
    let s = rows::secret(&row)?;
    append_audit(c, audit).await?;
    Ok(s)
}

pub(super) async fn destroy(
    c: &mut PgConnection,
    secret: SecretId,
    audit: &AuditDraft,
) -> Q<Vec<StoredBlob>> {
    let n = sqlx::query("UPDATE secrets SET destroyed = true WHERE id = $1 AND NOT destroyed")
        .bind(secret.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    let gone = sqlx::query(
        "DELETE FROM secret_versions WHERE secret_id = $1 RETURNING version, blob_key, storage_id",
    )
    .bind(secret.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let mut keys: Vec<(i64, StoredBlob)> = rows::all(&gone, |r| {
        let key: String = rows::get(r, 1)?;
        let key = BlobKey::parse(&key)
            .ok_or_else(|| CatalogError::Corrupt(format!("blob key {key:?}")))?;
        let storage = rows::get::<Option<uuid::Uuid>>(r, 2)?.map(StorageId::from_uuid);
        Ok((rows::get(r, 0)?, StoredBlob { storage, key }))
    })?;
    keys.sort_by_key(|k| std::cmp::Reverse(k.0)); // newest first, as `versions` lists them
    // One-time links hold sealed copies of its values: they go with it, and open requests for
    // its name would bring it back.
    sqlx::query("DELETE FROM links WHERE secret_id = $1")
        .bind(secret.as_uuid())
        .execute(&mut *c)
        .await?;
    super::links::revoke_requests_for(c, secret, audit.at).await?;
    append_audit(c, audit).await?;
    Ok(keys.into_iter().map(|(_, k)| k).collect())
}
