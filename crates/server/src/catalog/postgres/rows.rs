//! Mapping between PostgreSQL rows and catalog records, and the column lists the queries select.
//! Ids are native `uuid`, times and counters BIGINT, enums lowercase text (the same text as on
//! SQLite). Anything that does not decode or parse — a wrong type, a NULL where none belongs, a
//! negative or oversized counter, an unknown enum, a hash that is not 32 bytes — becomes
//! `CatalogError::Corrupt` here, so a bad row never reaches the service as a half-valid record.
//! Column lists are macros so `concat!` can build each query as a `&'static str`, which sqlx 0.9
//! requires (`SqlSafeStr`) and which keeps every statement in the per-connection prepared cache.

use crate::audit::AuditRecord;
use crate::blob::BlobKey;
use crate::catalog::{
    CatalogError, OrgRecord, SecretRecord, TokenRecord, UserRecord, VersionRecord,
};
use crate::domain::{
    OrgId, OrgSlug, Role, Scope, SecretId, SecretName, StorageId, Timestamp, TokenId, UserId,
    UserName,
};
use sqlx::Row;
use sqlx::postgres::{PgRow, Postgres};

type C<T> = Result<T, CatalogError>;

pub(super) fn corrupt(col: usize, what: impl std::fmt::Display) -> CatalogError {
    CatalogError::Corrupt(format!("column {col}: {what}"))
}

/// Column `col` decoded as `T` (`Corrupt` if it does not decode).
pub(super) fn get<'r, T>(row: &'r PgRow, col: usize) -> C<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(col).map_err(|e| corrupt(col, e))
}

pub(super) fn parse<T>(row: &PgRow, col: usize, f: impl FnOnce(&str) -> Option<T>) -> C<T> {
    let s: String = get(row, col)?;
    f(&s).ok_or_else(|| corrupt(col, format_args!("unexpected value {s:?}")))
}

/// A BIGINT that must hold a `u32`.
pub(super) fn u32_at(row: &PgRow, col: usize) -> C<u32> {
    let n: i64 = get(row, col)?;
    u32::try_from(n).map_err(|_| corrupt(col, format_args!("{n} is out of range")))
}

pub(super) fn opt_u32_at(row: &PgRow, col: usize) -> C<Option<u32>> {
    match get::<Option<i64>>(row, col)? {
        None => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| corrupt(col, format_args!("{n} is out of range"))),
    }
}

/// A BIGINT that must hold a `u64` (that is, be non-negative).
pub(super) fn u64_at(row: &PgRow, col: usize) -> C<u64> {
    let n: i64 = get(row, col)?;
    u64::try_from(n).map_err(|_| corrupt(col, format_args!("{n} is negative")))
}

pub(super) fn ts(row: &PgRow, col: usize) -> C<Timestamp> {
    get(row, col).map(Timestamp::from_millis)
}

pub(super) fn opt_ts(row: &PgRow, col: usize) -> C<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_millis))
}

macro_rules! org_cols {
    () => {
        "id, slug, name, location, status, suspended_reason, key_version, created_at, storage_id"
    };
}
/// The columns of an identity, [`USER_WIDTH`] of them.
macro_rules! user_cols {
    () => {
        "u.id, u.name, u.kind, u.org_id, u.created_at"
    };
}
/// How many columns `user_cols!()` is.
pub(super) const USER_WIDTH: usize = 5;
/// How many columns `token_cols!()` is.
pub(super) const TOKEN_WIDTH: usize = 9;
macro_rules! token_cols {
    () => {
        "t.id, t.hash, t.user_id, u.name, t.org_id, t.name, t.created_at, t.expires_at, t.revoked_at"
    };
}
macro_rules! secret_cols {
    () => {
        "id, org_id, project, issue, name, kind, version, deleted_at, created_at, created_by, \
         updated_at, updated_by, expires_at, view_limit, views, restricted"
    };
}
macro_rules! version_cols {
    () => {
        "secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by, \
         storage_id"
    };
}
macro_rules! audit_cols {
    () => {
        "org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash"
    };
}
pub(super) use {audit_cols, org_cols, secret_cols, token_cols, user_cols, version_cols};

pub(super) fn org(row: &PgRow) -> C<OrgRecord> {
    Ok(OrgRecord {
        id: OrgId::from_uuid(get(row, 0)?),
        slug: parse(row, 1, |s| OrgSlug::parse(s).ok())?,
        name: get(row, 2)?,
        location: parse(row, 3, |s| s.parse().ok())?,
        status: parse(row, 4, |s| s.parse().ok())?,
        suspended_reason: get(row, 5)?,
        key_version: u32_at(row, 6)?,
        created_at: ts(row, 7)?,
        storage: get::<Option<uuid::Uuid>>(row, 8)?.map(StorageId::from_uuid),
    })
}

/// A user whose `user_cols!()` start at column `at`.
pub(super) fn user(row: &PgRow, at: usize) -> C<UserRecord> {
    Ok(UserRecord {
        id: UserId::from_uuid(get(row, at)?),
        name: parse(row, at + 1, |s| UserName::parse(s).ok())?,
        kind: parse(row, at + 2, |s| s.parse().ok())?,
        org: get::<Option<uuid::Uuid>>(row, at + 3)?.map(OrgId::from_uuid),
        created_at: ts(row, at + 4)?,
    })
}

pub(super) fn role_at(row: &PgRow, col: usize) -> C<Role> {
    parse(row, col, |s| s.parse().ok())
}

pub(super) fn token(row: &PgRow) -> C<TokenRecord> {
    token_from(row, 0)
}

/// A token whose `token_cols!()` start at column `at`.
pub(super) fn token_from(row: &PgRow, at: usize) -> C<TokenRecord> {
    Ok(TokenRecord {
        id: TokenId::from_uuid(get(row, at)?),
        hash: get(row, at + 1)?,
        user: UserId::from_uuid(get(row, at + 2)?),
        user_name: parse(row, at + 3, |s| UserName::parse(s).ok())?,
        org: get::<Option<uuid::Uuid>>(row, at + 4)?.map(OrgId::from_uuid),
        name: get(row, at + 5)?,
        created_at: ts(row, at + 6)?,
        expires_at: opt_ts(row, at + 7)?,
        revoked_at: opt_ts(row, at + 8)?,
    })
}

pub(super) fn secret(row: &PgRow) -> C<SecretRecord> {
    secret_from(row, 0)
}

/// How many columns `secret_cols!()` is.
pub(super) const SECRET_WIDTH: usize = 16;
/// How many columns `version_cols!()` is.
pub(super) const VERSION_WIDTH: usize = 9;
/// How many columns `org_cols!()` is.
pub(super) const ORG_WIDTH: usize = 9;

/// A secret whose `secret_cols!()` start at column `at`.
pub(super) fn secret_from(row: &PgRow, at: usize) -> C<SecretRecord> {
    let project: String = get(row, at + 2)?;
    let issue = u32_at(row, at + 3)?;
    Ok(SecretRecord {
        id: SecretId::from_uuid(get(row, at)?),
        org: OrgId::from_uuid(get(row, at + 1)?),
        scope: Scope::from_parts(&project, issue).map_err(|e| corrupt(at + 2, e))?,
        name: parse(row, at + 4, |s| SecretName::parse(s).ok())?,
        kind: parse(row, at + 5, |s| s.parse().ok())?,
        version: u32_at(row, at + 6)?,
        deleted_at: opt_ts(row, at + 7)?,
        created_at: ts(row, at + 8)?,
        created_by: get(row, at + 9)?,
        updated_at: ts(row, at + 10)?,
        updated_by: get(row, at + 11)?,
        expires_at: opt_ts(row, at + 12)?,
        view_limit: opt_u32_at(row, at + 13)?,
        views: u32_at(row, at + 14)?,
        restricted: get(row, at + 15)?,
    })
}

pub(super) fn version(row: &PgRow) -> C<VersionRecord> {
    version_from(row, 0)
}

/// A version whose `version_cols!()` start at column `at`.
pub(super) fn version_from(row: &PgRow, at: usize) -> C<VersionRecord> {
    Ok(VersionRecord {
        secret: SecretId::from_uuid(get(row, at)?),
        version: u32_at(row, at + 1)?,
        key_version: u32_at(row, at + 2)?,
        blob_key: parse(row, at + 3, BlobKey::parse)?,
        storage: get::<Option<uuid::Uuid>>(row, at + 8)?.map(StorageId::from_uuid),
        wrapped_key: get(row, at + 4)?,
        size: u64_at(row, at + 5)?,
        created_at: ts(row, at + 6)?,
        created_by: get(row, at + 7)?,
    })
}

pub(super) fn audit(row: &PgRow) -> C<AuditRecord> {
    Ok(AuditRecord {
        org: OrgId::from_uuid(get(row, 0)?),
        seq: u64_at(row, 1)?,
        at: ts(row, 2)?,
        actor_id: get::<Option<uuid::Uuid>>(row, 3)?.map(UserId::from_uuid),
        actor: get(row, 4)?,
        action: get(row, 5)?,
        target: get(row, 6)?,
        details: get(row, 7)?,
        prev_hash: get(row, 8)?,
        hash: get(row, 9)?,
    })
}

/// Every row through `f`, stopping at the first corrupt one.
pub(super) fn all<T>(rows: &[PgRow], f: impl Fn(&PgRow) -> C<T>) -> C<Vec<T>> {
    rows.iter().map(f).collect()
}
