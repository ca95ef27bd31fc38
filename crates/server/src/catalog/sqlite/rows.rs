//! Mapping between SQLite rows and catalog records. Enums are stored as lowercase text and ids
//! as 16-byte blobs; anything that fails to parse is reported as a conversion error, which
//! [`super::map_err`] turns into `CatalogError::Corrupt`.

use crate::blob::BlobKey;
use crate::catalog::{OrgRecord, SecretRecord, TokenRecord, UserRecord, VersionRecord};
use crate::domain::{
    OrgId, OrgSlug, Role, Scope, SecretId, SecretName, StorageId, Timestamp, TokenId, UserId,
    UserName,
};
use rusqlite::types::Type;
use rusqlite::{Error, Row};
use uuid::Uuid;

pub(super) fn bad(col: usize, what: impl Into<String>) -> Error {
    Error::FromSqlConversionFailure(col, Type::Text, what.into().into())
}

pub(super) fn uuid_at(row: &Row, col: usize) -> rusqlite::Result<Uuid> {
    let b: [u8; 16] = row.get(col)?;
    Ok(Uuid::from_bytes(b))
}

pub(super) fn parse_at<T>(
    row: &Row,
    col: usize,
    f: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    f(&s).ok_or_else(|| bad(col, format!("unexpected value {s:?}")))
}

pub(super) fn opt_ts(row: &Row, col: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(col)?.map(Timestamp::from_millis))
}

pub(super) const ORG_COLS: &str =
    "id, slug, name, location, status, suspended_reason, key_version, created_at, storage_id";

pub(super) fn org(row: &Row) -> rusqlite::Result<OrgRecord> {
    Ok(OrgRecord {
        id: OrgId::from_uuid(uuid_at(row, 0)?),
        slug: parse_at(row, 1, |s| OrgSlug::parse(s).ok())?,
        name: row.get(2)?,
        location: parse_at(row, 3, |s| s.parse().ok())?,
        status: parse_at(row, 4, |s| s.parse().ok())?,
        suspended_reason: row.get(5)?,
        key_version: row.get(6)?,
        created_at: Timestamp::from_millis(row.get(7)?),
        storage: opt_uuid_at(row, 8)?.map(StorageId::from_uuid),
    })
}

pub(super) fn opt_uuid_at(row: &Row, col: usize) -> rusqlite::Result<Option<Uuid>> {
    Ok(row.get::<_, Option<[u8; 16]>>(col)?.map(Uuid::from_bytes))
}

/// The columns of an identity, [`USER_WIDTH`] of them.
pub(super) const USER_COLS: &str = "u.id, u.name, u.kind, u.org_id, u.created_at";
/// How many columns [`USER_COLS`] is.
pub(super) const USER_WIDTH: usize = 5;

pub(super) fn user(row: &Row, at: usize) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: UserId::from_uuid(uuid_at(row, at)?),
        name: parse_at(row, at + 1, |s| UserName::parse(s).ok())?,
        kind: parse_at(row, at + 2, |s| s.parse().ok())?,
        org: opt_uuid_at(row, at + 3)?.map(OrgId::from_uuid),
        created_at: Timestamp::from_millis(row.get(at + 4)?),
    })
}

pub(super) fn role_at(row: &Row, col: usize) -> rusqlite::Result<Role> {
    parse_at(row, col, |s| s.parse().ok())
}

/// The columns of a token, [`TOKEN_WIDTH`] of them.
pub(super) const TOKEN_COLS: &str =
    "t.id, t.hash, t.user_id, u.name, t.org_id, t.name, t.created_at, t.expires_at, t.revoked_at";
/// How many columns [`TOKEN_COLS`] is.
pub(super) const TOKEN_WIDTH: usize = 9;

pub(super) fn token(row: &Row) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: TokenId::from_uuid(uuid_at(row, 0)?),
        hash: row.get(1)?,
        user: UserId::from_uuid(uuid_at(row, 2)?),
        user_name: parse_at(row, 3, |s| UserName::parse(s).ok())?,
        org: opt_uuid_at(row, 4)?.map(OrgId::from_uuid),
        name: row.get(5)?,
        created_at: Timestamp::from_millis(row.get(6)?),
        expires_at: opt_ts(row, 7)?,
        revoked_at: opt_ts(row, 8)?,
    })
}

/// The columns [`secret`] reads, as a literal for `concat!`: a hot statement's SQL is then a
/// `&'static str`, not a string formatted on every call just to key the statement cache.
macro_rules! secret_cols {
    () => {
        "id, org_id, project, issue, name, kind, version, deleted_at, created_at, \
         created_by, updated_at, updated_by, expires_at, view_limit, views, restricted"
    };
}
pub(super) use secret_cols;

pub(super) const SECRET_COLS: &str = secret_cols!();

pub(super) fn secret(row: &Row) -> rusqlite::Result<SecretRecord> {
    let project: String = row.get(2)?;
    let issue: u32 = row.get(3)?;
    Ok(SecretRecord {
        id: SecretId::from_uuid(uuid_at(row, 0)?),
        org: OrgId::from_uuid(uuid_at(row, 1)?),
        scope: Scope::from_parts(&project, issue).map_err(|e| bad(2, e.to_string()))?,
        name: parse_at(row, 4, |s| SecretName::parse(s).ok())?,
        kind: parse_at(row, 5, |s| s.parse().ok())?,
        version: row.get(6)?,
        deleted_at: opt_ts(row, 7)?,
        created_at: Timestamp::from_millis(row.get(8)?),
        created_by: row.get(9)?,
        updated_at: Timestamp::from_millis(row.get(10)?),
        updated_by: row.get(11)?,
        expires_at: opt_ts(row, 12)?,
        view_limit: row.get(13)?,
        views: row.get(14)?,
        restricted: row.get(15)?,
    })
}

pub(super) const VERSION_COLS: &str = "secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by, storage_id";

pub(super) fn version(row: &Row) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        secret: SecretId::from_uuid(uuid_at(row, 0)?),
        version: row.get(1)?,
        key_version: row.get(2)?,
        blob_key: parse_at(row, 3, BlobKey::parse)?,
        wrapped_key: row.get(4)?,
        size: row.get::<_, i64>(5)? as u64,
        created_at: Timestamp::from_millis(row.get(6)?),
        created_by: row.get(7)?,
        storage: opt_uuid_at(row, 8)?.map(StorageId::from_uuid),
    })
}

pub(super) const AUDIT_COLS: &str =
    "org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash";

pub(super) fn audit(row: &Row) -> rusqlite::Result<crate::audit::AuditRecord> {
    let actor_id: Option<[u8; 16]> = row.get(3)?;
    Ok(crate::audit::AuditRecord {
        org: OrgId::from_uuid(uuid_at(row, 0)?),
        seq: row.get::<_, i64>(1)? as u64,
        at: Timestamp::from_millis(row.get(2)?),
        actor_id: actor_id.map(|b| UserId::from_uuid(Uuid::from_bytes(b))),
        actor: row.get(4)?,
        action: row.get(5)?,
        target: row.get(6)?,
        details: row.get(7)?,
        prev_hash: row.get(8)?,
        hash: row.get(9)?,
    })
}
