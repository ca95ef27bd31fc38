//! Every read-only catalog query as a plain async function over one connection. The trait's read
//! methods run them on a pooled connection outside any explicit transaction (each statement sees
//! the latest committed state); the writes in [`super::writes`] reuse some of them inside their
//! transaction, after taking the row locks they need, so those reads see the locked state.
//! Optional filters use `$n::type IS NULL OR …` so one prepared statement serves every
//! combination, as on SQLite.

use super::Q;
use super::rows::{self, audit_cols, org_cols, secret_cols, token_cols, user_cols, version_cols};
use crate::audit::AuditRecord;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{
    AuditFilter, CatalogError, MemberRecord, MembershipRecord, OrgRecord, SecretFilter,
    SecretRecord, StoredBlob, TokenRecord, UserRecord, VersionRecord,
};
use crate::domain::{OrgId, OrgSlug, Scope, SecretId, SecretName, TokenId, UserId, UserName};
use crate::keys::OrgKeyWrap;
use sqlx::PgConnection;

pub(super) async fn org_by_id(c: &mut PgConnection, id: OrgId) -> Q<OrgRecord> {
    let row = sqlx::query(concat!("SELECT ", org_cols!(), " FROM orgs WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_one(c)
        .await?;
    Ok(rows::org(&row)?)
}

pub(super) async fn list_orgs(c: &mut PgConnection) -> Q<Vec<OrgRecord>> {
    let list = sqlx::query(concat!("SELECT ", org_cols!(), " FROM orgs ORDER BY slug"))
        .fetch_all(c)
        .await?;
    Ok(rows::all(&list, rows::org)?)
}

pub(super) async fn org_key_wraps(
    c: &mut PgConnection,
    org: OrgId,
    version: u32,
) -> Q<Vec<OrgKeyWrap>> {
    let list = sqlx::query("SELECT provider, key_ref, wrapped FROM org_key_wraps WHERE org_id = $1 AND version = $2 ORDER BY slot")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .fetch_all(c)
        .await?;
    let wraps = rows::all(&list, |r| {
        Ok(OrgKeyWrap {
            provider: rows::get(r, 0)?,
            key_ref: rows::get(r, 1)?,
            bytes: rows::get(r, 2)?,
        })
    })?;
    if wraps.is_empty() {
        Err(CatalogError::NotFound.into())
    } else {
        Ok(wraps)
    }
}

pub(super) async fn org_key_encryptions(c: &mut PgConnection, org: OrgId, version: u32) -> Q<u64> {
    let row = sqlx::query("SELECT encryptions FROM org_keys WHERE org_id = $1 AND version = $2")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .fetch_one(c)
        .await?;
    Ok(rows::u64_at(&row, 0)?)
}

pub(super) async fn user_by_name(c: &mut PgConnection, name: &UserName) -> Q<UserRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM users u WHERE u.name = $1 AND u.kind <> 'service'"
    ))
    .bind(name.as_str())
    .fetch_one(c)
    .await?;
    Ok(rows::user(&row, 0)?)
}

pub(super) async fn user_by_id(c: &mut PgConnection, id: UserId) -> Q<UserRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM users u WHERE u.id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(rows::user(&row, 0)?)
}

pub(super) async fn service_account(
    c: &mut PgConnection,
    org: OrgId,
    name: &UserName,
) -> Q<UserRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM users u WHERE u.kind = 'service' AND u.org_id = $1 AND u.name = $2"
    ))
    .bind(org.as_uuid())
    .bind(name.as_str())
    .fetch_one(c)
    .await?;
    Ok(rows::user(&row, 0)?)
}

pub(super) async fn member(c: &mut PgConnection, org: OrgId, user: UserId) -> Q<MemberRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        ", m.role FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND m.user_id = $2"
    ))
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(MemberRecord {
        user: rows::user(&row, 0)?,
        role: rows::role_at(&row, rows::USER_WIDTH)?,
    })
}

pub(super) async fn memberships(c: &mut PgConnection, user: UserId) -> Q<Vec<MembershipRecord>> {
    let list = sqlx::query(
        "SELECT o.id, o.slug, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id \
         WHERE m.user_id = $1 ORDER BY o.slug",
    )
    .bind(user.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, |r| {
        Ok(MembershipRecord {
            org: OrgId::from_uuid(rows::get(r, 0)?),
            slug: rows::parse(r, 1, |s| OrgSlug::parse(s).ok())?,
            role: rows::role_at(r, 2)?,
        })
    })?)
}

pub(super) async fn list_members(c: &mut PgConnection, org: OrgId) -> Q<Vec<MemberRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        ", m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.name"
    ))
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, |r| {
        Ok(MemberRecord {
            user: rows::user(r, 0)?,
            role: rows::role_at(r, rows::USER_WIDTH)?,
        })
    })?)
}

pub(super) async fn list_tokens(c: &mut PgConnection, org: Option<OrgId>) -> Q<Vec<TokenRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.org_id IS NOT DISTINCT FROM $1 \
         ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(org.map(|o| o.as_uuid()))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, rows::token)?)
}

pub(super) async fn token(c: &mut PgConnection, org: Option<OrgId>, id: TokenId) -> Q<TokenRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1 \
         AND t.org_id IS NOT DISTINCT FROM $2"
    ))
    .bind(id.as_uuid())
    .bind(org.map(|o| o.as_uuid()))
    .fetch_one(c)
    .await?;
    Ok(rows::token(&row)?)
}

/// The live secret at `scope`/`name`; with `lock`, also takes its row lock until commit.
pub(super) async fn secret_at(
    c: &mut PgConnection,
    org: OrgId,
    scope: &Scope,
    name: &SecretName,
    lock: bool,
) -> Q<Option<SecretRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        secret_cols!(),
        " FROM secrets WHERE org_id = $1 AND project = $2 AND issue = $3 AND name = $4 AND NOT destroyed"
    );
    const LOCKING: &str = concat!(
        "SELECT ",
        secret_cols!(),
        " FROM secrets WHERE org_id = $1 AND project = $2 AND issue = $3 AND name = $4 AND NOT destroyed FOR UPDATE"
    );
    let row = sqlx::query(if lock { LOCKING } else { SQL })
        .bind(org.as_uuid())
        .bind(scope.project().as_str())
        .bind(i64::from(scope.issue_number()))
        .bind(name.as_str())
        .fetch_optional(c)
        .await?;
    Ok(row.as_ref().map(rows::secret).transpose()?)
}

pub(super) async fn list_secrets(
    c: &mut PgConnection,
    org: OrgId,
    f: &SecretFilter,
) -> Q<Vec<SecretRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        secret_cols!(),
        " FROM secrets WHERE org_id = $1 AND NOT destroyed \
         AND ($2::text IS NULL OR project = $2) AND ($3::bigint IS NULL OR issue = $3) \
         AND ($4::text IS NULL OR starts_with(name, $4)) AND ($5::boolean OR deleted_at IS NULL) \
         ORDER BY project, issue, name LIMIT $6"
    ))
    .bind(org.as_uuid())
    .bind(f.project.as_ref().map(|p| p.as_str()))
    .bind(f.issue.map(i64::from))
    .bind(f.name_prefix.as_deref())
    .bind(f.include_deleted)
    .bind(i64::from(f.limit))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, rows::secret)?)
}

pub(super) async fn version(
    c: &mut PgConnection,
    secret: SecretId,
    version: u32,
) -> Q<VersionRecord> {
    version_at(c, secret, version)
        .await?
        .ok_or_else(|| CatalogError::NotFound.into())
}

async fn version_at(
    c: &mut PgConnection,
    secret: SecretId,
    version: u32,
) -> Q<Option<VersionRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        version_cols!(),
        " FROM secret_versions WHERE secret_id = $1 AND version = $2"
    ))
    .bind(secret.as_uuid())
    .bind(i64::from(version))
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(rows::version).transpose()?)
}

pub(super) async fn versions(c: &mut PgConnection, secret: SecretId) -> Q<Vec<VersionRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        version_cols!(),
        " FROM secret_versions WHERE secret_id = $1 ORDER BY version DESC"
    ))
    .bind(secret.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, rows::version)?)
}

pub(super) async fn blob_referenced(c: &mut PgConnection, blob: &StoredBlob) -> Q<bool> {
    let found = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM secret_versions \
         WHERE blob_key = $1 AND storage_id IS NOT DISTINCT FROM $2)",
    )
    .bind(blob.key.as_str())
    .bind(blob.storage.map(|s| s.as_uuid()))
    .fetch_one(c)
    .await?;
    Ok(found)
}

pub(super) async fn audit_events(
    c: &mut PgConnection,
    org: OrgId,
    f: &AuditFilter,
) -> Q<Vec<AuditRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        audit_cols!(),
        " FROM audit_events WHERE org_id = $1 AND seq > $2 AND ($3::text IS NULL OR action = $3) \
         AND ($4::text IS NULL OR actor = $4) AND ($6::text IS NULL OR target = $6) ORDER BY seq LIMIT $5"
    ))
    .bind(org.as_uuid())
    .bind(saturating_i64(f.after_seq))
    .bind(f.action.as_deref())
    .bind(f.actor.as_deref())
    .bind(i64::from(f.limit))
    .bind(f.target.as_deref())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, rows::audit)?)
}
