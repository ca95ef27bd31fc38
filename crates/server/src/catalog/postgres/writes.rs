//! The org, key, member, token and audit write paths as plain async functions over a connection
//! that is inside a transaction (opened, committed and retried by `in_tx!` in [`super::tx`]). Each
//! is the whole use case — check, change, audit event — so it commits or rolls back as one. The
//! secret write paths live in [`super::secret_writes`] under the same rules.
//!
//! Concurrency rests on READ COMMITTED (pinned per connection) plus row locks, never on a stale
//! snapshot: a check-and-set first locks the row it checks (`FOR [NO KEY] UPDATE`, or an `UPDATE
//! … WHERE <condition>` that PostgreSQL re-evaluates on the newest row version after waiting),
//! and the statement after a lock wait sees what the previous holder committed. Locks are taken
//! in one order — the secret or token row, then the org-key counter, then the org row for the
//! audit event, last (`add_org_key` and `set_org_status` take the org row first, but after it
//! touch only rows no one else waits on) — so writes to one org queue instead of deadlocking; a
//! deadlock or serialization failure that happens anyway is retried whole by the caller.

use super::rows::{self, token_cols};
use super::{Q, reads};
use crate::audit::AuditDraft;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{CatalogError, NewOrg, OrgRecord, TokenRecord, UserRecord, rules};
use crate::domain::{OrgId, OrgStatus, Role, Timestamp, TokenId, UserId};
use crate::keys::OrgKeyWrap;
use sqlx::PgConnection;

/// Advisory-lock key serializing `bootstrap` (exclusive) against `create_org` (shared), so
/// "only if there is no org at all" holds under races. Advisory keys are per database.
const BOOTSTRAP_LOCK: i64 = 0x636f_6666_6572_0001; // "coffer" + 1

/// Appends `d` to its org's chain ([`append_many`] of one).
pub(super) async fn append_audit(c: &mut PgConnection, d: &AuditDraft) -> Q<()> {
    append_many(c, &[d]).await
}

/// Appends `drafts` to their orgs' chains, each org's in the order given. The org row holds the
/// chain head: the first statement locks every org row involved, in id order (so two appenders
/// never wait on each other in a cycle), moves each org's `audit_seq` on by its share of the
/// drafts and returns the head it had; the hashes are chained here; the second statement
/// inserts the events and stores the new heads. The row locks last until commit, so appenders
/// of one org serialize — across nodes too — while other orgs do not contend; a group commit
/// ([`super::group`]) pays that lock once for all the events of its transaction.
pub(super) async fn append_many(c: &mut PgConnection, drafts: &[&AuditDraft]) -> Q<()> {
    let mut counts: Vec<(uuid::Uuid, i64)> = Vec::new();
    for d in drafts {
        match counts.iter_mut().find(|(org, _)| *org == d.org.as_uuid()) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.org.as_uuid(), 1)),
        }
    }
    if counts.is_empty() {
        return Ok(());
    }
    counts.sort_unstable();
    let (orgs, ns): (Vec<uuid::Uuid>, Vec<i64>) = counts.iter().copied().unzip();
    let heads = sqlx::query(
        "WITH locked AS (SELECT id FROM orgs WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE) \
         UPDATE orgs o SET audit_seq = o.audit_seq + n.count \
         FROM locked, unnest($1::uuid[], $2::bigint[]) AS n(id, count) \
         WHERE o.id = locked.id AND o.id = n.id RETURNING o.id, o.audit_seq, o.audit_head",
    )
    .bind(&orgs)
    .bind(&ns)
    .fetch_all(&mut *c)
    .await?;
    if heads.len() != orgs.len() {
        return Err(CatalogError::NotFound.into());
    }
    // Per org: the next sequence number and the hash it follows.
    let mut next: Vec<(uuid::Uuid, u64, [u8; 32])> = Vec::with_capacity(heads.len());
    for row in &heads {
        let id: uuid::Uuid = rows::get(row, 0)?;
        let last = rows::u64_at(row, 1)?;
        let n = counts.iter().find(|(org, _)| *org == id).map_or(0, |c| c.1);
        next.push((id, last + 1 - n as u64, rows::get(row, 2)?));
    }
    let len = drafts.len();
    let (mut org, mut seq, mut at) = (
        Vec::with_capacity(len),
        Vec::with_capacity(len),
        Vec::with_capacity(len),
    );
    let (mut actor_id, mut actor, mut action) = (
        Vec::with_capacity(len),
        Vec::with_capacity(len),
        Vec::with_capacity(len),
    );
    let (mut target, mut details, mut prev_hash, mut hash) = (
        Vec::with_capacity(len),
        Vec::with_capacity(len),
        Vec::with_capacity(len),
        Vec::with_capacity(len),
    );
    for d in drafts {
        let Some(head) = next.iter_mut().find(|(id, ..)| *id == d.org.as_uuid()) else {
            return Err(CatalogError::NotFound.into());
        };
        let h = d.hash_at(head.1, &head.2);
        org.push(head.0);
        seq.push(saturating_i64(head.1));
        at.push(d.at.millis());
        actor_id.push(d.actor_id.map(|u| u.as_uuid()));
        actor.push(d.actor.as_str());
        action.push(d.action);
        target.push(d.target.as_str());
        details.push(d.details.as_str());
        prev_hash.push(head.2.to_vec());
        hash.push(h.to_vec());
        head.1 += 1;
        head.2 = h;
    }
    let (head_orgs, head_hashes): (Vec<uuid::Uuid>, Vec<Vec<u8>>) =
        next.iter().map(|(id, _, h)| (*id, h.to_vec())).unzip();
    sqlx::query(
        "WITH e AS (INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[])) \
         UPDATE orgs o SET audit_head = h.head FROM unnest($11::uuid[], $12::bytea[]) AS h(id, head) WHERE o.id = h.id",
    )
    .bind(&org)
    .bind(&seq)
    .bind(&at)
    .bind(&actor_id)
    .bind(&actor)
    .bind(&action)
    .bind(&target)
    .bind(&details)
    .bind(&prev_hash)
    .bind(&hash)
    .bind(&head_orgs)
    .bind(&head_hashes)
    .execute(c)
    .await?;
    Ok(())
}

async fn insert_org(c: &mut PgConnection, org: &NewOrg) -> Q<()> {
    sqlx::query("INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES ($1, $2, $3, $4, 'active', 1, $5)")
        .bind(org.id.as_uuid())
        .bind(org.slug.as_str())
        .bind(&org.name)
        .bind(org.location.as_str())
        .bind(org.created_at.millis())
        .execute(&mut *c)
        .await?;
    // Key settings (migration 2): provider `local`, a fresh external id from the column default.
    sqlx::query("INSERT INTO org_key_settings (org_id) VALUES ($1)")
        .bind(org.id.as_uuid())
        .execute(&mut *c)
        .await?;
    insert_org_key(c, org.id, 1, &org.key_wraps, org.created_at).await
}

async fn insert_org_key(
    c: &mut PgConnection,
    org: OrgId,
    version: u32,
    wraps: &[OrgKeyWrap],
    at: Timestamp,
) -> Q<()> {
    sqlx::query("INSERT INTO org_keys (org_id, version, created_at) VALUES ($1, $2, $3)")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .bind(at.millis())
        .execute(&mut *c)
        .await?;
    for (slot, w) in wraps.iter().enumerate() {
        sqlx::query("INSERT INTO org_key_wraps (org_id, version, slot, provider, key_ref, wrapped) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(org.as_uuid())
            .bind(i64::from(version))
            .bind(saturating_i64(slot))
            .bind(&w.provider)
            .bind(&w.key_ref)
            .bind(&w.bytes)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Inserts a new identity. `AlreadyExists` if its name is taken (among people and the operator,
/// or among its org's service accounts).
pub(super) async fn insert_user(c: &mut PgConnection, u: &UserRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO users (id, kind, name, org_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(u.id.as_uuid())
    .bind(u.kind.as_str())
    .bind(u.name.as_str())
    .bind(u.org.map(|o| o.as_uuid()))
    .bind(u.created_at.millis())
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn insert_member(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Q<()> {
    sqlx::query("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .execute(c)
        .await?;
    Ok(())
}

pub(super) async fn insert_token(c: &mut PgConnection, t: &TokenRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO tokens (id, hash, user_id, org_id, name, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(t.id.as_uuid())
    .bind(&t.hash[..])
    .bind(t.user.as_uuid())
    .bind(t.org.map(|o| o.as_uuid()))
    .bind(&t.name)
    .bind(t.created_at.millis())
    .bind(t.expires_at.map(|x| x.millis()))
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn bootstrap(
    c: &mut PgConnection,
    org: &NewOrg,
    owner: &UserRecord,
    token: &TokenRecord,
    audit: &[AuditDraft],
) -> Q<bool> {
    // Racing bootstraps queue here; the EXISTS below is a new statement, so it sees the org
    // the winner committed.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *c)
        .await?;
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orgs)")
        .fetch_one(&mut *c)
        .await?;
    if any {
        return Ok(false);
    }
    insert_org(c, org).await?;
    insert_user(c, owner).await?;
    insert_member(c, org.id, owner.id, Role::Owner).await?;
    insert_token(c, token).await?;
    for d in audit {
        append_audit(c, d).await?;
    }
    Ok(true)
}

pub(super) async fn create_org(
    c: &mut PgConnection,
    org: &NewOrg,
    audit: &AuditDraft,
) -> Q<OrgRecord> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *c)
        .await?;
    insert_org(c, org).await?;
    append_audit(c, audit).await?;
    reads::org_by_id(c, org.id).await
}

pub(super) async fn set_org_status(
    c: &mut PgConnection,
    org: OrgId,
    status: OrgStatus,
    reason: Option<&str>,
    audit: &AuditDraft,
) -> Q<()> {
    let n = sqlx::query("UPDATE orgs SET status = $2, suspended_reason = $3 WHERE id = $1")
        .bind(org.as_uuid())
        .bind(status.as_str())
        .bind(reason)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    append_audit(c, audit).await
}

pub(super) async fn add_org_key(
    c: &mut PgConnection,
    org: OrgId,
    version: u32,
    wraps: &[OrgKeyWrap],
    audit: &AuditDraft,
) -> Q<()> {
    let row = sqlx::query("SELECT key_version FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    let current = rows::u32_at(&row, 0)?;
    rules::next_key_version(current, version)?;
    super::byok::check_wraps_provider(c, org, wraps).await?;
    insert_org_key(c, org, version, wraps, audit.at).await?;
    sqlx::query("UPDATE orgs SET key_version = $2 WHERE id = $1")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .execute(&mut *c)
        .await?;
    append_audit(c, audit).await
}

pub(super) async fn create_token(
    c: &mut PgConnection,
    t: &TokenRecord,
    audit: Option<&AuditDraft>,
) -> Q<()> {
    insert_token(c, t).await?;
    match audit {
        Some(a) => append_audit(c, a).await,
        None => Ok(()),
    }
}

pub(super) async fn revoke_token(
    c: &mut PgConnection,
    org: Option<OrgId>,
    id: TokenId,
    at: Timestamp,
    audit: Option<&AuditDraft>,
) -> Q<TokenRecord> {
    let row = sqlx::query(concat!(
        "UPDATE tokens t SET revoked_at = COALESCE(t.revoked_at, $3) FROM users u \
         WHERE u.id = t.user_id AND t.id = $1 AND t.org_id IS NOT DISTINCT FROM $2 RETURNING ",
        token_cols!()
    ))
    .bind(id.as_uuid())
    .bind(org.map(|o| o.as_uuid()))
    .bind(at.millis())
    .fetch_one(&mut *c)
    .await?;
    let t = rows::token(&row)?;
    super::links::revoke_outside_shares(c, None, Some(id), at).await?;
    if let Some(a) = audit {
        append_audit(c, a).await?;
    }
    Ok(t)
}
