//! Every mutating catalog operation as a plain function over the writer's transaction ([`Tx`]).
//! They run on the writer thread inside a savepoint of a group-committed transaction (see
//! `writer`; a reveal, which fails only before it changes anything, without one), so each is
//! atomic on its own, and the check-and-set reads they do see every earlier write.

use super::tx::{Head, Tx};
use crate::audit::{self, AuditDraft};
use crate::catalog::{
    CatalogError, NewOrg, NewVersion, SecretRecord, StoredBlob, TokenRecord, UserRecord,
    VersionRecord, Views, rules,
};
use crate::domain::{
    OrgId, OrgStatus, Role, Scope, SecretId, SecretName, Timestamp, TokenId, UserId,
};
use rusqlite::{Connection, OptionalExtension, params};

type R<T> = Result<T, CatalogError>;
use super::map_err as e;

/// Appends `d` to its org's audit chain, after the head the writer remembers or, if it
/// remembers none, the one in the file (see [`Tx`]).
pub(super) fn append_audit(tx: &Tx, d: &AuditDraft) -> R<()> {
    let org = d.org.to_bytes();
    let head = match tx.head(d.org) {
        Some(head) => Some(head),
        None => tx
            .prepare_cached(
                "SELECT seq, hash FROM audit_events WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([org], |r| {
                    Ok(Head {
                        seq: r.get::<_, i64>(0)? as u64,
                        hash: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(e)?,
    };
    let (seq, prev) = head.map_or((1, audit::GENESIS), |h| (h.seq + 1, h.hash));
    let hash = d.hash_at(seq, &prev);
    tx.prepare_cached(
        "INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            org,
            seq as i64,
            d.at.millis(),
            d.actor_id.map(|u| u.to_bytes()),
            d.actor,
            d.action,
            d.target,
            d.details,
            prev,
            hash
        ])
    })
    .map_err(e)?;
    tx.remember_head(d.org, Head { seq, hash });
    Ok(())
}

fn insert_org(conn: &Connection, org: &NewOrg) -> R<()> {
    let id = org.id.to_bytes();
    conn.execute(
        "INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES (?1, ?2, ?3, ?4, 'active', 1, ?5)",
        params![id, org.slug.as_str(), org.name, org.location.as_str(), org.created_at.millis()],
    )
    .map_err(e)?;
    // Key settings (migration 2): provider `local`, a fresh external id from the column default.
    conn.execute("INSERT INTO org_key_settings (org_id) VALUES (?1)", [id])
        .map_err(e)?;
    insert_org_key(conn, org.id, 1, &org.key_wraps, org.created_at)
}

fn insert_org_key(
    conn: &Connection,
    org: OrgId,
    version: u32,
    wraps: &[crate::keys::OrgKeyWrap],
    at: Timestamp,
) -> R<()> {
    let id = org.to_bytes();
    conn.execute(
        "INSERT INTO org_keys (org_id, version, created_at) VALUES (?1, ?2, ?3)",
        params![id, version, at.millis()],
    )
    .map_err(e)?;
    for (slot, w) in wraps.iter().enumerate() {
        conn.execute(
            "INSERT INTO org_key_wraps (org_id, version, slot, provider, key_ref, wrapped) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, version, slot as i64, w.provider, w.key_ref, w.bytes],
        )
        .map_err(e)?;
    }
    Ok(())
}

/// Inserts a new identity. `AlreadyExists` if its name is taken (among people and the operator,
/// or among its org's service accounts).
pub(super) fn insert_user(conn: &Connection, u: &UserRecord) -> R<()> {
    conn.execute(
        "INSERT INTO users (id, kind, name, org_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            u.id.to_bytes(),
            u.kind.as_str(),
            u.name.as_str(),
            u.org.map(|o| o.to_bytes()),
            u.created_at.millis()
        ],
    )
    .map_err(e)?;
    Ok(())
}

pub(super) fn insert_member(conn: &Connection, org: OrgId, user: UserId, role: Role) -> R<()> {
    conn.execute(
        "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3)",
        params![org.to_bytes(), user.to_bytes(), role.as_str()],
    )
    .map_err(e)?;
    Ok(())
}

pub(super) fn insert_token(conn: &Connection, t: &TokenRecord) -> R<()> {
    conn.execute(
        "INSERT INTO tokens (id, hash, user_id, org_id, name, created_at, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
        params![t.id.to_bytes(), t.hash, t.user.to_bytes(), t.org.map(|o| o.to_bytes()), t.name, t.created_at.millis(), t.expires_at.map(|x| x.millis())],
    )
    .map_err(e)?;
    Ok(())
}

pub(super) fn bootstrap(
    conn: &Tx,
    org: &NewOrg,
    owner: &UserRecord,
    token: &TokenRecord,
    audit: &[AuditDraft],
) -> R<bool> {
    let any: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM orgs)", [], |r| r.get(0))
        .map_err(e)?;
    if any {
        return Ok(false);
    }
    insert_org(conn, org)?;
    insert_user(conn, owner)?;
    insert_member(conn, org.id, owner.id, Role::Owner)?;
    insert_token(conn, token)?;
    audit.iter().try_for_each(|d| append_audit(conn, d))?;
    Ok(true)
}

pub(super) fn create_org(conn: &Tx, org: &NewOrg, audit: &AuditDraft) -> R<()> {
    insert_org(conn, org)?;
    append_audit(conn, audit)
}

pub(super) fn set_org_status(
    conn: &Tx,
    org: OrgId,
    status: OrgStatus,
    reason: Option<&str>,
    audit: &AuditDraft,
) -> R<()> {
    let n = conn
        .execute(
            "UPDATE orgs SET status = ?2, suspended_reason = ?3 WHERE id = ?1",
            params![org.to_bytes(), status.as_str(), reason],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    append_audit(conn, audit)
}

pub(super) fn add_org_key(
    conn: &Tx,
    org: OrgId,
    version: u32,
    wraps: &[crate::keys::OrgKeyWrap],
    audit: &AuditDraft,
) -> R<()> {
    let current: u32 = conn
        .query_row(
            "SELECT key_version FROM orgs WHERE id = ?1",
            [org.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    rules::next_key_version(current, version)?;
    super::byok::check_wraps_provider(conn, org, wraps)?;
    insert_org_key(conn, org, version, wraps, audit.at)?;
    conn.execute(
        "UPDATE orgs SET key_version = ?2 WHERE id = ?1",
        params![org.to_bytes(), version],
    )
    .map_err(e)?;
    append_audit(conn, audit)
}

pub(super) fn create_token(conn: &Tx, t: &TokenRecord, audit: Option<&AuditDraft>) -> R<()> {
    insert_token(conn, t)?;
    audit.map_or(Ok(()), |a| append_audit(conn, a))
}

pub(super) fn revoke_token(
    conn: &Tx,
    org: Option<OrgId>,
    id: TokenId,
    at: Timestamp,
    audit: Option<&AuditDraft>,
) -> R<TokenRecord> {
    conn.execute(
        "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND org_id IS ?2",
        params![id.to_bytes(), org.map(|o| o.to_bytes()), at.millis()],
    )
    .map_err(e)?;
    let t = super::reads::token(conn, org, id)?;
    super::links::revoke_outside_shares(conn, None, Some(id), at)?;
    audit.map_or(Ok(()), |a| append_audit(conn, a))?;
    Ok(t)
}

fn live_secret(
    conn: &Connection,
    org: OrgId,
    scope: &Scope,
    name: &SecretName,
) -> R<Option<SecretRecord>> {
    super::reads::secret(conn, org, scope, name)
        .map(Some)
        .or_else(|err| match err {
            CatalogError::NotFound => Ok(None),
            other => Err(other),
        })
}

pub(super) fn put_version(conn: &Tx, v: &NewVersion, audit: &AuditDraft) -> R<SecretRecord> {
    let live = live_secret(conn, v.org, &v.scope, &v.name)?;
    match rules::version_step(live.as_ref(), v.secret, v.version)? {
        rules::VersionStep::Create => {
            conn.execute(
                "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by, expires_at, view_limit, restricted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?7, ?8, ?9, ?10, ?11)",
                params![
                    v.secret.to_bytes(), v.org.to_bytes(), v.scope.project().as_str(), v.scope.issue_number(), v.name.as_str(),
                    v.kind.as_str(), v.at.millis(), v.by, v.expires_at.map(|t| t.millis()), v.view_limit, v.restricted_to.is_some()
                ],
            )
            .map_err(e)?;
            if let Some(creator) = v.restricted_to {
                conn.execute(
                    "INSERT INTO shares (secret_id, user_id, level, created_at, created_by) VALUES (?1, ?2, 'manage', ?3, ?4)",
                    params![v.secret.to_bytes(), creator.to_bytes(), v.at.millis(), v.by],
                )
                .map_err(e)?;
            }
        }
        rules::VersionStep::Append => {
            conn.execute(
                "UPDATE secrets SET version = ?2, kind = ?3, updated_at = ?4, updated_by = ?5, \
                 expires_at = COALESCE(?6, expires_at), view_limit = COALESCE(?7, view_limit) WHERE id = ?1",
                params![v.secret.to_bytes(), v.version, v.kind.as_str(), v.at.millis(), v.by, v.expires_at.map(|t| t.millis()), v.view_limit],
            )
            .map_err(e)?;
        }
    }
    let counted = conn
        .prepare_cached("UPDATE org_keys SET encryptions = encryptions + ?4 WHERE org_id = ?1 AND version = ?2 AND encryptions <= ?3")
        .and_then(|mut s| s.execute(params![v.org.to_bytes(), v.key_version, rules::last_count_allowing_a_version(v.max_encryptions), rules::WRAPS_PER_VERSION]))
        .map_err(e)?;
    if counted == 0 {
        return Err(CatalogError::KeyExhausted);
    }
    conn.prepare_cached(
        "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by, storage_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![v.secret.to_bytes(), v.version, v.key_version, v.blob_key.as_str(), v.wrapped_key, v.size as i64, v.at.millis(), v.by, v.storage.map(|s| s.to_bytes())])
    })
    .map_err(e)?;
    // A write that raced a storage change landed outside the org's storage: the migration
    // must pick it up, so it may not be finished yet.
    conn.prepare_cached(
        "UPDATE orgs SET storage_migrating = 1 WHERE id = ?1 AND storage_id IS NOT ?2",
    )
    .and_then(|mut s| s.execute(params![v.org.to_bytes(), v.storage.map(|s| s.to_bytes())]))
    .map_err(e)?;
    append_audit(conn, audit)?;
    super::reads::secret_by_id(conn, v.secret)
}

/// Counts a view of `secret` and appends its audit event. It fails, if it fails, before it
/// changes anything ([`super::writer::Undo::FailsBeforeChanging`]): the conditional `UPDATE`
/// comes first and decides, and what follows it fails only if the file does.
pub(super) fn record_view(conn: &Tx, secret: SecretId, audit: &AuditDraft) -> R<Views> {
    // A plain UPDATE, then the two columns read back by a cached point SELECT. `UPDATE …
    // RETURNING` did both in one statement but builds an ephemeral table for its result on every
    // call: ~40% of the writer thread's time went to that one statement, and reading the whole
    // row back cost half as much again (docs/performance.md). A reveal is the hottest
    // write.
    let counted = conn
        .prepare_cached(
            "UPDATE secrets SET views = views + 1 WHERE id = ?1 AND destroyed = 0 \
             AND (view_limit IS NULL OR views < view_limit)",
        )
        .and_then(|mut s| s.execute([secret.to_bytes()]))
        .map_err(e)?;
    let views = conn
        .prepare_cached("SELECT views, view_limit FROM secrets WHERE id = ?1 AND destroyed = 0")
        .and_then(|mut s| {
            s.query_row([secret.to_bytes()], |r| {
                Ok(Views {
                    count: r.get(0)?,
                    limit: r.get(1)?,
                })
            })
        })
        .map_err(e)?; // NotFound if it is gone
    if counted == 0 {
        return Err(CatalogError::ViewLimitReached);
    }
    append_audit(conn, audit)?;
    Ok(views)
}

pub(super) fn set_deleted(
    conn: &Tx,
    secret: SecretId,
    at: Option<Timestamp>,
    audit: &AuditDraft,
) -> R<SecretRecord> {
    let n = conn
        .execute(
            "UPDATE secrets SET deleted_at = ?2 WHERE id = ?1 AND destroyed = 0",
            params![secret.to_bytes(), at.map(|t| t.millis())],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    append_audit(conn, audit)?;
    super::reads::secret_by_id(conn, secret)
}

pub(super) fn destroy(conn: &Tx, secret: SecretId, audit: &AuditDraft) -> R<Vec<StoredBlob>> {
    let keys = super::reads::versions(conn, secret)?
        .iter()
        .map(VersionRecord::stored_blob)
        .collect();
    let n = conn
        .execute(
            "UPDATE secrets SET destroyed = 1 WHERE id = ?1 AND destroyed = 0",
            [secret.to_bytes()],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    conn.execute(
        "DELETE FROM secret_versions WHERE secret_id = ?1",
        [secret.to_bytes()],
    )
    .map_err(e)?;
    // One-time links hold sealed copies of its values: they go with it, and open requests for
    // its name would bring it back.
    conn.execute(
        "DELETE FROM links WHERE secret_id = ?1",
        [secret.to_bytes()],
    )
    .map_err(e)?;
    super::links::revoke_requests_for(conn, secret, audit.at)?;
    append_audit(conn, audit)?;
    Ok(keys)
}
