//! Every read-only catalog query as a plain function over a connection. They run on pooled
//! read connections (WAL lets them proceed while the writer commits), and the writer reuses some
//! of them for its check-and-set reads.

use super::rows;
use crate::audit::AuditRecord;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{
    AuditFilter, CatalogError, MemberRecord, MembershipRecord, OrgRecord, Principal, RevealTarget,
    SecretFilter, SecretRecord, StoredBlob, TokenRecord, UserRecord, VersionRecord,
};
use crate::domain::{OrgId, OrgSlug, Scope, SecretId, SecretName, TokenId, UserId, UserName};
use crate::keys::OrgKeyWrap;
use rusqlite::{Connection, OptionalExtension, params};

type R<T> = Result<T, CatalogError>;
use super::map_err as e;

pub(super) fn org_by_slug(conn: &Connection, slug: &OrgSlug) -> R<OrgRecord> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM orgs WHERE slug = ?1",
        rows::ORG_COLS
    ))
    .and_then(|mut s| s.query_row([slug.as_str()], rows::org))
    .map_err(e)
}

pub(super) fn org_by_id(conn: &Connection, id: OrgId) -> R<OrgRecord> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM orgs WHERE id = ?1",
        rows::ORG_COLS
    ))
    .and_then(|mut s| s.query_row([id.to_bytes()], rows::org))
    .map_err(e)
}

pub(super) fn list_orgs(conn: &Connection) -> R<Vec<OrgRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM orgs ORDER BY slug",
            rows::ORG_COLS
        ))
        .map_err(e)?;
    s.query_map([], rows::org)
        .and_then(|it| it.collect())
        .map_err(e)
}

pub(super) fn org_key_wraps(conn: &Connection, org: OrgId, version: u32) -> R<Vec<OrgKeyWrap>> {
    let mut s = conn
        .prepare_cached("SELECT provider, key_ref, wrapped FROM org_key_wraps WHERE org_id = ?1 AND version = ?2 ORDER BY slot")
        .map_err(e)?;
    let wraps: Vec<OrgKeyWrap> = s
        .query_map(params![org.to_bytes(), version], |r| {
            Ok(OrgKeyWrap {
                provider: r.get(0)?,
                key_ref: r.get(1)?,
                bytes: r.get(2)?,
            })
        })
        .and_then(|it| it.collect())
        .map_err(e)?;
    if wraps.is_empty() {
        Err(CatalogError::NotFound)
    } else {
        Ok(wraps)
    }
}

pub(super) fn org_key_encryptions(conn: &Connection, org: OrgId, version: u32) -> R<u64> {
    conn.query_row(
        "SELECT encryptions FROM org_keys WHERE org_id = ?1 AND version = ?2",
        params![org.to_bytes(), version],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(e)
}

pub(super) fn user_by_name(conn: &Connection, name: &UserName) -> R<UserRecord> {
    conn.query_row(
        &format!(
            "SELECT {} FROM users u WHERE u.name = ?1 AND u.kind <> 'service'",
            rows::USER_COLS
        ),
        [name.as_str()],
        |r| rows::user(r, 0),
    )
    .map_err(e)
}

pub(super) fn user_by_id(conn: &Connection, id: UserId) -> R<UserRecord> {
    conn.query_row(
        &format!("SELECT {} FROM users u WHERE u.id = ?1", rows::USER_COLS),
        [id.to_bytes()],
        |r| rows::user(r, 0),
    )
    .map_err(e)
}

pub(super) fn service_account(conn: &Connection, org: OrgId, name: &UserName) -> R<UserRecord> {
    conn.query_row(
        &format!(
            "SELECT {} FROM users u WHERE u.kind = 'service' AND u.org_id = ?1 AND u.name = ?2",
            rows::USER_COLS
        ),
        params![org.to_bytes(), name.as_str()],
        |r| rows::user(r, 0),
    )
    .map_err(e)
}

pub(super) fn member(conn: &Connection, org: OrgId, user: UserId) -> R<MemberRecord> {
    conn.query_row(
        &format!(
            "SELECT {}, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ?1 AND m.user_id = ?2",
            rows::USER_COLS
        ),
        params![org.to_bytes(), user.to_bytes()],
        |r| {
            Ok(MemberRecord {
                user: rows::user(r, 0)?,
                role: rows::role_at(r, rows::USER_WIDTH)?,
            })
        },
    )
    .map_err(e)
}

pub(super) fn memberships(conn: &Connection, user: UserId) -> R<Vec<MembershipRecord>> {
    let mut s = conn
        .prepare_cached(
            "SELECT o.id, o.slug, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = ?1 ORDER BY o.slug",
        )
        .map_err(e)?;
    s.query_map([user.to_bytes()], |r| {
        Ok(MembershipRecord {
            org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
            slug: rows::parse_at(r, 1, |s| OrgSlug::parse(s).ok())?,
            role: rows::role_at(r, 2)?,
        })
    })
    .and_then(|it| it.collect())
    .map_err(e)
}

pub(super) fn list_members(conn: &Connection, org: OrgId) -> R<Vec<MemberRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {}, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY u.name",
            rows::USER_COLS
        ))
        .map_err(e)?;
    s.query_map([org.to_bytes()], |r| {
        Ok(MemberRecord {
            user: rows::user(r, 0)?,
            role: rows::role_at(r, rows::USER_WIDTH)?,
        })
    })
    .and_then(|it| it.collect())
    .map_err(e)
}

pub(super) fn authenticate(conn: &Connection, hash: &[u8; 32]) -> R<Option<Principal>> {
    let sql = format!(
        "SELECT {}, {}, m.role FROM tokens t JOIN users u ON u.id = t.user_id \
         LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id WHERE t.hash = ?1",
        rows::TOKEN_COLS,
        rows::USER_COLS
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row([hash], |r| {
                let at = rows::TOKEN_WIDTH + rows::USER_WIDTH;
                let role: Option<String> = r.get(at)?;
                Ok(Principal {
                    token: rows::token(r)?,
                    user: rows::user(r, rows::TOKEN_WIDTH)?,
                    role: match role {
                        Some(_) => Some(rows::role_at(r, at)?),
                        None => None,
                    },
                })
            })
            .optional()
        })
        .map_err(e)
}

pub(super) fn list_tokens(conn: &Connection, org: Option<OrgId>) -> R<Vec<TokenRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.org_id IS ?1 ORDER BY t.created_at DESC",
            rows::TOKEN_COLS
        ))
        .map_err(e)?;
    s.query_map([org.map(|o| o.to_bytes())], rows::token)
        .and_then(|it| it.collect())
        .map_err(e)
}

pub(super) fn token(conn: &Connection, org: Option<OrgId>, id: TokenId) -> R<TokenRecord> {
    conn.query_row(
        &format!("SELECT {} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?1 AND t.org_id IS ?2", rows::TOKEN_COLS),
        params![id.to_bytes(), org.map(|o| o.to_bytes())],
        rows::token,
    )
    .map_err(e)
}

pub(super) fn secret(
    conn: &Connection,
    org: OrgId,
    scope: &Scope,
    name: &SecretName,
) -> R<SecretRecord> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM secrets WHERE org_id = ?1 AND project = ?2 AND issue = ?3 AND name = ?4 AND destroyed = 0",
        rows::SECRET_COLS
    ))
    .and_then(|mut s| s.query_row(params![org.to_bytes(), scope.project().as_str(), scope.issue_number(), name.as_str()], rows::secret))
    .map_err(e)
}

pub(super) fn secret_by_id(conn: &Connection, id: SecretId) -> R<SecretRecord> {
    conn.prepare_cached(concat!(
        "SELECT ",
        rows::secret_cols!(),
        " FROM secrets WHERE id = ?1 AND destroyed = 0"
    ))
    .and_then(|mut s| s.query_row([id.to_bytes()], rows::secret))
    .map_err(e)
}

pub(super) fn list_secrets(
    conn: &Connection,
    org: OrgId,
    f: &SecretFilter,
) -> R<Vec<SecretRecord>> {
    // One cached statement per filter shape, so SQLite can use the whole
    // (org_id, project, issue, name) index instead of only its `org_id` prefix.
    let scope = match (&f.project, f.issue) {
        (Some(_), Some(_)) => "AND project = ?2 AND issue = ?3",
        (Some(_), None) => "AND project = ?2 AND ?3 IS NULL",
        (None, _) => "AND ?2 IS NULL AND ?3 IS NULL",
    };
    let sql = format!(
        "SELECT {} FROM secrets WHERE org_id = ?1 AND destroyed = 0 {scope} \
         AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4) AND (?5 OR deleted_at IS NULL) \
         ORDER BY project, issue, name LIMIT ?6",
        rows::SECRET_COLS
    );
    let mut s = conn.prepare_cached(&sql).map_err(e)?;
    s.query_map(
        params![
            org.to_bytes(),
            f.project.as_ref().map(|p| p.as_str()),
            f.issue,
            f.name_prefix.as_deref(),
            f.include_deleted,
            f.limit
        ],
        rows::secret,
    )
    .and_then(|it| it.collect())
    .map_err(e)
}

pub(super) fn version(conn: &Connection, secret: SecretId, version: u32) -> R<VersionRecord> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM secret_versions WHERE secret_id = ?1 AND version = ?2",
        rows::VERSION_COLS
    ))
    .and_then(|mut s| s.query_row(params![secret.to_bytes(), version], rows::version))
    .map_err(e)
}

pub(super) fn versions(conn: &Connection, secret: SecretId) -> R<Vec<VersionRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM secret_versions WHERE secret_id = ?1 ORDER BY version DESC",
            rows::VERSION_COLS
        ))
        .map_err(e)?;
    s.query_map([secret.to_bytes()], rows::version)
        .and_then(|it| it.collect())
        .map_err(e)
}

pub(super) fn blob_referenced(conn: &Connection, blob: &StoredBlob) -> R<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM secret_versions WHERE blob_key = ?1 AND storage_id IS ?2)",
        rusqlite::params![blob.key.as_str(), blob.storage.map(|s| s.to_bytes())],
        |r| r.get(0),
    )
    .map_err(e)
}

pub(super) fn audit_events(conn: &Connection, org: OrgId, f: &AuditFilter) -> R<Vec<AuditRecord>> {
    let sql = format!(
        "SELECT {} FROM audit_events WHERE org_id = ?1 AND seq > ?2 AND (?3 IS NULL OR action = ?3) \
         AND (?4 IS NULL OR actor = ?4) AND (?6 IS NULL OR target = ?6) ORDER BY seq LIMIT ?5",
        rows::AUDIT_COLS
    );
    let mut s = conn.prepare_cached(&sql).map_err(e)?;
    s.query_map(
        params![
            org.to_bytes(),
            saturating_i64(f.after_seq),
            f.action,
            f.actor,
            f.limit,
            f.target
        ],
        rows::audit,
    )
    .and_then(|it| it.collect())
    .map_err(e)
}

/// A reveal's three reads in one read transaction: one snapshot, and one check of the WAL
/// (autocommit reads would each re-validate, and after a commit re-read, the page cache).
pub(super) fn reveal_target(
    conn: &Connection,
    slug: &OrgSlug,
    scope: &Scope,
    name: &SecretName,
    version: Option<u32>,
) -> R<RevealTarget> {
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(e)?;
    let result = (|| {
        let org = org_by_slug(conn, slug)?;
        let secret = optional(secret(conn, org.id, scope, name))?;
        let version = match &secret {
            Some(s) => optional(self::version(conn, s.id, version.unwrap_or(s.version)))?,
            None => None,
        };
        Ok(RevealTarget {
            jira: super::jira::site(conn, org.id)?,
            org,
            secret,
            version,
        })
    })();
    let ended = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]));
    if ended.is_err() {
        // Never hand the connection back to the pool inside a transaction (a stale snapshot).
        let _ = conn.execute_batch("ROLLBACK");
    }
    ended.map_err(e)?;
    result
}

fn optional<T>(r: R<T>) -> R<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(CatalogError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}
