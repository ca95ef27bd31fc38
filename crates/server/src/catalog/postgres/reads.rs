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
    AuditFilter, CatalogError, MemberRecord, MembershipRecord, OrgRecord, Principal, RevealTarget,
    SecretFilter, SecretRecord, StoredBlob, TokenRecord, UserRecord, VersionRecord,
};
use crate::domain::{OrgId, OrgSlug, Scope, SecretId, SecretName, TokenId, UserId, UserName};
use crate::keys::OrgKeyWrap;
use sqlx::PgConnection;

/// A u32/u64 bound into a BIGINT column (u64 saturates: no count or limit reaches it).
pub(super) async fn org_by_slug(c: &mut PgConnection, slug: &OrgSlug) -> Q<OrgRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        org_cols!(),
        " FROM orgs WHERE slug = $1"
    ))
    .bind(slug.as_str())
    .fetch_one(c)
    .await?;
    Ok(rows::org(&row)?)
}

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

pub(super) async fn authenticate(c: &mut PgConnection, hash: &[u8; 32]) -> Q<Option<Principal>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        ", ",
        user_cols!(),
        ", m.role FROM tokens t JOIN users u ON u.id = t.user_id \
         LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id WHERE t.hash = $1"
    ))
    .bind(&hash[..])
    .fetch_optional(c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let at = rows::TOKEN_WIDTH + rows::USER_WIDTH;
    let role = match rows::get::<Option<String>>(&r, at)? {
        Some(_) => Some(rows::role_at(&r, at)?),
        None => None,
    };
    Ok(Some(Principal {
        token: rows::token(&r)?,
        user: rows::user(&r, rows::TOKEN_WIDTH)?,
        role,
    }))
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

pub(super) async fn secret(
    c: &mut PgConnection,
    org: OrgId,
    scope: &Scope,
    name: &SecretName,
) -> Q<SecretRecord> {
    secret_at(c, org, scope, name, false)
        .await?
        .ok_or_else(|| CatalogError::NotFound.into())
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

/// A reveal's three reads on one pooled connection (one checkout instead of three; still three
/// round trips — a single joined statement would save two more).
pub(super) async fn reveal_target(
    c: &mut PgConnection,
    slug: &OrgSlug,
    scope: &Scope,
    name: &SecretName,
    version: Option<u32>,
) -> Q<RevealTarget> {
    // One statement, so one round trip and one snapshot: a reveal's reads on every request.
    // The Jira link's columns are `site_cols!()` of `jira_sites`.
    let row = sqlx::query(
        "SELECT o.id, o.slug, o.name, o.location, o.status, o.suspended_reason, o.key_version, \
         o.created_at, o.storage_id, \
         s.id, s.org_id, s.project, s.issue, s.name, s.kind, s.version, s.deleted_at, s.created_at, \
         s.created_by, s.updated_at, s.updated_by, s.expires_at, s.view_limit, s.views, s.restricted, \
         v.secret_id, v.version, v.key_version, v.blob_key, v.wrapped_key, v.size, v.created_at, \
         v.created_by, v.storage_id, \
         j.org_id, j.kind, j.site_url, j.cloud_id, j.client_id, j.secret_id, j.secret_key_version, \
         j.secret_envelope, j.hook_id, j.hook_key_version, j.hook_envelope, j.expose_names, \
         j.retention_days, j.generation, j.updated_at, j.updated_by \
         FROM orgs o \
         LEFT JOIN secrets s ON s.org_id = o.id AND s.project = $2 AND s.issue = $3 AND s.name = $4 \
         AND NOT s.destroyed \
         LEFT JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE($5, s.version) \
         LEFT JOIN jira_sites j ON j.org_id = o.id \
         WHERE o.slug = $1",
    )
    .bind(slug.as_str())
    .bind(scope.project().as_str())
    .bind(i64::from(scope.issue_number()))
    .bind(name.as_str())
    .bind(version.map(i64::from))
    .fetch_one(c)
    .await?;
    let secret_at = rows::ORG_WIDTH;
    let version_at = secret_at + rows::SECRET_WIDTH;
    let jira_at = version_at + rows::VERSION_WIDTH;
    let present = |col: usize| rows::get::<Option<uuid::Uuid>>(&row, col).map(|id| id.is_some());
    Ok(RevealTarget {
        org: rows::org(&row)?,
        secret: match present(secret_at)? {
            true => Some(rows::secret_from(&row, secret_at)?),
            false => None,
        },
        version: match present(version_at)? {
            true => Some(rows::version_from(&row, version_at)?),
            false => None,
        },
        jira: match present(jira_at)? {
            true => Some(super::jira::site_from(&row, jira_at)?),
            false => None,
        },
    })
}
